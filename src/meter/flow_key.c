/*
 * flow_key.c — the Flow Key of the Metering Process (RFC 7011 §2 "Flow
 * Key"): which Information Elements define a Flow, given by name with
 * optional prefix masks, compiled into one 40-byte AND mask per IP version
 * so that building a packet's key costs five 64-bit ANDs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/meter.h"

_Static_assert(sizeof(ipfix_meter_key) == 40, "flow key is 40 bytes");

static void prefix_mask(uint8_t *bytes, unsigned bits, unsigned max_bits) {
    memset(bytes, 0, max_bits / 8);
    for (unsigned i = 0; i < bits / 8; i++) bytes[i] = 0xFF;
    if (bits % 8) bytes[bits / 8] = (uint8_t)(0xFF00u >> (bits % 8));
}

static void keymask_compile(ipfix_flow_keymask *m) {
    memset(&m->mask4, 0, sizeof m->mask4);
    memset(&m->mask6, 0, sizeof m->mask6);
    prefix_mask(m->mask4.src, m->src4_prefix, 32);
    prefix_mask(m->mask4.dst, m->dst4_prefix, 32);
    prefix_mask(m->mask6.src, m->src6_prefix, 128);
    prefix_mask(m->mask6.dst, m->dst6_prefix, 128);
    ipfix_meter_key *both[2] = {&m->mask4, &m->mask6};
    for (int i = 0; i < 2; i++) {
        both[i]->src_port = m->src_port ? 0xFFFF : 0;
        both[i]->dst_port = m->dst_port ? 0xFFFF : 0;
        both[i]->vlan_id = m->vlan_id ? 0xFFFF : 0;
        both[i]->protocol = 0xFF;
        both[i]->ip_version = 0xFF;
    }
}

void ipfix_flow_keymask_default(ipfix_flow_keymask *mask) {
    memset(mask, 0, sizeof *mask);
    mask->src4_prefix = mask->dst4_prefix = 32;
    mask->src6_prefix = mask->dst6_prefix = 128;
    mask->src_port = mask->dst_port = true;
    mask->ingress_interface = true;
    keymask_compile(mask);
}

/* Parse "name" or "name/len" into the mask; false if unknown. */
static ipfix_status keymask_item(ipfix_flow_keymask *m, const char *item, ipfix_error *err) {
    char name[64];
    const char *slash = strchr(item, '/');
    size_t n = slash ? (size_t)(slash - item) : strlen(item);
    if (n == 0 || n >= sizeof name)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "flow key", "bad item '%s'", item);
    memcpy(name, item, n);
    name[n] = '\0';
    long bits = -1;
    if (slash) {
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || bits < 1)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "flow key",
                                   "bad prefix length in '%s'", item);
    }
    uint8_t *prefix = NULL;
    long max = 0;
    if (strcmp(name, "sourceIPv4Address") == 0) prefix = &m->src4_prefix, max = 32;
    else if (strcmp(name, "destinationIPv4Address") == 0) prefix = &m->dst4_prefix, max = 32;
    else if (strcmp(name, "sourceIPv6Address") == 0) prefix = &m->src6_prefix, max = 128;
    else if (strcmp(name, "destinationIPv6Address") == 0) prefix = &m->dst6_prefix, max = 128;
    if (prefix) {
        if (bits > max)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "flow key",
                                   "prefix longer than %ld in '%s'", max, item);
        *prefix = (uint8_t)(bits < 0 ? max : bits);
        return IPFIX_OK;
    }
    if (slash)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "flow key",
                               "'%s' takes no prefix length", name);
    if (strcmp(name, "sourceTransportPort") == 0) m->src_port = true;
    else if (strcmp(name, "destinationTransportPort") == 0) m->dst_port = true;
    else if (strcmp(name, "vlanId") == 0) m->vlan_id = true;
    else if (strcmp(name, "ingressInterface") == 0) m->ingress_interface = true;
    else if (strcmp(name, "protocolIdentifier") == 0 || strcmp(name, "ipVersion") == 0) {
        /* always key fields */
    } else
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "flow key",
                               "'%s' cannot be a flow key (supported: source/destination"
                               "IPv4/IPv6Address[/n], ...Port, protocolIdentifier, "
                               "ipVersion, vlanId, ingressInterface)", name);
    return IPFIX_OK;
}

ipfix_status ipfix_flow_keymask_parse(const char *list, ipfix_flow_keymask *mask,
                                      ipfix_error *err) {
    ipfix_flow_keymask m;
    memset(&m, 0, sizeof m);
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[96];
        if (n >= sizeof item)
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, (size_t)(p - list), "flow key",
                                   "item too long");
        memcpy(item, p, n);
        item[n] = '\0';
        if (n > 0) {
            ipfix_status st = keymask_item(&m, item, err);
            if (st != IPFIX_OK) {
                if (err) err->offset = (size_t)(p - list);
                return st;
            }
        }
        p += n;
        if (*p == ',') p++;
    }
    keymask_compile(&m);
    *mask = m;
    return IPFIX_OK;
}

void ipfix_meter_key_make(const ipfix_packet *pkt, const ipfix_flow_keymask *mask,
                         ipfix_meter_key *key) {
    const ipfix_meter_key *m = pkt->ip_version == 6 ? &mask->mask6 : &mask->mask4;
    ipfix_meter_key raw;
    memcpy(raw.src, pkt->src, 16);
    memcpy(raw.dst, pkt->dst, 16);
    raw.src_port = pkt->src_port;
    raw.dst_port = pkt->dst_port;
    raw.vlan_id = pkt->vlan_id;
    raw.protocol = pkt->protocol;
    raw.ip_version = pkt->ip_version;
    uint64_t a[5], b[5];
    memcpy(a, &raw, sizeof a);
    memcpy(b, m, sizeof b);
    for (int i = 0; i < 5; i++) a[i] &= b[i];
    memcpy(key, a, sizeof a);
}
