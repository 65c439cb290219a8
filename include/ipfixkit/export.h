/*
 * export.h — the Exporting Process of `ipfix probe` (RFC 7011 §10): turns
 * expired Flows (meter.h) into Data Records of templates derived from the
 * flow definition and sends them to an IPFIX File (RFC 5655, file.h) and/or
 * to Collectors over UDP or TCP (uri.h endpoints), plus the statistics
 * Options Records of RFC 7011 §4.1-4.3.
 *
 * Templates: one for IPv4 Flows (ID 256), one for IPv6 Flows (257); key
 * fields as the keymask says (masked addresses also carry their prefix
 * length), then flowStart/flowEnd in the chosen unit, octetDeltaCount,
 * packetDeltaCount, tcpControlBits (union, RFC 7125), ipClassOfService,
 * minimumTTL, maximumTTL, icmpTypeCodeIPv4/IPv6, flowLabelIPv6 (v6),
 * mplsTopLabelStackSection, flowEndReason, observationPointId and
 * exportingProcessId (IANA has no per-Flow fragment counter: fragments
 * are counted in the flow cache statistics). Options
 * templates 258 (Metering Process Statistics, §4.1), 259 (Metering Process
 * Reliability Statistics, §4.2) and 260 (Exporting Process Reliability
 * Statistics, §4.3). With packet sampling (config.sampling), the flow
 * templates carry selectorId (302) and Options Template 261 reports the
 * Selector (RFC 5476 §6.5.2: scope selectorId; selectorAlgorithm and its
 * parameters) with its selectorIdTotalPktsObserved/Selected counters
 * (RFC 5477), so a Collector can scale the sampled counters.
 *
 * Collectors: each has its own message writer (sequence numbers per
 * Transport Session, RFC 7011 §3.1). UDP messages are at most
 * udp_max_message bytes (default 1400, under a 1500-byte path MTU with
 * IPv6 and UDP headers) and the templates are re-sent every
 * template_refresh_s seconds or template_refresh_messages messages,
 * whichever comes first (RFC 7011 §10.3.6). TCP sends the templates first
 * on every connection; when the Collector is down, messages wait in a
 * bounded queue (oldest dropped and counted as not sent when full) and the
 * connection is retried with exponential backoff (1 s doubling to 60 s).
 * TLS (tls:// endpoints, RFC 7011 §11) is TCP with a TLS session on each
 * connection: config.tls gives the certificate, key, CA file and peer
 * names (tls.h: the Collector's certificate must match one of them, or the
 * URI's host when none is given); a refused handshake is a failed
 * connection attempt (backoff, queue). Connection state changes of TCP and
 * TLS collectors (connected, attempt failed and why, connection lost) go to
 * config.log, one line each.
 *
 * Ownership: ipfix_exporter is an opaque handle owned by the caller
 * (ipfix_exporter_new, freed by ipfix_exporter_close). The information model
 * in the config is borrowed and must outlive the exporter. Not thread-safe.
 */
#ifndef IPFIXKIT_EXPORT_H
#define IPFIXKIT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "infomodel.h"
#include "meter.h"
#include "tls.h"
#include "uri.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ipfix_time_unit {
    IPFIX_TIME_MILLISECONDS = 0,  /* flowStart/EndMilliseconds (default) */
    IPFIX_TIME_MICROSECONDS,      /* flowStart/EndMicroseconds (NTP format) */
    IPFIX_TIME_NANOSECONDS        /* flowStart/EndNanoseconds (NTP format) */
} ipfix_time_unit;

enum {
    IPFIX_EXPORT_TEMPLATE_FLOW4 = 256,
    IPFIX_EXPORT_TEMPLATE_FLOW6 = 257,
    IPFIX_EXPORT_TEMPLATE_METERING_STATS = 258,
    IPFIX_EXPORT_TEMPLATE_METERING_RELIABILITY = 259,
    IPFIX_EXPORT_TEMPLATE_EXPORTING_RELIABILITY = 260,
    IPFIX_EXPORT_TEMPLATE_SELECTOR_REPORT = 261
};

/* Non-key fields of the flow templates (bit set: exported). */
enum {
    IPFIX_FIELD_TIMES = 1u << 0,       /* flowStart/flowEnd* in the chosen unit */
    IPFIX_FIELD_OCTETS = 1u << 1,      /* octetDeltaCount */
    IPFIX_FIELD_PACKETS = 1u << 2,     /* packetDeltaCount */
    IPFIX_FIELD_TCP_FLAGS = 1u << 3,   /* tcpControlBits */
    IPFIX_FIELD_TOS = 1u << 4,         /* ipClassOfService */
    IPFIX_FIELD_MIN_TTL = 1u << 5,     /* minimumTTL */
    IPFIX_FIELD_MAX_TTL = 1u << 6,     /* maximumTTL */
    IPFIX_FIELD_ICMP = 1u << 7,        /* icmpTypeCodeIPv4 / icmpTypeCodeIPv6 */
    IPFIX_FIELD_FLOW_LABEL = 1u << 8,  /* flowLabelIPv6 (IPv6 template) */
    IPFIX_FIELD_MPLS = 1u << 9,        /* mplsTopLabelStackSection */
    IPFIX_FIELD_END_REASON = 1u << 10, /* flowEndReason */
    IPFIX_FIELD_OBS_POINT = 1u << 11,  /* observationPointId */
    IPFIX_FIELD_EXP_PROCESS = 1u << 12, /* exportingProcessId */
    IPFIX_FIELDS_ALL = (1u << 13) - 1
};

/* Parse a comma-separated list of non-key Information Element names (those
 * above; any flowStart.../flowEnd... name selects the times) into a mask.
 * Errors name the offending item in err->detail. */
ipfix_status ipfix_export_fields_parse(const char *list, uint32_t *mask, ipfix_error *err);

typedef struct ipfix_exporter_config {
    const ipfix_infomodel *model;     /* required */
    ipfix_flow_keymask keymask;       /* the flow definition (meter.h) */
    uint32_t fields;                  /* IPFIX_FIELD_* (default IPFIX_FIELDS_ALL) */
    ipfix_time_unit time_unit;
    uint32_t observation_domain_id;
    uint32_t observation_point_id;
    uint32_t exporting_process_id;
    uint32_t metering_process_id;
    uint32_t ingress_interface;       /* exported when keymask.ingress_interface */
    size_t udp_max_message;           /* default 1400 */
    unsigned template_refresh_s;      /* UDP: default 60 */
    unsigned template_refresh_messages; /* UDP: default 100 */
    size_t tcp_queue_bytes;           /* TCP queue while down: default 4 MiB */
    ipfix_packet_selector sampling;   /* the Selector in use (algorithm NONE: no sampling) */
    uint64_t selector_id;             /* selectorId of that Selector (default 1) */
    ipfix_tls_config tls;             /* tls:// collectors (cert, key and ca required) */
    uint32_t sctp_pr_ttl_ms;          /* SCTP data messages: PR-SCTP timed reliability
                                         lifetime (RFC 3758); 0 = fully reliable (default) */
    uint16_t sctp_udp_port;           /* sctp+udp:// local UDP encapsulation port; 0 = any */
    void (*log)(void *context, const char *line); /* collector link state; NULL: silent */
    void *log_context;
} ipfix_exporter_config;

void ipfix_exporter_config_init(ipfix_exporter_config *config);

typedef struct ipfix_exporter ipfix_exporter;

ipfix_status ipfix_exporter_new(const ipfix_exporter_config *config, ipfix_exporter **out,
                                ipfix_error *err);

/* Destinations: an IPFIX File at `path`, or a Collector (udp://, tcp:// or
 * tls://). A TCP/TLS Collector that is down (or refuses the TLS handshake)
 * at start is retried in the background. Errors: bad TLS files (err->detail
 * names the file), tls:// without config.tls.cert/key/ca. */
ipfix_status ipfix_exporter_add_file(ipfix_exporter *exporter, const char *path,
                                     ipfix_error *err);
ipfix_status ipfix_exporter_add_collector(ipfix_exporter *exporter,
                                          const ipfix_endpoint *endpoint, ipfix_error *err);

/* Export one expired Flow (usable as ipfix_flow_expired_fn with the exporter
 * as context). */
ipfix_status ipfix_exporter_flow(void *exporter, const ipfix_flow *flow);

/* Counters of the Metering Process for the statistics Options Records. */
typedef struct ipfix_metering_counters {
    uint64_t ignored_packets;   /* not metered: parse failures, capture drops */
    uint64_t ignored_octets;
    uint64_t first_ignored_ms, last_ignored_ms; /* 0: none */
    uint64_t packets_observed;  /* by the Selector (with sampling) */
    uint64_t packets_selected;
} ipfix_metering_counters;

/* Export the statistics Options Records (and the Selector Report) now. */
ipfix_status ipfix_exporter_statistics(ipfix_exporter *exporter,
                                       const ipfix_metering_counters *counters);

/* Housekeeping without records (reconnects, template refresh): call about
 * once a second when idle. */
void ipfix_exporter_tick(ipfix_exporter *exporter);

typedef struct ipfix_exporter_stats {
    uint64_t flows;             /* flow records exported (to every destination) */
    uint64_t messages;          /* messages emitted, over all destinations */
    uint64_t bytes;
    uint64_t not_sent_flows;    /* records lost (queue overflow, send errors) */
    uint64_t not_sent_packets;
    uint64_t not_sent_octets;
    uint64_t reconnects;        /* TCP connections re-established */
    uint64_t queued_messages;   /* TCP messages waiting now */
} ipfix_exporter_stats;

void ipfix_exporter_get_stats(const ipfix_exporter *exporter, ipfix_exporter_stats *stats);

/* Flush every destination, try to deliver queued TCP messages (waiting at
 * most `drain_ms`; what remains is counted not sent), close the file and
 * free. The final counters go to `final` (may be NULL; file messages and
 * bytes are those before the metadata written at close). Returns the first
 * error. */
ipfix_status ipfix_exporter_close(ipfix_exporter *exporter, unsigned drain_ms,
                                  ipfix_exporter_stats *final, ipfix_error *err);

#ifdef __cplusplus
}
#endif
#endif
