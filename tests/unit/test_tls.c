/*
 * test_tls.c — the TLS layer (tls.h) over a socketpair: a client (the
 * Exporting Process) and a server (the Collecting Process) made from the
 * test PKI of tests/tls/make_certs.sh (RFC 5471 §3.7.1), generated into a
 * temporary directory with the `openssl` command. Success, then each bad
 * case of RFC 5471 §3.7.5-3.7.7 refused with its reason: unknown CA, name
 * mismatch, expired certificate, no client certificate; and the context
 * errors (missing file, key not matching the certificate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipfixkit/tls.h"

#include "unit/pki_fixture.h"

static ipfix_tls_context *context(const char *who, bool server, const char *ca,
                                  const char *peer_name) {
    char cert[64], key[64];
    snprintf(cert, sizeof cert, "%s.pem", who);
    snprintf(key, sizeof key, "%s.key", who);
    ipfix_tls_config c = {.cert = pki_file(cert), .key = pki_file(key), .ca = pki_file(ca)};
    if (peer_name) c.peer_names[c.peer_name_count++] = peer_name;
    ipfix_tls_context *x = NULL;
    ipfix_error err;
    ipfix_status st = ipfix_tls_context_new(&c, server, &x, &err);
    if (st != IPFIX_OK) fprintf(stderr, "context %s: %s\n", who, err.detail);
    assert_int_equal(st, IPFIX_OK);
    return x;
}

typedef struct pair {
    int fd[2];
    ipfix_tls_conn *client, *server;
    ipfix_tls_result client_result, server_result;
} pair;

/* Drive both handshakes (non-blocking socketpair) until each is settled;
 * then the client's TLS 1.3 confirmation. */
static void run(pair *p, ipfix_tls_context *client, ipfix_tls_context *server,
                const char *host) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
    for (int i = 0; i < 2; i++) fcntl(p->fd[i], F_SETFL, O_NONBLOCK);
    assert_int_equal(ipfix_tls_conn_new(client, p->fd[0], host, &p->client, NULL), IPFIX_OK);
    assert_int_equal(ipfix_tls_conn_new(server, p->fd[1], NULL, &p->server, NULL), IPFIX_OK);
    p->client_result = p->server_result = IPFIX_TLS_WANT_READ;
    for (int round = 0; round < 100; round++) {
        bool c_busy = p->client_result == IPFIX_TLS_WANT_READ || p->client_result == IPFIX_TLS_WANT_WRITE;
        bool s_busy = p->server_result == IPFIX_TLS_WANT_READ || p->server_result == IPFIX_TLS_WANT_WRITE;
        if (!c_busy && !s_busy) break;
        if (c_busy) p->client_result = ipfix_tls_conn_handshake(p->client);
        if (s_busy) p->server_result = ipfix_tls_conn_handshake(p->server);
    }
    if (p->client_result == IPFIX_TLS_OK)
        p->client_result = ipfix_tls_conn_confirm(p->client, 500);
}

static void finish(pair *p) {
    ipfix_tls_conn_free(p->client);
    ipfix_tls_conn_free(p->server);
    close(p->fd[0]);
    close(p->fd[1]);
}

static void expect_reason(ipfix_tls_conn *c, const char *part) {
    const char *why = ipfix_tls_conn_error(c);
    if (!strstr(why, part)) fprintf(stderr, "reason '%s' lacks '%s'\n", why, part);
    assert_non_null(strstr(why, part));
}

static void test_success(void **state) {
    (void)state;
    ipfix_tls_context *cc = context("exporter", false, "ca.pem", NULL);
    ipfix_tls_context *sc = context("collector", true, "ca.pem", "exporter.test");
    pair p;
    run(&p, cc, sc, "collector.test");
    assert_int_equal(p.client_result, IPFIX_TLS_OK);
    assert_int_equal(p.server_result, IPFIX_TLS_OK);
    /* the contexts may go first: connections hold a reference */
    ipfix_tls_context_free(cc);
    ipfix_tls_context_free(sc);
    char text[200];
    ipfix_tls_conn_describe(p.server, text, sizeof text);
    assert_non_null(strstr(text, "TLSv1.3"));
    assert_non_null(strstr(text, "CN=exporter.test"));
    static const char msg[] = "IPFIX message bytes";
    assert_int_equal(ipfix_tls_conn_write(p.client, msg, sizeof msg), IPFIX_TLS_OK);
    assert_int_equal(ipfix_tls_conn_write(p.client, msg, sizeof msg), IPFIX_TLS_OK);
    char buf[8];
    size_t got = 0;
    assert_int_equal(ipfix_tls_conn_read(p.server, buf, sizeof buf, &got), IPFIX_TLS_OK);
    assert_int_equal(got, sizeof buf);
    assert_memory_equal(buf, msg, sizeof buf);
    /* the rest of the record waits inside OpenSSL */
    assert_int_equal(ipfix_tls_conn_pending(p.server), sizeof msg - sizeof buf);
    char rest[64];
    size_t total = 0;
    while (total < 2 * sizeof msg - sizeof buf) {
        ipfix_tls_result r = ipfix_tls_conn_read(p.server, rest + total, sizeof rest - total, &got);
        assert_int_equal(r, IPFIX_TLS_OK);
        total += got;
    }
    assert_memory_equal(rest + sizeof msg - sizeof buf, msg, sizeof msg);
    assert_int_equal(ipfix_tls_conn_read(p.server, rest, sizeof rest, &got), IPFIX_TLS_WANT_READ);
    ipfix_tls_conn_shutdown(p.client);
    assert_int_equal(ipfix_tls_conn_read(p.server, rest, sizeof rest, &got), IPFIX_TLS_CLOSED);
    finish(&p);
    /* an IP literal as the name connected to: matched against the IP SANs */
    cc = context("exporter", false, "ca.pem", NULL);
    sc = context("collector", true, "ca.pem", NULL);
    run(&p, cc, sc, "::1");
    assert_int_equal(p.client_result, IPFIX_TLS_OK);
    assert_int_equal(p.server_result, IPFIX_TLS_OK);
    finish(&p);
    ipfix_tls_context_free(cc);
    ipfix_tls_context_free(sc);
}

/* RFC 5471 §3.7.6: the Collecting Process refuses an Exporting Process. */
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
        ipfix_tls_context *cc = context(cases[i].client, false, "ca.pem", NULL);
        ipfix_tls_context *sc = context("collector", true, "ca.pem", cases[i].server_names);
        pair p;
        run(&p, cc, sc, "collector.test");
        assert_int_equal(p.server_result, IPFIX_TLS_ERROR);
        expect_reason(p.server, cases[i].server_says);
        assert_int_equal(p.client_result, IPFIX_TLS_ERROR);
        expect_reason(p.client, cases[i].client_says);
        finish(&p);
        ipfix_tls_context_free(cc);
        ipfix_tls_context_free(sc);
    }
}

/* RFC 5471 §3.7.7: the Exporting Process refuses a Collecting Process. */
static void test_client_refuses(void **state) {
    (void)state;
    static const struct {
        const char *server, *host, *client_says;
    } cases[] = {
        {"rogue-collector", "collector.test", "unable to get local issuer certificate (unknown CA; certificate "},
        {"expired-collector", "collector.test", "certificate has expired"},
        {"collector", "other.test",
         "peer name mismatch: certificate is for collector.test, 127.0.0.1, ::1, expected other.test"},
        {"collector", "192.0.2.1", "expected 192.0.2.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ipfix_tls_context *cc = context("exporter", false, "ca.pem", NULL);
        ipfix_tls_context *sc = context(cases[i].server, true, "ca.pem", NULL);
        pair p;
        run(&p, cc, sc, cases[i].host);
        assert_int_equal(p.client_result, IPFIX_TLS_ERROR);
        expect_reason(p.client, cases[i].client_says);
        assert_int_equal(p.server_result, IPFIX_TLS_ERROR);
        expect_reason(p.server, "peer refused our certificate");
        finish(&p);
        ipfix_tls_context_free(cc);
        ipfix_tls_context_free(sc);
    }
    /* configured names take the place of the host */
    ipfix_tls_context *cc = context("exporter", false, "ca.pem", "collector.test");
    ipfix_tls_context *sc = context("collector", true, "ca.pem", NULL);
    pair p;
    run(&p, cc, sc, "some.alias.example");
    assert_int_equal(p.client_result, IPFIX_TLS_OK);
    finish(&p);
    ipfix_tls_context_free(cc);
    ipfix_tls_context_free(sc);
}

/* RFC 5153 §8.2: a client without a certificate (plain OpenSSL: tls.h
 * always presents one). */
static void test_no_client_certificate(void **state) {
    (void)state;
    ipfix_tls_context *sc = context("collector", true, "ca.pem", NULL);
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    for (int i = 0; i < 2; i++) fcntl(fd[i], F_SETFL, O_NONBLOCK);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, pki_file("ca.pem"), NULL), 1);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd[0]);
    SSL_set_connect_state(ssl);
    ipfix_tls_conn *server = NULL;
    assert_int_equal(ipfix_tls_conn_new(sc, fd[1], NULL, &server, NULL), IPFIX_OK);
    ipfix_tls_result r = IPFIX_TLS_WANT_READ;
    for (int round = 0; round < 100 && (r == IPFIX_TLS_WANT_READ || r == IPFIX_TLS_WANT_WRITE);
         round++) {
        SSL_do_handshake(ssl);
        r = ipfix_tls_conn_handshake(server);
    }
    assert_int_equal(r, IPFIX_TLS_ERROR);
    expect_reason(server, "peer did not send a certificate");
    ipfix_tls_conn_free(server);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd[0]);
    close(fd[1]);
    ipfix_tls_context_free(sc);
}

static void test_context_errors(void **state) {
    (void)state;
    ipfix_tls_context *x = NULL;
    ipfix_error err;
    ipfix_tls_config c = {.cert = pki_file("collector.pem"), .key = pki_file("exporter.key"),
                          .ca = pki_file("ca.pem")};
    assert_int_equal(ipfix_tls_context_new(&c, true, &x, &err), IPFIX_ERR_INVALID_ARG);
    assert_null(x);
    assert_non_null(strstr(err.detail, "key does not match"));
    c.key = pki_file("collector.key");
    c.ca = pki_file("missing.pem");
    assert_int_equal(ipfix_tls_context_new(&c, true, &x, &err), IPFIX_ERR_INVALID_ARG);
    assert_non_null(strstr(err.detail, "CA file"));
    c.cert = pki_file("missing.pem");
    assert_int_equal(ipfix_tls_context_new(&c, false, &x, &err), IPFIX_ERR_INVALID_ARG);
    assert_non_null(strstr(err.detail, "certificate"));
    c.cert = NULL;
    assert_int_equal(ipfix_tls_context_new(&c, false, &x, &err), IPFIX_ERR_INVALID_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success),
        cmocka_unit_test(test_server_refuses),
        cmocka_unit_test(test_client_refuses),
        cmocka_unit_test(test_no_client_certificate),
        cmocka_unit_test(test_context_errors),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
