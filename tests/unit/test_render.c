/*
 * test_render.c — exact text and JSON output of the renderer: every abstract
 * type, registry names, TCP flags, JSON escaping, RFC 5952 IPv6 forms,
 * timestamps of each precision, structured data (RFC 6313), templates,
 * withdrawals and the invalid-field marker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipfixkit/ipfixkit.h"
#include "ipfixkit/render.h"

static ipfix_infomodel *model;
static ipfix_renderer *text_renderer, *json_renderer;
static ipfix_buffer out;

#define PEN_TEST 6871u

static int setup(void **state) {
    model = ipfix_infomodel_new();
    if (!model) return -1;
    /* Enterprise elements for the types IANA has no element of. */
    ipfix_element f32 = {.name = "testFloat", .pen = PEN_TEST, .id = 1,
                         .type = IPFIX_TYPE_FLOAT32, .known = true};
    ipfix_element s8 = {.name = "testSigned", .pen = PEN_TEST, .id = 2,
                        .type = IPFIX_TYPE_SIGNED64, .known = true};
    if (ipfix_infomodel_add(model, &f32) != IPFIX_OK) return -1;
    if (ipfix_infomodel_add(model, &s8) != IPFIX_OK) return -1;
    ipfix_render_options text = {IPFIX_RENDER_TEXT, false};
    ipfix_render_options json = {IPFIX_RENDER_JSON, false};
    text_renderer = ipfix_renderer_new(&text);
    json_renderer = ipfix_renderer_new(&json);
    ipfix_buffer_init(&out);
    return text_renderer && json_renderer ? 0 : -1;
}

static int teardown(void **state) {
    ipfix_renderer_free(text_renderer);
    ipfix_renderer_free(json_renderer);
    ipfix_buffer_free(&out);
    ipfix_infomodel_free(model);
    return 0;
}

static ipfix_template *make_template(uint16_t id, uint16_t scope, const ipfix_field_spec *specs,
                                     uint16_t count) {
    ipfix_template *t = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_template_new(model, id, scope, specs, count, &t, &err), IPFIX_OK);
    return t;
}

/* Render with `r` and return the NUL-terminated line (static buffer). */
static const char *render(ipfix_renderer *r, const ipfix_render_source *src,
                          const ipfix_template *t, const uint8_t *data, size_t length,
                          ipfix_status expect) {
    static char line[8192];
    ipfix_record rec = {t, data, length};
    ipfix_buffer_clear(&out);
    ipfix_error err;
    assert_int_equal(ipfix_render_record(r, src, &rec, &out, &err), expect);
    assert_true(out.length < sizeof line);
    memcpy(line, out.data, out.length);
    line[out.length] = 0;
    return line;
}

static const ipfix_render_source source1 = {1, NULL, NULL, NULL};

/* ---------------------------------------------------------- flow records */

static const ipfix_field_spec flow_specs[] = {
    {0, 8, 4},   {0, 12, 4},  {0, 7, 2}, {0, 11, 2}, {0, 4, 1},
    {0, 6, 2},   {0, 1, 8},   {0, 2, 4}, /* packetDeltaCount reduced to 4 */
    {0, 152, 8}, {0, 136, 1},
};
static const uint8_t flow_record[] = {
    192, 0, 2, 1, 198, 51, 100, 7, 0x01, 0xbb, 0xc7, 0x38, 6, 0x00, 0x12,
    0, 0, 0x01, 0x1f, 0x71, 0xfb, 0x04, 0xcb, /* 1234567890123 */
    0, 0, 0, 10,
    0, 0, 0x01, 0xa2, 0x03, 0x5c, 0x24, 0xdb, /* 1795352700123 ms */
    1};

static void test_text_flow_record(void **state) {
    ipfix_template *t = make_template(256, 0, flow_specs, 10);
    assert_string_equal(
        render(text_renderer, &source1, t, flow_record, sizeof flow_record, IPFIX_OK),
        "record odid=1 template=256 sourceIPv4Address=192.0.2.1 "
        "destinationIPv4Address=198.51.100.7 sourceTransportPort=443 "
        "destinationTransportPort=51000 protocolIdentifier=tcp tcpControlBits=SYN|ACK "
        "octetDeltaCount=1234567890123 packetDeltaCount=10 "
        "flowStartMilliseconds=2026-11-22T13:05:00.123Z flowEndReason=idleTimeout\n");
    /* Rendering again hits the cached plan and gives the same bytes. */
    assert_string_equal(
        render(text_renderer, &source1, t, flow_record, sizeof flow_record, IPFIX_OK),
        "record odid=1 template=256 sourceIPv4Address=192.0.2.1 "
        "destinationIPv4Address=198.51.100.7 sourceTransportPort=443 "
        "destinationTransportPort=51000 protocolIdentifier=tcp tcpControlBits=SYN|ACK "
        "octetDeltaCount=1234567890123 packetDeltaCount=10 "
        "flowStartMilliseconds=2026-11-22T13:05:00.123Z flowEndReason=idleTimeout\n");
    ipfix_template_unref(t);
}

static void test_numeric_text(void **state) {
    ipfix_render_options numeric = {IPFIX_RENDER_TEXT, true};
    ipfix_renderer *r = ipfix_renderer_new(&numeric);
    ipfix_template *t = make_template(256, 0, flow_specs, 10);
    const char *line = render(r, &source1, t, flow_record, sizeof flow_record, IPFIX_OK);
    assert_non_null(strstr(line, " protocolIdentifier=6 tcpControlBits=18 "));
    assert_non_null(strstr(line, " flowEndReason=1\n"));
    ipfix_template_unref(t);
    ipfix_renderer_free(r);
}

static void test_json_flow_record(void **state) {
    ipfix_template *t = make_template(256, 0, flow_specs, 10);
    assert_string_equal(
        render(json_renderer, &source1, t, flow_record, sizeof flow_record, IPFIX_OK),
        "{\"record\":{\"sourceIPv4Address\":\"192.0.2.1\","
        "\"destinationIPv4Address\":\"198.51.100.7\",\"sourceTransportPort\":443,"
        "\"destinationTransportPort\":51000,\"protocolIdentifier\":6,"
        "\"tcpControlBits\":18,\"octetDeltaCount\":1234567890123,"
        "\"packetDeltaCount\":10,"
        "\"flowStartMilliseconds\":\"2026-11-22T13:05:00.123Z\","
        "\"flowEndReason\":1},\"odid\":1,\"templateId\":256}\n");
    ipfix_template_unref(t);
}

static void test_origin_and_options_record(void **state) {
    ipfix_field_spec specs[] = {{0, 149, 4}, {0, 41, 8}}; /* odid scope, exportedMessageTotalCount */
    ipfix_template *t = make_template(300, 1, specs, 2);
    uint8_t rec[] = {0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 42};
    ipfix_render_source src = {7, "192.0.2.9:4739", NULL, NULL};
    assert_string_equal(render(text_renderer, &src, t, rec, sizeof rec, IPFIX_OK),
                        "options exporter=192.0.2.9:4739 odid=7 template=300 "
                        "observationDomainId=7 exportedMessageTotalCount=42\n");
    assert_string_equal(render(json_renderer, &src, t, rec, sizeof rec, IPFIX_OK),
                        "{\"options\":{\"observationDomainId\":7,"
                        "\"exportedMessageTotalCount\":42},\"odid\":7,\"templateId\":300,"
                        "\"exporter\":\"192.0.2.9:4739\"}\n");
    ipfix_template_unref(t);
}

static void test_u64_limits(void **state) {
    ipfix_field_spec specs[] = {{0, 1, 8}, {0, 2, 8}};
    ipfix_template *t = make_template(256, 0, specs, 2);
    uint8_t rec[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_string_equal(render(json_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "{\"record\":{\"octetDeltaCount\":18446744073709551615,"
                        "\"packetDeltaCount\":0},\"odid\":1,\"templateId\":256}\n");
    ipfix_template_unref(t);
    char buf[32];
    assert_int_equal(ipfix_format_i64(buf, INT64_MIN), 20);
    assert_memory_equal(buf, "-9223372036854775808", 20);
    assert_int_equal(ipfix_format_u64(buf, 99), 2);
    assert_memory_equal(buf, "99", 2);
}

/* --------------------------------------------------------- other types */

static void test_other_types(void **state) {
    ipfix_field_spec specs[] = {
        {0, 56, 6},                /* sourceMacAddress */
        {0, 276, 1},               /* dataRecordsReliability (boolean) */
        {0, 311, 8},               /* samplingProbability (float64) */
        {PEN_TEST, 1, 4},          /* testFloat (float32) */
        {PEN_TEST, 2, 2},          /* testSigned, reduced to 2 */
        {0, 313, 3},               /* ipHeaderPacketSection (octetArray) */
        {0, 520, 32},              /* tcpOptionsFull (unsigned256) */
        {PEN_TEST, 12, 2},         /* unknown enterprise element */
        {0, 82, IPFIX_VARLEN},     /* interfaceName */
    };
    ipfix_template *t = make_template(400, 0, specs, 9);
    uint8_t rec[] = {
        0x00, 0x1b, 0x21, 0xaa, 0xbb, 0x0c,
        1,
        0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, /* 0.1 */
        0x3f, 0xc0, 0x00, 0x00,                         /* 1.5f */
        0xff, 0xfe,                                     /* -2 */
        0xde, 0xad, 0x01,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x0f,
        0xca, 0xfe,
        4, 'e', 't', 'h', '0'};
    assert_string_equal(
        render(text_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
        "record odid=1 template=400 sourceMacAddress=00:1b:21:aa:bb:0c "
        "dataRecordsReliability=true samplingProbability=0.1 testFloat=1.5 testSigned=-2 "
        "ipHeaderPacketSection=0xdead01 tcpOptionsFull=0x10f 6871:12=0xcafe "
        "interfaceName=\"eth0\"\n");
    assert_string_equal(
        render(json_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
        "{\"record\":{\"sourceMacAddress\":\"00:1b:21:aa:bb:0c\","
        "\"dataRecordsReliability\":true,\"samplingProbability\":0.1,"
        "\"testFloat\":1.5,\"testSigned\":-2,"
        "\"ipHeaderPacketSection\":\"0xdead01\",\"tcpOptionsFull\":\"0x10f\","
        "\"6871:12\":\"0xcafe\",\"interfaceName\":\"eth0\"},\"odid\":1,"
        "\"templateId\":400}\n");
    ipfix_template_unref(t);
}

static void test_floats(void **state) {
    char buf[40];
    size_t n = ipfix_format_double(buf, 1.0 / 3.0, false);
    buf[n] = 0;
    assert_string_equal(buf, "0.3333333333333333");
    n = ipfix_format_double(buf, (double)(1.0f / 3.0f), true);
    buf[n] = 0;
    assert_string_equal(buf, "0.33333334");
    n = ipfix_format_double(buf, 1e300, false);
    buf[n] = 0;
    assert_string_equal(buf, "1e+300");
    /* NaN is a string in JSON */
    ipfix_field_spec specs[] = {{0, 311, 8}};
    ipfix_template *t = make_template(401, 0, specs, 1);
    uint8_t rec[] = {0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    assert_string_equal(render(json_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "{\"record\":{\"samplingProbability\":\"NaN\"},\"odid\":1,"
                        "\"templateId\":401}\n");
    assert_string_equal(render(text_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "record odid=1 template=401 samplingProbability=NaN\n");
    ipfix_template_unref(t);
}

static void test_duplicate_names(void **state) {
    ipfix_field_spec specs[] = {{0, 8, 4}, {0, 8, 4}, {0, 8, 4}};
    ipfix_template *t = make_template(402, 0, specs, 3);
    uint8_t rec[] = {10, 0, 0, 1, 10, 0, 0, 2, 10, 0, 0, 3};
    assert_string_equal(render(text_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "record odid=1 template=402 sourceIPv4Address=10.0.0.1 "
                        "sourceIPv4Address#2=10.0.0.2 sourceIPv4Address#3=10.0.0.3\n");
    assert_string_equal(render(json_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "{\"record\":{\"sourceIPv4Address\":\"10.0.0.1\","
                        "\"sourceIPv4Address#2\":\"10.0.0.2\","
                        "\"sourceIPv4Address#3\":\"10.0.0.3\"},\"odid\":1,\"templateId\":402}\n");
    ipfix_template_unref(t);
}

static void test_json_escaping(void **state) {
    ipfix_field_spec specs[] = {{0, 82, IPFIX_VARLEN}};
    ipfix_template *t = make_template(403, 0, specs, 1);
    uint8_t rec[] = {12, 'a', '"', 'b', '\\', '\n', 0x01, '\t', 0x1f, 0xc3, 0xa9, '/', 0x7f};
    assert_string_equal(render(json_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "{\"record\":{\"interfaceName\":\"a\\\"b\\\\\\n\\u0001\\t\\u001f\xc3\xa9/"
                        "\x7f\"},\"odid\":1,\"templateId\":403}\n");
    assert_string_equal(render(text_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "record odid=1 template=403 interfaceName=\"a\\\"b\\\\\\n\\u0001\\t"
                        "\\u001f\xc3\xa9/\x7f\"\n");
    /* long string: 3-byte length prefix (RFC 7011 §7) */
    uint8_t long_rec[3 + 300];
    long_rec[0] = 255;
    long_rec[1] = 0x01;
    long_rec[2] = 0x2c;
    memset(long_rec + 3, 'x', 300);
    const char *line = render(text_renderer, &source1, t, long_rec, sizeof long_rec, IPFIX_OK);
    assert_int_equal(strlen(line), strlen("record odid=1 template=403 interfaceName=\"\"\n") + 300);
    ipfix_template_unref(t);
}

static void test_invalid_fields(void **state) {
    ipfix_field_spec specs[] = {{0, 276, 1}, {0, 82, IPFIX_VARLEN}, {0, 7, 2}};
    ipfix_template *t = make_template(404, 0, specs, 3);
    uint8_t rec[] = {3, 2, 0xc3, 0x28, 0x00, 0x50};
    ipfix_record r = {t, rec, sizeof rec};
    ipfix_error err;
    ipfix_buffer_clear(&out);
    assert_int_equal(ipfix_render_record(text_renderer, &source1, &r, &out, &err),
                     IPFIX_ERR_MALFORMED);
    assert_int_equal(err.offset, 0); /* first bad field: the boolean */
    assert_non_null(strstr(err.rule, "6.1.5"));
    out.data[out.length] = 0;
    assert_string_equal(render(text_renderer, &source1, t, rec, sizeof rec, IPFIX_ERR_MALFORMED),
                        "record odid=1 template=404 dataRecordsReliability=!invalid:0x03 "
                        "interfaceName=!invalid:0xc328 sourceTransportPort=80\n");
    assert_string_equal(render(json_renderer, &source1, t, rec, sizeof rec, IPFIX_ERR_MALFORMED),
                        "{\"record\":{\"dataRecordsReliability\":{\"invalid\":\"0x03\"},"
                        "\"interfaceName\":{\"invalid\":\"0xc328\"},\"sourceTransportPort\":80},"
                        "\"odid\":1,\"templateId\":404}\n");
    ipfix_template_unref(t);
}

/* -------------------------------------------------------------- IPv6 */

static void check_ipv6(const char *text_form, const uint8_t a[16]) {
    char buf[64];
    size_t n = ipfix_format_ipv6(buf, a);
    buf[n] = 0;
    assert_string_equal(buf, text_form);
}

static void test_ipv6_rfc5952(void **state) {
    uint8_t a[16] = {0};
    check_ipv6("::", a);
    a[15] = 1;
    check_ipv6("::1", a);
    uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    check_ipv6("2001:db8::1", doc);
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    check_ipv6("::ffff:192.0.2.1", mapped);
    /* §4.2.2: a single zero group is not shortened */
    uint8_t one_zero[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    check_ipv6("2001:db8:0:1:1:1:1:1", one_zero);
    /* §4.2.3: the longest run, the first one on a tie */
    uint8_t longest[16] = {0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    check_ipv6("2001:0:0:1::1", longest);
    uint8_t tie[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    check_ipv6("2001:db8::1:0:0:1", tie);
    uint8_t link[16] = {0xfe, 0x80};
    check_ipv6("fe80::", link);
    uint8_t full[16] = {0xab, 0xcd, 0x0a, 0xbc, 0x00, 0x0a, 0x12, 0x34,
                        0xff, 0xff, 0x00, 0x10, 0x01, 0x00, 0xff, 0x00};
    check_ipv6("abcd:abc:a:1234:ffff:10:100:ff00", full);
    uint8_t end_run[16] = {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 0, 0, 0};
    check_ipv6("1:2:3:4:5:6::", end_run);

    ipfix_field_spec specs[] = {{0, 27, 16}};
    ipfix_template *t = make_template(405, 0, specs, 1);
    assert_string_equal(render(json_renderer, &source1, t, doc, 16, IPFIX_OK),
                        "{\"record\":{\"sourceIPv6Address\":\"2001:db8::1\"},\"odid\":1,"
                        "\"templateId\":405}\n");
    ipfix_template_unref(t);
}

/* -------------------------------------------------------- timestamps */

static void check_time(const char *expect, int64_t s, uint32_t ns, ipfix_type precision) {
    char buf[64];
    ipfix_timestamp ts = {s, ns};
    size_t n = ipfix_format_timestamp(buf, ts, precision);
    buf[n] = 0;
    assert_string_equal(buf, expect);
}

static void test_timestamps(void **state) {
    check_time("1970-01-01T00:00:00Z", 0, 0, IPFIX_TYPE_DATE_TIME_SECONDS);
    check_time("2026-11-22T13:05:00Z", 1795352700, 123456789, IPFIX_TYPE_DATE_TIME_SECONDS);
    check_time("2026-11-22T13:05:00.123Z", 1795352700, 123456789,
               IPFIX_TYPE_DATE_TIME_MILLISECONDS);
    check_time("2026-11-22T13:05:00.123456Z", 1795352700, 123456789,
               IPFIX_TYPE_DATE_TIME_MICROSECONDS);
    check_time("2026-11-22T13:05:00.123456789Z", 1795352700, 123456789,
               IPFIX_TYPE_DATE_TIME_NANOSECONDS);
    check_time("2000-02-29T23:59:59Z", 951868799, 0, IPFIX_TYPE_DATE_TIME_SECONDS);
    check_time("1969-12-31T23:59:59.000Z", -1, 0, IPFIX_TYPE_DATE_TIME_MILLISECONDS);
    check_time("2106-02-07T06:28:15Z", 4294967295, 0, IPFIX_TYPE_DATE_TIME_SECONDS);

    /* Through records: seconds, micro- and nanoseconds (NTP format). */
    ipfix_field_spec specs[] = {{0, 150, 4}, {0, 154, 8}, {0, 156, 8}, {0, 153, 8}};
    ipfix_template *t = make_template(406, 0, specs, 4);
    uint8_t rec[28];
    ipfix_value v;
    v.type = IPFIX_TYPE_DATE_TIME_SECONDS;
    v.v.time = (ipfix_timestamp){1795352700, 0};
    assert_int_equal(ipfix_value_encode(&v, rec, 4), IPFIX_OK);
    v.type = IPFIX_TYPE_DATE_TIME_MICROSECONDS;
    v.v.time = (ipfix_timestamp){1795352700, 123456000};
    assert_int_equal(ipfix_value_encode(&v, rec + 4, 8), IPFIX_OK);
    v.type = IPFIX_TYPE_DATE_TIME_NANOSECONDS;
    v.v.time = (ipfix_timestamp){1795352701, 999999999};
    assert_int_equal(ipfix_value_encode(&v, rec + 12, 8), IPFIX_OK);
    v.type = IPFIX_TYPE_DATE_TIME_MILLISECONDS;
    v.v.time = (ipfix_timestamp){1795392000, 5000000}; /* next day */
    assert_int_equal(ipfix_value_encode(&v, rec + 20, 8), IPFIX_OK);
    assert_string_equal(render(text_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "record odid=1 template=406 flowStartSeconds=2026-11-22T13:05:00Z "
                        "flowStartMicroseconds=2026-11-22T13:05:00.123456Z "
                        "flowStartNanoseconds=2026-11-22T13:05:01.999999999Z "
                        "flowEndMilliseconds=2026-11-23T00:00:00.005Z\n");
    ipfix_template_unref(t);
}

static void test_tcp_flags(void **state) {
    char buf[80];
    size_t n = ipfix_format_tcp_flags(buf, 0);
    buf[n] = 0;
    assert_string_equal(buf, "0");
    n = ipfix_format_tcp_flags(buf, 0x1ff);
    buf[n] = 0;
    assert_string_equal(buf, "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR|NS");
    n = ipfix_format_tcp_flags(buf, 0x0a11);
    buf[n] = 0;
    assert_string_equal(buf, "FIN|ACK|0xa00");
}

/* -------------------------------------------------- structured data */

typedef struct lookup_table {
    const ipfix_template *templates[4];
    size_t count;
} lookup_table;

static const ipfix_template *lookup(void *context, uint32_t odid, uint16_t id) {
    lookup_table *table = context;
    for (size_t i = 0; i < table->count; i++)
        if (table->templates[i]->id == id) return table->templates[i];
    return NULL;
}

static void test_basic_list(void **state) {
    ipfix_field_spec specs[] = {{0, 291, IPFIX_VARLEN}, {0, 7, 2}};
    ipfix_template *t = make_template(500, 0, specs, 2);
    uint8_t rec[] = {
        13,                       /* varlen prefix */
        3, 0, 8, 0, 4,            /* allOf, sourceIPv4Address, length 4 */
        192, 0, 2, 1, 192, 0, 2, 2,
        0, 80};
    assert_string_equal(render(text_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "record odid=1 template=500 basicList=[192.0.2.1,192.0.2.2] "
                        "sourceTransportPort=80\n");
    assert_string_equal(render(json_renderer, &source1, t, rec, sizeof rec, IPFIX_OK),
                        "{\"record\":{\"basicList\":[\"192.0.2.1\",\"192.0.2.2\"],"
                        "\"sourceTransportPort\":80},\"odid\":1,\"templateId\":500}\n");
    /* variable-length elements (interfaceName) and an empty list */
    uint8_t strings[] = {13, 4, 0, 82, 0xff, 0xff, 3, 'a', 'b', 'c', 2, 'd', 'e', 0, 0, 80};
    assert_string_equal(render(json_renderer, &source1, t, strings, sizeof strings, IPFIX_OK),
                        "{\"record\":{\"basicList\":[\"abc\",\"de\",\"\"],"
                        "\"sourceTransportPort\":80},\"odid\":1,\"templateId\":500}\n");
    uint8_t empty[] = {5, 3, 0, 8, 0, 4, 0, 80};
    assert_string_equal(render(text_renderer, &source1, t, empty, sizeof empty, IPFIX_OK),
                        "record odid=1 template=500 basicList=[] sourceTransportPort=80\n");
    /* broken: element length 4 but 3 bytes of elements */
    uint8_t broken[] = {8, 3, 0, 8, 0, 4, 1, 2, 3, 0, 80};
    assert_string_equal(
        render(text_renderer, &source1, t, broken, sizeof broken, IPFIX_ERR_MALFORMED),
        "record odid=1 template=500 basicList=!invalid:0x0300080004010203 "
        "sourceTransportPort=80\n");
    ipfix_template_unref(t);
}

static void test_sub_template_lists(void **state) {
    ipfix_field_spec inner_specs[] = {{0, 8, 4}, {0, 7, 2}};
    ipfix_template *inner = make_template(600, 0, inner_specs, 2);
    ipfix_field_spec inner2_specs[] = {{0, 4, 1}};
    ipfix_template *inner2 = make_template(601, 0, inner2_specs, 1);
    ipfix_field_spec outer_specs[] = {{0, 292, IPFIX_VARLEN}, {0, 293, IPFIX_VARLEN}};
    ipfix_template *outer = make_template(602, 0, outer_specs, 2);
    lookup_table table = {{inner, inner2}, 2};
    ipfix_render_source src = {1, NULL, lookup, &table};
    uint8_t rec[] = {
        15, 3, 0x02, 0x58,                         /* STL: allOf, template 600 */
        10, 0, 0, 1, 0, 80, 10, 0, 0, 2, 0, 53,
        17, 3,                                     /* STML: allOf */
        0x02, 0x58, 0, 10, 10, 0, 0, 3, 0x01, 0xbb, /* entry 600, length 10 */
        0x02, 0x59, 0, 6, 6, 17};                  /* entry 601, two records */
    assert_string_equal(
        render(text_renderer, &src, outer, rec, sizeof rec, IPFIX_OK),
        "record odid=1 template=602 "
        "subTemplateList=[{sourceIPv4Address=10.0.0.1 sourceTransportPort=80},"
        "{sourceIPv4Address=10.0.0.2 sourceTransportPort=53}] "
        "subTemplateMultiList=[[{sourceIPv4Address=10.0.0.3 sourceTransportPort=443}],"
        "[{protocolIdentifier=tcp},{protocolIdentifier=udp}]]\n");
    assert_string_equal(
        render(json_renderer, &src, outer, rec, sizeof rec, IPFIX_OK),
        "{\"record\":{\"subTemplateList\":[{\"sourceIPv4Address\":\"10.0.0.1\","
        "\"sourceTransportPort\":80},{\"sourceIPv4Address\":\"10.0.0.2\","
        "\"sourceTransportPort\":53}],"
        "\"subTemplateMultiList\":[[{\"sourceIPv4Address\":\"10.0.0.3\","
        "\"sourceTransportPort\":443}],[{\"protocolIdentifier\":6},{\"protocolIdentifier\":17}]]},"
        "\"odid\":1,\"templateId\":602}\n");
    /* without the lookup the lists cannot be decoded: marked, not fatal */
    const char *line = render(text_renderer, &source1, outer, rec, sizeof rec,
                              IPFIX_ERR_MALFORMED);
    assert_non_null(strstr(line, "subTemplateList=!invalid:0x030258"));
    assert_non_null(strstr(line, " subTemplateMultiList=!invalid:0x03"));
    ipfix_template_unref(outer);
    ipfix_template_unref(inner2);
    ipfix_template_unref(inner);
}

static void test_nesting_limit(void **state) {
    /* template 700 = one subTemplateList of template 700: self-nesting */
    ipfix_field_spec specs[] = {{0, 292, IPFIX_VARLEN}};
    ipfix_template *t = make_template(700, 0, specs, 1);
    lookup_table table = {{t}, 1};
    ipfix_render_source src = {1, NULL, lookup, &table};
    /* depth levels: each level = prefix(1) + semantic(1) + id(2) + inner */
    enum { LEVELS = 20 };
    uint8_t rec[LEVELS * 4 + 4];
    size_t inner_length = 3; /* innermost: an empty STL header */
    size_t pos = sizeof rec;
    pos -= 3;
    rec[pos] = 3;
    rec[pos + 1] = 0x02;
    rec[pos + 2] = 0xbc;
    for (int i = 0; i < LEVELS; i++) {
        pos--;
        rec[pos] = (uint8_t)inner_length; /* varlen prefix of the inner record's field */
        pos -= 3;
        rec[pos] = 3;
        rec[pos + 1] = 0x02;
        rec[pos + 2] = 0xbc;
        inner_length += 4;
    }
    pos--;
    rec[pos] = (uint8_t)inner_length;
    const char *line = render(json_renderer, &src, t, rec + pos, sizeof rec - pos,
                              IPFIX_ERR_MALFORMED);
    assert_non_null(strstr(line, "{\"invalid\":\"0x"));
    ipfix_template_unref(t);
}

/* ------------------------------------------------ templates, withdrawal */

static void test_template_render(void **state) {
    ipfix_field_spec specs[] = {{0, 8, 4}, {0, 82, IPFIX_VARLEN}, {PEN_TEST, 12, 2}, {PEN_TEST, 1, 4}};
    ipfix_template *t = make_template(256, 0, specs, 4);
    ipfix_render_source src = {1, NULL, NULL, NULL};
    ipfix_buffer_clear(&out);
    assert_int_equal(ipfix_render_template(text_renderer, &src, t, &out), IPFIX_OK);
    assert_int_equal(ipfix_render_template(json_renderer, &src, t, &out), IPFIX_OK);
    assert_int_equal(ipfix_render_withdrawal(text_renderer, &src, 256, false, &out), IPFIX_OK);
    assert_int_equal(ipfix_render_withdrawal(json_renderer, &src, 3, true, &out), IPFIX_OK);
    ipfix_field_spec ospecs[] = {{0, 149, 4}, {0, 41, 8}};
    ipfix_template *o = make_template(257, 1, ospecs, 2);
    assert_int_equal(ipfix_render_template(text_renderer, &src, o, &out), IPFIX_OK);
    assert_int_equal(ipfix_render_template(json_renderer, &src, o, &out), IPFIX_OK);
    assert_int_equal(ipfix_buffer_append(&out, "", 1), IPFIX_OK);
    assert_string_equal(
        out.data,
        "template odid=1 id=256 scopeCount=0 sourceIPv4Address(8)/4 interfaceName(82)/var "
        "6871:12/2 testFloat(6871:1)/4\n"
        "{\"template\":{\"id\":256,\"odid\":1,\"scopeCount\":0,\"fields\":["
        "{\"name\":\"sourceIPv4Address\",\"id\":8,\"length\":4},"
        "{\"name\":\"interfaceName\",\"id\":82,\"length\":65535},"
        "{\"name\":\"6871:12\",\"pen\":6871,\"id\":12,\"length\":2},"
        "{\"name\":\"testFloat\",\"pen\":6871,\"id\":1,\"length\":4}]}}\n"
        "withdrawal odid=1 id=256 options=false\n"
        "{\"withdrawal\":{\"id\":3,\"odid\":1,\"options\":true}}\n"
        "options-template odid=1 id=257 scopeCount=1 observationDomainId(149)/4 "
        "exportedMessageTotalCount(41)/8\n"
        "{\"template\":{\"id\":257,\"odid\":1,\"scopeCount\":1,\"fields\":["
        "{\"name\":\"observationDomainId\",\"id\":149,\"length\":4},"
        "{\"name\":\"exportedMessageTotalCount\",\"id\":41,\"length\":8}]}}\n");
    ipfix_template_unref(o);
    ipfix_template_unref(t);
}

/* A template freed and another allocated at the same address must not be
 * rendered with the old plan. */
static void test_plan_revalidation(void **state) {
    for (int i = 0; i < 50; i++) {
        ipfix_field_spec a[] = {{0, 8, 4}};
        ipfix_field_spec b[] = {{0, 12, 4}};
        ipfix_template *t = make_template(256, 0, (i & 1) ? b : a, 1);
        uint8_t rec[] = {1, 2, 3, 4};
        const char *line = render(text_renderer, &source1, t, rec, 4, IPFIX_OK);
        assert_string_equal(line, (i & 1) ? "record odid=1 template=256 destinationIPv4Address=1.2.3.4\n"
                                          : "record odid=1 template=256 sourceIPv4Address=1.2.3.4\n");
        ipfix_template_unref(t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_flow_record),
        cmocka_unit_test(test_numeric_text),
        cmocka_unit_test(test_json_flow_record),
        cmocka_unit_test(test_origin_and_options_record),
        cmocka_unit_test(test_u64_limits),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_invalid_fields),
        cmocka_unit_test(test_ipv6_rfc5952),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_tcp_flags),
        cmocka_unit_test(test_basic_list),
        cmocka_unit_test(test_sub_template_lists),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_template_render),
        cmocka_unit_test(test_plan_revalidation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
