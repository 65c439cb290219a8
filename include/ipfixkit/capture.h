/*
 * capture.h — IPFIX Messages out of packet captures (pcap and pcapng, read
 * with libpcap).
 *
 * Link types: Ethernet (with 802.1Q / 802.1ad / QinQ tags), Linux cooked
 * (SLL, SLL2), raw IP, IPv4, IPv6, BSD loopback (NULL, LOOP). Network: IPv4
 * (fragments reassembled, bounded) and IPv6 (extension headers skipped;
 * fragments counted and skipped). Transport: packets whose source or
 * destination port is in the configured list (default 4739, RFC 7011 §10).
 *
 *  - UDP: every datagram payload is one IPFIX Message (RFC 7011 §10.3.3).
 *  - TCP: each direction of each connection is reassembled by sequence
 *    number (out-of-order segments held in a bounded buffer, retransmitted
 *    and overlapping bytes dropped), then cut into messages with
 *    ipfix_message_frame(). A stream whose start was not captured, or that
 *    lost bytes, is resynchronised by scanning for a plausible message
 *    header (version 10, sane length, first set header valid).
 *
 * Each call of ipfix_capture_next() yields one item: a message (with its
 * stream identity, packet number and time), a problem (bad packet, stream
 * gap, non-IPFIX payload; never printed by the library), or the end of a
 * TCP stream. A stream is one Transport Session in the sense of RFC 7011
 * §10 — UDP: one (source address, source port, destination address,
 * destination port); TCP: one direction of one connection — and keeps its
 * `stream_id` for as long as it lives, so the caller keeps one ipfix_session
 * per stream_id.
 *
 * Ownership: the capture owns every buffer; an item's data is valid until
 * the next ipfix_capture_next() or ipfix_capture_close().
 */
#ifndef IPFIXKIT_CAPTURE_H
#define IPFIXKIT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "session.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_CAPTURE_MAX_PORTS 16
#define IPFIX_PORT_DEFAULT 4739u /* RFC 7011 §10.3.2 / §10.4.2 */

typedef struct ipfix_capture_config {
    uint16_t ports[IPFIX_CAPTURE_MAX_PORTS]; /* match source or destination */
    size_t port_count;                       /* 0: the default port 4739 */
    size_t tcp_pending_max;   /* out-of-order bytes held per TCP direction; 0: 1 MiB */
    size_t max_streams;       /* streams tracked at once; 0: 65536 */
} ipfix_capture_config;

void ipfix_capture_config_default(ipfix_capture_config *config);

/* The addresses and ports of a stream (network byte order addresses). */
typedef struct ipfix_flow_key {
    uint8_t family;          /* 4 or 6 */
    uint8_t transport;       /* IPFIX_TRANSPORT_UDP or IPFIX_TRANSPORT_TCP */
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t src[16];         /* IPv4 in the first 4 bytes */
    uint8_t dst[16];
} ipfix_flow_key;

/* "192.0.2.1:4739>192.0.2.2:4739/udp", "[2001:db8::1]:4739>...". Returns
 * the length written (at most `size` - 1, NUL-terminated). 112 is enough. */
size_t ipfix_flow_key_format(const ipfix_flow_key *key, char *out, size_t size);

typedef enum ipfix_capture_kind {
    IPFIX_CAPTURE_MESSAGE = 1,  /* data/length: one IPFIX Message (or a UDP payload) */
    IPFIX_CAPTURE_PROBLEM,      /* error: what was wrong; the item is skipped */
    IPFIX_CAPTURE_STREAM_END    /* TCP stream closed (FIN/RST/new SYN): free its session */
} ipfix_capture_kind;

typedef struct ipfix_capture_item {
    ipfix_capture_kind kind;
    uint64_t stream_id;      /* >= 1; 0 for problems not tied to a stream */
    ipfix_flow_key flow;     /* valid when stream_id != 0 */
    uint64_t packet_number;  /* 1-based; the packet that completed the item */
    int64_t seconds;         /* packet time, Unix epoch */
    uint32_t nanoseconds;
    const uint8_t *data;     /* MESSAGE */
    size_t length;
    ipfix_error error;       /* PROBLEM: offset within the packet (or stream) */
} ipfix_capture_item;

typedef struct ipfix_capture_stats {
    uint64_t packets;             /* read from the file */
    uint64_t matched_packets;     /* UDP/TCP packets on a selected port */
    uint64_t messages;            /* messages yielded */
    uint64_t message_bytes;
    uint64_t non_ip;              /* link or network type not handled */
    uint64_t truncated;           /* captured length short of the headers/lengths */
    uint64_t malformed;           /* broken IP/UDP/TCP headers */
    uint64_t fragments;           /* IPv4 fragments seen */
    uint64_t reassembled;         /* IPv4 datagrams rebuilt from fragments */
    uint64_t fragments_skipped;   /* IPv6 fragments, IPv4 fragments given up */
    uint64_t non_ipfix;           /* UDP payloads / TCP bytes not framing as IPFIX */
    uint64_t tcp_streams;         /* TCP directions seen */
    uint64_t tcp_gaps;            /* bytes missing in a stream (count of gaps) */
    uint64_t tcp_gap_bytes;
    uint64_t tcp_retransmitted;   /* segments entirely already seen */
    uint64_t tcp_out_of_order;    /* segments held for later */
    uint64_t tcp_resyncs;         /* times a stream was resynchronised */
    uint64_t skipped_bytes;       /* TCP bytes passed over while resynchronising */
    uint64_t streams_dropped;     /* packets of new streams over max_streams */
    uint64_t problems;            /* PROBLEM items yielded */
} ipfix_capture_stats;

typedef struct ipfix_capture ipfix_capture;

/* Open a pcap or pcapng file ("-" = standard input). On failure `err`
 * carries libpcap's message. `config` may be NULL (defaults). */
ipfix_status ipfix_capture_open(const char *path, const ipfix_capture_config *config,
                                ipfix_capture **out, ipfix_error *err);
/* Same over an open stream, which the capture takes over (closed by
 * ipfix_capture_close, also on failure). */
ipfix_status ipfix_capture_open_stream(FILE *stream, const ipfix_capture_config *config,
                                       ipfix_capture **out, ipfix_error *err);
void ipfix_capture_close(ipfix_capture *capture);

/* Next item: IPFIX_OK with *item filled; IPFIX_END when the file is done
 * (after the remaining TCP bytes have been flushed); IPFIX_ERR_IO when the
 * file cannot be read further (`item->error` holds the reason). */
ipfix_status ipfix_capture_next(ipfix_capture *capture, ipfix_capture_item *item);

void ipfix_capture_get_stats(const ipfix_capture *capture, ipfix_capture_stats *stats);

/* libpcap's name of the link type ("EN10MB"). */
const char *ipfix_capture_link_name(const ipfix_capture *capture);

#ifdef __cplusplus
}
#endif
#endif
