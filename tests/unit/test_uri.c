/*
 * test_uri.c — endpoint URI parsing, defaults, formatting, resolution.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "ipfixkit/uri.h"

static void test_parse(void **state) {
    ipfix_endpoint e;
    ipfix_error err;
    assert_int_equal(ipfix_endpoint_parse("udp://127.0.0.1:9995", &e, &err), IPFIX_OK);
    assert_int_equal(e.scheme, IPFIX_SCHEME_UDP);
    assert_string_equal(e.host, "127.0.0.1");
    assert_int_equal(e.port, 9995);
    assert_int_equal(ipfix_endpoint_parse("tcp://[::1]", &e, &err), IPFIX_OK);
    assert_string_equal(e.host, "::1");
    assert_int_equal(e.port, 4739);
    assert_int_equal(ipfix_endpoint_parse("tls://collector.example", &e, &err), IPFIX_OK);
    assert_int_equal(e.port, 4740);
    assert_int_equal(ipfix_endpoint_parse("sctp+udp://[::]:5000", &e, &err), IPFIX_OK);
    assert_int_equal(e.scheme, IPFIX_SCHEME_SCTP_UDP);
    assert_int_equal(ipfix_endpoint_parse("udp://:4739", &e, &err), IPFIX_OK);
    assert_string_equal(e.host, "");
    assert_int_equal(ipfix_endpoint_parse("file:/tmp/x.ipfix", &e, &err), IPFIX_OK);
    assert_string_equal(e.path, "/tmp/x.ipfix");
    char text[300];
    assert_int_equal(ipfix_endpoint_parse("dtls://[2001:db8::1]:4741", &e, &err), IPFIX_OK);
    ipfix_endpoint_format(&e, text, sizeof text);
    assert_string_equal(text, "dtls://[2001:db8::1]:4741");
}

static void test_errors(void **state) {
    ipfix_endpoint e;
    ipfix_error err;
    assert_int_equal(ipfix_endpoint_parse("127.0.0.1:4739", &e, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_endpoint_parse("quic://a:1", &e, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_endpoint_parse("udp://::1:4739", &e, &err), IPFIX_ERR_INVALID_ARG);
    assert_non_null(strstr(err.rule, "brackets"));
    assert_int_equal(ipfix_endpoint_parse("udp://[::1:4739", &e, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_endpoint_parse("udp://a:0", &e, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_endpoint_parse("udp://a:65536", &e, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(ipfix_endpoint_parse("udp://a:12x", &e, &err), IPFIX_ERR_INVALID_ARG);
    assert_int_equal(err.offset, 8);
}

static void test_resolve(void **state) {
    ipfix_endpoint e;
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(ipfix_endpoint_parse("udp://127.0.0.1:4739", &e, NULL), IPFIX_OK);
    assert_int_equal(ipfix_endpoint_resolve(&e, false, &ss, &len, NULL), IPFIX_OK);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 4739);
    assert_int_equal(ipfix_endpoint_parse("tcp://:4739", &e, NULL), IPFIX_OK);
    assert_int_equal(ipfix_endpoint_resolve(&e, true, &ss, &len, NULL), IPFIX_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
