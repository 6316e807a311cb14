/* Conditional collect, book Alg. 5.16 "Signed Conditional Collect" (owned by bep.c, one
 * instance per consensus instance and epoch).
 *
 * Specification (Module 5.12, conditional collect, instance cc with leader l and output
 * predicate C):
 *   Request:    <cc, Input | m>
 *   Indication: <cc, Collected | M> - M is a vector of N entries, M[p] a message input by p
 *               or UNDEFINED.
 *   CC1 Consistency: if the leader is correct, then every correct process collects the same
 *       M, and M contains at least N - 2f messages different from UNDEFINED.
 *   CC2 Integrity: if some correct process collects M with M[p] != UNDEFINED for some process
 *       p and p is correct, then p has input message M[p].
 *   CC3 Termination: if all correct processes input compliant messages and the leader is
 *       correct, then every correct process eventually collects some M such that C(M) holds.
 * Model: fail-arbitrary, N > 3f, over authenticated perfect links (links/auth.c) and Ed25519
 * signatures (crypto/crypto.h, each node's identity key).
 *
 *   upon event <cc, Init> do messages := [UNDEFINED]^N; Σ := [⊥]^N; collected := FALSE;
 *   upon event <cc, Input | m> do
 *       σ := sign(self, cc‖self‖INPUT‖m);
 *       trigger <al, Send | l, [SEND, m, σ]>;
 *   upon event <al, Deliver | p, [SEND, m, σ]> such that self = l ∧ messages[p] = UNDEFINED ∧
 *           verifysig(p, cc‖p‖INPUT‖m, σ) do
 *       messages[p] := m; Σ[p] := σ;
 *   upon #(messages) >= N - f ∧ C(messages) do
 *       forall q do trigger <al, Send | q, [COLLECTED, messages, Σ]>;
 *       messages := [UNDEFINED]^N; Σ := [⊥]^N;
 *   upon event <al, Deliver | l, [COLLECTED, M, Σ]> such that collected = FALSE ∧
 *           #(M) >= N - f ∧ C(M) ∧ (forall p such that M[p] != UNDEFINED:
 *           verifysig(p, cc‖p‖INPUT‖M[p], Σ[p])) do
 *       collected := TRUE; trigger <cc, Collected | M>;
 *
 * What is signed and why: "strata/bcc" ‖ consensus instance ‖ epoch timestamp ‖ p ‖ m. The
 * leader relays the others' messages, so the links (which authenticate only the hop from the
 * leader) cannot vouch for them: the signature lets every receiver check that p input M[p]
 * (CC2) whoever relays it. Naming the instance and the epoch ("cc" of the book: one collect per
 * epoch) is what makes a STATE of another epoch or instance useless in this one: a stale or
 * replayed COLLECTED fails verification. Receivers evaluate C themselves on the received
 * vector, so a Byzantine leader cannot make them collect a vector C rejects.
 *
 * Faithful transcription; the leader sends COLLECTED once (the book's reset of messages makes
 * the second N - f collection impossible among N processes unless Byzantine ones send twice,
 * which authenticated links and "messages[p] = UNDEFINED" already refuse). Malformed messages
 * and bad signatures are dropped and counted by the owner. Memory: one reference and one
 * signature per process at the leader, the process's own SEND and (leader) COLLECTED for
 * repeats. Byzantine test behaviours here: silent (sends nothing), badsig (its SEND carries a
 * corrupted signature); the owner builds forged and equivocating vectors. */
#include "cons/bcollect.h"

#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "links/links.h"

#define BCC_DOMAIN "strata/bcc"

void bcc_init(struct bcc *c, uint64_t ets, uint32_t leader)
{
	memset(c, 0, sizeof(*c));
	c->ets = ets;
	c->leader = leader;
}

static void bcc_clear_msgs(struct bcc *c)
{
	for (uint32_t p = 0; p <= BCC_MAX_N; p++) {
		if (c->msgs[p])
			strata_msg_unref(c->msgs[p]);
		c->msgs[p] = NULL;
	}
}

void bcc_free(struct bcc *c)
{
	bcc_clear_msgs(c);
	if (c->my_send)
		strata_msg_unref(c->my_send);
	if (c->my_collected)
		strata_msg_unref(c->my_collected);
	c->my_send = c->my_collected = NULL;
}

/* cc‖p‖INPUT‖m, hashed-free: Ed25519 signs the whole string. */
static bool bcc_signed_text(const struct bcc_env *env, uint64_t ets, uint32_t p,
			    const uint8_t *m, size_t len, struct strata_wr *w)
{
	strata_wr_init(w, len + 64);
	strata_wr_raw(w, BCC_DOMAIN, sizeof(BCC_DOMAIN) - 1);
	strata_wr_u64(w, env->instance);
	strata_wr_u64(w, ets);
	strata_wr_u64(w, p);
	strata_wr_raw(w, m, len);
	return w->err == 0;
}

void bcc_sign(const struct bcc_env *env, uint64_t ets, const uint8_t *m, size_t len,
	      uint8_t *sig)
{
	struct strata_wr w;
	memset(sig, 0, STRATA_SIG_LEN);
	if (bcc_signed_text(env, ets, env->self, m, len, &w)) {
		strata_sign(sig, strata_node_secret_key(env->m->node), w.buf, w.len);
		strata_node_counters(env->m->node)->sig_signed++;
	}
	strata_wr_free(&w);
}

void bcc_vec_corrupt_one(const struct bcc_env *env, struct bcc_vec *v, uint8_t *sig)
{
	for (uint32_t q = 1; q <= env->n; q++)
		if (v->m[q] && q != env->self) {
			memcpy(sig, v->sig[q], STRATA_SIG_LEN);
			sig[STRATA_SIG_LEN - 1] ^= 0x33;
			v->sig[q] = sig;
			return;
		}
}

static bool bcc_verify(const struct bcc_env *env, uint64_t ets, uint32_t p, const uint8_t *m,
		       size_t len, const uint8_t *sig)
{
	if (!env->check_sigs)
		return true; /* TEST ONLY: the broken variant */
	const uint8_t *pk = strata_node_public_key(env->m->node, p);
	struct strata_wr w;
	if (pk)
		strata_node_counters(env->m->node)->sig_verified++;
	bool ok = pk && bcc_signed_text(env, ets, p, m, len, &w) &&
		  strata_verify(sig, pk, w.buf, w.len);
	if (pk)
		strata_wr_free(&w);
	return ok;
}

static void bcc_send(const struct bcc_env *env, uint32_t to, struct strata_msg *msg)
{
	if (!msg || strata_node_byz(env->m->node) == STRATA_BYZ_SILENT)
		return;
	if (to)
		(void)strata_pl_send(env->m, to, env->instance, msg);
	else
		strata_pl_send_all(env->m, env->instance, msg);
}

/* upon event <cc, Input | m> */
void bcc_input(const struct bcc_env *env, struct bcc *c, const uint8_t *m, size_t len)
{
	uint8_t sig[STRATA_SIG_LEN];
	bcc_sign(env, c->ets, m, len, sig);
	if (strata_node_byz(env->m->node) == STRATA_BYZ_BADSIG)
		sig[0] ^= 0x5a; /* TEST ONLY behaviour: an invalid signature */
	struct strata_wr w;
	strata_wr_init(&w, len + STRATA_SIG_LEN + CONS_HDR_MAX);
	strata_wr_u8(&w, BCC_SEND);
	strata_wr_u64(&w, c->ets);
	strata_wr_bytes(&w, m, len);
	strata_wr_raw(&w, sig, sizeof sig);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	if (c->my_send)
		strata_msg_unref(c->my_send);
	c->my_send = msg;
	bcc_send(env, c->leader, msg);
}

uint32_t bcc_count(const struct bcc_env *env, const struct bcc_vec *v)
{
	uint32_t k = 0;
	for (uint32_t p = 1; p <= env->n; p++)
		if (v->m[p])
			k++;
	return k;
}

void bcc_send_collected(const struct bcc_env *env, struct bcc *c, uint32_t to,
			const struct bcc_vec *v)
{
	size_t max = CONS_HDR_MAX;
	for (uint32_t p = 1; p <= env->n; p++)
		max += 1 + (v->m[p] ? v->len[p] + 10 + STRATA_SIG_LEN : 0);
	struct strata_wr w;
	strata_wr_init(&w, max);
	strata_wr_u8(&w, BCC_COLLECTED);
	strata_wr_u64(&w, c->ets);
	strata_wr_u64(&w, env->n);
	for (uint32_t p = 1; p <= env->n; p++) {
		strata_wr_u8(&w, v->m[p] ? 1 : 0);
		if (v->m[p]) {
			strata_wr_bytes(&w, v->m[p], v->len[p]);
			strata_wr_raw(&w, v->sig[p], STRATA_SIG_LEN);
		}
	}
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	if (to == 0) {
		if (c->my_collected)
			strata_msg_unref(c->my_collected);
		c->my_collected = strata_msg_ref(msg);
	}
	bcc_send(env, to, msg);
	strata_msg_unref(msg);
}

static void bcc_leader_vec(const struct bcc_env *env, const struct bcc *c, struct bcc_vec *v)
{
	memset(v, 0, sizeof(*v));
	for (uint32_t p = 1; p <= env->n; p++)
		if (c->msgs[p]) {
			v->m[p] = c->msgs[p]->data;
			v->len[p] = c->msgs[p]->len;
			v->sig[p] = c->sigs[p];
		}
}

/* upon event <al, Deliver | p, [SEND, m, σ]> such that self = l ∧ messages[p] = UNDEFINED ∧
 *     verifysig(p, cc‖p‖INPUT‖m, σ)
 * upon #(messages) >= N - f ∧ C(messages) */
static int bcc_on_send(const struct bcc_env *env, struct bcc *c, uint32_t p, const uint8_t *m,
		       size_t len, const uint8_t *sig)
{
	if (env->self != c->leader || c->sent || c->msgs[p])
		return 0;
	/* Its own SEND (the links deliver it from itself only) is its input: nothing to verify. */
	if (p != env->self && !bcc_verify(env, c->ets, p, m, len, sig))
		return -2;
	c->msgs[p] = strata_msg_new(m, len);
	if (!c->msgs[p])
		return 0;
	memcpy(c->sigs[p], sig, STRATA_SIG_LEN);
	struct bcc_vec v;
	bcc_leader_vec(env, c, &v);
	if (bcc_count(env, &v) < env->n - env->f || !env->pred(env, &v))
		return 0;
	c->sent = true;
	if (strata_node_byz(env->m->node) != STRATA_BYZ_NONE)
		return 3; /* the owner's Byzantine behaviour sends its own vectors */
	bcc_send_collected(env, c, 0, &v);
	bcc_clear_msgs(c); /* messages := [UNDEFINED]^N; Σ := [⊥]^N */
	return 0;
}

/* Whether (m, sig) as p's entry is exactly this process's own SEND (its input and signature). */
static bool bcc_is_own(const struct bcc_env *env, const struct bcc *c, uint32_t p,
		       const uint8_t *m, size_t len, const uint8_t *sig)
{
	if (p != env->self || !c->my_send)
		return false;
	struct strata_rd r;
	strata_rd_init(&r, c->my_send->data, c->my_send->len);
	(void)strata_rd_u8(&r);
	(void)strata_rd_u64(&r);
	const uint8_t *mine;
	size_t mlen = strata_rd_bytes(&r, &mine, SIZE_MAX);
	return strata_rd_ok(&r) && r.len - r.off == STRATA_SIG_LEN && mlen == len &&
	       (len == 0 || memcmp(mine, m, len) == 0) &&
	       memcmp(r.p + r.off, sig, STRATA_SIG_LEN) == 0;
}

/* upon event <al, Deliver | l, [COLLECTED, M, Σ]> such that collected = FALSE ∧
 *     #(M) >= N - f ∧ C(M) ∧ every defined M[p] verifies */
static int bcc_on_collected(const struct bcc_env *env, struct bcc *c, uint32_t from,
			    struct strata_rd *r, struct bcc_vec *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t count = strata_rd_u64(r);
	if (!strata_rd_ok(r) || count != env->n)
		return -1;
	for (uint32_t p = 1; p <= env->n; p++) {
		uint8_t has = strata_rd_u8(r);
		if (has > 1)
			return -1;
		if (!has)
			continue;
		out->len[p] = strata_rd_bytes(r, &out->m[p], SIZE_MAX);
		if (!strata_rd_ok(r) || r->len - r->off < STRATA_SIG_LEN)
			return -1;
		out->sig[p] = r->p + r->off;
		r->off += STRATA_SIG_LEN;
	}
	if (strata_rd_done(r) != 0)
		return -1;
	if (from != c->leader || c->collected)
		return 0;
	if (bcc_count(env, out) < env->n - env->f || !env->pred(env, out))
		return -1;
	/* The leader's own COLLECTED (from itself: the links deliver nothing else as its) holds
	 * SENDs it verified on arrival; elsewhere this process's own entry, byte for byte its
	 * input and signature, is its input. Every other entry is verified. */
	for (uint32_t p = 1; p <= env->n && from != env->self; p++)
		if (out->m[p] && !bcc_is_own(env, c, p, out->m[p], out->len[p], out->sig[p]) &&
		    !bcc_verify(env, c->ets, p, out->m[p], out->len[p], out->sig[p]))
			return -2;
	c->collected = true;
	return 1;
}

int bcc_recv(const struct bcc_env *env, struct bcc *c, uint32_t from, uint8_t type,
	     struct strata_rd *r, struct bcc_vec *out)
{
	if (type == BCC_SEND) {
		const uint8_t *m;
		size_t len = strata_rd_bytes(r, &m, SIZE_MAX);
		if (!strata_rd_ok(r) || r->len - r->off != STRATA_SIG_LEN)
			return -1;
		int rc = bcc_on_send(env, c, from, m, len, r->p + r->off);
		r->off += STRATA_SIG_LEN;
		if (rc == 3) {
			bcc_leader_vec(env, c, out);
			return 3;
		}
		return rc;
	}
	if (type == BCC_COLLECTED)
		return bcc_on_collected(env, c, from, r, out);
	return -1;
}

void bcc_resend(const struct bcc_env *env, const struct bcc *c)
{
	if (c->my_send)
		bcc_send(env, c->leader, c->my_send);
	if (c->my_collected && env->self == c->leader)
		bcc_send(env, 0, c->my_collected);
}
