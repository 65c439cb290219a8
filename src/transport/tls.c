/*
 * tls.c — IPFIX over TLS (see tls.h): contexts, the private socket BIO,
 * the handshake with peer verification, and errors in words.
 *
 * Verification happens inside the handshake (the verify callback): the
 * chain against the CA file (SSL_VERIFY_PEER), then at depth 0 the peer
 * names (RFC 7011 §11.3, RFC 5153 §8.2). A name mismatch therefore fails
 * the handshake with an alert to the peer, like a bad chain, and the peer
 * learns that it was refused.
 *
 * DTLS (RFC 6347) shares all of it; the differences are the method and
 * version (DTLS 1.2), the AEAD-only cipher list (a fixed record overhead,
 * so that IPFIX messages can be sized to fit a datagram), OpenSSL's
 * datagram BIO on a connected UDP socket instead of the private stream BIO,
 * the retransmission timer (DTLSv1_handle_timeout) and, for the server,
 * the cookie exchange of RFC 6347 §4.2.1 (DTLSv1_listen) before any state
 * is kept for a peer: the ClientHello must echo HMAC-SHA256(secret, peer
 * address and port), which a spoofed source address cannot.
 */
#include "ipfixkit/tls.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define REASON_MAX 360

struct ipfix_tls_context {
    SSL_CTX *ctx;
    BIO_METHOD *bio_method;
    BIO_METHOD *limit_method;   /* DTLS server: the listeners' filter (ipfix_dtls_listener) */
    bool server;
    bool dtls;
    unsigned char cookie_secret[32]; /* DTLS server: keys the cookies */
    atomic_uint refs;
    char *peer_names[IPFIX_TLS_MAX_PEER_NAMES];
    unsigned peer_name_count;
};

struct ipfix_tls_conn {
    ipfix_tls_context *context;
    SSL *ssl;
    int fd;
    bool dtls;              /* OpenSSL's datagram BIO on a connected UDP socket */
    bool eof;               /* recv returned 0 */
    bool handshake_done;
    bool ticket_seen;       /* client, TLS 1.3: the server's session ticket arrived */
    int sys_errno;          /* errno of the last failed send/recv */
    char host[256];         /* client: the name connected to */
    int verify_error;       /* first chain error seen by the callback */
    char verify_note[200];  /* its certificate: "certificate exporter.test, depth 0" */ /* set by the verify callback */
    char reason[REASON_MAX];
};

/* ------------------------------------------------------------ BIO */

/* A socket BIO using send(MSG_NOSIGNAL): OpenSSL's own writes with write(),
 * which raises SIGPIPE on a connection the peer has reset. */
static int bio_write(BIO *b, const char *data, int n) {
    ipfix_tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t w;
    do w = send(c->fd, data, (size_t)n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
        c->sys_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    }
    return (int)w;
}

static int bio_read(BIO *b, char *data, int n) {
    ipfix_tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r;
    do r = recv(c->fd, data, (size_t)n, 0);
    while (r < 0 && errno == EINTR);
    if (r == 0) c->eof = true;
    if (r < 0) {
        c->sys_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
    }
    return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)num;
    (void)ptr;
    ipfix_tls_conn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_EOF: return c && c->eof;
    default: return 0;
    }
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

/* ------------------------------------------------------------ names */

static bool is_ip_literal(const char *name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static bool name_matches(X509 *cert, const char *name) {
    if (is_ip_literal(name)) return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, 0, NULL) == 1;
}

static void append(char *out, size_t size, const char *text) {
    size_t n = strlen(out);
    if (n < size) snprintf(out + n, size - n, "%s", text);
}

/* "collector.test, 127.0.0.1" (SAN DNS and IP entries), else the CN. */
static void describe_names(X509 *cert, char *out, size_t size) {
    out[0] = '\0';
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char text[INET6_ADDRSTRLEN + 2] = "";
        if (g->type == GEN_DNS) {
            const ASN1_STRING *s = g->d.dNSName;
            snprintf(text, sizeof text, "%.*s", ASN1_STRING_length(s) > 45 ? 45 : ASN1_STRING_length(s),
                     (const char *)ASN1_STRING_get0_data(s));
        } else if (g->type == GEN_IPADD) {
            const ASN1_STRING *s = g->d.iPAddress;
            int len = ASN1_STRING_length(s);
            if (len == 4 || len == 16)
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), text,
                          sizeof text);
        }
        if (!text[0]) continue;
        if (out[0]) append(out, size, ", ");
        append(out, size, text);
    }
    GENERAL_NAMES_free(names);
    if (out[0]) return;
    char cn[128];
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0)
        snprintf(out, size, "CN=%s", cn);
    else
        snprintf(out, size, "(no name)");
}

/* The names to check the peer against: configured, else (client) the host. */
static unsigned expected_names(const ipfix_tls_conn *c, const char **names) {
    const ipfix_tls_context *x = c->context;
    for (unsigned i = 0; i < x->peer_name_count; i++) names[i] = x->peer_names[i];
    if (x->peer_name_count) return x->peer_name_count;
    if (!x->server && c->host[0]) {
        names[0] = c->host;
        return 1;
    }
    return 0;
}

static int verify_callback(int ok, X509_STORE_CTX *store) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    ipfix_tls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!c) return ok;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    int depth = X509_STORE_CTX_get_error_depth(store);
    if (!ok) {
        if (!c->verify_error && cert) {
            int e = X509_STORE_CTX_get_error(store);
            char who[160];
            describe_names(cert, who, sizeof who);
            char when[64] = "";
            if (e == X509_V_ERR_CERT_HAS_EXPIRED || e == X509_V_ERR_CERT_NOT_YET_VALID) {
                BIO *m = BIO_new(BIO_s_mem());
                if (m) {
                    ASN1_TIME_print(m, e == X509_V_ERR_CERT_HAS_EXPIRED ? X509_get0_notAfter(cert)
                                                                        : X509_get0_notBefore(cert));
                    char t[40] = "";
                    int n = BIO_read(m, t, sizeof t - 1);
                    if (n > 0) {
                        t[n] = '\0';
                        snprintf(when, sizeof when, ", %s %s",
                                 e == X509_V_ERR_CERT_HAS_EXPIRED ? "not after" : "not before", t);
                    }
                    BIO_free(m);
                }
            }
            c->verify_error = e;
            snprintf(c->verify_note, sizeof c->verify_note, "certificate %.100s, depth %d%.60s",
                     who, depth, when);
        }
        return 0;
    }
    if (depth != 0 || !cert) return 1;
    const char *names[IPFIX_TLS_MAX_PEER_NAMES];
    unsigned n = expected_names(c, names);
    if (n == 0) return 1; /* server without names: the CA decides (RFC 5153 §8.2) */
    for (unsigned i = 0; i < n; i++)
        if (name_matches(cert, names[i])) return 1;
    char have[160], want[160] = "";
    describe_names(cert, have, sizeof have);
    for (unsigned i = 0; i < n; i++) {
        if (i) append(want, sizeof want, " or ");
        append(want, sizeof want, names[i]);
    }
    snprintf(c->reason, sizeof c->reason,
             "peer name mismatch: certificate is for %.150s, expected %.150s", have, want);
    X509_STORE_CTX_set_error(store, is_ip_literal(names[0]) ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                            : X509_V_ERR_HOSTNAME_MISMATCH);
    return 0;
}

/* Client, TLS 1.3: the server's session ticket says it accepted us. */
static int new_session(SSL *ssl, SSL_SESSION *session) {
    (void)session;
    ipfix_tls_conn *c = SSL_get_app_data(ssl);
    if (c) c->ticket_seen = true;
    return 0; /* not kept */
}

/* ------------------------------------------------------------ cookies */

/* HMAC-SHA256(secret, family | address | port) of the ClientHello's sender
 * (RFC 6347 §4.2.1: a cookie the client can only echo if it receives what
 * is sent to its address). */
static bool cookie_make(SSL *ssl, unsigned char *out, size_t *out_length) {
    ipfix_tls_context *x = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    BIO_ADDR *peer = BIO_ADDR_new();
    if (!x || !peer) {
        BIO_ADDR_free(peer);
        return false;
    }
    unsigned char data[2 + 16 + 2] = {0};
    size_t length = 0;
    bool ok = BIO_dgram_get_peer(SSL_get_rbio(ssl), peer) > 0 &&
              BIO_ADDR_rawaddress(peer, data + 2, &length) == 1 && length <= 16;
    if (ok) {
        unsigned short port = BIO_ADDR_rawport(peer);
        data[0] = (unsigned char)BIO_ADDR_family(peer);
        memcpy(data + 2 + length, &port, 2);
        ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, x->cookie_secret,
                       sizeof x->cookie_secret, data, 2 + length + 2, out, 32, out_length) != NULL;
    }
    BIO_ADDR_free(peer);
    return ok;
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned int *cookie_length) {
    size_t n = 0;
    if (!cookie_make(ssl, cookie, &n)) return 0;
    *cookie_length = (unsigned int)n;
    return 1;
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned int cookie_length) {
    unsigned char expected[32];
    size_t n = 0;
    return cookie_make(ssl, expected, &n) && n == cookie_length &&
           CRYPTO_memcmp(expected, cookie, n) == 0;
}

/* ------------------------------------------------------------ context */

static void openssl_reason(char *out, size_t size) {
    unsigned long e = ERR_peek_last_error();
    if (!e) {
        snprintf(out, size, "unknown error");
        return;
    }
    const char *r = ERR_reason_error_string(e);
    if (r) snprintf(out, size, "%s", r);
    else ERR_error_string_n(e, out, size);
}

static ipfix_status context_error(ipfix_tls_context *x, ipfix_error *err, const char *what,
                                  const char *file) {
    char why[160];
    openssl_reason(why, sizeof why);
    ERR_clear_error();
    ipfix_tls_context_free(x);
    return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "TLS", "%s %.50s: %.40s", what, file,
                           why);
}

static int limit_read(BIO *b, char *out, int n);
static int limit_write(BIO *b, const char *in, int n);
static long limit_ctrl(BIO *b, int cmd, long num, void *ptr);

static ipfix_status context_make(const ipfix_tls_config *config, bool server, bool dtls,
                                 ipfix_tls_context **out, ipfix_error *err) {
    *out = NULL;
    if (!config->cert || !config->key || !config->ca)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "RFC 7011 §11.3",
                               "TLS needs a certificate, its key and a CA file");
    if (config->peer_name_count > IPFIX_TLS_MAX_PEER_NAMES)
        return ipfix_error_set(err, IPFIX_ERR_LIMIT, 0, "TLS", "at most %u peer names",
                               IPFIX_TLS_MAX_PEER_NAMES);
    ipfix_tls_context *x = calloc(1, sizeof *x);
    if (!x) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "TLS context");
    atomic_init(&x->refs, 1);
    x->server = server;
    x->dtls = dtls;
    ERR_clear_error();
    if (dtls)
        x->ctx = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
    else
        x->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    x->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ipfix socket");
    if (!x->ctx || !x->bio_method) return context_error(x, err, "cannot create", "context");
    BIO_meth_set_write(x->bio_method, bio_write);
    BIO_meth_set_read(x->bio_method, bio_read);
    BIO_meth_set_ctrl(x->bio_method, bio_ctrl);
    BIO_meth_set_create(x->bio_method, bio_create);
    for (unsigned i = 0; i < config->peer_name_count; i++) {
        x->peer_names[i] = strdup(config->peer_names[i]);
        if (!x->peer_names[i]) {
            ipfix_tls_context_free(x);
            return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "TLS peer names");
        }
        x->peer_name_count++;
    }
    if (dtls) {
        /* DTLS 1.2 (RFC 6347); AEAD suites only: non-NULL (RFC 7011 §11.3)
         * and a known record overhead (IPFIX_DTLS_RECORD_OVERHEAD) */
        SSL_CTX_set_min_proto_version(x->ctx, DTLS1_2_VERSION);
        SSL_CTX_set_app_data(x->ctx, x);
        if (SSL_CTX_set_cipher_list(x->ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
            RAND_bytes(x->cookie_secret, sizeof x->cookie_secret) != 1)
            return context_error(x, err, "cannot set up", "DTLS");
        if (server) {
            SSL_CTX_set_cookie_generate_cb(x->ctx, cookie_generate);
            SSL_CTX_set_cookie_verify_cb(x->ctx, cookie_verify);
            /* the listeners' filter; here, as accepted connections keep it */
            x->limit_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "ipfix listen");
            if (!x->limit_method) return context_error(x, err, "cannot set up", "DTLS");
            BIO_meth_set_read(x->limit_method, limit_read);
            BIO_meth_set_write(x->limit_method, limit_write);
            BIO_meth_set_ctrl(x->limit_method, limit_ctrl);
            BIO_meth_set_create(x->limit_method, bio_create);
        }
    } else {
        SSL_CTX_set_min_proto_version(x->ctx, TLS1_2_VERSION);
    }
    SSL_CTX_set_mode(x->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* no AUTO_RETRY: a record without application data (a session ticket)
     * returns WANT_READ instead of blocking for more on a blocking fd */
    SSL_CTX_clear_mode(x->ctx, SSL_MODE_AUTO_RETRY);
    /* no renegotiation (TLS 1.2); compression is off by default in OpenSSL 3 */
    SSL_CTX_set_options(x->ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(x->ctx, config->cert) != 1)
        return context_error(x, err, "cannot load certificate", config->cert);
    if (SSL_CTX_use_PrivateKey_file(x->ctx, config->key, SSL_FILETYPE_PEM) != 1)
        return context_error(x, err,
                             ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                                 ? "key does not match the certificate:"
                                 : "cannot load key",
                             config->key);
    if (SSL_CTX_check_private_key(x->ctx) != 1)
        return context_error(x, err, "key does not match certificate", config->cert);
    if (SSL_CTX_load_verify_locations(x->ctx, config->ca, NULL) != 1)
        return context_error(x, err, "cannot load CA file", config->ca);
    if (config->crl) { /* a revoked peer certificate is refused ("certificate revoked") */
        X509_STORE *store = SSL_CTX_get_cert_store(x->ctx);
        X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
        if (!lookup || X509_load_crl_file(lookup, config->crl, X509_FILETYPE_PEM) <= 0)
            return context_error(x, err, "cannot load CRL file", config->crl);
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    /* RFC 5153 §8.2: the server sends a Certificate Request and fails the
     * handshake without a valid client certificate. */
    SSL_CTX_set_verify(x->ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                      : SSL_VERIFY_PEER,
                       verify_callback);
    if (!server) {
        SSL_CTX_set_session_cache_mode(x->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(x->ctx, new_session);
    } else {
        /* the client's list of acceptable CAs: those of the CA file */
        STACK_OF(X509_NAME) *cas = SSL_load_client_CA_file(config->ca);
        if (cas) SSL_CTX_set_client_CA_list(x->ctx, cas);
    }
    ERR_clear_error();
    *out = x;
    return IPFIX_OK;
}

ipfix_status ipfix_tls_context_new(const ipfix_tls_config *config, bool server,
                                   ipfix_tls_context **out, ipfix_error *err) {
    return context_make(config, server, false, out, err);
}

ipfix_status ipfix_tls_context_new_dtls(const ipfix_tls_config *config, bool server,
                                        ipfix_tls_context **out, ipfix_error *err) {
    return context_make(config, server, true, out, err);
}

static void context_unref(ipfix_tls_context *x) {
    if (!x || atomic_fetch_sub(&x->refs, 1) != 1) return;
    SSL_CTX_free(x->ctx);
    BIO_meth_free(x->bio_method);
    BIO_meth_free(x->limit_method);
    for (unsigned i = 0; i < x->peer_name_count; i++) free(x->peer_names[i]);
    free(x);
}

void ipfix_tls_context_free(ipfix_tls_context *x) { context_unref(x); }

/* ------------------------------------------------------------ connection */

ipfix_status ipfix_tls_conn_new(ipfix_tls_context *x, int fd, const char *host,
                                ipfix_tls_conn **out, ipfix_error *err) {
    *out = NULL;
    ipfix_tls_conn *c = calloc(1, sizeof *c);
    if (!c) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "TLS connection");
    c->fd = fd;
    c->dtls = x->dtls;
    if (host) snprintf(c->host, sizeof c->host, "%s", host);
    ERR_clear_error();
    c->ssl = SSL_new(x->ctx);
    BIO *bio = NULL;
    if (c->ssl && x->dtls) {
        bio = BIO_new_dgram(fd, BIO_NOCLOSE);
        struct sockaddr_storage peer;
        socklen_t length = sizeof peer;
        BIO_ADDR *a = BIO_ADDR_new();
        if (bio && a && getpeername(fd, (struct sockaddr *)&peer, &length) == 0) {
            if (peer.ss_family == AF_INET6) {
                const struct sockaddr_in6 *p6 = (const void *)&peer;
                BIO_ADDR_rawmake(a, AF_INET6, &p6->sin6_addr, 16, p6->sin6_port);
            } else {
                const struct sockaddr_in *p4 = (const void *)&peer;
                BIO_ADDR_rawmake(a, AF_INET, &p4->sin_addr, 4, p4->sin_port);
            }
            BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, a);
        }
        BIO_ADDR_free(a);
    } else if (c->ssl) {
        bio = BIO_new(x->bio_method);
        if (bio) BIO_set_data(bio, c);
    }
    if (!bio) {
        SSL_free(c->ssl);
        free(c);
        ERR_clear_error();
        return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "TLS connection");
    }
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_app_data(c->ssl, c);
    atomic_fetch_add(&x->refs, 1);
    c->context = x;
    if (x->server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        if (c->host[0] && !is_ip_literal(c->host))
            SSL_set_tlsext_host_name(c->ssl, c->host); /* SNI (RFC 6066: DNS names only) */
    }
    *out = c;
    return IPFIX_OK;
}

/* The reason of a failed handshake / read / write, in an operator's words. */
static void explain(ipfix_tls_conn *c, int ssl_error) {
    if (c->reason[0]) return; /* the verify callback said it (name mismatch) */
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_peek_last_error();
    int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e);
    if (vr != X509_V_OK && lib == ERR_LIB_SSL && r == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        const char *hint = "";
        if (vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
            vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
            vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT)
            hint = "unknown CA; ";
        if (c->verify_error == vr && c->verify_note[0])
            snprintf(c->reason, sizeof c->reason, "certificate verify failed: %s (%s%s)",
                     X509_verify_cert_error_string(vr), hint, c->verify_note);
        else
            snprintf(c->reason, sizeof c->reason, "certificate verify failed: %s%s%s%s",
                     X509_verify_cert_error_string(vr), hint[0] ? " (" : "", hint,
                     hint[0] ? ")" : "");
    } else if (lib == ERR_LIB_SSL) {
        const char *text = NULL;
        switch (r) {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE: text = "peer did not send a certificate"; break;
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            text = "peer refused us: it requires a certificate and we sent none (TLS alert)"; break;
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
            text = "peer refused our certificate: unknown CA (TLS alert)"; break;
        case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
            text = "peer refused our certificate: certificate expired (TLS alert)"; break;
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
            text = "peer refused our certificate: bad certificate, e.g. name mismatch (TLS alert)"; break;
        case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
            text = "peer refused our certificate: certificate revoked (TLS alert)"; break;
        case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
            text = "peer refused our certificate (TLS alert certificate unknown)"; break;
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
            text = "peer refused the handshake (TLS alert handshake failure; e.g. no certificate)"; break;
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_HTTP_REQUEST:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
            text = "the peer does not speak TLS"; break;
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            text = c->handshake_done ? "connection closed without close_notify"
                                     : "connection closed by the peer during the handshake";
            break;
        default: break;
        }
        const char *alert = text && c->dtls ? strstr(text, "TLS alert") : NULL;
        if (alert) { /* "... (DTLS alert)" */
            snprintf(c->reason, sizeof c->reason, "%.*sD%s", (int)(alert - text), text, alert);
        } else if (text) {
            snprintf(c->reason, sizeof c->reason, "%s", text);
        } else {
            char why[160];
            openssl_reason(why, sizeof why);
            snprintf(c->reason, sizeof c->reason, "%s %s failed: %s", c->dtls ? "DTLS" : "TLS",
                     c->handshake_done ? "session" : "handshake", why);
        }
    } else if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
        if (c->eof || c->sys_errno == 0)
            snprintf(c->reason, sizeof c->reason, "connection closed by the peer%s",
                     c->handshake_done ? "" : " during the handshake");
        else
            snprintf(c->reason, sizeof c->reason, "%s", strerror(c->sys_errno));
    } else {
        char why[160];
        openssl_reason(why, sizeof why);
        snprintf(c->reason, sizeof c->reason, "TLS error: %s", why);
    }
}

static ipfix_tls_result result_of(ipfix_tls_conn *c, int rc) {
    if (c->dtls && !c->sys_errno && errno != EAGAIN && errno != EWOULDBLOCK)
        c->sys_errno = errno; /* the datagram BIO's failed send/recv */
    int e = SSL_get_error(c->ssl, rc);
    ipfix_tls_result res;
    switch (e) {
    case SSL_ERROR_WANT_READ: return IPFIX_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return IPFIX_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        snprintf(c->reason, sizeof c->reason, "closed by the peer (close_notify)");
        res = IPFIX_TLS_CLOSED;
        break;
    case SSL_ERROR_SYSCALL:
        if (c->eof && c->handshake_done && ERR_peek_error() == 0) {
            snprintf(c->reason, sizeof c->reason, "connection closed by the peer");
            res = IPFIX_TLS_CLOSED;
            break;
        }
        /* fall through */
    default:
        if (c->handshake_done && c->eof && ERR_GET_REASON(ERR_peek_last_error()) ==
                                               SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            snprintf(c->reason, sizeof c->reason, "connection closed without close_notify");
            res = IPFIX_TLS_CLOSED;
            break;
        }
        explain(c, e);
        res = IPFIX_TLS_ERROR;
        break;
    }
    ERR_clear_error();
    return res;
}

ipfix_tls_result ipfix_tls_conn_handshake(ipfix_tls_conn *c) {
    if (c->handshake_done) return IPFIX_TLS_OK;
    ERR_clear_error();
    c->sys_errno = 0;
    errno = 0;
    if (c->dtls && DTLSv1_handle_timeout(c->ssl) < 0) { /* retransmit a flight when due */
        int e = errno;
        if (!c->reason[0])
            snprintf(c->reason, sizeof c->reason, "%s",
                     e && e != EAGAIN && e != EWOULDBLOCK ? strerror(e)
                                                          : "DTLS handshake timed out (no answer)");
        ERR_clear_error();
        return IPFIX_TLS_ERROR;
    }
    errno = 0;
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        c->handshake_done = true;
        return IPFIX_TLS_OK;
    }
    return result_of(c, rc);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ipfix_tls_result ipfix_tls_conn_confirm(ipfix_tls_conn *c, int timeout_ms) {
    if (c->dtls || c->context->server || !c->handshake_done ||
        SSL_version(c->ssl) < TLS1_3_VERSION) /* (DTLS 1.2: the verdict is in the handshake) */
        return IPFIX_TLS_OK;
    int64_t deadline = now_ms() + timeout_ms;
    while (!c->ticket_seen) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return IPFIX_TLS_OK; /* a server without tickets: nothing to wait for */
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return IPFIX_TLS_OK;
        /* MSG_DONTWAIT: a blocking fd must not block here either */
        uint8_t byte;
        ERR_clear_error();
        c->sys_errno = 0;
        ssize_t peek = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (peek < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        int rc = SSL_read(c->ssl, &byte, 1);
        if (rc > 0) return IPFIX_TLS_OK; /* the server sent data: it accepted us */
        ipfix_tls_result r = result_of(c, rc);
        if (r == IPFIX_TLS_WANT_READ || r == IPFIX_TLS_WANT_WRITE) continue;
        if (r == IPFIX_TLS_CLOSED)
            snprintf(c->reason, sizeof c->reason,
                     "the peer closed the connection right after the handshake "
                     "(it refused our certificate?)");
        return IPFIX_TLS_ERROR;
    }
    return IPFIX_TLS_OK;
}

ipfix_tls_result ipfix_tls_conn_read(ipfix_tls_conn *c, void *buffer, size_t size, size_t *got) {
    *got = 0;
    ERR_clear_error();
    c->sys_errno = 0;
    errno = 0;
    size_t n = 0;
    int rc = SSL_read_ex(c->ssl, buffer, size, &n);
    if (rc == 1) {
        *got = n;
        return IPFIX_TLS_OK;
    }
    return result_of(c, rc);
}

size_t ipfix_tls_conn_pending(const ipfix_tls_conn *c) {
    int n = SSL_pending(c->ssl);
    return n > 0 ? (size_t)n : 0;
}

ipfix_tls_result ipfix_tls_conn_write(ipfix_tls_conn *c, const void *buffer, size_t size) {
    if (size == 0) return IPFIX_TLS_OK;
    ERR_clear_error();
    c->sys_errno = 0;
    errno = 0;
    size_t n = 0;
    int rc = SSL_write_ex(c->ssl, buffer, size, &n);
    if (rc == 1) return IPFIX_TLS_OK; /* all of it: partial writes are not enabled */
    return result_of(c, rc);
}

void ipfix_tls_conn_shutdown(ipfix_tls_conn *c) {
    if (!c || !c->handshake_done) return;
    ERR_clear_error();
    SSL_shutdown(c->ssl);
    ERR_clear_error();
}

const char *ipfix_tls_conn_error(const ipfix_tls_conn *c) { return c->reason; }

void ipfix_tls_conn_describe(const ipfix_tls_conn *c, char *out, size_t size) {
    char who[160] = "(none)";
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer) {
        char cn[128];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
                                      sizeof cn) > 0)
            snprintf(who, sizeof who, "CN=%s", cn);
        else
            describe_names(peer, who, sizeof who);
        X509_free(peer);
    }
    snprintf(out, size, "%s %s, peer %s", SSL_get_version(c->ssl),
             SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)), who);
}

void ipfix_tls_conn_free(ipfix_tls_conn *c) {
    if (!c) return;
    SSL_free(c->ssl); /* frees the BIO too */
    context_unref(c->context);
    free(c);
}

/* ------------------------------------------------------------ DTLS */

bool ipfix_tls_conn_set_mtu(ipfix_tls_conn *c, unsigned mtu) {
    if (!c->dtls) return false;
    SSL_set_options(c->ssl, SSL_OP_NO_QUERY_MTU);
    bool ok = SSL_set_mtu(c->ssl, (long)mtu) > 0;
    ERR_clear_error();
    return ok;
}

size_t ipfix_tls_conn_data_mtu(const ipfix_tls_conn *c) {
    return c->dtls ? DTLS_get_data_mtu(c->ssl) : 0;
}

int ipfix_tls_conn_timeout_ms(const ipfix_tls_conn *c) {
    struct timeval tv;
    if (!c->dtls || c->handshake_done || DTLSv1_get_timeout(c->ssl, &tv) != 1) return -1;
    long long ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
    return ms > 60000 ? 60000 : (int)ms;
}

/* DTLSv1_listen reads until a ClientHello with a valid cookie or until
 * nothing is left, so a flood of junk would keep the caller in it for as
 * long as the flood lasts. A filter BIO between the SSL and the datagram
 * BIO ends each call after DTLS_LISTEN_READS datagrams (a "retry", the
 * caller comes back later); after the accept it is a plain pass-through. */
#define DTLS_LISTEN_READS 256u

struct ipfix_dtls_listener {
    ipfix_tls_context *context;
    int fd;
    SSL *ssl;        /* listening (DTLSv1_listen) until a valid ClientHello */
    bool ready;      /* ssl holds a ClientHello with a valid cookie */
    unsigned reads;  /* datagrams read in this call */
};

static int limit_read(BIO *b, char *out, int n) {
    ipfix_dtls_listener *l = BIO_get_data(b);
    BIO *next = BIO_next(b);
    BIO_clear_retry_flags(b);
    if (!next) return 0;
    if (l && l->reads >= DTLS_LISTEN_READS) {
        BIO_set_retry_read(b);
        return -1;
    }
    int r = BIO_read(next, out, n);
    if (l && r > 0) l->reads++;
    BIO_copy_next_retry(b);
    return r;
}

static int limit_write(BIO *b, const char *in, int n) {
    BIO *next = BIO_next(b);
    BIO_clear_retry_flags(b);
    if (!next) return 0;
    int r = BIO_write(next, in, n);
    BIO_copy_next_retry(b);
    return r;
}

static long limit_ctrl(BIO *b, int cmd, long num, void *ptr) {
    BIO *next = BIO_next(b);
    return next ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

ipfix_status ipfix_dtls_listener_new(ipfix_tls_context *x, int fd, ipfix_dtls_listener **out,
                                     ipfix_error *err) {
    *out = NULL;
    if (!x->dtls || !x->server)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "DTLS",
                               "a DTLS listener needs a DTLS server context");
    ipfix_dtls_listener *l = calloc(1, sizeof *l);
    if (!l) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "DTLS listener");
    atomic_fetch_add(&x->refs, 1);
    l->context = x;
    l->fd = fd;
    *out = l;
    return IPFIX_OK;
}

static bool listener_arm(ipfix_dtls_listener *l) {
    if (l->ssl) return true;
    l->ssl = SSL_new(l->context->ctx);
    BIO *dgram = l->ssl ? BIO_new_dgram(l->fd, BIO_NOCLOSE) : NULL;
    BIO *bio = dgram ? BIO_new(l->context->limit_method) : NULL;
    if (!bio) {
        BIO_free(dgram);
        SSL_free(l->ssl);
        l->ssl = NULL;
        ERR_clear_error();
        return false;
    }
    BIO_set_data(bio, l);
    BIO_push(bio, dgram);
    SSL_set_bio(l->ssl, bio, bio); /* the SSL frees the chain */
    SSL_set_options(l->ssl, SSL_OP_COOKIE_EXCHANGE);
    return true;
}

bool ipfix_dtls_listener_next(ipfix_dtls_listener *l, struct sockaddr_storage *peer,
                              socklen_t *peer_length) {
    if (l->ready) ipfix_dtls_listener_reject(l); /* not taken: dropped */
    if (!listener_arm(l)) return false;
    l->reads = 0;
    BIO_ADDR *from = BIO_ADDR_new();
    if (!from) return false;
    ERR_clear_error();
    /* reads until a ClientHello with a valid cookie or nothing is left;
     * answers the others with HelloVerifyRequest, drops non-handshake data */
    int rc = DTLSv1_listen(l->ssl, from);
    ERR_clear_error();
    if (rc <= 0) {
        BIO_ADDR_free(from);
        if (rc < 0) { /* a fatal error on this SSL: start again with a fresh one */
            SSL_free(l->ssl);
            l->ssl = NULL;
        }
        return false;
    }
    memset(peer, 0, sizeof *peer);
    size_t length = 0;
    unsigned short port = BIO_ADDR_rawport(from);
    if (BIO_ADDR_family(from) == AF_INET6) {
        struct sockaddr_in6 *p6 = (void *)peer;
        p6->sin6_family = AF_INET6;
        p6->sin6_port = port;
        BIO_ADDR_rawaddress(from, &p6->sin6_addr, &length);
        *peer_length = sizeof *p6;
    } else {
        struct sockaddr_in *p4 = (void *)peer;
        p4->sin_family = AF_INET;
        p4->sin_port = port;
        BIO_ADDR_rawaddress(from, &p4->sin_addr, &length);
        *peer_length = sizeof *p4;
    }
    BIO_ADDR_free(from);
    l->ready = true;
    return true;
}

ipfix_status ipfix_dtls_listener_accept(ipfix_dtls_listener *l, int fd, ipfix_tls_conn **out,
                                        ipfix_error *err) {
    *out = NULL;
    if (!l->ready)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "DTLS", "no ClientHello to accept");
    ipfix_tls_conn *c = calloc(1, sizeof *c);
    BIO_ADDR *a = BIO_ADDR_new();
    struct sockaddr_storage peer;
    socklen_t length = sizeof peer;
    if (!c || !a || getpeername(fd, (struct sockaddr *)&peer, &length) != 0) {
        free(c);
        BIO_ADDR_free(a);
        ipfix_dtls_listener_reject(l);
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "DTLS", "cannot set up the session");
    }
    if (peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *p6 = (const void *)&peer;
        BIO_ADDR_rawmake(a, AF_INET6, &p6->sin6_addr, 16, p6->sin6_port);
    } else {
        const struct sockaddr_in *p4 = (const void *)&peer;
        BIO_ADDR_rawmake(a, AF_INET, &p4->sin_addr, 4, p4->sin_port);
    }
    /* the SSL keeps the ClientHello; from now on it talks over the
     * connected socket (the usual OpenSSL pattern after DTLSv1_listen) */
    BIO *bio = SSL_get_rbio(l->ssl);
    BIO_set_data(bio, NULL); /* the filter passes everything through now */
    BIO_set_fd(bio, fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, a);
    BIO_ADDR_free(a);
    c->ssl = l->ssl;
    c->fd = fd;
    c->dtls = true;
    SSL_set_app_data(c->ssl, c); /* still in accept state: DTLSv1_listen set it */
    atomic_fetch_add(&l->context->refs, 1);
    c->context = l->context;
    l->ssl = NULL;
    l->ready = false;
    *out = c;
    return IPFIX_OK;
}

void ipfix_dtls_listener_reject(ipfix_dtls_listener *l) {
    SSL_free(l->ssl);
    l->ssl = NULL;
    l->ready = false;
}

void ipfix_dtls_listener_free(ipfix_dtls_listener *l) {
    if (!l) return;
    SSL_free(l->ssl);
    context_unref(l->context);
    free(l);
}
