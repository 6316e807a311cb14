/* Authenticated-Data Byzantine Quorum: a (1,N) Byzantine regular register (the book's
 * Alg. 4.15).
 *
 * Module 4.5 (1,N) Byzantine regular register, instance bonrr, per key, writer w = cfg->writer:
 *   Events: <bonrr, Read> / <bonrr, ReadReturn | v>; <bonrr, Write | v> (only at w) /
 *           <bonrr, WriteReturn>.
 *   BONRR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   BONRR2 Validity: a read that is not concurrent with a write returns the last value written;
 *          a read concurrent with a write returns the last value written or a value written
 *          concurrently.
 *
 * Model: fail-arbitrary: up to f Byzantine processes, authenticated perfect links, a correct
 * writer whose Ed25519 signature nobody else can produce. Resilience N > 3f. Quorum: more than
 * (N+f)/2 processes, q = floor((N+f)/2) + 1 (capped at N - f, binding only below the
 * resilience). Two quorums meet in more than f processes, so in at least one correct one: after
 * a write of (ts, v) completes, every read quorum contains a correct replica holding ts or newer,
 * and since a Byzantine replica cannot sign, the highest validly signed pair is the last write or
 * a concurrent one.
 *
 * Algorithm (faithful to the book): write: wts := wts + 1, sigma := sign(ts, v), WRITE(ts, v,
 * sigma) to all, wait for q ACKs. Replica: on WRITE from the writer whose signature verifies and
 * whose ts is higher, store (ts, v, sigma); ACK. Read: READ(rid) to all; on VALUE(rid, ts, v,
 * sigma) whose signature verifies (bottom needs none), record it; once q replicas answered
 * validly, return the value with the highest timestamp. The signed statement is
 * "strata/adbq/1" || key || ts || v, so a signature for one key or timestamp proves nothing for
 * another. Cost: write 2 steps / 2N messages, 1 signature and N verifications; read 2 steps / 2N
 * messages and up to q verifications (a reply equal to a pair already verified at this node is
 * compared, not verified again).
 *
 * Detected and counted (bad payloads): WRITEs from a non-writer, signatures that do not verify
 * (forged pairs, BADSIG, equivocated values), malformed bodies. Undetectable: a Byzantine replica
 * answering with an older validly signed pair (REPLAY) or bottom; the quorum intersection masks
 * it. Test-only behaviours as in reg/bmq.c, with BADSIG = the current pair with a corrupted
 * signature. The test-only knob skip_verify (tests/sim/sim_reg_byz.c) turns verification off to
 * show that it is what keeps forged values out.
 *
 * Memory: the family's bounded key table; per key one signed copy (plus the previous one at a
 * Byzantine test node), one verification cache entry, and while a read runs one reply slot per
 * replica. */
#include <string.h>

#include "core/error.h"
#include "core/stack.h"
#include "reg/byz.h"

enum { PH_WRITE = 1, PH_READ = 2 };

/* The statement the writer signs. */
static int statement(struct reg_mod *r, const struct reg_inst *i, uint64_t ts,
		     const struct strata_msg *v, struct strata_wr *w)
{
	strata_wr_init(w, (size_t)strata_node_config(r->m.node)->max_value + REG_WIRE_KEY_MAX + 64);
	strata_wr_raw(w, "strata/adbq/1", 13);
	strata_wr_bytes(w, i->key, i->klen);
	strata_wr_u64(w, ts);
	byz_wr_val(w, v);
	return w->err;
}

static void sign_pair(struct reg_mod *r, const struct reg_inst *i, uint64_t ts,
		      const struct strata_msg *v, uint8_t sig[STRATA_SIG_LEN])
{
	struct strata_wr w;
	memset(sig, 0, STRATA_SIG_LEN);
	if (statement(r, i, ts, v, &w) == 0)
		strata_sign(sig, strata_node_secret_key(r->m.node), w.buf, w.len);
	strata_wr_free(&w);
}

static bool verify_pair(struct reg_mod *r, struct byz_inst *b, uint64_t ts,
			const struct strata_msg *v, const uint8_t sig[STRATA_SIG_LEN])
{
	struct reg_inst *i = b->i;
	if (ts == 0)
		return true; /* bottom: the initial state, signed by nobody */
	if (byz_of(r)->test.skip_verify)
		return true; /* TEST ONLY */
	/* The copy this replica holds was verified when it was stored (or signed here). */
	if (ts == i->cur.ts && byz_msg_eq(v, i->cur.v) && memcmp(sig, b->sig, STRATA_SIG_LEN) == 0)
		return true;
	uint8_t h[STRATA_HASH_LEN];
	strata_hash(h, v ? v->data : NULL, v ? v->len : 0);
	if (b->vc_ok && b->vc_ts == ts && memcmp(b->vc_sig, sig, STRATA_SIG_LEN) == 0 &&
	    memcmp(b->vc_hash, h, STRATA_HASH_LEN) == 0)
		return true;
	struct strata_wr w;
	bool ok = statement(r, i, ts, v, &w) == 0 &&
		  strata_verify(sig, strata_node_public_key(r->m.node,
							    strata_node_config(r->m.node)->writer),
				w.buf, w.len);
	strata_wr_free(&w);
	if (ok) {
		b->vc_ok = true;
		b->vc_ts = ts;
		memcpy(b->vc_sig, sig, STRATA_SIG_LEN);
		memcpy(b->vc_hash, h, STRATA_HASH_LEN);
	}
	return ok;
}

static void send_value(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t to,
		       uint64_t rid)
{
	uint64_t ts = i->cur.ts;
	struct strata_msg *v = i->cur.v, *lie = NULL;
	const uint8_t *sig = b->sig;
	uint8_t bad[STRATA_SIG_LEN];
	bool replayed = false;
	if (byz_answer(r, b, to, &ts, &lie, &replayed)) {
		v = lie;
		if (replayed)
			sig = b->old_sig; /* a genuine, older signature: undetectable */
	}
	if (byz_behaviour(r) == STRATA_BYZ_BADSIG) {
		memcpy(bad, sig, STRATA_SIG_LEN);
		bad[to % STRATA_SIG_LEN] ^= 0x20;
		sig = bad;
	}
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_VALUE, rid, BYZ_SUB_PLAIN);
	strata_wr_u64(&w, ts);
	byz_wr_val(&w, ts ? v : NULL);
	strata_wr_raw(&w, sig, STRATA_SIG_LEN);
	byz_send(r, i, to, &w);
	if (lie)
		strata_msg_unref(lie);
}

static void adbq_start(struct reg_mod *r, struct reg_inst *i)
{
	struct byz_inst *b = byz_ext(r, i);
	if (!b) {
		reg_complete(r, i, STRATA_ENOMEM, NULL);
		return;
	}
	struct strata_wr w;
	if (i->op->kind == REG_WRITE) {
		i->wts++;
		reg_val_set(&i->best, i->wts, 0, i->op->val);
		sign_pair(r, i, i->wts, i->op->val, b->best_sig);
		if (byz_behaviour(r) == STRATA_BYZ_BADSIG)
			b->best_sig[0] ^= 1; /* a Byzantine writer: correct replicas refuse the write */
		reg_phase(i, PH_WRITE);
		byz_begin(&w, r, i, REG_MSG_WRITE, i->rid, BYZ_SUB_PLAIN);
		strata_wr_u64(&w, i->wts);
		byz_wr_val(&w, i->op->val);
		strata_wr_raw(&w, b->best_sig, STRATA_SIG_LEN);
		byz_send(r, i, 0, &w);
		return;
	}
	if (byz_read_begin(r, i, b) != 0) {
		reg_complete(r, i, STRATA_ENOMEM, NULL);
		return;
	}
	reg_val_clear(&i->best);
	reg_phase(i, PH_READ);
	byz_begin(&w, r, i, REG_MSG_READ, i->rid, BYZ_SUB_PLAIN);
	byz_send(r, i, 0, &w);
}

static void on_write(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t from,
		     uint64_t rid, uint64_t ts, struct strata_msg *v, const uint8_t *sig)
{
	if (!byz_from_writer(r, from, "WRITE from a process that is not the writer"))
		return;
	if (ts == 0 || !verify_pair(r, b, ts, v, sig)) {
		byz_reject(r, from, &byz_of(r)->rej_sig, "WRITE whose signature does not verify");
		return;
	}
	if (ts > i->cur.ts) {
		byz_keep_old(r, b, b->sig);
		reg_val_set(&i->cur, ts, 0, v);
		memcpy(b->sig, sig, STRATA_SIG_LEN);
	}
	if (byz_behaviour(r) != STRATA_BYZ_SILENT) {
		struct strata_wr w;
		byz_begin(&w, r, i, REG_MSG_ACK, rid, BYZ_SUB_PLAIN);
		strata_wr_u64(&w, ts);
		byz_send(r, i, from, &w);
	}
}

static void on_value(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t from,
		     uint64_t rid, uint64_t ts, struct strata_msg *v, const uint8_t *sig)
{
	struct byz_mod *bm = byz_of(r);
	if (rid != i->rid)
		return; /* an answer to an older phase */
	/* Answers to the last read that arrive after it returned are still verified, so a replica
	 * that lies is counted even when it is slow. */
	if (!verify_pair(r, b, ts, v, sig)) {
		/* Not counted toward the quorum: the book records only verified replies. */
		byz_reject(r, from, &bm->rej_sig, "VALUE whose signature does not verify");
		return;
	}
	if (!i->op || i->phase != PH_READ || b->ent[from - 1].got)
		return; /* late or duplicate */
	reg_replied(i, from);
	byz_entry_set(b, from, rid, ts, v, ts, v);
	if (ts > i->best.ts) {
		reg_val_set(&i->best, ts, 0, v);
		memcpy(b->best_sig, sig, STRATA_SIG_LEN);
	}
	if (i->nreplied < bm->q)
		return;
	strata_trace(r->m.node, r->name, "%u verified answers -> return ts=%llu", i->nreplied,
		     (unsigned long long)i->best.ts);
	byz_read_end(r, b);
	reg_complete(r, i, 0, &i->best);
}

static int adbq_deliver(struct reg_mod *r, struct reg_inst *i, uint32_t from, uint8_t type,
			uint64_t rid, struct strata_rd *rd)
{
	struct byz_inst *b = byz_ext(r, i);
	if (!b)
		return 0;
	uint8_t sub = strata_rd_u8(rd);
	uint64_t ts = 0;
	struct strata_msg *v = NULL;
	uint8_t sig[STRATA_SIG_LEN];
	if (type == REG_MSG_VALUE || type == REG_MSG_WRITE || type == REG_MSG_ACK)
		ts = strata_rd_u64(rd);
	if (type == REG_MSG_VALUE || type == REG_MSG_WRITE) {
		int rc = byz_rd_val(rd, ts, &v);
		if (rc)
			return rc == STRATA_ENOMEM ? 0 : rc;
		strata_rd_raw(rd, sig, STRATA_SIG_LEN);
	}
	if (strata_rd_done(rd) != 0 || sub != BYZ_SUB_PLAIN) {
		if (v)
			strata_msg_unref(v);
		return STRATA_EPROTO;
	}
	switch (type) {
	case REG_MSG_READ:
		if (byz_behaviour(r) != STRATA_BYZ_SILENT)
			send_value(r, i, b, from, rid);
		break;
	case REG_MSG_WRITE:
		on_write(r, i, b, from, rid, ts, v, sig);
		break;
	case REG_MSG_ACK:
		if (i->op && i->phase == PH_WRITE && rid == i->rid && ts == i->best.ts &&
		    reg_replied(i, from) && i->nreplied >= byz_of(r)->q)
			reg_complete(r, i, 0, NULL);
		break;
	case REG_MSG_VALUE:
		on_value(r, i, b, from, rid, ts, v, sig);
		break;
	}
	if (v)
		strata_msg_unref(v);
	return 0;
}

static const struct reg_algo_ops adbq_ops = {
	.start = adbq_start,
	.deliver = adbq_deliver,
};

struct strata_module *reg_adbq_create_test(struct strata_node *n, const struct reg_byz_test *t,
					   char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	struct reg_mod *r = byz_reg_new(n, "adbq", &adbq_ops, BYZ_ADBQ, 3,
					byz_quorum(cfg->n, cfg->f, 1), t, err, errlen);
	if (!r)
		return NULL;
	r->depth = 1; /* the signature and sub-type take a second REG_RESERVE of the value limit */
	return &r->m;
}

struct strata_module *reg_adbq_create(struct strata_node *n, char *err, size_t errlen)
{
	return reg_adbq_create_test(n, NULL, err, errlen);
}
