/*
 * collect.h — the Collecting Process (RFC 7011 §10, RFC 5470 §4): receives
 * IPFIX Messages on UDP, TCP, TLS and DTLS listeners, keeps one ipfix_session per
 * Transport Session (UDP: per exporter address, port and listener; TCP: per
 * connection), stores the messages into rotated IPFIX Files (RFC 5655) and/or
 * renders their records as JSON Lines, and keeps per-exporter statistics.
 *
 * Threads: ipfix_collector_start() spawns `workers` threads. Every worker
 * owns one SO_REUSEPORT socket per listener (the kernel spreads UDP
 * exporters and TCP connections over the workers by 4-tuple hash, so one
 * Transport Session always lands on one worker), its own sessions, its own
 * output file and its own JSON buffer; nothing is shared on the hot path.
 * The control functions (rotate, stats, stop) may be called from any one
 * other thread (normally the CLI's main thread, which handles signals).
 *
 * TLS (tls:// listeners, RFC 7011 §11, RFC 5153 §8.3): TCP with a TLS
 * session on each connection; the handshake runs inside the worker's event
 * loop (non-blocking) and must complete within 10 s. config.tls gives the
 * certificate, key and CA file; every exporter must present a certificate
 * that chains to the CA and, when peer names are given, matches one of them
 * (tls.h; without names any certificate of the CA is accepted, RFC 5153
 * §8.2). A refused or failed handshake is logged (warning: the exporter's
 * address and why), counted per listener (tls_failures) and closed; it does
 * not become a session. After the handshake the stream is IPFIX over TCP.
 *
 * DTLS (dtls:// listeners, DTLS 1.2 over UDP, RFC 5153 §6 and §8): the
 * same certificates and checks (config.tls). Each worker's listening socket
 * runs the stateless cookie exchange (RFC 6347 §4.2.1); an exporter that
 * echoes the cookie (and is admitted: allow list, max_sessions, memory)
 * gets a UDP socket of its own, connected to it, on which the handshake
 * ends (10 s at most; failures as for TLS). The session is then a UDP
 * Transport Session ("dtls ADDRESS:PORT", UDP template rules), one IPFIX
 * Message per record; it ends on close_notify, a fatal alert or UDP's idle
 * timeout, and the collector sends close_notify when it stops.
 *
 * Nothing here prints: log lines go to config.log (called from worker
 * threads; each call is one complete line without '\n').
 *
 * Ownership: the collector borrows the information model and the JSON FILE
 * (both must outlive it); ipfix_collector_free() stops and joins the workers
 * if needed and frees everything.
 */
#ifndef IPFIXKIT_COLLECT_H
#define IPFIXKIT_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "infomodel.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_COLLECT_MAX_LISTENERS 16u
#define IPFIX_COLLECT_MAX_PREFIXES 64u

typedef enum ipfix_log_level {
    IPFIX_LOG_ERROR = 0,
    IPFIX_LOG_WARNING = 1,
    IPFIX_LOG_INFO = 2
} ipfix_log_level;

typedef void (*ipfix_log_fn)(void *context, ipfix_log_level level, const char *line);

/* An address prefix exporters must match (allow-list). */
typedef struct ipfix_prefix {
    uint8_t family;      /* 4 or 6 */
    uint8_t length;      /* prefix length in bits */
    uint8_t bytes[16];   /* network order (IPv4 in the first 4) */
} ipfix_prefix;

/* Parse "192.0.2.0/24", "2001:db8::/32" or a single address. */
ipfix_status ipfix_prefix_parse(const char *text, ipfix_prefix *out, ipfix_error *err);
/* Does the address (family 4 or 6, IPv4-mapped IPv6 counts as IPv4) match? */
bool ipfix_prefix_match(const ipfix_prefix *prefix, uint8_t family, const uint8_t *bytes);

typedef struct ipfix_collector_config {
    const char *listen[IPFIX_COLLECT_MAX_LISTENERS]; /* URIs (uri.h): udp://, tcp://, tls://, dtls:// */
    unsigned listen_count;
    const char *store_dir;        /* NULL: no storage */
    unsigned rotate_seconds;      /* file rotation period; default 300 */
    bool per_exporter_dirs;       /* files under store_dir/ADDRESS/ (one store per exporter) */
    bool fsync;                   /* fsync files before the rename (default true) */
    FILE *json;                   /* NULL: no JSON Lines output */
    unsigned workers;             /* threads; 0 = number of CPUs */
    uint32_t max_sessions;        /* UDP exporters + TCP connections; default 4096 */
    uint32_t max_templates;       /* per session; default 4096 */
    size_t max_pending;           /* per UDP session: data-set bytes held while their template
                                     is missing (RFC 7011 §8); 0 = default 1 MiB */
    size_t max_memory;            /* bytes for sessions + buffers (approximate); 0 = none */
    size_t udp_rcvbuf;            /* SO_RCVBUF request; default 32 MiB */
    ipfix_prefix allow[IPFIX_COLLECT_MAX_PREFIXES];
    unsigned allow_count;         /* 0: accept every exporter */
    const ipfix_infomodel *model; /* required */
    ipfix_tls_config tls;         /* tls:// and dtls:// listeners: cert, key and ca required */
    ipfix_log_fn log;             /* NULL: silent */
    void *log_context;
} ipfix_collector_config;

void ipfix_collector_config_init(ipfix_collector_config *config);

typedef struct ipfix_collector ipfix_collector;

/* Parse the listeners, open every socket (so errors such as "address in
 * use" come back here, with the URI in err->detail) and create the workers'
 * state. Does not start threads. */
ipfix_status ipfix_collector_new(const ipfix_collector_config *config, ipfix_collector **out,
                                 ipfix_error *err);

/* Start the worker threads. */
ipfix_status ipfix_collector_start(ipfix_collector *collector, ipfix_error *err);

/* Ask every worker to close its current file and start a new one. */
void ipfix_collector_rotate(ipfix_collector *collector);

/* Stop accepting, drain the sockets, flush and close the files, join the
 * workers. Idempotent. */
void ipfix_collector_stop(ipfix_collector *collector);

void ipfix_collector_free(ipfix_collector *collector);

/* Totals over all exporters and listeners. */
typedef struct ipfix_collector_totals {
    uint64_t sessions;          /* current */
    uint64_t sessions_total;    /* ever */
    uint64_t messages;
    uint64_t bytes;
    uint64_t records;           /* data records (options records included) */
    uint64_t lost_records;      /* by sequence numbers */
    uint64_t out_of_order;
    uint64_t malformed;         /* errors reported while decoding */
    uint64_t missing_template_sets;
    uint64_t socket_drops;      /* UDP datagrams dropped by the kernel (SO_RXQ_OVFL) */
    uint64_t rejected;          /* by allow-list or limits */
    uint64_t stored_messages;
    uint64_t stored_bytes;
    uint64_t files;             /* files completed */
    uint64_t store_errors;      /* messages that could not be stored (I/O errors) */
    uint64_t tls_failures;      /* (D)TLS handshakes refused or failed (tls://, dtls://) */
} ipfix_collector_totals;

void ipfix_collector_totals_get(ipfix_collector *collector, ipfix_collector_totals *totals);

/* The statistics report as text, one line per exporter and Observation
 * Domain, per listener, and the totals: a malloc'd string the caller frees
 * (NULL on allocation failure). */
char *ipfix_collector_report(ipfix_collector *collector);

#ifdef __cplusplus
}
#endif
#endif
