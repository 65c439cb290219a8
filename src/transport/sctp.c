/*
 * sctp.c — SCTP associations on usrsctp, natively over raw IP or over UDP
 * encapsulation (RFC 6951) (see sctp.h). Compiled only with
 * -DIPFIXKIT_SCTP=ON.
 *
 * usrsctp_init(port) opens the UDP encapsulation sockets (IPv4 and IPv6)
 * on `port` and, when the process may, raw IP sockets for protocol 132;
 * every association of the process goes through them. An encapsulated
 * association sets its remote encapsulation port (SCTP_REMOTE_UDP_ENCAPS_PORT)
 * to the peer's SCTP port: sctp+udp://host:4739 means SCTP port 4739
 * inside UDP port 4739. A server answers to the UDP source port of the
 * packets it received, so the client's local port may be anything. A
 * native association leaves it 0: its packets go over raw IP.
 *
 * Raw sockets see every SCTP packet of the host, including those of other
 * SCTP stacks (another ipfixkit process, say). A stack started for native
 * SCTP therefore runs with blackhole 2 (no ABORT for out-of-the-blue
 * packets, RFC 4960 §8.4 would otherwise make it abort every association
 * it does not own); a stack started for UDP encapsulation only is started
 * without CAP_NET_RAW in the calling thread's effective set, so that it
 * opens no raw sockets at all (least privilege, and no interference).
 *
 * Readiness without kernel fds: usrsctp calls an upcall (from its own
 * threads) when a socket changes state; ours writes 1 to the caller's
 * eventfd/pipe. Client waits (connect, full send buffer, acknowledgements)
 * poll usrsctp_get_events / SCTP_STATUS in 1 ms steps, bounded.
 */
#include "ipfixkit/sctp.h"

#include <errno.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <usrsctp.h>

#define SCTP_RTO_INITIAL_MS 1000
#define SCTP_RTO_MAX_MS 5000

struct ipfix_sctp_stack {
    unsigned refs;
    uint16_t udp_port;
    bool native;                    /* raw IP sockets open (sctp://) */
    bool running;                   /* usrsctp_init done, usrsctp_finish not (yet) */
};

struct ipfix_sctp_assoc {
    struct socket *so;
    uint16_t streams;
    size_t partial;                 /* bytes of a message delivered in parts */
    bool in_notification;           /* the rest of a notification follows */
    bool discarding;                /* the rest of an oversized message follows */
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

/* May this process open raw IP sockets for SCTP (root or CAP_NET_RAW)? */
static bool raw_sockets_allowed(int *why) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_SCTP);
    if (fd < 0) {
        *why = errno;
        return false;
    }
    close(fd);
    return true;
}

/* Clear (drop) or restore CAP_NET_RAW in the calling thread's effective
 * set; capset(2) acts on the calling thread only. False when it could not
 * be changed (then nothing changed). */
static bool thread_net_raw(bool on) {
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) return false;
    unsigned word = CAP_NET_RAW / 32, bit = 1u << (CAP_NET_RAW % 32);
    if (on && !(d[word].permitted & bit)) return false;
    if (on) d[word].effective |= bit;
    else d[word].effective &= ~bit;
    return syscall(SYS_capset, &h, d) == 0;
}

static void stack_start(ipfix_sctp_stack *s, uint16_t udp_port, bool native) {
    bool dropped = !native && thread_net_raw(false);
    usrsctp_init(udp_port, NULL, NULL);
    if (dropped) thread_net_raw(true);
    /* RFC 3758 (PR-SCTP) is on by default; say so explicitly */
    usrsctp_sysctl_set_sctp_pr_enable(1);
    /* raw sockets see other stacks' packets: no ABORT for those (RFC 4960
     * §8.4 item 8 would abort their associations) */
    if (native) usrsctp_sysctl_set_sctp_blackhole(2);
    s->udp_port = udp_port;
    s->native = native;
    s->running = true;
}

ipfix_status ipfix_sctp_stack_acquire(uint16_t udp_port, bool native, ipfix_sctp_stack **out,
                                      ipfix_error *err) {
    *out = NULL;
    pthread_mutex_lock(&stack_lock);
    ipfix_sctp_stack *s = &the_stack;
    enum { ACQUIRED, OTHER_PORT, NOT_NATIVE, NO_RAW_SOCKETS, NO_FREE_PORT } result = ACQUIRED;
    int why = 0;
    if (s->running) { /* also after a release whose usrsctp_finish gave up */
        if (udp_port && udp_port != s->udp_port) result = OTHER_PORT;
        else if (native && !s->native) result = NOT_NATIVE;
    } else if (native && !raw_sockets_allowed(&why)) {
        result = NO_RAW_SOCKETS;
    } else {
        if (!udp_port) udp_port = free_udp_port();
        if (!udp_port) result = NO_FREE_PORT, why = errno;
        else stack_start(s, udp_port, native);
    }
    if (result == ACQUIRED) s->refs++;
    uint16_t running = s->udp_port;
    pthread_mutex_unlock(&stack_lock);
    if (result == ACQUIRED) {
        *out = s;
        return IPFIX_OK;
    }
    if (result == OTHER_PORT)
        return ipfix_error_set(err, IPFIX_ERR_INVALID_ARG, 0, "sctp",
                               "usrsctp runs one stack per process: its UDP encapsulation "
                               "port is %u, %u was asked for",
                               running, udp_port);
    if (result == NOT_NATIVE)
        return ipfix_error_set(err, IPFIX_ERR_UNSUPPORTED, 0, "sctp",
                               "usrsctp runs one stack per process and this one was started "
                               "for sctp+udp:// only, without raw IP sockets: set up sctp:// "
                               "endpoints before sctp+udp:// ones");
    if (result == NO_RAW_SOCKETS)
        return ipfix_error_set(err, IPFIX_ERR_UNSUPPORTED, 0, "sctp",
                               "sctp:// needs root or CAP_NET_RAW for raw IP (%s); "
                               "sctp+udp:// does not",
                               strerror(why));
    return ipfix_error_set(err, IPFIX_ERR_IO, 0, "sctp", "no free UDP port: %s", strerror(why));
}

void ipfix_sctp_stack_release(ipfix_sctp_stack *s) {
    if (!s) return;
    pthread_mutex_lock(&stack_lock);
    if (--s->refs == 0) {
        /* sockets linger until their shutdown completes: wait (bounded);
         * if they outlast that, the stack stays up for the next acquire
         * rather than being initialised twice */
        bool finished = usrsctp_finish() == 0;
        for (int i = 0; i < 300 && !finished; i++) {
            sleep_ms(10);
            finished = usrsctp_finish() == 0;
        }
        if (finished) {
            s->udp_port = 0;
            s->native = false;
            s->running = false;
        }
    }
    pthread_mutex_unlock(&stack_lock);
}

uint16_t ipfix_sctp_stack_udp_port(const ipfix_sctp_stack *s) { return s->udp_port; }

bool ipfix_sctp_stack_native(const ipfix_sctp_stack *s) { return s->native; }

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
    /* RTO.Max 5 s instead of RFC 4960's suggested 60 s: after a lossy
     * period the retransmission timer, doubled each time, recovers in
     * seconds, not minutes; RTO.Initial 1 s instead of 3 s, as TCP's since
     * RFC 6298 (RFC 4960 §15 leaves both configurable) */
    struct sctp_rtoinfo rto = {.srto_assoc_id = SCTP_FUTURE_ASSOC,
                               .srto_initial = SCTP_RTO_INITIAL_MS,
                               .srto_max = SCTP_RTO_MAX_MS};
    usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto);
    struct sctp_event ev = {.se_assoc_id = SCTP_FUTURE_ASSOC,
                            .se_type = SCTP_PARTIAL_DELIVERY_EVENT, .se_on = 1};
    usrsctp_setsockopt(so, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev);
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
                                socklen_t addr_length, uint16_t streams, bool udp_encapsulation,
                                unsigned timeout_ms, ipfix_sctp_assoc **out, ipfix_error *err) {
    *out = NULL;
    struct socket *so = new_socket(addr->sa_family, streams);
    if (!so)
        return ipfix_error_set(err, IPFIX_ERR_IO, 0, "sctp", "socket: %s", strerror(errno));
    const char *why = NULL;
    int saved = 0;
    if (!udp_encapsulation && !stack->native)
        why = "native SCTP on a stack without raw sockets", saved = EPROTONOSUPPORT;
    if (!why && udp_encapsulation && set_encaps(so, addr_port(addr)) != 0)
        why = "SCTP_REMOTE_UDP_ENCAPS_PORT", saved = errno;
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

/* usrsctp has, as FreeBSD, SCTP_GET_SNDBUF_USE: the bytes of the send
 * buffer in use, i.e. queued, in flight or unacknowledged. Its header
 * does not declare it. */
#ifndef SCTP_GET_SNDBUF_USE
#define SCTP_GET_SNDBUF_USE 0x00001101
struct sctp_sockstat {
    sctp_assoc_t ss_assoc_id;
    uint32_t ss_total_sndbuf;
    uint32_t ss_total_recv_buf;
};
#endif

/* Nothing queued, in flight or unacknowledged? (SCTP_STATUS's
 * sstat_unackdata counts only chunks sent and not yet acknowledged: under
 * congestion most of the data may not have been sent at all.) */
static bool all_acked(ipfix_sctp_assoc *a, bool *failed) {
    struct sctp_status st;
    socklen_t l = sizeof st;
    memset(&st, 0, sizeof st);
    *failed = usrsctp_getsockopt(a->so, IPPROTO_SCTP, SCTP_STATUS, &st, &l) != 0;
    if (*failed || st.sstat_unackdata != 0) return false;
    struct sctp_sockstat ss;
    l = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (usrsctp_getsockopt(a->so, IPPROTO_SCTP, SCTP_GET_SNDBUF_USE, &ss, &l) != 0) return true;
    return ss.ss_total_sndbuf == 0;
}

bool ipfix_sctp_wait_acked(ipfix_sctp_assoc *a, unsigned timeout_ms) {
    uint64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        bool failed;
        if (all_acked(a, &failed)) return true;
        if (failed || now_ms() >= deadline) return false;
        sleep_ms(1);
    }
}

/* The start of a notification (new_socket subscribes to one): a partial
 * delivery the sender aborted (a message abandoned under PR-SCTP, RFC 3758,
 * after its first part was delivered) drops the part reassembled so far. */
static void note_event(ipfix_sctp_assoc *a, const uint8_t *p, size_t n) {
    struct sctp_tlv header;
    if (n < sizeof header) return;
    memcpy(&header, p, sizeof header);
    if (header.sn_type == SCTP_PARTIAL_DELIVERY_EVENT) a->partial = 0;
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
        if (flags & MSG_NOTIFICATION) {
            if (!a->in_notification) note_event(a, a->rx + a->partial, (size_t)n);
            a->in_notification = !(flags & MSG_EOR);
            continue;
        }
        if (a->discarding) { /* read into the scratch space, dropped */
            a->discarding = !(flags & MSG_EOR);
            continue;
        }
        a->partial += (size_t)n;
        if (a->partial > IPFIX_SCTP_MESSAGE_MAX) {
            a->partial = 0;
            a->discarding = !(flags & MSG_EOR);
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

void ipfix_sctp_assoc_shutdown(ipfix_sctp_assoc *a) { usrsctp_shutdown(a->so, SHUT_WR); }

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
