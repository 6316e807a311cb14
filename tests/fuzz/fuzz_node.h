/* Shared setup of the fuzz targets that run a whole node (fuzz_datagram, fuzz_module,
 * fuzz_recovery): a 3-node cluster with fixed identities, one config per model, a fake
 * environment (a clock that only moves forward, a fixed xorshift random source, sends and
 * outputs dropped) and the node's construction with its full stack. Node 1 is the node under
 * test; the harness speaks for nodes 2 and 3 with their pair keys.
 *
 * Header-only (static functions), so that every target stays one file and the Makefile's
 * one-object-per-target rule needs no change. Not a test of its own. */
#ifndef STRATA_FUZZ_NODE_H
#define STRATA_FUZZ_NODE_H

#include <malloc.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/config.h"
#include "core/error.h"
#include "core/node.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "crypto/sha256.h"
#include "links/internal.h"
#include "links/links.h"

#define FUZZ_NODES 3
/* The datagram prefix (proto/peer.proto): version, reserved, cluster hash, sender, receiver. */
#define FUZZ_PREFIX 14

struct fuzz_cluster {
	uint8_t pk[FUZZ_NODES + 1][STRATA_PK_LEN];
	uint8_t sk[FUZZ_NODES + 1][STRATA_SK_LEN];
	/* The pair key of node 1 and node i, by i (slot 0 and 1 unused). */
	uint8_t link_keys[FUZZ_NODES + 1][STRATA_LINK_KEY_LEN];
	/* The same keys prepared for HMAC once (a datagram's MAC then hashes only the datagram). */
	struct strata_mac_key mac_keys[FUZZ_NODES + 1];
	struct strata_config cfgs[STRATA_MODEL_COUNT];
	bool cfg_ok[STRATA_MODEL_COUNT];
};

/* Identities from the seeds key_seed + i (i = 1..3), and a config of cluster `id` per model (f = 1,
 * 0 for fail-arbitrary, which needs N > 3f) with `extra` appended (more sections, or ""). Aborts
 * if fail-noisy, the default model of the targets, does not parse. */
static inline void fuzz_cluster_init(struct fuzz_cluster *c, const char *id, uint8_t key_seed,
			      const char *extra)
{
	STRATA_ASSERT(strata_crypto_init() == 0);
	char hex[FUZZ_NODES + 1][2 * STRATA_PK_LEN + 1];
	memset(c, 0, sizeof(*c));
	for (int i = 1; i <= FUZZ_NODES; i++) {
		uint8_t seed[32];
		memset(seed, key_seed + i, sizeof(seed));
		STRATA_ASSERT(strata_keypair_seed(c->pk[i], c->sk[i], seed) == 0);
		strata_hex_encode(hex[i], c->pk[i], STRATA_PK_LEN);
	}
	for (int i = 2; i <= FUZZ_NODES; i++) {
		STRATA_ASSERT(strata_link_key(c->link_keys[i], c->pk[1], c->sk[1], c->pk[i]) == 0);
		strata_mac_key_init(&c->mac_keys[i], c->link_keys[i]);
	}
	for (int m = 0; m < STRATA_MODEL_COUNT; m++) {
		char text[2048], err[256];
		snprintf(text, sizeof(text),
			 "[cluster]\nid = %s\nmodel = %s\nf = %d\n"
			 "[node.1]\nhost = 127.0.0.1\nport = 9001\nclient_port = 9101\npublic_key = %s\n"
			 "[node.2]\nhost = 127.0.0.1\nport = 9002\nclient_port = 9102\npublic_key = %s\n"
			 "[node.3]\nhost = 127.0.0.1\nport = 9003\nclient_port = 9103\npublic_key = %s\n"
			 "%s",
			 id, strata_model_name((enum strata_model)m),
			 m == STRATA_MODEL_FAIL_ARBITRARY ? 0 : 1, hex[1], hex[2], hex[3], extra);
		c->cfg_ok[m] = strata_config_parse(&c->cfgs[m], text, "fuzz.ini", err, sizeof(err)) == 0;
	}
	STRATA_ASSERT(c->cfg_ok[STRATA_MODEL_FAIL_NOISY]);
}

/* The fake environment's state: one clock for every node, moving only forward (also across
 * node rebuilds), and the random source. */
struct fuzz_clock {
	uint64_t now_us, rng;
};

static inline uint64_t fuzz_env_now(void *ctx) { return ((struct fuzz_clock *)ctx)->now_us; }
static inline void fuzz_env_send(void *ctx, uint32_t to, const uint8_t *buf, size_t len)
{
	(void)ctx; (void)to; (void)buf; (void)len;
}
static inline void fuzz_env_wake(void *ctx, uint64_t d) { (void)ctx; (void)d; }
static inline uint64_t fuzz_env_random(void *ctx)
{
	struct fuzz_clock *k = ctx;
	k->rng ^= k->rng << 13;
	k->rng ^= k->rng >> 7;
	k->rng ^= k->rng << 17;
	return k->rng;
}
static inline void fuzz_env_output(void *ctx, const struct strata_output *o) { (void)ctx; (void)o; }

/* An environment over clock k without storage; a target adds store/retrieve/sync/remove. */
static inline struct strata_env fuzz_env(struct fuzz_clock *k)
{
	return (struct strata_env){
		.ctx = k, .now_us = fuzz_env_now, .send = fuzz_env_send, .wake_at = fuzz_env_wake,
		.random = fuzz_env_random, .output = fuzz_env_output,
	};
}

/* Node 1 of the model's config with its full stack, started (recovering or not); NULL when the
 * stack cannot be built for that configuration. */
static inline struct strata_node *fuzz_node_new(const struct fuzz_cluster *c, unsigned model,
					 const struct strata_env *env, uint64_t incarnation,
					 bool recovering)
{
	struct strata_node_opts o = {
		.cfg = &c->cfgs[model], .id = 1, .incarnation = incarnation, .secret_key = c->sk[1],
		.env = env, .transport = &strata_links_transport, .link_keys = &c->link_keys[0][0],
	};
	char err[256];
	struct strata_node *n = strata_node_new(&o, err, sizeof(err));
	STRATA_ASSERT(n);
	if (strata_stack_build(n, err, sizeof(err)) != 0) {
		strata_node_free(n);
		return NULL;
	}
	strata_node_start(n, recovering);
	return n;
}

/* The harness's MAC with a prepared key, as strata_mac_keyed computes it, but outside the
 * instrumented code: the number of MACs the harness computes then adds no coverage counts
 * (features) of its own to what libFuzzer sees of the node. The fuzz builds (Makefile FUZZ_DEFS)
 * replace HMAC-SHA256 by a cheaper keyed MAC whose library functions carry no instrumentation
 * (src/crypto/crypto.c, STRATA_FUZZ_FAST_MAC), so the harness calls them; built without that
 * define, it computes HMAC-SHA256 itself from the prepared state (crypto/sha256.c, which carries
 * no coverage instrumentation either). */
__attribute__((no_sanitize("coverage"))) static inline void
fuzz_mac(uint8_t out[STRATA_MAC_LEN], const struct fuzz_cluster *c, uint32_t from,
	 const uint8_t *dg, size_t len)
{
#ifdef STRATA_FUZZ_FAST_MAC
	strata_mac_keyed(out, &c->mac_keys[from], dg, len);
#else
	struct strata_hmac_sha256 st;
	_Static_assert(sizeof(st) <= sizeof(c->mac_keys[from].state), "prepared key state");
	memcpy(&st, c->mac_keys[from].state, sizeof(st));
	strata_hmac_sha256_update(&st, dg, len);
	strata_hmac_sha256_final(&st, out);
#endif
}

/* Frames body as a datagram from `from` (2 or 3) to node 1 of cfg, with a valid prefix and MAC
 * (the config must have encrypt off), and hands it to the node. */
static inline void fuzz_send_authentic(struct strata_node *n, const struct fuzz_cluster *c,
				       const struct strata_config *cfg, uint32_t from,
				       const uint8_t *body, size_t len)
{
	static uint8_t dg[65536];
	static bool checked;
	if (!checked) { /* the harness's MAC is the library's (prepared key state, crypto.c) */
		uint8_t a[STRATA_MAC_LEN], b[STRATA_MAC_LEN];
		fuzz_mac(a, c, from, body, len);
		strata_mac_keyed(b, &c->mac_keys[from], body, len);
		STRATA_ASSERT(memcmp(a, b, sizeof(a)) == 0);
		checked = true;
	}
	if (len > sizeof(dg) - FUZZ_PREFIX - STRATA_MAC_LEN)
		len = sizeof(dg) - FUZZ_PREFIX - STRATA_MAC_LEN;
	dg[0] = 1;
	dg[1] = 0;
	for (int i = 0; i < 8; i++)
		dg[2 + i] = (uint8_t)(cfg->cluster_hash >> (8 * i));
	dg[10] = (uint8_t)from;
	dg[11] = 0;
	dg[12] = 1;
	dg[13] = 0;
	memcpy(dg + FUZZ_PREFIX, body, len);
	fuzz_mac(dg + FUZZ_PREFIX + len, c, from, dg, FUZZ_PREFIX + len);
	strata_node_recv(n, dg, FUZZ_PREFIX + len + STRATA_MAC_LEN);
}

/* Every peer (2, 3) that has spoken acknowledges all that node 1 (of incarnation `inc`) sent
 * it in the current session, as a live peer would, in an authentic datagram numbered
 * (*counter)++. */
static inline void fuzz_peers_ack(struct strata_node *n, const struct fuzz_cluster *c,
				  const struct strata_config *cfg, uint64_t inc, uint64_t *counter)
{
	struct strata_links *l = strata_node_links(n);
	for (uint32_t from = 2; from <= FUZZ_NODES; from++) {
		const struct link_peer *p = &l->peers[from];
		if (p->incarnation == 0 || p->tx_len == 0)
			continue;
		Strata__Wire__Datagram d = STRATA__WIRE__DATAGRAM__INIT;
		Strata__Wire__Ack ack = STRATA__WIRE__ACK__INIT;
		ack.cumulative = p->tx_next_seq - 1;
		d.incarnation = p->incarnation;
		d.receiver_incarnation = inc;
		d.counter = (*counter)++;
		d.ack = &ack;
		uint8_t body[64];
		STRATA_ASSERT(strata__wire__datagram__get_packed_size(&d) <= sizeof(body));
		size_t len = strata__wire__datagram__pack(&d, body);
		fuzz_send_authentic(n, c, cfg, from, body, len);
	}
}

/* Keeps freed memory in the process: glibc serves blocks of 128 KiB and more (a node's link state,
 * its tables) with mmap and returns them with munmap, and trims the heap's top with brk; for a
 * target that builds and frees a node per input (fuzz_recovery) those system calls and the TLB
 * flushes they cause cost more than the node's own work. Without effect under ASan, whose
 * allocator ignores mallopt. */
static inline void fuzz_keep_heap(void)
{
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

/* Puts -detect_leaks=0 first among the arguments unless the command line sets detect_leaks
 * itself (for LLVMFuzzerInitialize of targets whose node lives across inputs: see
 * fuzz_datagram.c, "Leaks"). */
static inline int fuzz_no_leak_rerun(int *argc, char ***argv)
{
	static char flag[] = "-detect_leaks=0";
	static char *args[256];
	for (int i = 1; i < *argc; i++)
		if (strncmp((*argv)[i], "-detect_leaks=", 14) == 0)
			return 0;
	if (*argc + 2 > (int)(sizeof(args) / sizeof(args[0])))
		return 0;
	/* Flags must come before the corpus directories: put it right after the program name. */
	args[0] = (*argv)[0];
	args[1] = flag;
	for (int i = 1; i < *argc; i++)
		args[i + 1] = (*argv)[i];
	args[*argc + 1] = NULL;
	*argc += 1;
	*argv = args;
	return 0;
}

#endif
