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
 *               the peers do not acknowledge after it, bit 7 set: sign (below)
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
 * Signatures: the Byzantine modules check Ed25519 signatures that the fuzzer cannot forge, so a
 * mutated message stops at the check. The harness holds every node's secret key; with bit 7 of a
 * message's first byte set, it signs the payload's signature fields as the module's format
 * names their signers (a repair, like fuzz_rlog's CRCs) before framing it, so the parsers and
 * state machines behind the check are reached; without the bit the payload goes as the fuzzer
 * wrote it (bad signatures stay reachable). Formats signed (each module's own file defines
 * them; sign_payload below mirrors them):
 *   btob   MSG [1][sender][seq][bytes m][sig]: sig by sender over "strata-btob-v2" + SHA-256 of
 *          "strata-btob-v2" + the rest
 *   seb    ECHO [2][sender][seq][hash][sig]: sig by the frame's sender over seb's statement
 *          (wire id, sender, seq, signer, hash); FINAL [4][sender][seq][bytes m][count]
 *          [signer, sig]...: each sig by its signer over the statement with SHA-256(m)
 *   sbc, fast-sbc  PROPOSAL [1][bytes v][sig]: sig by the frame's sender over
 *          "strata-sbc-proposal-v1" + instance + sender + v (varints)
 *   bldc   conditional collect's SEND [17][ets][bytes m][sig]: sig by the frame's sender, and
 *          COLLECTED [18][ets][count][per process p: [has][bytes m][sig] if has]: each by its
 *          p, over "strata/bcc" + instance + ets + p + m (varints); what btob orders goes
 *          through these
 * A signer outside 1..3 or a payload that does not parse up to its signatures is left as is.
 * The signatures cost what a live node's cost (signing here, verifying in the node), so inputs
 * with signed messages run slower; the fuzzer chooses per message.
 *
 * tests/fuzz/corpus/fuzz_module holds one seed per message captured from a live cluster
 * (tests/fuzz/seeds-from-capture). FUZZ_MODULE_LIST=1 prints the table and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_node.h"
#include "fuzz_varint.h"

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

/* ---- Signing (bit 7): the harness's own code, without coverage instrumentation, so that
 * its parsing adds no coverage counts of its own to what libFuzzer sees of the node ---- */

#define BTOB_LABEL "strata-btob-v2" /* src/cons/btob.c */
#define BTOB_TAG_MSG 1
#define SBC_DOMAIN "strata-sbc-proposal-v1" /* src/cons/sbc.c */
#define SEB_STMT_LEN 54                      /* src/bcast/seb.c */
#define BCC_DOMAIN "strata/bcc"              /* src/cons/bcollect.c */
#define BCC_SEND_TYPE 17                     /* src/cons/bcollect.h */
#define BCC_COLLECTED_TYPE 18
#define SIGN_MAX 65536

__attribute__((no_sanitize("coverage"))) static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* Ed25519 by node `signer` (libsodium directly, so no instrumented code runs). */
__attribute__((no_sanitize("coverage"))) static void sign_as(uint64_t signer, const uint8_t *msg,
							    size_t len, uint8_t *sig)
{
	crypto_sign_detached(sig, NULL, msg, len, cl.sk[signer]);
}

__attribute__((no_sanitize("coverage"))) static void sign_btob(uint8_t *p, size_t len)
{
	uint8_t text[sizeof(BTOB_LABEL) - 1 + crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state h;
	size_t off = 1;
	uint64_t sender;
	if (len < 1 + STRATA_SIG_LEN || len - STRATA_SIG_LEN > SIGN_MAX || p[0] != BTOB_TAG_MSG)
		return;
	size_t body = len - STRATA_SIG_LEN;
	if (!fuzz_rd_varint(p, body, &off, &sender) || sender < 1 || sender > FUZZ_NODES)
		return;
	/* label || SHA-256(label || body) */
	memcpy(text, BTOB_LABEL, sizeof(BTOB_LABEL) - 1);
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const uint8_t *)BTOB_LABEL, sizeof(BTOB_LABEL) - 1);
	crypto_hash_sha256_update(&h, p, body);
	crypto_hash_sha256_final(&h, text + sizeof(BTOB_LABEL) - 1);
	sign_as(sender, text, sizeof(text), p + body);
}

__attribute__((no_sanitize("coverage"))) static void
seb_stmt(uint8_t st[SEB_STMT_LEN], uint16_t wire, uint64_t sender, uint64_t seq, uint64_t signer,
	 const uint8_t hash[STRATA_HASH_LEN])
{
	memcpy(st, "SEB1", 4);
	put_be(st + 4, wire, 2);
	put_be(st + 6, sender, 4);
	put_be(st + 10, seq, 8);
	put_be(st + 18, signer, 4);
	memcpy(st + 22, hash, STRATA_HASH_LEN);
}

__attribute__((no_sanitize("coverage"))) static void sign_seb(uint16_t wire, uint32_t from,
							     uint8_t *p, size_t len)
{
	size_t off = 1;
	uint64_t sender, seq, mlen, count, signer;
	uint8_t st[SEB_STMT_LEN], hash[STRATA_HASH_LEN];
	if (len < 1 || !fuzz_rd_varint(p, len, &off, &sender) ||
	    !fuzz_rd_varint(p, len, &off, &seq))
		return;
	if (p[0] == 2) { /* BYZ_ECHO (src/bcast/byz.h) */
		if (len - off < STRATA_HASH_LEN + STRATA_SIG_LEN)
			return;
		seb_stmt(st, wire, sender, seq, from, p + off);
		sign_as(from, st, sizeof(st), p + off + STRATA_HASH_LEN);
	} else if (p[0] == 4) { /* BYZ_FINAL */
		if (!fuzz_rd_varint(p, len, &off, &mlen) || mlen > len - off)
			return;
		crypto_hash_sha256(hash, p + off, (size_t)mlen);
		off += (size_t)mlen;
		if (!fuzz_rd_varint(p, len, &off, &count))
			return;
		for (uint64_t i = 0; i < count && i < FUZZ_NODES + 1; i++) {
			if (!fuzz_rd_varint(p, len, &off, &signer) || len - off < STRATA_SIG_LEN)
				return;
			if (signer >= 1 && signer <= FUZZ_NODES) {
				seb_stmt(st, wire, sender, seq, signer, hash);
				sign_as(signer, st, sizeof(st), p + off);
			}
			off += STRATA_SIG_LEN;
		}
	}
}

__attribute__((no_sanitize("coverage"))) static void sign_sbc(uint64_t instance, uint32_t from,
							     uint8_t *p, size_t len)
{
	static uint8_t buf[sizeof(SBC_DOMAIN) + 20 + SIGN_MAX];
	size_t off = 1;
	uint64_t vlen;
	if (len < 1 || len > SIGN_MAX || p[0] != 1 /* CONS_PROPOSAL */ ||
	    !fuzz_rd_varint(p, len, &off, &vlen) || vlen > len - off ||
	    len - off - (size_t)vlen != STRATA_SIG_LEN)
		return;
	size_t n = sizeof(SBC_DOMAIN) - 1;
	memcpy(buf, SBC_DOMAIN, n);
	n += fuzz_wr_varint(buf + n, instance);
	n += fuzz_wr_varint(buf + n, from);
	memcpy(buf + n, p + off, (size_t)vlen);
	sign_as(from, buf, n + (size_t)vlen, p + off + (size_t)vlen);
}

/* text = "strata/bcc" + instance + ets + p + m (varints), as bcollect.c's bcc_signed_text. */
__attribute__((no_sanitize("coverage"))) static void sign_bcc(uint64_t instance, uint64_t ets,
							     uint64_t signer, const uint8_t *m,
							     size_t mlen, uint8_t *sig)
{
	static uint8_t buf[sizeof(BCC_DOMAIN) + 30 + SIGN_MAX];
	size_t n = sizeof(BCC_DOMAIN) - 1;
	memcpy(buf, BCC_DOMAIN, n);
	n += fuzz_wr_varint(buf + n, instance);
	n += fuzz_wr_varint(buf + n, ets);
	n += fuzz_wr_varint(buf + n, signer);
	memcpy(buf + n, m, mlen);
	sign_as(signer, buf, n + mlen, sig);
}

__attribute__((no_sanitize("coverage"))) static void sign_bldc(uint64_t instance, uint32_t from,
							      uint8_t *p, size_t len)
{
	size_t off = 1;
	uint64_t ets, mlen, count;
	if (len < 1 || len > SIGN_MAX || !fuzz_rd_varint(p, len, &off, &ets))
		return;
	if (p[0] == BCC_SEND_TYPE) {
		if (!fuzz_rd_varint(p, len, &off, &mlen) || mlen > len - off ||
		    len - off - (size_t)mlen != STRATA_SIG_LEN)
			return;
		sign_bcc(instance, ets, from, p + off, (size_t)mlen, p + off + (size_t)mlen);
	} else if (p[0] == BCC_COLLECTED_TYPE) {
		if (!fuzz_rd_varint(p, len, &off, &count))
			return;
		for (uint64_t q = 1; q <= count && q <= FUZZ_NODES && off < len; q++) {
			if (p[off++] != 1)
				continue;
			if (!fuzz_rd_varint(p, len, &off, &mlen) || mlen > len - off ||
			    len - off - (size_t)mlen < STRATA_SIG_LEN)
				return;
			sign_bcc(instance, ets, q, p + off, (size_t)mlen, p + off + (size_t)mlen);
			off += (size_t)mlen + STRATA_SIG_LEN;
		}
	}
}

/* Gives payload p (a copy the harness owns) valid signatures where e's module has them. */
__attribute__((no_sanitize("coverage"))) static void
sign_payload(const struct wire_entry *e, uint32_t from, uint64_t instance, uint8_t *p, size_t len)
{
	if (strcmp(e->algo, "btob") == 0)
		sign_btob(p, len);
	else if (strcmp(e->algo, "seb") == 0)
		sign_seb(e->wire_id, from, p, len);
	else if (strcmp(e->algo, "sbc") == 0 || strcmp(e->algo, "fast-sbc") == 0)
		sign_sbc(instance, from, p, len);
	else if (strcmp(e->algo, "bldc") == 0)
		sign_bldc(instance, from, p, len);
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
		bool sign = (data[0] & 0x80) != 0;
		uint64_t instance = get_le64(data + 1);
		size_t len = (size_t)data[9] | (size_t)data[10] << 8;
		data += 11;
		size -= 11;
		if (len > size)
			len = size;
		size_t plen = len > max_payload ? max_payload : len;
		uint64_t frames_before = c->frames_in;
		const uint8_t *payload = data;
		if (sign && plen > 0 && plen <= SIGN_MAX) {
			static uint8_t copy[SIGN_MAX];
			memcpy(copy, data, plen);
			sign_payload(e, from, instance, copy, plen);
			payload = copy;
		}
		deliver(n, cfg, from, link, e->wire_id, instance, payload, plen);
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
