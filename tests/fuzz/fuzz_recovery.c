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

#include "core/msg.h"
#include "fuzz_node.h"

static struct fuzz_cluster cl;

/* The input being replayed as storage. */
static const uint8_t *rec_data;
static size_t rec_left;

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		fuzz_keep_heap();
		fuzz_cluster_init(&cl, "fuzzrec", 0x50, "");
		STRATA_ASSERT(cl.cfg_ok[STRATA_MODEL_FAIL_RECOVERY]);
		ready = true;
	}
	if (size < 1)
		return 0;
	/* Mostly fail-recovery, whose modules keep the most durable state. */
	unsigned model = data[0] & 7;
	if (model >= STRATA_MODEL_COUNT || !cl.cfg_ok[model])
		model = STRATA_MODEL_FAIL_RECOVERY;
	rec_data = data + 1;
	rec_left = size - 1;
	struct fuzz_clock clk = { .now_us = 1000000, .rng = 0x2545f4914f6cdd1dull };
	struct strata_env env = fuzz_env(&clk);
	env.store = env_store;
	env.retrieve = env_retrieve;
	env.sync = env_sync;
	env.remove = env_remove;
	struct strata_node *n = fuzz_node_new(&cl, model, &env, 9, true);
	if (!n)
		return 0;
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
		clk.now_us += 300000;
		strata_node_tick(n);
	}
	strata_node_free(n);
	return 0;
}
