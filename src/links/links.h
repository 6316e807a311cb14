/* The link layer: fair-loss, stubborn and perfect point-to-point links over one datagram format.
 *
 * Every datagram: a fixed prefix (cluster hash, sender, receiver), a protobuf body (header with
 * incarnations and an anti-replay counter, a batch of frames, a piggybacked acknowledgement) and
 * an HMAC-SHA256 over everything before it, keyed with the pairwise key of sender and receiver
 * (links/auth.c). A datagram is authenticated before it is parsed further.
 *
 * Sending never calls back into modules: it queues frames, and the node flushes them at the end
 * of its turn, packing as many frames per datagram as fit (batching). Deliveries are queued as
 * events to the module whose wire id the frame names (the same module on the sending node).
 *
 *   fll  fair-loss (Module 2.1): a frame in the next datagram, nothing else.
 *   sl   stubborn (Alg. 2.1 Retransmit Forever): resent every period until evicted; delivered
 *        every time it arrives. Bounded: a ring of STRATA_SL_CAP messages per peer, the oldest
 *        evicted (counted as sl_evicted).
 *   pl   perfect (Alg. 2.2 semantics + FIFO, Alg. 2.11): per-peer sequence numbers, cumulative +
 *        selective acks, retransmission with an RTT-estimated timeout and exponential backoff,
 *        a sliding receive window instead of an ever-growing delivered set, fragmentation of
 *        values up to cfg->max_value, and a new session whenever either side's incarnation
 *        changes (messages addressed to a crashed incarnation are dropped, as crash-stop allows).
 *
 * Sending to self delivers locally through the event queue (never over the network).
 * Ownership: the link layer takes its own reference to msg; the caller keeps its own. */
#ifndef STRATA_LINKS_LINKS_H
#define STRATA_LINKS_LINKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/node.h"

#define STRATA_SL_CAP 256

enum strata_link_kind {
	STRATA_LINK_FLL = 0,
	STRATA_LINK_SL = 1,
	STRATA_LINK_PL = 2,
};

/* All return 0, STRATA_ETOOBIG (larger than cfg->max_value, or than a datagram for fll/sl),
 * STRATA_EFULL (the peer's backlog is full; counted as send_full) or STRATA_EINVAL. */
int strata_fll_send(struct strata_module *from, uint32_t to, uint64_t instance,
		    struct strata_msg *msg);
int strata_sl_send(struct strata_module *from, uint32_t to, uint64_t instance,
		   struct strata_msg *msg);
int strata_pl_send(struct strata_module *from, uint32_t to, uint64_t instance,
		   struct strata_msg *msg);
/* pl_send of a message of the node's early class (core/node.h, strata_node_send_datagram_early):
 * its content must promise nothing about the sender's stable storage that is not synced yet.
 * A datagram whose frames are all early leaves at once, before the batch's sync, if it carries
 * no acknowledgement or only one that covers frames delivered in batches whose sync has
 * completed (an ack states that frames were delivered, whose effects must be durable first);
 * one that also holds any other frame, or an ack of frames delivered since the last completed
 * sync, waits for the sync as usual (the link layer sends such an ack later instead, when it
 * may wait: datagram.c, the delayed ack).
 * Ordering is unchanged: frames keep their sequence numbers, and a receiver delivers an early
 * frame only after every earlier frame of the session. */
int strata_pl_send_early(struct strata_module *from, uint32_t to, uint64_t instance,
			 struct strata_msg *msg);
/* Tests only (a broken variant, smr.h SMR_BROKEN_EARLY_ACK): any acknowledgement may ride an
 * early datagram, i.e. leave before the sync of the batch that delivered the frames it covers. */
struct strata_links;
void strata_links_set_broken_early_acks(struct strata_links *l, bool on);
/* Whether a pl_send of len bytes to `to` would be queued now, i.e. not refused with STRATA_EFULL
 * (self: always). A module that re-sends what the links refused asks this first, so that its
 * retries are not counted as send_full again. */
bool strata_pl_room(const struct strata_node *n, uint32_t to, size_t len);
/* ---- Sends the links refused, owed and sent again (links/owed.c) ----
 *
 * A refused pl_send (STRATA_EFULL) is a message the peer never gets. A module whose protocol
 * does not repeat its messages keeps what the links refused as owed to that peer and sends it
 * again, in order, once the peer's backlog has room: a new message to a peer that is owed
 * earlier ones goes after them (the links are FIFO, and so is what is owed). A refusal counts
 * once in send_full: a retry first asks strata_pl_room. Two ways to keep what is owed:
 *
 *   numbered  (ops != NULL): the module's messages to each peer are numbered 1, 2, ... and it
 *             can give message k again on demand (ops->item: from its own state, e.g. its
 *             undelivered window, or rebuilt from a round number). The helper keeps per peer
 *             the first number the links have not taken (8 bytes per peer); what is owed is
 *             bounded by whatever bounds the module's numbers. Sent on instance 0.
 *   queued    (ops == NULL): the helper keeps references to the refused messages, per peer in a
 *             FIFO of at most cap_msgs messages and cap_bytes payload bytes; a message beyond
 *             either is dropped (lost as before, counted as `dropped` and traced). For modules
 *             whose messages cannot be rebuilt once their state is retired.
 *
 * The helper's timer is the module's (token given at creation): the module passes a
 * STRATA_EV_TIMER with that token to strata_pl_owed_flush. Ownership: the module owns the
 * helper (strata_pl_owed_free in its destroy); the helper holds its own references to queued
 * messages. */
struct strata_pl_owed;
struct strata_pl_owed_ops {
	/* Message k (k >= the first owed) for peer q, as a new reference the helper unrefs. NULL
	 * with *wait false: there is no message k (yet): nothing is owed to q from k on. NULL
	 * with *wait true: k is owed but cannot be given now; tried again on the next tick. */
	struct strata_msg *(*item)(struct strata_module *m, uint32_t q, uint64_t k, bool *wait);
	/* The module sends to itself directly: the flush skips self. */
	bool others_only;
};
/* For module m of node n (m need not be added to n yet); NULL when out of memory. */
struct strata_pl_owed *strata_pl_owed_new(struct strata_node *n, struct strata_module *m,
					  uint64_t token, const struct strata_pl_owed_ops *ops,
					  size_t cap_msgs, uint64_t cap_bytes);
void strata_pl_owed_free(struct strata_pl_owed *o);
/* Queued: sends msg to q after whatever is owed to q (self: at once). Returns 0 when the links
 * took it or it is owed now (counted as `refused`), STRATA_EFULL when it was dropped (the
 * queue's caps), STRATA_ETOOBIG or STRATA_EINVAL as strata_pl_send. */
int strata_pl_owed_send(struct strata_pl_owed *o, uint32_t q, uint64_t instance,
			struct strata_msg *msg);
/* TEST ONLY (the "no owed" broken variants): from now on strata_pl_owed_send is a plain
 * strata_pl_send, a send the links refuse lost as with the links alone. Queued mode. */
void strata_pl_owed_test_lossy(struct strata_pl_owed *o);
/* Numbered: sends q its message k, the next number after those the links took or owe: taken
 * at once when nothing earlier is owed and the links have room, owed otherwise (counted as
 * `refused`; the module's ops->item gives it again). A k at or below the first owed number
 * counts from k on. Returns 0 when taken, STRATA_EFULL when owed. */
int strata_pl_owed_send_k(struct strata_pl_owed *o, uint32_t q, uint64_t k,
			  struct strata_msg *msg);
/* Sends every peer what is owed to it, in order, while the links have room (numbered: also
 * the module's new messages that ops->item gives, counted as `resent` like the rest); arms
 * the timer while anything is left. */
void strata_pl_owed_flush(struct strata_pl_owed *o);
/* Numbered: the first number the links have not taken for q; raise it (messages below k are
 * owed no more, e.g. the module's protocol carried them another way); set every peer's. */
uint64_t strata_pl_owed_next(const struct strata_pl_owed *o, uint32_t q);
void strata_pl_owed_raise(struct strata_pl_owed *o, uint32_t q, uint64_t k);
void strata_pl_owed_reset(struct strata_pl_owed *o, uint64_t first);
/* refused: messages the links did not take at once (owed); resent: messages a flush gave the
 * links; dropped: queued messages beyond the caps (lost). */
struct strata_pl_owed_counts {
	uint64_t refused, resent, dropped;
	uint64_t queued_msgs, queued_bytes; /* owed now (queued mode) */
};
void strata_pl_owed_counts(const struct strata_pl_owed *o, struct strata_pl_owed_counts *c);

/* Convenience: pl_send to every node 1..n including self (what the book's beb does); a refusal
 * (STRATA_EFULL) is counted and not reported: for modules whose protocol repeats its messages
 * or tolerates their loss. */
void strata_pl_send_all(struct strata_module *from, uint64_t instance, struct strata_msg *msg);

/* Largest payload an fll/sl frame can carry in one datagram. */
size_t strata_links_frame_max(const struct strata_node *n);
/* Frames queued or unacknowledged toward peer (for tests and status). */
size_t strata_links_pending(const struct strata_node *n, uint32_t peer);

/* The link layer as the node's transport (core/node.h): what a runtime or test passes in
 * strata_node_opts.transport. The node calls it; nothing in src/core includes this header. */
extern const struct strata_transport_ops strata_links_transport;

struct strata_links;
/* The link layer's state on node n (asserts that n's transport is the link layer). */
struct strata_links *strata_node_links(const struct strata_node *n);

/* ---- The transport's entry points (called through strata_links_transport) ---- */
struct strata_links *strata_links_new(struct strata_node *n, char *err, size_t errlen);
void strata_links_free(struct strata_links *l);
void strata_links_recv(struct strata_links *l, const uint8_t *buf, size_t len);
/* from: the peer whose configured address sent it, 0 none, STRATA_FROM_UNCHECKED unknown (see
 * strata_node_recv_from). */
void strata_links_recv_from(struct strata_links *l, const uint8_t *buf, size_t len,
			    uint32_t from);
/* Builds and sends the datagrams for everything queued during the turn. */
void strata_links_flush(struct strata_links *l);
/* Link timers are strata_timers with m == NULL in the node's heap; the node calls this when one
 * fires (token and instance as given to strata_timer_init). */
void strata_links_timer(struct strata_links *l, uint64_t token, uint64_t instance);
uint64_t strata_links_peer_incarnation(const struct strata_links *l, uint32_t peer);

#endif
