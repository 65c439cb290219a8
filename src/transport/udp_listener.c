/*
 * udp_listener.c — UDP listener sockets and batched receive for the
 * collector (see listener.h). One socket per worker and listener, all bound
 * to the same address with SO_REUSEPORT: the kernel picks the socket by a
 * hash of the sender's address and port, so an exporter's datagrams keep
 * going to the same worker and its Transport Session (RFC 7011 §10.3.4)
 * lives in one thread.
 */
#include "transport/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

int ipfix_udp_listener_open(const struct sockaddr *addr, socklen_t addr_length, size_t rcvbuf) {
    int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
    if (addr->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
    if (rcvbuf > 0) {
        int size = rcvbuf > (size_t)(1 << 30) ? (1 << 30) : (int)rcvbuf;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (bind(fd, addr, addr_length) < 0) goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int ipfix_udp_connected_open(const struct sockaddr *local, socklen_t local_length,
                             const struct sockaddr *peer, socklen_t peer_length, size_t rcvbuf) {
    int fd = ipfix_udp_listener_open(local, local_length, rcvbuf);
    if (fd < 0) return -1;
    if (connect(fd, peer, peer_length) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int ipfix_udp_batch_init(ipfix_udp_batch *batch) {
    memset(batch, 0, sizeof *batch);
    batch->data = malloc((size_t)IPFIX_UDP_BATCH * IPFIX_UDP_DATAGRAM_MAX);
    if (!batch->data) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void ipfix_udp_batch_free(ipfix_udp_batch *batch) {
    free(batch->data);
    batch->data = NULL;
}

int ipfix_udp_receive(int fd, ipfix_udp_batch *batch, uint32_t *drops) {
    for (unsigned i = 0; i < IPFIX_UDP_BATCH; i++) {
        batch->iov[i].iov_base = batch->data + (size_t)i * IPFIX_UDP_DATAGRAM_MAX;
        batch->iov[i].iov_len = IPFIX_UDP_DATAGRAM_MAX;
        struct msghdr *h = &batch->msgs[i].msg_hdr;
        h->msg_name = &batch->from[i];
        h->msg_namelen = sizeof batch->from[i];
        h->msg_iov = &batch->iov[i];
        h->msg_iovlen = 1;
        h->msg_control = batch->control[i];
        h->msg_controllen = sizeof batch->control[i];
        h->msg_flags = 0;
        batch->msgs[i].msg_len = 0;
    }
    int n = recvmmsg(fd, batch->msgs, IPFIX_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    /* The drop counter is cumulative: the last datagram carries the newest. */
    for (int i = n - 1; i >= 0; i--) {
        struct msghdr *h = &batch->msgs[i].msg_hdr;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                memcpy(drops, CMSG_DATA(c), sizeof *drops);
                return n;
            }
        }
    }
    return n;
}
