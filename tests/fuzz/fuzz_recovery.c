/* libFuzzer target for the records a node reads back from stable storage when it recovers:
 * every module's durable state (register copies and phase-id epochs, logs and their bounds,
 * snapshots, consensus and broadcast state), decoded by the module that stored it.
 *
 * A node of a 3-node cluster (model chosen by the first input byte, low 3 bits) is built with
 * its full stack over a storage environment whose retrieve() answers every read, whatever the
 * key, with the next record of the input: [u16 little-endian length][bytes], a length of 0xffff
 * meaning "absent" (STRATA_ENOENT); once the input is used up every key is absent. The node
 * then starts recovering (the INIT of a restarted process), so each durable module reads its
 * records; after that one read and one write request per client module (which make the
 * register family load the per-key records of the key "k") and a few timer ticks follow, each
 * read again fed from the input. Writes (store, remove) are accepted and dropped.
 *
 * Beyond "no crash, no sanitizer report": a record a module cannot decode must fail the
 * module's recovery with an error, never be taken as valid state silently; that is each
 * module's own business, so this target checks the universal part: the node either runs or
 * has stopped (strata_node_failed), and neither state crashes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/config.h"
#include "core/error.h"
#include "core/msg.h"
#include "core/node.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "links/links.h"

#define NODES 3

static uint8_t sk[NODES + 1][STRATA_SK_LEN];
static struct strata_config cfgs[STRATA_MODEL_COUNT];
static bool cfg_ok[STRATA_MODEL_COUNT];
static uint8_t link_keys[NODES + 1][STRATA_LINK_KEY_LEN]; /* node 1's key with each peer */

/* The input being replayed as storage. */
static const uint8_t *rec_data;
static size_t rec_left;
static uint64_t fake_now, fake_rng;

static uint64_t env_now(void *ctx) { (void)ctx; return fake_now; }
static void env_send(void *ctx, uint32_t to, const uint8_t *buf, size_t len)
{
	(void)ctx; (void)to; (void)buf; (void)len;
}
static void env_wake(void *ctx, uint64_t d) { (void)ctx; (void)d; }
static uint64_t env_random(void *ctx)
{
	(void)ctx;
	fake_rng ^= fake_rng << 13;
	fake_rng ^= fake_rng >> 7;
	fake_rng ^= fake_rng << 17;
	return fake_rng;
}
static void env_output(void *ctx, const struct strata_output *o) { (void)ctx; (void)o; }
static int env_store(void *ctx, const char *key, const void *val, size_t len)
{
	(void)ctx; (void)key; (void)val; (void)len;
	return 0;
}
static int env_remove(void *ctx, const char *key) { (void)ctx; (void)key; return 0; }
static int env_sync(void *ctx) { (void)ctx; return 0; }

/* Every read gets the input's next record, whatever the key. */
static int env_retrieve(void *ctx, const char *key, struct strata_msg **out)
{
	(void)ctx; (void)key;
	*out = NULL;
	if (rec_left < 2)
		return STRATA_ENOENT;
	size_t len = (size_t)rec_data[0] | (size_t)rec_data[1] << 8;
	rec_data += 2;
	rec_left -= 2;
	if (len == 0xffff)
		return STRATA_ENOENT;
	if (len > rec_left)
		len = rec_left;
	struct strata_msg *m = strata_msg_new(rec_data, len);
	if (!m)
		return STRATA_ENOMEM;
	rec_data += len;
	rec_left -= len;
	*out = m;
	return 0;
}

static void init(void)
{
	STRATA_ASSERT(strata_crypto_init() == 0);
	uint8_t pk[NODES + 1][STRATA_PK_LEN];
	char hex[NODES + 1][2 * STRATA_PK_LEN + 1];
	for (int i = 1; i <= NODES; i++) {
		uint8_t seed[32];
		memset(seed, 0x50 + i, sizeof(seed));
		STRATA_ASSERT(strata_keypair_seed(pk[i], sk[i], seed) == 0);
		strata_hex_encode(hex[i], pk[i], STRATA_PK_LEN);
	}
	for (int i = 2; i <= NODES; i++)
		STRATA_ASSERT(strata_link_key(link_keys[i], pk[1], sk[1], pk[i]) == 0);
	for (int m = 0; m < STRATA_MODEL_COUNT; m++) {
		char text[2048], err[256];
		snprintf(text, sizeof(text),
			 "[cluster]\nid = fuzzrec\nmodel = %s\nf = %d\n"
			 "[node.1]\nhost = 127.0.0.1\nport = 9001\nclient_port = 9101\npublic_key = %s\n"
			 "[node.2]\nhost = 127.0.0.1\nport = 9002\nclient_port = 9102\npublic_key = %s\n"
			 "[node.3]\nhost = 127.0.0.1\nport = 9003\nclient_port = 9103\npublic_key = %s\n",
			 strata_model_name((enum strata_model)m),
			 m == STRATA_MODEL_FAIL_ARBITRARY ? 0 : 1, hex[1], hex[2], hex[3]);
		cfg_ok[m] = strata_config_parse(&cfgs[m], text, "fuzz.ini", err, sizeof(err)) == 0;
	}
	STRATA_ASSERT(cfg_ok[STRATA_MODEL_FAIL_RECOVERY]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	if (size < 1)
		return 0;
	/* Mostly fail-recovery, whose modules keep the most durable state. */
	unsigned model = data[0] & 7;
	if (model >= STRATA_MODEL_COUNT || !cfg_ok[model])
		model = STRATA_MODEL_FAIL_RECOVERY;
	rec_data = data + 1;
	rec_left = size - 1;
	fake_now = 1000000;
	fake_rng = 0x2545f4914f6cdd1dull;

	struct strata_env env = {
		.now_us = env_now, .send = env_send, .wake_at = env_wake, .random = env_random,
		.store = env_store, .retrieve = env_retrieve, .sync = env_sync, .remove = env_remove,
		.output = env_output,
	};
	struct strata_node_opts o = {
		.cfg = &cfgs[model], .id = 1, .incarnation = 9, .secret_key = sk[1], .env = &env,
		.transport = &strata_links_transport, .link_keys = &link_keys[0][0],
	};
	char err[256];
	struct strata_node *n = strata_node_new(&o, err, sizeof(err));
	STRATA_ASSERT(n);
	if (strata_stack_build(n, err, sizeof(err)) != 0) {
		strata_node_free(n);
		return 0;
	}
	strata_node_start(n, true);
	/* One read and one write of key "k" on every module that takes client requests. */
	static const uint8_t key[] = "k", val[] = "v";
	size_t nm = strata_node_module_count(n);
	uint64_t id = 1;
	for (size_t i = 0; i < nm && !strata_node_failed(n); i++) {
		struct strata_module *m = strata_node_module_at(n, i);
		if (!m->ops || !m->ops->request)
			continue;
		for (int op = STRATA_OP_READ; op <= STRATA_OP_WRITE; op++) {
			struct strata_request r = {
				.id = id++, .op = (enum strata_op)op, .key = key, .key_len = 1,
				.value = op == STRATA_OP_WRITE ? val : NULL,
				.value_len = op == STRATA_OP_WRITE ? 1 : 0,
			};
			strata_node_request(n, m->ops->name, &r);
		}
	}
	for (int t = 0; t < 4 && !strata_node_failed(n); t++) {
		fake_now += 300000;
		strata_node_tick(n);
	}
	strata_node_free(n);
	return 0;
}
