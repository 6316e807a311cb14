/* Epoch consensus, book Alg. 5.6 "Read/Write Epoch Consensus" (owned by ldc.c).
 *
 * Specification (Module 5.4, epoch consensus, instance ep with timestamp ets and leader l):
 *   Requests:    <ep, Propose | v> (only at l), <ep, Abort>
 *   Indications: <ep, Decide | v>, <ep, Aborted | state>
 *   EP1 Validity: if a correct process ep-decides v, then v was ep-proposed by the leader l' of
 *       some epoch consensus with timestamp ts' <= ets and leader l'.
 *   EP2 Uniform agreement: no two processes ep-decide differently.
 *   EP3 Integrity: every correct process ep-decides at most once.
 *   EP4 Lock-in: if a correct process has ep-decided v in an epoch consensus with timestamp
 *       ts' < ets, then no correct process ep-decides a value different from v.
 *   EP5 Termination: if the leader l is correct, has ep-proposed a value, and no correct
 *       process aborts this epoch consensus, then every correct process eventually ep-decides.
 *   EP6 Abort behavior: when a correct process aborts an epoch consensus, it eventually will
 *       have completed the abort; moreover, a correct process completes an abort only if the
 *       epoch consensus has been aborted by some correct process.
 * Model: fail-noisy, over perfect links and best-effort broadcast. Resilience: N > 2f (the
 * quorums of STATE and ACCEPT are majorities).
 * Cost: 5 steps from Propose to Decide (READ, STATE, WRITE, ACCEPT, DECIDED), 4N messages.
 *
 * Logged variant (Alg. 5.9, fail-recovery, used by lldc): the state (valts, val) is stored when a
 * WRITE is accepted, before the ACCEPT leaves (the node syncs before it sends), and the owner
 * initialises a recovered instance with the retrieved state (ep_init).
 *
 * Faithful transcription. Values are indexes into the consensus instance's value table, states
 * are arrays of N + 1 entries; the two `upon #... > N/2` conditions fire once (wrote,
 * decided_sent) as the book's resetting of states and accepted makes them. Every message carries
 * ets; the owner hands over only the current epoch's messages. One addition: ep_resend, with
 * which the owner makes a leader repeat its current phase's message every period while the
 * instance is undecided (a process that started the epoch after the leader's message arrived
 * had to drop it; found by the simulator). Every handler is idempotent, so repeats are safe. */
#include "cons/ep.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "links/links.h"

static struct strata_msg *ep_enc(uint8_t type, uint64_t ets, const struct strata_msg *v,
				 bool with_ts, uint64_t valts)
{
	struct strata_wr w;
	strata_wr_init(&w, (v ? v->len : 0) + CONS_HDR_MAX);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, ets);
	if (with_ts) {
		strata_wr_u64(&w, valts);
		strata_wr_u8(&w, v ? 1 : 0);
	}
	if (v)
		strata_wr_bytes(&w, v->data, v->len);
	int err;
	return strata_wr_take_msg(&w, &err);
}

static void ep_send(const struct ep_env *env, uint32_t to, struct strata_msg *msg)
{
	if (!msg)
		return;
	if (to)
		strata_pl_send(env->m, to, env->ci->id, msg);
	else
		cons_beb_broadcast(env->beb, env->ci->id, msg);
	strata_msg_unref(msg);
}

static const struct strata_msg *val_of(const struct ep_env *env, int k)
{
	return k >= 0 ? env->ci->vals[k] : NULL;
}

/* upon event <ep, Init | state> do
 *     (valts, val) := state; tmpval := ⊥; states := [⊥]^N; accepted := 0; */
void ep_init(struct ep *e, uint64_t ets, uint32_t leader, uint64_t valts, int val)
{
	memset(e, 0, sizeof(*e));
	e->ets = ets;
	e->leader = leader;
	e->valts = valts;
	e->val = val;
	e->tmpval = -1;
}

/* upon event <ep, Propose | v> do
 *     tmpval := v;
 *     trigger <beb, Broadcast | [READ]>; */
void ep_propose(const struct ep_env *env, struct ep *e, int v)
{
	if (e->halted)
		return;
	e->tmpval = v;
	ep_send(env, 0, ep_enc(EP_READ, e->ets, NULL, false, 0));
}

/* upon event <beb, Deliver | l, [READ]> do
 *     trigger <pl, Send | l, [STATE, valts, val]>; */
static void ep_on_read(const struct ep_env *env, struct ep *e, uint32_t from)
{
	ep_send(env, from, ep_enc(EP_STATE, e->ets, val_of(env, e->val), true, e->valts));
}

/* upon event <pl, Deliver | q, [STATE, ts, v]> do states[q] := (ts, v);
 * upon #(states) > N/2 do
 *     (ts, v) := highest(states);
 *     if v ≠ ⊥ then tmpval := v;
 *     states := [⊥]^N;
 *     trigger <beb, Broadcast | [WRITE, tmpval]>; */
static void ep_on_state(const struct ep_env *env, struct ep *e, uint32_t q, uint64_t ts, int v)
{
	if (e->wrote || e->tmpval < 0)
		return;
	e->states |= cons_bit(q);
	e->st_ts[q] = ts;
	e->st_val[q] = v;
	if ((uint32_t)__builtin_popcountll(e->states) < env->quorum)
		return;
	uint64_t best = 0;
	int bv = -1;
	for (uint32_t p = 1; p <= env->n; p++)
		if ((e->states & cons_bit(p)) && e->st_val[p] >= 0 && (bv < 0 || e->st_ts[p] > best)) {
			best = e->st_ts[p];
			bv = e->st_val[p];
		}
	if (bv >= 0)
		e->tmpval = bv;
	e->states = 0;
	e->wrote = true;
	ep_send(env, 0, ep_enc(EP_WRITE, e->ets, val_of(env, e->tmpval), false, 0));
}

/* upon event <beb, Deliver | l, [WRITE, v]> do
 *     (valts, val) := (ets, v);
 *     trigger <pl, Send | l, [ACCEPT]>; */
static void ep_on_write(const struct ep_env *env, struct ep *e, uint32_t from, int v)
{
	e->valts = e->ets;
	e->val = v;
	if (env->store_state)
		env->store_state(env, e->valts, e->val); /* store(valts, val): logged, Alg. 5.9 */
	ep_send(env, from, ep_enc(EP_ACCEPT, e->ets, NULL, false, 0));
}

/* upon event <pl, Deliver | q, [ACCEPT]> do accepted := accepted + 1;
 * upon accepted > N/2 do
 *     accepted := 0;
 *     trigger <beb, Broadcast | [DECIDED, tmpval]>; */
static void ep_on_accept(const struct ep_env *env, struct ep *e, uint32_t q)
{
	if (!e->wrote || e->decided_sent)
		return;
	e->accepted |= cons_bit(q);
	if ((uint32_t)__builtin_popcountll(e->accepted) < env->quorum)
		return;
	e->accepted = 0;
	e->decided_sent = true;
	ep_send(env, 0, ep_enc(EP_DECIDED, e->ets, val_of(env, e->tmpval), false, 0));
}

int ep_recv(const struct ep_env *env, struct ep *e, uint32_t from, uint8_t type,
	    struct strata_rd *r)
{
	if (e->halted)
		return -1;
	int v = -1;
	uint64_t ts = 0;
	if (type == EP_STATE) {
		ts = strata_rd_u64(r);
		uint8_t has = strata_rd_u8(r);
		if (has > 1)
			return -2;
		if (has) {
			const uint8_t *p;
			size_t len = strata_rd_bytes(r, &p, SIZE_MAX);
			if (strata_rd_ok(r) && (v = cons_val_index(env->ci, p, len)) < 0)
				return -2;
		}
	} else if (type == EP_WRITE || type == EP_DECIDED) {
		const uint8_t *p;
		size_t len = strata_rd_bytes(r, &p, SIZE_MAX);
		if (strata_rd_ok(r) && (v = cons_val_index(env->ci, p, len)) < 0)
			return -2;
	}
	if (strata_rd_done(r) != 0)
		return -2;
	bool from_leader = from == e->leader;
	bool to_leader = env->self == e->leader;
	switch (type) {
	case EP_READ:
		if (from_leader)
			ep_on_read(env, e, from);
		return -1;
	case EP_STATE:
		if (to_leader)
			ep_on_state(env, e, from, ts, v);
		return -1;
	case EP_WRITE:
		if (from_leader)
			ep_on_write(env, e, from, v);
		return -1;
	case EP_ACCEPT:
		if (to_leader)
			ep_on_accept(env, e, from);
		return -1;
	case EP_DECIDED:
		/* upon event <beb, Deliver | l, [DECIDED, v]> do trigger <ep, Decide | v>; */
		return from_leader ? v : -1;
	default:
		return -2;
	}
}

void ep_resend(const struct ep_env *env, struct ep *e)
{
	if (e->halted || env->self != e->leader || e->tmpval < 0)
		return;
	uint8_t type = e->decided_sent ? EP_DECIDED : e->wrote ? EP_WRITE : EP_READ;
	ep_send(env, 0, ep_enc(type, e->ets, type == EP_READ ? NULL : val_of(env, e->tmpval),
			       false, 0));
}

void ep_abort(struct ep *e, uint64_t *valts, int *val)
{
	*valts = e->valts;
	*val = e->val;
	e->halted = true;
}
