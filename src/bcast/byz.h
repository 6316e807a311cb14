/* Internal header of the Byzantine broadcasts (src/bcast/: aeb.c, seb.c, brb.c, bcc.c, brc.c,
 * with the shared instance machinery in byz_core.c).
 *
 * Model: fail-arbitrary (up to f Byzantine processes), authenticated perfect links (every
 * datagram is HMAC-SHA256'd with a pairwise key, so a perfect-link delivery from p came from p),
 * resilience N > 3f. The book's algorithms are single-shot (one sender, one message): here each
 * module runs many instances, one per (sender, sequence number), in a bounded per-sender window.
 *
 * Two disciplines share the machinery:
 *   - single-shot modules (aeb, seb, brb): a node may have up to BYZ_WIN of its own broadcasts in
 *     flight; instances are independent and deliver in whatever order they complete;
 *   - channels (bcc, bcc-seb over aeb/seb, Alg. 3.19; brc over brb, Alg. 3.20): a sender starts
 *     instance k+1 only once it has delivered its own instance k (the book's `ready` flag; further
 *     requests wait in a bounded queue), and every node delivers each sender's instances in
 *     sequence order.
 *
 * Bounded memory (the book keeps every instance forever). Per sender s a node keeps `low`: every
 * instance (s, k <= low) is retired, its state freed. Only instances with low < k <= low + BYZ_WIN
 * have state; a message for k <= low is late and ignored; a message for k > low + BYZ_WIN is
 * dropped and counted (window_drops). An instance retires when the algorithm is done with it
 * (aeb: delivered and our ECHO sent; seb, brb: delivered; channels: also delivered in order), and
 * `low` passes it only when every instance below has retired too. So a node holds at most
 * N x BYZ_WIN instances, each with at most 2N + 3 distinct payloads (one SEND, one ECHO and one
 * READY per peer, one FINAL: a peer that sends two different ECHOs or READYs is rejected), i.e.
 * at most N x BYZ_WIN x (2N + 3) x max_value bytes of payload in the worst case.
 *
 * The price of the bound, stated: a correct node that falls more than BYZ_WIN instances behind a
 * sender drops that sender's newer messages, and the perfect links will not send them again, so
 * it may miss those instances. A correct sender in single-shot mode never has more than BYZ_WIN
 * of its own instances undelivered at itself, and in channel mode only one, so this needs a
 * correct node to lag a whole window behind a quorum of the others. A Byzantine sender that
 * never completes instance k only blocks its own window at k.
 *
 * Sends the links refuse. The perfect links queue at most `[links] backlog_bytes` toward a peer and
 * refuse a send beyond it (STRATA_EFULL): a message the peer would never get, and the
 * algorithms send each message once (a correct process that misses a correct sender's SEND, or
 * enough ECHOs or READYs, never delivers that instance: validity and totality). A correct
 * process keeps what the links refused as owed to that peer and sends it again, in order, when
 * the peer's backlog has room (links.h, strata_pl_owed, queued: the instance that sent it may
 * have retired meanwhile, so the message itself is kept). Bounded by the windows: per peer at
 * most BYZ_OWED_PER_INST x N x BYZ_WIN messages, what a correct process sends one peer for a
 * whole window of every sender's instances (SEND, ECHO, READY or FINAL: at most three per
 * instance), each at most max_value bytes; one beyond that is dropped, counted (`dropped`,
 * byzb_test_owed_counts) and traced: a peer owed that much is a window behind every sender,
 * where the receive windows above would drop newer messages anyway. The test behaviours of a
 * Byzantine process send as the book's links do (a refusal is lost).
 *
 * Wire ids 80..85 (the crash-model broadcasts use 32..79). Wire messages (payload of one
 * perfect-link frame): [type u8][sender varint][seq varint][type-specific fields], see each file. */
#ifndef STRATA_BCAST_BYZ_H
#define STRATA_BCAST_BYZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/codec.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "links/links.h"

enum byzb_type {
	BYZ_SEND = 1,  /* from the sender: payload */
	BYZ_ECHO = 2,  /* aeb/brb: payload; seb: hash, signature (to the sender only) */
	BYZ_READY = 3, /* brb: payload */
	BYZ_FINAL = 4, /* seb: payload, > (N+f)/2 signed ECHOs */
};

#define BYZ_WIN 64   /* instances per sender with state at once */
#define BYZ_QUEUE 64 /* channels: broadcasts waiting for the node's previous one */
#define BYZ_RING 8   /* REPLAY behaviour: old messages kept to send again */
#define BYZ_HDR_MAX 24
#define BYZ_OWED_PER_INST 3 /* messages a correct process sends one peer per instance, at most */
#define BYZ_TOK_OWED 1       /* the timer that sends owed messages again */

/* One distinct payload of an instance, interned by SHA-256; p points into msg (a reference). */
struct byzb_val {
	uint8_t hash[STRATA_HASH_LEN];
	struct strata_msg *msg;
	const uint8_t *p;
	size_t len;
};

struct byzb_inst {
	uint32_t sender;
	uint64_t seq;
	int send_v;    /* value of the sender's SEND, -1 until it arrives */
	int dlv_v;     /* value delivered, -1 until then */
	bool sent_echo, sent_ready, sent_final;
	bool delivered; /* the algorithm delivered (channels: maybe not yet handed up in order) */
	bool emitted;   /* handed to the client (STRATA_OUT_DELIVER) */
	unsigned nvals;
	struct byzb_val *vals; /* [2n + 3] */
	int16_t *echo;        /* [n + 1]: value index each peer ECHOed, -1 none */
	int16_t *ready;       /* [n + 1]: value index each peer sent READY for, -1 none */
	void *aux;            /* algorithm-private (seb: the sender's signature table), free()d */
};

struct byzb_sender {
	uint64_t low; /* every instance <= low is retired */
	uint64_t dlv; /* channels: every instance <= dlv has been handed up */
	struct byzb_inst *slot[BYZ_WIN]; /* instance k at slot[k % BYZ_WIN], low < k <= low + WIN */
};

struct byzb_mod;

/* What differs between aeb, seb and brb. */
struct byzb_proto {
	const char *name; /* for traces */
	/* The local node starts instance `in` (it is the sender) with value v. */
	void (*start)(struct byzb_mod *b, struct byzb_inst *in, int v);
	/* A message for instance `in` from peer `from`; r is positioned after the header; msg is
	 * the frame (take a reference to keep pointers into it). Counts malformed input with
	 * byzb_bad and returns. */
	void (*recv)(struct byzb_mod *b, struct byzb_inst *in, uint32_t from, uint8_t type,
		     struct strata_rd *r, struct strata_msg *msg);
	/* Whether the instance may be freed once delivered (and handed up, for channels). */
	bool (*retirable)(const struct byzb_mod *b, const struct byzb_inst *in);
	/* Largest type this algorithm uses. */
	uint8_t max_type;
};

struct byzb_pending {
	uint64_t req_id;
	struct strata_msg *val;
};

struct byzb_mod {
	struct strata_module base;
	const struct byzb_proto *proto;
	bool channel;
	uint32_t n, f, self;
	enum strata_byz byz;
	/* Quorums (the book's): ECHOs > (N+f)/2; READY amplification > f; deliver > 2f READYs.
	 * byzb_test_set_quorums() may lower them, for the suite's broken variants only. */
	unsigned q_echo, q_ready, q_deliver;
	size_t payload_max;
	struct byzb_sender *snd; /* [n + 1] */
	uint64_t next_seq;      /* last sequence number this node used */
	/* channels */
	bool busy; /* our own instance next_seq is in flight */
	struct byzb_pending queue[BYZ_QUEUE];
	unsigned qhead, qlen;
	/* REPLAY behaviour */
	struct strata_msg *ring[BYZ_RING];
	unsigned ring_next;
	/* messages the links refused, owed to each peer (see above) */
	struct strata_pl_owed *owed;
	/* counters, for traces and tests */
	uint64_t late, window_drops, delivered;
};

/* ---- Used by the algorithm files ---- */

/* [type][sender][seq] then bytes(p, len) (p may be NULL when len is 0). Asserts on ENOMEM. */
struct strata_msg *byzb_msg(uint8_t type, uint32_t sender, uint64_t seq, const uint8_t *p,
			   size_t len);
void byzb_wr_hdr(struct strata_wr *w, uint8_t type, uint32_t sender, uint64_t seq);
/* Sends over a perfect link unless this node is SILENT; REPLAY nodes also re-send old ones. */
void byzb_send(struct byzb_mod *b, uint32_t to, struct strata_msg *msg);
void byzb_send_all(struct byzb_mod *b, struct strata_msg *msg);
/* Sends [type][sender][seq][value] to everyone (self included), with this node's Byzantine
 * behaviour applied: EQUIVOCATE sends an altered value to the second half of the peers, BADSIG
 * (no signatures here) adds a truncated copy, the rest as byzb_send. */
void byzb_send_value(struct byzb_mod *b, uint8_t type, const struct byzb_inst *in, int v);
/* A different payload derived from p (EQUIVOCATE), a new message the caller unrefs. */
struct strata_msg *byzb_alter(const uint8_t *p, size_t len);
/* Whether `peer` is in the second half of the others (EQUIVOCATE splits the peers in two). */
bool byzb_second_half(const struct byzb_mod *b, uint32_t peer);
/* FORGE: messages about instances that were never sent and with wrong sender fields. */
void byzb_forge(struct byzb_mod *b, const struct byzb_inst *in);

/* Interns a payload (msg holds it; a reference is taken). Returns the index, or -1 when the
 * instance already holds its maximum of distinct values. */
int byzb_value(struct byzb_mod *b, struct byzb_inst *in, const uint8_t *p, size_t len,
	      struct strata_msg *msg);
/* Index of the value with this hash, -1 if none. */
int byzb_value_by_hash(const struct byzb_inst *in, const uint8_t hash[STRATA_HASH_LEN]);
/* Peers whose votes[p] == v. */
unsigned byzb_count(const struct byzb_mod *b, const int16_t *votes, int v);
/* Records peer's vote for v; 1 if new, 0 if the same vote again (a duplicate), -1 if the peer
 * had voted for another value (equivocation, counted as a bad payload). */
int byzb_vote(struct byzb_mod *b, int16_t *votes, uint32_t peer, int v, const char *what);
/* The algorithm delivers value v of instance in (once). */
void byzb_deliver(struct byzb_mod *b, struct byzb_inst *in, int v);
/* Counts and traces a malformed or detectably false message from peer. */
void byzb_bad(struct byzb_mod *b, uint32_t peer, const char *why);

/* ---- Module construction (byz_core.c) ---- */

struct strata_module *byzb_create(struct strata_node *n, const struct byzb_proto *proto,
				 const char *name, uint16_t wire_id, bool channel, size_t extra,
				 char *err, size_t errlen);

/* Room a seb FINAL needs beyond the payload (count and N signer/signature pairs). */
size_t byzb_seb_overhead(uint32_t n);

extern const struct byzb_proto byzb_proto_aeb, byzb_proto_seb, byzb_proto_brb;

struct strata_module *byzb_aeb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *byzb_seb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *byzb_brb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *byzb_bcc_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *byzb_bcc_seb_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *byzb_brc_create(struct strata_node *n, char *err, size_t errlen);

/* TEST ONLY. Lowers the quorums of a Byzantine broadcast module (found by name) so that the
 * simulation suite's broken variants can show that its checkers catch what the real quorums
 * prevent. Never called outside tests/sim. Returns STRATA_EINVAL if m is not one of ours. */
int byzb_test_set_quorums(struct strata_module *m, unsigned echo, unsigned ready,
			 unsigned deliver);
/* TEST ONLY (broken variant): a send the links refuse is lost, not owed and sent again. */
int byzb_test_no_owed(struct strata_module *m);
/* For tests: what the links refused and what came of it (links.h). */
int byzb_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c);
/* For tests: the module's counters (late, window_drops, delivered). */
int byzb_test_counters(struct strata_module *m, uint64_t *late, uint64_t *window_drops,
		      uint64_t *delivered);

#endif
