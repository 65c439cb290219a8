/*
 * value.c — the abstract data type codec (RFC 7011 §6, RFC 6313 §4.1):
 * legal field lengths per type, decoding field bytes into an ipfix_value and
 * back, the variable-length prefix (RFC 7011 §7), UTF-8 validation for
 * strings and the NTP timestamp conversions of dateTimeMicro/Nanoseconds.
 */
#include "ipfixkit/value.h"

#include <math.h>

#define NS_PER_SEC 1000000000u
#define US_PER_SEC 1000000u
#define MS_PER_SEC 1000u

/* RFC 7011 §6.1.9: the bottom 11 bits of a dateTimeMicroseconds fraction
 * SHOULD be zero and MUST be ignored. */
#define NTP_MICRO_FRACTION_MASK (~(uint64_t)0x7ff)

/* Shortest encoding of each list type: its header (RFC 6313 §4.5.1–4.5.3). */
#define BASIC_LIST_HEADER_MIN 5u
#define SUB_TEMPLATE_LIST_HEADER 3u
#define SUB_TEMPLATE_MULTI_LIST_HEADER 1u

/* ---------------------------------------------------------------- lengths */

uint16_t ipfix_type_default_length(ipfix_type type) {
    switch (type) {
    case IPFIX_TYPE_UNSIGNED8:
    case IPFIX_TYPE_SIGNED8:
    case IPFIX_TYPE_BOOLEAN: return 1;
    case IPFIX_TYPE_UNSIGNED16:
    case IPFIX_TYPE_SIGNED16: return 2;
    case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_FLOAT32:
    case IPFIX_TYPE_DATE_TIME_SECONDS:
    case IPFIX_TYPE_IPV4_ADDRESS: return 4;
    case IPFIX_TYPE_UNSIGNED64:
    case IPFIX_TYPE_SIGNED64:
    case IPFIX_TYPE_FLOAT64:
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS: return 8;
    case IPFIX_TYPE_MAC_ADDRESS: return 6;
    case IPFIX_TYPE_IPV6_ADDRESS: return 16;
    case IPFIX_TYPE_UNSIGNED256: return 32;
    case IPFIX_TYPE_OCTET_ARRAY:
    case IPFIX_TYPE_STRING:
    case IPFIX_TYPE_BASIC_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST: return IPFIX_VARLEN;
    case IPFIX_TYPE_COUNT: break;
    }
    return 0;
}

static bool type_is_integral(ipfix_type type) {
    return (type >= IPFIX_TYPE_UNSIGNED8 && type <= IPFIX_TYPE_SIGNED64) ||
           type == IPFIX_TYPE_UNSIGNED256;
}

static size_t list_header_min(ipfix_type type) {
    switch (type) {
    case IPFIX_TYPE_BASIC_LIST: return BASIC_LIST_HEADER_MIN;
    case IPFIX_TYPE_SUB_TEMPLATE_LIST: return SUB_TEMPLATE_LIST_HEADER;
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST: return SUB_TEMPLATE_MULTI_LIST_HEADER;
    default: return 0;
    }
}

/* The same rule as ipfix_type_length_valid for an actual field length (which
 * for variable-length fields may be anything up to 65535). */
static bool length_valid(ipfix_type type, size_t length) {
    switch (type) {
    case IPFIX_TYPE_OCTET_ARRAY:
    case IPFIX_TYPE_STRING:
        /* RFC 7011 §6.2: octetArray and string may have any length. */
        return true;
    case IPFIX_TYPE_BASIC_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST:
        /* RFC 6313 §4.5: even an empty list carries its header. */
        return length >= list_header_min(type);
    case IPFIX_TYPE_FLOAT64:
        /* RFC 7011 §6.2: float64 may be reduced to float32. */
        return length == 8 || length == 4;
    default:
        if ((unsigned)type >= IPFIX_TYPE_COUNT) return false;
        /* RFC 7011 §6.2: integers may drop leading octets (1..N bytes);
         * every other fixed-length type has exactly its size. */
        if (type_is_integral(type)) return length >= 1 && length <= ipfix_type_default_length(type);
        return length == ipfix_type_default_length(type);
    }
}

bool ipfix_type_length_valid(ipfix_type type, uint16_t length) {
    if (length == IPFIX_VARLEN) return ipfix_type_default_length(type) == IPFIX_VARLEN;
    return length_valid(type, length);
}

/* ------------------------------------------------------------- timestamps */

/*
 * NTP era (RFC 7011 §5.2, RFC 5905 §6): the wire carries only 32 bits of
 * seconds since 1900, so the era is implicit. We take the Unix epoch as the
 * pivot: NTP seconds >= 2208988800 are era 0 (1970-01-01 .. 2036-02-07),
 * smaller values are era 1 (2036-02-07T06:28:16Z .. 2106-02-07). The window
 * is the same as dateTimeSeconds' (RFC 7011 §6.1.7), and no IPFIX timestamp
 * predates 1970. Encoding takes Unix seconds modulo 2^32 (same window).
 */
ipfix_timestamp ipfix_timestamp_from_ntp(uint64_t ntp) {
    uint32_t ntp_seconds = (uint32_t)(ntp >> 32);
    uint64_t fraction = ntp & 0xffffffffu;
    ipfix_timestamp ts;
    ts.seconds = (int64_t)ntp_seconds - IPFIX_NTP_UNIX_OFFSET;
    if (ntp_seconds < IPFIX_NTP_UNIX_OFFSET) ts.seconds += (int64_t)1 << 32; /* era 1 */
    /* Round to the nearest nanosecond so that from_ntp(to_ntp(ns)) == ns for
     * every ns: one fraction unit is ~0.233 ns, so rounding both ways never
     * moves by more than 0.12 ns. Fractions above 1 - 0.5 ns round up to
     * the next second. */
    uint64_t ns = (fraction * NS_PER_SEC + ((uint64_t)1 << 31)) >> 32;
    if (ns >= NS_PER_SEC) {
        ns -= NS_PER_SEC;
        ts.seconds++;
    }
    ts.nanoseconds = (uint32_t)ns;
    return ts;
}

/* Unix seconds (with any whole seconds held in `nanoseconds`) to the 32-bit
 * NTP seconds of the implicit era: modulo 2^32, in unsigned arithmetic. */
static uint32_t ntp_seconds_of(ipfix_timestamp ts) {
    return (uint32_t)((uint64_t)ts.seconds + ts.nanoseconds / NS_PER_SEC + IPFIX_NTP_UNIX_OFFSET);
}

uint64_t ipfix_timestamp_to_ntp(ipfix_timestamp ts) {
    uint64_t ns = ts.nanoseconds % NS_PER_SEC;
    uint32_t ntp_seconds = ntp_seconds_of(ts);
    /* Nearest fraction; at most 2^32 - 4 for 999999999 ns, so no carry. */
    uint64_t fraction = ((ns << 32) + NS_PER_SEC / 2) / NS_PER_SEC;
    return (uint64_t)ntp_seconds << 32 | fraction;
}

/* dateTimeMicroseconds: round the ignored bits away (RFC 7011 §6.1.9). The
 * masked fraction is at most 0.477 us below the true one, so rounding to the
 * nearest microsecond recovers what the exporter meant. */
static ipfix_timestamp micro_from_ntp(uint64_t ntp) {
    uint64_t fraction = ntp & 0xffffffffu & NTP_MICRO_FRACTION_MASK;
    ipfix_timestamp ts = ipfix_timestamp_from_ntp(ntp & ~(uint64_t)0xffffffffu);
    uint64_t us = (fraction * US_PER_SEC + ((uint64_t)1 << 31)) >> 32;
    if (us >= US_PER_SEC) {
        us -= US_PER_SEC;
        ts.seconds++;
    }
    ts.nanoseconds = (uint32_t)us * 1000u;
    return ts;
}

/* Truncate to the microsecond, take the nearest fraction, clear the low 11
 * bits: micro_from_ntp(micro_to_ntp(ts)) is ts truncated to microseconds. */
static uint64_t micro_to_ntp(ipfix_timestamp ts) {
    uint64_t us = (ts.nanoseconds % NS_PER_SEC) / 1000u;
    uint32_t ntp_seconds = ntp_seconds_of(ts);
    uint64_t fraction = ((us << 32) + US_PER_SEC / 2) / US_PER_SEC;
    return (uint64_t)ntp_seconds << 32 | (fraction & NTP_MICRO_FRACTION_MASK);
}

/* ------------------------------------------------------------------ UTF-8 */

/* RFC 3629 §4 (required by RFC 7011 §6.1.6): the well-formed byte sequences.
 * The second-byte ranges exclude overlongs (E0, F0), surrogates (ED) and
 * code points above U+10FFFF (F4). */
bool ipfix_utf8_valid(const uint8_t *s, size_t length) {
    size_t i = 0;
    while (i < length) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, F5..FF */
        }
        if (length - i <= need) return false; /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80) return false;
        i += need + 1;
    }
    return true;
}

/* -------------------------------------------------------- varlen prefixes */

size_t ipfix_varlen_encode(uint8_t *out, size_t out_size, size_t length) {
    if (length > 65535u) return 0;
    if (length < 255u) { /* RFC 7011 §7, Figure R */
        if (out_size < 1) return 0;
        out[0] = (uint8_t)length;
        return 1;
    }
    if (out_size < 3) return 0; /* RFC 7011 §7, Figure S */
    out[0] = 255;
    ipfix_put_u16(out + 1, (uint16_t)length);
    return 3;
}

ipfix_status ipfix_varlen_decode(const uint8_t *in, size_t available, size_t *prefix_size,
                                 size_t *value_length) {
    if (available < 1) return IPFIX_ERR_TRUNCATED;
    size_t prefix = 1, length = in[0];
    if (length == 255) {
        /* RFC 7011 §7: 255 announces a 2-byte length. RFC 6313 §5.1
         * recommends this form even below 255, so it is not rejected. */
        if (available < 3) return IPFIX_ERR_TRUNCATED;
        prefix = 3;
        length = ipfix_get_u16(in + 1);
    }
    if (available - prefix < length) return IPFIX_ERR_TRUNCATED;
    *prefix_size = prefix;
    *value_length = length;
    return IPFIX_OK;
}

/* --------------------------------------------------------------- decoding */

static ipfix_status decode_error_length(ipfix_type type, size_t length, ipfix_error *err) {
    return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                           "RFC 7011 §6.2: field length not allowed for its data type",
                           "type %u, length %zu", (unsigned)type, length);
}

static int64_t sign_extend(uint64_t v, size_t length) {
    if (length < 8) {
        uint64_t sign = (uint64_t)1 << (length * 8 - 1);
        v = (v ^ sign) - sign; /* two's complement of the narrower width */
    }
    return (int64_t)v;
}

static double get_float32(const uint8_t *p) {
    uint32_t bits = ipfix_get_u32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return (double)f;
}

static double get_float64(const uint8_t *p) {
    uint64_t bits = ipfix_get_u64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static ipfix_status decode_boolean(const uint8_t *field, ipfix_value *out, ipfix_error *err) {
    /* RFC 7011 §6.1.5: 1 is true, 2 is false, every other value undefined. */
    if (field[0] != 1 && field[0] != 2)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §6.1.5: boolean must be 1 (true) or 2 (false)",
                               "value %u", (unsigned)field[0]);
    out->v.boolean = field[0] == 1;
    return IPFIX_OK;
}

static ipfix_status decode_string(const uint8_t *field, size_t length, ipfix_value *out,
                                  ipfix_error *err) {
    if (!ipfix_utf8_valid(field, length))
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §6.1.6: string must be well-formed UTF-8",
                               "%zu bytes", length);
    out->v.bytes.data = field;
    out->v.bytes.length = length;
    return IPFIX_OK;
}

ipfix_status ipfix_value_decode(ipfix_type type, const uint8_t *field, size_t length,
                                ipfix_value *out, ipfix_error *err) {
    if (!out || (!field && length > 0))
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, NULL, "NULL field or value");
    if ((unsigned)type >= IPFIX_TYPE_COUNT)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, NULL, "unknown type %u",
                               (unsigned)type);
    if (!length_valid(type, length)) return decode_error_length(type, length, err);
    out->type = type;
    switch (type) {
    case IPFIX_TYPE_UNSIGNED8:
    case IPFIX_TYPE_UNSIGNED16:
    case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_UNSIGNED64: out->v.u64 = ipfix_get_unsigned(field, length); break;
    case IPFIX_TYPE_SIGNED8:
    case IPFIX_TYPE_SIGNED16:
    case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_SIGNED64:
        /* RFC 7011 §6.2: reduced-size signed values keep their sign. */
        out->v.i64 = sign_extend(ipfix_get_unsigned(field, length), length);
        break;
    case IPFIX_TYPE_UNSIGNED256:
        memset(out->v.u256, 0, sizeof out->v.u256 - length);
        memcpy(out->v.u256 + sizeof out->v.u256 - length, field, length);
        break;
    case IPFIX_TYPE_FLOAT32: out->v.f64 = get_float32(field); break;
    case IPFIX_TYPE_FLOAT64:
        out->v.f64 = length == 4 ? get_float32(field) : get_float64(field);
        break;
    case IPFIX_TYPE_BOOLEAN: return decode_boolean(field, out, err);
    case IPFIX_TYPE_MAC_ADDRESS: memcpy(out->v.mac, field, 6); break;
    case IPFIX_TYPE_IPV4_ADDRESS: memcpy(out->v.ipv4, field, 4); break;
    case IPFIX_TYPE_IPV6_ADDRESS: memcpy(out->v.ipv6, field, 16); break;
    case IPFIX_TYPE_DATE_TIME_SECONDS:
        out->v.time.seconds = ipfix_get_u32(field);
        out->v.time.nanoseconds = 0;
        break;
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS: {
        uint64_t ms = ipfix_get_u64(field);
        out->v.time.seconds = (int64_t)(ms / MS_PER_SEC);
        out->v.time.nanoseconds = (uint32_t)(ms % MS_PER_SEC) * 1000000u;
        break;
    }
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS: out->v.time = micro_from_ntp(ipfix_get_u64(field)); break;
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS:
        out->v.time = ipfix_timestamp_from_ntp(ipfix_get_u64(field));
        break;
    case IPFIX_TYPE_STRING: return decode_string(field, length, out, err);
    case IPFIX_TYPE_OCTET_ARRAY:
    case IPFIX_TYPE_BASIC_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST:
        out->v.bytes.data = field;
        out->v.bytes.length = length;
        break;
    case IPFIX_TYPE_COUNT: break; /* rejected by length_valid */
    }
    return IPFIX_OK;
}

/* --------------------------------------------------------------- encoding */

static void put_unsigned(uint8_t *out, size_t length, uint64_t v) {
    for (size_t i = length; i-- > 0; v >>= 8) out[i] = (uint8_t)v;
}

static ipfix_status encode_unsigned(uint64_t v, uint8_t *out, size_t length) {
    /* RFC 7011 §6.2: only leading zero octets may be dropped. */
    if (length < 8 && v >> (length * 8) != 0) return IPFIX_ERR_RANGE;
    put_unsigned(out, length, v);
    return IPFIX_OK;
}

static ipfix_status encode_signed(int64_t v, uint8_t *out, size_t length) {
    if (length < 8) {
        int64_t max = (int64_t)(((uint64_t)1 << (length * 8 - 1)) - 1);
        if (v > max || v < -max - 1) return IPFIX_ERR_RANGE;
    }
    put_unsigned(out, length, (uint64_t)v);
    return IPFIX_OK;
}

static ipfix_status encode_unsigned256(const uint8_t *u256, uint8_t *out, size_t length) {
    size_t drop = 32 - length;
    for (size_t i = 0; i < drop; i++)
        if (u256[i] != 0) return IPFIX_ERR_RANGE;
    memcpy(out, u256 + drop, length);
    return IPFIX_OK;
}

static ipfix_status encode_float(double d, uint8_t *out, size_t length) {
    if (length == 8) {
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        ipfix_put_u64(out, bits);
        return IPFIX_OK;
    }
    /* RFC 7011 §6.2: float64 reduced to float32 loses precision (accepted),
     * but a finite value must not silently become infinite. */
    float f = (float)d;
    if (isinf(f) && !isinf(d)) return IPFIX_ERR_RANGE;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    ipfix_put_u32(out, bits);
    return IPFIX_OK;
}

static ipfix_status encode_time(ipfix_type type, ipfix_timestamp ts, uint8_t *out) {
    /* Every dateTime type counts from 1970 (or, NTP, is read that way here). */
    if (ts.seconds < 0) return IPFIX_ERR_RANGE;
    switch (type) {
    case IPFIX_TYPE_DATE_TIME_SECONDS:
        /* RFC 7011 §5.2: exported modulo 2^32 past 2106. */
        ipfix_put_u32(out, (uint32_t)((uint64_t)ts.seconds + ts.nanoseconds / NS_PER_SEC));
        return IPFIX_OK;
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS: {
        uint64_t s = (uint64_t)ts.seconds + ts.nanoseconds / NS_PER_SEC;
        uint64_t ms = (ts.nanoseconds % NS_PER_SEC) / 1000000u;
        /* The whole unsigned64 range is usable (RFC 7011 §6.1.8). */
        if (s > UINT64_MAX / MS_PER_SEC || s * MS_PER_SEC > UINT64_MAX - ms) return IPFIX_ERR_RANGE;
        ipfix_put_u64(out, s * MS_PER_SEC + ms);
        return IPFIX_OK;
    }
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS: ipfix_put_u64(out, micro_to_ntp(ts)); return IPFIX_OK;
    default: ipfix_put_u64(out, ipfix_timestamp_to_ntp(ts)); return IPFIX_OK;
    }
}

static ipfix_status encode_bytes(const ipfix_value *value, uint8_t *out, size_t length) {
    if (value->v.bytes.length != length) return IPFIX_ERR_INVALID_ARG;
    if (length == 0) return IPFIX_OK;
    if (!value->v.bytes.data) return IPFIX_ERR_INVALID_ARG;
    /* RFC 7011 §6.1.6: Exporters MUST NOT send ill-formed UTF-8. */
    if (value->type == IPFIX_TYPE_STRING && !ipfix_utf8_valid(value->v.bytes.data, length))
        return IPFIX_ERR_INVALID_ARG;
    memmove(out, value->v.bytes.data, length);
    return IPFIX_OK;
}

ipfix_status ipfix_value_encode(const ipfix_value *value, uint8_t *out, size_t length) {
    if (!value || (!out && length > 0)) return IPFIX_ERR_INVALID_ARG;
    ipfix_type type = value->type;
    if (!length_valid(type, length)) return IPFIX_ERR_INVALID_ARG;
    switch (type) {
    case IPFIX_TYPE_UNSIGNED8:
    case IPFIX_TYPE_UNSIGNED16:
    case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_UNSIGNED64: return encode_unsigned(value->v.u64, out, length);
    case IPFIX_TYPE_SIGNED8:
    case IPFIX_TYPE_SIGNED16:
    case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_SIGNED64: return encode_signed(value->v.i64, out, length);
    case IPFIX_TYPE_UNSIGNED256: return encode_unsigned256(value->v.u256, out, length);
    case IPFIX_TYPE_FLOAT32:
    case IPFIX_TYPE_FLOAT64: return encode_float(value->v.f64, out, length);
    case IPFIX_TYPE_BOOLEAN: out[0] = value->v.boolean ? 1 : 2; return IPFIX_OK;
    case IPFIX_TYPE_MAC_ADDRESS: memcpy(out, value->v.mac, 6); return IPFIX_OK;
    case IPFIX_TYPE_IPV4_ADDRESS: memcpy(out, value->v.ipv4, 4); return IPFIX_OK;
    case IPFIX_TYPE_IPV6_ADDRESS: memcpy(out, value->v.ipv6, 16); return IPFIX_OK;
    case IPFIX_TYPE_DATE_TIME_SECONDS:
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS: return encode_time(type, value->v.time, out);
    case IPFIX_TYPE_OCTET_ARRAY:
    case IPFIX_TYPE_STRING:
    case IPFIX_TYPE_BASIC_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_LIST:
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST: return encode_bytes(value, out, length);
    case IPFIX_TYPE_COUNT: break;
    }
    return IPFIX_ERR_INVALID_ARG;
}
