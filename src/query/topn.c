/*
 * topn.c — turns an aggregation into result rows: top-N by a sum (a
 * bounded min-heap per time bin, O(groups log N)), or all groups sorted;
 * ties broken by key bytes so answers are deterministic.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query/query_internal.h"

ipfix_status q_agg_entries(const ipfix_query_agg *a, const uint8_t ***entries, size_t *count,
                           uint16_t *key_size, uint64_t *interval_ms);

#define ENTRY_KEY 8 /* entry layout of aggregate.c: [hash][key][counters] */

ipfix_status ipfix_query_order_from_name(const char *name, ipfix_query_order *out) {
    static const struct { const char *name; ipfix_query_order order; } names[] = {
        {"flows", IPFIX_QUERY_ORDER_FLOWS}, {"records", IPFIX_QUERY_ORDER_FLOWS},
        {"packets", IPFIX_QUERY_ORDER_PACKETS}, {"bytes", IPFIX_QUERY_ORDER_BYTES},
        {"first", IPFIX_QUERY_ORDER_FIRST}, {"start", IPFIX_QUERY_ORDER_FIRST},
        {"last", IPFIX_QUERY_ORDER_LAST}, {"end", IPFIX_QUERY_ORDER_LAST},
        {"key", IPFIX_QUERY_ORDER_NONE}, {"none", IPFIX_QUERY_ORDER_NONE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].order;
            return IPFIX_OK;
        }
    return IPFIX_ERR_NOT_FOUND;
}

typedef struct sorter {
    const uint8_t **entries;
    uint16_t key_size;
    ipfix_query_order order;
} sorter;

static inline const ipfix_query_counters *counters_of(const sorter *s, uint32_t e) {
    return (const ipfix_query_counters *)(const void *)(s->entries[e] + ENTRY_KEY + s->key_size);
}
static inline const uint8_t *key_of(const sorter *s, uint32_t e) { return s->entries[e] + ENTRY_KEY; }

/* The sort value: larger ranks first. */
static inline uint64_t rank(const sorter *s, uint32_t e) {
    const ipfix_query_counters *c = counters_of(s, e);
    switch (s->order) {
    case IPFIX_QUERY_ORDER_FLOWS: return c->flows;
    case IPFIX_QUERY_ORDER_PACKETS: return c->packets;
    case IPFIX_QUERY_ORDER_BYTES: return c->bytes;
    case IPFIX_QUERY_ORDER_FIRST: return UINT64_MAX - c->first_ms;
    case IPFIX_QUERY_ORDER_LAST: return c->last_ms;
    default: return 0;
    }
}

static inline uint64_t bin_of(const sorter *s, uint32_t e) {
    uint64_t b;
    memcpy(&b, key_of(s, e), 8);
    return b;
}

/* <0 when a comes before b: bin ascending, rank descending, key ascending. */
static int compare(const sorter *s, uint32_t a, uint32_t b) {
    uint64_t ba = bin_of(s, a), bb = bin_of(s, b);
    if (ba != bb) return ba < bb ? -1 : 1;
    uint64_t ra = rank(s, a), rb = rank(s, b);
    if (ra != rb) return ra > rb ? -1 : 1;
    int c = memcmp(key_of(s, a) + 8, key_of(s, b) + 8, s->key_size - 8u);
    if (c) return c;
    return a < b ? -1 : a > b;
}

static int compare_qsort(const void *x, const void *y, void *context) {
    return compare(context, *(const uint32_t *)x, *(const uint32_t *)y);
}

/* Min-heap (worst at the root) of at most `cap` entries of one bin. */
static void heap_push(const sorter *s, uint32_t *heap, size_t *n, size_t cap, uint32_t e) {
    if (*n < cap) {
        size_t i = (*n)++;
        heap[i] = e;
        while (i) {
            size_t parent = (i - 1) / 2;
            if (compare(s, heap[parent], heap[i]) >= 0) break; /* parent is worse: ok */
            uint32_t t = heap[parent];
            heap[parent] = heap[i];
            heap[i] = t;
            i = parent;
        }
        return;
    }
    if (compare(s, e, heap[0]) >= 0) return; /* not better than the worst kept */
    heap[0] = e;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < *n && compare(s, heap[l], heap[w]) > 0) w = l;
        if (r < *n && compare(s, heap[r], heap[w]) > 0) w = r;
        if (w == i) break;
        uint32_t t = heap[w];
        heap[w] = heap[i];
        heap[i] = t;
        i = w;
    }
}

ipfix_status ipfix_query_agg_result(const ipfix_query_agg *agg, ipfix_query_order order,
                                    size_t top, ipfix_query_row **rows, size_t *count) {
    *rows = NULL;
    *count = 0;
    sorter s;
    uint64_t interval;
    size_t n;
    ipfix_status st = q_agg_entries(agg, &s.entries, &n, &s.key_size, &interval);
    s.order = order;
    if (st != IPFIX_OK || !n) return st;
    uint32_t *idx = malloc(n * sizeof *idx);
    if (!idx) {
        free(s.entries);
        return IPFIX_ERR_NOMEM;
    }
    size_t kept = 0;
    if (top && !interval && top < n) {
        for (uint32_t e = 0; e < n; e++) heap_push(&s, idx, &kept, top, e);
        qsort_r(idx, kept, sizeof *idx, compare_qsort, &s);
    } else {
        for (uint32_t e = 0; e < n; e++) idx[e] = e;
        qsort_r(idx, n, sizeof *idx, compare_qsort, &s);
        if (top) { /* per bin */
            size_t in_bin = 0;
            uint64_t bin = 0;
            for (size_t i = 0; i < n; i++) {
                uint64_t b = bin_of(&s, idx[i]);
                if (i == 0 || b != bin) bin = b, in_bin = 0;
                if (in_bin++ < top) idx[kept++] = idx[i];
            }
        } else {
            kept = n;
        }
    }
    ipfix_query_row *r = malloc(kept * sizeof *r);
    if (!r) {
        free(idx);
        free(s.entries);
        return IPFIX_ERR_NOMEM;
    }
    for (size_t i = 0; i < kept; i++) {
        r[i].bin_ms = bin_of(&s, idx[i]);
        r[i].key = key_of(&s, idx[i]) + 8;
        r[i].counters = *counters_of(&s, idx[i]);
    }
    free(idx);
    free(s.entries);
    *rows = r;
    *count = kept;
    return IPFIX_OK;
}
