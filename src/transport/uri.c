/*
 * uri.c — parsing, formatting and resolving transport endpoint URIs; see
 * uri.h. Shared by the exporter (-e URI) and the collector (--listen URI).
 */
#include "ipfixkit/uri.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    ipfix_scheme scheme;
    uint16_t port;
} schemes[] = {
    {"udp", IPFIX_SCHEME_UDP, IPFIX_PORT},
    {"tcp", IPFIX_SCHEME_TCP, IPFIX_PORT},
    {"sctp+udp", IPFIX_SCHEME_SCTP_UDP, IPFIX_PORT},
    {"sctp", IPFIX_SCHEME_SCTP, IPFIX_PORT},
    {"tls", IPFIX_SCHEME_TLS, IPFIX_PORT_SECURE},
    {"dtls", IPFIX_SCHEME_DTLS, IPFIX_PORT_SECURE},
};

const char *ipfix_scheme_name(ipfix_scheme scheme) {
    if (scheme == IPFIX_SCHEME_FILE) return "file";
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        if (schemes[i].scheme == scheme) return schemes[i].name;
    return "unknown";
}

static ipfix_status parse_port(const char *text, size_t offset, const char *p, uint16_t *port,
                               ipfix_error *err) {
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || *end || v == 0 || v > 65535)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, offset, "endpoint: port must be 1-65535",
                               "'%s'", text);
    *port = (uint16_t)v;
    return IPFIX_OK;
}

static ipfix_status parse_host_port(const char *text, const char *p, ipfix_endpoint *out,
                                    ipfix_error *err) {
    const char *port_text = NULL;
    size_t host_length;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(p - text),
                                   "endpoint: '[' without ']' around an IPv6 address", "'%s'", text);
        host_length = (size_t)(close - p - 1);
        p++;
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1])
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(close + 1 - text),
                                   "endpoint: expected ':port' after ']'", "'%s'", text);
    } else {
        const char *colon = strrchr(p, ':');
        if (colon && strchr(p, ':') != colon)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(p - text),
                                   "endpoint: IPv6 addresses must be written in brackets",
                                   "'%s' (e.g. udp://[::1]:4739)", text);
        host_length = colon ? (size_t)(colon - p) : strlen(p);
        if (colon) port_text = colon + 1;
    }
    if (host_length >= sizeof out->host)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(p - text), "endpoint: host name too long",
                               "%zu characters", host_length);
    memcpy(out->host, p, host_length);
    out->host[host_length] = '\0';
    if (port_text) return parse_port(text, (size_t)(port_text - text), port_text, &out->port, err);
    return IPFIX_OK;
}

ipfix_status ipfix_endpoint_parse(const char *text, ipfix_endpoint *out, ipfix_error *err) {
    memset(out, 0, sizeof *out);
    if (strncmp(text, "file:", 5) == 0) {
        const char *path = text + 5;
        if (strncmp(path, "//", 2) == 0) path += 2;
        if (!*path || strlen(path) >= sizeof out->path)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 5, "endpoint: file: needs a path", "'%s'", text);
        out->scheme = IPFIX_SCHEME_FILE;
        strcpy(out->path, path);
        return IPFIX_OK;
    }
    const char *sep = strstr(text, "://");
    if (!sep)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "endpoint: expected scheme://host:port",
                               "'%s' (schemes: udp tcp sctp sctp+udp tls dtls)", text);
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        if (strlen(schemes[i].name) == (size_t)(sep - text) &&
            strncmp(text, schemes[i].name, (size_t)(sep - text)) == 0) {
            out->scheme = schemes[i].scheme;
            out->port = schemes[i].port;
            return parse_host_port(text, sep + 3, out, err);
        }
    }
    return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "endpoint: unknown scheme",
                           "'%.*s' (schemes: udp tcp sctp sctp+udp tls dtls file)", (int)(sep - text), text);
}

size_t ipfix_endpoint_format(const ipfix_endpoint *e, char *out, size_t out_size) {
    int n;
    if (e->scheme == IPFIX_SCHEME_FILE)
        n = snprintf(out, out_size, "file:%s", e->path);
    else if (strchr(e->host, ':'))
        n = snprintf(out, out_size, "%s://[%s]:%u", ipfix_scheme_name(e->scheme), e->host, e->port);
    else
        n = snprintf(out, out_size, "%s://%s:%u", ipfix_scheme_name(e->scheme), e->host, e->port);
    return n < 0 ? 0 : (size_t)n < out_size ? (size_t)n : out_size ? out_size - 1 : 0;
}

ipfix_status ipfix_endpoint_resolve(const ipfix_endpoint *e, bool passive, struct sockaddr_storage *addr,
                                    socklen_t *addr_length, ipfix_error *err) {
    if (e->scheme == IPFIX_SCHEME_FILE)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "endpoint: a file has no address", "%s", e->path);
    struct addrinfo hints = {0}, *result = NULL;
    bool datagram = e->scheme == IPFIX_SCHEME_UDP || e->scheme == IPFIX_SCHEME_DTLS ||
                    e->scheme == IPFIX_SCHEME_SCTP_UDP;
    hints.ai_socktype = datagram ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    char port[8];
    snprintf(port, sizeof port, "%u", e->port);
    const char *host = e->host[0] ? e->host : NULL;
    if (!host && passive) hints.ai_family = AF_INET6; /* [::] accepts IPv4 too (dual stack) */
    int rc = getaddrinfo(host, port, &hints, &result);
    if (rc != 0 || !result)
        return ipfix_error_set(err, IPFIX_ERR_NOT_FOUND, 0, "endpoint: cannot resolve host",
                               "'%s': %s", e->host, gai_strerror(rc));
    memcpy(addr, result->ai_addr, result->ai_addrlen);
    *addr_length = result->ai_addrlen;
    freeaddrinfo(result);
    return IPFIX_OK;
}
