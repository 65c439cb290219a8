/*
 * test_collector_link.c — the Exporting Process's link to one Collector
 * (src/export/collector_link.c) against plain sockets of the test: the
 * messages of a TCP session arrive templates first, then the data with
 * consecutive sequence numbers (RFC 7011 §3.1); a Collector that is down
 * costs the caller nothing and every record is counted not sent; a TLS
 * Collector that never answers the handshake does not hold up the caller
 * (the sender thread waits on it, not the metering thread).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "export/collector_link.h"
#include "ipfixkit/value.h"
#include "unit/pki_fixture.h"

/* A 21-byte record template: src/dst IPv4, ports, protocol, octets. */
static const ipfix_field_spec flow_specs[] = {
    {0, 8, 4}, {0, 12, 4}, {0, 7, 2}, {0, 11, 2}, {0, 4, 1}, {0, 1, 8}};
#define RECORD_LEN 21

static ipfix_template *flow_template(void) {
    ipfix_template *t = NULL;
    ipfix_error err;
    assert_int_equal(ipfix_template_new(NULL, 256, 0, flow_specs, 6, &t, &err), IPFIX_OK);
    return t;
}

/* A listening TCP socket on 127.0.0.1 (never accepted unless the test
 * does); its port in *port. */
static int listen_tcp(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t length = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &length), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static collector_link *open_link(const char *scheme, uint16_t port, ipfix_template **t,
                                 const ipfix_tls_config *tls, size_t queue_bytes) {
    char uri[64];
    snprintf(uri, sizeof uri, "%s://127.0.0.1:%u", scheme, (unsigned)port);
    ipfix_endpoint endpoint;
    ipfix_error err;
    assert_int_equal(ipfix_endpoint_parse(uri, &endpoint, &err), IPFIX_OK);
    collector_link_config config = {.odid = 7, .max_message = 1400, .queue_bytes = queue_bytes,
                                    .templates = t, .template_count = 1, .tls = tls};
    collector_link *link = NULL;
    assert_int_equal(collector_link_open(&endpoint, &config, &link, &err), IPFIX_OK);
    return link;
}

static void add_records(collector_link *link, const ipfix_template *t, unsigned n) {
    uint8_t record[RECORD_LEN] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 1, 187, 6};
    for (unsigned i = 0; i < n; i++) {
        record[20] = (uint8_t)i;
        assert_int_equal(collector_link_add(link, t, record, sizeof record, 1, 100), IPFIX_OK);
    }
    assert_int_equal(collector_link_flush(link), IPFIX_OK);
}

/* Read a whole stream until EOF into buf; its length. */
static size_t read_all(int fd, uint8_t *buf, size_t size) {
    size_t got = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + got, size - got, 0);
        if (r <= 0) return got;
        got += (size_t)r;
        assert_true(got < size);
    }
}

static void test_tcp_templates_first_then_sequenced_data(void **state) {
    (void)state;
    uint16_t port;
    int server = listen_tcp(&port);
    ipfix_template *t = flow_template();
    collector_link *link = open_link("tcp", port, &t, NULL, 1 << 20);
    add_records(link, t, 1000);
    collector_link_stats final;
    int conn = accept(server, NULL, NULL); /* the sender connected meanwhile */
    assert_true(conn >= 0);
    collector_link_close(link, 3000, &final); /* all of it fits the socket buffers */
    static uint8_t stream[1 << 16];
    size_t n = read_all(conn, stream, sizeof stream);
    close(conn);
    close(server);
    size_t off = 0, messages = 0;
    uint32_t records = 0;
    while (off + 16 <= n) {
        uint16_t length = ipfix_get_u16(stream + off + 2);
        uint16_t set_id = ipfix_get_u16(stream + off + 16);
        assert_int_equal(ipfix_get_u16(stream + off), 10);
        assert_int_equal(ipfix_get_u32(stream + off + 12), 7);
        if (messages == 0) {
            assert_int_equal(set_id, 2); /* the templates come first */
            assert_int_equal(ipfix_get_u32(stream + off + 8), 0);
        } else {
            assert_int_equal(set_id, 256);
            assert_int_equal(ipfix_get_u32(stream + off + 8), records); /* RFC 7011 §3.1 */
            records += (ipfix_get_u16(stream + off + 18) - 4u) / RECORD_LEN;
        }
        off += length;
        messages++;
    }
    assert_int_equal(off, n);
    assert_int_equal(records, 1000);
    assert_int_equal(final.messages, messages);
    assert_int_equal(final.lost_records, 0);
    ipfix_template_unref(t);
}

static void test_down_collector_counts_every_record(void **state) {
    (void)state;
    uint16_t port;
    close(listen_tcp(&port)); /* nothing listens there any more */
    ipfix_template *t = flow_template();
    collector_link *link = open_link("tcp", port, &t, NULL, 4096);
    add_records(link, t, 1000);
    collector_link_stats final;
    collector_link_close(link, 0, &final);
    assert_int_equal(final.messages, 0);
    assert_int_equal(final.lost_records, 1000);
    assert_int_equal(final.lost_packets, 1000);
    assert_int_equal(final.lost_octets, 100000);
    ipfix_template_unref(t);
}

/* The listener's kernel completes the TCP handshake but the test does not
 * answer the ClientHello: the link's TLS handshake waits (up to 5 s) in
 * its sender thread. The caller's adds and flush return at once: when they
 * have, that first connection is still open (a handshake that ran in the
 * caller would have timed out and closed it before the flush returned). */
static void test_tls_handshake_does_not_hold_up_the_caller(void **state) {
    (void)state;
    uint16_t port;
    int server = listen_tcp(&port);
    ipfix_template *t = flow_template();
    ipfix_tls_config tls = {.cert = pki_file("exporter.pem"), .key = pki_file("exporter.key"),
                            .ca = pki_file("ca.pem"), .peer_names = {"collector.test"},
                            .peer_name_count = 1};
    collector_link *link = open_link("tls", port, &t, &tls, 1 << 20);
    add_records(link, t, 200);
    collector_link_stats stats;
    collector_link_get_stats(link, &stats);
    assert_int_equal(stats.messages, 0);
    assert_true(stats.queued_messages > 0);
    int conn = accept(server, NULL, NULL);
    assert_true(conn >= 0);
    uint8_t hello[4096];
    struct pollfd p = {.fd = conn, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 3000), 1);
    ssize_t r = recv(conn, hello, sizeof hello, 0);
    assert_true(r > 0);
    assert_int_equal(hello[0], 0x16); /* a TLS handshake record: the ClientHello */
    r = recv(conn, hello, sizeof hello, MSG_DONTWAIT);
    assert_true(r < 0); /* no EOF: the handshake still waits for us */
    close(conn);        /* now it fails at once */
    close(server);
    collector_link_stats final;
    collector_link_close(link, 0, &final);
    assert_int_equal(final.messages, 0);
    assert_int_equal(final.lost_records, 200);
    ipfix_template_unref(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_templates_first_then_sequenced_data),
        cmocka_unit_test(test_down_collector_counts_every_record),
        cmocka_unit_test(test_tls_handshake_does_not_hold_up_the_caller),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
