/*
 * test_writer.c — unit tests of the message writer (writer.c): set packing,
 * splitting at the maximum message size, per-domain sequence numbers
 * (RFC 7011 §3.1), withdrawals (§8.1), reserve/commit and record encoding.
 * Messages go to a memory sink and are checked by a small independent
 * parser, so these tests do not depend on the reader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/ipfixkit.h"

#define SINK_MAX_MESSAGES 4096

typedef struct sink_buffer {
    uint8_t *msg[SINK_MAX_MESSAGES];
    size_t len[SINK_MAX_MESSAGES];
    size_t count;
    size_t fail_at;  /* return IPFIX_ERR_IO for message number fail_at (1-based), 0 never */
} sink_buffer;

static ipfix_status memory_sink(void *context, const uint8_t *message, size_t length) {
    sink_buffer *s = context;
    if (s->fail_at && s->count + 1 == s->fail_at) {
        s->fail_at = 0;
        return IPFIX_ERR_IO;
    }
    assert_true(s->count < SINK_MAX_MESSAGES);
    s->msg[s->count] = malloc(length);
    assert_non_null(s->msg[s->count]);
    memcpy(s->msg[s->count], message, length);
    s->len[s->count++] = length;
    return IPFIX_OK;
}

static void sink_free(sink_buffer *s) {
    for (size_t i = 0; i < s->count; i++) free(s->msg[i]);
    memset(s, 0, sizeof *s);
}

static uint32_t fixed_clock(void *context) {
    return *(uint32_t *)context;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Summary of one message, from an independent parse. */
typedef struct parsed {
    uint32_t export_time, sequence, odid;
    size_t sets;
    uint16_t set_id[64];
    uint16_t set_len[64];
    size_t set_off[64];
} parsed;

/* Check the header and that Sets tile the message exactly. */
static void parse_message(const uint8_t *m, size_t len, parsed *out) {
    memset(out, 0, sizeof *out);
    assert_true(len >= 16);
    assert_int_equal(get16(m), 10);
    assert_int_equal(get16(m + 2), len);
    out->export_time = get32(m + 4);
    out->sequence = get32(m + 8);
    out->odid = get32(m + 12);
    size_t pos = 16;
    while (pos < len) {
        assert_true(len - pos >= 4);
        uint16_t id = get16(m + pos), sl = get16(m + pos + 2);
        assert_true(id == 2 || id == 3 || id >= 256);
        assert_true(sl > 4);
        assert_true(sl <= len - pos);
        assert_true(out->sets < 64);
        out->set_id[out->sets] = id;
        out->set_len[out->sets] = sl;
        out->set_off[out->sets] = pos;
        out->sets++;
        pos += sl;
    }
    assert_int_equal(pos, len);
}

static ipfix_template *make_template(uint16_t id, uint16_t scope, const ipfix_field_spec *specs,
                                     uint16_t n) {
    ipfix_template *t = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_template_new(NULL, id, scope, specs, n, &t, &err), IPFIX_OK);
    return t;
}

/* A 21-byte record template: src/dst IPv4, ports, protocol, octets. */
static const ipfix_field_spec flow_specs[] = {
    {0, 8, 4}, {0, 12, 4}, {0, 7, 2}, {0, 11, 2}, {0, 4, 1}, {0, 1, 8}};
#define FLOW_RECORD_LEN 21

static void fill_record(uint8_t *r, uint32_t i) {
    memset(r, 0, FLOW_RECORD_LEN);
    r[0] = 10;
    r[3] = (uint8_t)i;
    r[4] = 192;
    r[7] = (uint8_t)(i >> 8);
    r[9] = (uint8_t)i;
    r[13] = 6;
    r[20] = (uint8_t)(i * 7);
}

typedef struct fixture {
    sink_buffer sink;
    uint32_t now;
    ipfix_writer *w;
    ipfix_template *flow;
} fixture;

static fixture *fixture_new(size_t max, uint32_t odid) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->now = 1700000000u;
    ipfix_writer_config cfg = {.max_message_size = max, .observation_domain_id = odid,
                               .clock = fixed_clock, .clock_context = &f->now};
    f->w = ipfix_writer_new(&cfg, memory_sink, &f->sink);
    assert_non_null(f->w);
    f->flow = make_template(256, 0, flow_specs, 6);
    return f;
}

static void fixture_free(fixture *f) {
    ipfix_writer_free(f->w);
    ipfix_template_unref(f->flow);
    sink_free(&f->sink);
    free(f);
}

/* ---- tests ---- */

static void test_config_limits(void **state) {
    (void)state;
    sink_buffer s = {0};
    ipfix_writer_config cfg = {.max_message_size = 63};
    assert_null(ipfix_writer_new(&cfg, memory_sink, &s));
    cfg.max_message_size = 65536;
    assert_null(ipfix_writer_new(&cfg, memory_sink, &s));
    assert_null(ipfix_writer_new(NULL, NULL, &s));
    ipfix_writer *w = ipfix_writer_new(NULL, memory_sink, &s);
    assert_non_null(w);
    assert_int_equal(ipfix_writer_max_message_size(w), 65535);
    assert_int_equal(ipfix_writer_flush(w), IPFIX_OK); /* nothing to emit */
    assert_int_equal(s.count, 0);
    ipfix_writer_free(w);
}

static void test_template_and_records_one_message(void **state) {
    (void)state;
    fixture *f = fixture_new(1400, 7);
    assert_int_equal(ipfix_writer_add_template(f->w, f->flow), IPFIX_OK);
    uint8_t rec[FLOW_RECORD_LEN];
    for (uint32_t i = 0; i < 3; i++) {
        fill_record(rec, i);
        assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    }
    assert_int_equal(f->sink.count, 0);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    assert_int_equal(f->sink.count, 1);
    parsed p;
    parse_message(f->sink.msg[0], f->sink.len[0], &p);
    assert_int_equal(p.export_time, 1700000000u);
    assert_int_equal(p.sequence, 0);
    assert_int_equal(p.odid, 7);
    assert_int_equal(p.sets, 2);
    assert_int_equal(p.set_id[0], 2);
    /* Template set: header + record as encoded by template.c. */
    uint8_t trec[64];
    size_t tlen = ipfix_template_record_encode(f->flow, trec, sizeof trec);
    assert_int_equal(p.set_len[0], 4 + tlen);
    assert_memory_equal(f->sink.msg[0] + p.set_off[0] + 4, trec, tlen);
    /* Data set: three records back to back, no padding. */
    assert_int_equal(p.set_id[1], 256);
    assert_int_equal(p.set_len[1], 4 + 3 * FLOW_RECORD_LEN);
    fill_record(rec, 2);
    assert_memory_equal(f->sink.msg[0] + p.set_off[1] + 4 + 2 * FLOW_RECORD_LEN, rec, sizeof rec);
    assert_int_equal(ipfix_writer_messages(f->w), 1);
    assert_int_equal(ipfix_writer_records(f->w), 3);
    assert_int_equal(ipfix_writer_next_sequence(f->w, 7), 3);
    fixture_free(f);
}

/* Small maximum: many messages, none larger than the maximum, sets never
 * span messages, sequence = records in earlier messages. */
static void test_split_small_messages(void **state) {
    (void)state;
    fixture *f = fixture_new(200, 1);
    /* An options template and a second template, so template sets split too. */
    static const ipfix_field_spec opt_specs[] = {{0, 149, 4}, {0, 40, 8}, {0, 41, 8}, {0, 42, 8}};
    ipfix_template *opt = make_template(300, 1, opt_specs, 4);
    ipfix_template *many[12];
    ipfix_field_spec wide[20];
    for (int i = 0; i < 20; i++) wide[i] = (ipfix_field_spec){0, (uint16_t)(1 + i), 4};
    for (int i = 0; i < 12; i++) many[i] = make_template((uint16_t)(400 + i), 0, wide, 10);
    assert_int_equal(ipfix_writer_add_template(f->w, f->flow), IPFIX_OK);
    assert_int_equal(ipfix_writer_add_template(f->w, opt), IPFIX_OK);
    for (int i = 0; i < 12; i++) assert_int_equal(ipfix_writer_add_template(f->w, many[i]), IPFIX_OK);
    uint8_t rec[FLOW_RECORD_LEN];
    const uint32_t total = 100;
    for (uint32_t i = 0; i < total; i++) {
        fill_record(rec, i);
        assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
        if (i % 37 == 0) {
            uint8_t orec[28] = {0};
            orec[3] = 1;
            assert_int_equal(ipfix_writer_add_record(f->w, opt, orec, sizeof orec), IPFIX_OK);
        }
    }
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    assert_true(f->sink.count > 10);
    uint32_t expected_sequence = 0;
    uint32_t flow_seen = 0, templates_seen = 0;
    for (size_t m = 0; m < f->sink.count; m++) {
        assert_true(f->sink.len[m] <= 200);
        parsed p;
        parse_message(f->sink.msg[m], f->sink.len[m], &p);
        assert_int_equal(p.sequence, expected_sequence);
        for (size_t s = 0; s < p.sets; s++) {
            const uint8_t *set = f->sink.msg[m] + p.set_off[s];
            if (p.set_id[s] == 256) {
                assert_int_equal((p.set_len[s] - 4) % FLOW_RECORD_LEN, 0);
                uint32_t n = (p.set_len[s] - 4u) / FLOW_RECORD_LEN;
                for (uint32_t k = 0; k < n; k++) {
                    fill_record(rec, flow_seen + k);
                    assert_memory_equal(set + 4 + k * FLOW_RECORD_LEN, rec, sizeof rec);
                }
                flow_seen += n;
                expected_sequence += n;
            } else if (p.set_id[s] == 300) {
                assert_int_equal(p.set_len[s] - 4, 28);
                expected_sequence += 1;
            } else {
                /* Template sets: count records (10 fields = 44 bytes etc.). */
                size_t pos = 4;
                while (pos < p.set_len[s]) {
                    uint16_t fc = get16(set + pos + 2);
                    pos += (p.set_id[s] == 3 ? 6 : 4) + 4u * fc;
                    templates_seen++;
                }
                assert_int_equal(pos, p.set_len[s]);
            }
        }
        /* Consecutive sets in a message never share an ID (sets are reopened
         * only in a new message). */
        for (size_t s = 1; s < p.sets; s++) assert_true(p.set_id[s] != p.set_id[s - 1]);
    }
    assert_int_equal(flow_seen, total);
    assert_int_equal(templates_seen, 14);
    assert_int_equal(ipfix_writer_records(f->w), total + 3);
    assert_int_equal(ipfix_writer_next_sequence(f->w, 1), total + 3);
    ipfix_template_unref(opt);
    for (int i = 0; i < 12; i++) ipfix_template_unref(many[i]);
    fixture_free(f);
}

/* The maximum lowered later (a DTLS path MTU): a message being built that
 * no longer fits is emitted first; later messages keep the new limit; the
 * limit can go back up to the creation size, not beyond. */
static void test_set_max_message_size(void **state) {
    (void)state;
    fixture *f = fixture_new(1400, 1);
    uint8_t rec[FLOW_RECORD_LEN];
    for (uint32_t i = 0; i < 40; i++) { /* 16 + 4 + 40 * 21 = 860 bytes pending */
        fill_record(rec, i);
        assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    }
    assert_int_equal(f->sink.count, 0);
    assert_int_equal(ipfix_writer_set_max_message_size(f->w, 300), IPFIX_OK);
    assert_int_equal(f->sink.count, 1); /* the 860-byte message went first */
    assert_int_equal(f->sink.len[0], 860);
    for (uint32_t i = 0; i < 40; i++) {
        fill_record(rec, i);
        assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    }
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    for (size_t m = 1; m < f->sink.count; m++) assert_true(f->sink.len[m] <= 300);
    assert_true(f->sink.count >= 4);
    assert_int_equal(ipfix_writer_max_message_size(f->w), 300);
    assert_int_equal(ipfix_writer_set_max_message_size(f->w, 63), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_writer_set_max_message_size(f->w, 1401), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_writer_set_max_message_size(f->w, 1400), IPFIX_OK);
    fixture_free(f);
}

static void test_sequence_per_domain(void **state) {
    (void)state;
    fixture *f = fixture_new(65535, 1);
    uint8_t rec[FLOW_RECORD_LEN];
    fill_record(rec, 1);
    assert_int_equal(ipfix_writer_add_template(f->w, f->flow), IPFIX_OK);
    for (int i = 0; i < 5; i++) assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_set_domain(f->w, 2), IPFIX_OK); /* flushes domain 1 */
    assert_int_equal(f->sink.count, 1);
    assert_int_equal(ipfix_writer_domain(f->w), 2);
    assert_int_equal(ipfix_writer_add_template(f->w, f->flow), IPFIX_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_set_domain(f->w, 1), IPFIX_OK);
    for (int i = 0; i < 2; i++) assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    /* Template-only message carries the current value (RFC 7011 §3.1). */
    assert_int_equal(ipfix_writer_add_template(f->w, f->flow), IPFIX_OK);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    assert_int_equal(f->sink.count, 4);
    parsed p;
    uint32_t want[4][2] = {{1, 0}, {2, 0}, {1, 5}, {1, 7}};
    for (int i = 0; i < 4; i++) {
        parse_message(f->sink.msg[i], f->sink.len[i], &p);
        assert_int_equal(p.odid, want[i][0]);
        assert_int_equal(p.sequence, want[i][1]);
    }
    assert_int_equal(ipfix_writer_next_sequence(f->w, 1), 7);
    assert_int_equal(ipfix_writer_next_sequence(f->w, 2), 3);
    assert_int_equal(ipfix_writer_next_sequence(f->w, 99), 0);
    fixture_free(f);
}

static void test_sequence_wraps(void **state) {
    (void)state;
    fixture *f = fixture_new(65535, 4);
    assert_int_equal(ipfix_writer_set_sequence(f->w, 4, 0xFFFFFFFEu), IPFIX_OK);
    uint8_t rec[FLOW_RECORD_LEN];
    fill_record(rec, 0);
    for (int i = 0; i < 3; i++) assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    parsed p;
    parse_message(f->sink.msg[0], f->sink.len[0], &p);
    assert_int_equal(p.sequence, 0xFFFFFFFEu);
    assert_int_equal(ipfix_writer_next_sequence(f->w, 4), 1); /* mod 2^32 */
    fixture_free(f);
}

static void test_withdrawals(void **state) {
    (void)state;
    fixture *f = fixture_new(65535, 1);
    assert_int_equal(ipfix_writer_withdraw(f->w, 300, false), IPFIX_OK);
    assert_int_equal(ipfix_writer_withdraw(f->w, 301, false), IPFIX_OK);
    assert_int_equal(ipfix_writer_withdraw(f->w, 2, false), IPFIX_OK);  /* all templates */
    assert_int_equal(ipfix_writer_withdraw(f->w, 302, true), IPFIX_OK);
    assert_int_equal(ipfix_writer_withdraw(f->w, 3, true), IPFIX_OK);   /* all options templates */
    assert_int_equal(ipfix_writer_withdraw(f->w, 5, false), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_writer_withdraw(f->w, 2, true), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_writer_withdraw(f->w, 3, false), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    assert_int_equal(f->sink.count, 1);
    static const uint8_t expect[] = {
        0, 2, 0, 16, 0x01, 0x2c, 0, 0, 0x01, 0x2d, 0, 0, 0, 2, 0, 0, /* set 2: 300, 301, all */
        0, 3, 0, 12, 0x01, 0x2e, 0, 0, 0, 3, 0, 0};                  /* set 3: 302, all */
    assert_int_equal(f->sink.len[0], 16 + sizeof expect);
    assert_memory_equal(f->sink.msg[0] + 16, expect, sizeof expect);
    assert_int_equal(ipfix_writer_records(f->w), 0);
    fixture_free(f);
}

static void test_template_change_closes_set(void **state) {
    (void)state;
    fixture *f = fixture_new(65535, 1);
    static const ipfix_field_spec small[] = {{0, 4, 1}};
    ipfix_template *t2 = make_template(257, 0, small, 1);
    uint8_t rec[FLOW_RECORD_LEN];
    fill_record(rec, 0);
    uint8_t one = 17;
    assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_add_record(f->w, t2, &one, 1), IPFIX_OK);
    assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    parsed p;
    parse_message(f->sink.msg[0], f->sink.len[0], &p);
    assert_int_equal(p.sets, 3);
    assert_int_equal(p.set_id[0], 256);
    assert_int_equal(p.set_len[0], 4 + 2 * FLOW_RECORD_LEN);
    assert_int_equal(p.set_id[1], 257);
    assert_int_equal(p.set_len[1], 5);
    assert_int_equal(p.set_id[2], 256);
    ipfix_template_unref(t2);
    fixture_free(f);
}

static void test_record_too_large(void **state) {
    (void)state;
    fixture *f = fixture_new(200, 1);
    uint8_t big[181] = {0};
    assert_int_equal(ipfix_writer_add_record(f->w, f->flow, big, 181), IPFIX_ERR_NO_SPACE);
    assert_null(ipfix_writer_reserve_record(f->w, f->flow, 181));
    assert_int_equal(ipfix_writer_last_status(f->w), IPFIX_ERR_NO_SPACE);
    assert_int_equal(ipfix_writer_add_record(f->w, f->flow, big, 180), IPFIX_OK); /* 16+4+180 */
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    assert_int_equal(f->sink.len[0], 200);
    /* A template whose record is too large for the message. */
    ipfix_field_spec wide[60];
    for (int i = 0; i < 60; i++) wide[i] = (ipfix_field_spec){0, (uint16_t)(1 + i), 1};
    ipfix_template *t = make_template(500, 0, wide, 60);
    assert_int_equal(ipfix_writer_add_template(f->w, t), IPFIX_ERR_NO_SPACE);
    ipfix_template_unref(t);
    fixture_free(f);
}

static void test_reserve_commit(void **state) {
    (void)state;
    fixture *f = fixture_new(100, 1);
    uint8_t *p = ipfix_writer_reserve_record(f->w, f->flow, 40);
    assert_non_null(p);
    memset(p, 0xAB, FLOW_RECORD_LEN);
    assert_int_equal(ipfix_writer_commit_record(f->w, FLOW_RECORD_LEN), IPFIX_OK);
    assert_int_equal(ipfix_writer_commit_record(f->w, FLOW_RECORD_LEN), IPFIX_ERR_INVALID_ARG);
    /* Commit larger than reserved is refused. */
    p = ipfix_writer_reserve_record(f->w, f->flow, 10);
    assert_non_null(p);
    assert_int_equal(ipfix_writer_commit_record(f->w, 11), IPFIX_ERR_INVALID_ARG);
    /* An abandoned reservation in a new set leaves no empty set behind. */
    static const ipfix_field_spec small[] = {{0, 4, 1}};
    ipfix_template *t2 = make_template(257, 0, small, 1);
    assert_non_null(ipfix_writer_reserve_record(f->w, t2, 1));
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    parsed pm;
    parse_message(f->sink.msg[0], f->sink.len[0], &pm);
    assert_int_equal(pm.sets, 1);
    assert_int_equal(f->sink.len[0], 16 + 4 + FLOW_RECORD_LEN);
    /* Reserving more than fits flushes, even if the commit would have fit. */
    for (int i = 0; i < 3; i++) {
        assert_non_null(ipfix_writer_reserve_record(f->w, f->flow, FLOW_RECORD_LEN));
        assert_int_equal(ipfix_writer_commit_record(f->w, FLOW_RECORD_LEN), IPFIX_OK);
    }
    assert_non_null(ipfix_writer_reserve_record(f->w, f->flow, 30)); /* 83 + 30 > 100 */
    assert_int_equal(f->sink.count, 2);
    assert_int_equal(ipfix_writer_commit_record(f->w, FLOW_RECORD_LEN), IPFIX_OK);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    parse_message(f->sink.msg[2], f->sink.len[2], &pm);
    assert_int_equal(pm.sequence, 4);
    assert_null(ipfix_writer_reserve_record(f->w, f->flow, 0));
    /* Another item between reserve and commit ends the reservation. */
    assert_non_null(ipfix_writer_reserve_record(f->w, f->flow, FLOW_RECORD_LEN));
    assert_int_equal(ipfix_writer_withdraw(f->w, 999, false), IPFIX_OK);
    assert_int_equal(ipfix_writer_commit_record(f->w, FLOW_RECORD_LEN), IPFIX_ERR_INVALID_ARG);
    ipfix_template_unref(t2);
    fixture_free(f);
}

static void test_sink_failure(void **state) {
    (void)state;
    fixture *f = fixture_new(100, 1);
    f->sink.fail_at = 1;
    uint8_t rec[FLOW_RECORD_LEN];
    fill_record(rec, 0);
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        ipfix_status st = ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec);
        if (st != IPFIX_OK) {
            assert_int_equal(st, IPFIX_ERR_IO);
            failures++;
        }
    }
    assert_int_equal(failures, 1);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    /* The dropped message's 3 records still count: the collector sees a gap. */
    parsed p;
    parse_message(f->sink.msg[0], f->sink.len[0], &p);
    assert_int_equal(p.sequence, 3);
    assert_int_equal(ipfix_writer_next_sequence(f->w, 1), 7);
    fixture_free(f);
}

static void test_export_time_at_message_start(void **state) {
    (void)state;
    fixture *f = fixture_new(100, 1);
    uint8_t rec[FLOW_RECORD_LEN];
    fill_record(rec, 0);
    f->now = 1000;
    assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    f->now = 2000;
    assert_int_equal(ipfix_writer_add_record(f->w, f->flow, rec, sizeof rec), IPFIX_OK);
    assert_int_equal(ipfix_writer_flush(f->w), IPFIX_OK);
    parsed p;
    parse_message(f->sink.msg[0], f->sink.len[0], &p);
    assert_int_equal(p.export_time, 1000);
    fixture_free(f);
}

static void test_record_encode(void **state) {
    (void)state;
    static const ipfix_field_spec specs[] = {
        {0, 8, 4},      /* sourceIPv4Address */
        {0, 1, 4},      /* octetDeltaCount, reduced to 4 bytes (RFC 7011 §6.2) */
        {0, 82, 65535}, /* interfaceName, variable length */
        {0, 4, 1}};
    ipfix_template *t = make_template(260, 0, specs, 4);
    ipfix_value v[4];
    memset(v, 0, sizeof v);
    v[0].type = IPFIX_TYPE_IPV4_ADDRESS;
    memcpy(v[0].v.ipv4, (uint8_t[]){192, 0, 2, 1}, 4);
    v[1].type = IPFIX_TYPE_UNSIGNED64;
    v[1].v.u64 = 0x01020304;
    v[2].type = IPFIX_TYPE_STRING;
    v[2].v.bytes = (ipfix_bytes){(const uint8_t *)"eth0", 4};
    v[3].type = IPFIX_TYPE_UNSIGNED8;
    v[3].v.u64 = 6;
    uint8_t out[64];
    size_t len = 0;
    assert_int_equal(ipfix_record_encode(t, v, out, sizeof out, &len), IPFIX_OK);
    static const uint8_t expect[] = {192, 0, 2, 1, 1, 2, 3, 4, 4, 'e', 't', 'h', '0', 6};
    assert_int_equal(len, sizeof expect);
    assert_memory_equal(out, expect, sizeof expect);
    /* Too small a buffer, and a value that does not fit its reduced size. */
    assert_int_equal(ipfix_record_encode(t, v, out, 10, &len), IPFIX_ERR_NO_SPACE);
    v[1].v.u64 = 0x100000000ull;
    assert_int_not_equal(ipfix_record_encode(t, v, out, sizeof out, &len), IPFIX_OK);
    /* A long varlen value gets the 3-byte prefix (RFC 7011 §7). */
    v[1].v.u64 = 1;
    uint8_t longname[300];
    memset(longname, 'x', sizeof longname);
    v[2].v.bytes = (ipfix_bytes){longname, sizeof longname};
    uint8_t big[400];
    assert_int_equal(ipfix_record_encode(t, v, big, sizeof big, &len), IPFIX_OK);
    assert_int_equal(len, 4 + 4 + 3 + 300 + 1);
    assert_int_equal(big[8], 255);
    assert_int_equal(get16(big + 9), 300);
    ipfix_template_unref(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_limits),
        cmocka_unit_test(test_template_and_records_one_message),
        cmocka_unit_test(test_split_small_messages),
        cmocka_unit_test(test_set_max_message_size),
        cmocka_unit_test(test_sequence_per_domain),
        cmocka_unit_test(test_sequence_wraps),
        cmocka_unit_test(test_withdrawals),
        cmocka_unit_test(test_template_change_closes_set),
        cmocka_unit_test(test_record_too_large),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_sink_failure),
        cmocka_unit_test(test_export_time_at_message_start),
        cmocka_unit_test(test_record_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
