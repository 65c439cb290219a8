/*
 * test_reader.c — the message reader and session rules: templates and data
 * in one message, withdrawals per transport, redefinition, UDP lifetime,
 * held data sets, sequence accounting, and the malformed-input set of
 * RFC 5471 §3.6.4–3.6.7 (each must give its error and never crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/ipfixkit.h"
#include "msg_builder.h"

#define MAX_EVENTS 64

typedef struct collected {
    ipfix_event events[MAX_EVENTS];
    size_t count;
    uint64_t octets[MAX_EVENTS];  /* octetDeltaCount of 16-byte records, copied while valid */
    size_t records, templates, withdrawals, errors, missing, sequence;
    ipfix_status begin_status;
    ipfix_error begin_error;
} collected;

static ipfix_infomodel *model;

static int setup(void **state) {
    model = ipfix_infomodel_new();
    return model ? 0 : -1;
}
static int teardown(void **state) {
    ipfix_infomodel_free(model);
    return 0;
}

static ipfix_session *new_session(ipfix_transport transport) {
    ipfix_session_config c;
    ipfix_session_config_default(&c, transport);
    return ipfix_session_new(model, &c);
}

static void read_message(ipfix_session *s, const uint8_t *buf, size_t len, uint32_t now, collected *out) {
    memset(out, 0, sizeof *out);
    ipfix_reader r;
    out->begin_status = ipfix_reader_begin(&r, s, buf, len, now, &out->begin_error);
    if (out->begin_status != IPFIX_OK) return;
    ipfix_event ev;
    while (ipfix_reader_next(&r, &ev) == IPFIX_OK) {
        if (out->count < MAX_EVENTS) out->events[out->count++] = ev;
        switch (ev.kind) {
        case IPFIX_EVENT_RECORD:
            if (ev.u.record.length == 16 && out->records < MAX_EVENTS)
                out->octets[out->records] = ipfix_get_u64(ev.u.record.data + 8);
            out->records++;
            break;
        case IPFIX_EVENT_TEMPLATE: out->templates++; break;
        case IPFIX_EVENT_WITHDRAWAL: out->withdrawals++; break;
        case IPFIX_EVENT_ERROR: out->errors++; break;
        case IPFIX_EVENT_MISSING_TEMPLATE: out->missing++; break;
        case IPFIX_EVENT_SEQUENCE: out->sequence++; break;
        }
    }
}

static const ipfix_event *find_event(const collected *c, ipfix_event_kind kind, size_t nth) {
    for (size_t i = 0; i < c->count; i++)
        if (c->events[i].kind == kind && nth-- == 0) return &c->events[i];
    return NULL;
}

static void add_records_256(msg_builder *m, int n, uint64_t first_octets) {
    mb_set(m, 256);
    for (int i = 0; i < n; i++) {
        mb_u32(m, 0x0a000001);
        mb_u32(m, 0x0a000002);
        mb_u64(m, first_octets + (uint64_t)i);
    }
    mb_end_set(m);
}

static void test_template_and_data_in_one_message(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_TCP);
    msg_builder m;
    mb_begin(&m, 1000, 0, 7);
    mb_template_256(&m);
    add_records_256(&m, 3, 100);
    size_t len = mb_finish(&m);
    collected c;
    read_message(s, m.buf, len, 0, &c);
    assert_int_equal(c.begin_status, IPFIX_OK);
    assert_int_equal(c.templates, 1);
    assert_int_equal(c.records, 3);
    assert_int_equal(c.errors, 0);
    const ipfix_event *t = find_event(&c, IPFIX_EVENT_TEMPLATE, 0);
    assert_int_equal(t->u.tmpl.change, IPFIX_TEMPLATE_NEW);
    assert_int_equal(t->odid, 7);
    const ipfix_event *r = find_event(&c, IPFIX_EVENT_RECORD, 2);
    assert_int_equal(r->u.record.length, 16);
    const ipfix_template *tmpl = r->u.record.tmpl;
    assert_string_equal(tmpl->fields[2].element->name, "octetDeltaCount");
    assert_int_equal(ipfix_get_u64(r->u.record.data + tmpl->fields[2].offset), 102);
    const ipfix_domain_stats *d = ipfix_session_domain(s, 7, false);
    assert_int_equal(d->data_records, 3);
    assert_int_equal(d->next_sequence, 3);
    ipfix_session_free(s);
}

static void test_padding_accepted(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_FILE);
    msg_builder m;
    mb_begin(&m, 1, 0, 0);
    mb_template_256(&m);
    mb_set(&m, 256);
    mb_u32(&m, 1); mb_u32(&m, 2); mb_u64(&m, 3);
    mb_u16(&m, 0); mb_u8(&m, 0); /* 3 bytes of padding */
    mb_end_set(&m);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.errors, 0);
    ipfix_session_free(s);
}

static void test_nonzero_padding_rejected(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_FILE);
    msg_builder m;
    mb_begin(&m, 1, 0, 0);
    mb_template_256(&m);
    mb_set(&m, 256);
    mb_u32(&m, 1); mb_u32(&m, 2); mb_u64(&m, 3);
    mb_u16(&m, 0x0101);
    mb_end_set(&m);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.errors, 1);
    assert_non_null(strstr(find_event(&c, IPFIX_EVENT_ERROR, 0)->u.error.rule, "§3.3.1"));
    ipfix_session_free(s);
}

static void test_withdrawal_tcp_and_reuse(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_TCP);
    msg_builder m;
    mb_begin(&m, 1, 0, 1);
    mb_template_256(&m);
    mb_set(&m, 2); /* withdraw 256, then withdraw unknown 300 */
    mb_u16(&m, 256); mb_u16(&m, 0);
    mb_u16(&m, 300); mb_u16(&m, 0);
    mb_end_set(&m);
    add_records_256(&m, 1, 0); /* no template any more */
    collected c;
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.withdrawals, 2);
    assert_false(find_event(&c, IPFIX_EVENT_WITHDRAWAL, 0)->u.withdrawal.ignored);
    assert_true(find_event(&c, IPFIX_EVENT_WITHDRAWAL, 1)->u.withdrawal.ignored);
    assert_int_equal(c.missing, 1);
    assert_int_equal(c.records, 0);
    assert_int_equal(ipfix_session_domain(s, 1, false)->withdrawals_ignored, 1);
    ipfix_session_free(s);
}

static void test_all_templates_withdrawal(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_SCTP);
    msg_builder m;
    mb_begin(&m, 1, 0, 1);
    mb_template_256(&m);
    mb_set(&m, 3); /* options template 257: scope observationDomainId, field exportedMessageTotalCount */
    mb_u16(&m, 257); mb_u16(&m, 2); mb_u16(&m, 1);
    mb_field(&m, 149, 4);
    mb_field(&m, 41, 8);
    mb_end_set(&m);
    mb_set(&m, 2);
    mb_u16(&m, 2); mb_u16(&m, 0); /* all templates withdrawal */
    mb_end_set(&m);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.templates, 2);
    assert_null(ipfix_session_find_template(s, 1, 256, 0));
    assert_non_null(ipfix_session_find_template(s, 1, 257, 0)); /* options template survives */
    ipfix_session_free(s);
}

static void test_withdrawal_ignored_over_udp(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_UDP);
    msg_builder m;
    mb_begin(&m, 1, 0, 1);
    mb_template_256(&m);
    mb_set(&m, 2);
    mb_u16(&m, 256); mb_u16(&m, 0);
    mb_end_set(&m);
    add_records_256(&m, 2, 0);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 100, &c);
    assert_true(find_event(&c, IPFIX_EVENT_WITHDRAWAL, 0)->u.withdrawal.ignored); /* RFC 7011 §8.4 */
    assert_int_equal(c.records, 2);
    ipfix_session_free(s);
}

static void redefine_256(msg_builder *m) {
    mb_set(m, 2);
    mb_u16(m, 256);
    mb_u16(m, 1);
    mb_field(m, 2, 8); /* packetDeltaCount only */
    mb_end_set(m);
}

static void test_redefinition_rules(void **state) {
    ipfix_transport transports[] = {IPFIX_TRANSPORT_TCP, IPFIX_TRANSPORT_UDP, IPFIX_TRANSPORT_FILE};
    ipfix_template_change expected[] = {IPFIX_TEMPLATE_CONFLICT, IPFIX_TEMPLATE_REPLACED,
                                        IPFIX_TEMPLATE_REPLACED};
    for (int i = 0; i < 3; i++) {
        ipfix_session *s = new_session(transports[i]);
        msg_builder m;
        mb_begin(&m, 1, 0, 1);
        mb_template_256(&m);
        mb_template_256(&m); /* identical: refresh */
        redefine_256(&m);
        mb_set(&m, 256);
        mb_u64(&m, 42);
        mb_end_set(&m);
        collected c;
        read_message(s, m.buf, mb_finish(&m), 10, &c);
        assert_int_equal(c.templates, 3);
        assert_int_equal(find_event(&c, IPFIX_EVENT_TEMPLATE, 1)->u.tmpl.change, IPFIX_TEMPLATE_REFRESHED);
        assert_int_equal(find_event(&c, IPFIX_EVENT_TEMPLATE, 2)->u.tmpl.change, expected[i]);
        assert_int_equal(c.records, 1);
        assert_int_equal(find_event(&c, IPFIX_EVENT_RECORD, 0)->u.record.length, 8);
        ipfix_session_free(s);
    }
}

static void test_udp_template_lifetime(void **state) {
    ipfix_session_config cfg;
    ipfix_session_config_default(&cfg, IPFIX_TRANSPORT_UDP);
    cfg.template_lifetime = 60;
    cfg.pending_bytes_max = 0;
    ipfix_session *s = ipfix_session_new(model, &cfg);
    msg_builder m;
    mb_begin(&m, 1, 0, 1);
    mb_template_256(&m);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 1000, &c);
    mb_begin(&m, 2, 0, 1);
    add_records_256(&m, 1, 0);
    size_t len = mb_finish(&m);
    read_message(s, m.buf, len, 1050, &c);
    assert_int_equal(c.records, 1);
    read_message(s, m.buf, len, 1200, &c); /* 200 s after the template: expired */
    assert_int_equal(c.records, 0);
    assert_int_equal(c.missing, 1);
    assert_false(find_event(&c, IPFIX_EVENT_MISSING_TEMPLATE, 0)->u.missing.held);
    assert_int_equal(ipfix_session_domain(s, 1, false)->templates_expired, 1);
    ipfix_session_free(s);
}

static void test_udp_held_sets_replayed(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_UDP);
    msg_builder m;
    mb_begin(&m, 1, 0, 1);
    add_records_256(&m, 2, 10);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 5, &c);
    assert_int_equal(c.missing, 1);
    assert_true(find_event(&c, IPFIX_EVENT_MISSING_TEMPLATE, 0)->u.missing.held);
    assert_int_equal(ipfix_session_pending_bytes(s), 32);
    mb_begin(&m, 2, 2, 1);
    mb_template_256(&m);
    add_records_256(&m, 1, 50);
    read_message(s, m.buf, mb_finish(&m), 6, &c);
    assert_int_equal(c.records, 3);
    const ipfix_event *first = find_event(&c, IPFIX_EVENT_RECORD, 0);
    assert_true(first->replayed);
    assert_int_equal(c.octets[0], 10);
    assert_int_equal(c.octets[1], 11);
    assert_int_equal(c.octets[2], 50);
    assert_false(find_event(&c, IPFIX_EVENT_RECORD, 2)->replayed);
    assert_int_equal(ipfix_session_pending_bytes(s), 0);
    assert_int_equal(ipfix_session_domain(s, 1, false)->held_sets_replayed, 1);
    ipfix_session_free(s);
}

/* Found by fuzzing: one template set resolving two held sets replays both. */
static void test_udp_several_held_sets_replayed(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_UDP);
    msg_builder m;
    mb_begin(&m, 1, 0, 1);
    add_records_256(&m, 2, 10);
    mb_set(&m, 257);
    mb_u64(&m, 7);
    mb_end_set(&m);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 5, &c);
    assert_int_equal(c.missing, 2);
    mb_begin(&m, 2, 3, 1);
    mb_set(&m, 2);
    mb_u16(&m, 256); mb_u16(&m, 3); mb_field(&m, 8, 4); mb_field(&m, 12, 4); mb_field(&m, 1, 8);
    mb_u16(&m, 257); mb_u16(&m, 1); mb_field(&m, 2, 8);
    mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 6, &c);
    assert_int_equal(c.records, 3);
    assert_int_equal(ipfix_session_pending_bytes(s), 0);
    assert_int_equal(ipfix_session_domain(s, 1, false)->held_sets_replayed, 2);
    ipfix_session_free(s);
}

static void send_records(ipfix_session *s, uint32_t seq, int n, collected *c) {
    msg_builder m;
    mb_begin(&m, 1, seq, 3);
    if (seq == 0) mb_template_256(&m);
    add_records_256(&m, n, 0);
    read_message(s, m.buf, mb_finish(&m), 1, c);
}

static void test_sequence_accounting(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_UDP);
    collected c;
    send_records(s, 0, 5, &c);   /* expect 5 next */
    assert_int_equal(c.sequence, 0);
    send_records(s, 5, 5, &c);   /* in order: next 10 */
    assert_int_equal(c.sequence, 0);
    send_records(s, 20, 5, &c);  /* 10 lost (10..19) */
    assert_int_equal(c.sequence, 1);
    const ipfix_event *e = find_event(&c, IPFIX_EVENT_SEQUENCE, 0);
    assert_int_equal(e->u.sequence.lost, 10);
    assert_int_equal(e->u.sequence.expected, 10);
    assert_int_equal(ipfix_session_domain(s, 3, false)->lost_records, 10);
    send_records(s, 10, 5, &c);  /* late: gives 5 back */
    assert_true(find_event(&c, IPFIX_EVENT_SEQUENCE, 0)->u.sequence.out_of_order);
    const ipfix_domain_stats *d = ipfix_session_domain(s, 3, false);
    assert_int_equal(find_event(&c, IPFIX_EVENT_SEQUENCE, 0)->u.sequence.recovered, 5);
    assert_int_equal(d->lost_records, 5);
    assert_int_equal(d->out_of_order_messages, 1);
    assert_int_equal(d->next_sequence, 25);
    /* wrap-around: 0xFFFFFFFE + 5 -> 3 */
    ipfix_session *w = new_session(IPFIX_TRANSPORT_TCP);
    send_records(w, 0, 1, &c);
    msg_builder m;
    mb_begin(&m, 1, 0xFFFFFFFEu, 3);
    add_records_256(&m, 5, 0);
    read_message(w, m.buf, mb_finish(&m), 1, &c);
    assert_int_equal(find_event(&c, IPFIX_EVENT_SEQUENCE, 0)->u.sequence.out_of_order, true);
    ipfix_session_free(w);
    ipfix_session_free(s);
}

static void test_options_template_and_record(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_FILE);
    msg_builder m;
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 3);
    mb_u16(&m, 400); mb_u16(&m, 2); mb_u16(&m, 1);
    mb_field(&m, 149, 4);
    mb_enterprise_field(&m, 12, 65535, 6871);
    mb_end_set(&m);
    mb_set(&m, 400);
    mb_u32(&m, 1);
    mb_u8(&m, 3); mb_bytes(&m, "abc", 3);
    mb_u32(&m, 2);
    mb_u8(&m, 255); mb_u16(&m, 2); mb_bytes(&m, "xy", 2);
    mb_end_set(&m);
    collected c;
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.records, 2);
    const ipfix_event *r = find_event(&c, IPFIX_EVENT_RECORD, 1);
    const ipfix_template *t = r->u.record.tmpl;
    assert_int_equal(t->scope_field_count, 1);
    assert_true(t->fields[0].is_scope);
    assert_true(t->variable);
    assert_false(t->fields[1].element->known);
    assert_string_equal(t->fields[1].element->name, "6871:12");
    ipfix_field_view v[2];
    assert_int_equal(ipfix_record_fields(&r->u.record, v), IPFIX_OK);
    assert_int_equal(v[1].length, 2);
    assert_memory_equal(v[1].data, "xy", 2);
    assert_int_equal(ipfix_session_domain(s, 1, false)->option_records, 2);
    ipfix_session_free(s);
}

/* ---- malformed input (RFC 5471 §3.6.4–3.6.7) ---- */

static void expect_single_error(const collected *c, const char *rule_part) {
    assert_int_equal(c->begin_status, IPFIX_OK);
    assert_int_equal(c->errors, 1);
    const ipfix_event *e = find_event(c, IPFIX_EVENT_ERROR, 0);
    if (!strstr(e->u.error.rule, rule_part)) fail_msg("rule '%s' lacks '%s'", e->u.error.rule, rule_part);
}

static void test_message_header_errors(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_FILE);
    msg_builder m;
    collected c;
    mb_begin(&m, 1, 0, 1);
    read_message(s, m.buf, 10, 0, &c); /* truncated header */
    assert_int_equal(c.begin_status, IPFIX_ERR_TRUNCATED);
    mb_finish(&m);
    m.buf[3] = 12; /* length < 16 */
    read_message(s, m.buf, 16, 0, &c);
    assert_int_equal(c.begin_status, IPFIX_ERR_MALFORMED);
    assert_non_null(strstr(c.begin_error.rule, "less than 16"));
    m.buf[3] = 16;
    m.buf[1] = 9; /* NetFlow v9 version */
    read_message(s, m.buf, 16, 0, &c);
    assert_int_equal(c.begin_status, IPFIX_ERR_MALFORMED);
    assert_non_null(strstr(c.begin_error.rule, "version"));
    m.buf[1] = 10;
    m.buf[3] = 40; /* claims more than given */
    read_message(s, m.buf, 16, 0, &c);
    assert_int_equal(c.begin_status, IPFIX_ERR_TRUNCATED);
    /* trailing bytes after a valid message */
    mb_begin(&m, 1, 0, 1);
    size_t len = mb_finish(&m);
    read_message(s, m.buf, len + 4, 0, &c);
    expect_single_error(&c, "§3.1");
    ipfix_session_free(s);
}

static void test_set_header_errors(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_FILE);
    msg_builder m;
    collected c;
    /* truncated set header */
    mb_begin(&m, 1, 0, 1);
    mb_u16(&m, 2);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "set header truncated");
    /* zero-length set */
    mb_begin(&m, 1, 0, 1);
    mb_u16(&m, 256); mb_u16(&m, 0);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "less than the 4-byte");
    /* set length past message */
    mb_begin(&m, 1, 0, 1);
    mb_u16(&m, 256); mb_u16(&m, 100); mb_u32(&m, 0);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "exceeds the message");
    /* unknown set IDs 0, 1, 4, 255: skipped, next set still read */
    uint16_t bad_ids[] = {0, 1, 4, 255};
    for (int i = 0; i < 4; i++) {
        mb_begin(&m, 1, 0, 1);
        mb_set(&m, bad_ids[i]);
        mb_u32(&m, 0);
        mb_end_set(&m);
        mb_template_256(&m);
        read_message(s, m.buf, mb_finish(&m), 0, &c);
        expect_single_error(&c, "not used");
        assert_int_equal(c.templates, 1);
    }
    ipfix_session_free(s);
}

static void test_template_errors(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_TCP);
    msg_builder m;
    collected c;
    /* template ID < 256 */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 2); mb_u16(&m, 255); mb_u16(&m, 1); mb_field(&m, 8, 4); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "256 or more");
    /* options template scope count 0 */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 3); mb_u16(&m, 300); mb_u16(&m, 1); mb_u16(&m, 0); mb_field(&m, 8, 4); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "Scope Field Count must not be 0");
    /* scope count > field count */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 3); mb_u16(&m, 300); mb_u16(&m, 1); mb_u16(&m, 2); mb_field(&m, 8, 4); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "must not exceed Field Count");
    /* field specifiers past the set end */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 2); mb_u16(&m, 300); mb_u16(&m, 5); mb_field(&m, 8, 4); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "past the end of the set");
    /* enterprise number truncated */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 2); mb_u16(&m, 300); mb_u16(&m, 1); mb_u16(&m, 0x8001); mb_u16(&m, 4); mb_u16(&m, 0);
    mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "enterprise number");
    /* field count 0 is a withdrawal, not an error (withdrawal of unknown: ignored) */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 2); mb_u16(&m, 999); mb_u16(&m, 0); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.errors, 0);
    assert_true(find_event(&c, IPFIX_EVENT_WITHDRAWAL, 0)->u.withdrawal.ignored);
    /* withdrawal of reserved ID 5 */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 2); mb_u16(&m, 5); mb_u16(&m, 0); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "reserved Template ID");
    ipfix_session_free(s);
}

static void test_record_errors(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_TCP);
    msg_builder m;
    collected c;
    /* variable-length template: string field */
    mb_begin(&m, 1, 0, 1);
    mb_set(&m, 2); mb_u16(&m, 300); mb_u16(&m, 2); mb_field(&m, 8, 4); mb_field(&m, 82, 65535);
    mb_end_set(&m);
    /* record 1 fine, record 2's varlen claims 200 bytes */
    mb_set(&m, 300);
    mb_u32(&m, 1); mb_u8(&m, 2); mb_bytes(&m, "ok", 2);
    mb_u32(&m, 2); mb_u8(&m, 200); mb_bytes(&m, "short", 5);
    mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "§7");
    assert_int_equal(c.records, 1);
    /* 3-byte prefix truncated */
    mb_begin(&m, 1, 1, 1);
    mb_set(&m, 300); mb_u32(&m, 1); mb_u8(&m, 255); mb_u8(&m, 0); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.records, 0);
    /* fixed template: set too short for even one record */
    mb_begin(&m, 1, 1, 1);
    mb_template_256(&m);
    mb_set(&m, 256); mb_u32(&m, 1); mb_u32(&m, 2); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    expect_single_error(&c, "too short for one record");
    ipfix_session_free(s);
}

static void test_error_does_not_disturb_next_message(void **state) {
    ipfix_session *s = new_session(IPFIX_TRANSPORT_UDP);
    msg_builder m;
    collected c;
    mb_begin(&m, 1, 0, 1);
    mb_template_256(&m);
    mb_u16(&m, 256); mb_u16(&m, 3);  /* broken set header at the end */
    read_message(s, m.buf, mb_finish(&m), 1, &c);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.templates, 1);
    mb_begin(&m, 2, 0, 1);
    add_records_256(&m, 4, 0);
    read_message(s, m.buf, mb_finish(&m), 2, &c);
    assert_int_equal(c.records, 4);
    assert_int_equal(c.errors, 0);
    ipfix_session_free(s);
}

static void test_frame(void **state) {
    uint8_t buf[32] = {0, 10, 0, 20};
    size_t len;
    assert_int_equal(ipfix_message_frame(buf, 3, &len, NULL), IPFIX_ERR_TRUNCATED);
    assert_int_equal(ipfix_message_frame(buf, 19, &len, NULL), IPFIX_ERR_TRUNCATED);
    assert_int_equal(len, 20);
    assert_int_equal(ipfix_message_frame(buf, 32, &len, NULL), IPFIX_OK);
    buf[1] = 9;
    assert_int_equal(ipfix_message_frame(buf, 32, &len, NULL), IPFIX_ERR_MALFORMED);
    buf[1] = 10;
    buf[3] = 4;
    assert_int_equal(ipfix_message_frame(buf, 32, &len, NULL), IPFIX_ERR_MALFORMED);
}

static void test_limits(void **state) {
    ipfix_session_config cfg;
    ipfix_session_config_default(&cfg, IPFIX_TRANSPORT_TCP);
    cfg.max_templates = 1;
    cfg.max_domains = 1;
    ipfix_session *s = ipfix_session_new(model, &cfg);
    msg_builder m;
    collected c;
    mb_begin(&m, 1, 0, 1);
    mb_template_256(&m);
    redefine_256(&m);
    mb_set(&m, 2); mb_u16(&m, 300); mb_u16(&m, 1); mb_field(&m, 8, 4); mb_end_set(&m);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.templates, 2);
    expect_single_error(&c, "template limit");
    mb_begin(&m, 1, 0, 2);
    read_message(s, m.buf, mb_finish(&m), 0, &c);
    assert_int_equal(c.begin_status, IPFIX_ERR_LIMIT);
    ipfix_session_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_template_and_data_in_one_message),
        cmocka_unit_test(test_padding_accepted),
        cmocka_unit_test(test_nonzero_padding_rejected),
        cmocka_unit_test(test_withdrawal_tcp_and_reuse),
        cmocka_unit_test(test_all_templates_withdrawal),
        cmocka_unit_test(test_withdrawal_ignored_over_udp),
        cmocka_unit_test(test_redefinition_rules),
        cmocka_unit_test(test_udp_template_lifetime),
        cmocka_unit_test(test_udp_held_sets_replayed),
        cmocka_unit_test(test_udp_several_held_sets_replayed),
        cmocka_unit_test(test_sequence_accounting),
        cmocka_unit_test(test_options_template_and_record),
        cmocka_unit_test(test_message_header_errors),
        cmocka_unit_test(test_set_header_errors),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_record_errors),
        cmocka_unit_test(test_error_does_not_disturb_next_message),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
