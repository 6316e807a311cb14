/* Shared pieces of the broadcast family; see common.h. */
#include "bcast/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "links/links.h"

/* ---- windows ---- */

void bc_win_reset(struct bc_win *w)
{
	memset(w, 0, sizeof(*w));
}

static bool bit_get(const struct bc_win *w, uint64_t seq)
{
	uint64_t i = seq % BC_WIN_BITS;
	return (w->bits[i / 64] >> (i % 64)) & 1u;
}

static void bit_put(struct bc_win *w, uint64_t seq, bool v)
{
	uint64_t i = seq % BC_WIN_BITS;
	if (v)
		w->bits[i / 64] |= 1ull << (i % 64);
	else
		w->bits[i / 64] &= ~(1ull << (i % 64));
}

bool bc_win_has(const struct bc_win *w, uint64_t seq)
{
	if (seq <= w->low)
		return true;
	if (seq > w->low + BC_WIN_BITS)
		return false;
	return bit_get(w, seq);
}

uint64_t bc_win_add(struct bc_win *w, uint64_t seq)
{
	uint64_t given_up = 0;
	if (seq <= w->low)
		return 0;
	/* So far ahead that every position of the window slides out: one step, not one per seq
	 * (a peer's seq near 2^64 would otherwise cost that many iterations). Same outcome as
	 * the loop below: every position that was not delivered is given up. */
	if (seq - w->low >= 2 * (uint64_t)BC_WIN_BITS) {
		uint64_t set = 0;
		for (size_t i = 0; i < STRATA_ARRAY_LEN(w->bits); i++) {
			set += (uint64_t)__builtin_popcountll(w->bits[i]);
			w->bits[i] = 0;
		}
		uint64_t new_low = seq - BC_WIN_BITS;
		given_up = (new_low - w->low) - set;
		w->low = new_low;
	}
	/* Too far ahead: slide so seq fits, forgetting the oldest holes. */
	while (seq > w->low + BC_WIN_BITS) {
		uint64_t s = w->low + 1;
		if (!bit_get(w, s))
			given_up++;
		bit_put(w, s, false);
		w->low = s;
	}
	bit_put(w, seq, true);
	while (bit_get(w, w->low + 1)) {
		bit_put(w, w->low + 1, false);
		w->low++;
	}
	return given_up;
}

void bc_win_write(struct strata_wr *wr, const struct bc_win *w)
{
	strata_wr_u64(wr, w->low);
	/* Only the words with bits set matter; write them sparsely as (index, word). */
	uint64_t nz = 0;
	for (size_t i = 0; i < STRATA_ARRAY_LEN(w->bits); i++)
		nz += w->bits[i] != 0;
	strata_wr_u64(wr, nz);
	for (size_t i = 0; i < STRATA_ARRAY_LEN(w->bits); i++)
		if (w->bits[i]) {
			strata_wr_u64(wr, i);
			strata_wr_u64(wr, w->bits[i]);
		}
}

int bc_win_read(struct strata_rd *rd, struct bc_win *w)
{
	bc_win_reset(w);
	w->low = strata_rd_u64(rd);
	uint64_t nz = strata_rd_u64_max(rd, STRATA_ARRAY_LEN(w->bits));
	for (uint64_t k = 0; k < nz && strata_rd_ok(rd); k++) {
		uint64_t i = strata_rd_u64_max(rd, STRATA_ARRAY_LEN(w->bits) - 1);
		w->bits[i] = strata_rd_u64(rd);
	}
	if (!strata_rd_ok(rd)) {
		bc_win_reset(w);
		return STRATA_EPROTO;
	}
	return 0;
}

/* Stores what w holds under key and frees w; a storage failure is counted by strata_store, an
 * encoding failure here. */
static int store_wr(struct strata_node *n, const char *key, struct strata_wr *w)
{
	int rc = w->err;
	if (rc)
		strata_node_counters(n)->store_errors++;
	else
		rc = strata_store(n, key, w->buf, w->len);
	strata_wr_free(w);
	return rc ? STRATA_EIO : 0;
}

int bc_store_u64(struct strata_node *n, const char *key, uint64_t v)
{
	struct strata_wr w;
	strata_wr_init(&w, 16);
	strata_wr_u64(&w, v);
	return store_wr(n, key, &w);
}

int bc_retrieve_u64(struct strata_node *n, const char *key, uint64_t *v)
{
	struct strata_msg *m = NULL;
	int rc = strata_retrieve(n, key, &m);
	if (rc)
		return rc;
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	uint64_t x = strata_rd_u64(&r);
	rc = strata_rd_done(&r);
	strata_msg_unref(m);
	if (rc == 0)
		*v = x;
	return rc;
}

int bc_store_win(struct strata_node *n, const char *key, const struct bc_win *w)
{
	struct strata_wr wr;
	strata_wr_init(&wr, 16 + 20 * STRATA_ARRAY_LEN(w->bits));
	bc_win_write(&wr, w);
	return store_wr(n, key, &wr);
}

int bc_retrieve_win(struct strata_node *n, const char *key, struct bc_win *w)
{
	struct strata_msg *m = NULL;
	int rc = strata_retrieve(n, key, &m);
	if (rc)
		return rc;
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	rc = bc_win_read(&r, w);
	if (rc == 0)
		rc = strata_rd_done(&r);
	strata_msg_unref(m);
	if (rc)
		bc_win_reset(w);
	return rc;
}

enum bc_admit bc_origin_admit(struct bc_origin *o, uint64_t inc)
{
	if (inc < o->inc)
		return BC_STALE;
	if (inc == o->inc)
		return BC_SAME;
	bc_win_reset(&o->win);
	o->inc = inc;
	return BC_NEWINC;
}

/* ---- header ---- */

void bc_wr_hdr(struct strata_wr *w, const struct bc_hdr *h)
{
	strata_wr_u8(w, h->type);
	strata_wr_u64(w, h->origin);
	strata_wr_u64(w, h->inc);
	strata_wr_u64(w, h->seq);
}

void bc_rd_hdr(struct strata_rd *r, struct bc_hdr *h, uint32_t n)
{
	h->origin = (uint32_t)strata_rd_u64_max(r, n);
	h->inc = strata_rd_u64(r);
	h->seq = strata_rd_u64(r);
	if (strata_rd_ok(r) && (h->origin == 0 || h->seq == 0))
		r->err = STRATA_EPROTO;
}

struct strata_msg *bc_encode_data(const struct bc_hdr *h, const uint8_t *p, size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + BC_HDR_MAX);
	bc_wr_hdr(&w, h);
	strata_wr_bytes(&w, p, len);
	int err = 0;
	return strata_wr_take_msg(&w, &err);
}

/* The parts of bc_parse_data and bc_parse_gossip around their algorithm fields. */
static void rd_bytes_begin(struct strata_rd *r, const uint8_t *buf, size_t len, uint32_t n,
			   struct bc_hdr *h)
{
	strata_rd_init(r, buf, len);
	h->type = strata_rd_u8(r);
	bc_rd_hdr(r, h, n);
}

static void rd_data_begin(struct strata_rd *r, const struct strata_msg *msg, uint32_t n,
			  struct bc_hdr *h)
{
	strata_rd_init(r, msg->data, msg->len);
	h->type = strata_rd_u8(r);
	bc_rd_hdr(r, h, n);
}

static int rd_data_end(const struct strata_rd *r, const struct bc_hdr *h)
{
	return strata_rd_done(r) == 0 && h->type == BC_DATA ? 0 : STRATA_EPROTO;
}

int bc_parse_data_bytes(const uint8_t *buf, size_t buf_len, uint32_t n, size_t max,
			struct bc_hdr *h, const uint8_t **p, size_t *len)
{
	struct strata_rd r;
	rd_bytes_begin(&r, buf, buf_len, n, h);
	*len = strata_rd_bytes(&r, p, max);
	return rd_data_end(&r, h);
}

int bc_encode_data_into(struct strata_wr *w, const struct bc_hdr *h, const uint8_t *p,
			size_t len)
{
	strata_wr_init(w, len + BC_HDR_MAX);
	bc_wr_hdr(w, h);
	strata_wr_bytes(w, p, len);
	return w->err;
}

int bc_parse_data(const struct strata_msg *msg, uint32_t n, size_t max, struct bc_hdr *h,
		  const uint8_t **p, size_t *len)
{
	struct strata_rd r;
	rd_data_begin(&r, msg, n, h);
	*len = strata_rd_bytes(&r, p, max);
	return rd_data_end(&r, h);
}

struct strata_msg *bc_encode_gossip(const struct bc_hdr *h, uint64_t rounds, const uint8_t *p,
				    size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + BC_HDR_MAX + 10);
	bc_wr_hdr(&w, h);
	strata_wr_u64(&w, rounds);
	strata_wr_bytes(&w, p, len);
	int err = 0;
	return strata_wr_take_msg(&w, &err);
}

int bc_parse_gossip(const struct strata_msg *msg, uint32_t n, uint64_t rounds_max,
		    struct bc_hdr *h, uint64_t *rounds, const uint8_t **p, size_t *len)
{
	struct strata_rd r;
	rd_data_begin(&r, msg, n, h);
	*rounds = strata_rd_u64_max(&r, rounds_max);
	*len = strata_rd_bytes(&r, p, msg->len);
	return rd_data_end(&r, h);
}

bool bc_is_hello(const struct strata_msg *msg)
{
	return msg->len == 1 && msg->data[0] == BC_HELLO;
}

/* ---- requests, outputs ---- */

int bc_check_request(const struct strata_request *req, size_t max)
{
	if (req->op != STRATA_OP_BROADCAST)
		return STRATA_EINVAL;
	if (req->value_len > max)
		return STRATA_ETOOBIG;
	return 0;
}

size_t bc_pl_payload_max(const struct strata_node *n, size_t extra)
{
	size_t max = strata_node_config(n)->max_value;
	return max > BC_HDR_MAX + extra ? max - BC_HDR_MAX - extra : 0;
}

size_t bc_fll_payload_max(const struct strata_node *n, size_t extra)
{
	size_t max = strata_links_frame_max(n);
	return max > BC_HDR_MAX + extra ? max - BC_HDR_MAX - extra : 0;
}

void bc_out_deliver_msg(struct strata_module *m, struct strata_msg *msg, uint32_t origin,
			uint64_t inc, uint64_t seq, const uint8_t *data, size_t len)
{
	STRATA_ASSERT(msg && (len == 0 || (data >= msg->data && data + len <= msg->data + msg->len)));
	struct strata_deliver d = {
		.origin = origin, .inc = inc, .seq = seq, .data = data, .len = len,
	};
	strata_raise_body(m->node, m, strata_client_adapter(m->node), STRATA_EV_DELIVER, origin, 0,
			  seq, msg, &d, sizeof(d));
}

void bc_out_deliver(struct strata_module *m, uint32_t origin, uint64_t inc, uint64_t seq,
		    const uint8_t *data, size_t len, const uint64_t *vc, size_t vc_len)
{
	/* The indication is queued: copy what it points to (the vector clock first, aligned). */
	size_t vbytes = vc ? vc_len * sizeof(uint64_t) : 0;
	struct strata_msg *own = strata_msg_alloc(vbytes + len);
	STRATA_ASSERT(own); /* running out of memory mid-handler cannot be recovered */
	if (vbytes)
		memcpy(own->data, vc, vbytes);
	if (len)
		memcpy(own->data + vbytes, data, len);
	struct strata_deliver d = {
		.origin = origin, .inc = inc, .seq = seq, .data = own->data + vbytes, .len = len,
		.vc = vc ? (const uint64_t *)(const void *)own->data : NULL, .vc_len = vc ? vc_len : 0,
	};
	strata_raise_body(m->node, m, strata_client_adapter(m->node), STRATA_EV_DELIVER, origin, 0,
			  seq, own, &d, sizeof(d));
	strata_msg_unref(own);
}

void bc_out_replay(struct strata_module *m, uint32_t origin, uint64_t seq, const uint8_t *data,
		   size_t len)
{
	struct strata_msg *own = strata_msg_alloc(len);
	STRATA_ASSERT(own);
	if (len)
		memcpy(own->data, data, len);
	struct strata_deliver d = {
		.origin = origin, .seq = seq, .data = own->data, .len = len, .replay = true,
	};
	strata_raise_body(m->node, m, strata_client_adapter(m->node), STRATA_EV_DELIVER, origin, 0,
			  seq, own, &d, sizeof(d));
	strata_msg_unref(own);
}

void bc_out_bcast(struct strata_module *m, uint64_t seq, const uint8_t *data, size_t len,
		  const uint64_t *vc, size_t vc_len)
{
	struct strata_output o = {
		.kind = STRATA_OUT_BCAST, .module = m->wire_id, .module_name = m->ops->name,
		.peer = strata_node_id(m->node), .a = seq, .b = strata_node_incarnation(m->node),
		.data = data, .len = len, .vc = vc, .vc_len = vc_len,
	};
	strata_output(m->node, &o);
}

void bc_out_bcast_replay(struct strata_module *m, uint64_t seq, const uint8_t *data, size_t len)
{
	struct strata_output o = {
		.kind = STRATA_OUT_BCAST, .module = m->wire_id, .module_name = m->ops->name,
		.peer = strata_node_id(m->node), .a = seq, .b = strata_node_incarnation(m->node),
		.data = data, .len = len, .replay = true,
	};
	strata_output(m->node, &o);
}

int bc_pl_broadcast(struct strata_module *m, uint64_t *lsn, const struct strata_request *req)
{
	struct strata_node *n = m->node;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), *lsn + 1 };
	struct strata_msg *msg = bc_encode_data(&h, req->value, req->value_len);
	if (!msg)
		return STRATA_ENOMEM;
	bc_pl_send_own(m, lsn, req, msg, NULL, 0);
	return 0;
}

void bc_pl_send_own(struct strata_module *m, uint64_t *lsn, const struct strata_request *req,
		    struct strata_msg *msg, const uint64_t *vc, size_t vc_len)
{
	(*lsn)++;
	bc_out_bcast(m, *lsn, req->value, req->value_len, vc, vc_len);
	strata_pl_send_all(m, 0, msg);
	strata_msg_unref(msg);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
}

int bc_sl_broadcast(struct strata_module *m, uint64_t *lsn, const char *lsn_key,
		    const struct strata_request *req)
{
	struct strata_node *n = m->node;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), 0, *lsn + 1 };
	if (bc_store_u64(n, lsn_key, h.seq) != 0)
		return STRATA_EIO;
	struct strata_msg *msg = bc_encode_data(&h, req->value, req->value_len);
	if (!msg)
		return STRATA_ENOMEM;
	(*lsn)++;
	bc_out_bcast(m, h.seq, req->value, req->value_len, NULL, 0);
	for (uint32_t q = 1; q <= strata_node_n(n); q++)
		(void)strata_sl_send(m, q, 0, msg);
	strata_msg_unref(msg);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

void bc_pl_relay(struct strata_module *m, struct strata_msg *msg, uint32_t skip1, uint32_t skip2)
{
	uint32_t self = strata_node_id(m->node), n = strata_node_n(m->node);
	for (uint32_t q = 1; q <= n; q++) {
		if (q == self || q == skip1 || q == skip2)
			continue;
		int rc = strata_pl_send(m, q, 0, msg);
		if (rc)
			strata_trace(m->node, m->ops->name, "relay to %u failed (%s) -> lost", q,
				     strata_strerror(rc));
	}
}

void bc_fll_gossip(struct strata_module *m, uint64_t instance, struct strata_msg *msg,
		   unsigned k)
{
	uint32_t self = strata_node_id(m->node), n = strata_node_n(m->node);
	uint32_t pool[STRATA_MAX_NODES];
	uint32_t np = 0;
	for (uint32_t q = 1; q <= n; q++)
		if (q != self)
			pool[np++] = q;
	/* A partial Fisher-Yates shuffle picks k distinct targets uniformly. */
	for (uint32_t i = 0; i < np && i < k; i++) {
		uint32_t j = i + (uint32_t)strata_random_below(m->node, np - i);
		uint32_t t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
		(void)strata_fll_send(m, pool[i], instance, msg);
	}
}

void bc_fll_gossip_data(struct strata_module *m, uint64_t instance, unsigned k,
			const struct bc_hdr *h, uint64_t rounds, const uint8_t *p, size_t len)
{
	struct strata_msg *msg = bc_encode_gossip(h, rounds, p, len);
	if (!msg)
		return;
	bc_fll_gossip(m, instance, msg, k);
	strata_msg_unref(msg);
}

void bc_sl_hello(struct strata_module *m)
{
	uint8_t hello = BC_HELLO;
	struct strata_msg *msg = strata_msg_new(&hello, 1);
	if (!msg)
		return;
	for (uint32_t q = 1; q <= strata_node_n(m->node); q++)
		if (q != strata_node_id(m->node))
			(void)strata_sl_send(m, q, 0, msg);
	strata_msg_unref(msg);
}

int bc_need_fd(struct strata_module *m, const char *algo, char *err, size_t errlen)
{
	struct strata_module *fd = strata_node_role(m->node, STRATA_ROLE_FD);
	if (!fd) {
		snprintf(err, errlen, "%s needs a perfect failure detector (fail-stop model) and the "
				      "node has none", algo);
		return STRATA_EMODEL;
	}
	strata_module_subscribe(fd, m);
	return 0;
}

/* ---- acknowledged garbage collection ---- */

int bc_acks_init(struct bc_acks *a, uint32_t n)
{
	memset(a, 0, sizeof(*a));
	a->n = n;
	size_t cells = (size_t)(n + 1) * (n + 1);
	a->low = calloc(cells, sizeof(*a->low));
	a->inc = calloc(cells, sizeof(*a->inc));
	a->crashed = calloc(n + 1, sizeof(*a->crashed));
	if (!a->low || !a->inc || !a->crashed) {
		bc_acks_free(a);
		return STRATA_ENOMEM;
	}
	return 0;
}

void bc_acks_free(struct bc_acks *a)
{
	free(a->low);
	free(a->inc);
	free(a->crashed);
	a->low = a->inc = NULL;
	a->crashed = NULL;
}

void bc_acks_set_own(struct bc_acks *a, uint32_t self, uint32_t s, uint64_t inc, uint64_t low)
{
	size_t i = (size_t)self * (a->n + 1) + s;
	if (a->low[i] != low || a->inc[i] != inc) {
		a->low[i] = low;
		a->inc[i] = inc;
		a->dirty = true;
	}
}

bool bc_acks_stable(const struct bc_acks *a, uint32_t s, uint64_t inc, uint64_t seq)
{
	for (uint32_t q = 1; q <= a->n; q++) {
		if (a->crashed[q])
			continue;
		size_t i = (size_t)q * (a->n + 1) + s;
		/* A watermark about an older incarnation of s says nothing about this one. */
		if (a->inc[i] < inc || (a->inc[i] == inc && a->low[i] < seq))
			return false;
	}
	return true;
}

void bc_acks_tick(struct bc_acks *a, struct strata_module *m, bool holding)
{
	a->quiet++;
	if (!a->dirty && !(holding && a->quiet >= 4))
		return;
	uint32_t self = strata_node_id(m->node);
	struct strata_wr w;
	strata_wr_init(&w, 8 + (size_t)a->n * 20);
	strata_wr_u8(&w, BC_ACKS);
	for (uint32_t s = 1; s <= a->n; s++) {
		size_t i = (size_t)self * (a->n + 1) + s;
		strata_wr_u64(&w, a->inc[i]);
		strata_wr_u64(&w, a->low[i]);
	}
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	for (uint32_t q = 1; q <= a->n; q++)
		if (q != self && !a->crashed[q])
			(void)strata_fll_send(m, q, 0, msg);
	strata_msg_unref(msg);
	a->dirty = false;
	a->quiet = 0;
}

int bc_acks_recv(struct bc_acks *a, uint32_t from, struct strata_rd *r)
{
	uint64_t inc[STRATA_MAX_NODES + 1], low[STRATA_MAX_NODES + 1];
	for (uint32_t s = 1; s <= a->n; s++) {
		inc[s] = strata_rd_u64(r);
		low[s] = strata_rd_u64(r);
	}
	if (strata_rd_done(r) != 0)
		return STRATA_EPROTO;
	/* Fair-loss links reorder: keep the larger of what we have and what arrived. */
	for (uint32_t s = 1; s <= a->n; s++) {
		size_t i = (size_t)from * (a->n + 1) + s;
		if (inc[s] > a->inc[i] || (inc[s] == a->inc[i] && low[s] > a->low[i])) {
			a->inc[i] = inc[s];
			a->low[i] = low[s];
		}
	}
	return 0;
}

/* ---- pending tables ---- */

static void ptab_fini(void *ext, void *arg)
{
	(void)arg;
	struct bc_pend *e = ext;
	strata_msg_unref(e->msg);
}

/* The key: origin, incarnation, seq, big-endian (20 bytes). */
static void ptab_key(uint8_t key[20], uint32_t origin, uint64_t inc, uint64_t seq)
{
	for (int i = 0; i < 4; i++)
		key[i] = (uint8_t)(origin >> (24 - 8 * i));
	for (int i = 0; i < 8; i++) {
		key[4 + i] = (uint8_t)(inc >> (56 - 8 * i));
		key[12 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
}

int bc_ptab_init(struct bc_ptab *t, const char *what, size_t cap)
{
	t->t = strata_itab_new(what, cap, sizeof(struct bc_pend), ptab_fini, NULL);
	return t->t ? 0 : STRATA_ENOMEM;
}

void bc_ptab_free(struct bc_ptab *t)
{
	strata_itab_free(t->t);
	t->t = NULL;
}

size_t bc_ptab_len(const struct bc_ptab *t) { return strata_itab_len(t->t); }

size_t bc_ptab_cap(const struct bc_ptab *t) { return strata_itab_cap(t->t); }

struct bc_pend *bc_ptab_next(const struct bc_ptab *t, size_t *it)
{
	return strata_itab_next(t->t, it, NULL, NULL);
}

struct bc_pend *bc_ptab_find(struct bc_ptab *t, uint32_t origin, uint64_t inc, uint64_t seq)
{
	uint8_t key[20];
	ptab_key(key, origin, inc, seq);
	return strata_itab_find(t->t, key, sizeof(key));
}

struct bc_pend *bc_ptab_add(struct bc_ptab *t, uint32_t origin, uint64_t inc, uint64_t seq,
			    struct strata_msg *msg)
{
	uint8_t key[20];
	ptab_key(key, origin, inc, seq);
	bool created = false;
	struct bc_pend *e = strata_itab_get(t->t, key, sizeof(key), &created, NULL);
	if (!e)
		return NULL; /* full (or out of memory) */
	STRATA_ASSERT(created); /* callers look an entry up before adding it */
	*e = (struct bc_pend){ .origin = origin, .inc = inc, .seq = seq,
			       .msg = strata_msg_ref(msg) };
	return e;
}

void bc_ptab_del(struct bc_ptab *t, struct bc_pend *e)
{
	uint8_t key[20];
	ptab_key(key, e->origin, e->inc, e->seq);
	strata_itab_del(t->t, key, sizeof(key));
}

void bc_ptab_drop_origin(struct bc_ptab *t, uint32_t origin)
{
	struct bc_pend *e;
	for (size_t it = 0; (e = bc_ptab_next(t, &it));)
		if (e->origin == origin)
			bc_ptab_del(t, e);
}

/* ---- subscribers of stackable instances ---- */

int bc_subs_default(struct strata_module *m, uint64_t inst, struct bc_subs *s)
{
	/* A peer's message can be the first use of the upper algorithm on this node: it is created
	 * now (its constructor may open this very instance, hence bc_subs_add's deduplication). */
	struct strata_module *up = inst == 0
		? strata_client_adapter(m->node)
		: strata_node_module_get_wire(m->node, BCAST_INST_WIRE(inst));
	if (!up || up == m)
		return STRATA_ENOENT;
	return bc_subs_add(s, up);
}

int bc_subs_add(struct bc_subs *s, struct strata_module *upper)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->m[i] == upper)
			return 0;
	if (s->n >= BC_SUBS_MAX)
		return STRATA_EFULL;
	s->m[s->n++] = upper;
	return 0;
}

void bc_subs_indicate(struct strata_module *m, const struct bc_subs *s, uint64_t inst,
		      struct strata_msg *msg, const struct strata_deliver *d)
{
	for (unsigned i = 0; i < s->n; i++)
		strata_raise_body(m->node, m, s->m[i], STRATA_EV_DELIVER, d->origin, inst, d->seq,
				  msg, d, sizeof(*d));
}

void bc_reject_frame(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_PL_DELIVER || ev->type == STRATA_EV_SL_DELIVER ||
	    ev->type == STRATA_EV_FLL_DELIVER) {
		char why[64];
		snprintf(why, sizeof(why), "%s: frame addressed to %s", m->ops->name, m->ops->name);
		strata_node_bad_payload(m->node, m, ev->peer, why);
	}
}
