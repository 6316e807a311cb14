/* The register family's shared machinery: bounded per-key instance table, client requests and
 * their per-key queue, message framing, the port used by compositions, value and sub-key
 * encodings. See reg.h for the wire format and the bounds. */
#include "reg/reg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "links/links.h"


uint64_t reg_hash(const uint8_t *key, size_t len)
{
	/* FNV-1a: collisions only cost a longer probe, since keys are compared byte for byte and
	 * carried on the wire; the hash just names the instance. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint32_t reg_reader(const struct strata_config *cfg)
{
	return cfg->writer % cfg->n + 1;
}

/* ---- values ---- */

void reg_val_clear(struct reg_val *v)
{
	if (v->v)
		strata_msg_unref(v->v);
	v->v = NULL;
	v->ts = 0;
	v->wr = 0;
}

void reg_val_set(struct reg_val *dst, uint64_t ts, uint32_t wr, struct strata_msg *v)
{
	if (v)
		strata_msg_ref(v);
	reg_val_clear(dst);
	dst->ts = ts;
	dst->wr = wr;
	dst->v = v;
}

bool reg_val_newer(uint64_t ts, uint32_t wr, const struct reg_val *than)
{
	return ts > than->ts || (ts == than->ts && wr > than->wr);
}

/* ---- instance table ---- */

static void inst_release(void *ext, void *arg);

/* An instance's extension follows struct reg_inst in the same table entry. */
#define REG_EXT_OFF ((sizeof(struct reg_inst) + 15) & ~(size_t)15)

void reg_set_ext(struct reg_mod *r, size_t ext_size, void (*fini)(struct reg_mod *r, void *ext))
{
	STRATA_ASSERT(!r->tab); /* before the first instance */
	r->ext_size = ext_size;
	r->ext_fini = fini;
}

void *reg_inst_ext(struct reg_mod *r, struct reg_inst *i)
{
	STRATA_ASSERT(r->ext_size > 0);
	return (unsigned char *)i + REG_EXT_OFF;
}

struct reg_inst *reg_inst_find(struct reg_mod *r, const uint8_t *key, size_t klen)
{
	return r->tab ? strata_itab_find(r->tab, key, klen) : NULL;
}

struct reg_inst *reg_inst_get(struct reg_mod *r, const uint8_t *key, size_t klen, uint64_t hash,
			      int *rc)
{
	STRATA_ASSERT(klen > 0 && hash == reg_hash(key, klen));
	*rc = 0;
	if (!r->tab) {
		r->tab = strata_itab_new(r->name, REG_MAX_KEYS, REG_EXT_OFF + r->ext_size,
					 inst_release, r);
		if (!r->tab) {
			*rc = STRATA_ENOMEM;
			return NULL;
		}
	}
	bool created = false;
	struct reg_inst *i = strata_itab_get(r->tab, key, klen, &created, rc);
	if (!i || !created)
		return i;
	uint8_t *kc = malloc(klen);
	if (!kc) {
		strata_itab_del(r->tab, key, klen);
		*rc = STRATA_ENOMEM;
		return NULL;
	}
	memcpy(kc, key, klen);
	i->hash = hash;
	i->key = kc;
	i->klen = klen;
	i->rid = r->rid_base;
	if (r->a->load) {
		int lrc = r->a->load(r, i);
		if (lrc) {
			strata_itab_del(r->tab, key, klen);
			*rc = lrc;
			return NULL;
		}
	}
	return i;
}

/* The timer token of a client deadline (the register modules arm no other timer). */
#define REG_T_DEADLINE 1
#define REG_T_OWED 2 /* the timer that sends owed messages again (reg_send) */
/* Messages owed to one peer, at most: one answer to each phase the peer runs on an instance and
 * one request of ours per instance, REG_MAX_KEYS instances each; and REG_OWED_BYTES of payload
 * (backlog_bytes if larger). */
#define REG_OWED_MSGS (2u * REG_MAX_KEYS)
#define REG_OWED_BYTES (64u << 20)

/* Takes op off the module's list of ops with a client deadline. */
static void untime(struct reg_mod *r, struct reg_op *op)
{
	if (op->tprev)
		op->tprev->tnext = op->tnext;
	else
		r->timed = op->tnext;
	if (op->tnext)
		op->tnext->tprev = op->tprev;
	op->tprev = op->tnext = NULL;
	op->listed = false;
}

static void op_free(struct reg_mod *r, struct reg_op *op)
{
	strata_timer_disarm(r->m.node, &op->timer);
	if (op->listed)
		untime(r, op);
	if (op->val)
		strata_msg_unref(op->val);
	free(op);
}

/* The instance table's fini: releases what an instance holds (the table frees it). */
static void inst_release(void *ext, void *arg)
{
	struct reg_mod *r = arg;
	struct reg_inst *i = ext;
	if (r->ext_fini)
		r->ext_fini(r, reg_inst_ext(r, i));
	if (i->op)
		op_free(r, i->op);
	while (i->qhead) {
		struct reg_op *o = i->qhead;
		i->qhead = o->next;
		op_free(r, o);
	}
	reg_val_clear(&i->cur);
	reg_val_clear(&i->best);
	free(i->key);
}

/* ---- operations ---- */

/* Starts waiting operations while the instance is idle. A start may complete at once (a local
 * read), which calls back here: the flag keeps that iterative instead of recursive. */
static void kick(struct reg_mod *r, struct reg_inst *i, bool *running)
{
	if (*running)
		return;
	*running = true;
	while (!i->op && i->qhead) {
		struct reg_op *o = i->qhead;
		i->qhead = o->next;
		if (!i->qhead)
			i->qtail = NULL;
		i->qlen--;
		r->nqueued--;
		i->op = o;
		r->a->start(r, i);
	}
	*running = false;
}

static int enqueue(struct reg_mod *r, struct reg_inst *i, struct reg_op *o)
{
	if (i->qlen >= REG_QUEUE_PER_KEY || r->nqueued >= REG_QUEUE_MAX)
		return STRATA_EFULL;
	if (i->qtail)
		i->qtail->next = o;
	else
		i->qhead = o;
	i->qtail = o;
	i->qlen++;
	r->nqueued++;
	return 0;
}

void reg_complete(struct reg_mod *r, struct reg_inst *i, int status, const struct reg_val *val)
{
	struct reg_op *o = i->op;
	STRATA_ASSERT(o);
	i->op = NULL;
	i->phase = 0;
	bool found = status == 0 && o->kind == REG_READ && val && val->ts > 0;
	const uint8_t *data = found && val->v ? val->v->data : NULL;
	size_t len = found && val->v ? val->v->len : 0;
	struct strata_node *n = r->m.node;
	if (!o->up && o->answered) {
		strata_trace(n, r->name, "op done status=%d after its client's deadline -> no reply "
			     "(the client was told the outcome is unknown)", status);
	} else if (!o->up) {
		strata_node_reply(n, &r->m, o->id, status, found ? STRATA_REPLY_FOUND : 0, data, len,
				  status ? strata_strerror(status) : NULL);
	} else {
		struct strata_wr w;
		strata_wr_init(&w, (size_t)strata_node_config(n)->max_value + REG_WIRE_KEY_MAX + 64);
		strata_wr_i64(&w, status);
		strata_wr_u8(&w, found ? 1 : 0);
		strata_wr_bytes(&w, i->key, i->klen);
		strata_wr_bytes(&w, data, len);
		int err = 0;
		struct strata_msg *m = strata_wr_take_msg(&w, &err);
		STRATA_ASSERT(m); /* bounded by construction; ENOMEM is fatal here */
		strata_raise(n, o->up, REG_EV_DONE, 0, i->hash, o->id, m);
		strata_msg_unref(m);
	}
	op_free(r, o);
	if (strata_tracing(n))
		strata_trace(n, r->name, "op done status=%d -> next of %u waiting", status, i->qlen);
	kick(r, i, &i->kicking);
}

void reg_phase(struct reg_inst *i, uint8_t phase)
{
	i->rid++;
	i->phase = phase;
	i->replied = 0;
	i->nreplied = 0;
}

bool reg_replied(struct reg_inst *i, uint32_t from)
{
	uint64_t bit = 1ull << (from - 1);
	if (i->replied & bit)
		return false;
	i->replied |= bit;
	i->nreplied++;
	return true;
}

bool reg_quorum_reached(const struct reg_mod *r, const struct reg_inst *i, enum reg_quorum quorum)
{
	if (quorum == REG_Q_MAJORITY)
		return 2 * i->nreplied > strata_node_n(r->m.node);
	return (r->correct & ~i->replied) == 0;
}

/* Node ids set in mask, as "1,3" (or "none"). */
static void ids_text(uint64_t mask, char *out, size_t len)
{
	size_t o = 0;
	out[0] = 0;
	for (uint32_t id = 1; id <= 64 && o < len; id++)
		if (mask & (1ull << (id - 1)))
			o += (size_t)snprintf(out + o, len - o, "%s%u", o ? "," : "", id);
	if (!out[0])
		snprintf(out, len, "none");
}

static unsigned popcount64(uint64_t m)
{
	unsigned c = 0;
	for (; m; m &= m - 1)
		c++;
	return c;
}

/* upon the deadline of client operation `serial`: answer the client with STRATA_ETIMEDOUT,
 * naming the quorum the module waits for and who answered in the current phase (not who is
 * seen alive: a node can be up and still not answer). The operation itself goes on. */
static void on_deadline(struct reg_mod *r, uint64_t serial)
{
	struct reg_op *o = r->timed;
	while (o && o->serial != serial)
		o = o->tnext;
	if (!o)
		return; /* completed in the meantime */
	untime(r, o);
	o->answered = true;
	struct strata_node *n = r->m.node;
	uint32_t nn = strata_node_n(n);
	struct reg_inst *i = o->inst;
	char need[128], who[200], text[640]; /* sized for the longest of each (64 ids) */
	switch (r->need_kind) {
	case REG_NEED_MAJORITY:
		snprintf(need, sizeof need, "a majority quorum of %u of %u nodes", nn / 2 + 1, nn);
		break;
	case REG_NEED_ALL_CORRECT:
		snprintf(need, sizeof need,
			 "an answer from every node not detected as crashed (%u of %u nodes)",
			 popcount64(r->correct), nn);
		break;
	case REG_NEED_COUNT:
		snprintf(need, sizeof need, "a quorum of %u of %u nodes", r->need, nn);
		break;
	default:
		snprintf(need, sizeof need, "the quorums of its lower registers");
		break;
	}
	if (i->op != o) {
		snprintf(text, sizeof text,
			 "register '%s' at node %u needs %s: within the client's %u ms the operation "
			 "did not start, it waits behind another on this key",
			 r->name, strata_node_id(n), need, o->timeout_ms);
	} else if (r->need_kind == REG_NEED_NONE) {
		snprintf(text, sizeof text,
			 "register '%s' at node %u needs %s: no answer within the client's %u ms "
			 "(phase %u)",
			 r->name, strata_node_id(n), need, o->timeout_ms, i->phase);
	} else {
		ids_text(i->replied, who, sizeof who);
		snprintf(text, sizeof text,
			 "register '%s' at node %u needs %s: within the client's %u ms %u of %u "
			 "answered its current phase (answered: %s)",
			 r->name, strata_node_id(n), need, o->timeout_ms, i->nreplied, nn, who);
	}
	strata_trace(n, r->name, "client deadline: %s -> outcome unknown", text);
	strata_node_reply(n, &r->m, o->id, STRATA_ETIMEDOUT, 0, NULL, 0, text);
}

static int submit(struct reg_mod *r, const uint8_t *key, size_t klen, uint8_t kind, uint64_t id,
		  struct strata_module *up, const void *val, size_t vlen, uint32_t timeout_ms,
		  char *text, size_t tl)
{
	int rc;
	if (r->rid_err) {
		snprintf(text, tl, "register '%s': no phase ids for this incarnation (stable storage: "
			 "%s): operations are refused here", r->name, strata_strerror(r->rid_err));
		return r->rid_err;
	}
	struct reg_inst *i = reg_inst_get(r, key, klen, reg_hash(key, klen), &rc);
	if (!i) {
		if (rc == STRATA_EFULL)
			snprintf(text, tl, "register '%s' holds %d keys, its maximum: no new key",
				 r->name, REG_MAX_KEYS);
		else
			snprintf(text, tl, "register '%s': %s", r->name, strata_strerror(rc));
		return rc;
	}
	struct reg_op *o = calloc(1, sizeof(*o));
	if (!o) {
		snprintf(text, tl, "out of memory");
		return STRATA_ENOMEM;
	}
	strata_timer_init(&o->timer, &r->m, REG_T_DEADLINE, 0);
	o->kind = kind;
	o->id = id;
	o->up = up;
	o->writer = strata_node_id(r->m.node);
	if (kind == REG_WRITE) {
		o->val = strata_msg_new(val, vlen);
		if (!o->val) {
			free(o);
			snprintf(text, tl, "out of memory");
			return STRATA_ENOMEM;
		}
	}
	o->inst = i;
	rc = enqueue(r, i, o);
	if (rc) {
		op_free(r, o);
		snprintf(text, tl, "register '%s': %u operations already wait on this key here",
			 r->name, i->qlen);
		return rc;
	}
	if (!up && timeout_ms > 0) {
		/* Answer at 3/4 of the client's timeout, so the reply (made durable first, like
		 * every reply) reaches it before it gives up. */
		o->timeout_ms = timeout_ms;
		o->serial = ++r->next_serial;
		strata_timer_init(&o->timer, &r->m, REG_T_DEADLINE, o->serial);
		strata_timer_arm_in(r->m.node, &o->timer, (uint64_t)timeout_ms * 750);
		o->listed = true;
		o->tnext = r->timed;
		if (r->timed)
			r->timed->tprev = o;
		r->timed = o;
	}
	kick(r, i, &i->kicking);
	return 0;
}

/* Largest value for a key of klen bytes at this module: what a perfect-link message may carry
 * minus the key and the headers of every composition level. */
static size_t value_limit(const struct reg_mod *r, size_t klen)
{
	size_t max = strata_node_config(r->m.node)->max_value;
	size_t over = klen + (size_t)REG_RESERVE * (r->depth + 1);
	return max > over ? max - over : 0;
}

static int reg_request(struct strata_module *m, const struct strata_request *req)
{
	struct reg_mod *r = (struct reg_mod *)m;
	struct strata_node *n = m->node;
	const struct strata_config *cfg = strata_node_config(n);
	char text[192];
	int rc = 0;
	if (req->op != STRATA_OP_READ && req->op != STRATA_OP_WRITE) {
		rc = STRATA_EINVAL;
		snprintf(text, sizeof(text), "register '%s' supports read and write only", r->name);
	} else if (req->key_len == 0) {
		rc = STRATA_EINVAL;
		snprintf(text, sizeof(text), "register '%s': empty key", r->name);
	} else if (req->key_len > REG_KEY_MAX) {
		rc = STRATA_EINVAL;
		snprintf(text, sizeof(text), "register '%s': key of %zu bytes, the limit is %d",
			 r->name, req->key_len, REG_KEY_MAX);
	} else if (req->op == STRATA_OP_WRITE && req->value_len > value_limit(r, req->key_len)) {
		rc = STRATA_ETOOBIG;
		snprintf(text, sizeof(text),
			 "register '%s': value of %zu bytes, the limit is %zu (max_value minus key "
			 "and headers)",
			 r->name, req->value_len, value_limit(r, req->key_len));
	} else if (req->op == STRATA_OP_WRITE && r->single_writer &&
		   strata_node_id(n) != cfg->writer) {
		rc = STRATA_ESTATE;
		snprintf(text, sizeof(text), "register '%s' is single-writer: send writes to node %u",
			 r->name, cfg->writer);
	} else if (req->op == STRATA_OP_READ && r->one_reader &&
		   strata_node_id(n) != reg_reader(cfg)) {
		rc = STRATA_ESTATE;
		snprintf(text, sizeof(text), "register '%s' is (1,1): send reads to node %u",
			 r->name, reg_reader(cfg));
	} else {
		rc = submit(r, req->key, req->key_len,
			    req->op == STRATA_OP_WRITE ? REG_WRITE : REG_READ, req->id, NULL,
			    req->value, req->value_len, req->timeout_ms, text, sizeof(text));
	}
	if (rc)
		strata_node_reply(n, m, req->id, rc, 0, NULL, 0, text);
	return 0;
}

/* ---- messages ---- */

/* A perfect-link send the links may refuse (the backlog toward `to` full): nothing in the
 * quorum algorithms repeats a reply (an operation waits for a quorum of them, or for every
 * process P does not detect), so one refused would leave the operation waiting for the client's
 * deadline, or for ever without one. It is owed to `to` and sent again, in order, when the
 * backlog has room (links.h, strata_pl_owed, queued; caps REG_OWED_MSGS and REG_OWED_BYTES, one
 * beyond them dropped as before, counted and traced). */
void reg_pl_send(struct reg_mod *r, uint32_t to, uint64_t instance, struct strata_msg *m)
{
	(void)strata_pl_owed_send(r->owed, to, instance, m); /* refused: owed */
}

void reg_send(struct reg_mod *r, struct reg_inst *i, uint32_t to, uint8_t type, uint64_t rid,
	      const struct reg_val *val)
{
	struct strata_node *n = r->m.node;
	struct strata_wr w;
	strata_wr_init(&w, strata_node_config(n)->max_value);
	strata_wr_u8(&w, type);
	strata_wr_bytes(&w, i->key, i->klen);
	strata_wr_u64(&w, rid);
	if (type == REG_MSG_VALUE || type == REG_MSG_WRITE) {
		strata_wr_u64(&w, val->ts);
		strata_wr_u64(&w, val->wr);
		strata_wr_bytes(&w, val->v ? val->v->data : NULL, val->v ? val->v->len : 0);
	}
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	if (!m) {
		/* Values are checked against the limit when a client submits them. */
		strata_trace(n, r->name, "encode failed (%s) -> message not sent", strata_strerror(err));
		return;
	}
	if (to != 0) {
		/* trigger <pl, Send | to, m> */
		reg_pl_send(r, to, i->hash, m);
	} else if (r->on_beb) {
		/* trigger <beb, Broadcast | m> (beb copies the bytes) */
		int rc = bcast_broadcast(&r->beb, m->data, m->len);
		if (rc)
			strata_trace(n, r->name, "beb broadcast failed (%s) -> message not sent",
				     strata_strerror(rc));
	} else {
		for (uint32_t q = 1; q <= strata_node_n(n); q++)
			reg_pl_send(r, q, i->hash, m);
	}
	strata_msg_unref(m);
}

/* upon event <beb, Deliver | from, m> and upon event <pl, Deliver | from, m>: one parser for
 * both; hash is the frame's instance for a perfect-link frame (checked against the key), 0 for
 * a beb delivery (whose instance is the beb instance, the key names the register). */
static void on_deliver(struct reg_mod *r, uint32_t from, const uint8_t *data, size_t len,
		       bool check_hash, uint64_t hash)
{
	struct strata_node *n = r->m.node;
	if (!data || len == 0) {
		strata_node_bad_payload(n, &r->m, from, "empty register message");
		return;
	}
	struct strata_rd rd;
	strata_rd_init(&rd, data, len);
	uint8_t type = strata_rd_u8(&rd);
	const uint8_t *key;
	size_t klen = strata_rd_bytes(&rd, &key, REG_WIRE_KEY_MAX);
	uint64_t rid = strata_rd_u64(&rd);
	if (!strata_rd_ok(&rd) || klen == 0 || type < REG_MSG_READ || type > REG_MSG_ACK) {
		strata_node_bad_payload(n, &r->m, from, "malformed register header");
		return;
	}
	if (check_hash && reg_hash(key, klen) != hash) {
		strata_node_bad_payload(n, &r->m, from, "register key does not match instance");
		return;
	}
	if (!r->a->deliver) {
		/* A composition whose peer messages all belong to its lower modules (atomic11to1n):
		 * a frame for its own wire id is bad input, not a call through a NULL pointer. */
		strata_node_bad_payload(n, &r->m, from, "this register takes no peer messages");
		return;
	}
	int rc;
	struct reg_inst *i = reg_inst_get(r, key, klen, reg_hash(key, klen), &rc);
	if (!i) {
		/* Not acknowledging is the only safe answer when the key cannot be held. */
		r->dropped_full++;
		strata_trace(n, r->name, "no instance for key from %u (%s) -> dropped", from,
			     strata_strerror(rc));
		return;
	}
	if (r->a->deliver(r, i, from, type, rid, &rd) != 0)
		strata_node_bad_payload(n, &r->m, from, "malformed register body");
}

int reg_use_beb(struct reg_mod *r, char *err, size_t errlen)
{
	/* the fail-recovery register (lmv) stands on beb over perfect links too (bcast.h) */
	int rc = r->q.durable
		? bcast_open_under_recovery(r->m.node, "beb", &r->m, 0, &r->beb, err, errlen)
		: bcast_open(r->m.node, "beb", &r->m, 0, &r->beb, err, errlen);
	if (rc == 0)
		r->on_beb = true;
	return rc;
}

static void on_done(struct reg_mod *r, const struct strata_event *ev)
{
	int status;
	bool found;
	const uint8_t *sk, *v;
	size_t sklen, vlen;
	/* Raised by our own lower module: malformed means a programmer error. */
	STRATA_ASSERT(ev->msg &&
		      reg_port_result(ev->msg, &status, &found, &sk, &sklen, &v, &vlen) == 0);
	STRATA_ASSERT(r->a->lower_done);
	r->a->lower_done(r, ev->arg, status, sk, sklen, v, vlen, found);
}

static void on_crash(struct reg_mod *r, uint32_t peer)
{
	if (peer < 1 || peer > 64)
		return;
	uint64_t bit = 1ull << (peer - 1);
	if (!(r->correct & bit))
		return;
	r->correct &= ~bit;
	strata_trace(r->m.node, r->name, "P: %u crashed -> stop waiting for it", peer);
	if (!r->a->recheck || !r->tab)
		return;
	size_t it = 0;
	struct reg_inst *i;
	while ((i = strata_itab_next(r->tab, &it, NULL, NULL)))
		if (i->op)
			r->a->recheck(r, i);
}

/* ---- Phase ids across incarnations ----
 *
 * A reply is matched to the phase it answers by rid alone. Perfect links move the frames a
 * restarted peer had not acknowledged to its new incarnation, so a VALUE or ACK a replica sent
 * to this node's previous life can arrive after a restart. Were rids to start again at 1, such a
 * reply would count for the new phase with the same rid: a stale VALUE (an old, lower ts) would
 * stand in for a replica's current copy in a read's majority, a stale ACK would complete a write
 * that replica never stored (seen as a regularity violation, sim_reg --case lmv --seed 73 before
 * this fix). So a durable module keeps an epoch in stable storage, incremented at every start and
 * durable before the start's turn sends anything, and an incarnation's phase ids are
 * epoch << REG_RID_EPOCH_SHIFT + 1, 2, ...: every rid of a new incarnation exceeds every rid of
 * the earlier ones, and stale replies match no phase. Stale requests are harmless already: a
 * READ only reads, and a WRITE carries a (ts, wr) the writer really chose (its wts is durable
 * before the WRITE leaves), adopted only if newer. Modules without stable storage belong to
 * models without recovery and keep rids from 1 (rid_base 0). */

/* upon event <links, PeerRestart | peer> (STRATA_EV_PEER_RESTART): the phases in progress may
 * have lost peer's answer with its previous life (quorum.c, q_peer_restart). */
static void on_peer_restart(struct reg_mod *r, uint32_t peer)
{
	if (peer < 1 || peer > 64 || !r->a->peer_restart || !r->tab)
		return;
	size_t it = 0;
	struct reg_inst *i;
	while ((i = strata_itab_next(r->tab, &it, NULL, NULL)))
		if (i->op)
			r->a->peer_restart(r, i, peer);
}

static int rid_epoch_init(struct reg_mod *r)
{
	struct strata_node *n = r->m.node;
	char key[sizeof(r->name) + 16];
	/* '!' never occurs in a per-key record name, whose suffix is lower-case hex. */
	snprintf(key, sizeof(key), "reg/%s/!epoch", r->name);
	struct strata_msg *m = NULL;
	uint64_t epoch = 0;
	int rc = strata_retrieve(n, key, &m);
	if (rc == 0) {
		struct strata_rd rd;
		strata_rd_init(&rd, m->data, m->len);
		epoch = strata_rd_u64(&rd);
		rc = strata_rd_done(&rd) != 0 ? STRATA_EIO : 0;
		strata_msg_unref(m);
	} else if (rc == STRATA_ENOENT) {
		rc = 0;
	}
	if (rc)
		return rc; /* a corrupt epoch must not be mistaken for the first start */
	if (epoch + 1 >= (1ull << (64 - REG_RID_EPOCH_SHIFT)))
		return STRATA_EFULL;
	epoch++;
	struct strata_wr w;
	strata_wr_init(&w, 16);
	strata_wr_u64(&w, epoch);
	rc = w.err ? w.err : strata_store(n, key, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	r->rid_base = epoch << REG_RID_EPOCH_SHIFT;
	strata_trace(n, r->name, "start: rid epoch %llu -> phase ids from %llu",
		     (unsigned long long)epoch, (unsigned long long)r->rid_base + 1);
	return 0;
}

static void reg_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct reg_mod *r = (struct reg_mod *)m;
	switch (ev->type) {
	case STRATA_EV_INIT: {
		uint32_t nn = strata_node_n(m->node);
		r->correct = nn >= 64 ? UINT64_MAX : (1ull << nn) - 1;
		if (r->q.durable) {
			STRATA_ASSERT(!r->tab || strata_itab_len(r->tab) == 0); /* no instance took a base yet */
			r->rid_err = rid_epoch_init(r);
			if (r->rid_err)
				strata_trace(m->node, r->name, "rid epoch: %s -> operations refused",
					     strata_strerror(r->rid_err));
		}
		break;
	}
	case STRATA_EV_PL_DELIVER:
		on_deliver(r, ev->peer, ev->msg ? ev->msg->data : NULL, ev->msg ? ev->msg->len : 0,
			   true, ev->instance);
		break;
	case STRATA_EV_DELIVER:
		if (r->on_beb && bcast_is_deliver(&r->beb, ev)) {
			const struct strata_deliver *d = ev->body;
			on_deliver(r, d->origin, d->data, d->len, false, 0);
		}
		break;
	case STRATA_EV_CRASH:
		on_crash(r, ev->peer);
		break;
	case STRATA_EV_PEER_RESTART:
		on_peer_restart(r, ev->peer);
		break;
	case REG_EV_DONE:
		on_done(r, ev);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == REG_T_DEADLINE)
			on_deadline(r, ev->instance);
		else if (ev->arg == REG_T_OWED && r->owed)
			strata_pl_owed_flush(r->owed);
		break;
	default:
		break;
	}
}

static void reg_destroy(struct strata_module *m)
{
	struct reg_mod *r = (struct reg_mod *)m;
	strata_itab_free(r->tab);
	if (r->xstate_free)
		r->xstate_free(r->xstate);
	strata_pl_owed_free(r->owed);
	free(r);
}

/* The wire id that name gives (reg.h, reg_mod_new). */
static uint16_t reg_wire_id(struct strata_node *n, const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return strata_wire_id(name);
	char upper[sizeof(((struct reg_mod *)0)->name)];
	size_t len = (size_t)(dot - name);
	STRATA_ASSERT(len < sizeof(upper));
	memcpy(upper, name, len);
	upper[len] = '\0';
	const struct strata_module *u = strata_node_module_by_name(n, upper);
	STRATA_ASSERT(u && u->wire_id != 0 && u->wire_id < UINT8_MAX);
	return (uint16_t)(u->wire_id + 1);
}

struct reg_mod *reg_mod_new(struct strata_node *n, const char *name, const struct reg_algo_ops *a,
			    bool client, char *err, size_t errlen)
{
	return reg_mod_new_wire(n, name, reg_wire_id(n, name), a, client, err, errlen);
}

struct reg_mod *reg_mod_new_wire(struct strata_node *n, const char *name, uint16_t wire_id,
				 const struct reg_algo_ops *a, bool client, char *err,
				 size_t errlen)
{
	STRATA_ASSERT(strata_node_n(n) <= 64); /* reply sets are 64-bit masks */
	struct reg_mod *r = calloc(1, sizeof(*r));
	uint64_t backlog = strata_node_config(n)->backlog_bytes;
	if (r)
		r->owed = strata_pl_owed_new(n, &r->m, REG_T_OWED, NULL, REG_OWED_MSGS,
					     backlog > REG_OWED_BYTES ? backlog : REG_OWED_BYTES);
	if (!r || !r->owed) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->ops.name = r->name;
	r->ops.handle = reg_handle;
	r->ops.request = client ? reg_request : NULL;
	r->ops.destroy = reg_destroy;
	r->a = a;
	r->client = client;
	uint32_t nn = strata_node_n(n);
	r->correct = nn >= 64 ? UINT64_MAX : (1ull << nn) - 1;
	strata_node_add_module(n, &r->m, &r->ops, wire_id);
	return r;
}

void reg_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops && m->ops->handle == reg_handle);
	strata_pl_owed_test_lossy(((struct reg_mod *)m)->owed);
}

void reg_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c)
{
	STRATA_ASSERT(m && m->ops && m->ops->handle == reg_handle);
	strata_pl_owed_counts(((struct reg_mod *)m)->owed, c);
}

int reg_use_p(struct reg_mod *r, char *err, size_t errlen)
{
	struct strata_module *fd = strata_node_role(r->m.node, STRATA_ROLE_FD);
	if (!fd) {
		snprintf(err, errlen,
			 "register '%s' needs the perfect failure detector P (fail-stop); the node "
			 "has no failure detector",
			 r->name);
		return STRATA_EMODEL;
	}
	strata_module_subscribe(fd, &r->m);
	return 0;
}

/* ---- port ---- */

int reg_port_start(struct strata_module *lower, struct strata_module *up, enum reg_kind kind,
		   const uint8_t *key, size_t klen, const void *val, size_t vlen, uint64_t tag)
{
	struct reg_mod *r = (struct reg_mod *)lower;
	STRATA_ASSERT(klen > 0 && klen <= REG_WIRE_KEY_MAX && up);
	if (kind == REG_WRITE && vlen + klen + REG_RESERVE > strata_node_config(lower->node)->max_value)
		return STRATA_ETOOBIG;
	char text[160];
	return submit(r, key, klen, (uint8_t)kind, tag, up, val, vlen, 0, text, sizeof(text));
}

int reg_port_result(const struct strata_msg *msg, int *status, bool *found,
		    const uint8_t **subkey, size_t *sklen, const uint8_t **val, size_t *vlen)
{
	struct strata_rd rd;
	strata_rd_init(&rd, msg->data, msg->len);
	*status = (int)strata_rd_i64(&rd);
	*found = strata_rd_u8(&rd) != 0;
	*sklen = strata_rd_bytes(&rd, subkey, REG_WIRE_KEY_MAX);
	*vlen = strata_rd_bytes(&rd, val, msg->len);
	return strata_rd_done(&rd);
}

struct strata_msg *reg_pack(uint64_t ts, uint32_t wr, const void *v, size_t vlen)
{
	struct strata_wr w;
	strata_wr_init(&w, vlen + 32);
	strata_wr_u64(&w, ts);
	strata_wr_u64(&w, wr);
	strata_wr_bytes(&w, v, vlen);
	return strata_wr_take_msg(&w, NULL);
}

int reg_unpack(const uint8_t *p, size_t len, bool found, uint64_t *ts, uint32_t *wr,
	       const uint8_t **v, size_t *vlen)
{
	*ts = 0;
	*wr = 0;
	*v = NULL;
	*vlen = 0;
	if (!found)
		return 0;
	struct strata_rd rd;
	strata_rd_init(&rd, p, len);
	uint64_t t = strata_rd_u64(&rd);
	uint64_t w = strata_rd_u64_max(&rd, UINT32_MAX);
	size_t n = strata_rd_bytes(&rd, v, len);
	if (strata_rd_done(&rd) != 0 || (t == 0 && (w != 0 || n != 0)))
		return STRATA_EPROTO; /* (0, 0, empty) is bottom written back by Alg. 4.4 */
	if (t == 0)
		return 0;
	*ts = t;
	*wr = (uint32_t)w;
	*vlen = n;
	return 0;
}

size_t reg_subkey(uint8_t *out, const uint8_t *key, size_t klen, uint32_t a, uint32_t b)
{
	size_t o = strata_varint_put(out, klen);
	memcpy(out + o, key, klen);
	o += klen;
	o += strata_varint_put(out + o, a);
	o += strata_varint_put(out + o, b);
	return o;
}

int reg_subkey_parse(const uint8_t *sk, size_t sklen, const uint8_t **key, size_t *klen,
		     uint32_t *a, uint32_t *b)
{
	struct strata_rd rd;
	strata_rd_init(&rd, sk, sklen);
	*klen = strata_rd_bytes(&rd, key, REG_WIRE_KEY_MAX);
	*a = (uint32_t)strata_rd_u64_max(&rd, UINT32_MAX);
	*b = (uint32_t)strata_rd_u64_max(&rd, UINT32_MAX);
	return strata_rd_done(&rd);
}
