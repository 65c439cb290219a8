/*
 * sctp.c — SCTP associations over UDP encapsulation (RFC 6951) on usrsctp
 * (see sctp.h). Compiled only with -DIPFIXKIT_SCTP=ON.
 *
 * usrsctp_init(port) opens the UDP encapsulation sockets (IPv4 and IPv6)
 * on `port`; every association of the process goes through them. The
 * remote encapsulation port is set per socket (SCTP_REMOTE_UDP_ENCAPS_PORT)
 * to the peer's SCTP port: sctp+udp://host:4739 means SCTP port 4739
 * inside UDP port 4739. A server answers to the UDP source port of the
 * packets it received, so the client's local port may be anything.
 *
 * Readiness without kernel fds: usrsctp calls an upcall (from its own
 * threads) when a socket changes state; ours writes 1 to the caller's
 * eventfd/pipe. Client waits (connect, full send buffer, acknowledgements)
 * poll usrsctp_get_events / SCTP_STATUS in 1 ms steps, bounded.
 */
#include "ipfixkit/sctp.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <usrsctp.h>

struct ipfix_sctp_stack {
    unsigned refs;
    uint16_t udp_port;
};

struct ipfix_sctp_assoc {
    struct socket *so;
    uint16_t streams;
    size_t partial;                 /* bytes of a message delivered in parts */
    uint8_t *rx;                    /* reassembly (allocated on first need) */
};

struct ipfix_sctp_listener {
    struct socket *so;
    int notify_fd;
};

static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static ipfix_sctp_stack the_stack; /* usrsctp is one stack per process */

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A UDP port free on both families now (the stack binds it right after). */
static uint16_t free_udp_port(void) {
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    socklen_t l = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin6_port);
    close(fd);
    return port;
}

ipfix_status ipfix_sctp_stack_acquire(uint16_t udp_port, ipfix_sctp_stack **out,
                                      ipfix_error *err) {
    *out = NULL;
    pthread_mutex_lock(&stack_lock);
    ipfix_sctp_stack *s = &the_stack;
    if (s->refs > 0) {
        if (udp_port && udp_port != s->udp_port) {
            pthread_mutex_unlock(&stack_lock);
            return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "sctp",
                                   "usrsctp runs one stack per process: its UDP encapsulation "
                                   "port is %u, %u was asked for",
                                   s->udp_port, udp_port);
        }
    } else {
        if (!udp_port) udp_port = free_udp_port();
        if (!udp_port) {
            pthread_mutex_unlock(&stack_lock);
            return ipfix_error_set(err, IPFIX_ERR_IO, 0, "sctp", "no free UDP port: %s",
                                   strerror(errno));
        }
        usrsctp_init(udp_port, NULL, NULL);
        /* RFC 3758 (PR-SCTP) is on by default; say so explicitly */
        usrsctp_sysctl_set_sctp_pr_enable(1);
        s->udp_port = udp_port;
    }
    s->refs++;
    pthread_mutex_unlock(&stack_lock);
    *out = s;
    return IPFIX_OK;
}

void ipfix_sctp_stack_release(ipfix_sctp_stack *s) {
    if (!s) return;
    pthread_mutex_lock(&stack_lock);
    if (--s->refs == 0) {
        /* sockets linger until their shutdown completes: wait (bounded) */
        for (int i = 0; i < 300 && usrsctp_finish() != 0; i++) sleep_ms(10);
        s->udp_port = 0;
    }
    pthread_mutex_unlock(&stack_lock);
}

uint16_t ipfix_sctp_stack_udp_port(const ipfix_sctp_stack *s) { return s->udp_port; }

/* ------------------------------------------------------------ sockets */

static uint16_t addr_port(const struct sockaddr *a) {
    return a->sa_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)a)->sin6_port)
                                    : ntohs(((const struct sockaddr_in *)a)->sin_port);
}

static int set_encaps(struct socket *so, uint16_t remote_port) {
    struct sctp_udpencaps e;
    memset(&e, 0, sizeof e);
    e.sue_port = htons(remote_port);
    return usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_REMOTE_UDP_ENCAPS_PORT, &e, sizeof e);
}

/* A one-to-one SCTP socket with `streams` streams each way, no Nagle, the
 * stream of each message reported, 4 MiB buffers; NULL (errno) on failure. */
static struct socket *new_socket(int family, uint16_t streams) {
    struct socket *so = usrsctp_socket(family, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!so) return NULL;
    struct sctp_initmsg im = {.sinit_num_ostreams = streams, .sinit_max_instreams = streams};
    usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im);
    int one = 1;
    usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof one);
    usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &one, sizeof one);
    int big = 4 << 20;
    usrsctp_setsockopt(so, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    usrsctp_setsockopt(so, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    return so;
}

static uint16_t granted_streams(struct socket *so) {
    struct sctp_status st;
    socklen_t l = sizeof st;
    memset(&st, 0, sizeof st);
    if (usrsctp_getsockopt(so, IPPROTO_SCTP, SCTP_STATUS, &st, &l) != 0) return 0;
    return st.sstat_outstrms;
}

ipfix_status ipfix_sctp_connect(ipfix_sctp_stack *stack, const struct sockaddr *addr,
                                socklen_t addr_length, uint16_t streams, unsigned timeout_ms,
                                ipfix_sctp_assoc **out, ipfix_error *err) {
    *out = NULL;
    struct socket *so = new_socket(addr->sa_family, streams);
    if (!so)
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "sctp", "socket: %s", strerror(errno));
    const char *why = NULL;
    int saved = 0;
    if (set_encaps(so, addr_port(addr)) != 0) why = "SCTP_REMOTE_UDP_ENCAPS_PORT", saved = errno;
    if (!why && usrsctp_set_non_blocking(so, 1) != 0) why = "non-blocking", saved = errno;
    if (!why && usrsctp_connect(so, (struct sockaddr *)addr, addr_length) != 0 &&
        errno != EINPROGRESS)
        why = "connect", saved = errno;
    if (!why) {
        uint64_t deadline = now_ms() + timeout_ms;
        for (;;) {
            int ev = usrsctp_get_events(so);
            if (ev & SCTP_EVENT_ERROR) {
                why = "association setup failed", saved = ECONNREFUSED;
                break;
            }
            if (ev & SCTP_EVENT_WRITE) break;
            if (now_ms() >= deadline) {
                why = "association setup timed out", saved = ETIMEDOUT;
                break;
            }
            sleep_ms(1);
        }
    }
    ipfix_sctp_assoc *a = why ? NULL : calloc(1, sizeof *a);
    if (!a) {
        usrsctp_close(so);
        if (!why) return IPFIX_ERR_NOMEM;
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "RFC 7011 §10.2.4", "%s: %s", why,
                               strerror(saved));
    }
    a->so = so;
    a->streams = granted_streams(so);
    (void)stack; /* the stack's reference is the caller's (see sctp.h) */
    *out = a;
    return IPFIX_OK;
}

uint16_t ipfix_sctp_assoc_streams(const ipfix_sctp_assoc *a) { return a->streams; }

ipfix_sctp_result ipfix_sctp_send(ipfix_sctp_assoc *a, const void *data, size_t length,
                                  uint16_t stream, uint32_t pr_ttl_ms, unsigned timeout_ms) {
    struct sctp_sendv_spa spa;
    memset(&spa, 0, sizeof spa);
    spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
    spa.sendv_sndinfo.snd_sid = stream;
    spa.sendv_sndinfo.snd_ppid = 0; /* no PPID is assigned to IPFIX */
    if (pr_ttl_ms) {
        spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
        spa.sendv_prinfo.pr_policy = SCTP_PR_SCTP_TTL;
        spa.sendv_prinfo.pr_value = pr_ttl_ms;
    }
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        ssize_t n = usrsctp_sendv(a->so, data, length, NULL, 0, &spa, sizeof spa,
                                  SCTP_SENDV_SPA, 0);
        if (n == (ssize_t)length) return IPFIX_SCTP_OK;
        if (n >= 0) {
            errno = EMSGSIZE;
            return IPFIX_SCTP_ERROR;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return IPFIX_SCTP_ERROR;
        if (now_ms() >= deadline) return IPFIX_SCTP_AGAIN;
        sleep_ms(1);
    }
}

bool ipfix_sctp_wait_acked(ipfix_sctp_assoc *a, unsigned timeout_ms) {
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct sctp_status st;
        socklen_t l = sizeof st;
        memset(&st, 0, sizeof st);
        if (usrsctp_getsockopt(a->so, IPPROTO_SCTP, SCTP_STATUS, &st, &l) != 0) return false;
        if (st.sstat_unackdata == 0 && st.sstat_penddata == 0) return true;
        if (now_ms() >= deadline) return false;
        sleep_ms(1);
    }
}

/* One usrsctp_recvv: a complete message, AGAIN, CLOSED or ERROR. */
static ipfix_sctp_result recv_once(ipfix_sctp_assoc *a, uint8_t *buffer, size_t *length,
                                   uint16_t *stream) {
    for (;;) {
        struct sctp_rcvinfo info;
        socklen_t info_length = sizeof info;
        unsigned info_type = 0;
        int flags = 0;
        struct sockaddr_storage from;
        socklen_t from_length = sizeof from;
        memset(&info, 0, sizeof info);
        if (!a->rx && !(a->rx = malloc(IPFIX_SCTP_MESSAGE_MAX + 1))) {
            errno = ENOMEM;
            return IPFIX_SCTP_ERROR;
        }
        size_t space = IPFIX_SCTP_MESSAGE_MAX + 1 - a->partial;
        ssize_t n = usrsctp_recvv(a->so, a->rx + a->partial, space, (struct sockaddr *)&from,
                                  &from_length, &info, &info_length, &info_type, &flags);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return IPFIX_SCTP_AGAIN;
            return IPFIX_SCTP_ERROR;
        }
        if (n == 0 && !(flags & MSG_NOTIFICATION)) return IPFIX_SCTP_CLOSED;
        if (flags & MSG_NOTIFICATION) { /* not subscribed to any; dropped */
            if (flags & MSG_EOR) a->partial = 0;
            continue;
        }
        a->partial += (size_t)n;
        if (a->partial > IPFIX_SCTP_MESSAGE_MAX) {
            a->partial = 0;
            errno = EMSGSIZE;
            return IPFIX_SCTP_ERROR;
        }
        if (!(flags & MSG_EOR)) continue; /* partial delivery: the rest follows */
        *length = a->partial;
        *stream = info_type == SCTP_RECVV_RCVINFO ? info.rcv_sid : 0;
        if (buffer) memcpy(buffer, a->rx, a->partial);
        a->partial = 0;
        return IPFIX_SCTP_OK;
    }
}

ipfix_sctp_result ipfix_sctp_recv(ipfix_sctp_assoc *a, uint8_t *buffer, size_t *length,
                                  uint16_t *stream) {
    return recv_once(a, buffer, length, stream);
}

bool ipfix_sctp_alive(ipfix_sctp_assoc *a) {
    int ev = usrsctp_get_events(a->so);
    if (ev & SCTP_EVENT_ERROR) return false;
    if (!(ev & SCTP_EVENT_READ)) return true;
    for (int i = 0; i < 16; i++) {
        size_t n;
        uint16_t s;
        ipfix_sctp_result r = recv_once(a, NULL, &n, &s);
        if (r == IPFIX_SCTP_AGAIN) return true;
        if (r != IPFIX_SCTP_OK) return false;
    }
    return true;
}

void ipfix_sctp_assoc_close(ipfix_sctp_assoc *a, bool abort) {
    if (!a) return;
    usrsctp_set_upcall(a->so, NULL, NULL);
    if (abort) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close sends ABORT */
        usrsctp_setsockopt(a->so, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    usrsctp_close(a->so); /* SHUTDOWN: the stack completes it (RFC 7011 §10.2.4) */
    free(a->rx);
    free(a);
}

/* ------------------------------------------------------------ server */

static void notify_upcall(struct socket *so, void *arg, int flags) {
    (void)so;
    (void)flags;
    uint64_t one = 1;
    ssize_t w = write((int)(intptr_t)arg, &one, sizeof one);
    (void)w; /* a full eventfd counter already says "ready" */
}

ipfix_status ipfix_sctp_listen(ipfix_sctp_stack *stack, const struct sockaddr *addr,
                               socklen_t addr_length, uint16_t streams, int notify_fd,
                               ipfix_sctp_listener **out, ipfix_error *err) {
    *out = NULL;
    (void)stack;
    struct socket *so = new_socket(addr->sa_family, streams);
    if (!so)
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "sctp", "socket: %s", strerror(errno));
    if (addr->sa_family == AF_INET6) {
        int off = 0; /* "::" also takes IPv4 associations */
        usrsctp_setsockopt(so, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    const char *why = NULL;
    if (usrsctp_set_non_blocking(so, 1) != 0) why = "non-blocking";
    else if (usrsctp_bind(so, (struct sockaddr *)addr, addr_length) != 0) why = "bind";
    else if (usrsctp_listen(so, 128) != 0) why = "listen";
    ipfix_sctp_listener *l = why ? NULL : calloc(1, sizeof *l);
    if (!l) {
        int saved = errno;
        usrsctp_close(so);
        if (!why) return IPFIX_ERR_NOMEM;
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "sctp", "%s: %s", why, strerror(saved));
    }
    l->so = so;
    l->notify_fd = notify_fd;
    usrsctp_set_upcall(so, notify_upcall, (void *)(intptr_t)notify_fd);
    *out = l;
    return IPFIX_OK;
}

ipfix_sctp_assoc *ipfix_sctp_accept(ipfix_sctp_listener *l, struct sockaddr_storage *peer,
                                    socklen_t *peer_length) {
    *peer_length = sizeof *peer;
    memset(peer, 0, sizeof *peer);
    struct socket *so = usrsctp_accept(l->so, (struct sockaddr *)peer, peer_length);
    if (!so) return NULL;
    ipfix_sctp_assoc *a = calloc(1, sizeof *a);
    if (!a) {
        usrsctp_close(so);
        errno = ENOMEM;
        return NULL;
    }
    a->so = so;
    usrsctp_set_non_blocking(so, 1);
    int one = 1;
    usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_RECVRCVINFO, &one, sizeof one);
    a->streams = granted_streams(so);
    usrsctp_set_upcall(so, notify_upcall, (void *)(intptr_t)l->notify_fd);
    notify_upcall(so, (void *)(intptr_t)l->notify_fd, 0); /* data may be there already */
    return a;
}

void ipfix_sctp_listener_close(ipfix_sctp_listener *l) {
    if (!l) return;
    usrsctp_set_upcall(l->so, NULL, NULL);
    usrsctp_close(l->so);
    free(l);
}
