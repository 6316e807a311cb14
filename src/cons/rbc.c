/* Randomized binary consensus, book Alg. 5.12-5.13 "Randomized Binary Consensus" (module rbc),
 * with the threshold common coin (tcoin.h).
 *
 * Specification (Module 5.3, randomized binary consensus, domain {0, 1}):
 *   C1' Termination: with probability 1, every correct process eventually decides some value.
 *   C2 Validity: if a process decides v, then v was proposed by some process.
 *   C3 Integrity: no process decides twice.
 *   C4 Agreement: no two correct processes decide differently.
 * Common coin (the book's CommonCoin, instances coin.r): on <Release> every correct process
 * eventually outputs the coin (termination), all output the same value (matching), and no
 * process can predict it before some correct process released its share (unpredictability).
 * Model: fail-silent with randomization (crash-stop, no failure detector), over best-effort
 * broadcast (and eager reliable broadcast of DECIDED, done here: relayed once on first receipt).
 * Resilience: N > 2f (f = the cluster's f; the engine waits for N - f messages per phase).
 * Cost per round: 2 communication steps and 2N^2 messages (PHASE-1, PHASE-2 to all), plus the
 * coin (N^2 COIN shares, each with a Chaum-Pedersen proof) and N^2 DECIDED relays at the end.
 * Expected rounds: constant (each round with mixed proposals ends in agreement with
 * probability >= 1/2, when the coin matches the value some processes adopted).
 *
 * Faithful transcription, with these choices stated: the book's waits "#(val) = N - f" are
 * ">= N - f" over the messages buffered for the round (more messages never break the
 * majority arguments); a process decides on more than f equal PHASE-2 values; the coin is
 * released after the PHASE-2 wait and the PHASE-2 values seen then are the ones used; the
 * coin of round r is the threshold coin of instance name (module, consensus instance, binary
 * instance, r). Joining (cons.h): a process that hears of an instance from a peer first
 * proposes the smallest value a round-1 PHASE-1 message carried. Bounds: rounds up to
 * RB_AHEAD - 1 ahead of the current one are buffered (rbc.h); more is dropped and counted
 * (a peer that far ahead does not need this process to progress, and its DECIDED arrives). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/rbc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"

static unsigned pop(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

/* ---- the engine ---- */

void rb_init(struct rb_eng *e)
{
	memset(e, 0, sizeof(*e));
}

void rb_free(struct rb_eng *e)
{
	for (unsigned k = 0; k < RB_AHEAD; k++) {
		free(e->slot[k].shares);
		e->slot[k].shares = NULL;
	}
}

static void slot_clear(struct rb_slot *s)
{
	free(s->shares);
	memset(s, 0, sizeof(*s));
}

static uint64_t base_round(const struct rb_eng *e)
{
	return e->round ? e->round : 1;
}

static struct rb_slot *slot_of(struct rb_eng *e, const struct rb_ctx *c, uint64_t r)
{
	uint64_t b = base_round(e);
	if (r < b)
		return NULL; /* a past round: its messages are no longer needed */
	if (r >= b + RB_AHEAD) {
		c->coin->dropped_ahead++;
		return NULL;
	}
	return &e->slot[r % RB_AHEAD];
}

static void send_body(const struct rb_ctx *c, uint8_t type, uint64_t round, const uint8_t *p,
		      size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + 16);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, round);
	strata_wr_raw(&w, p, len);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg) {
		strata_trace(c->m->node, c->m->ops->name, "message does not encode -> not sent");
		return;
	}
	c->send(c->arg, msg);
	strata_msg_unref(msg);
}

static size_t coin_name(const struct rb_ctx *c, uint64_t round, uint8_t *out)
{
	memcpy(out, c->name, c->name_len);
	for (int b = 0; b < 8; b++)
		out[c->name_len + (size_t)b] = (uint8_t)(round >> (8 * b));
	return c->name_len + 8;
}

/* upon event <coin.round, Release>: the threshold coin broadcasts this process's share; the
 * seeded (test-only) coin is known at once. */
static void coin_release(struct rb_eng *e, const struct rb_ctx *c)
{
	struct rb_slot *s = &e->slot[e->round % RB_AHEAD];
	uint8_t name[64];
	size_t nl = coin_name(c, e->round, name);
	if (c->coin->mode == RB_COIN_SEEDED) {
		uint8_t buf[72], h[STRATA_HASH_LEN];
		memcpy(buf, name, nl);
		for (int b = 0; b < 8; b++)
			buf[nl + (size_t)b] = (uint8_t)(c->coin->seed >> (8 * b));
		strata_hash(h, buf, nl + 8);
		s->coin_known = true;
		s->coin = h[0] & 1u;
		return;
	}
	uint8_t share[TCOIN_SHARE_LEN];
	uint32_t me = strata_node_id(c->m->node);
	if (tcoin_share(share, c->coin->x, c->coin->vk[me - 1], name, nl) != 0) {
		strata_trace(c->m->node, c->m->ops->name, "coin share failed -> not released");
		return;
	}
	send_body(c, RB_COIN, e->round, share, sizeof(share));
}

static void decide(struct rb_eng *e, const struct rb_ctx *c, int v, uint64_t round)
{
	uint8_t b = (uint8_t)v;
	e->decided = true;
	e->decision = v;
	if (round > c->coin->rounds_max)
		c->coin->rounds_max = round;
	/* trigger <rb, Broadcast | [DECIDED, v]> (eager: every process relays it once) */
	send_body(c, RB_DECIDED, round, &b, 1);
	c->decided(c->arg, v, round); /* may free e: the caller returns at once */
}

/* The guarded handlers of Alg. 5.12-5.13 on the current round, until none applies. Returns
 * true if the engine decided (and may be freed). */
static bool rb_try(struct rb_eng *e, const struct rb_ctx *c)
{
	uint32_t n = c->n, quorum = c->n - c->f;
	while (!e->decided && e->round > 0) {
		struct rb_slot *s = &e->slot[e->round % RB_AHEAD];
		if (e->phase == 1) {
			/* upon #(val) >= N - f ∧ phase = 1 ∧ decision = ⊥ do
			 *     if exists v ≠ ⊥ such that #({p | val[p] = v}) > N/2 then proposal := v
			 *     else proposal := ⊥;
			 *     val := [⊥]^N; phase := 2;
			 *     trigger <beb, Broadcast | [PHASE-2, round, proposal]>; */
			if (pop(s->p1) < quorum)
				return false;
			unsigned ones = pop(s->p1_one), zeros = pop(s->p1) - ones;
			e->proposal = 2 * ones > n ? 1 : 2 * zeros > n ? 0 : (int)RB_BOTTOM;
			e->phase = 2;
			uint8_t b = (uint8_t)e->proposal;
			send_body(c, RB_PHASE2, e->round, &b, 1);
		} else if (e->phase == 2) {
			/* upon #(val) >= N - f ∧ phase = 2 ∧ decision = ⊥ do
			 *     phase := 0; trigger <coin.round, Release>; */
			if (pop(s->p2) < quorum)
				return false;
			e->view2 = s->p2;
			e->view2_zero = s->p2_zero;
			e->view2_one = s->p2_one;
			e->phase = 0;
			coin_release(e, c);
		} else {
			/* upon event <coin.round, Output | c> do
			 *     if exists v ≠ ⊥ such that #({p | val[p] = v}) > f then
			 *         decision := v; trigger <rb, Broadcast | [DECIDED, decision]>;
			 *     else
			 *         if exists p, w ≠ ⊥ such that val[p] = w then proposal := w
			 *         else proposal := c;
			 *         val := [⊥]^N; round := round + 1; phase := 1;
			 *         trigger <beb, Broadcast | [PHASE-1, round, proposal]>; */
			if (!s->coin_known)
				return false;
			unsigned ones = pop(e->view2_one), zeros = pop(e->view2_zero);
			uint32_t above = c->coin->broken_decide ? c->coin->decide_above : c->f;
			if (ones > above || zeros > above) {
				decide(e, c, ones > above ? 1 : 0, e->round);
				return true;
			}
			e->proposal = ones ? 1 : zeros ? 0 : (int)s->coin;
			c->coin->coins++;
			slot_clear(s);
			e->round++;
			e->phase = 1;
			uint8_t b = (uint8_t)e->proposal;
			strata_trace(c->m->node, c->m->ops->name, "round %llu: proposal %d (coin %u)",
				     (unsigned long long)e->round, e->proposal, s->coin);
			send_body(c, RB_PHASE1, e->round, &b, 1);
		}
	}
	return e->decided;
}

/* upon event <rc, Propose | v> do
 *     proposal := v; round := 1; phase := 1;
 *     trigger <beb, Broadcast | [PHASE-1, round, proposal]>; */
void rb_propose(struct rb_eng *e, const struct rb_ctx *c, int v)
{
	if (e->round != 0 || e->decided)
		return;
	e->round = 1;
	e->phase = 1;
	e->proposal = v;
	uint8_t b = (uint8_t)v;
	send_body(c, RB_PHASE1, 1, &b, 1);
	rb_try(e, c);
}

int rb_heard(const struct rb_eng *e)
{
	const struct rb_slot *s = &e->slot[1 % RB_AHEAD];
	if (e->round != 0 || !s->p1)
		return -1;
	return s->p1 & ~s->p1_one ? 0 : 1;
}

static void on_share(struct rb_eng *e, const struct rb_ctx *c, uint32_t q, uint64_t round,
		     struct rb_slot *s, const uint8_t *share)
{
	if (c->coin->mode != RB_COIN_THRESHOLD || s->coin_known || (s->sh & (1ull << (q - 1))))
		return;
	uint8_t name[64];
	size_t nl = coin_name(c, round, name);
	if (!tcoin_verify(share, c->coin->vk[q - 1], name, nl)) {
		c->coin->shares_bad++;
		strata_node_bad_payload(c->m->node, c->m, q, "coin share does not verify");
		return;
	}
	if (!s->shares && !(s->shares = calloc(c->n, TCOIN_POINT_LEN)))
		return;
	memcpy(s->shares[q - 1], share, TCOIN_POINT_LEN);
	s->sh |= 1ull << (q - 1);
	if (pop(s->sh) < c->coin->t)
		return;
	uint32_t ids[TCOIN_MAX_NODES];
	uint8_t pts[TCOIN_MAX_NODES][TCOIN_POINT_LEN];
	size_t k = 0;
	for (uint32_t p = 1; p <= c->n; p++)
		if (s->sh & (1ull << (p - 1))) {
			ids[k] = p;
			memcpy(pts[k++], s->shares[p - 1], TCOIN_POINT_LEN);
		}
	uint8_t bit;
	if (tcoin_combine(&bit, c->coin->t, ids, (const uint8_t(*)[TCOIN_POINT_LEN])pts, k, name,
			  nl) != 0)
		return;
	s->coin_known = true;
	s->coin = bit;
	(void)e;
}

void rb_recv(struct rb_eng *e, const struct rb_ctx *c, uint32_t q, struct strata_rd *r)
{
	uint8_t type = strata_rd_u8(r);
	uint64_t round = strata_rd_u64(r);
	const char *name = c->m->ops->name;
	if (!strata_rd_ok(r) || round == 0 || q < 1 || q > c->n) {
		strata_node_bad_payload(c->m->node, c->m, q, "randomized consensus: malformed message");
		return;
	}
	if (type == RB_COIN) {
		uint8_t share[TCOIN_SHARE_LEN];
		strata_rd_raw(r, share, sizeof(share));
		if (strata_rd_done(r) != 0) {
			strata_node_bad_payload(c->m->node, c->m, q, "randomized consensus: malformed COIN");
			return;
		}
		if (e->decided)
			return;
		struct rb_slot *s = slot_of(e, c, round);
		if (s)
			on_share(e, c, q, round, s, share);
		rb_try(e, c);
		return;
	}
	uint8_t v = strata_rd_u8(r);
	if (strata_rd_done(r) != 0 || v > RB_BOTTOM || (type != RB_PHASE2 && v == RB_BOTTOM)) {
		strata_node_bad_payload(c->m->node, c->m, q, "randomized consensus: malformed message");
		return;
	}
	if (e->decided)
		return;
	uint64_t bit = 1ull << (q - 1);
	switch (type) {
	case RB_DECIDED:
		/* upon event <rb, Deliver | p, [DECIDED, v]> do
		 *     decision := v; trigger <rc, Decide | decision>; */
		strata_trace(c->m->node, name, "DECIDED %u from %u -> relay and decide", v, q);
		decide(e, c, v, round);
		return;
	case RB_PHASE1: {
		/* upon event <beb, Deliver | p, [PHASE-1, r, v]> such that phase = 1 ∧ r = round do
		 *     val[p] := v;   (held until r = round) */
		struct rb_slot *s = slot_of(e, c, round);
		if (!s)
			return;
		s->p1 |= bit;
		if (v)
			s->p1_one |= bit;
		break;
	}
	case RB_PHASE2: {
		/* upon event <beb, Deliver | p, [PHASE-2, r, v]> such that phase = 2 ∧ r = round do
		 *     val[p] := v; */
		struct rb_slot *s = slot_of(e, c, round);
		if (!s)
			return;
		s->p2 |= bit;
		if (v == 0)
			s->p2_zero |= bit;
		else if (v == 1)
			s->p2_one |= bit;
		break;
	}
	default:
		strata_node_bad_payload(c->m->node, c->m, q, "randomized consensus: unknown message type");
		return;
	}
	rb_try(e, c);
}

int rb_coin_init(struct rb_coin *coin, struct strata_node *n, const char *algo, char *err,
		 size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	memset(coin, 0, sizeof(*coin));
	uint32_t me = strata_node_id(n);
	if (cfg->coin_threshold == 0 || !cfg->nodes[me].has_coin_key) {
		snprintf(err, errlen,
			 "%s needs the threshold coin: the config has no coin_key entries (deal them "
			 "with `stratad coin-deal`, see docs/consensus.md)", algo);
		return STRATA_ECONFIG;
	}
	coin->x = strata_node_coin_share(n);
	if (!coin->x) {
		snprintf(err, errlen,
			 "%s needs the threshold coin: node %u was started without its coin share "
			 "(stratad --coin-share FILE, default <key file>.coin)", algo, me);
		return STRATA_ECONFIG;
	}
	uint8_t vk[TCOIN_POINT_LEN];
	if (tcoin_public(vk, coin->x) != 0 ||
	    memcmp(vk, cfg->nodes[me].coin_key, TCOIN_POINT_LEN) != 0) {
		snprintf(err, errlen, "%s: node %u's coin share is not the one [node.%u] coin_key "
			 "names (shares of another dealing?)", algo, me, me);
		return STRATA_ECONFIG;
	}
	coin->mode = RB_COIN_THRESHOLD;
	coin->t = cfg->coin_threshold;
	for (uint32_t q = 1; q <= cfg->n; q++)
		memcpy(coin->vk[q - 1], cfg->nodes[q].coin_key, TCOIN_POINT_LEN);
	return 0;
}

void cons_rb_test_seeded_coin(struct strata_module *m, uint64_t seed)
{
	struct rb_mod *r = (struct rb_mod *)m;
	r->coin.mode = RB_COIN_SEEDED;
	r->coin.seed = seed;
}

void cons_rb_test_decide_min(struct strata_module *m, uint32_t above)
{
	struct rb_mod *r = (struct rb_mod *)m;
	r->coin.broken_decide = true;
	r->coin.decide_above = above;
}

/* ---- the binary consensus module ---- */

struct rbc_inst {
	struct cons_inst c;
	struct rb_eng e;
};

struct rbc {
	struct rb_mod h; /* m, tab, coin */
	uint32_t n, f;
};

struct rbc_arg {
	struct rbc *b;
	struct rbc_inst *i;
};

static void rbc_send(void *arg, const struct strata_msg *body)
{
	struct rbc_arg *a = arg;
	cons_beb_broadcast(&a->b->h.tab.beb, a->i->c.id, body);
}

static void rbc_decided(void *arg, int v, uint64_t round)
{
	struct rbc_arg *a = arg;
	uint8_t b = (uint8_t)('0' + v);
	rb_free(&a->i->e);
	cons_decide(&a->b->h.tab, &a->i->c, &b, 1, round);
}

static void rbc_ctx(struct rbc *b, struct rbc_inst *i, struct rbc_arg *a, struct rb_ctx *c)
{
	a->b = b;
	a->i = i;
	*c = (struct rb_ctx){ .m = &b->h.m, .coin = &b->h.coin, .n = b->n, .f = b->f,
			      .send = rbc_send, .decided = rbc_decided, .arg = a };
	int k = snprintf((char *)c->name, sizeof(c->name), "rbc|%llu|",
			 (unsigned long long)i->c.id);
	c->name_len = (size_t)k;
}

static int rbc_propose(struct strata_module *m, struct cons_inst *ci, const uint8_t *v,
		       size_t len, bool by_client)
{
	struct rbc *b = (struct rbc *)m;
	struct rbc_inst *i = (struct rbc_inst *)ci;
	if (len != 1 || (v[0] != '0' && v[0] != '1'))
		return STRATA_EINVAL; /* binary consensus: the value is "0" or "1" */
	cons_out_propose(&b->h.tab, &i->c, v, len, by_client);
	struct rbc_arg a;
	struct rb_ctx c;
	rbc_ctx(b, i, &a, &c);
	rb_propose(&i->e, &c, v[0] - '0');
	return 0;
}

static void rbc_recv(struct rbc *b, const struct strata_event *ev)
{
	struct rbc_inst *i = (struct rbc_inst *)cons_tab_get_peer(&b->h.tab, ev->instance, ev->peer);
	if (!i)
		return;
	struct rbc_arg a;
	struct rb_ctx c;
	rbc_ctx(b, i, &a, &c);
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint64_t id = i->c.id;
	rb_recv(&i->e, &c, ev->peer, &r);
	if (cons_tab_retired(&b->h.tab, id))
		return; /* decided: i is freed */
	int heard = rb_heard(&i->e);
	if (!i->c.proposed && heard >= 0) {
		strata_trace(b->h.m.node, "rbc", "instance %llu first heard from %u -> join with %d",
			     (unsigned long long)id, ev->peer, heard);
		uint8_t v = (uint8_t)('0' + heard);
		rbc_propose(&b->h.m, &i->c, &v, 1, false);
	}
}

static void rbc_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct rbc *b = (struct rbc *)m;
	struct strata_event d;
	if (ev->type == STRATA_EV_DELIVER && cons_unwrap(m, &b->h.tab.beb, ev, &d)) {
		rbc_recv(b, &d);
		strata_msg_unref(d.msg);
	}
}

static int rbc_request(struct strata_module *m, const struct strata_request *req)
{
	struct rbc *b = (struct rbc *)m;
	if (req->op == STRATA_OP_PROPOSE &&
	    (req->value_len != 1 || (req->value[0] != '0' && req->value[0] != '1'))) {
		strata_node_reply(m->node, m, req->id, STRATA_EINVAL, 0, NULL, 0,
				  "rbc is binary consensus: propose 0 or 1");
		return 0;
	}
	return cons_request(&b->h.tab, req, 1, rbc_propose);
}

static void rbc_destroy(struct strata_module *m)
{
	struct rbc *b = (struct rbc *)m;
	for (size_t k = 0; k < b->h.tab.nlive; k++)
		rb_free(&((struct rbc_inst *)b->h.tab.live[k])->e);
	cons_tab_free(&b->h.tab);
	free(b);
}

static const struct strata_module_ops rbc_ops = {
	.name = "rbc", .handle = rbc_handle, .request = rbc_request, .destroy = rbc_destroy,
};

struct strata_module *cons_rbc_create(struct strata_node *n, char *err, size_t errlen)
{
	struct rbc *b = calloc(1, sizeof(*b));
	if (!b || cons_tab_init(&b->h.tab, &b->h.m, sizeof(struct rbc_inst)) != 0) {
		free(b);
		snprintf(err, errlen, "rbc: out of memory");
		return NULL;
	}
	b->n = strata_node_n(n);
	b->f = strata_node_config(n)->f;
	b->h.tab.propose = rbc_propose;
	int rc = rb_coin_init(&b->h.coin, n, "rbc", err, errlen);
	if (rc) {
		cons_tab_free(&b->h.tab);
		free(b);
		return NULL;
	}
	strata_node_add_module(n, &b->h.m, &rbc_ops, strata_wire_id("rbc"));
	if (cons_open_beb(n, &b->h.m, &b->h.tab.beb, false, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &b->h.m;
}
