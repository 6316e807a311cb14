/* The TCP client server of the libuv runtime (proto/client.proto): status, operations routed to
 * modules, and subscriptions that stream failure-detector, leader and delivery events.
 *
 * Connection discipline ([client] in the config, docs/security.md) is the runtime's one
 * mechanism for every TCP port (listener.c): a connection limit with oldest-idle eviction
 * (subscribers last), a deadline for a frame once its first byte arrived, an idle timeout
 * (subscribers exempt) and an output cap, each closure counted (client_evicted,
 * client_idle_closed, client_frame_timeouts, client_refused, client_slow_dropped). Activity is a
 * complete frame (or the accept), not a byte.
 *
 * Bounds: at most [client] max_connections connections; a read buffer per connection that never
 * exceeds one frame (4 bytes + 2 MiB) and shrinks back when idle; at most queue_max_bytes queued
 * toward a connection (listener.c); at most CONN_PENDING_MAX requests in flight per
 * connection and PENDING_MAX in the runtime (beyond: an immediate STRATA_EFULL reply).
 *
 * Garbage (an oversized frame, bytes that are not a Request) is counted in client_bad_requests,
 * answered with an error Response, and the connection is shut down once that Response is
 * written: the byte stream cannot be trusted any more. A well-formed but invalid Request (no
 * body, op out of range, bad module name) is counted and answered with STRATA_EINVAL, and the
 * connection stays open. Connection memory is freed only in its close
 * callback, after libuv has completed (or cancelled) its writes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "crypto/session.h"
#include "rt/uv/client_frame.h"
#include "rt/uv/internal.h"

#define RBUF_MIN 4096u
#define RBUF_IDLE_MAX (64u * 1024)
#define RBUF_MAX (STRATA_CLIENT_HDR + STRATA_CLIENT_FRAME_MAX + STRATA_SESSION_ABYTES)
#define CONN_PENDING_MAX 1024u

/* [client] auth: where a connection is in the handshake of crypto/session.h. */
enum conn_auth {
	CA_PLAIN = 0, /* auth is off: frames are plain Requests */
	CA_HELLO,     /* waiting for message 1 */
	CA_FINISH,    /* message 2 sent, waiting for message 3 */
	CA_OPEN,      /* every frame is sealed */
};

struct client_conn {
	struct lsn_conn ce; /* first: the listener's part (ce.inflight = requests in the node) */
	struct strata_uv *rt;
	uint8_t *rbuf;
	size_t rlen, rcap;
	bool sub_fd, sub_deliveries;
	enum conn_auth auth;
	struct strata_session *sess; /* during and after the handshake; wiped on close */
	bool bundles;       /* the client sent a bundle: replies of one step leave as one too */
	uint8_t *out;       /* CA_OPEN: the frames held while corked, not sealed yet (a bundle's
			     * plaintext: the mark, then frames); at most STRATA_CLIENT_FRAME_MAX */
	size_t out_len, out_cap;
	unsigned out_n;     /* frames in out */
	uint8_t *in;        /* CA_OPEN: the plaintext of the frame being read */
	size_t in_cap;
	uint8_t *plain;     /* CA_OPEN: scratch for a reply sealed alone */
	size_t plain_cap;
	uint64_t sub_id;
	unsigned nmods;
	char mods[STRATA_CLIENT_SUB_MODULES_MAX][STRATA_CLIENT_MODULE_MAX];
};

#define CONN(lc) ((struct client_conn *)(lc))

/* ---- connection lifecycle (listener.c calls these) ---- */

static struct lsn_conn *conn_create(struct lsn *l)
{
	struct client_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rt = l->rt;
	return &c->ce;
}

static void conn_freed(struct lsn_conn *lc)
{
	struct client_conn *c = CONN(lc);
	if (c->sess) {
		strata_session_wipe(c->sess);
		free(c->sess);
	}
	if (c->out)
		sodium_memzero(c->out, c->out_cap);
	if (c->plain)
		sodium_memzero(c->plain, c->plain_cap);
	if (c->in)
		sodium_memzero(c->in, c->in_cap);
	free(c->out);
	free(c->in);
	free(c->plain);
	free(c->rbuf);
	free(c);
}

/* Replies still in the node are dropped when they arrive. */
static void conn_closing(struct lsn_conn *lc)
{
	if (!lc->inflight)
		return;
	struct strata_uv *rt = CONN(lc)->rt;
	for (uint32_t i = 0; i < rt->pend_cap; i++)
		if (rt->pend[i].rid && rt->pend[i].c == CONN(lc))
			rt->pend[i].c = NULL;
	lc->inflight = 0;
}

static void conn_close(struct client_conn *c)
{
	lsn_conn_close(&c->ce);
}

static void conn_drain(struct client_conn *c)
{
	lsn_conn_drain(&c->ce);
}

/* ---- writing ---- */

/* Seals m[0..mlen) as one frame toward c and writes it (held if the listener is corked). */
static void seal_write(struct client_conn *c, const uint8_t *m, size_t mlen)
{
	size_t body = mlen + STRATA_SESSION_ABYTES;
	struct lsn_wreq *w = lsn_wreq_new(&c->ce, STRATA_CLIENT_HDR + body); /* NULL: closed */
	if (!w)
		return;
	strata_be32_put(w->data, (uint32_t)body);
	strata_session_seal(c->sess, w->data + STRATA_CLIENT_HDR, m, mlen);
	(void)lsn_write(&c->ce, w, w->len);
}

/* Seals the frames held in c->out: one alone as a plain sealed frame, several as a bundle. */
static void out_flush(struct client_conn *c)
{
	if (!c->out_n)
		return;
	if (c->out_n == 1)
		seal_write(c, c->out + STRATA_CLIENT_BUNDLE_HDR + STRATA_CLIENT_HDR,
			   c->out_len - STRATA_CLIENT_BUNDLE_HDR - STRATA_CLIENT_HDR);
	else
		seal_write(c, c->out, c->out_len);
	c->out_len = 0;
	c->out_n = 0;
}

/* The listener uncorks (or drains c): the held replies leave, sealed as one frame. */
static void conn_flush_held(struct lsn_conn *lc)
{
	struct client_conn *c = CONN(lc);
	if (c->auth == CA_OPEN)
		out_flush(c);
}

/* `make check-bundle-broken` builds this file with STRATA_CLIENT_BUNDLE_BROKEN=2 to show that
 * test_client_bundle fails when replies are bundled toward a client that never sent a bundle
 * (which may not read bundles); no other build defines it. */
#ifndef STRATA_CLIENT_BUNDLE_BROKEN
#define STRATA_CLIENT_BUNDLE_BROKEN 0
#endif

static void conn_send(struct client_conn *c, const Strata__Client__Response *r)
{
	if (c->ce.closing || c->ce.draining)
		return;
	size_t len = strata_client_response_frame_size(r);
	if (len - STRATA_CLIENT_HDR > STRATA_CLIENT_FRAME_MAX) {
		/* Cannot happen with the default max_value; answer rather than break the stream. */
		Strata__Client__Response e = STRATA__CLIENT__RESPONSE__INIT;
		e.id = r->id;
		e.status = STRATA_ETOOBIG;
		e.error = (char *)"response larger than a client frame (2 MiB)";
		conn_send(c, &e);
		return;
	}
	c->rt->counters.client_replies++;
	if (c->auth != CA_OPEN) {
		struct lsn_wreq *w = lsn_wreq_new(&c->ce, len); /* NULL: closed (over the cap) */
		if (!w)
			return;
		strata_client_response_frame_pack(r, w->data);
		(void)lsn_write(&c->ce, w, len);
		return;
	}
	/* Sealed. A client that bundles its requests gets the replies of one step (the listener
	 * is corked) held here and sealed as one bundle when the listener uncorks. */
	if ((c->bundles || STRATA_CLIENT_BUNDLE_BROKEN == 2) && lsn_corked(&c->rt->client_lsn) &&
	    STRATA_CLIENT_BUNDLE_HDR + len <= STRATA_CLIENT_FRAME_MAX) {
		if (c->out_len + len > STRATA_CLIENT_FRAME_MAX)
			out_flush(c); /* a bundle is one frame: at most the frame limit */
		if (!c->out_len)
			c->out_len = STRATA_CLIENT_BUNDLE_HDR;
		if (strata_bytes_reserve(&c->out, &c->out_cap, c->out_len + len) != 0) {
			conn_close(c);
			return;
		}
		c->out[0] = STRATA_CLIENT_BUNDLE_MARK;
		strata_client_response_frame_pack(r, c->out + c->out_len);
		c->out_len += len;
		c->out_n++;
		lsn_cork_hold(&c->ce);
		return;
	}
	out_flush(c); /* what is held goes first: the stream's order is the replies' order */
	if (strata_bytes_reserve(&c->plain, &c->plain_cap, len) != 0) {
		conn_close(c);
		return;
	}
	strata_client_response_frame_pack(r, c->plain);
	seal_write(c, c->plain + STRATA_CLIENT_HDR, len - STRATA_CLIENT_HDR);
}

/* One handshake message as a frame (not a Response). */
static void conn_send_raw(struct client_conn *c, const uint8_t *body, size_t blen)
{
	struct lsn_wreq *w = lsn_wreq_new(&c->ce, STRATA_CLIENT_HDR + blen);
	if (!w)
		return;
	strata_be32_put(w->data, (uint32_t)blen);
	memcpy(w->data + STRATA_CLIENT_HDR, body, blen);
	(void)lsn_write(&c->ce, w, w->len);
}

static void send_error(struct client_conn *c, uint64_t id, int status, const char *text)
{
	Strata__Client__Response r = STRATA__CLIENT__RESPONSE__INIT;
	r.id = id;
	r.status = status;
	r.error = (char *)(uintptr_t)(text ? text : strata_strerror(status));
	conn_send(c, &r);
}

static void bad_request(struct client_conn *c, uint64_t id, int status, const char *why)
{
	struct strata_uv *rt = c->rt;
	strata_node_counters(rt->node)->client_bad_requests++;
	strata_uv_log(rt, STRATA_LOG_WARN, "client: bad request: %s; closing", why);
	send_error(c, id, status, why);
	conn_drain(c);
}

/* ---- status ---- */

#define COUNTER(f) { #f, offsetof(struct strata_counters, f) }
static const struct {
	const char *name;
	size_t off;
} node_counters[] = {
	COUNTER(dgram_in), COUNTER(dgram_out), COUNTER(bytes_in), COUNTER(bytes_out),
	COUNTER(frames_in), COUNTER(frames_out), COUNTER(retransmits), COUNTER(acks_out),
	COUNTER(pl_delivered), COUNTER(pl_dup_dropped), COUNTER(pl_window_dropped),
	COUNTER(pl_reset_dropped), COUNTER(sl_evicted), COUNTER(send_full),
	COUNTER(owed), COUNTER(owed_resent), COUNTER(owed_dropped),
	COUNTER(rej_short), COUNTER(rej_cluster), COUNTER(rej_receiver), COUNTER(rej_sender),
	COUNTER(rej_mac), COUNTER(rej_malformed), COUNTER(rej_replay), COUNTER(rej_incarnation),
	COUNTER(rej_module), COUNTER(rej_payload), COUNTER(rej_fragment), COUNTER(rej_addr),
	COUNTER(client_bad_requests), COUNTER(store_errors),
	COUNTER(kv_leader), COUNTER(kv_term), COUNTER(kv_last_index), COUNTER(kv_commit_index),
	COUNTER(kv_applied_index), COUNTER(kv_batches), COUNTER(kv_commands),
	COUNTER(kv_read_rounds), COUNTER(kv_busy), COUNTER(kv_snapshot_index),
	COUNTER(kv_log_first), COUNTER(kv_snapshots), COUNTER(kv_snapshot_installs),
	COUNTER(kv_unreadable), COUNTER(kv_thrifty_batches), COUNTER(kv_thrifty_fallbacks),
	COUNTER(kv_quota_rejects), COUNTER(kv_state_bytes), COUNTER(kv_quota_bytes),
	COUNTER(kv_watch_events),
	COUNTER(kv_bft_unsigned), COUNTER(kv_bft_fallbacks), COUNTER(kv_bft_bundles),
	COUNTER(kv_bft_bundled), COUNTER(kv_bft_envelopes), COUNTER(kv_bft_enveloped),
	COUNTER(kv_bft_rounds), COUNTER(kv_bft_ordered), COUNTER(kv_bft_taken),
	COUNTER(kv_bft_early),
	COUNTER(kv_ckpt_taken), COUNTER(kv_ckpt_stable_index),
	COUNTER(kv_ckpt_stabilized), COUNTER(kv_ckpt_adopted), COUNTER(kv_ckpt_rejected),
	COUNTER(kv_ckpt_dropped), COUNTER(kv_ckpt_limited), COUNTER(kv_ckpt_fetches),
	COUNTER(kv_ckpt_snap_bad), COUNTER(kv_ckpt_served),
	COUNTER(batches), COUNTER(stores), COUNTER(syncs), COUNTER(held_max), COUNTER(early_dgrams),
	COUNTER(sig_signed), COUNTER(sig_verified),
};
#undef COUNTER
#define NODE_COUNTERS (sizeof(node_counters) / sizeof(node_counters[0]))

#define UVCOUNTER(f) { #f, offsetof(struct strata_uv_counters, f) }
static const struct {
	const char *name;
	size_t off;
} uv_counters[] = {
	UVCOUNTER(udp_send_dropped), UVCOUNTER(udp_recv_truncated), UVCOUNTER(udp_recv_errors),
	UVCOUNTER(udp_recv_calls), UVCOUNTER(udp_recv_empty),
	UVCOUNTER(client_accepted), UVCOUNTER(client_refused), UVCOUNTER(client_slow_dropped),
	UVCOUNTER(client_evicted), UVCOUNTER(client_idle_closed), UVCOUNTER(client_frame_timeouts),
	UVCOUNTER(client_replies_dropped), UVCOUNTER(client_replies), UVCOUNTER(client_writes),
	UVCOUNTER(client_auth_ok),
	UVCOUNTER(client_auth_failed), UVCOUNTER(client_unauthenticated),
	UVCOUNTER(client_decrypt_failed), UVCOUNTER(client_bad_bundles), UVCOUNTER(sync_us_max), UVCOUNTER(sync_us_total),
	UVCOUNTER(input_paused),
	UVCOUNTER(store_syncs), UVCOUNTER(syncs_inline), UVCOUNTER(syncs_dsync), UVCOUNTER(spare_failures),
	UVCOUNTER(nemesis_dropped_out), UVCOUNTER(nemesis_dropped_in),
	UVCOUNTER(nemesis_delayed), UVCOUNTER(nemesis_delay_overflow), UVCOUNTER(metrics_scrapes),
	UVCOUNTER(resp_accepted), UVCOUNTER(resp_refused), UVCOUNTER(resp_commands),
	UVCOUNTER(resp_replies), UVCOUNTER(resp_writes),
	UVCOUNTER(resp_errors), UVCOUNTER(resp_bad_requests), UVCOUNTER(resp_slow_dropped),
	UVCOUNTER(resp_auth_failed), UVCOUNTER(resp_unauthenticated),
	UVCOUNTER(resp_evicted), UVCOUNTER(resp_idle_closed), UVCOUNTER(resp_frame_timeouts),
	UVCOUNTER(metrics_accepted), UVCOUNTER(metrics_refused), UVCOUNTER(metrics_evicted),
	UVCOUNTER(metrics_idle_closed), UVCOUNTER(metrics_frame_timeouts),
	UVCOUNTER(metrics_slow_dropped), UVCOUNTER(metrics_bad_requests),
};
#undef UVCOUNTER
#define UV_COUNTERS (sizeof(uv_counters) / sizeof(uv_counters[0]))

/* struct strata_counters is all uint64_t. A field added to node.h but not yet named above is
 * still reported, as "counter_<index>", rather than silently dropped (or breaking the build of
 * whoever added it). */
_Static_assert(sizeof(struct strata_counters) % sizeof(uint64_t) == 0,
	       "struct strata_counters must hold only uint64_t counters");
#define NODE_SLOTS (sizeof(struct strata_counters) / sizeof(uint64_t))
#define RATE_COUNTERS 5
#define STATUS_COUNTERS_MAX (NODE_SLOTS + UV_COUNTERS + RATE_COUNTERS)

/* Rates over the last window of at least one second that ended at a status request (the first
 * window starts at start-up), and operations per sync overall. */
static void status_rates(struct strata_uv *rt, uint64_t v[RATE_COUNTERS])
{
	const struct strata_counters *nc = strata_node_counters(rt->node);
	uint64_t now = uv_hrtime() / 1000000;
	if (rt->rate_t0_ms == 0)
		rt->rate_t0_ms = rt->started_ms;
	uint64_t ms = now - rt->rate_t0_ms;
	if (ms >= 1000) {
		rt->rate_syncs_per_s = (nc->syncs - rt->rate_syncs0) * 1000 / ms;
		rt->rate_stores_per_s = (nc->stores - rt->rate_stores0) * 1000 / ms;
		rt->rate_batches_per_s = (nc->batches - rt->rate_batches0) * 1000 / ms;
		rt->rate_t0_ms = now;
		rt->rate_syncs0 = nc->syncs;
		rt->rate_stores0 = nc->stores;
		rt->rate_batches0 = nc->batches;
	}
	v[0] = rt->rate_syncs_per_s;
	v[1] = rt->rate_stores_per_s;
	v[2] = rt->rate_batches_per_s;
	v[3] = nc->syncs ? nc->stores / nc->syncs : 0;  /* stores per sync */
	v[4] = nc->syncs ? nc->batches / nc->syncs : 0; /* batches per sync */
}

static const char *const rate_names[RATE_COUNTERS] = {
	"syncs_per_s", "stores_per_s", "batches_per_s", "stores_per_sync", "batches_per_sync",
};

size_t uvrt_counters_max(void)
{
	return NODE_SLOTS + UV_COUNTERS;
}

size_t uvrt_counters(struct strata_uv *rt, struct uvrt_counter *out, size_t max)
{
	const struct strata_counters *nc = strata_node_counters(rt->node);
	size_t k = 0;
	for (size_t slot = 0; slot < NODE_SLOTS && k < max; slot++, k++) {
		const char *name = NULL;
		for (size_t i = 0; i < NODE_COUNTERS && !name; i++)
			if (node_counters[i].off == slot * sizeof(uint64_t))
				name = node_counters[i].name;
		if (!name) {
			snprintf(out[k].unnamed, sizeof(out[k].unnamed), "counter_%zu", slot);
			name = out[k].unnamed;
		}
		out[k].name = name;
		memcpy(&out[k].value, (const char *)nc + slot * sizeof(uint64_t), sizeof(uint64_t));
	}
	for (size_t i = 0; i < UV_COUNTERS && k < max; i++, k++) {
		out[k].name = uv_counters[i].name;
		memcpy(&out[k].value, (const char *)&rt->counters + uv_counters[i].off,
		       sizeof(uint64_t));
	}
	return k;
}

static void handle_status(struct client_conn *c, uint64_t id)
{
	struct strata_uv *rt = c->rt;
	struct strata_node *n = rt->node;
	const struct strata_config *cfg = rt->cfg;
	/* Everything lives on the stack for the duration of the pack: no allocation. */
	Strata__Client__PeerStatus peers[STRATA_MAX_NODES];
	Strata__Client__PeerStatus *peerp[STRATA_MAX_NODES];
	for (uint32_t p = 1; p <= cfg->n; p++) {
		Strata__Client__PeerStatus ps = STRATA__CLIENT__PEER_STATUS__INIT;
		ps.id = p;
		ps.state = (char *)(uintptr_t)strata_peer_state_name(strata_node_peer_state(n, p));
		ps.incarnation = p == rt->id ? strata_node_incarnation(n)
					     : strata_node_peer_incarnation(n, p);
		peers[p - 1] = ps;
		peerp[p - 1] = &peers[p - 1];
	}
	Strata__Client__Counter ctr[STATUS_COUNTERS_MAX];
	Strata__Client__Counter *ctrp[STATUS_COUNTERS_MAX];
	struct uvrt_counter uc[NODE_SLOTS + UV_COUNTERS];
	size_t k = uvrt_counters(rt, uc, NODE_SLOTS + UV_COUNTERS);
	for (size_t i = 0; i < k; i++) {
		Strata__Client__Counter x = STRATA__CLIENT__COUNTER__INIT;
		x.name = (char *)(uintptr_t)uc[i].name;
		x.value = uc[i].value;
		ctr[i] = x;
		ctrp[i] = &ctr[i];
	}
	uint64_t rates[RATE_COUNTERS];
	status_rates(rt, rates);
	for (size_t i = 0; i < RATE_COUNTERS; i++, k++) {
		Strata__Client__Counter x = STRATA__CLIENT__COUNTER__INIT;
		x.name = (char *)(uintptr_t)rate_names[i];
		x.value = rates[i];
		ctr[k] = x;
		ctrp[k] = &ctr[k];
	}
	size_t nmod = strata_node_module_count(n);
	char *mods[256];
	if (nmod > 256)
		nmod = 256;
	for (size_t i = 0; i < nmod; i++)
		mods[i] = (char *)(uintptr_t)strata_node_module_at(n, i)->ops->name;

	Strata__Client__Status st = STRATA__CLIENT__STATUS__INIT;
	st.node = rt->id;
	st.incarnation = strata_node_incarnation(n);
	st.model = (char *)(uintptr_t)strata_model_name(cfg->model);
	st.leader = strata_node_leader(n);
	st.n_peers = cfg->n;
	st.peers = peerp;
	st.n_counters = k;
	st.counters = ctrp;
	st.n = cfg->n;
	st.f = cfg->f;
	st.lamport = strata_node_lamport(n);
	st.uptime_ms = uv_hrtime() / 1000000 - rt->started_ms;
	st.cluster = (char *)(uintptr_t)cfg->cluster_id;
	st.n_modules = nmod;
	st.modules = mods;
	char murl[STRATA_HOST_MAX + 40];
	const struct strata_peer_cfg *me = &cfg->nodes[rt->id];
	if (me->metrics_port) {
		bool v6 = strchr(me->metrics_host, ':') != NULL;
		snprintf(murl, sizeof murl, "http://%s%s%s:%u/metrics", v6 ? "[" : "",
			 me->metrics_host, v6 ? "]" : "", me->metrics_port);
		st.metrics_url = murl;
	}
	Strata__Client__Response r = STRATA__CLIENT__RESPONSE__INIT;
	r.id = id;
	r.body_case = STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY;
	r.status_reply = &st;
	conn_send(c, &r);
}

/* ---- the nemesis ---- */

/* "upon NemesisRequest": refused unless the cluster config enables the nemesis; else sets the
 * rules (when asked to) and answers with the rules in force and what they dropped. */
static void handle_nemesis(struct client_conn *c, uint64_t id, const Strata__Client__NemesisRequest *q)
{
	struct strata_uv *rt = c->rt;
	if (!rt->cfg->nemesis) {
		send_error(c, id, STRATA_EINVAL,
			   "nemesis: disabled in this cluster (set [cluster] nemesis = on in the "
			   "config of a test cluster; scripts/cluster start does for local ones)");
		return;
	}
	if (q->set) {
		uint64_t all = rt->cfg->n >= 64 ? UINT64_MAX : ((uint64_t)1 << rt->cfg->n) - 1;
		rt->nem_block_out = q->block_out & all;
		rt->nem_block_in = q->block_in & all;
		rt->nem_drop_pct = q->drop_pct;
		uvrt_nemesis_set_delay(rt, q->delay_ms);
		strata_uv_log(rt, STRATA_LOG_WARN,
			      "nemesis: block out %#" PRIx64 ", block in %#" PRIx64
			      ", drop %u%%, delay %u ms",
			      rt->nem_block_out, rt->nem_block_in, rt->nem_drop_pct,
			      rt->nem_delay_ms);
	}
	Strata__Client__NemesisReply nr = STRATA__CLIENT__NEMESIS_REPLY__INIT;
	nr.block_out = rt->nem_block_out;
	nr.block_in = rt->nem_block_in;
	nr.drop_pct = rt->nem_drop_pct;
	nr.dropped_out = rt->counters.nemesis_dropped_out;
	nr.dropped_in = rt->counters.nemesis_dropped_in;
	nr.delay_ms = rt->nem_delay_ms;
	nr.delayed = rt->counters.nemesis_delayed;
	nr.delay_overflow = rt->counters.nemesis_delay_overflow;
	Strata__Client__Response r = STRATA__CLIENT__RESPONSE__INIT;
	r.id = id;
	r.body_case = STRATA__CLIENT__RESPONSE__BODY_NEMESIS;
	r.nemesis = &nr;
	conn_send(c, &r);
}

/* ---- operations ---- */

struct pending_op *uvrt_pending_alloc(struct strata_uv *rt)
{
	if (rt->npend_free == 0) {
		if (rt->pend_cap == PENDING_MAX)
			return NULL;
		uint32_t cap = rt->pend_cap ? rt->pend_cap * 2 : 64;
		struct pending_op *p = realloc(rt->pend, cap * sizeof(*p));
		if (!p)
			return NULL;
		rt->pend = p;
		uint32_t *fl = realloc(rt->pend_free, cap * sizeof(*fl));
		if (!fl)
			return NULL;
		rt->pend_free = fl;
		for (uint32_t i = cap; i > rt->pend_cap; i--) {
			rt->pend[i - 1].rid = 0;
			rt->pend_free[rt->npend_free++] = i - 1;
		}
		rt->pend_cap = cap;
	}
	uint32_t idx = rt->pend_free[--rt->npend_free];
	struct pending_op *p = &rt->pend[idx];
	/* The slot index rides in the low bits: a reply finds its slot without a search, and a
	 * stale id (a slot reused since) does not match the stored rid. */
	p->rid = (++rt->pend_seq << PENDING_BITS) | idx;
	p->t0_us = uv_hrtime() / 1000;
	p->mstat = UVRT_MSTAT_NONE;
	return p;
}

void uvrt_pending_release(struct strata_uv *rt, struct pending_op *p)
{
	uint32_t idx = (uint32_t)(p - rt->pend);
	p->rid = 0;
	p->c = NULL;
	p->rc = NULL;
	rt->pend_free[rt->npend_free++] = idx;
}

static void handle_op(struct client_conn *c, uint64_t id, const Strata__Client__OpRequest *op)
{
	struct strata_uv *rt = c->rt;
	if (rt->fatal_reported) { /* stopping on a storage failure (runtime.c, fatal_grace) */
		send_error(c, id, STRATA_ECRASHED, rt->fatal_why);
		return;
	}
	if (c->ce.inflight >= CONN_PENDING_MAX) {
		send_error(c, id, STRATA_EFULL, "too many requests in flight on this connection");
		return;
	}
	struct pending_op *p = uvrt_pending_alloc(rt);
	if (!p) {
		send_error(c, id, STRATA_EFULL, "too many requests in flight on this node");
		return;
	}
	p->c = c;
	p->rc = NULL;
	p->client_id = id;
	c->ce.inflight++;
	p->mstat = uvrt_metrics_module(rt, op->module);
	struct strata_request req = {
		.id = p->rid,
		.op = (enum strata_op)op->op,
		.key = op->key.data, .key_len = op->key.len,
		.value = op->value.data, .value_len = op->value.len,
		.value2 = op->value2.data, .value2_len = op->value2.len,
		.r = op->r, .w = op->w,
		.session = op->session, .seq = op->seq,
		/* STRATA_REQ_SERIALIZABLE and STRATA_REQ_PREFIX (smr/smr.h) */
		.flags = (op->serializable ? 1u : 0u) | (op->prefix ? 64u : 0u),
		.limit = op->limit,
		.client_auth = op->client_auth.len >= 96 && op->client_auth.len <= STRATA_REQ_AUTH_MAX
				       ? op->client_auth.data : NULL,
		.client_auth_len = op->client_auth.len,
		.timeout_ms = op->timeout_ms,
	};
	/* The reply comes back through client_output once the turn-batch is durable. */
	uvrt_input(rt);
	strata_node_request(rt->node, op->module, &req);
}

#define REPLY_SIBLINGS_MAX 16
#define REPLY_RANGE_MAX 100000 /* keys in one range reply (the frame bound comes first) */

/* STRATA_REPLY_RANGE (node.h) -> OpReply.kvs/more. *items and *ptrs are malloc'd (the caller
 * frees them); the byte strings borrow o->data. 0, STRATA_EPROTO or STRATA_ENOMEM. */
static int decode_range(const struct strata_output *o, Strata__Client__OpReply *op,
			Strata__Client__KeyValue **items, Strata__Client__KeyValue ***ptrs)
{
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	size_t count = (size_t)strata_rd_u64_max(&rd, REPLY_RANGE_MAX);
	if (!strata_rd_ok(&rd))
		return STRATA_EPROTO;
	*items = calloc(count ? count : 1, sizeof(**items));
	*ptrs = calloc(count ? count : 1, sizeof(**ptrs));
	if (!*items || !*ptrs)
		return STRATA_ENOMEM;
	for (size_t i = 0; i < count && strata_rd_ok(&rd); i++) {
		Strata__Client__KeyValue init = STRATA__CLIENT__KEY_VALUE__INIT;
		Strata__Client__KeyValue *kv = &(*items)[i];
		*kv = init;
		const uint8_t *p;
		kv->key.len = strata_rd_bytes(&rd, &p, o->len);
		kv->key.data = (uint8_t *)(uintptr_t)p;
		kv->value.len = strata_rd_bytes(&rd, &p, o->len);
		kv->value.data = (uint8_t *)(uintptr_t)p;
		kv->mod_revision = strata_rd_u64(&rd);
		kv->create_revision = strata_rd_u64(&rd);
		kv->version = strata_rd_u64(&rd);
		(*ptrs)[i] = kv;
	}
	uint8_t more = strata_rd_u8(&rd);
	if (strata_rd_done(&rd) != 0)
		return STRATA_EPROTO;
	op->n_kvs = count;
	op->kvs = *ptrs;
	op->more = more != 0;
	return 0;
}

/* STRATA_REPLY_SIBLINGS (node.h): count, values, context -> OpReply.siblings/context/value.
 * The pointers borrow o->data. 0, or STRATA_EPROTO if the module's encoding is malformed. */
static int decode_siblings(const struct strata_output *o, Strata__Client__OpReply *op,
			   ProtobufCBinaryData *sib)
{
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	size_t count = (size_t)strata_rd_u64_max(&rd, REPLY_SIBLINGS_MAX);
	for (size_t i = 0; i < count && strata_rd_ok(&rd); i++) {
		const uint8_t *p;
		sib[i].len = strata_rd_bytes(&rd, &p, o->len);
		sib[i].data = (uint8_t *)(uintptr_t)p;
	}
	const uint8_t *ctx;
	size_t clen = strata_rd_bytes(&rd, &ctx, o->len);
	if (strata_rd_done(&rd) != 0)
		return STRATA_EPROTO;
	op->n_siblings = count;
	op->siblings = sib;
	op->context.data = (uint8_t *)(uintptr_t)ctx;
	op->context.len = clen;
	if (count)
		op->value = sib[0];
	return 0;
}

static void reply_to_client(struct strata_uv *rt, const struct strata_output *o)
{
	uint32_t idx = (uint32_t)(o->a & (PENDING_MAX - 1));
	if (idx >= rt->pend_cap || rt->pend[idx].rid != o->a || o->a == 0) {
		rt->counters.client_replies_dropped++;
		return;
	}
	struct pending_op *p = &rt->pend[idx];
	uvrt_metrics_op_done(rt, p, o->status);
	struct client_conn *c = p->c;
	uint64_t client_id = p->client_id;
	struct resp_conn *rc = p->rc;
	uint32_t rslot = p->rslot, rpart = p->rpart;
	uvrt_pending_release(rt, p);
	if (rc) {
		resp_reply(rt, rc, rslot, rpart, o);
		return;
	}
	if (!c) {
		rt->counters.client_replies_dropped++;
		return;
	}
	c->ce.inflight--;
	Strata__Client__OpReply op = STRATA__CLIENT__OP_REPLY__INIT;
	Strata__Client__Response r = STRATA__CLIENT__RESPONSE__INIT;
	r.id = client_id;
	r.status = o->status;
	if (o->status != 0) {
		r.error = (char *)(uintptr_t)(o->text ? o->text : strata_strerror(o->status));
		if (o->revision) {
			op.revision = o->revision;
			r.body_case = STRATA__CLIENT__RESPONSE__BODY_OP;
			r.op = &op;
		}
	} else {
		op.found = (o->b & STRATA_REPLY_FOUND) != 0;
		op.value.data = (uint8_t *)(uintptr_t)o->data;
		op.value.len = o->len;
		op.revision = o->revision;
		r.body_case = STRATA__CLIENT__RESPONSE__BODY_OP;
		r.op = &op;
	}
	ProtobufCBinaryData sib[REPLY_SIBLINGS_MAX];
	if (o->status == 0 && (o->b & STRATA_REPLY_SIBLINGS)) {
		op.value.data = NULL;
		op.value.len = 0;
		if (decode_siblings(o, &op, sib) != 0) {
			r.status = STRATA_EPROTO;
			r.error = (char *)(uintptr_t)"malformed sibling reply from the module";
			r.body_case = STRATA__CLIENT__RESPONSE__BODY__NOT_SET;
			r.op = NULL;
		}
	}
	Strata__Client__KeyValue *items = NULL, **ptrs = NULL;
	if (o->status == 0 && (o->b & STRATA_REPLY_RANGE)) {
		op.value.data = NULL;
		op.value.len = 0;
		int drc = decode_range(o, &op, &items, &ptrs);
		if (drc != 0) {
			r.status = drc;
			r.error = (char *)(uintptr_t)(drc == STRATA_ENOMEM
				? "out of memory encoding the range reply"
				: "malformed range reply from the module");
			r.body_case = STRATA__CLIENT__RESPONSE__BODY__NOT_SET;
			r.op = NULL;
		}
	}
	if (o->sig) {
		/* A BFT KV reply (src/smr/bft.c): what the client needs to verify the signature
		 * and vote; the bytes themselves when OpReply.value does not carry them. */
		r.bft_replica = o->peer;
		r.bft_sig.data = (uint8_t *)(uintptr_t)o->sig;
		r.bft_sig.len = o->sig_len;
		r.bft_flags = o->b;
		if (o->status != 0 || (o->b & (STRATA_REPLY_RANGE | STRATA_REPLY_SIBLINGS))) {
			r.bft_data.data = (uint8_t *)(uintptr_t)o->data;
			r.bft_data.len = o->data ? o->len : 0;
		}
	}
	conn_send(c, &r);
	free(items);
	free(ptrs);
}

/* ---- subscriptions ---- */

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void send_event(struct client_conn *c, Strata__Client__Event *ev)
{
	Strata__Client__Response r = STRATA__CLIENT__RESPONSE__INIT;
	r.id = c->sub_id;
	r.body_case = STRATA__CLIENT__RESPONSE__BODY_EVENT;
	r.event = ev;
	conn_send(c, &r);
}

static void fill_event(struct strata_uv *rt, Strata__Client__Event *ev, const char *kind)
{
	Strata__Client__Event e = STRATA__CLIENT__EVENT__INIT;
	*ev = e;
	ev->kind = (char *)(uintptr_t)kind;
	ev->node = rt->id;
	ev->wall_ms = wall_ms();
	ev->lamport = strata_node_lamport(rt->node);
}

static void handle_subscribe(struct client_conn *c, uint64_t id,
			     const Strata__Client__SubscribeRequest *s)
{
	struct strata_uv *rt = c->rt;
	c->sub_id = id;
	c->sub_fd = s->fd;
	c->sub_deliveries = s->deliveries || s->n_modules > 0;
	/* A subscriber waits for events by design: no idle timeout, evicted last (listener.c). */
	c->ce.exempt = c->sub_fd || c->sub_deliveries;
	c->nmods = (unsigned)s->n_modules;
	for (size_t i = 0; i < s->n_modules; i++)
		snprintf(c->mods[i], sizeof(c->mods[i]), "%s", s->modules[i]);
	/* An empty Response acknowledges the subscription; events follow under the same id. */
	Strata__Client__Response ack = STRATA__CLIENT__RESPONSE__INIT;
	ack.id = id;
	conn_send(c, &ack);
	if (!c->sub_fd)
		return;
	/* A watcher starts from the current view, then gets the changes. */
	for (uint32_t p = 1; p <= rt->cfg->n; p++) {
		Strata__Client__Event ev;
		fill_event(rt, &ev, "fd");
		ev.peer = p;
		ev.state = (char *)(uintptr_t)strata_peer_state_name(
			strata_node_peer_state(rt->node, p));
		ev.incarnation = p == rt->id ? strata_node_incarnation(rt->node)
					     : strata_node_peer_incarnation(rt->node, p);
		send_event(c, &ev);
	}
	Strata__Client__Event ev;
	fill_event(rt, &ev, "leader");
	ev.peer = strata_node_leader(rt->node);
	send_event(c, &ev);
}

/* Whether c (open) subscribed to the deliveries of module `name` (NULL: an unnamed module). */
static bool wants_module(const struct client_conn *c, const char *name)
{
	if (!c->sub_deliveries)
		return false;
	if (c->nmods == 0)
		return true;
	for (unsigned i = 0; i < c->nmods; i++)
		if (name && strcmp(c->mods[i], name) == 0)
			return true;
	return false;
}

static bool wants(const struct client_conn *c, const struct strata_output *o)
{
	if (c->ce.closing || c->ce.draining)
		return false;
	switch (o->kind) {
	case STRATA_OUT_FD:
	case STRATA_OUT_LEADER:
	case STRATA_OUT_EVENT:
		return c->sub_fd;
	case STRATA_OUT_DELIVER:
	case STRATA_OUT_BCAST:
		return wants_module(c, o->module_name);
	case STRATA_OUT_REPLY:
		break;
	}
	return false;
}

bool client_deliveries_wanted(struct strata_uv *rt, const char *module)
{
	for (struct lsn_conn *lc = rt->client_lsn.conns; lc; lc = lc->next) {
		const struct client_conn *c = CONN(lc);
		if (!c->ce.closing && !c->ce.draining && wants_module(c, module))
			return true;
	}
	return false;
}

void client_output(struct strata_uv *rt, const struct strata_output *o)
{
	if (o->kind == STRATA_OUT_REPLY) {
		reply_to_client(rt, o);
		return;
	}
	Strata__Client__Event ev;
	bool built = false;
	for (struct lsn_conn *lc = rt->client_lsn.conns; lc; lc = lc->next) {
		struct client_conn *c = CONN(lc);
		if (!wants(c, o))
			continue;
		if (!built) {
			static const char *kinds[] = { [STRATA_OUT_FD] = "fd",
						       [STRATA_OUT_LEADER] = "leader",
						       [STRATA_OUT_DELIVER] = "deliver",
						       [STRATA_OUT_BCAST] = "bcast",
						       [STRATA_OUT_EVENT] = "event" };
			fill_event(rt, &ev, kinds[o->kind]);
			ev.module = (char *)(uintptr_t)(o->module_name ? o->module_name : "");
			ev.text = (char *)(uintptr_t)(o->text ? o->text : "");
			switch (o->kind) {
			case STRATA_OUT_FD:
				ev.peer = o->peer;
				ev.state = (char *)(uintptr_t)strata_peer_state_name(
					(enum strata_peer_state)o->a);
				ev.incarnation = o->b;
				break;
			case STRATA_OUT_LEADER:
				ev.peer = o->peer;
				ev.seq = o->a; /* the epoch */
				break;
			case STRATA_OUT_DELIVER:
			case STRATA_OUT_BCAST:
				ev.peer = o->kind == STRATA_OUT_BCAST ? rt->id : o->peer;
				ev.seq = o->a;
				ev.payload.data = (uint8_t *)(uintptr_t)o->data;
				ev.payload.len = o->len;
				ev.vc = (uint64_t *)(uintptr_t)o->vc;
				ev.n_vc = o->vc_len;
				ev.replay = o->replay;
				break;
			default:
				break;
			}
			built = true;
		}
		/* conn_send may close c (a slow subscriber), which only marks it: the list is
		 * changed in the close callback, on a later loop iteration. */
		send_event(c, &ev);
	}
}

/* ---- reading ---- */

static void handle_frame(struct client_conn *c, const uint8_t *body, size_t len)
{
	Strata__Client__Request *req = NULL;
	uint64_t id = 0;
	char why[160];
	struct strata_pb_arena *a = &c->rt->req_arena;
	int rc = strata_client_request_decode_in(a, body, len, &req, &id, why, sizeof(why));
	if (rc == STRATA_EINVAL) {
		/* Well-formed but invalid: the stream is still in sync, so answer and go on. */
		strata_node_counters(c->rt->node)->client_bad_requests++;
		strata_uv_log(c->rt, STRATA_LOG_DEBUG, "client: invalid request %" PRIu64 ": %s",
			      id, why);
		send_error(c, id, rc, why);
		return;
	}
	if (rc) {
		bad_request(c, id, rc, why);
		return;
	}
	switch (req->body_case) {
	case STRATA__CLIENT__REQUEST__BODY_STATUS:
		handle_status(c, req->id);
		break;
	case STRATA__CLIENT__REQUEST__BODY_OP:
		handle_op(c, req->id, req->op);
		break;
	case STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE:
		handle_subscribe(c, req->id, req->subscribe);
		break;
	case STRATA__CLIENT__REQUEST__BODY_NEMESIS:
		handle_nemesis(c, req->id, req->nemesis);
		break;
	default:
		STRATA_ASSERT(0 && "validated by strata_client_request_decode");
	}
	strata_client_request_free_in(a, req);
}

/* [client] auth: a frame before or after the handshake. Before: message 1, then message 3;
 * anything else is refused with a clear error (in clear: the client has no session) and counted,
 * and the connection closes once the error is written. After: the frame must open under the
 * session (an altered, replayed or reordered frame does not); then it is a Request. */
static void auth_frame(struct client_conn *c, const uint8_t *body, size_t len)
{
	struct strata_uv *rt = c->rt;
	switch (c->auth) {
	case CA_PLAIN:
		if (strata_session_is_hello(body, len)) {
			send_error(c, 0, STRATA_EAUTH,
				   "this node has client authentication off ([client] auth = off): "
				   "connect without a client key");
			conn_drain(c);
			return;
		}
		handle_frame(c, body, len);
		return;
	case CA_HELLO: {
		if (!strata_session_is_hello(body, len)) {
			/* A plain Request (a client without the key): answer under its id, so the
			 * client shows the reason rather than waiting for its answer. */
			Strata__Client__Request *req = NULL;
			uint64_t id = 0;
			char why[160];
			if (strata_client_request_decode(body, len, &req, &id, why, sizeof why) == 0)
				strata_client_request_free(req);
			rt->counters.client_unauthenticated++;
			strata_uv_log(rt, STRATA_LOG_WARN,
				      "client: request without authentication refused ([client] auth "
				      "is on)");
			send_error(c, id, STRATA_EAUTH,
				   "client authentication required: this node serves only clients "
				   "holding the cluster's client key (client.key in the cluster "
				   "directory; strata uses it when it is there, or from "
				   "$STRATA_CLIENT_KEY)");
			conn_drain(c);
			return;
		}
		uint8_t out[STRATA_SESSION_ACCEPT_LEN];
		c->sess = malloc(sizeof *c->sess);
		int rc = c->sess ? strata_session_server_accept(c->sess, rt->client_key, body, len, out)
				 : STRATA_ENOMEM;
		if (rc != 0) {
			rt->counters.client_auth_failed++;
			strata_uv_log(rt, STRATA_LOG_WARN, "client: handshake refused: %s",
				      strata_strerror(rc));
			conn_close(c);
			return;
		}
		c->auth = CA_FINISH;
		conn_send_raw(c, out, sizeof out);
		return;
	}
	case CA_FINISH: {
		int rc = strata_session_server_finish(c->sess, body, len);
		if (rc != 0) {
			rt->counters.client_auth_failed++;
			strata_uv_log(rt, STRATA_LOG_WARN,
				      "client: authentication failed: the client does not hold this "
				      "cluster's client key, or replayed another session's handshake");
			send_error(c, 0, STRATA_EAUTH,
				   "authentication failed: the client key does not match this "
				   "cluster's");
			conn_drain(c);
			return;
		}
		rt->counters.client_auth_ok++;
		c->auth = CA_OPEN;
		return;
	}
	case CA_OPEN:
		break;
	}
	if (len < STRATA_SESSION_ABYTES ||
	    strata_bytes_reserve(&c->in, &c->in_cap, len - STRATA_SESSION_ABYTES + 1) != 0 ||
	    strata_session_open(c->sess, c->in, body, len) != 0) {
		rt->counters.client_decrypt_failed++;
		strata_uv_log(rt, STRATA_LOG_WARN,
			      "client: a session frame did not open (altered, replayed or "
			      "reordered); closing");
		conn_close(c);
		return;
	}
	/* c->in is reused by the next frame: handle_frame keeps no pointer into it. */
	size_t plen = len - STRATA_SESSION_ABYTES;
	if (!strata_client_is_bundle(c->in, plen)) {
		handle_frame(c, c->in, plen);
		return;
	}
	/* A bundle: checked whole before any of its requests is handled (all or none). */
	char why[160];
	if (strata_client_bundle_check(c->in, plen, STRATA_CLIENT_FRAME_MAX, why, sizeof why) < 0) {
		rt->counters.client_bad_bundles++;
		bad_request(c, 0, STRATA_EPROTO, why);
		return;
	}
	c->bundles = true;
	size_t off = STRATA_CLIENT_BUNDLE_HDR;
	const uint8_t *fb;
	size_t fl;
	while (!c->ce.closing && !c->ce.draining &&
	       strata_client_bundle_next(c->in, plen, &off, &fb, &fl))
		handle_frame(c, fb, fl);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct client_conn *c = h->data;
	(void)suggested;
	if (c->rlen == c->rcap && c->rcap < RBUF_MAX) {
		size_t cap = c->rcap ? c->rcap * 2 : RBUF_MIN;
		if (cap > RBUF_MAX)
			cap = RBUF_MAX;
		uint8_t *nb = realloc(c->rbuf, cap);
		if (nb) {
			c->rbuf = nb;
			c->rcap = cap;
		}
	}
	/* A zero-length buffer makes libuv report UV_ENOBUFS, and on_read closes. */
	*buf = uv_buf_init((char *)(c->rbuf ? c->rbuf + c->rlen : NULL), (unsigned)(c->rcap - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client_conn *c = s->data;
	(void)buf;
	if (nread < 0) {
		conn_close(c); /* UV_EOF, a reset, or UV_ENOBUFS */
		return;
	}
	UVRT_TT(c->rt, UVRT_TT_TCP_RX, 0, nread);
	c->rlen += (size_t)nread;
	size_t off = 0;
	unsigned frames = 0;
	/* The immediate replies to the requests of this read leave in one write (lsn_cork). */
	struct lsn *l = &c->rt->client_lsn;
	lsn_cork(l);
	while (!c->ce.closing && !c->ce.draining) {
		const uint8_t *body;
		size_t blen, used;
		int rc = strata_client_frame_split(c->rbuf + off, c->rlen - off,
						   c->auth == CA_PLAIN ? STRATA_CLIENT_FRAME_MAX
						   : STRATA_CLIENT_FRAME_MAX + STRATA_SESSION_ABYTES,
						   &body, &blen, &used);
		if (rc == 0)
			break;
		if (rc < 0) {
			bad_request(c, 0, STRATA_ETOOBIG, "frame larger than 2 MiB");
			lsn_uncork(l);
			return;
		}
		off += used;
		frames++;
		auth_frame(c, body, blen);
	}
	lsn_uncork(l);
	if (c->ce.closing || c->ce.draining)
		return;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	/* Activity, and the deadline of an unfinished frame (from its first byte). */
	lsn_conn_input(&c->ce, frames, c->rlen > 0);
	if (c->rlen == 0 && c->rcap > RBUF_IDLE_MAX) {
		/* A large frame is done: give its buffer back rather than keep it per idle client. */
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	}
}

/* Admitted by the listener: the handshake state, and reading starts. */
static int conn_opened(struct lsn_conn *lc)
{
	struct client_conn *c = CONN(lc);
	c->auth = c->rt->client_key ? CA_HELLO : CA_PLAIN;
	return uv_read_start((uv_stream_t *)&lc->tcp, on_alloc, on_read);
}

static const struct lsn_ops client_ops = {
	.name = "client",
	.flush_held = conn_flush_held,
	.create = conn_create,
	.opened = conn_opened,
	.closing = conn_closing,
	.freed = conn_freed,
};

int client_server_start(struct strata_uv *rt, char *err, size_t errlen)
{
	const struct strata_peer_cfg *me = &rt->cfg->nodes[rt->id];
	struct strata_uv_counters *k = &rt->counters;
	struct strata_listen_cfg lim = strata_listen_cfg_of(rt->cfg, STRATA_PORT_CLIENT);
	/* The runtime's options override [client] when set (0 = the config's). */
	if (rt->o.max_clients)
		lim.max_conns = rt->o.max_clients;
	if (rt->o.client_queue_max)
		lim.queue_max = rt->o.client_queue_max < UINT32_MAX ? (uint32_t)rt->o.client_queue_max
								      : UINT32_MAX;
	const struct lsn_counters cnt = {
		.accepted = &k->client_accepted, .refused = &k->client_refused,
		.evicted = &k->client_evicted, .idle_closed = &k->client_idle_closed,
		.frame_timeouts = &k->client_frame_timeouts,
		.slow_dropped = &k->client_slow_dropped, .writes = &k->client_writes,
	};
	return lsn_start(&rt->client_lsn, rt, &client_ops, &lim, &cnt, me->host, me->client_port,
			 err, errlen);
}

/* The node stopped on a storage failure (runtime.c, fatal_grace): every request still in the
 * node, from the client port or the RESP port, is answered with STRATA_ECRASHED (this node
 * stopped: the outcome is unknown) and why. The node's
 * outputs held for the failed sync were discarded; this answer says nothing about the state,
 * only that the outcome is unknown (a write whose APPENDs left before the failure may still be
 * committed by the others). */
void client_fail_pending(struct strata_uv *rt, const char *why)
{
	for (uint32_t i = 0; i < rt->pend_cap; i++) {
		struct pending_op *p = &rt->pend[i];
		if (!p->rid || (!p->c && !p->rc))
			continue;
		struct strata_output o = {
			.kind = STRATA_OUT_REPLY, .a = p->rid, .status = STRATA_ECRASHED, .text = why,
		};
		reply_to_client(rt, &o);
	}
}

/* At the end of that grace: the answers (and replies held by the cork) are written before each
 * connection's shutdown; the runtime's close that follows does not wait for it, and a reply the
 * kernel took is delivered before the end of the stream. */
void client_drain_all(struct strata_uv *rt)
{
	for (struct lsn_conn *lc = rt->client_lsn.conns; lc; lc = lc->next)
		lsn_conn_drain(lc);
	for (struct lsn_conn *lc = rt->resp_lsn.conns; lc; lc = lc->next)
		lsn_conn_drain(lc);
}

void client_server_close(struct strata_uv *rt)
{
	lsn_close(&rt->client_lsn);
}

void client_server_free(struct strata_uv *rt)
{
	STRATA_ASSERT(rt->client_lsn.conns == NULL); /* every close callback has run */
	free(rt->pend);
	free(rt->pend_free);
}
