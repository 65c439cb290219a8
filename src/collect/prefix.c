/*
 * prefix.c — address prefixes for the collector's allow-list
 * ("192.0.2.0/24", "2001:db8::/32", or one address). IPv4-mapped IPv6
 * addresses (dual-stack listeners) are matched as IPv4.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/collect.h"

static const char *const PREFIX_RULE = "prefix: ADDRESS[/LENGTH]";

ipfix_status ipfix_prefix_parse(const char *text, ipfix_prefix *out, ipfix_error *err) {
    char address[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof address)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, PREFIX_RULE, "'%.60s'", text);
    memcpy(address, text, n);
    address[n] = 0;
    memset(out, 0, sizeof *out);
    unsigned max;
    if (inet_pton(AF_INET, address, out->bytes) == 1) {
        out->family = 4;
        max = 32;
    } else if (inet_pton(AF_INET6, address, out->bytes) == 1) {
        out->family = 6;
        max = 128;
    } else {
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, PREFIX_RULE, "bad address '%s'",
                               address);
    }
    unsigned length = max;
    if (slash) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (*end || end == slash + 1 || v > max)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(slash + 1 - text),
                                   PREFIX_RULE, "bad length '%s'", slash + 1);
        length = (unsigned)v;
    }
    out->length = (uint8_t)length;
    return IPFIX_OK;
}

bool ipfix_prefix_match(const ipfix_prefix *prefix, uint8_t family, const uint8_t *bytes) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == 6 && memcmp(bytes, mapped, 12) == 0) {
        family = 4;
        bytes += 12;
    }
    if (family != prefix->family) return false;
    unsigned full = prefix->length / 8u, rest = prefix->length % 8u;
    if (memcmp(bytes, prefix->bytes, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xFFu << (8u - rest));
    return (bytes[full] & mask) == (prefix->bytes[full] & mask);
}
