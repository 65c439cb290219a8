/*
 * test_session.c — sequence accounting per SCTP stream (RFC 7011 §3.1:
 * "Each SCTP Stream counts sequence numbers separately, while all messages
 * in a TCP connection or UDP session are considered to be part of the same
 * stream"; §9.2: the Collecting Process MUST support multiple streams),
 * through the reader (ipfix_reader_set_stream) and the session API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/ipfixkit.h"
#include "msg_builder.h"

#define ODID 7u

static ipfix_infomodel *model;

static int setup(void **state) {
    (void)state;
    model = ipfix_infomodel_new();
    return model ? 0 : -1;
}
static int teardown(void **state) {
    (void)state;
    ipfix_infomodel_free(model);
    return 0;
}

static ipfix_session *new_session(ipfix_transport transport, uint16_t max_streams) {
    ipfix_session_config c;
    ipfix_session_config_default(&c, transport);
    if (max_streams) c.max_streams = max_streams;
    return ipfix_session_new(model, &c);
}

/* What one message gave: its records and its sequence event, if any. */
typedef struct result {
    size_t records, sequence_events, errors;
    ipfix_event sequence; /* valid when sequence_events == 1 */
} result;

/* One message of ODID 7 with `records` data records of template 256 (and
 * the template first when `with_template`), read as arriving on `stream`. */
static result send_on(ipfix_session *s, uint16_t stream, uint32_t sequence, int records,
                      bool with_template) {
    msg_builder m;
    mb_begin(&m, 1000, sequence, ODID);
    if (with_template) mb_template_256(&m);
    mb_set(&m, 256);
    for (int i = 0; i < records; i++) {
        mb_u32(&m, 0x0a000001);
        mb_u32(&m, 0x0a000002);
        mb_u64(&m, (uint64_t)i);
    }
    mb_end_set(&m);
    size_t len = mb_finish(&m);
    result res;
    memset(&res, 0, sizeof res);
    ipfix_reader r;
    ipfix_error err;
    assert_int_equal(ipfix_reader_begin(&r, s, m.buf, len, 0, &err), IPFIX_OK);
    assert_int_equal(r.stream, 0); /* begin resets it */
    ipfix_reader_set_stream(&r, stream);
    ipfix_event ev;
    while (ipfix_reader_next(&r, &ev) == IPFIX_OK) {
        if (ev.kind == IPFIX_EVENT_RECORD) res.records++;
        if (ev.kind == IPFIX_EVENT_ERROR) res.errors++;
        if (ev.kind == IPFIX_EVENT_SEQUENCE) {
            res.sequence_events++;
            res.sequence = ev;
        }
    }
    assert_int_equal(res.errors, 0);
    assert_int_equal(res.records, (size_t)records);
    return res;
}

static void assert_in_sequence(result r) { assert_int_equal(r.sequence_events, 0); }

static uint32_t expected_of(const ipfix_session *s, uint16_t stream) {
    uint32_t e = 0xdeadbeefu;
    assert_true(ipfix_session_sequence_expected(s, ODID, stream, &e));
    return e;
}

/* Streams 1, 2, 3 of ODID 7, interleaved, each with its own sequence
 * numbers starting at 0: rounds of 2, 3 and 1 records. Returns with the
 * streams expecting 2*rounds, 3*rounds and rounds. */
static void interleave(ipfix_session *s, int rounds, result *out, size_t *events) {
    *events = 0;
    for (int i = 0; i < rounds; i++) {
        out[0] = send_on(s, 1, (uint32_t)(2 * i), 2, i == 0);
        out[1] = send_on(s, 2, (uint32_t)(3 * i), 3, false);
        out[2] = send_on(s, 3, (uint32_t)i, 1, false);
        *events += out[0].sequence_events + out[1].sequence_events + out[2].sequence_events;
    }
}

static void test_defaults(void **state) {
    (void)state;
    ipfix_session_config c;
    ipfix_session_config_default(&c, IPFIX_TRANSPORT_SCTP);
    assert_int_equal(c.max_streams, 16);
    ipfix_session_config_default(&c, IPFIX_TRANSPORT_TCP);
    assert_int_equal(c.max_streams, 1);
    ipfix_session_config_default(&c, IPFIX_TRANSPORT_UDP);
    assert_int_equal(c.max_streams, 1);
    ipfix_session_config_default(&c, IPFIX_TRANSPORT_FILE);
    assert_int_equal(c.max_streams, 1);
}

static void test_sctp_streams_counted_separately(void **state) {
    (void)state;
    ipfix_session *s = new_session(IPFIX_TRANSPORT_SCTP, 0);
    uint32_t e;
    assert_false(ipfix_session_sequence_expected(s, ODID, 1, &e)); /* no domain yet */
    result r[3];
    size_t events;
    interleave(s, 4, r, &events);
    assert_int_equal(events, 0);
    const ipfix_domain_stats *d = ipfix_session_domain(s, ODID, false);
    assert_non_null(d);
    assert_int_equal(d->messages, 12);
    assert_int_equal(d->data_records, 4 * (2 + 3 + 1));
    assert_int_equal(d->lost_records, 0);
    assert_int_equal(d->out_of_order_messages, 0);
    assert_int_equal(d->sequence_resets, 0);
    assert_int_equal(expected_of(s, 1), 8);
    assert_int_equal(expected_of(s, 2), 12);
    assert_int_equal(expected_of(s, 3), 4);
    assert_false(ipfix_session_sequence_expected(s, ODID, 0, &e)); /* stream 0 unused */
    assert_int_equal(e, 0);
    /* next_sequence/sequence_known: the stream of the last message (3) */
    assert_true(d->sequence_known);
    assert_int_equal(d->next_sequence, 4);

    /* A gap on stream 2 only: 12..16 (5 records) lost, attributed to it. */
    result g = send_on(s, 2, 17, 3, false);
    assert_int_equal(g.sequence_events, 1);
    assert_int_equal(g.sequence.odid, ODID);
    assert_int_equal(g.sequence.u.sequence.stream, 2);
    assert_int_equal(g.sequence.u.sequence.expected, 12);
    assert_int_equal(g.sequence.u.sequence.received, 17);
    assert_int_equal(g.sequence.u.sequence.lost, 5);
    assert_false(g.sequence.u.sequence.out_of_order);
    assert_int_equal(d->lost_records, 5);
    assert_int_equal(expected_of(s, 2), 20);
    /* the other streams go on undisturbed */
    assert_in_sequence(send_on(s, 1, 8, 2, false));
    assert_in_sequence(send_on(s, 3, 4, 1, false));
    assert_int_equal(d->lost_records, 5);
    assert_int_equal(d->out_of_order_messages, 0);

    /* Stream 3: a gap of 2 (5, 6), then the late message fills it. */
    g = send_on(s, 3, 7, 1, false);
    assert_int_equal(g.sequence_events, 1);
    assert_int_equal(g.sequence.u.sequence.stream, 3);
    assert_int_equal(g.sequence.u.sequence.expected, 5);
    assert_int_equal(g.sequence.u.sequence.lost, 2);
    assert_int_equal(d->lost_records, 7);
    result late = send_on(s, 3, 5, 2, false);
    assert_int_equal(late.sequence_events, 1);
    assert_int_equal(late.sequence.u.sequence.stream, 3);
    assert_true(late.sequence.u.sequence.out_of_order);
    assert_int_equal(late.sequence.u.sequence.expected, 8);
    assert_int_equal(late.sequence.u.sequence.received, 5);
    assert_int_equal(late.sequence.u.sequence.recovered, 2);
    assert_int_equal(late.sequence.u.sequence.lost, 0);
    assert_int_equal(d->lost_records, 5); /* only stream 2's gap is left */
    assert_int_equal(d->out_of_order_messages, 1);
    assert_int_equal(expected_of(s, 3), 8); /* a late message does not move it */

    /* Another late message on stream 3 cannot take back stream 2's loss. */
    late = send_on(s, 3, 6, 1, false);
    assert_true(late.sequence.u.sequence.out_of_order);
    assert_int_equal(late.sequence.u.sequence.recovered, 0);
    assert_int_equal(d->lost_records, 5);
    assert_int_equal(d->out_of_order_messages, 2);
    /* ... and stream 3 goes on in sequence */
    assert_in_sequence(send_on(s, 3, 8, 1, false));
    assert_in_sequence(send_on(s, 2, 20, 1, false));
    assert_int_equal(d->lost_records, 5);

    ipfix_domain_stats total;
    ipfix_session_total_stats(s, &total);
    assert_int_equal(total.lost_records, 5);
    assert_int_equal(total.out_of_order_messages, 2);
    ipfix_session_free(s);
}

/* The same interleaving over TCP: one sequence space, the stream set on
 * the reader is ignored, so the exporter looks lossy and reordered. */
static void test_tcp_ignores_streams(void **state) {
    (void)state;
    ipfix_session *s = new_session(IPFIX_TRANSPORT_TCP, 0);
    result r[3];
    size_t events;
    interleave(s, 4, r, &events);
    assert_true(events > 0);
    const ipfix_domain_stats *d = ipfix_session_domain(s, ODID, false);
    /* one space: the expectation follows whichever stream is ahead; 7 of
     * the 12 messages are behind it (rounds 0, 1, 3: streams 2/3, 2/3, 1/3;
     * round 2: stream 3) */
    assert_int_equal(d->out_of_order_messages, 7);
    ipfix_session_free(s);

    /* Stream 1 (seq 0, 2 records), then stream 2 twice (seq 0 and 3, 3
     * records each): over TCP the first of stream 2 is out of order and the
     * second a gap of 1; over SCTP all three are in sequence. */
    s = new_session(IPFIX_TRANSPORT_TCP, 0);
    ipfix_session *sctp = new_session(IPFIX_TRANSPORT_SCTP, 0);
    assert_in_sequence(send_on(s, 1, 0, 2, true));
    assert_in_sequence(send_on(sctp, 1, 0, 2, true));
    result o = send_on(s, 2, 0, 3, false);
    assert_in_sequence(send_on(sctp, 2, 0, 3, false));
    assert_int_equal(o.sequence_events, 1);
    assert_true(o.sequence.u.sequence.out_of_order);
    assert_int_equal(o.sequence.u.sequence.expected, 2);
    assert_int_equal(o.sequence.u.sequence.stream, 0); /* not reported for TCP */
    result g = send_on(s, 2, 3, 3, false);
    assert_in_sequence(send_on(sctp, 2, 3, 3, false));
    assert_int_equal(g.sequence_events, 1);
    assert_int_equal(g.sequence.u.sequence.lost, 1);
    assert_int_equal(g.sequence.u.sequence.expected, 2);
    d = ipfix_session_domain(s, ODID, false);
    assert_int_equal(d->lost_records, 1);
    assert_int_equal(d->out_of_order_messages, 1);
    const ipfix_domain_stats *ds = ipfix_session_domain(sctp, ODID, false);
    assert_int_equal(ds->lost_records, 0);
    assert_int_equal(ds->out_of_order_messages, 0);
    ipfix_session_free(sctp);
    uint32_t e;
    assert_true(ipfix_session_sequence_expected(s, ODID, 2, &e));
    assert_int_equal(e, 6);
    assert_true(ipfix_session_sequence_expected(s, ODID, 9, &e)); /* any stream: the same */
    assert_int_equal(e, 6);
    ipfix_session_free(s);

    /* UDP and SCTP with max_streams 1 behave the same way. */
    ipfix_session *u = new_session(IPFIX_TRANSPORT_UDP, 0);
    ipfix_session *one = new_session(IPFIX_TRANSPORT_SCTP, 1);
    interleave(u, 2, r, &events);
    assert_true(events > 0);
    interleave(one, 2, r, &events);
    assert_true(events > 0);
    assert_int_equal(ipfix_session_domain(one, ODID, false)->out_of_order_messages,
                     ipfix_session_domain(u, ODID, false)->out_of_order_messages);
    assert_int_equal(ipfix_session_domain(one, ODID, false)->lost_records,
                     ipfix_session_domain(u, ODID, false)->lost_records);
    ipfix_session_free(u);
    ipfix_session_free(one);
}

/* Streams >= max_streams share the last slot: no crash, still accounted. */
static void test_streams_past_max(void **state) {
    (void)state;
    ipfix_session *s = new_session(IPFIX_TRANSPORT_SCTP, 4);
    assert_in_sequence(send_on(s, 0, 0, 1, true));
    assert_in_sequence(send_on(s, 1, 0, 1, false));
    assert_in_sequence(send_on(s, 2, 0, 1, false));
    assert_in_sequence(send_on(s, 100, 0, 2, false));  /* slot 3 */
    assert_in_sequence(send_on(s, 65535, 2, 2, false)); /* slot 3 too: continues 100's */
    assert_int_equal(expected_of(s, 3), 4);
    assert_int_equal(expected_of(s, 100), 4);
    assert_int_equal(expected_of(s, 65535), 4);
    assert_int_equal(expected_of(s, 0), 1);
    /* a gap there is counted, named with the stream the message came on */
    result g = send_on(s, 4, 10, 1, false);
    assert_int_equal(g.sequence_events, 1);
    assert_int_equal(g.sequence.u.sequence.stream, 4);
    assert_int_equal(g.sequence.u.sequence.expected, 4);
    assert_int_equal(g.sequence.u.sequence.lost, 6);
    /* and a separate sequence in an overflow stream looks out of order */
    result o = send_on(s, 200, 0, 1, false);
    assert_true(o.sequence.u.sequence.out_of_order);
    const ipfix_domain_stats *d = ipfix_session_domain(s, ODID, false);
    assert_int_equal(d->messages, 7);
    assert_int_equal(d->lost_records, 6 - 1);
    assert_int_equal(d->out_of_order_messages, 1);
    ipfix_session_free(s);

    /* default 16 streams: stream 15 and 40000 share slot 15 */
    s = new_session(IPFIX_TRANSPORT_SCTP, 0);
    assert_in_sequence(send_on(s, 40000, 0, 3, true));
    assert_int_equal(expected_of(s, 15), 3);
    assert_false(ipfix_session_sequence_expected(s, ODID, 14, &(uint32_t){0}));
    ipfix_session_free(s);
}

/* The session API directly: per-stream re-baseline, domain mirror fields,
 * other domains independent. */
static void test_session_api(void **state) {
    (void)state;
    ipfix_session *s = new_session(IPFIX_TRANSPORT_SCTP, 0);
    uint64_t lost, recovered;
    bool ooo;
    ipfix_session_sequence_update(s, 1, 5, 100, 10, true, &lost, &ooo, &recovered);
    assert_int_equal(lost, 0);
    ipfix_session_sequence_update(s, 1, 6, 0, 4, true, &lost, &ooo, &recovered);
    assert_int_equal(lost, 0);
    assert_false(ooo);
    const ipfix_domain_stats *d = ipfix_session_domain(s, 1, false);
    assert_int_equal(d->next_sequence, 4); /* the last stream updated (6) */
    /* unknown record count on stream 5: it re-baselines, stream 6 does not */
    ipfix_session_sequence_update(s, 1, 5, 110, 0, false, &lost, &ooo, &recovered);
    assert_int_equal(d->sequence_resets, 1);
    assert_false(d->sequence_known);
    uint32_t e;
    assert_false(ipfix_session_sequence_expected(s, 1, 5, &e));
    assert_true(ipfix_session_sequence_expected(s, 1, 6, &e));
    assert_int_equal(e, 4);
    ipfix_session_sequence_update(s, 1, 5, 500, 1, true, &lost, &ooo, &recovered);
    assert_int_equal(lost, 0); /* new baseline, no gap */
    assert_true(ipfix_session_sequence_expected(s, 1, 5, &e));
    assert_int_equal(e, 501);
    /* ODID 2, stream 5: its own space */
    ipfix_session_sequence_update(s, 2, 5, 0, 1, true, &lost, &ooo, &recovered);
    assert_false(ooo);
    assert_int_equal(ipfix_session_domain(s, 2, false)->lost_records, 0);
    /* wrap-around per stream: 0xFFFFFFFE + 5 -> 3 */
    ipfix_session_sequence_update(s, 1, 9, 0xFFFFFFFEu, 5, true, &lost, &ooo, &recovered);
    ipfix_session_sequence_update(s, 1, 9, 3, 1, true, &lost, &ooo, &recovered);
    assert_int_equal(lost, 0);
    assert_false(ooo);
    assert_int_equal(ipfix_session_domain(s, 1, false)->lost_records, 0);
    ipfix_session_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sctp_streams_counted_separately),
        cmocka_unit_test(test_tcp_ignores_streams),
        cmocka_unit_test(test_streams_past_max),
        cmocka_unit_test(test_session_api),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
