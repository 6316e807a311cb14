/* Byzantine epoch consensus, book Alg. 5.17-5.18 "Byzantine Read/Write Epoch Consensus"
 * (owned by bldc.c, one instance per consensus instance and epoch).
 *
 * Specification (Module 5.13, Byzantine epoch consensus, instance ep with timestamp ets and
 * leader l):
 *   Requests:    <ep, Propose | v> (only at l), <ep, Abort>
 *   Indications: <ep, Decide | v>, <ep, Aborted | epochstate>
 *   BEP1 Validity: if a correct process ep-decides v, then v was ep-proposed by the leader l'
 *        of some epoch consensus with timestamp ts' <= ets and leader l'.
 *   BEP2 Agreement: no two correct processes ep-decide differently.
 *   BEP3 Integrity: every correct process ep-decides at most once.
 *   BEP4 Lock-in: if a correct process has ep-decided v in an epoch consensus with timestamp
 *        ts' < ets, then no correct process ep-decides a value different from v.
 *   BEP5 Termination: if the leader l is correct, has ep-proposed a value, and no correct
 *        process aborts this epoch consensus, then every correct process eventually
 *        ep-decides some value.
 *   BEP6 Abort behavior: when a correct process aborts an epoch consensus, it eventually will
 *        have completed the abort; moreover, a correct process completes an abort only if the
 *        epoch consensus has been aborted by some correct process.
 * Model: fail-arbitrary, N > 3f, over authenticated perfect links and signed conditional
 * collect (Alg. 5.16, bcollect.c) with output predicate sound().
 *
 *   upon event <ep, Init | epochstate> do
 *       (valts, val, writeset) := epochstate; written := [⊥]^N; accepted := [⊥]^N;
 *   upon event <ep, Propose | v> do                      // only l
 *       if val = ⊥ then val := v;
 *       forall q do trigger <al, Send | q, [READ]>;
 *   upon event <al, Deliver | p, [READ]> such that p = l do
 *       trigger <cc, Input | [STATE, valts, val, writeset]>;
 *   upon event <cc, Collected | states> do
 *       tmpval := ⊥;
 *       if exists ts >= 0, v != ⊥ such that binds(ts, v, states) then tmpval := v;
 *       else if exists v != ⊥ such that unbound(states) ∧ states[l] = [STATE, ·, v, ·] then
 *           tmpval := v;
 *       if tmpval != ⊥ then
 *           if exists ts such that (ts, tmpval) ∈ writeset then
 *               writeset := writeset \ {(ts, tmpval)};
 *           writeset := writeset ∪ {(ets, tmpval)};
 *           forall q do trigger <al, Send | q, [WRITE, tmpval]>;
 *   upon event <al, Deliver | p, [WRITE, v]> do written[p] := v;
 *   upon exists v such that #({p | written[p] = v}) > (N + f) / 2 do
 *       (valts, val) := (ets, v); written := [⊥]^N;
 *       forall q do trigger <al, Send | q, [ACCEPT, val]>;
 *   upon event <al, Deliver | p, [ACCEPT, v]> do accepted[p] := v;
 *   upon exists v such that #({p | accepted[p] = v}) > (N + f) / 2 do
 *       accepted := [⊥]^N; trigger <ep, Decide | v>;
 *   upon event <ep, Abort> do trigger <ep, Aborted | (valts, val, writeset)>; halt;
 * with, on a vector S of STATE messages (Alg. 5.18):
 *   quorumhighest(ts, v, S) = #{p | S[p] = [STATE, ts', v', ·] ∧ (ts' < ts ∨ (ts', v') = (ts, v))}
 *                             > (N + f) / 2
 *   certifiedvalue(ts, v, S) = #{p | S[p] = [STATE, ·, ·, ws'] ∧ exists (ts', v') ∈ ws' with
 *                             ts' >= ts ∧ v' = v} > f
 *   binds(ts, v, S) = #(S) >= N - f ∧ quorumhighest(ts, v, S) ∧ certifiedvalue(ts, v, S)
 *   unbound(S) = #(S) >= N - f ∧ #{p | S[p] = [STATE, ts, ·, ·] ∧ ts = 0} > (N + f) / 2
 *   sound(S) = exists (ts, v) such that binds(ts, v, S) ∨ unbound(S)
 *
 * Quorum arithmetic. A Byzantine quorum has more than (N + f) / 2 processes: two of them share
 * more than f processes, so at least one correct one, which sends one WRITE and one ACCEPT per
 * epoch: two values cannot both gather a quorum of WRITEs (or ACCEPTs) among correct processes
 * in one epoch (BEP2). N > 3f makes N - f correct processes a Byzantine quorum (N - f > (N + f)
 * / 2 iff N > 3f), so a correct leader's epoch can finish without the f (BEP5). Lock-in: a
 * decision on v in epoch ts' means a quorum accepted, so more than (N + f) / 2 - f > f correct
 * processes hold valts = ts' with val = v and (ts', v) in their writesets; any N - f collected
 * STATEs include one of them, so unbound() fails, and only v binds (a value of a higher ts would
 * need a quorum of WRITEs in that later epoch, all of them for v by induction).
 *
 * What is signed: only the STATE (by conditional collect); WRITE and ACCEPT go directly from
 * their sender over authenticated links and are counted once per sender, so they need no
 * signature.
 *
 * Digests (a departure from the book's messages, not its rules). WRITE and ACCEPT carry
 * D = SHA-256(v), not v: the votes are counted on digests, and a process acts on a quorum only
 * with a value it holds whose digest is D: the value it computed from its own COLLECTED and
 * wrote (tmpval), or its val. A WRITE quorum on a digest whose value is not here (its COLLECTED
 * is late, or a Byzantine leader sent another vector to others) sends no ACCEPT until the value
 * is here; an ACCEPT quorum likewise decides once it is (both are checked again when the
 * process collects, and when it accepts). Why it is the same algorithm: with a collision-
 * resistant hash, "#{p | written[p] = D} > (N + f) / 2" holds exactly when it holds for the one
 * v with SHA-256(v) = D (a Byzantine process can send a digest but cannot make it stand for
 * two values), so BEP2 and BEP4 follow as above: the quorums on D intersect in a correct
 * process, which sends one WRITE and one ACCEPT per epoch, and a correct process that accepts
 * sets (valts, val) := (ets, v) with the v of its ACCEPT. What waits costs liveness only, and
 * only when the leader is Byzantine: with a correct leader every correct process collects the
 * same vector (CC1), so it holds the tmpval that the N - f correct WRITEs name, accepts, and
 * decides its val once N - f ACCEPTs arrive (BEP5). Cost: the value (a btob batch: kilobytes)
 * crossed the links 2N^2 times per epoch in WRITEs and ACCEPTs; now 32 bytes do, and v is sent
 * only inside the leader's COLLECTED (and its STATE), each process hashing it twice or three
 * times. A WRITE or ACCEPT whose digest is not 32 bytes is malformed (dropped, counted).
 *
 * One conditional collect per epoch (bldc.c; a departure in how the book's rule is fed, not in
 * the rule). The owner runs one signed conditional collect per epoch e > 0 over all instances:
 * each process p signs an epoch STATE k_p, k_p[s] = one more than the largest local id of an
 * instance of space s in which p ever wrote or accepted (0 if none), and a leader relays N - f
 * of them; B[s] is the largest k[s] in the vector a process collected. On an instance i of s
 * with local id j >= B[s] the leader sends [PROPOSE, v] (its val, else its proposal) instead of
 * READ, and a process that collected the epoch's vector writes v (tmpval := v) as it would from
 * a COLLECTED; below B[s] a PROPOSE is refused (counted) and i runs its own collect. Proof
 * sketch that BEP1-BEP5 still hold:
 *   Claim 1. A correct p signs its epoch STATE for e after it aborted every instance's epoch
 *     consensus of the epochs before e, with each instance's state taken into k_p before it
 *     could be let go (bldc.c notes it after every step of an instance and at the abort), and
 *     it drops every message of an epoch before e afterwards. So if a correct p wrote or
 *     accepted in i (space s, local id j) in an epoch e' < e, its epoch STATE for e has
 *     k_p[s] > j. k_p only grows (an instance retired or dropped keeps its mark).
 *   Claim 2 (lock-in, BEP4). Let a correct process have decided w in i in epoch e' < e. An
 *     ACCEPT quorum (more than (N + f) / 2) accepted w in e', so more than f correct processes
 *     accepted in i before e; by Claim 1 each signs k[s] > j for e. A collected epoch vector has
 *     N - f entries with valid signatures from distinct processes; N - f + (f + 1) > N, so one
 *     of them is such a correct process's (its signature cannot be forged, and it names the
 *     epoch and the reserved instance id, so no STATE of another epoch or of an instance's own
 *     collect stands in for it): B[s] > j, and no correct process writes a PROPOSE's value in
 *     i in e. In i every correct process writes in e only from i's own collect, whose STATEs
 *     are the full per-instance states: the book's lock-in argument above applies unchanged,
 *     and by induction over the epochs after e' every WRITE quorum of a later epoch is on w.
 *   Claim 3 (j >= B[s] is the book's unbound case). If no value was decided in i before e,
 *     nothing is locked and the book lets the leader's value be written whenever unbound(S)
 *     holds for the collected vector S; here the N - f signers of the epoch vector each said
 *     "valts = 0 and writeset = ∅ in i" (k_p[s] <= B[s] <= j), so S = those states is unbound
 *     and no value binds in it (certifiedvalue needs a writeset entry), and tmpval is the
 *     leader's value, which the leader's PROPOSE carries over the authenticated link from the
 *     leader itself (the book relays it in the signed STATE only because COLLECTED comes from
 *     the leader). A Byzantine leader may PROPOSE different values to different processes, as
 *     it may send them different COLLECTED vectors: agreement comes from the quorums below.
 *   BEP2 and BEP3: a correct process writes at most once per epoch and instance, whichever way
 *     (`wrote`: a PROPOSE after a COLLECTED, or a COLLECTED after a PROPOSE, writes nothing),
 *     and the WRITE and ACCEPT quorums are as before. BEP1: what is written is a leader's
 *     PROPOSE or what the instance's collect gives. Epoch 0 needs no collect: no epoch precedes
 *     it, so Claim 2's premise is empty and B = 0.
 *   BEP5: with a correct leader after stabilisation every correct process takes part (it
 *     inputs its epoch STATE when the epoch starts with an instance here, or when its first
 *     instance of the epoch starts: a VALUE repeat brings one), the leader gathers N - f
 *     well-formed epoch STATEs (the correct ones) and sends one vector to all (CC1), so every
 *     correct process has the leader's B; at or above it every correct process writes the
 *     leader's PROPOSE, below it the instance's own collect runs as before. The leader waits
 *     for the epoch's collect before it proposes: one round trip per epoch, none per instance.
 * Broken variants in sim_cons_byz show both halves are needed: broken-epoch-bound-ignored
 * (PROPOSE written and sent at every instance) and broken-epoch-state-omits (epoch STATEs
 * with k = 0) decide two values on one instance.
 *
 * Faithful transcription, with these bounds and additions:
 *   - the written and accepted quorums fire once per epoch (the book's resetting of written and
 *     accepted has the same effect among N processes);
 *   - a writeset holds at most BEP_WS_MAX distinct values. When a new value does not fit, this
 *     process does not write it (no WRITE this epoch): that costs liveness only (the process
 *     behaves as a slow one), never safety, and needs BEP_WS_MAX epochs of one instance each
 *     writing a fresh value (unbound epochs of Byzantine leaders) without a decision;
 *   - bep_resend repeats this process's messages of the epoch (see bldc.c);
 *   - the timestamps written into states (valts and writeset entries) are ets + 1. The book's
 *     unbound() reads timestamp 0 as "never wrote", while Alg. 5.19 starts in an epoch with
 *     timestamp 0: a value accepted in epoch 0 carried valts = 0 and looked unbound, so a later
 *     leader could override a decision of epoch 0 (found by the simulator, sim_cons_byz seed
 *     5664). Shifting every written timestamp by one keeps their order and frees 0.
 * A STATE on the wire: [valts][u8 has][bytes val if has][count][count x ([ts][bytes v])].
 * PROPOSE: [21][ets][bytes v], from the leader only (others' are ignored), the first one per
 * epoch counts; it waits, held, until the epoch's collect completes here.
 * Memory per instance: N + 1 WRITE and ACCEPT digests, the value written, the writeset, and
 * conditional collect's.
 *
 * Byzantine test behaviours (strata_node_byz, simulator and --byzantine-test only):
 *   silent     sends nothing;
 *   equivocate a leader signs two STATEs of its own (its value v, and v' = "z'" v) and sends
 *              one COLLECTED to odd processes and the other to even ones; every WRITE and
 *              ACCEPT goes out as v to odd processes and v' to even ones, and it sends its
 *              ACCEPT with its WRITE, without waiting for a quorum;
 *   replay     its STATE is always the initial one (0, ⊥, ∅) (a stale state: it hides what it
 *              wrote), and it repeats its previous epoch's WRITE and ACCEPT in the next epoch
 *              (owner);
 *   lie-state  its STATE claims it accepted a value of its making ("zl:<epoch>") in the
 *              previous epoch, with that value in its writeset (a lie it can sign);
 *   old-epoch  in each new epoch it repeats all its messages of the previous one (owner);
 *   forge      a leader replaces the others' STATEs in COLLECTED by (0, ⊥, ∅) with forged
 *              signatures, so that a fresh value of its own ("zf:<epoch>") looks unbound;
 *   badsig     its SEND carries a corrupted signature (bcollect.c), and as leader it corrupts
 *              one signature of the COLLECTED vector. */
#include "cons/bep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "links/links.h"

/* A STATE read from the wire (pointers into the message). */
struct bep_view {
	uint64_t valts;
	const uint8_t *val;
	size_t vlen;
	bool has;
	unsigned nws;
	uint64_t wts[BEP_WS_MAX];
	const uint8_t *wv[BEP_WS_MAX];
	size_t wlen[BEP_WS_MAX];
};

static bool bep_parse(const uint8_t *p, size_t len, struct bep_view *s)
{
	struct strata_rd r;
	strata_rd_init(&r, p, len);
	memset(s, 0, sizeof(*s));
	s->valts = strata_rd_u64(&r);
	uint8_t has = strata_rd_u8(&r);
	if (has > 1)
		return false;
	s->has = has;
	if (has)
		s->vlen = strata_rd_bytes(&r, &s->val, SIZE_MAX);
	uint64_t nws = strata_rd_u64_max(&r, BEP_WS_MAX);
	if (!strata_rd_ok(&r))
		return false;
	s->nws = (unsigned)nws;
	for (unsigned k = 0; k < s->nws; k++) {
		s->wts[k] = strata_rd_u64(&r);
		s->wlen[k] = strata_rd_bytes(&r, &s->wv[k], SIZE_MAX);
	}
	return strata_rd_done(&r) == 0;
}

static bool same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static const struct bep_env *bep_of(const struct bcc_env *env)
{
	return env->arg;
}

/* The parsed vector; false if an entry is malformed (the vector is then not sound). */
static bool bep_views(const struct bcc_env *env, const struct bcc_vec *v, struct bep_view *s,
		      uint32_t *count)
{
	*count = 0;
	for (uint32_t p = 1; p <= env->n; p++) {
		if (!v->m[p])
			continue;
		if (!bep_parse(v->m[p], v->len[p], &s[p]))
			return false;
		(*count)++;
	}
	return true;
}

/* The largest ts with (ts, v) in q's writeset, or -1. */
static int64_t ws_max(const struct bep_view *s, const uint8_t *v, size_t len)
{
	int64_t best = -1;
	for (unsigned k = 0; k < s->nws; k++)
		if (same(s->wv[k], s->wlen[k], v, len) && (int64_t)s->wts[k] > best)
			best = (int64_t)s->wts[k];
	return best;
}

/* quorumhighest(ts, v, S) */
static bool quorumhighest(const struct bcc_env *env, const struct bcc_vec *v,
			  const struct bep_view *s, uint64_t ts, const uint8_t *val, size_t len)
{
	uint32_t k = 0;
	for (uint32_t p = 1; p <= env->n; p++)
		if (v->m[p] && (s[p].valts < ts ||
				(s[p].valts == ts && s[p].has && same(s[p].val, s[p].vlen, val, len))))
			k++;
	return k >= bep_of(env)->quorum;
}

/* Whether some ts makes binds(ts, val, S) true (#(S) >= N - f checked by the caller).
 * certifiedvalue(ts, val) holds exactly for ts <= T, T the (f + 1)-th largest of the
 * processes' largest writeset timestamps of val; quorumhighest(ts, val) can only change at
 * ts = some valts with val, or grows with ts: so T and those valts <= T are the candidates. */
static bool binds_some(const struct bcc_env *env, const struct bcc_vec *v,
		       const struct bep_view *s, const uint8_t *val, size_t len)
{
	int64_t top[BCC_MAX_N + 1];
	uint32_t k = 0;
	for (uint32_t p = 1; p <= env->n; p++)
		if (v->m[p])
			top[k++] = ws_max(&s[p], val, len);
	if (k < env->f + 1)
		return false;
	/* the (f + 1)-th largest */
	for (uint32_t a = 0; a <= env->f; a++)
		for (uint32_t b = a + 1; b < k; b++)
			if (top[b] > top[a]) {
				int64_t t = top[a];
				top[a] = top[b];
				top[b] = t;
			}
	int64_t T = top[env->f];
	if (T < 0)
		return false;
	if (quorumhighest(env, v, s, (uint64_t)T, val, len))
		return true;
	for (uint32_t p = 1; p <= env->n; p++)
		if (v->m[p] && s[p].has && (int64_t)s[p].valts <= T &&
		    same(s[p].val, s[p].vlen, val, len) &&
		    quorumhighest(env, v, s, s[p].valts, val, len))
			return true;
	return false;
}

/* The value some (ts, v) binds: the first candidate in process order (every correct process
 * handed the same vector picks the same one); NULL if none. *len gets its length. */
static const uint8_t *bound_value(const struct bcc_env *env, const struct bcc_vec *v,
				  const struct bep_view *s, size_t *len)
{
	for (uint32_t p = 1; p <= env->n; p++) {
		if (!v->m[p])
			continue;
		if (s[p].has && binds_some(env, v, s, s[p].val, s[p].vlen)) {
			*len = s[p].vlen;
			return s[p].val;
		}
		for (unsigned k = 0; k < s[p].nws; k++)
			if (binds_some(env, v, s, s[p].wv[k], s[p].wlen[k])) {
				*len = s[p].wlen[k];
				return s[p].wv[k];
			}
	}
	return NULL;
}

/* unbound(S) */
static bool unbound(const struct bcc_env *env, const struct bcc_vec *v, const struct bep_view *s)
{
	uint32_t k = 0;
	for (uint32_t p = 1; p <= env->n; p++)
		if (v->m[p] && s[p].valts == 0)
			k++;
	return k >= bep_of(env)->quorum;
}

bool bep_sound(const struct bcc_env *env, const struct bcc_vec *v)
{
	struct bep_view *s = calloc(BCC_MAX_N + 1, sizeof(*s));
	uint32_t count;
	bool ok = false;
	size_t len;
	if (s && bep_views(env, v, s, &count) && count >= env->n - env->f)
		ok = unbound(env, v, s) || bound_value(env, v, s, &len) != NULL;
	free(s);
	return ok;
}

/* ---- state ---- */

/* The timestamp this epoch writes into states: ets + 1 (see the header: 0 means "never
 * wrote", and the initial epoch's timestamp is 0). */
static uint64_t bep_ts(const struct bep *e)
{
	return e->ets + 1;
}

void bep_state_free(struct bep_state *st)
{
	if (st->val)
		strata_msg_unref(st->val);
	for (unsigned k = 0; k < st->nws; k++)
		strata_msg_unref(st->ws[k].v);
	memset(st, 0, sizeof(*st));
}

static struct strata_msg *bep_state_enc(const struct bep_state *st)
{
	size_t max = 32 + (st->val ? st->val->len : 0);
	for (unsigned k = 0; k < st->nws; k++)
		max += 20 + st->ws[k].v->len;
	struct strata_wr w;
	strata_wr_init(&w, max);
	strata_wr_u64(&w, st->valts);
	strata_wr_u8(&w, st->val ? 1 : 0);
	if (st->val)
		strata_wr_bytes(&w, st->val->data, st->val->len);
	strata_wr_u64(&w, st->nws);
	for (unsigned k = 0; k < st->nws; k++) {
		strata_wr_u64(&w, st->ws[k].ts);
		strata_wr_bytes(&w, st->ws[k].v->data, st->ws[k].v->len);
	}
	int err;
	return strata_wr_take_msg(&w, &err);
}

/* writeset := writeset \ {(ts, v)} ∪ {(ets, v)}; false when v is new and the set is full. */
static bool ws_put(struct bep_state *st, uint64_t ets, const uint8_t *v, size_t len)
{
	for (unsigned k = 0; k < st->nws; k++)
		if (same(st->ws[k].v->data, st->ws[k].v->len, v, len)) {
			st->ws[k].ts = ets;
			return true;
		}
	if (st->nws == BEP_WS_MAX)
		return false;
	struct strata_msg *m = strata_msg_new(v, len);
	if (!m)
		return false;
	st->ws[st->nws].ts = ets;
	st->ws[st->nws].v = m;
	st->nws++;
	return true;
}

/* ---- sending ---- */

static bool bep_silent(const struct bep_env *env)
{
	return strata_node_byz(env->m->node) == STRATA_BYZ_SILENT;
}

/* [type][ets][bytes v]; WRITE and ACCEPT carry v's digest instead (dig if given, else
 * computed): the header's "Digests". */
static struct strata_msg *bep_enc_dig(uint8_t type, uint64_t ets, const uint8_t *v, size_t len,
				      bool with_v, const uint8_t *dig)
{
	uint8_t h[STRATA_HASH_LEN];
	if (with_v && (type == BEP_WRITE || type == BEP_ACCEPT)) {
		if (!dig) {
			strata_hash(h, v, len);
			dig = h;
		}
		v = dig;
		len = STRATA_HASH_LEN;
	}
	struct strata_wr w;
	strata_wr_init(&w, len + CONS_HDR_MAX);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, ets);
	if (with_v)
		strata_wr_bytes(&w, v, len);
	int err;
	return strata_wr_take_msg(&w, &err);
}

static struct strata_msg *bep_enc(uint8_t type, uint64_t ets, const uint8_t *v, size_t len,
				  bool with_v)
{
	return bep_enc_dig(type, ets, v, len, with_v, NULL);
}

/* The Byzantine equivocation pair of a value: v without a leading "z'" (odd processes get it)
 * and v with one (even processes): a value of its making, marked so for the checkers. */
static struct strata_msg *bep_variant(const uint8_t *v, size_t len, bool primed)
{
	if (len >= 2 && v[0] == 'z' && v[1] == '\'') {
		v += 2;
		len -= 2;
	}
	struct strata_msg *m = strata_msg_alloc(len + (primed ? 2 : 0));
	if (!m)
		return NULL;
	if (primed) {
		m->data[0] = 'z';
		m->data[1] = '\'';
	}
	if (len)
		memcpy(m->data + (primed ? 2 : 0), v, len);
	return m;
}

/* forall q do trigger <al, Send | q, [type, v]> (an equivocating process splits it). */
static struct strata_msg *bep_send_value(const struct bep_env *env, struct bep *e, uint8_t type,
					 const uint8_t *v, size_t len, const uint8_t *dig)
{
	struct strata_msg *msg = bep_enc_dig(type, e->ets, v, len, true, dig);
	if (!msg || bep_silent(env))
		return msg;
	if (strata_node_byz(env->m->node) != STRATA_BYZ_EQUIVOCATE) {
		strata_pl_send_all(env->m, env->instance, msg);
		return msg;
	}
	for (int primed = 0; primed <= 1; primed++) {
		struct strata_msg *x = bep_variant(v, len, primed);
		struct strata_msg *out = x ? bep_enc(type, e->ets, x->data, x->len, true) : NULL;
		for (uint32_t q = 1; out && q <= env->n; q++)
			if ((q % 2 == 0) == (primed == 1))
				(void)strata_pl_send(env->m, q, env->instance, out);
		if (out)
			strata_msg_unref(out);
		if (x)
			strata_msg_unref(x);
	}
	return msg;
}

static struct bcc_env bep_cc_env(const struct bep_env *env)
{
	return (struct bcc_env){ .m = env->m, .instance = env->instance, .n = env->n, .f = env->f,
				 .self = env->self, .check_sigs = env->check_sigs,
				 .pred = bep_sound, .arg = (void *)env };
}

/* ---- handlers ---- */

void bep_init(struct bep *e, uint64_t ets, uint32_t leader, struct bep_state *st)
{
	memset(e, 0, sizeof(*e));
	e->ets = ets;
	e->leader = leader;
	e->st = *st;
	memset(st, 0, sizeof(*st));
	bcc_init(&e->cc, ets, leader);
}

static void bep_clear_votes(struct bep *e)
{
	for (uint32_t p = 0; p <= BCC_MAX_N; p++) {
		if (e->written[p])
			strata_msg_unref(e->written[p]);
		if (e->accepted[p])
			strata_msg_unref(e->accepted[p]);
		e->written[p] = e->accepted[p] = NULL;
	}
}

void bep_free(struct bep *e)
{
	bep_clear_votes(e);
	bep_state_free(&e->st);
	bcc_free(&e->cc);
	if (e->my_write)
		strata_msg_unref(e->my_write);
	if (e->my_accept)
		strata_msg_unref(e->my_accept);
	if (e->wval)
		strata_msg_unref(e->wval);
	if (e->prop)
		strata_msg_unref(e->prop);
	if (e->my_propose)
		strata_msg_unref(e->my_propose);
	e->my_write = e->my_accept = e->wval = e->prop = e->my_propose = NULL;
}

/* Both proposals' first step: if val = ⊥ then val := v. False once the epoch halted. */
static bool bep_take(struct bep *e, const struct strata_msg *v)
{
	if (e->halted)
		return false;
	if (!e->st.val) {
		e->st.val = strata_msg_ref((struct strata_msg *)v);
		e->vdig_of = NULL;
	}
	return true;
}

/* upon event <ep, Propose | v> do if val = ⊥ then val := v; send [READ] to all */
void bep_propose(const struct bep_env *env, struct bep *e, const struct strata_msg *v)
{
	if (!bep_take(e, v))
		return;
	struct strata_msg *msg = bep_enc(BEP_READ, e->ets, NULL, 0, false);
	if (msg && !bep_silent(env))
		strata_pl_send_all(env->m, env->instance, msg);
	if (msg)
		strata_msg_unref(msg);
}

/* The STATE this process inputs: its own, or a Byzantine behaviour's lie. */
static struct strata_msg *bep_my_state(const struct bep_env *env, const struct bep *e)
{
	enum strata_byz byz = strata_node_byz(env->m->node);
	if (byz == STRATA_BYZ_REPLAY) {
		struct bep_state init = { 0 };
		return bep_state_enc(&init); /* "I never wrote anything" */
	}
	if (byz == STRATA_BYZ_LIE_STATE) {
		/* "I accepted a value of my making in the previous epoch" (signed: a lie in its own
		 * name, which only f + 1 writesets could certify). */
		char fresh[32];
		int flen = snprintf(fresh, sizeof fresh, "zl:%llu", (unsigned long long)e->ets);
		struct strata_msg *v = strata_msg_new(fresh, (size_t)flen);
		if (!v)
			return NULL;
		uint64_t ts = bep_ts(e) - 1;
		struct bep_state lie = { .valts = ts, .val = v, .nws = 1 };
		lie.ws[0].ts = ts;
		lie.ws[0].v = v;
		struct strata_msg *m = bep_state_enc(&lie);
		strata_msg_unref(v);
		return m;
	}
	return bep_state_enc(&e->st);
}

/* upon event <al, Deliver | p, [READ]> such that p = l do
 *     trigger <cc, Input | [STATE, valts, val, writeset]>; */
static void bep_on_read(const struct bep_env *env, struct bep *e)
{
	struct bcc_env cenv = bep_cc_env(env);
	if (e->read) {
		bcc_resend(&cenv, &e->cc); /* the leader repeats READ: it may lack our SEND */
		return;
	}
	e->read = true;
	struct strata_msg *st = bep_my_state(env, e);
	if (st) {
		bcc_input(&cenv, &e->cc, st->data, st->len);
		strata_msg_unref(st);
	}
}

/* tmpval := v: writeset := writeset \ {(ts, v)} ∪ {(ets, v)}; send [WRITE, v] to all. Once per
 * epoch, whichever way v was chosen (this epoch's COLLECTED, or the leader's PROPOSE when the
 * epoch's collect showed the instance unbound). */
static void bep_write_value(const struct bep_env *env, struct bep *e, const uint8_t *tmp,
			    size_t len)
{
	if (e->wrote)
		return;
	if (env->tab && !cons_tab_valid(env->tab, env->instance, tmp, len)) {
		/* External validity (strong Byzantine consensus, sbc.c): a leader's value that fails
		 * the upper's predicate is not written. A bound value always passes: it was written
		 * by more than f processes, so by a correct one, which checked it. */
		strata_trace(env->m->node, env->m->ops->name,
			     "instance %llu epoch %llu: the value fails the upper's validity predicate "
			     "-> no WRITE",
			     (unsigned long long)env->instance, (unsigned long long)e->ets);
		return;
	}
	if (!ws_put(&e->st, bep_ts(e), tmp, len)) {
		strata_trace(env->m->node, env->m->ops->name,
			     "instance %llu epoch %llu: writeset full (%u values) -> no WRITE",
			     (unsigned long long)env->instance, (unsigned long long)e->ets,
			     BEP_WS_MAX);
		return;
	}
	e->wrote = true;
	if (e->wval)
		strata_msg_unref(e->wval);
	e->wval = strata_msg_new(tmp, len);
	strata_hash(e->wdig, tmp, len);
	e->my_write = bep_send_value(env, e, BEP_WRITE, tmp, len, e->wdig);
	if (strata_node_byz(env->m->node) == STRATA_BYZ_EQUIVOCATE && !e->accepted_sent) {
		/* TEST ONLY behaviour: accepts at once, without a quorum */
		e->accepted_sent = true;
		e->my_accept = bep_send_value(env, e, BEP_ACCEPT, tmp, len, NULL);
	}
}

/* upon event <cc, Collected | states> */
static void bep_on_collected(const struct bep_env *env, struct bep *e, const struct bcc_vec *v)
{
	struct bcc_env cenv = bep_cc_env(env);
	struct bep_view *s = calloc(BCC_MAX_N + 1, sizeof(*s));
	uint32_t count;
	if (!s || !bep_views(&cenv, v, s, &count)) {
		free(s);
		return;
	}
	e->collected = true;
	const uint8_t *tmp = NULL;
	size_t len = 0;
	tmp = bound_value(&cenv, v, s, &len); /* binds(ts, v, states) */
	if (!tmp && unbound(&cenv, v, s) && v->m[e->leader] && s[e->leader].has) {
		tmp = s[e->leader].val; /* unbound(states) ∧ states[l] = [STATE, ·, v, ·] */
		len = s[e->leader].vlen;
	}
	if (strata_tracing(env->m->node))
		strata_trace(env->m->node, env->m->ops->name,
			     "instance %llu epoch %llu: Collected %u STATEs -> %s \"%.*s\"",
			     (unsigned long long)env->instance, (unsigned long long)e->ets, count,
			     !tmp ? "no value" : tmp == s[e->leader].val ? "unbound, the leader's" : "bound",
			     tmp ? (int)(len > 24 ? 24 : len) : 0, tmp ? (const char *)tmp : "");
	if (tmp && !e->wrote)
		bep_write_value(env, e, tmp, len);
	free(s);
}

/* The value a quorum of vals[] agrees on, or NULL. */
static struct strata_msg *quorum_value(const struct bep_env *env, struct strata_msg **vals)
{
	for (uint32_t p = 1; p <= env->n; p++) {
		if (!vals[p])
			continue;
		uint32_t k = 0;
		for (uint32_t q = 1; q <= env->n; q++)
			if (vals[q] && same(vals[q]->data, vals[q]->len, vals[p]->data, vals[p]->len))
				k++;
		if (k >= env->quorum)
			return vals[p];
	}
	return NULL;
}

static void put_vote(struct strata_msg **slot, const uint8_t *v, size_t len)
{
	struct strata_msg *m = strata_msg_new(v, len);
	if (!m)
		return;
	if (*slot)
		strata_msg_unref(*slot);
	*slot = m;
}

/* upon event <al, Deliver | p, [WRITE, v]> do written[p] := v;
 * upon exists v such that #({p | written[p] = v}) > (N + f) / 2 do
 *     (valts, val) := (ets, v); written := [⊥]^N; send [ACCEPT, val] to all */
/* The value with digest d that this process holds for the epoch (the value it wrote, or its
 * val), or NULL. */
static struct strata_msg *bep_value_of(const struct bep *e, const uint8_t *d, size_t dlen)
{
	if (dlen != STRATA_HASH_LEN)
		return NULL;
	if (e->no_digest) /* TEST ONLY: the broken variant acts on its own value, whatever D */
		return e->wval ? e->wval : e->st.val;
	if (e->wval && memcmp(e->wdig, d, STRATA_HASH_LEN) == 0)
		return e->wval;
	if (!e->st.val)
		return NULL;
	if (e->vdig_of != e->st.val) { /* a cache: val changes rarely, its digest is asked often */
		struct bep *w = (struct bep *)e;
		strata_hash(w->vdig, e->st.val->data, e->st.val->len);
		w->vdig_of = e->st.val;
	}
	return memcmp(e->vdig, d, STRATA_HASH_LEN) == 0 ? e->st.val : NULL;
}

const struct strata_msg *bep_held_value(const struct bep *e, const uint8_t *d, size_t len)
{
	const struct strata_msg *v = bep_value_of(e, d, len);
	uint8_t h[STRATA_HASH_LEN];
	/* and every value it wrote in an epoch of the instance (its writeset: carried from epoch
	 * to epoch, where the value written lives on after its epoch) */
	for (unsigned k = 0; !v && len == STRATA_HASH_LEN && k < e->st.nws; k++) {
		strata_hash(h, e->st.ws[k].v->data, e->st.ws[k].v->len);
		if (memcmp(h, d, STRATA_HASH_LEN) == 0)
			v = e->st.ws[k].v;
	}
	return v;
}

static void bep_write_quorum(const struct bep_env *env, struct bep *e)
{
	e->no_digest = env->no_digest;
	if (e->accepted_sent)
		return;
	struct strata_msg *d = quorum_value(env, e->written);
	if (!d)
		return;
	struct strata_msg *q = bep_value_of(e, d->data, d->len);
	if (!q) {
		/* A quorum wrote a value this process did not compute (its COLLECTED is late, or
		 * the leader equivocated): no ACCEPT until it holds the value, as a slow process. */
		e->wq_pending = true;
		return;
	}
	e->wq_pending = false;
	e->accepted_sent = true;
	strata_trace(env->m->node, env->m->ops->name,
		     "instance %llu epoch %llu: %u WRITEs agree -> ACCEPT",
		     (unsigned long long)env->instance, (unsigned long long)e->ets, env->quorum);
	e->st.valts = bep_ts(e);
	q = strata_msg_ref(q); /* q may be val itself */
	if (e->st.val)
		strata_msg_unref(e->st.val);
	e->st.val = q;
	memcpy(e->vdig, d->data, STRATA_HASH_LEN);
	e->vdig_of = q;
	e->my_accept = bep_send_value(env, e, BEP_ACCEPT, q->data, q->len, d->data);
}

static void bep_on_write(const struct bep_env *env, struct bep *e, uint32_t p, const uint8_t *v,
			 size_t len)
{
	if (e->accepted_sent)
		return;
	put_vote(&e->written[p], v, len);
	bep_write_quorum(env, e);
}

static const struct strata_msg *bep_accept_quorum(const struct bep_env *env, struct bep *e)
{
	e->no_digest = env->no_digest;
	if (e->decided)
		return NULL;
	struct strata_msg *d = quorum_value(env, e->accepted);
	if (!d)
		return NULL;
	struct strata_msg *q = bep_value_of(e, d->data, d->len);
	if (!q) {
		e->aq_pending = true; /* decided once the value is here (the header: "Digests") */
		return NULL;
	}
	e->aq_pending = false;
	e->decided = true;
	return q;
}

/* upon event <al, Deliver | p, [ACCEPT, v]> do accepted[p] := v;
 * upon exists v such that #({p | accepted[p] = v}) > (N + f) / 2 do
 *     accepted := [⊥]^N; trigger <ep, Decide | v>; */
static const struct strata_msg *bep_on_accept(const struct bep_env *env, struct bep *e,
					      uint32_t p, const uint8_t *v, size_t len)
{
	if (e->decided)
		return NULL;
	put_vote(&e->accepted[p], v, len);
	return bep_accept_quorum(env, e);
}

/* A Byzantine leader's COLLECTED (test behaviours): equivocating, forged or with a bad
 * signature; v is what it honestly collected. */
static void bep_byz_collected(const struct bep_env *env, struct bep *e, const struct bcc_vec *v)
{
	struct bcc_env cenv = bep_cc_env(env);
	enum strata_byz byz = strata_node_byz(env->m->node);
	struct bcc_vec x = *v;
	uint8_t sig[STRATA_SIG_LEN], sig2[STRATA_SIG_LEN];
	uint8_t zero[STRATA_SIG_LEN] = { 0 };
	struct strata_msg *own = NULL, *init = NULL, *primed = NULL;
	const struct strata_msg *base = e->st.val ? e->st.val : env->own;
	if (byz == STRATA_BYZ_EQUIVOCATE && base) {
		/* Odd processes get the honest vector, even ones one where the leader's own STATE
		 * says v' (it signs both). */
		for (uint32_t q = 1; q <= env->n; q += 2)
			bcc_send_collected(&cenv, &e->cc, q, v);
		struct bep_state alt = { .valts = 0 };
		primed = bep_variant(base->data, base->len, true);
		alt.val = primed;
		own = primed ? bep_state_enc(&alt) : NULL;
		if (own) {
			bcc_sign(&cenv, e->ets, own->data, own->len, sig);
			x.m[env->self] = own->data;
			x.len[env->self] = own->len;
			x.sig[env->self] = sig;
			for (uint32_t q = 2; q <= env->n; q += 2)
				bcc_send_collected(&cenv, &e->cc, q, &x);
		}
	} else if (byz == STRATA_BYZ_FORGE) {
		/* Everyone else "never wrote anything", with signatures it cannot make, and its own
		 * STATE holds a fresh value of its making ("zf:<epoch>"). */
		char fresh[32];
		int flen = snprintf(fresh, sizeof fresh, "zf:%llu", (unsigned long long)e->ets);
		primed = strata_msg_new(fresh, (size_t)flen);
		struct bep_state st0 = { 0 };
		struct bep_state mine = { .valts = 0, .val = primed };
		init = bep_state_enc(&st0);
		own = primed ? bep_state_enc(&mine) : NULL;
		if (init && own) {
			bcc_sign(&cenv, e->ets, own->data, own->len, sig2);
			for (uint32_t q = 1; q <= env->n; q++) {
				x.m[q] = q == env->self ? own->data : init->data;
				x.len[q] = q == env->self ? own->len : init->len;
				x.sig[q] = q == env->self ? sig2 : zero;
			}
			bcc_send_collected(&cenv, &e->cc, 0, &x);
		}
	} else if (byz == STRATA_BYZ_BADSIG) {
		bcc_vec_corrupt_one(&cenv, &x, sig);
		bcc_send_collected(&cenv, &e->cc, 0, &x);
	} else {
		bcc_send_collected(&cenv, &e->cc, 0, v);
	}
	if (own)
		strata_msg_unref(own);
	if (init)
		strata_msg_unref(init);
	if (primed)
		strata_msg_unref(primed);
}

/* The leader, when the epoch's collect showed the instance unbound (env->fast, bldc.c):
 *     if val = ⊥ then val := v; send [PROPOSE, val] to all
 * instead of READ: the collect it would run shows nothing written before this epoch, so
 * unbound(states) holds and the value written is the leader's (bep.c's header, "One
 * conditional collect per epoch"). */
void bep_propose_direct(const struct bep_env *env, struct bep *e, const struct strata_msg *v)
{
	if (!bep_take(e, v))
		return;
	e->fast = true;
	struct strata_msg *x = e->st.val;
	struct strata_msg *fresh = NULL;
	if (strata_node_byz(env->m->node) == STRATA_BYZ_FORGE) {
		/* TEST ONLY behaviour: a fresh value of its making ("zf:<epoch>"), on every
		 * instance it leads, below the epoch's bound too (bldc.c) */
		char b[32];
		int blen = snprintf(b, sizeof b, "zf:%llu", (unsigned long long)e->ets);
		if ((fresh = strata_msg_new(b, (size_t)blen)))
			x = fresh;
	}
	if (e->my_propose)
		strata_msg_unref(e->my_propose);
	e->my_propose = bep_send_value(env, e, BEP_PROPOSE, x->data, x->len, NULL);
	if (fresh)
		strata_msg_unref(fresh);
}

/* A PROPOSE from the leader that the epoch's collect allows: tmpval := v, written. */
static const struct strata_msg *bep_fast_try(const struct bep_env *env, struct bep *e,
					     bool *refused)
{
	*refused = false;
	if (!e->prop || e->wrote || env->fast == BEP_FAST_WAIT)
		return NULL;
	struct strata_msg *v = e->prop;
	e->prop = NULL;
	if (env->fast == BEP_FAST_NO) {
		/* Below the epoch's bound: a correct leader runs READ and the instance's own collect
		 * there (it holds the same vector as this process, CC1). */
		*refused = true;
		strata_msg_unref(v);
		return NULL;
	}
	strata_trace(env->m->node, env->m->ops->name,
		     "instance %llu epoch %llu: PROPOSE, unbound by the epoch's collect -> WRITE",
		     (unsigned long long)env->instance, (unsigned long long)e->ets);
	bep_write_value(env, e, v->data, v->len);
	strata_msg_unref(v);
	if (e->wq_pending)
		bep_write_quorum(env, e);
	return e->aq_pending ? bep_accept_quorum(env, e) : NULL;
}

const struct strata_msg *bep_epoch_ready(const struct bep_env *env, struct bep *e, bool *refused)
{
	*refused = false;
	if (e->halted)
		return NULL;
	return bep_fast_try(env, e, refused);
}

const struct strata_msg *bep_recv(const struct bep_env *env, struct bep *e, uint32_t from,
				  uint8_t type, struct strata_rd *r, const char **bad)
{
	*bad = NULL;
	if (e->halted)
		return NULL;
	if (type == BCC_SEND || type == BCC_COLLECTED) {
		struct bcc_env cenv = bep_cc_env(env);
		struct bcc_vec v;
		int rc = bcc_recv(&cenv, &e->cc, from, type, r, &v);
		if (rc == -1)
			*bad = type == BCC_SEND ? "malformed SEND" : "malformed or unsound COLLECTED";
		else if (rc == -2)
			*bad = "a signature in conditional collect did not verify";
		else if (rc == 3)
			bep_byz_collected(env, e, &v);
		else if (rc == 1)
			bep_on_collected(env, e, &v);
		/* Its own value computed now: quorums that waited for it go on. */
		if (e->wq_pending)
			bep_write_quorum(env, e);
		return e->aq_pending ? bep_accept_quorum(env, e) : NULL;
	}
	const uint8_t *v = NULL;
	size_t len = 0;
	if (type == BEP_WRITE || type == BEP_ACCEPT || type == BEP_PROPOSE)
		len = strata_rd_bytes(r, &v, SIZE_MAX);
	if (strata_rd_done(r) != 0 ||
	    ((type == BEP_WRITE || type == BEP_ACCEPT) && len != STRATA_HASH_LEN)) {
		*bad = "malformed epoch-consensus message";
		return NULL;
	}
	switch (type) {
	case BEP_READ:
		if (from == e->leader)
			bep_on_read(env, e);
		return NULL;
	case BEP_WRITE:
		bep_on_write(env, e, from, v, len);
		/* its own ACCEPT may be what an ACCEPT quorum waited for */
		return e->aq_pending ? bep_accept_quorum(env, e) : NULL;
	case BEP_ACCEPT:
		return bep_on_accept(env, e, from, v, len);
	case BEP_PROPOSE: {
		/* upon event <al, Deliver | l, [PROPOSE, v]>: the first one counts */
		if (from != e->leader || e->wrote || e->prop)
			return NULL;
		if (!(e->prop = strata_msg_new(v, len)))
			return NULL;
		bool refused;
		const struct strata_msg *d = bep_fast_try(env, e, &refused);
		if (refused)
			*bad = "PROPOSE below the epoch's bound";
		return d;
	}
	default:
		*bad = "unknown epoch-consensus message";
		return NULL;
	}
}

void bep_resend(const struct bep_env *env, const struct bep *e)
{
	if (e->halted || bep_silent(env))
		return;
	struct bcc_env cenv = bep_cc_env(env);
	if (env->self == e->leader && e->fast && e->my_propose)
		strata_pl_send_all(env->m, env->instance, e->my_propose);
	if (env->self == e->leader && e->st.val && !e->cc.sent && !e->fast) {
		struct strata_msg *msg = bep_enc(BEP_READ, e->ets, NULL, 0, false);
		if (msg) {
			strata_pl_send_all(env->m, env->instance, msg);
			strata_msg_unref(msg);
		}
	}
	bcc_resend(&cenv, &e->cc);
	if (e->my_write)
		strata_pl_send_all(env->m, env->instance, e->my_write);
	if (e->my_accept)
		strata_pl_send_all(env->m, env->instance, e->my_accept);
}

void bep_abort(struct bep *e, struct bep_state *out)
{
	*out = e->st;
	memset(&e->st, 0, sizeof(e->st));
	e->halted = true;
}
