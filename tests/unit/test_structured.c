/*
 * test_structured.c — unit tests of RFC 6313 structured data (structured.c):
 * basicList with fixed, variable-length and enterprise elements,
 * subTemplateList and subTemplateMultiList built with the encoders and read
 * back, and every malformed case. Inputs are copied to exact-size heap
 * buffers so AddressSanitizer catches any read past a field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/structured.h"
#include "ipfixkit/value.h"

/* ----------------------------------------------------------------- helpers */

typedef struct buf {
    uint8_t data[4096];
    size_t len;
} buf;

static void put8(buf *b, uint8_t v) { b->data[b->len++] = v; }
static void put16(buf *b, uint16_t v) {
    ipfix_put_u16(b->data + b->len, v);
    b->len += 2;
}
static void put32(buf *b, uint32_t v) {
    ipfix_put_u32(b->data + b->len, v);
    b->len += 4;
}
static void put_bytes(buf *b, const void *p, size_t n) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static void put_varlen(buf *b, const void *p, size_t n) {
    b->len += ipfix_varlen_encode(b->data + b->len, sizeof b->data - b->len, n);
    put_bytes(b, p, n);
}

static uint8_t *dup_exact(const uint8_t *p, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n) memcpy(copy, p, n);
    return copy;
}

/* A template without an information model: the structured code only needs
 * the field lengths, which ipfix_record_measure() walks. */
static ipfix_template *make_template(uint16_t id, const ipfix_field_spec *specs, uint16_t n) {
    ipfix_template *t = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_template_new(NULL, id, 0, specs, n, &t, &err), IPFIX_OK);
    assert_non_null(t);
    return t;
}

/* T300: sourceTransportPort(7, 2) + octetDeltaCount(1, 4): fixed, 6 bytes. */
static ipfix_template *template_fixed(void) {
    static const ipfix_field_spec specs[] = {{0, 7, 2}, {0, 1, 4}};
    return make_template(300, specs, 2);
}

/* T301: protocolIdentifier(4, 1) + interfaceName(82, varlen). */
static ipfix_template *template_varlen(void) {
    static const ipfix_field_spec specs[] = {{0, 4, 1}, {0, 82, IPFIX_VARLEN}};
    return make_template(301, specs, 2);
}

static void put_fixed_record(buf *b, uint16_t port, uint32_t bytes) {
    put16(b, port);
    put32(b, bytes);
}

static void put_varlen_record(buf *b, uint8_t proto, const char *name) {
    put8(b, proto);
    put_varlen(b, name, strlen(name));
}

/* ------------------------------------------------------------ basicList */

static void test_basic_list_fixed(void **state) {
    (void)state;
    buf b = {.len = 0};
    b.len += ipfix_basic_list_encode_header(b.data, sizeof b.data, IPFIX_LIST_ORDERED, 0,
                                            IPFIX_IE_SOURCE_TRANSPORT_PORT, 2);
    assert_int_equal(b.len, 5);
    const uint16_t ports[] = {80, 443, 65535};
    for (size_t i = 0; i < 3; i++) put16(&b, ports[i]);
    const uint8_t header[] = {4, 0x00, 0x07, 0x00, 0x02};
    assert_memory_equal(b.data, header, 5);

    uint8_t *field = dup_exact(b.data, b.len);
    ipfix_basic_list list;
    ipfix_error err;
    assert_int_equal(ipfix_basic_list_decode(field, b.len, &list, &err), IPFIX_OK);
    assert_int_equal(list.semantic, IPFIX_LIST_ORDERED);
    assert_int_equal(list.element_id, 7);
    assert_int_equal(list.pen, 0);
    assert_int_equal(list.element_length, 2);
    assert_ptr_equal(list.data, field + 5);
    assert_int_equal(list.length, 6);

    size_t cursor = 0, n = 0, len;
    const uint8_t *el;
    ipfix_status st;
    while ((st = ipfix_basic_list_next(&list, &cursor, &el, &len, &err)) == IPFIX_OK) {
        assert_true(n < 3);
        ipfix_value v;
        assert_int_equal(ipfix_value_decode(IPFIX_TYPE_UNSIGNED16, el, len, &v, &err), IPFIX_OK);
        assert_int_equal(v.v.u64, ports[n]);
        n++;
    }
    assert_int_equal(st, IPFIX_END);
    assert_int_equal(n, 3);
    /* END is sticky. */
    assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, &err), IPFIX_END);
    free(field);
}

static void test_basic_list_varlen(void **state) {
    (void)state;
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *names[] = {"eth0", "", long_name, "wlan\xc3\xa9"};
    buf b = {.len = 0};
    b.len += ipfix_basic_list_encode_header(b.data, sizeof b.data, IPFIX_LIST_ONE_OR_MORE_OF, 0,
                                            82, IPFIX_VARLEN);
    for (size_t i = 0; i < 4; i++) put_varlen(&b, names[i], strlen(names[i]));
    /* RFC 6313 §5.1: the 3-byte prefix is fine for short elements too. */
    put8(&b, 255);
    put16(&b, 3);
    put_bytes(&b, "lo0", 3);

    uint8_t *field = dup_exact(b.data, b.len);
    ipfix_basic_list list;
    assert_int_equal(ipfix_basic_list_decode(field, b.len, &list, NULL), IPFIX_OK);
    assert_int_equal(list.element_length, IPFIX_VARLEN);
    size_t cursor = 0, len;
    const uint8_t *el;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, NULL), IPFIX_OK);
        assert_int_equal(len, strlen(names[i]));
        ipfix_value v;
        assert_int_equal(ipfix_value_decode(IPFIX_TYPE_STRING, el, len, &v, NULL), IPFIX_OK);
        if (len) assert_memory_equal(el, names[i], len);
    }
    assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, NULL), IPFIX_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(el, "lo0", 3);
    assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, NULL), IPFIX_END);
    free(field);
}

static void test_basic_list_enterprise(void **state) {
    (void)state;
    buf b = {.len = 0};
    b.len += ipfix_basic_list_encode_header(b.data, sizeof b.data, IPFIX_LIST_ALL_OF, 6871, 12, 4);
    assert_int_equal(b.len, 9);
    const uint8_t header[] = {3, 0x80, 0x0c, 0x00, 0x04, 0x00, 0x00, 0x1a, 0xd7};
    assert_memory_equal(b.data, header, 9);
    put32(&b, 0xdeadbeef);
    put32(&b, 7);

    uint8_t *field = dup_exact(b.data, b.len);
    ipfix_basic_list list;
    assert_int_equal(ipfix_basic_list_decode(field, b.len, &list, NULL), IPFIX_OK);
    assert_int_equal(list.semantic, IPFIX_LIST_ALL_OF);
    assert_int_equal(list.element_id, 12); /* enterprise bit removed */
    assert_int_equal(list.pen, 6871);
    assert_int_equal(list.element_length, 4);
    assert_ptr_equal(list.data, field + 9);
    assert_int_equal(list.length, 8);
    size_t cursor = 0, len;
    const uint8_t *el;
    assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, NULL), IPFIX_OK);
    assert_int_equal(ipfix_get_u32(el), 0xdeadbeefu);
    assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, NULL), IPFIX_OK);
    assert_int_equal(ipfix_get_u32(el), 7);
    assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, NULL), IPFIX_END);
    free(field);
}

/* RFC 6313 §4.5.1: an empty list still has its whole header. */
static void test_basic_list_empty(void **state) {
    (void)state;
    const uint8_t plain[] = {IPFIX_LIST_UNDEFINED, 0x00, 0x08, 0x00, 0x04};
    const uint8_t varlen[] = {IPFIX_LIST_NONE_OF, 0x00, 0x52, 0xff, 0xff};
    const uint8_t pen[] = {1, 0x80, 0x01, 0x00, 0x08, 0x00, 0x00, 0x72, 0x79};
    const uint8_t zero_length[] = {1, 0x00, 0x01, 0x00, 0x00}; /* no content: harmless */
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {{plain, sizeof plain}, {varlen, sizeof varlen}, {pen, sizeof pen},
                 {zero_length, sizeof zero_length}};
    for (size_t i = 0; i < 4; i++) {
        uint8_t *field = dup_exact(cases[i].p, cases[i].n);
        ipfix_basic_list list;
        assert_int_equal(ipfix_basic_list_decode(field, cases[i].n, &list, NULL), IPFIX_OK);
        assert_int_equal(list.length, 0);
        size_t cursor = 0, len;
        const uint8_t *el;
        assert_int_equal(ipfix_basic_list_next(&list, &cursor, &el, &len, NULL), IPFIX_END);
        free(field);
    }
}

static void test_basic_list_encode_limits(void **state) {
    (void)state;
    uint8_t out[9];
    assert_int_equal(ipfix_basic_list_encode_header(out, 4, 0, 0, 7, 2), 0);
    assert_int_equal(ipfix_basic_list_encode_header(out, 5, 0, 0, 7, 2), 5);
    assert_int_equal(ipfix_basic_list_encode_header(out, 8, 0, 1, 7, 2), 0);
    assert_int_equal(ipfix_basic_list_encode_header(out, 9, 0, 1, 7, 2), 9);
    /* The enterprise bit comes from the PEN, never from the ID. */
    assert_int_equal(ipfix_basic_list_encode_header(out, 9, 0, 0, 0x8007, 2), 0);
    assert_int_equal(ipfix_basic_list_encode_header(out, 9, 0, 0, 0x7fff, 2), 5);
    assert_int_equal(ipfix_get_u16(out + 1), 0x7fff);
}

/* Decode `p`/`n` (exact copy) as a basicList and walk it to the end;
 * returns the first status that is not IPFIX_OK, with the error. */
static ipfix_status walk_basic_list(const uint8_t *p, size_t n, ipfix_error *err,
                                    size_t *elements) {
    uint8_t *field = dup_exact(p, n);
    ipfix_basic_list list;
    ipfix_error_clear(err);
    *elements = 0;
    ipfix_status st = ipfix_basic_list_decode(field, n, &list, err);
    if (st == IPFIX_OK) {
        size_t cursor = 0, len;
        const uint8_t *el;
        while ((st = ipfix_basic_list_next(&list, &cursor, &el, &len, err)) == IPFIX_OK) {
            assert_true(el >= field && el + len <= field + n);
            assert_true(++*elements <= n); /* progress: cannot loop forever */
        }
    }
    free(field);
    return st;
}

static void test_basic_list_malformed(void **state) {
    (void)state;
    ipfix_error err;
    size_t count;
    const uint8_t full[] = {1, 0x80, 0x07, 0x00, 0x02, 0, 0, 0x72, 0x79, 0, 80};
    /* Every header shorter than 5 (or 9 with the enterprise bit). */
    for (size_t n = 0; n < 9; n++) {
        assert_int_equal(walk_basic_list(full, n, &err, &count), IPFIX_ERR_TRUNCATED);
        assert_int_equal(err.status, IPFIX_ERR_TRUNCATED);
        assert_non_null(strstr(err.rule, "RFC 6313 §4.5.1"));
        assert_int_equal(err.offset, n < 5 ? 0 : 5);
    }
    assert_int_equal(walk_basic_list(full, 9, &err, &count), IPFIX_END);
    assert_int_equal(count, 0);
    /* Partial last fixed element. */
    assert_int_equal(walk_basic_list(full, 10, &err, &count), IPFIX_ERR_TRUNCATED);
    assert_int_equal(err.offset, 9);
    assert_int_equal(walk_basic_list(full, 11, &err, &count), IPFIX_END);
    assert_int_equal(count, 1);

    /* Element length 0 with content: would never advance. */
    const uint8_t zero[] = {1, 0x00, 0x07, 0x00, 0x00, 0xaa};
    assert_int_equal(walk_basic_list(zero, sizeof zero, &err, &count), IPFIX_ERR_MALFORMED);
    assert_int_equal(err.offset, 3);

    /* Element longer than the content. */
    const uint8_t big[] = {1, 0x00, 0x01, 0x00, 0x08, 1, 2, 3, 4};
    assert_int_equal(walk_basic_list(big, sizeof big, &err, &count), IPFIX_ERR_TRUNCATED);
    assert_int_equal(err.offset, 5);

    /* Variable-length elements: value passing the end. */
    const uint8_t v1[] = {1, 0x00, 0x52, 0xff, 0xff, 2, 'o', 'k', 5, 'a', 'b'};
    assert_int_equal(walk_basic_list(v1, sizeof v1, &err, &count), IPFIX_ERR_TRUNCATED);
    assert_int_equal(count, 1);
    assert_int_equal(err.offset, 3); /* relative to list->data */
    /* 3-byte prefix cut after 1 and after 2 bytes. */
    const uint8_t v2[] = {1, 0x00, 0x52, 0xff, 0xff, 255, 0x00};
    assert_int_equal(walk_basic_list(v2, sizeof v2, &err, &count), IPFIX_ERR_TRUNCATED);
    assert_int_equal(walk_basic_list(v2, sizeof v2 - 1, &err, &count), IPFIX_ERR_TRUNCATED);
    assert_int_equal(err.offset, 0);
    /* 3-byte prefix claiming 65535 bytes. */
    const uint8_t v3[] = {1, 0x00, 0x52, 0xff, 0xff, 255, 0xff, 0xff, 'x'};
    assert_int_equal(walk_basic_list(v3, sizeof v3, &err, &count), IPFIX_ERR_TRUNCATED);
    /* Zero-length varlen elements do advance (by their prefix). */
    const uint8_t v4[] = {1, 0x00, 0x52, 0xff, 0xff, 0, 0, 0};
    assert_int_equal(walk_basic_list(v4, sizeof v4, &err, &count), IPFIX_END);
    assert_int_equal(count, 3);

    /* A list built by hand with element length 0 still cannot loop. */
    const uint8_t content[] = {1, 2, 3};
    ipfix_basic_list hand = {.element_length = 0, .data = content, .length = 3};
    size_t cursor = 0, len;
    const uint8_t *el;
    assert_int_equal(ipfix_basic_list_next(&hand, &cursor, &el, &len, &err), IPFIX_ERR_MALFORMED);
    /* A cursor past the content is the caller's bug, not END. */
    hand.element_length = 1;
    cursor = 4;
    assert_int_equal(ipfix_basic_list_next(&hand, &cursor, &el, &len, &err),
                     IPFIX_ERR_INVALID_ARG);
    /* Partial trailing element in a hand-built list. */
    hand.element_length = 2;
    cursor = 2;
    assert_int_equal(ipfix_basic_list_next(&hand, &cursor, &el, &len, &err), IPFIX_ERR_TRUNCATED);
    assert_int_equal(err.offset, 2);
}

/* ------------------------------------------------------- subTemplateList */

static void test_sub_template_list_fixed(void **state) {
    (void)state;
    ipfix_template *t = template_fixed();
    buf b = {.len = 0};
    b.len += ipfix_sub_template_list_encode_header(b.data, sizeof b.data, IPFIX_LIST_ALL_OF, 300);
    assert_int_equal(b.len, 3);
    const uint8_t header[] = {3, 0x01, 0x2c};
    assert_memory_equal(b.data, header, 3);
    for (uint16_t i = 0; i < 3; i++) put_fixed_record(&b, (uint16_t)(1000 + i), 100u * i);

    uint8_t *field = dup_exact(b.data, b.len);
    ipfix_sub_template_list list;
    ipfix_error err;
    assert_int_equal(ipfix_sub_template_list_decode(field, b.len, &list, &err), IPFIX_OK);
    assert_int_equal(list.semantic, IPFIX_LIST_ALL_OF);
    assert_int_equal(list.template_id, 300);
    assert_int_equal(list.length, 18);
    size_t cursor = 0;
    ipfix_record rec;
    for (uint16_t i = 0; i < 3; i++) {
        assert_int_equal(ipfix_sub_template_list_next(&list, t, &cursor, &rec, &err), IPFIX_OK);
        assert_ptr_equal(rec.tmpl, t);
        assert_int_equal(rec.length, 6);
        ipfix_field_view views[2];
        assert_int_equal(ipfix_record_fields(&rec, views), IPFIX_OK);
        assert_int_equal(ipfix_get_u16(views[0].data), 1000 + i);
        assert_int_equal(ipfix_get_u32(views[1].data), 100u * i);
    }
    assert_int_equal(ipfix_sub_template_list_next(&list, t, &cursor, &rec, &err), IPFIX_END);
    free(field);
    ipfix_template_unref(t);
}

static void test_sub_template_list_varlen(void **state) {
    (void)state;
    ipfix_template *t = template_varlen();
    char long_name[400];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *names[] = {"eth0", "", long_name};
    buf b = {.len = 0};
    b.len += ipfix_sub_template_list_encode_header(b.data, sizeof b.data, IPFIX_LIST_ORDERED, 301);
    for (size_t i = 0; i < 3; i++) put_varlen_record(&b, (uint8_t)(6 + i), names[i]);

    uint8_t *field = dup_exact(b.data, b.len);
    ipfix_sub_template_list list;
    assert_int_equal(ipfix_sub_template_list_decode(field, b.len, &list, NULL), IPFIX_OK);
    size_t cursor = 0;
    ipfix_record rec;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ipfix_sub_template_list_next(&list, t, &cursor, &rec, NULL), IPFIX_OK);
        size_t n = strlen(names[i]);
        assert_int_equal(rec.length, 1 + (n < 255 ? 1 : 3) + n);
        ipfix_field_view views[2];
        assert_int_equal(ipfix_record_fields(&rec, views), IPFIX_OK);
        assert_int_equal(views[0].data[0], 6 + i);
        assert_int_equal(views[1].length, n);
        if (n) assert_memory_equal(views[1].data, names[i], n);
    }
    assert_int_equal(ipfix_sub_template_list_next(&list, t, &cursor, &rec, NULL), IPFIX_END);
    free(field);
    ipfix_template_unref(t);
}

static void test_sub_template_list_empty(void **state) {
    (void)state;
    ipfix_template *t = template_fixed();
    uint8_t hdr[3];
    assert_int_equal(ipfix_sub_template_list_encode_header(hdr, 3, IPFIX_LIST_UNDEFINED, 300), 3);
    uint8_t *field = dup_exact(hdr, 3);
    ipfix_sub_template_list list;
    assert_int_equal(ipfix_sub_template_list_decode(field, 3, &list, NULL), IPFIX_OK);
    assert_int_equal(list.length, 0);
    size_t cursor = 0;
    ipfix_record rec;
    assert_int_equal(ipfix_sub_template_list_next(&list, t, &cursor, &rec, NULL), IPFIX_END);
    free(field);
    ipfix_template_unref(t);
    /* encoder limits */
    assert_int_equal(ipfix_sub_template_list_encode_header(hdr, 2, 0, 300), 0);
    assert_int_equal(ipfix_sub_template_list_encode_header(hdr, 3, 0, 255), 0);
    assert_int_equal(ipfix_sub_template_list_encode_header(hdr, 3, 0, 256), 3);
}

static ipfix_status walk_sub_template_list(const uint8_t *p, size_t n, const ipfix_template *t,
                                           ipfix_error *err, size_t *records) {
    uint8_t *field = dup_exact(p, n);
    ipfix_sub_template_list list;
    ipfix_error_clear(err);
    *records = 0;
    ipfix_status st = ipfix_sub_template_list_decode(field, n, &list, err);
    if (st == IPFIX_OK) {
        size_t cursor = 0;
        ipfix_record rec;
        while ((st = ipfix_sub_template_list_next(&list, t, &cursor, &rec, err)) == IPFIX_OK) {
            assert_true(rec.data >= field && rec.data + rec.length <= field + n);
            assert_true(++*records <= n);
        }
    }
    free(field);
    return st;
}

static void test_sub_template_list_malformed(void **state) {
    (void)state;
    ipfix_template *fixed = template_fixed(), *var = template_varlen();
    ipfix_error err;
    size_t count;
    buf b = {.len = 0};
    b.len += ipfix_sub_template_list_encode_header(b.data, sizeof b.data, 0, 300);
    put_fixed_record(&b, 1, 2);
    put_fixed_record(&b, 3, 4);
    /* Headers shorter than 3. */
    for (size_t n = 0; n < 3; n++) {
        assert_int_equal(walk_sub_template_list(b.data, n, fixed, &err, &count),
                         IPFIX_ERR_TRUNCATED);
        assert_non_null(strstr(err.rule, "RFC 6313 §4.5.2"));
    }
    /* Every cut inside a record: the records before it are returned, then
     * TRUNCATED at the start of the partial record. */
    for (size_t n = 3; n <= b.len; n++) {
        ipfix_status st = walk_sub_template_list(b.data, n, fixed, &err, &count);
        if ((n - 3) % 6 == 0) {
            assert_int_equal(st, IPFIX_END);
            assert_int_equal(count, (n - 3) / 6);
        } else {
            assert_int_equal(st, IPFIX_ERR_TRUNCATED);
            assert_int_equal(count, (n - 3) / 6);
            assert_int_equal(err.offset, count * 6);
        }
    }
    /* Template IDs 0..255 are not templates (RFC 7011 §3.4.1). */
    const uint16_t bad_ids[] = {0, 2, 3, 255};
    for (size_t i = 0; i < 4; i++) {
        uint8_t hdr[3] = {0, (uint8_t)(bad_ids[i] >> 8), (uint8_t)bad_ids[i]};
        assert_int_equal(walk_sub_template_list(hdr, 3, fixed, &err, &count), IPFIX_ERR_MALFORMED);
        assert_int_equal(err.offset, 1);
    }
    /* Varlen record whose prefix or value passes the end of the list. */
    buf v = {.len = 0};
    v.len += ipfix_sub_template_list_encode_header(v.data, sizeof v.data, 0, 301);
    put_varlen_record(&v, 6, "abc");
    size_t first = v.len - 3;
    put8(&v, 17);
    put8(&v, 255);
    put16(&v, 10);
    put_bytes(&v, "short", 5);
    assert_int_equal(walk_sub_template_list(v.data, v.len, var, &err, &count), IPFIX_ERR_TRUNCATED);
    assert_int_equal(count, 1);
    assert_int_equal(err.offset, first);
    /* Every cut except after the first record (field offset 3 + first). */
    for (size_t n = 4; n < v.len; n++)
        assert_int_equal(walk_sub_template_list(v.data, n, var, &err, &count),
                         n == 3 + first ? IPFIX_END : IPFIX_ERR_TRUNCATED);
    /* The template must be the list's. */
    assert_int_equal(walk_sub_template_list(b.data, b.len, var, &err, &count),
                     IPFIX_ERR_INVALID_ARG);
    assert_int_equal(walk_sub_template_list(b.data, b.len, NULL, &err, &count),
                     IPFIX_ERR_INVALID_ARG);
    ipfix_template_unref(fixed);
    ipfix_template_unref(var);
}

/* ------------------------------------------------- subTemplateMultiList */

/* Entry header is written last: RFC 6313 §5.1 "fill in the final length". */
static void put_entry(buf *b, uint16_t template_id, void (*records)(buf *)) {
    size_t start = b->len;
    b->len += 4;
    records(b);
    assert_int_equal(ipfix_multi_list_entry_encode_header(b->data + start, 4, template_id,
                                                          (uint16_t)(b->len - start)),
                     4);
}

static void records_fixed(buf *b) {
    put_fixed_record(b, 53, 1000);
    put_fixed_record(b, 123, 2000);
}
static void records_varlen(buf *b) {
    put_varlen_record(b, 17, "dns0");
    put_varlen_record(b, 6, "");
    put_varlen_record(b, 1, "ppp0");
}
static void records_none(buf *b) { (void)b; }

static void build_multi_list(buf *b) {
    b->len = 0;
    b->len += ipfix_sub_template_multi_list_encode_header(b->data, sizeof b->data,
                                                          IPFIX_LIST_EXACTLY_ONE_OF);
    put_entry(b, 300, records_fixed);
    put_entry(b, 301, records_varlen);
    put_entry(b, 300, records_none);
}

static void test_multi_list_round_trip(void **state) {
    (void)state;
    ipfix_template *fixed = template_fixed(), *var = template_varlen();
    buf b;
    build_multi_list(&b);
    assert_int_equal(b.data[0], IPFIX_LIST_EXACTLY_ONE_OF);
    assert_int_equal(ipfix_get_u16(b.data + 1), 300);
    assert_int_equal(ipfix_get_u16(b.data + 3), 4 + 12);

    uint8_t *field = dup_exact(b.data, b.len);
    ipfix_sub_template_multi_list list;
    ipfix_error err;
    assert_int_equal(ipfix_sub_template_multi_list_decode(field, b.len, &list, &err), IPFIX_OK);
    assert_int_equal(list.semantic, IPFIX_LIST_EXACTLY_ONE_OF);
    assert_int_equal(list.length, b.len - 1);

    size_t cursor = 0;
    ipfix_multi_list_entry entry;
    /* entry 1: two fixed records */
    assert_int_equal(ipfix_multi_list_next_entry(&list, &cursor, &entry, &err), IPFIX_OK);
    assert_int_equal(entry.template_id, 300);
    assert_int_equal(entry.length, 12);
    size_t rc = 0;
    ipfix_record rec;
    assert_int_equal(ipfix_multi_list_entry_next_record(&entry, fixed, &rc, &rec, &err), IPFIX_OK);
    assert_int_equal(ipfix_get_u16(rec.data), 53);
    assert_int_equal(ipfix_multi_list_entry_next_record(&entry, fixed, &rc, &rec, &err), IPFIX_OK);
    assert_int_equal(ipfix_get_u32(rec.data + 2), 2000);
    assert_int_equal(ipfix_multi_list_entry_next_record(&entry, fixed, &rc, &rec, &err), IPFIX_END);
    /* entry 2: three varlen records */
    assert_int_equal(ipfix_multi_list_next_entry(&list, &cursor, &entry, &err), IPFIX_OK);
    assert_int_equal(entry.template_id, 301);
    rc = 0;
    const char *names[] = {"dns0", "", "ppp0"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(ipfix_multi_list_entry_next_record(&entry, var, &rc, &rec, &err),
                         IPFIX_OK);
        ipfix_field_view views[2];
        assert_int_equal(ipfix_record_fields(&rec, views), IPFIX_OK);
        assert_int_equal(views[1].length, strlen(names[i]));
    }
    assert_int_equal(ipfix_multi_list_entry_next_record(&entry, var, &rc, &rec, &err), IPFIX_END);
    /* entry 3: empty */
    assert_int_equal(ipfix_multi_list_next_entry(&list, &cursor, &entry, &err), IPFIX_OK);
    assert_int_equal(entry.length, 0);
    rc = 0;
    assert_int_equal(ipfix_multi_list_entry_next_record(&entry, fixed, &rc, &rec, &err), IPFIX_END);
    assert_int_equal(ipfix_multi_list_next_entry(&list, &cursor, &entry, &err), IPFIX_END);
    /* The wrong template for an entry is refused. */
    assert_int_equal(ipfix_multi_list_entry_next_record(&entry, var, &rc, &rec, &err),
                     IPFIX_ERR_INVALID_ARG);
    free(field);
    ipfix_template_unref(fixed);
    ipfix_template_unref(var);
}

static void test_multi_list_empty_and_encode_limits(void **state) {
    (void)state;
    uint8_t one[1];
    assert_int_equal(ipfix_sub_template_multi_list_encode_header(one, 0, 1), 0);
    assert_int_equal(ipfix_sub_template_multi_list_encode_header(one, 1, 1), 1);
    uint8_t *field = dup_exact(one, 1);
    ipfix_sub_template_multi_list list;
    assert_int_equal(ipfix_sub_template_multi_list_decode(field, 1, &list, NULL), IPFIX_OK);
    size_t cursor = 0;
    ipfix_multi_list_entry entry;
    assert_int_equal(ipfix_multi_list_next_entry(&list, &cursor, &entry, NULL), IPFIX_END);
    free(field);
    ipfix_error err;
    assert_int_equal(ipfix_sub_template_multi_list_decode(NULL, 0, &list, &err),
                     IPFIX_ERR_TRUNCATED);
    assert_non_null(strstr(err.rule, "RFC 6313 §4.5.3"));

    uint8_t hdr[4];
    assert_int_equal(ipfix_multi_list_entry_encode_header(hdr, 3, 300, 4), 0);
    assert_int_equal(ipfix_multi_list_entry_encode_header(hdr, 4, 255, 4), 0);
    assert_int_equal(ipfix_multi_list_entry_encode_header(hdr, 4, 300, 3), 0);
    assert_int_equal(ipfix_multi_list_entry_encode_header(hdr, 4, 300, 4), 4);
    const uint8_t want[] = {0x01, 0x2c, 0x00, 0x04};
    assert_memory_equal(hdr, want, 4);
}

/* Walk a whole multi-list: every entry and every record of known templates. */
static ipfix_status walk_multi_list(const uint8_t *p, size_t n, ipfix_template *const *tmpls,
                                    size_t ntmpl, ipfix_error *err, size_t *items) {
    uint8_t *field = dup_exact(p, n);
    ipfix_sub_template_multi_list list;
    ipfix_error_clear(err);
    *items = 0;
    ipfix_status st = ipfix_sub_template_multi_list_decode(field, n, &list, err);
    size_t cursor = 0;
    ipfix_multi_list_entry entry;
    while (st == IPFIX_OK &&
           (st = ipfix_multi_list_next_entry(&list, &cursor, &entry, err)) == IPFIX_OK) {
        assert_true(entry.data >= field && entry.data + entry.length <= field + n);
        assert_true(++*items <= n);
        const ipfix_template *t = NULL;
        for (size_t i = 0; i < ntmpl; i++)
            if (tmpls[i]->id == entry.template_id) t = tmpls[i];
        if (!t) continue;
        size_t rc = 0;
        ipfix_record rec;
        while ((st = ipfix_multi_list_entry_next_record(&entry, t, &rc, &rec, err)) == IPFIX_OK) {
            assert_true(rec.data >= entry.data && rec.data + rec.length <= entry.data + entry.length);
            assert_true(++*items <= n);
        }
        if (st == IPFIX_END) st = IPFIX_OK;
    }
    free(field);
    return st;
}

static void test_multi_list_malformed(void **state) {
    (void)state;
    ipfix_template *tmpls[2] = {template_fixed(), template_varlen()};
    ipfix_error err;
    size_t items;
    buf b;
    build_multi_list(&b);
    assert_int_equal(walk_multi_list(b.data, b.len, tmpls, 2, &err, &items), IPFIX_END);
    assert_int_equal(items, 3 + 2 + 3);

    /* Entry header cut short (1..3 bytes after the semantic). */
    for (size_t n = 2; n < 5; n++) {
        assert_int_equal(walk_multi_list(b.data, n, tmpls, 2, &err, &items), IPFIX_ERR_TRUNCATED);
        assert_int_equal(err.offset, 0);
        assert_non_null(strstr(err.rule, "RFC 6313 §4.5.3"));
    }
    /* Every cut of the list: never OK past the cut, never out of bounds. */
    for (size_t n = 0; n < b.len; n++) {
        ipfix_status st = walk_multi_list(b.data, n, tmpls, 2, &err, &items);
        /* cuts at entry boundaries are well-formed shorter lists */
        bool boundary = n == 1 || n == 1 + 16 || n == b.len - 4;
        assert_int_equal(st, boundary ? IPFIX_END : IPFIX_ERR_TRUNCATED);
    }
    /* Entry length 0..3: does not cover its own header. */
    for (uint16_t len = 0; len < 4; len++) {
        buf m = b;
        ipfix_put_u16(m.data + 3, len);
        assert_int_equal(walk_multi_list(m.data, m.len, tmpls, 2, &err, &items),
                         IPFIX_ERR_MALFORMED);
        assert_int_equal(err.offset, 2);
        assert_int_equal(items, 0);
    }
    /* Entry length past the end of the list. */
    buf m = b;
    ipfix_put_u16(m.data + 3, (uint16_t)(m.len));
    assert_int_equal(walk_multi_list(m.data, m.len, tmpls, 2, &err, &items), IPFIX_ERR_TRUNCATED);
    assert_int_equal(err.offset, 2);
    ipfix_put_u16(m.data + 3, 0xffff);
    assert_int_equal(walk_multi_list(m.data, m.len, tmpls, 2, &err, &items), IPFIX_ERR_TRUNCATED);
    /* Template ID < 256 in an entry (second entry, at list offset 16). */
    m = b;
    ipfix_put_u16(m.data + 1 + 16, 3);
    assert_int_equal(walk_multi_list(m.data, m.len, tmpls, 2, &err, &items), IPFIX_ERR_MALFORMED);
    assert_int_equal(err.offset, 16);
    assert_non_null(strstr(err.rule, "256"));
    /* Records overrunning their entry (entry 1 shortened to 1.5 records). */
    m = b;
    ipfix_put_u16(m.data + 3, 4 + 9);
    assert_int_equal(walk_multi_list(m.data, m.len, tmpls, 2, &err, &items), IPFIX_ERR_TRUNCATED);
    assert_int_equal(err.offset, 6); /* relative to entry->data */
    /* Varlen record overrunning its entry: second entry one byte short. */
    m = b;
    uint16_t e2 = ipfix_get_u16(m.data + 1 + 16 + 2);
    ipfix_put_u16(m.data + 1 + 16 + 2, (uint16_t)(e2 - 1));
    assert_int_equal(walk_multi_list(m.data, m.len, tmpls, 2, &err, &items), IPFIX_ERR_TRUNCATED);
    /* A cursor moved past the content by the caller. */
    ipfix_sub_template_multi_list list = {.data = b.data + 1, .length = b.len - 1};
    size_t cursor = b.len;
    ipfix_multi_list_entry entry;
    assert_int_equal(ipfix_multi_list_next_entry(&list, &cursor, &entry, &err),
                     IPFIX_ERR_INVALID_ARG);
    ipfix_template_unref(tmpls[0]);
    ipfix_template_unref(tmpls[1]);
}

/* ---------------------------------------------------------------- nesting */

/* RFC 6313 §5.2: a subTemplateList whose records carry a basicList. T400 =
 * flowId(148, 8) + basicList(291, varlen) of sourceTransportPort. */
static void test_nested_lists(void **state) {
    (void)state;
    static const ipfix_field_spec specs[] = {{0, 148, 8}, {0, 291, IPFIX_VARLEN}};
    ipfix_template *t = make_template(400, specs, 2);
    buf inner[2];
    for (size_t r = 0; r < 2; r++) {
        inner[r].len = ipfix_basic_list_encode_header(inner[r].data, sizeof inner[r].data,
                                                      IPFIX_LIST_ORDERED, 0, 7, 2);
        for (uint16_t k = 0; k <= r; k++) put16(&inner[r], (uint16_t)(100 * r + k));
    }
    buf b = {.len = 0};
    b.len += ipfix_sub_template_list_encode_header(b.data, sizeof b.data, IPFIX_LIST_ALL_OF, 400);
    for (size_t r = 0; r < 2; r++) {
        put32(&b, 0);
        put32(&b, (uint32_t)r + 1);
        /* RFC 6313 §5.1: three-byte length recommended for lists */
        put8(&b, 255);
        put16(&b, (uint16_t)inner[r].len);
        put_bytes(&b, inner[r].data, inner[r].len);
    }
    uint8_t *field = dup_exact(b.data, b.len);
    ipfix_sub_template_list stl;
    assert_int_equal(ipfix_sub_template_list_decode(field, b.len, &stl, NULL), IPFIX_OK);
    size_t cursor = 0;
    ipfix_record rec;
    for (size_t r = 0; r < 2; r++) {
        assert_int_equal(ipfix_sub_template_list_next(&stl, t, &cursor, &rec, NULL), IPFIX_OK);
        ipfix_field_view views[2];
        assert_int_equal(ipfix_record_fields(&rec, views), IPFIX_OK);
        assert_int_equal(ipfix_get_u64(views[0].data), r + 1);
        ipfix_basic_list bl;
        assert_int_equal(ipfix_basic_list_decode(views[1].data, views[1].length, &bl, NULL),
                         IPFIX_OK);
        size_t bc = 0, len, k = 0;
        const uint8_t *el;
        while (ipfix_basic_list_next(&bl, &bc, &el, &len, NULL) == IPFIX_OK) {
            assert_int_equal(ipfix_get_u16(el), 100 * r + k);
            k++;
        }
        assert_int_equal(k, r + 1);
    }
    assert_int_equal(ipfix_sub_template_list_next(&stl, t, &cursor, &rec, NULL), IPFIX_END);
    free(field);
    ipfix_template_unref(t);
}

/* ------------------------------------------------------------- robustness */

/* Every single-byte change of a valid multi-list and of a varlen basicList:
 * decoding and walking must end (OK/END or an error) without reading past
 * the field (ASan) and without looping. */
static void test_mutations_stay_in_bounds(void **state) {
    (void)state;
    ipfix_template *tmpls[2] = {template_fixed(), template_varlen()};
    ipfix_error err;
    size_t items;
    buf b;
    build_multi_list(&b);
    static const uint8_t values[] = {0x00, 0x01, 0x03, 0x04, 0x05, 0x7f, 0x80, 0xfe, 0xff};
    for (size_t pos = 0; pos < b.len; pos++) {
        for (size_t k = 0; k < sizeof values; k++) {
            buf m = b;
            m.data[pos] = values[k];
            ipfix_status st = walk_multi_list(m.data, m.len, tmpls, 2, &err, &items);
            assert_true(st == IPFIX_END || st < 0);
        }
    }
    buf bl = {.len = 0};
    bl.len = ipfix_basic_list_encode_header(bl.data, sizeof bl.data, 0, 29305, 82, IPFIX_VARLEN);
    put_varlen(&bl, "abc", 3);
    put_varlen(&bl, "", 0);
    put8(&bl, 255);
    put16(&bl, 2);
    put_bytes(&bl, "xy", 2);
    for (size_t pos = 0; pos < bl.len; pos++) {
        for (size_t k = 0; k < sizeof values; k++) {
            buf m = bl;
            m.data[pos] = values[k];
            for (size_t n = 0; n <= m.len; n++) {
                ipfix_status st = walk_basic_list(m.data, n, &err, &items);
                assert_true(st == IPFIX_END || st < 0);
            }
        }
    }
    ipfix_template_unref(tmpls[0]);
    ipfix_template_unref(tmpls[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_list_fixed),
        cmocka_unit_test(test_basic_list_varlen),
        cmocka_unit_test(test_basic_list_enterprise),
        cmocka_unit_test(test_basic_list_empty),
        cmocka_unit_test(test_basic_list_encode_limits),
        cmocka_unit_test(test_basic_list_malformed),
        cmocka_unit_test(test_sub_template_list_fixed),
        cmocka_unit_test(test_sub_template_list_varlen),
        cmocka_unit_test(test_sub_template_list_empty),
        cmocka_unit_test(test_sub_template_list_malformed),
        cmocka_unit_test(test_multi_list_round_trip),
        cmocka_unit_test(test_multi_list_empty_and_encode_limits),
        cmocka_unit_test(test_multi_list_malformed),
        cmocka_unit_test(test_nested_lists),
        cmocka_unit_test(test_mutations_stay_in_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
