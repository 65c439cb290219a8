/*
 * test_query_filter.c — unit tests of the query filter language
 * (src/query/filter_parse.c, filter_compile.c): every primitive and
 * operator, precedence (not > and > or) checked on the parsed AST,
 * IPv4/IPv6 hosts and prefixes, element comparisons typed by the element
 * (numbers, registry names, times, strings), fields a template lacks, and
 * syntax errors with their column and message.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/query.h"
#include "ipfixkit/value.h"

static ipfix_infomodel *model;

/* IPv4 flow template: offsets in the comments. */
static const ipfix_field_spec flow4_specs[] = {
    {0, 8, 4},    /* 0  sourceIPv4Address */
    {0, 12, 4},   /* 4  destinationIPv4Address */
    {0, 7, 2},    /* 8  sourceTransportPort */
    {0, 11, 2},   /* 10 destinationTransportPort */
    {0, 4, 1},    /* 12 protocolIdentifier */
    {0, 6, 2},    /* 13 tcpControlBits */
    {0, 1, 8},    /* 15 octetDeltaCount */
    {0, 2, 8},    /* 23 packetDeltaCount */
    {0, 152, 8},  /* 31 flowStartMilliseconds */
    {0, 153, 8},  /* 39 flowEndMilliseconds */
    {0, 136, 1},  /* 47 flowEndReason */
    {0, 10, 4},   /* 48 ingressInterface */
    {0, 14, 4},   /* 52 egressInterface */
    {0, 5, 1},    /* 56 ipClassOfService */
    {0, 56, 6},   /* 57 sourceMacAddress */
};
#define FLOW4_LEN 63

typedef struct flow4 {
    const char *src, *dst;
    uint16_t sport, dport;
    uint8_t proto;
    uint16_t flags;
    uint64_t bytes, packets, start, end;
    uint8_t reason;
    uint32_t in, out;
    uint8_t tos;
} flow4;

static ipfix_template *t4, *t6, *tvar, *tbare;
static uint8_t rec[256];

static void put_addr4(uint8_t *p, const char *s) {
    unsigned a, b, c, d;
    assert_int_equal(sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
    p[0] = (uint8_t)a, p[1] = (uint8_t)b, p[2] = (uint8_t)c, p[3] = (uint8_t)d;
}

static ipfix_record make4(const flow4 *f) {
    memset(rec, 0, sizeof rec);
    put_addr4(rec + 0, f->src);
    put_addr4(rec + 4, f->dst);
    ipfix_put_u16(rec + 8, f->sport);
    ipfix_put_u16(rec + 10, f->dport);
    rec[12] = f->proto;
    ipfix_put_u16(rec + 13, f->flags);
    ipfix_put_u64(rec + 15, f->bytes);
    ipfix_put_u64(rec + 23, f->packets);
    ipfix_put_u64(rec + 31, f->start);
    ipfix_put_u64(rec + 39, f->end);
    rec[47] = f->reason;
    ipfix_put_u32(rec + 48, f->in);
    ipfix_put_u32(rec + 52, f->out);
    rec[56] = f->tos;
    const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x20, 0x30};
    memcpy(rec + 57, mac, 6);
    ipfix_record r = {t4, rec, FLOW4_LEN};
    return r;
}

/* 2024-01-01T00:00:00Z in ms */
#define T0 1704067200000ull

static const flow4 web = {"10.1.2.3", "192.0.2.80", 40000, 443, 6, 0x1b /* FIN SYN PSH ACK */,
                          1500000, 1200, T0, T0 + 5000, 3, 7, 9, 0x20};

static int inet_pton_wrap(const char *s, uint8_t *out) { return inet_pton(AF_INET6, s, out); }

/* IPv6 template: src6, dst6, sport, dport, proto, octets. */
static const ipfix_field_spec flow6_specs[] = {
    {0, 27, 16}, {0, 28, 16}, {0, 7, 2}, {0, 11, 2}, {0, 4, 1}, {0, 1, 8}};

static ipfix_record make6(const char *src, const char *dst, uint16_t dport, uint8_t proto,
                          uint64_t bytes) {
    memset(rec, 0, sizeof rec);
    assert_int_equal(inet_pton_wrap(src, rec), 1);
    assert_int_equal(inet_pton_wrap(dst, rec + 16), 1);
    ipfix_put_u16(rec + 32, 5000);
    ipfix_put_u16(rec + 34, dport);
    rec[36] = proto;
    ipfix_put_u64(rec + 37, bytes);
    ipfix_record r = {t6, rec, 45};
    return r;
}

/* Variable-length template: interfaceName (string), sourceIPv4Address, octets. */
static const ipfix_field_spec var_specs[] = {{0, 82, IPFIX_VARLEN}, {0, 8, 4}, {0, 1, 8}};

static ipfix_record make_var(const char *ifname, const char *src, uint64_t bytes) {
    memset(rec, 0, sizeof rec);
    size_t n = strlen(ifname), pos = 0;
    rec[pos++] = (uint8_t)n;
    memcpy(rec + pos, ifname, n);
    pos += n;
    put_addr4(rec + pos, src);
    pos += 4;
    ipfix_put_u64(rec + pos, bytes);
    pos += 8;
    ipfix_record r = {tvar, rec, pos};
    return r;
}

/* ----------------------------------------------------------- helpers */

static bool matches(const char *text, const ipfix_record *r) {
    ipfix_query_filter *f = NULL;
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_status st = ipfix_query_filter_parse(model, text, &f, &err);
    if (st != IPFIX_OK) fail_msg("filter '%s': column %zu: %s", text, err.offset, err.detail);
    ipfix_query_matcher *m = ipfix_query_matcher_new(f);
    assert_non_null(m);
    bool a = ipfix_query_matcher_match(m, r);
    bool b = ipfix_query_matcher_match(m, r); /* cached program: same answer */
    assert_int_equal(a, b);
    ipfix_query_matcher_free(m);
    ipfix_query_filter_free(f);
    return a;
}

#define YES(text, r) assert_true(matches(text, r))
#define NO(text, r) assert_false(matches(text, r))

static void ast_is(const char *text, const char *expected) {
    ipfix_query_filter *f = NULL;
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_query_filter_parse(model, text, &f, &err) != IPFIX_OK)
        fail_msg("filter '%s': column %zu: %s", text, err.offset, err.detail);
    char buf[1024];
    ipfix_query_filter_format(f, buf, sizeof buf);
    if (strcmp(buf, expected) != 0) fail_msg("'%s'\n  got      %s\n  expected %s", text, buf, expected);
    ipfix_query_filter_free(f);
}

static void error_is(const char *text, size_t column, const char *message) {
    ipfix_query_filter *f = NULL;
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_status st = ipfix_query_filter_parse(model, text, &f, &err);
    if (st == IPFIX_OK) fail_msg("filter '%s' parsed, expected an error", text);
    assert_int_equal(st, IPFIX_ERR_MALFORMED);
    assert_null(f);
    if (err.offset != column || !strstr(err.detail, message))
        fail_msg("'%s': got column %zu '%s', expected column %zu '%s'", text, err.offset,
                 err.detail, column, message);
}

/* ------------------------------------------------------------- tests */

static void test_proto(void **state) {
    (void)state;
    ipfix_record r = make4(&web);
    YES("proto tcp", &r);
    YES("proto TCP", &r);
    YES("proto 6", &r);
    NO("proto udp", &r);
    NO("proto icmp", &r);
    NO("proto 17", &r);
    flow4 u = web;
    u.proto = 17;
    r = make4(&u);
    YES("proto udp", &r);
    u.proto = 1;
    r = make4(&u);
    YES("proto icmp", &r);
    u.proto = 58;
    r = make4(&u);
    YES("proto icmp6", &r);
    YES("proto ipv6-icmp", &r);
}

static void test_host_net_port(void **state) {
    (void)state;
    ipfix_record r = make4(&web);
    YES("host 10.1.2.3", &r);
    YES("host 192.0.2.80", &r);
    YES("src host 10.1.2.3", &r);
    NO("dst host 10.1.2.3", &r);
    YES("dst host 192.0.2.80", &r);
    YES("src ip 10.1.2.3", &r);
    YES("ip 192.0.2.80", &r);
    NO("host 10.1.2.4", &r);
    YES("net 10.0.0.0/8", &r);
    YES("src net 10.1.2.0/24", &r);
    NO("dst net 10.0.0.0/8", &r);
    YES("net 0.0.0.0/0", &r);
    YES("net 10.1.2.3/32", &r);
    NO("net 10.1.2.2/32", &r);
    YES("net 10.1.2.99/24", &r); /* host bits are cleared */
    YES("port 443", &r);
    YES("port 40000", &r);
    YES("src port 40000", &r);
    NO("src port 443", &r);
    YES("dst port 443", &r);
    YES("dst port = 443", &r);
    YES("dst port == 443", &r);
    YES("dst port != 80", &r);
    YES("dst port < 444", &r);
    NO("dst port < 443", &r);
    YES("dst port <= 443", &r);
    YES("dst port > 442", &r);
    NO("dst port > 443", &r);
    YES("dst port >= 443", &r);
    YES("dst port eq 443", &r);
    YES("dst port ne 80", &r);
    YES("dst port lt 1024", &r);
    YES("dst port le 443", &r);
    YES("dst port gt 100", &r);
    YES("dst port ge 443", &r);
    YES("port > 1024", &r); /* either: the source port is */
    NO("src port < 1024", &r);
    /* nfdump's direction pairs: both, or either */
    YES("src or dst host 192.0.2.80", &r);
    NO("src and dst host 192.0.2.80", &r);
    NO("src and dst net 10.0.0.0/8", &r);
    YES("src and dst net 0.0.0.0/0", &r);
    YES("src and dst port > 442", &r);
    NO("src and dst port > 443", &r);
    YES("src or dst port 443 and src and dst port >= 443", &r);
}

static void test_counters_flags_interfaces(void **state) {
    (void)state;
    ipfix_record r = make4(&web); /* 1500000 bytes, 1200 packets */
    YES("bytes > 1M", &r);
    YES("bytes > 1m", &r);
    YES("bytes = 1500K", &r);
    NO("bytes > 2M", &r);
    YES("bytes < 1G", &r);
    YES("bytes >= 1500000", &r);
    YES("packets = 1200", &r);
    YES("packets > 1k", &r);
    NO("packets < 1k", &r);
    YES("packets 1200", &r); /* operator defaults to = */
    YES("flows = 1", &r);
    YES("records >= 1", &r);
    NO("flows > 1", &r);
    YES("flags S", &r);
    YES("flags SA", &r);
    YES("flags FSPA", &r);
    NO("flags R", &r);
    NO("flags SR", &r);
    NO("flags U", &r);
    YES("in if 7", &r);
    NO("in if 9", &r);
    YES("out if 9", &r);
    YES("in if > 6", &r);
    YES("tos 32", &r);
    YES("tos 0x20", &r);
    YES("ipv4", &r);
    YES("inet", &r);
    NO("ipv6", &r);
    NO("inet6", &r);
    YES("any", &r);
    YES("", &r);
    YES("   ", &r);
}

static void test_elements(void **state) {
    (void)state;
    ipfix_record r = make4(&web);
    YES("octetDeltaCount >= 1000", &r);
    YES("octetDeltaCount = 1500000", &r);
    YES("octetDeltaCount == 1500000", &r);
    YES("octetDeltaCount != 1", &r);
    YES("octetDeltaCount < 1500001", &r);
    YES("octetDeltaCount <= 1500000", &r);
    YES("octetDeltaCount > 1499999", &r);
    NO("octetDeltaCount > 1500000", &r);
    NO("octetDeltaCount < 1500000", &r);
    YES("flowEndReason = endOfFlowDetected", &r);
    NO("flowEndReason = idleTimeout", &r);
    YES("flowEndReason != idleTimeout", &r);
    YES("flowEndReason = 3", &r);
    YES("protocolIdentifier = tcp", &r);
    YES("destinationTransportPort = 443", &r);
    YES("sourceIPv4Address = 10.1.2.3", &r);
    YES("sourceIPv4Address = 10.0.0.0/8", &r);
    YES("sourceIPv4Address != 11.0.0.0/8", &r);
    YES("sourceIPv4Address > 10.1.2.2", &r);
    NO("sourceIPv4Address < 10.1.2.3", &r);
    YES("flowStartMilliseconds = 2024-01-01T00:00:00", &r);
    YES("flowStartMilliseconds >= 2024-01-01T00:00", &r);
    YES("flowEndMilliseconds > 2024-01-01T00:00:04.999", &r);
    NO("flowEndMilliseconds > 2024-01-01T00:00:05", &r);
    YES("flowEndMilliseconds <= \"2024-01-01 00:00:05\"", &r);
    YES("sourceMacAddress = 02:00:5e:10:20:30", &r);
    NO("sourceMacAddress = 02:00:5e:10:20:31", &r);
    YES("tcpControlBits = 0x1b", &r);
    /* elements the template does not have: false, their negation true */
    NO("bgpSourceAsNumber = 0", &r);
    YES("not bgpSourceAsNumber = 0", &r);
    NO("sourceIPv6Address = ::/0", &r);
}

static void test_operators_and_precedence(void **state) {
    (void)state;
    ipfix_record r = make4(&web);
    YES("proto tcp and port 443", &r);
    YES("proto tcp && port 443", &r);
    NO("proto tcp and port 80", &r);
    YES("proto udp or port 443", &r);
    YES("proto udp || port 443", &r);
    NO("proto udp or port 80", &r);
    YES("not proto udp", &r);
    YES("! proto udp", &r);
    YES("!proto udp", &r);
    NO("not proto tcp", &r);
    YES("not not proto tcp", &r);
    YES("(proto udp or proto tcp) and port 443", &r);
    NO("proto udp or proto tcp and port 80", &r);     /* = udp or (tcp and 80) */
    YES("proto tcp or proto udp and port 80", &r);    /* = tcp or (udp and 80) */
    NO("(proto tcp or proto udp) and port 80", &r);
    YES("not proto udp and port 443", &r);            /* = (not udp) and 443 */
    NO("not (proto tcp and port 443)", &r);
    YES("PROTO TCP AND NOT PORT 80", &r);

    ast_is("proto tcp", "(= protocolIdentifier 6)");
}

static void test_ast(void **state) {
    (void)state;
    ast_is("proto tcp or proto udp and port 53",
           "(or (= protocolIdentifier 6) (and (= protocolIdentifier 17) "
           "(= sourceTransportPort|destinationTransportPort 53)))");
    ast_is("not proto tcp and port 53",
           "(and (not (= protocolIdentifier 6)) (= sourceTransportPort|destinationTransportPort 53))");
    ast_is("not (proto tcp and port 53)",
           "(not (and (= protocolIdentifier 6) (= sourceTransportPort|destinationTransportPort 53)))");
    ast_is("proto tcp and port 1 or proto udp and port 2",
           "(or (and (= protocolIdentifier 6) (= sourceTransportPort|destinationTransportPort 1)) "
           "(and (= protocolIdentifier 17) (= sourceTransportPort|destinationTransportPort 2)))");
    ast_is("! proto 1 && port 2 || port 3",
           "(or (and (not (= protocolIdentifier 1)) (= sourceTransportPort|destinationTransportPort 2)) "
           "(= sourceTransportPort|destinationTransportPort 3))");
    ast_is("proto 1 or proto 2 or proto 3",
           "(or (or (= protocolIdentifier 1) (= protocolIdentifier 2)) (= protocolIdentifier 3))");
    ast_is("src host 10.0.0.1", "(= sourceIPv4Address 10.0.0.1/32)");
    ast_is("host 10.0.0.1", "(= sourceIPv4Address|destinationIPv4Address 10.0.0.1/32)");
    ast_is("dst net 2001:db8::/32", "(= destinationIPv6Address 2001:db8::/32)");
    ast_is("bytes > 1M", "(> octetDeltaCount|octetTotalCount 1000000)");
    ast_is("packets <= 2k", "(<= packetDeltaCount|packetTotalCount 2000)");
    ast_is("flags SA", "(& tcpControlBits 0x12)");
    ast_is("flowEndReason = idleTimeout", "(= flowEndReason 1)");
    ast_is("src and dst net 10.0.0.0/8",
           "(and (= sourceIPv4Address 10.0.0.0/8) (= destinationIPv4Address 10.0.0.0/8))");
    ast_is("src or dst port 53", "(= sourceTransportPort|destinationTransportPort 53)");
    ast_is("not src and dst port 1 or proto 6",
           "(or (not (and (= sourceTransportPort 1) (= destinationTransportPort 1))) "
           "(= protocolIdentifier 6))");
    ast_is("flows > 5", "none");
    ast_is("any", "any");
}

static void test_ipv6(void **state) {
    (void)state;
    ipfix_record r = make6("2001:db8:1::10", "2001:db8:ffff::1", 443, 6, 5000);
    YES("host 2001:db8:1::10", &r);
    YES("src host 2001:db8:1::10", &r);
    NO("dst host 2001:db8:1::10", &r);
    YES("host 2001:DB8:FFFF::1", &r);
    YES("net 2001:db8::/32", &r);
    YES("src net 2001:db8:1::/48", &r);
    NO("src net 2001:db8:2::/48", &r);
    YES("dst net 2001:db8:ffff::/33", &r);
    YES("src net 2001:db8:1::/47", &r);   /* partial byte mask */
    NO("src net 2001:db8:2::/47", &r);
    YES("net ::/0", &r);
    YES("src net 2001:db8:1::10/128", &r);
    NO("src net 2001:db8:1::11/128", &r);
    YES("ipv6 and proto tcp and dst port 443", &r);
    NO("ipv4", &r);
    NO("host 10.0.0.1", &r);              /* IPv4 address: no IPv4 fields here */
    YES("not host 10.0.0.1", &r);
    NO("net 10.0.0.0/8", &r);
    YES("sourceIPv6Address = 2001:db8:1::10", &r);
    YES("sourceIPv6Address = 2001:db8::/32", &r);
    YES("sourceIPv6Address > 2001:db8::", &r);
    NO("destinationIPv6Address < 2001:db8:1::", &r);
    YES("bytes = 5000", &r);
    NO("packets > 0", &r);                /* no packet counter */
    /* an IPv4 record never matches an IPv6 prefix */
    ipfix_record r4 = make4(&web);
    NO("net 2001:db8::/32", &r4);
    YES("host 10.1.2.3 or host ::1", &r4);
    /* IPv4-mapped and :: forms */
    r = make6("::ffff:192.0.2.1", "::1", 53, 17, 100);
    YES("src host ::ffff:192.0.2.1", &r);
    YES("dst host ::1", &r);
    YES("src net ::ffff:0:0/96", &r);
}

static void test_variable_length(void **state) {
    (void)state;
    ipfix_record r = make_var("eth0", "10.9.8.7", 777);
    YES("interfaceName = \"eth0\"", &r);
    YES("interfaceName = eth0", &r);
    NO("interfaceName = \"eth1\"", &r);
    YES("interfaceName != \"eth1\"", &r);
    YES("interfaceName < \"eth1\"", &r);
    YES("interfaceName > \"eth\"", &r);
    YES("src host 10.9.8.7 and bytes = 777", &r);
    NO("port 80", &r);
    YES("not port 80", &r);
    r = make_var("a-very-long-interface-name-that-goes-on", "10.9.8.7", 1);
    YES("interfaceName = \"a-very-long-interface-name-that-goes-on\"", &r);
    YES("bytes = 1", &r);
}

static void test_missing_fields(void **state) {
    (void)state;
    uint8_t data[1] = {6};
    ipfix_record r = {tbare, data, 1}; /* only protocolIdentifier */
    YES("proto tcp", &r);
    NO("port 80", &r);
    YES("not port 80", &r);
    NO("host 10.0.0.1", &r);
    NO("bytes > 0", &r);
    YES("proto tcp and not bytes > 0", &r);
    NO("flags S", &r);
    YES("any", &r);
}

static void test_errors(void **state) {
    (void)state;
    error_is("host foo", 6, "expected ADDRESS after 'host', got 'foo'");
    error_is("src host", 9, "expected ADDRESS after 'host', got end of filter");
    error_is("proto tcp and", 14, "expected a filter primitive, got end of filter");
    error_is("proto tcp and or", 15, "expected a filter primitive, got 'or'");
    error_is("proto", 6, "expected PROTOCOL (name or number) after 'proto', got end of filter");
    error_is("proto nosuch", 7, "expected PROTOCOL");
    error_is("proto 300", 7, "expected PROTOCOL");
    error_is("(proto tcp", 11, "expected ')' to close '(' at column 1, got end of filter");
    error_is("proto tcp)", 10, "expected 'and', 'or' or end of filter, got ')'");
    error_is("proto tcp port 80", 11, "expected 'and', 'or' or end of filter, got 'port'");
    error_is("src foo", 5, "expected 'host', 'ip', 'net' or 'port' after 'src', got 'foo'");
    error_is("dst", 4, "expected 'host', 'ip', 'net' or 'port' after 'dst'");
    error_is("src and dst", 12, "expected 'host', 'ip', 'net' or 'port' after 'dst'");
    error_is("src and foo", 5, "expected 'host', 'ip', 'net' or 'port' after 'src', got 'and'");
    error_is("src and dst host x", 18, "expected ADDRESS after 'host', got 'x'");
    error_is("net 10.0.0.0", 5, "expected PREFIX (ADDRESS/LENGTH) after 'net'");
    error_is("net 10.0.0.0/33", 5, "expected PREFIX");
    error_is("net 2001:db8::/129", 5, "expected PREFIX");
    error_is("port 65536", 6, "expected PORT (0..65535) after 'port'");
    error_is("port x", 6, "expected PORT");
    error_is("dst port >", 11, "expected PORT");
    error_is("bytes > 1X", 9, "expected a NUMBER (K/M/G suffixes) after 'bytes', got '1X'");
    error_is("packets >= -1", 12, "expected a NUMBER");
    error_is("flags Z", 7, "expected TCP FLAGS");
    error_is("in 3", 4, "expected 'if' after 'in', got '3'");
    error_is("out if x", 8, "expected an INTERFACE NUMBER after 'if'");
    error_is("nosuchElement = 3", 1, "expected a filter primitive or element name, got 'nosuchElement'");
    error_is("octetDeltaCount 1000", 17, "expected a comparison operator");
    error_is("octetDeltaCount >= x", 20, "expected a NUMBER after 'octetDeltaCount', got 'x'");
    error_is("flowEndReason = bogus", 17, "expected a NUMBER or value name after 'flowEndReason', got 'bogus'");
    error_is("sourceIPv4Address = ::1", 21, "expected an IPv4 ADDRESS or PREFIX after 'sourceIPv4Address'");
    error_is("sourceIPv4Address < 10.0.0.0/8", 21, "expected an IPv4 ADDRESS after");
    error_is("sourceIPv6Address = 10.0.0.1", 21, "expected an IPv6 ADDRESS");
    error_is("flowStartMilliseconds > yesterday", 25, "expected a TIME");
    error_is("sourceMacAddress = 1:2:3", 20, "expected a MAC ADDRESS");
    error_is("interfaceName = \"eth0", 17, "unterminated string");
    error_is("proto tcp & port 80", 11, "expected 'and', 'or' or end of filter, got '&'");
    error_is("not", 4, "expected a filter primitive, got end of filter");
    error_is("()", 2, "expected a filter primitive, got ')'");
    error_is("proto tcp and (port 80 or (host 1.2.3.4)", 41, "expected ')' to close '(' at column 15");
    error_is("basicList = 1", 13, "cannot be compared");
}

static int setup(void **state) {
    (void)state;
    model = ipfix_infomodel_new();
    ipfix_error err;
    if (!model) return -1;
    if (ipfix_template_new(model, 256, 0, flow4_specs, sizeof flow4_specs / sizeof flow4_specs[0], &t4, &err) ||
        ipfix_template_new(model, 257, 0, flow6_specs, sizeof flow6_specs / sizeof flow6_specs[0], &t6, &err) ||
        ipfix_template_new(model, 258, 0, var_specs, sizeof var_specs / sizeof var_specs[0], &tvar, &err))
        return -1;
    const ipfix_field_spec bare[] = {{0, 4, 1}};
    if (ipfix_template_new(model, 259, 0, bare, 1, &tbare, &err)) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ipfix_template_unref(t4);
    ipfix_template_unref(t6);
    ipfix_template_unref(tvar);
    ipfix_template_unref(tbare);
    ipfix_infomodel_free(model);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto),
        cmocka_unit_test(test_host_net_port),
        cmocka_unit_test(test_counters_flags_interfaces),
        cmocka_unit_test(test_elements),
        cmocka_unit_test(test_operators_and_precedence),
        cmocka_unit_test(test_ast),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_variable_length),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
