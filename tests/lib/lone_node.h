/* One node of a cluster with an environment that does nothing, for unit tests of a module's own
 * bookkeeping on that node (tests/unit/test_lkv_coord.c, test_owed.c): the clock is *now (the
 * test moves it), datagrams and wake-ups are dropped, syncs succeed at once, outputs are
 * ignored, random numbers are 4; every node of the config gets a fresh Ed25519 key pair. The
 * node has the real links (strata_links_transport), so what a module sends goes through them
 * and their backlog. Header only (static functions), like loopback.h. */
#ifndef STRATA_TESTS_LONE_NODE_H
#define STRATA_TESTS_LONE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "links/links.h"

static uint64_t lone_now(void *c) { return *(uint64_t *)c; }
static void lone_send(void *c, uint32_t to, const uint8_t *b, size_t l)
{
	(void)c, (void)to, (void)b, (void)l;
}
static void lone_wake(void *c, uint64_t d) { (void)c, (void)d; }
static uint64_t lone_random(void *c) { (void)c; return 4; }
static int lone_sync(void *c) { (void)c; return 0; }
static void lone_output(void *c, const struct strata_output *o) { (void)c, (void)o; }

/* Node id of cfg (its n nodes get key pairs, written into cfg), its environment in *env (which
 * must outlive the node) with its clock at *now. NULL with the reason in err. */
static inline struct strata_node *lone_node_new(struct strata_config *cfg, uint32_t id,
						uint64_t *now, struct strata_env *env, char *err,
						size_t errlen)
{
	static uint8_t sk[STRATA_MAX_NODES + 1][STRATA_SK_LEN];
	for (uint32_t i = 1; i <= cfg->n; i++)
		strata_keypair(cfg->nodes[i].public_key, sk[i]);
	*env = (struct strata_env){ .ctx = now, .now_us = lone_now, .send = lone_send,
				    .wake_at = lone_wake, .random = lone_random, .sync = lone_sync,
				    .output = lone_output };
	struct strata_node_opts o = { .cfg = cfg, .id = id, .incarnation = 1, .secret_key = sk[id],
				      .env = env, .transport = &strata_links_transport };
	return strata_node_new(&o, err, errlen);
}

#endif
