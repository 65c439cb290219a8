/*
 * plan_cache.c — per-template compiled plans (filter programs, aggregation
 * key extractors) cached by template pointer with open addressing; see
 * query_internal.h.
 */
#include <stdlib.h>
#include <string.h>

#include "query/query_internal.h"

void qcache_init(qcache *c, qplan_build_fn build, qplan_free_fn free_plan, void *context) {
    memset(c, 0, sizeof *c);
    c->build = build;
    c->free_plan = free_plan;
    c->context = context;
}

static void entry_free(qcache *c, qcache_entry *e) {
    if (e->plan) c->free_plan(e->plan);
    free(e->specs);
    memset(e, 0, sizeof *e);
}

void qcache_clear(qcache *c) {
    for (size_t i = 0; i < c->capacity; i++)
        if (c->entries[i].tmpl) entry_free(c, &c->entries[i]);
    free(c->entries);
    c->entries = NULL;
    c->capacity = c->count = 0;
    qcache_forget_last(c);
}

static size_t slot(const ipfix_template *t, size_t mask) {
    uint64_t h = (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 32) & mask;
}

static bool entry_matches(const qcache_entry *e, const ipfix_template *t) {
    if (e->id != t->id || e->field_count != t->field_count ||
        e->scope_field_count != t->scope_field_count)
        return false;
    for (uint16_t i = 0; i < t->field_count; i++)
        if (e->specs[i].pen != t->fields[i].spec.pen || e->specs[i].id != t->fields[i].spec.id ||
            e->specs[i].length != t->fields[i].spec.length)
            return false;
    return true;
}

static bool entry_fill(qcache *c, qcache_entry *e, const ipfix_template *t) {
    e->specs = malloc(((size_t)t->field_count + 1) * sizeof *e->specs);
    if (!e->specs) return false;
    for (uint16_t i = 0; i < t->field_count; i++) e->specs[i] = t->fields[i].spec;
    e->plan = c->build(c->context, t);
    if (!e->plan) {
        free(e->specs);
        e->specs = NULL;
        return false;
    }
    e->tmpl = t;
    e->id = t->id;
    e->field_count = t->field_count;
    e->scope_field_count = t->scope_field_count;
    return true;
}

void *qcache_lookup(qcache *c, const ipfix_template *t) {
    if ((c->count + 1) * 4 >= c->capacity * 3) {
        size_t cap = c->capacity ? c->capacity * 2 : 16;
        if (cap > (1u << 16)) { /* pathological template churn: start over */
            qcache_clear(c);
            cap = 16;
        }
        qcache_entry *n = calloc(cap, sizeof *n);
        if (!n) return NULL;
        for (size_t i = 0; i < c->capacity; i++) {
            if (!c->entries[i].tmpl) continue;
            size_t j = slot(c->entries[i].tmpl, cap - 1);
            while (n[j].tmpl) j = (j + 1) & (cap - 1);
            n[j] = c->entries[i];
        }
        free(c->entries);
        c->entries = n;
        c->capacity = cap;
    }
    size_t mask = c->capacity - 1;
    size_t i = slot(t, mask);
    for (; c->entries[i].tmpl; i = (i + 1) & mask) {
        if (c->entries[i].tmpl != t) continue;
        if (!entry_matches(&c->entries[i], t)) { /* address reused by another template */
            entry_free(c, &c->entries[i]);
            c->count--;
            break;
        }
        c->last_tmpl = t;
        c->last_plan = c->entries[i].plan;
        return c->last_plan;
    }
    if (!entry_fill(c, &c->entries[i], t)) return NULL;
    c->count++;
    c->last_tmpl = t;
    c->last_plan = c->entries[i].plan;
    return c->last_plan;
}
