/* Shared pieces of the consensus family: the instance table, values, requests, messages.
 * See cons.h. */
#include "cons/cons.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

/* ---- the decided windows (one per instance space) ---- */

static struct cons_win *win_of(const struct cons_tab *t, uint64_t id, uint64_t *local)
{
	*local = id & CONS_SPACE_MASK;
	uint64_t space = id >> CONS_SPACE_BITS;
	return space < CONS_SPACES ? (struct cons_win *)(uintptr_t)&t->win[space] : NULL;
}

static bool win_bit(const struct cons_win *w, uint64_t id)
{
	uint64_t k = id % CONS_WINDOW;
	return (w->bits[k / 64] >> (k % 64)) & 1u;
}

static void win_put(struct cons_win *w, uint64_t id, bool v)
{
	uint64_t k = id % CONS_WINDOW;
	if (v)
		w->bits[k / 64] |= 1ull << (k % 64);
	else
		w->bits[k / 64] &= ~(1ull << (k % 64));
}

bool cons_tab_retired(const struct cons_tab *t, uint64_t id)
{
	uint64_t l;
	const struct cons_win *w = win_of(t, id, &l);
	if (!w)
		return false;
	if (l <= w->low)
		return true;
	if (l > w->low + CONS_WINDOW)
		return false;
	return win_bit(w, l);
}

static bool win_inside(const struct cons_tab *t, uint64_t id)
{
	uint64_t l;
	const struct cons_win *w = win_of(t, id, &l);
	return w && l != 0 && l <= w->low + CONS_WINDOW;
}

static void win_add(struct cons_tab *t, uint64_t id)
{
	uint64_t l;
	struct cons_win *w = win_of(t, id, &l);
	STRATA_ASSERT(w && l > w->low && l <= w->low + CONS_WINDOW);
	win_put(w, l, true);
	while (win_bit(w, w->low + 1)) {
		win_put(w, w->low + 1, false);
		w->low++;
	}
}

/* ---- the table ---- */

int cons_tab_init(struct cons_tab *t, struct strata_module *m, size_t inst_size)
{
	STRATA_ASSERT(inst_size >= sizeof(struct cons_inst));
	memset(t, 0, sizeof(*t));
	t->m = m;
	t->inst_size = inst_size;
	t->round_name = "round";
	t->live = calloc(CONS_LIVE_MAX, sizeof(*t->live));
	return t->live ? 0 : STRATA_ENOMEM;
}

static void inst_free(struct cons_inst *i)
{
	for (uint32_t k = 0; k < i->nvals; k++)
		strata_msg_unref(i->vals[k]);
	free(i);
}

void cons_tab_free(struct cons_tab *t)
{
	for (size_t k = 0; k < t->nlive; k++)
		inst_free(t->live[k]);
	free(t->live);
	for (unsigned k = 0; k < CONS_CACHE; k++)
		if (t->cache[k].v)
			strata_msg_unref(t->cache[k].v);
	memset(t, 0, sizeof(*t));
}

struct cons_inst *cons_tab_find(struct cons_tab *t, uint64_t id)
{
	for (size_t k = 0; k < t->nlive; k++)
		if (t->live[k]->id == id)
			return t->live[k];
	return NULL;
}

enum cons_get cons_tab_get(struct cons_tab *t, uint64_t id, struct cons_inst **out)
{
	*out = NULL;
	if (!win_inside(t, id))
		return CONS_OUTSIDE;
	if (cons_tab_retired(t, id))
		return CONS_RETIRED;
	struct cons_inst *i = cons_tab_find(t, id);
	if (!i) {
		if (t->nlive >= CONS_LIVE_MAX)
			return CONS_NOROOM;
		i = calloc(1, t->inst_size);
		if (!i)
			return CONS_NOROOM;
		i->id = id;
		i->excluded = t->crashed;
		t->live[t->nlive++] = i;
		uint64_t l;
		struct cons_win *w = win_of(t, id, &l);
		if (l > w->high)
			w->high = l;
	}
	*out = i;
	return CONS_GOT;
}

struct cons_inst *cons_tab_get_peer(struct cons_tab *t, uint64_t id, uint32_t from)
{
	struct cons_inst *i;
	const char *name = t->m->ops->name;
	switch (cons_tab_get(t, id, &i)) {
	case CONS_GOT:
		return i;
	case CONS_RETIRED:
		return NULL;
	case CONS_OUTSIDE:
		t->dropped_window++;
		strata_trace(t->m->node, name, "message from %u for instance %llu outside its window -> dropped",
			     from, (unsigned long long)id);
		return NULL;
	case CONS_NOROOM:
		t->refused_full++;
		strata_trace(t->m->node, name, "message from %u for instance %llu: %u undecided instances -> dropped",
			     from, (unsigned long long)id, CONS_LIVE_MAX);
		return NULL;
	}
	return NULL;
}

void cons_tab_crash(struct cons_tab *t, uint32_t q)
{
	t->crashed |= cons_bit(q);
	for (size_t k = 0; k < t->nlive; k++)
		t->live[k]->excluded |= cons_bit(q);
}

void cons_tab_restore(struct cons_tab *t, uint32_t q)
{
	t->crashed &= ~cons_bit(q);
}

static void tab_remove(struct cons_tab *t, struct cons_inst *i)
{
	for (size_t k = 0; k < t->nlive; k++)
		if (t->live[k] == i) {
			t->live[k] = t->live[--t->nlive];
			return;
		}
	STRATA_ASSERT(false && "instance not in its table");
}

_Static_assert(CONS_WAIT_MAX <= STRATA_DECIDE_WAIT_MAX,
	       "a decision's waiters must fit struct strata_decide");

static int reply_value(struct strata_node *n, struct strata_module *m, uint64_t req_id,
		       uint64_t instance, const uint8_t *v, size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + 16);
	strata_wr_u64(&w, instance);
	strata_wr_raw(&w, v, len);
	if (w.err) {
		strata_wr_free(&w);
		strata_node_reply(n, m, req_id, STRATA_ENOMEM, 0, NULL, 0, NULL);
		return STRATA_ENOMEM;
	}
	strata_node_reply(n, m, req_id, 0, STRATA_REPLY_FOUND, w.buf, w.len, NULL);
	strata_wr_free(&w);
	return 0;
}

/* <Decide | v> of instance id to the upper module of its space (if any), as a typed indication. */
static void raise_upper(struct cons_tab *t, uint64_t id, const uint8_t *v, size_t len,
			uint64_t round)
{
	struct strata_node *n = t->m->node;
	struct strata_msg *msg = strata_msg_new(v, len);
	struct strata_module *up = t->uppers[(id >> CONS_SPACE_BITS) % CONS_SPACES];
	if (msg && up) {
		struct cons_decided b = { .instance = id, .value = msg->data, .len = len };
		strata_raise_body(n, t->m, up, CONS_EV_DECIDE, strata_node_id(n), id, round, msg, &b,
				  sizeof(b));
	}
	if (msg)
		strata_msg_unref(msg);
}

void cons_decide(struct cons_tab *t, struct cons_inst *i, const uint8_t *v, size_t len,
		 uint64_t round)
{
	struct strata_module *m = t->m;
	struct strata_node *n = m->node;
	strata_trace(n, m->ops->name, "instance %llu round %llu -> decide (%zu bytes)",
		     (unsigned long long)i->id, (unsigned long long)round, len);
	if (i->id >> CONS_SPACE_BITS) {
		/* An upper module's instance: <Decide | v> goes up as a typed indication. */
		raise_upper(t, i->id, v, len, round);
	} else {
		/* A client's instance: <Decide | v> goes to the client adapter, which outputs it and
		 * then answers the requests waiting for it. */
		struct strata_msg *msg = strata_msg_new(v, len);
		if (msg) {
			struct strata_decide b = { .instance = i->id, .round = round,
						   .round_name = t->round_name,
						   .value = msg->data, .len = len,
						   .nwait = i->nwait };
			memcpy(b.waiters, i->waiters, sizeof(i->waiters[0]) * i->nwait);
			strata_raise_body(n, m, strata_client_adapter(n), STRATA_EV_DECIDE,
					  strata_node_id(n), i->id, round, msg, &b, sizeof(b));
			strata_msg_unref(msg);
		} else {
			for (unsigned k = 0; k < i->nwait; k++)
				strata_node_reply(n, m, i->waiters[k], STRATA_ENOMEM, 0, NULL, 0,
						  NULL);
		}
	}
	struct strata_msg *copy = strata_msg_new(v, len);
	if (copy) {
		cons_tab_cache(t, i->id, copy);
		strata_msg_unref(copy);
	}
	win_add(t, i->id);
	tab_remove(t, i);
	inst_free(i);
}

void cons_out_propose(struct cons_tab *t, struct cons_inst *i, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct strata_module *m = t->m;
	i->proposed = true;
	if (!by_client)
		return;
	struct strata_output o = {
		.kind = STRATA_OUT_BCAST, .module = m->wire_id, .module_name = m->ops->name,
		.peer = strata_node_id(m->node), .a = i->id,
		.b = strata_node_incarnation(m->node), .data = v, .len = len,
	};
	strata_output(m->node, &o);
}

/* ---- values ---- */

int cons_val_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t k = alen < blen ? alen : blen;
	int c = k ? memcmp(a, b, k) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int cons_val_index(struct cons_inst *i, const uint8_t *v, size_t len)
{
	for (uint32_t k = 0; k < i->nvals; k++)
		if (cons_val_cmp(i->vals[k]->data, i->vals[k]->len, v, len) == 0)
			return (int)k;
	if (i->nvals >= CONS_VALS_MAX)
		return -1;
	struct strata_msg *m = strata_msg_new(v, len);
	if (!m)
		return -1;
	i->vals[i->nvals] = m;
	return (int)i->nvals++;
}

int cons_val_min(const struct cons_inst *i, uint64_t set)
{
	int best = -1;
	for (uint32_t k = 0; k < i->nvals; k++) {
		if (!((set >> k) & 1u))
			continue;
		if (best < 0 || cons_val_cmp(i->vals[k]->data, i->vals[k]->len,
					     i->vals[best]->data, i->vals[best]->len) < 0)
			best = (int)k;
	}
	return best;
}

/* ---- requests ---- */

size_t cons_value_max(const struct strata_node *n, unsigned per_msg)
{
	size_t max = strata_node_config(n)->max_value;
	size_t hdr = CONS_HDR_MAX + 8u * per_msg + 128u; /* + beb's and rb's headers */
	if (per_msg == 0 || max <= hdr)
		return 0;
	return (max - hdr) / per_msg;
}

int cons_check_request(const struct cons_tab *t, const struct strata_request *req,
		       size_t value_max, uint64_t *instance)
{
	if (req->op != STRATA_OP_PROPOSE)
		return STRATA_EINVAL;
	if (req->value_len > value_max)
		return STRATA_ETOOBIG;
	uint64_t id = 0;
	if (req->key_len > 20)
		return STRATA_EINVAL;
	for (size_t k = 0; k < req->key_len; k++) {
		uint8_t c = req->key[k];
		if (c < '0' || c > '9' || id > (UINT64_MAX - 9) / 10)
			return STRATA_EINVAL;
		id = id * 10 + (uint64_t)(c - '0');
	}
	if ((req->key_len && id == 0) || id > CONS_SPACE_MASK)
		return STRATA_EINVAL;
	*instance = id ? id : t->win[0].high + 1;
	if (*instance > t->win[0].low + CONS_WINDOW)
		return STRATA_EINVAL;
	return 0;
}

int cons_wait(struct cons_inst *i, uint64_t req_id)
{
	if (i->nwait >= CONS_WAIT_MAX)
		return STRATA_EFULL;
	i->waiters[i->nwait++] = req_id;
	return 0;
}

void cons_tab_cache(struct cons_tab *t, uint64_t id, struct strata_msg *v)
{
	unsigned c = t->cache_next++ % CONS_CACHE;
	if (t->cache[c].v)
		strata_msg_unref(t->cache[c].v);
	t->cache[c].id = id;
	t->cache[c].v = strata_msg_ref(v);
}

struct strata_msg *cons_tab_decided(struct cons_tab *t, uint64_t id)
{
	for (unsigned k = 0; k < CONS_CACHE; k++)
		if (t->cache[k].v && t->cache[k].id == id)
			return strata_msg_ref(t->cache[k].v);
	struct strata_msg *v = t->load_decided ? t->load_decided(t, id) : NULL;
	if (v) {
		cons_tab_cache(t, id, v);
		return v;
	}
	uint64_t space = id >> CONS_SPACE_BITS;
	if (space < CONS_SPACES && t->decided_src[space] && t->uppers[space])
		v = t->decided_src[space](t->uppers[space], id); /* not cached: the upper keeps it */
	return v;
}

int cons_store_u64s(struct strata_node *n, const char *key, const uint64_t *v, size_t count)
{
	struct strata_wr w;
	strata_wr_init(&w, 10 * count + 10);
	for (size_t k = 0; k < count; k++)
		strata_wr_u64(&w, v[k]);
	int rc = w.err ? w.err : strata_store(n, key, w.buf, w.len);
	strata_wr_free(&w);
	return rc;
}

int cons_retrieve_u64s(struct strata_node *n, const char *key, uint64_t *v, size_t count)
{
	struct strata_msg *m;
	int rc = strata_retrieve(n, key, &m);
	if (rc)
		return rc;
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	for (size_t k = 0; k < count; k++)
		v[k] = strata_rd_u64(&r);
	rc = strata_rd_done(&r) ? STRATA_EPROTO : 0;
	strata_msg_unref(m);
	return rc;
}

int cons_tab_store_space(struct cons_tab *t, const char *key, uint64_t space)
{
	STRATA_ASSERT(space < CONS_SPACES);
	uint64_t rec[2 + CONS_WINDOW / 64];
	rec[0] = t->win[space].low;
	rec[1] = t->win[space].high;
	memcpy(rec + 2, t->win[space].bits, sizeof(t->win[space].bits));
	return cons_store_u64s(t->m->node, key, rec, sizeof(rec) / sizeof(rec[0]));
}

int cons_tab_load_space(struct cons_tab *t, const char *key, uint64_t space)
{
	STRATA_ASSERT(space < CONS_SPACES);
	uint64_t rec[2 + CONS_WINDOW / 64];
	int rc = cons_retrieve_u64s(t->m->node, key, rec, sizeof(rec) / sizeof(rec[0]));
	if (rc)
		return rc;
	t->win[space].low = rec[0];
	t->win[space].high = rec[1] > rec[0] ? rec[1] : rec[0];
	memcpy(t->win[space].bits, rec + 2, sizeof(t->win[space].bits));
	return 0;
}

int cons_tab_store(struct cons_tab *t, const char *key)
{
	return cons_tab_store_space(t, key, 0);
}

int cons_tab_load(struct cons_tab *t, const char *key)
{
	return cons_tab_load_space(t, key, 0);
}

unsigned cons_tab_reannounce(struct cons_tab *t, uint64_t space)
{
	STRATA_ASSERT(space >= 1 && space < CONS_SPACES);
	const struct cons_win *w = &t->win[space];
	if (!t->uppers[space])
		return 0;
	uint64_t from = w->low > CONS_CACHE ? w->low - CONS_CACHE + 1 : 1;
	unsigned count = 0;
	for (uint64_t l = from; l <= w->high && l <= w->low + CONS_WINDOW; l++) {
		uint64_t id = space << CONS_SPACE_BITS | l;
		if (!cons_tab_retired(t, id))
			continue;
		struct strata_msg *v = cons_tab_decided(t, id);
		if (!v)
			continue; /* not stored (a torn write kept the window, not the decision) */
		raise_upper(t, id, v->data, v->len, 0);
		strata_msg_unref(v);
		count++;
	}
	return count;
}

void cons_reply_decided(struct cons_tab *t, uint64_t instance, uint64_t req_id)
{
	struct strata_node *n = t->m->node;
	struct strata_msg *v = cons_tab_decided(t, instance);
	if (v) {
		reply_value(n, t->m, req_id, instance, v->data, v->len);
		strata_msg_unref(v);
		return;
	}
	strata_node_reply(n, t->m, req_id, STRATA_ESTATE, 0, NULL, 0,
			  "instance decided earlier; its value is no longer held by this node");
}

int cons_request(struct cons_tab *t, const struct strata_request *req, size_t value_max,
		 cons_propose_fn propose)
{
	uint64_t id;
	int rc = cons_check_request(t, req, value_max, &id);
	if (rc)
		return rc;
	struct cons_inst *i;
	switch (cons_tab_get(t, id, &i)) {
	case CONS_RETIRED:
		cons_reply_decided(t, id, req->id);
		return 0;
	case CONS_OUTSIDE:
		return STRATA_EINVAL;
	case CONS_NOROOM:
		return STRATA_EFULL;
	case CONS_GOT:
		break;
	}
	rc = cons_wait(i, req->id);
	if (rc == 0 && !i->proposed) {
		rc = propose(t->m, i, req->value, req->value_len, true);
		if (rc)
			i->nwait--;
	}
	return rc;
}

int cons_lower_open(struct strata_node *n, const char *algo, struct strata_module *upper,
		    struct strata_module **lower, char *err, size_t errlen)
{
	return cons_lower_open_space(n, algo, CONS_SPACE_TOB, upper, lower, err, errlen);
}

void cons_lower_skip(struct strata_module *lower, uint64_t id)
{
	struct cons_tab *t = &((struct cons_mod *)lower)->tab;
	STRATA_ASSERT(t->m == lower);
	uint64_t l;
	struct cons_win *w = win_of(t, id, &l);
	if (!w || l <= w->low)
		return;
	uint64_t space = id >> CONS_SPACE_BITS;
	for (size_t k = 0; k < t->nlive;) {
		struct cons_inst *i = t->live[k];
		if ((i->id >> CONS_SPACE_BITS) == space && (i->id & CONS_SPACE_MASK) <= l) {
			t->live[k] = t->live[--t->nlive];
			if (t->drop)
				t->drop(t, i);
			else
				inst_free(i);
		} else {
			k++;
		}
	}
	/* Bits above the new watermark stay (they are relative to id % CONS_WINDOW); those at or
	 * below it are cleared as the watermark passes them. */
	if (l - w->low >= CONS_WINDOW) {
		memset(w->bits, 0, sizeof(w->bits));
	} else {
		for (uint64_t x = w->low + 1; x <= l; x++)
			win_put(w, x, false);
	}
	w->low = l;
	while (win_bit(w, w->low + 1)) {
		win_put(w, w->low + 1, false);
		w->low++;
	}
	if (w->high < w->low)
		w->high = w->low;
}

struct strata_msg *cons_lower_decided(struct strata_module *lower, uint64_t instance)
{
	struct cons_tab *t = &((struct cons_mod *)lower)->tab;
	STRATA_ASSERT(t->m == lower);
	return cons_tab_retired(t, instance) ? cons_tab_decided(t, instance) : NULL;
}

int cons_lower_open_space(struct strata_node *n, const char *algo, uint64_t space,
			  struct strata_module *upper, struct strata_module **lower, char *err,
			  size_t errlen)
{
	STRATA_ASSERT(space >= 1 && space < CONS_SPACES);
	const struct strata_algo *a = strata_algo_find(algo);
	if (!a || strcmp(a->family, "cons") != 0) {
		snprintf(err, errlen, "%s is not a consensus algorithm", algo);
		return STRATA_EINVAL;
	}
	struct strata_module *m = strata_node_module_by_name(n, a->name);
	if (!m) {
		int rc = strata_algo_check(a, strata_node_config(n), err, errlen);
		if (rc)
			return rc;
		if (!(m = strata_algo_create(a, n, err, errlen)))
			return STRATA_ECONFIG;
	}
	struct cons_tab *t = &((struct cons_mod *)m)->tab;
	if (t->uppers[space] && t->uppers[space] != upper) {
		snprintf(err, errlen, "%s already has an upper module in instance space %llu", a->name,
			 (unsigned long long)space);
		return STRATA_ESTATE;
	}
	t->uppers[space] = upper;
	*lower = m;
	return 0;
}

int cons_lower_propose(struct strata_module *lower, uint64_t instance, const uint8_t *v,
		       size_t len)
{
	struct cons_tab *t = &((struct cons_mod *)lower)->tab;
	STRATA_ASSERT(t->m == lower && t->propose);
	struct cons_inst *i;
	switch (cons_tab_get(t, instance, &i)) {
	case CONS_RETIRED:
		return STRATA_ESTATE;
	case CONS_OUTSIDE:
		return STRATA_EINVAL;
	case CONS_NOROOM:
		return STRATA_EFULL;
	case CONS_GOT:
		break;
	}
	return i->proposed ? 0 : t->propose(lower, i, v, len, false);
}

const struct cons_decided *cons_upper_decided(const struct strata_event *ev,
					      const struct strata_module *lower, uint64_t space,
					      uint64_t *id)
{
	const struct cons_decided *d = ev->body;
	if (ev->type != CONS_EV_DECIDE || ev->src != lower || !d || ev->body_len != sizeof(*d) ||
	    (d->instance >> CONS_SPACE_BITS) != space)
		return NULL;
	*id = d->instance & CONS_SPACE_MASK;
	return d;
}

int cons_lower_propose_fetch(struct strata_module *lower, uint64_t instance, const uint8_t *v,
			     size_t len, struct strata_msg **decided)
{
	*decided = NULL;
	int rc = cons_lower_propose(lower, instance, v, len);
	if (rc != STRATA_ESTATE)
		return rc;
	*decided = cons_lower_decided(lower, instance);
	return *decided ? 0 : STRATA_ENOENT;
}

/* ---- messages ---- */

int cons_open_beb(struct strata_node *n, struct strata_module *m, struct bcast_lower *beb,
		  bool logged, char *err, size_t errlen)
{
	if (logged)
		return bcast_open_under_recovery(n, "beb", m, 0, beb, err, errlen);
	return bcast_open(n, "beb", m, 0, beb, err, errlen);
}

void cons_beb_broadcast(const struct bcast_lower *beb, uint64_t instance,
			const struct strata_msg *msg)
{
	struct strata_wr w;
	strata_wr_init(&w, msg->len + 16);
	strata_wr_u64(&w, instance);
	strata_wr_raw(&w, msg->data, msg->len);
	int rc = w.err ? w.err : bcast_broadcast(beb, w.buf, w.len);
	if (rc)
		strata_trace(beb->m->node, "cons", "beb broadcast for instance %llu: %s -> not sent",
			     (unsigned long long)instance, strata_strerror(rc));
	strata_wr_free(&w);
}

bool cons_unwrap(struct strata_module *m, const struct bcast_lower *lower,
		 const struct strata_event *ev, struct strata_event *out)
{
	if (!bcast_is_deliver(lower, ev))
		return false;
	const struct strata_deliver *d = ev->body;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint64_t instance = strata_rd_u64(&r);
	struct strata_msg *msg = NULL;
	if (!strata_rd_ok(&r) || d->origin < 1 || d->origin > strata_node_n(m->node) ||
	    !(msg = strata_msg_new(d->data + r.off, d->len - r.off))) {
		strata_node_bad_payload(m->node, m, d->origin, "consensus: malformed broadcast");
		return false;
	}
	*out = *ev;
	out->type = STRATA_EV_PL_DELIVER;
	out->peer = d->origin;
	out->instance = instance;
	out->msg = msg;
	out->body = NULL;
	out->body_len = 0;
	return true;
}

struct strata_msg *cons_enc_value(uint8_t type, const uint8_t *v, size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + CONS_HDR_MAX);
	strata_wr_u8(&w, type);
	strata_wr_bytes(&w, v, len);
	int err;
	return strata_wr_take_msg(&w, &err);
}

struct strata_msg *cons_enc_set(uint8_t type, uint64_t round, const struct cons_inst *i,
				uint64_t set)
{
	size_t total = CONS_HDR_MAX;
	uint64_t count = 0;
	for (uint32_t k = 0; k < i->nvals; k++)
		if ((set >> k) & 1u) {
			total += i->vals[k]->len + 10;
			count++;
		}
	struct strata_wr w;
	strata_wr_init(&w, total);
	strata_wr_u8(&w, type);
	strata_wr_u64(&w, round);
	strata_wr_u64(&w, count);
	for (uint32_t k = 0; k < i->nvals; k++)
		if ((set >> k) & 1u)
			strata_wr_bytes(&w, i->vals[k]->data, i->vals[k]->len);
	int err;
	return strata_wr_take_msg(&w, &err);
}

int cons_dec_set(struct strata_rd *r, struct cons_inst *i, uint64_t *set)
{
	uint64_t count = strata_rd_u64_max(r, CONS_VALS_MAX);
	*set = 0;
	for (uint64_t k = 0; k < count && strata_rd_ok(r); k++) {
		const uint8_t *v;
		size_t len = strata_rd_bytes(r, &v, SIZE_MAX);
		if (!strata_rd_ok(r))
			break;
		int idx = cons_val_index(i, v, len);
		if (idx < 0)
			return STRATA_EPROTO;
		*set |= 1ull << idx;
	}
	return strata_rd_done(r);
}

int cons_need_fd(struct strata_module *m, const char *algo, char *err, size_t errlen)
{
	struct strata_module *fd = strata_node_role(m->node, STRATA_ROLE_FD);
	if (!fd) {
		snprintf(err, errlen, "%s needs the perfect failure detector P (fail-stop model)",
			 algo);
		return STRATA_ECONFIG;
	}
	strata_module_subscribe(fd, m);
	return 0;
}

void cons_lower_set_valid(struct strata_module *lower, uint64_t space,
			  bool (*valid)(struct strata_module *upper, uint64_t id, const uint8_t *v,
					size_t len))
{
	struct cons_tab *t = &((struct cons_mod *)lower)->tab;
	STRATA_ASSERT(t->m == lower && space >= 1 && space < CONS_SPACES);
	t->valid[space] = valid;
}

void cons_lower_set_decided(struct strata_module *lower, uint64_t space,
			    struct strata_msg *(*src)(struct strata_module *upper, uint64_t id))
{
	struct cons_tab *t = &((struct cons_mod *)lower)->tab;
	STRATA_ASSERT(t->m == lower && space >= 1 && space < CONS_SPACES);
	t->decided_src[space] = src;
}

bool cons_tab_valid(const struct cons_tab *t, uint64_t id, const uint8_t *v, size_t len)
{
	uint64_t space = id >> CONS_SPACE_BITS;
	if (space >= CONS_SPACES || !t->valid[space])
		return true;
	return t->valid[space](t->uppers[space], id, v, len);
}

/* ---- messages of epochs not started yet ---- */

bool cons_future_add(struct cons_future *b, uint32_t from, uint64_t instance, uint64_t ets,
		     struct strata_msg *msg)
{
	unsigned count = 0, low = 0;
	bool have_low = false;
	for (unsigned k = 0; k < b->n; k++)
		if (!b->per_peer || b->e[k].from == from) {
			count++;
			if (!have_low || b->e[k].ets < b->e[low].ets) {
				low = k;
				have_low = true;
			}
		}
	if (count >= (b->per_peer ? b->per_peer : b->cap)) {
		b->dropped++;
		if (b->e[low].ets >= ets)
			return false;
		strata_msg_unref(b->e[low].msg);
		b->e[low] = b->e[--b->n];
	}
	STRATA_ASSERT(b->n < b->cap);
	b->e[b->n++] = (struct cons_future_msg){ .from = from, .instance = instance, .ets = ets,
						 .msg = strata_msg_ref(msg) };
	return true;
}

void cons_future_start(struct cons_future *b, uint64_t ets,
		       void (*fn)(void *arg, uint32_t from, uint64_t instance,
				  struct strata_msg *msg),
		       void *arg)
{
	unsigned keep = 0, nnow = 0;
	/* Out of memory here: the epoch's held messages go (retransmission brings them again). */
	struct cons_future_msg *now = b->n ? calloc(b->n, sizeof(*now)) : NULL;
	for (unsigned k = 0; k < b->n; k++) {
		if (b->e[k].ets == ets && now)
			now[nnow++] = b->e[k];
		else if (b->e[k].ets > ets)
			b->e[keep++] = b->e[k];
		else
			strata_msg_unref(b->e[k].msg);
	}
	b->n = keep;
	for (unsigned k = 0; k < nnow; k++) {
		fn(arg, now[k].from, now[k].instance, now[k].msg);
		strata_msg_unref(now[k].msg);
	}
	free(now);
}

void cons_future_free(struct cons_future *b)
{
	for (unsigned k = 0; k < b->n; k++)
		strata_msg_unref(b->e[k].msg);
	b->n = 0;
}
