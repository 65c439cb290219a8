/*
 * meter.h — the Metering Process (RFC 7011 §2, RFC 3917 §4-6): packets are
 * parsed into a compact summary (ipfix_packet), classified into Flows by a
 * Flow Key and accounted in a fixed-size Flow Cache that expires Flows
 * (idle timeout, active timeout, TCP FIN/RST, cache full, end of input) and
 * hands each expired Flow to a callback, normally the Exporting Process
 * (export.h), which encodes it straight into an IPFIX Message.
 *
 * Packet selection (ipfix_packet_selector, RFC 5475 PSAMP Sampling) decides
 * before parsing whether an observed packet is metered at all.
 *
 * Packet parsing (ipfix_packet_parse) is pure: it reads the frame in place,
 * checks every bound and fills an ipfix_packet, or returns why the packet
 * cannot be metered (ipfix_parse_result, counted by the caller).
 *
 * Flow Key. A flow key is 40 bytes (addresses, ports, protocol, ipVersion,
 * vlanId); the flow definition selects key fields by Information Element
 * name with optional prefix masks ("sourceIPv4Address/24"); fields not in
 * the key are zeroed, so masked packets aggregate into one Flow.
 *
 * Flow Cache. Memory is allocated once from a byte budget (no allocation per
 * packet): one open-addressing table of ipfix_flow entries (linear probing,
 * load <= 3/4, so 128 bytes of budget per cached flow). Timeouts are checked
 * when a Flow's next packet arrives (so expiry reasons are exact) and by an
 * incremental sweep driven by packet time; when the table is full the oldest
 * of a small sample of Flows is evicted (lackOfResources).
 *
 * Ownership: ipfix_flow_cache is an opaque handle owned by the caller
 * (ipfix_flow_cache_new / _free). The ipfix_flow passed to the expiry
 * callback is borrowed for the duration of the call only. Not thread-safe:
 * use one cache per thread.
 */
#ifndef IPFIXKIT_METER_H
#define IPFIXKIT_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infomodel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================= packet parsing ============================ */

/* Link-layer types understood (pcap LINKTYPE_ values). */
enum {
    IPFIX_LINK_NULL = 0,      /* BSD loopback: 4-byte host-order family */
    IPFIX_LINK_ETHERNET = 1,
    IPFIX_LINK_RAW = 101,     /* raw IPv4/IPv6 (DLT_RAW 12/14 are mapped to it) */
    IPFIX_LINK_LINUX_SLL = 113,
    IPFIX_LINK_LINUX_SLL2 = 276
};

/* Why a packet was not metered, or IPFIX_PARSE_OK. */
typedef enum ipfix_parse_result {
    IPFIX_PARSE_OK = 0,
    IPFIX_PARSE_NOT_IP,            /* ARP, LLDP, ...: not metered, not an error */
    IPFIX_PARSE_BAD_LINKTYPE,      /* link type not supported */
    IPFIX_PARSE_TRUNCATED_L2,      /* frame ends inside the link/VLAN/MPLS headers */
    IPFIX_PARSE_TRUNCATED_IP,      /* frame ends inside the IP header or options */
    IPFIX_PARSE_BAD_IP_HEADER,     /* bad version, IHL < 5, total length < header */
    IPFIX_PARSE_BAD_IP_LENGTH,     /* IP total length larger than the frame on the wire */
    IPFIX_PARSE_TRUNCATED_EXT,     /* frame ends inside an IPv6 extension header */
    IPFIX_PARSE_TOO_MANY_HEADERS,  /* VLAN/MPLS/extension header chain too long */
    IPFIX_PARSE_TRUNCATED_L4,      /* frame ends inside the TCP/UDP/SCTP/ICMP header */
    IPFIX_PARSE_BAD_L4_HEADER,     /* e.g. TCP data offset < 5 */
    IPFIX_PARSE_RESULT_COUNT
} ipfix_parse_result;

/* Short name of a result ("truncatedL4"). */
const char *ipfix_parse_result_name(ipfix_parse_result result);

/* Fragment states of ipfix_packet.fragment. */
enum {
    IPFIX_FRAG_NONE = 0,
    IPFIX_FRAG_FIRST = 1,    /* offset 0, more fragments: has the L4 header */
    IPFIX_FRAG_LATER = 2     /* offset > 0: no L4 header (RFC 3917 §5.8) */
};

/* A parsed packet: everything the Flow Cache needs, nothing owned. */
typedef struct ipfix_packet {
    uint64_t time_ns;          /* observation time, ns since the epoch (UTC) */
    uint8_t src[16], dst[16];  /* IPv4 in the first 4 bytes, rest zero */
    uint16_t src_port, dst_port; /* ICMP: 0 and type*256+code */
    uint16_t vlan_id;          /* outer 802.1Q VLAN ID, 0 if none */
    uint16_t tcp_flags;        /* tcpControlBits (RFC 7125): 9 flag bits */
    uint8_t ip_version;        /* 4 or 6 */
    uint8_t protocol;          /* protocolIdentifier (IPv6: after extension headers) */
    uint8_t tos;               /* IPv4 TOS / IPv6 Traffic Class */
    uint8_t ttl;               /* TTL / Hop Limit */
    uint8_t fragment;          /* IPFIX_FRAG_* */
    uint8_t mpls_depth;        /* labels in the MPLS stack */
    uint32_t ip_length;        /* octets from the IP header on (total length) */
    uint32_t flow_label;       /* IPv6 flow label (20 bits) */
    uint32_t mpls_top;         /* top label stack entry (label<<4|exp<<1|s), 0 if none */
    uint32_t fragment_id;      /* IPv4 identification / IPv6 fragment identification */
} ipfix_packet;

/* Parse one frame of `caplen` captured bytes (`wirelen` on the wire) of the
 * given link type. Never reads past data[caplen - 1]. out->time_ns is kept
 * (set it before the call); every other field is overwritten. */
ipfix_parse_result ipfix_packet_parse(int linktype, const uint8_t *data, size_t caplen,
                                      size_t wirelen, ipfix_packet *out);

/* =============================== flow keys =============================== */

typedef struct ipfix_meter_key {
    uint8_t src[16], dst[16];
    uint16_t src_port, dst_port;
    uint16_t vlan_id;
    uint8_t protocol, ip_version;
} ipfix_meter_key; /* 40 bytes */

/* Which key fields a flow definition uses: one byte mask per IP version,
 * ANDed onto every key (prefix masks zero the host bits), plus what the
 * exporter needs to build the template. ipVersion and protocolIdentifier
 * are always key fields (they say how to read the others). */
typedef struct ipfix_flow_keymask {
    ipfix_meter_key mask4, mask6;
    uint8_t src4_prefix, dst4_prefix;  /* 0 = not a key field, 1..32 */
    uint8_t src6_prefix, dst6_prefix;  /* 0 = not a key field, 1..128 */
    bool src_port, dst_port, vlan_id;
    bool ingress_interface;   /* ingressInterface in the key (constant per probe) */
} ipfix_flow_keymask;

/* The default flow definition: 5-tuple + ipVersion + ingressInterface. */
void ipfix_flow_keymask_default(ipfix_flow_keymask *mask);

/* Parse a comma-separated list of key Information Element names with
 * optional prefix lengths: sourceIPv4Address[/n], destinationIPv4Address[/n],
 * sourceIPv6Address[/n], destinationIPv6Address[/n], sourceTransportPort,
 * destinationTransportPort, protocolIdentifier, ipVersion, vlanId,
 * ingressInterface. Errors name the offending item in err->detail. */
ipfix_status ipfix_flow_keymask_parse(const char *list, ipfix_flow_keymask *mask,
                                      ipfix_error *err);

/* Build a packet's key under `mask`. */
void ipfix_meter_key_make(const ipfix_packet *pkt, const ipfix_flow_keymask *mask,
                         ipfix_meter_key *key);

/* =========================== packet selection ============================ */

/* PSAMP Selector algorithms (IANA selectorAlgorithm, RFC 5476). */
enum {
    IPFIX_SELECTOR_NONE = 0,                  /* every packet (no Selector) */
    IPFIX_SELECTOR_SYSTEMATIC_COUNT = 1,      /* RFC 5475 §5.1 */
    IPFIX_SELECTOR_RANDOM_N_OF_N = 3,         /* RFC 5475 §5.2.1 */
    IPFIX_SELECTOR_UNIFORM_PROBABILISTIC = 4  /* RFC 5475 §5.2.2.1 */
};

/* A packet Selector (packet_selector.c). A plain value: embed it, call
 * ipfix_packet_selector_init() once, then ipfix_packet_selector_select()
 * for every observed packet. Fields after `selected` are internal. */
typedef struct ipfix_packet_selector {
    uint16_t algorithm;            /* IPFIX_SELECTOR_* */
    uint32_t interval, space;      /* systematic: samplingPacketInterval/Space */
    uint32_t size, population;     /* random n-out-of-N: samplingSize/Population */
    double probability;            /* uniform: samplingProbability */
    uint64_t observed, selected;   /* selectorIdTotalPktsObserved/Selected */
    uint32_t position, chosen;
    uint64_t threshold, random_state;
} ipfix_packet_selector;

/* Parse a selection spec: NULL or "all" (no Selector), "N" (1 packet in
 * every N, systematic), "count:n/N" (n consecutive packets in every N),
 * "random:N" / "random:n/N" (n random packets in every window of N) or
 * "probability:P". `seed` drives the random Selectors (0: a fixed default),
 * so a replayed trace gives the same selection. */
ipfix_status ipfix_packet_selector_init(ipfix_packet_selector *selector, const char *spec,
                                        uint64_t seed, ipfix_error *err);

bool ipfix_packet_selector_select_slow(ipfix_packet_selector *selector);

/* Is this observed packet selected (to be metered)? */
static inline bool ipfix_packet_selector_select(ipfix_packet_selector *selector) {
    selector->observed++;
    if (__builtin_expect(selector->algorithm == IPFIX_SELECTOR_NONE, 1)) {
        selector->selected++;
        return true;
    }
    return ipfix_packet_selector_select_slow(selector);
}

/* ============================== flow cache =============================== */

/* IANA flowEndReason values (RFC 7012 / RFC 5102 §5.11.3). */
enum {
    IPFIX_END_IDLE_TIMEOUT = 1,
    IPFIX_END_ACTIVE_TIMEOUT = 2,
    IPFIX_END_OF_FLOW = 3,
    IPFIX_END_FORCED = 4,
    IPFIX_END_LACK_OF_RESOURCES = 5
};

/* A Flow as accounted in the cache (96 bytes, stored in the cache's table). */
typedef struct ipfix_flow {
    ipfix_meter_key key;
    uint64_t first_ns, last_ns;  /* first and last packet */
    uint64_t octets;             /* IP octets (total length) */
    uint64_t packets;
    uint32_t flow_label;         /* of the first packet */
    uint32_t mpls_top;           /* of the first packet */
    uint32_t fragments;          /* fragmented packets (RFC 3917 §6.1) */
    uint16_t tcp_flags;          /* union of tcpControlBits (RFC 7125) */
    uint8_t tos;                 /* of the first packet */
    uint8_t min_ttl, max_ttl;
    uint8_t state;               /* internal */
    uint8_t end_reason;          /* set when expired */
    uint8_t reserved;
    uint32_t hash;               /* internal: hash of the key */
} ipfix_flow;

/* Receives each expired Flow (flow->end_reason set). A non-OK return is
 * remembered (ipfix_flow_cache_last_status) but expiry continues. */
typedef ipfix_status (*ipfix_flow_expired_fn)(void *context, const ipfix_flow *flow);

typedef struct ipfix_flow_cache_config {
    size_t memory_bytes;          /* budget for the table; default 128 MiB (1.05M flows) */
    uint64_t idle_timeout_ns;     /* default 15 s */
    uint64_t active_timeout_ns;   /* default 1800 s */
    uint64_t fin_timeout_ns;      /* after TCP FIN/RST: default 2 s */
    ipfix_flow_keymask keymask;   /* default: ipfix_flow_keymask_default */
    ipfix_flow_expired_fn expired;
    void *context;
} ipfix_flow_cache_config;

void ipfix_flow_cache_config_init(ipfix_flow_cache_config *config);

typedef struct ipfix_flow_cache ipfix_flow_cache;

/* IPFIX_ERR_NOMEM, or IPFIX_ERR_INVALID_ARG when the budget holds < 16 flows. */
ipfix_status ipfix_flow_cache_new(const ipfix_flow_cache_config *config,
                                  ipfix_flow_cache **out);
void ipfix_flow_cache_free(ipfix_flow_cache *cache);

/* Account one parsed packet (its time must not go backwards by more than a
 * timeout; earlier times are treated as equal to the latest). */
void ipfix_flow_cache_add(ipfix_flow_cache *cache, const ipfix_packet *pkt);

/* Same as calling ipfix_flow_cache_add() for each packet in order, faster:
 * lookups of up to 32 packets are prefetched together. Packet times earlier
 * than the cache clock are raised to it in `pkts`. */
void ipfix_flow_cache_add_batch(ipfix_flow_cache *cache, ipfix_packet *pkts, size_t count);

/* Advance the clock without a packet (live capture idle periods): expires
 * what is due at `now_ns`. */
void ipfix_flow_cache_advance(ipfix_flow_cache *cache, uint64_t now_ns);

/* Expire every Flow with reason forcedEnd (end of input, shutdown). */
void ipfix_flow_cache_flush(ipfix_flow_cache *cache);

typedef struct ipfix_flow_cache_stats {
    uint64_t packets;            /* packets accounted */
    uint64_t octets;
    uint64_t flows_created;
    uint64_t flows_expired[6];   /* by flowEndReason 1..5 (index 0 unused) */
    uint64_t fragments_mapped;   /* non-initial fragments put in their flow */
    uint64_t fragments_unmapped; /* non-initial fragments without a first fragment seen */
    uint64_t active_flows;       /* flows in the cache now */
    uint64_t max_flows;          /* capacity from the memory budget */
    uint64_t peak_flows;
    size_t memory_bytes;         /* allocated */
} ipfix_flow_cache_stats;

void ipfix_flow_cache_get_stats(const ipfix_flow_cache *cache, ipfix_flow_cache_stats *stats);
ipfix_status ipfix_flow_cache_last_status(const ipfix_flow_cache *cache);

#ifdef __cplusplus
}
#endif
#endif
