/*
 * test_packet_parse.c — unit tests of the Metering Process packet parser
 * (src/meter/packet_parse.c): Ethernet, VLAN/QinQ, MPLS, IPv4 options and
 * fragments, IPv6 extension headers and fragments, TCP/UDP/SCTP/ICMP
 * fields, and every drop reason; each truncation of a valid frame must be
 * rejected with a reason, never read past the captured bytes (run under
 * ASan in CI).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/meter.h"

typedef struct frame {
    uint8_t b[2048];
    size_t n;
} frame;

static void put(frame *f, const void *p, size_t n) {
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put8(frame *f, unsigned v) {
    f->b[f->n++] = (uint8_t)v;
}

static void put16(frame *f, unsigned v) {
    put8(f, v >> 8);
    put8(f, v & 0xFF);
}

static void put32(frame *f, uint32_t v) {
    put16(f, v >> 16);
    put16(f, v & 0xFFFF);
}

static void eth(frame *f, unsigned type) {
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    f->n = 0;
    put(f, macs, 12);
    put16(f, type);
}

/* IPv4 header with `opt` option bytes and `payload` bytes after it. */
static void ipv4(frame *f, unsigned proto, size_t opt, size_t payload, unsigned frag) {
    put8(f, 0x40 | (unsigned)((20 + opt) / 4));
    put8(f, 0x10);
    put16(f, (unsigned)(20 + opt + payload));
    put16(f, 0x4242);
    put16(f, frag);
    put8(f, 33);
    put8(f, proto);
    put16(f, 0);
    put32(f, 0x0A000001);
    put32(f, 0x0A000002);
    for (size_t i = 0; i < opt; i++) put8(f, 1);
}

static void ipv6(frame *f, unsigned nh, size_t payload) {
    put32(f, (6u << 28) | (0xB8u << 20) | 0xABCDEu);
    put16(f, (unsigned)payload);
    put8(f, nh);
    put8(f, 7);
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
    a[15] = 1;
    put(f, a, 16);
    a[15] = 2;
    put(f, a, 16);
}

static void tcp(frame *f, unsigned flags) {
    put16(f, 1234);
    put16(f, 80);
    put32(f, 1);
    put32(f, 0);
    put8(f, 0x50 | ((flags >> 8) & 1));
    put8(f, flags & 0xFF);
    put16(f, 1000);
    put32(f, 0);
}

static void udp(frame *f, size_t payload) {
    put16(f, 5353);
    put16(f, 53);
    put16(f, (unsigned)(8 + payload));
    put16(f, 0);
    for (size_t i = 0; i < payload; i++) put8(f, 'u');
}

static ipfix_parse_result parse(const frame *f, ipfix_packet *p) {
    p->time_ns = 77;
    return ipfix_packet_parse(IPFIX_LINK_ETHERNET, f->b, f->n, f->n, p);
}

/* Every strict prefix of a valid frame (that cuts a header) fails cleanly. */
static void check_truncations(const frame *f, size_t headers_end) {
    ipfix_packet p;
    for (size_t n = 0; n < headers_end; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, f->b, n);
        ipfix_parse_result r = ipfix_packet_parse(IPFIX_LINK_ETHERNET, copy, n, f->n, &p);
        assert_int_not_equal(r, IPFIX_PARSE_OK);
        free(copy);
    }
}

static void test_ipv4_tcp(void **state) {
    (void)state;
    frame f;
    eth(&f, 0x0800);
    ipv4(&f, 6, 0, 20, 0);
    tcp(&f, 0x1FF);
    ipfix_packet p;
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.time_ns, 77);
    assert_int_equal(p.ip_version, 4);
    assert_int_equal(p.protocol, 6);
    assert_int_equal(p.src_port, 1234);
    assert_int_equal(p.dst_port, 80);
    assert_int_equal(p.tcp_flags, 0x1FF); /* RFC 7125: NS..FIN */
    assert_int_equal(p.ip_length, 40);
    assert_int_equal(p.tos, 0x10);
    assert_int_equal(p.ttl, 33);
    assert_int_equal(p.src[0], 10);
    assert_int_equal(p.dst[3], 2);
    assert_int_equal(p.fragment, IPFIX_FRAG_NONE);
    check_truncations(&f, f.n);
}

static void test_ipv4_options_udp(void **state) {
    (void)state;
    frame f;
    eth(&f, 0x0800);
    ipv4(&f, 17, 8, 8 + 10, 0);
    udp(&f, 10);
    ipfix_packet p;
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.ip_length, 20 + 8 + 18);
    assert_int_equal(p.src_port, 5353);
    assert_int_equal(p.dst_port, 53);
    check_truncations(&f, 14 + 28 + 8);
}

static void test_ipv4_fragments(void **state) {
    (void)state;
    frame f;
    ipfix_packet p;
    eth(&f, 0x0800);
    ipv4(&f, 17, 0, 16, 0x2000); /* MF, offset 0 */
    udp(&f, 8);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.fragment, IPFIX_FRAG_FIRST);
    assert_int_equal(p.fragment_id, 0x4242);
    assert_int_equal(p.dst_port, 53);
    eth(&f, 0x0800);
    ipv4(&f, 17, 0, 4, 3); /* offset 24 bytes: no UDP header */
    put32(&f, 0xFFFFFFFF);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.fragment, IPFIX_FRAG_LATER);
    assert_int_equal(p.src_port, 0);
    assert_int_equal(p.dst_port, 0);
}

static void test_vlan_qinq_mpls(void **state) {
    (void)state;
    frame f;
    ipfix_packet p;
    eth(&f, 0x88A8);
    put16(&f, 0x2000 | 200);
    put16(&f, 0x8100);
    put16(&f, 300);
    put16(&f, 0x0800);
    ipv4(&f, 17, 0, 8, 0);
    udp(&f, 0);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.vlan_id, 200);
    assert_int_equal(p.dst_port, 53);
    check_truncations(&f, 14 + 8 + 20 + 8);

    eth(&f, 0x8847);
    put32(&f, (1000u << 12) | (5u << 9) | 64);
    put32(&f, (2000u << 12) | (1u << 8) | 64);
    ipv6(&f, 17, 8);
    udp(&f, 0);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.mpls_depth, 2);
    assert_int_equal(p.mpls_top, (1000u << 4) | (5u << 1));
    assert_int_equal(p.ip_version, 6);
    check_truncations(&f, f.n);
}

static void test_ipv6_extension_headers(void **state) {
    (void)state;
    frame f;
    ipfix_packet p;
    eth(&f, 0x86DD);
    ipv6(&f, 0, 8 + 16 + 20);
    put8(&f, 60); /* hop-by-hop, 8 bytes */
    put8(&f, 0);
    put32(&f, 0);
    put16(&f, 0);
    put8(&f, 6); /* destination options, 16 bytes */
    put8(&f, 1);
    for (int i = 0; i < 14; i++) put8(&f, 0);
    tcp(&f, 0x02);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.protocol, 6);
    assert_int_equal(p.tcp_flags, 2);
    assert_int_equal(p.flow_label, 0xABCDE);
    assert_int_equal(p.tos, 0xB8);
    assert_int_equal(p.ttl, 7);
    assert_int_equal(p.ip_length, 40 + 44);
    check_truncations(&f, f.n);
}

static void test_ipv6_fragments_and_icmp(void **state) {
    (void)state;
    frame f;
    ipfix_packet p;
    eth(&f, 0x86DD);
    ipv6(&f, 44, 8 + 8);
    put8(&f, 17);
    put8(&f, 0);
    put16(&f, 1); /* offset 0, M */
    put32(&f, 0xDEADBEEF);
    udp(&f, 0);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.fragment, IPFIX_FRAG_FIRST);
    assert_int_equal(p.fragment_id, 0xDEADBEEF);
    assert_int_equal(p.src_port, 5353);

    eth(&f, 0x86DD);
    ipv6(&f, 44, 8 + 8);
    put8(&f, 17);
    put8(&f, 0);
    put16(&f, 2 << 3);
    put32(&f, 0xDEADBEEF);
    put32(&f, 0);
    put32(&f, 0);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.fragment, IPFIX_FRAG_LATER);
    assert_int_equal(p.protocol, 17);

    eth(&f, 0x86DD);
    ipv6(&f, 58, 8);
    put8(&f, 128);
    put8(&f, 0);
    put16(&f, 0);
    put32(&f, 0);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.protocol, 58);
    assert_int_equal(p.dst_port, 128 << 8);
}

static void test_drop_reasons(void **state) {
    (void)state;
    frame f;
    ipfix_packet p;
    eth(&f, 0x0806);
    put32(&f, 0);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_NOT_IP);
    eth(&f, 0x0800);
    ipv4(&f, 6, 0, 20, 0);
    tcp(&f, 0);
    f.b[14] = 0x43; /* IHL 3 */
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_BAD_IP_HEADER);
    eth(&f, 0x0800);
    ipv4(&f, 6, 0, 20, 0);
    tcp(&f, 0);
    f.b[14 + 32] = 0x30; /* TCP data offset 3 */
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_BAD_L4_HEADER);
    eth(&f, 0x0800);
    ipv4(&f, 17, 0, 500, 0); /* says 520 bytes, frame is shorter on the wire */
    udp(&f, 0);
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_BAD_IP_LENGTH);
    /* snap-length truncation inside the payload is fine: octets from the IP header */
    assert_int_equal(ipfix_packet_parse(IPFIX_LINK_ETHERNET, f.b, f.n, 14 + 520, &p),
                     IPFIX_PARSE_OK);
    assert_int_equal(p.ip_length, 520);
    eth(&f, 0x8100);
    for (int i = 0; i < 6; i++) {
        put16(&f, 1);
        put16(&f, 0x8100);
    }
    assert_int_equal(parse(&f, &p), IPFIX_PARSE_TOO_MANY_HEADERS);
    assert_int_equal(ipfix_packet_parse(999, f.b, f.n, f.n, &p), IPFIX_PARSE_BAD_LINKTYPE);
    assert_string_equal(ipfix_parse_result_name(IPFIX_PARSE_TRUNCATED_L4), "truncatedL4");
}

static void test_other_linktypes(void **state) {
    (void)state;
    frame f;
    ipfix_packet p;
    f.n = 0;
    ipv4(&f, 17, 0, 8, 0);
    udp(&f, 0);
    assert_int_equal(ipfix_packet_parse(IPFIX_LINK_RAW, f.b, f.n, f.n, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.dst_port, 53);
    frame s;
    s.n = 0;
    for (int i = 0; i < 14; i++) put8(&s, 0);
    put16(&s, 0x0800);
    put(&s, f.b, f.n);
    assert_int_equal(ipfix_packet_parse(IPFIX_LINK_LINUX_SLL, s.b, s.n, s.n, &p), IPFIX_PARSE_OK);
    assert_int_equal(p.src_port, 5353);
}

/* Random frames, and valid frames with random bytes changed, of every link
 * type: the parser must only return (ASan/UBSan check the reads). */
static void test_random_frames(void **state) {
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    static const int links[] = {IPFIX_LINK_ETHERNET, IPFIX_LINK_RAW, IPFIX_LINK_LINUX_SLL,
                                IPFIX_LINK_LINUX_SLL2, IPFIX_LINK_NULL};
    frame base;
    eth(&base, 0x8100);
    put16(&base, 5);
    put16(&base, 0x86DD);
    ipv6(&base, 0, 8 + 8 + 20);
    put8(&base, 44);
    put8(&base, 0);
    put32(&base, 0);
    put16(&base, 0);
    put8(&base, 6);
    put8(&base, 0);
    put16(&base, 1);
    put32(&base, 9);
    tcp(&base, 0x12);
    unsigned counts[IPFIX_PARSE_RESULT_COUNT] = {0};
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = (size_t)(x % 200);
        uint8_t *buf = malloc(n ? n : 1);
        if (i % 2) {
            for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)(x >> (j % 56));
        } else {
            if (n > base.n) n = base.n;
            memcpy(buf, base.b, n);
            if (n) buf[(x >> 8) % n] ^= (uint8_t)(x >> 16);
            if (n) buf[(x >> 24) % n] = (uint8_t)(x >> 32);
        }
        ipfix_packet p;
        p.time_ns = 0;
        int link = i % 2 ? links[(x >> 40) % 5] : IPFIX_LINK_ETHERNET;
        ipfix_parse_result r = ipfix_packet_parse(link, buf, n, n + (x >> 48) % 64, &p);
        assert_true((unsigned)r < IPFIX_PARSE_RESULT_COUNT);
        counts[r]++;
        free(buf);
    }
    assert_true(counts[IPFIX_PARSE_OK] > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_tcp),
        cmocka_unit_test(test_ipv4_options_udp),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_vlan_qinq_mpls),
        cmocka_unit_test(test_ipv6_extension_headers),
        cmocka_unit_test(test_ipv6_fragments_and_icmp),
        cmocka_unit_test(test_drop_reasons),
        cmocka_unit_test(test_other_linktypes),
        cmocka_unit_test(test_random_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
