/*
 * sctp.h — SCTP associations for IPFIX (RFC 7011 §10.2) on the usrsctp
 * userland stack (this system's kernel has no SCTP): native SCTP over raw
 * IP (`sctp://`, needs root or CAP_NET_RAW) and SCTP over UDP
 * encapsulation (RFC 6951, `sctp+udp://`, no privileges).
 *
 * The stack: usrsctp keeps global state and threads and can run once per
 * process, with one local UDP encapsulation port. ipfix_sctp_stack is the
 * explicit handle to it, reference-counted: the first acquire starts
 * usrsctp, the last release stops it. This is the one piece of process-wide
 * state in ipfixkit, forced by usrsctp; it is guarded by a mutex. The first
 * acquire also fixes whether the stack has raw IP sockets ("native"):
 * a native stack carries both kinds of association and, since its raw
 * sockets see every SCTP packet on the host, never answers out-of-the-blue
 * packets with ABORT (usrsctp's blackhole 2), so that two stacks on one
 * host do not abort each other's associations; a stack started for UDP
 * encapsulation only opens no raw sockets, even as root.
 *
 * Associations are one-to-one style sockets (SOCK_STREAM), non-blocking.
 * A usrsctp socket is not a kernel file descriptor: a listener takes a
 * `notify_fd` (an eventfd or pipe the caller watches with epoll/poll) to
 * which the stack writes an 8-byte 1 whenever the listening socket or one
 * of its accepted associations may have something to read; the caller then
 * accepts and reads until IPFIX_SCTP_AGAIN.
 *
 * Ownership: the caller keeps its stack reference while it has associations
 * or listeners; they are freed by ipfix_sctp_assoc_close /
 * ipfix_sctp_listener_close (before the release). An
 * association is used by one thread at a time. Errors are returned, never
 * printed.
 */
#ifndef IPFIXKIT_SCTP_H
#define IPFIXKIT_SCTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IPFIX_SCTP_MESSAGE_MAX 65535u /* one IPFIX Message per SCTP message */

typedef struct ipfix_sctp_stack ipfix_sctp_stack;
typedef struct ipfix_sctp_assoc ipfix_sctp_assoc;
typedef struct ipfix_sctp_listener ipfix_sctp_listener;

typedef enum ipfix_sctp_result {
    IPFIX_SCTP_OK = 0,
    IPFIX_SCTP_AGAIN,    /* nothing to read / send buffer full */
    IPFIX_SCTP_CLOSED,   /* the peer shut the association down */
    IPFIX_SCTP_ERROR     /* aborted, reset or failed (errno kept) */
} ipfix_sctp_result;

/* A reference to the process's stack with local UDP encapsulation port
 * `udp_port`; 0: any (the running stack's, or a free ephemeral port when
 * the stack starts); `native`: raw IP sockets are needed too.
 * IPFIX_ERR_INVALID_ARG when the stack already runs on another port;
 * IPFIX_ERR_UNSUPPORTED when `native` is asked for and the process may not
 * open raw sockets, or the running stack was started without them. */
ipfix_status ipfix_sctp_stack_acquire(uint16_t udp_port, bool native, ipfix_sctp_stack **out,
                                      ipfix_error *err);
void ipfix_sctp_stack_release(ipfix_sctp_stack *stack);
uint16_t ipfix_sctp_stack_udp_port(const ipfix_sctp_stack *stack);
bool ipfix_sctp_stack_native(const ipfix_sctp_stack *stack);

/* Client: an association to `addr` (its port is the SCTP port and, with
 * `udp_encapsulation`, the remote UDP encapsulation port; without it the
 * stack must be native), asking for `streams` outbound streams,
 * established within `timeout_ms`. */
ipfix_status ipfix_sctp_connect(ipfix_sctp_stack *stack, const struct sockaddr *addr,
                                socklen_t addr_length, uint16_t streams, bool udp_encapsulation,
                                unsigned timeout_ms, ipfix_sctp_assoc **out, ipfix_error *err);

/* Streams the peer granted us (outbound). */
uint16_t ipfix_sctp_assoc_streams(const ipfix_sctp_assoc *assoc);

/* Send one message on `stream`, ordered; `pr_ttl_ms` > 0 sends it with
 * PR-SCTP timed reliability (RFC 3758 §4: abandoned after that lifetime),
 * 0 fully reliable. Waits at most `timeout_ms` for send buffer space
 * (then IPFIX_SCTP_AGAIN). */
ipfix_sctp_result ipfix_sctp_send(ipfix_sctp_assoc *assoc, const void *data, size_t length,
                                  uint16_t stream, uint32_t pr_ttl_ms, unsigned timeout_ms);

/* Wait until every message sent so far is acknowledged by the peer
 * (nothing queued, in flight or unacknowledged), at most `timeout_ms`:
 * true when done. */
bool ipfix_sctp_wait_acked(ipfix_sctp_assoc *assoc, unsigned timeout_ms);

/* Non-blocking: is the association still up (no shutdown or abort from
 * the peer)? Data the peer sent is read and dropped. */
bool ipfix_sctp_alive(ipfix_sctp_assoc *assoc);

/* Receive one complete message (reassembled when delivered in parts) into
 * `buffer` (at least IPFIX_SCTP_MESSAGE_MAX bytes): *length and *stream
 * set on IPFIX_SCTP_OK. A message larger than IPFIX_SCTP_MESSAGE_MAX is
 * IPFIX_SCTP_ERROR with errno EMSGSIZE: the rest of it is dropped as it
 * arrives and the association goes on (the caller may also close it). */
ipfix_sctp_result ipfix_sctp_recv(ipfix_sctp_assoc *assoc, uint8_t *buffer, size_t *length,
                                  uint16_t *stream);

/* Start a graceful shutdown but keep the association readable: the peer
 * may send no new messages, those already sent still arrive (RFC 4960
 * §9.2); ipfix_sctp_recv returns IPFIX_SCTP_CLOSED once all have been
 * read and the shutdown completed. A receiver that stops this way loses
 * nothing its stack has acknowledged. */
void ipfix_sctp_assoc_shutdown(ipfix_sctp_assoc *assoc);

/* Graceful shutdown (SHUTDOWN, or ABORT when `abort`), then free. The
 * stack finishes the shutdown in the background. NULL is ignored. */
void ipfix_sctp_assoc_close(ipfix_sctp_assoc *assoc, bool abort);

/* Server: listen on `addr` (port = SCTP port; "::" is dual-stack) for
 * associations of up to `streams` inbound streams; readiness of the
 * listener and of every accepted association is written to `notify_fd`,
 * which must stay open until the listener and every association accepted
 * from it are closed.
 * A listener accepts UDP-encapsulated associations (on the stack's UDP
 * port) and, on a native stack, native ones. */
ipfix_status ipfix_sctp_listen(ipfix_sctp_stack *stack, const struct sockaddr *addr,
                               socklen_t addr_length, uint16_t streams, int notify_fd,
                               ipfix_sctp_listener **out, ipfix_error *err);

/* One waiting association (non-blocking), or NULL (errno EAGAIN: none). */
ipfix_sctp_assoc *ipfix_sctp_accept(ipfix_sctp_listener *listener, struct sockaddr_storage *peer,
                                    socklen_t *peer_length);

void ipfix_sctp_listener_close(ipfix_sctp_listener *listener);

#ifdef __cplusplus
}
#endif
#endif
