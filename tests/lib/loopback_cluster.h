/* A loopback cluster config for the tests and benchmarks that run libuv nodes in one process
 * (tests/unit/test_uv_turns.c, tests/bench/bench_links.c): nodes 1..n on 127.0.0.1, each with a
 * UDP peer port and a TCP client port the kernel reported free, and a fresh Ed25519 identity.
 * Header only (static functions), so a test or benchmark includes it without a library of its
 * own; the sockets themselves are loopback.h's. A port is free when asked and taken by the node a moment later: nothing else on a test
 * machine binds random loopback ports in between, and a clash fails the bind loudly. */
#ifndef STRATA_TESTS_LOOPBACK_CLUSTER_H
#define STRATA_TESTS_LOOPBACK_CLUSTER_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/config.h"
#include "crypto/crypto.h"

#include "loopback.h"

/* A port of type (SOCK_DGRAM, SOCK_STREAM) free on 127.0.0.1; aborts when none can be had. */
static inline uint16_t loopback_free_port(int type)
{
	uint16_t port = 0;
	int fd = loopback_bind(type, &port);
	STRATA_ASSERT(fd >= 0);
	close(fd);
	return port;
}

/* The defaults with cluster id `id`, cluster_hash `hash`, n nodes, f = 0; node i's secret key
 * in sk[i] (sk has n + 1 rows; row 0 is unused). */
static inline void loopback_cluster(struct strata_config *cfg, const char *id, uint64_t hash,
				    uint32_t n, uint8_t (*sk)[STRATA_SK_LEN])
{
	STRATA_ASSERT(n >= 1 && n <= STRATA_MAX_NODES);
	strata_config_defaults(cfg);
	snprintf(cfg->cluster_id, sizeof(cfg->cluster_id), "%s", id);
	cfg->cluster_hash = hash;
	cfg->n = n;
	cfg->f = 0;
	for (uint32_t i = 1; i <= n; i++) {
		cfg->nodes[i].id = i;
		snprintf(cfg->nodes[i].host, sizeof(cfg->nodes[i].host), "127.0.0.1");
		cfg->nodes[i].port = loopback_free_port(SOCK_DGRAM);
		cfg->nodes[i].client_port = loopback_free_port(SOCK_STREAM);
		strata_keypair(cfg->nodes[i].public_key, sk[i]);
		cfg->nodes[i].has_public_key = true;
	}
}

#endif
