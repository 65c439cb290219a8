/*
 * query_internal.h — shared internals of src/query/: the filter AST built by
 * filter_parse.c and compiled by filter_compile.c, the group-by key spec of
 * aggregate.c, and small helpers to read times and counters of a record.
 */
#ifndef IPFIXKIT_QUERY_INTERNAL_H
#define IPFIXKIT_QUERY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ipfixkit/query.h"
#include "ipfixkit/template.h"
#include "ipfixkit/value.h"

/* ------------------------------------------------------------ filter AST */

typedef enum qnode_kind { Q_ANY, Q_NONE, Q_AND, Q_OR, Q_NOT, Q_PRED } qnode_kind;

typedef enum qcmp { QC_EQ, QC_NE, QC_LT, QC_LE, QC_GT, QC_GE } qcmp;

typedef enum qvalue_kind {
    QV_UINT,   /* unsigned integers, booleans (1/2) */
    QV_INT,    /* signed integers */
    QV_FLOAT,
    QV_IPV4,   /* address + prefix length */
    QV_IPV6,
    QV_MAC,
    QV_BYTES,  /* string / octetArray */
    QV_TIME,   /* nanoseconds since the epoch */
    QV_FLAGS,  /* all bits of u64 set */
    QV_HAS     /* the template has one of the fields */
} qvalue_kind;

#define Q_MAX_ALTS 4

typedef struct qfield_ref {
    uint32_t pen;
    uint16_t id;
} qfield_ref;

typedef struct qpred {
    uint8_t alt_count;
    qfield_ref alts[Q_MAX_ALTS]; /* any of these fields (OR) */
    uint8_t cmp;                 /* qcmp */
    uint8_t kind;                /* qvalue_kind */
    uint8_t prefix;              /* QV_IPV4/6 prefix length */
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
        uint8_t addr[16];
        uint8_t mac[6];
        struct {
            uint8_t *data; /* owned */
            size_t length;
        } bytes;
    } v;
    char *label;                 /* names for ipfix_query_filter_format (owned) */
} qpred;

typedef struct qnode {
    uint8_t kind;   /* qnode_kind */
    int a, b;       /* children (AND/OR: a,b; NOT: a) */
    qpred pred;     /* Q_PRED */
} qnode;

struct ipfix_query_filter {
    const ipfix_infomodel *model;
    qnode *nodes;
    size_t count, capacity;
    int root;
};

/* ---------------------------------------------------------------- keys */

typedef enum qkey_kind {
    QK_UINT,    /* 8 bytes */
    QK_INT,
    QK_ADDR,    /* family byte + 16 bytes (v4 in the first 4) */
    QK_MAC,
    QK_BYTES,   /* length byte + up to QK_BYTES_MAX bytes */
    QK_TIME,    /* ms since the epoch, 8 bytes */
    QK_FLOAT
} qkey_kind;

#define QK_BYTES_MAX 31

typedef struct qkey_part {
    char *name;           /* as written, owned */
    uint8_t kind;
    uint8_t alt_count;
    qfield_ref alts[Q_MAX_ALTS];
    uint8_t prefix4, prefix6;
    uint16_t offset;      /* in the encoded key; byte 0 of a part = present flag */
    uint16_t size;        /* including the present flag */
    int16_t peer;         /* bidirectional: index of the opposite-direction part, -1 */
    bool source;          /* is the source side of a pair */
    uint16_t element_id;  /* for registry names (protocolIdentifier...) */
    bool registry;        /* print registry names */
} qkey_part;

struct ipfix_query_keys {
    size_t count;
    qkey_part *parts;
    uint16_t size;        /* bytes of an encoded key (multiple of 8) */
};

/* Does OP hold for a three-way comparison result (< 0, 0, > 0)? */
static inline bool q_cmp_order(uint8_t cmp, int order) {
    switch (cmp) {
    case QC_EQ: return order == 0;
    case QC_NE: return order != 0;
    case QC_LT: return order < 0;
    case QC_LE: return order <= 0;
    case QC_GT: return order > 0;
    default: return order >= 0;
    }
}

/* a OP b for integers (floats compare apart: NaN is unordered). */
static inline bool q_cmp_unsigned(uint8_t cmp, uint64_t a, uint64_t b) {
    return q_cmp_order(cmp, (a > b) - (a < b));
}
static inline bool q_cmp_signed(uint8_t cmp, int64_t a, int64_t b) {
    return q_cmp_order(cmp, (a > b) - (a < b));
}

/* ------------------------------------------------------ record helpers */

/* A value read from a field as a number of nanoseconds since the epoch. */
static inline bool q_time_ns(uint8_t type, const uint8_t *p, uint16_t length, int64_t *ns) {
    switch (type) {
    case IPFIX_TYPE_DATE_TIME_SECONDS:
        if (length != 4) return false;
        *ns = (int64_t)ipfix_get_u32(p) * 1000000000;
        return true;
    case IPFIX_TYPE_DATE_TIME_MILLISECONDS: {
        if (length != 8) return false;
        uint64_t ms = ipfix_get_u64(p);
        /* past year 2262 the nanosecond count saturates (never overflows) */
        *ns = ms > (uint64_t)INT64_MAX / 1000000 ? INT64_MAX : (int64_t)ms * 1000000;
        return true;
    }
    case IPFIX_TYPE_DATE_TIME_MICROSECONDS:
    case IPFIX_TYPE_DATE_TIME_NANOSECONDS: {
        if (length != 8) return false;
        ipfix_timestamp ts = ipfix_timestamp_from_ntp(ipfix_get_u64(p));
        *ns = ts.seconds * 1000000000 + ts.nanoseconds;
        return true;
    }
    default: return false;
    }
}

/* Where the flow start / end / counters of a template are (field index or
 * -1), computed once per template. */
typedef struct qflow_fields {
    int start, end;       /* flowStart/End Seconds..Nanoseconds */
    int packets, bytes;   /* packetDeltaCount|packetTotalCount, octetDelta|Total */
} qflow_fields;

void q_flow_fields(const ipfix_template *tmpl, qflow_fields *out);

/* Field pointers of a record: fixed templates use offsets; variable ones
 * are located into `views` (field_count entries). False if malformed. */
static inline const uint8_t *q_field(const ipfix_record *r, const ipfix_field_view *views,
                                     int index, uint16_t *length) {
    const ipfix_template_field *f = &r->tmpl->fields[index];
    if (!r->tmpl->variable) {
        *length = f->spec.length;
        return r->data + f->offset;
    }
    *length = views[index].length;
    return views[index].data;
}

/* Read an unsigned field of 1..8 bytes. */
static inline uint64_t q_unsigned(const uint8_t *p, uint16_t length) {
    return length >= 1 && length <= 8 ? ipfix_get_unsigned(p, length) : 0;
}

/* Templates flagged as not flow data (options templates) are skipped. */
static inline bool q_is_flow_template(const ipfix_template *t) {
    return t->scope_field_count == 0;
}

/* ------------------------------------------------ per-template plan cache
 * (plan_cache.c): compiled plans keyed by template pointer, validated
 * against the template's field specifiers when looked up, so a template
 * freed and re-allocated at the same address never reuses a stale plan.
 * `last` is the fast path: forget it whenever templates may have changed. */
typedef void *(*qplan_build_fn)(void *context, const ipfix_template *tmpl);
typedef void (*qplan_free_fn)(void *plan);

typedef struct qcache_entry {
    const ipfix_template *tmpl;
    uint16_t id, field_count, scope_field_count;
    ipfix_field_spec *specs;
    void *plan;
} qcache_entry;

typedef struct qcache {
    qcache_entry *entries;
    size_t capacity, count;
    const ipfix_template *last_tmpl;
    void *last_plan;
    qplan_build_fn build;
    qplan_free_fn free_plan;
    void *context;
} qcache;

void qcache_init(qcache *c, qplan_build_fn build, qplan_free_fn free_plan, void *context);
void qcache_clear(qcache *c);
void *qcache_lookup(qcache *c, const ipfix_template *tmpl); /* NULL: out of memory */
static inline void *qcache_get(qcache *c, const ipfix_template *tmpl) {
    if (tmpl == c->last_tmpl) return c->last_plan;
    return qcache_lookup(c, tmpl);
}
static inline void qcache_forget_last(qcache *c) {
    c->last_tmpl = NULL;
    c->last_plan = NULL;
}

#endif
