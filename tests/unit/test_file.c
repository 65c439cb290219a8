/*
 * test_file.c — unit tests of IPFIX Files (file_writer.c, file_reader.c):
 * round trip through ipfix_file_reader + ipfix_reader, the temporary name
 * and rename, the RFC 5655 §8.1 metadata records, raw-message passthrough,
 * and recovery from garbage and truncated messages (mapped and piped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipfixkit/file.h"
#include "ipfixkit/ipfixkit.h"

/* ---- helpers ---- */

static char test_dir[256];

static int setup_dir(void **state) {
    (void)state;
    snprintf(test_dir, sizeof test_dir, "/tmp/ipfixkit-test-file-XXXXXX");
    assert_non_null(mkdtemp(test_dir));
    return 0;
}

static int teardown_dir(void **state) {
    (void)state;
    if (getenv("IPFIXKIT_KEEP_TEST_FILES")) return 0; /* for debugging */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_dir(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", test_dir, name);
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all(const char *path, const uint8_t *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static uint32_t fixed_clock(void *context) { return *(uint32_t *)context; }

/* Flow template with flowStart/EndMilliseconds: 4+4+2+2+1+8+8+8 = 37 bytes. */
static const ipfix_field_spec flow_specs[] = {{0, 8, 4}, {0, 12, 4}, {0, 7, 2}, {0, 11, 2},
                                              {0, 4, 1}, {0, 1, 8}, {0, 152, 8}, {0, 153, 8}};
#define FLOW_LEN 37
/* A second template without times, with a variable-length field. */
static const ipfix_field_spec name_specs[] = {{0, 10, 4}, {0, 82, 65535}};

#define BASE_MS 1700000000000ull

static void flow_record(uint8_t *r, uint32_t i) {
    memset(r, 0, FLOW_LEN);
    ipfix_put_u32(r, 0x0a000000u | i);
    ipfix_put_u32(r + 4, 0xc0a80000u | (i * 13u & 0xffff));
    ipfix_put_u16(r + 8, (uint16_t)(1024 + i));
    ipfix_put_u16(r + 10, 443);
    r[12] = 6;
    ipfix_put_u64(r + 13, 100ull * i + 40);
    ipfix_put_u64(r + 21, BASE_MS + 1000ull * i);        /* start */
    ipfix_put_u64(r + 29, BASE_MS + 1000ull * i + 500); /* end */
}

static size_t name_record(uint8_t *r, uint32_t i) {
    ipfix_put_u32(r, i);
    int n = snprintf((char *)r + 5, 32, "if-%u", (unsigned)i);
    r[4] = (uint8_t)n;
    return 5 + (size_t)n;
}

static ipfix_template *make_template(uint16_t id, uint16_t scope, const ipfix_field_spec *specs,
                                     uint16_t n) {
    ipfix_template *t = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_template_new(NULL, id, scope, specs, n, &t, &err), IPFIX_OK);
    return t;
}

/* What decoding a file produced. */
typedef struct decoded {
    uint64_t messages, records, flow_records, name_records, errors, sequence_events;
    uint64_t templates, withdrawals, framing_errors, missing;
    uint64_t md_records;              /* message details records */
    uint64_t md_first_time, md_last_time; /* collectionTimeMilliseconds */
    uint64_t md_per_message_max;
    bool have_window;
    uint64_t window_start, window_end;
    bool have_details;
    uint8_t details[64];
    size_t details_len;
    uint16_t details_template_fields[16];
    uint16_t details_field_count;
    uint64_t first_error_offset;
    ipfix_status first_error_status;
    uint32_t flow_next;               /* next expected flow record index */
    bool flow_order_ok;
    uint16_t event_kinds[64];         /* first events, for order checks */
    uint16_t event_ids[64];
    size_t event_count;
} decoded;

static void note_event(decoded *d, uint16_t kind, uint16_t id) {
    if (d->event_count < 64) {
        d->event_kinds[d->event_count] = kind;
        d->event_ids[d->event_count++] = id;
    }
}

static void decode_file(const char *path, decoded *d) {
    memset(d, 0, sizeof *d);
    d->flow_order_ok = true;
    d->first_error_status = IPFIX_OK;
    ipfix_file_reader *r = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_file_reader_open(path, &r, &err), IPFIX_OK);
    ipfix_session_config cfg;
    ipfix_session_config_default(&cfg, IPFIX_TRANSPORT_FILE);
    ipfix_session *s = ipfix_session_new(NULL, &cfg);
    assert_non_null(s);
    for (;;) {
        const uint8_t *msg;
        size_t len;
        uint64_t off;
        ipfix_status st = ipfix_file_reader_next(r, &msg, &len, &off, &err);
        if (st == IPFIX_END) break;
        if (st != IPFIX_OK) {
            assert_true(st == IPFIX_ERR_MALFORMED || st == IPFIX_ERR_TRUNCATED);
            assert_non_null(err.rule);
            if (!d->framing_errors) {
                d->first_error_offset = err.offset;
                d->first_error_status = st;
            }
            d->framing_errors++;
            continue;
        }
        assert_true(len <= 65535);
        d->messages++;
        ipfix_reader rd;
        assert_int_equal(ipfix_reader_begin(&rd, s, msg, len, 0, &err), IPFIX_OK);
        ipfix_event ev;
        uint64_t md_here = 0;
        while (ipfix_reader_next(&rd, &ev) == IPFIX_OK) {
            switch (ev.kind) {
            case IPFIX_EVENT_TEMPLATE:
                d->templates++;
                note_event(d, ev.kind, ev.u.tmpl.tmpl->id);
                if (ev.u.tmpl.tmpl->id == IPFIX_FILE_TEMPLATE_SESSION_DETAILS) {
                    d->details_field_count = ev.u.tmpl.tmpl->field_count;
                    for (uint16_t i = 0; i < ev.u.tmpl.tmpl->field_count && i < 16; i++)
                        d->details_template_fields[i] = ev.u.tmpl.tmpl->fields[i].spec.id;
                }
                break;
            case IPFIX_EVENT_WITHDRAWAL:
                d->withdrawals++;
                note_event(d, ev.kind, ev.u.withdrawal.template_id);
                break;
            case IPFIX_EVENT_RECORD: {
                const ipfix_record *rec = &ev.u.record;
                d->records++;
                if (d->event_count < 64 && (d->event_count == 0 || d->event_kinds[d->event_count - 1] != IPFIX_EVENT_RECORD))
                    note_event(d, ev.kind, rec->tmpl->id);
                if (rec->tmpl->id == 256) {
                    uint8_t want[FLOW_LEN];
                    flow_record(want, d->flow_next++);
                    if (rec->length != FLOW_LEN || memcmp(rec->data, want, FLOW_LEN) != 0)
                        d->flow_order_ok = false;
                    d->flow_records++;
                } else if (rec->tmpl->id == 257) {
                    uint8_t want[64];
                    size_t n = name_record(want, (uint32_t)d->name_records);
                    if (rec->length != n || memcmp(rec->data, want, n) != 0) d->flow_order_ok = false;
                    d->name_records++;
                } else if (rec->tmpl->id == IPFIX_FILE_TEMPLATE_TIME_WINDOW) {
                    assert_int_equal(rec->length, 17);
                    assert_int_equal(rec->data[0], 0);
                    d->have_window = true;
                    d->window_start = ipfix_get_u64(rec->data + 1);
                    d->window_end = ipfix_get_u64(rec->data + 9);
                } else if (rec->tmpl->id == IPFIX_FILE_TEMPLATE_SESSION_DETAILS) {
                    d->have_details = true;
                    assert_true(rec->length <= sizeof d->details);
                    memcpy(d->details, rec->data, rec->length);
                    d->details_len = rec->length;
                } else if (rec->tmpl->id == IPFIX_FILE_TEMPLATE_MESSAGE_DETAILS) {
                    assert_int_equal(rec->length, 9);
                    assert_int_equal(rec->data[0], 0);
                    if (!d->md_records) d->md_first_time = ipfix_get_u64(rec->data + 1);
                    d->md_last_time = ipfix_get_u64(rec->data + 1);
                    d->md_records++;
                    md_here++;
                }
                break;
            }
            case IPFIX_EVENT_MISSING_TEMPLATE: d->missing++; break;
            case IPFIX_EVENT_ERROR: d->errors++; break;
            case IPFIX_EVENT_SEQUENCE: d->sequence_events++; break;
            }
        }
        if (md_here > d->md_per_message_max) d->md_per_message_max = md_here;
    }
    ipfix_session_free(s);
    ipfix_file_reader_close(r);
}

/* Write `n` flow records (and every 10th a name record) to `path`. */
static void write_sample(const char *path, const ipfix_file_writer_options *opt, uint32_t n,
                         bool names) {
    ipfix_file_writer *w = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_file_writer_open(path, opt, &w, &err), IPFIX_OK);
    ipfix_template *flow = make_template(256, 0, flow_specs, 8);
    ipfix_template *name = make_template(257, 0, name_specs, 2);
    uint8_t rec[FLOW_LEN], nrec[64];
    uint32_t named = 0;
    for (uint32_t i = 0; i < n; i++) {
        flow_record(rec, i);
        assert_int_equal(ipfix_file_writer_add_record(w, flow, rec, FLOW_LEN), IPFIX_OK);
        if (names && i % 10 == 0) {
            size_t len = name_record(nrec, named++);
            assert_int_equal(ipfix_file_writer_add_record(w, name, nrec, len), IPFIX_OK);
        }
    }
    /* The writer holds its own references: ours can go before close. */
    ipfix_template_unref(flow);
    ipfix_template_unref(name);
    assert_int_equal(ipfix_file_writer_close(w, &err), IPFIX_OK);
}

/* ---- tests ---- */

static void test_round_trip(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "round.ipfix");
    const uint32_t n = 20000;
    write_sample(path, NULL, n, true);
    decoded d;
    decode_file(path, &d);
    assert_int_equal(d.framing_errors, 0);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.missing, 0);
    assert_int_equal(d.sequence_events, 0);
    assert_int_equal(d.flow_records, n);
    assert_int_equal(d.name_records, n / 10);
    assert_true(d.flow_order_ok);
    assert_true(d.messages > 10); /* 20000 * 37 bytes do not fit one message */
    /* Templates come before their records (RFC 5655 §7.2). */
    assert_int_equal(d.event_kinds[0], IPFIX_EVENT_TEMPLATE);
    assert_int_equal(d.event_ids[0], 256);
    assert_int_equal(d.event_kinds[1], IPFIX_EVENT_RECORD);
    assert_int_equal(d.event_kinds[2], IPFIX_EVENT_TEMPLATE);
    assert_int_equal(d.event_ids[2], 257);
    /* Time window from the records' flowStart/EndMilliseconds (§8.1.2). */
    assert_true(d.have_window);
    assert_int_equal(d.window_start, BASE_MS);
    assert_int_equal(d.window_end, BASE_MS + 1000ull * (n - 1) + 500);
    assert_false(d.have_details);
    assert_int_equal(d.md_records, 0);
    /* Every message is at most 65535 bytes; reader stats agree. */
    ipfix_file_reader *r;
    ipfix_error err;
    assert_int_equal(ipfix_file_reader_open(path, &r, &err), IPFIX_OK);
    const uint8_t *m;
    size_t len;
    uint64_t off, expect_off = 0;
    while (ipfix_file_reader_next(r, &m, &len, &off, &err) == IPFIX_OK) {
        assert_int_equal(off, expect_off);
        expect_off += len;
    }
    ipfix_file_reader_stats rs;
    ipfix_file_reader_get_stats(r, &rs);
    assert_int_equal(rs.messages, d.messages);
    assert_int_equal(rs.bytes, ipfix_file_reader_size(r));
    assert_int_equal(rs.errors, 0);
    assert_int_equal(rs.resyncs, 0);
    ipfix_file_reader_close(r);
}

static void test_temp_name_and_rename(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "atomic.ipfix");
    ipfix_file_writer *w;
    ipfix_error err;
    assert_int_equal(ipfix_file_writer_open(path, NULL, &w, &err), IPFIX_OK);
    const char *tmp = ipfix_file_writer_temp_path(w);
    char tmp_copy[400];
    snprintf(tmp_copy, sizeof tmp_copy, "%s", tmp);
    assert_int_equal(strncmp(tmp_copy, path, strlen(path)), 0);
    assert_non_null(strstr(tmp_copy, ".tmp-"));
    assert_true(file_exists(tmp_copy));
    assert_false(file_exists(path));
    ipfix_template *flow = make_template(256, 0, flow_specs, 8);
    uint8_t rec[FLOW_LEN];
    flow_record(rec, 0);
    assert_int_equal(ipfix_file_writer_add_record(w, flow, rec, FLOW_LEN), IPFIX_OK);
    assert_int_equal(ipfix_file_writer_flush(w, &err), IPFIX_OK);
    assert_false(file_exists(path)); /* still under the temporary name */
    assert_int_equal(ipfix_file_writer_close(w, &err), IPFIX_OK);
    assert_true(file_exists(path));
    assert_false(file_exists(tmp_copy));
    /* Abort leaves nothing behind. */
    char path2[300];
    path_in_dir(path2, sizeof path2, "aborted.ipfix");
    assert_int_equal(ipfix_file_writer_open(path2, NULL, &w, &err), IPFIX_OK);
    snprintf(tmp_copy, sizeof tmp_copy, "%s", ipfix_file_writer_temp_path(w));
    assert_int_equal(ipfix_file_writer_add_record(w, flow, rec, FLOW_LEN), IPFIX_OK);
    ipfix_file_writer_abort(w);
    assert_false(file_exists(path2));
    assert_false(file_exists(tmp_copy));
    /* A directory that does not exist: an I/O error naming the file. */
    assert_int_equal(ipfix_file_writer_open("/nonexistent-dir/x.ipfix", NULL, &w, &err), IPFIX_ERR_IO);
    assert_non_null(strstr(err.detail, "nonexistent"));
    ipfix_template_unref(flow);
}

static void test_options_records(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "meta.ipfix");
    uint32_t now = 1700000100u;
    ipfix_file_writer_options opt;
    ipfix_file_writer_options_init(&opt);
    opt.clock = fixed_clock;
    opt.clock_context = &now;
    opt.message_details = true;
    opt.has_session_details = true;
    opt.session_details.exporter = (ipfix_file_address){4, {192, 0, 2, 7}};
    opt.session_details.exporter_port = 40000;
    opt.session_details.collector = (ipfix_file_address){6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    opt.session_details.collector_port = 4739;
    opt.session_details.transport_protocol = 6;
    ipfix_file_writer *w;
    ipfix_error err;
    assert_int_equal(ipfix_file_writer_open(path, &opt, &w, &err), IPFIX_OK);
    ipfix_file_writer_set_collection_time(w, BASE_MS + 42);
    ipfix_template *flow = make_template(256, 0, flow_specs, 8);
    uint8_t rec[FLOW_LEN];
    for (uint32_t i = 0; i < 5000; i++) {
        flow_record(rec, i);
        assert_int_equal(ipfix_file_writer_add_record(w, flow, rec, FLOW_LEN), IPFIX_OK);
    }
    /* A flow the caller knows of widens the window. */
    ipfix_file_writer_note_flow_time(w, BASE_MS - 5000, BASE_MS + 1);
    /* Metadata template IDs are reserved in the metadata domain. */
    ipfix_template *clash = make_template(IPFIX_FILE_TEMPLATE_TIME_WINDOW, 0, flow_specs, 8);
    assert_int_equal(ipfix_file_writer_add_record(w, clash, rec, FLOW_LEN), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_file_writer_last_error(w)->status, IPFIX_ERR_INVALID_ARG);
    ipfix_file_writer_stats ws;
    ipfix_file_writer_get_stats(w, &ws);
    assert_int_equal(ws.records, 5000);
    assert_int_equal(ipfix_file_writer_close(w, &err), IPFIX_OK);
    decoded d;
    decode_file(path, &d);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.missing, 0);
    assert_int_equal(d.sequence_events, 0); /* inserted records are counted */
    assert_int_equal(d.flow_records, 5000);
    assert_true(d.flow_order_ok);
    assert_true(d.have_window);
    assert_int_equal(d.window_start, BASE_MS - 5000);
    assert_int_equal(d.window_end, BASE_MS + 1000ull * 4999 + 500);
    /* One Message Details record in every message (§8.1.4). */
    assert_int_equal(d.md_records, d.messages);
    assert_int_equal(d.md_per_message_max, 1);
    /* Export Session Details (§8.1.3). */
    assert_true(d.have_details);
    static const uint16_t fields[] = {267, 130, 217, 212, 216, 215, 264, 260};
    assert_int_equal(d.details_field_count, 8);
    assert_memory_equal(d.details_template_fields, fields, sizeof fields);
    static const uint8_t expect[] = {
        0, 192, 0, 2, 7, 0x9c, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        0x12, 0x83, 6, 0x65, 0x53, 0xf1, 0x64, 0x65, 0x53, 0xf1, 0x64};
    assert_int_equal(d.details_len, sizeof expect);
    assert_memory_equal(d.details, expect, sizeof expect);
    ipfix_template_unref(flow);
    ipfix_template_unref(clash);
}

static void test_no_metadata_without_times(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "notimes.ipfix");
    ipfix_file_writer *w;
    ipfix_error err;
    assert_int_equal(ipfix_file_writer_open(path, NULL, &w, &err), IPFIX_OK);
    ipfix_template *name = make_template(257, 0, name_specs, 2);
    uint8_t nrec[64];
    for (uint32_t i = 0; i < 100; i++) {
        size_t len = name_record(nrec, i);
        assert_int_equal(ipfix_file_writer_add_record(w, name, nrec, len), IPFIX_OK);
    }
    assert_int_equal(ipfix_file_writer_close(w, &err), IPFIX_OK);
    decoded d;
    decode_file(path, &d);
    assert_int_equal(d.name_records, 100);
    assert_true(d.flow_order_ok);
    assert_false(d.have_window);
    assert_int_equal(d.records, 100);
    ipfix_template_unref(name);
}

static void test_template_redefinition(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "redef.ipfix");
    ipfix_file_writer *w;
    ipfix_error err;
    assert_int_equal(ipfix_file_writer_open(path, NULL, &w, &err), IPFIX_OK);
    ipfix_template *flow = make_template(256, 0, flow_specs, 8);
    ipfix_template *flow_again = make_template(256, 0, flow_specs, 8);
    ipfix_template *other = make_template(256, 0, name_specs, 2);
    uint8_t rec[FLOW_LEN];
    flow_record(rec, 0);
    assert_int_equal(ipfix_file_writer_add_template(w, flow), IPFIX_OK);
    assert_int_equal(ipfix_file_writer_add_template(w, flow_again), IPFIX_OK); /* identical: no-op */
    assert_int_equal(ipfix_file_writer_add_record(w, flow, rec, FLOW_LEN), IPFIX_OK);
    assert_int_equal(ipfix_file_writer_add_record(w, flow_again, rec, FLOW_LEN), IPFIX_OK);
    uint8_t nrec[64];
    size_t nlen = name_record(nrec, 0);
    /* Same ID, different template: withdrawal, then the new one. */
    assert_int_equal(ipfix_file_writer_add_record(w, other, nrec, nlen), IPFIX_OK);
    /* A second domain gets its own copy of the template. */
    assert_int_equal(ipfix_file_writer_set_domain(w, 9), IPFIX_OK);
    assert_int_equal(ipfix_file_writer_add_record(w, flow, rec, FLOW_LEN), IPFIX_OK);
    assert_int_equal(ipfix_file_writer_withdraw(w, 256, false), IPFIX_OK);
    assert_int_equal(ipfix_file_writer_add_record(w, flow, rec, FLOW_LEN), IPFIX_OK);
    assert_int_equal(ipfix_file_writer_close(w, &err), IPFIX_OK);
    decoded d;
    decode_file(path, &d);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.missing, 0);
    assert_int_equal(d.sequence_events, 0);
    static const uint16_t kinds[] = {IPFIX_EVENT_TEMPLATE, IPFIX_EVENT_RECORD, IPFIX_EVENT_WITHDRAWAL,
                                     IPFIX_EVENT_TEMPLATE, IPFIX_EVENT_RECORD, IPFIX_EVENT_TEMPLATE,
                                     IPFIX_EVENT_RECORD,   IPFIX_EVENT_WITHDRAWAL, IPFIX_EVENT_TEMPLATE,
                                     IPFIX_EVENT_RECORD};
    assert_true(d.event_count >= 10);
    for (size_t i = 0; i < 10; i++) assert_int_equal(d.event_kinds[i], kinds[i]);
    assert_int_equal(d.templates, 4 + 1); /* + the time window options template */
    assert_int_equal(d.records, 2 + 1 + 2 + 1);
    ipfix_template_unref(flow);
    ipfix_template_unref(flow_again);
    ipfix_template_unref(other);
}

/* Offsets of the messages of a file. */
static size_t message_offsets(const uint8_t *buf, size_t len, size_t *offs, size_t max) {
    size_t n = 0, pos = 0;
    while (pos + 16 <= len && n < max) {
        offs[n++] = pos;
        pos += ipfix_get_u16(buf + pos + 2);
    }
    return n;
}

static void test_resync_after_garbage(void **state) {
    (void)state;
    char path[300], bad[300];
    path_in_dir(path, sizeof path, "clean.ipfix");
    path_in_dir(bad, sizeof bad, "garbage.ipfix");
    write_sample(path, NULL, 10000, false);
    size_t len;
    uint8_t *buf = read_all(path, &len);
    size_t offs[64];
    size_t count = message_offsets(buf, len, offs, 64);
    assert_true(count > 4);
    /* Insert garbage before message 3, including a fake header (version 10,
     * plausible length) whose sets do not tile it. */
    uint8_t garbage[200];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)(i * 37 + 11);
    static const uint8_t fake[] = {0x00, 0x0a, 0x00, 0x30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                   0x00, 0x01, 0x00, 0x08};
    memcpy(garbage + 50, fake, sizeof fake);
    garbage[0] = 0x12; /* not version 10 */
    size_t blen = len + sizeof garbage;
    uint8_t *b = malloc(blen);
    memcpy(b, buf, offs[3]);
    memcpy(b + offs[3], garbage, sizeof garbage);
    memcpy(b + offs[3] + sizeof garbage, buf + offs[3], len - offs[3]);
    write_all(bad, b, blen);
    decoded d;
    decode_file(bad, &d);
    assert_int_equal(d.framing_errors, 1);
    assert_int_equal(d.first_error_status, IPFIX_ERR_MALFORMED);
    assert_int_equal(d.first_error_offset, offs[3]);
    assert_int_equal(d.flow_records, 10000); /* nothing lost */
    assert_true(d.flow_order_ok);
    assert_int_equal(d.sequence_events, 0);
    ipfix_file_reader *r;
    ipfix_error err;
    assert_int_equal(ipfix_file_reader_open(bad, &r, &err), IPFIX_OK);
    const uint8_t *m;
    size_t mlen;
    uint64_t off;
    ipfix_status st;
    while ((st = ipfix_file_reader_next(r, &m, &mlen, &off, &err)) != IPFIX_END) {
        if (st != IPFIX_OK) {
            assert_non_null(strstr(err.rule, "RFC 7011 §3.1"));
        }
    }
    ipfix_file_reader_stats rs;
    ipfix_file_reader_get_stats(r, &rs);
    assert_int_equal(rs.errors, 1);
    assert_int_equal(rs.resyncs, 1);
    assert_int_equal(rs.skipped_bytes, sizeof garbage);
    ipfix_file_reader_close(r);

    /* Garbage replacing the first bytes of a message: that message is lost,
     * reading resumes at the next one (and the sequence gap is seen). */
    memcpy(b, buf, len);
    memset(b + offs[2], 0xEE, 8);
    write_all(bad, b, len);
    decode_file(bad, &d);
    assert_int_equal(d.framing_errors, 1);
    assert_int_equal(d.first_error_offset, offs[2]);
    assert_true(d.flow_records < 10000);
    assert_int_equal(d.sequence_events, 1);
    /* A length field smaller than 16. */
    memcpy(b, buf, len);
    ipfix_put_u16(b + offs[1] + 2, 8);
    write_all(bad, b, len);
    decode_file(bad, &d);
    assert_int_equal(d.framing_errors, 1);
    assert_int_equal(d.first_error_offset, offs[1] + 2);
    free(b);
    free(buf);
}

static void test_truncated_last_message(void **state) {
    (void)state;
    char path[300], bad[300];
    path_in_dir(path, sizeof path, "full.ipfix");
    path_in_dir(bad, sizeof bad, "cut.ipfix");
    write_sample(path, NULL, 10000, false);
    size_t len;
    uint8_t *buf = read_all(path, &len);
    size_t offs[64];
    size_t count = message_offsets(buf, len, offs, 64);
    size_t last = offs[count - 1];
    /* Cut in the middle of the last message. */
    write_all(bad, buf, last + 30);
    decoded d;
    decode_file(bad, &d);
    assert_int_equal(d.framing_errors, 1);
    assert_int_equal(d.first_error_status, IPFIX_ERR_TRUNCATED);
    assert_int_equal(d.first_error_offset, last);
    assert_int_equal(d.messages, count - 1);
    /* Cut inside a header. */
    write_all(bad, buf, last + 7);
    decode_file(bad, &d);
    assert_int_equal(d.framing_errors, 1);
    assert_int_equal(d.first_error_status, IPFIX_ERR_TRUNCATED);
    assert_int_equal(d.first_error_offset, last);
    free(buf);
    /* A message in the middle whose length points past the end of the file:
     * reported as truncated, and the message after it is still read. */
    uint8_t small[72];
    for (int i = 0; i < 3; i++) {
        uint8_t *m = small + 24 * i;
        memset(m, 0, 24);
        ipfix_put_u16(m, 10);
        ipfix_put_u16(m + 2, 24);
        ipfix_put_u32(m + 8, (uint32_t)i);
        ipfix_put_u16(m + 16, 256);
        ipfix_put_u16(m + 18, 8);
        m[20] = (uint8_t)(0x40 + i);
    }
    ipfix_put_u16(small + 24 + 2, 65000);
    write_all(bad, small, sizeof small);
    ipfix_file_reader *r;
    ipfix_error err;
    assert_int_equal(ipfix_file_reader_open(bad, &r, &err), IPFIX_OK);
    const uint8_t *m;
    size_t mlen;
    uint64_t off;
    assert_int_equal(ipfix_file_reader_next(r, &m, &mlen, &off, &err), IPFIX_OK);
    assert_int_equal(off, 0);
    assert_int_equal(ipfix_file_reader_next(r, &m, &mlen, &off, &err), IPFIX_ERR_TRUNCATED);
    assert_int_equal(err.offset, 24);
    assert_non_null(strstr(err.detail, "65000"));
    assert_int_equal(ipfix_file_reader_next(r, &m, &mlen, &off, &err), IPFIX_OK);
    assert_int_equal(off, 48);
    assert_int_equal(m[20], 0x42);
    assert_int_equal(ipfix_file_reader_next(r, &m, &mlen, &off, &err), IPFIX_END);
    ipfix_file_reader_stats rs;
    ipfix_file_reader_get_stats(r, &rs);
    assert_int_equal(rs.messages, 2);
    assert_int_equal(rs.errors, 1);
    assert_int_equal(rs.resyncs, 1);
    assert_int_equal(rs.skipped_bytes, 24);
    ipfix_file_reader_close(r);
    /* Empty file. */
    write_all(bad, (const uint8_t *)"", 0);
    decode_file(bad, &d);
    assert_int_equal(d.messages, 0);
    assert_int_equal(d.framing_errors, 0);
}

/* Standard input / pipes: the buffered path, with garbage to resync over. */
static void test_read_from_pipe(void **state) {
    (void)state;
    char path[300];
    path_in_dir(path, sizeof path, "piped.ipfix");
    write_sample(path, NULL, 30000, true); /* > 1 MiB: the buffer slides */
    size_t len;
    uint8_t *buf = read_all(path, &len);
    size_t offs[64];
    size_t count = message_offsets(buf, len, offs, 64);
    assert_true(count > 6);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        static const uint8_t junk[333] = {1, 2, 3};
        size_t parts[] = {0, offs[5], len};
        for (int i = 0; i < 2; i++) {
            size_t pos = parts[i];
            while (pos < parts[i + 1]) {
                size_t chunk = parts[i + 1] - pos < 1000 ? parts[i + 1] - pos : 1000;
                ssize_t k = write(fds[1], buf + pos, chunk);
                if (k <= 0) _exit(1);
                pos += (size_t)k;
            }
            if (i == 0 && write(fds[1], junk, sizeof junk) != (ssize_t)sizeof junk) _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(STDIN_FILENO);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
    decoded d;
    decode_file("-", &d);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(d.framing_errors, 1);
    assert_int_equal(d.first_error_offset, offs[5]);
    assert_int_equal(d.flow_records, 30000);
    assert_int_equal(d.name_records, 3000);
    assert_true(d.flow_order_ok);
    assert_int_equal(d.messages, count);
    free(buf);
}

/* Raw messages stored as received, with Message Details added. */
static void test_raw_passthrough(void **state) {
    (void)state;
    char src[300], dst[300];
    path_in_dir(src, sizeof src, "source.ipfix");
    path_in_dir(dst, sizeof dst, "archive.ipfix");
    ipfix_file_writer_options src_opt;
    ipfix_file_writer_options_init(&src_opt);
    src_opt.time_window = false; /* the archive's window must come from decoding */
    write_sample(src, &src_opt, 20000, true);
    uint32_t now = 1700000200u;
    ipfix_file_writer_options opt;
    ipfix_file_writer_options_init(&opt);
    opt.message_details = true;
    opt.clock = fixed_clock;
    opt.clock_context = &now;
    opt.has_session_details = true;
    opt.session_details.exporter = (ipfix_file_address){4, {198, 51, 100, 1}};
    opt.session_details.transport_protocol = 17;
    ipfix_file_writer *w;
    ipfix_error err;
    assert_int_equal(ipfix_file_writer_open(dst, &opt, &w, &err), IPFIX_OK);
    ipfix_file_reader *r;
    assert_int_equal(ipfix_file_reader_open(src, &r, &err), IPFIX_OK);
    const uint8_t *m;
    size_t len;
    uint64_t off;
    uint64_t n = 0, big = 0;
    while (ipfix_file_reader_next(r, &m, &len, &off, &err) == IPFIX_OK) {
        ipfix_file_writer_set_collection_time(w, BASE_MS + n);
        assert_int_equal(ipfix_file_writer_write_message(w, m, len, &err), IPFIX_OK);
        if (len + 31 > 65535) big++;
        n++;
    }
    ipfix_file_reader_close(r);
    /* A bad message is refused. */
    uint8_t junk[20] = {0, 9, 0, 20};
    assert_int_equal(ipfix_file_writer_write_message(w, junk, sizeof junk, &err), IPFIX_ERR_MALFORMED);
    ipfix_file_writer_stats ws;
    ipfix_file_writer_get_stats(w, &ws);
    assert_int_equal(ws.raw_messages, n);
    assert_int_equal(ipfix_file_writer_close(w, &err), IPFIX_OK);
    decoded d;
    decode_file(dst, &d);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.missing, 0);
    assert_int_equal(d.sequence_events, 0);
    assert_int_equal(d.flow_records, 20000);
    assert_int_equal(d.name_records, 2000);
    assert_true(d.flow_order_ok);
    /* One Message Details record per stored message; a message too large to
     * extend has it in a small message of its own just before. */
    assert_true(big > 0);
    assert_int_equal(d.md_records, n + 1);       /* + the metadata message */
    assert_int_equal(d.messages, n + big + 1);
    assert_int_equal(d.md_per_message_max, 1);
    assert_int_equal(d.md_first_time, BASE_MS);
    assert_int_equal(d.md_last_time, BASE_MS + n - 1); /* the metadata message: same setting */
    /* The time window came from decoding the raw messages' records. */
    assert_true(d.have_window);
    assert_int_equal(d.window_start, BASE_MS);
    assert_int_equal(d.window_end, BASE_MS + 1000ull * 19999 + 500);
    assert_true(d.have_details);
    assert_int_equal(d.details_field_count, 5); /* scope, exporter IPv4, protocol, min/max export */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_temp_name_and_rename),
        cmocka_unit_test(test_options_records),
        cmocka_unit_test(test_no_metadata_without_times),
        cmocka_unit_test(test_template_redefinition),
        cmocka_unit_test(test_resync_after_garbage),
        cmocka_unit_test(test_truncated_last_message),
        cmocka_unit_test(test_read_from_pipe),
        cmocka_unit_test(test_raw_passthrough),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
