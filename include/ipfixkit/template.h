/*
 * template.h — Templates and Options Templates (RFC 7011 §3.4) compiled into
 * decode plans, and the record view every module passes around.
 *
 * A template is built from its field specifiers; compiling resolves each
 * field to its information element (or a placeholder for unknown ones),
 * checks lengths against the abstract type, and precomputes field offsets.
 * For a template without variable-length fields every offset is fixed, so
 * hot paths read a field with one pointer add (`record.data + field.offset`).
 *
 * Ownership: templates are reference counted (not thread-safe: one owner
 * thread, normally the session's). ipfix_template_new() returns a reference
 * the caller owns; ipfix_template_unref() frees at zero. A record only borrows
 * its template and its bytes.
 */
#ifndef IPFIXKIT_TEMPLATE_H
#define IPFIXKIT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infomodel.h"
#include "value.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_TEMPLATE_ID_MIN 256u /* RFC 7011 §3.4.1: IDs 0-255 are reserved */
#define IPFIX_OFFSET_VARIABLE 0xFFFFu

/* A Field Specifier as on the wire (RFC 7011 §3.2). */
typedef struct ipfix_field_spec {
    uint32_t pen;     /* 0 unless the enterprise bit is set */
    uint16_t id;      /* Information Element ID without the enterprise bit */
    uint16_t length;  /* field length, IPFIX_VARLEN for variable */
} ipfix_field_spec;

typedef struct ipfix_template_field {
    ipfix_field_spec spec;
    const ipfix_element *element; /* never NULL: unknown elements get a placeholder
                                     (type octetArray, known=false, name "pen:id") */
    uint16_t offset;   /* byte offset in the record, IPFIX_OFFSET_VARIABLE when it
                          depends on earlier variable-length fields */
    uint8_t type;      /* ipfix_type used to decode (the element's) */
    bool is_scope;     /* scope field of an options template */
} ipfix_template_field;

typedef struct ipfix_template {
    uint16_t id;
    uint16_t field_count;
    uint16_t scope_field_count;   /* > 0: Options Template */
    uint16_t min_record_length;   /* fixed fields + 1 byte per variable field */
    bool variable;                /* has variable-length fields */
    uint32_t refcount;
    const ipfix_infomodel *model; /* borrowed */
    ipfix_template_field fields[]; /* field_count entries */
} ipfix_template;

/* A data record: borrowed template and bytes (valid as long as the buffer). */
typedef struct ipfix_record {
    const ipfix_template *tmpl;
    const uint8_t *data;
    size_t length;
} ipfix_record;

/* A located field of a record. */
typedef struct ipfix_field_view {
    const uint8_t *data;
    uint16_t length;
} ipfix_field_view;

/* Build and compile a template. scope_field_count is 0 for a Template,
 * 1..field_count for an Options Template. Rejects (RFC 7011 §3.4): ID < 256,
 * field_count 0, scope count > field count, lengths invalid for the element's
 * type (RFC 7011 §6.2), record length > 65535. `err->offset` is the index of
 * the offending field specifier times 4 (relative to the first specifier). */
ipfix_status ipfix_template_new(const ipfix_infomodel *model, uint16_t id,
                                uint16_t scope_field_count, const ipfix_field_spec *specs,
                                uint16_t field_count, ipfix_template **out, ipfix_error *err);

/* Parse one Template Record (is_options=false) or Options Template Record
 * from wire bytes at `p` with `available` bytes; on success `*consumed` is
 * the record's size. Field count 0 is a withdrawal: returns IPFIX_OK with
 * *out == NULL and *withdrawn_id set. `err->offset` is relative to `p`. */
ipfix_status ipfix_template_parse(const ipfix_infomodel *model, bool is_options,
                                  const uint8_t *p, size_t available, size_t *consumed,
                                  ipfix_template **out, uint16_t *withdrawn_id,
                                  ipfix_error *err);

ipfix_template *ipfix_template_ref(ipfix_template *tmpl);
void ipfix_template_unref(ipfix_template *tmpl);

/* Same ID, scope count and field specifiers. */
bool ipfix_template_equal(const ipfix_template *a, const ipfix_template *b);

static inline bool ipfix_template_is_options(const ipfix_template *tmpl) {
    return tmpl->scope_field_count > 0;
}

/* Wire size of the (Options) Template Record, and its encoding. encode
 * returns bytes written or 0 if out_size is too small. */
size_t ipfix_template_record_size(const ipfix_template *tmpl);
size_t ipfix_template_record_encode(const ipfix_template *tmpl, uint8_t *out, size_t out_size);

/* Index of the n-th (0-based) occurrence of (pen,id), or -1. */
int ipfix_template_find_field(const ipfix_template *tmpl, uint32_t pen, uint16_t id,
                              unsigned occurrence);

/* Length of the record starting at `p` (at most `available` bytes). For fixed
 * templates this is min_record_length; otherwise varlen prefixes are walked.
 * IPFIX_ERR_TRUNCATED if the record would pass `available`. */
ipfix_status ipfix_record_measure(const ipfix_template *tmpl, const uint8_t *p,
                                  size_t available, size_t *length);

/* Locate every field of `record` into `views` (record->tmpl->field_count
 * entries). For variable-length fields `data` points past the length prefix. */
ipfix_status ipfix_record_fields(const ipfix_record *record, ipfix_field_view *views);

#ifdef __cplusplus
}
#endif
#endif
