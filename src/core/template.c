/*
 * template.c — Templates and Options Templates (RFC 7011 §3.4) compiled into
 * decode plans; see template.h.
 *
 * Memory layout of one template (a single allocation):
 *   ipfix_template | fields[field_count] | placeholder elements for unknown IEs
 * so a template is freed with one free() and its fields are contiguous.
 */
#include "ipfixkit/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/value.h"

/* An element unknown to the model: decoded as octetArray, named "pen:id". */
typedef struct unknown_element {
    ipfix_element element;
    char name[24];
} unknown_element;

static size_t count_unknown(const ipfix_infomodel *model, const ipfix_field_spec *specs,
                            uint16_t count) {
    size_t n = 0;
    for (uint16_t i = 0; i < count; i++)
        if (!model || !ipfix_infomodel_find(model, specs[i].pen, specs[i].id)) n++;
    return n;
}

static const ipfix_element *resolve_element(const ipfix_infomodel *model, const ipfix_field_spec *spec,
                                            unknown_element **next_unknown) {
    const ipfix_element *e = model ? ipfix_infomodel_find(model, spec->pen, spec->id) : NULL;
    if (e) return e;
    unknown_element *u = (*next_unknown)++;
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%u:%u", (unsigned)spec->pen, (unsigned)spec->id);
    u->element.name = u->name;
    u->element.pen = spec->pen;
    u->element.id = spec->id;
    u->element.type = IPFIX_TYPE_OCTET_ARRAY;
    u->element.known = false;
    return &u->element;
}

/* RFC 7011 §6.2 lists the lengths each type may have. A field whose length
 * its element's type cannot have is decoded as octetArray rather than
 * rejecting the template: the data stays readable (as hex) and no record is
 * lost because an exporter mis-sized one field. */
static uint8_t decode_type(const ipfix_element *e, uint16_t length) {
    if (!e->known) return IPFIX_TYPE_OCTET_ARRAY;
    return ipfix_type_length_valid((ipfix_type)e->type, length) ? e->type : IPFIX_TYPE_OCTET_ARRAY;
}

static ipfix_status check_template_header(uint16_t id, uint16_t scope_count, uint16_t field_count,
                                          ipfix_error *err) {
    if (id < IPFIX_TEMPLATE_ID_MIN)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §3.4.1: Template ID must be 256 or more", "template ID %u", id);
    if (field_count == 0)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §3.4.1: Field Count must not be 0 (except in a withdrawal)",
                               "template %u", id);
    if (scope_count > field_count)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §3.4.2.2: Scope Field Count must not exceed Field Count",
                               "template %u: scope %u > fields %u", id, scope_count, field_count);
    return IPFIX_OK;
}

ipfix_status ipfix_template_new(const ipfix_infomodel *model, uint16_t id, uint16_t scope_field_count,
                                const ipfix_field_spec *specs, uint16_t field_count,
                                ipfix_template **out, ipfix_error *err) {
    *out = NULL;
    ipfix_status st = check_template_header(id, scope_field_count, field_count, err);
    if (st != IPFIX_OK) return st;
    size_t unknown = count_unknown(model, specs, field_count);
    size_t size = sizeof(ipfix_template) + field_count * sizeof(ipfix_template_field) +
                  unknown * sizeof(unknown_element);
    ipfix_template *t = calloc(1, size);
    if (!t) return IPFIX_ERR_NOMEM;
    unknown_element *next_unknown = (unknown_element *)(void *)&t->fields[field_count];
    t->id = id;
    t->field_count = field_count;
    t->scope_field_count = scope_field_count;
    t->refcount = 1;
    t->model = model;
    size_t offset = 0, min_length = 0;
    for (uint16_t i = 0; i < field_count; i++) {
        ipfix_template_field *f = &t->fields[i];
        f->spec = specs[i];
        f->element = resolve_element(model, &specs[i], &next_unknown);
        f->type = decode_type(f->element, specs[i].length);
        f->is_scope = i < scope_field_count;
        f->offset = t->variable ? IPFIX_OFFSET_VARIABLE : (uint16_t)offset;
        if (specs[i].length == IPFIX_VARLEN) {
            t->variable = true;
            min_length += 1;
        } else {
            offset += specs[i].length;
            min_length += specs[i].length;
        }
        /* RFC 7011 §3.1: a record must fit in a message (65535 - 16 - 4). */
        if (min_length > 65535u - 20u) {
            free(t);
            return ipfix_error_set(err, IPFIX_ERR_MALFORMED, (size_t)i * 4,
                                   "RFC 7011 §3.4.1: record length cannot fit in a message",
                                   "template %u: %zu bytes at field %u", id, min_length, i);
        }
    }
    if (min_length == 0) {
        /* Only zero-length fixed fields: records would have no size. */
        free(t);
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 0,
                               "RFC 7011 §3.4.1: template describes zero-length records",
                               "template %u", id);
    }
    t->min_record_length = (uint16_t)min_length;
    *out = t;
    return IPFIX_OK;
}

ipfix_status ipfix_template_parse(const ipfix_infomodel *model, bool is_options, const uint8_t *p,
                                  size_t available, size_t *consumed, ipfix_template **out,
                                  uint16_t *withdrawn_id, ipfix_error *err) {
    *out = NULL;
    *consumed = 0;
    if (available < 4)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, 0,
                               "RFC 7011 §3.4.1: template record header truncated",
                               "%zu bytes left in set", available);
    uint16_t id = ipfix_get_u16(p), field_count = ipfix_get_u16(p + 2);
    if (field_count == 0) { /* RFC 7011 §8.1: Template Withdrawal */
        *withdrawn_id = id;
        *consumed = 4;
        return IPFIX_OK;
    }
    size_t pos = 4;
    uint16_t scope_count = 0;
    if (is_options) {
        if (available < 6)
            return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, 0,
                                   "RFC 7011 §3.4.2.2: options template record header truncated",
                                   "%zu bytes left in set", available);
        scope_count = ipfix_get_u16(p + 4);
        pos = 6;
        if (scope_count == 0)
            return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 4,
                                   "RFC 7011 §3.4.2.2: Scope Field Count must not be 0",
                                   "options template %u", id);
    }
    ipfix_status st = check_template_header(id, scope_count, field_count, err);
    if (st != IPFIX_OK) return st;
    ipfix_field_spec stack_specs[64];
    ipfix_field_spec *specs = field_count <= 64 ? stack_specs : malloc(field_count * sizeof *specs);
    if (!specs) return IPFIX_ERR_NOMEM;
    for (uint16_t i = 0; i < field_count; i++) {
        if (available - pos < 4) {
            st = ipfix_error_set(err, IPFIX_ERR_TRUNCATED, pos,
                                 "RFC 7011 §3.2: field specifier past the end of the set",
                                 "template %u field %u of %u", id, i, field_count);
            goto done;
        }
        uint16_t raw_id = ipfix_get_u16(p + pos);
        specs[i].length = ipfix_get_u16(p + pos + 2);
        specs[i].id = raw_id & 0x7fff;
        specs[i].pen = 0;
        pos += 4;
        if (raw_id & 0x8000) { /* enterprise bit: a PEN follows */
            if (available - pos < 4) {
                st = ipfix_error_set(err, IPFIX_ERR_TRUNCATED, pos,
                                     "RFC 7011 §3.2: enterprise number past the end of the set",
                                     "template %u field %u", id, i);
                goto done;
            }
            specs[i].pen = ipfix_get_u32(p + pos);
            pos += 4;
        }
    }
    st = ipfix_template_new(model, id, scope_count, specs, field_count, out, err);
    if (st == IPFIX_OK) *consumed = pos;
done:
    if (specs != stack_specs) free(specs);
    return st;
}

ipfix_template *ipfix_template_ref(ipfix_template *t) {
    if (t) t->refcount++;
    return t;
}

void ipfix_template_unref(ipfix_template *t) {
    if (t && --t->refcount == 0) free(t);
}

bool ipfix_template_equal(const ipfix_template *a, const ipfix_template *b) {
    if (a->id != b->id || a->field_count != b->field_count ||
        a->scope_field_count != b->scope_field_count)
        return false;
    for (uint16_t i = 0; i < a->field_count; i++) {
        const ipfix_field_spec *x = &a->fields[i].spec, *y = &b->fields[i].spec;
        if (x->id != y->id || x->pen != y->pen || x->length != y->length) return false;
    }
    return true;
}

size_t ipfix_template_record_size(const ipfix_template *t) {
    size_t size = ipfix_template_is_options(t) ? 6 : 4;
    for (uint16_t i = 0; i < t->field_count; i++) size += t->fields[i].spec.pen ? 8 : 4;
    return size;
}

size_t ipfix_template_record_encode(const ipfix_template *t, uint8_t *out, size_t out_size) {
    size_t size = ipfix_template_record_size(t);
    if (size > out_size) return 0;
    ipfix_put_u16(out, t->id);
    ipfix_put_u16(out + 2, t->field_count);
    size_t pos = 4;
    if (ipfix_template_is_options(t)) {
        ipfix_put_u16(out + 4, t->scope_field_count);
        pos = 6;
    }
    for (uint16_t i = 0; i < t->field_count; i++) {
        const ipfix_field_spec *s = &t->fields[i].spec;
        ipfix_put_u16(out + pos, (uint16_t)(s->id | (s->pen ? 0x8000 : 0)));
        ipfix_put_u16(out + pos + 2, s->length);
        pos += 4;
        if (s->pen) {
            ipfix_put_u32(out + pos, s->pen);
            pos += 4;
        }
    }
    return pos;
}

int ipfix_template_find_field(const ipfix_template *t, uint32_t pen, uint16_t id, unsigned occurrence) {
    for (uint16_t i = 0; i < t->field_count; i++)
        if (t->fields[i].spec.id == id && t->fields[i].spec.pen == pen && occurrence-- == 0) return i;
    return -1;
}

/* Length prefix of a variable-length field (RFC 7011 §7): 1 byte, or 255
 * followed by 2 bytes. Returns false if the prefix or value passes `end`. */
static inline bool varlen_field(const uint8_t *p, const uint8_t *end, size_t *prefix, size_t *length) {
    if (p >= end) return false;
    if (p[0] < 255) {
        *prefix = 1;
        *length = p[0];
    } else {
        if (end - p < 3) return false;
        *prefix = 3;
        *length = ipfix_get_u16(p + 1);
    }
    return (size_t)(end - p) - *prefix >= *length;
}

ipfix_status ipfix_record_measure(const ipfix_template *t, const uint8_t *p, size_t available,
                                  size_t *length) {
    if (!t->variable) {
        if (available < t->min_record_length) return IPFIX_ERR_TRUNCATED;
        *length = t->min_record_length;
        return IPFIX_OK;
    }
    const uint8_t *cur = p, *end = p + available;
    for (uint16_t i = 0; i < t->field_count; i++) {
        uint16_t flen = t->fields[i].spec.length;
        if (flen != IPFIX_VARLEN) {
            if ((size_t)(end - cur) < flen) return IPFIX_ERR_TRUNCATED;
            cur += flen;
        } else {
            size_t prefix, vlen;
            if (!varlen_field(cur, end, &prefix, &vlen)) return IPFIX_ERR_TRUNCATED;
            cur += prefix + vlen;
        }
    }
    *length = (size_t)(cur - p);
    return IPFIX_OK;
}

ipfix_status ipfix_record_fields(const ipfix_record *r, ipfix_field_view *views) {
    const ipfix_template *t = r->tmpl;
    const uint8_t *cur = r->data, *end = r->data + r->length;
    for (uint16_t i = 0; i < t->field_count; i++) {
        uint16_t flen = t->fields[i].spec.length;
        if (flen != IPFIX_VARLEN) {
            if ((size_t)(end - cur) < flen) return IPFIX_ERR_TRUNCATED;
            views[i].data = cur;
            views[i].length = flen;
            cur += flen;
        } else {
            size_t prefix, vlen;
            if (!varlen_field(cur, end, &prefix, &vlen)) return IPFIX_ERR_TRUNCATED;
            views[i].data = cur + prefix;
            views[i].length = (uint16_t)vlen;
            cur += prefix + vlen;
        }
    }
    return IPFIX_OK;
}
