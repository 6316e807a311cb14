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
#include "store/store.h"

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

/* The run every input gets: node 1 of the model built over env (whose retrieve answers the
 * reads), started recovering, then one read and one write of key "k" on every module that takes
 * client requests, then four timer turns 300 ms apart. */
static void run(unsigned model, const struct strata_env *proto)
{
	struct fuzz_clock clk = { .now_us = 1000000, .rng = 0x2545f4914f6cdd1dull };
	struct strata_env env = fuzz_env(&clk);
	env.store = env_store;
	env.retrieve = proto->retrieve;
	env.ctx = &clk;
	env.sync = env_sync;
	env.remove = env_remove;
	struct strata_node *n = fuzz_node_new(&cl, model, &env, 9, true);
	if (!n)
		return;
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
}

static void setup(void)
{
	fuzz_keep_heap();
	fuzz_cluster_init(&cl, "fuzzrec", 0x50, "");
	STRATA_ASSERT(cl.cfg_ok[STRATA_MODEL_FAIL_RECOVERY]);
}

/* ---- Seeds from a real node's store (tests/fuzz/seeds-from-store) ----
 * FUZZ_RECOVERY_STORE=DIR FUZZ_RECOVERY_OUT=FILE [FUZZ_RECOVERY_MODEL=M] fuzz_recovery: instead of
 * fuzzing, runs the sequence above once with every read answered from the LMDB store in DIR (a
 * copy of a stopped node's data directory; nothing is written to it) and writes what each read
 * returned, in order, as one input of this target (first byte: model M, default fail-recovery),
 * so that replaying FILE feeds the node exactly the values a real node had stored. Each key read
 * is listed on stderr with what it got. */
static struct strata_store *cap_store;
static FILE *cap_out;
static unsigned long cap_reads, cap_found;

static int cap_retrieve(void *ctx, const char *key, struct strata_msg **out)
{
	(void)ctx;
	*out = NULL;
	struct strata_msg *m = NULL;
	int rc = strata_store_get(cap_store, key, &m);
	cap_reads++;
	if (rc != 0) {
		fprintf(stderr, "read %s: %s\n", key, rc == STRATA_ENOENT ? "absent" : "error");
		fputc(0xff, cap_out);
		fputc(0xff, cap_out);
		return rc == STRATA_ENOENT ? STRATA_ENOENT : STRATA_EIO;
	}
	size_t len = m->len;
	if (len >= 0xffff) {
		fprintf(stderr, "read %s: %zu bytes, more than a record holds: cut to 65534\n", key,
			len);
		len = 0xfffe;
	}
	fprintf(stderr, "read %s: %zu bytes\n", key, len);
	cap_found++;
	fputc((int)(len & 0xff), cap_out);
	fputc((int)(len >> 8), cap_out);
	fwrite(m->data, 1, len, cap_out);
	*out = strata_msg_new(m->data, len);
	strata_msg_unref(m);
	return *out ? 0 : STRATA_ENOMEM;
}

static void capture(const char *dir)
{
	const char *path = getenv("FUZZ_RECOVERY_OUT"), *mname = getenv("FUZZ_RECOVERY_MODEL");
	int model = mname ? strata_model_parse(mname) : STRATA_MODEL_FAIL_RECOVERY;
	if (!path || model < 0 || !cl.cfg_ok[model]) {
		fprintf(stderr, "fuzz_recovery: FUZZ_RECOVERY_STORE needs FUZZ_RECOVERY_OUT=FILE and a "
				"valid FUZZ_RECOVERY_MODEL\n");
		exit(2);
	}
	char err[256];
	if (strata_store_open(dir, 0, &cap_store, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_recovery: %s\n", err);
		exit(1);
	}
	cap_out = fopen(path, "wb");
	if (!cap_out) {
		perror(path);
		exit(1);
	}
	fputc(model, cap_out);
	struct strata_env e = { .retrieve = cap_retrieve };
	run((unsigned)model, &e);
	strata_store_close(cap_store); /* nothing was staged: nothing is written */
	if (fclose(cap_out) != 0) {
		perror(path);
		exit(1);
	}
	fprintf(stderr, "fuzz_recovery: %lu reads, %lu found, written to %s\n", cap_reads, cap_found,
		path);
	exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	const char *dir = getenv("FUZZ_RECOVERY_STORE");
	if (dir)
		capture(dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* Mostly fail-recovery, whose modules keep the most durable state. */
	unsigned model = data[0] & 7;
	if (model >= STRATA_MODEL_COUNT || !cl.cfg_ok[model])
		model = STRATA_MODEL_FAIL_RECOVERY;
	rec_data = data + 1;
	rec_left = size - 1;
	struct strata_env e = { .retrieve = env_retrieve };
	run(model, &e);
	return 0;
}
