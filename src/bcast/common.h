/* Shared pieces of the broadcast family (internal to src/bcast/).
 *
 * Every broadcast algorithm is one module (one wire id) that talks to the link layer directly;
 * what they share lives here:
 *
 *   - message identity: (origin, incarnation, seq). seq counts 1, 2, ... per origin. Crash-stop
 *     algorithms put the origin's incarnation on the wire: a restarted process is a new process
 *     in those models, so a receiver that sees a larger incarnation forgets what it knew about
 *     the origin (bc_origin_admit) and drops anything from older incarnations. The fail-recovery
 *     algorithms keep seq on stable storage so it keeps counting across restarts, and write
 *     incarnation 0 (their identity is (origin, seq) for the whole life of the node).
 *   - struct bc_win, the bounded replacement of the book's ever-growing `delivered` set: a
 *     watermark (every seq <= low is delivered) and a ring of BC_WIN_BITS bits above it. A seq
 *     more than BC_WIN_BITS above the watermark slides the window and gives up the oldest holes
 *     (counted; traced). That only happens with more than BC_WIN_BITS messages of one origin in
 *     flight, which the perfect links' window (cfg->window frames per peer) keeps from happening
 *     to a correct origin.
 *   - struct bc_acks, the acknowledged garbage collection used by lrb and ncb: every node tells
 *     the others, periodically over fair-loss links, the watermark it has delivered for every
 *     origin; a message every live node has delivered is dropped from the retransmission store.
 *   - the DATA and GOSSIP codecs, request checks, the `send DATA to all` request path, outputs,
 *     random peer choice, and the pending-table steps urb, urb_allack and fifo share. */
#ifndef STRATA_BCAST_COMMON_H
#define STRATA_BCAST_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bcast/bcast.h"
#include "core/codec.h"
#include "core/config.h"
#include "core/error.h"
#include "core/node.h"
#include "core/stack.h"

/* Wire message types shared by the family (each algorithm uses a subset). */
enum bc_type {
	BC_DATA = 1,   /* origin, inc, seq, [algorithm fields], payload */
	BC_ACKS = 2,   /* delivered watermarks: n x (inc, low) */
	BC_HELLO = 3,  /* a recovered node announces its new incarnation (fail-recovery) */
	BC_DONE = 4,   /* lurb: the sender has logged the delivery of (origin, seq) */
	BC_REQ = 5,    /* lpb: retransmission request */
};

/* Header bytes reserved on top of the payload (type, origin, inc, seq, length prefixes). */
#define BC_HDR_MAX 48

/* ---- Delivered windows ---- */

#define BC_WIN_BITS 4096

struct bc_win {
	uint64_t low; /* every seq <= low is delivered (or given up) */
	uint64_t bits[BC_WIN_BITS / 64]; /* bit (seq % BC_WIN_BITS) for seq in (low, low+BITS] */
};

void bc_win_reset(struct bc_win *w);
bool bc_win_has(const struct bc_win *w, uint64_t seq);
/* Marks seq delivered; returns how many holes were given up by sliding the window. */
uint64_t bc_win_add(struct bc_win *w, uint64_t seq);
/* Encoding for stable storage. */
void bc_win_write(struct strata_wr *wr, const struct bc_win *w);
int bc_win_read(struct strata_rd *rd, struct bc_win *w);

/* Stable storage of a u64 and of a window (fail-recovery algorithms). Store returns 0 or
 * STRATA_EIO; retrieve returns 0, STRATA_ENOENT, or STRATA_EPROTO for a damaged record. */
int bc_store_u64(struct strata_node *n, const char *key, uint64_t v);
int bc_retrieve_u64(struct strata_node *n, const char *key, uint64_t *v);
int bc_store_win(struct strata_node *n, const char *key, const struct bc_win *w);
int bc_retrieve_win(struct strata_node *n, const char *key, struct bc_win *w);

/* Per-origin state of the crash-stop algorithms. */
struct bc_origin {
	uint64_t inc; /* origin's incarnation we know; 0 = none yet */
	struct bc_win win;
};

enum bc_admit { BC_STALE = -1, BC_SAME = 0, BC_NEWINC = 1 };
/* Compares a message's origin incarnation with what we know; BC_NEWINC resets o->win. */
enum bc_admit bc_origin_admit(struct bc_origin *o, uint64_t inc);

/* ---- Wire header ---- */

struct bc_hdr {
	uint8_t type;
	uint32_t origin;
	uint64_t inc;
	uint64_t seq;
};

void bc_wr_hdr(struct strata_wr *w, const struct bc_hdr *h);
/* Reads and validates a DATA-style header (origin in 1..n, seq >= 1). */
void bc_rd_hdr(struct strata_rd *r, struct bc_hdr *h, uint32_t n);

/* Encodes [hdr][payload] into a new message (NULL on allocation failure). */
struct strata_msg *bc_encode_data(const struct bc_hdr *h, const uint8_t *p, size_t len);
/* Decodes a whole [hdr][payload] DATA message of a cluster of n nodes (payload at most max
 * bytes); *p points into msg. Returns 0, or STRATA_EPROTO when it is malformed, has trailing
 * bytes or is not of type BC_DATA. */
int bc_parse_data(const struct strata_msg *msg, uint32_t n, size_t max, struct bc_hdr *h,
		  const uint8_t **p, size_t *len);
/* The same over bytes (a message that came up from a lower broadcast inside its payload). */
int bc_parse_data_bytes(const uint8_t *buf, size_t buf_len, uint32_t n, size_t max,
			struct bc_hdr *h, const uint8_t **p, size_t *len);
/* Encodes [hdr][payload] into w (initialised here; the caller frees it with strata_wr_free).
 * Returns 0 or w's error. */
int bc_encode_data_into(struct strata_wr *w, const struct bc_hdr *h, const uint8_t *p,
			size_t len);
/* The probabilistic broadcasts' GOSSIP (epb, lpb): [hdr][rounds left][payload]. The encoder
 * returns NULL on allocation failure; the decoder is bc_parse_data's, with rounds at most
 * rounds_max and any payload that fits in msg. */
struct strata_msg *bc_encode_gossip(const struct bc_hdr *h, uint64_t rounds, const uint8_t *p,
				    size_t len);
int bc_parse_gossip(const struct strata_msg *msg, uint32_t n, uint64_t rounds_max,
		    struct bc_hdr *h, uint64_t *rounds, const uint8_t **p, size_t *len);
/* Whether msg is a recovering node's HELLO (bc_sl_hello): the one byte BC_HELLO. */
bool bc_is_hello(const struct strata_msg *msg);

/* ---- Requests and outputs ---- */

/* STRATA_EINVAL unless req is a BROADCAST; STRATA_ETOOBIG if its value exceeds max. */
int bc_check_request(const struct strata_request *req, size_t max);
/* Largest payload a perfect-link algorithm accepts: cfg->max_value minus header and `extra`. */
size_t bc_pl_payload_max(const struct strata_node *n, size_t extra);
/* Largest payload a fair-loss / stubborn algorithm accepts (one datagram). */
size_t bc_fll_payload_max(const struct strata_node *n, size_t extra);

/* The book's `upon broadcast: send DATA to all` over perfect links: encodes req's value as this
 * node's next message (seq *lsn + 1, current incarnation), counts it in *lsn, outputs the
 * BCAST, pl-sends it to every process (self included) and replies to the client. The caller
 * has checked req (bc_check_request) and its own capacity. Returns 0 or STRATA_ENOMEM. */
int bc_pl_broadcast(struct strata_module *m, uint64_t *lsn, const struct strata_request *req);
/* Its second half, for algorithms with their own DATA encoding (ncb, wcb): msg is req's value
 * encoded as seq *lsn + 1; counts it in *lsn, outputs the BCAST (with the vector timestamp vc,
 * if any), pl-sends msg to every process, drops the caller's reference and replies. */
void bc_pl_send_own(struct strata_module *m, uint64_t *lsn, const struct strata_request *req,
		    struct strata_msg *msg, const uint64_t *vc, size_t vc_len);
/* The same over stubborn links, for the fail-recovery algorithms (incarnation 0 on the wire):
 * the new seq is stored under lsn_key before the message exists. Returns 0, STRATA_EIO or
 * STRATA_ENOMEM (*lsn unchanged on error). */
int bc_sl_broadcast(struct strata_module *m, uint64_t *lsn, const char *lsn_key,
		    const struct strata_request *req);

/* Deliver indications of m's client-facing instance, raised to the client adapter (which
 * outputs STRATA_OUT_DELIVER). bc_out_deliver copies data and vc (they may point anywhere);
 * bc_out_deliver_msg passes msg along without copying (data must point into msg). */
/* Announces again, after a recovery, a delivery logged before the crash (strata_output.replay). */
void bc_out_replay(struct strata_module *m, uint32_t origin, uint64_t seq, const uint8_t *data,
		   size_t len);
void bc_out_deliver(struct strata_module *m, uint32_t origin, uint64_t inc, uint64_t seq,
		    const uint8_t *data, size_t len, const uint64_t *vc, size_t vc_len);
void bc_out_deliver_msg(struct strata_module *m, struct strata_msg *msg, uint32_t origin,
			uint64_t inc, uint64_t seq, const uint8_t *data, size_t len);
/* Announces again, after a recovery, an own broadcast logged before the crash (its BCAST output
 * may have been lost with the crash; strata_output.replay). */
void bc_out_bcast_replay(struct strata_module *m, uint64_t seq, const uint8_t *data, size_t len);
void bc_out_bcast(struct strata_module *m, uint64_t seq, const uint8_t *data, size_t len,
		  const uint64_t *vc, size_t vc_len);

/* pl_send to every node except self and the (up to two) nodes named in skip (0 = none). */
void bc_pl_relay(struct strata_module *m, struct strata_msg *msg, uint32_t skip1, uint32_t skip2);
/* fll_send to `k` distinct random nodes other than self (all of them if k >= n-1), in frames
 * of the given instance. */
void bc_fll_gossip(struct strata_module *m, uint64_t instance, struct strata_msg *msg,
		   unsigned k);
/* Encodes a GOSSIP (bc_encode_gossip) and bc_fll_gossips it to k nodes; dropped if the
 * allocation fails (gossip is probabilistic anyway). */
void bc_fll_gossip_data(struct strata_module *m, uint64_t instance, unsigned k,
			const struct bc_hdr *h, uint64_t rounds, const uint8_t *p, size_t len);

/* A recovering node's HELLO to every other node over stubborn links: peers learn its new
 * incarnation from it (the link layer drops datagrams addressed to an earlier one). */
void bc_sl_hello(struct strata_module *m);

/* Subscribes m to the node's perfect failure detector (STRATA_ROLE_FD); fails with a reason if
 * the node has none. */
int bc_need_fd(struct strata_module *m, const char *algo, char *err, size_t errlen);

/* ---- Subscribers of a stackable instance (bcast.h) ---- */

#define BC_SUBS_MAX 4

struct bc_subs {
	struct strata_module *m[BC_SUBS_MAX];
	unsigned n;
};

/* Adds the default subscriber of instance inst of module m to s: the client adapter for
 * instance 0, else the module whose wire id BCAST_INST_WIRE(inst) names, created on first use
 * if the node has a factory (STRATA_ENOENT if there is none, or if it is m itself). */
int bc_subs_default(struct strata_module *m, uint64_t inst, struct bc_subs *s);
/* Adds upper (no-op if present); STRATA_EFULL beyond BC_SUBS_MAX. */
int bc_subs_add(struct bc_subs *s, struct strata_module *upper);
/* trigger <Deliver | d> to every subscriber: the events carry msg (d's data points into it). */
void bc_subs_indicate(struct strata_module *m, const struct bc_subs *s, uint64_t inst,
		      struct strata_msg *msg, const struct strata_deliver *d);

/* A stackable broadcast keeps one lower instance per instance of its own: instance
 * BCAST_INST(w, k) (k < 2^32) of an upper algorithm uses the lower's instance
 * BCAST_INST(upper algorithm's wire id, bc_lower_sub(...)) = sub w << 32 | k; bc_upper_inst
 * inverts it. Both sides compute it from catalog wire ids only. */
static inline uint64_t bc_lower_sub(uint64_t inst)
{
	return (uint64_t)BCAST_INST_WIRE(inst) << 32 | (inst & 0xffffffffull);
}
static inline uint64_t bc_upper_inst(uint64_t lower_inst)
{
	uint64_t sub = lower_inst & ((1ull << BCAST_SUB_BITS) - 1);
	return BCAST_INST((sub >> 32) & 0xffff, sub & 0xffffffffull);
}

/* A module stacked on a lower broadcast sends nothing under its own wire id: a link frame
 * addressed to it is garbage (counted as a bad payload). Ignores every other event. */
void bc_reject_frame(struct strata_module *m, const struct strata_event *ev);

/* ---- Acknowledged garbage collection (lrb, ncb) ---- */

struct bc_acks {
	uint32_t n;
	uint64_t *low;   /* low[q * (n+1) + s]: q's delivered watermark for origin s */
	uint64_t *inc;   /* inc[q * (n+1) + s]: the incarnation of s that watermark is about */
	bool *crashed;   /* [n+1]: detected by P; excluded from "everyone" */
	bool dirty;      /* our own watermarks changed since the last ACKS we sent */
	unsigned quiet;  /* periods since we last sent */
};

int bc_acks_init(struct bc_acks *a, uint32_t n);
void bc_acks_free(struct bc_acks *a);
/* Records self's watermark for origin s. */
void bc_acks_set_own(struct bc_acks *a, uint32_t self, uint32_t s, uint64_t inc, uint64_t low);
/* Whether every node not known crashed has delivered (s, inc, seq). */
bool bc_acks_stable(const struct bc_acks *a, uint32_t s, uint64_t inc, uint64_t seq);
/* Sends self's watermarks to every other node over fair-loss links when they changed (or
 * every fourth period while `holding` is true, so losses are repaired). Call once a period. */
void bc_acks_tick(struct bc_acks *a, struct strata_module *m, bool holding);
/* Handles a received BC_ACKS body (after the type byte). Returns 0 or STRATA_EPROTO. */
int bc_acks_recv(struct bc_acks *a, uint32_t from, struct strata_rd *r);

/* ---- Pending tables (urb, fifo, wcb, lurb, lpb): messages waiting for a condition ---- */

struct bc_pend {
	uint32_t origin;
	uint64_t inc, seq;
	struct strata_msg *msg; /* the DATA message as received (one reference) */
	uint64_t ack;           /* bitmask of processes that relayed it (bit q) */
	uint64_t done;          /* lurb: bitmask of processes that logged its delivery */
	uint32_t slot;          /* lurb: its stable-storage slot */
	uint64_t dlv_batch;     /* lurb: the turn-batch (ticket) that delivered it here, 0 = none */
};

/* A pending table is an instance table of the node's core (core/itab.h) keyed by (origin,
 * incarnation, seq), capped at the cap given to bc_ptab_init (add fails beyond it), iterated in
 * an order that depends only on the keys and the operations. Retirement is the user's rule,
 * stated in its file: lurb retires an entry once every process logged its delivery, lpb once it
 * delivered it in order (or an origin's newer incarnation dropped its older entries). */
struct bc_ptab {
	struct strata_itab *t;
};

int bc_ptab_init(struct bc_ptab *t, const char *what, size_t cap);
void bc_ptab_free(struct bc_ptab *t);
size_t bc_ptab_len(const struct bc_ptab *t);
size_t bc_ptab_cap(const struct bc_ptab *t);
/* Iteration: `for (size_t it = 0; (e = bc_ptab_next(t, &it));)`; deleting the entry just
 * returned is allowed, adding is not. */
struct bc_pend *bc_ptab_next(const struct bc_ptab *t, size_t *it);
struct bc_pend *bc_ptab_find(struct bc_ptab *t, uint32_t origin, uint64_t inc, uint64_t seq);
/* Adds an entry holding a reference to msg; NULL when the table is full. */
struct bc_pend *bc_ptab_add(struct bc_ptab *t, uint32_t origin, uint64_t inc, uint64_t seq,
			    struct strata_msg *msg);
/* Retires e (its reference to the message is dropped; e is invalid afterwards). */
void bc_ptab_del(struct bc_ptab *t, struct bc_pend *e);
/* Drops every entry of origin (a new incarnation replaced it). */
void bc_ptab_drop_origin(struct bc_ptab *t, uint32_t origin);
static inline uint64_t bc_bit(uint32_t q)
{
	return 1ull << (q - 1);
}

/* Bitmask of processes 1..n. */
static inline uint64_t bc_all(uint32_t n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* Gossip parameters of the probabilistic algorithms (epb, lpb), read once from the config's
 * [bcast] section when the module is created (fanout k, rounds R, lpb's store probability in
 * percent; defaults 3, 4, 50). Every node of a cluster must use the same values: a message that
 * claims more rounds than this node's R is rejected as malformed. */
struct bc_gossip {
	unsigned fanout;    /* k: distinct random targets per hop, 1..64 */
	unsigned rounds;    /* R: hops a message travels, 1..64 */
	unsigned store_pct; /* lpb: chance in percent that a receiver keeps a copy, 0..100 */
};

/* Fills g from strata_node_config(n). Returns 0, or STRATA_ECONFIG with the reason in err
 * when a value is out of range (the parser refuses those; a config built by hand without
 * strata_config_defaults would otherwise gossip to nobody). */
static inline int bc_gossip_from_config(const struct strata_node *n, struct bc_gossip *g,
					char *err, size_t errlen)
{
	const struct strata_config *c = strata_node_config(n);
	if (c->bcast_fanout < 1 || c->bcast_fanout > 64 || c->bcast_rounds < 1 ||
	    c->bcast_rounds > 64 || c->bcast_store_probability_pct > 100) {
		if (err && errlen)
			snprintf(err, errlen,
				 "[bcast] fanout %u, rounds %u, store_probability_pct %u: need 1..64, "
				 "1..64, 0..100",
				 c->bcast_fanout, c->bcast_rounds, c->bcast_store_probability_pct);
		return STRATA_ECONFIG;
	}
	g->fanout = c->bcast_fanout;
	g->rounds = c->bcast_rounds;
	g->store_pct = c->bcast_store_probability_pct;
	return 0;
}

/* ---- Constructors (one per file) ---- */

struct strata_module *bc_beb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_pl_owed_counts;
/* TEST ONLY (broken variant): a send the links refuse is lost, not owed and sent again; and
 * what beb's links refused and what came of it (links.h). EINVAL if m is not beb. */
int bc_beb_test_no_owed(struct strata_module *m);
int bc_beb_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c);
struct strata_module *bc_lrb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_erb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_urb_allack_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_urb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_sbeb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_lbeb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_lurb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_epb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_lpb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_fifo_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_ncb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *bc_wcb_create(struct strata_node *n, char *err, size_t errlen);

#endif
