/* libFuzzer target for every module's peer-message parser, reached directly: the input's
 * messages arrive at one module of node 1 as authentic frames from node 2 or 3, framed by the
 * harness (valid prefix, MAC, incarnations, counters and, on the perfect link, the next
 * sequence number the node expects), so every byte the fuzzer mutates is a module payload and
 * none is spent on getting through the link layer.
 *
 * Input:
 *   byte 0      the module: an index (modulo the table's size) into the table of every wire id
 *               of the catalog (each algorithm's wire_id .. wire_id + wire_span - 1 and its
 *               wire_also ids), with the algorithm's model; the node runs that model's stack
 *               and creates the module on its first frame as a live node does
 *   then messages, each:
 *     byte      bits 0-1 the link (0 fair-loss, 1 stubborn, 2 and 3 perfect), bit 2 the sender
 *               (node 2 or 3), bits 3-5 how far the clock moves after it (STEP_US), bit 6 set:
 *               the peers do not acknowledge after it
 *     8 bytes   the instance, little-endian
 *     2 bytes   the payload's length, little-endian (cut to what the input holds)
 *     payload
 * The node's timers fire after every message, and the peers then acknowledge what node 1 sent
 * them (as in fuzz_datagram, whose node reuse this target shares: one node per model across
 * inputs, rebuilt every RECYCLE_INPUTS inputs or above RECYCLE_BYTES held).
 *
 * Beyond "no crash, no sanitizer report": a frame for a module always reaches the module or is
 * counted (rej_module), and a module that cannot decode a payload counts it (bad_payload) rather
 * than stopping the node: the node never fails, since this target gives it no storage faults.
 * tests/fuzz/corpus/fuzz_module holds one seed per message captured from a live cluster
 * (tests/fuzz/seeds-from-capture). FUZZ_MODULE_LIST=1 prints the table and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_node.h"

#define RECYCLE_INPUTS 20000
#define RECYCLE_BYTES (8u << 20)
#define INCARNATION 7
#define PEER_INCARNATION 5
#define MAX_WIRE 512

static const uint64_t STEP_US[8] = { 0, 1000, 5000, 20000, 50000, 200000, 1000000, 30000000 };

struct wire_entry {
	uint16_t wire_id;
	enum strata_model model;
	const char *algo;
};

static struct wire_entry table[MAX_WIRE];
static size_t ntable;
static struct fuzz_cluster cl;
static struct fuzz_clock clk = { .now_us = 1000000, .rng = 0x6a09e667f3bcc908ull };
static struct strata_env env;
static struct strata_node *nodes[STRATA_MODEL_COUNT];
static bool build_failed[STRATA_MODEL_COUNT];
static unsigned long node_inputs[STRATA_MODEL_COUNT];
static uint64_t counter = 1;

static void add_wire(uint16_t w, const struct strata_algo *a)
{
	if (w == 0 || w > 255) /* 0 is local; the link layer carries 1..255 */
		return;
	for (size_t i = 0; i < ntable; i++)
		if (table[i].wire_id == w && table[i].model == a->model)
			return;
	STRATA_ASSERT(ntable < MAX_WIRE);
	table[ntable++] = (struct wire_entry){ .wire_id = w, .model = a->model, .algo = a->name };
}

static void add_algo(const struct strata_algo *a, void *arg)
{
	(void)arg;
	unsigned span = a->wire_span ? a->wire_span : 1;
	if (a->wire_id)
		for (unsigned i = 0; i < span; i++)
			add_wire((uint16_t)(a->wire_id + i), a);
	for (int i = 0; i < 2; i++)
		add_wire(a->wire_also[i], a);
}

/* Storage that takes every write and holds nothing: a fail-recovery module stores before it
 * sends, and without storage it would stop the node (STRATA_EIO). */
static int env_store(void *ctx, const char *key, const void *val, size_t len)
{
	(void)ctx; (void)key; (void)val; (void)len;
	return 0;
}
static int env_retrieve(void *ctx, const char *key, struct strata_msg **out)
{
	(void)ctx; (void)key;
	*out = NULL;
	return STRATA_ENOENT;
}
static int env_remove(void *ctx, const char *key) { (void)ctx; (void)key; return 0; }
static int env_sync(void *ctx) { (void)ctx; return 0; }

static void init(void)
{
	fuzz_cluster_init(&cl, "fuzzmod", 0x60, "[links]\nwindow = 64\n");
	env = fuzz_env(&clk);
	env.store = env_store;
	env.retrieve = env_retrieve;
	env.remove = env_remove;
	env.sync = env_sync;
	strata_algo_foreach(NULL, add_algo, NULL);
	STRATA_ASSERT(ntable > 0);
	const char *list = getenv("FUZZ_MODULE_LIST");
	if (list && strcmp(list, "1") == 0) {
		for (size_t i = 0; i < ntable; i++)
			printf("%zu wire %u model %s algo %s\n", i, table[i].wire_id,
			       strata_model_name(table[i].model), table[i].algo);
		exit(0);
	}
}

static struct strata_node *node_for(unsigned model)
{
	struct strata_node *n = nodes[model];
	if (n && (node_inputs[model] >= RECYCLE_INPUTS ||
		  strata_node_held_bytes(n) > RECYCLE_BYTES)) {
		strata_node_free(n);
		nodes[model] = n = NULL;
	}
	if (n)
		return n;
	if (build_failed[model] || !cl.cfg_ok[model])
		return NULL;
	n = fuzz_node_new(&cl, model, &env, INCARNATION, false);
	if (!n) {
		build_failed[model] = true;
		return NULL;
	}
	node_inputs[model] = 0;
	return nodes[model] = n;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* One frame for wire id w on `link` from `from`, in an authentic datagram. */
static void deliver(struct strata_node *n, const struct strata_config *cfg, uint32_t from,
		    unsigned link, uint16_t w, uint64_t instance, const uint8_t *payload, size_t len)
{
	struct strata_links *l = strata_node_links(n);
	const struct link_peer *p = &l->peers[from];
	Strata__Wire__Frame f = STRATA__WIRE__FRAME__INIT;
	Strata__Wire__Frame *fp = &f;
	Strata__Wire__Datagram d = STRATA__WIRE__DATAGRAM__INIT;
	f.link = link;
	f.module = w;
	f.instance = instance;
	f.lamport = counter;
	f.payload.data = (uint8_t *)(uintptr_t)payload;
	f.payload.len = len;
	if (link == STRATA_LINK_PL)
		f.seq = p->rx_next;
	d.incarnation = p->incarnation ? p->incarnation : PEER_INCARNATION;
	d.receiver_incarnation = INCARNATION;
	d.counter = counter++;
	d.n_frames = 1;
	d.frames = &fp;
	static uint8_t body[65536];
	size_t sz = strata__wire__datagram__get_packed_size(&d);
	STRATA_ASSERT(sz <= sizeof(body));
	strata__wire__datagram__pack(&d, body);
	fuzz_send_authentic(n, &cl, cfg, from, body, sz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	init();
	return fuzz_no_leak_rerun(argc, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const struct wire_entry *e = &table[data[0] % ntable];
	data++;
	size--;
	struct strata_node *n = node_for(e->model);
	if (!n)
		return 0;
	node_inputs[e->model]++;
	const struct strata_config *cfg = &cl.cfgs[e->model];
	const struct strata_counters *c = strata_node_counters(n);
	/* The frame's size must fit one datagram; larger payloads are cut. */
	size_t max_payload = cfg->max_datagram - 176;
	while (size >= 11 && !strata_node_failed(n)) {
		unsigned link = data[0] & 3;
		if (link == 3)
			link = STRATA_LINK_PL;
		uint32_t from = (data[0] & 4) ? 3 : 2;
		uint64_t step = STEP_US[(data[0] >> 3) & 7];
		bool silent = (data[0] & 0x40) != 0;
		uint64_t instance = get_le64(data + 1);
		size_t len = (size_t)data[9] | (size_t)data[10] << 8;
		data += 11;
		size -= 11;
		if (len > size)
			len = size;
		size_t plen = len > max_payload ? max_payload : len;
		uint64_t frames_before = c->frames_in;
		deliver(n, cfg, from, link, e->wire_id, instance, data, plen);
		/* An authentic, well-formed datagram with one frame: the frame is always taken
		 * in (it then reaches the module, or is counted as for an unknown module). */
		STRATA_ASSERT(c->frames_in == frames_before + 1);
		data += len;
		size -= len;
		clk.now_us += step;
		strata_node_tick(n);
		if (!silent && !strata_node_failed(n))
			fuzz_peers_ack(n, &cl, cfg, INCARNATION, &counter);
	}
	/* Without storage faults nothing may stop the node: a payload a module cannot decode
	 * is counted, never fatal. */
	STRATA_ASSERT(!strata_node_failed(n));
	return 0;
}
