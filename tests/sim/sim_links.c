/* Simulation suite for the link layer: stubborn links (Alg. 2.1), perfect links (Alg. 2.2 + FIFO)
 * and authenticated perfect links (Alg. 2.4), under loss, duplication, reordering, delay,
 * partitions, pauses, crashes, bit flips, replays and forged datagrams.
 *
 * A test module (wire id 224) on every node sends numbered messages when asked through a client
 * request, over the link kind the case names, and records what it delivers. Properties checked
 * after every simulation step:
 *   no creation   - every delivered message was sent by the claimed sender to this node, intact
 *   no duplication- (perfect links) no message delivered twice
 *   FIFO          - (perfect links) per sender, delivered in sending order, without gaps between
 *                   nodes that never crashed
 * and at the end, after the network heals:
 *   reliable delivery - (perfect links) every message between correct nodes delivered
 *   stubborn delivery - (stubborn links) every such message delivered at least 3 times
 * Broken variants run the same checks on links that lack the property (fair-loss links as
 * "perfect", stubborn links as "perfect", a forger who holds a pair key). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "links/internal.h"
#include "links/links.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define APP_WIRE 224
#define MAXN 5
#define MAXMSG 4096

enum expect { EXPECT_PERFECT, EXPECT_STUBBORN };

struct scenario {
	int link;           /* STRATA_LINK_* the test module sends with */
	enum expect expect; /* which properties to check */
	double drop, dup, corrupt, replay;
	bool partitions, pause, crash, restart, big, forge, forger_has_key;
	bool encrypt;       /* [cluster] encrypt: sealed datagrams */
};

struct pair_log {
	uint32_t sent;                 /* messages sent p -> q (seq 1..sent) */
	uint32_t len[MAXMSG + 1];      /* payload length of each */
	uint16_t delivered[MAXMSG + 1];/* times delivered */
	uint32_t last;                 /* last seq delivered */
};

struct run {
	const struct scenario *sc;
	struct sim *sim;
	struct pair_log log[MAXN + 1][MAXN + 1];
	bool crashed[MAXN + 1];
	bool restarted[MAXN + 1];
	uint32_t restart_seq[MAXN + 1][MAXN + 1]; /* sent count of the pair when a node restarted */
	char why[512];
	bool failed;
};

struct app {
	struct strata_module base;
	struct run *run;
};

static void payload_fill(uint8_t *p, size_t len, uint32_t from, uint32_t to, uint32_t seq)
{
	for (size_t i = 12; i < len; i++)
		p[i] = (uint8_t)(from * 31 + to * 17 + seq * 7 + i);
	p[0] = (uint8_t)from;
	p[1] = (uint8_t)to;
	p[2] = p[3] = 0; /* sent on the wire (and MACed) like every other byte */
	memcpy(p + 4, &seq, 4);
	uint32_t l32 = (uint32_t)len;
	memcpy(p + 8, &l32, 4);
}

static void fail(struct run *r, const char *fmt, uint32_t a, uint32_t b, uint32_t c)
{
	if (r->failed)
		return;
	r->failed = true;
	snprintf(r->why, sizeof(r->why), fmt, a, b, c);
}

static void app_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct app *a = (struct app *)m;
	struct run *r = a->run;
	uint32_t me = strata_node_id(m->node);
	if (ev->type != STRATA_EV_PL_DELIVER && ev->type != STRATA_EV_SL_DELIVER &&
	    ev->type != STRATA_EV_FLL_DELIVER)
		return;
	const struct strata_msg *msg = ev->msg;
	uint32_t from = ev->peer, seq, len;
	if (msg->len < 12 || msg->data[0] != from || msg->data[1] != me) {
		fail(r, "no creation: node %u got a message claiming sender %u that %u never sent", me,
		     from, msg->len >= 1 ? msg->data[0] : 0);
		return;
	}
	memcpy(&seq, msg->data + 4, 4);
	memcpy(&len, msg->data + 8, 4);
	struct pair_log *pl = &r->log[from][me];
	if (seq < 1 || seq > pl->sent || len != msg->len || pl->len[seq] != len) {
		fail(r, "no creation: node %u delivered seq %u from %u, never sent", me, seq, from);
		return;
	}
	for (size_t i = 12; i < len; i++)
		if (msg->data[i] != (uint8_t)(from * 31 + me * 17 + seq * 7 + i)) {
			fail(r, "no creation: node %u delivered a corrupted copy of %u:%u", me, from, seq);
			return;
		}
	pl->delivered[seq]++;
	if (r->sc->expect == EXPECT_PERFECT) {
		if (pl->delivered[seq] > 1) {
			fail(r, "no duplication: node %u delivered %u:%u twice", me, from, seq);
			return;
		}
		if (seq <= pl->last) {
			fail(r, "FIFO: node %u delivered %u:%u after a later one", me, from, seq);
			return;
		}
		if (!r->crashed[from] && !r->crashed[me] && seq != pl->last + 1) {
			fail(r, "FIFO: node %u delivered %u:%u with a gap", me, from, seq);
			return;
		}
		pl->last = seq;
	}
}

static int app_request(struct strata_module *m, const struct strata_request *req)
{
	struct app *a = (struct app *)m;
	struct run *r = a->run;
	uint32_t me = strata_node_id(m->node);
	uint32_t to = req->key[0];
	struct pair_log *pl = &r->log[me][to];
	if (pl->sent >= MAXMSG)
		return STRATA_EFULL;
	uint32_t seq = pl->sent + 1;
	size_t len = req->value_len;
	struct strata_msg *msg = strata_msg_alloc(len);
	STRATA_ASSERT(msg);
	payload_fill(msg->data, len, me, to, seq);
	int rc;
	if (r->sc->link == STRATA_LINK_PL)
		rc = strata_pl_send(m, to, 7, msg);
	else if (r->sc->link == STRATA_LINK_SL)
		rc = strata_sl_send(m, to, 7, msg);
	else
		rc = strata_fll_send(m, to, 7, msg);
	strata_msg_unref(msg);
	if (rc == 0) {
		pl->sent = seq;
		pl->len[seq] = (uint32_t)len;
	}
	return rc;
}

static void app_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops app_ops = {
	.name = "app", .handle = app_handle, .request = app_request, .destroy = app_destroy,
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct app *a = calloc(1, sizeof(*a));
	STRATA_ASSERT(a);
	a->run = arg;
	strata_node_add_module(n, &a->base, &app_ops, APP_WIRE);
}

static int check(struct sim *s, void *arg)
{
	struct run *r = arg;
	return r->failed ? 1 : 0;
}

static void send_one(struct run *r, uint32_t from, uint32_t to, size_t len)
{
	uint8_t key = (uint8_t)to;
	struct strata_request req = { .id = 1, .op = STRATA_OP_WRITE, .key = &key, .key_len = 1,
				      .value_len = len };
	sim_request(r->sim, from, "app", &req);
}

/* A datagram from `from` to `to`, MACed with `key`, carrying one forged frame. */
static void forge(struct run *r, const struct strata_config *cfg, uint32_t from, uint32_t to,
		  const uint8_t *key)
{
	uint8_t payload[64];
	payload_fill(payload, sizeof(payload), from, to, 1);
	payload[20] ^= 0xff; /* content the sender never sent */
	Strata__Wire__Frame f = STRATA__WIRE__FRAME__INIT;
	Strata__Wire__Frame *fp = &f;
	f.link = (uint32_t)r->sc->link;
	f.module = APP_WIRE;
	f.instance = 7;
	f.seq = 1 + sim_random_below(r->sim, 4);
	f.payload.data = payload;
	f.payload.len = sizeof(payload);
	Strata__Wire__Datagram d = STRATA__WIRE__DATAGRAM__INIT;
	d.incarnation = 1;
	d.receiver_incarnation = 1; /* the victim's first incarnation in the simulator */
	d.counter = 1000000 + sim_random_below(r->sim, 1000000);
	d.n_frames = 1;
	d.frames = &fp;
	uint8_t buf[512], scratch[512];
	/* MACed, or sealed when the cluster encrypts: the forger knows the format. */
	size_t len = link_encode(cfg, key, NULL, from, to, &d, buf, scratch);
	sim_inject(r->sim, to, buf, len, 1000);
}

static void config_for(struct strata_config *cfg, uint32_t n, bool encrypt)
{
	strata_config_defaults(cfg);
	cfg->encrypt = encrypt;
	snprintf(cfg->cluster_id, sizeof(cfg->cluster_id), "sim-links");
	cfg->cluster_hash = 0x5157u;
	cfg->n = n;
	cfg->f = (n - 1) / 2;
	cfg->model = STRATA_MODEL_FAIL_SILENT;
	sim_config_loopback(cfg, n, 7000);
	for (uint32_t i = 1; i <= n; i++)
		cfg->nodes[i].client_port = (uint16_t)(8000 + i);
}

static int run_scenario(const struct scenario *sc, uint64_t seed, bool trace, char *why,
			size_t whylen)
{
	struct strata_config cfg;
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->sc = sc;
	uint32_t n = 3 + (uint32_t)(seed % 3);
	config_for(&cfg, n, sc->encrypt);
	struct sim_net net = {
		.drop = sc->drop, .dup = sc->dup, .delay_min_us = 100, .delay_max_us = 20000,
		.tail = 0.05, .tail_us = 200000, .corrupt = sc->corrupt, .replay = sc->replay,
	};
	struct sim_opts o = { .seed = seed, .cfg = &cfg, .net = net, .build = build, .arg = r,
			      .trace = trace };
	r->sim = sim_new(&o);
	struct sim *s = r->sim;
	sim_start(s);

	uint8_t forged_key[STRATA_LINK_KEY_LEN];
	if (sc->forge) {
		/* Without the pair key a forger can only guess; with it, the link cannot tell. */
		uint8_t pk[STRATA_PK_LEN], sk[STRATA_SK_LEN], seedb[32] = { 99 };
		strata_keypair_seed(pk, sk, seedb);
		if (sc->forger_has_key) {
			/* derive the real key of pair (1,2) from node 1's deterministic identity */
			uint8_t s1[32] = { 0 };
			s1[0] = 1;
			memcpy(s1 + 1, "strata-sim-identity", 19);
			strata_keypair_seed(pk, sk, s1);
			strata_link_key(forged_key, pk, sk, cfg.nodes[2].public_key);
		} else {
			strata_link_key(forged_key, pk, sk, cfg.nodes[2].public_key);
		}
	}

	uint32_t crash_node = 0, pause_node = 0;
	uint64_t crash_t = 0;
	uint64_t t_end_faults = 3000000;
	int rc = 0;
	for (uint64_t t = 0; t < t_end_faults && rc == 0; t += 20000) {
		/* a burst of sends from random nodes to random nodes (self included) */
		unsigned k = (unsigned)sim_random_below(s, 4);
		for (unsigned i = 0; i < k; i++) {
			uint32_t from = 1 + (uint32_t)sim_random_below(s, n);
			uint32_t to = 1 + (uint32_t)sim_random_below(s, n);
			if (!sim_is_up(s, from) || sim_is_paused(s, from))
				continue;
			size_t len = 12 + sim_random_below(s, 200);
			if (sc->big && sim_random_below(s, 10) == 0)
				len = 12 + sim_random_below(s, 40000);
			if (sc->link != STRATA_LINK_PL && len > 1000)
				len = 1000;
			send_one(r, from, to, len);
		}
		if (sc->partitions && sim_random_below(s, 50) == 0) {
			uint64_t a = 0, b = 0;
			for (uint32_t i = 1; i <= n; i++) {
				if (sim_random_below(s, 2))
					a |= 1ull << i;
				else
					b |= 1ull << i;
			}
			sim_partition(s, a, b);
			/* sometimes one-way only: a non-transitive, asymmetric cut */
			if (sim_random_below(s, 2))
				sim_link(s, 1 + (uint32_t)sim_random_below(s, n),
					 1 + (uint32_t)sim_random_below(s, n), true);
		}
		if (sc->partitions && sim_random_below(s, 30) == 0)
			sim_heal(s);
		if (sc->pause && !pause_node && t > 500000 && sim_random_below(s, 40) == 0) {
			pause_node = 1 + (uint32_t)sim_random_below(s, n);
			sim_pause(s, pause_node);
		}
		if (pause_node && sim_is_paused(s, pause_node) && sim_random_below(s, 30) == 0)
			sim_resume(s, pause_node);
		if (sc->crash && !crash_node && t > 300000 && sim_random_below(s, 60) == 0) {
			crash_node = 1 + (uint32_t)sim_random_below(s, n);
			r->crashed[crash_node] = true;
			sim_crash(s, crash_node);
			crash_t = t;
		}
		if (sc->restart && crash_node && !r->restarted[crash_node] && t > crash_t + 200000 &&
		    sim_random_below(s, 20) == 0) {
			/* A new incarnation: what it sends, and what is sent to it from now on, must
			 * be delivered exactly once; it may receive again what its previous life
			 * received (a new process). */
			r->restarted[crash_node] = true;
			for (uint32_t p = 1; p <= n; p++) {
				r->restart_seq[p][crash_node] = r->log[p][crash_node].sent;
				r->restart_seq[crash_node][p] = r->log[crash_node][p].sent;
				struct pair_log *pl = &r->log[p][crash_node];
				memset(pl->delivered, 0, sizeof(pl->delivered));
				pl->last = 0;
			}
			sim_restart(s, crash_node);
		}
		if (sc->forge && sim_random_below(s, 20) == 0)
			forge(r, &cfg, 1, 2, forged_key);
		if (sim_random_below(s, 100) == 0) {
			uint8_t junk[300];
			size_t jl = (size_t)sim_random_below(s, sizeof(junk));
			for (size_t i = 0; i < jl; i++)
				junk[i] = (uint8_t)sim_random(s);
			sim_inject(s, 1 + (uint32_t)sim_random_below(s, n), junk, jl, 10);
		}
		rc = sim_run_for(s, 20000, check, r);
	}
	/* Liveness phase: heal everything and wait. */
	if (rc == 0) {
		struct sim_net calm = { .delay_min_us = 100, .delay_max_us = 5000 };
		sim_set_net(s, &calm);
		sim_heal(s);
		if (pause_node)
			sim_resume(s, pause_node);
		/* perfect links back off to retransmit_max_ms; stubborn ones resend every 50 ms */
		rc = sim_run_for(s, sc->expect == EXPECT_STUBBORN ? 1000000 : 15000000, check, r);
	}
	if (rc == 0) {
		for (uint32_t p = 1; p <= n && !r->failed; p++)
			for (uint32_t q = 1; q <= n && !r->failed; q++) {
				uint32_t from_seq = 1;
				if (r->crashed[p] || r->crashed[q]) {
					uint32_t x = r->crashed[p] ? p : q;
					if (!r->restarted[x])
						continue;
					from_seq = r->restart_seq[p][q] + 1;
				}
				struct pair_log *pl = &r->log[p][q];
				unsigned need = sc->expect == EXPECT_STUBBORN && p != q ? 3 : 1;
				for (uint32_t i = from_seq; i <= pl->sent; i++)
					if (pl->delivered[i] < need) {
						fail(r, sc->expect == EXPECT_STUBBORN
								? "stubborn delivery: %u -> %u message %u "
								  "delivered fewer than 3 times"
								: "reliable delivery: %u -> %u message %u "
								  "never delivered",
						     p, q, i);
						break;
					}
			}
	}
	/* Non-vacuity: the run must actually have carried traffic. */
	unsigned long total_sent = 0, total_deliv = 0;
	for (uint32_t p = 1; p <= n; p++)
		for (uint32_t q = 1; q <= n; q++) {
			total_sent += r->log[p][q].sent;
			for (uint32_t i = 1; i <= r->log[p][q].sent; i++)
				total_deliv += r->log[p][q].delivered[i] ? 1 : 0;
		}
	if (!r->failed && (total_sent < 30 || total_deliv < 20))
		fail(r, "vacuous run: only %u messages sent, %u delivered (n=%u)", (uint32_t)total_sent,
		     (uint32_t)total_deliv, n);
	if (getenv("SIM_LINKS_VERBOSE")) {
		for (uint32_t p = 1; p <= n; p++) {
			struct strata_node *nd = sim_node(s, p);
			if (!nd)
				continue;
			struct strata_links *l = strata_node_links(nd);
			struct strata_counters *cc = strata_node_counters(nd);
			fprintf(stderr, "node %u: in=%llu out=%llu rtx=%llu dup=%llu win=%llu short=%llu mac=%llu mal=%llu replay=%llu inc=%llu frag=%llu full=%llu\n", p,
				(unsigned long long)cc->dgram_in, (unsigned long long)cc->dgram_out, (unsigned long long)cc->retransmits,
				(unsigned long long)cc->pl_dup_dropped, (unsigned long long)cc->pl_window_dropped, (unsigned long long)cc->rej_short,
				(unsigned long long)cc->rej_mac, (unsigned long long)cc->rej_malformed, (unsigned long long)cc->rej_replay,
				(unsigned long long)cc->rej_incarnation, (unsigned long long)cc->rej_fragment, (unsigned long long)cc->send_full);
			for (uint32_t q = 1; q <= n; q++) {
				struct link_peer *lp = &l->peers[q];
				fprintf(stderr, "  %u->%u inc=%llu tx_len=%zu next_seq=%llu rx_next=%llu rto=%llu pending=%d armed=%d\n", p, q,
					(unsigned long long)lp->incarnation, lp->tx_len,
					(unsigned long long)lp->tx_next_seq, (unsigned long long)lp->rx_next,
					(unsigned long long)lp->rto_us, lp->tx_pending, strata_timer_armed(&lp->rto_timer));
				if (lp->tx_len) {
					struct tx_entry *e0 = &lp->tx[lp->tx_head];
					fprintf(stderr, "     head seq=%llu acked=%d txc=%u resend=%d len=%u frag=%u/%u sent=%llu now=%llu\n",
						(unsigned long long)e0->fr.seq, e0->acked, e0->tx_count, e0->resend, e0->fr.len, e0->fr.frag_index, e0->fr.frag_count,
						(unsigned long long)e0->sent_us, (unsigned long long)sim_now(s));
				}
			}
		}
	}
	if (getenv("SIM_LINKS_VERBOSE"))
		fprintf(stderr, "seed %llu n=%u sent=%lu delivered=%lu datagrams=%llu\n",
			(unsigned long long)seed, n, total_sent, total_deliv,
			(unsigned long long)sim_datagrams_sent(s));
	if (r->failed)
		snprintf(why, whylen, "%s (n=%u)", r->why, n);
	int result = r->failed ? 1 : 0;
	sim_free(s);
	free(r);
	return result;
}

static const struct scenario sc_pl = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
				       .drop = 0.3, .dup = 0.3 };
static const struct scenario sc_pl_faults = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
					      .drop = 0.2, .dup = 0.2, .partitions = true,
					      .pause = true, .crash = true, .big = true };
static const struct scenario sc_pl_restart = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
					       .drop = 0.2, .dup = 0.2, .crash = true,
					       .restart = true, .big = true };
static const struct scenario sc_auth = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
					 .drop = 0.1, .dup = 0.1, .corrupt = 0.2, .replay = 0.2,
					 .forge = true };
/* The same faults with [cluster] encrypt = on: sealed datagrams keep every property, and a
 * corrupted, replayed or forged datagram is refused exactly as a MACed one is. */
static const struct scenario sc_pl_faults_enc = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
						  .drop = 0.2, .dup = 0.2, .partitions = true,
						  .pause = true, .crash = true, .big = true,
						  .encrypt = true };
static const struct scenario sc_pl_restart_enc = { .link = STRATA_LINK_PL,
						   .expect = EXPECT_PERFECT, .drop = 0.2,
						   .dup = 0.2, .crash = true, .restart = true,
						   .big = true, .encrypt = true };
static const struct scenario sc_auth_enc = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
					     .drop = 0.1, .dup = 0.1, .corrupt = 0.2, .replay = 0.2,
					     .forge = true, .encrypt = true };
static const struct scenario br_forge_enc = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
					      .forge = true, .forger_has_key = true,
					      .encrypt = true };
static const struct scenario sc_sl = { .link = STRATA_LINK_SL, .expect = EXPECT_STUBBORN,
				       .drop = 0.3, .dup = 0.3, .partitions = true };
static const struct scenario br_fll = { .link = STRATA_LINK_FLL, .expect = EXPECT_PERFECT,
					.drop = 0.3, .dup = 0.3 };
static const struct scenario br_sl = { .link = STRATA_LINK_SL, .expect = EXPECT_PERFECT,
				       .drop = 0.3, .dup = 0.3 };
static const struct scenario br_sl_fll = { .link = STRATA_LINK_FLL, .expect = EXPECT_STUBBORN,
					   .drop = 0.3 };
static const struct scenario br_forge = { .link = STRATA_LINK_PL, .expect = EXPECT_PERFECT,
					  .forge = true, .forger_has_key = true };

#define CASE(fn, sc)                                                               \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)         \
	{                                                                          \
		return run_scenario(&(sc), seed, trace, why, whylen);              \
	}
CASE(run_pl, sc_pl)
CASE(run_pl_faults, sc_pl_faults)
CASE(run_pl_restart, sc_pl_restart)
CASE(run_auth, sc_auth)
CASE(run_sl, sc_sl)
CASE(run_br_fll, br_fll)
CASE(run_br_sl, br_sl)
CASE(run_br_sl_fll, br_sl_fll)
CASE(run_br_forge, br_forge)
CASE(run_pl_faults_enc, sc_pl_faults_enc)
CASE(run_pl_restart_enc, sc_pl_restart_enc)
CASE(run_auth_enc, sc_auth_enc)
CASE(run_br_forge_enc, br_forge_enc)

static const struct sim_case cases[] = {
	{ "pl-loss-dup-reorder", run_pl, 1000, false },
	{ "pl-partition-pause-crash-fragments", run_pl_faults, 1000, false },
	{ "pl-crash-restart-new-incarnation", run_pl_restart, 1000, false },
	{ "auth-corrupt-replay-forge", run_auth, 1000, false },
	{ "sl-stubborn-delivery", run_sl, 1000, false },
	{ "broken-fll-as-perfect", run_br_fll, 200, true },
	{ "broken-sl-as-perfect", run_br_sl, 200, true },
	{ "broken-fll-as-stubborn", run_br_sl_fll, 200, true },
	{ "broken-forger-holds-pair-key", run_br_forge, 200, true },
	{ "encrypted-pl-partition-pause-crash-fragments", run_pl_faults_enc, 200, false },
	{ "encrypted-pl-crash-restart-new-incarnation", run_pl_restart_enc, 200, false },
	{ "encrypted-auth-corrupt-replay-forge", run_auth_enc, 200, false },
	{ "broken-encrypted-forger-holds-pair-key", run_br_forge_enc, 100, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "links", cases, sizeof(cases) / sizeof(cases[0]));
}
