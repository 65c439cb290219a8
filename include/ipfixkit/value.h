/*
 * value.h — encoding and decoding of the abstract data types (RFC 7011 §6).
 *
 * Values are decoded from field bytes that stay in the caller's buffer:
 * octetArray, string and the structured-data types (RFC 6313) decode to a
 * (pointer, length) view into the field, never a copy. Integers and float64
 * accept reduced-size encoding (RFC 7011 §6.2); timestamps are returned as
 * seconds + nanoseconds since the Unix epoch, converting the NTP format of
 * dateTimeMicroseconds/Nanoseconds (RFC 7011 §6.1.9–10).
 *
 * The inline readers at the end are for hot paths that already know a
 * field's type and length from a compiled template.
 */
#ifndef IPFIXKIT_VALUE_H
#define IPFIXKIT_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "infomodel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_VARLEN 65535u /* field length meaning "variable" (RFC 7011 §7) */

/* Seconds between the NTP era-0 epoch (1900) and the Unix epoch (1970). */
#define IPFIX_NTP_UNIX_OFFSET 2208988800u

typedef struct ipfix_timestamp {
    int64_t seconds;       /* since 1970-01-01T00:00:00Z */
    uint32_t nanoseconds;  /* 0..999999999 */
} ipfix_timestamp;

typedef struct ipfix_bytes {
    const uint8_t *data;
    size_t length;
} ipfix_bytes;

typedef struct ipfix_value {
    ipfix_type type;
    union {
        uint64_t u64;          /* unsigned8..64 */
        int64_t i64;           /* signed8..64 */
        double f64;            /* float32 (widened), float64 */
        bool boolean;
        uint8_t mac[6];
        uint8_t ipv4[4];       /* network byte order */
        uint8_t ipv6[16];
        uint8_t u256[32];      /* unsigned256, big-endian, left-padded */
        ipfix_timestamp time;  /* dateTime* */
        ipfix_bytes bytes;     /* octetArray, string, basicList, subTemplate(Multi)List */
    } v;
} ipfix_value;

/* The encoded length a type has when not reduced (1,2,4,8,16,32,6), or
 * IPFIX_VARLEN for octetArray, string and the list types. */
uint16_t ipfix_type_default_length(ipfix_type type);

/* May a field of `type` have this length in a template? (reduced-size rules
 * of RFC 7011 §6.2; IPFIX_VARLEN only for octetArray/string/lists; octetArray
 * and string accept any fixed length; a fixed-length list at least its
 * RFC 6313 header: basicList 5, subTemplateList 3, subTemplateMultiList 1). */
bool ipfix_type_length_valid(ipfix_type type, uint16_t length);

/* Decode `length` bytes at `field` as `type`. Rejects lengths the type cannot
 * have, booleans other than 1/2 (RFC 7011 §6.1.5) and, for strings, invalid
 * UTF-8 (RFC 7373 / RFC 7011 §6.1.6). `err` may be NULL; its offset is 0. */
ipfix_status ipfix_value_decode(ipfix_type type, const uint8_t *field, size_t length,
                                ipfix_value *out, ipfix_error *err);

/* Encode `value` into exactly `length` bytes at `out`. Integers are reduced
 * when length is smaller than the native size; IPFIX_ERR_RANGE if the value
 * does not fit. float64 encodes to 4 bytes as float32. Variable-length types
 * copy `length` bytes (must equal value->v.bytes.length). */
ipfix_status ipfix_value_encode(const ipfix_value *value, uint8_t *out, size_t length);

/* Variable-length prefix (RFC 7011 §7): 1 byte for < 255, else 255 + 2 bytes.
 * encode returns the prefix size written (1 or 3), 0 if out_size is too
 * small or length > 65535. decode checks the prefix and the value fit in
 * `available` bytes. */
size_t ipfix_varlen_encode(uint8_t *out, size_t out_size, size_t length);
ipfix_status ipfix_varlen_decode(const uint8_t *in, size_t available, size_t *prefix_size,
                                 size_t *value_length);

/* UTF-8 validity (no overlongs, no surrogates, max U+10FFFF). */
bool ipfix_utf8_valid(const uint8_t *s, size_t length);

/* Timestamp conversions for the four dateTime types; wire bytes in network
 * order. The NTP forms are used by micro- and nanoseconds. The NTP era is
 * implicit (RFC 7011 §5.2): from_ntp maps NTP seconds >= 2208988800 to era 0
 * (1970..2036-02-07) and smaller ones to era 1 (2036-02-07T06:28:16Z..2106),
 * the same window as dateTimeSeconds; to_ntp takes seconds modulo 2^32.
 * Both round to the nearest unit, so from_ntp(to_ntp(ts)) == ts for every
 * nanosecond value. dateTimeMicroseconds ignores the low 11 fraction bits
 * (§6.1.9) and decodes to whole microseconds; encoding dateTime* values
 * before 1970 is IPFIX_ERR_RANGE. */
ipfix_timestamp ipfix_timestamp_from_ntp(uint64_t ntp);
uint64_t ipfix_timestamp_to_ntp(ipfix_timestamp ts);

/* ---- inline big-endian readers for hot paths ---- */
static inline uint16_t ipfix_get_u16(const uint8_t *p) {
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t ipfix_get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}
static inline uint64_t ipfix_get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}
static inline void ipfix_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void ipfix_put_u32(uint8_t *p, uint32_t v) {
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
}
static inline void ipfix_put_u64(uint8_t *p, uint64_t v) {
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}
/* Unsigned integer of 1..8 bytes (reduced-size aware). */
static inline uint64_t ipfix_get_unsigned(const uint8_t *p, size_t length) {
    switch (length) {
    case 1: return p[0];
    case 2: return ipfix_get_u16(p);
    case 4: return ipfix_get_u32(p);
    case 8: return ipfix_get_u64(p);
    default: {
        uint64_t v = 0;
        for (size_t i = 0; i < length && i < 8; i++) v = v << 8 | p[i];
        return v;
    }
    }
}

#ifdef __cplusplus
}
#endif
#endif
