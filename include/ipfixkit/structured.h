/*
 * structured.h — structured data types of RFC 6313: basicList,
 * subTemplateList and subTemplateMultiList.
 *
 * Decoding is a view over the field bytes (nothing copied) plus iterators
 * that bound-check every element and record. Sub-template records are
 * decoded through templates the caller looks up (normally the session's),
 * so this file depends only on template.h. Nesting depth is the caller's to
 * limit (render.c stops at IPFIX_STRUCTURED_MAX_DEPTH).
 */
#ifndef IPFIXKIT_STRUCTURED_H
#define IPFIXKIT_STRUCTURED_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "template.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_STRUCTURED_MAX_DEPTH 16

/* Structured-data semantics (RFC 6313 §4.4, IANA registry). */
typedef enum ipfix_list_semantic {
    IPFIX_LIST_NONE_OF = 0,
    IPFIX_LIST_EXACTLY_ONE_OF = 1,
    IPFIX_LIST_ONE_OR_MORE_OF = 2,
    IPFIX_LIST_ALL_OF = 3,
    IPFIX_LIST_ORDERED = 4,
    IPFIX_LIST_UNDEFINED = 255
} ipfix_list_semantic;

/* basicList (RFC 6313 §4.5.1): semantic, field ID (+E bit), element length,
 * optional PEN, then elements of that IE. */
typedef struct ipfix_basic_list {
    uint8_t semantic;
    uint16_t element_id;      /* without enterprise bit */
    uint32_t pen;             /* 0 when the enterprise bit was clear */
    uint16_t element_length;  /* IPFIX_VARLEN for variable-length elements */
    const uint8_t *data;      /* first element */
    size_t length;            /* bytes of elements */
} ipfix_basic_list;

/* subTemplateList (RFC 6313 §4.5.2). */
typedef struct ipfix_sub_template_list {
    uint8_t semantic;
    uint16_t template_id;
    const uint8_t *data;      /* first record */
    size_t length;
} ipfix_sub_template_list;

/* subTemplateMultiList (RFC 6313 §4.5.3): semantic, then entries of
 * (template ID, entry length, records). */
typedef struct ipfix_sub_template_multi_list {
    uint8_t semantic;
    const uint8_t *data;      /* first entry header */
    size_t length;
} ipfix_sub_template_multi_list;

typedef struct ipfix_multi_list_entry {
    uint16_t template_id;
    const uint8_t *data;      /* first record of this entry */
    size_t length;
} ipfix_multi_list_entry;

/* Decode the list header of a field (`field`,`length` as in the record).
 * `err->offset` is relative to `field`. */
ipfix_status ipfix_basic_list_decode(const uint8_t *field, size_t length,
                                     ipfix_basic_list *out, ipfix_error *err);
ipfix_status ipfix_sub_template_list_decode(const uint8_t *field, size_t length,
                                            ipfix_sub_template_list *out, ipfix_error *err);
ipfix_status ipfix_sub_template_multi_list_decode(const uint8_t *field, size_t length,
                                                  ipfix_sub_template_multi_list *out,
                                                  ipfix_error *err);

/* Iterators. `*cursor` starts at 0. Return IPFIX_OK with the next item,
 * IPFIX_END when done, or an error (with offset relative to list->data). */
ipfix_status ipfix_basic_list_next(const ipfix_basic_list *list, size_t *cursor,
                                   const uint8_t **element, size_t *element_length,
                                   ipfix_error *err);
ipfix_status ipfix_sub_template_list_next(const ipfix_sub_template_list *list,
                                          const ipfix_template *tmpl, size_t *cursor,
                                          ipfix_record *record, ipfix_error *err);
ipfix_status ipfix_multi_list_next_entry(const ipfix_sub_template_multi_list *list,
                                         size_t *cursor, ipfix_multi_list_entry *entry,
                                         ipfix_error *err);
ipfix_status ipfix_multi_list_entry_next_record(const ipfix_multi_list_entry *entry,
                                                const ipfix_template *tmpl, size_t *cursor,
                                                ipfix_record *record, ipfix_error *err);

/* Encoders: write the list header into `out` (returns bytes written, 0 if
 * out_size is too small, a template ID is < 256, element_id has the top bit
 * set (pass the PEN instead) or entry_length < 4); the caller appends
 * elements/records. Header sizes:
 * basicList 5 (9 with PEN), subTemplateList 3, subTemplateMultiList 1,
 * multi-list entry 4 (entry_length includes those 4 bytes). */
size_t ipfix_basic_list_encode_header(uint8_t *out, size_t out_size, uint8_t semantic,
                                      uint32_t pen, uint16_t element_id,
                                      uint16_t element_length);
size_t ipfix_sub_template_list_encode_header(uint8_t *out, size_t out_size, uint8_t semantic,
                                             uint16_t template_id);
size_t ipfix_sub_template_multi_list_encode_header(uint8_t *out, size_t out_size,
                                                   uint8_t semantic);
size_t ipfix_multi_list_entry_encode_header(uint8_t *out, size_t out_size,
                                            uint16_t template_id, uint16_t entry_length);

#ifdef __cplusplus
}
#endif
#endif
