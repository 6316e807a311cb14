/* The node: module table, FIFO event queue, timer heap, Lamport clock and the turn-batch
 * structure (inputs -> drain queue -> turn-end events -> pack frames -> sync stable storage ->
 * release the held datagrams and outputs). See node.h.
 *
 * The outbox: while a batch is open, every datagram and every output is copied into one FIFO,
 * tagged with the batch's ticket. A batch's items leave when the sync covering the batch
 * completes (at once with env.sync, later with env.sync_async), in the order they were
 * produced, batches in order. Its size is what arrived during one sync; a runtime bounds it
 * with back-pressure (strata_node_held_bytes), and counters.held_max records the peak.
 *
 * The early class (strata_node_send_datagram_early) bypasses the outbox: such a datagram goes to
 * the runtime at once, inside the batch, before the batch's sync and before earlier batches'
 * held items. Only a datagram whose content promises nothing about this node's unsynced state
 * may take it (node.h states the rule; the link layer enforces its part: only frames queued as
 * early, and no acknowledgement of frames delivered since the last completed sync). Everything else keeps persist before send and before reply. */
#include "core/node.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "crypto/crypto.h"

#define NODE_MAX_MODULES 64
/* A cascade of more queued events than this from one external input is a bug (an event loop
 * between modules), not load: loads are bounded by windows and tables further down. */
#define NODE_QUEUE_MAX (1u << 22)

/* A queued event with room for its typed body; the body pointer is set when it is handled
 * (the queue's storage moves when it grows). */
struct node_qent {
	struct strata_event ev;
	_Alignas(max_align_t) unsigned char body[STRATA_EV_BODY_MAX];
};

/* Rounds of turn-end events in one batch (a module may ask again from its TURN_END handler);
 * more is an endless loop between modules, a bug. */
#define NODE_TURN_END_ROUNDS 1024

struct node_queue {
	struct node_qent *ev;
	size_t head, len, cap;
};

/* One datagram or output held until its batch is durable; buf owns the copied bytes. */
struct held_chunk;

struct held {
	uint64_t ticket;
	bool is_dgram;
	uint32_t to;
	struct strata_output o; /* data, vc and text point into buf */
	uint8_t *buf;
	struct held_chunk *chunk; /* where buf was carved from (NULL: buf is malloc'd alone) */
	size_t len;             /* datagram length */
};

struct outbox {
	struct held *v;
	size_t head, len, cap;
	size_t bytes;
	struct held_chunk *cur; /* the chunk new held bytes are carved from */
};

struct strata_node {
	const struct strata_config *cfg;
	struct strata_env env;
	uint32_t id;
	uint64_t incarnation;
	bool trace_on;
	bool in_turn;       /* a handler (or a release) runs: the runtime must not re-enter */
	bool batch_open;    /* inside a turn-batch */
	bool batch_explicit;/* opened by strata_node_batch_begin (else by one input) */
	bool failed; /* stable storage failed: the node has stopped */
	uint64_t batch_id;  /* ticket of the current (or last) batch */
	uint64_t synced_id; /* every batch <= synced_id is durable and released */
	bool early_unflushed; /* early datagrams handed to env.send, env.send_flush not yet called */
	struct outbox out;
	struct strata_module *turn_end[NODE_MAX_MODULES];
	size_t nturn_end;
	enum strata_byz byz;
	uint8_t *sk; /* secure memory, STRATA_SK_LEN */
	uint8_t *coin; /* secure memory, 32 bytes, or NULL: the threshold coin share */

	struct strata_module *modules[NODE_MAX_MODULES];
	size_t nmodules;
	struct strata_module *by_wire[256];

	struct node_queue q;
	struct node_qent cur; /* the event being handled */

	struct strata_timer **heap;
	size_t heap_len, heap_cap;
	uint64_t wake_reported;

	uint64_t lamport;
	struct strata_counters counters;
	const struct strata_transport_ops *tops;
	void *transport; /* the link layer's state, owned (tops->destroy) */
	const uint8_t *given_link_keys; /* strata_node_opts.link_keys, only during creation */

	strata_module_factory factory;
	void *factory_arg;
	bool started, recovering, creating;

	struct strata_module *roles[STRATA_ROLE_COUNT];
	enum strata_peer_state peer_state[STRATA_MAX_NODES + 1];
	uint32_t leader;
};

static void outbox_discard(struct strata_node *n);

const char *strata_peer_state_name(enum strata_peer_state s)
{
	switch (s) {
	case STRATA_PEER_ALIVE: return "alive";
	case STRATA_PEER_SUSPECTED: return "suspected";
	case STRATA_PEER_CRASHED: return "crashed";
	}
	return "unknown";
}

/* ---- construction ---- */

struct strata_node *strata_node_new(const struct strata_node_opts *o, char *err, size_t errlen)
{
	STRATA_ASSERT(o && o->cfg && o->env && o->secret_key && o->transport);
	if (o->id < 1 || o->id > o->cfg->n) {
		snprintf(err, errlen, "node id %u is not in the config (1..%u)", o->id, o->cfg->n);
		return NULL;
	}
	if (o->incarnation == 0) {
		snprintf(err, errlen, "incarnation must be positive");
		return NULL;
	}
	struct strata_node *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n->cfg = o->cfg;
	n->env = *o->env;
	n->id = o->id;
	n->incarnation = o->incarnation;
	n->trace_on = o->trace;
	n->byz = o->byz;
	n->wake_reported = UINT64_MAX;
	n->sk = strata_secure_alloc(STRATA_SK_LEN);
	if (!n->sk) {
		snprintf(err, errlen, "out of secure memory");
		free(n);
		return NULL;
	}
	memcpy(n->sk, o->secret_key, STRATA_SK_LEN);
	if (o->coin_share) {
		n->coin = strata_secure_alloc(32);
		if (!n->coin) {
			snprintf(err, errlen, "out of secure memory");
			strata_secure_free(n->sk);
			free(n);
			return NULL;
		}
		memcpy(n->coin, o->coin_share, 32);
	}
	n->tops = o->transport;
	n->given_link_keys = o->link_keys;
	n->transport = n->tops->create(n, err, errlen);
	n->given_link_keys = NULL;
	if (!n->transport) {
		if (n->coin)
			strata_secure_free(n->coin);
		strata_secure_free(n->sk);
		free(n);
		return NULL;
	}
	return n;
}

void strata_node_free(struct strata_node *n)
{
	if (!n)
		return;
	/* Empty the timer heap first: modules free the memory their timers live in, and nothing
	 * may touch the heap after that. Later disarms are no-ops. */
	for (size_t i = 0; i < n->heap_len; i++)
		n->heap[i]->heap_idx = SIZE_MAX;
	n->heap_len = 0;
	for (size_t i = n->nmodules; i-- > 0;) {
		struct strata_module *m = n->modules[i];
		if (m->ops->destroy)
			m->ops->destroy(m);
	}
	while (n->q.len) {
		struct strata_event *e = &n->q.ev[n->q.head].ev;
		strata_msg_unref(e->msg);
		n->q.head = (n->q.head + 1) % n->q.cap;
		n->q.len--;
	}
	free(n->q.ev);
	outbox_discard(n);
	free(n->out.v);
	free(n->out.cur); /* every item left: nothing is carved from it */
	n->tops->destroy(n->transport);
	free(n->heap);
	strata_secure_free(n->sk);
	if (n->coin)
		strata_secure_free(n->coin);
	free(n);
}

void strata_node_add_module(struct strata_node *n, struct strata_module *m,
			    const struct strata_module_ops *ops, uint16_t wire_id)
{
	STRATA_ASSERT(n && m && ops && ops->name && ops->handle);
	STRATA_ASSERT(n->nmodules < NODE_MAX_MODULES);
	STRATA_ASSERT(wire_id < 256);
	STRATA_ASSERT(wire_id == 0 || n->by_wire[wire_id] == NULL);
	m->ops = ops;
	m->node = n;
	m->wire_id = wire_id;
	m->nsubs = 0;
	n->modules[n->nmodules++] = m;
	if (wire_id)
		n->by_wire[wire_id] = m;
	/* Created after start (lazily): its INIT runs before the input that created it. */
	if (n->started)
		strata_raise(n, m, STRATA_EV_INIT, 0, 0, n->recovering ? 1 : 0, NULL);
}

void strata_node_set_factory(struct strata_node *n, strata_module_factory f, void *arg)
{
	n->factory = f;
	n->factory_arg = arg;
}

static struct strata_module *node_create(struct strata_node *n, const char *name,
					 uint16_t wire_id)
{
	/* A constructor may look its lower modules up; it never needs the factory for itself. */
	if (!n->factory || n->creating || n->failed)
		return NULL;
	n->creating = true;
	struct strata_module *m = n->factory(n, name, wire_id, n->factory_arg);
	n->creating = false;
	return m;
}

struct strata_module *strata_node_module_get(struct strata_node *n, const char *name)
{
	struct strata_module *m = strata_node_module_by_name(n, name);
	return m ? m : node_create(n, name, 0);
}

struct strata_module *strata_node_module_get_wire(struct strata_node *n, uint16_t wire_id)
{
	struct strata_module *m = strata_node_module_by_wire(n, wire_id);
	return m || wire_id == 0 ? m : node_create(n, NULL, wire_id);
}

/* A module that subscribes to the failure detector or the leader module after start (created
 * on first use) has missed the indications raised so far: it gets the current view as if it
 * had been raised now (P: CRASH of every crashed peer; <>P: SUSPECT of every suspected one;
 * leader: LEADER of the current one), queued after its INIT. */
static void subscribe_catch_up(struct strata_node *n, struct strata_module *lower,
			       struct strata_module *upper)
{
	if (lower == n->roles[STRATA_ROLE_FD]) {
		for (uint32_t q = 1; q <= n->cfg->n; q++) {
			uint16_t type = n->peer_state[q] == STRATA_PEER_CRASHED   ? STRATA_EV_CRASH
					: n->peer_state[q] == STRATA_PEER_SUSPECTED ? STRATA_EV_SUSPECT
										    : 0;
			if (type)
				strata_raise_body(n, lower, upper, type, q, 0,
						  strata_node_peer_incarnation(n, q), NULL, NULL, 0);
		}
	}
	if (lower == n->roles[STRATA_ROLE_LEADER] && n->leader)
		strata_raise_body(n, lower, upper, STRATA_EV_LEADER, n->leader, 0, 0, NULL, NULL, 0);
}

void strata_module_subscribe(struct strata_module *lower, struct strata_module *upper)
{
	STRATA_ASSERT(lower && upper && lower->nsubs < STRATA_MAX_SUBS);
	for (unsigned i = 0; i < lower->nsubs; i++)
		if (lower->subs[i] == upper)
			return;
	lower->subs[lower->nsubs++] = upper;
	struct strata_node *n = lower->node;
	if (n->started)
		subscribe_catch_up(n, lower, upper);
}

struct strata_module *strata_node_module_by_name(struct strata_node *n, const char *name)
{
	for (size_t i = 0; i < n->nmodules; i++)
		if (strcmp(n->modules[i]->ops->name, name) == 0)
			return n->modules[i];
	return NULL;
}

struct strata_module *strata_node_module_by_wire(struct strata_node *n, uint16_t wire_id)
{
	return wire_id < 256 ? n->by_wire[wire_id] : NULL;
}

size_t strata_node_module_count(const struct strata_node *n)
{
	return n->nmodules;
}

struct strata_module *strata_node_module_at(struct strata_node *n, size_t i)
{
	STRATA_ASSERT(i < n->nmodules);
	return n->modules[i];
}

/* ---- event queue ---- */

static void queue_push(struct strata_node *n, const struct strata_event *e, const void *body,
		       size_t body_len)
{
	struct node_queue *q = &n->q;
	STRATA_ASSERT(body_len <= STRATA_EV_BODY_MAX && (body || body_len == 0));
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		STRATA_ASSERT(cap <= NODE_QUEUE_MAX);
		struct node_qent *ev = malloc(cap * sizeof(*ev));
		STRATA_ASSERT(ev); /* running out of memory mid-handler cannot be recovered */
		for (size_t i = 0; i < q->len; i++)
			ev[i] = q->ev[(q->head + i) % q->cap];
		free(q->ev);
		q->ev = ev;
		q->cap = cap;
		q->head = 0;
	}
	struct node_qent *slot = &q->ev[(q->head + q->len) % q->cap];
	slot->ev = *e;
	slot->ev.body = NULL;
	slot->ev.body_len = body_len;
	if (body_len)
		memcpy(slot->body, body, body_len);
	q->len++;
}

void strata_raise_body(struct strata_node *n, struct strata_module *src, struct strata_module *dst,
		       uint16_t type, uint32_t peer, uint64_t instance, uint64_t arg,
		       struct strata_msg *msg, const void *body, size_t body_len)
{
	STRATA_ASSERT(dst && dst->node == n);
	struct strata_event e = {
		.type = type, .dst = dst, .src = src, .peer = peer, .instance = instance,
		.arg = arg, .msg = msg ? strata_msg_ref(msg) : NULL,
	};
	queue_push(n, &e, body, body_len);
}

void strata_raise(struct strata_node *n, struct strata_module *dst, uint16_t type, uint32_t peer,
		  uint64_t instance, uint64_t arg, struct strata_msg *msg)
{
	strata_raise_body(n, NULL, dst, type, peer, instance, arg, msg, NULL, 0);
}

void strata_indicate_body(struct strata_module *m, uint16_t type, uint32_t peer, uint64_t instance,
			  uint64_t arg, struct strata_msg *msg, const void *body, size_t body_len)
{
	for (unsigned i = 0; i < m->nsubs; i++)
		strata_raise_body(m->node, m, m->subs[i], type, peer, instance, arg, msg, body,
				  body_len);
}

void strata_indicate(struct strata_module *m, uint16_t type, uint32_t peer, uint64_t instance,
		     uint64_t arg, struct strata_msg *msg)
{
	strata_indicate_body(m, type, peer, instance, arg, msg, NULL, 0);
}

static void drain(struct strata_node *n)
{
	/* One entry at a time, copied out: a handler may raise events and grow the queue. Drains
	 * never nest (handlers only queue), so one scratch entry per node suffices. */
	struct node_qent *cur = &n->cur;
	while (n->q.len) {
		const struct node_qent *head = &n->q.ev[n->q.head];
		cur->ev = head->ev;
		if (head->ev.body_len)
			memcpy(cur->body, head->body, head->ev.body_len);
		n->q.head = (n->q.head + 1) % n->q.cap;
		n->q.len--;
		struct strata_event *e = &cur->ev;
		e->body = e->body_len ? cur->body : NULL;
		e->dst->ops->handle(e->dst, e);
		strata_msg_unref(e->msg);
	}
}

/* ---- timers: a binary min-heap of intrusive timers, ties broken by arming order ---- */

static bool timer_less(const struct strata_timer *a, const struct strata_timer *b)
{
	if (a->deadline_us != b->deadline_us)
		return a->deadline_us < b->deadline_us;
	/* Deterministic tie-break independent of addresses: module wire id, instance, token. */
	uint16_t wa = a->m ? a->m->wire_id : 0, wb = b->m ? b->m->wire_id : 0;
	if (wa != wb)
		return wa < wb;
	if (a->instance != b->instance)
		return a->instance < b->instance;
	return a->token < b->token;
}

static void heap_swap(struct strata_node *n, size_t i, size_t j)
{
	struct strata_timer *t = n->heap[i];
	n->heap[i] = n->heap[j];
	n->heap[j] = t;
	n->heap[i]->heap_idx = i;
	n->heap[j]->heap_idx = j;
}

static void heap_up(struct strata_node *n, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!timer_less(n->heap[i], n->heap[p]))
			break;
		heap_swap(n, i, p);
		i = p;
	}
}

static void heap_down(struct strata_node *n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n->heap_len && timer_less(n->heap[l], n->heap[m]))
			m = l;
		if (r < n->heap_len && timer_less(n->heap[r], n->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(n, i, m);
		i = m;
	}
}

void strata_timer_init(struct strata_timer *t, struct strata_module *m, uint64_t token,
		       uint64_t instance)
{
	t->deadline_us = 0;
	t->heap_idx = SIZE_MAX;
	t->m = m;
	t->token = token;
	t->instance = instance;
}

bool strata_timer_armed(const struct strata_timer *t)
{
	return t->heap_idx != SIZE_MAX;
}

void strata_timer_disarm(struct strata_node *n, struct strata_timer *t)
{
	if (t->heap_idx == SIZE_MAX)
		return;
	size_t i = t->heap_idx;
	STRATA_ASSERT(i < n->heap_len && n->heap[i] == t);
	n->heap_len--;
	if (i != n->heap_len) {
		n->heap[i] = n->heap[n->heap_len];
		n->heap[i]->heap_idx = i;
		heap_down(n, i);
		heap_up(n, i);
	}
	t->heap_idx = SIZE_MAX;
}

void strata_timer_arm(struct strata_node *n, struct strata_timer *t, uint64_t deadline_us)
{
	strata_timer_disarm(n, t);
	if (n->heap_len == n->heap_cap) {
		size_t cap = n->heap_cap ? n->heap_cap * 2 : 64;
		struct strata_timer **h = realloc(n->heap, cap * sizeof(*h));
		STRATA_ASSERT(h);
		n->heap = h;
		n->heap_cap = cap;
	}
	t->deadline_us = deadline_us;
	t->heap_idx = n->heap_len;
	n->heap[n->heap_len++] = t;
	heap_up(n, t->heap_idx);
}

void strata_timer_arm_in(struct strata_node *n, struct strata_timer *t, uint64_t delay_us)
{
	strata_timer_arm(n, t, strata_now_us(n) + delay_us);
}

/* ---- turns ---- */

static void report_wake(struct strata_node *n)
{
	uint64_t next = n->heap_len ? n->heap[0]->deadline_us : UINT64_MAX;
	if (next != n->wake_reported) {
		n->wake_reported = next;
		if (n->env.wake_at)
			n->env.wake_at(n->env.ctx, next);
	}
}

/* ---- the outbox ---- */

/* Held items' bytes are carved from chunks of HELD_CHUNK bytes, not malloc'd one by one: an
 * output or a datagram held per message of a busy node was a malloc and a free each. Items
 * leave in the order they came (outbox_release, outbox_discard), so a chunk is freed once its
 * last item has left, or, if it is still the current one, carved again from its start. An item
 * over HELD_BIG bytes is malloc'd alone. */
#define HELD_CHUNK (64u * 1024u)
#define HELD_BIG (HELD_CHUNK / 4u)
#define HELD_ALIGN 16u /* malloc's alignment: hold_output puts a u64 array first */

struct held_chunk {
	size_t refs, used;
	max_align_t data[]; /* HELD_CHUNK bytes */
};

static uint8_t *held_alloc(struct outbox *q, struct held *h, size_t n)
{
	size_t need = n ? (n + HELD_ALIGN - 1) & ~(size_t)(HELD_ALIGN - 1) : HELD_ALIGN;
	if (need > HELD_BIG || need < n) {
		h->chunk = NULL;
		uint8_t *p = malloc(n ? n : 1);
		STRATA_ASSERT(p); /* running out of memory mid-batch cannot be recovered */
		return p;
	}
	struct held_chunk *c = q->cur;
	if (!c || HELD_CHUNK - c->used < need) {
		/* An empty current chunk is carved from its start and always fits: c holds items,
		 * and is freed when the last of them leaves. */
		STRATA_ASSERT(!c || c->refs > 0);
		c = malloc(sizeof(*c) + HELD_CHUNK);
		STRATA_ASSERT(c);
		c->refs = 0;
		c->used = 0;
		q->cur = c;
	}
	uint8_t *p = (uint8_t *)c->data + c->used;
	c->used += need;
	c->refs++;
	h->chunk = c;
	return p;
}

static void held_free(struct outbox *q, struct held *h)
{
	struct held_chunk *c = h->chunk;
	if (!c) {
		free(h->buf);
	} else if (--c->refs == 0) {
		if (c == q->cur)
			c->used = 0; /* empty: carved again from its start */
		else
			free(c);
	}
	h->buf = NULL;
	h->chunk = NULL;
}

static struct held *outbox_push(struct strata_node *n)
{
	struct outbox *q = &n->out;
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct held *v = malloc(cap * sizeof(*v));
		STRATA_ASSERT(v); /* running out of memory mid-batch cannot be recovered */
		for (size_t i = 0; i < q->len; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	struct held *h = &q->v[(q->head + q->len) % q->cap];
	q->len++;
	memset(h, 0, sizeof(*h));
	h->ticket = n->batch_id;
	return h;
}

static void outbox_account(struct strata_node *n, size_t bytes)
{
	n->out.bytes += bytes;
	if (n->out.bytes > n->counters.held_max)
		n->counters.held_max = n->out.bytes;
}

static void hold_datagram(struct strata_node *n, uint32_t to, const uint8_t *buf, size_t len)
{
	struct held *h = outbox_push(n);
	h->is_dgram = true;
	h->to = to;
	h->len = len;
	h->buf = held_alloc(&n->out, h, len);
	if (len)
		memcpy(h->buf, buf, len);
	outbox_account(n, len);
}

static void hold_output(struct strata_node *n, const struct strata_output *o)
{
	size_t tlen = o->text ? strlen(o->text) + 1 : 0;
	size_t vlen = o->vc_len * sizeof(uint64_t);
	size_t slen = o->sig ? o->sig_len : 0;
	size_t total = vlen + o->len + tlen + slen;
	struct held *h = outbox_push(n);
	h->o = *o;
	h->buf = held_alloc(&n->out, h, total);
	uint8_t *p = h->buf;
	/* vc first: held_alloc's alignment (malloc's) suits the u64 array */
	if (vlen) {
		memcpy(p, o->vc, vlen);
		h->o.vc = (const uint64_t *)(void *)p;
		p += vlen;
	}
	if (o->len) {
		memcpy(p, o->data, o->len);
		h->o.data = p;
		p += o->len;
	}
	if (tlen) {
		memcpy(p, o->text, tlen);
		h->o.text = (const char *)p;
		p += tlen;
	}
	if (slen) {
		memcpy(p, o->sig, slen);
		h->o.sig = p;
	}
	outbox_account(n, total + sizeof(*h));
}

/* Releases every held item of batches <= ticket, in order. */
static void outbox_release(struct strata_node *n, uint64_t ticket)
{
	struct outbox *q = &n->out;
	bool was = n->in_turn;
	bool sent = false;
	n->in_turn = true; /* output callbacks must not re-enter the node */
	while (q->len && q->v[q->head].ticket <= ticket) {
		struct held h = q->v[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		if (h.is_dgram) {
			n->env.send(n->env.ctx, h.to, h.buf, h.len);
			q->bytes -= h.len;
			sent = true;
		} else {
			if (n->env.output)
				n->env.output(n->env.ctx, &h.o);
			q->bytes -= (h.o.vc_len * sizeof(uint64_t) + h.o.len +
				     (h.o.text ? strlen(h.o.text) + 1 : 0) +
				     (h.o.sig ? h.o.sig_len : 0) + sizeof(h));
		}
		held_free(q, &h);
	}
	if (sent && n->env.send_flush)
		n->env.send_flush(n->env.ctx);
	if (ticket > n->synced_id)
		n->synced_id = ticket;
	n->in_turn = was;
}

static void outbox_discard(struct strata_node *n)
{
	struct outbox *q = &n->out;
	while (q->len) {
		held_free(q, &q->v[q->head]);
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	q->bytes = 0;
}

size_t strata_node_held_bytes(const struct strata_node *n)
{
	return n->out.bytes;
}

size_t strata_node_batches_unsynced(const struct strata_node *n)
{
	return (size_t)(n->batch_id - n->synced_id) - (n->batch_open ? 1u : 0u);
}

/* ---- turns and turn-batches ---- */

/* Persist before send failed: what is held may depend on state that is not durable, so nothing
 * more goes out, and the node stops (fail-stop on a storage failure, as a crash-recovery process
 * must: its next life recovers what was synced). */
static void node_fail(struct strata_node *n)
{
	n->counters.store_errors++;
	n->failed = true;
	outbox_discard(n);
	struct strata_output o = {
		.kind = STRATA_OUT_EVENT,
		.text = "fatal: stable storage failed to sync; the node stops",
	};
	bool was = n->in_turn;
	n->in_turn = true;
	if (n->env.output)
		n->env.output(n->env.ctx, &o);
	n->in_turn = was;
}

static void batch_open(struct strata_node *n, bool explicit_)
{
	n->batch_open = true;
	n->batch_explicit = explicit_;
	n->batch_id++;
}

static void batch_close(struct strata_node *n)
{
	STRATA_ASSERT(n->batch_open && !n->in_turn);
	if (n->failed) { /* stopped meanwhile (a background sync failed) */
		n->batch_open = false;
		n->nturn_end = 0;
		outbox_discard(n);
		return;
	}
	n->in_turn = true;
	drain(n);
	/* upon the batch's queue drained: TURN_END to every module that asked, until none asks */
	for (unsigned round = 0; n->nturn_end; round++) {
		STRATA_ASSERT(round < NODE_TURN_END_ROUNDS);
		size_t k = n->nturn_end;
		struct strata_module *mods[NODE_MAX_MODULES];
		memcpy(mods, n->turn_end, k * sizeof(mods[0]));
		n->nturn_end = 0;
		for (size_t i = 0; i < k; i++)
			strata_raise(n, mods[i], STRATA_EV_TURN_END, 0, 0, 0, NULL);
		drain(n);
	}
	/* The transport (link layer) packs the batch's frames into datagrams (held in the outbox,
	 * except the early class, which goes now: before this batch's sync starts). */
	n->tops->flush(n->transport);
	if (n->early_unflushed) {
		n->early_unflushed = false;
		if (n->env.send_flush)
			n->env.send_flush(n->env.ctx);
	}
	n->in_turn = false;
	n->batch_open = false;
	n->counters.batches++;
	uint64_t ticket = n->batch_id;
	if (n->env.sync_async) {
		int rc = n->env.sync_async(n->env.ctx, ticket);
		if (rc < 0)
			node_fail(n);
		else if (rc > 0)
			outbox_release(n, ticket);
	} else if (n->env.sync && n->env.sync(n->env.ctx) != 0) {
		node_fail(n);
	} else {
		outbox_release(n, ticket);
	}
	if (!n->failed)
		report_wake(n);
}

void strata_node_synced(struct strata_node *n, uint64_t ticket, int rc)
{
	STRATA_ASSERT(!n->in_turn);
	if (n->failed)
		return;
	if (rc != 0) {
		node_fail(n);
		return;
	}
	STRATA_ASSERT(ticket <= n->batch_id);
	outbox_release(n, ticket);
}

void strata_node_batch_begin(struct strata_node *n)
{
	STRATA_ASSERT(!n->in_turn && !n->batch_open); /* not nested */
	if (n->failed)
		return;
	batch_open(n, true);
}

void strata_node_batch_end(struct strata_node *n)
{
	STRATA_ASSERT(!n->in_turn);
	if (!n->batch_open)
		return; /* failed meanwhile, or never opened */
	batch_close(n);
}

void strata_node_at_turn_end(struct strata_module *m)
{
	struct strata_node *n = m->node;
	STRATA_ASSERT(n->batch_open);
	for (size_t i = 0; i < n->nturn_end; i++)
		if (n->turn_end[i] == m)
			return;
	STRATA_ASSERT(n->nturn_end < NODE_MAX_MODULES);
	n->turn_end[n->nturn_end++] = m;
}

/* One input: its handler and the queue it causes; a batch of its own unless bracketed. */
static void turn_begin(struct strata_node *n)
{
	STRATA_ASSERT(!n->in_turn); /* runtimes must not re-enter the node */
	if (!n->batch_open)
		batch_open(n, false);
	n->in_turn = true;
}

static void turn_end(struct strata_node *n)
{
	drain(n);
	n->in_turn = false;
	if (!n->batch_explicit)
		batch_close(n);
	else
		report_wake(n);
}

void strata_node_start(struct strata_node *n, bool recovering)
{
	if (n->failed)
		return;
	turn_begin(n);
	n->started = true;
	n->recovering = recovering;
	for (size_t i = 0; i < n->nmodules; i++)
		strata_raise(n, n->modules[i], STRATA_EV_INIT, 0, 0, recovering ? 1 : 0, NULL);
	turn_end(n);
}

void strata_node_recv(struct strata_node *n, const uint8_t *buf, size_t len)
{
	if (n->failed)
		return;
	turn_begin(n);
	n->tops->recv(n->transport, buf, len);
	turn_end(n);
}

void strata_node_recv_from(struct strata_node *n, const uint8_t *buf, size_t len, uint32_t from)
{
	if (n->failed)
		return;
	turn_begin(n);
	if (n->tops->recv_from)
		n->tops->recv_from(n->transport, buf, len, from);
	else
		n->tops->recv(n->transport, buf, len);
	turn_end(n);
}

void strata_node_tick(struct strata_node *n)
{
	if (n->failed)
		return;
	turn_begin(n);
	uint64_t now = strata_now_us(n);
	/* Fire every expired timer, one handler at a time, draining the queue after each so that
	 * timers see the effects of earlier ones exactly as if they had fired in separate turns. */
	while (n->heap_len && n->heap[0]->deadline_us <= now) {
		struct strata_timer *t = n->heap[0];
		strata_timer_disarm(n, t);
		if (t->m == NULL) {
			n->tops->timer(n->transport, t->token, t->instance);
		} else {
			struct strata_event e = {
				.type = STRATA_EV_TIMER, .dst = t->m, .instance = t->instance,
				.arg = t->token,
			};
			t->m->ops->handle(t->m, &e);
		}
		drain(n);
	}
	turn_end(n);
}

void strata_node_request(struct strata_node *n, const char *module, const struct strata_request *r)
{
	if (n->failed) {
		strata_node_reply(n, NULL, r->id, STRATA_EIO, 0, NULL, 0,
				  "the node stopped: stable storage failed");
		return;
	}
	turn_begin(n);
	struct strata_module *m = strata_node_module_get(n, module);
	/* A module created just now (and its lower modules) run their INIT first. */
	drain(n);
	if (!m || !m->ops->request) {
		char text[160];
		snprintf(text, sizeof(text),
			 "no module '%s' on this node: unknown, or not runnable with this cluster's "
			 "model and size (see `strata algos`)",
			 module);
		strata_node_reply(n, NULL, r->id, STRATA_ENOENT, 0, NULL, 0, text);
	} else {
		int rc = m->ops->request(m, r);
		if (rc != 0)
			strata_node_reply(n, m, r->id, rc, 0, NULL, 0, NULL);
	}
	turn_end(n);
}

/* ---- environment access ---- */

uint64_t strata_now_us(const struct strata_node *n)
{
	return n->env.now_us(n->env.ctx);
}

uint64_t strata_random(struct strata_node *n)
{
	return n->env.random(n->env.ctx);
}

uint64_t strata_random_below(struct strata_node *n, uint64_t bound)
{
	STRATA_ASSERT(bound > 0);
	/* Rejection sampling keeps the distribution uniform. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
	uint64_t r;
	do
		r = strata_random(n);
	while (r >= limit);
	return r % bound;
}

int strata_store(struct strata_node *n, const char *key, const void *val, size_t len)
{
	if (!n->env.store)
		return STRATA_EIO;
	int rc = n->env.store(n->env.ctx, key, val, len);
	if (rc)
		n->counters.store_errors++;
	else
		n->counters.stores++;
	return rc;
}

int strata_remove(struct strata_node *n, const char *key)
{
	if (!n->env.remove)
		return STRATA_EIO;
	int rc = n->env.remove(n->env.ctx, key);
	if (rc)
		n->counters.store_errors++;
	else
		n->counters.stores++;
	return rc;
}

int strata_retrieve(struct strata_node *n, const char *key, struct strata_msg **out)
{
	*out = NULL;
	if (!n->env.retrieve)
		return STRATA_EIO;
	return n->env.retrieve(n->env.ctx, key, out);
}

void strata_output(struct strata_node *n, const struct strata_output *o)
{
	if (n->batch_open && !n->failed)
		hold_output(n, o); /* leaves once the batch is durable */
	else if (n->env.output)
		n->env.output(n->env.ctx, o);
}

bool strata_node_deliveries_wanted(const struct strata_node *n, const char *module)
{
	return !n->env.deliveries_wanted || n->env.deliveries_wanted(n->env.ctx, module);
}

void strata_node_reply(struct strata_node *n, struct strata_module *m, uint64_t req_id, int status,
		       uint64_t flags, const void *data, size_t len, const char *text)
{
	struct strata_output o = {
		.kind = STRATA_OUT_REPLY,
		.module = m ? m->wire_id : 0,
		.module_name = m ? m->ops->name : NULL,
		.a = req_id,
		.b = flags,
		.status = status,
		.data = data,
		.len = len,
		.text = text,
	};
	strata_output(n, &o);
}

uint32_t strata_node_id(const struct strata_node *n) { return n->id; }
uint32_t strata_node_n(const struct strata_node *n) { return n->cfg->n; }
uint64_t strata_node_incarnation(const struct strata_node *n) { return n->incarnation; }
const struct strata_config *strata_node_config(const struct strata_node *n) { return n->cfg; }
struct strata_counters *strata_node_counters(struct strata_node *n) { return &n->counters; }
const struct strata_env *strata_node_env(const struct strata_node *n) { return &n->env; }
void *strata_node_transport(const struct strata_node *n, const struct strata_transport_ops *ops)
{
	return n->tops == ops ? n->transport : NULL;
}
uint64_t strata_node_lamport(const struct strata_node *n) { return n->lamport; }
enum strata_byz strata_node_byz(const struct strata_node *n) { return n->byz; }
bool strata_node_failed(const struct strata_node *n) { return n->failed; }

static const char *const byz_names[STRATA_BYZ_COUNT] = {
	"none", "silent", "equivocate", "replay", "forge", "badsig", "lie-state", "complain", "old-epoch",
};

const char *strata_byz_name(enum strata_byz b)
{
	return (unsigned)b < STRATA_BYZ_COUNT ? byz_names[b] : "unknown";
}

int strata_byz_parse(const char *s)
{
	for (int i = 0; i < STRATA_BYZ_COUNT; i++)
		if (strcmp(s, byz_names[i]) == 0)
			return i;
	return -1;
}
const uint8_t *strata_node_secret_key(const struct strata_node *n) { return n->sk; }
const uint8_t *strata_node_coin_share(const struct strata_node *n) { return n->coin; }
const uint8_t *strata_node_given_link_keys(const struct strata_node *n) { return n->given_link_keys; }

const uint8_t *strata_node_public_key(const struct strata_node *n, uint32_t id)
{
	STRATA_ASSERT(id >= 1 && id <= n->cfg->n);
	return n->cfg->nodes[id].public_key;
}

uint64_t strata_lamport_send(struct strata_node *n)
{
	return ++n->lamport;
}

void strata_lamport_recv(struct strata_node *n, uint64_t ts)
{
	n->lamport = (ts > n->lamport ? ts : n->lamport) + 1;
}

enum strata_peer_state strata_node_peer_state(const struct strata_node *n, uint32_t peer)
{
	STRATA_ASSERT(peer >= 1 && peer <= n->cfg->n);
	return n->peer_state[peer];
}

uint64_t strata_node_peer_incarnation(const struct strata_node *n, uint32_t peer)
{
	if (peer == n->id)
		return n->incarnation;
	return n->tops->peer_incarnation(n->transport, peer);
}

uint32_t strata_node_leader(const struct strata_node *n)
{
	return n->leader;
}

void strata_node_set_peer_state(struct strata_node *n, struct strata_module *by, uint32_t peer,
				enum strata_peer_state s)
{
	STRATA_ASSERT(peer >= 1 && peer <= n->cfg->n);
	if (n->peer_state[peer] == s)
		return;
	n->peer_state[peer] = s;
	strata_trace(n, by ? by->ops->name : "node", "view changed -> peer %u %s", peer,
		     strata_peer_state_name(s));
	struct strata_output o = {
		.kind = STRATA_OUT_FD,
		.module = by ? by->wire_id : 0,
		.module_name = by ? by->ops->name : NULL,
		.peer = peer,
		.a = (uint64_t)s,
		.b = strata_node_peer_incarnation(n, peer),
	};
	strata_output(n, &o);
}

void strata_node_set_leader(struct strata_node *n, struct strata_module *by, uint32_t leader)
{
	if (n->leader == leader)
		return;
	n->leader = leader;
	strata_trace(n, by ? by->ops->name : "node", "leader changed -> %u", leader);
	struct strata_output o = {
		.kind = STRATA_OUT_LEADER,
		.module = by ? by->wire_id : 0,
		.module_name = by ? by->ops->name : NULL,
		.peer = leader,
	};
	strata_output(n, &o);
}

bool strata_tracing(const struct strata_node *n)
{
	return n->trace_on && n->env.trace;
}

void strata_trace(struct strata_node *n, const char *module, const char *fmt, ...)
{
	if (!strata_tracing(n))
		return;
	char line[512];
	int off = snprintf(line, sizeof(line), "t=%" PRIu64 " n=%u L=%" PRIu64 " %s: ",
			   strata_now_us(n), n->id, n->lamport, module);
	if (off < 0 || (size_t)off >= sizeof(line))
		off = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	va_end(ap);
	n->env.trace(n->env.ctx, line);
}

void strata_node_bad_payload(struct strata_node *n, struct strata_module *m, uint32_t peer,
			     const char *why)
{
	n->counters.rej_payload++;
	strata_trace(n, m ? m->ops->name : "node", "bad payload from %u (%s) -> dropped", peer, why);
}


void strata_node_send_datagram(struct strata_node *n, uint32_t to, const uint8_t *buf, size_t len)
{
	if (n->batch_open || n->in_turn) {
		hold_datagram(n, to, buf, len); /* leaves once the batch is durable */
	} else {
		n->env.send(n->env.ctx, to, buf, len);
		if (n->env.send_flush)
			n->env.send_flush(n->env.ctx);
	}
}

void strata_node_send_datagram_early(struct strata_node *n, uint32_t to, const uint8_t *buf,
				     size_t len)
{
	n->counters.early_dgrams++;
	n->env.send(n->env.ctx, to, buf, len);
	if (n->batch_open || n->in_turn) {
		n->early_unflushed = true; /* flushed once the link layer has packed the batch */
	} else if (n->env.send_flush) {
		n->env.send_flush(n->env.ctx);
	}
}

uint64_t strata_node_batch_ticket(const struct strata_node *n) { return n->batch_id; }
uint64_t strata_node_synced_ticket(const struct strata_node *n) { return n->synced_id; }

void strata_node_set_role(struct strata_node *n, enum strata_role r, struct strata_module *m)
{
	STRATA_ASSERT(r < STRATA_ROLE_COUNT);
	n->roles[r] = m;
}

struct strata_module *strata_node_role(struct strata_node *n, enum strata_role r)
{
	STRATA_ASSERT(r < STRATA_ROLE_COUNT);
	return n->roles[r];
}
