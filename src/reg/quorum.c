/* The quorum engine behind the book's message-passing registers (Alg. 4.1, 4.2, 4.5, 4.6-4.7,
 * 4.9, 4.10-4.11 and Logged Majority Voting).
 *
 * Those algorithms differ only in four choices, which struct reg_quorum_params names:
 *   - whom a phase waits for: every process P has not reported crashed (fail-stop), or a majority
 *     (fail-silent, N > 2f);
 *   - where a write's timestamp comes from: the single writer's counter wts (Alg. 4.1, 4.2, 4.5,
 *     4.6), the local copy's ts + 1 with the writer's rank as tie-break (Alg. 4.9), or the highest
 *     ts of a majority consulted first, + 1 (Alg. 4.10);
 *   - whether a read returns the local copy (Alg. 4.1, 4.5, 4.9) or queries a quorum and takes
 *     the highest (ts, rank) (Alg. 4.2, 4.6, 4.10);
 *   - whether a read imposes what it read by writing it back before returning (the atomic ones);
 * plus, for the fail-recovery variant, whether a replica makes (ts, rank, value) durable before
 * acknowledging. Each algorithm's own file states which choices it makes and why that is the
 * book's algorithm.
 *
 * Phases of an operation (one at a time per key per node; reg/core.c queues the rest):
 *   QUERY   READ(rid) to all; collect VALUE(rid, ts, rank, v) from the quorum; keep the highest.
 *   UPDATE  WRITE(rid, ts, rank, v) to all; collect ACK(rid) from the quorum.
 * Replica side, for every algorithm: on READ answer VALUE with the local copy; on WRITE adopt
 * (ts, rank, v) if it is newer than the local copy ((ts, rank) order), then ACK. Adopting only
 * newer values is what the book's "if ts' > ts" does; for Alg. 4.1 and 4.2, which store
 * unconditionally, it is equivalent because the single writer's WRITEs carry increasing ts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "reg/reg.h"

enum { PH_QUERY = 1, PH_UPDATE = 2 };

/* ---- durable state (fail-recovery) ---- */

/* "reg/<module>/<hex key>": the store interface takes C strings; keys are arbitrary bytes. */
static char *store_key(const struct reg_mod *r, const struct reg_inst *i)
{
	size_t len = strlen(r->name) + 2 * i->klen + 8;
	char *k = malloc(len);
	if (!k)
		return NULL;
	size_t o = (size_t)snprintf(k, len, "reg/%s/", r->name);
	static const char hex[] = "0123456789abcdef";
	for (size_t j = 0; j < i->klen; j++) {
		k[o++] = hex[i->key[j] >> 4];
		k[o++] = hex[i->key[j] & 15];
	}
	k[o] = 0;
	return k;
}

/* Record: u64 ts, u64 rank, u64 wts, bytes value. Written whenever the copy or wts changes. */
static int persist(struct reg_mod *r, struct reg_inst *i)
{
	struct strata_node *n = r->m.node;
	char *k = store_key(r, i);
	if (!k)
		return STRATA_ENOMEM;
	struct strata_wr w;
	strata_wr_init(&w, (size_t)strata_node_config(n)->max_value + 64);
	strata_wr_u64(&w, i->cur.ts);
	strata_wr_u64(&w, i->cur.wr);
	strata_wr_u64(&w, i->wts);
	strata_wr_bytes(&w, i->cur.v ? i->cur.v->data : NULL, i->cur.v ? i->cur.v->len : 0);
	int rc = w.err;
	if (!rc)
		rc = strata_store(n, k, w.buf, w.len);
	strata_wr_free(&w);
	free(k);
	return rc;
}

static int q_load(struct reg_mod *r, struct reg_inst *i)
{
	if (!r->q.durable)
		return 0;
	char *k = store_key(r, i);
	if (!k)
		return STRATA_ENOMEM;
	struct strata_msg *m = NULL;
	int rc = strata_retrieve(r->m.node, k, &m);
	free(k);
	if (rc == STRATA_ENOENT)
		return 0; /* never written here */
	if (rc)
		return rc;
	struct strata_rd rd;
	strata_rd_init(&rd, m->data, m->len);
	uint64_t ts = strata_rd_u64(&rd);
	uint64_t wr = strata_rd_u64_max(&rd, UINT32_MAX);
	uint64_t wts = strata_rd_u64(&rd);
	const uint8_t *v;
	size_t vlen = strata_rd_bytes(&rd, &v, m->len);
	if (strata_rd_done(&rd) != 0) {
		strata_msg_unref(m);
		return STRATA_EIO; /* a corrupt record must not be mistaken for "never written" */
	}
	struct strata_msg *val = ts ? strata_msg_new(v, vlen) : NULL;
	strata_msg_unref(m);
	if (ts && !val)
		return STRATA_ENOMEM;
	reg_val_set(&i->cur, ts, (uint32_t)wr, val);
	if (val)
		strata_msg_unref(val);
	i->wts = wts;
	strata_trace(r->m.node, r->name, "recovered key ts=%llu wts=%llu -> copy restored",
		     (unsigned long long)ts, (unsigned long long)wts);
	return 0;
}

/* ---- operation side ---- */

static void update(struct reg_mod *r, struct reg_inst *i)
{
	reg_phase(i, PH_UPDATE);
	reg_send(r, i, 0, REG_MSG_WRITE, i->rid, &i->best);
}

static void query(struct reg_mod *r, struct reg_inst *i)
{
	reg_phase(i, PH_QUERY);
	reg_val_clear(&i->best);
	reg_send(r, i, 0, REG_MSG_READ, i->rid, NULL);
}

static void q_start(struct reg_mod *r, struct reg_inst *i)
{
	struct reg_op *o = i->op;
	uint32_t self = strata_node_id(r->m.node);
	if (o->kind == REG_WRITE) {
		switch (r->q.wts) {
		case REG_TS_WRITER:
			i->wts++;
			/* The writer's counter survives a crash, or a recovered writer would reuse
			 * a timestamp that replicas already hold for another value. */
			if (r->q.durable && persist(r, i) != 0) {
				reg_complete(r, i, STRATA_EIO, NULL);
				return;
			}
			reg_val_set(&i->best, i->wts, 0, o->val);
			update(r, i);
			return;
		case REG_TS_LOCAL_NN:
			reg_val_set(&i->best, i->cur.ts + 1, self, o->val);
			update(r, i);
			return;
		case REG_TS_CONSULT:
			query(r, i);
			return;
		}
		STRATA_ASSERT(0);
	}
	if (!r->q.read_local) {
		query(r, i);
		return;
	}
	reg_val_set(&i->best, i->cur.ts, i->cur.wr, i->cur.v);
	if (r->q.read_impose)
		update(r, i);
	else
		reg_complete(r, i, 0, &i->best);
}

static void query_done(struct reg_mod *r, struct reg_inst *i)
{
	struct reg_op *o = i->op;
	if (o->kind == REG_WRITE) {
		/* Alg. 4.10: the new timestamp exceeds every one a majority holds. */
		reg_val_set(&i->best, i->best.ts + 1, strata_node_id(r->m.node), o->val);
		update(r, i);
	} else if (r->q.read_impose) {
		update(r, i);
	} else {
		reg_complete(r, i, 0, &i->best);
	}
}

static void check_done(struct reg_mod *r, struct reg_inst *i)
{
	if (!i->op || !reg_quorum_reached(r, i, r->q.quorum))
		return;
	if (i->phase == PH_QUERY)
		query_done(r, i);
	else if (i->phase == PH_UPDATE)
		reg_complete(r, i, 0, &i->best);
}

/* ---- replica side and replies ---- */

static int q_deliver(struct reg_mod *r, struct reg_inst *i, uint32_t from, uint8_t type,
		     uint64_t rid, struct strata_rd *rd)
{
	uint64_t ts = 0, wr = 0;
	const uint8_t *v = NULL;
	size_t vlen = 0;
	if (type == REG_MSG_VALUE || type == REG_MSG_WRITE) {
		ts = strata_rd_u64(rd);
		wr = strata_rd_u64_max(rd, UINT32_MAX);
		vlen = strata_rd_bytes(rd, &v, rd->len);
	}
	if (strata_rd_done(rd) != 0)
		return STRATA_EPROTO;
	if ((type == REG_MSG_VALUE || type == REG_MSG_WRITE) && ts == 0 && (wr != 0 || vlen != 0))
		return STRATA_EPROTO; /* bottom carries no value */
	if (strata_tracing(r->m.node))
		strata_trace(r->m.node, r->name, "%s rid=%llu ts=%llu.%llu from %u (op %s phase %u rid %llu)",
			     type == REG_MSG_READ ? "READ" : type == REG_MSG_VALUE ? "VALUE"
			     : type == REG_MSG_WRITE ? "WRITE" : "ACK",
			     (unsigned long long)rid, (unsigned long long)ts, (unsigned long long)wr,
			     from, i->op ? "busy" : "idle", i->phase, (unsigned long long)i->rid);
	switch (type) {
	case REG_MSG_READ:
		reg_send(r, i, from, REG_MSG_VALUE, rid, &i->cur);
		return 0;
	case REG_MSG_WRITE:
		if (ts > 0 && reg_val_newer(ts, (uint32_t)wr, &i->cur)) {
			struct strata_msg *m = strata_msg_new(v, vlen);
			if (!m)
				return 0; /* no ack: the writer retries nothing, but stays safe */
			reg_val_set(&i->cur, ts, (uint32_t)wr, m);
			strata_msg_unref(m);
			/* Persist before the ACK: the node syncs storage before it flushes the
			 * datagrams of this turn, so storing here is enough. */
			if (r->q.durable && persist(r, i) != 0) {
				strata_trace(r->m.node, r->name, "store failed -> WRITE not acked");
				return 0;
			}
		}
		reg_send(r, i, from, REG_MSG_ACK, rid, NULL);
		return 0;
	case REG_MSG_VALUE:
		if (!i->op || i->phase != PH_QUERY || rid != i->rid || !reg_replied(i, from))
			return 0; /* a late or duplicate answer */
		if (ts > 0 && reg_val_newer(ts, (uint32_t)wr, &i->best)) {
			struct strata_msg *m = strata_msg_new(v, vlen);
			if (!m)
				return 0;
			reg_val_set(&i->best, ts, (uint32_t)wr, m);
			strata_msg_unref(m);
		}
		check_done(r, i);
		return 0;
	case REG_MSG_ACK:
		if (!i->op || i->phase != PH_UPDATE || rid != i->rid || !reg_replied(i, from))
			return 0;
		check_done(r, i);
		return 0;
	}
	return STRATA_EPROTO;
}

static void q_recheck(struct reg_mod *r, struct reg_inst *i)
{
	check_done(r, i);
}

/* Fail-recovery: peer restarted while i's phase waits. A replica that took the phase's READ or
 * WRITE and crashed before its VALUE or ACK was acknowledged took the answer with it (a perfect
 * link's unacknowledged frames live in the sender's memory), and its new life never saw the
 * request (the request was acknowledged to the old one). Were enough replicas to do that, the
 * phase would wait forever although they are all up again (ONRR1; sim_reg lmv-disk-fail seed
 * 88648070: both other replicas of three crashed with their VALUEs to an isolated reader
 * unacknowledged). The book's logged algorithms retransmit their requests forever on stubborn
 * links; here the request goes once more, point to point, to the restarted replica that has not
 * answered this phase. Its answer carries the same rid and is counted once (reg_replied); a
 * duplicate request (the old life's copy moved to the new one by the link) is answered twice,
 * the second answer ignored. */
static void q_peer_restart(struct reg_mod *r, struct reg_inst *i, uint32_t peer)
{
	if (!r->q.durable || !i->op || (i->replied & (1ull << (peer - 1))))
		return;
	if (i->phase == PH_QUERY)
		reg_send(r, i, peer, REG_MSG_READ, i->rid, NULL);
	else if (i->phase == PH_UPDATE)
		reg_send(r, i, peer, REG_MSG_WRITE, i->rid, &i->best);
	else
		return;
	strata_trace(r->m.node, r->name, "peer %u restarted, phase %u rid %llu unanswered by it -> "
		     "request sent to it again", peer, i->phase, (unsigned long long)i->rid);
}

static const struct reg_algo_ops quorum_ops = {
	.start = q_start,
	.deliver = q_deliver,
	.recheck = q_recheck,
	.load = q_load,
	.peer_restart = q_peer_restart,
};

struct reg_mod *reg_quorum_new(struct strata_node *n, const char *name,
			       const struct reg_quorum_params *q, bool single_writer, bool client,
			       char *err, size_t errlen)
{
	struct reg_mod *r = reg_mod_new(n, name, &quorum_ops, client, err, errlen);
	if (!r)
		return NULL;
	r->q = *q;
	r->single_writer = single_writer;
	r->need_kind = q->quorum == REG_Q_MAJORITY ? REG_NEED_MAJORITY : REG_NEED_ALL_CORRECT;
	if (q->quorum == REG_Q_ALL_CORRECT && reg_use_p(r, err, errlen) != 0)
		return NULL; /* the node frees the module with the others */
	/* uses BestEffortBroadcast (beb) + PerfectPointToPointLinks (pl), as the book's registers
	 * do; the fail-recovery register too (the book: sbeb + sl; see docs/architecture.md) */
	if (reg_use_beb(r, err, errlen) != 0)
		return NULL;
	return r;
}
