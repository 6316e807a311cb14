/* Loopback sockets for the tests and benchmarks that talk to real nodes or to themselves over
 * 127.0.0.1 (tests/unit/test_client_bundle.c, test_uv_turns.c, tests/bench/bench_client.h,
 * bench_links.c, and loopback_cluster.h's free ports): the address, a socket bound to it, a TCP
 * connection to it, and whole reads and writes on a blocking descriptor. Header only (static
 * functions), like loopback_cluster.h. Nothing here leaves 127.0.0.0/8. */
#ifndef STRATA_TESTS_LOOPBACK_H
#define STRATA_TESTS_LOOPBACK_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* 127.0.0.1:port (port 0: any free port, when binding). */
static inline struct sockaddr_in loopback_addr(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return a;
}

/* A socket of type (SOCK_DGRAM, SOCK_STREAM) bound to 127.0.0.1:*port; with *port 0 the kernel
 * picks a free port, written back to *port. The descriptor, or -1 (nothing left open). */
static inline int loopback_bind(int type, uint16_t *port)
{
	int fd = socket(AF_INET, type, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = loopback_addr(*port);
	socklen_t l = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* A blocking TCP connection to 127.0.0.1:port, or -1 (nothing left open). */
static inline int loopback_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = loopback_addr(port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* All n bytes from a blocking fd: 0, or -1 (end of stream, an error). EINTR is retried. */
static inline int loopback_read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t got = read(fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* All n bytes to a blocking fd: 0, or -1. EINTR is retried. */
static inline int loopback_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t put = write(fd, p, n);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		p += put;
		n -= (size_t)put;
	}
	return 0;
}

#endif
