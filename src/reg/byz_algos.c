/* The helpers the four Byzantine registers share (reg/byz.h): construction with the resilience
 * check, the per-key extension (carried by the instance table), message framing, reply bookkeeping,
 * and the test-only Byzantine behaviours of a replica. Their catalog rows are in
 * reg/byz_catalog.c. */
#include "reg/byz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

/* ---- module-wide state and per-key extensions ---- */

static void ent_clear(struct byz_entry *e)
{
	if (e->v)
		strata_msg_unref(e->v);
	if (e->pv)
		strata_msg_unref(e->pv);
	memset(e, 0, sizeof(*e));
}

/* The instance table's release of one extension (the table frees the memory). */
static void ext_fini(struct reg_mod *r, void *ext)
{
	struct byz_mod *b = byz_of(r);
	struct byz_inst *x = ext;
	if (x->ent) {
		for (uint32_t k = 0; k < b->n; k++)
			ent_clear(&x->ent[k]);
		free(x->ent);
	}
	if (x->pv)
		strata_msg_unref(x->pv);
	reg_val_clear(&x->old);
	free(x->listen);
}

uint32_t byz_quorum(uint32_t n, uint32_t f, unsigned k)
{
	uint32_t q = (n + k * f) / 2 + 1;
	return q > n - f ? n - f : q;
}

struct reg_mod *byz_reg_new(struct strata_node *n, const char *name,
			    const struct reg_algo_ops *a, enum byz_kind kind, unsigned resilience_k,
			    uint32_t q, const struct reg_byz_test *test, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	bool skip = test && test->skip_resilience;
	if (!skip && strata_config_check_resilience(cfg, name, resilience_k, err, errlen) != 0)
		return NULL;
	if (cfg->writer < 1 || cfg->writer > cfg->n) {
		snprintf(err, errlen, "register '%s': writer %u is not a node", name, cfg->writer);
		return NULL;
	}
	struct byz_mod *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct reg_mod *r = reg_mod_new(n, name, a, true, err, errlen);
	if (!r) {
		free(b);
		return NULL;
	}
	r->single_writer = true;
	b->r = r;
	b->kind = kind;
	if (test)
		b->test = *test;
	b->n = cfg->n;
	b->f = cfg->f;
	b->q = q;
	r->need_kind = REG_NEED_COUNT;
	r->need = q;
	/* The module owns its Byzantine state, and every instance carries its extension. */
	r->xstate = b;
	r->xstate_free = free;
	reg_set_ext(r, sizeof(struct byz_inst), ext_fini);
	return r;
}

struct byz_mod *byz_of(struct reg_mod *r)
{
	STRATA_ASSERT(r->xstate);
	return r->xstate;
}

enum strata_byz byz_behaviour(const struct reg_mod *r)
{
	return strata_node_byz(r->m.node);
}

struct byz_inst *byz_ext(struct reg_mod *r, struct reg_inst *i)
{
	struct byz_inst *x = reg_inst_ext(r, i);
	x->i = i;
	return x;
}

/* ---- messages ---- */

void byz_begin(struct strata_wr *w, struct reg_mod *r, struct reg_inst *i, uint8_t type,
	       uint64_t rid, uint8_t sub)
{
	strata_wr_init(w, strata_node_config(r->m.node)->max_value);
	strata_wr_u8(w, type);
	strata_wr_bytes(w, i->key, i->klen);
	strata_wr_u64(w, rid);
	strata_wr_u8(w, sub);
}

void byz_send(struct reg_mod *r, struct reg_inst *i, uint32_t to, struct strata_wr *w)
{
	struct strata_node *n = r->m.node;
	/* BADSIG on a register without signatures: the closest thing is a body that does not
	 * decode, which correct nodes must drop and count. Only answers are damaged, so the node
	 * still acknowledges (and so counts in write quorums). */
	if (byz_behaviour(r) == STRATA_BYZ_BADSIG && byz_of(r)->kind != BYZ_ADBQ && w->len > 0 &&
	    w->buf && w->buf[0] == REG_MSG_VALUE)
		w->len--;
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(w, &err);
	if (!m) {
		strata_trace(n, r->name, "encode failed (%s) -> message not sent",
			     strata_strerror(err));
		return;
	}
	/* owed when the links refuse it (reg_pl_send): nothing here repeats a message either */
	for (uint32_t q = to ? to : 1; q <= (to ? to : byz_of(r)->n); q++)
		reg_pl_send(r, q, i->hash, m);
	strata_msg_unref(m);
}

void byz_wr_val(struct strata_wr *w, const struct strata_msg *v)
{
	strata_wr_bytes(w, v ? v->data : NULL, v ? v->len : 0);
}

int byz_rd_val(struct strata_rd *rd, uint64_t ts, struct strata_msg **out)
{
	const uint8_t *p;
	size_t len = strata_rd_bytes(rd, &p, rd->len);
	*out = NULL;
	if (!strata_rd_ok(rd))
		return STRATA_EPROTO;
	if (ts == 0)
		return len ? STRATA_EPROTO : 0; /* bottom carries no value */
	*out = strata_msg_new(p, len);
	return *out ? 0 : STRATA_ENOMEM;
}

bool byz_msg_eq(const struct strata_msg *a, const struct strata_msg *b)
{
	if (!a || !b)
		return a == b;
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* ---- reads ---- */

int byz_read_begin(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b)
{
	struct byz_mod *bm = byz_of(r);
	if (!b->ent) {
		b->ent = calloc(bm->n, sizeof(*b->ent));
		if (!b->ent)
			return STRATA_ENOMEM;
	}
	b->first_rid = i->rid + 1;
	b->rounds = 0;
	return 0;
}

void byz_read_end(struct reg_mod *r, struct byz_inst *b)
{
	struct byz_mod *bm = byz_of(r);
	if (!b->ent)
		return;
	for (uint32_t k = 0; k < bm->n; k++)
		ent_clear(&b->ent[k]);
	free(b->ent);
	b->ent = NULL;
}

void byz_entry_set(struct byz_inst *b, uint32_t from, uint64_t rid, uint64_t pts,
		   struct strata_msg *pv, uint64_t ts, struct strata_msg *v)
{
	struct byz_entry *e = &b->ent[from - 1];
	if (pv)
		strata_msg_ref(pv);
	if (v)
		strata_msg_ref(v);
	ent_clear(e);
	e->got = true;
	e->rid = rid;
	e->pts = pts;
	e->pv = pv;
	e->ts = ts;
	e->v = v;
}

/* ---- detection ---- */

void byz_reject(struct reg_mod *r, uint32_t from, uint64_t *counter, const char *why)
{
	if (counter)
		(*counter)++;
	strata_node_bad_payload(r->m.node, &r->m, from, why);
}

bool byz_from_writer(struct reg_mod *r, uint32_t from, const char *what)
{
	if (from == strata_node_config(r->m.node)->writer)
		return true;
	byz_reject(r, from, &byz_of(r)->rej_writer, what);
	return false;
}

/* ---- Byzantine behaviours (test-only) ---- */

void byz_keep_old(struct reg_mod *r, struct byz_inst *b, const uint8_t *sig)
{
	if (byz_behaviour(r) == STRATA_BYZ_NONE)
		return; /* correct replicas keep one copy only */
	reg_val_set(&b->old, b->i->cur.ts, b->i->cur.wr, b->i->cur.v);
	if (sig)
		memcpy(b->old_sig, sig, STRATA_SIG_LEN);
}

static struct strata_msg *made_up(const char *what, uint32_t id, uint32_t to, uint64_t ts)
{
	char buf[64];
	int len = snprintf(buf, sizeof(buf), "%s-%u-%u-%llu", what, id, to, (unsigned long long)ts);
	return strata_msg_new(buf, (size_t)len);
}

/* FORGE also impersonates the writer: a WRITE of a made-up value under its own identity (the
 * authenticated links name the true sender), which correct replicas must refuse and count. */
static void forge_write(struct reg_mod *r, struct byz_inst *b, uint64_t ts)
{
	struct strata_node *n = r->m.node;
	struct byz_mod *bm = byz_of(r);
	struct strata_msg *v = made_up("forged-write", strata_node_id(n), 0, ts);
	struct strata_wr w;
	byz_begin(&w, r, b->i, REG_MSG_WRITE, b->i->rid, bm->kind == BYZ_DWBQ ? BYZ_SUB_FINAL
									: BYZ_SUB_PLAIN);
	strata_wr_u64(&w, ts);
	byz_wr_val(&w, v);
	if (bm->kind == BYZ_ADBQ) {
		uint8_t sig[STRATA_SIG_LEN] = { 0 };
		strata_wr_raw(&w, sig, sizeof(sig));
	}
	byz_send(r, b->i, 0, &w);
	if (v)
		strata_msg_unref(v);
}

bool byz_answer(struct reg_mod *r, struct byz_inst *b, uint32_t to, uint64_t *ts,
		struct strata_msg **v, bool *replayed)
{
	struct strata_node *n = r->m.node;
	uint32_t self = strata_node_id(n);
	struct reg_inst *i = b->i;
	*replayed = false;
	switch (byz_behaviour(r)) {
	case STRATA_BYZ_FORGE:
		*ts = i->cur.ts + 1 + strata_random_below(n, 1000);
		*v = made_up("forged", self, to, *ts);
		forge_write(r, b, *ts);
		return true;
	case STRATA_BYZ_REPLAY:
		*ts = b->old.ts;
		*v = b->old.v;
		if (*v)
			strata_msg_ref(*v);
		*replayed = true;
		return true;
	case STRATA_BYZ_EQUIVOCATE:
		if (to % 2 == 1)
			return false;
		*ts = i->cur.ts ? i->cur.ts : 1;
		*v = made_up("equivocated", self, to, *ts);
		return true;
	default:
		return false;
	}
}

/* ---- shared by the plain (unsigned) quorum registers, bmq and bql ---- */

/* Answers a READ with this replica's (ts, v), or with a lie when this node is Byzantine. */
void byz_send_value(struct reg_mod *r, struct reg_inst *i, struct byz_inst *b, uint32_t to,
		       uint64_t rid)
{
	uint64_t ts = i->cur.ts;
	struct strata_msg *v = i->cur.v, *lie = NULL;
	bool replayed;
	if (byz_answer(r, b, to, &ts, &lie, &replayed))
		v = lie;
	struct strata_wr w;
	byz_begin(&w, r, i, REG_MSG_VALUE, rid, BYZ_SUB_PLAIN);
	strata_wr_u64(&w, ts);
	byz_wr_val(&w, ts ? v : NULL);
	byz_send(r, i, to, &w);
	if (lie)
		strata_msg_unref(lie);
}

/* Starts a client operation: WRITE (ts, v) to all, or READ from all. */
void byz_plain_start(struct reg_mod *r, struct reg_inst *i)
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
		reg_phase(i, BYZ_PH_WRITE);
		byz_begin(&w, r, i, REG_MSG_WRITE, i->rid, BYZ_SUB_PLAIN);
		strata_wr_u64(&w, i->wts);
		byz_wr_val(&w, i->op->val);
		byz_send(r, i, 0, &w);
		return;
	}
	if (byz_read_begin(r, i, b) != 0) {
		reg_complete(r, i, STRATA_ENOMEM, NULL);
		return;
	}
	reg_phase(i, BYZ_PH_READ);
	byz_begin(&w, r, i, REG_MSG_READ, i->rid, BYZ_SUB_PLAIN);
	byz_send(r, i, 0, &w);
}
