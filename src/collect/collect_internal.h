/*
 * collect_internal.h — the collector's private structures, shared by
 * collector.c (workers, event loop, control, report) and exporter.c (one
 * exporter's Transport Session: decoding, logging, storing).
 */
#ifndef IPFIXKIT_COLLECT_INTERNAL_H
#define IPFIXKIT_COLLECT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "collect/store.h"
#include "ipfixkit/collect.h"
#include "ipfixkit/render.h"
#include "ipfixkit/session.h"
#include "ipfixkit/tls.h"
#include "transport/listener.h"

#define COLLECT_TCP_BUFFER (256u << 10)
#define COLLECT_LOSS_QUIET_SECONDS 10
#define COLLECT_LOG_BURST 5u            /* log lines per exporter per second */
#define COLLECT_MAX_SKIPS 64u
#define COLLECT_RETIRED_MAX 1024u        /* closed sessions listed one by one, per worker */
#define COLLECT_UDP_IDLE_SECONDS 1800    /* UDP session ends after this silence (RFC 7011 §8.4 lifetime) */
#define COLLECT_TLS_HANDSHAKE_SECONDS 10 /* a TLS handshake not done by then is dropped */
#define COLLECT_DTLS_BUFFER 65536u       /* one decrypted DTLS record (<= 2^14 bytes) */
#define COLLECT_DTLS_MTU 1400u           /* datagrams of the collector's handshake flights */
#define COLLECT_DTLS_RCVBUF (4u << 20)   /* receive buffer of a per-exporter DTLS socket */
#define COLLECT_SCTP_STREAMS 16          /* inbound streams granted per association */
#define COLLECT_SCTP_SHUTDOWN_S 3        /* stop: wait this long for SCTP shutdowns */

typedef enum collect_source_kind {
    COLLECT_SOURCE_UDP = 1,
    COLLECT_SOURCE_TCP_LISTEN,
    COLLECT_SOURCE_TCP_CONN,
    COLLECT_SOURCE_DTLS_LISTEN,     /* the cookie exchange on a dtls:// listener */
    COLLECT_SOURCE_DTLS_CONN,       /* one exporter's connected UDP socket */
    COLLECT_SOURCE_SCTP_LISTEN      /* sctp://, sctp+udp://: eventfd the usrsctp upcalls write to */
} collect_source_kind;

/* What an epoll event points at (first member of its owner). */
typedef struct collect_source {
    collect_source_kind kind;
    int fd;
    unsigned listener;
} collect_source;

/* Per (exporter, Observation Domain): file mapping and loss episode. */
typedef struct collect_domain {
    uint32_t odid;
    collect_store_domain store;
    bool losing;
    time_t last_loss;
    uint64_t episode_lost;
} collect_domain;

typedef struct collect_exporter {
    collect_source source;          /* TCP: the connection, DTLS: the connected UDP socket
                                       (fd -1 once closed) */
    ipfix_transport transport;
    struct sockaddr_storage addr;   /* the exporter's address and port */
    uint8_t family;                 /* 4 or 6 (IPv4-mapped shown as 4) */
    uint8_t address[16];
    uint16_t port;
    char name[80];                  /* "udp 192.0.2.1:5000 via udp://:4739" */
    char origin[64];                /* "192.0.2.1:5000" (JSON "exporter") */
    uint64_t start_ms;
    time_t last_seen;               /* last message (wall clock, s) */
    ipfix_session *session;         /* NULL once retired */
    ipfix_domain_stats *retired;    /* domain counters kept after close */
    size_t retired_count;
    collect_domain *domains;
    size_t domain_count, domain_capacity;
    collect_store *store;           /* per-exporter directories: its own files, else NULL */
    uint64_t header_errors;         /* messages rejected at the header */
    uint64_t malformed_messages;    /* messages with at least one error */
    ipfix_tls_conn *tls;            /* TLS/DTLS listeners: the session (NULL otherwise) */
    struct ipfix_sctp_assoc *sctp;  /* SCTP: the association (NULL once closed) */
    bool tls_ready;                 /* handshake done and peer verified */
    bool tls_backlog;               /* decrypted bytes wait inside OpenSSL (no EPOLLIN) */
    time_t tls_deadline;            /* handshake must be done by then */
    uint8_t *rx;                    /* TCP receive buffer; DTLS: one record */
    size_t rx_length;
    time_t log_second;
    unsigned log_count;
    uint64_t log_suppressed;
    struct collect_exporter *hash_next; /* UDP lookup chain */
    struct collect_exporter *next;      /* all exporters of the worker */
} collect_exporter;

typedef struct collect_listener {
    ipfix_transport transport;
    bool tls;                       /* tls:// or dtls://: a (D)TLS session per exporter */
    bool dtls;                      /* dtls://: UDP, cookie exchange, per-peer sockets */
    bool sctp;                      /* sctp:// or sctp+udp://: served by worker 0 (usrsctp, sctp.h) */
    bool sctp_udp;                  /* sctp+udp:// (RFC 6951) */
    char uri[300];
    struct sockaddr_storage addr;
    socklen_t addr_length;
} collect_listener;

struct ipfix_collector;

typedef struct collect_worker {
    struct ipfix_collector *collector;
    unsigned index;
    pthread_t thread;
    bool started;
    int epfd;
    pthread_mutex_t lock;           /* held while processing; the report takes it */
    collect_source sockets[IPFIX_COLLECT_MAX_LISTENERS];
    ipfix_dtls_listener *dtls[IPFIX_COLLECT_MAX_LISTENERS]; /* dtls:// listeners */
    struct ipfix_sctp_listener *sctp[IPFIX_COLLECT_MAX_LISTENERS]; /* SCTP (worker 0) */
    uint32_t socket_drops[IPFIX_COLLECT_MAX_LISTENERS];
    uint64_t rejected[IPFIX_COLLECT_MAX_LISTENERS];
    uint64_t tls_failures[IPFIX_COLLECT_MAX_LISTENERS];
    unsigned tls_backlog;           /* exporters with tls_backlog set */
    time_t tls_log_second;          /* TLS failure log lines: COLLECT_LOG_BURST per second */
    unsigned tls_log_count;
    uint64_t tls_log_suppressed;
    ipfix_udp_batch batch;
    collect_store *store;           /* the worker's files (NULL with per-exporter dirs) */
    collect_store_stats closed_stores; /* counters of per-exporter stores already closed */
    ipfix_renderer *renderer;
    ipfix_buffer json;
    collect_exporter **table;       /* UDP exporters by address hash */
    size_t table_size;
    collect_exporter *exporters;
    uint64_t sessions_total;
    size_t retired_count;           /* closed sessions still listed */
    ipfix_domain_stats folded;      /* counters of closed sessions no longer listed */
    uint64_t folded_sessions;
    uint64_t folded_header_errors;
    unsigned rotate_seen;
    time_t last_housekeeping;
    time_t reject_log_second;
    time_t store_log_second;        /* store errors: one log line per second */
    uint64_t store_errors;
    collect_store_skip skips[COLLECT_MAX_SKIPS];
    uint8_t *replay;                /* messages rebuilt from replayed held records */
    size_t replay_capacity;
    size_t replay_length;           /* bytes used (0: nothing replayed) */
    size_t replay_message;          /* offset of the message being built */
    size_t replay_set;              /* offset of the open data set, 0 = none */
    uint16_t replay_template;
} collect_worker;

struct ipfix_collector {
    ipfix_collector_config config;
    collect_listener listeners[IPFIX_COLLECT_MAX_LISTENERS];
    unsigned listener_count;
    collect_worker *workers;
    unsigned worker_count;
    atomic_bool stop;
    atomic_uint rotate_requests;
    atomic_uint_fast64_t sessions;     /* open sessions, all workers */
    atomic_uint_fast64_t memory;       /* approximate bytes held by sessions */
    pthread_mutex_t json_lock;
    collect_store_closer *closer;      /* completes rotated files (with store_dir) */
    ipfix_tls_context *tls;            /* server context of the tls:// listeners */
    ipfix_tls_context *dtls;           /* server context of the dtls:// listeners */
    struct ipfix_sctp_stack *sctp_stack; /* usrsctp, when an SCTP listener exists */
    bool stopped;
};

/* exporter.c */
void collect_log(collect_worker *w, ipfix_log_level level, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* Rate-limited log about one exporter (COLLECT_LOG_BURST per second). */
void collect_exporter_log(collect_worker *w, collect_exporter *e, ipfix_log_level level,
                          const char *format, ...) __attribute__((format(printf, 4, 5)));
collect_exporter *collect_exporter_new(collect_worker *w, ipfix_transport transport,
                                       const struct sockaddr_storage *addr, unsigned listener);
/* Ends the session: keeps its counters, frees the rest. */
void collect_exporter_retire(collect_worker *w, collect_exporter *e);
/* Merge the oldest closed sessions into w->folded while more than
 * COLLECT_RETIRED_MAX are listed (bounds memory under reconnect churn). */
void collect_exporter_fold_retired(collect_worker *w);
void collect_exporter_free(collect_exporter *e);
/* Close the exporter's own store (per-exporter directories), adding its
 * counters to w->closed_stores. */
void collect_exporter_close_store(collect_worker *w, collect_exporter *e);
/* Rotate every store of the worker that is due (or all, `force`). */
void collect_worker_rotate(collect_worker *w, const struct timespec *now, bool force);
/* Decode, render and store one message that arrived on SCTP stream
 * `stream` (0 for other transports; sequence numbers are counted per SCTP
 * stream, RFC 7011 §3.1). IPFIX_OK, or the header error (already logged
 * and counted). */
ipfix_status collect_exporter_message(collect_worker *w, collect_exporter *e,
                                      const uint8_t *message, size_t length, uint16_t stream,
                                      const struct timespec *now);
/* Loss episodes that ended (no gap for COLLECT_LOSS_QUIET_SECONDS). */
void collect_exporter_housekeeping(collect_worker *w, collect_exporter *e, time_t now);
/* Append pending JSON to the output when over `threshold` bytes. */
void collect_json_flush(collect_worker *w, size_t threshold);
/* "192.0.2.1:5000" / "[2001:db8::1]:5000" and family/bytes of a sockaddr. */
void collect_format_address(const struct sockaddr_storage *addr, char *out, size_t size,
                            uint8_t *family, uint8_t *bytes, uint16_t *port);

#endif
