/*
 * structured.c — RFC 6313 structured data: decoding the headers of
 * basicList, subTemplateList and subTemplateMultiList fields into views,
 * bounds-checked iteration over their elements, entries and records, and
 * encoding of the headers. Nothing is copied; every offset reported in an
 * error is relative to the field (decode) or to the list content (next).
 */
#include "ipfixkit/structured.h"

#include "ipfixkit/value.h"

#define ENTERPRISE_BIT 0x8000u
#define BASIC_LIST_HEADER 5u      /* semantic, field ID, element length */
#define BASIC_LIST_PEN_HEADER 9u  /* ... + enterprise number */
#define SUB_TEMPLATE_LIST_HEADER 3u
#define MULTI_LIST_HEADER 1u
#define MULTI_LIST_ENTRY_HEADER 4u

static const char RULE_TEMPLATE_ID[] =
    "RFC 6313 §4.5.2/§4.5.3, RFC 7011 §3.4.1: list Template ID must be 256 or more";

/* ----------------------------------------------------------------- decode */

ipfix_status ipfix_basic_list_decode(const uint8_t *field, size_t length, ipfix_basic_list *out,
                                     ipfix_error *err) {
    /* RFC 6313 §4.5.1: the header is present even in an empty list. */
    if (length < BASIC_LIST_HEADER)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, 0,
                               "RFC 6313 §4.5.1: basicList header needs 5 octets",
                               "field of %zu octets", length);
    uint16_t raw_id = ipfix_get_u16(field + 1);
    size_t header = BASIC_LIST_HEADER;
    out->semantic = field[0];
    out->element_id = raw_id & (uint16_t)~ENTERPRISE_BIT;
    out->element_length = ipfix_get_u16(field + 3);
    out->pen = 0;
    if (raw_id & ENTERPRISE_BIT) {
        /* RFC 6313 §4.5.1: enterprise bit set -> a 4-octet PEN follows. */
        if (length < BASIC_LIST_PEN_HEADER)
            return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, BASIC_LIST_HEADER,
                                   "RFC 6313 §4.5.1: basicList enterprise number truncated",
                                   "field of %zu octets", length);
        out->pen = ipfix_get_u32(field + BASIC_LIST_HEADER);
        header = BASIC_LIST_PEN_HEADER;
    }
    out->data = field + header;
    out->length = length - header;
    uint16_t el = out->element_length;
    if (el == IPFIX_VARLEN) return IPFIX_OK;
    /* Fixed-size elements: zero-sized ones could never be counted (and
     * would loop forever), and the content must hold whole elements. */
    if (el == 0 && out->length > 0)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 3,
                               "RFC 6313 §4.5.1: basicList element length 0 with content",
                               "%zu octets of content", out->length);
    if (el != 0 && out->length % el != 0)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, header + out->length / el * el,
                               "RFC 6313 §4.5.1: basicList content is not whole elements",
                               "%zu octets, element length %u", out->length, (unsigned)el);
    return IPFIX_OK;
}

ipfix_status ipfix_sub_template_list_decode(const uint8_t *field, size_t length,
                                            ipfix_sub_template_list *out, ipfix_error *err) {
    if (length < SUB_TEMPLATE_LIST_HEADER)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, 0,
                               "RFC 6313 §4.5.2: subTemplateList header needs 3 octets",
                               "field of %zu octets", length);
    out->semantic = field[0];
    out->template_id = ipfix_get_u16(field + 1);
    out->data = field + SUB_TEMPLATE_LIST_HEADER;
    out->length = length - SUB_TEMPLATE_LIST_HEADER;
    if (out->template_id < IPFIX_TEMPLATE_ID_MIN)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, 1, RULE_TEMPLATE_ID, "template ID %u",
                               (unsigned)out->template_id);
    return IPFIX_OK;
}

ipfix_status ipfix_sub_template_multi_list_decode(const uint8_t *field, size_t length,
                                                  ipfix_sub_template_multi_list *out,
                                                  ipfix_error *err) {
    if (length < MULTI_LIST_HEADER)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, 0,
                               "RFC 6313 §4.5.3: subTemplateMultiList needs its semantic octet",
                               "empty field");
    out->semantic = field[0];
    out->data = field + MULTI_LIST_HEADER;
    out->length = length - MULTI_LIST_HEADER;
    return IPFIX_OK;
}

/* -------------------------------------------------------------- iteration */

/* Common start of every iterator: IPFIX_END at the end, an error for a
 * cursor the caller moved past it, IPFIX_OK to go on. */
static ipfix_status cursor_check(size_t cursor, size_t length, ipfix_error *err) {
    if (cursor == length) return IPFIX_END;
    if (cursor > length)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, cursor, NULL,
                               "cursor %zu past list content of %zu octets", cursor, length);
    return IPFIX_OK;
}

ipfix_status ipfix_basic_list_next(const ipfix_basic_list *list, size_t *cursor,
                                   const uint8_t **element, size_t *element_length,
                                   ipfix_error *err) {
    size_t pos = *cursor;
    ipfix_status st = cursor_check(pos, list->length, err);
    if (st != IPFIX_OK) return st;
    size_t left = list->length - pos, prefix = 0, len = list->element_length;
    if (len == IPFIX_VARLEN) {
        /* RFC 6313 §4.5.1 / RFC 7011 §7: each element has its own prefix. */
        if (ipfix_varlen_decode(list->data + pos, left, &prefix, &len) != IPFIX_OK)
            return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, pos,
                                   "RFC 7011 §7: basicList element length prefix or value "
                                   "passes the end of the list",
                                   "%zu octets left", left);
    } else if (len == 0) {
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, pos,
                               "RFC 6313 §4.5.1: basicList element length 0 with content",
                               "%zu octets left", left);
    } else if (len > left) {
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, pos,
                               "RFC 6313 §4.5.1: basicList element passes the end of the list",
                               "element length %zu, %zu octets left", len, left);
    }
    *element = list->data + pos + prefix;
    *element_length = len;
    *cursor = pos + prefix + len;
    return IPFIX_OK;
}

/* The next record of `tmpl` in content (`data`,`length`) at *cursor. */
static ipfix_status next_record(const uint8_t *data, size_t length, const ipfix_template *tmpl,
                                size_t *cursor, ipfix_record *record, ipfix_error *err) {
    size_t pos = *cursor;
    ipfix_status st = cursor_check(pos, length, err);
    if (st != IPFIX_OK) return st;
    size_t record_length = 0;
    st = ipfix_record_measure(tmpl, data + pos, length - pos, &record_length);
    if (st != IPFIX_OK)
        return ipfix_error_set(err, st, pos,
                               "RFC 6313 §4.5.2: sub-template record passes the end of the list",
                               "template %u, %zu octets left", (unsigned)tmpl->id, length - pos);
    if (record_length == 0 || record_length > length - pos) /* loop guard, paranoia */
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, pos,
                               "RFC 7011 §3.4.1: template describes zero-length records",
                               "template %u", (unsigned)tmpl->id);
    record->tmpl = tmpl;
    record->data = data + pos;
    record->length = record_length;
    *cursor = pos + record_length;
    return IPFIX_OK;
}

static ipfix_status check_template(const ipfix_template *tmpl, uint16_t template_id,
                                   ipfix_error *err) {
    if (!tmpl || tmpl->id != template_id)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, NULL,
                               "template %u given for list of template %u",
                               tmpl ? (unsigned)tmpl->id : 0u, (unsigned)template_id);
    return IPFIX_OK;
}

ipfix_status ipfix_sub_template_list_next(const ipfix_sub_template_list *list,
                                          const ipfix_template *tmpl, size_t *cursor,
                                          ipfix_record *record, ipfix_error *err) {
    ipfix_status st = check_template(tmpl, list->template_id, err);
    if (st != IPFIX_OK) return st;
    return next_record(list->data, list->length, tmpl, cursor, record, err);
}

ipfix_status ipfix_multi_list_next_entry(const ipfix_sub_template_multi_list *list,
                                         size_t *cursor, ipfix_multi_list_entry *entry,
                                         ipfix_error *err) {
    size_t pos = *cursor;
    ipfix_status st = cursor_check(pos, list->length, err);
    if (st != IPFIX_OK) return st;
    size_t left = list->length - pos;
    if (left < MULTI_LIST_ENTRY_HEADER)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, pos,
                               "RFC 6313 §4.5.3: subTemplateMultiList entry header truncated",
                               "%zu octets left", left);
    const uint8_t *p = list->data + pos;
    uint16_t template_id = ipfix_get_u16(p), entry_length = ipfix_get_u16(p + 2);
    if (template_id < IPFIX_TEMPLATE_ID_MIN)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, pos, RULE_TEMPLATE_ID, "template ID %u",
                               (unsigned)template_id);
    /* RFC 6313 §4.5.3: Data Records Length includes the Template ID and
     * the length field themselves. (The same section says an empty list
     * has it "set to zero"; that cannot be walked past, so it is rejected
     * like 1..3 — the length must be at least 4.) */
    if (entry_length < MULTI_LIST_ENTRY_HEADER)
        return ipfix_error_set(err, IPFIX_ERR_MALFORMED, pos + 2,
                               "RFC 6313 §4.5.3: entry length must include its 4-octet header",
                               "entry length %u", (unsigned)entry_length);
    if (entry_length > left)
        return ipfix_error_set(err, IPFIX_ERR_TRUNCATED, pos + 2,
                               "RFC 6313 §4.5.3: entry passes the end of the list",
                               "entry length %u, %zu octets left", (unsigned)entry_length, left);
    entry->template_id = template_id;
    entry->data = p + MULTI_LIST_ENTRY_HEADER;
    entry->length = entry_length - MULTI_LIST_ENTRY_HEADER;
    *cursor = pos + entry_length;
    return IPFIX_OK;
}

ipfix_status ipfix_multi_list_entry_next_record(const ipfix_multi_list_entry *entry,
                                                const ipfix_template *tmpl, size_t *cursor,
                                                ipfix_record *record, ipfix_error *err) {
    ipfix_status st = check_template(tmpl, entry->template_id, err);
    if (st != IPFIX_OK) return st;
    return next_record(entry->data, entry->length, tmpl, cursor, record, err);
}

/* --------------------------------------------------------------- encoders */

size_t ipfix_basic_list_encode_header(uint8_t *out, size_t out_size, uint8_t semantic,
                                      uint32_t pen, uint16_t element_id,
                                      uint16_t element_length) {
    size_t size = pen ? BASIC_LIST_PEN_HEADER : BASIC_LIST_HEADER;
    if (out_size < size || (element_id & ENTERPRISE_BIT)) return 0;
    out[0] = semantic;
    ipfix_put_u16(out + 1, (uint16_t)(element_id | (pen ? ENTERPRISE_BIT : 0)));
    ipfix_put_u16(out + 3, element_length);
    if (pen) ipfix_put_u32(out + BASIC_LIST_HEADER, pen);
    return size;
}

size_t ipfix_sub_template_list_encode_header(uint8_t *out, size_t out_size, uint8_t semantic,
                                             uint16_t template_id) {
    if (out_size < SUB_TEMPLATE_LIST_HEADER || template_id < IPFIX_TEMPLATE_ID_MIN) return 0;
    out[0] = semantic;
    ipfix_put_u16(out + 1, template_id);
    return SUB_TEMPLATE_LIST_HEADER;
}

size_t ipfix_sub_template_multi_list_encode_header(uint8_t *out, size_t out_size,
                                                   uint8_t semantic) {
    if (out_size < MULTI_LIST_HEADER) return 0;
    out[0] = semantic;
    return MULTI_LIST_HEADER;
}

size_t ipfix_multi_list_entry_encode_header(uint8_t *out, size_t out_size,
                                            uint16_t template_id, uint16_t entry_length) {
    if (out_size < MULTI_LIST_ENTRY_HEADER || template_id < IPFIX_TEMPLATE_ID_MIN ||
        entry_length < MULTI_LIST_ENTRY_HEADER)
        return 0;
    ipfix_put_u16(out, template_id);
    ipfix_put_u16(out + 2, entry_length);
    return MULTI_LIST_ENTRY_HEADER;
}
