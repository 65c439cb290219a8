/*
 * tls.h — IPFIX over TLS over TCP (RFC 7011 §11, RFC 5153 §8.2-8.3): a thin
 * OpenSSL 3 layer shared by the Exporting Process (TLS client) and the
 * Collecting Process (TLS server).
 *
 * Policy (the same on both sides, RFC 7011 §11.3 mutual authentication):
 *   - TLS 1.2 minimum (TLS 1.3 preferred); OpenSSL's default cipher suites,
 *     none of them NULL (§11.3: non-NULL cipher suites only).
 *   - Each side presents its own certificate and key (checked against each
 *     other when the context is made) and verifies the peer's chain against
 *     the configured CA file (SSL_VERIFY_PEER). The server also requires a
 *     client certificate (SSL_VERIFY_FAIL_IF_NO_PEER_CERT, RFC 5153 §8.2).
 *   - Peer identity: the peer's end-entity certificate must match one of the
 *     configured peer names (X509_check_host for DNS names, X509_check_ip_asc
 *     for IPv4/IPv6 literals; both look at subjectAltName and fall back to the
 *     subject CN when the certificate has no SAN of that kind). The client,
 *     when no name is configured, checks the host it connects to (the URI's
 *     host, as HTTPS does) and sends it as SNI when it is a DNS name. The
 *     server, when no name is configured, accepts any certificate that chains
 *     to the CA (RFC 5153 §8.2: sufficient with a private CA whose
 *     certificates identify exactly the authorised peers).
 *
 * Errors are returned, never printed: ipfix_tls_context_new() fills an
 * ipfix_error; a failed handshake / read / write leaves a sentence for an
 * operator in ipfix_tls_conn_error(), e.g. "certificate verify failed:
 * unable to get local issuer certificate (unknown CA)", "certificate verify
 * failed: certificate has expired", "peer did not send a certificate",
 * "peer name mismatch: certificate is for exporter2.test, expected
 * exporter1.test", "peer refused our certificate: unknown CA (TLS alert)".
 *
 * I/O goes through send(MSG_NOSIGNAL)/recv on the fd (a private BIO), so a
 * closed peer never raises SIGPIPE. The fd may be blocking (with
 * SO_RCVTIMEO/SO_SNDTIMEO: a timeout shows as WANT_READ/WANT_WRITE) or
 * non-blocking (the caller waits for the direction the result names).
 *
 * DTLS (ipfix_tls_context_new_dtls): the same policy and checks, DTLS 1.2
 * only, AEAD cipher suites only (ECDHE with AES-GCM or ChaCha20-Poly1305,
 * so a record costs at most IPFIX_DTLS_RECORD_OVERHEAD bytes), I/O through
 * OpenSSL's datagram BIO on a *connected* UDP socket (one record per
 * datagram; ICMP errors show as errors, e.g. "Connection refused"). The
 * server side starts with the stateless cookie exchange (RFC 6347 §4.2.1)
 * on the listening socket (ipfix_dtls_listener); the cookie is an
 * HMAC-SHA256 of the peer's address and port under a random secret of the
 * context. DTLS retransmits lost handshake flights on a timer: while a
 * handshake waits, call ipfix_tls_conn_handshake() again when the fd is
 * readable or ipfix_tls_conn_timeout_ms() has passed. DTLS over SCTP
 * (RFC 6083) is not offered: Debian's OpenSSL is built with OPENSSL_NO_SCTP.
 *
 * Ownership: ipfix_tls_context (opaque) is made by ipfix_tls_context_new and
 * freed by ipfix_tls_context_free; it copies what it needs from the config
 * (file names are read at creation; peer names are copied). A connection
 * (ipfix_tls_conn_new) borrows the fd (never closes it) and holds a
 * reference on the context, so the context may be freed first. No global
 * state: OpenSSL 3 initialises itself. A context may be used by several
 * threads for different connections; one connection by one thread at a time.
 */
#ifndef IPFIXKIT_TLS_H
#define IPFIXKIT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_TLS_MAX_PEER_NAMES 16u

typedef struct ipfix_tls_config {
    const char *cert;     /* PEM: own certificate (chain allowed after it) */
    const char *key;      /* PEM: its private key */
    const char *ca;       /* PEM: CA certificate(s) the peer's chain must lead to */
    const char *crl;      /* PEM: revocation list(s) of the CA, the peer's certificate is
                             checked against them (X509_V_FLAG_CRL_CHECK); NULL: none */
    const char *peer_names[IPFIX_TLS_MAX_PEER_NAMES]; /* DNS names or IP literals */
    unsigned peer_name_count;
} ipfix_tls_config;

typedef struct ipfix_tls_context ipfix_tls_context;
typedef struct ipfix_tls_conn ipfix_tls_conn;

typedef enum ipfix_tls_result {
    IPFIX_TLS_OK = 0,
    IPFIX_TLS_WANT_READ,      /* wait until the fd is readable, call again */
    IPFIX_TLS_WANT_WRITE,     /* wait until the fd is writable, call again */
    IPFIX_TLS_CLOSED,         /* the peer closed the session (close_notify or EOF) */
    IPFIX_TLS_ERROR           /* failed: ipfix_tls_conn_error() says why */
} ipfix_tls_result;

/* A client (`server` false, the Exporting Process) or server context.
 * Loads the certificate, key and CA file; errors (file unreadable, key not
 * matching the certificate, no CA) name the file in err->detail. */
ipfix_status ipfix_tls_context_new(const ipfix_tls_config *config, bool server,
                                   ipfix_tls_context **out, ipfix_error *err);
void ipfix_tls_context_free(ipfix_tls_context *context);

/* A connection over the connected TCP socket `fd` (DTLS contexts: a
 * connected UDP socket; servers take theirs from ipfix_dtls_listener_accept
 * instead). `host` (client only, may
 * be NULL): the name connected to — checked when the context has no peer
 * names, and sent as SNI when it is a DNS name. */
ipfix_status ipfix_tls_conn_new(ipfix_tls_context *context, int fd, const char *host,
                                ipfix_tls_conn **out, ipfix_error *err);

/* Advance the handshake: OK once it is complete and the peer verified. */
ipfix_tls_result ipfix_tls_conn_handshake(ipfix_tls_conn *conn);

/* Client, after the handshake, TLS 1.3 only: with TLS 1.3 the client's
 * handshake ends before the server has checked the client certificate; the
 * server's verdict arrives as its first message (a session ticket: accepted,
 * or an alert: refused). Waits up to `timeout_ms` for it (the fd may be
 * blocking or not): OK (accepted, or TLS 1.2, or nothing came in time),
 * ERROR (refused; the reason in ipfix_tls_conn_error). */
ipfix_tls_result ipfix_tls_conn_confirm(ipfix_tls_conn *conn, int timeout_ms);

/* Read up to `size` bytes (*got set on OK; 0 < *got). */
ipfix_tls_result ipfix_tls_conn_read(ipfix_tls_conn *conn, void *buffer, size_t size,
                                     size_t *got);

/* Bytes already decrypted inside OpenSSL (readable with no new data on the
 * fd: poll/epoll will not report them). */
size_t ipfix_tls_conn_pending(const ipfix_tls_conn *conn);

/* Write all `size` bytes or fail. On WANT_WRITE (a send timeout or a full
 * non-blocking socket) call again with the same buffer and size. */
ipfix_tls_result ipfix_tls_conn_write(ipfix_tls_conn *conn, const void *buffer, size_t size);

/* Send close_notify (best effort, no wait for the peer's). */
void ipfix_tls_conn_shutdown(ipfix_tls_conn *conn);

/* Why the last call returned ERROR (or CLOSED); "" when none. */
const char *ipfix_tls_conn_error(const ipfix_tls_conn *conn);

/* After the handshake: "TLSv1.3 TLS_AES_256_GCM_SHA384, peer CN=exporter.test". */
void ipfix_tls_conn_describe(const ipfix_tls_conn *conn, char *out, size_t size);

/* Frees the connection (does not close the fd, sends nothing). */
void ipfix_tls_conn_free(ipfix_tls_conn *conn);

/* ------------------------------------------------------------ DTLS */

/* DTLS 1.2 record overhead with the suites allowed: 13 bytes of record
 * header + 8 explicit nonce + 16 tag (AES-GCM; ChaCha20-Poly1305: 29). */
#define IPFIX_DTLS_RECORD_OVERHEAD 37u

/* A DTLS client or server context (see above); errors as for TLS. */
ipfix_status ipfix_tls_context_new_dtls(const ipfix_tls_config *config, bool server,
                                        ipfix_tls_context **out, ipfix_error *err);

/* DTLS connections: the largest datagram (DTLS record, header included) to
 * send, handshake flights included (they are fragmented to it). Must be
 * set before the handshake; false when too small for OpenSSL. */
bool ipfix_tls_conn_set_mtu(ipfix_tls_conn *conn, unsigned mtu);

/* After the DTLS handshake: the largest IPFIX message that fits one
 * record in the MTU (DTLS_get_data_mtu). */
size_t ipfix_tls_conn_data_mtu(const ipfix_tls_conn *conn);

/* DTLS, during the handshake: milliseconds until a retransmission is due
 * (0: now), -1 when no timer runs. */
int ipfix_tls_conn_timeout_ms(const ipfix_tls_conn *conn);

/* The server's cookie exchange on one listening UDP socket (non-blocking,
 * borrowed). Owned by the caller; holds a reference on the context. */
typedef struct ipfix_dtls_listener ipfix_dtls_listener;

ipfix_status ipfix_dtls_listener_new(ipfix_tls_context *context, int fd,
                                     ipfix_dtls_listener **out, ipfix_error *err);

/* Read the listening socket: ClientHellos without a valid cookie are
 * answered with a HelloVerifyRequest, anything else is dropped. True when a
 * ClientHello with a valid cookie came (its sender in *peer): then take it
 * with ipfix_dtls_listener_accept() or drop it with _reject(). False when
 * the socket has nothing more to read. */
bool ipfix_dtls_listener_next(ipfix_dtls_listener *listener, struct sockaddr_storage *peer,
                              socklen_t *peer_length);

/* The connection that continues the handshake of the ClientHello just
 * returned, over `fd`: a UDP socket bound to the listener's address and
 * connected to the peer (borrowed, as for ipfix_tls_conn_new). */
ipfix_status ipfix_dtls_listener_accept(ipfix_dtls_listener *listener, int fd,
                                        ipfix_tls_conn **out, ipfix_error *err);
void ipfix_dtls_listener_reject(ipfix_dtls_listener *listener);
void ipfix_dtls_listener_free(ipfix_dtls_listener *listener);

#ifdef __cplusplus
}
#endif
#endif
