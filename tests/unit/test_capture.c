/*
 * test_capture.c — IPFIX Message extraction from captures: pcap and pcapng
 * files are written by hand into temporary files (Ethernet, VLAN, Linux
 * cooked, IPv4/IPv6, UDP/TCP) and the items yielded are checked: UDP
 * datagrams, TCP reassembly (split and out-of-order segments,
 * retransmissions, a capture starting mid-stream, gaps), IPv4 fragments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipfixkit/capture.h"
#include "ipfixkit/ipfixkit.h"

/* ------------------------------------------------------- IPFIX messages */

/* A message with a template (256: sourceIPv4Address, octetDeltaCount) and
 * one data record; `seq` makes messages tell apart. 48 bytes. */
static size_t make_message(uint8_t *m, uint32_t seq) {
    static const uint8_t body[] = {
        0, 2, 0, 16, 1, 0, 0, 2, 0, 8, 0, 4, 0, 1, 0, 8, /* template set */
        1, 0, 0, 16, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 100}; /* data set */
    memset(m, 0, 16);
    m[1] = 10;
    m[3] = 48;
    m[4] = 0x69; /* export time */
    m[8] = (uint8_t)(seq >> 24);
    m[9] = (uint8_t)(seq >> 16);
    m[10] = (uint8_t)(seq >> 8);
    m[11] = (uint8_t)seq;
    m[15] = 1; /* odid */
    memcpy(m + 16, body, sizeof body);
    return 48;
}

/* ------------------------------------------------------------ packets */

static void put16(uint8_t *p, unsigned v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

typedef struct endpoint {
    uint8_t a, b, c, d;
    uint16_t port;
} endpoint;

static const endpoint exporter = {192, 0, 2, 10, 50000};
static const endpoint collector = {192, 0, 2, 20, 4739};

/* IPv4 header + payload at p; returns the total length. */
static size_t ipv4(uint8_t *p, endpoint s, endpoint d, uint8_t protocol, const uint8_t *payload,
                   size_t n, uint16_t id, uint16_t frag) {
    memset(p, 0, 20);
    p[0] = 0x45;
    put16(p + 2, (unsigned)(20 + n));
    put16(p + 4, id);
    put16(p + 6, frag);
    p[8] = 64;
    p[9] = protocol;
    p[12] = s.a, p[13] = s.b, p[14] = s.c, p[15] = s.d;
    p[16] = d.a, p[17] = d.b, p[18] = d.c, p[19] = d.d;
    memcpy(p + 20, payload, n);
    return 20 + n;
}

static size_t udp(uint8_t *p, endpoint s, endpoint d, const uint8_t *payload, size_t n) {
    put16(p, s.port);
    put16(p + 2, d.port);
    put16(p + 4, (unsigned)(8 + n));
    put16(p + 6, 0);
    memcpy(p + 8, payload, n);
    return 8 + n;
}

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10 };

static size_t tcp(uint8_t *p, endpoint s, endpoint d, uint32_t seq, uint8_t flags,
                  const uint8_t *payload, size_t n) {
    memset(p, 0, 20);
    put16(p, s.port);
    put16(p + 2, d.port);
    put32(p + 4, seq);
    p[12] = 5 << 4;
    p[13] = flags;
    put16(p + 14, 65535);
    if (n) memcpy(p + 20, payload, n);
    return 20 + n;
}

static size_t ethernet(uint8_t *p, uint16_t vlan, uint16_t type, const uint8_t *l3, size_t n) {
    memset(p, 0, 12);
    p[0] = 0x02;
    p[6] = 0x02;
    p[11] = 1;
    size_t off = 12;
    if (vlan) {
        put16(p + off, 0x8100);
        put16(p + off + 2, vlan);
        off += 4;
    }
    put16(p + off, type);
    memcpy(p + off + 2, l3, n);
    return off + 2 + n;
}

/* Ethernet/IPv4/UDP datagram. */
static size_t udp_packet(uint8_t *pkt, endpoint s, endpoint d, const uint8_t *payload, size_t n,
                         uint16_t vlan) {
    uint8_t l4[2048], l3[2048];
    size_t k = udp(l4, s, d, payload, n);
    k = ipv4(l3, s, d, 17, l4, k, 1, 0);
    return ethernet(pkt, vlan, 0x0800, l3, k);
}

static size_t tcp_packet(uint8_t *pkt, endpoint s, endpoint d, uint32_t seq, uint8_t flags,
                         const uint8_t *payload, size_t n) {
    uint8_t l4[2048], l3[2048];
    size_t k = tcp(l4, s, d, seq, flags, payload, n);
    k = ipv4(l3, s, d, 6, l4, k, 1, 0);
    return ethernet(pkt, 0, 0x0800, l3, k);
}

/* ----------------------------------------------------------- pcap files */

typedef struct pcap_file {
    char path[64];
    FILE *f;
    uint32_t time;
} pcap_file;

static void pcap_begin(pcap_file *pf, uint32_t linktype) {
    strcpy(pf->path, "/tmp/test_capture_XXXXXX");
    int fd = mkstemp(pf->path);
    assert_true(fd >= 0);
    pf->f = fdopen(fd, "wb");
    assert_non_null(pf->f);
    pf->time = 1795352700;
    uint32_t header[6] = {0xa1b2c3d4, 2 | (4u << 16), 0, 0, 65535, linktype};
    fwrite(header, sizeof header, 1, pf->f); /* host order: readers swap as needed */
}

static void pcap_add(pcap_file *pf, const uint8_t *pkt, size_t n) {
    uint32_t rec[4] = {pf->time++, 250000, (uint32_t)n, (uint32_t)n};
    fwrite(rec, sizeof rec, 1, pf->f);
    fwrite(pkt, n, 1, pf->f);
}

static ipfix_capture *pcap_finish(pcap_file *pf, const ipfix_capture_config *config) {
    fclose(pf->f);
    ipfix_capture *c = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_capture_open(pf->path, config, &c, &err), IPFIX_OK);
    unlink(pf->path);
    return c;
}

static void expect_message(ipfix_capture *c, uint32_t seq, uint64_t packet, uint64_t stream) {
    ipfix_capture_item item;
    assert_int_equal(ipfix_capture_next(c, &item), IPFIX_OK);
    if (item.kind != IPFIX_CAPTURE_MESSAGE)
        fail_msg("expected a message, got kind %d: %s (%s)", item.kind,
                 item.error.rule ? item.error.rule : "", item.error.detail);
    uint8_t m[48];
    make_message(m, seq);
    assert_int_equal(item.length, 48);
    assert_memory_equal(item.data, m, 48);
    if (packet) assert_int_equal(item.packet_number, packet);
    if (stream) assert_int_equal(item.stream_id, stream);
}

static ipfix_capture_item expect_kind(ipfix_capture *c, ipfix_capture_kind kind) {
    ipfix_capture_item item;
    assert_int_equal(ipfix_capture_next(c, &item), IPFIX_OK);
    if (item.kind != kind)
        fail_msg("expected kind %d, got %d: %s (%s)", kind, item.kind,
                 item.error.rule ? item.error.rule : "", item.error.detail);
    return item;
}

static void expect_end(ipfix_capture *c) {
    ipfix_capture_item item;
    ipfix_status st = ipfix_capture_next(c, &item);
    if (st != IPFIX_END)
        fail_msg("expected the end, got status %d kind %d: %s (%s)", st, item.kind,
                 item.error.rule ? item.error.rule : "", item.error.detail);
}

/* ---------------------------------------------------------------- UDP */

static void test_udp_datagrams(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 1);
    uint8_t m[64], pkt[256];
    size_t n = make_message(m, 1);
    pcap_add(&pf, pkt, udp_packet(pkt, exporter, collector, m, n, 0));         /* 1 */
    endpoint dns = {192, 0, 2, 53, 53};
    pcap_add(&pf, pkt, udp_packet(pkt, exporter, dns, m, n, 0));               /* 2: not selected */
    uint8_t junk[20] = {0, 9, 0, 20};                                          /* NetFlow v9 */
    pcap_add(&pf, pkt, udp_packet(pkt, exporter, collector, junk, 20, 0));     /* 3 */
    make_message(m, 2);
    pcap_add(&pf, pkt, udp_packet(pkt, exporter, collector, m, n, 100));       /* 4: VLAN */
    endpoint other = {198, 51, 100, 1, 40000};
    make_message(m, 3);
    pcap_add(&pf, pkt, udp_packet(pkt, other, collector, m, n, 0));            /* 5 */
    ipfix_capture *c = pcap_finish(&pf, NULL);

    ipfix_capture_item item;
    assert_int_equal(ipfix_capture_next(c, &item), IPFIX_OK);
    assert_int_equal(item.kind, IPFIX_CAPTURE_MESSAGE);
    assert_int_equal(item.packet_number, 1);
    assert_int_equal(item.seconds, 1795352700);
    assert_int_equal(item.nanoseconds, 250000000);
    assert_int_equal(item.flow.transport, IPFIX_TRANSPORT_UDP);
    assert_int_equal(item.flow.family, 4);
    assert_int_equal(item.flow.src_port, 50000);
    assert_int_equal(item.flow.dst_port, 4739);
    char text[112];
    ipfix_flow_key_format(&item.flow, text, sizeof text);
    assert_string_equal(text, "192.0.2.10:50000>192.0.2.20:4739/udp");
    uint64_t first_stream = item.stream_id;

    item = expect_kind(c, IPFIX_CAPTURE_PROBLEM);
    assert_int_equal(item.packet_number, 3);
    assert_non_null(strstr(item.error.rule, "version"));
    expect_message(c, 2, 4, first_stream);
    expect_message(c, 3, 5, 0);
    expect_end(c);
    ipfix_capture_stats stats;
    ipfix_capture_get_stats(c, &stats);
    assert_int_equal(stats.packets, 5);
    assert_int_equal(stats.messages, 3);
    assert_int_equal(stats.non_ipfix, 1);
    ipfix_capture_close(c);
}

static void test_port_list(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 1);
    uint8_t m[64], pkt[256];
    size_t n = make_message(m, 1);
    endpoint alt = {192, 0, 2, 20, 9995};
    pcap_add(&pf, pkt, udp_packet(pkt, exporter, collector, m, n, 0));
    pcap_add(&pf, pkt, udp_packet(pkt, exporter, alt, m, n, 0));
    ipfix_capture_config config;
    ipfix_capture_config_default(&config);
    config.ports[0] = 9995;
    ipfix_capture *c = pcap_finish(&pf, &config);
    expect_message(c, 1, 2, 0);
    expect_end(c);
    ipfix_capture_close(c);
}

/* ---------------------------------------------------------------- TCP */

static void test_tcp_split_out_of_order(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 1);
    uint8_t stream[256], pkt[512];
    size_t n = make_message(stream, 1);
    n += make_message(stream + n, 2);
    n += make_message(stream + n, 3);
    const uint32_t isn = 0xfffffff0u; /* the sequence numbers wrap inside the stream */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, isn, SYN, NULL, 0));        /* 1 */
    pcap_add(&pf, pkt, tcp_packet(pkt, collector, exporter, 7, SYN | ACK, NULL, 0));   /* 2 */
    /* message 1 in two segments, the second one first */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, isn + 1 + 20, ACK, stream + 20, 28)); /* 3 */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, isn + 1, ACK, stream, 20));           /* 4 */
    /* retransmission of the first part */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, isn + 1, ACK, stream, 20));           /* 5 */
    /* messages 2 and 3 in one segment, overlapping 8 bytes already seen */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, isn + 1 + 40, ACK | PSH, stream + 40, 104)); /* 6 */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, isn + 1 + 144, FIN | ACK, NULL, 0)); /* 7 */
    ipfix_capture *c = pcap_finish(&pf, NULL);

    expect_message(c, 1, 4, 0);
    expect_message(c, 2, 6, 0);
    expect_message(c, 3, 6, 0);
    ipfix_capture_item end = expect_kind(c, IPFIX_CAPTURE_STREAM_END);
    assert_int_equal(end.flow.transport, IPFIX_TRANSPORT_TCP);
    assert_int_equal(end.flow.src_port, 50000);
    expect_end(c);
    ipfix_capture_stats stats;
    ipfix_capture_get_stats(c, &stats);
    assert_int_equal(stats.tcp_out_of_order, 1);
    assert_int_equal(stats.tcp_retransmitted, 1);
    assert_int_equal(stats.tcp_gaps, 0);
    assert_int_equal(stats.messages, 3);
    ipfix_capture_close(c);
}

static void test_tcp_midstream_and_gap(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 1);
    uint8_t data[512], pkt[1024];
    /* the tail of an earlier message, then messages 1 and 2 */
    memset(data, 0xee, 30);
    size_t n = 30;
    n += make_message(data + n, 1);
    n += make_message(data + n, 2);
    uint8_t after[128];
    size_t m = make_message(after, 3);
    /* no SYN: the capture started mid-connection */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, 1000, ACK, data, n - 10));  /* 1 */
    /* 10 bytes (the end of message 2) and 5 more are lost (15); then 3
     * bytes of junk and message 3 */
    uint8_t tail[160];
    memset(tail, 0xab, 3);
    memcpy(tail + 3, after, m);
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, (uint32_t)(1000 + n + 5), ACK, tail, m + 3)); /* 2 */
    ipfix_capture *c = pcap_finish(&pf, NULL);

    ipfix_capture_item item = expect_kind(c, IPFIX_CAPTURE_PROBLEM);
    assert_non_null(strstr(item.error.detail, "30 bytes"));
    expect_message(c, 1, 1, 0);
    /* end of file: the gap is given up, message 3 found after resync */
    item = expect_kind(c, IPFIX_CAPTURE_PROBLEM);
    assert_non_null(strstr(item.error.rule, "gap"));
    item = expect_kind(c, IPFIX_CAPTURE_PROBLEM);
    assert_non_null(strstr(item.error.rule, "resynchronise"));
    expect_message(c, 3, 0, 0);
    expect_kind(c, IPFIX_CAPTURE_STREAM_END);
    expect_end(c);
    ipfix_capture_stats stats;
    ipfix_capture_get_stats(c, &stats);
    assert_int_equal(stats.tcp_gaps, 1);
    assert_int_equal(stats.tcp_gap_bytes, 15);
    ipfix_capture_close(c);
}

static void test_tcp_new_connection_and_rst(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 1);
    uint8_t msg[64], pkt[512];
    size_t n = make_message(msg, 1);
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, 100, SYN, NULL, 0));
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, 101, ACK, msg, 30)); /* partial */
    /* the exporter reconnects from the same port */
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, 5000, SYN, NULL, 0));
    make_message(msg, 2);
    pcap_add(&pf, pkt, tcp_packet(pkt, exporter, collector, 5001, ACK, msg, n));
    pcap_add(&pf, pkt, tcp_packet(pkt, collector, exporter, 1, RST, NULL, 0));
    ipfix_capture *c = pcap_finish(&pf, NULL);
    ipfix_capture_item item = expect_kind(c, IPFIX_CAPTURE_PROBLEM); /* 30 bytes left */
    assert_non_null(strstr(item.error.detail, "30 bytes"));
    ipfix_capture_item end1 = expect_kind(c, IPFIX_CAPTURE_STREAM_END);
    ipfix_capture_item msg2;
    assert_int_equal(ipfix_capture_next(c, &msg2), IPFIX_OK);
    assert_int_equal(msg2.kind, IPFIX_CAPTURE_MESSAGE);
    assert_true(msg2.stream_id != end1.stream_id);
    ipfix_capture_item end2 = expect_kind(c, IPFIX_CAPTURE_STREAM_END);
    assert_int_equal(end2.stream_id, msg2.stream_id);
    expect_end(c);
    ipfix_capture_close(c);
}

/* -------------------------------------------- fragments, IPv6, cooked */

static void test_ipv4_fragments(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 1);
    uint8_t msg[64], l4[128], l3[256], pkt[512];
    size_t n = make_message(msg, 1);
    size_t k = udp(l4, exporter, collector, msg, n); /* 56 bytes */
    /* first fragment: 32 bytes, MF; second: the remaining 24 at offset 4*8 */
    size_t a = ipv4(l3, exporter, collector, 17, l4 + 32, k - 32, 77, 4);
    pcap_add(&pf, pkt, ethernet(pkt, 0, 0x0800, l3, a)); /* last fragment first */
    a = ipv4(l3, exporter, collector, 17, l4, 32, 77, 0x2000);
    pcap_add(&pf, pkt, ethernet(pkt, 0, 0x0800, l3, a));
    ipfix_capture *c = pcap_finish(&pf, NULL);
    expect_message(c, 1, 2, 0);
    expect_end(c);
    ipfix_capture_stats stats;
    ipfix_capture_get_stats(c, &stats);
    assert_int_equal(stats.fragments, 2);
    assert_int_equal(stats.reassembled, 1);
    ipfix_capture_close(c);
}

static void test_ipv6_linux_cooked(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 113); /* LINKTYPE_LINUX_SLL */
    uint8_t msg[64], l4[128], pkt[512];
    size_t n = make_message(msg, 1);
    size_t k = udp(l4, exporter, collector, msg, n);
    memset(pkt, 0, 16);
    put16(pkt + 14, 0x86dd);
    uint8_t *ip = pkt + 16;
    memset(ip, 0, 40);
    ip[0] = 0x60;
    put16(ip + 4, (unsigned)(8 + k)); /* with an 8-byte hop-by-hop header */
    ip[6] = 0;                          /* next: hop-by-hop */
    ip[7] = 64;
    ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8, ip[23] = 1;
    ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8, ip[39] = 2;
    uint8_t *hbh = ip + 40;
    memset(hbh, 0, 8);
    hbh[0] = 17; /* next: UDP */
    hbh[2] = 1;  /* PadN */
    hbh[3] = 4;
    memcpy(hbh + 8, l4, k);
    pcap_add(&pf, pkt, 16 + 40 + 8 + k);
    ipfix_capture *c = pcap_finish(&pf, NULL);
    ipfix_capture_item item;
    assert_int_equal(ipfix_capture_next(c, &item), IPFIX_OK);
    assert_int_equal(item.kind, IPFIX_CAPTURE_MESSAGE);
    assert_int_equal(item.flow.family, 6);
    char text[112];
    ipfix_flow_key_format(&item.flow, text, sizeof text);
    assert_string_equal(text, "[2001:db8::1]:50000>[2001:db8::2]:4739/udp");
    expect_end(c);
    ipfix_capture_close(c);
}

static void test_truncated_packet(void **state) {
    pcap_file pf;
    pcap_begin(&pf, 1);
    uint8_t msg[64], pkt[256];
    size_t n = make_message(msg, 1);
    size_t k = udp_packet(pkt, exporter, collector, msg, n, 0);
    pcap_add(&pf, pkt, k - 10); /* snap length cut the packet */
    ipfix_capture *c = pcap_finish(&pf, NULL);
    ipfix_capture_item item = expect_kind(c, IPFIX_CAPTURE_PROBLEM);
    assert_int_equal(item.error.status, IPFIX_ERR_TRUNCATED);
    expect_end(c);
    ipfix_capture_stats stats;
    ipfix_capture_get_stats(c, &stats);
    assert_int_equal(stats.truncated, 1);
    ipfix_capture_close(c);
}

/* pcapng: section header, interface description, enhanced packet blocks. */
static void test_pcapng(void **state) {
    char path[] = "/tmp/test_capture_ng_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    uint32_t shb[7] = {0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0xffffffff, 0xffffffff, 28};
    fwrite(shb, sizeof shb, 1, f);
    uint32_t idb[5] = {1, 20, 1 /* linktype Ethernet, reserved 0 */, 65535, 20};
    fwrite(idb, sizeof idb, 1, f);
    uint8_t msg[64], pkt[256];
    for (uint32_t i = 1; i <= 2; i++) {
        size_t n = make_message(msg, i);
        size_t k = udp_packet(pkt, exporter, collector, msg, n, 0);
        size_t padded = (k + 3) & ~(size_t)3;
        uint32_t total = (uint32_t)(32 + padded);
        uint32_t epb[7] = {6, total, 0, 0, i, (uint32_t)k, (uint32_t)k};
        fwrite(epb, sizeof epb, 1, f);
        memset(pkt + k, 0, padded - k);
        fwrite(pkt, padded, 1, f);
        fwrite(&total, 4, 1, f);
    }
    fclose(f);
    ipfix_capture *c;
    ipfix_error err;
    assert_int_equal(ipfix_capture_open(path, NULL, &c, &err), IPFIX_OK);
    unlink(path);
    expect_message(c, 1, 1, 0);
    expect_message(c, 2, 2, 0);
    expect_end(c);
    ipfix_capture_close(c);
}

static void test_open_failure(void **state) {
    ipfix_capture *c = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_capture_open("/nonexistent/x.pcap", NULL, &c, &err), IPFIX_ERR_IO);
    assert_true(err.detail[0] != 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_datagrams),
        cmocka_unit_test(test_port_list),
        cmocka_unit_test(test_tcp_split_out_of_order),
        cmocka_unit_test(test_tcp_midstream_and_gap),
        cmocka_unit_test(test_tcp_new_connection_and_rst),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv6_linux_cooked),
        cmocka_unit_test(test_truncated_packet),
        cmocka_unit_test(test_pcapng),
        cmocka_unit_test(test_open_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
