/*
 * collector.c — the Collecting Process (see collect.h): listeners, worker
 * threads with one epoll loop each, TCP framing, the stop/drain sequence,
 * rotation requests and the statistics report.
 *
 * Each worker owns one SO_REUSEPORT socket per listener, so a Transport
 * Session (a UDP exporter's address/port, or a TCP connection) is always
 * served by one worker and needs no locking. UDP datagrams are read in
 * batches with recvmmsg; each datagram is one IPFIX Message (RFC 7011
 * §10.3.3). TCP is a byte stream framed by the message header's length
 * (§10.4.3); a header that cannot start a message ends the connection
 * (§10.4.2.2: the Collecting Process SHOULD reset the connection).
 *
 * TLS listeners (RFC 7011 §11, RFC 5153 §8.3): an accepted connection first
 * runs the server handshake, non-blocking, driven by the epoll loop (the
 * socket is watched for EPOLLIN or EPOLLOUT as the handshake asks). Once
 * the peer is verified the exporter is a TCP session read through SSL_read
 * into the same framing (tcp_frame). SSL_read may leave decrypted bytes
 * inside OpenSSL that no EPOLLIN will announce: such sessions are marked
 * (tls_backlog) and read again after the events, with a zero epoll timeout
 * while any is marked. A handshake that fails, is refused or does not
 * complete within COLLECT_TLS_HANDSHAKE_SECONDS is logged (warning, with the
 * address and the reason), counted in the listener's tls_failures and
 * closed; it never becomes a session in the report.
 *
 * DTLS listeners (dtls://, RFC 7011 §10-11 over UDP, RFC 5153 §6 and §8):
 * each worker's SO_REUSEPORT socket of the listener runs only the
 * stateless cookie exchange (RFC 6347 §4.2.1, ipfix_dtls_listener): no
 * state is kept for a peer until its ClientHello echoes a valid cookie.
 * Then (admitted as any session: allowed prefixes, --max-sessions, memory)
 * the worker opens a UDP socket for that peer, bound to the listener's
 * address in the same SO_REUSEPORT group and connected to the peer, so the
 * kernel delivers the peer's further datagrams to it; the socket joins
 * the worker's epoll and the server handshake continues on it, with the
 * timeout, refusal log and tls_failures count of TLS. Once verified, the
 * exporter is a UDP Transport Session ("dtls 192.0.2.1:5000": UDP template
 * rules, RFC 7011 §10.3 / RFC 5153 §6.1): each decrypted record is one
 * IPFIX Message. The session ends on the exporter's close_notify, a fatal
 * alert, or UDP's idle timeout; the collector sends close_notify when it
 * stops, which a DTLS exporter takes as the end of the session.
 *
 * SCTP listeners (RFC 7011 §10.2; built with IPFIXKIT_HAVE_SCTP): sctp://
 * natively over raw IP (root or CAP_NET_RAW), sctp+udp:// over UDP
 * encapsulation (RFC 6951). usrsctp runs one stack per process, native
 * when any listener is sctp://, whose UDP encapsulation port is the
 * sctp+udp:// listener's port (so one such port per collector); a native
 * stack's listener takes both kinds of association on its SCTP port.
 * usrsctp sockets are not kernel fds, so
 * worker 0 owns every SCTP listener and its associations: the stack's
 * upcalls write to an eventfd in worker 0's epoll, and on that event the
 * worker accepts the waiting associations (admitted like TCP connections)
 * and reads every association until it has nothing more. Each SCTP message
 * is one IPFIX Message (message boundaries are kept; messages delivered in
 * parts are reassembled), from any stream (RFC 7011 §9.2, RFC 5153 §6.1:
 * "MUST be able to process any Message received on any stream"); the
 * session follows the SCTP template rules (templates live until withdrawn
 * or the association ends). A message with a bad header is counted and
 * dropped; the association goes on (boundaries cannot be lost). The
 * session ends when the exporter shuts the association down or it is
 * aborted; a restarted exporter's new association is a new session.
 *
 * Stop (ipfix_collector_stop): the workers close their TCP listening
 * sockets (no new connections), read every socket until nothing is left
 * (UDP queues and TCP receive buffers: everything TCP has acknowledged is
 * read), then close their files (fsync + rename) and exit.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "collect/collect_internal.h"
#include "ipfixkit/reader.h"
#include "ipfixkit/uri.h"
#ifdef IPFIXKIT_HAVE_SCTP
#include "ipfixkit/sctp.h"
#endif

#define COLLECT_EPOLL_EVENTS 64
#define COLLECT_TCP_READS_PER_EVENT 16
#define COLLECT_SESSION_MEMORY (64u << 10) /* estimate per session beyond buffers */

void ipfix_collector_config_init(ipfix_collector_config *config) {
    memset(config, 0, sizeof *config);
    config->rotate_seconds = 300;
    config->fsync = true;
    config->max_sessions = 4096;
    config->max_templates = 4096;
    config->udp_rcvbuf = 32u << 20;
}

/* ------------------------------------------------------------ setup */

static ipfix_status open_sockets(ipfix_collector *c, collect_worker *w, ipfix_error *err) {
    for (unsigned i = 0; i < c->listener_count; i++) {
        collect_listener *l = &c->listeners[i];
        int fd;
        if (l->sctp) {
            w->sockets[i].kind = COLLECT_SOURCE_SCTP_LISTEN;
            w->sockets[i].listener = i;
            if (w->index != 0) continue; /* worker 0 serves SCTP */
#ifdef IPFIXKIT_HAVE_SCTP
            fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (fd < 0)
                return ipfix_error_set(err, IPFIX_ERR_IO, 0, "eventfd", "%s", strerror(errno));
            w->sockets[i].fd = fd;
            ipfix_status st = ipfix_sctp_listen(c->sctp_stack, (struct sockaddr *)&l->addr,
                                                l->addr_length, COLLECT_SCTP_STREAMS, fd,
                                                &w->sctp[i], err);
            if (st != IPFIX_OK) return st;
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->sockets[i]};
            if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return ipfix_error_set(err, IPFIX_ERR_IO, 0, "epoll", "%s", strerror(errno));
#endif
            continue;
        }
        if (l->dtls) /* handshakes only: a small buffer */
            fd = ipfix_udp_listener_open((struct sockaddr *)&l->addr, l->addr_length,
                                         COLLECT_DTLS_RCVBUF);
        else if (l->transport == IPFIX_TRANSPORT_UDP)
            fd = ipfix_udp_listener_open((struct sockaddr *)&l->addr, l->addr_length,
                                         c->config.udp_rcvbuf);
        else
            fd = ipfix_tcp_listener_open((struct sockaddr *)&l->addr, l->addr_length, 1024);
        if (fd < 0)
            return ipfix_error_set(err, IPFIX_ERR_IO, 0, "RFC 7011 §10: listener",
                                   "%.200s: %s", l->uri, strerror(errno));
        w->sockets[i].fd = fd;
        w->sockets[i].listener = i;
        w->sockets[i].kind = l->dtls ? COLLECT_SOURCE_DTLS_LISTEN
                             : l->transport == IPFIX_TRANSPORT_UDP ? COLLECT_SOURCE_UDP
                                                                   : COLLECT_SOURCE_TCP_LISTEN;
        if (l->dtls) {
            ipfix_status st = ipfix_dtls_listener_new(c->dtls, fd, &w->dtls[i], err);
            if (st != IPFIX_OK) return st;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->sockets[i]};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            return ipfix_error_set(err, IPFIX_ERR_IO, 0, "epoll", "%s", strerror(errno));
    }
    return IPFIX_OK;
}

static ipfix_status worker_init(ipfix_collector *c, collect_worker *w, unsigned index,
                                ipfix_error *err) {
    w->collector = c;
    w->index = index;
    for (unsigned i = 0; i < IPFIX_COLLECT_MAX_LISTENERS; i++) w->sockets[i].fd = -1;
    pthread_mutex_init(&w->lock, NULL);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) return ipfix_error_set(err, IPFIX_ERR_IO, 0, "epoll", "%s", strerror(errno));
    if (ipfix_udp_batch_init(&w->batch) < 0)
        return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "UDP batch");
    w->table_size = 1024;
    w->table = calloc(w->table_size, sizeof *w->table);
    if (!w->table) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "table");
    if (c->config.store_dir && !c->config.per_exporter_dirs) {
        char tag[16];
        snprintf(tag, sizeof tag, "w%u", index);
        w->store = collect_store_new(c->config.store_dir, c->config.rotate_seconds, tag,
                                     c->config.fsync, false, c->closer);
        if (!w->store) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "store");
    }
    if (c->config.json) {
        ipfix_render_options ro = {IPFIX_RENDER_JSON, false};
        w->renderer = ipfix_renderer_new(&ro);
        if (!w->renderer) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "renderer");
    }
    return open_sockets(c, w, err);
}

#ifdef IPFIXKIT_HAVE_SCTP
/* The process's usrsctp stack for an SCTP listener, started at the first
 * one: native (raw IP sockets) when any listener is sctp://, its UDP
 * encapsulation port the first sctp+udp:// listener's (RFC 6951), so every
 * sctp+udp:// listener must have that port. */
static ipfix_status acquire_sctp_stack(ipfix_collector *c, const ipfix_endpoint *ep,
                                       const char *uri, ipfix_error *err) {
    if (!c->sctp_stack) {
        bool native = false;
        uint16_t udp_port = 0;
        for (unsigned i = 0; i < c->config.listen_count; i++) {
            ipfix_endpoint other;
            ipfix_error ignored;
            if (ipfix_endpoint_parse(c->config.listen[i], &other, &ignored) != IPFIX_OK) continue;
            if (other.scheme == IPFIX_SCHEME_SCTP) native = true;
            if (other.scheme == IPFIX_SCHEME_SCTP_UDP && !udp_port) udp_port = other.port;
        }
        ipfix_status st = ipfix_sctp_stack_acquire(udp_port, native, &c->sctp_stack, err);
        if (st != IPFIX_OK) return st;
    }
    if (ep->scheme == IPFIX_SCHEME_SCTP_UDP && ipfix_sctp_stack_udp_port(c->sctp_stack) != ep->port)
        return ipfix_error_set(err, IPFIX_ERR_UNSUPPORTED, 0, "listener",
                               "%.200s: one sctp+udp:// port per process (usrsctp has one "
                               "UDP encapsulation port)",
                               uri);
    return IPFIX_OK;
}
#endif

static ipfix_status parse_listeners(ipfix_collector *c, ipfix_error *err) {
    for (unsigned i = 0; i < c->config.listen_count; i++) {
        ipfix_endpoint ep;
        ipfix_status st = ipfix_endpoint_parse(c->config.listen[i], &ep, err);
        if (st != IPFIX_OK) return st;
        collect_listener *l = &c->listeners[c->listener_count];
        if (ep.scheme == IPFIX_SCHEME_UDP) l->transport = IPFIX_TRANSPORT_UDP;
        else if (ep.scheme == IPFIX_SCHEME_TCP) l->transport = IPFIX_TRANSPORT_TCP;
        else if (ep.scheme == IPFIX_SCHEME_TLS) l->transport = IPFIX_TRANSPORT_TCP, l->tls = true;
        /* DTLS is UDP for the session rules (RFC 5153 §6.1) */
        else if (ep.scheme == IPFIX_SCHEME_DTLS)
            l->transport = IPFIX_TRANSPORT_UDP, l->tls = true, l->dtls = true;
#ifdef IPFIXKIT_HAVE_SCTP
        else if (ep.scheme == IPFIX_SCHEME_SCTP || ep.scheme == IPFIX_SCHEME_SCTP_UDP) {
            l->transport = IPFIX_TRANSPORT_SCTP, l->sctp = true;
            l->sctp_udp = ep.scheme == IPFIX_SCHEME_SCTP_UDP;
            st = acquire_sctp_stack(c, &ep, c->config.listen[i], err);
            if (st != IPFIX_OK) return st;
        }
#else
        else if (ep.scheme == IPFIX_SCHEME_SCTP || ep.scheme == IPFIX_SCHEME_SCTP_UDP)
            return ipfix_error_set(err, IPFIX_ERR_UNSUPPORTED, 0, "listener",
                                   "%.200s: SCTP support not built (configure with "
                                   "-DIPFIXKIT_SCTP=ON and libusrsctp-dev)",
                                   c->config.listen[i]);
#endif
        else
            return ipfix_error_set(err, IPFIX_ERR_UNSUPPORTED, 0, "listener",
                                   "%.200s: only udp://, tcp://, tls://, dtls://, sctp:// and "
                                   "sctp+udp:// are supported",
                                   c->config.listen[i]);
        ipfix_tls_context **x = l->dtls ? &c->dtls : &c->tls;
        if (l->tls && !*x) {
            const ipfix_tls_config *t = &c->config.tls;
            if (!t->cert || !t->key || !t->ca)
                return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "RFC 7011 §11.3",
                                       "%.60s: %s:// needs a certificate, its key and a CA file",
                                       c->config.listen[i], l->dtls ? "dtls" : "tls");
            st = l->dtls ? ipfix_tls_context_new_dtls(t, true, x, err)
                         : ipfix_tls_context_new(t, true, x, err);
            if (st != IPFIX_OK) return st;
        }
        st = ipfix_endpoint_resolve(&ep, true, &l->addr, &l->addr_length, err);
        if (st != IPFIX_OK) return st;
        ipfix_endpoint_format(&ep, l->uri, sizeof l->uri);
        c->listener_count++;
    }
    if (c->listener_count == 0)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "listener", "no listener given");
    return IPFIX_OK;
}

static void recovered(void *context, const char *temp_path, const char *final_path,
                      uint64_t bytes, uint64_t messages, bool kept) {
    const ipfix_collector_config *c = context;
    char line[1200];
    if (kept)
        snprintf(line, sizeof line,
                 "store: recovered an interrupted file: %llu complete messages (%llu bytes) "
                 "of %.400s kept as %.400s",
                 (unsigned long long)messages, (unsigned long long)bytes, temp_path, final_path);
    else
        snprintf(line, sizeof line,
                 "store: removed an interrupted file without a complete message: %.400s",
                 temp_path);
    if (c->log) c->log(c->log_context, IPFIX_LOG_WARNING, line);
}

ipfix_status ipfix_collector_new(const ipfix_collector_config *config, ipfix_collector **out,
                                 ipfix_error *err) {
    *out = NULL;
    if (!config->model || config->listen_count > IPFIX_COLLECT_MAX_LISTENERS ||
        config->allow_count > IPFIX_COLLECT_MAX_PREFIXES ||
        (config->per_exporter_dirs && !config->store_dir))
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "collector", "bad configuration");
    ipfix_collector *c = calloc(1, sizeof *c);
    if (!c) return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "collector");
    c->config = *config;
    pthread_mutex_init(&c->json_lock, NULL);
    if (config->store_dir) {
        c->closer = collect_store_closer_new(config->log, config->log_context);
        if (!c->closer) {
            pthread_mutex_destroy(&c->json_lock);
            free(c);
            return ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "store closer");
        }
    }
    c->worker_count = config->workers;
    if (c->worker_count == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->worker_count = n > 0 ? (unsigned)n : 1;
    }
    if (c->worker_count > 64) c->worker_count = 64;
    ipfix_status st = parse_listeners(c, err);
    if (st == IPFIX_OK && config->store_dir &&
        collect_store_recover(config->store_dir, recovered, &c->config) < 0)
        st = ipfix_error_set(err, IPFIX_ERR_IO, 0, "store", "%.200s: %s", config->store_dir,
                             strerror(errno));
    if (st == IPFIX_OK) {
        c->workers = calloc(c->worker_count, sizeof *c->workers);
        if (!c->workers) st = ipfix_error_set(err, IPFIX_ERR_NOMEM, 0, "memory", "workers");
    }
    for (unsigned i = 0; st == IPFIX_OK && i < c->worker_count; i++)
        st = worker_init(c, &c->workers[i], i, err);
    if (st != IPFIX_OK) {
        c->stopped = true;
        ipfix_collector_free(c);
        return st;
    }
    *out = c;
    return IPFIX_OK;
}

/* ------------------------------------------------------------ sessions */

static size_t address_hash(const struct sockaddr_storage *a, unsigned listener) {
    uint64_t h = 1469598103934665603ull ^ listener;
    const uint8_t *p;
    size_t n;
    if (a->ss_family == AF_INET6) {
        p = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
        n = 16;
        h ^= ((const struct sockaddr_in6 *)a)->sin6_port;
    } else {
        p = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
        n = 4;
        h ^= ((const struct sockaddr_in *)a)->sin_port;
    }
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family) return false;
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* May this exporter open a session? Logs (rate-limited) when not. */
static bool admit(collect_worker *w, const struct sockaddr_storage *addr, unsigned listener,
                  size_t memory) {
    ipfix_collector *c = w->collector;
    char name[64];
    uint8_t family, bytes[16];
    uint16_t port;
    collect_format_address(addr, name, sizeof name, &family, bytes, &port);
    const char *why = NULL;
    if (c->config.allow_count) {
        bool ok = false;
        for (unsigned i = 0; i < c->config.allow_count && !ok; i++)
            ok = ipfix_prefix_match(&c->config.allow[i], family, bytes);
        if (!ok) why = "address not in the allowed prefixes";
    }
    if (!why && c->config.max_sessions && atomic_load(&c->sessions) >= c->config.max_sessions)
        why = "session limit reached (--max-sessions)";
    if (!why && c->config.max_memory && atomic_load(&c->memory) + memory > c->config.max_memory)
        why = "memory limit reached (--max-memory)";
    if (!why) return true;
    w->rejected[listener]++;
    time_t now = time(NULL);
    if (now != w->reject_log_second) {
        w->reject_log_second = now;
        collect_log(w, IPFIX_LOG_WARNING, "%s: exporter %s rejected: %s",
                    c->listeners[listener].uri, name, why);
    }
    return false;
}

static void session_opened(collect_worker *w, collect_exporter *e, size_t memory, bool log) {
    atomic_fetch_add(&w->collector->sessions, 1);
    atomic_fetch_add(&w->collector->memory, memory);
    if (log)
        collect_log(w, IPFIX_LOG_INFO, "%s: new session via %s (worker %u)", e->name,
                    w->collector->listeners[e->source.listener].uri, w->index);
}

static collect_exporter *udp_exporter(collect_worker *w, const struct sockaddr_storage *from,
                                      unsigned listener) {
    size_t slot = address_hash(from, listener) & (w->table_size - 1);
    for (collect_exporter *e = w->table[slot]; e; e = e->hash_next)
        if (e->source.listener == listener && same_address(&e->addr, from)) return e;
    if (!admit(w, from, listener, COLLECT_SESSION_MEMORY)) return NULL;
    collect_exporter *e = collect_exporter_new(w, IPFIX_TRANSPORT_UDP, from, listener);
    if (!e) {
        collect_log(w, IPFIX_LOG_ERROR, "out of memory for a new UDP session");
        return NULL;
    }
    e->hash_next = w->table[slot];
    w->table[slot] = e;
    session_opened(w, e, COLLECT_SESSION_MEMORY, true);
    return e;
}

/* ------------------------------------------------------------ UDP */

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Has the UDP exporter restarted (RFC 5471 §3.6.2)? A restarted Exporting
 * Process starts its sequence numbers again: the message goes back in
 * sequence although it is newer than anything seen (a later export time),
 * or it is sequence number 0 where more was expected. A merely reordered
 * message carries an older or equal export time and is not a restart. */
static bool udp_restarted(collect_exporter *e, const uint8_t *m, size_t length) {
    if (length < IPFIX_MESSAGE_HEADER_SIZE || m[0] != 0 || m[1] != IPFIX_VERSION) return false;
    uint32_t export_time = get32(m + 4), sequence = get32(m + 8), odid = get32(m + 12);
    const ipfix_domain_stats *d = ipfix_session_domain(e->session, odid, false);
    if (!d || !d->sequence_known || d->messages == 0) return false;
    uint32_t behind = d->next_sequence - sequence; /* modulo 2^32 */
    if (behind == 0 || behind > 0x80000000u) return false; /* on time or ahead */
    return export_time > d->last_export_time || sequence == 0;
}

static void udp_unlink(collect_worker *w, collect_exporter *e) {
    size_t slot = address_hash(&e->addr, e->source.listener) & (w->table_size - 1);
    collect_exporter **pp = &w->table[slot];
    while (*pp && *pp != e) pp = &(*pp)->hash_next;
    if (*pp) *pp = e->hash_next;
    e->hash_next = NULL;
}

/* A UDP exporter silent for longer than the template lifetime: its session
 * ends (counters kept); a later message starts a new one. */
static void udp_expire(collect_worker *w, collect_exporter *e) {
    udp_unlink(w, e);
    collect_log(w, IPFIX_LOG_INFO, "%s: session closed: idle for more than %d s", e->name,
                COLLECT_UDP_IDLE_SECONDS);
    collect_exporter_retire(w, e);
    atomic_fetch_sub(&w->collector->sessions, 1);
    atomic_fetch_sub(&w->collector->memory, COLLECT_SESSION_MEMORY);
}

/* Replace a restarted exporter's session by a fresh one (new templates,
 * new sequence baseline); the old counters stay in the report. */
static collect_exporter *udp_restart(collect_worker *w, collect_exporter *e) {
    size_t slot = address_hash(&e->addr, e->source.listener) & (w->table_size - 1);
    udp_unlink(w, e);
    collect_exporter_log(w, e, IPFIX_LOG_WARNING,
                         "exporter restarted (sequence numbers started again): new session "
                         "with fresh templates (RFC 5471 §3.6.2)");
    collect_exporter_retire(w, e);
    collect_exporter *fresh = collect_exporter_new(w, IPFIX_TRANSPORT_UDP, &e->addr,
                                                   e->source.listener);
    if (!fresh) {
        collect_log(w, IPFIX_LOG_ERROR, "out of memory for a new UDP session");
        atomic_fetch_sub(&w->collector->sessions, 1);
        atomic_fetch_sub(&w->collector->memory, COLLECT_SESSION_MEMORY);
        return NULL;
    }
    fresh->hash_next = w->table[slot];
    w->table[slot] = fresh;
    return fresh;
}

/* Read one batch from a UDP socket; returns datagrams read. */
static int udp_read(collect_worker *w, collect_source *s) {
    int n = ipfix_udp_receive(s->fd, &w->batch, &w->socket_drops[s->listener]);
    if (n <= 0) return 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (int i = 0; i < n; i++) {
        collect_exporter *e = udp_exporter(w, &w->batch.from[i], s->listener);
        if (!e) continue;
        const uint8_t *data = w->batch.data + (size_t)i * IPFIX_UDP_DATAGRAM_MAX;
        if (udp_restarted(e, data, w->batch.msgs[i].msg_len) && !(e = udp_restart(w, e)))
            continue;
        collect_exporter_message(w, e, data, w->batch.msgs[i].msg_len, 0, &now);
    }
    return n;
}

/* ------------------------------------------------------------ TCP */

static void tls_backlog_set(collect_worker *w, collect_exporter *e, bool on) {
    if (e->tls_backlog == on) return;
    e->tls_backlog = on;
    if (on) w->tls_backlog++;
    else w->tls_backlog--;
}

/* Memory accounted for a connection-like session (TCP, TLS, DTLS). */
static size_t session_memory(const collect_exporter *e) {
    return COLLECT_SESSION_MEMORY +
           (e->source.kind == COLLECT_SOURCE_DTLS_CONN ? COLLECT_DTLS_BUFFER : COLLECT_TCP_BUFFER);
}

static void tcp_close(collect_worker *w, collect_exporter *e, const char *reason) {
    if (e->source.fd < 0) return;
    char why[400]; /* `reason` may be the TLS connection's, freed below */
    snprintf(why, sizeof why, "%s", reason);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, e->source.fd, NULL);
    if (e->tls) {
        ipfix_tls_conn_shutdown(e->tls); /* close_notify */
        ipfix_tls_conn_free(e->tls);
        e->tls = NULL;
        tls_backlog_set(w, e, false);
    }
    close(e->source.fd);
    e->source.fd = -1;
    collect_log(w, IPFIX_LOG_INFO, "%s: session closed: %s", e->name, why);
    collect_exporter_retire(w, e);
    atomic_fetch_sub(&w->collector->sessions, 1);
    atomic_fetch_sub(&w->collector->memory, session_memory(e));
}

/* TLS failures: COLLECT_LOG_BURST lines per second per worker. */
static void tls_log(collect_worker *w, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void tls_log(collect_worker *w, const char *format, ...) {
    time_t now = time(NULL);
    if (now != w->tls_log_second) {
        w->tls_log_second = now;
        w->tls_log_count = 0;
    }
    if (w->tls_log_count >= COLLECT_LOG_BURST) {
        w->tls_log_suppressed++;
        return;
    }
    w->tls_log_count++;
    char text[480];
    va_list ap;
    va_start(ap, format);
    vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    if (w->tls_log_suppressed) {
        collect_log(w, IPFIX_LOG_WARNING, "%s (%llu similar lines suppressed)", text,
                    (unsigned long long)w->tls_log_suppressed);
        w->tls_log_suppressed = 0;
    } else {
        collect_log(w, IPFIX_LOG_WARNING, "%s", text);
    }
}

/* A TLS connection whose handshake failed, was refused or timed out: logged,
 * counted, closed and forgotten (it never was a session). Frees `e`. */
static void tls_refuse(collect_worker *w, collect_exporter *e, const char *why) {
    unsigned listener = e->source.listener;
    w->tls_failures[listener]++;
    bool dtls = e->source.kind == COLLECT_SOURCE_DTLS_CONN;
    tls_log(w, "%s: %s handshake failed, %s refused: %s (listener %s)", e->name,
            dtls ? "DTLS" : "TLS", dtls ? "session" : "connection", why,
            w->collector->listeners[listener].uri);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, e->source.fd, NULL);
    close(e->source.fd);
    e->source.fd = -1;
    for (collect_exporter **pp = &w->exporters; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    w->sessions_total--;
    atomic_fetch_sub(&w->collector->sessions, 1);
    atomic_fetch_sub(&w->collector->memory, session_memory(e));
    collect_exporter_free(e); /* frees the TLS connection */
}

/* Advance the server handshake: 1 done (peer verified), 0 waiting (epoll
 * set for the direction it needs), -1 refused (`e` freed). */
static int tls_step(collect_worker *w, collect_exporter *e) {
    ipfix_tls_result r = ipfix_tls_conn_handshake(e->tls);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &e->source};
    switch (r) {
    case IPFIX_TLS_OK: {
        e->tls_ready = true;
        e->last_seen = time(NULL); /* DTLS: idle (UDP rules) from now */
        epoll_ctl(w->epfd, EPOLL_CTL_MOD, e->source.fd, &ev);
        char d[260];
        ipfix_tls_conn_describe(e->tls, d, sizeof d);
        collect_log(w, IPFIX_LOG_INFO, "%s: new session via %s (worker %u; %s)", e->name,
                    w->collector->listeners[e->source.listener].uri, w->index, d);
        return 1;
    }
    case IPFIX_TLS_WANT_READ:
    case IPFIX_TLS_WANT_WRITE:
        if (r == IPFIX_TLS_WANT_WRITE) ev.events = EPOLLOUT | EPOLLRDHUP;
        epoll_ctl(w->epfd, EPOLL_CTL_MOD, e->source.fd, &ev);
        return 0;
    default: {
        char why[400];
        snprintf(why, sizeof why, "%s", ipfix_tls_conn_error(e->tls));
        tls_refuse(w, e, why[0] ? why : "connection closed");
        return -1;
    }
    }
}

static void tcp_accept(collect_worker *w, collect_source *s) {
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_length;
        int fd = ipfix_tcp_accept(s->fd, &peer, &peer_length);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                collect_log(w, IPFIX_LOG_ERROR, "%s: accept: %s",
                            w->collector->listeners[s->listener].uri, strerror(errno));
            return;
        }
        size_t memory = COLLECT_SESSION_MEMORY + COLLECT_TCP_BUFFER;
        collect_exporter *e = NULL;
        if (admit(w, &peer, s->listener, memory))
            e = collect_exporter_new(w, IPFIX_TRANSPORT_TCP, &peer, s->listener);
        if (!e) {
            close(fd);
            continue;
        }
        e->source.kind = COLLECT_SOURCE_TCP_CONN;
        e->source.fd = fd;
        bool tls = w->collector->listeners[s->listener].tls;
        if (tls) {
            ipfix_error err;
            ipfix_error_clear(&err);
            snprintf(e->name, sizeof e->name, "tls %s", e->origin);
            e->tls_deadline = time(NULL) + COLLECT_TLS_HANDSHAKE_SECONDS;
            if (ipfix_tls_conn_new(w->collector->tls, fd, NULL, &e->tls, &err) != IPFIX_OK) {
                collect_log(w, IPFIX_LOG_ERROR, "%s: %s", e->name, err.detail);
                e->tls = NULL;
            }
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &e->source};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
        session_opened(w, e, memory, !tls);
        if (tls && !e->tls) tls_refuse(w, e, "out of memory");
        else if (tls) tls_step(w, e); /* the ClientHello may be there already */
    }
}

/* Frame and process the complete messages in the receive buffer. False when
 * the stream is broken (the connection is then closed). */
static bool tcp_frame(collect_worker *w, collect_exporter *e, const struct timespec *now) {
    size_t pos = 0;
    bool ok = true;
    while (pos < e->rx_length) {
        size_t length;
        ipfix_error err;
        ipfix_status st = ipfix_message_frame(e->rx + pos, e->rx_length - pos, &length, &err);
        if (st == IPFIX_ERR_TRUNCATED) break;
        if (st != IPFIX_OK) {
            e->header_errors++;
            e->malformed_messages++;
            collect_exporter_log(w, e, IPFIX_LOG_WARNING,
                                 "bad message header at stream offset +%zu: %s (%s); "
                                 "disconnecting (RFC 7011 §10.4.2.2)",
                                 pos, err.rule ? err.rule : "?", err.detail);
            ok = false;
            break;
        }
        if (collect_exporter_message(w, e, e->rx + pos, length, 0, now) != IPFIX_OK) {
            collect_exporter_log(w, e, IPFIX_LOG_WARNING, "disconnecting (RFC 7011 §10.4.2.2)");
            ok = false;
            break;
        }
        pos += length;
    }
    if (pos > 0) {
        memmove(e->rx, e->rx + pos, e->rx_length - pos);
        e->rx_length -= pos;
    }
    return ok;
}

/* One SSL_read into the receive buffer: like read(2): bytes, 0 at the end
 * of the session (closed), -1 with errno EAGAIN (nothing yet) or EPROTO
 * (*why says what went wrong). */
static ssize_t tls_read(collect_exporter *e, const char **why) {
    size_t got = 0;
    size_t space = COLLECT_TCP_BUFFER - e->rx_length;
    if (space == 0) {
        errno = EAGAIN;
        return -1;
    }
    switch (ipfix_tls_conn_read(e->tls, e->rx + e->rx_length, space, &got)) {
    case IPFIX_TLS_OK: return (ssize_t)got;
    case IPFIX_TLS_WANT_READ:
    case IPFIX_TLS_WANT_WRITE: errno = EAGAIN; return -1;
    case IPFIX_TLS_CLOSED: *why = ipfix_tls_conn_error(e->tls); return 0;
    default: *why = ipfix_tls_conn_error(e->tls); errno = EPROTO; return -1;
    }
}

/* Read what the connection has (bounded); returns bytes read. A TLS
 * connection still in its handshake advances the handshake instead (and
 * may be freed: callers do not touch `e` after a handshake step). */
static size_t tcp_read(collect_worker *w, collect_exporter *e, int max_reads) {
    size_t total = 0;
    if (e->tls && !e->tls_ready && tls_step(w, e) != 1) return 0;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (int i = 0; i < max_reads && e->source.fd >= 0; i++) {
        const char *why = NULL;
        ssize_t n = e->tls ? tls_read(e, &why)
                           : read(e->source.fd, e->rx + e->rx_length, COLLECT_TCP_BUFFER - e->rx_length);
        if (n < 0 && why) {
            collect_exporter_log(w, e, IPFIX_LOG_WARNING, "TLS session failed: %s", why);
            tcp_close(w, e, why);
            break;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) tcp_close(w, e, strerror(errno));
            break;
        }
        if (n == 0) {
            if (e->rx_length)
                collect_exporter_log(w, e, IPFIX_LOG_WARNING,
                                     "connection closed inside a message (%zu bytes left)",
                                     e->rx_length);
            tcp_close(w, e, why && why[0] ? why : "closed by the exporter");
            break;
        }
        total += (size_t)n;
        e->rx_length += (size_t)n;
        if (!tcp_frame(w, e, &now)) {
            tcp_close(w, e, "bad message");
            break;
        }
    }
    if (e->tls) tls_backlog_set(w, e, e->source.fd >= 0 && ipfix_tls_conn_pending(e->tls) > 0);
    return total;
}

/* ------------------------------------------------------------ DTLS */

#define COLLECT_DTLS_ACCEPTS_PER_EVENT 64

/* ClientHellos with a valid cookie on a dtls:// listening socket: a session
 * each (its own connected socket in this worker's epoll), handshake
 * started. The cookie exchange itself keeps no state (RFC 6347 §4.2.1). */
static void dtls_accept(collect_worker *w, collect_source *s) {
    ipfix_collector *c = w->collector;
    const collect_listener *l = &c->listeners[s->listener];
    ipfix_dtls_listener *dl = w->dtls[s->listener];
    struct sockaddr_storage peer;
    socklen_t peer_length;
    for (int i = 0; i < COLLECT_DTLS_ACCEPTS_PER_EVENT &&
                    ipfix_dtls_listener_next(dl, &peer, &peer_length);
         i++) {
        size_t memory = COLLECT_SESSION_MEMORY + COLLECT_DTLS_BUFFER;
        if (!admit(w, &peer, s->listener, memory)) {
            ipfix_dtls_listener_reject(dl);
            continue;
        }
        int fd = ipfix_udp_connected_open((const struct sockaddr *)&l->addr, l->addr_length,
                                          (const struct sockaddr *)&peer, peer_length,
                                          COLLECT_DTLS_RCVBUF);
        collect_exporter *e = fd >= 0 ? collect_exporter_new(w, IPFIX_TRANSPORT_UDP, &peer,
                                                             s->listener)
                                      : NULL;
        uint8_t *rx = e ? malloc(COLLECT_DTLS_BUFFER) : NULL;
        if (!rx) {
            collect_log(w, IPFIX_LOG_ERROR, "%s: cannot open a DTLS session: %s", l->uri,
                        fd < 0 ? strerror(errno) : "out of memory");
            ipfix_dtls_listener_reject(dl);
            if (e) { /* never a session: unlisted again */
                w->exporters = e->next;
                w->sessions_total--;
                collect_exporter_free(e);
            }
            if (fd >= 0) close(fd);
            continue;
        }
        e->rx = rx;
        e->source.kind = COLLECT_SOURCE_DTLS_CONN;
        e->source.fd = fd;
        snprintf(e->name, sizeof e->name, "dtls %s", e->origin);
        e->tls_deadline = time(NULL) + COLLECT_TLS_HANDSHAKE_SECONDS;
        ipfix_error err;
        ipfix_error_clear(&err);
        if (ipfix_dtls_listener_accept(dl, fd, &e->tls, &err) != IPFIX_OK) e->tls = NULL;
        else ipfix_tls_conn_set_mtu(e->tls, COLLECT_DTLS_MTU);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &e->source};
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
        session_opened(w, e, memory, false);
        if (!e->tls) tls_refuse(w, e, err.detail[0] ? err.detail : "out of memory");
        else tls_step(w, e); /* sends the ServerHello flight */
    }
}

/* Read a DTLS session: each record is one IPFIX Message (UDP rules: a bad
 * message is counted, the session goes on). Returns the records read. A
 * session still in its handshake advances it instead (and may be freed). */
static size_t dtls_read(collect_worker *w, collect_exporter *e, int max_reads) {
    if (!e->tls_ready) {
        tls_step(w, e);
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t records = 0;
    int i = 0;
    for (; i < max_reads && e->source.fd >= 0; i++) {
        size_t got = 0;
        ipfix_tls_result r = ipfix_tls_conn_read(e->tls, e->rx, COLLECT_DTLS_BUFFER, &got);
        if (r == IPFIX_TLS_WANT_READ || r == IPFIX_TLS_WANT_WRITE) break;
        if (r == IPFIX_TLS_CLOSED) {
            tcp_close(w, e, "closed by the exporter (close_notify)");
            break;
        }
        if (r != IPFIX_TLS_OK) {
            char why[400];
            snprintf(why, sizeof why, "%s", ipfix_tls_conn_error(e->tls));
            collect_exporter_log(w, e, IPFIX_LOG_WARNING, "DTLS session failed: %s", why);
            tcp_close(w, e, why);
            break;
        }
        records++;
        collect_exporter_message(w, e, e->rx, got, 0, &now);
    }
    /* more records may wait (a full read budget, or several in a datagram) */
    if (e->tls) tls_backlog_set(w, e, e->source.fd >= 0 && i == max_reads);
    return records;
}

/* ------------------------------------------------------------ SCTP */

#ifdef IPFIXKIT_HAVE_SCTP
static void sctp_close(collect_worker *w, collect_exporter *e, const char *why) {
    if (!e->sctp) return;
    ipfix_sctp_assoc_close(e->sctp, false);
    e->sctp = NULL;
    collect_log(w, IPFIX_LOG_INFO, "%s: session closed: %s", e->name, why);
    collect_exporter_retire(w, e);
    atomic_fetch_sub(&w->collector->sessions, 1);
    atomic_fetch_sub(&w->collector->memory, COLLECT_SESSION_MEMORY + COLLECT_TCP_BUFFER);
}

/* Read up to `max_reads` messages of one association; returns the count.
 * *more is set when the budget ran out with messages possibly left. */
static size_t sctp_read(collect_worker *w, collect_exporter *e, int max_reads, bool *more) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t got = 0;
    for (int i = 0; i < max_reads && e->sctp; i++) {
        size_t length = 0;
        uint16_t stream = 0;
        ipfix_sctp_result r = ipfix_sctp_recv(e->sctp, e->rx, &length, &stream);
        if (r == IPFIX_SCTP_AGAIN) return got;
        if (r == IPFIX_SCTP_CLOSED) {
            sctp_close(w, e, "association shut down by the exporter");
            return got;
        }
        if (r == IPFIX_SCTP_ERROR && errno == EMSGSIZE) { /* dropped whole; go on */
            e->header_errors++;
            e->malformed_messages++;
            collect_exporter_log(w, e, IPFIX_LOG_WARNING,
                                 "malformed message: offset 0: an SCTP message over 65535 "
                                 "bytes, dropped (RFC 7011 §3.1: Length is 16 bits)");
            continue;
        }
        if (r != IPFIX_SCTP_OK) {
            char why[200];
            snprintf(why, sizeof why, "association ended: %s", strerror(errno));
            sctp_close(w, e, why);
            return got;
        }
        got++;
        /* any stream (RFC 7011 §9.2), sequence numbers per stream (§3.1) */
        collect_exporter_message(w, e, e->rx, length, stream, &now);
    }
    if (e->sctp && more) *more = true;
    return got;
}

/* The eventfd of an SCTP listener fired: new associations, then every
 * association's messages. */
static void sctp_service(collect_worker *w, collect_source *s) {
    uint64_t count;
    ssize_t rd = read(s->fd, &count, sizeof count);
    (void)rd;
    ipfix_sctp_listener *sl = w->sctp[s->listener];
    for (int i = 0; sl && i < 64; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_length;
        ipfix_sctp_assoc *a = ipfix_sctp_accept(sl, &peer, &peer_length);
        if (!a) break;
        size_t memory = COLLECT_SESSION_MEMORY + COLLECT_TCP_BUFFER;
        collect_exporter *e = NULL;
        if (admit(w, &peer, s->listener, memory))
            e = collect_exporter_new(w, IPFIX_TRANSPORT_SCTP, &peer, s->listener);
        if (e && !(e->rx = malloc(IPFIX_SCTP_MESSAGE_MAX))) {
            w->exporters = e->next; /* never a session: unlisted again */
            w->sessions_total--;
            collect_exporter_free(e);
            e = NULL;
        }
        if (!e) {
            ipfix_sctp_assoc_close(a, true);
            continue;
        }
        e->sctp = a;
        snprintf(e->name, sizeof e->name, "%s %s",
                 w->collector->listeners[s->listener].sctp_udp ? "sctp+udp" : "sctp", e->origin);
        session_opened(w, e, memory, true);
    }
    bool more = false;
    for (collect_exporter *e = w->exporters; e; e = e->next)
        if (e->sctp && e->source.listener == s->listener)
            sctp_read(w, e, COLLECT_TCP_READS_PER_EVENT * 4, &more);
    if (more) { /* budget used up: come back after the other events */
        uint64_t one = 1;
        ssize_t wr = write(s->fd, &one, sizeof one);
        (void)wr;
    }
}
#endif

/* Read a TCP, TLS, DTLS or SCTP session. */
static size_t session_read(collect_worker *w, collect_exporter *e, int max_reads) {
#ifdef IPFIXKIT_HAVE_SCTP
    if (e->sctp) return sctp_read(w, e, max_reads, NULL);
#endif
    if (e->source.kind == COLLECT_SOURCE_DTLS_CONN) return dtls_read(w, e, max_reads);
    return tcp_read(w, e, max_reads);
}

/* ------------------------------------------------------------ loop */

static void rotate_store(collect_worker *w, collect_store *s, const struct timespec *now,
                         bool force) {
    ipfix_error err;
    ipfix_error_clear(&err);
    ipfix_status st = collect_store_rotate(s, now, force, &err);
    if (st != IPFIX_OK)
        collect_log(w, IPFIX_LOG_ERROR, "store: %s (%s)", err.rule, err.detail);
    else if (force && collect_store_last_path(s)[0])
        collect_log(w, IPFIX_LOG_INFO, "rotated: %s", collect_store_last_path(s));
}

void collect_worker_rotate(collect_worker *w, const struct timespec *now, bool force) {
    if (w->store) rotate_store(w, w->store, now, force);
    for (collect_exporter *e = w->exporters; e; e = e->next)
        if (e->store) rotate_store(w, e->store, now, force);
}

static void housekeeping(collect_worker *w) {
    ipfix_collector *c = w->collector;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    unsigned rotate = atomic_load(&c->rotate_requests);
    collect_worker_rotate(w, &now, rotate != w->rotate_seen);
    w->rotate_seen = rotate;
    if (now.tv_sec != w->last_housekeeping) {
        w->last_housekeeping = now.tv_sec;
        for (collect_exporter *e = w->exporters, *next; e; e = next) {
            next = e->next;
            if (e->tls && !e->tls_ready && e->source.fd >= 0) {
                if (now.tv_sec > e->tls_deadline) { /* 10..11 s after the accept */
                    char why[80];
                    snprintf(why, sizeof why, "handshake not completed within %d s",
                             COLLECT_TLS_HANDSHAKE_SECONDS);
                    tls_refuse(w, e, why);
                } else if (e->source.kind == COLLECT_SOURCE_DTLS_CONN &&
                           ipfix_tls_conn_timeout_ms(e->tls) == 0) {
                    tls_step(w, e); /* DTLS: retransmit our last flight */
                }
                continue;
            }
            collect_exporter_housekeeping(w, e, now.tv_sec);
            bool dtls = e->source.kind == COLLECT_SOURCE_DTLS_CONN;
            if (e->transport == IPFIX_TRANSPORT_UDP && e->session &&
                now.tv_sec - e->last_seen > COLLECT_UDP_IDLE_SECONDS) {
                if (dtls) {
                    char why[80];
                    snprintf(why, sizeof why, "idle for more than %d s", COLLECT_UDP_IDLE_SECONDS);
                    tcp_close(w, e, why);
                } else {
                    udp_expire(w, e);
                }
            }
        }
        collect_exporter_fold_retired(w);
    }
    collect_json_flush(w, 0);
}

static void handle(collect_worker *w, collect_source *s) {
    switch (s->kind) {
    case COLLECT_SOURCE_UDP:
        for (int i = 0; i < 8 && udp_read(w, s) == (int)IPFIX_UDP_BATCH; i++) {}
        break;
    case COLLECT_SOURCE_TCP_LISTEN: tcp_accept(w, s); break;
    case COLLECT_SOURCE_TCP_CONN:
        tcp_read(w, (collect_exporter *)s, COLLECT_TCP_READS_PER_EVENT);
        break;
    case COLLECT_SOURCE_DTLS_LISTEN: dtls_accept(w, s); break;
    case COLLECT_SOURCE_DTLS_CONN:
        dtls_read(w, (collect_exporter *)s, COLLECT_TCP_READS_PER_EVENT * 4);
        break;
    case COLLECT_SOURCE_SCTP_LISTEN:
#ifdef IPFIXKIT_HAVE_SCTP
        sctp_service(w, s);
#endif
        break;
    }
}

/* After stop: no new connections; read every socket until all are empty. */
static void drain(collect_worker *w) {
    ipfix_collector *c = w->collector;
    for (unsigned i = 0; i < c->listener_count; i++) {
        if ((w->sockets[i].kind != COLLECT_SOURCE_TCP_LISTEN &&
             w->sockets[i].kind != COLLECT_SOURCE_DTLS_LISTEN) ||
            w->sockets[i].fd < 0)
            continue;
        close(w->sockets[i].fd);
        w->sockets[i].fd = -1;
    }
#ifdef IPFIXKIT_HAVE_SCTP
    for (unsigned i = 0; i < c->listener_count; i++) { /* no new associations */
        ipfix_sctp_listener_close(w->sctp[i]);
        w->sctp[i] = NULL;
    }
#endif
    for (collect_exporter *e = w->exporters, *next; e; e = next) {
        next = e->next;
        if (e->tls && !e->tls_ready && e->source.fd >= 0)
            tls_refuse(w, e, "collector stopping during the handshake");
    }
#ifdef IPFIXKIT_HAVE_SCTP
    /* SCTP: SHUTDOWN first, then read until each association has closed:
     * whatever the exporter sent before it got our SHUTDOWN is read, none of
     * what our stack acknowledged is lost (RFC 4960 §9.2) */
    bool sctp_open = false;
    for (collect_exporter *e = w->exporters; e; e = e->next)
        if (e->sctp) ipfix_sctp_assoc_shutdown(e->sctp), sctp_open = true;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
#endif
    for (int round = 0; round < 100000; round++) {
        size_t got = 0;
        for (unsigned i = 0; i < c->listener_count; i++)
            if (w->sockets[i].kind == COLLECT_SOURCE_UDP)
                while (udp_read(w, &w->sockets[i]) > 0) got++;
        for (collect_exporter *e = w->exporters; e; e = e->next)
            if (e->source.fd >= 0 || e->sctp) got += session_read(w, e, 1 << 20);
#ifdef IPFIXKIT_HAVE_SCTP
        if (got == 0 && sctp_open) { /* wait for the shutdowns, bounded */
            sctp_open = false;
            for (collect_exporter *e = w->exporters; e; e = e->next) sctp_open |= e->sctp != NULL;
            struct timespec now, pause = {.tv_nsec = 1000000};
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (sctp_open && now.tv_sec - start.tv_sec < COLLECT_SCTP_SHUTDOWN_S) {
                nanosleep(&pause, NULL);
                continue;
            }
        }
#endif
        if (got == 0) break;
    }
    for (collect_exporter *e = w->exporters; e; e = e->next) {
        if (e->source.fd >= 0) tcp_close(w, e, "collector stopping");
#ifdef IPFIXKIT_HAVE_SCTP
        if (e->sctp) sctp_close(w, e, "collector stopping (association shut down)");
#endif
    }
}

static void *worker_main(void *arg) {
    collect_worker *w = arg;
    ipfix_collector *c = w->collector;
    struct epoll_event events[COLLECT_EPOLL_EVENTS];
    while (!atomic_load(&c->stop)) {
        int n = epoll_wait(w->epfd, events, COLLECT_EPOLL_EVENTS, w->tls_backlog ? 0 : 200);
        pthread_mutex_lock(&w->lock);
        for (int i = 0; i < n; i++) handle(w, events[i].data.ptr);
        if (w->tls_backlog) /* decrypted bytes inside OpenSSL: no EPOLLIN for them */
            for (collect_exporter *e = w->exporters; e; e = e->next)
                if (e->tls_backlog) session_read(w, e, COLLECT_TCP_READS_PER_EVENT);
        housekeeping(w);
        pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_lock(&w->lock);
    drain(w);
    collect_json_flush(w, 0);
    collect_worker_rotate(w, &(struct timespec){0, 0}, true);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

ipfix_status ipfix_collector_start(ipfix_collector *c, ipfix_error *err) {
    for (unsigned i = 0; i < c->worker_count; i++) {
        int rc = pthread_create(&c->workers[i].thread, NULL, worker_main, &c->workers[i]);
        if (rc != 0) {
            ipfix_collector_stop(c);
            return ipfix_error_set(err, IPFIX_ERR_IO, 0, "thread", "%s", strerror(rc));
        }
        c->workers[i].started = true;
    }
    return IPFIX_OK;
}

void ipfix_collector_rotate(ipfix_collector *c) { atomic_fetch_add(&c->rotate_requests, 1); }

void ipfix_collector_stop(ipfix_collector *c) {
    if (c->stopped) return;
    atomic_store(&c->stop, true);
    for (unsigned i = 0; i < c->worker_count; i++) {
        if (!c->workers[i].started) continue;
        pthread_join(c->workers[i].thread, NULL);
        c->workers[i].started = false;
    }
    collect_store_closer_drain(c->closer); /* every file complete before stop returns */
    c->stopped = true;
}

void ipfix_collector_free(ipfix_collector *c) {
    if (!c) return;
    ipfix_collector_stop(c);
    for (unsigned i = 0; c->workers && i < c->worker_count; i++) {
        collect_worker *w = &c->workers[i];
        if (!w->collector) continue; /* never initialised */
        for (unsigned j = 0; j < IPFIX_COLLECT_MAX_LISTENERS; j++) {
#ifdef IPFIXKIT_HAVE_SCTP
            ipfix_sctp_listener_close(w->sctp[j]);
#endif
            ipfix_dtls_listener_free(w->dtls[j]);
            if (w->sockets[j].fd >= 0) close(w->sockets[j].fd);
        }
        collect_exporter *e = w->exporters;
        while (e) {
            collect_exporter *next = e->next;
            if (e->source.fd >= 0) close(e->source.fd);
#ifdef IPFIXKIT_HAVE_SCTP
            ipfix_sctp_assoc_close(e->sctp, true);
#endif
            collect_exporter_free(e);
            e = next;
        }
        ipfix_error err;
        collect_store_free(w->store, &err);
        ipfix_renderer_free(w->renderer);
        ipfix_buffer_free(&w->json);
        ipfix_udp_batch_free(&w->batch);
        free(w->replay);
        free(w->table);
        if (w->epfd > 0) close(w->epfd);
        pthread_mutex_destroy(&w->lock);
    }
    free(c->workers);
    collect_store_closer_free(c->closer); /* after the stores: they hand it their last files */
    ipfix_tls_context_free(c->tls);
    ipfix_tls_context_free(c->dtls);
#ifdef IPFIXKIT_HAVE_SCTP
    ipfix_sctp_stack_release(c->sctp_stack); /* after every association and listener */
#endif
    pthread_mutex_destroy(&c->json_lock);
    free(c);
}
