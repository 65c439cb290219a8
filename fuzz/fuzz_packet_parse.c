/*
 * fuzz_packet_parse.c — libFuzzer target for the Metering Process's packet
 * path (meter.h): frame parsing (every link type, VLAN/MPLS stacks, IPv4
 * options and fragments, IPv6 extension headers, L4 headers), flow keys with
 * prefix masks, and the flow cache (accounting, FIN/RST, fragments mapped to
 * their flow, expiry, cache-full eviction in a deliberately tiny cache).
 *
 * Input: a selector byte, then frames, each as a 2-byte big-endian length
 * and the frame bytes. Selector bits 0-2 choose the link type (Ethernet,
 * raw IP, BSD loopback, Linux SLL, SLL2, an unknown one); bit 3 masks the
 * addresses (/24 and /64 keys); bit 4 claims wire lengths larger than the
 * capture (snap length). Packet i is stamped at i * 0.7 s so idle and
 * active timeouts fire. Every expired flow must have the packets it saw.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipfixkit/meter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct totals {
    uint64_t packets;
} totals;

static ipfix_status on_expired(void *context, const ipfix_flow *flow) {
    totals *t = context;
    if (flow->packets == 0 || flow->first_ns > flow->last_ns) abort(); /* invariant broken */
    t->packets += flow->packets;
    return IPFIX_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int linktypes[] = {IPFIX_LINK_ETHERNET, IPFIX_LINK_RAW, IPFIX_LINK_NULL,
                                    IPFIX_LINK_LINUX_SLL, IPFIX_LINK_LINUX_SLL2, 147};
    if (size < 1) return 0;
    uint8_t sel = data[0];
    int linktype = linktypes[(sel & 7) % 6];
    totals t = {0};
    ipfix_flow_cache_config cc;
    ipfix_flow_cache_config_init(&cc);
    cc.memory_bytes = 32 * 128; /* 32 flows: eviction is reachable */
    cc.idle_timeout_ns = 5000000000ull;
    cc.active_timeout_ns = 20000000000ull;
    cc.fin_timeout_ns = 1000000000ull;
    if (sel & 8) {
        ipfix_error err;
        ipfix_error_clear(&err);
        if (ipfix_flow_keymask_parse("sourceIPv4Address/24,destinationIPv4Address,"
                                     "sourceIPv6Address/64,destinationIPv6Address,"
                                     "destinationTransportPort,vlanId",
                                     &cc.keymask, &err) != IPFIX_OK)
            abort();
    }
    cc.expired = on_expired;
    cc.context = &t;
    ipfix_flow_cache *cache = NULL;
    if (ipfix_flow_cache_new(&cc, &cache) != IPFIX_OK) return 0;
    uint64_t accounted = 0;
    size_t pos = 1;
    for (uint64_t i = 0; pos + 2 <= size; i++) {
        size_t n = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (n > size - pos) n = size - pos;
        /* a copy of exactly n bytes, so ASan sees any read past the frame */
        uint8_t *frame = malloc(n ? n : 1);
        if (!frame) break;
        memcpy(frame, data + pos, n);
        pos += n;
        ipfix_packet pkt;
        pkt.time_ns = 1700000000000000000ull + i * 700000000ull;
        size_t wirelen = (sel & 16) ? n + 1000 : n;
        if (ipfix_packet_parse(linktype, frame, n, wirelen, &pkt) == IPFIX_PARSE_OK) {
            ipfix_flow_cache_add(cache, &pkt);
            accounted++;
        }
        free(frame);
    }
    ipfix_flow_cache_flush(cache);
    ipfix_flow_cache_stats st;
    ipfix_flow_cache_get_stats(cache, &st);
    if (t.packets != accounted || st.packets != accounted || st.active_flows != 0)
        abort(); /* every metered packet is in exactly one exported flow */
    ipfix_flow_cache_free(cache);
    return 0;
}
