/*
 * test_value.c — unit tests of the abstract data type codec (value.c):
 * lengths (RFC 7011 §6.2), every type's round trip with edge values,
 * timestamps (§6.1.7–6.1.10, NTP era §5.2), UTF-8 (§6.1.6), varlen (§7).
 * Inputs that must be rejected are copied to exact-size heap buffers so
 * AddressSanitizer catches any read past them.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/value.h"

/* ----------------------------------------------------------------- helpers */

static uint8_t *dup_exact(const uint8_t *p, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n) memcpy(copy, p, n);
    return copy;
}

/* Decode `n` bytes (from an exact-size copy) as `type`. */
static ipfix_status decode_exact(ipfix_type type, const uint8_t *p, size_t n, ipfix_value *out,
                                 ipfix_error *err) {
    uint8_t *copy = dup_exact(p, n);
    ipfix_status st = ipfix_value_decode(type, copy, n, out, err);
    free(copy);
    return st;
}

static ipfix_value make_u64(ipfix_type type, uint64_t v) {
    ipfix_value value = {.type = type};
    value.v.u64 = v;
    return value;
}

static ipfix_value make_i64(ipfix_type type, int64_t v) {
    ipfix_value value = {.type = type};
    value.v.i64 = v;
    return value;
}

static ipfix_value make_f64(ipfix_type type, double v) {
    ipfix_value value = {.type = type};
    value.v.f64 = v;
    return value;
}

static ipfix_value make_time(ipfix_type type, int64_t s, uint32_t ns) {
    ipfix_value value = {.type = type};
    value.v.time.seconds = s;
    value.v.time.nanoseconds = ns;
    return value;
}

/* Encode into `length` bytes, check the status, decode back. */
static ipfix_value round_trip(const ipfix_value *in, size_t length) {
    uint8_t buf[64];
    memset(buf, 0xee, sizeof buf);
    assert_int_equal(ipfix_value_encode(in, buf, length), IPFIX_OK);
    assert_int_equal(buf[length], 0xee); /* wrote exactly `length` bytes */
    ipfix_value out;
    memset(&out, 0x5a, sizeof out);
    ipfix_error err;
    ipfix_error_clear(&err);
    assert_int_equal(decode_exact(in->type, buf, length, &out, &err), IPFIX_OK);
    assert_int_equal(out.type, in->type);
    return out;
}

static uint64_t unsigned_max(size_t bytes) {
    return bytes >= 8 ? UINT64_MAX : ((uint64_t)1 << (bytes * 8)) - 1;
}

static const ipfix_type unsigned_types[] = {IPFIX_TYPE_UNSIGNED8, IPFIX_TYPE_UNSIGNED16,
                                            IPFIX_TYPE_UNSIGNED32, IPFIX_TYPE_UNSIGNED64};
static const ipfix_type signed_types[] = {IPFIX_TYPE_SIGNED8, IPFIX_TYPE_SIGNED16,
                                          IPFIX_TYPE_SIGNED32, IPFIX_TYPE_SIGNED64};

/* ------------------------------------------------------------------ lengths */

static void test_default_lengths(void **state) {
    (void)state;
    static const struct {
        ipfix_type type;
        uint16_t length;
    } cases[] = {
        {IPFIX_TYPE_OCTET_ARRAY, IPFIX_VARLEN},
        {IPFIX_TYPE_UNSIGNED8, 1},
        {IPFIX_TYPE_UNSIGNED16, 2},
        {IPFIX_TYPE_UNSIGNED32, 4},
        {IPFIX_TYPE_UNSIGNED64, 8},
        {IPFIX_TYPE_SIGNED8, 1},
        {IPFIX_TYPE_SIGNED16, 2},
        {IPFIX_TYPE_SIGNED32, 4},
        {IPFIX_TYPE_SIGNED64, 8},
        {IPFIX_TYPE_FLOAT32, 4},
        {IPFIX_TYPE_FLOAT64, 8},
        {IPFIX_TYPE_BOOLEAN, 1},
        {IPFIX_TYPE_MAC_ADDRESS, 6},
        {IPFIX_TYPE_STRING, IPFIX_VARLEN},
        {IPFIX_TYPE_DATE_TIME_SECONDS, 4},
        {IPFIX_TYPE_DATE_TIME_MILLISECONDS, 8},
        {IPFIX_TYPE_DATE_TIME_MICROSECONDS, 8},
        {IPFIX_TYPE_DATE_TIME_NANOSECONDS, 8},
        {IPFIX_TYPE_IPV4_ADDRESS, 4},
        {IPFIX_TYPE_IPV6_ADDRESS, 16},
        {IPFIX_TYPE_BASIC_LIST, IPFIX_VARLEN},
        {IPFIX_TYPE_SUB_TEMPLATE_LIST, IPFIX_VARLEN},
        {IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST, IPFIX_VARLEN},
        {IPFIX_TYPE_UNSIGNED256, 32},
    };
    assert_int_equal(sizeof cases / sizeof cases[0], IPFIX_TYPE_COUNT);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(ipfix_type_default_length(cases[i].type), cases[i].length);
    assert_int_equal(ipfix_type_default_length(IPFIX_TYPE_COUNT), 0);
}

/* The rule of RFC 7011 §6.2 written independently of value.c. */
static bool expected_length_valid(ipfix_type t, unsigned len) {
    switch (t) {
    case IPFIX_TYPE_OCTET_ARRAY:
    case IPFIX_TYPE_STRING: return true;
    case IPFIX_TYPE_BASIC_LIST: return len >= 5;
    case IPFIX_TYPE_SUB_TEMPLATE_LIST: return len >= 3;
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST: return len >= 1;
    case IPFIX_TYPE_UNSIGNED8:
    case IPFIX_TYPE_SIGNED8: return len == 1;
    case IPFIX_TYPE_UNSIGNED16:
    case IPFIX_TYPE_SIGNED16: return len >= 1 && len <= 2;
    case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_SIGNED32: return len >= 1 && len <= 4;
    case IPFIX_TYPE_UNSIGNED64:
    case IPFIX_TYPE_SIGNED64: return len >= 1 && len <= 8;
    case IPFIX_TYPE_UNSIGNED256: return len >= 1 && len <= 32;
    case IPFIX_TYPE_FLOAT64: return len == 4 || len == 8;
    case IPFIX_TYPE_FLOAT32:
    case IPFIX_TYPE_DATE_TIME_SECONDS:
    case IPFIX_TYPE_IPV4_ADDRESS: return len == 4;
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS: return len == 8;
    case IPFIX_TYPE_BOOLEAN: return len == 1;
    case IPFIX_TYPE_MAC_ADDRESS: return len == 6;
    case IPFIX_TYPE_IPV6_ADDRESS: return len == 16;
    case IPFIX_TYPE_COUNT: break;
    }
    return false;
}

static void test_length_valid_table(void **state) {
    (void)state;
    for (int t = 0; t < IPFIX_TYPE_COUNT; t++) {
        for (unsigned len = 0; len <= 300; len++) {
            bool want = expected_length_valid((ipfix_type)t, len);
            if (ipfix_type_length_valid((ipfix_type)t, (uint16_t)len) != want)
                fail_msg("type %d length %u: expected %s", t, len, want ? "valid" : "invalid");
        }
        /* RFC 7011 §7: 65535 = variable length, only for octetArray, string, lists. */
        bool varlen_ok = ipfix_type_default_length((ipfix_type)t) == IPFIX_VARLEN;
        assert_int_equal(ipfix_type_length_valid((ipfix_type)t, IPFIX_VARLEN), varlen_ok);
        assert_int_equal(ipfix_type_length_valid((ipfix_type)t, 65534),
                         expected_length_valid((ipfix_type)t, 65534));
    }
    assert_false(ipfix_type_length_valid(IPFIX_TYPE_COUNT, 0));
    assert_false(ipfix_type_length_valid(IPFIX_TYPE_COUNT, 4));
    assert_false(ipfix_type_length_valid((ipfix_type)200, 0));
    assert_false(ipfix_type_length_valid((ipfix_type)200, IPFIX_VARLEN));
}

/* Every invalid length is rejected by decode (with rule and offset 0) and
 * encode, for every type; nothing past the field is read. */
static void test_invalid_lengths_rejected(void **state) {
    (void)state;
    uint8_t buf[40];
    memset(buf, 1, sizeof buf); /* 1 is a valid boolean, valid UTF-8 */
    for (int t = 0; t < IPFIX_TYPE_COUNT; t++) {
        for (size_t len = 0; len <= 33; len++) {
            if (expected_length_valid((ipfix_type)t, (unsigned)len)) continue;
            ipfix_value v;
            ipfix_error err;
            ipfix_error_clear(&err);
            ipfix_status st = decode_exact((ipfix_type)t, buf, len, &v, &err);
            if (st != IPFIX_ERR_MALFORMED) fail_msg("type %d length %zu: status %d", t, len, st);
            assert_int_equal(err.status, IPFIX_ERR_MALFORMED);
            assert_int_equal(err.offset, 0);
            assert_non_null(strstr(err.rule, "RFC 7011 §6.2"));
            assert_int_equal(decode_exact((ipfix_type)t, buf, len, &v, NULL), IPFIX_ERR_MALFORMED);
            ipfix_value in = make_u64((ipfix_type)t, 0);
            assert_int_equal(ipfix_value_encode(&in, buf, len), IPFIX_ERR_INVALID_ARG);
        }
    }
}

static void test_bad_arguments(void **state) {
    (void)state;
    uint8_t buf[8] = {0};
    ipfix_value v;
    ipfix_error err;
    assert_int_equal(ipfix_value_decode(IPFIX_TYPE_UNSIGNED8, buf, 1, NULL, &err),
                     IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_value_decode(IPFIX_TYPE_UNSIGNED8, NULL, 1, &v, NULL),
                     IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_value_decode(IPFIX_TYPE_COUNT, buf, 4, &v, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_value_decode((ipfix_type)99, buf, 0, &v, NULL), IPFIX_ERR_INVALID_ARG);
    /* A zero-length octetArray may come with no pointer at all. */
    assert_int_equal(ipfix_value_decode(IPFIX_TYPE_OCTET_ARRAY, NULL, 0, &v, NULL), IPFIX_OK);
    assert_int_equal(v.v.bytes.length, 0);
    ipfix_value in = make_u64(IPFIX_TYPE_COUNT, 0);
    assert_int_equal(ipfix_value_encode(&in, buf, 4), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_value_encode(NULL, buf, 4), IPFIX_ERR_INVALID_ARG);
    in = make_u64(IPFIX_TYPE_UNSIGNED32, 0);
    assert_int_equal(ipfix_value_encode(&in, NULL, 4), IPFIX_ERR_INVALID_ARG);
}

/* --------------------------------------------------------------- integers */

static void test_unsigned_all_reduced_sizes(void **state) {
    (void)state;
    for (size_t t = 0; t < 4; t++) {
        ipfix_type type = unsigned_types[t];
        size_t native = ipfix_type_default_length(type);
        for (size_t len = 1; len <= native; len++) {
            uint64_t max = unsigned_max(len);
            const uint64_t values[] = {0, 1, 0x7f, max / 2, max / 2 + 1, max - 1, max,
                                       0x0123456789abcdefull & max};
            for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
                ipfix_value in = make_u64(type, values[i]);
                ipfix_value out = round_trip(&in, len);
                assert_int_equal(out.v.u64, values[i]);
            }
            /* RFC 7011 §6.2: only leading zeroes may be dropped. */
            if (len < 8) {
                uint8_t buf[8];
                ipfix_value big = make_u64(type, max + 1);
                assert_int_equal(ipfix_value_encode(&big, buf, len), IPFIX_ERR_RANGE);
                big = make_u64(type, UINT64_MAX);
                assert_int_equal(ipfix_value_encode(&big, buf, len), IPFIX_ERR_RANGE);
            }
        }
    }
}

static void test_unsigned_wire_format(void **state) {
    (void)state;
    uint8_t buf[8];
    ipfix_value v = make_u64(IPFIX_TYPE_UNSIGNED64, 0x0102030405060708ull);
    assert_int_equal(ipfix_value_encode(&v, buf, 8), IPFIX_OK);
    const uint8_t be8[] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(buf, be8, 8);
    v.v.u64 = 0x030405;
    assert_int_equal(ipfix_value_encode(&v, buf, 3), IPFIX_OK);
    const uint8_t be3[] = {3, 4, 5};
    assert_memory_equal(buf, be3, 3);
    /* A value that fits the field but not the type's native size is still
     * bounded by the length given, not by the type. */
    v = make_u64(IPFIX_TYPE_UNSIGNED16, 70000);
    assert_int_equal(ipfix_value_encode(&v, buf, 2), IPFIX_ERR_RANGE);

    ipfix_value out;
    assert_int_equal(decode_exact(IPFIX_TYPE_UNSIGNED32, be8, 4, &out, NULL), IPFIX_OK);
    assert_int_equal(out.v.u64, 0x01020304);
    assert_int_equal(decode_exact(IPFIX_TYPE_UNSIGNED64, be8, 5, &out, NULL), IPFIX_OK);
    assert_int_equal(out.v.u64, 0x0102030405ull);
}

static void test_inline_readers(void **state) {
    (void)state;
    const uint8_t p[8] = {0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88};
    uint64_t want = 0;
    for (size_t len = 1; len <= 8; len++) {
        want = want << 8 | p[len - 1];
        assert_int_equal(ipfix_get_unsigned(p, len), want);
    }
    assert_int_equal(ipfix_get_u16(p), 0x8182);
    assert_int_equal(ipfix_get_u32(p), 0x81828384u);
    assert_int_equal(ipfix_get_u64(p), 0x8182838485868788ull);
    uint8_t q[8];
    ipfix_put_u16(q, 0x8182);
    ipfix_put_u32(q + 2, 0x83848586u);
    assert_memory_equal(q, p, 6);
    ipfix_put_u64(q, 0x8182838485868788ull);
    assert_memory_equal(q, p, 8);
}

static void test_signed_all_reduced_sizes(void **state) {
    (void)state;
    for (size_t t = 0; t < 4; t++) {
        ipfix_type type = signed_types[t];
        size_t native = ipfix_type_default_length(type);
        for (size_t len = 1; len <= native; len++) {
            int64_t max = (int64_t)(unsigned_max(len) >> 1);
            int64_t min = -max - 1;
            const int64_t values[] = {0, 1, -1, 2, -2, max, min, max - 1, min + 1, max / 3,
                                      min / 3};
            for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
                ipfix_value in = make_i64(type, values[i]);
                ipfix_value out = round_trip(&in, len);
                if (out.v.i64 != values[i])
                    fail_msg("type %d len %zu: %lld became %lld", type, len,
                             (long long)values[i], (long long)out.v.i64);
            }
            if (len < 8) {
                uint8_t buf[8];
                ipfix_value bad = make_i64(type, max + 1);
                assert_int_equal(ipfix_value_encode(&bad, buf, len), IPFIX_ERR_RANGE);
                bad = make_i64(type, min - 1);
                assert_int_equal(ipfix_value_encode(&bad, buf, len), IPFIX_ERR_RANGE);
                bad = make_i64(type, INT64_MIN);
                assert_int_equal(ipfix_value_encode(&bad, buf, len), IPFIX_ERR_RANGE);
                bad = make_i64(type, INT64_MAX);
                assert_int_equal(ipfix_value_encode(&bad, buf, len), IPFIX_ERR_RANGE);
            }
        }
    }
}

/* Two's complement of the reduced width is sign-extended (RFC 7011 §6.1.1,
 * §6.2: "the signed versus unsigned property ... MUST be preserved"). */
static void test_signed_sign_extension(void **state) {
    (void)state;
    static const struct {
        ipfix_type type;
        uint8_t bytes[8];
        size_t len;
        int64_t value;
    } cases[] = {
        {IPFIX_TYPE_SIGNED8, {0xff}, 1, -1},
        {IPFIX_TYPE_SIGNED8, {0x80}, 1, -128},
        {IPFIX_TYPE_SIGNED8, {0x7f}, 1, 127},
        {IPFIX_TYPE_SIGNED16, {0xff}, 1, -1},
        {IPFIX_TYPE_SIGNED16, {0xff, 0xfe}, 2, -2},
        {IPFIX_TYPE_SIGNED16, {0x80, 0x00}, 2, -32768},
        {IPFIX_TYPE_SIGNED16, {0x00, 0x80}, 2, 128},
        {IPFIX_TYPE_SIGNED32, {0x80, 0x00, 0x00}, 3, -8388608},
        {IPFIX_TYPE_SIGNED32, {0x7f, 0xff, 0xff}, 3, 8388607},
        {IPFIX_TYPE_SIGNED32, {0xff, 0xff, 0xff, 0xff}, 4, -1},
        {IPFIX_TYPE_SIGNED64, {0x80, 0, 0, 0, 0}, 5, -549755813888ll},
        {IPFIX_TYPE_SIGNED64, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 7, -1},
        {IPFIX_TYPE_SIGNED64, {0x80, 0, 0, 0, 0, 0, 0, 0}, 8, INT64_MIN},
        {IPFIX_TYPE_SIGNED64, {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipfix_value out;
        assert_int_equal(decode_exact(cases[i].type, cases[i].bytes, cases[i].len, &out, NULL),
                         IPFIX_OK);
        if (out.v.i64 != cases[i].value)
            fail_msg("case %zu: got %lld", i, (long long)out.v.i64);
        uint8_t buf[8];
        ipfix_value in = make_i64(cases[i].type, cases[i].value);
        assert_int_equal(ipfix_value_encode(&in, buf, cases[i].len), IPFIX_OK);
        assert_memory_equal(buf, cases[i].bytes, cases[i].len);
    }
}

static void test_unsigned256(void **state) {
    (void)state;
    for (size_t len = 1; len <= 32; len++) {
        ipfix_value in = {.type = IPFIX_TYPE_UNSIGNED256};
        uint8_t pattern[32];
        for (size_t i = 0; i < 32; i++) pattern[i] = i + len >= 32 ? (uint8_t)(0xa0 + i) : 0;
        memcpy(in.v.u256, pattern, 32);
        ipfix_value out = round_trip(&in, len);
        assert_memory_equal(out.v.u256, in.v.u256, 32);
        memset(in.v.u256 + 32 - len, 0xff, len); /* max for this size */
        out = round_trip(&in, len);
        assert_memory_equal(out.v.u256, in.v.u256, 32);
        memset(in.v.u256, 0, 32); /* zero */
        out = round_trip(&in, len);
        assert_memory_equal(out.v.u256, in.v.u256, 32);
        if (len < 32) {
            uint8_t buf[32];
            in.v.u256[31 - len] = 1; /* does not fit in len bytes */
            assert_int_equal(ipfix_value_encode(&in, buf, len), IPFIX_ERR_RANGE);
            memset(in.v.u256, 0, 32);
            in.v.u256[0] = 0x80;
            assert_int_equal(ipfix_value_encode(&in, buf, len), IPFIX_ERR_RANGE);
        }
    }
    /* Wire format: big-endian, decoded left-padded. */
    const uint8_t wire[3] = {0x12, 0x34, 0x56};
    ipfix_value out;
    assert_int_equal(decode_exact(IPFIX_TYPE_UNSIGNED256, wire, 3, &out, NULL), IPFIX_OK);
    uint8_t want[32] = {0};
    memcpy(want + 29, wire, 3);
    assert_memory_equal(out.v.u256, want, 32);
}

/* ------------------------------------------------------------------ floats */

static void check_float_round_trip(ipfix_type type, size_t len, double d) {
    ipfix_value in = make_f64(type, d);
    ipfix_value out = round_trip(&in, len);
    double want = len == 4 ? (double)(float)d : d;
    if (isnan(d)) {
        assert_true(isnan(out.v.f64));
    } else {
        assert_true(out.v.f64 == want);
        assert_int_equal(!!signbit(out.v.f64), !!signbit(d)); /* ±0 kept */
    }
}

static const double float_edges[] = {
    0.0, -0.0, 1.0, -1.0, 1.5, 0.1, -123456.789, (double)FLT_MAX, -(double)FLT_MAX,
    (double)FLT_MIN, (double)FLT_TRUE_MIN, 1e-45, INFINITY, -INFINITY, NAN, -NAN};

static void test_float32(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof float_edges / sizeof float_edges[0]; i++)
        check_float_round_trip(IPFIX_TYPE_FLOAT32, 4, float_edges[i]);
    /* RFC 7011 §6.1.3: IEEE binary32 in network byte order. */
    uint8_t buf[4];
    ipfix_value v = make_f64(IPFIX_TYPE_FLOAT32, 1.0);
    assert_int_equal(ipfix_value_encode(&v, buf, 4), IPFIX_OK);
    const uint8_t one[] = {0x3f, 0x80, 0x00, 0x00};
    assert_memory_equal(buf, one, 4);
    v.v.f64 = -0.0;
    assert_int_equal(ipfix_value_encode(&v, buf, 4), IPFIX_OK);
    const uint8_t negzero[] = {0x80, 0, 0, 0};
    assert_memory_equal(buf, negzero, 4);
    /* A finite value beyond float range does not silently become inf. */
    v.v.f64 = 1e300;
    assert_int_equal(ipfix_value_encode(&v, buf, 4), IPFIX_ERR_RANGE);
    v.v.f64 = -DBL_MAX;
    assert_int_equal(ipfix_value_encode(&v, buf, 4), IPFIX_ERR_RANGE);
}

static void test_float64(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof float_edges / sizeof float_edges[0]; i++)
        check_float_round_trip(IPFIX_TYPE_FLOAT64, 8, float_edges[i]);
    const double more[] = {DBL_MAX, -DBL_MAX, DBL_MIN, 4.9e-324, 1e300, 3.141592653589793};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        check_float_round_trip(IPFIX_TYPE_FLOAT64, 8, more[i]);
    uint8_t buf[8];
    ipfix_value v = make_f64(IPFIX_TYPE_FLOAT64, 1.0);
    assert_int_equal(ipfix_value_encode(&v, buf, 8), IPFIX_OK);
    const uint8_t one[] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(buf, one, 8);
}

/* RFC 7011 §6.2: float64 reduced to 4 octets is a float32. */
static void test_float64_reduced(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof float_edges / sizeof float_edges[0]; i++)
        check_float_round_trip(IPFIX_TYPE_FLOAT64, 4, float_edges[i]);
    uint8_t buf[4];
    ipfix_value v = make_f64(IPFIX_TYPE_FLOAT64, 0.1);
    assert_int_equal(ipfix_value_encode(&v, buf, 4), IPFIX_OK);
    ipfix_value out;
    assert_int_equal(decode_exact(IPFIX_TYPE_FLOAT64, buf, 4, &out, NULL), IPFIX_OK);
    assert_true(out.v.f64 == (double)0.1f); /* precision lost, as the RFC says */
    assert_true(out.v.f64 != 0.1);
    v.v.f64 = DBL_MAX;
    assert_int_equal(ipfix_value_encode(&v, buf, 4), IPFIX_ERR_RANGE);
    const uint8_t wire[] = {0xc0, 0x20, 0, 0}; /* -2.5f */
    assert_int_equal(decode_exact(IPFIX_TYPE_FLOAT64, wire, 4, &out, NULL), IPFIX_OK);
    assert_true(out.v.f64 == -2.5);
}

/* ------------------------------------------------------ boolean, addresses */

static void test_boolean(void **state) {
    (void)state;
    ipfix_value in = {.type = IPFIX_TYPE_BOOLEAN};
    uint8_t buf[1];
    in.v.boolean = true;
    assert_int_equal(ipfix_value_encode(&in, buf, 1), IPFIX_OK);
    assert_int_equal(buf[0], 1);
    assert_true(round_trip(&in, 1).v.boolean);
    in.v.boolean = false;
    assert_int_equal(ipfix_value_encode(&in, buf, 1), IPFIX_OK);
    assert_int_equal(buf[0], 2); /* RFC 7011 §6.1.5: 2 is false */
    assert_false(round_trip(&in, 1).v.boolean);
    /* Every other value is undefined: rejected. */
    for (unsigned b = 0; b < 256; b++) {
        if (b == 1 || b == 2) continue;
        uint8_t wire = (uint8_t)b;
        ipfix_value out;
        ipfix_error err;
        ipfix_error_clear(&err);
        assert_int_equal(decode_exact(IPFIX_TYPE_BOOLEAN, &wire, 1, &out, &err),
                         IPFIX_ERR_MALFORMED);
        assert_int_equal(err.offset, 0);
        assert_non_null(strstr(err.rule, "§6.1.5"));
        assert_int_equal(decode_exact(IPFIX_TYPE_BOOLEAN, &wire, 1, &out, NULL),
                         IPFIX_ERR_MALFORMED);
    }
    ipfix_value out;
    ipfix_error err;
    const uint8_t three = 3;
    assert_int_equal(decode_exact(IPFIX_TYPE_BOOLEAN, &three, 1, &out, &err), IPFIX_ERR_MALFORMED);
    assert_string_equal(err.detail, "value 3");
}

static void test_addresses(void **state) {
    (void)state;
    ipfix_value in = {.type = IPFIX_TYPE_MAC_ADDRESS};
    const uint8_t mac[6] = {0x00, 0x1b, 0x21, 0xff, 0xfe, 0x80};
    memcpy(in.v.mac, mac, 6);
    assert_memory_equal(round_trip(&in, 6).v.mac, mac, 6);

    in.type = IPFIX_TYPE_IPV4_ADDRESS;
    const uint8_t v4[4] = {192, 0, 2, 255};
    memcpy(in.v.ipv4, v4, 4);
    assert_memory_equal(round_trip(&in, 4).v.ipv4, v4, 4);
    uint8_t buf[16];
    assert_int_equal(ipfix_value_encode(&in, buf, 4), IPFIX_OK);
    assert_memory_equal(buf, v4, 4); /* network order as stored */

    in.type = IPFIX_TYPE_IPV6_ADDRESS;
    const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 1};
    memcpy(in.v.ipv6, v6, 16);
    assert_memory_equal(round_trip(&in, 16).v.ipv6, v6, 16);

    /* RFC 7011 §6.2: no reduced size for addresses. */
    ipfix_value out;
    assert_int_equal(decode_exact(IPFIX_TYPE_IPV4_ADDRESS, v4, 3, &out, NULL), IPFIX_ERR_MALFORMED);
    assert_int_equal(decode_exact(IPFIX_TYPE_IPV6_ADDRESS, v6, 4, &out, NULL), IPFIX_ERR_MALFORMED);
    assert_int_equal(decode_exact(IPFIX_TYPE_MAC_ADDRESS, v6, 8, &out, NULL), IPFIX_ERR_MALFORMED);
}

/* -------------------------------------------------------------- timestamps */

static void test_date_time_seconds(void **state) {
    (void)state;
    const int64_t values[] = {0, 1, 1700000000, 2147483647, 2147483648ll, 4294967295ll};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        ipfix_value in = make_time(IPFIX_TYPE_DATE_TIME_SECONDS, values[i], 0);
        ipfix_value out = round_trip(&in, 4);
        assert_int_equal(out.v.time.seconds, values[i]);
        assert_int_equal(out.v.time.nanoseconds, 0);
    }
    /* Sub-second part is dropped (truncation). */
    ipfix_value in = make_time(IPFIX_TYPE_DATE_TIME_SECONDS, 100, 999999999);
    assert_int_equal(round_trip(&in, 4).v.time.seconds, 100);
    /* RFC 7011 §5.2: past 2106 the value is exported modulo 2^32. */
    in = make_time(IPFIX_TYPE_DATE_TIME_SECONDS, 4294967296ll + 5, 0);
    assert_int_equal(round_trip(&in, 4).v.time.seconds, 5);
    uint8_t buf[4];
    in = make_time(IPFIX_TYPE_DATE_TIME_SECONDS, -1, 0);
    assert_int_equal(ipfix_value_encode(&in, buf, 4), IPFIX_ERR_RANGE);
    const uint8_t wire[] = {0x65, 0x53, 0xf1, 0x00}; /* 1700000000 */
    in = make_time(IPFIX_TYPE_DATE_TIME_SECONDS, 1700000000, 0);
    assert_int_equal(ipfix_value_encode(&in, buf, 4), IPFIX_OK);
    assert_memory_equal(buf, wire, 4);
}

static void test_date_time_milliseconds(void **state) {
    (void)state;
    const struct {
        int64_t s;
        uint32_t ns;
    } cases[] = {{0, 0}, {0, 1000000}, {1700000000, 123000000}, {1, 999000000},
                 {INT64_MAX / 1000 - 1, 999000000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipfix_value in = make_time(IPFIX_TYPE_DATE_TIME_MILLISECONDS, cases[i].s, cases[i].ns);
        ipfix_value out = round_trip(&in, 8);
        assert_int_equal(out.v.time.seconds, cases[i].s);
        assert_int_equal(out.v.time.nanoseconds, cases[i].ns);
    }
    uint8_t buf[8];
    ipfix_value in = make_time(IPFIX_TYPE_DATE_TIME_MILLISECONDS, 1700000000, 123456789);
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_OK);
    assert_int_equal(ipfix_get_u64(buf), 1700000000123ull); /* truncated to ms */
    in.v.time.seconds = -1;
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_ERR_RANGE);
    in.v.time.seconds = INT64_MAX;
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_ERR_RANGE);
    /* The whole unsigned64 range decodes and encodes back (RFC 7011 §6.1.8;
     * regression: fuzz/regressions/fuzz_structured/value-datetime-ms-max-roundtrip). */
    for (uint64_t ms = UINT64_MAX; ms > UINT64_MAX - 2100; ms--) {
        uint8_t wire[8];
        ipfix_put_u64(wire, ms);
        ipfix_value out;
        assert_int_equal(decode_exact(IPFIX_TYPE_DATE_TIME_MILLISECONDS, wire, 8, &out, NULL),
                         IPFIX_OK);
        assert_int_equal(out.v.time.seconds, (int64_t)(ms / 1000));
        assert_int_equal(out.v.time.nanoseconds, (uint32_t)(ms % 1000) * 1000000u);
        assert_int_equal(ipfix_value_encode(&out, buf, 8), IPFIX_OK);
        assert_memory_equal(buf, wire, 8);
    }
    /* One millisecond past the range. */
    in = make_time(IPFIX_TYPE_DATE_TIME_MILLISECONDS, (int64_t)(UINT64_MAX / 1000), 616000000);
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_ERR_RANGE);
    in.v.time.nanoseconds = 615999999;
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_OK);
    assert_int_equal(ipfix_get_u64(buf), UINT64_MAX);
    in = make_time(IPFIX_TYPE_DATE_TIME_MILLISECONDS, (int64_t)(UINT64_MAX / 1000) + 1, 0);
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_ERR_RANGE);
}

static uint64_t ntp(uint32_t seconds, uint32_t fraction) {
    return (uint64_t)seconds << 32 | fraction;
}

/* NTP era (RFC 7011 §5.2): the window is 1970 .. 2106, era 1 starting at
 * 2036-02-07T06:28:16Z (NTP seconds wrap to 0). */
static void test_ntp_era(void **state) {
    (void)state;
    const int64_t era1_start = 4294967296ll - IPFIX_NTP_UNIX_OFFSET; /* 2085978496 */
    ipfix_timestamp ts = ipfix_timestamp_from_ntp(ntp(IPFIX_NTP_UNIX_OFFSET, 0));
    assert_int_equal(ts.seconds, 0); /* Unix epoch */
    assert_int_equal(ts.nanoseconds, 0);
    ts = ipfix_timestamp_from_ntp(ntp(0xffffffffu, 0));
    assert_int_equal(ts.seconds, era1_start - 1); /* last second of era 0 */
    ts = ipfix_timestamp_from_ntp(ntp(0, 0));
    assert_int_equal(ts.seconds, era1_start); /* first second of era 1 */
    ts = ipfix_timestamp_from_ntp(ntp(IPFIX_NTP_UNIX_OFFSET - 1, 0));
    assert_int_equal(ts.seconds, 4294967295ll); /* end of the window (2106) */

    ipfix_timestamp t = {.seconds = 0, .nanoseconds = 0};
    assert_int_equal(ipfix_timestamp_to_ntp(t), ntp(IPFIX_NTP_UNIX_OFFSET, 0));
    t.seconds = era1_start;
    assert_int_equal(ipfix_timestamp_to_ntp(t), 0);
    t.seconds = era1_start - 1;
    t.nanoseconds = 999999999;
    assert_int_equal(ipfix_timestamp_to_ntp(t) >> 32, 0xffffffffu);
    /* Every second of the window round-trips (sampled + both edges). */
    for (int64_t s = 0; s <= 4294967295ll; s += 65521) {
        t.seconds = s;
        t.nanoseconds = (uint32_t)(s % 1000000000);
        ts = ipfix_timestamp_from_ntp(ipfix_timestamp_to_ntp(t));
        assert_int_equal(ts.seconds, s);
        assert_int_equal(ts.nanoseconds, t.nanoseconds);
    }
    t.seconds = 4294967295ll;
    t.nanoseconds = 0;
    assert_int_equal(ipfix_timestamp_from_ntp(ipfix_timestamp_to_ntp(t)).seconds, 4294967295ll);
    /* Past the window the seconds wrap (modulo 2^32, documented). */
    t.seconds = 4294967296ll;
    assert_int_equal(ipfix_timestamp_from_ntp(ipfix_timestamp_to_ntp(t)).seconds, 0);
    /* Nanoseconds >= 1e9 carry into the seconds. */
    t.seconds = 10;
    t.nanoseconds = 1500000000u;
    ts = ipfix_timestamp_from_ntp(ipfix_timestamp_to_ntp(t));
    assert_int_equal(ts.seconds, 11);
    assert_int_equal(ts.nanoseconds, 500000000u);
}

/* from_ntp(to_ntp(ns)) == ns for every ns of a second. The full sweep takes
 * ~15 s under the sanitizers, so by default every ns of the first and last
 * 2^21 and a prime stride in between are checked; IPFIXKIT_EXHAUSTIVE=1 in
 * the environment runs all 10^9 (done before each change of value.c). */
static void test_ntp_nanoseconds_exhaustive(void **state) {
    (void)state;
    const char *env = getenv("IPFIXKIT_EXHAUSTIVE");
    bool all = env && env[0] == '1';
    const uint32_t edge = 1u << 21;
    ipfix_timestamp t = {.seconds = 1700000000, .nanoseconds = 0};
    for (uint32_t ns = 0; ns < 1000000000u;
         ns += (all || ns < edge || ns >= 1000000000u - edge) ? 1 : 997) {
        t.nanoseconds = ns;
        uint64_t wire = ipfix_timestamp_to_ntp(t);
        ipfix_timestamp back = ipfix_timestamp_from_ntp(wire);
        if (back.nanoseconds != ns || back.seconds != t.seconds)
            fail_msg("ns %u -> fraction %llu -> %u", ns, (unsigned long long)(wire & 0xffffffffu),
                     back.nanoseconds);
    }
}

/* Every fraction decodes to the nearest nanosecond, and encode(decode(x)) is
 * a fixed point: decoding it again gives the same value. */
static void test_ntp_fraction_stable(void **state) {
    (void)state;
    for (uint64_t f = 0; f <= 0xffffffffu; f += (f < 4096 || f > 0xffffe000u) ? 1 : 7919) {
        uint64_t wire = ntp(IPFIX_NTP_UNIX_OFFSET + 100, (uint32_t)f);
        ipfix_timestamp a = ipfix_timestamp_from_ntp(wire);
        /* within half a nanosecond of the exact value f * 1e9 / 2^32 */
        double exact = (double)f * 1e9 / 4294967296.0;
        double got = (double)(a.seconds - 100) * 1e9 + a.nanoseconds;
        assert_true(fabs(got - exact) <= 0.5 + 1e-6);
        uint64_t again = ipfix_timestamp_to_ntp(a);
        ipfix_timestamp b = ipfix_timestamp_from_ntp(again);
        assert_int_equal(b.seconds, a.seconds);
        assert_int_equal(b.nanoseconds, a.nanoseconds);
        assert_int_equal(ipfix_timestamp_to_ntp(b), again);
    }
    /* The largest fractions round up into the next second. */
    ipfix_timestamp c = ipfix_timestamp_from_ntp(ntp(IPFIX_NTP_UNIX_OFFSET, 0xffffffffu));
    assert_int_equal(c.seconds, 1);
    assert_int_equal(c.nanoseconds, 0);
    c = ipfix_timestamp_from_ntp(ntp(IPFIX_NTP_UNIX_OFFSET, 0xfffffffdu)); /* 999999999.3 ns */
    assert_int_equal(c.seconds, 0);
    assert_int_equal(c.nanoseconds, 999999999);
    /* Carry across the era boundary stays in the window. */
    c = ipfix_timestamp_from_ntp(ntp(0xffffffffu, 0xffffffffu));
    assert_int_equal(c.seconds, 4294967296ll - IPFIX_NTP_UNIX_OFFSET);
}

static void test_date_time_nanoseconds(void **state) {
    (void)state;
    uint8_t buf[8];
    ipfix_value in = make_time(IPFIX_TYPE_DATE_TIME_NANOSECONDS, 0, 0);
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_OK);
    const uint8_t epoch[] = {0x83, 0xaa, 0x7e, 0x80, 0, 0, 0, 0}; /* 2208988800 */
    assert_memory_equal(buf, epoch, 8);
    in.v.time.nanoseconds = 500000000;
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_OK);
    assert_int_equal(ipfix_get_u32(buf + 4), 0x80000000u);
    const uint32_t ns_values[] = {0, 1, 2, 3, 232, 233, 499999999, 500000000, 999999998,
                                  999999999};
    for (size_t i = 0; i < sizeof ns_values / sizeof ns_values[0]; i++) {
        in = make_time(IPFIX_TYPE_DATE_TIME_NANOSECONDS, 1700000000, ns_values[i]);
        ipfix_value out = round_trip(&in, 8);
        assert_int_equal(out.v.time.seconds, 1700000000);
        assert_int_equal(out.v.time.nanoseconds, ns_values[i]);
    }
    in = make_time(IPFIX_TYPE_DATE_TIME_NANOSECONDS, -1, 0);
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_ERR_RANGE);
}

/* RFC 7011 §6.1.9: microsecond precision, the low 11 fraction bits ignored. */
static void test_date_time_microseconds(void **state) {
    (void)state;
    ipfix_value in = make_time(IPFIX_TYPE_DATE_TIME_MICROSECONDS, 1700000000, 0);
    uint8_t buf[8];
    for (uint32_t us = 0; us < 1000000u; us++) {
        in.v.time.nanoseconds = us * 1000u;
        assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_OK);
        assert_int_equal(buf[7], 0); /* bottom 11 bits SHOULD be zero */
        assert_int_equal(buf[6] & 0x07, 0);
        ipfix_value out;
        assert_int_equal(ipfix_value_decode(IPFIX_TYPE_DATE_TIME_MICROSECONDS, buf, 8, &out, NULL),
                         IPFIX_OK);
        if (out.v.time.nanoseconds != us * 1000u || out.v.time.seconds != 1700000000)
            fail_msg("us %u -> %lld.%09u", us, (long long)out.v.time.seconds,
                     out.v.time.nanoseconds);
    }
    /* Sub-microsecond nanoseconds are truncated. */
    in.v.time.nanoseconds = 999999999;
    ipfix_value out = round_trip(&in, 8);
    assert_int_equal(out.v.time.seconds, 1700000000);
    assert_int_equal(out.v.time.nanoseconds, 999999000);
    /* The low 11 bits do not change the decoded value. */
    const uint64_t base = ntp(IPFIX_NTP_UNIX_OFFSET + 7, 0x12345000u);
    ipfix_value ref;
    ipfix_put_u64(buf, base);
    assert_int_equal(decode_exact(IPFIX_TYPE_DATE_TIME_MICROSECONDS, buf, 8, &ref, NULL), IPFIX_OK);
    for (uint32_t low = 1; low < 0x800; low += 0x7f) {
        ipfix_put_u64(buf, base | low);
        assert_int_equal(decode_exact(IPFIX_TYPE_DATE_TIME_MICROSECONDS, buf, 8, &out, NULL),
                         IPFIX_OK);
        assert_int_equal(out.v.time.seconds, ref.v.time.seconds);
        assert_int_equal(out.v.time.nanoseconds, ref.v.time.nanoseconds);
    }
    assert_int_equal(ref.v.time.nanoseconds % 1000, 0);
    /* Fraction all ones: 999999.5 us rounds into the next second. */
    ipfix_put_u64(buf, ntp(IPFIX_NTP_UNIX_OFFSET, 0xffffffffu));
    assert_int_equal(decode_exact(IPFIX_TYPE_DATE_TIME_MICROSECONDS, buf, 8, &out, NULL), IPFIX_OK);
    assert_int_equal(out.v.time.seconds, 1);
    assert_int_equal(out.v.time.nanoseconds, 0);
    /* Epoch and era boundary as for nanoseconds. */
    in = make_time(IPFIX_TYPE_DATE_TIME_MICROSECONDS, 0, 0);
    assert_int_equal(round_trip(&in, 8).v.time.seconds, 0);
    in.v.time.seconds = 4294967296ll - IPFIX_NTP_UNIX_OFFSET;
    assert_int_equal(ipfix_value_encode(&in, buf, 8), IPFIX_OK);
    assert_int_equal(ipfix_get_u64(buf), 0);
    assert_int_equal(round_trip(&in, 8).v.time.seconds, in.v.time.seconds);
}

/* ------------------------------------------------ octetArray, string, lists */

static void test_octet_array(void **state) {
    (void)state;
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7);
    const size_t lengths[] = {0, 1, 254, 255, 300};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        ipfix_value in = {.type = IPFIX_TYPE_OCTET_ARRAY};
        in.v.bytes.data = data;
        in.v.bytes.length = lengths[i];
        uint8_t buf[300];
        assert_int_equal(ipfix_value_encode(&in, buf, lengths[i]), IPFIX_OK);
        ipfix_value out;
        assert_int_equal(ipfix_value_decode(IPFIX_TYPE_OCTET_ARRAY, buf, lengths[i], &out, NULL),
                         IPFIX_OK);
        assert_ptr_equal(out.v.bytes.data, buf); /* a view, not a copy */
        assert_int_equal(out.v.bytes.length, lengths[i]);
        if (lengths[i]) assert_memory_equal(buf, data, lengths[i]);
    }
    /* encode needs the length to match the value. */
    ipfix_value in = {.type = IPFIX_TYPE_OCTET_ARRAY};
    in.v.bytes.data = data;
    in.v.bytes.length = 4;
    uint8_t buf[8];
    assert_int_equal(ipfix_value_encode(&in, buf, 5), IPFIX_ERR_INVALID_ARG);
    in.v.bytes.data = NULL;
    assert_int_equal(ipfix_value_encode(&in, buf, 4), IPFIX_ERR_INVALID_ARG);
}

static void test_string(void **state) {
    (void)state;
    const char *valid[] = {"", "flow", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80",
                           "nul\0inside"};
    const size_t valid_len[] = {0, 4, 5, 5, 4, 10};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        ipfix_value in = {.type = IPFIX_TYPE_STRING};
        in.v.bytes.data = (const uint8_t *)valid[i];
        in.v.bytes.length = valid_len[i];
        ipfix_value out = round_trip(&in, valid_len[i]);
        assert_int_equal(out.v.bytes.length, valid_len[i]);
    }
    /* RFC 7011 §6.1.6: ill-formed UTF-8 is detected. */
    const char *invalid[] = {"\xff", "caf\xc3", "\xc0\x80", "\xed\xa0\x80", "a\x80z"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        size_t n = strlen(invalid[i]);
        ipfix_value out;
        ipfix_error err;
        ipfix_error_clear(&err);
        assert_int_equal(decode_exact(IPFIX_TYPE_STRING, (const uint8_t *)invalid[i], n, &out, &err),
                         IPFIX_ERR_MALFORMED);
        assert_non_null(strstr(err.rule, "UTF-8"));
        /* ... but the same bytes are a fine octetArray. */
        assert_int_equal(
            decode_exact(IPFIX_TYPE_OCTET_ARRAY, (const uint8_t *)invalid[i], n, &out, NULL),
            IPFIX_OK);
        /* and an Exporter MUST NOT send them. */
        ipfix_value in = {.type = IPFIX_TYPE_STRING};
        in.v.bytes.data = (const uint8_t *)invalid[i];
        in.v.bytes.length = n;
        uint8_t buf[16];
        assert_int_equal(ipfix_value_encode(&in, buf, n), IPFIX_ERR_INVALID_ARG);
    }
}

static void test_list_types_as_bytes(void **state) {
    (void)state;
    const uint8_t basic[] = {3, 0x00, 0x07, 0x00, 0x02, 0x00, 0x50};
    const uint8_t stl[] = {4, 0x01, 0x00};
    const uint8_t stml[] = {0xff};
    const struct {
        ipfix_type type;
        const uint8_t *p;
        size_t n;
    } cases[] = {{IPFIX_TYPE_BASIC_LIST, basic, sizeof basic},
                 {IPFIX_TYPE_SUB_TEMPLATE_LIST, stl, sizeof stl},
                 {IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST, stml, sizeof stml}};
    for (size_t i = 0; i < 3; i++) {
        ipfix_value in = {.type = cases[i].type};
        in.v.bytes.data = cases[i].p;
        in.v.bytes.length = cases[i].n;
        ipfix_value out = round_trip(&in, cases[i].n);
        assert_int_equal(out.v.bytes.length, cases[i].n);
        assert_non_null(out.v.bytes.data);
        /* Shorter than the list header (RFC 6313 §4.5): malformed. */
        for (size_t n = 0; !expected_length_valid(cases[i].type, (unsigned)n); n++)
            assert_int_equal(decode_exact(cases[i].type, cases[i].p, n, &out, NULL),
                             IPFIX_ERR_MALFORMED);
    }
}

/* -------------------------------------------------------------------- UTF-8 */

/* Reference decoder, written from the definition of RFC 3629 §3: decode any
 * lead byte's sequence, then reject overlongs, surrogates and > U+10FFFF. */
static bool utf8_reference(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= extra) return false; /* truncated */
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[extra]) return false;             /* overlong */
        if (cp >= 0xd800 && cp <= 0xdfff) return false;   /* surrogate */
        if (cp > 0x10ffff) return false;                  /* beyond Unicode */
        i += extra + 1;
    }
    return true;
}

static void check_utf8(const char *s, size_t n, bool want) {
    uint8_t *copy = dup_exact((const uint8_t *)s, n);
    if (ipfix_utf8_valid(copy, n) != want) {
        char hex[64] = "";
        for (size_t i = 0; i < n && i < 16; i++)
            snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02x ", copy[i]);
        fail_msg("utf8 [%s] expected %s", hex, want ? "valid" : "invalid");
    }
    free(copy);
}

#define UTF8_OK(lit) check_utf8(lit, sizeof(lit) - 1, true)
#define UTF8_BAD(lit) check_utf8(lit, sizeof(lit) - 1, false)

static void test_utf8_cases(void **state) {
    (void)state;
    UTF8_OK("");
    UTF8_OK("plain ASCII \x01\x7f");
    UTF8_OK("\x00");
    UTF8_OK("\xc2\x80");             /* U+0080 */
    UTF8_OK("\xdf\xbf");             /* U+07FF */
    UTF8_OK("\xe0\xa0\x80");         /* U+0800 */
    UTF8_OK("\xed\x9f\xbf");         /* U+D7FF */
    UTF8_OK("\xee\x80\x80");         /* U+E000 */
    UTF8_OK("\xef\xbf\xbf");         /* U+FFFF */
    UTF8_OK("\xf0\x90\x80\x80");     /* U+10000 */
    UTF8_OK("\xf4\x8f\xbf\xbf");     /* U+10FFFF */
    UTF8_OK("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
    /* overlong encodings */
    UTF8_BAD("\xc0\x80");
    UTF8_BAD("\xc0\xaf");
    UTF8_BAD("\xc1\xbf");
    UTF8_BAD("\xe0\x80\x80");
    UTF8_BAD("\xe0\x9f\xbf");
    UTF8_BAD("\xf0\x80\x80\x80");
    UTF8_BAD("\xf0\x8f\xbf\xbf");
    /* surrogates */
    UTF8_BAD("\xed\xa0\x80");        /* U+D800 */
    UTF8_BAD("\xed\xbf\xbf");        /* U+DFFF */
    UTF8_BAD("\xed\xa0\xbd\xed\xb8\x80"); /* CESU-8 pair */
    /* beyond U+10FFFF */
    UTF8_BAD("\xf4\x90\x80\x80");
    UTF8_BAD("\xf5\x80\x80\x80");
    UTF8_BAD("\xf7\xbf\xbf\xbf");
    UTF8_BAD("\xf8\x88\x80\x80\x80");
    UTF8_BAD("\xfc\x84\x80\x80\x80\x80");
    UTF8_BAD("\xfe");
    UTF8_BAD("\xff");
    /* truncated sequences */
    UTF8_BAD("\xc2");
    UTF8_BAD("\xe0\xa0");
    UTF8_BAD("\xe2");
    UTF8_BAD("\xf0\x90\x80");
    UTF8_BAD("\xf0\x90");
    UTF8_BAD("\xf0");
    UTF8_BAD("ok\xe2\x82");
    /* lone and misplaced continuation bytes */
    UTF8_BAD("\x80");
    UTF8_BAD("\xbf");
    UTF8_BAD("a\x80");
    UTF8_BAD("\xc2\x41");
    UTF8_BAD("\xe1\x80\x41");
    UTF8_BAD("\xf1\x80\x80\xc0");
    UTF8_BAD("\xc2\xc2\x80");
}

/* Agreement with the reference decoder on every 1-, 2- and 3-byte input and
 * on every 4-byte input whose last two bytes are sampled. */
static void test_utf8_exhaustive(void **state) {
    (void)state;
    uint8_t s[4];
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        assert_int_equal(ipfix_utf8_valid(s, 1), utf8_reference(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            assert_int_equal(ipfix_utf8_valid(s, 2), utf8_reference(s, 2));
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (uint8_t)c;
                if (ipfix_utf8_valid(s, 3) != utf8_reference(s, 3))
                    fail_msg("%02x %02x %02x", a, b, c);
                if (a < 0xf0 || a > 0xf7) continue;
                static const uint8_t d_values[] = {0x00, 0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf,
                                                   0xc0, 0xf4, 0xff};
                for (size_t d = 0; d < sizeof d_values; d++) {
                    s[3] = d_values[d];
                    if (ipfix_utf8_valid(s, 4) != utf8_reference(s, 4))
                        fail_msg("%02x %02x %02x %02x", a, b, c, s[3]);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ varlen */

static void test_varlen_encode(void **state) {
    (void)state;
    uint8_t buf[4];
    const struct {
        size_t length;
        size_t prefix;
        uint8_t bytes[3];
    } cases[] = {{0, 1, {0}},
                 {1, 1, {1}},
                 {254, 1, {254}},
                 {255, 3, {255, 0, 255}},
                 {256, 3, {255, 1, 0}},
                 {65535, 3, {255, 0xff, 0xff}}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(buf, 0xee, sizeof buf);
        assert_int_equal(ipfix_varlen_encode(buf, sizeof buf, cases[i].length), cases[i].prefix);
        assert_memory_equal(buf, cases[i].bytes, cases[i].prefix);
        assert_int_equal(buf[cases[i].prefix], 0xee);
        /* exactly enough room, and one byte too little */
        assert_int_equal(ipfix_varlen_encode(buf, cases[i].prefix, cases[i].length),
                         cases[i].prefix);
        assert_int_equal(ipfix_varlen_encode(buf, cases[i].prefix - 1, cases[i].length), 0);
    }
    assert_int_equal(ipfix_varlen_encode(buf, sizeof buf, 65536), 0);
    assert_int_equal(ipfix_varlen_encode(buf, sizeof buf, SIZE_MAX), 0);
}

static void test_varlen_decode(void **state) {
    (void)state;
    const size_t lengths[] = {0, 1, 254, 255, 256, 65535};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t len = lengths[i];
        uint8_t *buf = malloc(len + 3);
        assert_non_null(buf);
        size_t prefix = ipfix_varlen_encode(buf, 3, len);
        memset(buf + prefix, 0x33, len);
        size_t total = prefix + len;
        size_t got_prefix = 99, got_len = 99;
        assert_int_equal(ipfix_varlen_decode(buf, total, &got_prefix, &got_len), IPFIX_OK);
        assert_int_equal(got_prefix, prefix);
        assert_int_equal(got_len, len);
        /* more data after the value is fine */
        assert_int_equal(ipfix_varlen_decode(buf, total + 3 - prefix, &got_prefix, &got_len),
                         IPFIX_OK);
        /* every truncation, of the prefix or of the value, is reported */
        for (size_t avail = 0; avail < total; avail = avail < 300 ? avail + 1 : avail + 997) {
            uint8_t *cut = dup_exact(buf, avail);
            assert_int_equal(ipfix_varlen_decode(cut, avail, &got_prefix, &got_len),
                             IPFIX_ERR_TRUNCATED);
            free(cut);
        }
        size_t short_len = total > 0 ? total - 1 : 0; /* total >= 1 */
        uint8_t *cut = dup_exact(buf, short_len);
        assert_int_equal(ipfix_varlen_decode(cut, short_len, &got_prefix, &got_len),
                         IPFIX_ERR_TRUNCATED);
        free(cut);
        free(buf);
    }
    /* RFC 6313 §5.1: the 3-byte form is allowed (recommended) below 255. */
    const uint8_t three[] = {255, 0, 2, 'h', 'i'};
    size_t p, l;
    assert_int_equal(ipfix_varlen_decode(three, sizeof three, &p, &l), IPFIX_OK);
    assert_int_equal(p, 3);
    assert_int_equal(l, 2);
    const uint8_t zero3[] = {255, 0, 0};
    assert_int_equal(ipfix_varlen_decode(zero3, sizeof zero3, &p, &l), IPFIX_OK);
    assert_int_equal(p, 3);
    assert_int_equal(l, 0);
    /* Truncated 3-byte prefixes. */
    const uint8_t ff[] = {255, 0};
    assert_int_equal(ipfix_varlen_decode(ff, 1, &p, &l), IPFIX_ERR_TRUNCATED);
    assert_int_equal(ipfix_varlen_decode(ff, 2, &p, &l), IPFIX_ERR_TRUNCATED);
    assert_int_equal(ipfix_varlen_decode(NULL, 0, &p, &l), IPFIX_ERR_TRUNCATED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_lengths),
        cmocka_unit_test(test_length_valid_table),
        cmocka_unit_test(test_invalid_lengths_rejected),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_unsigned_all_reduced_sizes),
        cmocka_unit_test(test_unsigned_wire_format),
        cmocka_unit_test(test_inline_readers),
        cmocka_unit_test(test_signed_all_reduced_sizes),
        cmocka_unit_test(test_signed_sign_extension),
        cmocka_unit_test(test_unsigned256),
        cmocka_unit_test(test_float32),
        cmocka_unit_test(test_float64),
        cmocka_unit_test(test_float64_reduced),
        cmocka_unit_test(test_boolean),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_date_time_seconds),
        cmocka_unit_test(test_date_time_milliseconds),
        cmocka_unit_test(test_ntp_era),
        cmocka_unit_test(test_ntp_nanoseconds_exhaustive),
        cmocka_unit_test(test_ntp_fraction_stable),
        cmocka_unit_test(test_date_time_nanoseconds),
        cmocka_unit_test(test_date_time_microseconds),
        cmocka_unit_test(test_octet_array),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_list_types_as_bytes),
        cmocka_unit_test(test_utf8_cases),
        cmocka_unit_test(test_utf8_exhaustive),
        cmocka_unit_test(test_varlen_encode),
        cmocka_unit_test(test_varlen_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
