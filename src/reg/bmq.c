/* Byzantine Masking Quorum: a (1,N) Byzantine safe register (the book's Alg. 4.14).
 *
 * Module 4.4 (1,N) Byzantine safe register, instance bonsr, per key, writer w = cfg->writer:
 *   Events: <bonsr, Read> / <bonsr, ReadReturn | v>; <bonsr, Write | v> (only at w) /
 *           <bonsr, WriteReturn>.
 *   BONSR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   BONSR2 Validity: a read that is not concurrent with a write returns the last value written.
 *   (A read concurrent with a write may return any value; here it returns a value vouched for by
 *   more than f replicas, or bottom, which a client sees as "not found".)
 *
 * Model: fail-arbitrary: up to f Byzantine processes, authenticated perfect links, a correct
 * writer. Resilience N > 4f. Quorum: more than (N+2f)/2 processes, q = floor((N+2f)/2) + 1
 * (capped at N - f, which binds only below the resilience; see byz_quorum). Two quorums meet in
 * more than 2f processes, so more than f correct ones: after a write completes, every read
 * quorum holds more than f copies of it, which the f Byzantine replicas cannot outvote
 * (byzhighestval: the highest (ts, v) reported by more than f replicas, else bottom).
 *
 * Algorithm (faithful to the book): write: wts := wts + 1, WRITE(wts, v) to all, wait for q
 * ACKs. Replica: on WRITE from the writer with a higher ts, store (ts, v); ACK. Read: READ(rid) to
 * all, collect VALUE(rid, ts, v) from q replicas, return byzhighestval of what was collected.
 * Cost: write 2 steps / 2N messages; read 2 steps / 2N messages.
 *
 * Detected and counted (bad payloads, never a crash): WRITEs from a non-writer, malformed bodies,
 * bottom with a value. Undetectable lies (forged, replayed or equivocated values) are masked by
 * the > f vote. Test-only Byzantine replica behaviours (strata_node_byz): SILENT never answers or
 * acknowledges; FORGE answers reads with a high timestamp and a made-up value (and sends WRITEs
 * of one as if it were the writer, which correct replicas refuse); REPLAY answers with
 * the copy before the current one; EQUIVOCATE answers even-numbered readers with a made-up value;
 * BADSIG (no signatures here) sends answers that do not decode. The others still acknowledge
 * writes without being trustworthy, which is what makes them count in the writer's quorum.
 *
 * Memory: the family's bounded key table; per key one copy (plus, at a Byzantine test node, the
 * previous one), and while a read runs at this node one reply slot per replica. */
#include <string.h>

#include "core/error.h"
#include "core/stack.h"
#include "reg/byz.h"

enum { PH_WRITE = BYZ_PH_WRITE, PH_READ = BYZ_PH_READ };



/* byzhighestval: the highest (ts, v) that more than f replies carry, or bottom. */
static void read_done(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b)
{
	struct byz_mod *bm = byz_of(r);
	const struct byz_entry *pick = NULL;
	for (uint32_t k = 0; k < bm->n; k++) {
		const struct byz_entry *e = &b->ent[k];
		if (!e->got || e->ts == 0 || (pick && e->ts <= pick->ts))
			continue;
		uint32_t votes = 0;
		for (uint32_t j = 0; j < bm->n; j++)
			if (b->ent[j].got && b->ent[j].ts == e->ts && byz_msg_eq(b->ent[j].v, e->v))
				votes++;
		if (votes > bm->f)
			pick = e;
	}
	struct reg_val out = { 0 };
	if (pick)
		reg_val_set(&out, pick->ts, 0, pick->v);
	strata_trace(r->m.node, r->name, "read quorum of %u -> return ts=%llu", i->nreplied,
		     (unsigned long long)out.ts);
	byz_read_end(r, b);
	reg_complete(r, i, 0, &out);
	reg_val_clear(&out);
}

static int bmq_deliver(struct reg_mod *r, struct reg_inst *i, uint32_t from, uint8_t type,
		       uint64_t rid, struct strata_rd *rd)
{
	struct byz_inst *b = byz_ext(r, i);
	if (!b)
		return 0; /* out of memory: drop, as if lost */
	uint8_t sub = strata_rd_u8(rd);
	uint64_t ts = 0;
	struct strata_msg *v = NULL;
	if (type == REG_MSG_VALUE || type == REG_MSG_WRITE || type == REG_MSG_ACK)
		ts = strata_rd_u64(rd);
	if (type == REG_MSG_VALUE || type == REG_MSG_WRITE) {
		int rc = byz_rd_val(rd, ts, &v);
		if (rc)
			return rc == STRATA_ENOMEM ? 0 : rc;
	}
	if (strata_rd_done(rd) != 0 || sub != BYZ_SUB_PLAIN) {
		if (v)
			strata_msg_unref(v);
		return STRATA_EPROTO;
	}
	bool silent = byz_behaviour(r) == STRATA_BYZ_SILENT;
	struct byz_mod *bm = byz_of(r);
	switch (type) {
	case REG_MSG_READ:
		if (!silent)
			byz_send_value(r, i, b, from, rid);
		break;
	case REG_MSG_WRITE:
		if (!byz_from_writer(r, from, "WRITE from a process that is not the writer"))
			break;
		if (ts > i->cur.ts) {
			byz_keep_old(r, b, NULL);
			reg_val_set(&i->cur, ts, 0, v);
		}
		if (!silent) {
			struct strata_wr w;
			byz_begin(&w, r, i, REG_MSG_ACK, rid, BYZ_SUB_PLAIN);
			strata_wr_u64(&w, ts);
			byz_send(r, i, from, &w);
		}
		break;
	case REG_MSG_ACK:
		if (i->op && i->phase == PH_WRITE && rid == i->rid && ts == i->best.ts &&
		    reg_replied(i, from) && i->nreplied >= bm->q)
			reg_complete(r, i, 0, NULL);
		break;
	case REG_MSG_VALUE:
		if (i->op && i->phase == PH_READ && rid == i->rid && reg_replied(i, from)) {
			byz_entry_set(b, from, rid, ts, v, ts, v);
			if (i->nreplied >= bm->q)
				read_done(r, i, b);
		}
		break;
	}
	if (v)
		strata_msg_unref(v);
	return 0;
}

static const struct reg_algo_ops bmq_ops = {
	.start = byz_plain_start,
	.deliver = bmq_deliver,
};

struct strata_module *reg_bmq_create_test(struct strata_node *n, const struct reg_byz_test *t,
					  char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	struct reg_mod *r = byz_reg_new(n, "bmq", &bmq_ops, BYZ_BMQ, 4,
					byz_quorum(cfg->n, cfg->f, 2), t, err, errlen);
	return r ? &r->m : NULL;
}

struct strata_module *reg_bmq_create(struct strata_node *n, char *err, size_t errlen)
{
	return reg_bmq_create_test(n, NULL, err, errlen);
}
