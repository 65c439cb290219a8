/*
 * collector_link.c — one Transport Session to a Collector (see
 * collector_link.h).
 *
 * The link owns an ipfix_writer whose sink is send_message(). Templates are
 * not added through the writer: the link writes its own template message
 * (header + Template Set + Options Template Set) before the first data
 * message of every connection and, over UDP, again when the refresh time or
 * message count is reached (RFC 7011 §10.3.6). The template message carries
 * the sequence number of the data message that follows it (templates do not
 * count, RFC 7011 §3.1).
 *
 * Threads. UDP messages are sent from the caller's thread (a datagram send
 * does not wait on the Collector). A session (TCP, TLS, DTLS, SCTP) has a
 * sender thread (sender_main) that does every connect, handshake and send:
 * the writer's sink only puts the message in the queue, so the metering
 * thread never waits on a Collector that is down or slow to answer. While
 * the session is up and the queue is full the caller waits for room (the
 * Collector paces the Exporter as a blocking send would); while it is down
 * the oldest messages are dropped (counted). l->lock guards the queue, the
 * statistics and the few fields both threads read; the socket, TLS and
 * SCTP state belong to the sender, the writer to the caller.
 *
 * TCP: a blocking socket with a send timeout. When a send or connect fails
 * the link goes down; messages then wait in a byte FIFO of at most
 * `queue_bytes` (the oldest are dropped, and their records counted lost).
 * The sender tries to reconnect once the backoff has passed (1 s,
 * doubling to 60 s); after connecting it sends the
 * templates, then the queue.
 *
 * TLS (RFC 7011 §11, RFC 5153 §8.3: "behave in all other aspects as if
 * using TCP"): after the TCP connect, the client handshake on the blocking
 * socket with receive and send timeouts of HANDSHAKE_TIMEOUT_S, the peer
 * verified (tls.h), then with TLS 1.3 the wait for the server's verdict on
 * our certificate (ipfix_tls_conn_confirm). Any failure there is a failed
 * connection attempt: backoff, messages queue. Every new TLS session starts
 * with the templates (RFC 5471 §3.6.1-3.6.3), as every TCP connection does.
 * Sends go through SSL_write with the same send timeout as TCP.
 *
 * DTLS (RFC 7011 §10-11 over UDP, RFC 5153 §6 and §8): a connected UDP
 * socket, non-blocking, with a DTLS 1.2 client handshake after the connect
 * (bounded by HANDSHAKE_TIMEOUT_S, handshake flights fragmented to the
 * max_message datagram size, retransmitted on the DTLS timer), the peer
 * verified as for TLS. Each IPFIX Message goes in one DTLS record in one
 * datagram of at most max_message bytes, and no larger than the path MTU
 * allows (RFC 6347 §4.1.1: the socket sets DF, IP_PMTUDISC_DO, and the
 * kernel's path MTU of the connected socket, IP_MTU/IPV6_MTU, less the IP
 * and UDP headers, bounds the datagram; it is read again on every new
 * session, so a path MTU that shrank, learnt from an ICMP "too big" that
 * made a send fail, applies to the next session): the writer's limit is
 * that datagram size - IPFIX_DTLS_RECORD_OVERHEAD (so the default
 * 1400-byte datagram carries messages of up to 1363 bytes). A message
 * queued before and too large for the new limit is dropped and counted
 * not sent. Templates are refreshed as over UDP (RFC 7011 §10.3.6) and sent
 * first on every new session (RFC 5471 §3.6.1-3.6.3). DTLS has no
 * connection to lose, so before each send the link reads what came back:
 * a close_notify or a fatal alert from the Collector, or an ICMP error on
 * the connected socket (a Collector that is gone: "Connection refused").
 * Any of them, or a failed send, ends the session: the link goes down,
 * messages wait in the bounded queue as for TCP, and a new handshake is
 * tried with backoff. (A Collector that restarts on the same port between
 * two sends is not noticed: it drops our records silently, as DTLS
 * requires for records of an unknown association.)
 *
 * SCTP (sctp://, natively over raw IP, or sctp+udp://, over UDP
 * encapsulation RFC 6951; RFC 7011 §10.2; only with IPFIXKIT_HAVE_SCTP,
 * see sctp.h): one association with SCTP_STREAMS
 * outbound streams. The template message (Template and Options Template
 * Sets; withdrawals would go the same way) is sent on stream 0, fully
 * reliable and ordered (RFC 7011 §8.3: "MUST be sent reliably, using SCTP
 * ordered delivery"); flow records go on stream 1 with PR-SCTP timed
 * reliability when config.sctp_pr_ttl_ms > 0 (RFC 3758, RFC 5153 §6.1:
 * abandoned after that lifetime; RFC 7011 §10.2.6: only messages with
 * nothing but Data Sets), fully reliable when 0; the exporter's
 * statistics (options records) go in messages of their own on stream 2,
 * fully reliable (RFC 5153 §6.1 "one stream for Flow data and one for
 * metadata"), except the messages of collector_link_close (the final
 * statistics): those go on stream 1, fully reliable, so that any abandoned
 * flow message before them shows as a gap in stream 1's sequence numbers.
 * SCTP does not order messages across streams, so after the templates of a
 * new association
 * the link waits (at most TEMPLATE_ACK_MS, else the association is given
 * up) until the Collector has acknowledged them before any data follows:
 * a Collector never gets data before its template (RFC 7011 §8.2).
 * Templates are sent once per association (they live until it ends,
 * §8.3), never refreshed. Sequence numbers: each stream counts its own
 * records from 0 on every association (RFC 7011 §3.1 "Each SCTP Stream
 * counts sequence numbers separately"), written into a copy of the
 * writer's message as it is sent; the template message keeps the
 * writer's number (it carries no data records). Association loss (ABORT from a
 * restarted Collector, SHUTDOWN, send failure) takes the link down as for
 * TCP: bounded queue, reconnection with backoff, templates first on the
 * new association. Messages the stack had accepted but not delivered when
 * the association broke are lost without being counted (as for TCP's
 * kernel buffer); the Collector sees them as a sequence gap only when the
 * association survives (PR-SCTP abandonment; see the close's messages
 * above).
 *
 * State changes are logged once each (config.log): connected, connection
 * attempt failed (again only when the reason changes), connection lost.
 */
#include "export/collector_link.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipfixkit/value.h"
#ifdef IPFIXKIT_HAVE_SCTP
#include "ipfixkit/sctp.h"
#endif

#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 60000u
#define CONNECT_TIMEOUT_MS 1000
#define SEND_TIMEOUT_S 5
#define TEMPLATE_MESSAGE_MAX 65535u
#define HANDSHAKE_TIMEOUT_S 5
#define CONFIRM_TIMEOUT_MS 2000
#define CLOSE_WAIT_MS 2000
#define SCTP_STREAMS 3            /* 0: templates, 1: flow records, 2: statistics */
#define SCTP_CONNECT_TIMEOUT_MS 2000
#define SCTP_CLOSE_WAIT_MS 15000  /* close: wait for acknowledgements */
#define TEMPLATE_ACK_MS 10000     /* several retransmissions (RTO >= 1 s) under loss */

typedef struct queued {
    uint32_t length, records;
    uint64_t packets, octets;
    bool options;                 /* options records only (SCTP: the statistics stream) */
    bool final;                   /* emitted by collector_link_close (SCTP: stream 1, reliable) */
} queued; /* followed by `length` message bytes */

struct collector_link {
    collector_link_config config;
    ipfix_endpoint endpoint;
    bool tcp;                     /* a stream: TCP or TLS */
    bool tls;
    bool dtls;                    /* DTLS over UDP (datagrams, but a session) */
    bool session;                 /* TCP, TLS, DTLS or SCTP: reconnect, queue while down */
    bool sctp;                    /* sctp:// or sctp+udp:// */
    bool sctp_udp;                /* sctp+udp:// (RFC 6951) */
    bool closing;                 /* collector_link_close is flushing */
    size_t dtls_message_max;      /* DTLS: largest message of this session (path MTU) */
    atomic_bool dtls_resize_writer; /* ... not yet applied to the writer */
#ifdef IPFIXKIT_HAVE_SCTP
    ipfix_sctp_stack *stack;      /* our reference to the process's usrsctp stack */
    ipfix_sctp_assoc *assoc;      /* the association while up */
    uint16_t data_stream;         /* flow records */
    uint16_t options_stream;      /* options records (the exporter's statistics) */
    uint32_t stream_sequence[SCTP_STREAMS]; /* next per stream (RFC 7011 §3.1) */
    uint8_t *sctp_message;        /* a message with its stream's sequence number */
#endif
    bool building_options;        /* SCTP: the message being built holds options records */
    int fd;                       /* -1: down */
    ipfix_tls_context *tls_context;
    ipfix_tls_conn *tls_conn;     /* the TLS session while up */
    char uri[300];
    bool was_up;                  /* for the state-change log */
    char last_failure[420];       /* last connect failure reported ("" after success) */
    struct sockaddr_storage addr;
    socklen_t addr_length;
    ipfix_writer *writer;
    /* accounting of the message being built */
    uint64_t cur_packets, cur_octets;
    /* templates */
    bool templates_due;
    uint64_t templates_sent_ms;
    unsigned messages_since_templates;
    /* TCP reconnection and queue */
    uint64_t next_attempt_ms;
    unsigned backoff_ms;
    uint8_t *queue;
    size_t queue_head, queue_tail;  /* bytes [head, tail) hold entries */
    size_t queued_messages;
    collector_link_stats stats;
    uint8_t tmsg[TEMPLATE_MESSAGE_MAX];
    /* the sender thread (sessions): `lock` guards the queue, stats,
     * next_sequence, dtls_message_max and the drain request */
    pthread_t sender;
    bool sender_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;          /* to the sender: queued, tick, drain */
    bool sender_idle;             /* the sender waits on `wake` (signalled only then) */
    pthread_cond_t space;         /* to the caller: room in the queue, or the link went down */
    atomic_bool up;               /* the session is up (the caller waits for room only then) */
    bool draining;                /* close: deliver until drain_deadline_ms, then leave */
    uint64_t drain_deadline_ms;
    uint32_t next_sequence;       /* of the next message the writer emits */
    bool first_attempt_done;      /* the first connect is no reconnect */
    queued inflight_meta;         /* the message the sender took from the queue */
    uint8_t *inflight;            /* ... its bytes (sender's; resent after a reconnect) */
    bool inflight_valid;
};

static uint64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Is the Transport Session up? */
static bool link_up(const collector_link *l) {
#ifdef IPFIXKIT_HAVE_SCTP
    if (l->sctp) return l->assoc != NULL;
#endif
    return l->fd >= 0;
}

static void link_log(collector_link *l, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void link_log(collector_link *l, const char *format, ...) {
    if (!l->config.log) return;
    char text[600];
    va_list ap;
    va_start(ap, format);
    vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    char line[1000];
    snprintf(line, sizeof line, "collector %s: %s", l->uri, text);
    l->config.log(l->config.log_context, line);
}

/* Caller holds l->lock (or no sender runs). */
static void count_lost(collector_link *l, uint64_t records, uint64_t packets, uint64_t octets) {
    l->stats.lost_records += records;
    l->stats.lost_packets += packets;
    l->stats.lost_octets += octets;
}

/* A connection attempt failed: logged when the reason is new. */
static void connect_failed(collector_link *l, const char *why) {
    if (strcmp(why, l->last_failure) != 0) {
        link_log(l, "%s connection failed: %s; retrying with backoff, records queue meanwhile",
                 l->sctp ? "SCTP" : l->dtls ? "DTLS" : l->tls ? "TLS" : "TCP", why);
        snprintf(l->last_failure, sizeof l->last_failure, "%s", why);
    }
}

static void close_session(collector_link *l) {
    ipfix_tls_conn_free(l->tls_conn);
    l->tls_conn = NULL;
#ifdef IPFIXKIT_HAVE_SCTP
    ipfix_sctp_assoc_close(l->assoc, false);
    l->assoc = NULL;
#endif
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}

/* Sender side, l->lock not held. A caller waiting for room in the queue
 * stops waiting: while the link is down the oldest messages make room. */
static void link_down(collector_link *l) {
    close_session(l);
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (l->backoff_ms > BACKOFF_MAX_MS) l->backoff_ms = BACKOFF_MAX_MS;
    l->next_attempt_ms = monotonic_ms() + l->backoff_ms;
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->up, false);
    pthread_cond_broadcast(&l->space);
    pthread_mutex_unlock(&l->lock);
}

/* The client handshake on the connected blocking socket (timeouts bound
 * it); false (reason logged) when it fails or the peer is refused. */
static bool tls_handshake(collector_link *l, int fd) {
    struct timeval hs = {.tv_sec = HANDSHAKE_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &hs, sizeof hs);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &hs, sizeof hs);
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_tls_conn_new(l->tls_context, fd, l->endpoint.host, &l->tls_conn, &err) != IPFIX_OK) {
        connect_failed(l, err.detail);
        return false;
    }
    ipfix_tls_result r = ipfix_tls_conn_handshake(l->tls_conn);
    if (r == IPFIX_TLS_OK) r = ipfix_tls_conn_confirm(l->tls_conn, CONFIRM_TIMEOUT_MS);
    if (r != IPFIX_TLS_OK) {
        char why[420];
        if (r == IPFIX_TLS_WANT_READ || r == IPFIX_TLS_WANT_WRITE)
            snprintf(why, sizeof why, "TLS handshake timed out after %d s", HANDSHAKE_TIMEOUT_S);
        else
            snprintf(why, sizeof why, "%s", ipfix_tls_conn_error(l->tls_conn));
        connect_failed(l, why);
        ipfix_tls_conn_free(l->tls_conn);
        l->tls_conn = NULL;
        return false;
    }
    struct timeval none = {0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    return true;
}

/* The largest UDP payload the path takes unfragmented: DF set on the
 * connected socket (IP_PMTUDISC_DO), then the kernel's path MTU for it
 * (IP_MTU, IPV6_MTU) less the IP and UDP headers; 0 when unknown. */
static size_t path_datagram_limit(int fd, int family) {
    bool v6 = family == AF_INET6;
    int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    int df = v6 ? IPV6_PMTUDISC_DO : IP_PMTUDISC_DO;
    setsockopt(fd, level, v6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER, &df, sizeof df);
    int mtu = 0;
    socklen_t length = sizeof mtu;
    if (getsockopt(fd, level, v6 ? IPV6_MTU : IP_MTU, &mtu, &length) != 0) return 0;
    size_t headers = (v6 ? 40u : 20u) + 8u;
    return mtu > (int)headers ? (size_t)mtu - headers : 0;
}

/* DTLS: the datagram size of a session on `fd`, a connected UDP socket:
 * --max-message or what the path takes, whichever is smaller. */
static size_t dtls_datagram_size(const collector_link *l, int fd) {
    size_t datagram = l->config.max_message, path = path_datagram_limit(fd, l->addr.ss_family);
    return path && path < datagram ? path : datagram;
}

/* DTLS at open: the datagram size the path takes now (a connected UDP
 * socket, no packet sent), so that the messages queued before the first
 * handshake already fit. */
static size_t dtls_datagram_size_now(const collector_link *l) {
    int fd = socket(l->addr.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) return l->config.max_message;
    size_t datagram = connect(fd, (const struct sockaddr *)&l->addr, l->addr_length) == 0
                          ? dtls_datagram_size(l, fd)
                          : l->config.max_message;
    close(fd);
    return datagram;
}

/* The DTLS client handshake on the connected non-blocking UDP socket, at
 * most HANDSHAKE_TIMEOUT_S; false (reason logged) when it fails. Datagrams
 * (handshake flights included) are sized to max_message or the path MTU,
 * whichever is smaller. */
static bool dtls_handshake(collector_link *l, int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_tls_conn_new(l->tls_context, fd, l->endpoint.host, &l->tls_conn, &err) != IPFIX_OK) {
        connect_failed(l, err.detail);
        return false;
    }
    char why[420] = "";
    size_t datagram = dtls_datagram_size(l, fd);
    if (datagram < 256 + IPFIX_DTLS_RECORD_OVERHEAD)
        snprintf(why, sizeof why, "path MTU too small for DTLS: datagrams of %zu bytes", datagram);
    else if (!ipfix_tls_conn_set_mtu(l->tls_conn, (unsigned)datagram))
        snprintf(why, sizeof why, "--max-message %zu is too small for DTLS", l->config.max_message);
    uint64_t deadline = monotonic_ms() + HANDSHAKE_TIMEOUT_S * 1000u;
    while (!why[0]) {
        ipfix_tls_result r = ipfix_tls_conn_handshake(l->tls_conn);
        if (r == IPFIX_TLS_OK) break;
        if (r != IPFIX_TLS_WANT_READ && r != IPFIX_TLS_WANT_WRITE) {
            const char *e = ipfix_tls_conn_error(l->tls_conn);
            snprintf(why, sizeof why, "%s", e[0] ? e : "DTLS handshake failed");
            break;
        }
        uint64_t now = monotonic_ms();
        if (now >= deadline) {
            snprintf(why, sizeof why, "DTLS handshake timed out after %d s (no answer)",
                     HANDSHAKE_TIMEOUT_S);
            break;
        }
        int wait = (int)(deadline - now), timer = ipfix_tls_conn_timeout_ms(l->tls_conn);
        if (timer >= 0 && timer < wait) wait = timer; /* retransmission due */
        struct pollfd p = {.fd = fd, .events = r == IPFIX_TLS_WANT_WRITE ? POLLOUT : POLLIN};
        poll(&p, 1, wait);
    }
    if (!why[0] && ipfix_tls_conn_data_mtu(l->tls_conn) + IPFIX_DTLS_RECORD_OVERHEAD < datagram)
        snprintf(why, sizeof why, "DTLS record overhead larger than expected (data MTU %zu)",
                 ipfix_tls_conn_data_mtu(l->tls_conn));
    pthread_mutex_lock(&l->lock);
    l->dtls_message_max = datagram - IPFIX_DTLS_RECORD_OVERHEAD;
    pthread_mutex_unlock(&l->lock);
    atomic_store(&l->dtls_resize_writer, true); /* the caller's writer, at its next record */
    if (why[0]) {
        connect_failed(l, why);
        ipfix_tls_conn_free(l->tls_conn);
        l->tls_conn = NULL;
        return false;
    }
    return true;
}

static void log_connected(collector_link *l, const char *how) {
    link_log(l, "%s%s", l->was_up || l->last_failure[0] ? "reconnected" : "connected", how);
    l->last_failure[0] = '\0';
    l->was_up = true;
}

#ifdef IPFIXKIT_HAVE_SCTP
/* A new association (bounded wait); templates due on it. */
static bool sctp_connect(collector_link *l) {
    ipfix_error err;
    ipfix_error_clear(&err);
    if (ipfix_sctp_connect(l->stack, (const struct sockaddr *)&l->addr, l->addr_length,
                           SCTP_STREAMS, l->sctp_udp, SCTP_CONNECT_TIMEOUT_MS, &l->assoc,
                           &err) != IPFIX_OK) {
        connect_failed(l, err.detail);
        return false;
    }
    uint16_t streams = ipfix_sctp_assoc_streams(l->assoc);
    /* a peer granting fewer streams gets the kinds merged (all on 0 with one) */
    l->data_stream = streams >= 2 ? 1 : 0;
    l->options_stream = streams >= 3 ? 2 : l->data_stream;
    memset(l->stream_sequence, 0, sizeof l->stream_sequence); /* a new Transport Session */
    l->templates_due = true;
    char how[160];
    snprintf(how, sizeof how, " (%s, %u streams: templates on 0, flow records on %u, "
             "statistics on %u, %s)",
             l->sctp_udp ? "SCTP over UDP" : "SCTP", streams, l->data_stream, l->options_stream,
             l->config.sctp_pr_ttl_ms ? "PR-SCTP timed reliability" : "fully reliable");
    if (l->config.sctp_pr_ttl_ms) {
        char *end = how + strlen(how) - 1; /* before ')' */
        snprintf(end, sizeof how - (size_t)(end - how), " %u ms)", l->config.sctp_pr_ttl_ms);
    }
    log_connected(l, how);
    return true;
}

/* One message: the template message (built in l->tmsg) on stream 0, fully
 * reliable, then acknowledged before data may follow; flow records on the
 * data stream with the PR-SCTP lifetime; statistics (options records) on
 * their own stream, fully reliable (RFC 5153 §6.1: "one stream for Flow
 * data and one for metadata"). Each stream numbers its records itself
 * (RFC 7011 §3.1), so the writer's sequence number is replaced by the
 * stream's. False (link down) on failure. */
static bool sctp_send(collector_link *l, const uint8_t *p, size_t n, const queued *meta) {
    bool templates = p == l->tmsg;
    /* the close's messages (the final statistics) go behind the flow records,
     * fully reliable: the Collector then sees any abandoned flow message as
     * a sequence gap of that stream, the last ones included */
    uint16_t stream = templates                      ? 0
                      : meta->options && !meta->final ? l->options_stream
                                                      : l->data_stream;
    if (!templates) {
        memcpy(l->sctp_message, p, n);
        ipfix_put_u32(l->sctp_message + 8, l->stream_sequence[stream]);
        p = l->sctp_message;
    }
    if (!ipfix_sctp_alive(l->assoc)) {
        link_log(l, "association lost: shut down or aborted by the collector; reconnecting");
        link_down(l);
        return false;
    }
    bool reliable = templates || meta->final || meta->options;
    ipfix_sctp_result r = ipfix_sctp_send(l->assoc, p, n, stream,
                                          reliable ? 0 : l->config.sctp_pr_ttl_ms,
                                          SEND_TIMEOUT_S * 1000u);
    if (r != IPFIX_SCTP_OK) {
        link_log(l, "association lost: %s; reconnecting",
                 r == IPFIX_SCTP_AGAIN ? "send timed out" : strerror(errno));
        link_down(l);
        return false;
    }
    /* RFC 7011 §8.2: no data before its template; SCTP does not order
     * across streams, so data waits until the templates are acknowledged.
     * An association that cannot deliver them in TEMPLATE_ACK_MS is given
     * up: a new one starts with the templates again. */
    if (templates && !ipfix_sctp_wait_acked(l->assoc, TEMPLATE_ACK_MS)) {
        link_log(l, "association lost: templates not acknowledged within %u ms; reconnecting",
                 TEMPLATE_ACK_MS);
        link_down(l);
        return false;
    }
    if (!templates) l->stream_sequence[stream] += meta->records;
    return true;
}
#endif

/* Connect with a bounded wait; the socket is left blocking with a send
 * timeout. */
static bool link_connect(collector_link *l) {
#ifdef IPFIXKIT_HAVE_SCTP
    if (l->sctp) return sctp_connect(l);
#endif
    int fd = socket(l->addr.ss_family, l->tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd < 0) return false;
    int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = connect(fd, (const struct sockaddr *)&l->addr, l->addr_length);
    int why = rc < 0 ? errno : 0;
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        why = ETIMEDOUT;
        if (poll(&p, 1, CONNECT_TIMEOUT_MS) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0) {
            if (soerr == 0) rc = 0;
            else why = soerr;
        }
    }
    if (rc < 0) {
        if (l->session) connect_failed(l, strerror(why));
        close(fd);
        return false;
    }
    fcntl(fd, F_SETFL, flags);
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (l->dtls ? !dtls_handshake(l, fd) : l->tls && !tls_handshake(l, fd)) {
        close(fd);
        return false;
    }
    if (l->tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else {
        int big = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    }
    l->fd = fd;
    l->templates_due = true;
    if (l->session) {
        char how[300] = "";
        if (l->tls_conn) {
            char d[260];
            ipfix_tls_conn_describe(l->tls_conn, d, sizeof d);
            if (l->dtls && l->dtls_message_max + IPFIX_DTLS_RECORD_OVERHEAD < l->config.max_message)
                snprintf(how, sizeof how, " (%s; path MTU: messages up to %zu bytes)", d,
                         l->dtls_message_max);
            else
                snprintf(how, sizeof how, " (%s)", d);
        }
        log_connected(l, how);
    }
    return true;
}

/* Has the Collector ended the connection (FIN, reset)? The exporter never
 * reads, so without this check the first message after a Collector's
 * close would go into a dead socket and be lost without a trace; this way
 * it waits in the queue for the next connection. (TLS session tickets that
 * arrive late are data, not POLLRDHUP.) */
static bool peer_closed(const collector_link *l) {
    struct pollfd p = {.fd = l->fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* DTLS: read what the Collector sent since the last send. A close_notify,
 * a fatal alert or an ICMP error (pending on the connected socket, poll
 * says POLLERR) ends the session: false, the link down. Anything else
 * (application data, a retransmitted handshake flight) is dropped. */
static bool dtls_peer_alive(collector_link *l) {
    for (int i = 0; i < 16; i++) {
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        if (poll(&p, 1, 0) != 1) return true;
        uint8_t buf[2048];
        size_t got;
        ipfix_tls_result r = ipfix_tls_conn_read(l->tls_conn, buf, sizeof buf, &got);
        if (r == IPFIX_TLS_OK || r == IPFIX_TLS_WANT_READ || r == IPFIX_TLS_WANT_WRITE) continue;
        link_log(l, "DTLS session lost: %s; new handshake with backoff, records queue meanwhile",
                 r == IPFIX_TLS_CLOSED ? "closed by the collector (close_notify)"
                                       : ipfix_tls_conn_error(l->tls_conn));
        link_down(l);
        return false;
    }
    return true;
}

/* One message in one DTLS record; false (link down) on failure. */
static bool dtls_send(collector_link *l, const uint8_t *p, size_t n) {
    if (!dtls_peer_alive(l)) return false;
    uint64_t deadline = monotonic_ms() + SEND_TIMEOUT_S * 1000u;
    for (;;) {
        ipfix_tls_result r = ipfix_tls_conn_write(l->tls_conn, p, n);
        if (r == IPFIX_TLS_OK) return true;
        uint64_t now = monotonic_ms();
        if (r == IPFIX_TLS_WANT_WRITE && now < deadline) {
            struct pollfd q = {.fd = l->fd, .events = POLLOUT};
            poll(&q, 1, (int)(deadline - now));
            continue;
        }
        link_log(l, "DTLS session lost: %s; new handshake with backoff, records queue meanwhile",
                 r == IPFIX_TLS_WANT_WRITE ? "send timed out" : ipfix_tls_conn_error(l->tls_conn));
        link_down(l);
        return false;
    }
}

/* Send all bytes of a message (`meta`: what a data message holds; NULL
 * for the template message); false (and the link down for TCP) on
 * failure. */
static bool send_bytes(collector_link *l, const uint8_t *p, size_t n, const queued *meta) {
    if (!link_up(l)) return false;
#ifdef IPFIXKIT_HAVE_SCTP
    if (l->sctp) return sctp_send(l, p, n, meta);
#else
    (void)meta;
#endif
    if (l->dtls && meta && n > l->dtls_message_max) { /* built before the path MTU shrank */
        pthread_mutex_lock(&l->lock);
        count_lost(l, meta->records, meta->packets, meta->octets);
        pthread_mutex_unlock(&l->lock);
        return true;
    }
    if (l->dtls) return dtls_send(l, p, n);
    if (!l->tcp) {
        ssize_t w = send(l->fd, p, n, MSG_NOSIGNAL);
        return w == (ssize_t)n;
    }
    if (peer_closed(l)) {
        link_log(l, "connection lost: closed by the collector; reconnecting");
        link_down(l);
        return false;
    }
    if (l->tls_conn) {
        ipfix_tls_result r = ipfix_tls_conn_write(l->tls_conn, p, n);
        if (r == IPFIX_TLS_OK) return true;
        link_log(l, "connection lost: %s; reconnecting",
                 r == IPFIX_TLS_WANT_WRITE ? "send timed out" : ipfix_tls_conn_error(l->tls_conn));
        link_down(l);
        return false;
    }
    while (n > 0) {
        ssize_t w = send(l->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            link_log(l, "connection lost: %s; reconnecting",
                     w < 0 ? strerror(errno) : "nothing sent");
            link_down(l);
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Template message with the given sequence number. */
static size_t build_template_message(collector_link *l, uint32_t sequence) {
    uint8_t *m = l->tmsg;
    size_t off = 16;
    for (int options = 0; options <= 1; options++) {
        size_t set_start = off;
        off += 4;
        for (size_t i = 0; i < l->config.template_count; i++) {
            const ipfix_template *t = l->config.templates[i];
            if (ipfix_template_is_options(t) != (options == 1)) continue;
            off += ipfix_template_record_encode(t, m + off, TEMPLATE_MESSAGE_MAX - off);
        }
        if (off == set_start + 4) {
            off = set_start;
            continue;
        }
        ipfix_put_u16(m + set_start, options ? 3 : 2);
        ipfix_put_u16(m + set_start + 2, (uint16_t)(off - set_start));
    }
    ipfix_put_u16(m, 10);
    ipfix_put_u16(m + 2, (uint16_t)off);
    ipfix_put_u32(m + 4, (uint32_t)time(NULL));
    ipfix_put_u32(m + 8, sequence);
    ipfix_put_u32(m + 12, l->config.odid);
    return off;
}

/* Counted sent (under the lock: the caller reads the statistics). */
static void count_sent(collector_link *l, size_t bytes) {
    pthread_mutex_lock(&l->lock);
    l->stats.messages++;
    l->stats.bytes += bytes;
    pthread_mutex_unlock(&l->lock);
}

static bool send_templates(collector_link *l, uint32_t sequence) {
    size_t n = build_template_message(l, sequence);
    if (!send_bytes(l, l->tmsg, n, NULL)) return false;
    count_sent(l, n);
    l->templates_due = false;
    l->templates_sent_ms = monotonic_ms();
    l->messages_since_templates = 0;
    return true;
}

static bool refresh_due(const collector_link *l) {
    if (l->templates_due) return true;
    if (l->tcp || l->sctp) return false; /* templates live as long as the session */
    if (l->config.template_refresh_messages &&
        l->messages_since_templates >= l->config.template_refresh_messages)
        return true;
    return l->config.template_refresh_s &&
           monotonic_ms() - l->templates_sent_ms >= l->config.template_refresh_s * 1000ull;
}

/* ------------------------- the queue (l->lock) ------------------------- */

static void queue_drop_oldest(collector_link *l) {
    queued q;
    memcpy(&q, l->queue + l->queue_head, sizeof q);
    count_lost(l, q.records, q.packets, q.octets);
    l->queue_head += sizeof q + q.length;
    l->queued_messages--;
    if (l->queue_head == l->queue_tail) l->queue_head = l->queue_tail = 0;
}

static bool queue_has_room(const collector_link *l, size_t need) {
    return l->config.queue_bytes - (l->queue_tail - l->queue_head) >= need;
}

/* The caller's side. While the session is up the caller waits for room
 * (the Collector paces the Exporter, as a blocking TCP send would); while
 * it is down the oldest messages are dropped and counted, so metering never
 * waits on a Collector that is gone. */
static void queue_push(collector_link *l, const uint8_t *msg, size_t n, const queued *meta) {
    size_t need = sizeof *meta + n;
    if (need > l->config.queue_bytes) {
        count_lost(l, meta->records, meta->packets, meta->octets);
        return;
    }
    while (l->queued_messages && !queue_has_room(l, need) && atomic_load(&l->up) &&
           !l->draining)
        pthread_cond_wait(&l->space, &l->lock);
    while (l->queued_messages && !queue_has_room(l, need)) queue_drop_oldest(l);
    if (l->config.queue_bytes - l->queue_tail < need) { /* compact */
        memmove(l->queue, l->queue + l->queue_head, l->queue_tail - l->queue_head);
        l->queue_tail -= l->queue_head;
        l->queue_head = 0;
    }
    memcpy(l->queue + l->queue_tail, meta, sizeof *meta);
    memcpy(l->queue + l->queue_tail + sizeof *meta, msg, n);
    l->queue_tail += need;
    l->queued_messages++;
}

/* The sender's side: move the oldest message into l->inflight; false when
 * the queue is empty. */
static bool queue_take(collector_link *l) {
    pthread_mutex_lock(&l->lock);
    bool got = l->queued_messages > 0;
    if (got) {
        memcpy(&l->inflight_meta, l->queue + l->queue_head, sizeof(queued));
        memcpy(l->inflight, l->queue + l->queue_head + sizeof(queued),
               l->inflight_meta.length);
        l->queue_head += sizeof(queued) + l->inflight_meta.length;
        l->queued_messages--;
        if (l->queue_head == l->queue_tail) l->queue_head = l->queue_tail = 0;
        l->inflight_valid = true;
        pthread_cond_signal(&l->space);
    }
    pthread_mutex_unlock(&l->lock);
    return got;
}

/* The sequence number the template message carries: that of the data
 * message that follows it (RFC 7011 §3.1). */
static uint32_t sequence_after_templates(collector_link *l) {
    if (l->inflight_valid) return ipfix_get_u32(l->inflight + 8);
    pthread_mutex_lock(&l->lock);
    uint32_t seq = l->queued_messages
                       ? ipfix_get_u32(l->queue + l->queue_head + sizeof(queued) + 8)
                       : l->next_sequence;
    pthread_mutex_unlock(&l->lock);
    return seq;
}

/* ----------------------------- the sender ----------------------------- */

/* Connect if down, then send templates (when due) and the queue; returns
 * when the queue is empty or the link went down. l->lock not held. */
static void sender_service(collector_link *l) {
    if (!link_up(l)) {
        bool reconnect = l->first_attempt_done;
        l->first_attempt_done = true;
        if (!link_connect(l)) {
            link_down(l);
            return;
        }
        atomic_store(&l->up, true);
        if (reconnect) {
            pthread_mutex_lock(&l->lock);
            l->stats.reconnects++;
            pthread_mutex_unlock(&l->lock);
        }
    }
    /* TCP, TLS, SCTP: after connecting; DTLS: also the UDP refresh */
    if (refresh_due(l) && !send_templates(l, sequence_after_templates(l))) return;
    while (l->inflight_valid || queue_take(l)) {
        if (!send_bytes(l, l->inflight, l->inflight_meta.length, &l->inflight_meta))
            return; /* kept in flight: the first to go on the next session */
        count_sent(l, l->inflight_meta.length);
        l->inflight_valid = false;
        l->messages_since_templates++;
        if (l->dtls && refresh_due(l) && !send_templates(l, sequence_after_templates(l)))
            return;
    }
    l->backoff_ms = 0;
}

/* The sender waits on l->wake (l->lock held) until woken or the
 * monotonic deadline (l->wake uses CLOCK_MONOTONIC). */
static void wait_until(collector_link *l, uint64_t deadline_ms) {
    struct timespec until = {.tv_sec = (time_t)(deadline_ms / 1000),
                             .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    l->sender_idle = true;
    pthread_cond_timedwait(&l->wake, &l->lock, &until);
    l->sender_idle = false;
}

/* The sender thread of a session: every connect, handshake and send of the
 * link happens here, so a Collector that is down, slow to answer a
 * handshake or unable to take our data never stalls the metering thread
 * (which only queues). Waits on l->wake (a message queued, a tick, the
 * close) or until the next connection attempt or template refresh is due.
 * On close it delivers until the queue is empty or the drain deadline. */
static void *sender_main(void *arg) {
    collector_link *l = arg;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        uint64_t now = monotonic_ms();
        bool pending = l->inflight_valid || l->queued_messages;
        if (l->draining && (!pending || now >= l->drain_deadline_ms)) break;
        if (!link_up(l) && now < l->next_attempt_ms) {
            if (l->draining && l->next_attempt_ms >= l->drain_deadline_ms) break;
            wait_until(l, l->next_attempt_ms);
            continue;
        }
        if (link_up(l) && !pending && !refresh_due(l)) {
            wait_until(l, l->draining ? l->drain_deadline_ms : now + 1000);
            continue;
        }
        pthread_mutex_unlock(&l->lock);
        sender_service(l);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* ------------------------------- the sink ------------------------------- */

/* The writer's sink, on the caller's thread. Sessions: queued for the
 * sender. UDP: sent at once (a datagram send does not wait on the
 * Collector), lost and counted when it fails. */
static ipfix_status send_message(void *context, const uint8_t *msg, size_t n) {
    collector_link *l = context;
    queued meta = {.length = (uint32_t)n, .records = ipfix_writer_message_records(l->writer),
                   .packets = l->cur_packets, .octets = l->cur_octets,
                   .options = l->building_options, .final = l->closing};
    l->cur_packets = l->cur_octets = 0;
    if (l->session) {
        pthread_mutex_lock(&l->lock);
        l->next_sequence = ipfix_get_u32(msg + 8) + meta.records;
        queue_push(l, msg, n, &meta);
        if (l->sender_idle) pthread_cond_signal(&l->wake); /* a busy one finds it anyway */
        pthread_mutex_unlock(&l->lock);
        return IPFIX_OK;
    }
    if (refresh_due(l)) send_templates(l, ipfix_get_u32(msg + 8));
    if (!send_bytes(l, msg, n, &meta)) {
        count_lost(l, meta.records, meta.packets, meta.octets);
        return IPFIX_OK; /* UDP: lost, counted; the writer goes on */
    }
    count_sent(l, n);
    l->messages_since_templates++;
    return IPFIX_OK;
}

ipfix_status collector_link_open(const ipfix_endpoint *endpoint,
                                 const collector_link_config *config, collector_link **out,
                                 ipfix_error *err) {
    *out = NULL;
#ifndef IPFIXKIT_HAVE_SCTP
    if (endpoint->scheme == IPFIX_SCHEME_SCTP || endpoint->scheme == IPFIX_SCHEME_SCTP_UDP)
        return ipfix_error_set(err, IPFIX_ERR_UNSUPPORTED, 0, "export",
                               "%s://: SCTP support not built (configure with -DIPFIXKIT_SCTP=ON "
                               "and libusrsctp-dev)",
                               ipfix_scheme_name(endpoint->scheme));
#endif
    if (endpoint->scheme != IPFIX_SCHEME_UDP && endpoint->scheme != IPFIX_SCHEME_TCP &&
        endpoint->scheme != IPFIX_SCHEME_TLS && endpoint->scheme != IPFIX_SCHEME_DTLS &&
        endpoint->scheme != IPFIX_SCHEME_SCTP && endpoint->scheme != IPFIX_SCHEME_SCTP_UDP)
        return ipfix_error_set(err, IPFIX_ERR_UNSUPPORTED, 0, "export",
                               "%s:// export is not supported (udp, tcp, tls, dtls, sctp, "
                               "sctp+udp)",
                               ipfix_scheme_name(endpoint->scheme));
    if ((endpoint->scheme == IPFIX_SCHEME_TLS || endpoint->scheme == IPFIX_SCHEME_DTLS) &&
        !config->tls)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "RFC 7011 §11.3",
                               "%s:// needs a certificate, key and CA",
                               ipfix_scheme_name(endpoint->scheme));
    if (endpoint->scheme == IPFIX_SCHEME_DTLS &&
        config->max_message < 256 + IPFIX_DTLS_RECORD_OVERHEAD)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "export",
                               "dtls:// needs a message size of at least %u bytes",
                               256 + IPFIX_DTLS_RECORD_OVERHEAD);
    collector_link *l = calloc(1, sizeof *l);
    if (!l) return IPFIX_ERR_NOMEM;
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wake, &monotonic);
    pthread_cond_init(&l->space, NULL);
    pthread_condattr_destroy(&monotonic);
    l->config = *config;
    l->endpoint = *endpoint;
    l->tls = endpoint->scheme == IPFIX_SCHEME_TLS;
    l->dtls = endpoint->scheme == IPFIX_SCHEME_DTLS;
    l->tcp = endpoint->scheme == IPFIX_SCHEME_TCP || l->tls;
    l->sctp_udp = endpoint->scheme == IPFIX_SCHEME_SCTP_UDP;
    l->sctp = l->sctp_udp || endpoint->scheme == IPFIX_SCHEME_SCTP;
    l->session = l->tcp || l->dtls || l->sctp;
    l->fd = -1;
    ipfix_endpoint_format(endpoint, l->uri, sizeof l->uri);
    ipfix_status st = ipfix_endpoint_resolve(endpoint, false, &l->addr, &l->addr_length, err);
#ifdef IPFIXKIT_HAVE_SCTP
    if (st == IPFIX_OK && l->sctp)
        st = ipfix_sctp_stack_acquire(config->sctp_udp_port, !l->sctp_udp, &l->stack, err);
#endif
    if (st == IPFIX_OK && l->tls)
        st = ipfix_tls_context_new(config->tls, false, &l->tls_context, err);
    if (st == IPFIX_OK && l->dtls)
        st = ipfix_tls_context_new_dtls(config->tls, false, &l->tls_context, err);
    if (st != IPFIX_OK) {
        collector_link_close(l, 0, NULL);
        return st;
    }
    /* DTLS: the record around the message must fit the datagram size */
    size_t max = l->tcp || l->sctp ? 65535u
                 : l->dtls ? config->max_message - IPFIX_DTLS_RECORD_OVERHEAD
                           : config->max_message;
    if (l->dtls) { /* too small a path fails at the handshake, with its reason */
        size_t datagram = dtls_datagram_size_now(l);
        if (datagram >= 256 + IPFIX_DTLS_RECORD_OVERHEAD)
            max = datagram - IPFIX_DTLS_RECORD_OVERHEAD;
    }
    ipfix_writer_config wc = {.max_message_size = max,
                              .observation_domain_id = config->odid};
    l->writer = ipfix_writer_new(&wc, send_message, l);
    bool scratch_ok = true;
    if (l->session) {
        l->queue = malloc(config->queue_bytes ? config->queue_bytes : 1);
        scratch_ok = (l->inflight = malloc(65535)) != NULL; /* any message size */
    }
#ifdef IPFIXKIT_HAVE_SCTP
    if (l->sctp && scratch_ok) scratch_ok = (l->sctp_message = malloc(max)) != NULL;
#endif
    if (!l->writer || (l->session && !l->queue) || !scratch_ok) {
        collector_link_close(l, 0, NULL);
        return IPFIX_ERR_NOMEM;
    }
    if (!l->session && !link_connect(l)) {
        int why = errno;
        collector_link_close(l, 0, NULL);
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "export", "cannot open UDP socket: %s",
                               strerror(why));
    }
    /* a session connects in its sender thread; records queue meanwhile */
    if (l->session) {
        if (pthread_create(&l->sender, NULL, sender_main, l) != 0) {
            collector_link_close(l, 0, NULL);
            return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "export",
                                   "cannot start the sender thread");
        }
        l->sender_started = true;
    }
    *out = l;
    return IPFIX_OK;
}

ipfix_status collector_link_add(collector_link *l, const ipfix_template *tmpl,
                                const uint8_t *record, size_t length, uint64_t packets,
                                uint64_t octets) {
    /* DTLS: this session's messages fit its path MTU (emits the message
     * being built first when it no longer fits) */
    if (atomic_load_explicit(&l->dtls_resize_writer, memory_order_relaxed) &&
        atomic_exchange(&l->dtls_resize_writer, false)) {
        pthread_mutex_lock(&l->lock);
        size_t max = l->dtls_message_max;
        pthread_mutex_unlock(&l->lock);
        ipfix_writer_set_max_message_size(l->writer, max);
    }
    /* SCTP: flow records and statistics travel in messages of their own
     * (different streams); the writer's message is flushed at a change */
    if (l->sctp && ipfix_template_is_options(tmpl) != l->building_options) {
        ipfix_writer_flush(l->writer);
        l->building_options = !l->building_options;
    }
    ipfix_status st = ipfix_writer_add_record(l->writer, tmpl, record, length);
    if (st != IPFIX_OK) {
        pthread_mutex_lock(&l->lock);
        count_lost(l, 1, packets, octets);
        pthread_mutex_unlock(&l->lock);
        return st;
    }
    l->cur_packets += packets;
    l->cur_octets += octets;
    return IPFIX_OK;
}

ipfix_status collector_link_flush(collector_link *l) {
    return ipfix_writer_flush(l->writer); /* sessions: the sink wakes the sender */
}

void collector_link_tick(collector_link *l) {
    if (l->session) {
        pthread_mutex_lock(&l->lock);
        pthread_cond_signal(&l->wake);
        pthread_mutex_unlock(&l->lock);
    } else if (refresh_due(l) && link_up(l)) {
        send_templates(l, ipfix_writer_next_sequence(l->writer, l->config.odid));
    }
}

void collector_link_get_stats(const collector_link *link, collector_link_stats *stats) {
    collector_link *l = (collector_link *)link; /* the lock, not the link, changes */
    pthread_mutex_lock(&l->lock);
    *stats = l->stats;
    stats->queued_messages = l->queued_messages + (l->inflight_valid ? 1 : 0);
    pthread_mutex_unlock(&l->lock);
}

/* TLS: the Collector sends things we never read (TLS 1.3 session tickets,
 * its close_notify). Closing a socket with unread input makes the kernel
 * send a reset, and a reset makes the Collector's kernel discard whatever
 * it has not read yet: the end of our stream. So after our close_notify
 * and FIN, read (and drop) until the Collector closes its side, at most
 * CLOSE_WAIT_MS. */
static void close_wait(collector_link *l) {
    uint64_t deadline = monotonic_ms() + CLOSE_WAIT_MS;
    uint8_t buf[4096];
    for (;;) {
        ssize_t r = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0) return;
        if (r > 0) continue;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return;
        uint64_t now = monotonic_ms();
        if (now >= deadline) return;
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        poll(&p, 1, (int)(deadline - now));
    }
}

void collector_link_close(collector_link *l, unsigned drain_ms, collector_link_stats *final) {
    if (!l) return;
    l->closing = true;
    if (l->writer) ipfix_writer_flush(l->writer);
    if (l->sender_started) { /* it delivers what it can within drain_ms, then ends */
        pthread_mutex_lock(&l->lock);
        l->draining = true;
        l->drain_deadline_ms = monotonic_ms() + drain_ms;
        pthread_cond_signal(&l->wake);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->sender, NULL);
    }
    /* from here on this thread alone uses the link */
    if (l->inflight_valid)
        count_lost(l, l->inflight_meta.records, l->inflight_meta.packets,
                   l->inflight_meta.octets);
    l->inflight_valid = false;
    while (l->queued_messages) queue_drop_oldest(l);
    ipfix_writer_free(l->writer);
#ifdef IPFIXKIT_HAVE_SCTP
    /* delivered before the SHUTDOWN (RFC 7011 §10.2.4); under loss the
     * retransmission timer backs off (1, 2, 4 s...): wait longer than TCP */
    uint64_t waited = monotonic_ms();
    if (l->assoc &&
        !ipfix_sctp_wait_acked(l->assoc, drain_ms > SCTP_CLOSE_WAIT_MS ? drain_ms
                                                                       : SCTP_CLOSE_WAIT_MS))
        link_log(l, "closing with messages the collector has not acknowledged after %llu ms%s: "
                    "they are lost unless the stack delivers them during the shutdown",
                 (unsigned long long)(monotonic_ms() - waited),
                 ipfix_sctp_alive(l->assoc) ? "" : " (association gone)");
#endif
    if (final) collector_link_get_stats(l, final);
    if (l->fd >= 0) {
        ipfix_tls_conn_shutdown(l->tls_conn); /* close_notify */
        if (l->tcp) shutdown(l->fd, SHUT_WR);
        if (l->tls_conn && l->tcp) close_wait(l); /* DTLS: no stream to wait for */
    }
    close_session(l);
#ifdef IPFIXKIT_HAVE_SCTP
    ipfix_sctp_stack_release(l->stack);
#endif
    ipfix_tls_context_free(l->tls_context);
    free(l->queue);
    free(l->inflight);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->space);
    pthread_mutex_destroy(&l->lock);
#ifdef IPFIXKIT_HAVE_SCTP
    free(l->sctp_message);
#endif
    free(l);
}
