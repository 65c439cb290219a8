/*
 * collector_link.h — one Transport Session from the Exporting Process to a
 * Collector (UDP, TCP, TLS over TCP, DTLS over UDP, or SCTP over UDP
 * encapsulation with templates on stream 0 and data on stream 1 — see
 * collector_link.c): a message writer
 * whose sink sends each message, the templates sent first on each
 * connection and refreshed over UDP and DTLS (RFC 7011 §10.3.6), and for
 * TCP, TLS, DTLS and SCTP a bounded queue with
 * reconnection and exponential backoff. TLS (RFC 7011 §11, tls.h) is TCP
 * plus a handshake after each connect; a failed handshake (refused
 * certificate, name mismatch...) counts as a failed connection attempt.
 * DTLS is UDP with a handshake per session and messages sized so that each
 * DTLS record fits max_message bytes; a session ends on a close_notify,
 * alert or ICMP error from the Collector and is made again with backoff.
 * Connection state changes (connected, connect failed and why, send failed)
 * are reported through config.log, once per change (from the link's sender
 * thread for sessions). Sessions send from a thread of their own, so add,
 * flush and tick never wait on the network, except for room in a full
 * queue while the session is up. One caller thread at a time per link.
 * Internal to src/export.
 */
#ifndef IPFIXKIT_EXPORT_COLLECTOR_LINK_H
#define IPFIXKIT_EXPORT_COLLECTOR_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfixkit/error.h"
#include "ipfixkit/template.h"
#include "ipfixkit/tls.h"
#include "ipfixkit/uri.h"
#include "ipfixkit/writer.h"

typedef struct collector_link collector_link;

typedef struct collector_link_config {
    uint32_t odid;
    size_t max_message;              /* UDP datagram; DTLS: the record's; TCP uses 65535 */
    unsigned template_refresh_s;     /* UDP and DTLS only */
    unsigned template_refresh_messages;
    size_t queue_bytes;              /* TCP, TLS, DTLS and SCTP */
    ipfix_template *const *templates; /* sent at connect / refresh (borrowed) */
    size_t template_count;
    const ipfix_tls_config *tls;     /* tls:// and dtls://: certificate, key, CA, peer names */
    uint32_t sctp_pr_ttl_ms;         /* SCTP data: PR-SCTP lifetime, 0 = fully reliable */
    uint16_t sctp_udp_port;          /* sctp+udp:// local UDP encapsulation port, 0 = any */
    void (*log)(void *context, const char *line); /* state changes; NULL: silent */
    void *log_context;
} collector_link_config;

typedef struct collector_link_stats {
    uint64_t messages, bytes;
    uint64_t lost_records, lost_packets, lost_octets;
    uint64_t reconnects;
    uint64_t queued_messages;
} collector_link_stats;

ipfix_status collector_link_open(const ipfix_endpoint *endpoint,
                                 const collector_link_config *config, collector_link **out,
                                 ipfix_error *err);

/* Add one encoded record; `packets`/`octets` are what it accounts, for the
 * not-sent counters if it is lost. */
ipfix_status collector_link_add(collector_link *link, const ipfix_template *tmpl,
                                const uint8_t *record, size_t length, uint64_t packets,
                                uint64_t octets);

/* Flush the message being built; reconnect / refresh when due. */
ipfix_status collector_link_flush(collector_link *link);
void collector_link_tick(collector_link *link);

void collector_link_get_stats(const collector_link *link, collector_link_stats *stats);

/* Flush, try to deliver the queue for at most `drain_ms`, close, free;
 * the final counters (messages still queued counted lost) go to `final`
 * (may be NULL). */
void collector_link_close(collector_link *link, unsigned drain_ms, collector_link_stats *final);

#endif
