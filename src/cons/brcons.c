/* Byzantine randomized binary consensus with the threshold coin (module brcons): the
 * signature-free algorithm of A. Mostefaoui, H. Moumen and M. Raynal, "Signature-Free
 * Asynchronous Binary Byzantine Consensus with t < n/3, O(n^2) Messages, and O(1) Expected
 * Time", J. ACM 62(4), 2015 (PODC 2014): BV-broadcast, then AUX, then the common coin; with
 * the CONF step between AUX and the coin that E. MacBrough added ("Cobalt: BFT Governance in
 * Open Networks", 2018) after the attack of P. Tholoniat and V. Gramoli ("Formal Verification
 * of Blockchain Byzantine Fault Tolerance", 2019) on the original's termination: there an
 * adversary that sees the coin of round r before the last AUX messages are delivered steers
 * the processes' value sets against it; with CONF every correct process fixes its value set
 * from N - f CONF messages before any correct process releases its coin share. The coin is
 * the threshold coin of issue 8 (tcoin.h, Cachin-Kursawe-Shoup), threshold t = f + 1: no f
 * processes learn it before a correct process released its share.
 *
 * Specification (binary Byzantine consensus, the book's Module 5.11 "Strong Byzantine
 * Consensus" restricted to {0, 1}, with randomized termination):
 *   Request:    <brc, Propose | b>, b in {0, 1}
 *   Indication: <brc, Decide | b>
 *   BC1 Termination: with probability 1, every correct process eventually decides.
 *   BC2 Strong validity: if all correct processes propose the same value v, no correct process
 *       decides a value other than v; otherwise a correct process decides a value some correct
 *       process proposed (binary: always a value some correct process proposed).
 *   BC3 Integrity: no correct process decides twice.
 *   BC4 Agreement: no two correct processes decide differently.
 * Model: fail-arbitrary (at most f Byzantine processes, N > 3f), asynchronous, over
 * authenticated perfect links (links/auth.c: a Byzantine process speaks only in its own name),
 * with the threshold coin; no signatures on the protocol messages.
 *
 * The algorithm, round r = 1, 2, ... with estimate est (est := the proposal in round 1):
 *   BV-broadcast (the binary-value broadcast of MMR):
 *     upon entering round r do trigger <al, Send | q, [EST, r, est]> to every q;
 *     upon EST(r, v) from f + 1 distinct processes ∧ EST(r, v) not sent do send EST(r, v) to all;
 *     upon EST(r, v) from 2f + 1 distinct processes do bin_values[r] := bin_values[r] ∪ {v};
 *   upon bin_values[r] ≠ ∅ (first time) do send AUX(r, w) to all, w the first value added;
 *   upon AUX(r, ·) from N - f distinct processes whose values are all in bin_values[r]
 *       do send CONF(r, bin_values[r]) to all;
 *   upon CONF(r, S) from N - f distinct processes with every S ⊆ bin_values[r]
 *       do vals := ∪ S; release coin.r (send this process's share);
 *   upon <coin.r, Output | c> do
 *       if vals = {v} then est := v; if v = c ∧ not decided then decide v (see below)
 *       else est := c;
 *       enter round r + 1.
 *   Deciding (how the processes stop, after the Bracha-style amplification of MMR's "decide
 *   and keep helping"): deciding v sends DECIDED(v) to all and the process keeps running
 *   rounds (est = v); upon DECIDED(v) from f + 1 processes it decides v too (one of them is
 *   correct); upon DECIDED(v) from 2f + 1 processes it outputs <Decide | v> and retires the
 *   instance (f + 1 correct processes have sent DECIDED(v), so every correct process reaches
 *   f + 1 and then, with all correct processes' DECIDED, 2f + 1 without this process's rounds).
 *
 * Why it holds (N > 3f):
 *   - BV-justification: a value enters bin_values only with 2f + 1 EST, so at least f + 1
 *     correct processes sent it, and a correct process relays only on f + 1 (one of them
 *     correct): a value in bin_values was the estimate of a correct process. Hence strong
 *     validity (by induction, estimates are proposals of correct processes or coins drawn
 *     when vals = {0, 1}, i.e. both values were correct estimates) and a value only Byzantine
 *     processes hold never enters.
 *   - BV-uniformity: a value in a correct process's bin_values reached f + 1 correct senders,
 *     so every correct process relays it and every correct process's bin_values gets it; so
 *     the waits on AUX and CONF of correct processes end (termination of a round).
 *   - Agreement: if two correct processes end round r with vals = {v} and {w}, each saw N - f
 *     CONF; two sets of N - f intersect in f + 1 processes, one correct, and a correct process
 *     sends one CONF, so v = w. If p decides v in round r (vals = {v}, c = v), every correct
 *     process ends r with est = v (vals = {v}, or vals = {0, 1} and est = c = v); in r + 1 only
 *     v can enter bin_values (¬v has at most f senders), so no correct process ever holds
 *     another estimate, and DECIDED(¬v) never reaches f + 1.
 *   - Termination with probability 1: in every round the correct processes' vals are fixed
 *     (by CONF) before the coin can be computed; if some correct vals is {v}, all others are
 *     {v} or {0, 1}, and with probability 1/2 the coin is v: all correct estimates agree and
 *     the next round with c = v decides; so each round ends the disagreement with probability
 *     >= 1/2 and the expected number of rounds is constant (MMR Theorem 5).
 *
 * Choices, stated: the instance's round-1 estimate is the proposal; a process that hears of an
 * instance before its client proposed joins with a value f + 1 processes sent as round-1 EST
 * (so a correct process proposed it: validity is kept; Byzantine processes alone cannot make
 * a correct process join), hence termination needs f + 1 correct processes to propose (the
 * book has all of them propose). Only the first AUX and the first CONF of each sender in a
 * round count (authenticated FIFO links: each receiver sees a sender's first one).
 * Bounds: the state of rounds round - BR_BACK .. round + BR_AHEAD is kept (one slot each: the
 * sender bitmaps and, for the threshold coin, N shares of 32 bytes once a share arrived);
 * messages of rounds outside are dropped and counted (old ones: a correct process that far
 * behind learns the decision from DECIDED). Per instance: BR_SLOTS slots; instances are bounded
 * by the instance table (cons.h). Cost per round: 2-3 steps of N^2 messages (EST and relays,
 * AUX, CONF) plus N^2 coin shares; DECIDED adds N^2 once.
 *
 * Byzantine test behaviours (strata_node_byz; simulator and --byzantine-test only): silent
 * sends nothing; equivocate sends v to odd-numbered processes and ¬v to the others (EST, AUX,
 * CONF, DECIDED); replay keeps its round-1 estimate in every round's EST and AUX (stale
 * state); forge sends EST of both values, AUX of the value it did not see, CONF {0, 1} and
 * DECIDED of the other value (also at once when it proposes); badsig sends coin shares that do not verify; lie-state reports
 * in AUX and CONF the value that is not in its bin_values; old-epoch re-sends its messages of
 * the earlier rounds at every new round; complain has no leader to complain about here and
 * behaves correctly.
 *
 * Sends the links refuse. Nothing here repeats a message: every EST, AUX, CONF, coin share and
 * DECIDED goes out once. One the links refuse (the backlog toward q full) is one q never gets:
 * at N = 4 with one process silent, a correct p's refused EST(1, v) leaves q with 2 < 2f + 1
 * ESTs of v (the others relay only the value they did not send), so q's bin_values stays empty,
 * q sends no AUX, and the others, short of N - f AUX, stop in round 1 for good (BC1). So every
 * send goes through the owed sends (links.h, strata_pl_owed, queued): a refused one is owed to
 * q and sent again, in order, when the backlog has room. Bound per peer: BR_OWED_MSGS messages
 * (a round sends a peer at most 5: EST, the relay of the other value, AUX, CONF, a coin share;
 * an instance one DECIDED; the cap covers BR_SLOTS rounds of every one of the CONS_LIVE_MAX
 * undecided instances) and BR_OWED_BYTES of payload (backlog_bytes if larger); one beyond is
 * dropped (lost as before), counted and traced. The old-epoch test behaviour's replays are not
 * owed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/rbc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "links/links.h"

#define BR_BACK 4u
#define BR_AHEAD 11u
#define BR_SLOTS (BR_BACK + BR_AHEAD + 1u) /* 16 */
#define BR_REPLAY 8u                        /* old-epoch: messages kept for re-sending */
#define BR_OWED_MSGS (CONS_LIVE_MAX * (BR_SLOTS * 5u + 1u))
#define BR_OWED_BYTES (64u << 20)
#define BR_TOK_OWED 1 /* the timer that sends owed messages again */

enum br_type { BR_EST = 1, BR_AUX = 2, BR_CONF = 3, BR_COIN = 4, BR_DECIDED = 5 };

struct br_slot {
	uint64_t round;                 /* the round this slot holds (0: unused) */
	uint64_t est[2];                /* senders of EST(round, v) */
	uint8_t est_sent;               /* bit v: this process sent EST(round, v) */
	uint8_t bin;                    /* bin_values (bit v) */
	int8_t first;                   /* the first value added to bin_values, -1 none */
	bool aux_sent, conf_sent, released, coin_known;
	uint64_t aux_any, aux[2];       /* senders whose (first) AUX counted, by value */
	uint64_t conf_any, conf[4];     /* senders whose (first) CONF counted, by set 1..3 */
	uint8_t vals;                   /* vals when the coin was released */
	uint8_t coin;
	uint64_t sh;                    /* senders whose share verified */
	uint8_t (*shares)[TCOIN_POINT_LEN];
};

struct br_inst {
	struct cons_inst c;
	uint64_t round;       /* 0: not started */
	int est;              /* the estimate of the current round */
	int first_est;        /* the round-1 estimate (replay behaviour) */
	bool has_decided;     /* this process decided (DECIDED sent) ... */
	int decided;          /* ... this value */
	uint64_t decided_round;
	uint64_t dec[2];      /* senders of DECIDED(v) */
	struct br_slot slot[BR_SLOTS];
	struct strata_msg *sent[BR_REPLAY]; /* old-epoch only: the last messages sent */
	unsigned nsent;
};

struct brcons {
	struct rb_mod h;      /* m, tab, coin (the randomized modules' head: test hooks) */
	uint32_t n, f;
	uint32_t relay_at;    /* f + 1 (the broken variant lowers it) */
	uint32_t adopt_at;    /* f + 1 DECIDED to decide (the broken variant lowers it) */
	uint32_t decided_at;  /* 2f + 1 DECIDED to output (the broken variant lowers it) */
	uint64_t stale, ahead;
	struct strata_pl_owed *owed; /* messages the links refused (see the top) */
};

static unsigned pop(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

static struct br_slot *slot_get(struct br_inst *i, uint64_t r)
{
	struct br_slot *s = &i->slot[r % BR_SLOTS];
	if (s->round != r) {
		free(s->shares);
		memset(s, 0, sizeof(*s));
		s->round = r;
		s->first = -1;
	}
	return s;
}

/* The slot of round r if r is inside the window, else NULL (counted). */
static struct br_slot *slot_of(struct brcons *b, struct br_inst *i, uint64_t r)
{
	uint64_t base = i->round ? i->round : 1;
	if (r + BR_BACK < base) {
		b->stale++;
		return NULL;
	}
	if (r > base + BR_AHEAD) {
		b->ahead++;
		return NULL;
	}
	return slot_get(i, r);
}

static void free_inst(struct br_inst *i)
{
	for (unsigned k = 0; k < BR_SLOTS; k++) {
		free(i->slot[k].shares);
		i->slot[k].shares = NULL;
	}
	for (unsigned k = 0; k < i->nsent && k < BR_REPLAY; k++)
		strata_msg_unref(i->sent[k]);
	i->nsent = 0;
}

/* ---- sending, with the test-only Byzantine behaviours ---- */

static struct strata_msg *enc(uint8_t type, uint64_t round, const uint8_t *p, size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + 12);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, round);
	strata_wr_raw(&w, p, len);
	int err;
	return strata_wr_take_msg(&w, &err);
}

/* trigger <al, Send | q, msg>: owed when the links refuse it (see the top). */
static void pl_send(struct brcons *b, struct br_inst *i, uint32_t q, struct strata_msg *msg)
{
	(void)strata_pl_owed_send(b->owed, q, i->c.id, msg);
}

static void send_to(struct brcons *b, struct br_inst *i, uint32_t q, uint8_t type,
		    uint64_t round, const uint8_t *p, size_t len)
{
	struct strata_msg *msg = enc(type, round, p, len);
	if (!msg)
		return;
	pl_send(b, i, q, msg);
	strata_msg_unref(msg);
}

/* What a Byzantine process sends to q instead of the one byte v of an EST, AUX or DECIDED (or
 * the set of a CONF); -1: nothing. */
static int byz_byte(const struct brcons *b, const struct br_inst *i, enum strata_byz byz,
		    uint32_t q, uint8_t type, int v)
{
	switch (byz) {
	case STRATA_BYZ_EQUIVOCATE:
		if (q % 2)
			return v;
		return type == BR_CONF ? (v == 1 ? 2 : 1) : !v;
	case STRATA_BYZ_FORGE:
		if (type == BR_AUX || type == BR_DECIDED)
			return !v;
		return type == BR_CONF ? 3 : v;
	case STRATA_BYZ_LIE_STATE:
		if (type == BR_AUX)
			return !v;
		return type == BR_CONF ? (v == 1 ? 2 : 1) : v;
	case STRATA_BYZ_REPLAY:
		if (type == BR_EST || type == BR_AUX)
			return i->first_est;
		return v;
	default:
		(void)b;
		return v;
	}
}

static void keep_sent(struct br_inst *i, struct strata_msg *msg)
{
	unsigned k = i->nsent % BR_REPLAY;
	if (i->nsent >= BR_REPLAY)
		strata_msg_unref(i->sent[k]);
	i->sent[k] = strata_msg_ref(msg);
	i->nsent++;
}

/* trigger <al, Send | q, [type, round, payload]> for every q. */
static void br_send(struct brcons *b, struct br_inst *i, uint8_t type, uint64_t round,
		    const uint8_t *p, size_t len)
{
	enum strata_byz byz = strata_node_byz(b->h.m.node);
	if (byz == STRATA_BYZ_SILENT)
		return;
	if (byz == STRATA_BYZ_BADSIG && type == BR_COIN && len == TCOIN_SHARE_LEN) {
		uint8_t bad[TCOIN_SHARE_LEN];
		memcpy(bad, p, len);
		bad[TCOIN_POINT_LEN] ^= 0x5a; /* the proof's challenge: the share does not verify */
		for (uint32_t q = 1; q <= b->n; q++)
			send_to(b, i, q, type, round, bad, len);
		return;
	}
	bool per_peer = len == 1 && (byz == STRATA_BYZ_EQUIVOCATE || byz == STRATA_BYZ_FORGE ||
				     byz == STRATA_BYZ_LIE_STATE || byz == STRATA_BYZ_REPLAY);
	if (per_peer) {
		for (uint32_t q = 1; q <= b->n; q++) {
			/* A Byzantine process keeps its own view true (it sends itself v). */
			int x = q == strata_node_id(b->h.m.node) ? p[0]
								 : byz_byte(b, i, byz, q, type, p[0]);
			uint8_t o = (uint8_t)x;
			if (x >= 0)
				send_to(b, i, q, type, round, &o, 1);
		}
		if (byz == STRATA_BYZ_FORGE && type == BR_EST) {
			uint8_t other = (uint8_t)!p[0];
			for (uint32_t q = 1; q <= b->n; q++)
				if (q != strata_node_id(b->h.m.node))
					send_to(b, i, q, type, round, &other, 1);
		}
		return;
	}
	struct strata_msg *msg = enc(type, round, p, len);
	if (!msg)
		return;
	for (uint32_t q = 1; q <= b->n; q++)
		pl_send(b, i, q, msg);
	if (byz == STRATA_BYZ_OLD_EPOCH)
		keep_sent(i, msg);
	strata_msg_unref(msg);
}

static void br_send_byte(struct brcons *b, struct br_inst *i, uint8_t type, uint64_t round, int v)
{
	uint8_t x = (uint8_t)v;
	br_send(b, i, type, round, &x, 1);
}

/* old-epoch: at a new round, every message kept from the earlier rounds goes out again. */
static void byz_replay_old(struct brcons *b, struct br_inst *i)
{
	unsigned count = i->nsent < BR_REPLAY ? i->nsent : BR_REPLAY;
	for (unsigned k = 0; k < count; k++)
		strata_pl_send_all(&b->h.m, i->c.id, i->sent[k]);
}

/* ---- the coin ---- */

static size_t coin_name(const struct br_inst *i, uint64_t round, uint8_t *out, size_t cap)
{
	int k = snprintf((char *)out, cap, "brcons|%llu|", (unsigned long long)i->c.id);
	size_t nl = (size_t)k;
	for (int x = 0; x < 8; x++)
		out[nl + (size_t)x] = (uint8_t)(round >> (8 * x));
	return nl + 8;
}

/* trigger <coin.r, Release>: the threshold coin sends this process's share; the seeded test
 * coin is known at once. */
static void coin_release(struct brcons *b, struct br_inst *i, struct br_slot *s)
{
	uint8_t name[64];
	size_t nl = coin_name(i, s->round, name, sizeof(name) - 8);
	if (b->h.coin.mode == RB_COIN_SEEDED) {
		uint8_t buf[80], h[STRATA_HASH_LEN];
		memcpy(buf, name, nl);
		for (int x = 0; x < 8; x++)
			buf[nl + (size_t)x] = (uint8_t)(b->h.coin.seed >> (8 * x));
		strata_hash(h, buf, nl + 8);
		s->coin_known = true;
		s->coin = h[0] & 1u;
		return;
	}
	uint8_t share[TCOIN_SHARE_LEN];
	uint32_t me = strata_node_id(b->h.m.node);
	if (tcoin_share(share, b->h.coin.x, b->h.coin.vk[me - 1], name, nl) != 0) {
		strata_trace(b->h.m.node, "brcons", "coin share failed -> not released");
		return;
	}
	br_send(b, i, BR_COIN, s->round, share, sizeof(share));
}

static void on_share(struct brcons *b, struct br_inst *i, struct br_slot *s, uint32_t q,
		     const uint8_t *share)
{
	if (b->h.coin.mode != RB_COIN_THRESHOLD || s->coin_known || (s->sh & cons_bit(q)))
		return;
	uint8_t name[64];
	size_t nl = coin_name(i, s->round, name, sizeof(name) - 8);
	if (!tcoin_verify(share, b->h.coin.vk[q - 1], name, nl)) {
		b->h.coin.shares_bad++;
		strata_node_bad_payload(b->h.m.node, &b->h.m, q, "brcons: coin share does not verify");
		return;
	}
	if (!s->shares && !(s->shares = calloc(b->n, TCOIN_POINT_LEN)))
		return;
	memcpy(s->shares[q - 1], share, TCOIN_POINT_LEN);
	s->sh |= cons_bit(q);
	if (pop(s->sh) < b->h.coin.t)
		return;
	uint32_t ids[TCOIN_MAX_NODES];
	uint8_t pts[TCOIN_MAX_NODES][TCOIN_POINT_LEN];
	size_t k = 0;
	for (uint32_t p = 1; p <= b->n; p++)
		if (s->sh & cons_bit(p)) {
			ids[k] = p;
			memcpy(pts[k++], s->shares[p - 1], TCOIN_POINT_LEN);
		}
	uint8_t bit;
	if (tcoin_combine(&bit, b->h.coin.t, ids, (const uint8_t(*)[TCOIN_POINT_LEN])pts, k, name,
			  nl) != 0)
		return;
	s->coin_known = true;
	s->coin = bit;
	b->h.coin.coins++;
}

/* ---- the rounds ---- */

/* Decides v (this process): trigger <al, Send | q, [DECIDED, v]> to all; rounds go on. */
static void br_decide(struct brcons *b, struct br_inst *i, int v, uint64_t round)
{
	if (i->has_decided)
		return;
	i->has_decided = true;
	i->decided = v;
	i->decided_round = round;
	if (round > b->h.coin.rounds_max)
		b->h.coin.rounds_max = round;
	strata_trace(b->h.m.node, "brcons", "instance %llu: decide %d in round %llu -> DECIDED to all",
		     (unsigned long long)i->c.id, v, (unsigned long long)round);
	br_send_byte(b, i, BR_DECIDED, round, v);
}

/* upon EST(r, v) from f + 1 ∧ not sent: relay; upon EST(r, v) from 2f + 1: bin_values ∪= {v} */
static void bv_check(struct brcons *b, struct br_inst *i, struct br_slot *s)
{
	for (int v = 0; v < 2; v++) {
		unsigned c = pop(s->est[v]);
		if (c >= b->relay_at && !(s->est_sent & (1u << v)) && i->round != 0) {
			s->est_sent |= (uint8_t)(1u << v);
			br_send_byte(b, i, BR_EST, s->round, v);
		}
		if (c >= 2 * b->f + 1 && !(s->bin & (1u << v))) {
			s->bin |= (uint8_t)(1u << v);
			if (s->first < 0)
				s->first = (int8_t)v;
		}
	}
}

/* upon entering round r: send EST(r, est) (unless relayed already) */
static void enter_round(struct brcons *b, struct br_inst *i, uint64_t r)
{
	i->round = r;
	struct br_slot *s = slot_get(i, r);
	if (!(s->est_sent & (1u << i->est))) {
		s->est_sent |= (uint8_t)(1u << i->est);
		br_send_byte(b, i, BR_EST, r, i->est);
	}
	bv_check(b, i, s); /* messages of r buffered before: relays and bin_values */
}

/* The guarded rules of the current round, until none applies. */
static void br_try(struct brcons *b, struct br_inst *i)
{
	uint32_t quorum = b->n - b->f;
	while (i->round) {
		struct br_slot *s = slot_get(i, i->round);
		if (!s->aux_sent) {
			/* upon bin_values[r] ≠ ∅: send AUX(r, w) */
			if (s->first < 0)
				return;
			s->aux_sent = true;
			br_send_byte(b, i, BR_AUX, s->round, s->first);
		}
		if (!s->conf_sent) {
			/* upon AUX from N - f with values in bin_values: send CONF(r, bin_values) */
			uint64_t ok = ((s->bin & 1u) ? s->aux[0] : 0) | ((s->bin & 2u) ? s->aux[1] : 0);
			if (pop(ok) < quorum)
				return;
			s->conf_sent = true;
			br_send_byte(b, i, BR_CONF, s->round, s->bin);
		}
		if (!s->released) {
			/* upon CONF(r, S) from N - f with S ⊆ bin_values: vals := ∪ S; release coin */
			uint64_t ok = 0;
			uint8_t vals = 0;
			for (uint8_t set = 1; set <= 3; set++)
				if ((set & s->bin) == set && s->conf[set]) {
					ok |= s->conf[set];
					vals |= set;
				}
			if (pop(ok) < quorum)
				return;
			s->released = true;
			s->vals = vals;
			coin_release(b, i, s);
		}
		if (!s->coin_known)
			return;
		/* upon <coin.r, Output | c> */
		int c = s->coin;
		if (s->vals == 1 || s->vals == 2) {
			int v = s->vals == 2;
			i->est = v;
			if (v == c)
				br_decide(b, i, v, s->round);
		} else {
			i->est = c;
		}
		strata_trace(b->h.m.node, "brcons", "instance %llu round %llu: vals %u coin %d -> est %d",
			     (unsigned long long)i->c.id, (unsigned long long)s->round, s->vals, c,
			     i->est);
		enter_round(b, i, s->round + 1);
		if (strata_node_byz(b->h.m.node) == STRATA_BYZ_OLD_EPOCH)
			byz_replay_old(b, i);
	}
}

/* upon event <brc, Propose | v> do est := v; enter round 1 */
static int br_propose(struct strata_module *m, struct cons_inst *ci, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct brcons *b = (struct brcons *)m;
	struct br_inst *i = (struct br_inst *)ci;
	if (len != 1 || (v[0] != '0' && v[0] != '1'))
		return STRATA_EINVAL; /* binary consensus: "0" or "1" */
	if (i->round)
		return 0;
	cons_out_propose(&b->h.tab, &i->c, v, len, by_client);
	i->est = v[0] - '0';
	i->first_est = i->est;
	if (strata_node_byz(m->node) == STRATA_BYZ_FORGE)
		br_send_byte(b, i, BR_DECIDED, 1, i->est); /* forged at once as DECIDED(¬est) */
	enter_round(b, i, 1);
	br_try(b, i);
	return 0;
}

/* upon DECIDED(v) from f + 1: decide v; from 2f + 1: <Decide | v> and retire. Returns true if
 * the instance is retired (freed). */
static bool on_decided(struct brcons *b, struct br_inst *i, uint32_t q, int v)
{
	i->dec[v] |= cons_bit(q);
	unsigned c = pop(i->dec[v]);
	if (c >= b->adopt_at && !i->has_decided)
		br_decide(b, i, v, i->round);
	if (c < b->decided_at)
		return false;
	uint8_t out = (uint8_t)('0' + v);
	uint64_t r = i->decided_round ? i->decided_round : i->round;
	free_inst(i);
	cons_decide(&b->h.tab, &i->c, &out, 1, r);
	return true;
}

static void br_recv(struct brcons *b, const struct strata_event *ev)
{
	struct strata_node *n = b->h.m.node;
	uint32_t q = ev->peer;
	if (q < 1 || q > b->n)
		return;
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t round = strata_rd_u64(&r);
	uint8_t share[TCOIN_SHARE_LEN];
	uint8_t v = 0;
	if (type == BR_COIN)
		strata_rd_raw(&r, share, sizeof(share));
	else
		v = strata_rd_u8(&r);
	bool bad = strata_rd_done(&r) != 0 || type < BR_EST || type > BR_DECIDED ||
		   (type != BR_DECIDED && round == 0) ||
		   (type == BR_CONF ? (v < 1 || v > 3) : (type != BR_COIN && v > 1));
	if (bad) {
		strata_node_bad_payload(n, &b->h.m, q, "brcons: malformed message");
		return;
	}
	struct br_inst *i = (struct br_inst *)cons_tab_get_peer(&b->h.tab, ev->instance, q);
	if (!i)
		return;
	if (type == BR_DECIDED) {
		if (on_decided(b, i, q, v))
			return;
		br_try(b, i);
		return;
	}
	struct br_slot *s = slot_of(b, i, round);
	if (!s)
		return;
	uint64_t bit = cons_bit(q);
	switch (type) {
	case BR_EST:
		s->est[v] |= bit;
		if (i->round == 0 && !i->c.proposed && round == 1 && pop(s->est[v]) >= b->relay_at) {
			/* joining: f + 1 sent v in round 1, so a correct process proposed it */
			strata_trace(n, "brcons", "instance %llu first heard from peers -> join with %u",
				     (unsigned long long)i->c.id, v);
			uint8_t val = (uint8_t)('0' + v);
			br_propose(&b->h.m, &i->c, &val, 1, false);
			return;
		}
		bv_check(b, i, s);
		break;
	case BR_AUX:
		if (s->aux_any & bit)
			return;
		s->aux_any |= bit;
		s->aux[v] |= bit;
		break;
	case BR_CONF:
		if (s->conf_any & bit)
			return;
		s->conf_any |= bit;
		s->conf[v] |= bit;
		break;
	case BR_COIN:
		on_share(b, i, s, q, share);
		break;
	default:
		return;
	}
	br_try(b, i);
}

static void br_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_TIMER && ev->arg == BR_TOK_OWED)
		strata_pl_owed_flush(((struct brcons *)m)->owed);
	else if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		br_recv((struct brcons *)m, ev);
}

static int br_request(struct strata_module *m, const struct strata_request *req)
{
	struct brcons *b = (struct brcons *)m;
	if (req->op == STRATA_OP_PROPOSE &&
	    (req->value_len != 1 || (req->value[0] != '0' && req->value[0] != '1'))) {
		strata_node_reply(m->node, m, req->id, STRATA_EINVAL, 0, NULL, 0,
				  "brcons is binary consensus: propose 0 or 1");
		return 0;
	}
	return cons_request(&b->h.tab, req, 1, br_propose);
}

static void br_destroy(struct strata_module *m)
{
	struct brcons *b = (struct brcons *)m;
	for (size_t k = 0; k < b->h.tab.nlive; k++)
		free_inst((struct br_inst *)b->h.tab.live[k]);
	cons_tab_free(&b->h.tab);
	strata_pl_owed_free(b->owed);
	free(b);
}

static const struct strata_module_ops br_ops = {
	.name = "brcons", .handle = br_handle, .request = br_request, .destroy = br_destroy,
};

void cons_brcons_test_relay_at(struct strata_module *m, uint32_t k)
{
	((struct brcons *)m)->relay_at = k;
}

void cons_brcons_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &br_ops);
	strata_pl_owed_test_lossy(((struct brcons *)m)->owed);
}

uint64_t cons_brcons_test_owed(const struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &br_ops);
	struct strata_pl_owed_counts c;
	strata_pl_owed_counts(((const struct brcons *)m)->owed, &c);
	return c.refused;
}

void cons_brcons_test_decided_at(struct strata_module *m, uint32_t k)
{
	((struct brcons *)m)->decided_at = k;
	((struct brcons *)m)->adopt_at = k;
}

struct strata_module *cons_brcons_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	uint32_t nn = strata_node_n(n);
	if (nn > 64 || nn <= 3 * cfg->f) {
		snprintf(err, errlen,
			 "brcons: needs N > 3f and N <= 64 (N = %u, f = %u): with N <= 3f two quorums "
			 "of N - f need not share a correct process", nn, cfg->f);
		return NULL;
	}
	struct brcons *b = calloc(1, sizeof(*b));
	if (!b || cons_tab_init(&b->h.tab, &b->h.m, sizeof(struct br_inst)) != 0) {
		free(b);
		snprintf(err, errlen, "brcons: out of memory");
		return NULL;
	}
	b->n = nn;
	b->f = cfg->f;
	b->relay_at = cfg->f + 1;
	b->decided_at = 2 * cfg->f + 1;
	b->adopt_at = cfg->f + 1;
	b->h.tab.propose = br_propose;
	int rc = rb_coin_init(&b->h.coin, n, "brcons", err, errlen);
	if (rc) {
		cons_tab_free(&b->h.tab);
		free(b);
		return NULL;
	}
	uint64_t backlog = cfg->backlog_bytes;
	if (!(b->owed = strata_pl_owed_new(n, &b->h.m, BR_TOK_OWED, NULL, BR_OWED_MSGS,
					   backlog > BR_OWED_BYTES ? backlog : BR_OWED_BYTES))) {
		cons_tab_free(&b->h.tab);
		free(b);
		snprintf(err, errlen, "brcons: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &b->h.m, &br_ops, strata_wire_id("brcons"));
	return &b->h.m;
}
