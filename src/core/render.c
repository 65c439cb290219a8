/*
 * render.c — text and JSON rendering of records, templates and withdrawals
 * (see render.h for the output shapes and value rules).
 *
 * Hot path: a per-template render plan (key strings such as
 * "sourceIPv4Address=" or "\"sourceIPv4Address\":" and one formatter op per
 * field) is cached in the renderer, so rendering a record is one pass over
 * its fields with hand-written integer, address and time formatters and no
 * printf. The output buffer is grown by doubling and reused by the caller.
 * Dates are cached per day (civil-from-days runs once per new day, the time
 * of day is two divisions), registry names per field (last value seen).
 */
#include "ipfixkit/render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/structured.h"

enum { R_OK = 0, R_INVALID = 1, R_NOMEM = -1 };

/* How one field is formatted. */
typedef enum render_op {
    OP_UNSIGNED,
    OP_NAMED,      /* unsigned with an IANA registry: name in text */
    OP_TCP_FLAGS,  /* tcpControlBits in text (RFC 7125) */
    OP_SIGNED,
    OP_FLOAT32,
    OP_FLOAT64,
    OP_BOOLEAN,
    OP_MAC,
    OP_STRING,
    OP_OCTETS,
    OP_TIME,       /* the four dateTime types */
    OP_TIME_MS,    /* dateTimeMilliseconds, decoded inline */
    OP_IPV4,
    OP_IPV6,
    OP_U256,
    OP_BASIC_LIST,
    OP_SUB_TEMPLATE_LIST,
    OP_SUB_TEMPLATE_MULTI_LIST
} render_op;

typedef struct render_field {
    ipfix_field_spec spec;          /* copied from the template: plan validation */
    const ipfix_element *element;
    uint8_t op;                     /* render_op */
    uint8_t type;                   /* ipfix_type */
    uint16_t key_length;
    uint32_t key_offset;            /* into plan->keys */
    const struct name_table *names; /* OP_NAMED: names of values 0..255 */
} render_field;

/* Registry names of one element's values 0..255, looked up once. */
typedef struct name_table {
    uint16_t element_id;
    bool used;
    uint8_t lengths[256];           /* 0: no name */
    const char *names[256];
} name_table;

#define NAME_TABLES 8 /* elements with registries: 4, 136, 239, 304, ... */
#define KEY_COPY 32   /* keys up to this long are copied with one fixed-size copy */

typedef struct render_plan {
    const ipfix_template *tmpl;     /* cache key (borrowed, never dereferenced stale) */
    uint16_t id;
    uint16_t field_count;
    uint16_t scope_field_count;
    ipfix_template_field *snapshot; /* copy of tmpl->fields: validation by memcmp */
    char *keys;                     /* padded by KEY_COPY bytes */
    render_field fields[];
} render_plan;

#define PLAN_CACHE_MAX 65536u /* plans; past this the cache is emptied */

struct ipfix_renderer {
    ipfix_render_options options;
    char sep;                        /* ' ' or ',' between fields */
    render_plan **plans;             /* open addressing, keyed by template pointer */
    size_t plan_capacity;            /* power of two */
    size_t plan_count;
    /* date cache: "YYYY-MM-DDT" of the last day rendered */
    int64_t cached_day;
    char cached_date[32];
    size_t cached_date_length;
    /* current item */
    const ipfix_render_source *source;
    const ipfix_infomodel *model;
    size_t field_offset;             /* of the top-level field being rendered */
    ipfix_error *err;
    bool invalid_seen;
    /* element IDs whose values have IANA registry names (probed lazily) */
    uint8_t registry_probed[8192];
    uint8_t registry_has[8192];
    name_table name_tables[NAME_TABLES];
};

/* ------------------------------------------------------------------ buffer */

void ipfix_buffer_init(ipfix_buffer *b) {
    b->data = NULL;
    b->length = 0;
    b->capacity = 0;
}

void ipfix_buffer_free(ipfix_buffer *b) {
    free(b->data);
    ipfix_buffer_init(b);
}

ipfix_status ipfix_buffer_reserve(ipfix_buffer *b, size_t extra) {
    if (b->capacity - b->length >= extra) return IPFIX_OK;
    size_t need = b->length + extra;
    if (need < b->length) return IPFIX_ERR_NOMEM;
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity < need) {
        if (capacity > SIZE_MAX / 2) return IPFIX_ERR_NOMEM;
        capacity *= 2;
    }
    char *data = realloc(b->data, capacity);
    if (!data) return IPFIX_ERR_NOMEM;
    b->data = data;
    b->capacity = capacity;
    return IPFIX_OK;
}

ipfix_status ipfix_buffer_append(ipfix_buffer *b, const void *data, size_t length) {
    if (ipfix_buffer_reserve(b, length) != IPFIX_OK) return IPFIX_ERR_NOMEM;
    if (length) memcpy(b->data + b->length, data, length);
    b->length += length;
    return IPFIX_OK;
}

static inline bool need(ipfix_buffer *b, size_t n) {
    return b->capacity - b->length >= n || ipfix_buffer_reserve(b, n) == IPFIX_OK;
}

/* Append without a capacity check: call need() first. */
static inline void put(ipfix_buffer *b, const char *s, size_t n) {
    memcpy(b->data + b->length, s, n);
    b->length += n;
}
#define PUT_LITERAL(b, s) put((b), (s), sizeof(s) - 1)

/* -------------------------------------------------------------- formatters */

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const char hex_digits[] = "0123456789abcdef";

/* Digits two at a time, right to left, then copied out. */
size_t ipfix_format_u64(char *out, uint64_t v) {
    char tmp[20];
    char *end = tmp + 20, *w = end;
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100);
        v /= 100;
        w -= 2;
        memcpy(w, digit_pairs + pair * 2, 2);
    }
    if (v >= 10) {
        w -= 2;
        memcpy(w, digit_pairs + v * 2, 2);
    } else {
        *--w = (char)('0' + v);
    }
    size_t n = (size_t)(end - w);
    memcpy(out, w, n);
    return n;
}

size_t ipfix_format_i64(char *out, int64_t v) {
    if (v >= 0) return ipfix_format_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + ipfix_format_u64(out + 1, 0 - (uint64_t)v);
}

static inline char *format_octet(char *w, unsigned v) {
    if (v >= 100) {
        *w++ = (char)('0' + v / 100);
        memcpy(w, digit_pairs + (v % 100) * 2, 2);
        return w + 2;
    }
    if (v >= 10) {
        memcpy(w, digit_pairs + v * 2, 2);
        return w + 2;
    }
    *w++ = (char)('0' + v);
    return w;
}

static inline size_t format_ipv4(char *out, const uint8_t a[4]) {
    char *w = format_octet(out, a[0]);
    *w++ = '.';
    w = format_octet(w, a[1]);
    *w++ = '.';
    w = format_octet(w, a[2]);
    *w++ = '.';
    w = format_octet(w, a[3]);
    return (size_t)(w - out);
}

size_t ipfix_format_ipv4(char *out, const uint8_t a[4]) { return format_ipv4(out, a); }

static inline char *format_hex16(char *w, unsigned v) {
    if (v >= 0x1000) *w++ = hex_digits[v >> 12];
    if (v >= 0x100) *w++ = hex_digits[(v >> 8) & 15];
    if (v >= 0x10) *w++ = hex_digits[(v >> 4) & 15];
    *w++ = hex_digits[v & 15];
    return w;
}

/* RFC 5952 §4: lower case, no leading zeros, "::" for the longest run of
 * two or more zero groups (the first one on a tie), §5: IPv4-mapped
 * addresses in mixed notation. */
size_t ipfix_format_ipv6(char *out, const uint8_t a[16]) {
    unsigned g[8];
    for (int i = 0; i < 8; i++) g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
    char *w = out;
    if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff) {
        memcpy(w, "::ffff:", 7);
        return 7 + format_ipv4(w + 7, a + 12);
    }
    int best = -1, best_length = 1;
    for (int i = 0; i < 8;) {
        if (g[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !g[j]) j++;
        if (j - i > best_length) {
            best = i;
            best_length = j - i;
        }
        i = j;
    }
    for (int i = 0; i < 8;) {
        if (i == best) {
            *w++ = ':';
            *w++ = ':';
            i += best_length;
            continue;
        }
        if (i > 0 && i != best + best_length) *w++ = ':';
        w = format_hex16(w, g[i]);
        i++;
    }
    return (size_t)(w - out);
}

size_t ipfix_format_mac(char *out, const uint8_t a[6]) {
    char *w = out;
    for (int i = 0; i < 6; i++) {
        if (i) *w++ = ':';
        *w++ = hex_digits[a[i] >> 4];
        *w++ = hex_digits[a[i] & 15];
    }
    return (size_t)(w - out);
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *year = y + (*month <= 2);
}

/* "YYYY-MM-DDT" for a day number. */
static size_t format_date(char *out, int64_t days) {
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    char *w = out;
    if (year >= 0 && year <= 9999) {
        memcpy(w, digit_pairs + (year / 100) * 2, 2);
        memcpy(w + 2, digit_pairs + (year % 100) * 2, 2);
        w += 4;
    } else {
        w += ipfix_format_i64(w, year);
    }
    *w++ = '-';
    memcpy(w, digit_pairs + month * 2, 2);
    w += 2;
    *w++ = '-';
    memcpy(w, digit_pairs + day * 2, 2);
    w += 2;
    *w++ = 'T';
    return (size_t)(w - out);
}

static inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

/* "HH:MM:SS[.fff]Z" after the date. */
static inline char *format_time_of_day(char *w, unsigned secs, uint32_t ns, ipfix_type precision) {
    unsigned h = secs / 3600, m = secs / 60 % 60, s = secs % 60;
    memcpy(w, digit_pairs + h * 2, 2);
    w[2] = ':';
    memcpy(w + 3, digit_pairs + m * 2, 2);
    w[5] = ':';
    memcpy(w + 6, digit_pairs + s * 2, 2);
    w += 8;
    int digits = precision == IPFIX_TYPE_DATE_TIME_MILLISECONDS   ? 3
                 : precision == IPFIX_TYPE_DATE_TIME_MICROSECONDS ? 6
                 : precision == IPFIX_TYPE_DATE_TIME_NANOSECONDS  ? 9
                                                                  : 0;
    if (digits) {
        uint32_t frac = ns;
        if (digits == 3) frac /= 1000000u;
        else if (digits == 6) frac /= 1000u;
        *w++ = '.';
        for (int i = digits; i-- > 0; frac /= 10) w[i] = (char)('0' + frac % 10);
        w += digits;
    }
    *w++ = 'Z';
    return w;
}

size_t ipfix_format_timestamp(char *out, ipfix_timestamp ts, ipfix_type precision) {
    int64_t days = floor_div(ts.seconds, 86400);
    unsigned secs = (unsigned)(ts.seconds - days * 86400);
    size_t n = format_date(out, days);
    return (size_t)(format_time_of_day(out + n, secs, ts.nanoseconds % 1000000000u, precision) -
                    out);
}

/* Same, through the renderer's per-day cache; writes up to 16 bytes more
 * than it returns for the date (callers reserve FIXED_VALUE_MAX). */
static inline size_t format_timestamp_cached(ipfix_renderer *r, char *out, ipfix_timestamp ts,
                                      ipfix_type precision) {
    int64_t days = floor_div(ts.seconds, 86400);
    unsigned secs = (unsigned)(ts.seconds - days * 86400);
    if (days != r->cached_day || !r->cached_date_length) {
        r->cached_date_length = format_date(r->cached_date, days);
        r->cached_day = days;
    }
    if (r->cached_date_length <= 16) memcpy(out, r->cached_date, 16);
    else memcpy(out, r->cached_date, r->cached_date_length);
    char *w = out + r->cached_date_length;
    return (size_t)(format_time_of_day(w, secs, ts.nanoseconds % 1000000000u, precision) - out);
}

size_t ipfix_format_double(char *out, double v, bool single) {
    if (isnan(v)) {
        memcpy(out, "NaN", 3);
        return 3;
    }
    if (isinf(v)) {
        if (v < 0) {
            memcpy(out, "-Infinity", 9);
            return 9;
        }
        memcpy(out, "Infinity", 8);
        return 8;
    }
    char tmp[40];
    int n = 0;
    /* Shortest precision that reads back to the same value. */
    for (int precision = single ? 6 : 15; precision <= (single ? 9 : 17); precision++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", precision, v);
        if (single ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v) break;
    }
    if (n < 0) n = 0;
    memcpy(out, tmp, (size_t)n);
    return (size_t)n;
}

/* RFC 7125 §3: bit 0x01 FIN ... 0x100 NS (the ECN nonce, RFC 3540). */
size_t ipfix_format_tcp_flags(char *out, uint16_t bits) {
    static const char names[9][4] = {"FIN", "SYN", "RST", "PSH", "ACK",
                                     "URG", "ECE", "CWR", "NS"};
    if (!bits) {
        out[0] = '0';
        return 1;
    }
    char *w = out;
    for (int i = 0; i < 9; i++) {
        if (!(bits & (1u << i))) continue;
        if (w != out) *w++ = '|';
        memcpy(w, names[i], 3);
        w += i == 8 ? 2 : 3;
    }
    unsigned rest = bits & ~0x1ffu;
    if (rest) {
        if (w != out) *w++ = '|';
        *w++ = '0';
        *w++ = 'x';
        w = format_hex16(w, rest);
    }
    return (size_t)(w - out);
}

/* ------------------------------------------------------------ JSON strings */

/* Upper bound of escaped output for n input bytes, with quotes. */
#define ESCAPED_MAX(n) ((n) * 6 + 2)

/* Append `s` as a quoted, JSON-escaped string (RFC 8259 §7): '"', '\' and
 * control characters are escaped; valid UTF-8 passes through. */
static void put_quoted(ipfix_buffer *b, const uint8_t *s, size_t n) {
    char *w = b->data + b->length;
    *w++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\') run++;
        memcpy(w, s + i, run - i);
        w += run - i;
        if (run == n) break;
        uint8_t c = s[run];
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\n': *w++ = 'n'; break;
        case '\r': *w++ = 'r'; break;
        case '\t': *w++ = 't'; break;
        case '\b': *w++ = 'b'; break;
        case '\f': *w++ = 'f'; break;
        default:
            memcpy(w, "u00", 3);
            w[3] = hex_digits[c >> 4];
            w[4] = hex_digits[c & 15];
            w += 5;
        }
        i = run + 1;
    }
    *w++ = '"';
    b->length = (size_t)(w - b->data);
}

static ipfix_status append_quoted(ipfix_buffer *b, const char *s) {
    size_t n = strlen(s);
    if (!need(b, ESCAPED_MAX(n))) return IPFIX_ERR_NOMEM;
    put_quoted(b, (const uint8_t *)s, n);
    return IPFIX_OK;
}

/* "0x" + hex of `n` bytes (2n + 2 bytes of output). */
static void put_hex(ipfix_buffer *b, const uint8_t *p, size_t n) {
    char *w = b->data + b->length;
    *w++ = '0';
    *w++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *w++ = hex_digits[p[i] >> 4];
        *w++ = hex_digits[p[i] & 15];
    }
    b->length = (size_t)(w - b->data);
}

/* ------------------------------------------------------------------ plans */

static bool has_registry(ipfix_renderer *r, uint16_t id) {
    unsigned byte = id >> 3, bit = 1u << (id & 7);
    if (!(r->registry_probed[byte] & bit)) {
        r->registry_probed[byte] |= (uint8_t)bit;
        /* Every IANA registry the model names has values below 256. */
        for (unsigned v = 0; v < 256; v++)
            if (ipfix_value_name(id, v)) {
                r->registry_has[byte] |= (uint8_t)bit;
                break;
            }
    }
    return (r->registry_has[byte] & bit) != 0;
}

static render_op op_for(ipfix_renderer *r, ipfix_type type, const ipfix_element *e) {
    bool names = r->options.format == IPFIX_RENDER_TEXT && !r->options.numeric && e &&
                 e->known && (e->pen == IPFIX_PEN_IANA || e->pen == IPFIX_PEN_REVERSE);
    switch (type) {
    case IPFIX_TYPE_UNSIGNED8:
    case IPFIX_TYPE_UNSIGNED16:
    case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_UNSIGNED64:
        if (names && e->id == IPFIX_IE_TCP_CONTROL_BITS) return OP_TCP_FLAGS;
        if (names && has_registry(r, e->id)) return OP_NAMED;
        return OP_UNSIGNED;
    case IPFIX_TYPE_SIGNED8:
    case IPFIX_TYPE_SIGNED16:
    case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_SIGNED64: return OP_SIGNED;
    case IPFIX_TYPE_FLOAT32: return OP_FLOAT32;
    case IPFIX_TYPE_FLOAT64: return OP_FLOAT64;
    case IPFIX_TYPE_BOOLEAN: return OP_BOOLEAN;
    case IPFIX_TYPE_MAC_ADDRESS: return OP_MAC;
    case IPFIX_TYPE_STRING: return OP_STRING;
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS: return OP_TIME_MS;
    case IPFIX_TYPE_DATE_TIME_SECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS: return OP_TIME;
    case IPFIX_TYPE_IPV4_ADDRESS: return OP_IPV4;
    case IPFIX_TYPE_IPV6_ADDRESS: return OP_IPV6;
    case IPFIX_TYPE_UNSIGNED256: return OP_U256;
    case IPFIX_TYPE_BASIC_LIST: return OP_BASIC_LIST;
    case IPFIX_TYPE_SUB_TEMPLATE_LIST: return OP_SUB_TEMPLATE_LIST;
    case IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST: return OP_SUB_TEMPLATE_MULTI_LIST;
    case IPFIX_TYPE_OCTET_ARRAY:
    default: return OP_OCTETS;
    }
}

/* The template at this address is still the one the plan was built for:
 * same ID, counts and field array (spec, element, offset, type). */
static inline bool plan_matches(const render_plan *p, const ipfix_template *t) {
    return p->id == t->id && p->field_count == t->field_count &&
           p->scope_field_count == t->scope_field_count &&
           memcmp(p->snapshot, t->fields, (size_t)t->field_count * sizeof *t->fields) == 0;
}

/* Names of element `id`'s registry values 0..255 (NULL if no slot left). */
static const name_table *name_table_get(ipfix_renderer *r, uint16_t id) {
    for (size_t i = 0; i < NAME_TABLES; i++) {
        name_table *nt = &r->name_tables[i];
        if (nt->used && nt->element_id == id) return nt;
        if (nt->used) continue;
        nt->used = true;
        nt->element_id = id;
        for (unsigned v = 0; v < 256; v++) {
            const char *name = ipfix_value_name(id, v);
            size_t len = name ? strlen(name) : 0;
            nt->names[v] = len < 256 ? name : NULL;
            nt->lengths[v] = (uint8_t)(len < 256 ? len : 0);
        }
        return nt;
    }
    return NULL;
}

/* Occurrence number (1-based) of field i's element among fields 0..i. */
static unsigned occurrence(const ipfix_template *t, uint16_t i) {
    unsigned n = 1;
    const char *name = t->fields[i].element->name;
    for (uint16_t j = 0; j < i; j++) {
        const ipfix_element *e = t->fields[j].element;
        if (e == t->fields[i].element || strcmp(e->name, name) == 0) n++;
    }
    return n;
}

static render_plan *plan_build(ipfix_renderer *r, const ipfix_template *t) {
    bool json = r->options.format == IPFIX_RENDER_JSON;
    size_t keys_size = 0;
    for (uint16_t i = 0; i < t->field_count; i++)
        keys_size += ESCAPED_MAX(strlen(t->fields[i].element->name) + 16) + 2;
    render_plan *p = calloc(1, sizeof *p + (size_t)t->field_count * sizeof(render_field));
    if (!p) return NULL;
    ipfix_buffer keys = {0};
    p->snapshot = malloc((size_t)t->field_count * sizeof *t->fields + 1);
    if (!p->snapshot || ipfix_buffer_reserve(&keys, keys_size + KEY_COPY) != IPFIX_OK) {
        free(p->snapshot);
        free(p);
        return NULL;
    }
    memset(keys.data, 0, keys.capacity);
    memcpy(p->snapshot, t->fields, (size_t)t->field_count * sizeof *t->fields);
    p->tmpl = t;
    p->id = t->id;
    p->field_count = t->field_count;
    p->scope_field_count = t->scope_field_count;
    for (uint16_t i = 0; i < t->field_count; i++) {
        const ipfix_template_field *tf = &t->fields[i];
        render_field *f = &p->fields[i];
        f->spec = tf->spec;
        f->element = tf->element;
        f->type = tf->type;
        f->op = (uint8_t)op_for(r, (ipfix_type)tf->type, tf->element);
        if (f->op == OP_NAMED) f->names = name_table_get(r, tf->element->id);
        f->key_offset = (uint32_t)keys.length;
        /* Repeated names get "#n" (n >= 2), the same in text and JSON. */
        char suffix[16] = "";
        unsigned n = occurrence(t, i);
        if (n > 1) snprintf(suffix, sizeof suffix, "#%u", n);
        char name[512];
        snprintf(name, sizeof name, "%s%s", tf->element->name, suffix);
        if (json) {
            put_quoted(&keys, (const uint8_t *)name, strlen(name));
            keys.data[keys.length++] = ':';
        } else {
            size_t len = strlen(name);
            memcpy(keys.data + keys.length, name, len);
            keys.length += len;
            keys.data[keys.length++] = '=';
        }
        f->key_length = (uint16_t)(keys.length - f->key_offset);
    }
    p->keys = keys.data;
    return p;
}

static void plan_free(render_plan *p) {
    if (!p) return;
    free(p->snapshot);
    free(p->keys);
    free(p);
}

static void plans_clear(ipfix_renderer *r) {
    for (size_t i = 0; i < r->plan_capacity; i++) {
        plan_free(r->plans[i]);
        r->plans[i] = NULL;
    }
    r->plan_count = 0;
}

static inline size_t plan_hash(const ipfix_template *t, size_t mask) {
    uint64_t h = (uint64_t)(uintptr_t)t;
    h ^= h >> 17;
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & mask;
}

static bool plans_grow(ipfix_renderer *r) {
    size_t capacity = r->plan_capacity * 2;
    render_plan **plans = calloc(capacity, sizeof *plans);
    if (!plans) return false;
    for (size_t i = 0; i < r->plan_capacity; i++) {
        render_plan *p = r->plans[i];
        if (!p) continue;
        size_t j = plan_hash(p->tmpl, capacity - 1);
        while (plans[j]) j = (j + 1) & (capacity - 1);
        plans[j] = p;
    }
    free(r->plans);
    r->plans = plans;
    r->plan_capacity = capacity;
    return true;
}

/* The plan of `t`, built on first use or when the cached one is stale. */
static render_plan *plan_get(ipfix_renderer *r, const ipfix_template *t) {
    size_t mask = r->plan_capacity - 1;
    size_t i = plan_hash(t, mask);
    for (; r->plans[i]; i = (i + 1) & mask) {
        render_plan *p = r->plans[i];
        if (p->tmpl != t) continue;
        if (plan_matches(p, t)) return p;
        /* Same address, different template: the old one was freed. */
        render_plan *fresh = plan_build(r, t);
        if (!fresh) return NULL;
        plan_free(p);
        r->plans[i] = fresh;
        return fresh;
    }
    if ((r->plan_count + 1) * 4 > r->plan_capacity * 3) {
        if (!plans_grow(r)) return NULL;
        return plan_get(r, t);
    }
    render_plan *p = plan_build(r, t);
    if (!p) return NULL;
    r->plans[i] = p;
    r->plan_count++;
    return p;
}

/* ------------------------------------------------------------ renderer */

ipfix_renderer *ipfix_renderer_new(const ipfix_render_options *options) {
    ipfix_renderer *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    if (options) r->options = *options;
    r->sep = r->options.format == IPFIX_RENDER_JSON ? ',' : ' ';
    r->plan_capacity = 64;
    r->plans = calloc(r->plan_capacity, sizeof *r->plans);
    if (!r->plans) {
        free(r);
        return NULL;
    }
    return r;
}

void ipfix_renderer_free(ipfix_renderer *r) {
    if (!r) return;
    plans_clear(r);
    free(r->plans);
    free(r);
}

/* ---------------------------------------------------------- field values */

static void note_invalid(ipfix_renderer *r, const ipfix_error *e, const char *rule,
                         const char *detail) {
    if (r->invalid_seen) return;
    r->invalid_seen = true;
    if (!r->err) return;
    if (e && e->rule) {
        *r->err = *e;
        r->err->offset = r->field_offset;
    } else {
        ipfix_error_set(r->err, IPFIX_ERR_MALFORMED, r->field_offset, rule, "%s", detail);
    }
}

/* Raw bytes with the invalid marker (see render.h). */
static int put_invalid(ipfix_renderer *r, ipfix_buffer *out, const uint8_t *p, size_t n) {
    if (!need(out, 2 * n + 32)) return R_NOMEM;
    if (r->options.format == IPFIX_RENDER_JSON) {
        PUT_LITERAL(out, "{\"invalid\":\"");
        put_hex(out, p, n);
        PUT_LITERAL(out, "\"}");
    } else {
        PUT_LITERAL(out, "!invalid:");
        put_hex(out, p, n);
    }
    return R_OK;
}

static int render_value(ipfix_renderer *r, ipfix_buffer *out, render_field *f,
                        const uint8_t *p, size_t n, unsigned depth);

/* Render one value, or on failure roll back and write the invalid marker. */
static int render_value_or_invalid(ipfix_renderer *r, ipfix_buffer *out, render_field *f,
                                   const uint8_t *p, size_t n, unsigned depth) {
    size_t mark = out->length;
    int rc = render_value(r, out, f, p, n, depth);
    if (rc != R_INVALID) return rc;
    out->length = mark;
    return put_invalid(r, out, p, n);
}

static int render_fields(ipfix_renderer *r, ipfix_buffer *out, render_plan *plan,
                         const uint8_t *data, size_t length, unsigned depth);

static int bad_length(ipfix_renderer *r, const render_field *f, size_t n) {
    char detail[96];
    snprintf(detail, sizeof detail, "%s of %zu bytes", ipfix_type_name((ipfix_type)f->type), n);
    note_invalid(r, NULL, "RFC 7011 §6.2: field length not valid for the type", detail);
    return R_INVALID;
}

static int render_decoded(ipfix_renderer *r, ipfix_buffer *out, render_field *f,
                          const uint8_t *p, size_t n) {
    ipfix_value v;
    ipfix_error e;
    ipfix_error_clear(&e);
    if (ipfix_value_decode((ipfix_type)f->type, p, n, &v, &e) != IPFIX_OK) {
        note_invalid(r, &e, "RFC 7011 §6: value cannot be decoded", "");
        return R_INVALID;
    }
    bool json = r->options.format == IPFIX_RENDER_JSON;
    char *w = out->data + out->length;
    switch ((ipfix_type)f->type) {
    case IPFIX_TYPE_SIGNED8:
    case IPFIX_TYPE_SIGNED16:
    case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_SIGNED64: w += ipfix_format_i64(w, v.v.i64); break;
    case IPFIX_TYPE_FLOAT32:
    case IPFIX_TYPE_FLOAT64: {
        bool special = !isfinite(v.v.f64);
        if (json && special) *w++ = '"';
        w += ipfix_format_double(w, v.v.f64, f->type == IPFIX_TYPE_FLOAT32 || n == 4);
        if (json && special) *w++ = '"';
        break;
    }
    case IPFIX_TYPE_BOOLEAN:
        if (v.v.boolean) {
            memcpy(w, "true", 4);
            w += 4;
        } else {
            memcpy(w, "false", 5);
            w += 5;
        }
        break;
    case IPFIX_TYPE_MAC_ADDRESS:
        if (json) *w++ = '"';
        w += ipfix_format_mac(w, v.v.mac);
        if (json) *w++ = '"';
        break;
    case IPFIX_TYPE_DATE_TIME_SECONDS:
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS:
        if (json) *w++ = '"';
        w += format_timestamp_cached(r, w, v.v.time, (ipfix_type)f->type);
        if (json) *w++ = '"';
        break;
    case IPFIX_TYPE_UNSIGNED256: {
        size_t i = 0;
        while (i < 31 && !v.v.u256[i]) i++;
        if (json) *w++ = '"';
        *w++ = '0';
        *w++ = 'x';
        if (v.v.u256[i] >> 4) *w++ = hex_digits[v.v.u256[i] >> 4];
        *w++ = hex_digits[v.v.u256[i] & 15];
        for (i++; i < 32; i++) {
            *w++ = hex_digits[v.v.u256[i] >> 4];
            *w++ = hex_digits[v.v.u256[i] & 15];
        }
        if (json) *w++ = '"';
        break;
    }
    default: /* other types have their own ops */
        return R_INVALID;
    }
    out->length = (size_t)(w - out->data);
    return R_OK;
}

static const ipfix_template *find_sub_template(ipfix_renderer *r, uint16_t id) {
    const ipfix_render_source *s = r->source;
    if (!s || !s->lookup) return NULL;
    return s->lookup(s->lookup_context, s->odid, id);
}

/* basicList (RFC 6313 §4.5.1): [v,v,...] */
static int render_basic_list(ipfix_renderer *r, ipfix_buffer *out, const uint8_t *p, size_t n,
                             unsigned depth) {
    ipfix_basic_list list;
    ipfix_error e;
    ipfix_error_clear(&e);
    if (ipfix_basic_list_decode(p, n, &list, &e) != IPFIX_OK) {
        note_invalid(r, &e, "RFC 6313 §4.5.1: malformed basicList", "");
        return R_INVALID;
    }
    render_field element = {0};
    const ipfix_element *ie = r->model ? ipfix_infomodel_find(r->model, list.pen, list.element_id)
                                       : NULL;
    element.element = ie;
    element.type = ie && ie->known ? ie->type : IPFIX_TYPE_OCTET_ARRAY;
    element.op = (uint8_t)op_for(r, (ipfix_type)element.type, ie);
    element.spec.id = list.element_id;
    element.spec.pen = list.pen;
    element.spec.length = list.element_length;
    if (!need(out, 1)) return R_NOMEM;
    PUT_LITERAL(out, "[");
    size_t cursor = 0;
    const uint8_t *item;
    size_t item_length;
    ipfix_status st;
    bool first = true;
    while ((st = ipfix_basic_list_next(&list, &cursor, &item, &item_length, &e)) == IPFIX_OK) {
        if (!first) {
            if (!need(out, 1)) return R_NOMEM;
            PUT_LITERAL(out, ",");
        }
        first = false;
        int rc = render_value_or_invalid(r, out, &element, item, item_length, depth + 1);
        if (rc != R_OK) return rc;
    }
    if (st != IPFIX_END) {
        note_invalid(r, &e, "RFC 6313 §4.5.1: malformed basicList", "");
        return R_INVALID;
    }
    if (!need(out, 1)) return R_NOMEM;
    PUT_LITERAL(out, "]");
    return R_OK;
}

/* Records of one sub-template: {k=v ...},{...} (no brackets). */
static int render_sub_records(ipfix_renderer *r, ipfix_buffer *out, const ipfix_template *t,
                              const ipfix_sub_template_list *stl,
                              const ipfix_multi_list_entry *entry, unsigned depth) {
    render_plan *plan = plan_get(r, t);
    if (!plan) return R_NOMEM;
    size_t cursor = 0;
    ipfix_record rec;
    ipfix_error e;
    ipfix_error_clear(&e);
    ipfix_status st;
    bool first = true;
    for (;;) {
        st = stl ? ipfix_sub_template_list_next(stl, t, &cursor, &rec, &e)
                 : ipfix_multi_list_entry_next_record(entry, t, &cursor, &rec, &e);
        if (st != IPFIX_OK) break;
        if (!need(out, 2)) return R_NOMEM;
        if (!first) PUT_LITERAL(out, ",");
        first = false;
        PUT_LITERAL(out, "{");
        int rc = render_fields(r, out, plan, rec.data, rec.length, depth + 1);
        if (rc != R_OK) return rc;
        if (!need(out, 1)) return R_NOMEM;
        PUT_LITERAL(out, "}");
    }
    if (st != IPFIX_END) {
        note_invalid(r, &e, "RFC 6313 §4.5: malformed sub-template records", "");
        return R_INVALID;
    }
    return R_OK;
}

static int unknown_sub_template(ipfix_renderer *r, uint16_t id) {
    char detail[48];
    snprintf(detail, sizeof detail, "template %u", (unsigned)id);
    note_invalid(r, NULL, "RFC 6313 §4.5.2: sub-template not defined", detail);
    return R_INVALID;
}

/* subTemplateList (RFC 6313 §4.5.2): [{...},{...}] */
static int render_sub_template_list(ipfix_renderer *r, ipfix_buffer *out, const uint8_t *p,
                                    size_t n, unsigned depth) {
    ipfix_sub_template_list list;
    ipfix_error e;
    ipfix_error_clear(&e);
    if (ipfix_sub_template_list_decode(p, n, &list, &e) != IPFIX_OK) {
        note_invalid(r, &e, "RFC 6313 §4.5.2: malformed subTemplateList", "");
        return R_INVALID;
    }
    const ipfix_template *t = find_sub_template(r, list.template_id);
    if (!t) {
        if (list.length == 0) { /* empty list: nothing to decode */
            if (!need(out, 2)) return R_NOMEM;
            PUT_LITERAL(out, "[]");
            return R_OK;
        }
        return unknown_sub_template(r, list.template_id);
    }
    if (!need(out, 1)) return R_NOMEM;
    PUT_LITERAL(out, "[");
    int rc = render_sub_records(r, out, t, &list, NULL, depth);
    if (rc != R_OK) return rc;
    if (!need(out, 1)) return R_NOMEM;
    PUT_LITERAL(out, "]");
    return R_OK;
}

/* subTemplateMultiList (RFC 6313 §4.5.3): [[{...}],[{...},{...}]] */
static int render_sub_template_multi_list(ipfix_renderer *r, ipfix_buffer *out,
                                          const uint8_t *p, size_t n, unsigned depth) {
    ipfix_sub_template_multi_list list;
    ipfix_error e;
    ipfix_error_clear(&e);
    if (ipfix_sub_template_multi_list_decode(p, n, &list, &e) != IPFIX_OK) {
        note_invalid(r, &e, "RFC 6313 §4.5.3: malformed subTemplateMultiList", "");
        return R_INVALID;
    }
    if (!need(out, 1)) return R_NOMEM;
    PUT_LITERAL(out, "[");
    size_t cursor = 0;
    ipfix_multi_list_entry entry;
    ipfix_status st;
    bool first = true;
    while ((st = ipfix_multi_list_next_entry(&list, &cursor, &entry, &e)) == IPFIX_OK) {
        const ipfix_template *t = find_sub_template(r, entry.template_id);
        if (!t && entry.length) return unknown_sub_template(r, entry.template_id);
        if (!need(out, 2)) return R_NOMEM;
        if (!first) PUT_LITERAL(out, ",");
        first = false;
        PUT_LITERAL(out, "[");
        if (t) {
            int rc = render_sub_records(r, out, t, NULL, &entry, depth);
            if (rc != R_OK) return rc;
        }
        if (!need(out, 1)) return R_NOMEM;
        PUT_LITERAL(out, "]");
    }
    if (st != IPFIX_END) {
        note_invalid(r, &e, "RFC 6313 §4.5.3: malformed subTemplateMultiList", "");
        return R_INVALID;
    }
    if (!need(out, 1)) return R_NOMEM;
    PUT_LITERAL(out, "]");
    return R_OK;
}

/* Output bound of the fixed-size ops (tcp flags, IPv6, timestamps, floats). */
#define FIXED_VALUE_MAX 80

/* A registry value by name (text), else the number. Up to 255 bytes. */
static inline size_t format_named(char *w, const render_field *f, uint64_t v) {
    if (f->names && v < 256) {
        size_t len = f->names->lengths[v];
        if (len) {
            memcpy(w, f->names->names[v], len);
            return len;
        }
        return ipfix_format_u64(w, v);
    }
    const char *name = f->element ? ipfix_value_name(f->element->id, v) : NULL;
    size_t len = name ? strlen(name) : 0;
    if (!len || len > 255) return ipfix_format_u64(w, v);
    memcpy(w, name, len);
    return len;
}

static int render_value(ipfix_renderer *r, ipfix_buffer *out, render_field *f,
                        const uint8_t *p, size_t n, unsigned depth) {
    bool json = r->options.format == IPFIX_RENDER_JSON;
    char *w;
    switch ((render_op)f->op) {
    case OP_UNSIGNED:
        if (n - 1 >= 8) return bad_length(r, f, n);
        if (!need(out, 20)) return R_NOMEM;
        out->length += ipfix_format_u64(out->data + out->length, ipfix_get_unsigned(p, n));
        return R_OK;
    case OP_NAMED: {
        if (n - 1 >= 8) return bad_length(r, f, n);
        if (!need(out, 256)) return R_NOMEM;
        out->length += format_named(out->data + out->length, f, ipfix_get_unsigned(p, n));
        return R_OK;
    }
    case OP_TCP_FLAGS: {
        if (n - 1 >= 8) return bad_length(r, f, n);
        uint64_t v = ipfix_get_unsigned(p, n);
        if (!need(out, FIXED_VALUE_MAX)) return R_NOMEM;
        w = out->data + out->length;
        w += v > 0xffff ? ipfix_format_u64(w, v) : ipfix_format_tcp_flags(w, (uint16_t)v);
        out->length = (size_t)(w - out->data);
        return R_OK;
    }
    case OP_IPV4:
        if (n != 4) return bad_length(r, f, n);
        if (!need(out, 17)) return R_NOMEM;
        w = out->data + out->length;
        if (json) *w++ = '"';
        w += ipfix_format_ipv4(w, p);
        if (json) *w++ = '"';
        out->length = (size_t)(w - out->data);
        return R_OK;
    case OP_IPV6:
        if (n != 16) return bad_length(r, f, n);
        if (!need(out, 48)) return R_NOMEM;
        w = out->data + out->length;
        if (json) *w++ = '"';
        w += ipfix_format_ipv6(w, p);
        if (json) *w++ = '"';
        out->length = (size_t)(w - out->data);
        return R_OK;
    case OP_TIME_MS: {
        if (n != 8) return bad_length(r, f, n);
        if (!need(out, FIXED_VALUE_MAX)) return R_NOMEM;
        uint64_t ms = ipfix_get_u64(p);
        ipfix_timestamp ts = {(int64_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000000u};
        w = out->data + out->length;
        if (json) *w++ = '"';
        w += format_timestamp_cached(r, w, ts, IPFIX_TYPE_DATE_TIME_MILLISECONDS);
        if (json) *w++ = '"';
        out->length = (size_t)(w - out->data);
        return R_OK;
    }
    case OP_STRING:
        if (!ipfix_utf8_valid(p, n)) {
            char detail[32];
            snprintf(detail, sizeof detail, "%zu bytes", n);
            note_invalid(r, NULL, "RFC 7011 §6.1.6: string must be well-formed UTF-8", detail);
            return R_INVALID;
        }
        if (!need(out, ESCAPED_MAX(n))) return R_NOMEM;
        put_quoted(out, p, n);
        return R_OK;
    case OP_OCTETS:
        if (!need(out, 2 * n + 4)) return R_NOMEM;
        if (json) PUT_LITERAL(out, "\"");
        put_hex(out, p, n);
        if (json) PUT_LITERAL(out, "\"");
        return R_OK;
    case OP_BASIC_LIST:
    case OP_SUB_TEMPLATE_LIST:
    case OP_SUB_TEMPLATE_MULTI_LIST:
        if (depth >= IPFIX_STRUCTURED_MAX_DEPTH) {
            note_invalid(r, NULL, "RFC 6313 §4: structured data nested too deeply",
                         "depth limit reached");
            return R_INVALID;
        }
        if (f->op == OP_BASIC_LIST) return render_basic_list(r, out, p, n, depth);
        if (f->op == OP_SUB_TEMPLATE_LIST) return render_sub_template_list(r, out, p, n, depth);
        return render_sub_template_multi_list(r, out, p, n, depth);
    case OP_SIGNED:
    case OP_FLOAT32:
    case OP_FLOAT64:
    case OP_BOOLEAN:
    case OP_MAC:
    case OP_TIME:
    case OP_U256:
        if (!need(out, FIXED_VALUE_MAX)) return R_NOMEM;
        return render_decoded(r, out, f, p, n);
    }
    return R_INVALID;
}

/* The fields of one record (top level or inside a sub-template list). */
static int render_fields(ipfix_renderer *r, ipfix_buffer *out, render_plan *plan,
                         const uint8_t *data, size_t length, unsigned depth) {
    const uint8_t *p = data, *end = data + length;
    bool json = r->options.format == IPFIX_RENDER_JSON;
    for (uint16_t i = 0; i < plan->field_count; i++) {
        render_field *f = &plan->fields[i];
        const uint8_t *field_start = p;
        size_t n = f->spec.length;
        if (n == IPFIX_VARLEN) { /* RFC 7011 §7: 1-byte or 255 + 2-byte length */
            if (p >= end) goto short_record;
            n = *p++;
            if (n == 255) {
                if (end - p < 2) goto short_record;
                n = ipfix_get_u16(p);
                p += 2;
            }
        }
        if ((size_t)(end - p) < n) goto short_record;
        if (depth == 0) r->field_offset = (size_t)(field_start - data);
        if (!need(out, (size_t)f->key_length + 1 + KEY_COPY + FIXED_VALUE_MAX)) return R_NOMEM;
        char *w = out->data + out->length;
        if (i) *w++ = r->sep;
        if (f->key_length <= KEY_COPY) memcpy(w, plan->keys + f->key_offset, KEY_COPY);
        else memcpy(w, plan->keys + f->key_offset, f->key_length);
        w += f->key_length;
        /* The common fixed-size cases inline; everything else below. */
        switch ((render_op)f->op) {
        case OP_UNSIGNED:
            if (n - 1 >= 8) break;
            w += ipfix_format_u64(w, ipfix_get_unsigned(p, n));
            goto next;
        case OP_NAMED:
            if (n - 1 >= 8 || !f->names) break;
            w += format_named(w, f, ipfix_get_unsigned(p, n));
            goto next;
        case OP_IPV4:
            if (n != 4) break;
            if (json) *w++ = '"';
            w += format_ipv4(w, p);
            if (json) *w++ = '"';
            goto next;
        case OP_TIME_MS: {
            if (n != 8) break;
            uint64_t ms = ipfix_get_u64(p);
            ipfix_timestamp ts = {(int64_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000000u};
            if (json) *w++ = '"';
            w += format_timestamp_cached(r, w, ts, IPFIX_TYPE_DATE_TIME_MILLISECONDS);
            if (json) *w++ = '"';
            goto next;
        }
        default: break;
        }
        out->length = (size_t)(w - out->data);
        int rc = render_value_or_invalid(r, out, f, p, n, depth);
        if (rc != R_OK) return rc;
        p += n;
        continue;
    next:
        out->length = (size_t)(w - out->data);
        p += n;
        continue;
    short_record:
        /* Not reachable for records measured by the reader; kept for safety. */
        if (depth == 0) r->field_offset = (size_t)(field_start - data);
        note_invalid(r, NULL, "RFC 7011 §3.4.3: record shorter than its template", "");
        if (!need(out, (size_t)f->key_length + 1)) return R_NOMEM;
        if (i) out->data[out->length++] = r->sep;
        put(out, plan->keys + f->key_offset, f->key_length);
        return put_invalid(r, out, field_start, (size_t)(end - field_start));
    }
    return R_OK;
}

/* ------------------------------------------------------------- public API */

static void begin_item(ipfix_renderer *r, const ipfix_render_source *source, ipfix_error *err) {
    r->source = source;
    r->err = err;
    r->invalid_seen = false;
    r->field_offset = 0; /* `err` is only written when a field is invalid */
}

static bool put_origin_text(ipfix_buffer *out, const ipfix_render_source *s) {
    if (!s || !s->origin || !s->origin[0]) return true;
    size_t n = strlen(s->origin);
    if (!need(out, n + 16)) return false;
    PUT_LITERAL(out, " exporter=");
    put(out, s->origin, n);
    return true;
}

/* ,"exporter":"..." */
static bool put_origin_json(ipfix_buffer *out, const ipfix_render_source *s) {
    if (!s || !s->origin || !s->origin[0]) return true;
    if (!need(out, 16)) return false;
    PUT_LITERAL(out, ",\"exporter\":");
    return append_quoted(out, s->origin) == IPFIX_OK;
}

static inline void put_u64(ipfix_buffer *out, uint64_t v) {
    out->length += ipfix_format_u64(out->data + out->length, v);
}

ipfix_status ipfix_render_record(ipfix_renderer *r, const ipfix_render_source *source,
                                 const ipfix_record *record, ipfix_buffer *out,
                                 ipfix_error *err) {
    if (!r || !record || !record->tmpl || !out) return IPFIX_ERR_INVALID_ARG;
    if (r->plan_count >= PLAN_CACHE_MAX) plans_clear(r); /* only between records */
    begin_item(r, source, err);
    r->model = record->tmpl->model;
    size_t mark = out->length;
    render_plan *plan = plan_get(r, record->tmpl);
    if (!plan) return IPFIX_ERR_NOMEM;
    bool json = r->options.format == IPFIX_RENDER_JSON;
    bool options = ipfix_template_is_options(record->tmpl);
    uint32_t odid = source ? source->odid : 0;
    if (!need(out, 64)) goto nomem;
    if (json) {
        /* Fields in an object of their own: no meta key can clash with an
         * element name. */
        if (options) PUT_LITERAL(out, "{\"options\":{");
        else PUT_LITERAL(out, "{\"record\":{");
    } else {
        if (options) PUT_LITERAL(out, "options");
        else PUT_LITERAL(out, "record");
        if (!put_origin_text(out, source) || !need(out, 48)) goto nomem;
        PUT_LITERAL(out, " odid=");
        put_u64(out, odid);
        PUT_LITERAL(out, " template=");
        put_u64(out, record->tmpl->id);
        PUT_LITERAL(out, " ");
    }
    if (render_fields(r, out, plan, record->data, record->length, 0) != R_OK) goto nomem;
    if (!need(out, 64)) goto nomem;
    if (json) {
        PUT_LITERAL(out, "},\"odid\":");
        put_u64(out, odid);
        PUT_LITERAL(out, ",\"templateId\":");
        put_u64(out, record->tmpl->id);
        if (!put_origin_json(out, source) || !need(out, 2)) goto nomem;
        PUT_LITERAL(out, "}");
    } else if (plan->field_count == 0) {
        out->length--; /* the ' ' before the (absent) fields */
    }
    PUT_LITERAL(out, "\n");
    return r->invalid_seen ? IPFIX_ERR_MALFORMED : IPFIX_OK;
nomem:
    out->length = mark;
    return IPFIX_ERR_NOMEM;
}

ipfix_status ipfix_render_template(ipfix_renderer *r, const ipfix_render_source *source,
                                   const ipfix_template *t, ipfix_buffer *out) {
    if (!r || !t || !out) return IPFIX_ERR_INVALID_ARG;
    size_t mark = out->length;
    bool json = r->options.format == IPFIX_RENDER_JSON;
    bool options = ipfix_template_is_options(t);
    uint32_t odid = source ? source->odid : 0;
    if (!need(out, 96)) goto nomem;
    if (json) {
        PUT_LITERAL(out, "{\"template\":{\"id\":");
        put_u64(out, t->id);
        PUT_LITERAL(out, ",\"odid\":");
        put_u64(out, odid);
        PUT_LITERAL(out, ",\"scopeCount\":");
        put_u64(out, t->scope_field_count);
        if (!put_origin_json(out, source) || !need(out, 16)) goto nomem;
        PUT_LITERAL(out, ",\"fields\":[");
    } else {
        if (options) PUT_LITERAL(out, "options-template");
        else PUT_LITERAL(out, "template");
        if (!put_origin_text(out, source) || !need(out, 64)) goto nomem;
        PUT_LITERAL(out, " odid=");
        put_u64(out, odid);
        PUT_LITERAL(out, " id=");
        put_u64(out, t->id);
        PUT_LITERAL(out, " scopeCount=");
        put_u64(out, t->scope_field_count);
    }
    for (uint16_t i = 0; i < t->field_count; i++) {
        const ipfix_template_field *f = &t->fields[i];
        const ipfix_element *e = f->element;
        size_t name_length = strlen(e->name);
        if (!need(out, ESCAPED_MAX(name_length) + 96)) goto nomem;
        if (json) {
            if (i) PUT_LITERAL(out, ",");
            PUT_LITERAL(out, "{\"name\":");
            put_quoted(out, (const uint8_t *)e->name, name_length);
            if (f->spec.pen) {
                PUT_LITERAL(out, ",\"pen\":");
                put_u64(out, f->spec.pen);
            }
            PUT_LITERAL(out, ",\"id\":");
            put_u64(out, f->spec.id);
            PUT_LITERAL(out, ",\"length\":");
            put_u64(out, f->spec.length);
            PUT_LITERAL(out, "}");
        } else {
            PUT_LITERAL(out, " ");
            put(out, e->name, name_length);
            if (e->known) { /* unknown elements are already named pen:id */
                PUT_LITERAL(out, "(");
                if (f->spec.pen) {
                    put_u64(out, f->spec.pen);
                    PUT_LITERAL(out, ":");
                }
                put_u64(out, f->spec.id);
                PUT_LITERAL(out, ")");
            }
            PUT_LITERAL(out, "/");
            if (f->spec.length == IPFIX_VARLEN) PUT_LITERAL(out, "var");
            else put_u64(out, f->spec.length);
        }
    }
    if (!need(out, 8)) goto nomem;
    if (json) PUT_LITERAL(out, "]}}");
    PUT_LITERAL(out, "\n");
    return IPFIX_OK;
nomem:
    out->length = mark;
    return IPFIX_ERR_NOMEM;
}

ipfix_status ipfix_render_withdrawal(ipfix_renderer *r, const ipfix_render_source *source,
                                     uint16_t template_id, bool options, ipfix_buffer *out) {
    if (!r || !out) return IPFIX_ERR_INVALID_ARG;
    size_t mark = out->length;
    uint32_t odid = source ? source->odid : 0;
    if (!need(out, 96)) goto nomem;
    if (r->options.format == IPFIX_RENDER_JSON) {
        PUT_LITERAL(out, "{\"withdrawal\":{\"id\":");
        put_u64(out, template_id);
        PUT_LITERAL(out, ",\"odid\":");
        put_u64(out, odid);
        if (options) PUT_LITERAL(out, ",\"options\":true");
        else PUT_LITERAL(out, ",\"options\":false");
        if (!put_origin_json(out, source) || !need(out, 4)) goto nomem;
        PUT_LITERAL(out, "}}\n");
    } else {
        PUT_LITERAL(out, "withdrawal");
        if (!put_origin_text(out, source) || !need(out, 64)) goto nomem;
        PUT_LITERAL(out, " odid=");
        put_u64(out, odid);
        PUT_LITERAL(out, " id=");
        put_u64(out, template_id);
        if (options) PUT_LITERAL(out, " options=true\n");
        else PUT_LITERAL(out, " options=false\n");
    }
    return IPFIX_OK;
nomem:
    out->length = mark;
    return IPFIX_ERR_NOMEM;
}
