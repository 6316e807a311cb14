/* Byzantine consensus, book Alg. 5.19 "Byzantine Leader-Driven Consensus" (module bldc), over
 * Byzantine epoch change (Alg. 5.15, bec.c, itself over the Byzantine leader detector bld,
 * Alg. 2.10) and one Byzantine read/write epoch consensus per epoch (Alg. 5.17-5.18, bep.c, over
 * signed conditional collect, Alg. 5.16, bcollect.c).
 *
 * Specification (Module 5.10, weak Byzantine consensus, instance wbc):
 *   Request:    <wbc, Propose | v>
 *   Indication: <wbc, Decide | v>
 *   WBC1 Termination: every correct process eventually decides some value.
 *   WBC2 Weak validity: if all processes are correct and propose v, then a correct process
 *        may only decide v.
 *   WBC3 Integrity: no correct process decides twice.
 *   WBC4 Agreement: no two correct processes decide differently.
 * (Weak validity is the book's: with Byzantine processes a Byzantine leader's value may be
 * decided. The simulation suite also checks that every decision is a correct process's
 * proposal or a value a Byzantine process made up, never one nobody proposed.)
 * Model: fail-noisy-arbitrary: N > 3f, at most f Byzantine processes, authenticated perfect
 * links, Ed25519 identities; asynchronous until an unknown time after which messages arrive
 * within a bound. Resilience N > 3f (the constructor refuses N <= 3f and says why).
 *
 *   upon event <wbc, Init> do
 *       val := ⊥; proposed := FALSE; decided := FALSE;
 *       obtain the leader l0 of the initial epoch with timestamp 0 from bec;
 *       initialize a new instance bep.0 with timestamp 0, leader l0, and state (0, ⊥, ∅);
 *       (ets, l) := (0, l0); (newts, newl) := (0, ⊥);
 *   upon event <wbc, Propose | v> do val := v;
 *   upon event <bec, StartEpoch | newts', newl'> do
 *       (newts, newl) := (newts', newl'); trigger <bep.ets, Abort>;
 *   upon event <bep.ts, Aborted | state> such that ts = ets do
 *       (ets, l) := (newts, newl); proposed := FALSE;
 *       initialize a new instance bep.ets with timestamp ets, leader l, and state state;
 *   upon l = self ∧ val != ⊥ ∧ proposed = FALSE do
 *       proposed := TRUE; trigger <bep.ets, Propose | val>;
 *   upon event <bep.ts, Decide | v> such that ts = ets do
 *       if decided = FALSE then decided := TRUE; trigger <wbc, Decide | v>;
 * and the complaint that drives the leader detector: a process that has proposed and has not
 * decided within a timeout of its current epoch complains about the leader bld trusts (the
 * book's "timeout on a leader that makes no progress"; the timeout doubles after each
 * complaint, up to 8 times the first, so that after stabilisation a correct leader has the
 * time it needs).
 *
 * Composition, as the book stacks it: one bec per node (StartEpoch is a queued indication),
 * and per instance one bep of the current epoch, which owns that epoch's conditional collect.
 * On StartEpoch every live instance aborts its bep and initialises the next epoch's with the
 * (valts, val, writeset) it returned. Every message carries its epoch: one of a later epoch
 * than this process has started waits in a bounded buffer (BL_FUTURE_PER_PEER messages per
 * sender, so Byzantine senders can fill only their own share) until the epoch starts; one of an
 * earlier epoch is dropped and counted (that bep has halted, and signatures bind a STATE to its
 * epoch, so replays of old epochs are useless).
 *
 * Multi-instance, as ldc.c (cons.h): one epoch change serves every instance; an instance
 * created in epoch ets starts bep.ets with (0, ⊥, ∅), the state it would have carried from
 * every earlier epoch of which it never heard. A proposer announces its value with VALUE so that
 * every correct process proposes (the book has every process propose), and repeats it every
 * period while undecided. In btob's space a joined VALUE is not proposed by a leader (it waits
 * for its own btob's proposal of the round, which replaces it; see bl_recv). A process whose instance is retired answers that instance's messages
 * with DECIDED(v); a process decides v from DECIDED when f + 1 distinct processes said v (one of
 * them is correct). DECIDED names v by its SHA-256 digest (CONS_DECIDED_DIGEST, 32 bytes) to a
 * process whose WRITE or ACCEPT of v (its digest, bep.c) this epoch is here, since that process
 * holds v (the value it wrote stays in its writeset; an accepted one is its val, and lock-in
 * keeps it: no other value is accepted after a decision), and carries v to the others; claims
 * are counted on digests, and a process decides v from f + 1 of them once it holds v (from a
 * DECIDED that carried it, its epoch consensus, or its own proposal). A process that neither
 * wrote nor accepted v gets v itself from every correct process that decided, so f + 1 of them
 * still suffice; the answer to a retired instance's messages carries v as before. Before,
 * every decision sent v N^2 times over the links. Leader repeats: every period each process
 * repeats its messages of the current epoch for instances undecided for a period (bep_resend);
 * receivers keep one entry per sender, so repeats change nothing.
 *
 * One conditional collect per epoch (proof in bep.c's header). In the book every instance runs
 * READ, a signed STATE per process and a COLLECTED of N signed STATEs in every epoch, which in
 * the normal case only shows that nothing was written before. Here each process keeps hw[s],
 * one more than the largest local id of an instance of space s in which it ever wrote or
 * accepted (taken after every step of an instance and before an epoch's abort), and in epoch
 * e > 0 inputs [STATE, hw] (signed over the reserved instance id BL_EPOCH_ID and e) to one
 * conditional collect of the epoch (bcollect.c, predicate: N - f well-formed STATEs); it does so
 * when the epoch starts with an instance here, or when its first instance of the epoch starts.
 * bound[s] is the largest hw[s] in the collected vector. The leader proposes only once the
 * epoch's collect completed: directly (bep's PROPOSE: no READ, no STATE, no signature) on
 * instances at or above bound[s], with READ below. Epoch 0 needs no collect (bound = 0). Cost
 * in the normal case: per epoch N signatures and about 3N verifications; per instance none.
 *
 * Interface for upper modules (Byzantine total order): cons_lower_open_space(n, "bldc", space,
 * upper, ...) and cons_lower_propose(lower, (space << CONS_SPACE_BITS) | r, v, len) as for every
 * consensus module (cons.h); decisions come up as CONS_EV_DECIDE. Clients: STRATA_OP_PROPOSE on
 * module "bldc" (instance space 0).
 *
 * Values: at most cons_value_max(N x (BEP_WS_MAX + 1)) bytes, so that a COLLECTED of N STATEs,
 * each with its value and a full writeset, fits the links' maximum message. Memory: the instance
 * table's bound (cons.h) times one bep (O(N) votes and conditional collect's O(N) messages) and
 * N DECIDED claims (digests, and the values of those that carried one) per instance, plus the
 * future buffer (N x BL_FUTURE_PER_PEER messages).
 *
 * Byzantine test behaviours: those of bep.c, bcollect.c, bec.c and bld.c; for the epoch's
 * collect, replay and lie-state sign the stale epoch STATE (hw = 0: "I never wrote anything"),
 * a forging leader relays a vector of such STATEs with forged signatures and proposes a fresh
 * value directly on every instance it leads (below the bound too, where it also runs READ and
 * its forged per-instance COLLECTED), and badsig corrupts one signature of its epoch vector;
 * here, silent also
 * sends no VALUE or DECIDED, replay re-sends, in each new epoch, its WRITE and ACCEPT of the
 * previous one, and old-epoch all its messages of the previous one (its SEND and, as leader,
 * its COLLECTED too): stale, they must be dropped.
 *
 * Sends the links refuse (the backlog toward q full: a message q never gets). What an undecided
 * process waits for is repeated every period (bl_on_tick: its VALUE, its epoch consensus's
 * messages, the epoch's collect; a decided process answers a VALUE with DECIDED), and so are the
 * messages of a decided instance while it lingers. Not the two messages of a client instance
 * (space 0) that a process q which never proposed there needs: the proposer's first VALUE and
 * each decider's DECIDED. If the links refused every message of the instance to q, q never heard
 * of it, holds no value, repeats nothing; the others decide without it and stop lingering once
 * 2f + 1 said DECIDED, and q never decides (WBC1). Those two are owed to q and sent again, in
 * order, when the backlog has room (links.h, strata_pl_owed, queued): per peer at most
 * BL_OWED_MSGS (a VALUE and a DECIDED per instance, for the CONS_LIVE_MAX undecided here and
 * as many decided while owed) and BL_OWED_BYTES of payload (backlog_bytes if larger); one beyond
 * is dropped (lost as before), counted and traced. The other spaces need none: there every
 * correct process proposes (btob proposes every round, sbc once its PROPOSALs arrive, which it
 * owes), so holds a value and repeats its VALUE until some decided process answers it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/bep.h"
#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "fd/fd.h"
#include "links/links.h"

#define BL_FUTURE_PER_PEER 16u
#define BL_OWED_MSGS (2 * CONS_LIVE_MAX)
#define BL_OWED_BYTES (64u << 20)
#define BL_TIMEOUT_MAX_X 8u
/* The instance id the epoch's conditional collect travels and is signed under: no consensus
 * instance has it (spaces are below CONS_SPACES), so an epoch STATE's signature is never an
 * instance STATE's and back. */
#define BL_EPOCH_ID UINT64_MAX

enum { BL_TOK_TICK = 1, BL_TOK_OWED = 2 };

struct bl_inst {
	struct cons_inst c;
	struct strata_msg *val; /* wbc's val, NULL = ⊥ */
	bool joined;            /* btob's space: val is another process's announced VALUE */
	bool proposed;          /* proposed in the current epoch */
	bool started;
	uint64_t since_us;      /* start of the current epoch here (or creation) */
	struct bep ep;
	struct strata_msg *claims[BCC_MAX_N + 1]; /* DECIDED(v) per sender: SHA-256(v) */
	struct strata_msg *fulls[BCC_MAX_N + 1];  /* v itself, when its DECIDED carried it */
	struct strata_msg *dec; /* lingering: the value decided here */
	uint8_t dec_dig[STRATA_HASH_LEN]; /* its SHA-256 digest */
};

struct bldc {
	struct strata_module m;
	struct cons_tab tab;
	uint32_t n, f, self, quorum;
	bool check_sigs;
	bool no_digest; /* TEST ONLY: the broken variant (cons_bldc_test_no_digest) */
	uint64_t ets;    /* the current epoch */
	uint32_t leader; /* and its leader */
	struct strata_module *bld;
	uint32_t trusted; /* bld's current leader */
	uint64_t period_us, timeout_us, timeout_max_us;
	struct strata_timer tick;
	struct bl_inst *linger[CONS_LIVE_MAX]; /* decided here, still taking part */
	size_t nlinger;
	uint64_t linger_evicted;
	struct cons_future fut; /* messages of later epochs (cons.h): n * BL_FUTURE_PER_PEER */
	uint64_t stale, bad, complaints, invalid;
	/* One conditional collect per epoch (the header): hw[s] is the first local id above every
	 * instance of space s in which this process ever wrote or accepted (in any epoch); the
	 * epoch's collect (ecc) gathers N - f signed [hw] vectors, and bound[s] is their largest
	 * entry for space s, valid once ecc_done. */
	uint64_t hw[CONS_SPACES];
	struct bcc ecc;
	bool ecc_input;  /* this process's epoch STATE went in */
	bool ecc_done;
	uint64_t bound[CONS_SPACES];
	uint64_t direct, collects; /* instances proposed directly / with their own collect */
	bool test_everywhere;      /* TEST ONLY: the bound is ignored (broken variant) */
	bool test_omit;            /* TEST ONLY: the epoch STATE omits every instance */
	struct strata_pl_owed *owed; /* space 0's first VALUE and DECIDED refused (the top) */
};

/* Whether the epoch's collect showed instance id unbound (bep.h's BEP_FAST_*). */
static int bl_fast(const struct bldc *l, uint64_t id)
{
	if (!l->ecc_done)
		return BEP_FAST_WAIT;
	uint64_t space = id >> CONS_SPACE_BITS;
	if (space >= CONS_SPACES)
		return BEP_FAST_NO;
	if (l->test_everywhere)
		return BEP_FAST_YES;
	return (id & CONS_SPACE_MASK) >= l->bound[space] ? BEP_FAST_YES : BEP_FAST_NO;
}

static struct bep_env bl_env(struct bldc *l, struct bl_inst *i)
{
	return (struct bep_env){ .m = &l->m, .instance = i->c.id, .n = l->n, .f = l->f,
				 .self = l->self, .quorum = l->quorum,
				 .check_sigs = l->check_sigs, .no_digest = l->no_digest,
				 .own = i->val, .tab = &l->tab, .fast = bl_fast(l, i->c.id) };
}

/* An instance whose epoch state is no longer (0, ⊥, ∅) (this process wrote or accepted in it)
 * raises its space's hw above it: every later epoch STATE covers it. Called after every step of
 * an instance's epoch consensus, before any of it can be dropped. */
static void bl_note(struct bldc *l, const struct bl_inst *i)
{
	if (!i->started || (i->ep.st.valts == 0 && i->ep.st.nws == 0))
		return;
	uint64_t space = i->c.id >> CONS_SPACE_BITS;
	uint64_t local = i->c.id & CONS_SPACE_MASK;
	if (space < CONS_SPACES && local + 1 > l->hw[space])
		l->hw[space] = local + 1;
}

static bool bl_silent(struct bldc *l)
{
	return strata_node_byz(l->m.node) == STRATA_BYZ_SILENT;
}

static void bl_epoch_input(struct bldc *l);

static void bl_start(struct bldc *l, struct bl_inst *i)
{
	if (i->started)
		return;
	bl_epoch_input(l); /* an instance takes part in this epoch: so does this process */
	i->started = true;
	i->since_us = strata_now_us(l->m.node);
	struct bep_state st = { 0 };
	bep_init(&i->ep, l->ets, l->leader, &st);
}

static void bl_inst_clear(struct bl_inst *i)
{
	if (i->started)
		bep_free(&i->ep);
	if (i->val)
		strata_msg_unref(i->val);
	i->val = NULL;
	for (uint32_t p = 0; p <= BCC_MAX_N; p++) {
		if (i->claims[p])
			strata_msg_unref(i->claims[p]);
		if (i->fulls[p])
			strata_msg_unref(i->fulls[p]);
		i->claims[p] = i->fulls[p] = NULL;
	}
	if (i->dec)
		strata_msg_unref(i->dec);
	i->dec = NULL;
	i->started = false;
}

static struct bl_inst *bl_linger_find(struct bldc *l, uint64_t id)
{
	for (size_t k = 0; k < l->nlinger; k++)
		if (l->linger[k]->c.id == id)
			return l->linger[k];
	return NULL;
}

static void bl_linger_drop(struct bldc *l, size_t k)
{
	struct bl_inst *i = l->linger[k];
	bl_inst_clear(i);
	free(i);
	memmove(&l->linger[k], &l->linger[k + 1], (l->nlinger - k - 1) * sizeof(l->linger[0]));
	l->nlinger--;
}

static struct bl_inst *bl_get(struct bldc *l, uint64_t id, uint32_t from)
{
	struct bl_inst *i = (struct bl_inst *)cons_tab_get_peer(&l->tab, id, from);
	if (i)
		bl_start(l, i);
	return i;
}

/* VALUE or DECIDED to `to` (0: everyone); with owe, a client instance's (space 0) is owed when
 * the links refuse it (the header: "Sends the links refuse"). */
static void bl_send_value_as(struct bldc *l, uint32_t to, uint64_t id, uint8_t type,
			     const uint8_t *v, size_t len, bool owe)
{
	if (bl_silent(l))
		return;
	struct strata_msg *msg = cons_enc_value(type, v, len);
	if (!msg)
		return;
	owe = owe && (id >> CONS_SPACE_BITS) == 0;
	for (uint32_t q = to ? to : 1; q <= (to ? to : l->n); q++) {
		if (owe)
			(void)strata_pl_owed_send(l->owed, q, id, msg);
		else
			(void)strata_pl_send(&l->m, q, id, msg);
	}
	strata_msg_unref(msg);
}

static void bl_send_value(struct bldc *l, uint32_t to, uint64_t id, uint8_t type,
			  const uint8_t *v, size_t len)
{
	bl_send_value_as(l, to, id, type, v, len, false);
}

/* upon l = self ∧ val != ⊥ ∧ proposed = FALSE do
 *     proposed := TRUE; trigger <bep.ets, Propose | val>;
 * once the epoch's collect says which way: directly (PROPOSE) on an instance at or above its
 * bound, with the instance's own collect (READ) below it. */
static void bl_try_as(struct bldc *l, struct bl_inst *i, bool slow)
{
	if (l->leader != l->self || !i->val || i->proposed || (i->joined && !i->dec))
		return; /* btob's space: a leader proposes its own upper's value (bl_join) */
	bool forge = strata_node_byz(l->m.node) == STRATA_BYZ_FORGE;
	int fast = bl_fast(l, i->c.id);
	if (slow && fast == BEP_FAST_WAIT)
		fast = BEP_FAST_NO; /* waited a period: the instance's own collect */
	if (fast == BEP_FAST_WAIT && !forge)
		return; /* the epoch's collect has not completed here */
	i->proposed = true;
	struct bep_env env = bl_env(l, i);
	if (fast == BEP_FAST_YES || forge) {
		/* TEST ONLY (forge): a fresh value directly on every instance, and below the bound
		 * its forged COLLECTED too (bep.c) */
		l->direct++;
		bep_propose_direct(&env, &i->ep, i->val);
		if (fast == BEP_FAST_YES)
			return;
	}
	l->collects++;
	bep_propose(&env, &i->ep, i->val);
}

static void bl_try(struct bldc *l, struct bl_inst *i)
{
	bl_try_as(l, i, false);
}

/* How many processes claimed DECIDED of the value with digest d (STRATA_HASH_LEN bytes). */
static unsigned bl_claims_for(const struct bldc *l, const struct bl_inst *i, const uint8_t *d,
			      size_t len)
{
	unsigned k = 0;
	for (uint32_t p = 1; p <= l->n; p++)
		if (i->claims[p] && i->claims[p]->len == len && memcmp(i->claims[p]->data, d, len) == 0)
			k++;
	return k;
}

static void bl_send_value(struct bldc *l, uint32_t to, uint64_t id, uint8_t type,
			  const uint8_t *v, size_t len);

/* upon event <bep.ts, Decide | v> such that ts = ets do
 *     if decided = FALSE then decided := TRUE; trigger <wbc, Decide | v>;
 * The instance is retired from the table (cons.h) but its epoch consensus lingers: this process
 * keeps taking part in later epochs of the instance (a correct process that has not decided
 * needs N - f participants for a Byzantine quorum) and tells everyone DECIDED(v) once, until
 * 2f + 1 processes said DECIDED(v) (f + 1 of them correct, whose DECIDED reach every correct
 * process). */
static void bl_decide(struct bldc *l, struct bl_inst *i, const uint8_t *v, size_t len)
{
	struct strata_msg *copy = strata_msg_new(v, len);
	struct bl_inst *g = calloc(1, sizeof(*g));
	if (!copy || !g) {
		free(g);
		if (copy)
			strata_msg_unref(copy);
		return;
	}
	*g = *i; /* moves the epoch consensus, val and claims */
	g->c.nvals = 0;
	g->c.nwait = 0;
	g->dec = strata_msg_ref(copy);
	if (g->joined) { /* a lingering leader proposes what was decided, not a joined VALUE */
		strata_msg_unref(g->val);
		g->val = NULL;
		g->joined = false;
	}
	if (!g->val)
		g->val = strata_msg_ref(copy);
	i->started = false;
	i->val = NULL;
	i->dec = NULL;
	memset(i->claims, 0, sizeof(i->claims));
	memset(i->fulls, 0, sizeof(i->fulls));
	if (l->nlinger == CONS_LIVE_MAX) {
		l->linger_evicted++;
		bl_linger_drop(l, 0);
	}
	l->linger[l->nlinger++] = g;
	uint64_t id = i->c.id;
	cons_decide(&l->tab, &i->c, copy->data, copy->len, l->ets);
	/* DECIDED(v) to everyone: as v's digest to a process whose WRITE or ACCEPT of v (its
	 * digest) this epoch is here (it holds v: the value it wrote, its val), with v itself to
	 * the others. */
	uint8_t *dig = g->dec_dig;
	if (g->started && g->ep.wval && g->ep.wval->len == copy->len &&
	    memcmp(g->ep.wval->data, copy->data, copy->len) == 0)
		memcpy(dig, g->ep.wdig, STRATA_HASH_LEN); /* the value it wrote: hashed then */
	else
		strata_hash(dig, copy->data, copy->len);
	for (uint32_t q = 1; q <= l->n; q++) {
		const struct strata_msg *a = g->started ? g->ep.accepted[q] : NULL;
		const struct strata_msg *w = g->started ? g->ep.written[q] : NULL;
		bool held = q == l->self ||
			    (a && a->len == STRATA_HASH_LEN &&
			     memcmp(a->data, dig, STRATA_HASH_LEN) == 0) ||
			    (w && w->len == STRATA_HASH_LEN && memcmp(w->data, dig, STRATA_HASH_LEN) == 0);
		if (held)
			bl_send_value_as(l, q, id, CONS_DECIDED_DIGEST, dig, STRATA_HASH_LEN, true);
		else
			bl_send_value_as(l, q, id, CONS_DECIDED, copy->data, copy->len, true);
	}
	strata_msg_unref(copy);
}

/* upon event <wbc, Propose | v> do val := v;
 * (multi-instance: announce v so that every correct process proposes) */
static int bl_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct bldc *l = (struct bldc *)m;
	struct bl_inst *i = (struct bl_inst *)c;
	if (!cons_tab_valid(&l->tab, c->id, v, len)) {
		/* An upper's external validity predicate (sbc.c) refuses v: neither proposed nor
		 * joined with (a Byzantine VALUE), so a correct leader never proposes it. */
		l->invalid++;
		strata_trace(m->node, "bldc", "instance %llu: value fails the upper's predicate -> "
			     "not proposed", (unsigned long long)c->id);
		return STRATA_EINVAL;
	}
	bl_start(l, i);
	if (i->joined) { /* the upper's own value replaces a joined one (bl_join) */
		strata_msg_unref(i->val);
		i->val = NULL;
		i->joined = false;
	}
	if (!i->val && !(i->val = strata_msg_new(v, len)))
		return STRATA_ENOMEM;
	cons_out_propose(&l->tab, c, v, len, by_client);
	if (by_client)
		bl_send_value_as(l, 0, c->id, CONS_VALUE, v, len, true);
	bl_try(l, i);
	return 0;
}

static void bl_answer_retired(struct bldc *l, uint32_t to, uint64_t id)
{
	struct strata_msg *v = cons_tab_decided(&l->tab, id);
	if (v) {
		bl_send_value(l, to, id, CONS_DECIDED, v->data, v->len);
		strata_msg_unref(v);
	}
}

/* The value with digest d this process holds for the instance: a DECIDED that carried it, its
 * epoch consensus's (the value it wrote or accepted), or its own proposal; NULL if none. */
static const struct strata_msg *bl_value_of(const struct bldc *l, const struct bl_inst *i,
					    const uint8_t *d)
{
	for (uint32_t p = 1; p <= l->n; p++)
		if (i->fulls[p] && memcmp(i->claims[p]->data, d, STRATA_HASH_LEN) == 0)
			return i->fulls[p];
	const struct strata_msg *v = i->started ? bep_held_value(&i->ep, d, STRATA_HASH_LEN) : NULL;
	if (!v && i->val) {
		uint8_t h[STRATA_HASH_LEN];
		strata_hash(h, i->val->data, i->val->len);
		if (memcmp(h, d, STRATA_HASH_LEN) == 0)
			v = i->val;
	}
	return v;
}

/* A DECIDED(v) from `from` (v's digest d, and v itself if the message carried it): decide once
 * f + 1 processes said v and v is here; a lingering instance retires once 2f + 1 said what it
 * decided. */
static void bl_on_claim(struct bldc *l, struct bl_inst *i, uint32_t from, const uint8_t *d,
			const uint8_t *v, size_t len)
{
	struct strata_msg *m = strata_msg_new(d, STRATA_HASH_LEN);
	struct strata_msg *full = v ? strata_msg_new(v, len) : NULL;
	if (!m || (v && !full)) {
		if (m)
			strata_msg_unref(m);
		if (full)
			strata_msg_unref(full);
		return;
	}
	if (i->claims[from])
		strata_msg_unref(i->claims[from]);
	if (i->fulls[from])
		strata_msg_unref(i->fulls[from]);
	i->claims[from] = m;
	i->fulls[from] = full;
	if (i->dec) {
		if (bl_claims_for(l, i, i->dec_dig, STRATA_HASH_LEN) >= 2 * l->f + 1)
			for (size_t k = 0; k < l->nlinger; k++)
				if (l->linger[k] == i) {
					bl_linger_drop(l, k);
					break;
				}
		return;
	}
	/* Any f + 1 agreeing claims (this one's value, or one held back for want of the value). */
	for (uint32_t p = 1; p <= l->n; p++) {
		if (!i->claims[p] || bl_claims_for(l, i, i->claims[p]->data, STRATA_HASH_LEN) < l->f + 1)
			continue;
		const struct strata_msg *x = bl_value_of(l, i, i->claims[p]->data);
		if (!x)
			continue; /* v is not here yet: a DECIDED with v, or its own quorums, bring it */
		strata_trace(l->m.node, "bldc", "instance %llu: f + 1 DECIDED -> decide",
			     (unsigned long long)i->c.id);
		struct strata_msg *keep = strata_msg_ref((struct strata_msg *)x);
		bl_decide(l, i, keep->data, keep->len);
		strata_msg_unref(keep);
		return;
	}
}

/* A message of the current epoch (or an earlier one: dropped). */
static void bl_on_ep_msg(struct bldc *l, uint32_t from, uint64_t id, struct strata_msg *msg);

/* ---- one conditional collect per epoch ---- */

/* An epoch STATE: [count = CONS_SPACES][count x k], k[s] the first local id of space s above
 * every instance of s the signer ever wrote or accepted in. */
static bool bl_epoch_parse(const uint8_t *m, size_t len, uint64_t *k)
{
	struct strata_rd r;
	strata_rd_init(&r, m, len);
	uint64_t count = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || count != CONS_SPACES)
		return false;
	for (unsigned s = 0; s < CONS_SPACES; s++)
		k[s] = strata_rd_u64(&r);
	return strata_rd_done(&r) == 0;
}

/* The epoch collect's output predicate: N - f well-formed epoch STATEs (a malformed entry, only
 * a Byzantine signer's, counts for nothing). */
static bool bl_epoch_sound(const struct bcc_env *env, const struct bcc_vec *v)
{
	uint64_t k[CONS_SPACES];
	uint32_t ok = 0;
	for (uint32_t p = 1; p <= env->n; p++)
		if (v->m[p] && bl_epoch_parse(v->m[p], v->len[p], k))
			ok++;
	return ok >= env->n - env->f;
}

static struct bcc_env bl_ecc_env(struct bldc *l)
{
	return (struct bcc_env){ .m = &l->m, .instance = BL_EPOCH_ID, .n = l->n, .f = l->f,
				 .self = l->self, .check_sigs = l->check_sigs,
				 .pred = bl_epoch_sound, .arg = l };
}

static struct strata_msg *bl_epoch_state(const struct bldc *l, bool stale)
{
	uint64_t k[CONS_SPACES];
	memcpy(k, l->hw, sizeof(k));
	enum strata_byz byz = strata_node_byz(l->m.node);
	if (stale || byz == STRATA_BYZ_REPLAY || byz == STRATA_BYZ_LIE_STATE || l->test_omit)
		memset(k, 0, sizeof(k)); /* a stale STATE: "I never wrote anything" (a lie) */
	struct strata_wr w;
	strata_wr_init(&w, 16 + 10 * CONS_SPACES);
	strata_wr_u64(&w, CONS_SPACES);
	for (unsigned s = 0; s < CONS_SPACES; s++)
		strata_wr_u64(&w, k[s]);
	int err;
	return strata_wr_take_msg(&w, &err);
}

/* <cc, Input | [STATE, hw]> of the epoch's collect, once per epoch: when the epoch starts
 * with an instance here (live or lingering), else when the first instance starts in it, or
 * (leader) when another process's epoch STATE arrives (an epoch in which this process has
 * nothing to do costs it no signature; a leader that cannot gather N - f within a period falls
 * back to each instance's own collect: bl_on_tick). Epoch 0 needs none:
 * nothing was written before it, so every instance is unbound there. */
static void bl_epoch_input(struct bldc *l)
{
	if (l->ecc_input || l->ecc_done)
		return;
	l->ecc_input = true;
	struct strata_msg *m = bl_epoch_state(l, false);
	if (m) {
		struct bcc_env env = bl_ecc_env(l);
		bcc_input(&env, &l->ecc, m->data, m->len);
		strata_msg_unref(m);
	}
}

static void bl_epoch_start(struct bldc *l)
{
	bcc_free(&l->ecc);
	bcc_init(&l->ecc, l->ets, l->leader);
	memset(l->bound, 0, sizeof(l->bound));
	l->ecc_done = l->ets == 0;
	l->ecc_input = false;
	if (l->tab.nlive + l->nlinger > 0)
		bl_epoch_input(l);
}

/* A Byzantine leader's epoch COLLECTED (test behaviours): forged ("nobody wrote anything",
 * with signatures it cannot make) or with one bad signature; v is what it collected. */
static void bl_byz_epoch_collected(struct bldc *l, const struct bcc_vec *v)
{
	struct bcc_env env = bl_ecc_env(l);
	enum strata_byz byz = strata_node_byz(l->m.node);
	struct bcc_vec x = *v;
	uint8_t zero[STRATA_SIG_LEN] = { 0 }, sig[STRATA_SIG_LEN];
	struct strata_msg *z = NULL;
	if (byz == STRATA_BYZ_FORGE) {
		z = bl_epoch_state(l, true);
		if (z) {
			bcc_sign(&env, l->ets, z->data, z->len, sig);
			for (uint32_t q = 1; q <= l->n; q++) {
				x.m[q] = z->data;
				x.len[q] = z->len;
				x.sig[q] = q == l->self ? sig : zero;
			}
		}
	} else if (byz == STRATA_BYZ_BADSIG) {
		bcc_vec_corrupt_one(&env, &x, sig);
	}
	bcc_send_collected(&env, &l->ecc, 0, &x);
	if (z)
		strata_msg_unref(z);
}

/* <cc, Collected | M> of the epoch's collect: bound[s] := the largest k[s] in M. Every
 * instance at or above it is unbound (bep.c's header): the leader proposes there directly, and
 * a PROPOSE that waited is written; below it the instance runs its own collect. */
static void bl_epoch_done(struct bldc *l, const struct bcc_vec *v)
{
	uint64_t k[CONS_SPACES];
	memset(l->bound, 0, sizeof(l->bound));
	for (uint32_t p = 1; p <= l->n; p++)
		if (v->m[p] && bl_epoch_parse(v->m[p], v->len[p], k))
			for (unsigned s = 0; s < CONS_SPACES; s++)
				if (k[s] > l->bound[s])
					l->bound[s] = k[s];
	l->ecc_done = true;
	strata_trace(l->m.node, "bldc", "epoch %llu: Collected the epoch's STATEs -> proposals "
		     "directly from instance %llu (space 0), %llu (space %llu)",
		     (unsigned long long)l->ets, (unsigned long long)l->bound[0],
		     (unsigned long long)l->bound[CONS_SPACE_BTOB],
		     (unsigned long long)CONS_SPACE_BTOB);
	size_t n = l->tab.nlive + l->nlinger;
	uint64_t *ids = n ? malloc(n * sizeof(*ids)) : NULL;
	if (!ids)
		return;
	for (size_t k2 = 0; k2 < n; k2++)
		ids[k2] = k2 < l->tab.nlive ? l->tab.live[k2]->id : l->linger[k2 - l->tab.nlive]->c.id;
	for (size_t k2 = 0; k2 < n; k2++) {
		struct bl_inst *i = (struct bl_inst *)cons_tab_find(&l->tab, ids[k2]);
		if (!i || cons_tab_retired(&l->tab, ids[k2]))
			i = bl_linger_find(l, ids[k2]);
		if (!i || !i->started)
			continue;
		bl_try(l, i);
		struct bep_env env = bl_env(l, i);
		bool refused;
		const struct strata_msg *d = bep_epoch_ready(&env, &i->ep, &refused);
		bl_note(l, i);
		if (refused) {
			l->bad++;
			strata_node_bad_payload(l->m.node, &l->m, l->leader,
						"bldc: PROPOSE below the epoch's bound");
		}
		if (d && !i->dec)
			bl_decide(l, i, d->data, d->len);
	}
	free(ids);
}

static void bl_on_epoch_msg(struct bldc *l, uint32_t from, uint8_t type, struct strata_rd *r)
{
	if (type == BCC_SEND)
		bl_epoch_input(l); /* the leader needs N - f epoch STATEs: its own is one */
	struct bcc_env env = bl_ecc_env(l);
	struct bcc_vec v;
	int rc = bcc_recv(&env, &l->ecc, from, type, r, &v);
	if (rc == -1 || rc == -2) {
		l->bad++;
		strata_node_bad_payload(l->m.node, &l->m, from,
					rc == -1 ? "bldc: malformed epoch SEND or COLLECTED"
						 : "bldc: a signature in the epoch's collect did not verify");
	} else if (rc == 3) {
		bl_byz_epoch_collected(l, &v);
	} else if (rc == 1 && !l->ecc_done) {
		bl_epoch_done(l, &v);
	}
}


static void bl_future_msg(void *arg, uint32_t from, uint64_t id, struct strata_msg *msg)
{
	bl_on_ep_msg(arg, from, id, msg);
}

static void bl_on_ep_msg(struct bldc *l, uint32_t from, uint64_t id, struct strata_msg *msg)
{
	struct strata_rd r;
	strata_rd_init(&r, msg->data, msg->len);
	uint8_t type = strata_rd_u8(&r);
	uint64_t ets = strata_rd_u64(&r);
	if (ets < l->ets) {
		l->stale++;
		return;
	}
	if (id == BL_EPOCH_ID) {
		bl_on_epoch_msg(l, from, type, &r);
		return;
	}
	struct bl_inst *i;
	if (cons_tab_retired(&l->tab, id)) {
		if (!(i = bl_linger_find(l, id))) {
			if (type != BEP_ACCEPT)
				bl_answer_retired(l, from, id);
			return;
		}
	} else if (!(i = bl_get(l, id, from))) {
		return;
	}
	struct bep_env env = bl_env(l, i);
	const char *bad;
	const struct strata_msg *v = bep_recv(&env, &i->ep, from, type, &r, &bad);
	bl_note(l, i);
	if (bad) {
		l->bad++;
		strata_node_bad_payload(l->m.node, &l->m, from, bad);
		return;
	}
	if (v && !i->dec)
		bl_decide(l, i, v->data, v->len);
}

static void bl_recv(struct bldc *l, const struct strata_event *ev)
{
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	if (ev->peer < 1 || ev->peer > l->n) {
		l->bad++;
		return;
	}
	if (ev->instance == BL_EPOCH_ID && type != BCC_SEND && type != BCC_COLLECTED) {
		l->bad++;
		strata_node_bad_payload(l->m.node, &l->m, ev->peer, "bldc: malformed epoch message");
		return;
	}
	if (ev->instance == BL_EPOCH_ID) {
		uint64_t ets = strata_rd_u64(&r);
		if (!strata_rd_ok(&r)) {
			l->bad++;
			strata_node_bad_payload(l->m.node, &l->m, ev->peer, "bldc: malformed message");
			return;
		}
		if (ets > l->ets)
			(void)cons_future_add(&l->fut, ev->peer, ev->instance, ets, ev->msg);
		else
			bl_on_ep_msg(l, ev->peer, ev->instance, ev->msg);
		return;
	}
	if (type >= BEP_READ && type <= BEP_PROPOSE) {
		uint64_t ets = strata_rd_u64(&r);
		if (!strata_rd_ok(&r)) {
			l->bad++;
			strata_node_bad_payload(l->m.node, &l->m, ev->peer, "bldc: malformed message");
			return;
		}
		if (ets > l->ets && (!cons_tab_retired(&l->tab, ev->instance) ||
				     bl_linger_find(l, ev->instance))) {
			/* Kept until its epoch starts; a sender over its share loses its
			 * earliest-epoch one. */
			(void)cons_future_add(&l->fut, ev->peer, ev->instance, ets, ev->msg);
			return;
		}
		bl_on_ep_msg(l, ev->peer, ev->instance, ev->msg);
		return;
	}
	const uint8_t *v;
	size_t len = strata_rd_bytes(&r, &v, SIZE_MAX);
	if (strata_rd_done(&r) != 0 ||
	    (type != CONS_VALUE && type != CONS_DECIDED && type != CONS_DECIDED_DIGEST) ||
	    (type == CONS_DECIDED_DIGEST && len != STRATA_HASH_LEN)) {
		l->bad++;
		strata_node_bad_payload(l->m.node, &l->m, ev->peer, "bldc: malformed message");
		return;
	}
	uint8_t dig[STRATA_HASH_LEN];
	if (type == CONS_DECIDED)
		strata_hash(dig, v, len);
	else if (type == CONS_DECIDED_DIGEST)
		memcpy(dig, v, sizeof(dig));
	const uint8_t *full = type == CONS_DECIDED ? v : NULL;
	if (cons_tab_retired(&l->tab, ev->instance)) {
		struct bl_inst *g = bl_linger_find(l, ev->instance);
		if (type == CONS_VALUE)
			bl_answer_retired(l, ev->peer, ev->instance);
		else if (g)
			bl_on_claim(l, g, ev->peer, dig, full, len);
		return;
	}
	struct bl_inst *i = bl_get(l, ev->instance, ev->peer);
	if (!i)
		return;
	if (type != CONS_VALUE) {
		bl_on_claim(l, i, ev->peer, dig, full, len);
		return;
	}
	if (i->c.proposed)
		return;
	if ((ev->instance >> CONS_SPACE_BITS) != CONS_SPACE_BTOB) {
		(void)bl_propose(&l->m, &i->c, v, len, false); /* join with the announced value */
		return;
	}
	/* Byzantine total order (btob.c) proposes every round at every correct process itself,
	 * and a round's valid value is its sender's signed bundle or MISSING: a VALUE of another
	 * process (a Byzantine sender announcing an invalid bundle of its own round early) is kept
	 * as val for the complaint timeout and the repeats, but a leader proposes only what its own
	 * btob proposes, which replaces it (sim_btob_kv seeds 9306, 20116, 40090: a lagging
	 * correct leader joined the sender's invalid bundle, btob complained about it). */
	if (!i->val && cons_tab_valid(&l->tab, i->c.id, v, len) &&
	    (i->val = strata_msg_new(v, len)) != NULL)
		i->joined = true;
}

/* upon event <bec, StartEpoch | newts', newl'> do (newts, newl) := ...; trigger <bep.ets, Abort>;
 * upon event <bep.ts, Aborted | state> such that ts = ets do
 *     (ets, l) := (newts, newl); proposed := FALSE;
 *     initialize a new instance bep.ets with timestamp ets, leader l, and state state;
 * (the abort completes at once, for every live instance) */
static void bl_on_start_epoch(struct bldc *l, uint64_t newts, uint32_t newl)
{
	if (newts <= l->ets)
		return; /* EC1: epochs only grow */
	uint64_t now = strata_now_us(l->m.node);
	enum strata_byz byz = strata_node_byz(l->m.node);
	bool replay = byz == STRATA_BYZ_REPLAY || byz == STRATA_BYZ_OLD_EPOCH;
	bool all = byz == STRATA_BYZ_OLD_EPOCH;
	for (size_t k = 0; k < l->tab.nlive + l->nlinger; k++) {
		struct bl_inst *i = k < l->tab.nlive ? (struct bl_inst *)l->tab.live[k]
						     : l->linger[k - l->tab.nlive];
		if (!i->started)
			continue;
		struct bep_state st;
		struct strata_msg *old[4] = { NULL, NULL, NULL, NULL };
		if (replay) {
			old[0] = i->ep.my_write ? strata_msg_ref(i->ep.my_write) : NULL;
			old[1] = i->ep.my_accept ? strata_msg_ref(i->ep.my_accept) : NULL;
		}
		if (all) {
			old[2] = i->ep.cc.my_send ? strata_msg_ref(i->ep.cc.my_send) : NULL;
			old[3] = i->ep.cc.my_collected ? strata_msg_ref(i->ep.cc.my_collected) : NULL;
		}
		bl_note(l, i);
		bep_abort(&i->ep, &st);
		bep_free(&i->ep);
		bep_init(&i->ep, newts, newl, &st);
		i->proposed = false;
		i->since_us = now;
		for (int j = 0; j < 4; j++)
			if (old[j]) {
				strata_pl_send_all(&l->m, i->c.id, old[j]); /* TEST ONLY: replay */
				strata_msg_unref(old[j]);
			}
	}
	strata_trace(l->m.node, "bldc", "StartEpoch(%llu, %u) -> %zu instances move to it",
		     (unsigned long long)newts, newl, l->tab.nlive);
	l->ets = newts;
	l->leader = newl;
	bl_epoch_start(l); /* after every instance's state is noted in hw */
	/* Messages of this epoch that arrived before its StartEpoch. */
	cons_future_start(&l->fut, newts, bl_future_msg, l);
	for (size_t k = 0; k < l->tab.nlive; k++)
		bl_try(l, (struct bl_inst *)l->tab.live[k]);
	for (size_t k = 0; k < l->nlinger; k++)
		bl_try(l, l->linger[k]);
}

/* Every period: repeats for instances undecided for a period, and the complaint about a
 * leader under which an instance this process proposed made no progress for the timeout. */
static void bl_on_tick(struct bldc *l)
{
	uint64_t now = strata_now_us(l->m.node);
	bool complain = false, repeat = false;
	for (size_t k = 0; k < l->tab.nlive; k++) {
		struct bl_inst *i = (struct bl_inst *)l->tab.live[k];
		if (!i->val || now - i->since_us < l->period_us)
			continue;
		repeat = true;
		/* A leader whose epoch collect has not completed within a period (too few processes
		 * have an instance of the epoch: those that decided linger without a STATE) runs the
		 * instance's own collect, which every lingering process answers. */
		bl_try_as(l, i, true);
		bl_send_value(l, 0, i->c.id, CONS_VALUE, i->val->data, i->val->len);
		struct bep_env env = bl_env(l, i);
		bep_resend(&env, &i->ep);
		if (now - i->since_us >= l->timeout_us)
			complain = true;
	}
	for (size_t k = 0; k < l->nlinger; k++) {
		struct bl_inst *i = l->linger[k];
		if (now - i->since_us >= l->period_us) {
			bl_try_as(l, i, true);
			struct bep_env env = bl_env(l, i);
			bep_resend(&env, &i->ep);
		}
	}
	if (repeat && !bl_silent(l)) {
		struct bcc_env env = bl_ecc_env(l);
		bcc_resend(&env, &l->ecc); /* the epoch's SEND, and the leader its COLLECTED */
	}
	if (complain && l->trusted && strata_fd_bld_complain(l->bld, l->trusted) == 0) {
		l->complaints++;
		strata_trace(l->m.node, "bldc", "no decision under leader %u for %llu ms -> complain",
			     l->trusted, (unsigned long long)(l->timeout_us / 1000));
		if (l->timeout_us * 2 <= l->timeout_max_us)
			l->timeout_us *= 2;
	}
	strata_timer_arm_in(l->m.node, &l->tick, l->period_us);
}

static void bl_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct bldc *l = (struct bldc *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		strata_timer_arm_in(m->node, &l->tick, l->period_us);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == BL_TOK_TICK)
			bl_on_tick(l);
		else if (ev->arg == BL_TOK_OWED)
			strata_pl_owed_flush(l->owed);
		break;
	case STRATA_EV_PL_DELIVER:
		if (ev->msg)
			bl_recv(l, ev);
		break;
	case STRATA_EV_LEADER: /* bld's Trust: whom a complaint names */
		if (ev->peer >= 1 && ev->peer <= l->n)
			l->trusted = ev->peer;
		break;
	case CONS_EV_START_EPOCH:
		if (ev->peer >= 1 && ev->peer <= l->n)
			bl_on_start_epoch(l, ev->arg, ev->peer);
		break;
	default:
		break;
	}
}

static int bl_request(struct strata_module *m, const struct strata_request *req)
{
	struct bldc *l = (struct bldc *)m;
	return cons_request(&l->tab, req, cons_value_max(m->node, l->n * (BEP_WS_MAX + 1)),
			    bl_propose);
}

/* An instance btob skipped (cons_lower_skip: a checkpoint covers its round). */
static void bl_drop(struct cons_tab *t, struct cons_inst *c)
{
	(void)t;
	bl_inst_clear((struct bl_inst *)c);
	for (uint32_t k = 0; k < c->nvals; k++)
		strata_msg_unref(c->vals[k]);
	free(c);
}

static void bl_destroy(struct strata_module *m)
{
	struct bldc *l = (struct bldc *)m;
	strata_timer_disarm(m->node, &l->tick);
	cons_future_free(&l->fut);
	free(l->fut.e);
	bcc_free(&l->ecc);
	for (size_t k = 0; k < l->tab.nlive; k++)
		bl_inst_clear((struct bl_inst *)l->tab.live[k]);
	while (l->nlinger)
		bl_linger_drop(l, l->nlinger - 1);
	cons_tab_free(&l->tab);
	strata_pl_owed_free(l->owed);
	free(l);
}

static const struct strata_module_ops bl_ops = {
	.name = "bldc", .handle = bl_handle, .request = bl_request, .destroy = bl_destroy,
};

void cons_bldc_test_quorum(struct strata_module *m, uint32_t quorum)
{
	STRATA_ASSERT(m && m->ops == &bl_ops && quorum >= 1);
	((struct bldc *)m)->quorum = quorum;
}

void cons_bldc_test_no_sigcheck(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &bl_ops);
	((struct bldc *)m)->check_sigs = false;
}

void cons_bldc_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &bl_ops);
	strata_pl_owed_test_lossy(((struct bldc *)m)->owed);
}

uint64_t cons_bldc_test_owed(const struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &bl_ops);
	struct strata_pl_owed_counts c;
	strata_pl_owed_counts(((const struct bldc *)m)->owed, &c);
	return c.refused;
}

void cons_bldc_test_no_digest(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &bl_ops);
	((struct bldc *)m)->no_digest = true;
}

void cons_bldc_test_bound_ignored(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &bl_ops);
	((struct bldc *)m)->test_everywhere = true;
}

void cons_bldc_test_epoch_state_omits(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &bl_ops);
	((struct bldc *)m)->test_omit = true;
}

uint64_t cons_bldc_epoch(const struct strata_module *m)
{
	return ((const struct bldc *)m)->ets;
}

struct strata_module *cons_bldc_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	uint32_t nn = strata_node_n(n);
	if (nn > BCC_MAX_N || nn <= 3 * cfg->f) {
		snprintf(err, errlen,
			 "bldc: needs N > 3f and N <= %u (N = %u, f = %u): with N <= 3f two Byzantine "
			 "quorums (more than (N + f) / 2 processes) need not share a correct process",
			 BCC_MAX_N, nn, cfg->f);
		return NULL;
	}
	struct strata_module *bec = cons_bec_get(n, err, errlen);
	if (!bec)
		return NULL;
	struct bldc *l = calloc(1, sizeof(*l));
	struct cons_future_msg *fut = calloc((size_t)nn * BL_FUTURE_PER_PEER, sizeof(*fut));
	uint64_t backlog = cfg->backlog_bytes;
	if (l)
		l->owed = strata_pl_owed_new(n, &l->m, BL_TOK_OWED, NULL, BL_OWED_MSGS,
					     backlog > BL_OWED_BYTES ? backlog : BL_OWED_BYTES);
	if (!l || !fut || !l->owed || cons_tab_init(&l->tab, &l->m, sizeof(struct bl_inst)) != 0) {
		if (l)
			strata_pl_owed_free(l->owed);
		free(l);
		free(fut);
		snprintf(err, errlen, "bldc: out of memory");
		return NULL;
	}
	l->fut = (struct cons_future){ .e = fut, .cap = nn * BL_FUTURE_PER_PEER,
				       .per_peer = BL_FUTURE_PER_PEER };
	l->tab.round_name = "epoch";
	l->tab.propose = bl_propose;
	l->tab.drop = bl_drop;
	l->n = nn;
	l->f = cfg->f;
	l->self = strata_node_id(n);
	l->quorum = (nn + cfg->f) / 2 + 1; /* more than (N + f) / 2 */
	l->check_sigs = true;
	l->ets = 0;
	l->leader = cons_bec_leader(nn, 0); /* the leader l0 of epoch 0, from bec's leader() */
	bcc_init(&l->ecc, 0, l->leader);
	l->ecc_done = true; /* epoch 0: nothing was written before it */
	uint64_t period_ms = cfg->timeout_ms ? cfg->timeout_ms : 1000;
	l->period_us = period_ms * 1000;
	l->timeout_us = 2 * l->period_us;
	l->timeout_max_us = BL_TIMEOUT_MAX_X * l->timeout_us;
	l->bld = strata_node_module_by_name(n, "bld");
	l->trusted = 1; /* bld trusts leader(round 1) = p1 at Init */
	STRATA_ASSERT(l->bld);
	strata_timer_init(&l->tick, &l->m, BL_TOK_TICK, 0);
	strata_node_add_module(n, &l->m, &bl_ops, strata_wire_id("bldc"));
	strata_module_subscribe(bec, &l->m);
	strata_module_subscribe(l->bld, &l->m);
	return &l->m;
}
