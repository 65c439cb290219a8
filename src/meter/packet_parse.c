/*
 * packet_parse.c — the packet parser of the Metering Process: reads one
 * captured frame in place (Ethernet, 802.1Q/802.1ad/QinQ VLAN tags, MPLS
 * label stacks, Linux cooked, BSD loopback, raw IP), then IPv4 (options,
 * fragments) or IPv6 (extension headers, fragment header) and the transport
 * header (TCP, UDP, SCTP, ICMP, ICMPv6) into an ipfix_packet.
 *
 * Every read is checked against the captured length; a frame that cannot be
 * metered yields the reason (ipfix_parse_result) for the caller's counters.
 * Octet counts come from the IP total length (RFC 7012 octetDeltaCount:
 * "octets in incoming packets ... IP header(s) and IP payload"), so a capture
 * with a short snap length still counts full packets. Non-initial fragments
 * carry no transport header (RFC 3917 §5.8): they are marked
 * IPFIX_FRAG_LATER with ports 0 and the flow cache maps them to their flow.
 */
#include <string.h>

#include "ipfixkit/meter.h"

#define MAX_VLAN_TAGS 4
#define MAX_MPLS_LABELS 16
#define MAX_IPV6_EXT_HEADERS 8

static const char *const result_names[IPFIX_PARSE_RESULT_COUNT] = {
    [IPFIX_PARSE_OK] = "ok",
    [IPFIX_PARSE_NOT_IP] = "notIp",
    [IPFIX_PARSE_BAD_LINKTYPE] = "badLinktype",
    [IPFIX_PARSE_TRUNCATED_L2] = "truncatedL2",
    [IPFIX_PARSE_TRUNCATED_IP] = "truncatedIp",
    [IPFIX_PARSE_BAD_IP_HEADER] = "badIpHeader",
    [IPFIX_PARSE_BAD_IP_LENGTH] = "badIpLength",
    [IPFIX_PARSE_TRUNCATED_EXT] = "truncatedIpv6ExtensionHeader",
    [IPFIX_PARSE_TOO_MANY_HEADERS] = "tooManyHeaders",
    [IPFIX_PARSE_TRUNCATED_L4] = "truncatedL4",
    [IPFIX_PARSE_BAD_L4_HEADER] = "badL4Header",
};

const char *ipfix_parse_result_name(ipfix_parse_result result) {
    if ((unsigned)result >= IPFIX_PARSE_RESULT_COUNT) return "unknown";
    return result_names[result];
}

static inline uint16_t rd16(const uint8_t *p) {
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

enum { ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86DD, ETH_VLAN = 0x8100, ETH_QINQ = 0x88A8,
       ETH_QINQ_OLD = 0x9100, ETH_MPLS = 0x8847, ETH_MPLS_MC = 0x8848 };

enum { PROTO_ICMP = 1, PROTO_TCP = 6, PROTO_UDP = 17, PROTO_ICMPV6 = 58, PROTO_SCTP = 132,
       PROTO_HOPOPT = 0, PROTO_ROUTING = 43, PROTO_FRAGMENT = 44, PROTO_AH = 51,
       PROTO_DSTOPTS = 60, PROTO_MOBILITY = 135, PROTO_HIP = 139, PROTO_SHIM6 = 140 };

/* Transport header at `p` with `len` bytes available (captured and inside
 * the IP packet). */
static ipfix_parse_result parse_l4(const uint8_t *p, size_t len, ipfix_packet *out) {
    switch (out->protocol) {
    case PROTO_TCP:
        if (len < 20) return IPFIX_PARSE_TRUNCATED_L4;
        if ((p[12] >> 4) < 5) return IPFIX_PARSE_BAD_L4_HEADER;
        out->src_port = rd16(p);
        out->dst_port = rd16(p + 2);
        out->tcp_flags = (uint16_t)(((p[12] & 0x01u) << 8) | p[13]); /* RFC 7125: NS..FIN */
        return IPFIX_PARSE_OK;
    case PROTO_UDP:
    case PROTO_SCTP:
        if (len < (out->protocol == PROTO_UDP ? 8u : 12u)) return IPFIX_PARSE_TRUNCATED_L4;
        out->src_port = rd16(p);
        out->dst_port = rd16(p + 2);
        return IPFIX_PARSE_OK;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
        if (len < 4) return IPFIX_PARSE_TRUNCATED_L4;
        out->dst_port = (uint16_t)((p[0] << 8) | p[1]); /* type*256 + code */
        return IPFIX_PARSE_OK;
    default:
        return IPFIX_PARSE_OK;
    }
}

/* `end` bounds the IP packet: min(captured, IP length). */
static ipfix_parse_result parse_ipv4(const uint8_t *p, size_t caplen, size_t wirelen,
                                     ipfix_packet *out) {
    if (caplen < 20) return IPFIX_PARSE_TRUNCATED_IP;
    size_t ihl = (size_t)(p[0] & 0x0F) * 4;
    if ((p[0] >> 4) != 4 || ihl < 20) return IPFIX_PARSE_BAD_IP_HEADER;
    if (caplen < ihl) return IPFIX_PARSE_TRUNCATED_IP;
    size_t total = rd16(p + 2);
    if (total < ihl) return IPFIX_PARSE_BAD_IP_HEADER;
    if (total > wirelen) return IPFIX_PARSE_BAD_IP_LENGTH;
    out->ip_version = 4;
    out->tos = p[1];
    out->ip_length = (uint32_t)total;
    out->fragment_id = rd16(p + 4);
    out->ttl = p[8];
    out->protocol = p[9];
    memcpy(out->src, p + 12, 4);
    memcpy(out->dst, p + 16, 4);
    uint16_t frag = rd16(p + 6);
    if (frag & 0x1FFFu) {
        out->fragment = IPFIX_FRAG_LATER;
        return IPFIX_PARSE_OK;
    }
    if (frag & 0x2000u) out->fragment = IPFIX_FRAG_FIRST;
    size_t end = caplen < total ? caplen : total;
    return parse_l4(p + ihl, end - ihl, out);
}

static ipfix_parse_result parse_ipv6(const uint8_t *p, size_t caplen, size_t wirelen,
                                     ipfix_packet *out) {
    if (caplen < 40) return IPFIX_PARSE_TRUNCATED_IP;
    if ((p[0] >> 4) != 6) return IPFIX_PARSE_BAD_IP_HEADER;
    size_t total = 40u + rd16(p + 4);
    if (total == 40 && wirelen > 40 && p[6] == PROTO_HOPOPT)
        total = wirelen; /* jumbogram (RFC 2675): length in an option; use the frame */
    if (total > wirelen) return IPFIX_PARSE_BAD_IP_LENGTH;
    out->ip_version = 6;
    out->tos = (uint8_t)(((p[0] & 0x0F) << 4) | (p[1] >> 4));
    out->flow_label = rd32(p) & 0xFFFFFu;
    out->ip_length = (uint32_t)total;
    out->ttl = p[7];
    memcpy(out->src, p + 8, 16);
    memcpy(out->dst, p + 24, 16);
    size_t end = caplen < total ? caplen : total;
    size_t off = 40;
    uint8_t next = p[6];
    for (int n = 0;; n++) {
        size_t hlen;
        switch (next) {
        case PROTO_HOPOPT:
        case PROTO_ROUTING:
        case PROTO_DSTOPTS:
        case PROTO_MOBILITY:
        case PROTO_HIP:
        case PROTO_SHIM6:
            if (end - off < 2) return IPFIX_PARSE_TRUNCATED_EXT;
            hlen = ((size_t)p[off + 1] + 1) * 8;
            break;
        case PROTO_AH:
            if (end - off < 2) return IPFIX_PARSE_TRUNCATED_EXT;
            hlen = ((size_t)p[off + 1] + 2) * 4; /* RFC 4302 §2.2 */
            break;
        case PROTO_FRAGMENT:
            if (end - off < 8) return IPFIX_PARSE_TRUNCATED_EXT;
            hlen = 8;
            break;
        default:
            out->protocol = next;
            return parse_l4(p + off, end - off, out);
        }
        if (n >= MAX_IPV6_EXT_HEADERS) return IPFIX_PARSE_TOO_MANY_HEADERS;
        if (end - off < hlen) return IPFIX_PARSE_TRUNCATED_EXT;
        if (next == PROTO_FRAGMENT) {
            uint16_t fo = rd16(p + off + 2);
            out->fragment_id = rd32(p + off + 4);
            if (fo & 0xFFF8u) {
                out->protocol = p[off];
                out->fragment = IPFIX_FRAG_LATER;
                return IPFIX_PARSE_OK;
            }
            if (fo & 1u) out->fragment = IPFIX_FRAG_FIRST;
        }
        next = p[off];
        off += hlen;
    }
}

static ipfix_parse_result parse_ip(const uint8_t *p, size_t caplen, size_t wirelen,
                                   ipfix_packet *out) {
    if (caplen < 1) return IPFIX_PARSE_TRUNCATED_IP;
    switch (p[0] >> 4) {
    case 4: return parse_ipv4(p, caplen, wirelen, out);
    case 6: return parse_ipv6(p, caplen, wirelen, out);
    default: return IPFIX_PARSE_BAD_IP_HEADER;
    }
}

/* MPLS label stack at `off`: the payload after the bottom of stack is IP,
 * told by its version nibble (RFC 3032 §2.2: no payload type field). */
static ipfix_parse_result parse_mpls(const uint8_t *data, size_t caplen, size_t wirelen,
                                     size_t off, ipfix_packet *out) {
    for (int n = 0;; n++) {
        if (n >= MAX_MPLS_LABELS) return IPFIX_PARSE_TOO_MANY_HEADERS;
        if (caplen - off < 4) return IPFIX_PARSE_TRUNCATED_L2;
        uint32_t entry = rd32(data + off);
        if (n == 0) out->mpls_top = entry >> 8; /* label(20) exp(3) s(1) */
        out->mpls_depth++;
        off += 4;
        if (entry & 0x100u) break;
    }
    if (caplen - off < 1) return IPFIX_PARSE_TRUNCATED_L2;
    unsigned version = data[off] >> 4;
    if (version != 4 && version != 6) return IPFIX_PARSE_NOT_IP;
    return parse_ip(data + off, caplen - off, wirelen - off, out);
}

static ipfix_parse_result parse_ethertype(const uint8_t *data, size_t caplen, size_t wirelen,
                                          size_t off, uint16_t type, ipfix_packet *out) {
    for (int tags = 0; type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD; tags++) {
        if (tags >= MAX_VLAN_TAGS) return IPFIX_PARSE_TOO_MANY_HEADERS;
        if (caplen - off < 4) return IPFIX_PARSE_TRUNCATED_L2;
        if (tags == 0) out->vlan_id = rd16(data + off) & 0x0FFFu;
        type = rd16(data + off + 2);
        off += 4;
    }
    switch (type) {
    case ETH_IPV4:
    case ETH_IPV6: return parse_ip(data + off, caplen - off, wirelen - off, out);
    case ETH_MPLS:
    case ETH_MPLS_MC: return parse_mpls(data, caplen, wirelen, off, out);
    default: return IPFIX_PARSE_NOT_IP;
    }
}

ipfix_parse_result ipfix_packet_parse(int linktype, const uint8_t *data, size_t caplen,
                                      size_t wirelen, ipfix_packet *out) {
    uint64_t t = out->time_ns;
    memset(out, 0, sizeof *out);
    out->time_ns = t;
    if (wirelen < caplen) wirelen = caplen;
    switch (linktype) {
    case IPFIX_LINK_ETHERNET:
        if (caplen < 14) return IPFIX_PARSE_TRUNCATED_L2;
        return parse_ethertype(data, caplen, wirelen, 14, rd16(data + 12), out);
    case IPFIX_LINK_LINUX_SLL:
        if (caplen < 16) return IPFIX_PARSE_TRUNCATED_L2;
        return parse_ethertype(data, caplen, wirelen, 16, rd16(data + 14), out);
    case IPFIX_LINK_LINUX_SLL2:
        if (caplen < 20) return IPFIX_PARSE_TRUNCATED_L2;
        return parse_ethertype(data, caplen, wirelen, 20, rd16(data), out);
    case IPFIX_LINK_NULL: {
        if (caplen < 4) return IPFIX_PARSE_TRUNCATED_L2;
        uint32_t family;
        memcpy(&family, data, 4);
        if (family > 0xFFFFu) family = __builtin_bswap32(family); /* other byte order */
        if (family == 2) return parse_ipv4(data + 4, caplen - 4, wirelen - 4, out);
        if (family == 24 || family == 28 || family == 30)
            return parse_ipv6(data + 4, caplen - 4, wirelen - 4, out);
        return IPFIX_PARSE_NOT_IP;
    }
    case IPFIX_LINK_RAW:
    case 12:
    case 14: return parse_ip(data, caplen, wirelen, out);
    default: return IPFIX_PARSE_BAD_LINKTYPE;
    }
}
