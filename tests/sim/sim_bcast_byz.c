/* Simulation suite for the Byzantine broadcasts: aeb (Alg. 3.16), seb (3.17), brb (3.18) and
 * the channels bcc / bcc-seb (3.19) and brc (3.20), under loss, duplication, reordering and delay
 * (the perfect links retransmit), with f Byzantine processes among N = 4 (f = 1) or N = 7
 * (f = 2): each one silent, equivocating, forging, sending bad signatures or garbage, replaying,
 * or a pair of twins (two correct copies of one identity), chosen per seed. Correct and Byzantine
 * processes broadcast.
 *
 * Checked among the CORRECT processes, after every simulation step:
 *   no duplication - no process delivers (sender, seq) twice
 *   integrity      - a delivery from a correct sender carries what that sender broadcast with
 *                    that sequence number
 *   consistency    - no two correct processes deliver different payloads for one (sender, seq)
 *   FIFO           - (channels) each sender's messages are delivered in sequence order, no gaps
 * and at the end, after the network heals:
 *   validity       - every message a correct process broadcast is delivered by every correct one
 *   totality       - (brb, brc) whatever one correct process delivered, every correct one did
 *   detection      - where a Byzantine process forges or sends bad signatures / garbage, the
 *                    correct processes counted rejected payloads (strata_node_bad_payload)
 * Broken variants (expect_violation): brb and bcc with quorums lowered through the test-only
 * byzb_test_set_quorums() and an equivocating sender break consistency; aeb, which is only
 * consistent, with an equivocating sender breaks totality, where brb keeps it.
 *
 * Sends the links refuse (byz.h): the *-backlog cases set `[links] backlog_bytes` = max_value =
 * BACKLOG (8 KiB), send payloads of 256 to 1,279 bytes, and cut one correct process off from
 * every other for ISOLATE_MS in the middle of the broadcasts, so that the links toward it (and
 * from it) fill and refuse sends. Besides the checks above (validity and totality need every
 * refused message sent again once the partition heals), each seed must have refusals (send_full
 * at the correct processes, or the case proves nothing) and no owed message dropped (the owed
 * queues' caps hold a whole window). broken-aeb-backlog-no-owed loses what the links refuse
 * (byzb_test_no_owed, as before the owed queues): validity fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/byz.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "lib/byz_harness.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MAXN 7
#define MAXSEQ 128
#define PER_SENDER 10 /* broadcasts requested per process and run */
#define BACKLOG (4u * 1024) /* *-backlog cases: [links] backlog_bytes = max_value */
#define ISOLATE_AT_MS 200   /* *-backlog cases: one correct process cut off from then ... */
#define ISOLATE_MS 500      /* ... for this long */

struct scenario {
	const char *algo;
	bool reliable; /* check totality */
	bool channel;  /* check FIFO */
	int n;         /* 0 = 4 or 7 by seed */
	enum strata_byz force; /* NONE = chosen per seed */
	bool byz_sender_only;  /* only the Byzantine process broadcasts */
	unsigned q_echo, q_ready, q_deliver; /* nonzero: lowered quorums (broken variants) */
	unsigned per_sender; /* broadcasts requested per process; 0 = PER_SENDER */
	bool backlog; /* small backlog, larger payloads, one correct process cut off for a while */
	bool no_owed; /* broken variant: a refused send is lost (byzb_test_no_owed) */
	double drop, dup;
};

struct rec {
	bool set;
	size_t len;
	uint8_t hash[STRATA_HASH_LEN];
};

struct run {
	struct byzh h; /* roles, the simulation, the first violation */
	const struct scenario *sc;
	uint16_t wire;
	struct rec sent[MAXN + 1][MAXSEQ + 1];   /* by correct senders */
	struct rec agreed[MAXN + 1][MAXSEQ + 1]; /* first payload a correct process delivered */
	uint8_t dlv[MAXN + 1][MAXN + 1][MAXSEQ + 1]; /* [process][sender][seq] */
	uint64_t last[MAXN + 1][MAXN + 1];
	unsigned requested[MAXN + 1];
	unsigned nsent, ndeliv;
};

static bool correct(const struct run *r, uint32_t p)
{
	return byzh_correct(&r->h, p);
}

static void rec_set(struct rec *x, const uint8_t *p, size_t len)
{
	x->set = true;
	x->len = len;
	strata_hash(x->hash, p, len);
}

static bool rec_eq(const struct rec *x, const uint8_t *p, size_t len)
{
	uint8_t h[STRATA_HASH_LEN];
	strata_hash(h, p, len);
	return x->len == len && memcmp(x->hash, h, sizeof(h)) == 0;
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	struct byzh *h = &r->h;
	if (!correct(r, node) || o->module != r->wire)
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		if (o->a < 1 || o->a > MAXSEQ) {
			byzh_fail(h, "test: process %u broadcast seq %llu out of range", node,
				  (unsigned long long)o->a);
			return;
		}
		rec_set(&r->sent[node][o->a], o->data, o->len);
		r->nsent++;
		return;
	}
	if (o->kind != STRATA_OUT_DELIVER)
		return;
	uint32_t snd = o->peer;
	uint64_t k = o->a;
	if (snd < 1 || snd > h->n || k < 1 || k > MAXSEQ) {
		byzh_fail(h, "process %u delivered from sender %u an out-of-range seq %llu", node, snd,
			  (unsigned long long)k);
		return;
	}
	r->ndeliv++;
	if (++r->dlv[node][snd][k] > 1) {
		byzh_fail(h, "no duplication: process %u delivered %u:%llu twice", node, snd,
			  (unsigned long long)k);
		return;
	}
	if (correct(r, snd) && (!r->sent[snd][k].set || !rec_eq(&r->sent[snd][k], o->data, o->len))) {
		byzh_fail(h, "integrity: process %u delivered %u:%llu, which the correct sender never "
			     "broadcast", node, snd, (unsigned long long)k);
		return;
	}
	struct rec *ag = &r->agreed[snd][k];
	if (ag->set && !rec_eq(ag, o->data, o->len)) {
		byzh_fail(h, "consistency: process %u delivered a different payload for %u:%llu", node,
			  snd, (unsigned long long)k);
		return;
	}
	if (!ag->set)
		rec_set(ag, o->data, o->len);
	if (r->sc->channel) {
		if (k != r->last[node][snd] + 1) {
			byzh_fail(h, "FIFO: process %u delivered %u:%llu out of order", node, snd,
				  (unsigned long long)k);
			return;
		}
		r->last[node][snd] = k;
	}
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	const struct strata_algo *a = strata_algo_find(r->sc->algo);
	STRATA_ASSERT(a);
	char err[256];
	struct strata_module *m = strata_algo_create(a, n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "build %s: %s\n", r->sc->algo, err);
		abort();
	}
	if (r->sc->q_echo)
		STRATA_ASSERT(byzb_test_set_quorums(m, r->sc->q_echo, r->sc->q_ready,
						   r->sc->q_deliver) == 0);
	if (r->sc->no_owed)
		STRATA_ASSERT(byzb_test_no_owed(m) == 0);
}

static void request(struct run *r, uint32_t p)
{
	uint8_t buf[2048];
	size_t len = 1 + sim_random_below(r->h.s, 64);
	if (sim_random_below(r->h.s, 20) == 0)
		len = 1 + sim_random_below(r->h.s, sizeof(buf)); /* now and then, fragments */
	if (r->sc->backlog)
		len = 256 + sim_random_below(r->h.s, 1024); /* a few fill an 8 KiB backlog */
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)sim_random(r->h.s);
	struct strata_request req = { .id = ++r->requested[p], .op = STRATA_OP_BROADCAST,
				      .value = buf, .value_len = len };
	sim_request(r->h.s, p, r->sc->algo, &req);
}

static const enum strata_byz behaviours[] = {
	STRATA_BYZ_SILENT, STRATA_BYZ_EQUIVOCATE, STRATA_BYZ_FORGE,
	STRATA_BYZ_BADSIG, STRATA_BYZ_REPLAY, BYZH_TWINS,
};

static uint64_t rejected(struct run *r)
{
	uint64_t c = 0;
	for (uint32_t p = 1; p <= r->h.n; p++)
		if (correct(r, p) && sim_node(r->h.s, p))
			c += strata_node_counters(sim_node(r->h.s, p))->rej_payload;
	return c;
}

/* *-backlog cases: the correct processes' refused sends (send_full) and owed counters. */
static void owed_totals(struct run *r, const char *algo, uint64_t *full, uint64_t *refused,
			uint64_t *resent, uint64_t *dropped)
{
	*full = *refused = *resent = *dropped = 0;
	for (uint32_t p = 1; p <= r->h.n; p++) {
		struct strata_node *nd = sim_node(r->h.s, p);
		if (!correct(r, p) || !nd)
			continue;
		*full += strata_node_counters(nd)->send_full;
		struct strata_pl_owed_counts c;
		if (byzb_test_owed_counts(strata_node_module_by_name(nd, algo), &c) == 0) {
			*refused += c.refused;
			*resent += c.resent;
			*dropped += c.dropped;
		}
	}
}

static void final_checks(struct run *r)
{
	struct byzh *h = &r->h;
	for (uint32_t s = 1; s <= h->n && !h->failed; s++)
		for (uint64_t k = 1; k <= MAXSEQ && !h->failed; k++) {
			bool need = (correct(r, s) && r->sent[s][k].set) ||
				    (r->sc->reliable && r->agreed[s][k].set);
			if (!need)
				continue;
			for (uint32_t p = 1; p <= h->n; p++)
				if (correct(r, p) && !r->dlv[p][s][k]) {
					byzh_fail(h, correct(r, s) ? "validity: process %u never delivered "
								     "%u:%llu from a correct sender"
								   : "totality: process %u never delivered "
								     "%u:%llu, which a correct process did",
						  p, s, (unsigned long long)k);
					break;
				}
		}
}

static int run_scenario(const struct scenario *sc, uint64_t seed, bool trace, char *why,
			size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct byzh *h = &r->h;
	r->sc = sc;
	uint32_t n = sc->n ? (uint32_t)sc->n : (seed % 2 ? 4 : 7);
	byzh_config(h, "sim-bcast-byz", n, (n - 1) / 3, 7000);
	h->cfg.cluster_hash = 0xb12au;
	if (sc->backlog)
		h->cfg.backlog_bytes = h->cfg.max_value = BACKLOG;
	for (uint32_t i = 1; i <= n; i++)
		h->cfg.nodes[i].client_port = (uint16_t)(8000 + i);
	r->wire = strata_algo_find(sc->algo)->wire_id;
	struct sim_net net = { .drop = sc->drop, .dup = sc->dup, .delay_min_us = 100,
			       .delay_max_us = 20000, .tail = 0.05, .tail_us = 200000 };
	struct sim *s = byzh_sim_new(h, seed, trace, build, on_output, r, &net);
	/* The Byzantine processes: the last one always, so broken variants know who it is; the
	 * others at random. */
	byzh_draw(h, h->f, n, behaviours, sizeof(behaviours) / sizeof(behaviours[0]), sc->force);
	byzh_start(h);
	/* *-backlog cases: the first correct process is cut off for a while */
	uint32_t cut = 0;
	for (uint32_t p = 1; p <= n && sc->backlog && !cut; p++)
		if (correct(r, p))
			cut = p;

	int rc = 0;
	for (uint64_t t = 0; t < 1200000 && rc == 0; t += 20000) {
		if (cut && t == ISOLATE_AT_MS * BYZH_MS)
			sim_partition(s, 1ull << cut, ((2ull << n) - 2) & ~(1ull << cut));
		if (cut && t == (ISOLATE_AT_MS + ISOLATE_MS) * BYZH_MS)
			sim_heal(s);
		if (sim_random_below(s, 10) < 5) {
			uint32_t p = 1 + (uint32_t)sim_random_below(s, n);
			if (sc->byz_sender_only)
				p = n;
			if (r->requested[p] < (sc->per_sender ? sc->per_sender : PER_SENDER))
				request(r, p);
		}
		rc = sim_run_for(s, 20000, byzh_check, h);
	}
	if (rc == 0) {
		struct sim_net calm = byzh_net_calm();
		sim_set_net(s, &calm);
		rc = sim_run_for(s, 6000000, byzh_check, h);
	}
	if (!h->failed)
		final_checks(r);
	if (!h->failed && r->nsent == 0 && !sc->byz_sender_only)
		byzh_fail(h, "vacuous run: no correct process broadcast");
	if (!h->failed && r->ndeliv == 0)
		byzh_fail(h, "vacuous run: nothing delivered");
	uint64_t full, refused, resent, dropped;
	owed_totals(r, sc->algo, &full, &refused, &resent, &dropped);
	/* a seed whose links refused nothing tests nothing here (nor catches a broken variant) */
	bool vacuous = !h->failed && sc->backlog && full == 0;
	if (!h->failed && dropped > 0)
		byzh_fail(h, "bound: %llu owed messages dropped", (unsigned long long)dropped);
	bool detectable = false;
	for (uint32_t p = 1; p <= n; p++)
		detectable |= h->beh[p] == STRATA_BYZ_FORGE || h->beh[p] == STRATA_BYZ_BADSIG;
	if (!h->failed && detectable && r->nsent > 0 && rejected(r) == 0)
		byzh_fail(h, "detection: a forging/bad-signature process went unnoticed");
	char who[128];
	byzh_who(h, who, sizeof(who));
	if (getenv("SIM_BYZ_VERBOSE")) {
		uint64_t late = 0, drops = 0, d = 0, l, w, dd;
		for (uint32_t p = 1; p <= n; p++) {
			struct strata_node *nd = sim_node(s, p);
			if (nd && byzb_test_counters(strata_node_module_by_name(nd, sc->algo), &l, &w,
						    &dd) == 0) {
				late += l;
				drops += w;
				d += dd;
			}
		}
		fprintf(stderr, "seed %llu n=%u byz=%s sent=%u delivered=%u late=%llu "
			"window_drops=%llu rejected=%llu send_full=%llu owed=%llu resent=%llu\n",
			(unsigned long long)seed, n, who, r->nsent, r->ndeliv,
			(unsigned long long)late, (unsigned long long)drops,
			(unsigned long long)rejected(r), (unsigned long long)full,
			(unsigned long long)refused, (unsigned long long)resent);
	}
	int verdict = byzh_finish(h, why, whylen);
	if (vacuous)
		verdict = sim_vacuous(why, whylen, "the links refused no send");
	if (verdict && !vacuous) {
		size_t at = strlen(why);
		if (at < whylen)
			snprintf(why + at, whylen - at, " (n=%u, Byzantine:%s)", n, who);
	}
	free(r);
	return verdict;
}

#define NET .drop = 0.15, .dup = 0.1
static const struct scenario sc_aeb = { .algo = "aeb", NET };
/* Signatures cost ~50 us each to verify: fewer broadcasts keep the seb cases fast. */
static const struct scenario sc_seb = { .algo = "seb", .per_sender = 3, NET };
static const struct scenario sc_brb = { .algo = "brb", .reliable = true, NET };
static const struct scenario sc_bcc = { .algo = "bcc", .channel = true, NET };
static const struct scenario sc_bcc_seb = { .algo = "bcc-seb", .channel = true,
					    .per_sender = 3, NET };
static const struct scenario sc_brc = { .algo = "brc", .reliable = true, .channel = true, NET };
/* brb keeps totality against the very sender that breaks aeb's (below). */
static const struct scenario sc_brb_equiv = { .algo = "brb", .reliable = true, .n = 4,
					      .force = STRATA_BYZ_EQUIVOCATE,
					      .byz_sender_only = true, NET };
static const struct scenario br_aeb_totality = { .algo = "aeb", .reliable = true, .n = 4,
						 .force = STRATA_BYZ_EQUIVOCATE,
						 .byz_sender_only = true, NET };
static const struct scenario br_brb_quorums = { .algo = "brb", .reliable = true, .n = 4,
						.force = STRATA_BYZ_EQUIVOCATE,
						.byz_sender_only = true, .q_echo = 2,
						.q_ready = 2, .q_deliver = 2, NET };
static const struct scenario br_bcc_quorums = { .algo = "bcc", .channel = true, .n = 4,
						.force = STRATA_BYZ_EQUIVOCATE,
						.byz_sender_only = true, .q_echo = 2,
						.q_ready = 2, .q_deliver = 2, NET };
/* Sends the links refuse (see the top): every algorithm family, and the broken variant. */
#define BACKLOG_NET .backlog = true, NET
static const struct scenario sc_aeb_backlog = { .algo = "aeb", BACKLOG_NET };
static const struct scenario sc_seb_backlog = { .algo = "seb", .per_sender = 6, BACKLOG_NET };
static const struct scenario sc_brb_backlog = { .algo = "brb", .reliable = true, BACKLOG_NET };
static const struct scenario sc_brc_backlog = { .algo = "brc", .reliable = true,
						.channel = true, BACKLOG_NET };
static const struct scenario br_aeb_no_owed = { .algo = "aeb", .no_owed = true, BACKLOG_NET };

#define CASE(fn, sc) BYZH_CASE(fn, run_scenario, &(sc))
CASE(run_aeb, sc_aeb)
CASE(run_seb, sc_seb)
CASE(run_brb, sc_brb)
CASE(run_bcc, sc_bcc)
CASE(run_bcc_seb, sc_bcc_seb)
CASE(run_brc, sc_brc)
CASE(run_brb_equiv, sc_brb_equiv)
CASE(run_br_aeb_totality, br_aeb_totality)
CASE(run_br_brb_quorums, br_brb_quorums)
CASE(run_br_bcc_quorums, br_bcc_quorums)
CASE(run_aeb_backlog, sc_aeb_backlog)
CASE(run_seb_backlog, sc_seb_backlog)
CASE(run_brb_backlog, sc_brb_backlog)
CASE(run_brc_backlog, sc_brc_backlog)
CASE(run_br_aeb_no_owed, br_aeb_no_owed)

static const struct sim_case cases[] = {
	{ "aeb", run_aeb, 500, false },
	{ "seb", run_seb, 500, false },
	{ "brb", run_brb, 500, false },
	{ "bcc", run_bcc, 500, false },
	{ "bcc-seb", run_bcc_seb, 500, false },
	{ "brc", run_brc, 500, false },
	{ "brb-equivocating-sender-totality", run_brb_equiv, 100, false },
	{ "broken-aeb-has-no-totality", run_br_aeb_totality, 50, true },
	{ "broken-brb-low-quorums-consistency", run_br_brb_quorums, 50, true },
	{ "broken-bcc-low-quorums-consistency", run_br_bcc_quorums, 50, true },
	{ "aeb-backlog", run_aeb_backlog, 150, false },
	{ "seb-backlog", run_seb_backlog, 40, false },
	{ "brb-backlog", run_brb_backlog, 150, false },
	{ "brc-backlog", run_brc_backlog, 150, false },
	{ "broken-aeb-backlog-no-owed", run_br_aeb_no_owed, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "bcast-byz", cases, sizeof(cases) / sizeof(cases[0]));
}
