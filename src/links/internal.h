/* Private state of the link layer, shared by its files:
 *   datagram.c  prefix, MAC, protobuf body, receive path, batching flush
 *   fairloss.c  fair-loss frames
 *   stubborn.c  stubborn retransmission ring (Alg. 2.1)
 *   perfect.c   perfect-link sessions: sequence numbers, acks, windows, fragments (Alg. 2.2/2.11)
 * Nothing here is visible outside src/links. */
#ifndef STRATA_LINKS_INTERNAL_H
#define STRATA_LINKS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/node.h"
#include "core/pb_arena.h"
#include "crypto/crypto.h"
#include "links/links.h"
#include "peer.pb-c.h"

#define LINK_PREFIX_LEN 14
#define LINK_VERSION 1
/* Byte 1 of the prefix: 0 = body in clear + HMAC-SHA256; LINK_SEALED = [cluster] encrypt: the
 * sender's incarnation and datagram counter (16 bytes, the nonce) in clear, then the body sealed
 * with XChaCha20-Poly1305 under a per-direction key derived from the pair key (16-byte tag). The
 * same 32 bytes of overhead as the MAC, so LINK_OVERHEAD holds for both. */
#define LINK_SEALED 1
#define LINK_NONCE_LEN 16
#define LINK_TAG_LEN 16
/* Upper bound of everything in a datagram but frame payloads: prefix, MAC, header fields,
 * the ack, and one frame's own fields. Frame payloads are cut to max_datagram minus this. */
#define LINK_OVERHEAD 176
#define LINK_REPLAY_WINDOW 64

enum link_timer_kind {
	LINK_TIMER_RTO = 1,
	LINK_TIMER_SL = 2,
	LINK_TIMER_ACK = 3,
};

/* A frame waiting to be sent: a slice [off, off+len) of msg. */
struct out_frame {
	uint8_t link;
	uint16_t module;
	uint64_t instance;
	uint64_t seq;
	uint64_t lamport;
	uint32_t frag_index, frag_count;
	struct strata_msg *msg;
	uint32_t off, len;
	bool early; /* queued by strata_pl_send_early: may leave before the batch's sync */
};

/* A growable FIFO of out_frames (ring buffer). */
struct frame_q {
	struct out_frame *f;
	size_t head, len, cap;
};

/* Perfect-link sender entry: an out_frame plus transmission state. */
struct tx_entry {
	struct out_frame fr;
	uint64_t sent_us;
	uint32_t tx_count;
	bool acked;
	bool resend; /* marked by the retransmission timer, cleared when sent */
};

struct rx_slot {
	bool full;
	struct out_frame fr; /* received frame; msg holds exactly the payload (off 0) */
};

struct sl_entry {
	uint16_t module;
	uint64_t instance;
	struct strata_msg *msg;
};

struct link_peer {
	uint32_t id;
	uint64_t incarnation; /* peer's incarnation as last seen, 0 = never heard */
	/* anti-replay for the peer's current incarnation */
	uint64_t replay_max;
	uint64_t replay_bits; /* bit i: replay_max - i seen */

	struct frame_q fll; /* fair-loss and stubborn frames for the next flush */

	/* stubborn ring */
	struct sl_entry *sl;
	size_t sl_head, sl_len;
	struct strata_timer sl_timer;

	/* perfect-link sender: entries in seq order, tx[0].fr.seq == tx_base */
	struct tx_entry *tx;
	size_t tx_head, tx_len, tx_cap;
	uint64_t tx_next_seq; /* next seq to assign */
	uint64_t tx_bytes;    /* payload bytes queued */
	bool tx_pending;      /* something in the window is unsent or marked for resend */
	/* Where pl_collect starts its scan: every entry with a lower seq is acknowledged or sent
	 * and not marked for resend (marking lowers it; a new session resets it). Without it each
	 * datagram of a flush rescanned the whole window from its base. */
	uint64_t tx_scan_seq;
	struct strata_timer rto_timer;
	uint64_t srtt_us, rttvar_us, rto_us;
	uint64_t hello_us;    /* when the last hello went out, if hello_sent */
	bool hello_sent;

	/* perfect-link receiver */
	struct rx_slot *rx; /* window slots, indexed by seq % window; allocated on first use */
	uint64_t rx_next;   /* next seq to deliver */
	bool ack_needed;
	/* The delayed acknowledgement (datagram.c, flush_peer): an ack with no frame to ride on
	 * waits up to ack_delay_us for one, unless ack_now (a duplicate, a gap, a hello, a
	 * stale session) or ack_every frames arrived since the last ack. */
	bool ack_now;
	uint32_t rx_unacked;   /* perfect-link frames received since the last ack sent */
	uint64_t ack_batch;    /* the node's batch in which a frame last arrived */
	struct strata_timer ack_timer;
	/* reassembly of a fragmented message */
	uint8_t *frag_buf;
	size_t frag_len, frag_cap;
	uint32_t frag_next, frag_count;
	uint16_t frag_module;
	uint64_t frag_instance, frag_lamport;
};

struct strata_links {
	struct strata_node *node;
	const struct strata_config *cfg;
	uint32_t self, n;
	uint8_t *keys; /* secure memory: (n+1) * STRATA_LINK_KEY_LEN, by peer id */
	/* secure memory: (n+1) keys prepared for HMAC (once per peer at creation), by peer id */
	struct strata_mac_key *mac_keys;
	struct link_peer *peers; /* (n+1), by id */
	uint64_t counter;        /* datagram counter of this incarnation */
	size_t frame_max;
	uint8_t *dgram;          /* scratch, max_datagram bytes */
	uint8_t *plain;          /* [cluster] encrypt: scratch for a body in clear, max_datagram */
	/* Scratch of one flush (a datagram's frames), batch_max entries each: on the heap rather
	 * than the stack, where they took ~150 KB of every flush's frame (and under ASan cost a
	 * poisoning of all of it per call). batch_max bounds the frames of one datagram: every
	 * frame takes at least 72 bytes of the datagram's budget. */
	size_t batch_max;
	bool broken_early_acks; /* tests: strata_links_set_broken_early_acks */
	uint64_t ack_delay_us;  /* the delayed ack's bound (0: every ack at once) */
	uint32_t ack_every;     /* frames received that make an ack go at once */
	struct out_frame *batch;
	Strata__Wire__Frame *wframes;
	Strata__Wire__Frame **wframe_ptrs;
	/* A received datagram is decoded into this bump arena (datagram.c, "the decode arena"),
	 * given back whole once it is handled, instead of one malloc per message struct and per
	 * frame payload. busy: a datagram is being handled (a nested one decodes with malloc). */
	struct {
		struct strata_pb_arena a;
		bool busy;
	} dec;
};

/* Encodes d from `from` to `to` in the wire format of cfg (MACed, or sealed when cfg->encrypt)
 * into out, which must hold LINK_PREFIX_LEN + packed size + 32 bytes; scratch (as large) holds
 * the body in clear while it is sealed. key is the pair key; mk, when not NULL, its prepared
 * HMAC key (the same MAC, faster). Returns the datagram's length. Used
 * by the link layer and by tests that forge datagrams. */
size_t link_encode(const struct strata_config *cfg, const uint8_t *key,
		   const struct strata_mac_key *mk, uint32_t from, uint32_t to,
		   const Strata__Wire__Datagram *d, uint8_t *out, uint8_t *scratch);

/* frame_q */
bool frame_q_push(struct frame_q *q, const struct out_frame *f);
void frame_q_clear(struct frame_q *q);

/* perfect.c */
/* The peer has a new incarnation: frames not acknowledged by the old one move to a new session. */
void pl_peer_new_session(struct strata_links *l, struct link_peer *p);
/* Whether to send a hello (an empty datagram) because frames wait for the peer's incarnation;
 * rate-limited to one per retransmission timeout. */
bool pl_hello_due(struct strata_links *l, struct link_peer *p);
void pl_peer_reset_recv(struct strata_links *l, struct link_peer *p);
void pl_peer_free(struct link_peer *p);
void pl_on_ack(struct strata_links *l, struct link_peer *p, uint64_t cumulative, uint64_t sel);
void pl_on_frame(struct strata_links *l, struct link_peer *p, const Strata__Wire__Frame *f);
void pl_on_rto(struct strata_links *l, struct link_peer *p);
/* Collects frames to send toward p in this flush (new + marked for resend), in seq order. */
size_t pl_collect(struct strata_links *l, struct link_peer *p, struct out_frame *out, size_t max,
		  size_t *budget);

/* stubborn.c */
void sl_on_timer(struct strata_links *l, struct link_peer *p);
void sl_peer_free(struct link_peer *p);

/* datagram.c */
void link_deliver(struct strata_links *l, uint16_t type, uint32_t from, uint16_t module,
		  uint64_t instance, uint64_t lamport, struct strata_msg *msg);

#endif
