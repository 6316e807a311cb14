/* Sends the perfect links refused, owed to the peer and sent again in order (links.h,
 * "Sends the links refused").
 *
 * The perfect links queue at most `[links] backlog_bytes` per peer; beyond it strata_pl_send
 * returns STRATA_EFULL, and that message is one the peer never gets: outside the perfect-links
 * model (PL1 reliable delivery), which every algorithm above assumes. A module that does not
 * repeat its messages keeps what was refused and sends it again when the backlog drains. This
 * file is that mechanism, shared by every such module, in two forms:
 *
 *   numbered: next[q] is the first of the module's numbered messages to q the links have not
 *             taken; the module rebuilds message k on demand (ops->item). Memory: next[].
 *   queued:   a FIFO per peer of references to the refused messages, at most cap_msgs and
 *             cap_bytes of payload (the module states why its caps suffice); a message beyond
 *             them is dropped and counted.
 *
 * Order: a new message to a peer that is owed earlier ones is owed behind them, so a peer gets
 * a module's messages in the order it sent them, as with the links alone. The first try is a
 * plain strata_pl_send (a refusal counts in send_full); a retry first asks strata_pl_room, so
 * it does not count again on every tick. The timer ticks
 * every retransmit_min_ms while anything is owed (the links drain at the pace of the acks). */
#include <stdlib.h>

#include "core/assert.h"
#include "core/config.h"
#include "core/error.h"
#include "links/links.h"

struct owed_entry {
	struct strata_msg *msg;
	uint64_t instance;
};

/* Queued mode: the messages owed to one peer, oldest first. */
struct owed_q {
	struct owed_entry *e;
	size_t head, len, cap;
	uint64_t bytes;
};

struct strata_pl_owed {
	struct strata_module *m;
	const struct strata_pl_owed_ops *ops; /* NULL: queued mode */
	uint32_t n, self;
	uint64_t *next;   /* [n + 1], numbered mode */
	struct owed_q *q; /* [n + 1], queued mode */
	size_t cap_msgs;
	uint64_t cap_bytes;
	struct strata_timer tick;
	uint64_t refused, resent, dropped;
	bool lossy; /* TEST ONLY: strata_pl_owed_test_lossy */
};

struct strata_pl_owed *strata_pl_owed_new(struct strata_node *n, struct strata_module *m,
					  uint64_t token, const struct strata_pl_owed_ops *ops,
					  size_t cap_msgs, uint64_t cap_bytes)
{
	STRATA_ASSERT(n && m);
	STRATA_ASSERT(ops ? ops->item != NULL : cap_msgs > 0 && cap_bytes > 0);
	struct strata_pl_owed *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->m = m;
	o->ops = ops;
	o->n = strata_node_n(n);
	o->self = strata_node_id(n);
	o->cap_msgs = cap_msgs;
	o->cap_bytes = cap_bytes;
	if (ops)
		o->next = calloc(o->n + 1, sizeof(*o->next));
	else
		o->q = calloc(o->n + 1, sizeof(*o->q));
	if (!o->next && !o->q) {
		free(o);
		return NULL;
	}
	for (uint32_t p = 0; ops && p <= o->n; p++)
		o->next[p] = 1;
	strata_timer_init(&o->tick, m, token, 0);
	return o;
}

void strata_pl_owed_free(struct strata_pl_owed *o)
{
	if (!o)
		return;
	if (strata_timer_armed(&o->tick))
		strata_timer_disarm(o->m->node, &o->tick);
	for (uint32_t p = 0; o->q && p <= o->n; p++) {
		struct owed_q *q = &o->q[p];
		for (size_t i = 0; i < q->len; i++)
			strata_msg_unref(q->e[(q->head + i) % q->cap].msg);
		free(q->e);
	}
	free(o->q);
	free(o->next);
	free(o);
}

static void arm(struct strata_pl_owed *o)
{
	struct strata_node *n = o->m->node;
	if (!strata_timer_armed(&o->tick))
		strata_timer_arm_in(n, &o->tick,
				    (uint64_t)strata_node_config(n)->retransmit_min_ms * 1000);
}

/* Appends to q's FIFO, growing it up to cap_msgs. */
static bool q_push(struct strata_pl_owed *o, struct owed_q *q, uint64_t instance,
		   struct strata_msg *msg)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		if (cap > o->cap_msgs)
			cap = o->cap_msgs;
		struct owed_entry *e = malloc(cap * sizeof(*e));
		if (!e)
			return false;
		for (size_t i = 0; i < q->len; i++)
			e[i] = q->e[(q->head + i) % q->cap];
		free(q->e);
		q->e = e;
		q->cap = cap;
		q->head = 0;
	}
	q->e[(q->head + q->len) % q->cap] = (struct owed_entry){ strata_msg_ref(msg), instance };
	q->len++;
	q->bytes += msg->len;
	return true;
}

static void q_pop(struct owed_q *q)
{
	struct owed_entry *e = &q->e[q->head];
	q->bytes -= e->msg->len;
	strata_msg_unref(e->msg);
	q->head = (q->head + 1) % q->cap;
	q->len--;
}

int strata_pl_owed_send(struct strata_pl_owed *o, uint32_t to, uint64_t instance,
			struct strata_msg *msg)
{
	STRATA_ASSERT(!o->ops && msg);
	if (to < 1 || to > o->n)
		return STRATA_EINVAL;
	struct owed_q *q = &o->q[to];
	struct strata_node *n = o->m->node;
	if (to == o->self || o->lossy)
		return strata_pl_send(o->m, to, instance, msg);
	if (q->len == 0) {
		/* nothing owed before it: the links take it, or refuse it (counted in send_full) */
		int rc = strata_pl_send(o->m, to, instance, msg);
		if (rc != STRATA_EFULL)
			return rc;
	} else if (msg->len > strata_node_config(n)->max_value) {
		return STRATA_ETOOBIG;
	}
	if (q->len >= o->cap_msgs || q->bytes + msg->len > o->cap_bytes ||
	    !q_push(o, q, instance, msg)) {
		o->dropped++;
		strata_node_counters(n)->owed_dropped++;
		strata_trace(n, o->m->ops->name,
			     "send to %u refused, %zu messages (%llu bytes) owed already -> dropped",
			     to, q->len, (unsigned long long)q->bytes);
		return STRATA_EFULL;
	}
	o->refused++;
	strata_node_counters(n)->owed++;
	if (q->len == 1)
		strata_trace(n, o->m->ops->name, "send to %u refused by the links -> owed", to);
	arm(o);
	return 0;
}

void strata_pl_owed_test_lossy(struct strata_pl_owed *o)
{
	STRATA_ASSERT(o && !o->ops);
	o->lossy = true;
}

int strata_pl_owed_send_k(struct strata_pl_owed *o, uint32_t to, uint64_t k,
			  struct strata_msg *msg)
{
	STRATA_ASSERT(o->ops && msg && to >= 1 && to <= o->n);
	struct strata_node *n = o->m->node;
	bool behind = o->next[to] < k; /* earlier ones owed: it waits behind them */
	/* Nothing owed before it: the links take it, or refuse it (counted in send_full). A k
	 * below next (the module's numbers moved back, e.g. btob resumed from a checkpoint)
	 * counts from k on. */
	if (!behind && strata_pl_send(o->m, to, 0, msg) == 0) {
		o->next[to] = k + 1;
		return 0;
	}
	o->refused++;
	strata_node_counters(n)->owed++;
	if (!behind) {
		o->next[to] = k;
		strata_trace(n, o->m->ops->name, "message %llu to %u refused by the links -> owed",
			     (unsigned long long)k, to);
	}
	arm(o);
	return STRATA_EFULL;
}

/* Numbered: sends q its owed messages from next[q]; whether any is left. */
static bool flush_numbered(struct strata_pl_owed *o, uint32_t q)
{
	struct strata_node *n = o->m->node;
	for (;;) {
		bool wait = false;
		struct strata_msg *x = o->ops->item(o->m, q, o->next[q], &wait);
		if (!x)
			return wait;
		bool taken = (q == o->self || strata_pl_room(n, q, x->len)) &&
			     strata_pl_send(o->m, q, 0, x) == 0;
		strata_msg_unref(x);
		if (!taken)
			return true;
		o->next[q]++;
		o->resent++;
		strata_node_counters(n)->owed_resent++;
	}
}

/* Queued: sends q's FIFO from its head; whether any is left. */
static bool flush_queued(struct strata_pl_owed *o, uint32_t to)
{
	struct owed_q *q = &o->q[to];
	while (q->len) {
		struct owed_entry *e = &q->e[q->head];
		if (!strata_pl_room(o->m->node, to, e->msg->len))
			return true;
		int rc = strata_pl_send(o->m, to, e->instance, e->msg);
		if (rc == STRATA_EFULL)
			return true;
		if (rc == 0) {
			o->resent++;
			strata_node_counters(o->m->node)->owed_resent++;
		}
		q_pop(q); /* taken, or refused for good (too big, out of memory) */
	}
	return false;
}

void strata_pl_owed_flush(struct strata_pl_owed *o)
{
	bool left = false;
	for (uint32_t q = 1; q <= o->n; q++) {
		if (o->ops && o->ops->others_only && q == o->self)
			continue;
		left |= o->ops ? flush_numbered(o, q) : flush_queued(o, q);
	}
	if (left)
		arm(o);
}

uint64_t strata_pl_owed_next(const struct strata_pl_owed *o, uint32_t q)
{
	STRATA_ASSERT(o->ops && q <= o->n);
	return o->next[q];
}

void strata_pl_owed_raise(struct strata_pl_owed *o, uint32_t q, uint64_t k)
{
	STRATA_ASSERT(o->ops && q <= o->n);
	if (o->next[q] < k)
		o->next[q] = k;
}

void strata_pl_owed_reset(struct strata_pl_owed *o, uint64_t first)
{
	STRATA_ASSERT(o->ops);
	for (uint32_t q = 0; q <= o->n; q++)
		o->next[q] = first;
}

void strata_pl_owed_counts(const struct strata_pl_owed *o, struct strata_pl_owed_counts *c)
{
	*c = (struct strata_pl_owed_counts){ .refused = o->refused, .resent = o->resent,
					     .dropped = o->dropped };
	for (uint32_t q = 1; o->q && q <= o->n; q++) {
		c->queued_msgs += o->q[q].len;
		c->queued_bytes += o->q[q].bytes;
	}
}
