/*
 * listener.h — sockets of the collecting side (internal): UDP and TCP
 * listeners bound with SO_REUSEPORT so that each worker thread can own one
 * socket per listener (the kernel hashes each Transport Session to one of
 * them), non-blocking, IPv4 and IPv6 ("[::]" listeners are dual-stack), and
 * the batched UDP receive (recvmmsg) that also reads the kernel's drop
 * counter (SO_RXQ_OVFL).
 *
 * Functions return -1 with errno set on failure; nothing prints.
 */
#ifndef IPFIXKIT_TRANSPORT_LISTENER_H
#define IPFIXKIT_TRANSPORT_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A UDP socket bound to `addr`, SO_REUSEPORT, non-blocking, SO_RXQ_OVFL on,
 * receive buffer of about `rcvbuf` bytes (SO_RCVBUFFORCE when permitted). */
int ipfix_udp_listener_open(const struct sockaddr *addr, socklen_t addr_length, size_t rcvbuf);

/* Buffers for one recvmmsg batch (owned by one worker). */
#define IPFIX_UDP_BATCH 32u
#define IPFIX_UDP_DATAGRAM_MAX 65536u

typedef struct ipfix_udp_batch {
    uint8_t *data;                              /* IPFIX_UDP_BATCH * IPFIX_UDP_DATAGRAM_MAX */
    struct mmsghdr msgs[IPFIX_UDP_BATCH];
    struct iovec iov[IPFIX_UDP_BATCH];
    struct sockaddr_storage from[IPFIX_UDP_BATCH];
    char control[IPFIX_UDP_BATCH][64];
} ipfix_udp_batch;

/* 0 or -1 (ENOMEM). */
int ipfix_udp_batch_init(ipfix_udp_batch *batch);
void ipfix_udp_batch_free(ipfix_udp_batch *batch);

/* Receive up to IPFIX_UDP_BATCH datagrams: the count (0 when none is
 * waiting), or -1 on error. *drops gets the socket's cumulative kernel drop
 * counter when a datagram carried it (unchanged otherwise). Datagram i is at
 * batch->data + i * IPFIX_UDP_DATAGRAM_MAX, length batch->msgs[i].msg_len,
 * sender batch->from[i]. */
int ipfix_udp_receive(int fd, ipfix_udp_batch *batch, uint32_t *drops);

/* DTLS: a UDP socket for one peer, bound to the listener's address
 * (SO_REUSEADDR + SO_REUSEPORT, joining the listeners' group) and connected
 * to `peer`, non-blocking: the kernel delivers that peer's datagrams to it
 * rather than to the listening sockets (a connected socket matches the
 * 4-tuple). With a wildcard listener address the replies leave from the
 * address the route to the peer chooses. -1 with errno on failure. */
int ipfix_udp_connected_open(const struct sockaddr *local, socklen_t local_length,
                             const struct sockaddr *peer, socklen_t peer_length, size_t rcvbuf);

/* A listening TCP socket (SO_REUSEADDR + SO_REUSEPORT, non-blocking). */
int ipfix_tcp_listener_open(const struct sockaddr *addr, socklen_t addr_length, int backlog);

/* Accept one connection, non-blocking and close-on-exec: the fd, or -1
 * (errno EAGAIN when none is waiting). */
int ipfix_tcp_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_length);

#endif
