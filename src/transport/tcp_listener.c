/*
 * tcp_listener.c — TCP listener sockets for the collector (see listener.h).
 * Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads
 * incoming connections (Transport Sessions, RFC 7011 §10.4) over the
 * workers without a shared accept queue.
 */
#include "transport/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>

int ipfix_tcp_listener_open(const struct sockaddr *addr, socklen_t addr_length, int backlog) {
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
    if (addr->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (bind(fd, addr, addr_length) < 0 || listen(fd, backlog) < 0) goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int ipfix_tcp_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_length) {
    *peer_length = sizeof *peer;
    return accept4(listen_fd, (struct sockaddr *)peer, peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
