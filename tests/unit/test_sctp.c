/*
 * test_sctp.c — the SCTP transport (sctp.h) on the usrsctp userland stack,
 * in one process over UDP encapsulation (RFC 6951) on loopback: one stack
 * for the whole program (acquired in the group setup with an ephemeral UDP
 * port U, not native), a listener on 127.0.0.1:U with an eventfd for
 * readiness, and clients connecting to 127.0.0.1:U (SCTP port U inside UDP
 * port U, so client and server share the stack's one UDP socket). Covered:
 * connect + accept (peer address, streams granted: the fewer of those
 * asked for and those the listener allows), messages on two streams
 * (reliable and PR-SCTP timed) with boundaries, contents, stream ids and
 * per-stream order kept, a message of IPFIX_SCTP_MESSAGE_MAX bytes, a
 * larger one (refused, dropped whole, the next one intact),
 * wait_acked under flow control (false while the receiver does not read,
 * true once it has read everything), the ends of an association (graceful
 * close, shutdown by the server seen by ipfix_sctp_alive, abort) and the
 * refusals (another UDP port, native on a non-native stack, native
 * connect, nobody listening). Every wait is bounded (poll on the eventfd,
 * at most 5 s); the teardown checks that the last release stopped the
 * stack (its UDP port is free again).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifdef IPFIXKIT_HAVE_SCTP

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipfixkit/sctp.h"

#define WAIT_MS 5000u /* the bound of every wait */

typedef struct fixture {
    ipfix_sctp_stack *stack;
    uint16_t port; /* U: the stack's UDP port and the listener's SCTP port */
    int efd;
    ipfix_sctp_listener *listener;
    uint8_t *buffer; /* IPFIX_SCTP_MESSAGE_MAX bytes for recv */
} fixture;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct sockaddr_in loopback(uint16_t port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

/* Wait until the stack signals the eventfd (at most `timeout_ms`), then
 * reset its counter: true when it was signalled. */
static bool wait_notified(int efd, unsigned timeout_ms) {
    struct pollfd p = {.fd = efd, .events = POLLIN};
    int n;
    do n = poll(&p, 1, (int)timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    uint64_t count;
    ssize_t r = read(efd, &count, sizeof count);
    (void)r;
    return true;
}

/* ipfix_sctp_recv until it has something other than AGAIN, waiting on the
 * eventfd in between, at most WAIT_MS in all (then AGAIN). */
static ipfix_sctp_result recv_wait(fixture *f, ipfix_sctp_assoc *a, size_t *length,
                                   uint16_t *stream) {
    uint64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        ipfix_sctp_result r = ipfix_sctp_recv(a, f->buffer, length, stream);
        if (r != IPFIX_SCTP_AGAIN) return r;
        uint64_t now = now_ms();
        if (now >= deadline) return IPFIX_SCTP_AGAIN;
        wait_notified(f->efd, (unsigned)(deadline - now));
    }
}

/* A client association to the listener, and its server side. */
static void open_pair(fixture *f, uint16_t streams, ipfix_sctp_assoc **client,
                      ipfix_sctp_assoc **server) {
    struct sockaddr_in to = loopback(f->port);
    ipfix_error err;
    memset(&err, 0, sizeof err);
    uint64_t start = now_ms();
    ipfix_status st = ipfix_sctp_connect(f->stack, (struct sockaddr *)&to, sizeof to, streams,
                                         true, WAIT_MS, client, &err);
    if (st != IPFIX_OK) fprintf(stderr, "connect: %s\n", err.detail);
    assert_int_equal(st, IPFIX_OK);
    assert_non_null(*client);
    assert_true(now_ms() - start <= WAIT_MS);

    /* the listener says so on the eventfd; accept then has it */
    struct sockaddr_storage peer;
    socklen_t peer_length = 0;
    *server = NULL;
    uint64_t deadline = now_ms() + WAIT_MS;
    while (!(*server = ipfix_sctp_accept(f->listener, &peer, &peer_length))) {
        assert_int_equal(errno, EAGAIN);
        uint64_t now = now_ms();
        assert_true(now < deadline);
        assert_true(wait_notified(f->efd, (unsigned)(deadline - now)));
    }
    assert_int_equal(peer_length, sizeof(struct sockaddr_in));
    const struct sockaddr_in *p4 = (const struct sockaddr_in *)&peer;
    assert_int_equal(p4->sin_family, AF_INET);
    assert_int_equal(ntohl(p4->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_not_equal(ntohs(p4->sin_port), 0); /* the client's SCTP port */
}

/* Message `seq` of `stream`: its length, then a header (stream, seq) and
 * a pattern that depends on both. */
static size_t message_length(uint16_t stream, unsigned seq) {
    return 8 + (seq * 97 + stream * 31) % 1400;
}

static void fill_message(uint8_t *m, size_t length, uint16_t stream, unsigned seq) {
    m[0] = (uint8_t)(stream >> 8), m[1] = (uint8_t)stream;
    m[2] = (uint8_t)(seq >> 24), m[3] = (uint8_t)(seq >> 16);
    m[4] = (uint8_t)(seq >> 8), m[5] = (uint8_t)seq;
    for (size_t i = 6; i < length; i++) m[i] = (uint8_t)(i * 7 + seq * 13 + stream);
}

/* ------------------------------------------------------------ fixture */

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->efd = -1;
    ipfix_error err;
    memset(&err, 0, sizeof err);
    if (ipfix_sctp_stack_acquire(0, false, &f->stack, &err) != IPFIX_OK) {
        fprintf(stderr, "acquire: %s\n", err.detail);
        free(f);
        return -1;
    }
    f->port = ipfix_sctp_stack_udp_port(f->stack);
    f->efd = eventfd(0, EFD_NONBLOCK);
    f->buffer = malloc(IPFIX_SCTP_MESSAGE_MAX);
    struct sockaddr_in at = loopback(f->port);
    if (f->port == 0 || f->efd < 0 || !f->buffer ||
        ipfix_sctp_listen(f->stack, (struct sockaddr *)&at, sizeof at, 16, f->efd, &f->listener,
                          &err) != IPFIX_OK) {
        fprintf(stderr, "listen on 127.0.0.1:%u: %s\n", f->port, err.detail);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    ipfix_sctp_listener_close(f->listener);
    uint16_t port = f->port;
    uint64_t start = now_ms();
    ipfix_sctp_stack_release(f->stack);
    uint64_t took = now_ms() - start;
    if (f->efd >= 0) close(f->efd);
    free(f->buffer);
    free(f);
    /* the last release stopped usrsctp: its UDP socket on U is gone */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = loopback(port);
    bool freed = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (!freed) fprintf(stderr, "UDP port %u still in use after the last release\n", port);
    if (took > 4000) fprintf(stderr, "release took %llu ms\n", (unsigned long long)took);
    return freed ? 0 : -1;
}

/* ------------------------------------------------------------ tests */

/* Connect + accept: the peer address, the streams granted (2 asked for,
 * 16 allowed by the listener), both ways. */
static void test_connect_accept(void **state) {
    fixture *f = *state;
    assert_false(ipfix_sctp_stack_native(f->stack));
    ipfix_sctp_assoc *client, *server;
    open_pair(f, 2, &client, &server);
    assert_int_equal(ipfix_sctp_assoc_streams(client), 2);
    assert_int_equal(ipfix_sctp_assoc_streams(server), 2); /* min(16, the client's 2 in) */
    assert_true(ipfix_sctp_alive(client));

    /* nothing to read yet */
    size_t length = 0;
    uint16_t stream = 0;
    assert_int_equal(ipfix_sctp_recv(server, f->buffer, &length, &stream), IPFIX_SCTP_AGAIN);

    ipfix_sctp_assoc_close(client, false);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(server, false);

    /* more than the listener allows: its 16 (negotiated, so connect
     * returned only once the association was established) */
    open_pair(f, 32, &client, &server);
    assert_int_equal(ipfix_sctp_assoc_streams(client), 16);
    ipfix_sctp_assoc_close(client, false);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(server, false);
}

/* Messages on stream 0 (fully reliable) and stream 1 (PR-SCTP timed and
 * fully reliable, alternately): each arrives whole, as sent, with its
 * stream, in order within its stream. */
static void test_messages_streams(void **state) {
    fixture *f = *state;
    enum { COUNT = 40 };
    ipfix_sctp_assoc *client, *server;
    open_pair(f, 2, &client, &server);
    uint8_t m[1500];
    for (unsigned seq = 0; seq < COUNT; seq++) {
        for (uint16_t s = 0; s < 2; s++) {
            size_t length = message_length(s, seq);
            fill_message(m, length, s, seq);
            uint32_t ttl = s == 1 && seq % 2 == 0 ? 10000 : 0; /* long: nothing expires */
            assert_int_equal(ipfix_sctp_send(client, m, length, s, ttl, WAIT_MS), IPFIX_SCTP_OK);
        }
    }
    unsigned next[2] = {0, 0};
    for (unsigned i = 0; i < 2 * COUNT; i++) {
        size_t length = 0;
        uint16_t stream = 0xffff;
        assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_OK);
        assert_true(stream < 2);
        const uint8_t *b = f->buffer;
        assert_true(length >= 6);
        assert_int_equal((unsigned)(b[0] << 8 | b[1]), stream); /* on the stream it was sent on */
        unsigned seq = (unsigned)b[2] << 24 | (unsigned)b[3] << 16 | (unsigned)b[4] << 8 | b[5];
        assert_int_equal(seq, next[stream]); /* in order within its stream */
        assert_int_equal(length, message_length(stream, seq));
        fill_message(m, length, stream, seq);
        assert_memory_equal(b, m, length);
        next[stream]++;
    }
    assert_int_equal(next[0], COUNT);
    assert_int_equal(next[1], COUNT);
    size_t length;
    uint16_t stream;
    assert_int_equal(ipfix_sctp_recv(server, f->buffer, &length, &stream), IPFIX_SCTP_AGAIN);
    assert_true(ipfix_sctp_wait_acked(client, WAIT_MS));

    ipfix_sctp_assoc_close(client, false);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(server, false);
}

/* A message of IPFIX_SCTP_MESSAGE_MAX bytes, between two small ones, on
 * each stream (stream 1 with PR-SCTP). */
static void test_largest_message(void **state) {
    fixture *f = *state;
    ipfix_sctp_assoc *client, *server;
    open_pair(f, 2, &client, &server);
    uint8_t *big = malloc(IPFIX_SCTP_MESSAGE_MAX);
    assert_non_null(big);
    for (size_t i = 0; i < IPFIX_SCTP_MESSAGE_MAX; i++) big[i] = (uint8_t)(i ^ (i >> 8));
    for (uint16_t s = 0; s < 2; s++) {
        uint32_t ttl = s ? 10000 : 0;
        assert_int_equal(ipfix_sctp_send(client, "a", 1, s, ttl, WAIT_MS), IPFIX_SCTP_OK);
        assert_int_equal(ipfix_sctp_send(client, big, IPFIX_SCTP_MESSAGE_MAX, s, ttl, WAIT_MS),
                         IPFIX_SCTP_OK);
        assert_int_equal(ipfix_sctp_send(client, "zz", 2, s, ttl, WAIT_MS), IPFIX_SCTP_OK);
    }
    /* in order within each stream; the streams may interleave */
    unsigned next[2] = {0, 0};
    for (unsigned i = 0; i < 6; i++) {
        size_t length = 0;
        uint16_t stream = 0xffff;
        assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_OK);
        assert_true(stream < 2);
        switch (next[stream]++) {
        case 0:
            assert_int_equal(length, 1);
            assert_int_equal(f->buffer[0], 'a');
            break;
        case 1:
            assert_int_equal(length, IPFIX_SCTP_MESSAGE_MAX);
            assert_memory_equal(f->buffer, big, IPFIX_SCTP_MESSAGE_MAX);
            break;
        case 2:
            assert_int_equal(length, 2);
            assert_memory_equal(f->buffer, "zz", 2);
            break;
        default:
            fail_msg("a fourth message on stream %u", stream);
        }
    }
    assert_true(ipfix_sctp_wait_acked(client, WAIT_MS));
    free(big);
    size_t length;
    uint16_t stream;
    ipfix_sctp_assoc_close(client, false);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(server, false);
}

/* A message larger than IPFIX_SCTP_MESSAGE_MAX is an error (EMSGSIZE) and
 * is dropped whole: the next message arrives as it was sent, and the
 * association goes on. */
static void test_oversized_message(void **state) {
    fixture *f = *state;
    ipfix_sctp_assoc *client, *server;
    open_pair(f, 2, &client, &server);
    size_t big_length = IPFIX_SCTP_MESSAGE_MAX + 4465;
    uint8_t *big = calloc(1, big_length);
    assert_non_null(big);
    assert_int_equal(ipfix_sctp_send(client, big, big_length, 1, 0, WAIT_MS), IPFIX_SCTP_OK);
    assert_int_equal(ipfix_sctp_send(client, "next", 4, 1, 0, WAIT_MS), IPFIX_SCTP_OK);
    free(big);
    size_t length = 0;
    uint16_t stream = 0;
    errno = 0;
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_ERROR);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_OK);
    assert_int_equal(length, 4);
    assert_memory_equal(f->buffer, "next", 4);
    ipfix_sctp_assoc_close(client, false);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(server, false);
}

/* wait_acked under flow control: the client fills the receiver's window
 * and its own send buffer (the server reads nothing); wait_acked then
 * gives up after its timeout, and once the server has read every message,
 * returns true. */
static void test_wait_acked(void **state) {
    fixture *f = *state;
    ipfix_sctp_assoc *client, *server;
    open_pair(f, 1, &client, &server);
    assert_true(ipfix_sctp_wait_acked(client, 0)); /* nothing sent yet */

    uint8_t *m = malloc(IPFIX_SCTP_MESSAGE_MAX);
    assert_non_null(m);
    unsigned sent = 0;
    ipfix_sctp_result r;
    uint64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        memset(m, (int)(sent & 0xff), IPFIX_SCTP_MESSAGE_MAX);
        /* no space for 100 ms: the window is closed */
        r = ipfix_sctp_send(client, m, IPFIX_SCTP_MESSAGE_MAX, 0, 0, 100);
        if (r != IPFIX_SCTP_OK) break;
        sent++;
        assert_true(now_ms() < deadline);
    }
    assert_int_equal(r, IPFIX_SCTP_AGAIN);
    assert_true(sent > 2);

    uint64_t start = now_ms();
    assert_false(ipfix_sctp_wait_acked(client, 200));
    uint64_t took = now_ms() - start;
    assert_true(took >= 200 && took < 200 + 2000); /* bounded, with slack for a loaded CI */

    for (unsigned i = 0; i < sent; i++) {
        size_t length = 0;
        uint16_t stream = 0xffff;
        assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_OK);
        assert_int_equal(length, IPFIX_SCTP_MESSAGE_MAX);
        assert_int_equal(stream, 0);
        memset(m, (int)(i & 0xff), IPFIX_SCTP_MESSAGE_MAX);
        assert_memory_equal(f->buffer, m, IPFIX_SCTP_MESSAGE_MAX);
    }
    free(m);
    start = now_ms();
    assert_true(ipfix_sctp_wait_acked(client, WAIT_MS));
    assert_true(now_ms() - start <= WAIT_MS);

    size_t length;
    uint16_t stream;
    assert_int_equal(ipfix_sctp_recv(server, f->buffer, &length, &stream), IPFIX_SCTP_AGAIN);
    ipfix_sctp_assoc_close(client, false);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(server, false);
}

/* The client closes gracefully after sending: the server still gets every
 * message, then CLOSED. */
static void test_client_close(void **state) {
    fixture *f = *state;
    ipfix_sctp_assoc *client, *server;
    open_pair(f, 2, &client, &server);
    for (unsigned seq = 0; seq < 5; seq++) {
        uint8_t m[64];
        fill_message(m, sizeof m, 1, seq);
        assert_int_equal(ipfix_sctp_send(client, m, sizeof m, 1, 0, WAIT_MS), IPFIX_SCTP_OK);
    }
    ipfix_sctp_assoc_close(client, false); /* before anything was read */
    size_t length;
    uint16_t stream;
    for (unsigned seq = 0; seq < 5; seq++) {
        assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_OK);
        uint8_t m[64];
        fill_message(m, sizeof m, 1, seq);
        assert_int_equal(length, sizeof m);
        assert_int_equal(stream, 1);
        assert_memory_equal(f->buffer, m, sizeof m);
    }
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(server, false);
}

/* The server shuts down: the client's ipfix_sctp_alive turns false, the
 * server still reads what the client had sent, then CLOSED once the
 * shutdown completed. */
static void test_server_shutdown(void **state) {
    fixture *f = *state;
    ipfix_sctp_assoc *client, *server;
    open_pair(f, 2, &client, &server);
    assert_int_equal(ipfix_sctp_send(client, "before", 6, 0, 0, WAIT_MS), IPFIX_SCTP_OK);
    assert_true(ipfix_sctp_wait_acked(client, WAIT_MS));
    assert_true(ipfix_sctp_alive(client));

    ipfix_sctp_assoc_shutdown(server);
    uint64_t deadline = now_ms() + WAIT_MS;
    while (ipfix_sctp_alive(client)) {
        assert_true(now_ms() < deadline);
        sleep_ms(2);
    }
    size_t length;
    uint16_t stream;
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_OK);
    assert_int_equal(length, 6);
    assert_memory_equal(f->buffer, "before", 6);
    assert_int_equal(recv_wait(f, server, &length, &stream), IPFIX_SCTP_CLOSED);
    ipfix_sctp_assoc_close(client, false);
    ipfix_sctp_assoc_close(server, false);
}

/* An abort, each way: the peer sees CLOSED or ERROR (recv) / not alive. */
static void test_abort(void **state) {
    fixture *f = *state;
    ipfix_sctp_assoc *client, *server;
    size_t length;
    uint16_t stream;

    open_pair(f, 2, &client, &server);
    ipfix_sctp_assoc_close(client, true);
    ipfix_sctp_result r = recv_wait(f, server, &length, &stream);
    assert_true(r == IPFIX_SCTP_CLOSED || r == IPFIX_SCTP_ERROR);
    ipfix_sctp_assoc_close(server, false);

    open_pair(f, 2, &client, &server);
    ipfix_sctp_assoc_close(server, true);
    uint64_t deadline = now_ms() + WAIT_MS;
    while (ipfix_sctp_alive(client)) {
        assert_true(now_ms() < deadline);
        sleep_ms(2);
    }
    assert_int_not_equal(ipfix_sctp_send(client, "x", 1, 0, 0, 0), IPFIX_SCTP_OK);
    ipfix_sctp_assoc_close(client, false);
}

/* More references to the one stack: same port or any, not another one,
 * not native; a native connect; a UDP port where nobody answers. */
static void test_refusals(void **state) {
    fixture *f = *state;
    ipfix_error err;
    ipfix_sctp_stack *s1 = NULL, *s2 = NULL, *bad = NULL;

    assert_int_equal(ipfix_sctp_stack_acquire(f->port, false, &s1, &err), IPFIX_OK);
    assert_ptr_equal(s1, f->stack);
    assert_int_equal(ipfix_sctp_stack_acquire(0, false, &s2, &err), IPFIX_OK);
    assert_int_equal(ipfix_sctp_stack_udp_port(s2), f->port);

    uint16_t other = f->port == 4739 ? 4740 : 4739;
    memset(&err, 0, sizeof err);
    assert_int_equal(ipfix_sctp_stack_acquire(other, false, &bad, &err), IPFIX_ERR_INVALID_ARG);
    assert_null(bad);
    assert_int_equal(err.status, IPFIX_ERR_INVALID_ARG);

    memset(&err, 0, sizeof err);
    assert_int_equal(ipfix_sctp_stack_acquire(0, true, &bad, &err), IPFIX_ERR_UNSUPPORTED);
    assert_null(bad);
    assert_non_null(strstr(err.detail, "sctp+udp"));
    assert_int_equal(ipfix_sctp_stack_acquire(f->port, true, &bad, &err), IPFIX_ERR_UNSUPPORTED);
    assert_null(bad);

    ipfix_sctp_stack_release(s1);
    ipfix_sctp_stack_release(s2);
    assert_int_equal(ipfix_sctp_stack_udp_port(f->stack), f->port); /* still running */

    /* native SCTP on a stack without raw sockets */
    struct sockaddr_in to = loopback(f->port);
    ipfix_sctp_assoc *a = (ipfix_sctp_assoc *)&a;
    uint64_t start = now_ms();
    memset(&err, 0, sizeof err);
    assert_int_not_equal(ipfix_sctp_connect(f->stack, (struct sockaddr *)&to, sizeof to, 2, false,
                                            1000, &a, &err),
                         IPFIX_OK);
    assert_null(a);
    assert_true(now_ms() - start < 1000);

    /* a UDP port that takes the INITs and never answers: a timeout */
    int hole = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(hole >= 0);
    struct sockaddr_in h = loopback(0);
    socklen_t hl = sizeof h;
    assert_int_equal(bind(hole, (struct sockaddr *)&h, sizeof h), 0);
    assert_int_equal(getsockname(hole, (struct sockaddr *)&h, &hl), 0);
    to = loopback(ntohs(h.sin_port));
    a = (ipfix_sctp_assoc *)&a;
    start = now_ms();
    memset(&err, 0, sizeof err);
    assert_int_equal(ipfix_sctp_connect(f->stack, (struct sockaddr *)&to, sizeof to, 2, true, 300,
                                        &a, &err),
                     IPFIX_ERR_IO);
    uint64_t took = now_ms() - start;
    assert_null(a);
    assert_true(took >= 300 && took < 300 + 2000);
    close(hole);
}

/* Nobody listening on SCTP port U: the stack answers the INIT with an
 * ABORT and connect fails at once. Closes the fixture's listener, so it
 * runs last. */
static void test_nobody_listening(void **state) {
    fixture *f = *state;
    ipfix_sctp_listener_close(f->listener);
    f->listener = NULL;
    struct sockaddr_in to = loopback(f->port);
    ipfix_sctp_assoc *a = (ipfix_sctp_assoc *)&a;
    ipfix_error err;
    memset(&err, 0, sizeof err);
    uint64_t start = now_ms();
    assert_int_equal(ipfix_sctp_connect(f->stack, (struct sockaddr *)&to, sizeof to, 2, true,
                                        WAIT_MS, &a, &err),
                     IPFIX_ERR_IO);
    assert_null(a);
    assert_true(now_ms() - start < WAIT_MS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_accept),   cmocka_unit_test(test_messages_streams),
        cmocka_unit_test(test_largest_message),  cmocka_unit_test(test_oversized_message),
        cmocka_unit_test(test_wait_acked),
        cmocka_unit_test(test_client_close),     cmocka_unit_test(test_server_shutdown),
        cmocka_unit_test(test_abort),            cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_nobody_listening),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

#else /* built without SCTP (-DIPFIXKIT_SCTP=OFF) */

static void test_sctp_not_built(void **state) {
    (void)state;
    skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sctp_not_built)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
