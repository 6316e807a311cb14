/* Datagrams: prefix, HMAC-SHA256 authentication (Alg. 2.4 Authenticate and Filter), the protobuf
 * body, the receive path with anti-replay and incarnation checks, and the flush that packs queued
 * frames from all three link kinds into as few datagrams as fit (batching). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "links/internal.h"

#include <sodium.h>

#define LINK_MAX_BATCH 1024

/* ---- frame queue ---- */

bool frame_q_push(struct frame_q *q, const struct out_frame *f)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct out_frame *nf = malloc(cap * sizeof(*nf));
		if (!nf)
			return false;
		for (size_t i = 0; i < q->len; i++)
			nf[i] = q->f[(q->head + i) % q->cap];
		free(q->f);
		q->f = nf;
		q->cap = cap;
		q->head = 0;
	}
	q->f[(q->head + q->len) % q->cap] = *f;
	q->len++;
	return true;
}

static struct out_frame *frame_q_front(struct frame_q *q)
{
	return q->len ? &q->f[q->head] : NULL;
}

static void frame_q_pop(struct frame_q *q)
{
	STRATA_ASSERT(q->len);
	q->head = (q->head + 1) % q->cap;
	q->len--;
}

void frame_q_clear(struct frame_q *q)
{
	while (q->len) {
		strata_msg_unref(frame_q_front(q)->msg);
		frame_q_pop(q);
	}
	free(q->f);
	memset(q, 0, sizeof(*q));
}

/* ---- construction ---- */

/* ---- the decode arena ----
 * protobuf-c allocates a decoded datagram's struct, its frame array, every frame struct and
 * every payload separately (2 + 2 x frames mallocs). Decoded into l->dec.a (core/pb_arena.h)
 * instead, they cost a bump each, and giving the datagram back is one reset. The arena holds twice the largest
 * datagram and 4 KiB: a datagram's decoding is its payload bytes plus about 130 bytes of
 * structs per frame (a frame takes at least 72 bytes of the datagram), so it nearly always
 * fits; what does not is malloc'd and freed at the reset. */
static void dec_reset(struct strata_links *l)
{
	strata_pb_arena_reset(&l->dec.a);
}

/* Decodes a datagram's body into the arena (with malloc while another datagram holds it);
 * *arena says which, for dgram_release. NULL: malformed (nothing is left allocated). */
static Strata__Wire__Datagram *dgram_unpack(struct strata_links *l, const uint8_t *body,
					    size_t len, bool *arena)
{
	*arena = !l->dec.busy;
	if (!*arena)
		return strata__wire__datagram__unpack(NULL, len, body);
	Strata__Wire__Datagram *d = strata__wire__datagram__unpack(&l->dec.a.pa, len, body);
	if (d)
		l->dec.busy = true;
	else
		dec_reset(l); /* what the failed unpack allocated */
	return d;
}

static void dgram_release(struct strata_links *l, Strata__Wire__Datagram *d, bool arena)
{
	if (!d)
		return;
	if (!arena) {
		strata__wire__datagram__free_unpacked(d, NULL);
		return;
	}
	dec_reset(l);
	l->dec.busy = false;
}

struct strata_links *strata_links_new(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	struct strata_links *l = calloc(1, sizeof(*l));
	if (!l)
		goto nomem;
	l->node = n;
	l->cfg = cfg;
	l->self = strata_node_id(n);
	l->n = cfg->n;
	STRATA_ASSERT(cfg->max_datagram > LINK_OVERHEAD + 64);
	l->frame_max = cfg->max_datagram - LINK_OVERHEAD;
	l->dgram = malloc(cfg->max_datagram);
	l->plain = malloc(cfg->max_datagram);
	strata_pb_arena_init(&l->dec.a, 2 * (size_t)cfg->max_datagram + 4096);
	/* The delayed ack waits at most a quarter of the smallest retransmission timeout, so it
	 * never makes a sender retransmit what arrived; ack_every bounds what one ack covers, so
	 * a one-way stream keeps its window open. */
	l->ack_delay_us = cfg->ack_delay_us;
	if (l->ack_delay_us > (uint64_t)cfg->retransmit_min_ms * 1000 / 4)
		l->ack_delay_us = (uint64_t)cfg->retransmit_min_ms * 1000 / 4;
	l->ack_every = cfg->window / 4 < 16 ? cfg->window / 4 : 16;
	l->batch_max = cfg->max_datagram / 72 + 1;
	if (l->batch_max > LINK_MAX_BATCH)
		l->batch_max = LINK_MAX_BATCH;
	l->batch = calloc(l->batch_max, sizeof(*l->batch));
	l->wframes = calloc(l->batch_max, sizeof(*l->wframes));
	l->wframe_ptrs = calloc(l->batch_max, sizeof(*l->wframe_ptrs));
	l->peers = calloc(l->n + 1, sizeof(*l->peers));
	l->keys = strata_secure_alloc((l->n + 1) * STRATA_LINK_KEY_LEN);
	l->mac_keys = strata_secure_alloc((l->n + 1) * sizeof(*l->mac_keys));
	if (!l->dgram || !l->plain || !l->dec.a.buf || !l->batch || !l->wframes || !l->wframe_ptrs || !l->peers || !l->keys || !l->mac_keys)
		goto nomem;
	const uint8_t *given = strata_node_given_link_keys(n);
	const uint8_t *sk = strata_node_secret_key(n);
	const uint8_t *pk = strata_node_public_key(n, l->self);
	for (uint32_t i = 1; i <= l->n; i++) {
		struct link_peer *p = &l->peers[i];
		p->id = i;
		p->rx_next = 1;
		p->tx_next_seq = 1;
		p->rto_us = (uint64_t)cfg->retransmit_min_ms * 1000 * 4;
		if (p->rto_us > (uint64_t)cfg->retransmit_max_ms * 1000)
			p->rto_us = (uint64_t)cfg->retransmit_max_ms * 1000;
		strata_timer_init(&p->rto_timer, NULL, LINK_TIMER_RTO, i);
		strata_timer_init(&p->sl_timer, NULL, LINK_TIMER_SL, i);
		strata_timer_init(&p->ack_timer, NULL, LINK_TIMER_ACK, i);
		if (i == l->self)
			continue;
		uint8_t *key = l->keys + i * STRATA_LINK_KEY_LEN;
		if (given) {
			memcpy(key, given + i * STRATA_LINK_KEY_LEN, STRATA_LINK_KEY_LEN);
		} else if (strata_link_key(key, pk, sk, strata_node_public_key(n, i)) != 0) {
			snprintf(err, errlen, "public key of node %u is not a valid Ed25519 key", i);
			strata_links_free(l);
			return NULL;
		}
		strata_mac_key_init(&l->mac_keys[i], key);
	}
	return l;
nomem:
	snprintf(err, errlen, "out of memory");
	strata_links_free(l);
	return NULL;
}

void strata_links_free(struct strata_links *l)
{
	if (!l)
		return;
	if (l->peers) {
		for (uint32_t i = 1; i <= l->n; i++) {
			struct link_peer *p = &l->peers[i];
			strata_timer_disarm(l->node, &p->rto_timer);
			strata_timer_disarm(l->node, &p->sl_timer);
			strata_timer_disarm(l->node, &p->ack_timer);
			frame_q_clear(&p->fll);
			sl_peer_free(p);
			pl_peer_reset_recv(l, p);
			pl_peer_free(p);
		}
	}
	free(l->peers);
	free(l->dgram);
	free(l->plain);
	strata_pb_arena_free(&l->dec.a);
	free(l->batch);
	free(l->wframes);
	free(l->wframe_ptrs);
	strata_secure_free(l->keys);
	strata_secure_free(l->mac_keys);
	free(l);
}

size_t strata_links_frame_max(const struct strata_node *n)
{
	return strata_node_links(n)->frame_max;
}

uint64_t strata_links_peer_incarnation(const struct strata_links *l, uint32_t peer)
{
	STRATA_ASSERT(peer >= 1 && peer <= l->n);
	return l->peers[peer].incarnation;
}

size_t strata_links_pending(const struct strata_node *n, uint32_t peer)
{
	const struct strata_links *l = strata_node_links(n);
	STRATA_ASSERT(peer >= 1 && peer <= l->n);
	return l->peers[peer].tx_len + l->peers[peer].fll.len;
}

void strata_links_timer(struct strata_links *l, uint64_t token, uint64_t instance)
{
	STRATA_ASSERT(instance >= 1 && instance <= l->n);
	struct link_peer *p = &l->peers[instance];
	STRATA_ASSERT(token == LINK_TIMER_RTO || token == LINK_TIMER_SL || token == LINK_TIMER_ACK);
	if (token == LINK_TIMER_RTO)
		pl_on_rto(l, p);
	else if (token == LINK_TIMER_SL)
		sl_on_timer(l, p);
	else if (p->ack_needed)
		p->ack_now = true; /* the delay is over: this turn's flush sends it */
}

/* ---- delivery to modules ---- */

void link_deliver(struct strata_links *l, uint16_t type, uint32_t from, uint16_t module,
		  uint64_t instance, uint64_t lamport, struct strata_msg *msg)
{
	struct strata_node *n = l->node;
	/* A peer's first frame for an algorithm this node has not run yet creates it (lazily). */
	struct strata_module *m = strata_node_module_get_wire(n, module);
	if (!m) {
		strata_node_counters(n)->rej_module++;
		strata_trace(n, "links", "frame for unknown module %u from %u -> dropped", module, from);
		return;
	}
	strata_lamport_recv(n, lamport);
	strata_raise(n, m, type, from, instance, 0, msg);
}

/* ---- fair-loss ---- */

int strata_fll_send(struct strata_module *from, uint32_t to, uint64_t instance,
		    struct strata_msg *msg)
{
	STRATA_ASSERT(from && from->node && from->wire_id && msg);
	struct strata_links *l = strata_node_links(from->node);
	if (to < 1 || to > l->n)
		return STRATA_EINVAL;
	if (msg->len > l->frame_max)
		return STRATA_ETOOBIG;
	uint64_t ts = strata_lamport_send(from->node);
	if (to == l->self) {
		link_deliver(l, STRATA_EV_FLL_DELIVER, to, from->wire_id, instance, ts, msg);
		return 0;
	}
	struct out_frame f = {
		.link = STRATA_LINK_FLL, .module = from->wire_id, .instance = instance,
		.lamport = ts, .msg = strata_msg_ref(msg), .len = (uint32_t)msg->len,
	};
	if (!frame_q_push(&l->peers[to].fll, &f)) {
		strata_msg_unref(msg);
		return STRATA_ENOMEM;
	}
	return 0;
}

/* ---- receive ---- */

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* [cluster] encrypt: the key of the direction from -> to, derived from the pair key (both
 * directions share the pair key, and the nonces of the two senders may coincide). */
static void dir_key(uint8_t out[32], const uint8_t *pair_key, uint32_t from, uint32_t to)
{
	static const char label[] = "strata link aead";
	uint8_t in[sizeof label + 4];
	memcpy(in, label, sizeof label);
	in[sizeof label] = (uint8_t)from;
	in[sizeof label + 1] = (uint8_t)(from >> 8);
	in[sizeof label + 2] = (uint8_t)to;
	in[sizeof label + 3] = (uint8_t)(to >> 8);
	crypto_generichash(out, 32, in, sizeof in, pair_key, STRATA_LINK_KEY_LEN);
}

size_t link_encode(const struct strata_config *cfg, const uint8_t *key,
		   const struct strata_mac_key *mk, uint32_t from, uint32_t to,
		   const Strata__Wire__Datagram *d, uint8_t *out, uint8_t *scratch)
{
	out[0] = LINK_VERSION;
	out[1] = cfg->encrypt ? LINK_SEALED : 0;
	put_le64(out + 2, cfg->cluster_hash);
	out[10] = (uint8_t)(from & 0xff);
	out[11] = (uint8_t)(from >> 8);
	out[12] = (uint8_t)(to & 0xff);
	out[13] = (uint8_t)(to >> 8);
	size_t body = strata__wire__datagram__pack(d, cfg->encrypt ? scratch : out + LINK_PREFIX_LEN);
	if (!cfg->encrypt) {
		if (mk)
			strata_mac_keyed(out + LINK_PREFIX_LEN + body, mk, out, LINK_PREFIX_LEN + body);
		else
			strata_mac(out + LINK_PREFIX_LEN + body, key, out, LINK_PREFIX_LEN + body);
		return LINK_PREFIX_LEN + body + STRATA_MAC_LEN;
	}
	/* The nonce: the sender's incarnation and datagram counter, unique per direction. */
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
	put_le64(nonce, d->incarnation);
	put_le64(nonce + 8, d->counter);
	memcpy(out + LINK_PREFIX_LEN, nonce, LINK_NONCE_LEN);
	uint8_t k[32];
	dir_key(k, key, from, to);
	unsigned long long clen = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + LINK_PREFIX_LEN + LINK_NONCE_LEN, &clen,
						   scratch, body, out, LINK_PREFIX_LEN, NULL,
						   nonce, k);
	sodium_memzero(k, sizeof k);
	return LINK_PREFIX_LEN + LINK_NONCE_LEN + (size_t)clen;
}

/* Anti-replay window (as in IPsec): accept each counter value once, within 64 of the maximum. */
static bool replay_check(struct link_peer *p, uint64_t c)
{
	if (c == 0)
		return false;
	if (c > p->replay_max) {
		uint64_t shift = c - p->replay_max;
		p->replay_bits = shift >= 64 ? 0 : p->replay_bits << shift;
		p->replay_bits |= 1;
		p->replay_max = c;
		return true;
	}
	uint64_t back = p->replay_max - c;
	if (back >= LINK_REPLAY_WINDOW)
		return false;
	if (p->replay_bits & (1ull << back))
		return false;
	p->replay_bits |= 1ull << back;
	return true;
}

static void peer_restarted(struct strata_links *l, struct link_peer *p, uint64_t inc)
{
	struct strata_node *n = l->node;
	strata_trace(n, "links", "peer %u new incarnation %llu (was %llu) -> new sessions", p->id,
		     (unsigned long long)inc, (unsigned long long)p->incarnation);
	p->incarnation = inc;
	pl_peer_new_session(l, p);
	pl_peer_reset_recv(l, p);
	p->replay_max = 0;
	p->replay_bits = 0;
	for (size_t i = 0; i < strata_node_module_count(n); i++)
		strata_raise(n, strata_node_module_at(n, i), STRATA_EV_PEER_RESTART, p->id, 0, inc,
			     NULL);
}

/* Whether counter c would pass replay_check (without recording it). */
static bool replay_fresh(const struct link_peer *p, uint64_t c)
{
	if (c == 0)
		return false;
	if (c > p->replay_max)
		return true;
	uint64_t back = p->replay_max - c;
	return back < LINK_REPLAY_WINDOW && !(p->replay_bits & (1ull << back));
}

void strata_links_recv(struct strata_links *l, const uint8_t *buf, size_t len)
{
	strata_links_recv_from(l, buf, len, STRATA_FROM_UNCHECKED);
}

void strata_links_recv_from(struct strata_links *l, const uint8_t *buf, size_t len,
			    uint32_t from)
{
	struct strata_node *n = l->node;
	struct strata_counters *c = strata_node_counters(n);
	if (len < LINK_PREFIX_LEN + STRATA_MAC_LEN || len > l->cfg->max_datagram) {
		c->rej_short++;
		return;
	}
	/* A cluster encrypts all its datagrams or none: a datagram in the other format is
	 * refused (an unsealed one in an encrypted cluster could only be a forgery or a
	 * misconfigured node). */
	if (buf[0] != LINK_VERSION || buf[1] != (l->cfg->encrypt ? LINK_SEALED : 0)) {
		c->rej_malformed++;
		return;
	}
	if (get_le64(buf + 2) != l->cfg->cluster_hash) {
		c->rej_cluster++;
		return;
	}
	uint32_t sender = (uint32_t)buf[10] | ((uint32_t)buf[11] << 8);
	uint32_t receiver = (uint32_t)buf[12] | ((uint32_t)buf[13] << 8);
	if (receiver != l->self) {
		c->rej_receiver++;
		return;
	}
	if (sender < 1 || sender > l->n || sender == l->self) {
		c->rej_sender++;
		return;
	}
	size_t body_len = len - LINK_PREFIX_LEN - STRATA_MAC_LEN;
	const uint8_t *body = buf + LINK_PREFIX_LEN;
	if (l->cfg->encrypt) {
		uint8_t k[32];
		dir_key(k, l->keys + sender * STRATA_LINK_KEY_LEN, sender, l->self);
		uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
		memcpy(nonce, buf + LINK_PREFIX_LEN, LINK_NONCE_LEN);
		unsigned long long plen = 0;
		int orc = crypto_aead_xchacha20poly1305_ietf_decrypt(
			l->plain, &plen, NULL, buf + LINK_PREFIX_LEN + LINK_NONCE_LEN,
			len - LINK_PREFIX_LEN - LINK_NONCE_LEN, buf, LINK_PREFIX_LEN, nonce, k);
		sodium_memzero(k, sizeof k);
		if (orc != 0) {
			c->rej_mac++;
			strata_trace(n, "links", "datagram claiming sender %u does not open -> dropped",
				     sender);
			return;
		}
		body = l->plain;
		body_len = (size_t)plen;
	} else if (!strata_mac_keyed_verify(buf + len - STRATA_MAC_LEN, &l->mac_keys[sender],
					    buf, len - STRATA_MAC_LEN)) {
		c->rej_mac++;
		strata_trace(n, "links", "bad MAC claiming sender %u -> dropped", sender);
		return;
	}
	bool in_arena;
	Strata__Wire__Datagram *d = dgram_unpack(l, body, body_len, &in_arena);
	/* Sealed: the nonce in clear must be the datagram's own incarnation and counter. */
	if (d && l->cfg->encrypt &&
	    (get_le64(buf + LINK_PREFIX_LEN) != d->incarnation ||
	     get_le64(buf + LINK_PREFIX_LEN + 8) != d->counter)) {
		dgram_release(l, d, in_arena);
		d = NULL;
	}
	if (!d || d->incarnation == 0) {
		c->rej_malformed++;
		dgram_release(l, d, in_arena);
		return;
	}
	struct link_peer *p = &l->peers[sender];
	/* Twins: the datagram authenticates as `sender` but did not come from sender's configured
	 * address, and it is new (a newer incarnation, or a counter this incarnation has not
	 * used): a second process holds sender's identity. Rejected before it can move the
	 * sender's incarnation or replay window. A copy of an old datagram resent from elsewhere
	 * is not new and goes on to the incarnation and replay checks (rej_incarnation,
	 * rej_replay), as a replay from the right address would. */
	if (from != STRATA_FROM_UNCHECKED && from != sender &&
	    (d->incarnation > p->incarnation ||
	     (d->incarnation == p->incarnation && replay_fresh(p, d->counter)))) {
		c->rej_addr++;
		strata_trace(n, "links",
			     "datagram authenticated as %u (incarnation %llu) from another address -> "
			     "dropped (twin)", sender, (unsigned long long)d->incarnation);
		goto out;
	}
	if (d->incarnation < p->incarnation) {
		c->rej_incarnation++;
		goto out;
	}
	if (d->incarnation > p->incarnation) {
		if (p->incarnation != 0) {
			peer_restarted(l, p, d->incarnation);
		} else {
			p->incarnation = d->incarnation;
			/* Frames waiting for the handshake may go now. */
			p->tx_pending = p->tx_len > 0;
		}
	}
	if (d->receiver_incarnation != 0 &&
	    d->receiver_incarnation != strata_node_incarnation(n)) {
		/* Addressed to an earlier life of this node: its session state is gone. Answer, so
		 * that the sender learns this incarnation and starts a session with it. */
		c->rej_incarnation++;
		p->ack_needed = true;
		p->ack_now = true;
		goto out;
	}
	if (d->receiver_incarnation == 0) {
		/* The sender does not know us yet (a hello): answer with our incarnation. */
		p->ack_needed = true;
		p->ack_now = true;
	}
	for (size_t i = 0; i < d->n_frames; i++) {
		const Strata__Wire__Frame *f = d->frames[i];
		if (f->link > STRATA_LINK_PL || f->module == 0 || f->module > 255) {
			c->rej_malformed++;
			goto out;
		}
	}
	/* Only fair-loss frames need the anti-replay window: a replayed heartbeat could make a
	 * crashed node look alive. Perfect-link frames are protected by their sequence numbers,
	 * acknowledgements only ever state facts, and stubborn frames may repeat by definition. A
	 * burst of retransmissions reordered by more than the window must not starve them. */
	bool fresh = replay_check(p, d->counter);
	if (!fresh) {
		c->rej_replay++;
		strata_trace(n, "links",
			     "datagram %llu from %u outside the replay window (max %llu) -> fair-loss "
			     "frames dropped",
			     (unsigned long long)d->counter, sender, (unsigned long long)p->replay_max);
	}
	c->dgram_in++;
	c->bytes_in += len;
	if (d->ack)
		pl_on_ack(l, p, d->ack->cumulative, d->ack->selective);
	for (size_t i = 0; i < d->n_frames; i++) {
		const Strata__Wire__Frame *f = d->frames[i];
		c->frames_in++;
		if (f->link == STRATA_LINK_PL) {
			/* Perfect-link frames belong to a session bound to this incarnation; a
			 * sender that does not know it yet sends none. */
			if (d->receiver_incarnation == 0)
				c->rej_incarnation++;
			else
				pl_on_frame(l, p, f);
			continue;
		}
		if (f->link == STRATA_LINK_FLL && !fresh)
			continue;
		struct strata_msg *m = strata_msg_new(f->payload.data, f->payload.len);
		STRATA_ASSERT(m);
		link_deliver(l, f->link == STRATA_LINK_FLL ? STRATA_EV_FLL_DELIVER : STRATA_EV_SL_DELIVER,
			     sender, (uint16_t)f->module, f->instance, f->lamport, m);
		strata_msg_unref(m);
	}
out:
	dgram_release(l, d, in_arena);
}

/* ---- flush ---- */

/* Upper bound of a frame's encoded size inside the datagram. */
static size_t frame_wire_size(const struct out_frame *f)
{
	return 72 + (size_t)f->len;
}

/* Whether the pending ack covers only frames that arrived in batches whose sync is done: it then
 * states nothing about this node's unsynced state and may ride an early datagram. */
static bool ack_synced(const struct strata_links *l, const struct link_peer *p)
{
	return p->ack_batch <= strata_node_synced_ticket(l->node);
}

/* Whether the pending ack may wait for a frame to ride on (the delayed ack). */
static bool ack_may_wait(const struct strata_links *l, const struct link_peer *p)
{
	return l->ack_delay_us > 0 && !p->ack_now && p->rx_unacked < l->ack_every;
}

static bool all_early(const struct out_frame *batch, size_t nb)
{
	for (size_t i = 0; i < nb; i++)
		if (batch[i].link != STRATA_LINK_PL || !batch[i].early)
			return false;
	return true;
}

static void ack_sent(struct strata_links *l, struct link_peer *p)
{
	p->ack_needed = false;
	p->ack_now = false;
	p->rx_unacked = 0;
	strata_timer_disarm(l->node, &p->ack_timer);
}

static void send_datagram(struct strata_links *l, struct link_peer *p, struct out_frame *batch,
			  size_t nb, bool with_ack)
{
	/* The early class (links.h): only perfect-link frames queued as early, and no ack unless
	 * every frame it acknowledges arrived in a batch whose sync is done. */
	bool early = nb > 0 && (!with_ack || ack_synced(l, p) || l->broken_early_acks);
	for (size_t i = 0; i < nb && early; i++)
		early = batch[i].link == STRATA_LINK_PL && batch[i].early;
	struct strata_node *n = l->node;
	struct strata_counters *c = strata_node_counters(n);
	Strata__Wire__Frame *frames = l->wframes;
	Strata__Wire__Frame **fp = l->wframe_ptrs;
	Strata__Wire__Datagram d = STRATA__WIRE__DATAGRAM__INIT;
	Strata__Wire__Ack ack = STRATA__WIRE__ACK__INIT;
	STRATA_ASSERT(nb <= l->batch_max);

	for (size_t i = 0; i < nb; i++) {
		strata__wire__frame__init(&frames[i]);
		frames[i].link = batch[i].link;
		frames[i].module = batch[i].module;
		frames[i].instance = batch[i].instance;
		frames[i].seq = batch[i].seq;
		frames[i].lamport = batch[i].lamport;
		frames[i].frag_index = batch[i].frag_index;
		frames[i].frag_count = batch[i].frag_count;
		frames[i].payload.data = batch[i].msg->data + batch[i].off;
		frames[i].payload.len = batch[i].len;
		fp[i] = &frames[i];
	}
	d.incarnation = strata_node_incarnation(n);
	d.receiver_incarnation = p->incarnation;
	d.counter = ++l->counter;
	d.n_frames = nb;
	d.frames = fp;
	if (with_ack) {
		/* Cumulative ack plus a bitmap of what arrived beyond the first gap. */
		ack.cumulative = p->rx_next - 1;
		uint64_t sel = 0;
		if (p->rx) {
			for (uint64_t i = 0; i < 64 && i + 1 < l->cfg->window; i++) {
				uint64_t seq = p->rx_next + 1 + i;
				struct rx_slot *s = &p->rx[seq % l->cfg->window];
				if (s->full && s->fr.seq == seq)
					sel |= 1ull << i;
			}
		}
		ack.selective = sel;
		d.ack = &ack;
		c->acks_out++;
	}
	size_t body = strata__wire__datagram__get_packed_size(&d);
	size_t total = LINK_PREFIX_LEN + body + STRATA_MAC_LEN; /* sealed: the same */
	STRATA_ASSERT(total <= l->cfg->max_datagram);
	uint8_t *b = l->dgram;
	size_t enc = link_encode(l->cfg, l->keys + p->id * STRATA_LINK_KEY_LEN, &l->mac_keys[p->id],
				 l->self, p->id, &d, b, l->plain);
	STRATA_ASSERT(enc == total);
	strata_trace(n, "links", "datagram %llu to %u: %zu frames%s -> sent%s",
		     (unsigned long long)d.counter, p->id, nb, with_ack ? " + ack" : "",
		     early ? " (early)" : "");
	c->dgram_out++;
	c->bytes_out += total;
	c->frames_out += nb;
	if (early)
		strata_node_send_datagram_early(n, p->id, b, total);
	else
		strata_node_send_datagram(n, p->id, b, total);
}

static void flush_peer(struct strata_links *l, struct link_peer *p)
{
	struct out_frame *batch = l->batch;
	size_t budget_total = l->cfg->max_datagram - (LINK_OVERHEAD - 72);
	for (;;) {
		size_t nb = 0, used = 0, nfll = 0;
		struct out_frame *f;
		while (nb < l->batch_max && (f = frame_q_front(&p->fll)) != NULL) {
			size_t sz = frame_wire_size(f);
			if (used + sz > budget_total)
				break;
			batch[nb++] = *f;
			used += sz;
			frame_q_pop(&p->fll);
		}
		nfll = nb;
		size_t budget = budget_total - used;
		nb += pl_collect(l, p, batch + nb, l->batch_max - nb, &budget);
		bool with_ack = p->ack_needed;
		if (nb == 0) {
			if (!p->ack_needed) {
				if (!pl_hello_due(l, p))
					break;
			} else if (ack_may_wait(l, p) && !pl_hello_due(l, p)) {
				/* upon an ack with nothing to ride on: wait up to ack_delay_us for a
				 * frame (the reply to what arrived usually is one) */
				if (!strata_timer_armed(&p->ack_timer))
					strata_timer_arm_in(l->node, &p->ack_timer, l->ack_delay_us);
				break;
			}
		} else if (with_ack && !ack_synced(l, p) && all_early(batch, nb) &&
			   ack_may_wait(l, p) && !l->broken_early_acks) {
			/* The frames may leave before this batch's sync, the ack may not: they go
			 * now, it waits for a later datagram. */
			with_ack = false;
		}
		send_datagram(l, p, batch, nb, with_ack);
		if (with_ack)
			ack_sent(l, p);
		for (size_t i = 0; i < nfll; i++)
			strata_msg_unref(batch[i].msg);
	}
}

void strata_links_set_broken_early_acks(struct strata_links *l, bool on)
{
	l->broken_early_acks = on;
}

void strata_links_flush(struct strata_links *l)
{
	for (uint32_t i = 1; i <= l->n; i++)
		if (i != l->self)
			flush_peer(l, &l->peers[i]);
}
