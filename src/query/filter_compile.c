/*
 * filter_compile.c — compiles a filter AST against one template into a
 * small program (field offsets, load widths, constants; predicates on
 * fields the template lacks folded to false) and evaluates data records in
 * place with it. One program per template, cached by template pointer in
 * the per-thread ipfix_query_matcher; evaluation allocates nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_internal.h"

typedef enum ckind {
    C_TRUE, C_FALSE, C_AND, C_OR, C_NOT,
    C_UINT, C_INT, C_FLOAT, C_IP4, C_IP6, C_MAC, C_BYTES, C_TIME, C_FLAGS
} ckind;

typedef struct cop {
    uint8_t kind;
    uint8_t cmp;
    uint8_t type;       /* field's ipfix_type */
    uint16_t field;     /* index in the template */
    uint16_t offset;    /* fixed templates */
    uint16_t length;    /* fixed length, or IPFIX_VARLEN */
    int32_t a, b;       /* children */
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
        struct {
            uint32_t net, mask;
        } v4;
    } v;
    const qpred *pred;  /* IPv6 / MAC / bytes constants */
} cop;

typedef struct program {
    bool variable;
    uint16_t field_count;
    int32_t root;
    size_t count, capacity;
    cop *ops;
} program;

struct ipfix_query_matcher {
    const ipfix_query_filter *filter;
    qcache cache;
    bool any;
    ipfix_field_view *views;  /* for variable-length templates */
    size_t view_capacity;
};

/* ------------------------------------------------------------ compile */

static int32_t emit(program *pg, cop op) {
    if (pg->count == pg->capacity) {
        size_t cap = pg->capacity ? pg->capacity * 2 : 16;
        cop *n = realloc(pg->ops, cap * sizeof *n);
        if (!n) return -1;
        pg->ops = n;
        pg->capacity = cap;
    }
    pg->ops[pg->count] = op;
    return (int32_t)pg->count++;
}

static int32_t emit_const(program *pg, bool value) {
    cop op = {.kind = (uint8_t)(value ? C_TRUE : C_FALSE), .a = -1, .b = -1};
    return emit(pg, op);
}

static bool is_const(const program *pg, int32_t i, bool value) {
    return pg->ops[i].kind == (value ? C_TRUE : C_FALSE);
}

/* Leaf for one field of the template, or -2 when the value kind and the
 * field's type do not fit together (treated as false). */
static int32_t compile_leaf(program *pg, const qpred *q, const ipfix_template *t, int index) {
    const ipfix_template_field *f = &t->fields[index];
    cop op = {.cmp = q->cmp, .type = f->type, .field = (uint16_t)index, .offset = f->offset,
              .length = f->spec.length, .a = -1, .b = -1, .pred = q};
    uint16_t len = f->spec.length;
    switch ((qvalue_kind)q->kind) {
    case QV_HAS: return emit_const(pg, true);
    case QV_UINT:
    case QV_FLAGS:
        if (f->type > IPFIX_TYPE_UNSIGNED64 && f->type != IPFIX_TYPE_BOOLEAN) return -2;
        if (f->type == 0 || len == 0 || (len > 8 && len != IPFIX_VARLEN)) return -2;
        op.kind = (uint8_t)(q->kind == QV_FLAGS ? C_FLAGS : C_UINT);
        op.v.u64 = q->v.u64;
        break;
    case QV_INT:
        if (f->type < IPFIX_TYPE_SIGNED8 || f->type > IPFIX_TYPE_SIGNED64) return -2;
        op.kind = C_INT;
        op.v.i64 = q->v.i64;
        break;
    case QV_FLOAT:
        if (f->type != IPFIX_TYPE_FLOAT32 && f->type != IPFIX_TYPE_FLOAT64) return -2;
        op.kind = C_FLOAT;
        op.v.f64 = q->v.f64;
        break;
    case QV_IPV4: {
        if (f->type != IPFIX_TYPE_IPV4_ADDRESS || len != 4) return -2;
        op.kind = C_IP4;
        uint32_t mask = q->prefix ? 0xffffffffu << (32 - q->prefix) : 0;
        op.v.v4.mask = mask;
        op.v.v4.net = ipfix_get_u32(q->v.addr) & mask;
        break;
    }
    case QV_IPV6:
        if (f->type != IPFIX_TYPE_IPV6_ADDRESS || len != 16) return -2;
        op.kind = C_IP6;
        break;
    case QV_MAC:
        if (f->type != IPFIX_TYPE_MAC_ADDRESS || len != 6) return -2;
        op.kind = C_MAC;
        break;
    case QV_BYTES:
        if (f->type != IPFIX_TYPE_STRING && f->type != IPFIX_TYPE_OCTET_ARRAY) return -2;
        op.kind = C_BYTES;
        break;
    case QV_TIME:
        if (f->type < IPFIX_TYPE_DATE_TIME_SECONDS || f->type > IPFIX_TYPE_DATE_TIME_NANOSECONDS)
            return -2;
        op.kind = C_TIME;
        op.v.i64 = q->v.i64;
        break;
    }
    return emit(pg, op);
}

static int32_t combine(program *pg, ckind kind, int32_t a, int32_t b) {
    if (a < 0 || b < 0) return -1;
    if (kind == C_AND) {
        if (is_const(pg, a, false) || is_const(pg, b, false)) return emit_const(pg, false);
        if (is_const(pg, a, true)) return b;
        if (is_const(pg, b, true)) return a;
    } else {
        if (is_const(pg, a, true) || is_const(pg, b, true)) return emit_const(pg, true);
        if (is_const(pg, a, false)) return b;
        if (is_const(pg, b, false)) return a;
    }
    cop op = {.kind = (uint8_t)kind, .a = a, .b = b};
    return emit(pg, op);
}

static int32_t compile_node(program *pg, const ipfix_query_filter *f, int i,
                            const ipfix_template *t) {
    const qnode *n = &f->nodes[i];
    switch ((qnode_kind)n->kind) {
    case Q_ANY: return emit_const(pg, true);
    case Q_NONE: return emit_const(pg, false);
    case Q_NOT: {
        int32_t a = compile_node(pg, f, n->a, t);
        if (a < 0) return -1;
        if (is_const(pg, a, true)) return emit_const(pg, false);
        if (is_const(pg, a, false)) return emit_const(pg, true);
        cop op = {.kind = C_NOT, .a = a, .b = -1};
        return emit(pg, op);
    }
    case Q_AND:
    case Q_OR: {
        int32_t a = compile_node(pg, f, n->a, t);
        if (a < 0) return -1;
        /* short-circuit constant folding */
        if (n->kind == Q_AND && is_const(pg, a, false)) return a;
        if (n->kind == Q_OR && is_const(pg, a, true)) return a;
        int32_t b = compile_node(pg, f, n->b, t);
        return combine(pg, n->kind == Q_AND ? C_AND : C_OR, a, b);
    }
    case Q_PRED: break;
    }
    const qpred *q = &n->pred;
    int32_t acc = emit_const(pg, false);
    for (unsigned k = 0; k < q->alt_count && acc >= 0; k++) {
        for (unsigned occ = 0;; occ++) {
            int index = ipfix_template_find_field(t, q->alts[k].pen, q->alts[k].id, occ);
            if (index < 0) break;
            int32_t leaf = compile_leaf(pg, q, t, index);
            if (leaf == -2) continue;
            acc = combine(pg, C_OR, acc, leaf);
            if (acc < 0) return -1;
            break; /* first occurrence only */
        }
    }
    return acc;
}

static void program_free(void *plan) {
    program *pg = plan;
    if (!pg) return;
    free(pg->ops);
    free(pg);
}

static void *program_build(void *context, const ipfix_template *t) {
    const ipfix_query_filter *f = context;
    program *pg = calloc(1, sizeof *pg);
    if (!pg) return NULL;
    pg->variable = t->variable;
    pg->field_count = t->field_count;
    pg->root = compile_node(pg, f, f->root, t);
    if (pg->root < 0) {
        program_free(pg);
        return NULL;
    }
    return pg;
}

/* --------------------------------------------------------------- eval */

static bool eval(const program *pg, int32_t i, const ipfix_record *r,
                 const ipfix_field_view *views) {
    for (;;) {
        const cop *op = &pg->ops[i];
        const uint8_t *p;
        uint16_t len;
        switch ((ckind)op->kind) {
        case C_TRUE: return true;
        case C_FALSE: return false;
        case C_AND:
            if (!eval(pg, op->a, r, views)) return false;
            i = op->b;
            continue;
        case C_OR:
            if (eval(pg, op->a, r, views)) return true;
            i = op->b;
            continue;
        case C_NOT: return !eval(pg, op->a, r, views);
        default: break;
        }
        if (!pg->variable) {
            p = r->data + op->offset;
            len = op->length;
        } else {
            p = views[op->field].data;
            len = views[op->field].length;
        }
        switch ((ckind)op->kind) {
        case C_UINT:
            if (len == 0 || len > 8) return false;
            return q_cmp_unsigned(op->cmp, ipfix_get_unsigned(p, len), op->v.u64);
        case C_FLAGS:
            if (len == 0 || len > 8) return false;
            return (ipfix_get_unsigned(p, len) & op->v.u64) == op->v.u64;
        case C_INT: {
            if (len == 0 || len > 8) return false;
            uint64_t v = ipfix_get_unsigned(p, len);
            unsigned shift = (unsigned)(64 - 8 * len);
            return q_cmp_signed(op->cmp, (int64_t)(v << shift) >> shift, op->v.i64);
        }
        case C_FLOAT: {
            double d;
            if (len == 4) {
                uint32_t u = ipfix_get_u32(p);
                float fl;
                memcpy(&fl, &u, 4);
                d = fl;
            } else if (len == 8) {
                uint64_t u = ipfix_get_u64(p);
                memcpy(&d, &u, 8);
            } else {
                return false;
            }
            switch (op->cmp) {
            case QC_EQ: return d == op->v.f64;
            case QC_NE: return d != op->v.f64;
            case QC_LT: return d < op->v.f64;
            case QC_LE: return d <= op->v.f64;
            case QC_GT: return d > op->v.f64;
            default: return d >= op->v.f64;
            }
        }
        case C_IP4: {
            uint32_t a = ipfix_get_u32(p);
            if (op->cmp == QC_EQ || op->cmp == QC_NE)
                return ((a & op->v.v4.mask) == op->v.v4.net) == (op->cmp == QC_EQ);
            return q_cmp_unsigned(op->cmp, a, op->v.v4.net);
        }
        case C_IP6: {
            const qpred *q = op->pred;
            if (op->cmp == QC_EQ || op->cmp == QC_NE) {
                unsigned full = q->prefix / 8, rest = q->prefix % 8;
                bool in = memcmp(p, q->v.addr, full) == 0;
                if (in && rest) {
                    uint8_t m = (uint8_t)(0xff00u >> rest);
                    in = (p[full] & m) == q->v.addr[full];
                }
                return in == (op->cmp == QC_EQ);
            }
            return q_cmp_order(op->cmp, memcmp(p, q->v.addr, 16));
        }
        case C_MAC: return q_cmp_order(op->cmp, memcmp(p, op->pred->v.mac, 6));
        case C_BYTES: {
            const qpred *q = op->pred;
            size_t n = len < q->v.bytes.length ? len : q->v.bytes.length;
            int c = memcmp(p, q->v.bytes.data, n);
            if (c == 0) c = len < q->v.bytes.length ? -1 : len > q->v.bytes.length;
            return q_cmp_order(op->cmp, c);
        }
        case C_TIME: {
            int64_t ns;
            if (!q_time_ns(op->type, p, len, &ns)) return false;
            return q_cmp_signed(op->cmp, ns, op->v.i64);
        }
        default: return false;
        }
    }
}

/* ------------------------------------------------------------ matcher */

ipfix_query_matcher *ipfix_query_matcher_new(const ipfix_query_filter *filter) {
    ipfix_query_matcher *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->filter = filter;
    m->any = ipfix_query_filter_is_any(filter);
    qcache_init(&m->cache, program_build, program_free, (void *)filter);
    return m;
}

void ipfix_query_matcher_free(ipfix_query_matcher *m) {
    if (!m) return;
    qcache_clear(&m->cache);
    free(m->views);
    free(m);
}

void ipfix_query_matcher_reset(ipfix_query_matcher *m) { qcache_clear(&m->cache); }

void ipfix_query_matcher_templates_changed(ipfix_query_matcher *m) {
    qcache_forget_last(&m->cache);
}

bool ipfix_query_matcher_match(ipfix_query_matcher *m, const ipfix_record *r) {
    if (m->any) return true;
    const program *pg = qcache_get(&m->cache, r->tmpl);
    if (!pg) return false;
    if (!pg->variable) {
        /* the reader never yields a short record, but the API promises it */
        if (r->length < r->tmpl->min_record_length) return false;
        return eval(pg, pg->root, r, NULL);
    }
    if (pg->field_count > m->view_capacity) {
        ipfix_field_view *v = realloc(m->views, pg->field_count * sizeof *v);
        if (!v) return false;
        m->views = v;
        m->view_capacity = pg->field_count;
    }
    if (ipfix_record_fields(r, m->views) != IPFIX_OK) return false;
    return eval(pg, pg->root, r, m->views);
}
