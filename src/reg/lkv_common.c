/* What the two leaderless stores (lkv: last-write-wins, lkv-vc: vector-clock siblings) share:
 * checking a client request against the store's limits, refusing it with a reason, and sending
 * encoded messages over perfect links. The protocols themselves stay in lkv.c and lkv_vc.c. */
#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"
#include "links/links.h"
#include "reg/lkv.h"

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

void lkv_send_to(struct strata_module *m, uint32_t to, struct strata_msg *msg)
{
	int rc = strata_pl_send(m, to, 0, msg);
	if (rc)
		strata_trace(m->node, m->ops->name,
			     "pl send to %u failed (%s) -> left to timeout/repair", to,
			     strata_strerror(rc));
}
