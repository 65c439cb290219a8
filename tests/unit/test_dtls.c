/*
 * test_dtls.c — the DTLS side of the TLS layer (tls.h): a client (the
 * Exporting Process) on a connected UDP socket and a server (the
 * Collecting Process) with the cookie exchange on a listening UDP socket
 * and a per-peer connected socket (listener.h), over IPv4 and IPv6
 * loopback, with the test PKI of tests/tls/make_certs.sh. Success (cookie
 * exchange, records of one IPFIX message each, data MTU), then each bad
 * case refused by the side that checks it with its reason, the other side
 * told by an alert: unknown CA, expired, name mismatch, no client
 * certificate; and a ClientHello without a valid cookie keeps no state,
 * junk is dropped a bounded number of datagrams per call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipfixkit/tls.h"
#include "transport/listener.h"

#include "unit/pki_fixture.h"

static ipfix_tls_context *context(const char *who, bool server, const char *peer_name) {
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s.pem", who);
    snprintf(key, sizeof key, "%s.key", who);
    ipfix_tls_config c = {.cert = pki_file(cert), .key = pki_file(key), .ca = pki_file("ca.pem")};
    if (peer_name) c.peer_names[c.peer_name_count++] = peer_name;
    ipfix_tls_context *x = NULL;
    ipfix_error err;
    ipfix_status st = ipfix_tls_context_new_dtls(&c, server, &x, &err);
    if (st != IPFIX_OK) fprintf(stderr, "context %s: %s\n", who, err.detail);
    assert_int_equal(st, IPFIX_OK);
    return x;
}

typedef struct pair {
    int listen_fd, client_fd, server_fd;
    struct sockaddr_storage local;
    socklen_t local_length;
    ipfix_dtls_listener *listener;
    ipfix_tls_conn *client, *server;
    SSL *raw;     /* a plain OpenSSL client instead of `client` */
    ipfix_tls_result client_result, server_result;
    unsigned cookies_seen;
} pair;

static bool busy(ipfix_tls_result r) { return r == IPFIX_TLS_WANT_READ || r == IPFIX_TLS_WANT_WRITE; }

/* Listener on an ephemeral loopback port, client socket connected to it. */
static void open_pair(pair *p, bool v6) {
    memset(p, 0, sizeof *p);
    p->server_fd = -1;
    struct sockaddr_storage a = {0};
    socklen_t length;
    if (v6) {
        struct sockaddr_in6 *a6 = (void *)&a;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_loopback;
        length = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (void *)&a;
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        length = sizeof *a4;
    }
    p->listen_fd = ipfix_udp_listener_open((struct sockaddr *)&a, length, 0);
    assert_true(p->listen_fd >= 0);
    p->local_length = sizeof p->local;
    assert_int_equal(getsockname(p->listen_fd, (struct sockaddr *)&p->local, &p->local_length), 0);
    p->client_fd = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(p->client_fd >= 0);
    assert_int_equal(connect(p->client_fd, (struct sockaddr *)&p->local, p->local_length), 0);
}

/* Drive the server: the cookie exchange, then the session's handshake. */
static void server_step(pair *p, ipfix_tls_context *server) {
    if (!p->listener)
        assert_int_equal(ipfix_dtls_listener_new(server, p->listen_fd, &p->listener, NULL), IPFIX_OK);
    if (!p->server) {
        struct sockaddr_storage peer;
        socklen_t peer_length;
        if (!ipfix_dtls_listener_next(p->listener, &peer, &peer_length)) return;
        p->cookies_seen++;
        p->server_fd = ipfix_udp_connected_open((struct sockaddr *)&p->local, p->local_length,
                                                (struct sockaddr *)&peer, peer_length, 0);
        assert_true(p->server_fd >= 0);
        assert_int_equal(ipfix_dtls_listener_accept(p->listener, p->server_fd, &p->server, NULL),
                         IPFIX_OK);
        assert_true(ipfix_tls_conn_set_mtu(p->server, 1400));
    }
    if (busy(p->server_result)) p->server_result = ipfix_tls_conn_handshake(p->server);
}

static void wait_any(pair *p) {
    struct pollfd f[3] = {{.fd = p->client_fd, .events = POLLIN},
                          {.fd = p->listen_fd, .events = POLLIN},
                          {.fd = p->server_fd, .events = POLLIN}};
    poll(f, p->server_fd >= 0 ? 3 : 2, 20);
}

static void run(pair *p, ipfix_tls_context *client, ipfix_tls_context *server, const char *host,
                bool v6) {
    open_pair(p, v6);
    assert_int_equal(ipfix_tls_conn_new(client, p->client_fd, host, &p->client, NULL), IPFIX_OK);
    assert_true(ipfix_tls_conn_set_mtu(p->client, 1400));
    p->client_result = p->server_result = IPFIX_TLS_WANT_READ;
    for (int round = 0; round < 300; round++) {
        if (!busy(p->client_result) && !busy(p->server_result)) break;
        if (busy(p->client_result)) p->client_result = ipfix_tls_conn_handshake(p->client);
        server_step(p, server);
        /* a refused client learns it from the alert that follows */
        if (!busy(p->server_result) && busy(p->client_result) && round > 250) break;
        wait_any(p);
    }
}

static void finish(pair *p) {
    ipfix_tls_conn_free(p->client);
    ipfix_tls_conn_free(p->server);
    ipfix_dtls_listener_free(p->listener);
    if (p->raw) SSL_free(p->raw);
    close(p->listen_fd);
    close(p->client_fd);
    if (p->server_fd >= 0) close(p->server_fd);
}

static void expect_reason(ipfix_tls_conn *c, const char *part) {
    const char *why = ipfix_tls_conn_error(c);
    if (!strstr(why, part)) fprintf(stderr, "reason '%s' lacks '%s'\n", why, part);
    assert_non_null(strstr(why, part));
}

static void test_success(void **state) {
    (void)state;
    for (int v6 = 0; v6 <= 1; v6++) {
        ipfix_tls_context *cc = context("exporter", false, NULL);
        ipfix_tls_context *sc = context("collector", true, "exporter.test");
        pair p;
        run(&p, cc, sc, v6 ? "::1" : "collector.test", v6);
        assert_int_equal(p.client_result, IPFIX_TLS_OK);
        assert_int_equal(p.server_result, IPFIX_TLS_OK);
        assert_int_equal(p.cookies_seen, 1);
        ipfix_tls_context_free(cc);
        ipfix_tls_context_free(sc);
        char text[200];
        ipfix_tls_conn_describe(p.server, text, sizeof text);
        assert_non_null(strstr(text, "DTLSv1.2"));
        assert_non_null(strstr(text, "CN=exporter.test"));
        /* one IPFIX message per record; the record fits the 1400-byte MTU */
        size_t mtu = ipfix_tls_conn_data_mtu(p.client);
        assert_true(mtu >= 1400 - IPFIX_DTLS_RECORD_OVERHEAD && mtu < 1400);
        uint8_t msg[1400];
        for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)i;
        assert_int_equal(ipfix_tls_conn_write(p.client, msg, mtu), IPFIX_TLS_OK);
        assert_int_equal(ipfix_tls_conn_write(p.client, msg, 100), IPFIX_TLS_OK);
        uint8_t buf[2048];
        size_t got = 0;
        struct pollfd f = {.fd = p.server_fd, .events = POLLIN};
        poll(&f, 1, 1000);
        assert_int_equal(ipfix_tls_conn_read(p.server, buf, sizeof buf, &got), IPFIX_TLS_OK);
        assert_int_equal(got, mtu);
        assert_memory_equal(buf, msg, mtu);
        poll(&f, 1, 1000);
        assert_int_equal(ipfix_tls_conn_read(p.server, buf, sizeof buf, &got), IPFIX_TLS_OK);
        assert_int_equal(got, 100);
        assert_int_equal(ipfix_tls_conn_read(p.server, buf, sizeof buf, &got), IPFIX_TLS_WANT_READ);
        /* close_notify ends the session for the peer */
        ipfix_tls_conn_shutdown(p.client);
        poll(&f, 1, 1000);
        assert_int_equal(ipfix_tls_conn_read(p.server, buf, sizeof buf, &got), IPFIX_TLS_CLOSED);
        finish(&p);
    }
}

/* The Collecting Process refuses an Exporting Process (RFC 5471 §3.7.6). */
static void test_server_refuses(void **state) {
    (void)state;
    static const struct {
        const char *client, *server_names, *server_says, *client_says;
    } cases[] = {
        {"rogue-exporter", NULL, "unable to get local issuer certificate (unknown CA; certificate ", "unknown CA"},
        {"expired-exporter", NULL, "certificate has expired", "certificate expired"},
        {"exporter", "exporter1.test",
         "peer name mismatch: certificate is for exporter.test, expected exporter1.test",
         "bad certificate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipfix_tls_context *cc = context(cases[i].client, false, NULL);
        ipfix_tls_context *sc = context("collector", true, cases[i].server_names);
        pair p;
        run(&p, cc, sc, "collector.test", i % 2 == 1);
        assert_int_equal(p.server_result, IPFIX_TLS_ERROR);
        expect_reason(p.server, cases[i].server_says);
        assert_int_equal(p.client_result, IPFIX_TLS_ERROR);
        expect_reason(p.client, cases[i].client_says);
        finish(&p);
        ipfix_tls_context_free(cc);
        ipfix_tls_context_free(sc);
    }
}

/* The Exporting Process refuses a Collecting Process (RFC 5471 §3.7.7). */
static void test_client_refuses(void **state) {
    (void)state;
    static const struct {
        const char *server, *host, *client_says;
    } cases[] = {
        {"rogue-collector", "collector.test", "unable to get local issuer certificate (unknown CA; certificate "},
        {"expired-collector", "collector.test", "certificate has expired"},
        {"collector", "other.test",
         "peer name mismatch: certificate is for collector.test, 127.0.0.1, ::1, expected other.test"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipfix_tls_context *cc = context("exporter", false, NULL);
        ipfix_tls_context *sc = context(cases[i].server, true, NULL);
        pair p;
        run(&p, cc, sc, cases[i].host, i % 2 == 0);
        assert_int_equal(p.client_result, IPFIX_TLS_ERROR);
        expect_reason(p.client, cases[i].client_says);
        assert_int_equal(p.server_result, IPFIX_TLS_ERROR);
        expect_reason(p.server, "peer refused our certificate");
        finish(&p);
        ipfix_tls_context_free(cc);
        ipfix_tls_context_free(sc);
    }
}

/* RFC 5153 §8.2: a DTLS client without a certificate (plain OpenSSL). */
static void test_no_client_certificate(void **state) {
    (void)state;
    ipfix_tls_context *sc = context("collector", true, NULL);
    pair p;
    open_pair(&p, false);
    SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, pki_file("ca.pem"), NULL), 1);
    p.raw = SSL_new(ctx);
    BIO *bio = BIO_new_dgram(p.client_fd, BIO_NOCLOSE);
    BIO_ADDR *to = BIO_ADDR_new();
    const struct sockaddr_in *l4 = (const void *)&p.local;
    BIO_ADDR_rawmake(to, AF_INET, &l4->sin_addr, 4, l4->sin_port);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, to);
    BIO_ADDR_free(to);
    SSL_set_bio(p.raw, bio, bio);
    SSL_set_connect_state(p.raw);
    p.server_result = IPFIX_TLS_WANT_READ;
    for (int round = 0; round < 200 && busy(p.server_result); round++) {
        SSL_do_handshake(p.raw);
        server_step(&p, sc);
        wait_any(&p);
    }
    assert_int_equal(p.server_result, IPFIX_TLS_ERROR);
    expect_reason(p.server, "peer did not send a certificate");
    finish(&p);
    SSL_CTX_free(ctx);
    ipfix_tls_context_free(sc);
}

/* A ClientHello without a cookie gets a HelloVerifyRequest, no state;
 * junk is dropped. */
static void test_cookie_exchange(void **state) {
    (void)state;
    ipfix_tls_context *sc = context("collector", true, NULL);
    pair p;
    open_pair(&p, false);
    assert_int_equal(ipfix_dtls_listener_new(sc, p.listen_fd, &p.listener, NULL), IPFIX_OK);
    /* a flood of junk: each call reads a bounded number of datagrams */
    static const uint8_t junk[] = "not a DTLS record";
    for (int i = 0; i < 300; i++)
        assert_int_equal(send(p.client_fd, junk, sizeof junk, 0), (ssize_t)sizeof junk);
    struct sockaddr_storage peer;
    socklen_t peer_length;
    struct pollfd f = {.fd = p.listen_fd, .events = POLLIN};
    poll(&f, 1, 1000);
    int calls = 0;
    while (poll(&f, 1, 0) == 1 && calls < 400) {
        assert_false(ipfix_dtls_listener_next(p.listener, &peer, &peer_length));
        calls++;
    }
    assert_int_equal(poll(&f, 1, 0), 0); /* all read and dropped */
    assert_true(calls > 1);              /* not in one call */
    /* a real first ClientHello: answered (HelloVerifyRequest), not accepted */
    ipfix_tls_context *cc = context("exporter", false, NULL);
    assert_int_equal(ipfix_tls_conn_new(cc, p.client_fd, "collector.test", &p.client, NULL), IPFIX_OK);
    assert_int_equal(ipfix_tls_conn_handshake(p.client), IPFIX_TLS_WANT_READ);
    poll(&f, 1, 1000);
    assert_false(ipfix_dtls_listener_next(p.listener, &peer, &peer_length));
    struct pollfd c = {.fd = p.client_fd, .events = POLLIN};
    assert_int_equal(poll(&c, 1, 1000), 1); /* the HelloVerifyRequest */
    /* the second ClientHello echoes the cookie: accepted */
    assert_int_equal(ipfix_tls_conn_handshake(p.client), IPFIX_TLS_WANT_READ);
    poll(&f, 1, 1000);
    assert_true(ipfix_dtls_listener_next(p.listener, &peer, &peer_length));
    assert_int_equal(peer.ss_family, AF_INET);
    ipfix_dtls_listener_reject(p.listener);
    finish(&p);
    ipfix_tls_context_free(cc);
    ipfix_tls_context_free(sc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success),
        cmocka_unit_test(test_server_refuses),
        cmocka_unit_test(test_client_refuses),
        cmocka_unit_test(test_no_client_certificate),
        cmocka_unit_test(test_cookie_exchange),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
