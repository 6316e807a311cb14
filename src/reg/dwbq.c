/* Double-Write Byzantine Quorum: a (1,N) Byzantine regular register without signatures (the
 * book's Double-Write Byzantine Quorum, Sec. 4.7; a bounded implementation with the read's
 * acceptance rule stated and argued below).
 *
 * Module 4.5 (1,N) Byzantine regular register, instance bonrr, per key, writer w = cfg->writer:
 *   Events: <bonrr, Read> / <bonrr, ReadReturn | v>; <bonrr, Write | v> (only at w) /
 *           <bonrr, WriteReturn>.
 *   BONRR1 Termination: if a correct process invokes an operation, it eventually completes
 *          (a read, once the writes concurrent with it stop; see below).
 *   BONRR2 Validity: a read that is not concurrent with a write returns the last value written;
 *          a read concurrent with a write returns the last value written or a value written
 *          concurrently.
 *
 * Model: fail-arbitrary: up to f Byzantine processes, authenticated perfect links (FIFO), a
 * correct writer; no signatures. Resilience N > 3f. Quorum q = floor((N+f)/2) + 1 (capped at
 * N - f, binding only below the resilience), so q >= 2f + 1 and N - f >= q.
 *
 * Algorithm. A replica keeps a pre-written copy (pts, pv) and a written copy (ts, v).
 *   Write: wts := wts + 1; PREWRITE(wts, v) to all, wait for q PREACKs; then WRITE(wts, v) to
 *   all, wait for q ACKs. Replica: on PREWRITE from the writer with a higher ts, (pts, pv) := it;
 *   on WRITE from the writer with a higher ts, (ts, v) := it (and (pts, pv) if still older);
 *   acknowledge both. FIFO links from the writer keep pts in {ts, ts + 1}, and pv = v when
 *   pts = ts.
 *   Read: rounds of READ(rid) to all; a replica answers VALUE(rid, pts, pv, ts, v). A reply that
 *   breaks the invariant above is Byzantine: dropped and counted. The reader keeps the latest
 *   reply of every replica over all rounds of this read (all were sent after the read began) and,
 *   after each round's q-th reply, accepts (t, x) when
 *     (a) more than f replies carry (t, x), as pre-written or written copy: so a correct replica
 *         received it from the writer, and the write of x was invoked before the read returns;
 *     (b) at least N - q + f + 1 replies report a written ts <= t: if a write T > t had completed
 *         before the read, at least q - f correct replicas would report ts >= T in every round,
 *         leaving at most N - q + f replies (the other correct ones and the f Byzantine) <= t.
 *   It returns the highest acceptable (t, x); if none, it starts another round. (a) and (b) give
 *   BONRR2. Termination: once writes stop, every correct replica (N - f >= N - q + f + 1 of them)
 *   ends with (T, T) and the next round accepts T. The pre-write is what lets a read concurrent
 *   with a write accept: replicas that only pre-wrote the new value vouch for it too.
 * Cost: write 4 steps / 4N messages; read 2 steps / 2N messages per round, one round when no
 * write is concurrent and the replicas agree.
 *
 * Detected and counted (bad payloads): WRITE/PREWRITE from a non-writer, inconsistent replies,
 * malformed bodies. Test-only behaviours as in reg/bmq.c; FORGE and EQUIVOCATE make up consistent
 * replies (pts = ts) that only (a) and (b) keep out.
 *
 * Memory: the family's bounded key table; per key the two copies (plus the previous one at a
 * Byzantine test node), and while a read runs at this node one reply slot (two values) per
 * replica. A VALUE carries both copies, so the value limit is about half of max_value. */
#include <string.h>

#include "core/error.h"
#include "core/stack.h"
#include "reg/byz.h"

enum { PH_PRE = 1, PH_WRITE = 2, PH_READ = 3 };

static void send_value(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t to,
		       uint64_t rid)
{
	uint64_t ts = i->cur.ts, pts = b->pts;
	struct strata_msg *v = i->cur.v, *pv = b->pv, *lie = NULL;
	bool replayed;
	if (byz_answer(r, b, to, &ts, &lie, &replayed)) {
		v = pv = lie; /* a consistent lie: both copies agree */
		pts = ts;
	}
	bool same = pts == ts && byz_msg_eq(pv, v);
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_VALUE, rid, BYZ_SUB_PLAIN);
	strata_wr_u64(&w, pts);
	strata_wr_u64(&w, ts);
	strata_wr_u8(&w, same ? 1 : 0);
	if (!same)
		byz_wr_val(&w, pts ? pv : NULL);
	byz_wr_val(&w, ts ? v : NULL);
	byz_send(r, i, to, &w);
	if (lie)
		strata_msg_unref(lie);
}

static void send_read(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b)
{
	reg_phase(i, PH_READ);
	b->rounds++;
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_READ, i->rid, BYZ_SUB_PLAIN);
	byz_send(r, i, 0, &w);
}

static void send_write(struct reg_mod *r, struct reg_inst *i, uint8_t phase)
{
	reg_phase(i, phase);
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_WRITE, i->rid, phase == PH_PRE ? BYZ_SUB_PRE : BYZ_SUB_FINAL);
	strata_wr_u64(&w, i->best.ts);
	byz_wr_val(&w, i->best.v);
	byz_send(r, i, 0, &w);
}

static void dwbq_start(struct reg_mod *r, struct reg_inst *i)
{
	struct byz_inst *b = byz_ext(r, i);
	if (!b) {
		reg_complete(r, i, STRATA_ENOMEM, NULL);
		return;
	}
	if (i->op->kind == REG_WRITE) {
		i->wts++;
		reg_val_set(&i->best, i->wts, 0, i->op->val);
		send_write(r, i, PH_PRE);
		return;
	}
	if (byz_read_begin(r, i, b) != 0) {
		reg_complete(r, i, STRATA_ENOMEM, NULL);
		return;
	}
	send_read(r, i, b);
}

static bool carries(const struct byz_entry *e, uint64_t t, const struct strata_msg *x)
{
	return e->got && ((e->pts == t && byz_msg_eq(e->pv, x)) || (e->ts == t && byz_msg_eq(e->v, x)));
}

/* Evaluates (t, x) against rules (a) and (b); see the header. */
static bool acceptable(const struct byz_mod *bm, const struct byz_inst *b, uint64_t t,
		       const struct strata_msg *x)
{
	uint32_t votes = 0, fresh = 0;
	for (uint32_t k = 0; k < bm->n; k++) {
		const struct byz_entry *e = &b->ent[k];
		if (carries(e, t, x))
			votes++;
		if (e->got && e->ts <= t)
			fresh++;
	}
	return votes > bm->f && fresh >= bm->n - bm->q + bm->f + 1;
}

static void round_done(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b)
{
	struct byz_mod *bm = byz_of(r);
	bool found = false;
	uint64_t best_t = 0;
	const struct strata_msg *best_x = NULL;
	for (uint32_t k = 0; k < bm->n; k++) {
		const struct byz_entry *e = &b->ent[k];
		if (!e->got)
			continue;
		for (int c = 0; c < 2; c++) {
			uint64_t t = c ? e->pts : e->ts;
			const struct strata_msg *x = c ? e->pv : e->v;
			if ((found && t <= best_t) || !acceptable(bm, b, t, x))
				continue;
			found = true;
			best_t = t;
			best_x = x;
		}
	}
	if (!found) {
		strata_trace(r->m.node, r->name, "round %u: no value is vouched and fresh -> retry",
			     b->rounds);
		send_read(r, i, b);
		return;
	}
	struct reg_val out = { 0 };
	reg_val_set(&out, best_t, 0, (struct strata_msg *)best_x);
	strata_trace(r->m.node, r->name, "round %u -> return ts=%llu", b->rounds,
		     (unsigned long long)best_t);
	byz_read_end(r, b);
	reg_complete(r, i, 0, &out);
	reg_val_clear(&out);
}

static void on_write(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t from,
		     uint64_t rid, uint8_t sub, uint64_t ts, struct strata_msg *v)
{
	if (!byz_from_writer(r, from, "PREWRITE/WRITE from a process that is not the writer"))
		return;
	if (ts > b->pts) {
		if (b->pv)
			strata_msg_unref(b->pv);
		b->pts = ts;
		b->pv = v;
		if (v)
			strata_msg_ref(v);
	}
	if (sub == BYZ_SUB_FINAL && ts > i->cur.ts) {
		byz_keep_old(r, b, NULL);
		reg_val_set(&i->cur, ts, 0, v);
	}
	if (byz_behaviour(r) == STRATA_BYZ_SILENT)
		return;
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_ACK, rid, sub);
	strata_wr_u64(&w, ts);
	byz_send(r, i, from, &w);
}

static void on_value(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t from,
		     uint64_t rid, uint64_t pts, struct strata_msg *pv, uint64_t ts,
		     struct strata_msg *v)
{
	struct byz_mod *bm = byz_of(r);
	if (!(pts == ts + 1 || (pts == ts && byz_msg_eq(pv, v)))) {
		byz_reject(r, from, &bm->rej_incons, "VALUE with inconsistent copies");
		return;
	}
	if (!i->op || i->phase != PH_READ || rid != i->rid || !reg_replied(i, from))
		return;
	byz_entry_set(b, from, rid, pts, pv, ts, v);
	if (i->nreplied >= bm->q)
		round_done(r, i, b);
}

static int dwbq_deliver(struct reg_mod *r, struct reg_inst *i, uint32_t from, uint8_t type,
			uint64_t rid, struct strata_rd *rd)
{
	struct byz_inst *b = byz_ext(r, i);
	if (!b)
		return 0;
	uint8_t sub = strata_rd_u8(rd);
	uint64_t ts = 0, pts = 0;
	struct strata_msg *v = NULL, *pv = NULL;
	int rc = 0;
	bool subok = sub == BYZ_SUB_PLAIN;
	if (type == REG_MSG_WRITE || type == REG_MSG_ACK) {
		subok = sub == BYZ_SUB_PRE || sub == BYZ_SUB_FINAL;
		ts = strata_rd_u64(rd);
		if (type == REG_MSG_WRITE)
			rc = byz_rd_val(rd, ts, &v);
	} else if (type == REG_MSG_VALUE) {
		pts = strata_rd_u64(rd);
		ts = strata_rd_u64(rd);
		uint8_t same = strata_rd_u8(rd);
		if (!same)
			rc = byz_rd_val(rd, pts, &pv);
		if (!rc)
			rc = byz_rd_val(rd, ts, &v);
		if (!rc && same) {
			if (pts != ts)
				rc = STRATA_EPROTO;
			pv = v;
			if (pv)
				strata_msg_ref(pv);
		}
	}
	if (!rc && (strata_rd_done(rd) != 0 || !subok))
		rc = STRATA_EPROTO;
	if (!rc) {
		switch (type) {
		case REG_MSG_READ:
			if (byz_behaviour(r) != STRATA_BYZ_SILENT)
				send_value(r, i, b, from, rid);
			break;
		case REG_MSG_WRITE:
			on_write(r, i, b, from, rid, sub, ts, v);
			break;
		case REG_MSG_ACK: {
			uint8_t ph = sub == BYZ_SUB_PRE ? PH_PRE : PH_WRITE;
			if (!i->op || i->phase != ph || rid != i->rid || ts != i->best.ts ||
			    !reg_replied(i, from) || i->nreplied < byz_of(r)->q)
				break;
			if (ph == PH_PRE)
				send_write(r, i, PH_WRITE);
			else
				reg_complete(r, i, 0, NULL);
			break;
		}
		case REG_MSG_VALUE:
			on_value(r, i, b, from, rid, pts, pv, ts, v);
			break;
		}
	}
	if (v)
		strata_msg_unref(v);
	if (pv)
		strata_msg_unref(pv);
	return rc == STRATA_ENOMEM ? 0 : rc;
}

static const struct reg_algo_ops dwbq_ops = {
	.start = dwbq_start,
	.deliver = dwbq_deliver,
};

struct strata_module *reg_dwbq_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	struct reg_mod *r = byz_reg_new(n, "dwbq", &dwbq_ops, BYZ_DWBQ, 3,
					byz_quorum(cfg->n, cfg->f, 1), NULL, err, errlen);
	if (!r)
		return NULL;
	/* A VALUE carries two copies: reserve half of max_value (the family's limit subtracts
	 * REG_RESERVE per composition level). */
	r->depth = (unsigned)(cfg->max_value / 2 / REG_RESERVE) + 1;
	return &r->m;
}
