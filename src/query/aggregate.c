/*
 * aggregate.c — group-by keys and the aggregation hash table: parses the
 * --group-by list (element names, aliases, /prefix masks), extracts the
 * encoded key of each record through a per-template plan (offsets, masks),
 * and sums flows, packets, bytes, first start and last end per group in an
 * open-addressing table with dense entry storage (no allocation per record
 * except when the table grows). Bidirectional grouping orders each
 * (source, destination) pair of key parts canonically.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "query/query_internal.h"

/* ------------------------------------------------------------------ keys */

typedef struct alias {
    const char *name;
    uint8_t kind;
    uint16_t ids[2];
    const char *peer;  /* opposite direction alias */
    bool source;
} alias;

static const alias aliases[] = {
    {"srcip", QK_ADDR, {IPFIX_IE_SOURCE_IPV4_ADDRESS, IPFIX_IE_SOURCE_IPV6_ADDRESS}, "dstip", true},
    {"dstip", QK_ADDR, {IPFIX_IE_DESTINATION_IPV4_ADDRESS, IPFIX_IE_DESTINATION_IPV6_ADDRESS}, "srcip", false},
    {"srcnet", QK_ADDR, {IPFIX_IE_SOURCE_IPV4_ADDRESS, IPFIX_IE_SOURCE_IPV6_ADDRESS}, "dstnet", true},
    {"dstnet", QK_ADDR, {IPFIX_IE_DESTINATION_IPV4_ADDRESS, IPFIX_IE_DESTINATION_IPV6_ADDRESS}, "srcnet", false},
    {"srcport", QK_UINT, {IPFIX_IE_SOURCE_TRANSPORT_PORT, 0}, "dstport", true},
    {"dstport", QK_UINT, {IPFIX_IE_DESTINATION_TRANSPORT_PORT, 0}, "srcport", false},
    {"proto", QK_UINT, {IPFIX_IE_PROTOCOL_IDENTIFIER, 0}, NULL, false},
    {"srcas", QK_UINT, {16, 0}, "dstas", true},
    {"dstas", QK_UINT, {17, 0}, "srcas", false},
    {"inif", QK_UINT, {10, 0}, "outif", true},
    {"outif", QK_UINT, {14, 0}, "inif", false},
    {"tos", QK_UINT, {5, 0}, NULL, false},
    {"flags", QK_UINT, {IPFIX_IE_TCP_CONTROL_BITS, 0}, NULL, false},
    {"nexthop", QK_ADDR, {15, 62}, NULL, false},
};

/* Source/destination element pairs for bidirectional grouping. */
static const uint16_t element_pairs[][2] = {
    {IPFIX_IE_SOURCE_IPV4_ADDRESS, IPFIX_IE_DESTINATION_IPV4_ADDRESS},
    {IPFIX_IE_SOURCE_IPV6_ADDRESS, IPFIX_IE_DESTINATION_IPV6_ADDRESS},
    {IPFIX_IE_SOURCE_TRANSPORT_PORT, IPFIX_IE_DESTINATION_TRANSPORT_PORT},
    {10, 14}, {16, 17}, {56, 80} /* MAC */, {9, 13} /* prefix lengths */,
};

static uint8_t kind_of_type(ipfix_type type) {
    switch (type) {
    case IPFIX_TYPE_UNSIGNED8: case IPFIX_TYPE_UNSIGNED16: case IPFIX_TYPE_UNSIGNED32:
    case IPFIX_TYPE_UNSIGNED64: case IPFIX_TYPE_BOOLEAN: return QK_UINT;
    case IPFIX_TYPE_SIGNED8: case IPFIX_TYPE_SIGNED16: case IPFIX_TYPE_SIGNED32:
    case IPFIX_TYPE_SIGNED64: return QK_INT;
    case IPFIX_TYPE_FLOAT32: case IPFIX_TYPE_FLOAT64: return QK_FLOAT;
    case IPFIX_TYPE_IPV4_ADDRESS: case IPFIX_TYPE_IPV6_ADDRESS: return QK_ADDR;
    case IPFIX_TYPE_MAC_ADDRESS: return QK_MAC;
    case IPFIX_TYPE_DATE_TIME_SECONDS: case IPFIX_TYPE_DATE_TIME_MILLISECONDS:
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS: case IPFIX_TYPE_DATE_TIME_NANOSECONDS: return QK_TIME;
    default: return QK_BYTES;
    }
}

static uint16_t kind_size(uint8_t kind) {
    switch ((qkey_kind)kind) {
    case QK_ADDR: return 1 + 1 + 16;
    case QK_MAC: return 1 + 6;
    case QK_BYTES: return 1 + 1 + QK_BYTES_MAX;
    default: return 1 + 8;
    }
}

static ipfix_status key_error(ipfix_error *err, size_t column, const char *format, const char *item) {
    return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, column, "group-by", format, item);
}

void ipfix_query_keys_free(ipfix_query_keys *keys) {
    if (!keys) return;
    for (size_t i = 0; i < keys->count; i++) free(keys->parts[i].name);
    free(keys->parts);
    free(keys);
}

ipfix_status ipfix_query_keys_parse(const ipfix_infomodel *model, const char *list,
                                    ipfix_query_keys **out, ipfix_error *err) {
    *out = NULL;
    ipfix_query_keys *k = calloc(1, sizeof *k);
    if (!k) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    size_t n = 1;
    for (const char *c = list; *c; c++) n += *c == ',';
    k->parts = calloc(n, sizeof *k->parts);
    const char *peers[64] = {0};
    if (!k->parts) {
        free(k);
        return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
    }
    const char *s = list;
    uint16_t offset = 8; /* bytes 0..7: time bin */
    for (;;) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[128];
        size_t column = (size_t)(s - list) + 1;
        while (len && isspace((unsigned char)*s)) s++, len--;
        while (len && isspace((unsigned char)s[len - 1])) len--;
        if (!len || len >= sizeof item) {
            {
                ipfix_status st_ = key_error(err, column, "empty or too long item%s", "");
                ipfix_query_keys_free(k);
                return st_;
            }
        }
        if (k->count >= 64) {
            {
                ipfix_status st_ = key_error(err, column, "at most 64 keys%s", "");
                ipfix_query_keys_free(k);
                return st_;
            }
        }
        memcpy(item, s, len);
        item[len] = 0;
        qkey_part *p = &k->parts[k->count];
        p->name = strdup(item);
        p->peer = -1;
        if (!p->name) {
            ipfix_query_keys_free(k);
            return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "out of memory", NULL);
        }
        k->count++;
        char *slash = strchr(item, '/');
        int len4 = -1, len6 = -1;
        if (slash) {
            *slash = 0;
            char *e1;
            long a = strtol(slash + 1, &e1, 10);
            long b = -1;
            if (*e1 == '/') {
                char *e2;
                b = strtol(e1 + 1, &e2, 10);
                if (e2 == e1 + 1 || *e2) a = -1;
            } else if (*e1 || e1 == slash + 1) {
                a = -1;
            }
            if (a < 0 || a > 128 || b > 128) {
                {
                    ipfix_status st_ = key_error(err, column, "bad prefix length in '%s' (NAME/LEN or NAME/LEN4/LEN6)", p->name);
                    ipfix_query_keys_free(k);
                    return st_;
                }
            }
            len4 = (int)a;
            len6 = (int)b;
        }
        const alias *al = NULL;
        for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
            if (strcasecmp(item, aliases[i].name) == 0) al = &aliases[i];
        if (al) {
            p->kind = al->kind;
            p->alts[p->alt_count++] = (qfield_ref){0, al->ids[0]};
            if (al->ids[1]) p->alts[p->alt_count++] = (qfield_ref){0, al->ids[1]};
            p->source = al->source;
            peers[k->count - 1] = al->peer;
            p->element_id = al->ids[0];
            p->registry = al->ids[0] == IPFIX_IE_PROTOCOL_IDENTIFIER;
        } else {
            const ipfix_element *e = ipfix_infomodel_find_by_name(model, item);
            if (!e) {
                {
                    ipfix_status st_ = key_error(err, column, "unknown element or alias '%s'", item);
                    ipfix_query_keys_free(k);
                    return st_;
                }
            }
            p->kind = kind_of_type((ipfix_type)e->type);
            if (e->type >= IPFIX_TYPE_BASIC_LIST && e->type <= IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST) {
                {
                    ipfix_status st_ = key_error(err, column, "cannot group by the list element '%s'", item);
                    ipfix_query_keys_free(k);
                    return st_;
                }
            }
            p->alts[p->alt_count++] = (qfield_ref){e->pen, e->id};
            p->element_id = e->pen ? 0 : e->id;
            p->registry = e->pen == 0 && (ipfix_value_name(e->id, 1) || ipfix_value_name(e->id, 6) ||
                                           ipfix_value_name(e->id, 0));
            for (size_t i = 0; e->pen == 0 && i < sizeof element_pairs / sizeof element_pairs[0]; i++)
                if (element_pairs[i][0] == e->id) p->source = true;
        }
        if (slash && p->kind != QK_ADDR) {
            {
                ipfix_status st_ = key_error(err, column, "a prefix length needs an address key ('%s')", p->name);
                ipfix_query_keys_free(k);
                return st_;
            }
        }
        p->prefix4 = 32;
        p->prefix6 = 128;
        if (len4 >= 0) {
            bool v6_only = !al && ipfix_infomodel_find_by_name(model, item)->type == IPFIX_TYPE_IPV6_ADDRESS;
            if (v6_only) {
                p->prefix6 = (uint8_t)len4;
            } else {
                if (len4 > 32) {
                    {
                        ipfix_status st_ = key_error(err, column, "IPv4 prefix length > 32 in '%s'", p->name);
                        ipfix_query_keys_free(k);
                        return st_;
                    }
                }
                p->prefix4 = (uint8_t)len4;
                if (len6 >= 0) p->prefix6 = (uint8_t)len6;
            }
        }
        p->offset = offset;
        p->size = kind_size(p->kind);
        offset = (uint16_t)(offset + p->size);
        if (!end) break;
        s = end + 1;
    }
    if (!k->count && *list) {
        {
            ipfix_status st_ = key_error(err, 1, "empty group-by list%s", "");
            ipfix_query_keys_free(k);
            return st_;
        }
    }
    /* bidirectional peers */
    for (size_t i = 0; i < k->count; i++) {
        qkey_part *p = &k->parts[i];
        if (!p->source || p->peer >= 0) continue;
        for (size_t j = 0; j < k->count; j++) {
            qkey_part *q = &k->parts[j];
            if (i == j || q->source || q->peer >= 0) continue;
            bool match = false;
            if (peers[i]) {
                match = strncasecmp(q->name, peers[i], strlen(peers[i])) == 0 &&
                        (q->name[strlen(peers[i])] == 0 || q->name[strlen(peers[i])] == '/');
            } else {
                for (size_t e = 0; e < sizeof element_pairs / sizeof element_pairs[0]; e++)
                    if (element_pairs[e][0] == p->alts[0].id && element_pairs[e][1] == q->alts[0].id &&
                        p->alts[0].pen == 0 && q->alts[0].pen == 0)
                        match = true;
            }
            if (match && q->kind == p->kind) {
                p->peer = (int16_t)j;
                q->peer = (int16_t)i;
                break;
            }
        }
    }
    k->size = (uint16_t)((offset + 7) & ~7u);
    *out = k;
    return IPFIX_OK;
}

size_t ipfix_query_keys_count(const ipfix_query_keys *keys) { return keys ? keys->count : 0; }

const char *ipfix_query_keys_name(const ipfix_query_keys *keys, size_t index) {
    return keys->parts[index].name;
}

bool ipfix_query_keys_numeric(const ipfix_query_keys *keys, size_t index) {
    uint8_t kind = keys->parts[index].kind;
    return kind == QK_UINT || kind == QK_INT || kind == QK_FLOAT;
}

/* ------------------------------------------------------- record fields */

void q_flow_fields(const ipfix_template *t, qflow_fields *out) {
    out->start = out->end = out->packets = out->bytes = -1;
    static const uint16_t starts[] = {IPFIX_IE_FLOW_START_MILLISECONDS, IPFIX_IE_FLOW_START_SECONDS,
                                      IPFIX_IE_FLOW_START_MICROSECONDS, IPFIX_IE_FLOW_START_NANOSECONDS};
    static const uint16_t ends[] = {IPFIX_IE_FLOW_END_MILLISECONDS, IPFIX_IE_FLOW_END_SECONDS,
                                    IPFIX_IE_FLOW_END_MICROSECONDS, IPFIX_IE_FLOW_END_NANOSECONDS};
    for (int i = 0; i < 4 && out->start < 0; i++) out->start = ipfix_template_find_field(t, 0, starts[i], 0);
    for (int i = 0; i < 4 && out->end < 0; i++) out->end = ipfix_template_find_field(t, 0, ends[i], 0);
    out->packets = ipfix_template_find_field(t, 0, IPFIX_IE_PACKET_DELTA_COUNT, 0);
    if (out->packets < 0) out->packets = ipfix_template_find_field(t, 0, 86, 0);
    out->bytes = ipfix_template_find_field(t, 0, IPFIX_IE_OCTET_DELTA_COUNT, 0);
    if (out->bytes < 0) out->bytes = ipfix_template_find_field(t, 0, 85, 0);
    /* only integer counters of 1..8 bytes and valid time fields */
    if (out->packets >= 0 && (t->fields[out->packets].spec.length > 8 || t->fields[out->packets].type > IPFIX_TYPE_UNSIGNED64)) out->packets = -1;
    if (out->bytes >= 0 && (t->fields[out->bytes].spec.length > 8 || t->fields[out->bytes].type > IPFIX_TYPE_UNSIGNED64)) out->bytes = -1;
}

/* ----------------------------------------------------------- key plans */

typedef struct part_plan {
    int16_t field;      /* -1: absent */
    uint8_t type;
    uint16_t length;
    uint16_t offset;    /* in the record (fixed templates) */
} part_plan;

typedef struct key_plan {
    bool variable;
    uint16_t field_count;
    qflow_fields flow;
    uint16_t start_offset, end_offset, packets_offset, bytes_offset;
    uint16_t packets_length, bytes_length;
    uint8_t start_type, end_type;
    part_plan parts[];
} key_plan;

/* Table entries: [hash|1 (0 = empty)][key][counters], `stride` bytes each,
 * open addressing with linear probing in one array, so a lookup touches
 * one or two cache lines. Records are added through a short pipeline: the
 * key is built and its bucket prefetched, and the insert happens PIPE
 * records later, when the line has arrived. */
#define PIPE 16
#define ENTRY_KEY 8
#define ENTRY_COUNTERS(a) (ENTRY_KEY + (size_t)(a)->key_size)

struct ipfix_query_agg {
    ipfix_query_agg_config config;
    const ipfix_query_keys *keys;
    uint16_t key_size;      /* bytes per key (>= 8: the bin) */
    size_t stride;
    qcache cache;
    uint8_t *table;
    size_t capacity, count;
    /* pipeline */
    uint8_t *pend_keys;
    uint64_t pend_hash[PIPE];
    ipfix_query_counters pend_counters[PIPE];
    unsigned pend_n, pend_pos;
    bool failed;            /* an insert ran out of memory */
    ipfix_field_view *views;
    size_t view_capacity;
    ipfix_query_counters totals;
};

static void key_plan_free(void *plan) { free(plan); }

static void *key_plan_build(void *context, const ipfix_template *t) {
    const ipfix_query_agg *a = context;
    size_t n = a->keys ? a->keys->count : 0;
    key_plan *p = calloc(1, sizeof *p + (n + 1) * sizeof(part_plan));
    if (!p) return NULL;
    p->variable = t->variable;
    p->field_count = t->field_count;
    q_flow_fields(t, &p->flow);
    if (p->flow.start >= 0) {
        p->start_offset = t->fields[p->flow.start].offset;
        p->start_type = t->fields[p->flow.start].type;
    }
    if (p->flow.end >= 0) {
        p->end_offset = t->fields[p->flow.end].offset;
        p->end_type = t->fields[p->flow.end].type;
    }
    if (p->flow.packets >= 0) {
        p->packets_offset = t->fields[p->flow.packets].offset;
        p->packets_length = t->fields[p->flow.packets].spec.length;
    }
    if (p->flow.bytes >= 0) {
        p->bytes_offset = t->fields[p->flow.bytes].offset;
        p->bytes_length = t->fields[p->flow.bytes].spec.length;
    }
    for (size_t i = 0; i < n; i++) {
        const qkey_part *kp = &a->keys->parts[i];
        part_plan *pp = &p->parts[i];
        pp->field = -1;
        for (unsigned k = 0; k < kp->alt_count && pp->field < 0; k++) {
            int idx = ipfix_template_find_field(t, kp->alts[k].pen, kp->alts[k].id, 0);
            if (idx < 0) continue;
            const ipfix_template_field *f = &t->fields[idx];
            uint8_t kind = kind_of_type((ipfix_type)f->type);
            if (kind != kp->kind) continue;
            if (kind == QK_ADDR && f->spec.length != 4 && f->spec.length != 16) continue;
            if (kind == QK_MAC && f->spec.length != 6) continue;
            if ((kind == QK_UINT || kind == QK_INT || kind == QK_FLOAT) && f->spec.length > 8) continue;
            pp->field = (int16_t)idx;
            pp->type = f->type;
            pp->length = f->spec.length;
            pp->offset = f->offset;
        }
    }
    return p;
}

ipfix_query_agg *ipfix_query_agg_new(const ipfix_query_agg_config *config) {
    ipfix_query_agg *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->config = *config;
    a->keys = config->keys && config->keys->count ? config->keys : NULL;
    a->key_size = a->keys ? a->keys->size : 8;
    a->stride = ENTRY_KEY + a->key_size + sizeof(ipfix_query_counters);
    a->pend_keys = calloc(PIPE, a->key_size);
    a->totals.first_ms = UINT64_MAX;
    qcache_init(&a->cache, key_plan_build, key_plan_free, a);
    if (!a->pend_keys) {
        free(a);
        return NULL;
    }
    return a;
}

void ipfix_query_agg_free(ipfix_query_agg *a) {
    if (!a) return;
    qcache_clear(&a->cache);
    free(a->table);
    free(a->pend_keys);
    free(a->views);
    free(a);
}

void ipfix_query_agg_templates_changed(ipfix_query_agg *a) { qcache_forget_last(&a->cache); }

static inline uint64_t hash_key(const uint8_t *key, size_t size);
static inline uint64_t hash_key(const uint8_t *key, size_t size) {
    uint64_t h = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < size; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h | 1; /* 0 marks an empty entry */
}

static inline bool key_equal(const uint8_t *a, const uint8_t *b, size_t size) {
    for (size_t i = 0; i < size; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return false;
    }
    return true;
}

static inline uint64_t entry_hash(const uint8_t *e) {
    uint64_t h;
    memcpy(&h, e, 8);
    return h;
}

/* Zeroed table memory; large tables on transparent huge pages (random
 * lookups in a table of many MB otherwise miss the TLB on nearly every
 * record). */
static uint8_t *table_alloc(size_t bytes) {
    const size_t huge = 2u << 20;
    if (bytes < huge) return calloc(1, bytes);
    void *p = NULL;
    bytes = (bytes + huge - 1) & ~(huge - 1);
    if (posix_memalign(&p, huge, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

static bool grow_table(ipfix_query_agg *a) {
    size_t cap = a->capacity ? a->capacity * 2 : 1024;
    if (cap > SIZE_MAX / a->stride) return false;
    uint8_t *t = table_alloc(cap * a->stride);
    if (!t) return false;
    for (size_t i = 0; i < a->capacity; i++) {
        const uint8_t *e = a->table + i * a->stride;
        uint64_t h = entry_hash(e);
        if (!h) continue;
        size_t j = (size_t)h & (cap - 1);
        while (entry_hash(t + j * a->stride)) j = (j + 1) & (cap - 1);
        memcpy(t + j * a->stride, e, a->stride);
    }
    free(a->table);
    a->table = t;
    a->capacity = cap;
    return true;
}

/* Find or insert the group of `key` (hash `h`, never 0); NULL when the
 * table cannot grow. */
static inline ipfix_query_counters *group_of(ipfix_query_agg *a, uint64_t h, const uint8_t *key) {
    if ((a->count + 1) * 10 > a->capacity * 7 && !grow_table(a)) return NULL;
    size_t mask = a->capacity - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint8_t *e = a->table + i * a->stride;
        uint64_t eh = entry_hash(e);
        if (eh == h && key_equal(e + ENTRY_KEY, key, a->key_size))
            return (ipfix_query_counters *)(void *)(e + ENTRY_COUNTERS(a));
        if (!eh) {
            memcpy(e, &h, 8);
            ipfix_query_counters *c = (ipfix_query_counters *)(void *)(e + ENTRY_COUNTERS(a));
            c->flows = c->packets = c->bytes = 0;
            c->first_ms = UINT64_MAX;
            c->last_ms = 0;
            memcpy(e + ENTRY_KEY, key, a->key_size);
            a->count++;
            return c;
        }
    }
}

static inline void add_counters(ipfix_query_counters *c, const ipfix_query_counters *v) {
    c->flows += v->flows;
    c->packets += v->packets;
    c->bytes += v->bytes;
    if (v->first_ms < c->first_ms) c->first_ms = v->first_ms;
    if (v->last_ms > c->last_ms) c->last_ms = v->last_ms;
}

static void mask_address(uint8_t *a, unsigned bits, unsigned prefix) {
    for (unsigned bit = prefix; bit < bits; bit++) a[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

/* Encode key part `kp` of a record into `slot` (present flag + payload). */
static inline void encode_part(const qkey_part *kp, const part_plan *pp, const uint8_t *f,
                               uint16_t len, uint8_t *slot) {
    slot[0] = 1;
    switch ((qkey_kind)kp->kind) {
    case QK_UINT: {
        uint64_t v = q_unsigned(f, len);
        ipfix_put_u64(slot + 1, v); /* big-endian: bytes sort numerically */
        break;
    }
    case QK_INT: {
        uint64_t v = q_unsigned(f, len);
        unsigned shift = (unsigned)(64 - 8 * (len ? len : 8));
        int64_t s = (int64_t)(v << shift) >> shift;
        ipfix_put_u64(slot + 1, (uint64_t)s ^ 0x8000000000000000ull);
        break;
    }
    case QK_FLOAT: {
        double d = 0;
        if (len == 4) {
            uint32_t u = ipfix_get_u32(f);
            float fl;
            memcpy(&fl, &u, 4);
            d = fl;
        } else if (len == 8) {
            uint64_t u = ipfix_get_u64(f);
            memcpy(&d, &u, 8);
        }
        memcpy(slot + 1, &d, 8);
        break;
    }
    case QK_ADDR:
        if (len == 4) {
            slot[1] = 4;
            memcpy(slot + 2, f, 4);
            if (kp->prefix4 < 32) mask_address(slot + 2, 32, kp->prefix4);
        } else {
            slot[1] = 6;
            memcpy(slot + 2, f, 16);
            if (kp->prefix6 < 128) mask_address(slot + 2, 128, kp->prefix6);
        }
        break;
    case QK_MAC: memcpy(slot + 1, f, 6); break;
    case QK_BYTES: {
        size_t n = len > QK_BYTES_MAX ? QK_BYTES_MAX : len;
        slot[1] = (uint8_t)n;
        memcpy(slot + 2, f, n);
        break;
    }
    case QK_TIME: {
        int64_t ns = 0;
        q_time_ns(pp->type, f, len, &ns);
        int64_t ms = ns / 1000000;
        ipfix_put_u64(slot + 1, (uint64_t)ms ^ 0x8000000000000000ull);
        break;
    }
    }
}

static void canonical_order(const ipfix_query_keys *keys, uint8_t *key) {
    int order = 0;
    for (size_t i = 0; i < keys->count && !order; i++) {
        const qkey_part *p = &keys->parts[i];
        if (!p->source || p->peer < 0) continue;
        const qkey_part *q = &keys->parts[p->peer];
        order = memcmp(key + p->offset, key + q->offset, p->size);
    }
    if (order <= 0) return;
    uint8_t tmp[64];
    for (size_t i = 0; i < keys->count; i++) {
        const qkey_part *p = &keys->parts[i];
        if (!p->source || p->peer < 0) continue;
        const qkey_part *q = &keys->parts[p->peer];
        memcpy(tmp, key + p->offset, p->size);
        memcpy(key + p->offset, key + q->offset, p->size);
        memcpy(key + q->offset, tmp, p->size);
    }
}

static inline uint64_t time_ms(uint8_t type, const uint8_t *p, uint16_t len, bool *ok) {
    int64_t ns;
    *ok = q_time_ns(type, p, len, &ns) && ns >= 0;
    return *ok ? (uint64_t)(ns / 1000000) : 0;
}

/* Add pending record `slot` to its group (the oldest one, whose table
 * bucket the prefetch has brought in). */
static ipfix_status apply_pending(ipfix_query_agg *a, unsigned slot) {
    ipfix_query_counters *c = group_of(a, a->pend_hash[slot], a->pend_keys + (size_t)slot * a->key_size);
    if (!c) {
        a->failed = true;
        return IPFIX_ERR_NOMEM;
    }
    add_counters(c, &a->pend_counters[slot]);
    a->pend_n--;
    return IPFIX_OK;
}

ipfix_status ipfix_query_agg_add(ipfix_query_agg *a, const ipfix_record *r) {
    const key_plan *p = qcache_get(&a->cache, r->tmpl);
    if (!p) return IPFIX_ERR_NOMEM;
    const ipfix_field_view *views = NULL;
    if (p->variable) {
        if (p->field_count > a->view_capacity) {
            ipfix_field_view *v = realloc(a->views, p->field_count * sizeof *v);
            if (!v) return IPFIX_ERR_NOMEM;
            a->views = v;
            a->view_capacity = p->field_count;
        }
        if (ipfix_record_fields(r, a->views) != IPFIX_OK) return IPFIX_ERR_MALFORMED;
        views = a->views;
    }
    ipfix_query_counters v = {1, 0, 0, UINT64_MAX, 0};
    uint16_t len;
    const uint8_t *f;
    if (p->flow.packets >= 0) {
        f = p->variable ? q_field(r, views, p->flow.packets, &len) : (len = p->packets_length, r->data + p->packets_offset);
        v.packets = q_unsigned(f, len);
    }
    if (p->flow.bytes >= 0) {
        f = p->variable ? q_field(r, views, p->flow.bytes, &len) : (len = p->bytes_length, r->data + p->bytes_offset);
        v.bytes = q_unsigned(f, len);
    }
    bool ok;
    if (p->flow.start >= 0) {
        f = p->variable ? q_field(r, views, p->flow.start, &len) : (len = r->tmpl->fields[p->flow.start].spec.length, r->data + p->start_offset);
        uint64_t t = time_ms(p->start_type, f, len, &ok);
        if (ok) v.first_ms = t;
    }
    if (p->flow.end >= 0) {
        f = p->variable ? q_field(r, views, p->flow.end, &len) : (len = r->tmpl->fields[p->flow.end].spec.length, r->data + p->end_offset);
        uint64_t t = time_ms(p->end_type, f, len, &ok);
        if (ok) v.last_ms = t;
    }
    if (v.first_ms == UINT64_MAX && v.last_ms) v.first_ms = v.last_ms;
    if (!v.last_ms && v.first_ms != UINT64_MAX) v.last_ms = v.first_ms;
    add_counters(&a->totals, &v);
    unsigned slot = a->pend_pos;
    if (a->pend_n == PIPE && apply_pending(a, slot) != IPFIX_OK)
        return IPFIX_ERR_NOMEM; /* the oldest pending record: its bucket has arrived */
    uint8_t *key = a->pend_keys + (size_t)slot * a->key_size;
    memset(key, 0, a->key_size);
    if (a->config.interval_ms) {
        uint64_t t = a->config.bin_by_end ? v.last_ms : (v.first_ms == UINT64_MAX ? 0 : v.first_ms);
        uint64_t bin = t / a->config.interval_ms * a->config.interval_ms;
        memcpy(key, &bin, 8);
    }
    if (a->keys) {
        for (size_t i = 0; i < a->keys->count; i++) {
            const part_plan *pp = &p->parts[i];
            if (pp->field < 0) continue;
            const qkey_part *kp = &a->keys->parts[i];
            if (p->variable) f = q_field(r, views, pp->field, &len);
            else f = r->data + pp->offset, len = pp->length;
            encode_part(kp, pp, f, len, key + kp->offset);
        }
        if (a->config.bidirectional) canonical_order(a->keys, key);
    }
    uint64_t h = hash_key(key, a->key_size);
    if (a->capacity) {
        const uint8_t *e = a->table + ((size_t)h & (a->capacity - 1)) * a->stride;
        __builtin_prefetch(e);
        __builtin_prefetch(e + a->stride - 1);
    }
    a->pend_hash[slot] = h;
    a->pend_counters[slot] = v;
    a->pend_n++;
    a->pend_pos = (slot + 1) % PIPE;
    return IPFIX_OK;
}

/* Insert the pending records (before reading the table). */
static ipfix_status agg_flush(ipfix_query_agg *a) {
    while (a->pend_n)
        if (apply_pending(a, (a->pend_pos + PIPE - a->pend_n) % PIPE) != IPFIX_OK)
            return IPFIX_ERR_NOMEM;
    return a->failed ? IPFIX_ERR_NOMEM : IPFIX_OK;
}

ipfix_status ipfix_query_agg_merge(ipfix_query_agg *into, const ipfix_query_agg *from) {
    if (into->key_size != from->key_size) return IPFIX_ERR_INVALID_ARG;
    ipfix_status st = agg_flush(into);
    if (st == IPFIX_OK) st = agg_flush((ipfix_query_agg *)from); /* logically const */
    if (st != IPFIX_OK) return st;
    for (size_t i = 0; i < from->capacity; i++) {
        const uint8_t *e = from->table + i * from->stride;
        uint64_t h = entry_hash(e);
        if (!h) continue;
        ipfix_query_counters *c = group_of(into, h, e + ENTRY_KEY);
        if (!c) return IPFIX_ERR_NOMEM;
        ipfix_query_counters v;
        memcpy(&v, e + ENTRY_COUNTERS(from), sizeof v);
        add_counters(c, &v);
    }
    add_counters(&into->totals, &from->totals);
    return IPFIX_OK;
}

size_t ipfix_query_agg_groups(const ipfix_query_agg *a) {
    agg_flush((ipfix_query_agg *)a); /* logically const: pending records */
    return a->count;
}

void ipfix_query_agg_totals(const ipfix_query_agg *a, ipfix_query_counters *totals) {
    *totals = a->totals;
}

/* For topn.c: pointers to the used entries (malloc'd array in *entries),
 * with the offsets of counters and key in an entry. */
ipfix_status q_agg_entries(const ipfix_query_agg *a, const uint8_t ***entries, size_t *count,
                           uint16_t *key_size, uint64_t *interval_ms);
ipfix_status q_agg_entries(const ipfix_query_agg *a, const uint8_t ***entries, size_t *count,
                           uint16_t *key_size, uint64_t *interval_ms) {
    ipfix_status st = agg_flush((ipfix_query_agg *)a);
    *entries = NULL;
    *count = 0;
    *key_size = a->key_size;
    *interval_ms = a->config.interval_ms;
    if (st != IPFIX_OK) return st;
    if (!a->count) return IPFIX_OK;
    const uint8_t **list = malloc(a->count * sizeof *list);
    if (!list) return IPFIX_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < a->capacity; i++) {
        const uint8_t *e = a->table + i * a->stride;
        if (entry_hash(e)) list[n++] = e;
    }
    *entries = list;
    *count = n;
    return IPFIX_OK;
}

/* ------------------------------------------------------------ key text */

size_t ipfix_query_key_format(const ipfix_query_keys *keys, size_t index,
                              const ipfix_query_row *row, bool numeric, char *out, size_t size) {
    const qkey_part *p = &keys->parts[index];
    const uint8_t *s = row->key + p->offset - 8; /* row->key points past the bin */
    char buf[96];
    size_t n = 0;
    if (!s[0]) {
        buf[n++] = '-';
    } else {
        switch ((qkey_kind)p->kind) {
        case QK_UINT: {
            uint64_t v;
            v = ipfix_get_u64(s + 1);
            const char *name = p->registry && !numeric ? ipfix_value_name(p->element_id, v) : NULL;
            if (name) n = (size_t)snprintf(buf, sizeof buf, "%s", name);
            else n = ipfix_format_u64(buf, v);
            break;
        }
        case QK_INT: {
            int64_t v;
            v = (int64_t)(ipfix_get_u64(s + 1) ^ 0x8000000000000000ull);
            n = ipfix_format_i64(buf, v);
            break;
        }
        case QK_FLOAT: {
            double d;
            memcpy(&d, s + 1, 8);
            n = ipfix_format_double(buf, d, false);
            break;
        }
        case QK_ADDR:
            if (s[1] == 4) {
                n = ipfix_format_ipv4(buf, s + 2);
                if (p->prefix4 < 32) n += (size_t)snprintf(buf + n, sizeof buf - n, "/%u", p->prefix4);
            } else {
                n = ipfix_format_ipv6(buf, s + 2);
                if (p->prefix6 < 128) n += (size_t)snprintf(buf + n, sizeof buf - n, "/%u", p->prefix6);
            }
            break;
        case QK_MAC: n = ipfix_format_mac(buf, s + 1); break;
        case QK_BYTES: {
            size_t len = s[1];
            bool printable = true;
            for (size_t i = 0; i < len; i++)
                if (s[2 + i] < 0x20 || s[2 + i] >= 0x7f) printable = false;
            if (printable) {
                memcpy(buf, s + 2, len);
                n = len;
            } else {
                n = (size_t)snprintf(buf, sizeof buf, "0x");
                for (size_t i = 0; i < len && n + 3 < sizeof buf; i++)
                    n += (size_t)snprintf(buf + n, sizeof buf - n, "%02x", s[2 + i]);
            }
            break;
        }
        case QK_TIME: {
            int64_t ms;
            ms = (int64_t)(ipfix_get_u64(s + 1) ^ 0x8000000000000000ull);
            ipfix_timestamp ts = {ms / 1000, (uint32_t)(ms % 1000) * 1000000u};
            n = ipfix_format_timestamp(buf, ts, IPFIX_TYPE_DATE_TIME_MILLISECONDS);
            break;
        }
        }
    }
    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(out, buf, c);
        out[c] = 0;
    }
    return n;
}
