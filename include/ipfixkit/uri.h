/*
 * uri.h — transport endpoints written as URIs, the way every ipfixkit
 * command names them: `udp://host:port`, `tcp://[::1]:4739`,
 * `sctp://`, `sctp+udp://`, `tls://`, `dtls://`, or `file:PATH`.
 * The port defaults to 4739 (4740 for tls/dtls, RFC 7011 §10.1); an empty
 * host means "any" for listeners ("udp://:4739", "tcp://[::]:4739").
 *
 * Parsing is pure; ipfix_endpoint_resolve() does the name lookup.
 */
#ifndef IPFIXKIT_URI_H
#define IPFIXKIT_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_PORT 4739u        /* RFC 7011 §10.3.1 etc. */
#define IPFIX_PORT_SECURE 4740u /* IPFIX over TLS/DTLS */

typedef enum ipfix_scheme {
    IPFIX_SCHEME_UDP,
    IPFIX_SCHEME_TCP,
    IPFIX_SCHEME_SCTP,
    IPFIX_SCHEME_SCTP_UDP,   /* SCTP over UDP encapsulation, RFC 6951 */
    IPFIX_SCHEME_TLS,        /* TLS over TCP */
    IPFIX_SCHEME_DTLS,       /* DTLS over UDP */
    IPFIX_SCHEME_FILE
} ipfix_scheme;

typedef struct ipfix_endpoint {
    ipfix_scheme scheme;
    char host[256];          /* without brackets; "" = any */
    uint16_t port;
    char path[4096];         /* file: only */
} ipfix_endpoint;

/* Parse "scheme://host:port" (IPv6 literals in brackets). Errors name the
 * offset in the text. */
ipfix_status ipfix_endpoint_parse(const char *text, ipfix_endpoint *out, ipfix_error *err);

/* "udp", "tcp", "sctp", "sctp+udp", "tls", "dtls", "file". */
const char *ipfix_scheme_name(ipfix_scheme scheme);

/* Format back to a URI ("udp://[::1]:4739"). Returns the length written. */
size_t ipfix_endpoint_format(const ipfix_endpoint *endpoint, char *out, size_t out_size);

/* Resolve to a socket address (first result; AI_PASSIVE when `passive` and
 * host is empty). Stream/datagram type follows the scheme. */
ipfix_status ipfix_endpoint_resolve(const ipfix_endpoint *endpoint, bool passive,
                                    struct sockaddr_storage *addr, socklen_t *addr_length,
                                    ipfix_error *err);

#ifdef __cplusplus
}
#endif
#endif
