/* libFuzzer target for the datagram receive path: bytes into strata_node_recv on a node of a
 * 3-node cluster with fixed identities, running the full stack the model builds.
 *
 * The first input byte picks the mode (low 2 bits) and the model (next 3 bits):
 *   0  the rest is one raw datagram: prefix checks and MAC rejection;
 *   1  the rest is the protobuf body of one datagram from node 2, framed with a valid prefix
 *      and a valid HMAC, so the body decoder, the links and the modules' payload decoders are
 *      reached;
 *   2  the rest is a sequence of up to MAX_BODIES such bodies, each preceded by a 2-byte
 *      little-endian header:
 *      bits 0-10 the body's length, bits 11-13 how far the clock moves after it (0 to 30 s,
 *      STEP_US), bit 14 set: the peers stay silent after it (below), bit 15 the sender (node 2
 *      or 3); the node's timers fire after every body, so sessions, windows, fragments,
 *      retransmissions and timeouts are exercised.
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
 * Peers acknowledge: after every input, and in mode 2 after every body without bit 14 whose
 * clock step reaches the lower retransmission bound (10 ms; a shorter step cannot make the node
 * retransmit before the next acknowledgement), the harness sends, from each peer that has
 * spoken, an authentic datagram acknowledging everything node 1 sent it, as a live peer would;
 * and the cluster runs with a window of 64 frames ([links] window). A node whose peers never acknowledge retransmits its whole window (1,024 frames by
 * default) toward both of them at every timeout, and MACing those datagrams took over half of
 * the run time (117 HMACs and 33 KB hashed per input, measured); bodies with bit 14 still let
 * the fuzzer reach retransmission and its backoff, and the window's edges and wrap-around come
 * sooner with 64.
 *
 * Periodic work: every datagram the node sends costs a MAC over it, and two kinds of periodic
 * sends dominated the run time once the rest was fixed: heartbeats (every 50 ms by default) and
 * lkv's anti-entropy digest (a ~2 KB message every 200 ms), both sent on nearly every timer turn
 * since most clock steps exceed 50 ms. The fuzz cluster therefore runs with a heartbeat of 500 ms
 * (timeouts of 2 s) and lkv's anti-entropy every 60 s (lkv_set_limits): both still fire (the
 * 1 s steps, and every second 30 s step, since the node and its clock live across inputs) and
 * their receiving side, the decoders, is untouched (the harness's bodies carry heartbeats and
 * digests whenever the fuzzer writes them). At 10 s, the digest's encoding (256 buckets, each
 * a write whose bounds checks the comparison tracing of the coverage build records) and its MAC
 * were a fifth of the run time (perf), once per 30 s step. An input
 * holds at most MAX_BODIES bodies (the captured seeds hold up to 8): longer inputs only repeat
 * what a shorter one reaches, at the cost of one MAC per body and acknowledgement.
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

#include "fuzz_node.h"
#include "reg/lkv.h"

#define RECYCLE_INPUTS 20000
#define RECYCLE_BYTES (8u << 20)
#define INCARNATION 7
#define MAX_BODIES 8
#define RTX_MIN_US 10000             /* [links] retransmit_min_ms, the default */
#define AE_PERIOD_US 60000000ull     /* lkv's anti-entropy period in the fuzz node (above) */

/* Clock steps of mode 2 (microseconds): none, some shorter and some longer than the default
 * heartbeat (50 ms), retransmission bounds (10 ms - 1 s) and failure-detection timeouts. */
static const uint64_t STEP_US[8] = { 0, 1000, 5000, 20000, 50000, 200000, 1000000, 30000000 };

static struct fuzz_cluster cl;
static struct fuzz_clock clk = { .now_us = 1000000, .rng = 0x9e3779b97f4a7c15ull };
static struct strata_env env;
static struct strata_node *nodes[STRATA_MODEL_COUNT]; /* reused across inputs, see above */
static bool build_failed[STRATA_MODEL_COUNT];
static unsigned long node_inputs[STRATA_MODEL_COUNT];
static bool fresh_every_input;
static uint64_t ack_counter = 1u << 30;

static void init(void)
{
	fuzz_cluster_init(&cl, "fuzz", 0x40,
			  "[links]\nwindow = 64\n"
			  "[fd]\nheartbeat_ms = 500\ntimeout_ms = 2000\nevp_timeout_ms = 2000\n");
	env = fuzz_env(&clk);
	const char *fresh = getenv("FUZZ_DATAGRAM_FRESH");
	fresh_every_input = fresh && strcmp(fresh, "1") == 0;
}

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
	n = fuzz_node_new(&cl, model, &env, INCARNATION, false);
	if (!n) {
		build_failed[model] = true;
		return NULL;
	}
	node_inputs[model] = 0;
	for (size_t i = 0; i < strata_node_module_count(n); i++) {
		struct strata_module *m = strata_node_module_at(n, i);
		if (strcmp(m->ops->name, "lkv") == 0)
			lkv_set_limits(m, 0, 0, AE_PERIOD_US);
	}
	return nodes[model] = n;
}

static uint64_t rejected(const struct strata_counters *c)
{
	return c->rej_short + c->rej_cluster + c->rej_receiver + c->rej_sender + c->rej_mac +
	       c->rej_malformed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv) { return fuzz_no_leak_rerun(argc, argv); }

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
	if (!cl.cfg_ok[model])
		model = STRATA_MODEL_FAIL_NOISY;
	const struct strata_config *cfg = &cl.cfgs[model];
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
		fuzz_send_authentic(n, &cl, cfg, 2, data, size);
	} else {
		for (int b = 0; b < MAX_BODIES && size >= 2; b++) {
			size_t len = (size_t)(data[0] | (data[1] & 0x07) << 8);
			uint64_t step = STEP_US[(data[1] >> 3) & 0x07];
			bool silent = (data[1] & 0x40) != 0;
			uint32_t from = (data[1] & 0x80) ? 3 : 2;
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
			fuzz_send_authentic(n, &cl, cfg, from, data, len);
			data += len;
			size -= len;
			clk.now_us += step;
			strata_node_tick(n);
			if (!silent && step >= RTX_MIN_US && !strata_node_failed(n))
				fuzz_peers_ack(n, &cl, cfg, INCARNATION, &ack_counter);
		}
	}
	if (!strata_node_failed(n))
		fuzz_peers_ack(n, &cl, cfg, INCARNATION, &ack_counter);
	return 0;
}
