/* Byzantine Quorum with Listeners: a (1,N) Byzantine atomic register without signatures (the
 * book's Byzantine Quorum with Listeners, Sec. 4.7, part 1 write, part 2 read).
 *
 * Module 4.6 (1,N) Byzantine atomic register, instance bonar, per key, writer w = cfg->writer:
 *   Events: <bonar, Read> / <bonar, ReadReturn | v>; <bonar, Write | v> (only at w) /
 *           <bonar, WriteReturn>.
 *   BONAR1 Termination: if a correct process invokes an operation, it eventually completes
 *          (a read, once the writes concurrent with it stop).
 *   BONAR2 Validity: as BONRR2 (regular).
 *   BONAR3 Ordering: if a read returns v and a later read returns w, the write of w does not
 *          precede the write of v (no new-old inversion): the register is linearizable.
 *
 * Model: fail-arbitrary: up to f Byzantine processes, authenticated perfect links (FIFO), a
 * correct writer; no signatures. Resilience N > 3f. Quorum q = floor((N+f)/2) + 1 (capped at
 * N - f, binding only below the resilience); with N = 3f + 1, q = 2f + 1.
 *
 * Algorithm (the book's, bounded):
 *   Write: wts := wts + 1; WRITE(wts, v) to all; wait for q ACKs. Replica: on WRITE from the
 *   writer with a higher ts, (ts, v) := it, and send VALUE(r, ts, v) to every listener (a reader
 *   whose READ(r) it has seen and whose READ-COMPLETE it has not); ACK.
 *   Read: READ(rid) to all; a replica records the reader as a listener and answers VALUE(rid,
 *   ts, v). The reader keeps, per replica, the answer with the highest ts, and returns (t, x) as
 *   soon as q replicas' latest answers are (t, x); then READ-COMPLETE(rid) to all.
 * Why atomic: q identical answers come from more than (N+f)/2 - f correct replicas holding t or
 * newer. A later read's q identical answers for an older pair would need more than (N+f)/2
 * replicas still at it, but at most N - (q - f) can be, fewer than q. The same count against a
 * completed write's q ACKs gives validity; more than f identical answers make a value genuine.
 * Termination: the listeners receive every later write, so once writes stop the N - f >= q
 * correct replicas' latest answers agree.
 * Cost: write 2 steps / 2N messages plus one VALUE per listener; read 2 steps / 2N messages when
 * no write is concurrent, plus N READ-COMPLETE messages (so 3N).
 *
 * Detected and counted (bad payloads): WRITEs from a non-writer, malformed bodies. Test-only
 * behaviours as in reg/bmq.c, applied to the answers and to the listener updates.
 *
 * Memory: the family's bounded key table; per key one copy (plus the previous one at a
 * Byzantine test node) and one listener slot per node (a node runs one operation per key at a
 * time, so a reader is at most one listener), and while a read runs one reply slot per replica. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/stack.h"
#include "reg/byz.h"

enum { PH_WRITE = BYZ_PH_WRITE, PH_READ = BYZ_PH_READ };



static void check_read(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b,
		       const struct byz_entry *e)
{
	struct byz_mod *bm = byz_of(r);
	uint32_t same = 0;
	for (uint32_t k = 0; k < bm->n; k++)
		if (b->ent[k].got && b->ent[k].ts == e->ts && byz_msg_eq(b->ent[k].v, e->v))
			same++;
	if (same < bm->q)
		return;
	struct reg_val out = { 0 };
	reg_val_set(&out, e->ts, 0, e->ts ? e->v : NULL);
	strata_trace(r->m.node, r->name, "%u identical answers -> return ts=%llu", same,
		     (unsigned long long)out.ts);
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_READ, i->rid, BYZ_SUB_COMPLETE);
	byz_send(r, i, 0, &w);
	byz_read_end(r, b);
	reg_complete(r, i, 0, &out);
	reg_val_clear(&out);
}

static void on_write(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t from,
		     uint64_t rid, uint64_t ts, struct strata_msg *v)
{
	if (!byz_from_writer(r, from, "WRITE from a process that is not the writer"))
		return;
	bool silent = byz_behaviour(r) == STRATA_BYZ_SILENT;
	if (ts > i->cur.ts) {
		byz_keep_old(r, b, NULL);
		reg_val_set(&i->cur, ts, 0, v);
		for (uint32_t k = 0; b->listen && !silent && k < byz_of(r)->n; k++)
			if (b->listen[k])
				byz_send_value(r, i, b, k + 1, b->listen[k] - 1);
	}
	if (silent)
		return;
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_ACK, rid, BYZ_SUB_PLAIN);
	strata_wr_u64(&w, ts);
	byz_send(r, i, from, &w);
}

static void on_read(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t from,
		    uint64_t rid, uint8_t sub)
{
	if (!b->listen) {
		b->listen = calloc(byz_of(r)->n, sizeof(*b->listen));
		if (!b->listen)
			return; /* out of memory: as if the READ were lost */
	}
	if (sub == BYZ_SUB_COMPLETE) {
		if (b->listen[from - 1] == rid + 1)
			b->listen[from - 1] = 0;
		return;
	}
	/* Per reader, rids only grow (one read per key at a time at a node, FIFO links): a READ
	 * with an older rid than the one listened to is a duplicate of a finished read. */
	if (rid + 1 < b->listen[from - 1])
		return;
	b->listen[from - 1] = rid + 1;
	if (byz_behaviour(r) != STRATA_BYZ_SILENT)
		byz_send_value(r, i, b, from, rid);
}

static int bql_deliver(struct reg_mod *r, struct reg_inst *i, uint32_t from, uint8_t type,
		       uint64_t rid, struct strata_rd *rd)
{
	struct byz_inst *b = byz_ext(r, i);
	if (!b)
		return 0;
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
	bool subok = sub == BYZ_SUB_PLAIN || (type == REG_MSG_READ && sub == BYZ_SUB_COMPLETE);
	if (strata_rd_done(rd) != 0 || !subok || rid == UINT64_MAX) {
		if (v)
			strata_msg_unref(v);
		return STRATA_EPROTO;
	}
	switch (type) {
	case REG_MSG_READ:
		on_read(r, i, b, from, rid, sub);
		break;
	case REG_MSG_WRITE:
		on_write(r, i, b, from, rid, ts, v);
		break;
	case REG_MSG_ACK:
		if (i->op && i->phase == PH_WRITE && rid == i->rid && ts == i->best.ts &&
		    reg_replied(i, from) && i->nreplied >= byz_of(r)->q)
			reg_complete(r, i, 0, NULL);
		break;
	case REG_MSG_VALUE:
		if (i->op && i->phase == PH_READ && rid == i->rid &&
		    (!b->ent[from - 1].got || ts > b->ent[from - 1].ts)) {
			byz_entry_set(b, from, rid, ts, v, ts, v);
			check_read(r, i, b, &b->ent[from - 1]);
		}
		break;
	}
	if (v)
		strata_msg_unref(v);
	return 0;
}

static const struct reg_algo_ops bql_ops = {
	.start = byz_plain_start,
	.deliver = bql_deliver,
};

struct strata_module *reg_bql_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	struct reg_mod *r = byz_reg_new(n, "bql", &bql_ops, BYZ_BQL, 3,
					byz_quorum(cfg->n, cfg->f, 1), NULL, err, errlen);
	return r ? &r->m : NULL;
}
