/*
 * test_infomodel.c — the generated IANA table, reverse elements (RFC 5103),
 * enterprise elements from CSV, and registry value names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipfixkit/ipfixkit.h"

static void test_iana_table(void **state) {
    assert_true(ipfix_infomodel_iana_count() >= 500);
    ipfix_infomodel *m = ipfix_infomodel_new();
    assert_non_null(m);
    const ipfix_element *e = ipfix_infomodel_find(m, 0, 1);
    assert_non_null(e);
    assert_string_equal(e->name, "octetDeltaCount");
    assert_int_equal(e->type, IPFIX_TYPE_UNSIGNED64);
    assert_int_equal(e->semantics, IPFIX_SEMANTICS_DELTA_COUNTER);
    assert_string_equal(ipfix_units_name(e->units), "octets");
    assert_int_equal(e->status, IPFIX_STATUS_CURRENT);
    e = ipfix_infomodel_find_by_name(m, "sourceIPv6Address");
    assert_non_null(e);
    assert_int_equal(e->id, 27);
    assert_int_equal(e->type, IPFIX_TYPE_IPV6_ADDRESS);
    e = ipfix_infomodel_find_by_name(m, "sourceIPv4PrefixLength");
    assert_true(e->has_range);
    assert_int_equal(e->range_high, 32);
    e = ipfix_infomodel_find_by_name(m, "ipv6ExtensionHeadersFull");
    assert_non_null(e);
    assert_int_equal(e->type, IPFIX_TYPE_UNSIGNED256);
    e = ipfix_infomodel_find(m, 0, 416); /* deprecated placeholder without a type */
    assert_null(e);
    assert_null(ipfix_infomodel_find(m, 0, 30000));
    assert_null(ipfix_infomodel_find_by_name(m, "noSuchElement"));
    /* every IANA element is found by id and by name */
    for (size_t i = 0; i < ipfix_infomodel_iana_count(); i++) {
        const ipfix_element *x = ipfix_infomodel_iana_element(i);
        assert_ptr_equal(ipfix_infomodel_find(m, 0, x->id), x);
        assert_ptr_equal(ipfix_infomodel_find_by_name(m, x->name), x);
    }
    ipfix_infomodel_free(m);
}

static void test_reverse_elements(void **state) {
    ipfix_infomodel *m = ipfix_infomodel_new();
    const ipfix_element *r = ipfix_infomodel_find(m, IPFIX_PEN_REVERSE, 1);
    assert_non_null(r);
    assert_string_equal(r->name, "reverseOctetDeltaCount");
    assert_int_equal(r->type, IPFIX_TYPE_UNSIGNED64);
    assert_ptr_equal(ipfix_infomodel_find_by_name(m, "reverseOctetDeltaCount"), r);
    assert_ptr_equal(ipfix_infomodel_find_by_name(m, "29305:1"), r);
    assert_false(ipfix_infomodel_find(m, 0, 239)->reversible); /* biflowDirection, RFC 5103 §6.1 */
    assert_true(ipfix_infomodel_find(m, 0, 8)->reversible);
    ipfix_infomodel_free(m);
}

static void test_enterprise_csv(void **state) {
    char path[] = "/tmp/ipfixkit-ie-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *csv =
        "ElementID,Name,Abstract Data Type,Data Type Semantics,Status,Description,Units,Range,PEN\r\n"
        "12,silkAppLabel,unsigned16,identifier,current,\"A label,\nspanning lines\",,,6871\r\n"
        "14,osName,string,default,current,,,,6871\r\n"
        "1,vendorBytes,unsigned64,totalCounter,current,,octets,0-100,9\r\n";
    assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
    close(fd);
    ipfix_infomodel *m = ipfix_infomodel_new();
    ipfix_error err;
    assert_int_equal(ipfix_infomodel_load_csv(m, path, 0, &err), IPFIX_OK);
    const ipfix_element *e = ipfix_infomodel_find(m, 6871, 12);
    assert_non_null(e);
    assert_string_equal(e->name, "silkAppLabel");
    assert_int_equal(e->type, IPFIX_TYPE_UNSIGNED16);
    assert_ptr_equal(ipfix_infomodel_find_by_name(m, "osName"), ipfix_infomodel_find(m, 6871, 14));
    e = ipfix_infomodel_find(m, 9, 1);
    assert_string_equal(ipfix_units_name(e->units), "octets");
    assert_true(e->has_range);
    assert_int_equal(e->range_high, 100);
    /* a bad row names its line */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "ElementID,Name,Abstract Data Type,PEN\n1,a,unsigned8,5\n2,b,notAType,5\n";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    assert_int_equal(ipfix_infomodel_load_csv(m, path, 0, &err), IPFIX_ERR_MALFORMED);
    assert_int_equal(err.offset, 3);
    /* without a PEN column a default PEN is required */
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *nopen = "ElementID,Name,Abstract Data Type\n7,x,unsigned8\n";
    assert_int_equal(write(fd, nopen, strlen(nopen)), (ssize_t)strlen(nopen));
    close(fd);
    assert_int_equal(ipfix_infomodel_load_csv(m, path, 0, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_infomodel_load_csv(m, path, 4242, &err), IPFIX_OK);
    assert_non_null(ipfix_infomodel_find(m, 4242, 7));
    unlink(path);
    ipfix_infomodel_free(m);
}

static void test_value_names(void **state) {
    assert_string_equal(ipfix_value_name(IPFIX_IE_FLOW_END_REASON, 1), "idleTimeout");
    assert_string_equal(ipfix_value_name(IPFIX_IE_FLOW_END_REASON, 3), "endOfFlowDetected");
    assert_string_equal(ipfix_value_name(IPFIX_IE_PROTOCOL_IDENTIFIER, 6), "tcp");
    assert_string_equal(ipfix_value_name(IPFIX_IE_PROTOCOL_IDENTIFIER, 58), "ipv6-icmp");
    assert_string_equal(ipfix_value_name(IPFIX_IE_BIFLOW_DIRECTION, 1), "initiator");
    assert_non_null(ipfix_value_name(IPFIX_IE_SELECTOR_ALGORITHM, 1));
    assert_null(ipfix_value_name(IPFIX_IE_FLOW_END_REASON, 200));
    assert_null(ipfix_value_name(IPFIX_IE_OCTET_DELTA_COUNT, 1));
    uint64_t v;
    assert_int_equal(ipfix_value_from_name(IPFIX_IE_PROTOCOL_IDENTIFIER, "udp", &v), IPFIX_OK);
    assert_int_equal(v, 17);
    assert_int_equal(ipfix_value_from_name(IPFIX_IE_FLOW_END_REASON, "nonsense", &v), IPFIX_ERR_NOT_FOUND);
    assert_string_equal(ipfix_type_name(IPFIX_TYPE_DATE_TIME_NANOSECONDS), "dateTimeNanoseconds");
    ipfix_type t;
    assert_int_equal(ipfix_type_from_name("subTemplateMultiList", &t), IPFIX_OK);
    assert_int_equal(t, IPFIX_TYPE_SUB_TEMPLATE_MULTI_LIST);
    assert_string_equal(ipfix_semantics_name(IPFIX_SEMANTICS_FLAGS), "flags");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iana_table),
        cmocka_unit_test(test_reverse_elements),
        cmocka_unit_test(test_enterprise_csv),
        cmocka_unit_test(test_value_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
