/*
 * test_flow_cache.c — unit tests of the Flow Cache (src/meter/flow_cache.c)
 * and flow keys (flow_key.c): accounting, idle/active timeouts, TCP FIN/RST
 * with the grace period, port reuse, cache-full eviction, end-of-input
 * flush reasons, fragment mapping, prefix-mask keys, and a churn test that
 * checks every packet is exported exactly once (index deletion by backward
 * shift must never lose or duplicate a Flow).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/meter.h"

#define S 1000000000ull
#define MAX_SEEN 100000

typedef struct seen {
    ipfix_flow flows[MAX_SEEN];
    size_t count;
    uint64_t packets;
} seen;

static ipfix_status on_expired(void *context, const ipfix_flow *flow) {
    seen *s = context;
    if (s->count < MAX_SEEN) s->flows[s->count++] = *flow;
    s->packets += flow->packets;
    return IPFIX_OK;
}

static ipfix_flow_cache *make_cache(seen *s, size_t memory) {
    ipfix_flow_cache_config c;
    ipfix_flow_cache_config_init(&c);
    c.memory_bytes = memory;
    c.idle_timeout_ns = 5 * S;
    c.active_timeout_ns = 10 * S;
    c.fin_timeout_ns = 2 * S;
    c.expired = on_expired;
    c.context = s;
    ipfix_flow_cache *cache;
    assert_int_equal(ipfix_flow_cache_new(&c, &cache), IPFIX_OK);
    return cache;
}

static ipfix_packet pkt(uint64_t t, uint32_t src, uint16_t sport, uint16_t flags) {
    ipfix_packet p;
    memset(&p, 0, sizeof p);
    p.time_ns = t;
    p.ip_version = 4;
    p.protocol = flags ? 6 : 17;
    p.src[0] = (uint8_t)(src >> 24);
    p.src[1] = (uint8_t)(src >> 16);
    p.src[2] = (uint8_t)(src >> 8);
    p.src[3] = (uint8_t)src;
    p.dst[0] = 10;
    p.dst[3] = 1;
    p.src_port = sport;
    p.dst_port = 80;
    p.tcp_flags = flags;
    p.ip_length = 100;
    p.ttl = 64;
    return p;
}

static seen *new_seen(void) {
    seen *s = calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}

static void test_accounting_and_flush(void **state) {
    (void)state;
    seen *s = new_seen();
    ipfix_flow_cache *c = make_cache(s, 1 << 20);
    for (int i = 0; i < 3; i++) {
        ipfix_packet p = pkt(S + (uint64_t)i * 1000, 0x0A000002, 1000, 0);
        ipfix_flow_cache_add(c, &p);
    }
    ipfix_packet q = pkt(S + 5000, 0x0A000003, 1000, 0);
    ipfix_flow_cache_add(c, &q);
    assert_int_equal(s->count, 0);
    ipfix_flow_cache_flush(c);
    assert_int_equal(s->count, 2);
    const ipfix_flow *f = s->flows[0].packets == 3 ? &s->flows[0] : &s->flows[1];
    assert_int_equal(f->packets, 3);
    assert_int_equal(f->octets, 300);
    assert_int_equal(f->first_ns, S);
    assert_int_equal(f->last_ns, S + 2000);
    assert_int_equal(f->end_reason, IPFIX_END_FORCED);
    ipfix_flow_cache_stats st;
    ipfix_flow_cache_get_stats(c, &st);
    assert_int_equal(st.flows_created, 2);
    assert_int_equal(st.active_flows, 0);
    assert_int_equal(st.flows_expired[IPFIX_END_FORCED], 2);
    assert_true((double)st.memory_bytes / (double)st.max_flows <= 128.0);
    ipfix_flow_cache_free(c);
    free(s);
}

static void test_idle_and_active(void **state) {
    (void)state;
    seen *s = new_seen();
    ipfix_flow_cache *c = make_cache(s, 1 << 20);
    /* idle: gap of 6 s > 5 s splits the flow, found on the next packet */
    ipfix_packet p = pkt(S, 1, 1, 0);
    ipfix_flow_cache_add(c, &p);
    p.time_ns = 7 * S;
    ipfix_flow_cache_add(c, &p);
    assert_int_equal(s->count, 1);
    assert_int_equal(s->flows[0].end_reason, IPFIX_END_IDLE_TIMEOUT);
    /* active: a packet every 4 s from 7 s; expires once older than 10 s */
    for (uint64_t t = 11; t <= 19; t += 4) {
        p.time_ns = t * S;
        ipfix_flow_cache_add(c, &p);
    }
    assert_int_equal(s->count, 2);
    assert_int_equal(s->flows[1].end_reason, IPFIX_END_ACTIVE_TIMEOUT);
    assert_int_equal(s->flows[1].packets, 3);
    /* the sweep expires idle flows as packet time moves on */
    ipfix_packet other = pkt(40 * S, 2, 2, 0);
    ipfix_flow_cache_add(c, &other);
    ipfix_flow_cache_advance(c, 42 * S);
    assert_int_equal(s->count, 3);
    assert_int_equal(s->flows[2].end_reason, IPFIX_END_IDLE_TIMEOUT);
    ipfix_flow_cache_free(c);
    free(s);
}

static void test_tcp_fin_rst(void **state) {
    (void)state;
    seen *s = new_seen();
    ipfix_flow_cache *c = make_cache(s, 1 << 20);
    ipfix_packet p = pkt(S, 1, 1, 0x02);
    ipfix_flow_cache_add(c, &p);
    p.time_ns += 1000;
    p.tcp_flags = 0x11; /* FIN|ACK */
    ipfix_flow_cache_add(c, &p);
    p.time_ns += 1000;
    p.tcp_flags = 0x10; /* final ACK within the grace period: same flow */
    ipfix_flow_cache_add(c, &p);
    assert_int_equal(s->count, 0);
    p.time_ns += 1000;
    p.tcp_flags = 0x02; /* new SYN on the same ports: new connection */
    ipfix_flow_cache_add(c, &p);
    assert_int_equal(s->count, 1);
    assert_int_equal(s->flows[0].end_reason, IPFIX_END_OF_FLOW);
    assert_int_equal(s->flows[0].packets, 3);
    assert_int_equal(s->flows[0].tcp_flags, 0x13);
    p.time_ns += 1000;
    p.tcp_flags = 0x04; /* RST */
    ipfix_flow_cache_add(c, &p);
    ipfix_flow_cache_advance(c, p.time_ns + 3 * S);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->flows[1].end_reason, IPFIX_END_OF_FLOW);
    assert_int_equal(s->flows[1].tcp_flags, 0x06);
    ipfix_flow_cache_free(c);
    free(s);
}

static void test_cache_full(void **state) {
    (void)state;
    seen *s = new_seen();
    ipfix_flow_cache *c = make_cache(s, 16 * 1024);
    ipfix_flow_cache_stats st;
    ipfix_flow_cache_get_stats(c, &st);
    uint64_t cap = st.max_flows;
    assert_true(cap >= 16);
    for (uint32_t i = 0; i < cap + 10; i++) {
        ipfix_packet p = pkt(S + i, 0x0B000000 + i, 7, 0);
        ipfix_flow_cache_add(c, &p);
    }
    ipfix_flow_cache_get_stats(c, &st);
    assert_int_equal(st.flows_expired[IPFIX_END_LACK_OF_RESOURCES], 10);
    assert_int_equal(st.active_flows, cap);
    for (size_t i = 0; i < s->count; i++)
        assert_int_equal(s->flows[i].end_reason, IPFIX_END_LACK_OF_RESOURCES);
    ipfix_flow_cache_flush(c);
    assert_int_equal(s->packets, cap + 10);
    ipfix_flow_cache_free(c);
    free(s);
}

static void test_fragments(void **state) {
    (void)state;
    seen *s = new_seen();
    ipfix_flow_cache *c = make_cache(s, 1 << 20);
    ipfix_packet first = pkt(S, 1, 4000, 0);
    first.fragment = IPFIX_FRAG_FIRST;
    first.fragment_id = 77;
    ipfix_flow_cache_add(c, &first);
    ipfix_packet later = pkt(S + 10, 1, 0, 0);
    later.dst_port = 0;
    later.fragment = IPFIX_FRAG_LATER;
    later.fragment_id = 77;
    ipfix_flow_cache_add(c, &later);
    later.fragment_id = 78; /* no first fragment seen */
    ipfix_flow_cache_add(c, &later);
    ipfix_flow_cache_flush(c);
    assert_int_equal(s->count, 2);
    ipfix_flow_cache_stats st;
    ipfix_flow_cache_get_stats(c, &st);
    assert_int_equal(st.fragments_mapped, 1);
    assert_int_equal(st.fragments_unmapped, 1);
    const ipfix_flow *f = s->flows[0].key.src_port == 4000 ? &s->flows[0] : &s->flows[1];
    assert_int_equal(f->packets, 2);
    assert_int_equal(f->fragments, 2);
    ipfix_flow_cache_free(c);
    free(s);
}

static void test_keymask(void **state) {
    (void)state;
    ipfix_flow_keymask m;
    ipfix_error err;
    assert_int_equal(ipfix_flow_keymask_parse("sourceIPv4Address/24,destinationTransportPort",
                                              &m, &err), IPFIX_OK);
    assert_int_equal(m.src4_prefix, 24);
    assert_int_equal(m.dst4_prefix, 0);
    assert_false(m.src_port);
    assert_true(m.dst_port);
    assert_int_not_equal(ipfix_flow_keymask_parse("octetDeltaCount", &m, &err), IPFIX_OK);
    assert_int_not_equal(ipfix_flow_keymask_parse("sourceIPv4Address/33", &m, &err), IPFIX_OK);
    assert_int_not_equal(ipfix_flow_keymask_parse("vlanId/3", &m, &err), IPFIX_OK);

    seen *s = new_seen();
    ipfix_flow_cache_config c;
    ipfix_flow_cache_config_init(&c);
    c.memory_bytes = 1 << 20;
    c.expired = on_expired;
    c.context = s;
    assert_int_equal(ipfix_flow_keymask_parse("sourceIPv4Address/24", &c.keymask, &err), IPFIX_OK);
    ipfix_flow_cache *cache;
    assert_int_equal(ipfix_flow_cache_new(&c, &cache), IPFIX_OK);
    for (uint32_t i = 0; i < 10; i++) {
        ipfix_packet p = pkt(S + i, 0xC0A80100 + i, (uint16_t)(1000 + i), 0);
        ipfix_flow_cache_add(cache, &p);
    }
    ipfix_flow_cache_flush(cache);
    assert_int_equal(s->count, 1);
    assert_int_equal(s->flows[0].packets, 10);
    assert_int_equal(s->flows[0].key.src[2], 1);
    assert_int_equal(s->flows[0].key.src[3], 0);
    assert_int_equal(s->flows[0].key.src_port, 0);
    ipfix_flow_cache_free(cache);
    free(s);
}

/* Random inserts and expiries: every packet is exported exactly once. */
static void test_churn(void **state) {
    (void)state;
    seen *s = new_seen();
    ipfix_flow_cache *c = make_cache(s, 256 * 1024);
    uint64_t x = 88172645463325252ull;
    uint64_t t = S;
    const uint64_t n = 200000;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t += 20000; /* 50k packets/s of packet time: flows idle out continuously */
        ipfix_packet p = pkt(t, (uint32_t)(x % 3000), (uint16_t)(x >> 40) % 4, 0);
        ipfix_flow_cache_add(c, &p);
    }
    ipfix_flow_cache_flush(c);
    ipfix_flow_cache_stats st;
    ipfix_flow_cache_get_stats(c, &st);
    assert_int_equal(s->packets, n);
    assert_int_equal(st.packets, n);
    uint64_t expired = 0;
    for (int r = 1; r <= 5; r++) expired += st.flows_expired[r];
    assert_int_equal(expired, st.flows_created);
    assert_int_equal(st.active_flows, 0);
    ipfix_flow_cache_free(c);
    free(s);
}

/* ipfix_flow_cache_add_batch gives the same flows as one packet at a time. */
static void test_batch_equivalence(void **state) {
    (void)state;
    seen *a = new_seen(), *b = new_seen();
    ipfix_flow_cache *ca = make_cache(a, 64 * 1024), *cb = make_cache(b, 64 * 1024);
    uint64_t x = 1234567;
    uint64_t t = S;
    ipfix_packet batch[37];
    for (int round = 0; round < 2000; round++) {
        for (int i = 0; i < 37; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t += 100000 + (x % 3) * 100000000ull * (x % 97 == 0);
            batch[i] = pkt(t, (uint32_t)(x % 500), (uint16_t)(x >> 50) % 3,
                           (x >> 20) % 10 == 0 ? 0x11 : (x >> 20) % 10 == 1 ? 0x02 : 0x10);
            ipfix_flow_cache_add(ca, &batch[i]);
        }
        ipfix_flow_cache_add_batch(cb, batch, 37);
    }
    ipfix_flow_cache_flush(ca);
    ipfix_flow_cache_flush(cb);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->packets, b->packets);
    for (size_t i = 0; i < a->count && i < MAX_SEEN; i++) {
        assert_memory_equal(&a->flows[i].key, &b->flows[i].key, sizeof a->flows[i].key);
        assert_int_equal(a->flows[i].packets, b->flows[i].packets);
        assert_int_equal(a->flows[i].end_reason, b->flows[i].end_reason);
        assert_int_equal(a->flows[i].first_ns, b->flows[i].first_ns);
    }
    ipfix_flow_cache_free(ca);
    ipfix_flow_cache_free(cb);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounting_and_flush),
        cmocka_unit_test(test_idle_and_active),
        cmocka_unit_test(test_tcp_fin_rst),
        cmocka_unit_test(test_cache_full),
        cmocka_unit_test(test_fragments),
        cmocka_unit_test(test_keymask),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_batch_equivalence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
