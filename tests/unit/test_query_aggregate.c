/*
 * test_query_aggregate.c — unit tests of query aggregation (aggregate.c,
 * topn.c, output.c, files.c): group-by parsing (aliases, prefix masks,
 * errors), sums, first/last, top-N order and ties, time bins, the
 * bidirectional option, merging per-thread tables, key and row formatting,
 * human units, time and duration parsing.
 */
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
static ipfix_template *t4, *t6;

/* src4 0, dst4 4, sport 8, dport 10, proto 12, octets 13, packets 21, start 29, end 37 */
static const ipfix_field_spec specs4[] = {{0, 8, 4},  {0, 12, 4}, {0, 7, 2},   {0, 11, 2}, {0, 4, 1},
                                          {0, 1, 8},  {0, 2, 8},  {0, 152, 8}, {0, 153, 8}};
#define LEN4 45
/* src6 0, dst6 16, sport 32, dport 34, proto 36, octets 37, packets 45, startSeconds 53, endSeconds 57 */
static const ipfix_field_spec specs6[] = {{0, 27, 16}, {0, 28, 16}, {0, 7, 2}, {0, 11, 2}, {0, 4, 1},
                                          {0, 1, 8},   {0, 2, 8},   {0, 150, 4}, {0, 151, 4}};
#define LEN6 61

#define T0 1704067200000ull /* 2024-01-01T00:00:00Z */

typedef struct rec {
    uint8_t data[64];
    ipfix_record r;
} rec;

static void addr4(uint8_t *p, uint32_t a) { ipfix_put_u32(p, a); }
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static ipfix_record *make4(rec *x, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
                           uint8_t proto, uint64_t bytes, uint64_t packets, uint64_t start,
                           uint64_t end) {
    memset(x, 0, sizeof *x);
    addr4(x->data, src);
    addr4(x->data + 4, dst);
    ipfix_put_u16(x->data + 8, sp);
    ipfix_put_u16(x->data + 10, dp);
    x->data[12] = proto;
    ipfix_put_u64(x->data + 13, bytes);
    ipfix_put_u64(x->data + 21, packets);
    ipfix_put_u64(x->data + 29, start);
    ipfix_put_u64(x->data + 37, end);
    x->r = (ipfix_record){t4, x->data, LEN4};
    return &x->r;
}

static ipfix_record *make6(rec *x, uint8_t last_src_byte, uint64_t bytes, uint32_t start_s) {
    memset(x, 0, sizeof *x);
    x->data[0] = 0x20, x->data[1] = 0x01, x->data[2] = 0x0d, x->data[3] = 0xb8;
    x->data[15] = last_src_byte;
    x->data[16] = 0x20, x->data[17] = 0x01, x->data[18] = 0x0d, x->data[19] = 0xb8, x->data[31] = 1;
    ipfix_put_u16(x->data + 32, 1234);
    ipfix_put_u16(x->data + 34, 53);
    x->data[36] = 17;
    ipfix_put_u64(x->data + 37, bytes);
    ipfix_put_u64(x->data + 45, 1);
    ipfix_put_u32(x->data + 53, start_s);
    ipfix_put_u32(x->data + 57, start_s + 1);
    x->r = (ipfix_record){t6, x->data, LEN6};
    return &x->r;
}

static ipfix_query_keys *keys_of(const char *list) {
    ipfix_query_keys *k = NULL;
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_query_keys_parse(model, list, &k, &err) != IPFIX_OK)
        fail_msg("keys '%s': %s", list, err.detail);
    return k;
}

static char *key_text(const ipfix_query_keys *k, size_t part, const ipfix_query_row *row) {
    static char buf[8][96];
    static int next;
    char *b = buf[next++ % 8];
    ipfix_query_key_format(k, part, row, false, b, 96);
    return b;
}

/* ------------------------------------------------------------- tests */

static void test_keys_parse(void **state) {
    (void)state;
    ipfix_query_keys *k = keys_of("srcip/24,dstport,proto,sourceIPv4Address,destinationIPv6Address/48");
    assert_int_equal(ipfix_query_keys_count(k), 5);
    assert_string_equal(ipfix_query_keys_name(k, 0), "srcip/24");
    assert_string_equal(ipfix_query_keys_name(k, 1), "dstport");
    assert_true(ipfix_query_keys_numeric(k, 1));
    assert_false(ipfix_query_keys_numeric(k, 0));
    ipfix_query_keys_free(k);
    k = keys_of(" srcip/24/64 , dstip ");
    assert_int_equal(ipfix_query_keys_count(k), 2);
    ipfix_query_keys_free(k);

    const char *bad[] = {"nosuch", "srcport/24", "srcip/33", "srcip/x", "srcip/24/129", "a,,b",
                         "basicList", "srcip,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ipfix_error err;
        ipfix_error_clear(&err);
        k = (ipfix_query_keys *)1;
        if (ipfix_query_keys_parse(model, bad[i], &k, &err) == IPFIX_OK) fail_msg("'%s' accepted", bad[i]);
        assert_null(k);
        assert_true(err.detail[0] != 0);
    }
}

static void test_sums_and_prefix(void **state) {
    (void)state;
    ipfix_query_keys *k = keys_of("srcip/24,dstport");
    ipfix_query_agg_config c = {k, 0, false, false};
    ipfix_query_agg *a = ipfix_query_agg_new(&c);
    rec x;
    assert_int_equal(ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 1), IP(1, 1, 1, 1), 1000, 443, 6, 100, 2, T0 + 5000, T0 + 6000)), IPFIX_OK);
    assert_int_equal(ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 200), IP(1, 1, 1, 2), 1001, 443, 6, 300, 3, T0 + 1000, T0 + 9000)), IPFIX_OK);
    assert_int_equal(ipfix_query_agg_add(a, make4(&x, IP(10, 0, 1, 1), IP(1, 1, 1, 1), 1000, 443, 6, 50, 1, T0, T0)), IPFIX_OK);
    assert_int_equal(ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 7), IP(1, 1, 1, 1), 1000, 80, 6, 1, 1, T0, T0)), IPFIX_OK);
    assert_int_equal(ipfix_query_agg_groups(a), 3);
    ipfix_query_counters tot;
    ipfix_query_agg_totals(a, &tot);
    assert_int_equal(tot.flows, 4);
    assert_int_equal(tot.bytes, 451);
    assert_int_equal(tot.packets, 7);
    assert_int_equal(tot.first_ms, T0);
    assert_int_equal(tot.last_ms, T0 + 9000);
    ipfix_query_row *rows;
    size_t n;
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 3);
    assert_string_equal(key_text(k, 0, &rows[0]), "10.0.0.0/24");
    assert_string_equal(key_text(k, 1, &rows[0]), "443");
    assert_int_equal(rows[0].counters.flows, 2);
    assert_int_equal(rows[0].counters.bytes, 400);
    assert_int_equal(rows[0].counters.packets, 5);
    assert_int_equal(rows[0].counters.first_ms, T0 + 1000);
    assert_int_equal(rows[0].counters.last_ms, T0 + 9000);
    assert_string_equal(key_text(k, 0, &rows[1]), "10.0.1.0/24");
    assert_int_equal(rows[1].counters.bytes, 50);
    assert_string_equal(key_text(k, 1, &rows[2]), "80");
    free(rows);
    /* top 1 by flows */
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_FLOWS, 1, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].counters.flows, 2);
    free(rows);
    ipfix_query_agg_free(a);
    ipfix_query_keys_free(k);
}

static void test_topn_order_and_ties(void **state) {
    (void)state;
    ipfix_query_keys *k = keys_of("srcip");
    ipfix_query_agg_config c = {k, 0, false, false};
    ipfix_query_agg *a = ipfix_query_agg_new(&c);
    rec x;
    /* 100 sources: source i has i*10 bytes, (100 - i) packets; sources 50 and 51 tie on bytes */
    for (uint32_t i = 1; i <= 100; i++) {
        uint64_t bytes = i == 51 ? 500 : i * 10;
        ipfix_query_agg_add(a, make4(&x, IP(192, 0, 2, i), IP(1, 1, 1, 1), 1, 2, 17, bytes, 100 - i + 1, T0 + i, T0 + 2 * i));
    }
    ipfix_query_row *rows;
    size_t n;
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 5, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 5);
    assert_string_equal(key_text(k, 0, &rows[0]), "192.0.2.100");
    assert_string_equal(key_text(k, 0, &rows[4]), "192.0.2.96");
    free(rows);
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_PACKETS, 3, &rows, &n), IPFIX_OK);
    assert_string_equal(key_text(k, 0, &rows[0]), "192.0.2.1");
    assert_string_equal(key_text(k, 0, &rows[2]), "192.0.2.3");
    free(rows);
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_FIRST, 2, &rows, &n), IPFIX_OK);
    assert_string_equal(key_text(k, 0, &rows[0]), "192.0.2.1");
    free(rows);
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_LAST, 2, &rows, &n), IPFIX_OK);
    assert_string_equal(key_text(k, 0, &rows[0]), "192.0.2.100");
    free(rows);
    /* ties (500 bytes: .50 and .51) are ordered by key, the same with and without top */
    ipfix_query_row *all;
    size_t nall;
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &all, &nall), IPFIX_OK);
    assert_int_equal(nall, 100);
    for (size_t i = 1; i < nall; i++) assert_true(all[i - 1].counters.bytes >= all[i].counters.bytes);
    size_t tie = 0;
    while (all[tie].counters.bytes != 500) tie++;
    assert_string_equal(key_text(k, 0, &all[tie]), "192.0.2.50");
    assert_string_equal(key_text(k, 0, &all[tie + 1]), "192.0.2.51");
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, tie + 1, &rows, &n), IPFIX_OK);
    assert_string_equal(key_text(k, 0, &rows[tie]), "192.0.2.50");
    free(rows);
    free(all);
    ipfix_query_agg_free(a);
    ipfix_query_keys_free(k);
}

static void test_interval_bins(void **state) {
    (void)state;
    ipfix_query_keys *k = keys_of("proto");
    ipfix_query_agg_config c = {k, 300000, false, false}; /* 5 minutes */
    ipfix_query_agg *a = ipfix_query_agg_new(&c);
    rec x;
    ipfix_query_agg_add(a, make4(&x, 1, 2, 1, 2, 6, 10, 1, T0 + 1000, T0 + 400000));
    ipfix_query_agg_add(a, make4(&x, 1, 2, 1, 2, 17, 20, 1, T0 + 299999, T0 + 300000));
    ipfix_query_agg_add(a, make4(&x, 1, 2, 1, 2, 6, 30, 1, T0 + 300000, T0 + 300001));
    ipfix_query_agg_add(a, make4(&x, 1, 2, 1, 2, 6, 40, 1, T0 + 900000, T0 + 900001));
    ipfix_query_row *rows;
    size_t n;
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].bin_ms, T0);
    assert_string_equal(key_text(k, 0, &rows[0]), "udp"); /* 20 bytes > 10 */
    assert_int_equal(rows[1].bin_ms, T0);
    assert_string_equal(key_text(k, 0, &rows[1]), "tcp");
    assert_int_equal(rows[2].bin_ms, T0 + 300000);
    assert_int_equal(rows[3].bin_ms, T0 + 900000);
    free(rows);
    /* top 1 per bin */
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 1, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 3);
    assert_string_equal(key_text(k, 0, &rows[0]), "udp");
    free(rows);
    ipfix_query_agg_free(a);
    /* bins by end, totals only (no keys) */
    ipfix_query_agg_config c2 = {NULL, 300000, true, false};
    a = ipfix_query_agg_new(&c2);
    ipfix_query_agg_add(a, make4(&x, 1, 2, 1, 2, 6, 10, 1, T0 + 1000, T0 + 400000));
    ipfix_query_agg_add(a, make4(&x, 1, 2, 1, 2, 6, 10, 1, T0 + 1000, T0 + 1001));
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_NONE, 0, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].bin_ms, T0);
    assert_int_equal(rows[1].bin_ms, T0 + 300000);
    free(rows);
    ipfix_query_agg_free(a);
    ipfix_query_keys_free(k);
}

static void test_bidirectional(void **state) {
    (void)state;
    ipfix_query_keys *k = keys_of("srcip,srcport,dstip,dstport,proto");
    ipfix_query_agg_config c = {k, 0, false, true};
    ipfix_query_agg *a = ipfix_query_agg_new(&c);
    rec x;
    ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 1), IP(192, 0, 2, 1), 40000, 443, 6, 100, 2, T0, T0 + 1));
    ipfix_query_agg_add(a, make4(&x, IP(192, 0, 2, 1), IP(10, 0, 0, 1), 443, 40000, 6, 5000, 4, T0, T0 + 2));
    ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 1), IP(192, 0, 2, 1), 40001, 443, 6, 1, 1, T0, T0 + 3));
    assert_int_equal(ipfix_query_agg_groups(a), 2);
    ipfix_query_row *rows;
    size_t n;
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].counters.flows, 2);
    assert_int_equal(rows[0].counters.bytes, 5100);
    assert_string_equal(key_text(k, 0, &rows[0]), "10.0.0.1");   /* canonical: smaller first */
    assert_string_equal(key_text(k, 1, &rows[0]), "40000");
    assert_string_equal(key_text(k, 2, &rows[0]), "192.0.2.1");
    assert_string_equal(key_text(k, 3, &rows[0]), "443");
    free(rows);
    ipfix_query_agg_free(a);
    /* without the option they are two groups */
    ipfix_query_agg_config c2 = {k, 0, false, false};
    a = ipfix_query_agg_new(&c2);
    ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 1), IP(192, 0, 2, 1), 40000, 443, 6, 100, 2, T0, T0 + 1));
    ipfix_query_agg_add(a, make4(&x, IP(192, 0, 2, 1), IP(10, 0, 0, 1), 443, 40000, 6, 5000, 4, T0, T0 + 2));
    assert_int_equal(ipfix_query_agg_groups(a), 2);
    ipfix_query_agg_free(a);
    ipfix_query_keys_free(k);
}

static void test_ipv6_and_mixed(void **state) {
    (void)state;
    ipfix_query_keys *k = keys_of("srcip/24/64,dstport");
    ipfix_query_agg_config c = {k, 0, false, false};
    ipfix_query_agg *a = ipfix_query_agg_new(&c);
    rec x;
    ipfix_query_agg_add(a, make6(&x, 1, 10, 1704067200));
    ipfix_query_agg_add(a, make6(&x, 2, 20, 1704067201));
    ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 1), 1, 1, 53, 17, 5, 1, T0, T0));
    ipfix_query_row *rows;
    size_t n;
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(key_text(k, 0, &rows[0]), "2001:db8::/64");
    assert_int_equal(rows[0].counters.bytes, 30);
    assert_int_equal(rows[0].counters.first_ms, T0);          /* seconds converted to ms */
    assert_int_equal(rows[0].counters.last_ms, T0 + 2000);
    assert_string_equal(key_text(k, 0, &rows[1]), "10.0.0.0/24");
    free(rows);
    ipfix_query_agg_free(a);
    ipfix_query_keys_free(k);
    /* a key the template lacks is "-" */
    k = keys_of("bgpSourceAsNumber");
    ipfix_query_agg_config c2 = {k, 0, false, false};
    a = ipfix_query_agg_new(&c2);
    ipfix_query_agg_add(a, make4(&x, 1, 2, 1, 2, 6, 10, 1, T0, T0));
    assert_int_equal(ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &rows, &n), IPFIX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(key_text(k, 0, &rows[0]), "-");
    free(rows);
    ipfix_query_agg_free(a);
    ipfix_query_keys_free(k);
}

static void test_merge(void **state) {
    (void)state;
    ipfix_query_keys *k = keys_of("dstport");
    ipfix_query_agg_config c = {k, 0, false, false};
    ipfix_query_agg *one = ipfix_query_agg_new(&c), *a = ipfix_query_agg_new(&c), *b = ipfix_query_agg_new(&c);
    rec x;
    for (uint32_t i = 0; i < 5000; i++) {
        ipfix_record *r = make4(&x, i, i * 7, (uint16_t)i, (uint16_t)(i % 97), 6, i, 1, T0 + i, T0 + 2 * i);
        ipfix_query_agg_add(one, r);
        ipfix_query_agg_add(i % 3 ? a : b, r);
    }
    assert_int_equal(ipfix_query_agg_merge(a, b), IPFIX_OK);
    ipfix_query_row *r1, *r2;
    size_t n1, n2;
    ipfix_query_agg_result(one, IPFIX_QUERY_ORDER_BYTES, 0, &r1, &n1);
    ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &r2, &n2);
    assert_int_equal(n1, 97);
    assert_int_equal(n1, n2);
    for (size_t i = 0; i < n1; i++) {
        assert_memory_equal(&r1[i].counters, &r2[i].counters, sizeof r1[i].counters);
        assert_string_equal(key_text(k, 0, &r1[i]), key_text(k, 0, &r2[i]));
    }
    /* --order key: numeric order of the port */
    ipfix_query_row *rk;
    size_t nk;
    assert_int_equal(ipfix_query_agg_result(one, IPFIX_QUERY_ORDER_NONE, 0, &rk, &nk), IPFIX_OK);
    assert_int_equal(nk, 97);
    for (size_t i = 0; i < nk; i++) {
        char expect[24];
        snprintf(expect, sizeof expect, "%zu", i);
        assert_string_equal(key_text(k, 0, &rk[i]), expect);
    }
    free(rk);
    ipfix_query_counters t1, t2;
    ipfix_query_agg_totals(one, &t1);
    ipfix_query_agg_totals(a, &t2);
    assert_memory_equal(&t1, &t2, sizeof t1);
    free(r1);
    free(r2);
    ipfix_query_agg_free(one);
    ipfix_query_agg_free(a);
    ipfix_query_agg_free(b);
    ipfix_query_keys_free(k);
}

static void test_output(void **state) {
    (void)state;
    char b[32];
    ipfix_query_format_human(b, sizeof b, 999);
    assert_string_equal(b, "999");
    ipfix_query_format_human(b, sizeof b, 1200);
    assert_string_equal(b, "1.2 K");
    ipfix_query_format_human(b, sizeof b, 3400000);
    assert_string_equal(b, "3.4 M");
    ipfix_query_format_human(b, sizeof b, 5600000000ull);
    assert_string_equal(b, "5.6 G");

    ipfix_query_keys *k = keys_of("srcip,proto");
    ipfix_query_agg_config c = {k, 0, false, false};
    ipfix_query_agg *a = ipfix_query_agg_new(&c);
    rec x;
    ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 1), 1, 1, 2, 6, 3000, 3, T0, T0 + 1500));
    ipfix_query_agg_add(a, make4(&x, IP(10, 0, 0, 2), 1, 1, 2, 17, 1000, 1, T0, T0));
    ipfix_query_row *rows;
    size_t n;
    ipfix_query_agg_result(a, IPFIX_QUERY_ORDER_BYTES, 0, &rows, &n);
    ipfix_query_counters tot;
    ipfix_query_agg_totals(a, &tot);
    ipfix_buffer out;
    ipfix_buffer_init(&out);
    assert_int_equal(ipfix_query_format_rows(IPFIX_QUERY_FORMAT_CSV, k, 0, rows, n, &tot, false, &out), IPFIX_OK);
    assert_int_equal(ipfix_buffer_append(&out, "", 1), IPFIX_OK);
    assert_string_equal(out.data,
                        "srcip,proto,flows,packets,bytes,first,last\n"
                        "10.0.0.1,tcp,1,3,3000,2024-01-01T00:00:00.000Z,2024-01-01T00:00:01.500Z\n"
                        "10.0.0.2,udp,1,1,1000,2024-01-01T00:00:00.000Z,2024-01-01T00:00:00.000Z\n");
    out.length = 0;
    assert_int_equal(ipfix_query_format_rows(IPFIX_QUERY_FORMAT_JSON, k, 0, rows, 1, &tot, true, &out), IPFIX_OK);
    ipfix_buffer_append(&out, "", 1);
    assert_string_equal(out.data,
                        "{\"srcip\":\"10.0.0.1\",\"proto\":6,\"flows\":1,\"packets\":3,\"bytes\":3000,"
                        "\"first\":\"2024-01-01T00:00:00.000Z\",\"last\":\"2024-01-01T00:00:01.500Z\"}\n");
    out.length = 0;
    assert_int_equal(ipfix_query_format_rows(IPFIX_QUERY_FORMAT_TABLE, k, 0, rows, n, &tot, false, &out), IPFIX_OK);
    ipfix_buffer_append(&out, "", 1);
    assert_non_null(strstr(out.data, "3.0 K (75.0%)"));
    assert_non_null(strstr(out.data, "1.0 K (25.0%)"));
    assert_non_null(strstr(out.data, "(50.0%)"));
    assert_non_null(strstr(out.data, "Summary: 2 rows"));
    ipfix_buffer_free(&out);
    free(rows);
    ipfix_query_agg_free(a);
    ipfix_query_keys_free(k);
}

static void test_time_parsing(void **state) {
    (void)state;
    int64_t ms;
    assert_int_equal(ipfix_query_parse_time("2026-11-22T13:00", &ms), IPFIX_OK);
    assert_int_equal(ms, 1795352400000ll);
    assert_int_equal(ipfix_query_parse_time("2026-11-22T13:00:30.5Z", &ms), IPFIX_OK);
    assert_int_equal(ms, 1795352430500ll);
    assert_int_equal(ipfix_query_parse_time("2026-11-22 13:00:00", &ms), IPFIX_OK);
    assert_int_equal(ms, 1795352400000ll);
    assert_int_equal(ipfix_query_parse_time("2026-11-22", &ms), IPFIX_OK);
    assert_int_equal(ms, 1795305600000ll);
    assert_int_equal(ipfix_query_parse_time("1704067200", &ms), IPFIX_OK);
    assert_int_equal(ms, 1704067200000ll);
    assert_int_not_equal(ipfix_query_parse_time("2026-13-01", &ms), IPFIX_OK);
    assert_int_not_equal(ipfix_query_parse_time("yesterday", &ms), IPFIX_OK);
    assert_int_not_equal(ipfix_query_parse_time("2026-11-22T25:00", &ms), IPFIX_OK);
    uint64_t d;
    assert_int_equal(ipfix_query_parse_duration("5m", &d), IPFIX_OK);
    assert_int_equal(d, 300000);
    assert_int_equal(ipfix_query_parse_duration("30s", &d), IPFIX_OK);
    assert_int_equal(d, 30000);
    assert_int_equal(ipfix_query_parse_duration("300", &d), IPFIX_OK);
    assert_int_equal(d, 300000);
    assert_int_equal(ipfix_query_parse_duration("1h", &d), IPFIX_OK);
    assert_int_equal(d, 3600000);
    assert_int_equal(ipfix_query_parse_duration("1d", &d), IPFIX_OK);
    assert_int_equal(d, 86400000);
    assert_int_not_equal(ipfix_query_parse_duration("0", &d), IPFIX_OK);
    assert_int_not_equal(ipfix_query_parse_duration("5x", &d), IPFIX_OK);
    ipfix_query_order o;
    assert_int_equal(ipfix_query_order_from_name("bytes", &o), IPFIX_OK);
    assert_int_equal(o, IPFIX_QUERY_ORDER_BYTES);
    assert_int_equal(ipfix_query_order_from_name("records", &o), IPFIX_OK);
    assert_int_equal(o, IPFIX_QUERY_ORDER_FLOWS);
    assert_int_not_equal(ipfix_query_order_from_name("size", &o), IPFIX_OK);
}

static int setup(void **state) {
    (void)state;
    model = ipfix_infomodel_new();
    ipfix_error err;
    if (!model) return -1;
    if (ipfix_template_new(model, 256, 0, specs4, sizeof specs4 / sizeof specs4[0], &t4, &err) ||
        ipfix_template_new(model, 257, 0, specs6, sizeof specs6 / sizeof specs6[0], &t6, &err))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ipfix_template_unref(t4);
    ipfix_template_unref(t6);
    ipfix_infomodel_free(model);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_parse),
        cmocka_unit_test(test_sums_and_prefix),
        cmocka_unit_test(test_topn_order_and_ties),
        cmocka_unit_test(test_interval_bins),
        cmocka_unit_test(test_bidirectional),
        cmocka_unit_test(test_ipv6_and_mixed),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_time_parsing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
