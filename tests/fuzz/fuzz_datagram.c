/* libFuzzer target for the datagram receive path: bytes into strata_node_recv on a node of a
 * 3-node cluster with fixed identities, running the full stack the model builds.
 *
 * The first input byte picks the mode (low 2 bits) and the model (next 3 bits):
 *   0  the rest is one raw datagram: prefix checks and MAC rejection;
 *   1  the rest is the protobuf body of one datagram from node 2, framed with a valid prefix
 *      and a valid HMAC, so the body decoder, the links and the modules' payload decoders are
 *      reached;
 *   2  the rest is a sequence of such bodies, each preceded by a 2-byte little-endian length,
 *      from node 2 or 3 (the length's top bit), with time advancing and timers firing between
 *      them, so sessions, windows, fragments and retransmissions are exercised.
 * Beyond "no crash, no sanitizer report": every rejected datagram is counted (the sum of the
 * rej_* counters plus accepted datagrams never falls behind the datagrams received).
 *
 * Speed: building a node and its stack costs far more than decoding a datagram (large tables,
 * guarded key memory, and libFuzzer then scans the coverage of all that construction code), so
 * one node per model lives across inputs, built on first use. Between inputs the node is
 * reset to a fresh one every RECYCLE_INPUTS inputs, or as soon as it holds more than
 * RECYCLE_BYTES of messages, so state carried from earlier inputs stays bounded and fresh-node
 * paths keep being exercised. The first input after a (re)build runs on a fresh node, so a crash
 * artifact replayed alone (`fuzz_datagram crash-...`) runs exactly as it did when it was the
 * first input; a crash that needs state from earlier inputs reproduces by replaying the corpus
 * directory that produced it. FUZZ_DATAGRAM_FRESH=1 in the environment builds a fresh node for
 * every input (slow; the behaviour before nodes were reused).
 *
 * Leaks: libFuzzer's per-input leak check (it reruns an input under LeakSanitizer whenever the
 * input allocated more than it freed) fires on nearly every input of a node that keeps state,
 * and then costs most of the run time. This target therefore defaults to -detect_leaks=0 (an
 * explicit -detect_leaks=1 on the command line wins); memory the node lost track of is still
 * reported by LeakSanitizer's check at process exit, since the live nodes stay reachable from
 * `nodes` and only unreachable blocks are reported. */
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
#include "links/links.h"

#define NODES 3
#define PREFIX 14
#define RECYCLE_INPUTS 20000
#define RECYCLE_BYTES (8u << 20)

static uint8_t pk[NODES + 1][STRATA_PK_LEN];
static uint8_t sk[NODES + 1][STRATA_SK_LEN];
static uint8_t key_to_1[NODES + 1][STRATA_LINK_KEY_LEN]; /* key of pair (i, 1) */
static struct strata_config cfgs[STRATA_MODEL_COUNT];
static bool cfg_ok[STRATA_MODEL_COUNT];
/* One clock for every node: it only moves forward, also across node rebuilds. */
static uint64_t fake_now = 1000000, fake_rng = 0x9e3779b97f4a7c15ull;
static struct strata_node *nodes[STRATA_MODEL_COUNT]; /* reused across inputs, see above */
static bool build_failed[STRATA_MODEL_COUNT];
static unsigned long node_inputs[STRATA_MODEL_COUNT];
static bool fresh_every_input;

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

static void init(void)
{
	STRATA_ASSERT(strata_crypto_init() == 0);
	char hex[NODES + 1][2 * STRATA_PK_LEN + 1];
	for (int i = 1; i <= NODES; i++) {
		uint8_t seed[32];
		memset(seed, 0x40 + i, sizeof(seed));
		STRATA_ASSERT(strata_keypair_seed(pk[i], sk[i], seed) == 0);
		strata_hex_encode(hex[i], pk[i], STRATA_PK_LEN);
	}
	for (int i = 2; i <= NODES; i++)
		STRATA_ASSERT(strata_link_key(key_to_1[i], pk[i], sk[i], pk[1]) == 0);
	for (int m = 0; m < STRATA_MODEL_COUNT; m++) {
		char text[2048], err[256];
		snprintf(text, sizeof(text),
			 "[cluster]\nid = fuzz\nmodel = %s\nf = %d\n"
			 "[node.1]\nhost = 127.0.0.1\nport = 9001\nclient_port = 9101\npublic_key = %s\n"
			 "[node.2]\nhost = 127.0.0.1\nport = 9002\nclient_port = 9102\npublic_key = %s\n"
			 "[node.3]\nhost = 127.0.0.1\nport = 9003\nclient_port = 9103\npublic_key = %s\n",
			 strata_model_name((enum strata_model)m),
			 m == STRATA_MODEL_FAIL_ARBITRARY ? 0 : 1, hex[1], hex[2], hex[3]);
		cfg_ok[m] = strata_config_parse(&cfgs[m], text, "fuzz.ini", err, sizeof(err)) == 0;
	}
	STRATA_ASSERT(cfg_ok[STRATA_MODEL_FAIL_NOISY]);
	const char *fresh = getenv("FUZZ_DATAGRAM_FRESH");
	fresh_every_input = fresh && strcmp(fresh, "1") == 0;
}

static struct strata_env env = {
	.now_us = env_now, .send = env_send, .wake_at = env_wake, .random = env_random,
	.output = env_output,
};

/* The model's node, built (with its full stack) when missing or due for a reset; NULL when the
 * stack cannot be built for this model's configuration. */
static struct strata_node *node_for(unsigned model)
{
	struct strata_node *n = nodes[model];
	if (n && (fresh_every_input || node_inputs[model] >= RECYCLE_INPUTS ||
		  strata_node_held_bytes(n) > RECYCLE_BYTES)) {
		strata_node_free(n);
		nodes[model] = n = NULL;
	}
	if (n)
		return n;
	if (build_failed[model])
		return NULL;
	struct strata_node_opts o = {
		.cfg = &cfgs[model], .id = 1, .incarnation = 7, .secret_key = sk[1], .env = &env,
		.transport = &strata_links_transport,
	};
	char err[256];
	n = strata_node_new(&o, err, sizeof(err));
	STRATA_ASSERT(n);
	if (strata_stack_build(n, err, sizeof(err)) != 0) {
		strata_node_free(n);
		build_failed[model] = true;
		return NULL;
	}
	strata_node_start(n, false);
	node_inputs[model] = 0;
	return nodes[model] = n;
}

static uint64_t rejected(const struct strata_counters *c)
{
	return c->rej_short + c->rej_cluster + c->rej_receiver + c->rej_sender + c->rej_mac +
	       c->rej_malformed;
}

/* Frames body as a datagram from `from` to node 1 with a valid prefix and MAC. */
static void send_authentic(struct strata_node *n, const struct strata_config *cfg, uint32_t from,
			   const uint8_t *body, size_t len)
{
	static uint8_t dg[65536];
	if (len > sizeof(dg) - PREFIX - STRATA_MAC_LEN)
		len = sizeof(dg) - PREFIX - STRATA_MAC_LEN;
	dg[0] = 1;
	dg[1] = 0;
	for (int i = 0; i < 8; i++)
		dg[2 + i] = (uint8_t)(cfg->cluster_hash >> (8 * i));
	dg[10] = (uint8_t)from;
	dg[11] = 0;
	dg[12] = 1;
	dg[13] = 0;
	memcpy(dg + PREFIX, body, len);
	strata_mac(dg + PREFIX + len, key_to_1[from], dg, PREFIX + len);
	strata_node_recv(n, dg, PREFIX + len + STRATA_MAC_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Adds -detect_leaks=0 to the arguments unless the command line sets detect_leaks itself. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	if (size < 1)
		return 0;
	unsigned mode = data[0] & 3;
	unsigned model = (data[0] >> 2) % STRATA_MODEL_COUNT;
	if (!cfg_ok[model])
		model = STRATA_MODEL_FAIL_NOISY;
	const struct strata_config *cfg = &cfgs[model];
	data++;
	size--;

	struct strata_node *n = node_for(model);
	if (!n)
		return 0;
	node_inputs[model]++;
	const struct strata_counters *c = strata_node_counters(n);

	if (mode == 0 || mode == 3) {
		uint64_t before = rejected(c);
		strata_node_recv(n, data, size);
		/* A raw datagram cannot carry a valid MAC (the fuzzer does not know the key), so
		 * it must have been rejected and counted. */
		STRATA_ASSERT(rejected(c) == before + 1);
	} else if (mode == 1) {
		send_authentic(n, cfg, 2, data, size);
	} else {
		while (size >= 2) {
			size_t len = (size_t)(data[0] | (data[1] & 0x7f) << 8);
			uint32_t from = (data[1] & 0x80) ? 3 : 2;
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
			send_authentic(n, cfg, from, data, len);
			data += len;
			size -= len;
			fake_now += 20000;
			strata_node_tick(n);
		}
	}
	return 0;
}
