/*
 * test_template.c — template compilation (offsets, unknown elements,
 * mis-sized fields), wire parse/encode round trip, record measuring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/ipfixkit.h"

static ipfix_infomodel *model;

static int setup(void **state) {
    model = ipfix_infomodel_new();
    return model ? 0 : -1;
}
static int teardown(void **state) {
    ipfix_infomodel_free(model);
    return 0;
}

static void test_fixed_offsets(void **state) {
    ipfix_field_spec specs[] = {{0, 8, 4}, {0, 12, 4}, {0, 7, 2}, {0, 11, 2}, {0, 4, 1}, {0, 1, 8}};
    ipfix_template *t;
    assert_int_equal(ipfix_template_new(model, 300, 0, specs, 6, &t, NULL), IPFIX_OK);
    assert_false(t->variable);
    assert_int_equal(t->min_record_length, 21);
    uint16_t offsets[] = {0, 4, 8, 10, 12, 13};
    for (int i = 0; i < 6; i++) assert_int_equal(t->fields[i].offset, offsets[i]);
    assert_int_equal(t->fields[5].type, IPFIX_TYPE_UNSIGNED64);
    assert_int_equal(ipfix_template_find_field(t, 0, 1, 0), 5);
    assert_int_equal(ipfix_template_find_field(t, 0, 1, 1), -1);
    ipfix_template_unref(t);
}

static void test_reduced_and_mis_sized(void **state) {
    /* octetDeltaCount reduced to 4 bytes is fine; sourceIPv4Address of 5 is
     * not a valid ipv4Address length and is decoded as octetArray. */
    ipfix_field_spec specs[] = {{0, 1, 4}, {0, 8, 5}};
    ipfix_template *t;
    assert_int_equal(ipfix_template_new(model, 300, 0, specs, 2, &t, NULL), IPFIX_OK);
    assert_int_equal(t->fields[0].type, IPFIX_TYPE_UNSIGNED64);
    assert_int_equal(t->fields[1].type, IPFIX_TYPE_OCTET_ARRAY);
    ipfix_template_unref(t);
}

static void test_variable_and_measure(void **state) {
    ipfix_field_spec specs[] = {{0, 8, 4}, {0, 82, IPFIX_VARLEN}, {0, 7, 2}};
    ipfix_template *t;
    assert_int_equal(ipfix_template_new(model, 300, 0, specs, 3, &t, NULL), IPFIX_OK);
    assert_true(t->variable);
    assert_int_equal(t->min_record_length, 7);
    assert_int_equal(t->fields[1].offset, 4);
    assert_int_equal(t->fields[2].offset, IPFIX_OFFSET_VARIABLE);
    uint8_t rec[300] = {1, 2, 3, 4, 3, 'e', 't', 'h', 0, 80};
    size_t len;
    assert_int_equal(ipfix_record_measure(t, rec, 10, &len), IPFIX_OK);
    assert_int_equal(len, 10);
    assert_int_equal(ipfix_record_measure(t, rec, 9, &len), IPFIX_ERR_TRUNCATED);
    ipfix_record r = {t, rec, 10};
    ipfix_field_view v[3];
    assert_int_equal(ipfix_record_fields(&r, v), IPFIX_OK);
    assert_int_equal(v[1].length, 3);
    assert_memory_equal(v[1].data, "eth", 3);
    assert_int_equal(ipfix_get_u16(v[2].data), 80);
    /* 3-byte prefix: 255, 0x01 0x00 = 256 bytes */
    rec[4] = 255; rec[5] = 1; rec[6] = 0;
    assert_int_equal(ipfix_record_measure(t, rec, 4 + 3 + 256 + 2, &len), IPFIX_OK);
    assert_int_equal(len, 265);
    assert_int_equal(ipfix_record_measure(t, rec, 264, &len), IPFIX_ERR_TRUNCATED);
    ipfix_template_unref(t);
}

static void test_parse_encode_round_trip(void **state) {
    ipfix_field_spec specs[] = {{0, 149, 4}, {6871, 12, 2}, {IPFIX_PEN_REVERSE, 1, 8}, {0, 82, IPFIX_VARLEN}};
    ipfix_template *t;
    assert_int_equal(ipfix_template_new(model, 999, 1, specs, 4, &t, NULL), IPFIX_OK);
    uint8_t wire[128];
    size_t n = ipfix_template_record_encode(t, wire, sizeof wire);
    assert_int_equal(n, ipfix_template_record_size(t));
    assert_int_equal(n, 6 + 4 + 8 + 8 + 4);
    assert_int_equal(ipfix_template_record_encode(t, wire, n - 1), 0);
    ipfix_template *back;
    size_t consumed;
    uint16_t withdrawn;
    assert_int_equal(ipfix_template_parse(model, true, wire, n, &consumed, &back, &withdrawn, NULL), IPFIX_OK);
    assert_int_equal(consumed, n);
    assert_true(ipfix_template_equal(t, back));
    assert_string_equal(back->fields[2].element->name, "reverseOctetDeltaCount");
    assert_string_equal(back->fields[1].element->name, "6871:12");
    assert_true(back->fields[0].is_scope);
    assert_false(back->fields[1].is_scope);
    /* every truncation of the wire form is rejected without reading past it */
    for (size_t cut = 0; cut < n; cut++) {
        ipfix_template *x = NULL;
        assert_int_not_equal(ipfix_template_parse(model, true, wire, cut, &consumed, &x, &withdrawn, NULL), IPFIX_OK);
        assert_null(x);
    }
    ipfix_template_unref(back);
    ipfix_template_unref(t);
}

static void test_invalid_templates(void **state) {
    ipfix_field_spec specs[] = {{0, 8, 4}};
    ipfix_template *t;
    ipfix_error err;
    assert_int_equal(ipfix_template_new(model, 255, 0, specs, 1, &t, &err), IPFIX_ERR_MALFORMED);
    assert_int_equal(ipfix_template_new(model, 256, 0, specs, 0, &t, &err), IPFIX_ERR_MALFORMED);
    assert_int_equal(ipfix_template_new(model, 256, 2, specs, 1, &t, &err), IPFIX_ERR_MALFORMED);
    ipfix_field_spec zero[] = {{0, 210, 0}};
    assert_int_equal(ipfix_template_new(model, 256, 0, zero, 1, &t, &err), IPFIX_ERR_MALFORMED);
    ipfix_field_spec huge[] = {{0, 210, 40000}, {0, 210, 40000}};
    assert_int_equal(ipfix_template_new(model, 256, 0, huge, 2, &t, &err), IPFIX_ERR_MALFORMED);
    assert_non_null(strstr(err.rule, "cannot fit"));
    /* withdrawal */
    uint8_t w[] = {1, 0, 0, 0};
    size_t consumed;
    uint16_t withdrawn = 0;
    assert_int_equal(ipfix_template_parse(model, false, w, 4, &consumed, &t, &withdrawn, NULL), IPFIX_OK);
    assert_null(t);
    assert_int_equal(withdrawn, 256);
    assert_int_equal(consumed, 4);
}

static void test_refcount(void **state) {
    ipfix_field_spec specs[] = {{0, 8, 4}};
    ipfix_template *t;
    assert_int_equal(ipfix_template_new(model, 256, 0, specs, 1, &t, NULL), IPFIX_OK);
    assert_ptr_equal(ipfix_template_ref(t), t);
    assert_int_equal(t->refcount, 2);
    ipfix_template_unref(t);
    ipfix_template_unref(t); /* freed: ASan would report misuse */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_offsets),
        cmocka_unit_test(test_reduced_and_mis_sized),
        cmocka_unit_test(test_variable_and_measure),
        cmocka_unit_test(test_parse_encode_round_trip),
        cmocka_unit_test(test_invalid_templates),
        cmocka_unit_test(test_refcount),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
