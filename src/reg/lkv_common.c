/* What the two leaderless stores (lkv: last-write-wins, lkv-vc: vector-clock siblings) share:
 * checking the config and a client request against the store's limits, refusing it with a
 * reason, the table of requests a node coordinates (ids, replicas, timeout), and sending encoded
 * messages over perfect links. The protocols themselves (versions, quorums, repair) stay in
 * lkv.c and lkv_vc.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/config.h"
#include "core/error.h"
#include "links/links.h"
#include "reg/lkv.h"

int lkv_config_check(const struct strata_config *cfg, const char *name, char *err,
		     size_t errlen)
{
	if (cfg->lkv_replicas < 1 || cfg->lkv_replicas > cfg->n || cfg->lkv_r < 1 ||
	    cfg->lkv_w < 1 || cfg->lkv_r > cfg->lkv_replicas || cfg->lkv_w > cfg->lkv_replicas) {
		snprintf(err, errlen,
			 "%s: need 1 <= r, w <= replicas <= n (replicas=%u r=%u w=%u n=%u)", name,
			 cfg->lkv_replicas, cfg->lkv_r, cfg->lkv_w, cfg->n);
		return -1;
	}
	return 0;
}

int lkv_reject(struct strata_module *m, uint64_t id, int code, const char *fmt, ...)
{
	char text[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	strata_node_reply(m->node, m, id, code, 0, NULL, 0, text);
	return 0;
}

int lkv_request_check(struct strata_module *m, const struct strata_request *q,
		      const struct lkv_limits *lim, uint8_t *kind)
{
	*kind = q->op == STRATA_OP_READ ? LKV_K_GET
		: q->op == STRATA_OP_WRITE ? LKV_K_PUT
		: q->op == STRATA_OP_DELETE ? LKV_K_DEL : 0;
	if (!*kind)
		return lkv_reject(m, q->id, STRATA_EINVAL, "%s supports get (read), put (write) and del",
				  m->ops->name) - 1;
	if (q->key_len == 0)
		return lkv_reject(m, q->id, STRATA_EINVAL, "empty key") - 1;
	if (q->key_len > LKV_KEY_MAX)
		return lkv_reject(m, q->id, STRATA_EINVAL, "key of %zu bytes: at most %u",
				  q->key_len, LKV_KEY_MAX) - 1;
	if (*kind == LKV_K_PUT && q->key_len + q->value_len + lim->overhead > lim->max_value)
		return lkv_reject(m, q->id, STRATA_ETOOBIG,
				  "key + value = %zu bytes: at most %zu (max_value - %zu)",
				  q->key_len + q->value_len, lim->max_value - lim->overhead,
				  lim->overhead) - 1;
	uint32_t r = q->r ? q->r : lim->r, w = q->w ? q->w : lim->w;
	if (r > lim->replicas || w > lim->replicas)
		return lkv_reject(m, q->id, STRATA_EINVAL,
				  "r=%u w=%u: each must be at most replicas=%u", r, w,
				  lim->replicas) - 1;
	if (lim->nops >= LKV_MAX_PENDING)
		return lkv_reject(m, q->id, STRATA_EFULL,
				  "%u requests pending on this node: retry later",
				  LKV_MAX_PENDING) - 1;
	return 0;
}

struct strata_msg *lkv_wr_done(struct strata_module *m, struct strata_wr *w)
{
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(w, &err);
	if (!msg)
		strata_trace(m->node, m->ops->name, "encode failed (%s) -> message dropped",
			     strata_strerror(err));
	return msg;
}

void lkv_send_to(struct strata_module *m, struct strata_pl_owed *owed, uint32_t to,
		 struct strata_msg *msg)
{
	int rc = owed ? strata_pl_owed_send(owed, to, 0, msg) : strata_pl_send(m, to, 0, msg);
	if (rc)
		strata_trace(m->node, m->ops->name,
			     "pl send to %u failed (%s) -> left to timeout/repair", to,
			     strata_strerror(rc));
}

/* ---- the requests a node coordinates ---- */

uint64_t lkv_coord_add(struct lkv_coords *t, struct lkv_coord *c, struct strata_module *m,
		       const struct strata_request *q, uint8_t kind, const struct lkv_limits *lim,
		       uint8_t *key, const struct lkv_ring *ring, uint64_t timer_arg)
{
	STRATA_ASSERT(t->n < LKV_MAX_PENDING);
	/* Round-robin: the first free slot after the one taken last. */
	size_t slot = t->hint;
	while (t->op[slot])
		slot = (slot + 1) % LKV_MAX_PENDING;
	t->hint = (slot + 1) % LKV_MAX_PENDING;
	t->gen++;
	c->rid = t->gen * LKV_MAX_PENDING + slot;
	t->op[slot] = c;
	t->n++;
	c->req_id = q->id;
	c->kind = kind;
	c->r = q->r ? q->r : lim->r;
	c->w = q->w ? q->w : lim->w;
	memcpy(key, q->key, q->key_len);
	c->key = key;
	c->klen = q->key_len;
	uint64_t h = lkv_hash(key, q->key_len);
	c->nrep = lkv_ring_replicas(ring, h, lim->replicas, c->reps);
	strata_timer_init(&c->timer, m, timer_arg, c->rid);
	strata_timer_arm_in(m->node, &c->timer, LKV_TIMEOUT_US);
	return h;
}

struct lkv_coord *lkv_coord_find(const struct lkv_coords *t, uint64_t rid)
{
	struct lkv_coord *c = t->op[rid % LKV_MAX_PENDING];
	return c && c->rid == rid ? c : NULL;
}

int lkv_coord_rep(const struct lkv_coord *c, uint32_t id)
{
	for (unsigned i = 0; i < c->nrep; i++)
		if (c->reps[i] == id)
			return (int)i;
	return -1;
}

bool lkv_coord_ack(struct lkv_coord *c, uint32_t from, bool full)
{
	if (lkv_coord_rep(c, from) < 0 || ((c->acked | c->full) & lkv_bit(from)))
		return false;
	if (full)
		c->full |= lkv_bit(from);
	else
		c->acked |= lkv_bit(from);
	return true;
}

void lkv_coord_remove(struct lkv_coords *t, struct strata_module *m, struct lkv_coord *c)
{
	strata_timer_disarm(m->node, &c->timer);
	t->op[c->rid % LKV_MAX_PENDING] = NULL;
	t->n--;
	free(c->key);
	c->key = NULL;
}

struct strata_pl_owed *lkv_owed_new(struct strata_node *n, struct strata_module *m,
				    uint64_t token)
{
	uint64_t backlog = strata_node_config(n)->backlog_bytes;
	return strata_pl_owed_new(n, m, token, NULL, LKV_OWED_MSGS,
				  backlog > LKV_OWED_BYTES ? backlog : LKV_OWED_BYTES);
}

void lkv_send_reps(struct strata_module *m, struct strata_pl_owed *owed, const struct lkv_coord *c,
		   struct strata_msg *msg)
{
	if (!msg)
		return;
	for (unsigned i = 0; i < c->nrep; i++)
		lkv_send_to(m, owed, c->reps[i], msg);
	strata_msg_unref(msg);
}

void lkv_send_ack(struct strata_module *m, struct strata_pl_owed *owed, uint32_t to, uint8_t type,
		  uint64_t rid, int rc)
{
	struct strata_wr w;
	strata_wr_init(&w, 64);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, rid);
	strata_wr_u8(&w, rc == 0 ? 0 : 1);
	struct strata_msg *msg = lkv_wr_done(m, &w);
	if (msg) {
		lkv_send_to(m, owed, to, msg);
		strata_msg_unref(msg);
	}
}
