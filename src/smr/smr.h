/* State-machine replication: the replicated log (log.c), the deterministic state-machine
 * interface and the KV state machine (kv_sm.c), and the storage wrapper the log persists
 * through (wal.c). docs/smr.md explains the design; each file opens with what it implements.
 *
 * Wire id: the catalog's row (smr/algos.c), 208. */
#ifndef STRATA_SMR_SMR_H
#define STRATA_SMR_SMR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/msg.h"
#include "core/node.h"

#define SMR_KEY_MAX 4096         /* longest key, bytes */
#define SMR_VALUE_MAX (1u << 20) /* longest value, bytes (also bounded by [links] max_value) */
#define SMR_CMD_OVERHEAD 64      /* bytes a command's encoding adds to key + values */

/* ---- the KV state machine (kv_sm.c) ----
 *
 * Deterministic: the same commands in the same order give the same state and the same results
 * on every replica. It never looks at the clock, a random source or the node. */

enum smr_cmd_type {
	SMR_CMD_NOOP = 0, /* a new leader's first entry */
	SMR_CMD_PUT = 1,
	SMR_CMD_DEL = 2,
	SMR_CMD_CAS = 3,
	/* Added for the RESP front end (docs/resp.md); each is one deterministic command. */
	SMR_CMD_PUT_NX = 4,  /* put only if absent; result num = 1 if set, else 0 */
	SMR_CMD_PUT_XX = 5,  /* put only if present; result num = 1 if set, else 0 */
	SMR_CMD_INCR = 6,    /* val = the signed decimal delta; result num = the new value */
	SMR_CMD_GETSET = 7,  /* put; result old = the previous value (NULL if absent) */
	SMR_CMD_MPUT = 8,    /* val = codec u64 count, count x (bytes key, bytes value); key = the
			      * first key; every pair is put; one revision per pair */
	/* The space quota (log.c): the leader refused a write; this marker stands in its place
	 * with its origin, request, session, seq and key (val = codec u64 held, u64 quota: the
	 * text's numbers only). Changes nothing; result status STRATA_ENOSPACE, kept in the
	 * session like any result, so every copy of that (session, seq) is refused too. */
	SMR_CMD_REFUSED = 9,
};
#define SMR_CMD_LAST SMR_CMD_REFUSED
#define SMR_MPUT_MAX 1024 /* pairs in one MPUT */
/* Commands of one session that may be in flight at once (the seqs a session deduplicates out
 * of order): a client keeps every new seq less than this above its lowest unanswered one. */
#define SMR_SESSION_WINDOW 64u

/* One client command as it travels in the log. Borrowed pointers into the entry's bytes. */
struct smr_cmd {
	uint8_t type;           /* enum smr_cmd_type */
	uint32_t origin;        /* node that holds the client's request (replies when applied) */
	uint64_t origin_id;     /* the origin's pending-request id */
	uint64_t session, seq;  /* exactly-once: (client session, sequence number) */
	const uint8_t *key;
	size_t key_len;
	const uint8_t *val;     /* put: the value; cas: the expected value */
	size_t val_len;
	const uint8_t *val2;    /* cas: the new value */
	size_t val2_len;
};

/* The outcome of applying one command. */
struct smr_result {
	int status;        /* 0, or STRATA_ESTATE for a failed compare (cas) */
	uint64_t revision; /* the store's revision after the command (writes), of the key (cas fail) */
	bool duplicate;    /* a repeat of an applied (session, seq): result from the session cache
			    * (status STRATA_EREPLAY: below the session's window, result gone) */
	int64_t num;       /* del: keys removed; put nx/xx: 1 if it wrote; incr: the new value;
			    * mput: pairs written (also cached for duplicates) */
	struct strata_msg *old; /* getset: a reference to the previous value, or NULL; the caller
				 * unrefs it (never set by other commands or for duplicates) */
};

struct smr_kv;

struct smr_kv_value {
	const struct strata_msg *val; /* borrowed until the next apply */
	uint64_t mod_revision;        /* revision of the write that set it */
	uint64_t create_revision;
	uint64_t version;             /* writes since creation */
};

/* sessions_max bounds the session table: beyond it the session applied least recently (by log
 * index) is forgotten, the same one on every replica. */
struct smr_kv *smr_kv_new(size_t sessions_max);
void smr_kv_free(struct smr_kv *kv);
/* Applies cmd as log entry `index`. Duplicate (session, seq) pairs are answered from the session
 * cache and change nothing. 0, or STRATA_ENOMEM (the replica cannot continue). */
int smr_kv_apply(struct smr_kv *kv, uint64_t index, const struct smr_cmd *cmd,
		 struct smr_result *res);
/* Reads a key. 0, or STRATA_ENOENT if absent. */
int smr_kv_get(const struct smr_kv *kv, const void *key, size_t klen, struct smr_kv_value *out);
uint64_t smr_kv_revision(const struct smr_kv *kv);
/* The state's size as the space quota ([smr] quota_bytes, docs/smr.md "Bounds") counts it: every
 * key's and value's bytes plus SMR_KV_KEY_OVERHEAD per key. Kept as a running sum by every apply
 * and recomputed by a restore: the same on replicas that applied the same prefix. */
#define SMR_KV_KEY_OVERHEAD 64u
#define SMR_INCR_VALUE_MAX 20u /* the longest value an incr writes ("-9223372036854775808") */
uint64_t smr_kv_bytes(const struct smr_kv *kv);
/* The most smr_kv_bytes the state held since it was created or restored (every apply's
 * high-water mark: what the simulation checks against the quota). */
uint64_t smr_kv_bytes_peak(const struct smr_kv *kv);
/* A bound on how many bytes applying c can add to smr_kv_bytes, whatever the state: an
 * overwrite counts as a new key (key + value + overhead), an mput every pair, an incr the
 * longest number; a del or a noop 0. O(1), an mput O(pairs). */
uint64_t smr_cmd_growth(const struct smr_cmd *c);
/* The space quota's refusal text (the client's error, every KV log): held of quota bytes. */
void smr_quota_text(uint64_t held, uint64_t quota, char *buf, size_t len);
size_t smr_kv_count(const struct smr_kv *kv);
size_t smr_kv_sessions(const struct smr_kv *kv);
/* One key of a range: borrowed until the next apply. */
struct smr_kv_item {
	const struct strata_msg *key, *val;
	uint64_t mod_revision, create_revision, version;
};
/* The keys that start with prefix (plen 0: every key) and sort after `after` (alen 0: from the
 * first), in ascending byte order, at most limit of them into items (room for limit). *more
 * says whether more keys matched. Costs one pass over every key (the table is a hash) and a
 * sort of the matches. 0, or STRATA_ENOMEM. */
int smr_kv_range(const struct smr_kv *kv, const void *prefix, size_t plen, const void *after,
		 size_t alen, size_t limit, struct smr_kv_item *items, size_t *count, bool *more);
/* Answers from a replica's applied state (reads.c), shared by both KV logs: a get, and a range
 * of at most `limit` keys (0 = SMR_RANGE_DEFAULT, at most SMR_RANGE_MAX) and SMR_RANGE_BYTES of
 * keys and values, as STRATA_REPLY_RANGE encodes it. */
#define SMR_RANGE_DEFAULT 1000u
#define SMR_RANGE_MAX 10000u
#define SMR_RANGE_BYTES ((size_t)3 << 19) /* 1.5 MiB */
void smr_reply_get(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
		   const void *key, size_t klen);
void smr_reply_range(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
		     const void *prefix, size_t plen, const void *after, size_t alen, uint32_t limit);
/* The same, signed for the BFT KV's client when tag is not NULL (bft.c). */
struct smr_bft_tag;
void smr_reply_get_tagged(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
			  const void *key, size_t klen, const struct smr_bft_tag *tag);
void smr_reply_range_tagged(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
			    const void *prefix, size_t plen, const void *after, size_t alen,
			    uint32_t limit, const struct smr_bft_tag *tag);
/* An error reply to request rid at once, with the formatted reason (tag: signed for the BFT
 * KV's client, else NULL). Returns 0: the request is answered. */
int smr_reject(struct strata_module *m, uint64_t rid, const struct smr_bft_tag *tag, int code,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* `kv watch` (reads.c), shared by both KV logs. Live events: the changes of revisions
 * from..(the state's revision) as STRATA_OUT_DELIVER of module kv (a = the first revision of the
 * piece, data = STRATA_REPLY_RANGE's encoding, one item per change; a delete has an empty value
 * and version 0), in pieces of at most 256 changes and about SMR_RANGE_BYTES; called after each
 * apply that changed the state. History: the reply to a STRATA_OP_HISTORY request (`kv watch
 * --from`) from this replica's history, or the error (a compacted start: STRATA_ENOENT naming the
 * oldest revision held). Returns 0 (the request is answered). */
void smr_emit_changes(struct strata_module *m, const struct smr_kv *sm, uint64_t from);
int smr_reply_history(struct strata_module *m, const struct smr_kv *sm,
		      const struct strata_request *q);
/* The revision history (what `kv watch` replays): every put and delete since the state was
 * created or restored from a snapshot, one per revision, at most the newest SMR_HISTORY_MAX of
 * them and SMR_HISTORY_BYTES of keys and values (older ones are forgotten: "compacted"). Not
 * part of the replicated state (a replica restored from a snapshot has less of it). */
#define SMR_HISTORY_MAX 65536u
#define SMR_HISTORY_BYTES ((size_t)64 << 20)
struct smr_kv_event {
	const struct strata_msg *key, *val; /* val NULL: a delete; borrowed until the next apply */
	uint64_t revision, create_revision, version; /* a delete: revision only (others 0) */
};
/* The events with revision >= from (0 = 1) of key (prefix false) or of the keys that start
 * with key (prefix true; klen 0 = every key), in revision order, at most limit of them into out.
 * *next: the revision to continue from (after the last event scanned); *oldest: the oldest
 * revision the history still holds. 0, or STRATA_ENOENT when from < *oldest (compacted). */
int smr_kv_history(const struct smr_kv *kv, uint64_t from, const void *key, size_t klen,
		   bool prefix, size_t limit, struct smr_kv_event *out, size_t *count,
		   uint64_t *next, uint64_t *oldest);
/* The whole state (keys, revision, sessions in applied order) as one byte string: a snapshot.
 * omit_sessions: the broken variant that forgets the session table. 0, or STRATA_ENOMEM. */
int smr_kv_snapshot(const struct smr_kv *kv, bool omit_sessions, struct strata_msg **out);
/* The same with the keys in byte order: equal bytes on replicas that applied the same commands,
 * however their tables grew or were restored (the BFT KV's checkpoint digest, bft_ckpt.c). */
int smr_kv_snapshot_canonical(const struct smr_kv *kv, struct strata_msg **out);
/* The same appended to a writer (the BFT KV's checkpoint blob puts the order's position in
 * front: one buffer, no copy), and a bound on a snapshot's size for the writer's cap. */
struct strata_wr;
int smr_kv_snapshot_canonical_write(const struct smr_kv *kv, struct strata_wr *w);
size_t smr_kv_snapshot_bound(const struct smr_kv *kv);
/* A new state from a snapshot's bytes, checked completely before it is returned (a malformed
 * snapshot changes nothing). 0, STRATA_EPROTO or STRATA_ENOMEM. */
int smr_kv_restore(const void *data, size_t len, size_t sessions_max, struct smr_kv **out);
/* An order-independent digest of the state: equal on replicas that applied the same prefix. */
uint64_t smr_kv_digest(const struct smr_kv *kv);
/* Test-only: forget sessions (the "applies a duplicate twice" broken variant). */
void smr_kv_set_broken_sessions(struct smr_kv *kv, bool broken);
/* Test-only: no window (every seq at or below a session's highest is taken as applied: loses
 * pipelined commands that arrive out of order). */
void smr_kv_set_broken_window(struct smr_kv *kv, bool broken);
/* Test-only (SMR_BROKEN_UNWATCHED_REVISION): the revision advances once with no change (the
 * history is dropped: it starts at the next change). */
void smr_kv_test_skip_revision(struct smr_kv *kv);

/* Command codec (a batch = u64 count, then the commands). */
#include "core/codec.h"
void smr_cmd_encode(struct strata_wr *w, const struct smr_cmd *c);
/* 0, or STRATA_EPROTO with the reader latched. */
int smr_cmd_decode(struct strata_rd *r, struct smr_cmd *c);
/* An MPUT pair list: 1..SMR_MPUT_MAX pairs of a non-empty key and a value, nothing after. 0, or
 * STRATA_EPROTO. */
int smr_mput_check(const uint8_t *pairs, size_t len);

/* The checks of a KV client request both logs share (request.c; not STRATA_OP_HISTORY): 0 with
 * *kind (SMR_REQ_*), or STRATA_EINVAL / STRATA_ETOOBIG with the reason in why (the client's
 * error text). What depends on the log (entry or message size, busy limits) is checked there. */
enum { SMR_REQ_GET = 1, SMR_REQ_PUT, SMR_REQ_DEL, SMR_REQ_CAS, SMR_REQ_RANGE };
int smr_request_parse(const struct strata_request *q, uint8_t *kind, char *why, size_t whylen);
/* The command type a put's flags name (NX, XX, GETSET, INCR, MPUT, else PUT). */
uint8_t smr_put_type(uint32_t flags);

/* ---- pending client requests, the table both logs keep (pend.c) ----
 * A node's client requests waiting for their answer: at most `[smr] pending_max` of them (and
 * 1 << SMR_PEND_ID_BITS), holding at most SMR_PEND_BYTES of writes; beyond either bound a new
 * request is refused (busy, retry). A request's id is (generation << SMR_PEND_ID_BITS) | slot,
 * the generation drawn from a counter that starts at random per incarnation, so an answer that
 * names a freed slot's old id finds nothing. Each log's record opens with struct smr_pend and
 * adds its own fields after it (log.c: the read's state; tob_log.c: the BFT fields); the table
 * holds cap records of `size` bytes. The table owns what the records' key, after and cmd
 * reference (smr_pend_free and smr_pend_fini release them). */
#define SMR_PEND_ID_BITS 20
#define SMR_PEND_BYTES ((size_t)256 << 20)
struct smr_pend {
	uint64_t id;  /* 0 = free; (generation << SMR_PEND_ID_BITS) | slot */
	uint64_t rid; /* the runtime's request id */
	uint64_t session, seq;
	size_t bytes;             /* the write's bytes counted in the table's (smr_pend_hold) */
	struct strata_msg *key;   /* reads: the key, ranges: the prefix */
	struct strata_msg *after; /* ranges: start after this key */
	uint64_t deadline_us;
	struct strata_msg *cmd; /* the encoded command (log.c: writes; tob_log.c: bft, with auth) */
	uint32_t limit;         /* ranges */
	uint8_t kind;           /* SMR_REQ_* */
};
struct smr_pend_table {
	void *rec;      /* cap records of size bytes, each opening with struct smr_pend */
	size_t size;
	uint32_t cap, n; /* slots, and the requests in them */
	uint64_t id_gen; /* the next generation (the caller seeds it) */
	size_t bytes;    /* the writes' bytes held */
};
/* A table of min(pending_max, 1 << SMR_PEND_ID_BITS) records of `size` bytes (at least struct
 * smr_pend's), all free. 0, or STRATA_ENOMEM. */
int smr_pend_init(struct smr_pend_table *t, uint32_t pending_max, size_t size);
/* Releases every pending record's messages and the table's memory. */
void smr_pend_fini(struct smr_pend_table *t);
/* The record in slot (< cap), free or not. */
static inline struct smr_pend *smr_pend_at(const struct smr_pend_table *t, uint32_t slot)
{
	return (struct smr_pend *)((char *)t->rec + (size_t)slot * t->size);
}
/* The pending request of this id, or NULL (answered, or never this node's). */
struct smr_pend *smr_pend_find(const struct smr_pend_table *t, uint64_t id);
/* A new zeroed record with its id for a request of `need` bytes, or NULL when `need` more bytes
 * would take the table past SMR_PEND_BYTES, or every slot is taken: why then says which (the
 * busy reply's text). The caller counts a write's bytes with smr_pend_hold. */
struct smr_pend *smr_pend_alloc(struct smr_pend_table *t, size_t need, char *why, size_t whylen);
/* Counts bytes of a write in the table until the record is freed. */
void smr_pend_hold(struct smr_pend_table *t, struct smr_pend *p, size_t bytes);
/* Frees the record: its bytes, its messages, its slot (the whole record is zeroed). */
void smr_pend_free(struct smr_pend_table *t, struct smr_pend *p);
/* A read's arguments from the request (p->kind set): the key (or prefix), a range's start key
 * and limit. 0, or STRATA_ENOMEM (the caller frees the record). */
int smr_pend_read_args(struct smr_pend *p, const struct strata_request *q);
/* A write's session and sequence number from the request; a request without a session gets a
 * one-shot one (random, seq 1) when one_shot is set, so re-forwarding it stays exactly-once. */
void smr_pend_write_session(struct smr_pend *p, const struct strata_request *q,
			    struct strata_node *n, bool one_shot);
/* The reply to p's client (tag: signed for the BFT client, else NULL); the caller frees p. */
struct smr_bft_tag;
void smr_pend_reply(struct strata_module *m, const struct smr_pend *p, int status,
		    uint64_t flags, const void *data, size_t len, uint64_t revision,
		    const char *text, const struct smr_bft_tag *tag);
/* Answers p's read from the state (reads.c's get or range reply); the caller frees p. */
void smr_pend_serve_read(struct strata_module *m, const struct smr_kv *sm,
			 const struct smr_pend *p, const struct smr_bft_tag *tag);

/* ---- the replicated log and the KV service (log.c) ---- */

struct strata_module *smr_kv_create(struct strata_node *n, char *err, size_t errlen);

/* Request flags (struct strata_request.flags). */
#define STRATA_REQ_SERIALIZABLE 1u /* a get served from this replica's state, no leader round */
/* With STRATA_OP_WRITE (at most one of them); the reply's FOUND flag reports num != 0 or an old
 * value, INCR's reply data is the new value in decimal, GETSET's the old value. */
#define STRATA_REQ_PUT_NX 2u
#define STRATA_REQ_PUT_XX 4u
#define STRATA_REQ_GETSET 8u
#define STRATA_REQ_INCR 16u  /* value = the signed decimal delta */
#define STRATA_REQ_MPUT 32u  /* value = the pair list of SMR_CMD_MPUT, key = the first key */
/* With STRATA_OP_DELETE: the reply's FOUND flag says whether the key was present. */
/* With STRATA_OP_HISTORY: key is a prefix (empty: every key), not one key. */
#define STRATA_REQ_PREFIX 64u

/* Inspection for tests and status. */
struct smr_status {
	uint64_t term;
	uint32_t leader;     /* 0 = unknown */
	bool is_leader;
	uint64_t last_index, commit_index, applied_index;
	uint64_t revision;
	size_t keys, sessions, pending;
	uint64_t batches, commands, read_rounds, elections, busy_rejects;
	uint64_t snap_index, log_first, snapshots, snap_installs;
	/* Entries or the snapshot that the stored hard state names, and storage could not read
	 * (a damaged data directory, or a recovery bug: never in a correct run). */
	uint64_t unreadable;
	/* [smr] thrifty: batches sent at once only to majority - 1 followers, and of them those
	 * whose chosen followers were late (sent to every follower after a bounded wait). */
	uint64_t thrifty_batches, thrifty_fallbacks;
	/* Growing writes the leader refused before proposing them: the space quota. */
	uint64_t quota_rejects;
};
void smr_kv_status(struct strata_module *m, struct smr_status *out);
struct smr_kv *smr_kv_state(struct strata_module *m);

/* ---- the KV over total-order broadcast, `[smr] log = tob` (tob_log.c) ----
 * The same module name, wire id and client interface as smr_kv_create's; the node's "kv" is
 * this one when the config says so (ctors.c). smr_tobkv_set_broken takes SMR_BROKEN_READ_NO_ROUND
 * (a linearizable read answered locally, outside the order) and SMR_BROKEN_DUP_APPLY. */
struct strata_config;
bool smr_log_is_tob(const struct strata_config *cfg);
/* `[smr] log = bft-tob` or `btob`: the same module with the BFT client protocol (bft.c): every
 * replica answers every request it holds, matched by (session, seq), with a signed reply; btob
 * orders with Byzantine total-order broadcast (Alg. 6.2) instead of tob. */
bool smr_log_is_bft(const struct strata_config *cfg);

/* ---- the BFT KV's authenticated replies and the client's f + 1 vote (bft.c) ---- */
#define SMR_BFT_DIGEST_LEN 32
#define SMR_BFT_PK_LEN 32
/* The request a reply answers: the client's session and sequence number (reads carry them too). */
struct smr_bft_replies;
struct smr_bft_tag {
	uint64_t session, seq;
	/* The replica's reply envelope of this turn (bft_reply.c): the reply is signed with the
	 * others of the turn, once, at the turn's end. NULL: signed at once, alone. */
	struct smr_bft_replies *env;
};
/* C, the digest of an outcome the client votes on (bft.c says what it covers). */
void smr_bft_outcome(uint8_t out[SMR_BFT_DIGEST_LEN], uint64_t session, uint64_t seq, int status,
		     uint64_t flags, uint64_t revision, const uint8_t *data, size_t len);
/* SHA-256("") (32 bytes): what the digests above and smr_bft_request_digest take for an
 * empty field, without hashing it. */
const uint8_t *smr_bft_sha256_empty(void);
/* Signs o (status, b, revision, data) for tag as this node and outputs it with o->peer = this
 * node and o->sig set. A node with a test-only Byzantine behaviour misbehaves here. */
void smr_bft_output(struct strata_node *n, struct strata_output *o, const struct smr_bft_tag *tag);
/* A replica's reply envelope (bft_reply.c): the replies of a turn signed once, at the turn's
 * end (smr_bft_replies_flush from the owner's STRATA_EV_TURN_END; asked for by the first reply
 * of the turn). */
struct smr_bft_replies *smr_bft_replies_new(struct strata_module *m);
void smr_bft_replies_flush(struct smr_bft_replies *e);
void smr_bft_replies_free(struct smr_bft_replies *e); /* drops what was not flushed */
void smr_bft_replies_counts(const struct smr_bft_replies *e, uint64_t *envelopes,
			    uint64_t *replies);
/* Whether sig is replica's signature over outcome (replica's key from cfg). */
/* What a replica signs: replica id (u32 LE) || outcome digest. */
#define SMR_BFT_SIGNED_LEN (4 + SMR_BFT_DIGEST_LEN)
void smr_bft_signed_msg(uint8_t msg[SMR_BFT_SIGNED_LEN], uint32_t replica,
			const uint8_t outcome[SMR_BFT_DIGEST_LEN]);
bool smr_bft_verify(const struct strata_config *cfg, uint32_t replica,
		    const uint8_t outcome[SMR_BFT_DIGEST_LEN], const uint8_t *sig);
/* Envelopes: one signature over many digests (bft.c, "Envelopes"). A hash tree over up to
 * SMR_BFT_ENV_MAX leaves; the signer signs its root, and each entry travels with the signature,
 * its index, the leaf count and the sibling hashes from its leaf to the root (its path). */
#define SMR_BFT_ENV_MAX 256u
#define SMR_BFT_ENV_DEPTH 8u                /* ceil(log2(SMR_BFT_ENV_MAX)) */
#define SMR_BFT_ENV_HDR 4u                  /* index (u16 LE), count (u16 LE) */
#define SMR_BFT_ENV_PROOF_MAX (SMR_BFT_ENV_HDR + SMR_BFT_ENV_DEPTH * SMR_BFT_DIGEST_LEN)
/* A reply's bft signature bytes: 64 (alone), or 64 || index || count || path (an envelope's). */
#define SMR_BFT_SIG_MAX (64 + SMR_BFT_ENV_PROOF_MAX)
/* Builds the tree of nodes[0..count) (the leaves) in place: nodes needs room for 2 * count +
 * SMR_BFT_ENV_DEPTH digests. Returns the index of the root in nodes. */
uint32_t smr_bft_tree_build(uint8_t (*nodes)[SMR_BFT_DIGEST_LEN], uint32_t count);
/* Writes leaf index's proof (SMR_BFT_ENV_HDR header and path) of a built tree; returns its
 * length in bytes (at most SMR_BFT_ENV_PROOF_MAX). */
size_t smr_bft_tree_proof(uint8_t (*nodes)[SMR_BFT_DIGEST_LEN], uint32_t count,
			  uint32_t index, uint8_t *proof);
/* The root that leaf and proof (header and path, len bytes) lead to; false if the proof is
 * malformed (index >= count, count out of range, a path of the wrong length). */
bool smr_bft_tree_fold(const uint8_t leaf[SMR_BFT_DIGEST_LEN], const uint8_t *proof, size_t len,
		       uint8_t root[SMR_BFT_DIGEST_LEN]);
/* A verifier's memory of signed messages (an envelope's root with what binds it) whose
 * signature it verified: an envelope's other entries then cost a fold (hashes), not an Ed25519
 * verification. Bounded (a ring of SMR_BFT_SEEN). */
#define SMR_BFT_SEEN 64
#define SMR_BFT_SEEN_KEY (SMR_BFT_PK_LEN + 1 + 64) /* public key || length || message */
struct smr_bft_seen {
	uint32_t next, used;
	uint8_t key[SMR_BFT_SEEN][SMR_BFT_SEEN_KEY];
	uint64_t verified; /* Ed25519 verifications done */
	uint64_t hits;     /* entries accepted by a remembered root */
};
/* Whether sig (len bytes: a signature alone, or an envelope's, SMR_BFT_SIG_MAX) proves that
 * replica signed outcome; seen (may be NULL) remembers verified roots. */
bool smr_bft_verify_reply(const struct strata_config *cfg, uint32_t replica,
			  const uint8_t outcome[SMR_BFT_DIGEST_LEN], const uint8_t *sig,
			  size_t len, struct smr_bft_seen *seen);
/* Signed client requests. A client session is owned by an Ed25519 key pair: its id is the
 * first 8 bytes of SHA-256("strata-bft-session-v1" || public key), or 1; the client signs the
 * digest R of each request (smr_bft_request_digest) and sends public key || signature (auth). */
#define SMR_BFT_AUTH_LEN 96 /* public key (32) || signature (64) */
uint64_t smr_bft_session_of(const uint8_t pk[SMR_BFT_PK_LEN]);
/* What R covers: a write as the command it becomes (type = SMR_CMD_*, val/val2 its values),
 * a read as asked (type 0; val = range's start-after key). */
struct smr_bft_req {
	uint64_t session, seq;
	uint32_t op;    /* STRATA_OP_READ, WRITE, DELETE, CAS, RANGE */
	uint32_t type;  /* writes: the command type (SMR_CMD_PUT, DEL, CAS, ...); reads: 0 */
	uint32_t limit; /* range: as asked (0 = default); else 0 */
	const uint8_t *key, *val, *val2;
	size_t key_len, val_len, val2_len;
};
void smr_bft_request_digest(uint8_t out[SMR_BFT_DIGEST_LEN], const struct smr_bft_req *r);
void smr_bft_request_sign(uint8_t auth[SMR_BFT_AUTH_LEN], const uint8_t pk[SMR_BFT_PK_LEN],
			  const uint8_t sk[64], const uint8_t digest[SMR_BFT_DIGEST_LEN]);
/* Request envelopes (bft.c): a client process signs the requests of one turn once. Its
 * sessions share one key pair: session = the first 8 bytes of SHA-256("strata-bft-session-v2"
 * || public key || index (u32 LE)) | 1, for the session's index. An envelope's auth is
 * public key (32) || signature of T (64) || index (u32 LE) || T (32) || proof (index, count,
 * path: the request digest's leaf in the tree whose root is T). */
#define SMR_BFT_AUTH_ENV_MIN (SMR_BFT_AUTH_LEN + 4 + SMR_BFT_DIGEST_LEN + SMR_BFT_ENV_HDR)
#define SMR_BFT_AUTH_MAX (SMR_BFT_AUTH_ENV_MIN + SMR_BFT_ENV_DEPTH * SMR_BFT_DIGEST_LEN)
uint64_t smr_bft_session_at(const uint8_t pk[SMR_BFT_PK_LEN], uint32_t index);
/* Signs count (1..SMR_BFT_ENV_MAX) request digests as one envelope: digests[i] belongs to the
 * session of index idx[i]; writes auth i (auths + i * SMR_BFT_AUTH_MAX) and its length. */
void smr_bft_request_env_sign(const uint8_t pk[SMR_BFT_PK_LEN], const uint8_t sk[64],
			      uint32_t count, const uint8_t (*digests)[SMR_BFT_DIGEST_LEN],
			      const uint32_t *idx, uint8_t *auths, size_t *lens);
/* Whether auth (len bytes: SMR_BFT_AUTH_LEN alone, or an envelope's) carries a key that owns
 * session and its signature of digest, or of an envelope root digest's proof leads to. seen (may
 * be NULL) remembers verified roots and counts Ed25519 verifications. unbound: TEST ONLY
 * (SMR_BROKEN_BFT_ENV_UNBOUND), the envelope's signature is checked but not that the digest is
 * one of its entries. */
bool smr_bft_request_verify(uint64_t session, const uint8_t digest[SMR_BFT_DIGEST_LEN],
			    const uint8_t *auth, size_t len, struct smr_bft_seen *seen,
			    bool unbound);
/* A client's vote over one request's verified replies. */
struct smr_bft_vote {
	uint32_t n, f;
	uint64_t voted; /* bit r-1: replica r's vote is in */
	uint8_t outcome[STRATA_MAX_NODES + 1][SMR_BFT_DIGEST_LEN];
};
void smr_bft_vote_init(struct smr_bft_vote *v, uint32_t n, uint32_t f);
/* Records replica's (verified) outcome, unless it voted already: its first one counts. Returns
 * how many replicas voted for the outcome replica's vote is for (accept at f + 1). */
unsigned smr_bft_vote_add(struct smr_bft_vote *v, uint32_t replica,
			  const uint8_t outcome[SMR_BFT_DIGEST_LEN]);
/* Replicas that voted. */
unsigned smr_bft_vote_count(const struct smr_bft_vote *v);
/* ---- signed checkpoints of the BFT KV (bft_ckpt.c has the specification) ---- */
struct smr_ckpt_cert {
	uint64_t index;                     /* commands applied (0: none) */
	uint8_t digest[SMR_BFT_DIGEST_LEN]; /* SHA-256 of the canonical snapshot at index */
	uint32_t nsig;                      /* 2f + 1 */
	uint32_t replica[STRATA_MAX_NODES];
	uint8_t sig[STRATA_MAX_NODES][64];
};
struct smr_ckpt_counts {
	uint64_t taken;        /* own checkpoints signed */
	uint64_t stabilized;   /* made stable here by 2f + 1 votes */
	uint64_t adopted;      /* made stable by a peer's certificate */
	uint64_t stable_index; /* the stable checkpoint's index */
	uint64_t rejected;     /* votes and certificates refused: malformed, bad signature,
				* a second different vote */
	uint64_t dropped;      /* votes beyond the window */
	uint64_t limited;      /* certificates, asks and fetches over a sender's budget, or a
				* certificate that failed before: not verified or served */
	uint64_t fetches;      /* snapshot fetches started (behind the stable checkpoint) */
	uint64_t installed;    /* certified snapshots fetched, verified and installed */
	uint64_t snap_bad;     /* fetched snapshots refused (digest, size, format) */
	uint64_t snap_timeouts; /* servers that went silent during a fetch */
	uint64_t served;       /* snapshot chunks served to other replicas */
};
/* A resume position of the order under the KV (btob: the next round and every sender's next
 * sequence number, next[1..n]); n = 0: none (tob). */
struct smr_ckpt_pos {
	uint64_t round;
	uint32_t n;
	uint64_t next[STRATA_MAX_NODES + 1];
};
/* Installs a certified snapshot (its bytes: position, then the canonical KV) at index: 0, or
 * STRATA_ESTATE (not behind it any more), or another error (it does not install). */
typedef int (*smr_ckpt_install_fn)(void *arg, uint64_t index, const uint8_t *blob, size_t len);
struct smr_ckpt;
/* Ownership: the caller (the KV module m) owns the checkpointer and frees it with smr_ckpt_free. */
struct smr_ckpt *smr_ckpt_new(struct strata_module *m, uint64_t interval);
void smr_ckpt_free(struct smr_ckpt *c);
void smr_ckpt_set_broken(struct smr_ckpt *c, unsigned broken);
/* After applying command index to sm: a checkpoint. pos NULL (tob): every interval-th index;
 * else (btob) the caller calls it at the first round end at or past each interval-th command,
 * and pos is the order's position there. */
void smr_ckpt_applied(struct smr_ckpt *c, uint64_t index, const struct smr_kv *sm,
		      const struct smr_ckpt_pos *pos);
/* The largest space quota of the BFT KV (bft_ckpt.c): a full state with a full session table of
 * sessions_max sessions is still a checkpoint snapshot a replica fetches (at most 256 MiB);
 * at least 1 MiB (with a session table that alone could pass the bound). */
uint64_t smr_bft_quota_max(uint32_t sessions_max);
/* Snapshot transfer (the KV over btob): fetches behind the stable checkpoint, installs through
 * fn; smr_ckpt_tick every tick_us. */
void smr_ckpt_enable_fetch(struct smr_ckpt *c, smr_ckpt_install_fn fn, void *arg,
			   uint64_t tick_us);
void smr_ckpt_tick(struct smr_ckpt *c, uint64_t applied, bool joining);
/* Over btob: the round where the order resumes after the stable checkpoint, if this replica
 * serves its snapshot (its own, with the certified digest), else 0. */
uint64_t smr_ckpt_stable_round(const struct smr_ckpt *c);
/* The snapshot's bytes (what the digest covers): [round][n][next] x n, then the canonical KV. */
int smr_ckpt_blob(const struct smr_kv *sm, const struct smr_ckpt_pos *pos, struct strata_msg **out);
/* Parses a snapshot's position (n must be 0 or the cluster's n) and points at its KV part. */
int smr_ckpt_blob_parse(const uint8_t *data, size_t len, uint32_t n, struct smr_ckpt_pos *pos,
			const uint8_t **kv, size_t *kv_len);
/* TEST ONLY: this replica serves forged snapshots (a key no client wrote) while it runs the
 * rest of the protocol correctly (its votes count towards certificates). */
void smr_ckpt_test_forge_snapshots(struct smr_ckpt *c);
/* TEST ONLY: the first send of each of this replica's votes is dropped (as a perfect-link send
 * refused under load); only the repeat of a standing replica's newest vote goes out. */
void smr_ckpt_test_drop_first_votes(struct smr_ckpt *c);
/* A checkpoint message from peer (over authenticated links). */
void smr_ckpt_deliver(struct smr_ckpt *c, uint32_t peer, const uint8_t *data, size_t len);
/* The stable checkpoint (borrowed until the next event), or NULL. */
const struct smr_ckpt_cert *smr_ckpt_stable(const struct smr_ckpt *c);
/* This replica's own digest at index, if among its last few checkpoints. */
bool smr_ckpt_own(const struct smr_ckpt *c, uint64_t index, uint8_t digest[SMR_BFT_DIGEST_LEN]);
void smr_ckpt_counts(const struct smr_ckpt *c, struct smr_ckpt_counts *out);
/* The index of this replica's newest own checkpoint (0: none yet). */
uint64_t smr_ckpt_last_own(const struct smr_ckpt *c);
/* The digest of a canonical snapshot (smr_kv_snapshot_canonical). */
void smr_ckpt_digest(uint8_t out[SMR_BFT_DIGEST_LEN], const struct strata_msg *canonical);
/* Whether replica's signature of (index, digest) is valid, and whether cert is: 2f + 1 distinct
 * replicas' valid signatures (the config's public keys). */
bool smr_ckpt_sig_verify(const struct strata_config *cfg, uint32_t replica, uint64_t index,
			 const uint8_t digest[SMR_BFT_DIGEST_LEN], const uint8_t *sig);
bool smr_ckpt_cert_verify(const struct strata_config *cfg, const struct smr_ckpt_cert *c);
/* The tob KV's checkpointer (NULL unless the BFT KV). */
struct smr_ckpt *smr_tobkv_ckpt(struct strata_module *m);
/* TEST ONLY: from now on, every request a round sender leaves out of its bundle (over btob: a
 * message the order holds carries it, tob_log.c) is checked against btob's held messages by a
 * scan of its own; the requests left out so far, and those of them no held message carried. */
void smr_tobkv_test_left_out(struct strata_module *m, uint64_t *left_out, uint64_t *bad);

struct strata_module *smr_tobkv_create(struct strata_node *n, char *err, size_t errlen);
void smr_tobkv_set_broken(struct strata_module *m, unsigned broken);
struct smr_kv *smr_tobkv_state(struct strata_module *m);
void smr_tobkv_status(struct strata_module *m, struct smr_status *out);

/* Test-only broken variants, each of which a simulation case must catch. */
enum smr_broken {
	SMR_BROKEN_NONE = 0,
	SMR_BROKEN_ACK_UNSYNCED = 1,  /* acknowledges entries it never made durable */
	SMR_BROKEN_READ_NO_ROUND = 2, /* linearizable reads served without the quorum round */
	SMR_BROKEN_DUP_APPLY = 4,     /* no session deduplication */
	SMR_BROKEN_SNAP_NO_SESSIONS = 8, /* snapshots leave out the session table */
	SMR_BROKEN_NO_WINDOW = 16,    /* sessions deduplicate in seq order only (no window) */
	SMR_BROKEN_BFT_UNSIGNED = 32, /* BFT KV: requests and ordered commands taken without the
				       * client's signature check */
	/* Acknowledgements (APPEND_R) taken into the node's early class, and the link layer
	 * letting acks ride early datagrams (strata_links_set_broken_early_acks): a follower
	 * acknowledges before its sync (what the early class's rule forbids, docs/smr.md). */
	SMR_BROKEN_EARLY_ACK = 1024,
	/* A new snapshot stored while the one before it is not yet synced: both slots in use, so
	 * the one the durable hard state names may be overwritten (log.c, snap_slot_free). */
	SMR_BROKEN_SNAP_SLOT_REUSE = 2048,
	/* A follower's conflicting suffix truncated before the hard state naming the shorter log
	 * is stored: a torn batch may keep a hard state naming entries that are gone. */
	SMR_BROKEN_TRUNCATE_FIRST = 4096,
	/* [smr] thrifty: the leader counts itself for a thrifty batch without storing it (it stores
	 * it only PERSIST_DELAY_US later): a put is acknowledged on majority - 1 followers' copies. */
	SMR_BROKEN_THRIFTY_UNSTORED = 16384,
	SMR_BROKEN_BFT_CKPT_NOVERIFY = 64, /* BFT KV: checkpoint votes and certificates taken
					    * without checking their signatures */
	SMR_BROKEN_BFT_ENV_UNBOUND = 128, /* BFT KV: a request envelope's signature checked, but
					   * not that the request is one of its entries */
	SMR_BROKEN_BFT_SNAP_NODIGEST = 256, /* BFT KV: a fetched snapshot installed without
					     * checking it against the certified digest */
	SMR_BROKEN_BFT_NO_REVOTE = 8192, /* BFT KV: a replica whose order stands still never
					  * sends its newest checkpoint vote again (CK3) */
	SMR_BROKEN_BFT_OVERLAP_SKIP = 131072, /* BFT KV over btob: a round sender leaves out
					      * requests no held message carries (tob_log.c) */
	/* The KV's state depends on whether a watch event was built: at a node nobody watches
	 * (strata_node_deliveries_wanted says no) a write's apply advances the revision once more
	 * (log.c, apply_committed). */
	SMR_BROKEN_UNWATCHED_REVISION = 32768,
	/* kv: a FWD, RI or RI_R the links refuse is lost, not owed and sent again (log.c,
	 * send_owed): the request waits for its deadline. */
	SMR_BROKEN_NO_OWED = 65536,
	/* kv: the space quota's admission counts only the applied state, not the commands in
	 * flight past it (log.c, quota_fits): pipelined writes take the state past the quota. */
	SMR_BROKEN_QUOTA_APPLIED_ONLY = 262144,
	/* kv: a write the space quota refuses is answered "space exceeded" and still proposed
	 * (log.c, dispatch_one and on_fwd): a definite failure that takes effect. */
	SMR_BROKEN_QUOTA_PROPOSE_REFUSED = 524288,
	/* kv: a write of the leader's own client that the quota refuses is answered at once,
	 * with no marker in the log (log.c, dispatch_one): a copy of it sent through another node
	 * may be admitted later and take effect. */
	SMR_BROKEN_QUOTA_UNLOGGED_REFUSAL = 1048576,
	/* kv over tob: the space quota is not checked at apply (tob_log.c, on_deliver_one). */
	SMR_BROKEN_QUOTA_UNCHECKED = 2097152,
};
void smr_kv_set_broken(struct strata_module *m, unsigned broken);

/* ---- storage wrapper (wal.c): the log's records over core's strata_log_* / strata_snapshot_* ---- */

struct smr_hardstate {
	uint64_t term;
	uint32_t vote;
	uint64_t last_index;
	uint64_t commit_hint; /* an index known committed (safe to replay at restart) */
	uint64_t snap_index, snap_term; /* the stored snapshot covers 1..snap_index (0: none) */
	unsigned snap_slot;             /* which of the two snapshot slots holds it */
};
int smr_wal_load_state(struct strata_node *n, struct smr_hardstate *hs);
int smr_wal_save_state(struct strata_node *n, const struct smr_hardstate *hs);
/* Entry idx: its term and its payload (a batch). */
int smr_wal_put(struct strata_node *n, uint64_t idx, uint64_t term, const struct strata_msg *data);
/* 0 with *term and *data (a new reference), STRATA_ENOENT, or STRATA_EIO/EPROTO. */
int smr_wal_get(struct strata_node *n, uint64_t idx, uint64_t *term, struct strata_msg **data);
/* The lowest index still in the log (after compaction). */
int smr_wal_first(struct strata_node *n, uint64_t *first);
/* Drops entries below keep_from (compaction behind a snapshot). */
int smr_wal_compact(struct strata_node *n, uint64_t keep_from);
/* Drops entries from drop_from on (a conflicting suffix). */
int smr_wal_truncate(struct strata_node *n, uint64_t drop_from);
/* The snapshot in slot 0 or 1: replace it, its index and length, a chunk of it. A new
 * snapshot goes to the slot the hard state does not name; the hard state then names it. */
int smr_wal_snapshot_put(struct strata_node *n, unsigned slot, uint64_t index,
			 const struct strata_msg *snap);
int smr_wal_snapshot_info(struct strata_node *n, unsigned slot, uint64_t *index, uint64_t *total);
int smr_wal_snapshot_read(struct strata_node *n, unsigned slot, uint64_t offset, size_t max,
			  struct strata_msg **out);

#endif
