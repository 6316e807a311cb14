/* kv: the replicated KV store. A leader-driven replicated log (consensus on a sequence of slots,
 * Multi-Paxos generalised the Raft way) and the KV state machine (kv_sm.c) applied in log order.
 * A bounded implementation; docs/smr.md is the long form.
 *
 * Specification (the state machine's, seen by clients):
 *   Linearizability  every put, del, cas and (default) get takes effect atomically at one point
 *                    between its invocation and its response; the history of each key is that
 *                    of an atomic read/write/cas register.
 *   Durability       an acknowledged write survives any crash of any minority, and the crash of
 *                    all nodes at once (it is on stable storage of a majority before the reply).
 *   Exactly once     a write is applied at most once per (session, seq), however often it is
 *                    retried or re-forwarded.
 *   Serializable get (flag) reads this replica's applied state: possibly stale, never torn.
 *
 * The log (properties of consensus per slot, book Module 5.2, and total order):
 *   LOG1 Agreement  no two replicas apply different commands at the same index.
 *   LOG2 Validity   an applied command was submitted by a client (or is a leader's no-op).
 *   LOG3 Integrity  an index is applied once, in index order, with no gaps.
 *   LOG4 Termination  with a majority correct and connected and timers eventually accurate
 *                    (fail-noisy), submitted commands are eventually applied.
 *
 * Algorithm. Terms play the role of the book's epochs (leader-driven consensus, Alg. 5.7): a
 * candidate increments its term, persists it with its own vote, and asks for votes; a voter
 * grants one vote per term, persisted before the answer leaves, and only to a candidate whose
 * log is at least as up to date as its own (last term, then last index). That election is the
 * READ phase of every later slot at once: a majority's logs contain every chosen command, and
 * the winner's log holds them all (Raft's Leader Completeness), so the new leader needs no
 * per-slot read. The leader appends a no-op first (committing it commits every earlier entry),
 * then replicates: APPEND(term, prev index/term, entries, commit, hb) to every follower, which
 * keeps the log only if it matches at prev (so logs that agree at an index agree on everything
 * before it), persists the entries, and answers with the index it now matches. An entry of the
 * current term is committed when a majority stored it; commit is piggybacked on the next APPEND
 * or heartbeat. Every command read in one turn of the leader becomes one entry (batching); up to
 * `window` entries are in flight per follower (pipelining).
 *
 * Persist before send: entries, term and vote are stored through wal.c during the turn; the
 * node syncs at the end of the turn before any datagram leaves, so an ACK (APPEND_R) or a vote
 * only ever reports durable state, and a reply is sent only for a command that a majority
 * stored. The leader counts itself for an index it stored (its replies and held messages leave
 * only after the sync of the batch that stored it). Its APPENDs are of the node's early class:
 * they leave before the batch's sync and carry only the commit that counts the leader for
 * entries already synced (commit_safe); docs/smr.md "The early class" states the rule.
 *
 * Thrifty replication ([smr] thrifty; docs/smr.md "Thrifty replication"). When a batch is made
 * while every entry is committed (nothing in flight: the c=1 regime), the leader stores it in
 * the same turn and sends it at once only to majority - 1 followers (caught up, heard from
 * recently, the fastest to acknowledge of late); the others get it off the path (with the
 * heartbeat, when they wait for entries, the next batch made while entries are in flight:
 * held_from), or at once when the chosen ones have not acknowledged within a bounded wait
 * (thrifty_wait). A put then waits for the leader's sync and one follower's (at N = 3), not for
 * the later of both followers'. Why it is safe: nothing about counting changes. An entry is
 * committed when a majority stored it durably: each follower counts for what it acknowledged
 * (it acknowledges after the sync that covers it), the leader for what it stored, its own
 * copy's count taking effect only through outputs released after that store's sync (replies
 * and held datagrams leave after the batch's sync; early APPENDs carry commit_safe, which
 * counts the leader only for synced entries). Which followers receive an entry, and when, is
 * what Raft leaves free anyway (messages may be lost or late): withholding an entry from a
 * follower is indistinguishable from losing the APPEND, and every follower still receives
 * every entry (the heartbeat resends from its match). Elections are unchanged, so an entry
 * stored by a majority that includes the leader is in every later leader's log (a candidate
 * needs a vote from that majority, and a voter refuses a less up-to-date log).
 *
 * Reads (ReadIndex): a linearizable get is not logged. The leader notes its commit index (after
 * its no-op committed), starts one heartbeat round shared by every read waiting at that moment,
 * and when a majority answered that round it knows it was still the leader when the read
 * arrived; it answers once applied up to the noted index. A follower asks the leader for a read
 * index (RI) and answers from its own state once applied that far.
 *
 * Watch: after applying an entry the node outputs its changes (STRATA_OUT_DELIVER of module kv,
 * streamed by the runtime to subscribers), and answers history requests (STRATA_OP_HISTORY)
 * from the state machine's bounded history (docs/smr.md "Watch").
 *
 * Any node accepts requests: a follower forwards writes to the leader it knows (FWD); the
 * command names its origin node and request, and the origin answers its client when it applies
 * the command itself. On a leader change every unanswered write is forwarded again (the session
 * makes the re-forward harmless). A write without a client session gets a one-shot session.
 *
 * Model: fail-noisy crash-recovery with stable storage; N > 2f; perfect links (links/perfect.c).
 * Bounds: pending_max client requests per node (beyond: STRATA_EFULL "busy, retry") holding at most
 * SMR_PEND_BYTES of commands (the pending table, pend.c), a proposal queue of PROPOSE_MAX commands
 * and SMR_PEND_BYTES, `window` entries in flight per follower, batch_max commands and max_value
 * bytes per entry, READS_MAX reads waiting at a leader, a cache of the unapplied entries plus
 * CACHE_TAIL applied ones (older entries are read back from storage for a lagging follower, none
 * below the compacted prefix). Snapshots every snapshot_entries applied entries bound the log on
 * disk to about snapshot_entries + snapshot_tail entries (plus the uncommitted ones); two snapshot
 * slots hold at most two copies of the state; a follower behind the compacted log receives the
 * snapshot in chunks (SNAP/SNAP_R, one chunk of at most 64 KiB unanswered at a time; one snapshot
 * being received is held in memory) and installs it atomically.
 *
 * Wire (u8 type, then codec fields):
 *   APPEND   term prev_idx prev_term commit hb count (term bytes)...
 *   APPEND_R term ok idx hb          ok: idx = last matching index; else idx = a hint to retry
 *   VOTE     term last_idx last_term   VOTE_R term granted
 *   FWD      cmd-bytes                 RI id     RI_R id index (0 = refused)
 *   SNAP     term index index_term total offset chunk-bytes
 *   SNAP_R   term done idx             done: idx = the snapshot's index; else the offset wanted */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"
#include "smr/smr.h"

#define NAME "kv"
#define PROPOSE_MAX 65536u
#define READS_MAX 65536u
#define CACHE_TAIL 256u
#define APPEND_OVERHEAD 128u /* header bytes of an APPEND beyond its entries */
#define INFLIGHT_MSGS 2      /* APPENDs with entries unacknowledged per follower */
#define ENTRIES_PER_MSG 256
/* The leader stores its new entries once the followers committed them, or after this long. */
#define PERSIST_DELAY_US 5000
/* A commit with no APPEND of entries to carry it is sent on its own after this long (at most a
 * heartbeat period), or at once to a follower that waits for it (a command it forwarded was
 * applied). Long enough that at c=1 the next put's APPEND carries it even on a loaded machine
 * (a put then took 2-7 ms); short enough for followers' serializable reads and watches. */
#define COMMIT_DELAY_US 5000
/* [smr] thrifty: the followers chosen for a thrifty batch have not acknowledged it within
 * THRIFTY_WAIT_FACTOR times their recent acknowledgement time, kept within these bounds: it
 * goes to the other followers at once, and the late ones lose their place. A slow or dead
 * follower costs a put at most THRIFTY_WAIT_MAX_US (once: then it is not chosen); a put at
 * c=1 on a quiet machine takes 0.3-0.4 ms (p99 1.3 ms), on a loaded one 2-7 ms: the wait
 * grows with the acknowledgements, so that a machine slow for everybody does not send every
 * batch to every follower. */
#define THRIFTY_WAIT_FACTOR 4
#define THRIFTY_WAIT_MIN_US 1000
#define THRIFTY_WAIT_MAX_US 5000
#define SNAP_CHUNK ((size_t)64 << 10)       /* bytes of snapshot per INSTALL message at most */
#define SNAP_MAX ((uint64_t)4 << 30)         /* a snapshot larger than this is refused */

enum { M_APPEND = 1, M_APPEND_R, M_VOTE, M_VOTE_R, M_FWD, M_RI, M_RI_R, M_SNAP, M_SNAP_R };
enum { T_TICK = 2, T_ELECT, T_PERSIST, T_COMMIT, T_THRIFTY, T_OWED };
enum role { FOLLOWER, CANDIDATE, LEADER };
enum { K_GET = SMR_REQ_GET, K_PUT = SMR_REQ_PUT, K_DEL = SMR_REQ_DEL, K_CAS = SMR_REQ_CAS,
       K_RANGE = SMR_REQ_RANGE };
enum pstate { P_FREE = 0, P_WAIT, P_SENT, P_READ_INDEX, P_READ_APPLY };

struct ent {
	uint64_t term;
	struct strata_msg *data; /* a batch: u64 count, commands */
};

/* A pending client request: the table's record (pend.c) and the state of its read. */
struct pend {
	struct smr_pend c; /* the request, its id and deadline; a write's encoded command */
	uint8_t state;     /* enum pstate */
	/* A read: its read index. A write: its smr_cmd_growth (the space quota's count). One
	 * field, so that the record (scanned whole by serve_applied_reads) does not grow. */
	union {
		uint64_t read_index;
		uint64_t grow;
	};
};

struct read_wait {
	uint32_t peer;   /* 0: a read of this node's own client */
	uint64_t id;
	uint64_t index;
	uint64_t round;  /* 0: not yet in a round */
};

struct peer {
	uint64_t next, match, acked_hb, sent_commit;
	uint64_t last_ack_us, last_sent_us, match_at_tick;
	/* Last index of each APPEND with entries not yet acknowledged. While INFLIGHT_MSGS are
	 * out, new entries wait and leave together in the next one: a follower then stores (and
	 * syncs) everything that accumulated during its previous sync at once. */
	uint64_t infl[INFLIGHT_MSGS];
	unsigned ninfl;
	/* Snapshot transfer to this follower (its next entry is compacted away): the snapshot's
	 * index, the offset it asked for, and whether a chunk is unanswered. */
	uint64_t snap_index, snap_off;
	bool snap_inflight;
	bool commit_urgent; /* a command it forwarded was applied: tell it the commit now */
	/* [smr] thrifty: chosen to get a thrifty batch at once (else it gets it off the path), and
	 * how long its acknowledgement of one took recently (a moving average, us; raised when it
	 * was late). */
	bool eager;
	uint64_t ack_us;
};

struct kv {
	struct strata_module m;
	struct strata_node *node;
	const struct strata_config *cfg;
	uint32_t self, n, majority;
	unsigned broken;
	uint64_t hb_us, elect_us, timeout_us;
	size_t max_msg;

	/* persistent */
	uint64_t term;
	uint32_t vote;
	uint64_t last;
	uint64_t stored; /* entries 1..stored are in stable storage (the leader's newest may not be) */
	uint64_t snap_index, snap_term; /* the stored snapshot covers 1..snap_index */
	unsigned snap_slot;             /* the slot that holds it (wal.c) */
	uint64_t snap_ticket;           /* the batch that stored it (snap_slot_free) */
	uint64_t log_first;             /* entries below it are compacted away (storage) */

	/* volatile */
	enum role role;
	uint32_t leader;
	uint64_t commit, applied;
	uint64_t self_durable;
	/* The early class (docs/smr.md): entries 1..self_synced are known synced here (the sync of
	 * the batch that stored them completed); sync_ticket/sync_idx are the stores still
	 * waiting for their sync (ticket of the batch, index stored up to), oldest first, at most
	 * two (a third store merges into the second: only later known synced, never earlier).
	 * csafe is the commit index counting this leader only for synced entries: what an APPEND
	 * that leaves before this node's sync may carry. */
	uint64_t self_synced, csafe;
	uint64_t sync_ticket[2], sync_idx[2];
	bool parallel; /* [smr] leader_sync_parallel */
	/* [smr] thrifty (docs/smr.md "Thrifty replication"): held: the newest batch was thrifty,
	 * so the followers not chosen (!eager) get new entries only off the path (held_from: the
	 * heartbeat, when they wait for them, a batch that is not thrifty, or at once when the
	 * chosen ones are late: thrifty_wait). thrifty_idx: the newest thrifty batch (at most one is uncommitted: a
	 * batch is thrifty only when nothing is), sent at thrifty_us. */
	bool thrifty, held;
	uint64_t thrifty_idx, thrifty_us;
	uint64_t term_start; /* index of the leader's no-op */
	unsigned votes;
	uint64_t vote_mask;
	struct peer peers[STRATA_MAX_NODES + 1];
	uint64_t hb_seq;

	/* entry cache: [cfirst, last] */
	struct ent *ents;
	uint64_t ccap, cfirst;

	struct smr_kv *sm;

	/* A snapshot being received from the leader: at most one, of rx_total bytes. */
	uint8_t *rx;
	uint64_t rx_index, rx_term, rx_total, rx_len;
	bool in_tick; /* send_append may resend an unanswered snapshot chunk */

	struct smr_pend_table pend; /* of struct pend */

	struct strata_msg **prop;
	size_t nprop;
	size_t prop_bytes;

	/* The space quota ([smr] quota_bytes; docs/smr.md "Bounds"). A leader's inflight: the
	 * smr_cmd_growth of every command past its applied index, in its log or its proposal
	 * queue (counted when proposed or, for what it found in its log, when elected; uncounted
	 * when applied). A growing write is admitted only while state bytes + inflight + its own
	 * growth stay within quota: O(1) per write. */
	uint64_t quota, inflight;

	struct read_wait *reads;
	size_t nreads;

	struct strata_timer tick_t, elect_t, persist_t, commit_t, thrifty_t;
	bool persist_due; /* the leader's unstored entries waited PERSIST_DELAY_US */
	bool commit_due;  /* the commit waited COMMIT_DELAY_US for an APPEND to carry it */
	bool active; /* the KV is in use: timers run (dormant until then: no traffic at all) */
	bool damaged; /* the stored snapshot is unreadable: requests refused, messages ignored */

	/* FWD, RI and RI_R the links refused, owed to their peer (send_owed). */
	struct strata_pl_owed *owed;

	struct smr_status st;
};

#define KV(mod) ((struct kv *)(mod))

static void send_append(struct kv *k, uint32_t p);
static void send_snapshot(struct kv *k, uint32_t p);
static void maybe_snapshot(struct kv *k);
static void apply_committed(struct kv *k);
static void dispatch_pending(struct kv *k);

/* ---- small helpers ---- */

static void trace(struct kv *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(struct kv *k, const char *fmt, ...)
{
	if (!strata_tracing(k->node))
		return;
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	strata_trace(k->node, NAME, "%s", buf);
}

static struct strata_msg *wr_done(struct kv *k, struct strata_wr *w)
{
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(w, &err);
	if (!msg)
		trace(k, "encode failed (%s) -> message dropped", strata_strerror(err));
	return msg;
}

static int send_to(struct kv *k, uint32_t to, struct strata_msg *msg)
{
	if (!msg)
		return STRATA_ENOMEM;
	int rc = strata_pl_send(&k->m, to, 0, msg);
	if (rc)
		trace(k, "pl send to %u failed (%s) -> retried later", to, strata_strerror(rc));
	strata_msg_unref(msg);
	return rc;
}

/* FWD, RI and RI_R: nothing repeats them (a follower forwards again only when the leader
 * changes), so one the links refuse (the backlog toward that peer full) would leave its request
 * waiting for the client's deadline. Owed to the peer instead and sent again, in order, when its
 * backlog has room (links.h, strata_pl_owed, queued): per peer at most pending_max + READS_MAX
 * messages (a node forwards or asks for at most its pending requests, a leader answers at most
 * READS_MAX waiting reads) and SMR_PEND_BYTES + 32 bytes a read of payload; one beyond is dropped
 * (left to the deadline, as before), counted and traced. */
static int send_owed(struct kv *k, uint32_t to, struct strata_msg *msg)
{
	if (!msg)
		return STRATA_ENOMEM;
	int rc = strata_pl_owed_send(k->owed, to, 0, msg);
	if (rc)
		trace(k, "pl send to %u failed (%s) -> left to the request's deadline", to,
		      strata_strerror(rc));
	strata_msg_unref(msg);
	return rc;
}

/* A message of the node's early class (links.h strata_pl_send_early): see send_append. */
static int send_early(struct kv *k, uint32_t to, struct strata_msg *msg)
{
	if (!msg)
		return STRATA_ENOMEM;
	int rc = strata_pl_send_early(&k->m, to, 0, msg);
	if (rc)
		trace(k, "pl send to %u failed (%s) -> retried later", to, strata_strerror(rc));
	strata_msg_unref(msg);
	return rc;
}

static void save_state(struct kv *k)
{
	if (k->broken & SMR_BROKEN_ACK_UNSYNCED)
		return;
	struct smr_hardstate hs = {
		.term = k->term, .vote = k->vote, .last_index = k->stored,
		.commit_hint = k->commit < k->stored ? k->commit : k->stored,
		.snap_index = k->snap_index, .snap_term = k->snap_term, .snap_slot = k->snap_slot,
	};
	if (smr_wal_save_state(k->node, &hs) != 0)
		trace(k, "storing the hard state failed -> this turn's sync fails, node stops");
}

/* At the end of this turn-batch (rt/uv: everything read in one loop iteration) the leader
 * turns every command that arrived in it into one entry and sends what each follower may get. */
static void flush_soon(struct kv *k)
{
	strata_node_at_turn_end(&k->m);
}

/* ---- the entry cache and the log ---- */

static struct ent *cache_at(struct kv *k, uint64_t idx)
{
	return &k->ents[idx & (k->ccap - 1)];
}

static void cache_grow(struct kv *k)
{
	uint64_t cap = k->ccap ? k->ccap * 2 : 1024;
	struct ent *e = calloc(cap, sizeof(*e));
	STRATA_ASSERT(e); /* a full cache is bounded by the window and the apply rate */
	for (uint64_t i = k->cfirst; i <= k->last && k->ccap; i++)
		e[i & (cap - 1)] = k->ents[i & (k->ccap - 1)];
	free(k->ents);
	k->ents = e;
	k->ccap = cap;
}

/* Term of entry idx (0 for idx 0); UINT64_MAX if it cannot be read. */
static uint64_t term_at(struct kv *k, uint64_t idx)
{
	if (idx == 0)
		return 0;
	if (idx > k->last)
		return UINT64_MAX;
	if (idx >= k->cfirst)
		return cache_at(k, idx)->term;
	if (idx == k->snap_index)
		return k->snap_term;
	if (idx < k->log_first)
		return UINT64_MAX; /* compacted */
	uint64_t t;
	struct strata_msg *d;
	if (smr_wal_get(k->node, idx, &t, &d) != 0)
		return UINT64_MAX;
	strata_msg_unref(d);
	return t;
}

/* The data directory lost what the stored hard state names (this replica may have acknowledged
 * it): the kv stays down on this node, refusing requests and ignoring messages, for an operator
 * to restore the directory or replace the node. `text`: a literal, the event's text. */
static void set_damaged(struct kv *k, const char *text)
{
	k->st.unreadable++;
	if (k->damaged)
		return;
	k->damaged = true;
	struct strata_output o = { .kind = STRATA_OUT_EVENT, .module_name = NAME, .text = text };
	strata_output(k->node, &o);
}

/* Entry idx with a new reference to its data, or -1. */
static int entry_get(struct kv *k, uint64_t idx, uint64_t *term, struct strata_msg **data)
{
	if (idx == 0 || idx > k->last)
		return -1;
	if (idx >= k->cfirst) {
		struct ent *e = cache_at(k, idx);
		*term = e->term;
		*data = strata_msg_ref(e->data);
		return 0;
	}
	if (idx < k->log_first)
		return -1;
	int rc = smr_wal_get(k->node, idx, term, data);
	if (rc && rc != STRATA_ENOMEM) /* log_first..last is stored: the hard state says so */
		set_damaged(k, "error: kv: a stored log entry is unreadable; this node's kv stays "
			       "down (its data directory is damaged)");
	return rc ? -1 : 0;
}

static void store_entry(struct kv *k, uint64_t idx, const struct ent *e)
{
	if (!(k->broken & SMR_BROKEN_ACK_UNSYNCED) && smr_wal_put(k->node, idx, e->term, e->data) != 0)
		trace(k, "storing entry %" PRIu64 " failed -> this turn's sync fails", idx);
}

/* Appends an entry; a follower stores it at once (its acknowledgement leaves after this turn's
 * sync), a leader later (persist_unstored): see the note on the leader's log in docs/smr.md. */
static void log_append(struct kv *k, uint64_t term, struct strata_msg *data, bool store_now)
{
	if (k->last + 1 - k->cfirst >= k->ccap)
		cache_grow(k);
	k->last++;
	struct ent *e = cache_at(k, k->last);
	e->term = term;
	e->data = strata_msg_ref(data);
	if (store_now) {
		STRATA_ASSERT(k->stored == k->last - 1);
		store_entry(k, k->last, e);
		k->stored = k->last;
	} else if (k->parallel) {
		flush_soon(k); /* stored by this batch's flush (on_flush), beside the sends */
	} else if (k->broken & SMR_BROKEN_EARLY_ACK) {
		/* The broken variant's amplifier: the leader stores its copy only when it steps
		 * down (harmless alone: it never counts itself then), so that no sync of its own
		 * holds its replies back and the followers' early acknowledgements alone decide. */
	} else if (!strata_timer_armed(&k->persist_t)) {
		strata_timer_arm_in(k->node, &k->persist_t, k->n == 1 ? 1 : PERSIST_DELAY_US);
	}
}

/* The leader stores the entries it appended (and already sent) in an earlier turn: its own
 * write runs in parallel with the followers' (Raft thesis 10.2.1). It counts itself for them only
 * from the next turn, after this turn's sync. */
static void note_stored(struct kv *k);
static void persist_unstored(struct kv *k)
{
	strata_timer_disarm(k->node, &k->persist_t);
	if (k->stored == k->last)
		return;
	for (uint64_t i = k->stored + 1; i <= k->last; i++)
		store_entry(k, i, cache_at(k, i));
	k->stored = k->last;
	save_state(k);
	note_stored(k);
}

/* ---- what the early class may promise (docs/smr.md "The early class") ---- */

/* Moves the stores whose batch's sync completed into self_synced. */
static void sync_progress(struct kv *k)
{
	uint64_t done = strata_node_synced_ticket(k->node);
	while (k->sync_ticket[0] && k->sync_ticket[0] <= done) {
		if (k->sync_idx[0] > k->self_synced)
			k->self_synced = k->sync_idx[0];
		k->sync_ticket[0] = k->sync_ticket[1];
		k->sync_idx[0] = k->sync_idx[1];
		k->sync_ticket[1] = k->sync_idx[1] = 0;
	}
}

/* This batch stored entries up to k->stored: synced once its ticket is. */
static void note_stored(struct kv *k)
{
	sync_progress(k);
	uint64_t t = strata_node_batch_ticket(k->node);
	unsigned i = k->sync_ticket[0] == 0 || k->sync_ticket[0] == t ? 0 : 1;
	k->sync_ticket[i] = t; /* slot 1 may merge several batches: it waits for the newest */
	k->sync_idx[i] = k->stored;
}

/* The commit index counting this leader only for entries it synced (followers count for what
 * they acknowledged: they acknowledge after their sync). What an early APPEND may carry. */
static uint64_t commit_safe(struct kv *k)
{
	if (k->csafe >= k->commit)
		return k->commit;
	sync_progress(k);
	uint64_t m[STRATA_MAX_NODES];
	size_t c = 0;
	for (uint32_t p = 1; p <= k->n; p++)
		m[c++] = p == k->self ? (k->self_synced < k->stored ? k->self_synced : k->stored)
				      : k->peers[p].match;
	/* the k->majority-th largest */
	for (size_t i = 0; i < k->majority; i++)
		for (size_t j = i + 1; j < c; j++)
			if (m[j] > m[i]) {
				uint64_t x = m[i];
				m[i] = m[j];
				m[j] = x;
			}
	uint64_t cand = m[k->majority - 1];
	if (cand > k->commit)
		cand = k->commit;
	if (cand > k->csafe && term_at(k, cand) == k->term)
		k->csafe = cand;
	return k->csafe < k->commit ? k->csafe : k->commit;
}

/* Drops entries after idx (a follower's conflicting suffix; never a committed one). */
static void log_truncate(struct kv *k, uint64_t idx)
{
	STRATA_ASSERT(idx >= k->commit);
	for (uint64_t i = k->last; i > idx && i >= k->cfirst; i--) {
		struct ent *e = cache_at(k, i);
		strata_msg_unref(e->data);
		e->data = NULL;
	}
	trace(k, "conflict -> log truncated from %" PRIu64 " to %" PRIu64, k->last, idx);
	k->last = idx;
	if (k->stored > idx) {
		/* The hard state's shorter log first, then the truncation: a torn batch keeps a
		 * prefix of the two, and no prefix has a hard state naming entries that are gone. */
		k->stored = idx;
		bool first = (k->broken & SMR_BROKEN_TRUNCATE_FIRST) != 0;
		if (!first)
			save_state(k);
		if (!(k->broken & SMR_BROKEN_ACK_UNSYNCED) && smr_wal_truncate(k->node, idx + 1) != 0)
			trace(k, "truncating the stored log failed -> this turn's sync fails");
		if (first)
			save_state(k);
	}
	if (k->cfirst > k->last + 1)
		k->cfirst = k->last + 1;
}

static void cache_trim(struct kv *k)
{
	/* Applied entries stay for lagging followers: CACHE_TAIL of them, none that compaction
	 * dropped from storage (a follower that needs those gets the snapshot). */
	while ((k->cfirst + CACHE_TAIL < k->applied || k->cfirst < k->log_first) &&
	       k->cfirst <= k->stored && k->cfirst <= k->applied) {
		struct ent *e = cache_at(k, k->cfirst);
		strata_msg_unref(e->data);
		e->data = NULL;
		k->cfirst++;
	}
}

/* ---- pending client requests ---- */

static struct pend *pend_at(struct kv *k, uint32_t slot)
{
	return (struct pend *)k->pend.rec + slot;
}

static struct pend *pend_find(struct kv *k, uint64_t id)
{
	return (struct pend *)smr_pend_find(&k->pend, id);
}

static void pend_free(struct kv *k, struct pend *p)
{
	smr_pend_free(&k->pend, &p->c);
}

static void reply(struct kv *k, struct pend *p, int status, uint64_t flags, const void *data,
		  size_t len, uint64_t revision, const char *text)
{
	smr_pend_reply(&k->m, &p->c, status, flags, data, len, revision, text, NULL);
	pend_free(k, p);
}

static void serve_read(struct kv *k, struct pend *p)
{
	smr_pend_serve_read(&k->m, k->sm, &p->c, NULL);
	pend_free(k, p);
}

/* ---- proposals (leader) ---- */

static bool propose(struct kv *k, struct strata_msg *cmd, uint64_t grow)
{
	if (k->nprop >= PROPOSE_MAX || k->prop_bytes + cmd->len > SMR_PEND_BYTES) {
		trace(k, "proposal queue full -> command dropped (its origin retries or times out)");
		return false;
	}
	k->prop[k->nprop++] = strata_msg_ref(cmd);
	k->prop_bytes += cmd->len;
	k->inflight += grow;
	flush_soon(k);
	return true;
}

/* Whether a write that adds at most `grow` bytes to the state fits the space quota at this
 * leader: the applied state's bytes, plus what every command past the applied index may add
 * (inflight), plus grow. A write that cannot grow the state (del) always fits. *held: the
 * bytes counted besides grow (the refusal's text). The broken variant counts only the applied
 * state, forgetting the commands in flight. */
static bool quota_fits(const struct kv *k, uint64_t grow, uint64_t *held)
{
	*held = smr_kv_bytes(k->sm);
	if (!(k->broken & SMR_BROKEN_QUOTA_APPLIED_ONLY))
		*held += k->inflight;
	return grow == 0 || (*held <= k->quota && grow <= k->quota - *held);
}

/* Refuses write c (space quota): instead of c, the leader proposes its marker (SMR_CMD_REFUSED:
 * c's origin, request, session, seq and key; the held bytes and the quota for the text), which
 * adds nothing to the state. Applied, it records the refusal in c's session, so every copy of c
 * (a retry, a re-forward, one already in the log) gets one outcome: the marker first, every
 * copy is refused; a copy first, the marker is a duplicate answered with the copy's result.
 * The origin answers its client from the marker's result, as for any command. */
static void refuse(struct kv *k, const struct smr_cmd *c, uint64_t held)
{
	k->st.quota_rejects++;
	uint8_t why[2 * STRATA_VARINT_MAX];
	size_t wl = strata_varint_put(why, held);
	wl += strata_varint_put(why + wl, k->quota);
	struct smr_cmd m = {
		.type = SMR_CMD_REFUSED, .origin = c->origin, .origin_id = c->origin_id,
		.session = c->session, .seq = c->seq, .key = c->key, .key_len = c->key_len,
		.val = why, .val_len = wl,
	};
	struct strata_wr w;
	strata_wr_init(&w, c->key_len + sizeof(why) + SMR_CMD_OVERHEAD);
	smr_cmd_encode(&w, &m);
	struct strata_msg *msg = wr_done(k, &w);
	if (msg) {
		propose(k, msg, 0);
		strata_msg_unref(msg);
	}
}

/* One entry from the queued commands: up to batch_max of them within the message bound. */
static void make_batch(struct kv *k)
{
	size_t take = 0, bytes = 16;
	while (take < k->nprop && take < k->cfg->smr_batch_max &&
	       (take == 0 || bytes + k->prop[take]->len + APPEND_OVERHEAD <= k->max_msg)) {
		bytes += k->prop[take]->len;
		take++;
	}
	struct strata_wr w;
	strata_wr_init(&w, bytes + 16);
	strata_wr_u64(&w, take);
	for (size_t i = 0; i < take; i++)
		strata_wr_raw(&w, k->prop[i]->data, k->prop[i]->len);
	struct strata_msg *batch = wr_done(k, &w);
	for (size_t i = 0; i < take; i++) {
		k->prop_bytes -= k->prop[i]->len;
		if (!batch) {
			/* Dropped (no memory for the entry): no longer in flight. */
			struct strata_rd rd;
			struct smr_cmd c;
			strata_rd_init(&rd, k->prop[i]->data, k->prop[i]->len);
			if (smr_cmd_decode(&rd, &c) == 0) {
				uint64_t g = smr_cmd_growth(&c);
				k->inflight -= g < k->inflight ? g : k->inflight;
			}
		}
		strata_msg_unref(k->prop[i]);
	}
	memmove(k->prop, k->prop + take, (k->nprop - take) * sizeof(*k->prop));
	k->nprop -= take;
	if (!batch)
		return;
	log_append(k, k->term, batch, false);
	strata_msg_unref(batch);
	k->st.batches++;
	k->st.commands += take;
}

static struct strata_msg *noop_batch(struct kv *k)
{
	struct strata_wr w;
	strata_wr_init(&w, 64);
	strata_wr_u64(&w, 1);
	struct smr_cmd c = { .type = SMR_CMD_NOOP, .origin = k->self };
	smr_cmd_encode(&w, &c);
	return wr_done(k, &w);
}

/* ---- roles ---- */

static void arm_election(struct kv *k)
{
	if (!k->active)
		return;
	strata_timer_arm_in(k->node, &k->elect_t,
			    k->elect_us + strata_random_below(k->node, k->elect_us));
}

static void drop_leader_reads(struct kv *k)
{
	for (size_t i = 0; i < k->nreads; i++) {
		struct read_wait *r = &k->reads[i];
		if (r->peer == 0) {
			/* Not answered yet: it goes to the next leader (set_leader re-dispatches). */
			struct pend *p = pend_find(k, r->id);
			if (p)
				p->state = P_WAIT;
		} else {
			struct strata_wr w;
			strata_wr_init(&w, 32);
			strata_wr_u8(&w, M_RI_R);
			strata_wr_u64(&w, r->id);
			strata_wr_u64(&w, 0);
			send_owed(k, r->peer, wr_done(k, &w));
		}
	}
	k->nreads = 0;
}

static void set_leader(struct kv *k, uint32_t leader)
{
	if (k->leader == leader)
		return;
	trace(k, "leader %u -> %u (term %" PRIu64 ")", k->leader, leader, k->term);
	k->leader = leader;
	if (leader)
		dispatch_pending(k);
}

static void become_follower(struct kv *k, uint64_t term)
{
	bool was_leader = k->role == LEADER;
	if (term > k->term) {
		k->term = term;
		k->vote = 0;
		save_state(k);
	}
	k->role = FOLLOWER;
	k->held = false;
	strata_timer_disarm(k->node, &k->thrifty_t);
	if (was_leader) {
		/* Entries this leader sent may be kept by the next one: a follower's log is stored. */
		persist_unstored(k);
		drop_leader_reads(k);
		for (size_t i = 0; i < k->nprop; i++)
			strata_msg_unref(k->prop[i]);
		k->nprop = 0;
		k->prop_bytes = 0;
		k->inflight = 0;
	}
	set_leader(k, 0);
	/* Only a vote granted or a leader heard resets a running election timer: a candidate
	 * with a stale log, refused by everybody, must not keep the up-to-date nodes from
	 * standing themselves by bumping the term again and again. */
	if (!strata_timer_armed(&k->elect_t))
		arm_election(k);
}

/* The growth of the commands of one batch (an entry's data). */
static uint64_t batch_growth(const struct strata_msg *batch)
{
	struct strata_rd rd;
	strata_rd_init(&rd, batch->data, batch->len);
	uint64_t count = strata_rd_u64_max(&rd, 1u << 20), g = 0;
	for (uint64_t i = 0; i < count; i++) {
		struct smr_cmd c;
		if (smr_cmd_decode(&rd, &c) != 0)
			break;
		g += smr_cmd_growth(&c);
	}
	return g;
}

/* A new leader counts what the entries past its applied index may add (once per election: the
 * entries of earlier terms it holds, which it commits with its no-op). */
static void count_inflight(struct kv *k)
{
	k->inflight = 0;
	for (uint64_t i = k->applied + 1; i <= k->last; i++) {
		uint64_t t;
		struct strata_msg *d;
		if (entry_get(k, i, &t, &d) != 0) {
			k->inflight = UINT64_MAX / 2; /* unreadable: admit no growth (damaged anyway) */
			return;
		}
		k->inflight += batch_growth(d);
		strata_msg_unref(d);
	}
}

static void become_leader(struct kv *k)
{
	k->role = LEADER;
	k->st.elections++;
	uint64_t now = strata_now_us(k->node);
	for (uint32_t p = 1; p <= k->n; p++) {
		struct peer *pp = &k->peers[p];
		memset(pp, 0, sizeof(*pp));
		pp->next = k->last + 1;
		pp->last_ack_us = now;
	}
	k->self_durable = k->stored;
	k->held = false;
	/* What this node stored as a follower may still be in a sync: counted once it is done. */
	k->self_synced = 0;
	k->csafe = k->commit;
	k->sync_ticket[0] = k->sync_ticket[1] = k->sync_idx[0] = k->sync_idx[1] = 0;
	note_stored(k);
	count_inflight(k);
	struct strata_msg *noop = noop_batch(k);
	if (noop) {
		log_append(k, k->term, noop, false);
		strata_msg_unref(noop);
	}
	save_state(k);
	k->term_start = k->last;
	strata_timer_disarm(k->node, &k->elect_t);
	trace(k, "won term %" PRIu64 " -> leader, no-op at %" PRIu64, k->term, k->term_start);
	k->leader = 0;
	set_leader(k, k->self);
	for (uint32_t p = 1; p <= k->n; p++)
		if (p != k->self)
			send_append(k, p);
	flush_soon(k);
}

static void start_election(struct kv *k)
{
	k->role = CANDIDATE;
	k->term++;
	k->vote = k->self;
	save_state(k);
	set_leader(k, 0);
	k->votes = 1;
	k->vote_mask = 1ull << (k->self - 1);
	trace(k, "election timeout -> candidate for term %" PRIu64, k->term);
	arm_election(k);
	if (k->votes >= k->majority) {
		become_leader(k);
		return;
	}
	struct strata_wr w;
	strata_wr_init(&w, 64);
	strata_wr_u8(&w, M_VOTE);
	strata_wr_u64(&w, k->term);
	strata_wr_u64(&w, k->last);
	strata_wr_u64(&w, term_at(k, k->last));
	struct strata_msg *msg = wr_done(k, &w);
	if (!msg)
		return;
	for (uint32_t p = 1; p <= k->n; p++)
		if (p != k->self)
			send_to(k, p, strata_msg_ref(msg));
	strata_msg_unref(msg);
}

/* ---- replication (leader) ---- */

static void infl_acked(struct peer *pp)
{
	unsigned keep = 0;
	for (unsigned i = 0; i < pp->ninfl; i++)
		if (pp->infl[i] > pp->match)
			pp->infl[keep++] = pp->infl[i];
	pp->ninfl = keep;
}

static bool may_send_entries(const struct kv *k, const struct peer *pp)
{
	return pp->ninfl < INFLIGHT_MSGS && pp->next <= k->last;
}

/* [smr] thrifty: whether new entries are held back from follower pp (it gets an APPEND without
 * entries, the commit it can apply and the heartbeat). While the newest batch is thrifty, a
 * follower not chosen for it gets entries only from the heartbeat (on_tick: every follower
 * catches up at least once a heartbeat period), when it waits for them (commit_urgent: a
 * command it forwarded was applied, or it asked for a read index), and while it is more than
 * half a window behind (then it catches up in bulk, acknowledgement by acknowledgement, to half
 * a window from the head, so that a heartbeat's worth of entries at any rate gets through).
 * A lazy follower so syncs about once a heartbeat period (the leader's sends to it in between
 * carry no entries), not with every put. */
static bool held_from(const struct kv *k, const struct peer *pp)
{
	return k->held && !pp->eager && !k->in_tick && !pp->commit_urgent &&
	       k->last - pp->match <= k->cfg->smr_window / 2;
}

/* Whether new entries go to follower pp now (flush_send, an acknowledgement). */
static bool may_send_now(const struct kv *k, const struct peer *pp)
{
	return may_send_entries(k, pp) && !held_from(k, pp);
}

/* [smr] thrifty: chooses the majority - 1 followers a new batch goes to at once, among those that
 * are caught up (they acknowledged every entry up to prev, the batch's predecessor, and nothing
 * is unanswered) and were heard within an election timeout; by their recent acknowledgement
 * time, the ones chosen last time counted at half theirs (a choice changes only for a clearly
 * faster follower). false: too few such followers (the batch goes to every follower). */
static bool thrifty_choose(struct kv *k, uint64_t prev, uint64_t now)
{
	uint32_t want = k->majority - 1, cand[STRATA_MAX_NODES];
	uint64_t key[STRATA_MAX_NODES];
	size_t nc = 0;
	for (uint32_t p = 1; p <= k->n; p++) {
		struct peer *pp = &k->peers[p];
		if (p == k->self)
			continue;
		if (pp->match == prev && pp->ninfl == 0 && pp->next == prev + 1 &&
		    now - pp->last_ack_us < k->elect_us) {
			cand[nc] = p;
			key[nc++] = pp->eager ? pp->ack_us / 2 : pp->ack_us;
		}
	}
	if (want == 0 || nc < want)
		return false;
	for (size_t i = 0; i < want; i++) /* the want smallest keys first (ties: lower id) */
		for (size_t j = i + 1; j < nc; j++)
			if (key[j] < key[i]) {
				uint64_t x = key[i];
				uint32_t y = cand[i];
				key[i] = key[j];
				cand[i] = cand[j];
				key[j] = x;
				cand[j] = y;
			}
	for (uint32_t p = 1; p <= k->n; p++)
		k->peers[p].eager = false;
	for (size_t i = 0; i < want; i++)
		k->peers[cand[i]].eager = true;
	return true;
}

/* How long the chosen followers have to acknowledge a thrifty batch (THRIFTY_WAIT_MIN_US). */
static uint64_t thrifty_wait(const struct kv *k)
{
	uint64_t w = 0;
	for (uint32_t p = 1; p <= k->n; p++)
		if (p != k->self && k->peers[p].eager && k->peers[p].ack_us * THRIFTY_WAIT_FACTOR > w)
			w = k->peers[p].ack_us * THRIFTY_WAIT_FACTOR;
	return w < THRIFTY_WAIT_MIN_US ? THRIFTY_WAIT_MIN_US
				       : w > THRIFTY_WAIT_MAX_US ? THRIFTY_WAIT_MAX_US : w;
}

/* The followers chosen for the newest thrifty batch have not all acknowledged it within
 * thrifty_wait: it goes to every follower now, and the late ones lose their place (their
 * acknowledgement time counts as at least the wait they overran). */
static void thrifty_late(struct kv *k)
{
	if (k->role != LEADER || !k->held || k->commit >= k->thrifty_idx)
		return;
	k->st.thrifty_fallbacks++;
	uint64_t waited = strata_now_us(k->node) - k->thrifty_us;
	for (uint32_t p = 1; p <= k->n; p++) {
		struct peer *pp = &k->peers[p];
		if (p != k->self && pp->eager && pp->match < k->thrifty_idx) {
			pp->eager = false;
			pp->ack_us = pp->ack_us * 2 > waited ? pp->ack_us * 2 : waited;
		}
	}
	trace(k, "thrifty batch %" PRIu64 " unacknowledged for %" PRIu64
	      " us -> sent to every follower", k->thrifty_idx, waited);
	k->held = false;
	flush_soon(k);
}

static void send_append(struct kv *k, uint32_t p)
{
	struct peer *pp = &k->peers[p];
	if (pp->next <= pp->match)
		pp->next = pp->match + 1;
	uint64_t prev = pp->next - 1;
	uint64_t prev_term = term_at(k, prev);
	bool gone = pp->next < k->log_first && pp->next < k->cfirst; /* entry next compacted */
	if ((prev_term == UINT64_MAX || gone) && prev < k->snap_index) {
		send_snapshot(k, p); /* what it needs next is compacted away */
		return;
	}
	if (prev_term == UINT64_MAX) {
		trace(k, "entry %" PRIu64 " unreadable -> append to %u skipped", prev, p);
		return;
	}
	pp->snap_index = 0;
	/* An APPEND is of the node's early class: it may leave before this batch's sync (and
	 * before earlier batches' held datagrams), because it promises nothing about this
	 * leader's unsynced state: its entries are a proposal (the leader counts itself for them
	 * only once stored), its term was durable before the votes that made this node leader
	 * were asked for, and the commit it carries counts this leader only for entries it has
	 * synced (commit_safe). The rest of the commit follows in a later APPEND. */
	uint64_t commit = commit_safe(k);
	struct strata_wr w;
	strata_wr_init(&w, k->max_msg);
	strata_wr_u8(&w, M_APPEND);
	strata_wr_u64(&w, k->term);
	strata_wr_u64(&w, prev);
	strata_wr_u64(&w, prev_term);
	strata_wr_u64(&w, commit);
	strata_wr_u64(&w, k->hb_seq);
	/* Entries from next, within the window and the message bound. */
	uint64_t limit = pp->match + k->cfg->smr_window;
	uint64_t hi = k->last < limit ? k->last : limit;
	if (pp->ninfl >= INFLIGHT_MSGS || held_from(k, pp))
		hi = 0; /* a heartbeat (commit, read round) only */
	struct strata_msg *data[ENTRIES_PER_MSG];
	uint64_t terms[ENTRIES_PER_MSG];
	size_t cnt = 0, bytes = APPEND_OVERHEAD;
	for (uint64_t i = pp->next; i <= hi && cnt < ENTRIES_PER_MSG; i++) {
		if (entry_get(k, i, &terms[cnt], &data[cnt]) != 0)
			break;
		if (cnt > 0 && bytes + data[cnt]->len + 16 > k->max_msg) {
			strata_msg_unref(data[cnt]);
			break;
		}
		bytes += data[cnt]->len + 16;
		cnt++;
	}
	strata_wr_u64(&w, cnt);
	for (size_t i = 0; i < cnt; i++) {
		strata_wr_u64(&w, terms[i]);
		strata_wr_bytes(&w, data[i]->data, data[i]->len);
		strata_msg_unref(data[i]);
	}
	if (send_early(k, p, wr_done(k, &w)) != 0)
		return; /* retried from match + 1 on a later tick */
	if (cnt)
		pp->infl[pp->ninfl++] = pp->next + cnt - 1;
	pp->next += cnt;
	pp->sent_commit = commit;
	if (commit >= k->commit)
		pp->commit_urgent = false; /* else: again in the next flush, once synced */
	pp->last_sent_us = strata_now_us(k->node);
}

/* One chunk of the stored snapshot to follower p, from the offset it asked for: one chunk
 * unanswered at a time, resent every heartbeat (in_tick) until answered. */
static void send_snapshot(struct kv *k, uint32_t p)
{
	struct peer *pp = &k->peers[p];
	if (pp->snap_index != k->snap_index) {
		pp->snap_index = k->snap_index;
		pp->snap_off = 0;
		pp->snap_inflight = false;
	}
	if (pp->snap_inflight && !k->in_tick)
		return;
	uint64_t idx, total;
	if (smr_wal_snapshot_info(k->node, k->snap_slot, &idx, &total) != 0 ||
	    idx != k->snap_index) {
		trace(k, "snapshot %" PRIu64 " unreadable -> not sent to %u", k->snap_index, p);
		return;
	}
	if (pp->snap_off > total)
		pp->snap_off = 0;
	size_t chunk = k->max_msg > APPEND_OVERHEAD * 2 ? k->max_msg - APPEND_OVERHEAD * 2 : 1;
	if (chunk > SNAP_CHUNK)
		chunk = SNAP_CHUNK;
	struct strata_msg *c = NULL;
	if (smr_wal_snapshot_read(k->node, k->snap_slot, pp->snap_off, chunk, &c) != 0) {
		trace(k, "snapshot chunk at %" PRIu64 " unreadable -> not sent to %u", pp->snap_off, p);
		return;
	}
	struct strata_wr w;
	strata_wr_init(&w, c->len + APPEND_OVERHEAD);
	strata_wr_u8(&w, M_SNAP);
	strata_wr_u64(&w, k->term);
	strata_wr_u64(&w, k->snap_index);
	strata_wr_u64(&w, k->snap_term);
	strata_wr_u64(&w, total);
	strata_wr_u64(&w, pp->snap_off);
	strata_wr_bytes(&w, c->data, c->len);
	strata_msg_unref(c);
	trace(k, "snapshot %" PRIu64 " to %u: bytes %" PRIu64 "..+%zu of %" PRIu64, k->snap_index,
	      p, pp->snap_off, chunk, total);
	if (send_to(k, p, wr_done(k, &w)) != 0)
		return;
	pp->snap_inflight = true;
	pp->last_sent_us = strata_now_us(k->node);
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void check_reads(struct kv *k);

static void advance_commit(struct kv *k)
{
	uint64_t m[STRATA_MAX_NODES];
	size_t c = 0;
	for (uint32_t p = 1; p <= k->n; p++)
		m[c++] = p == k->self ? k->self_durable : k->peers[p].match;
	qsort(m, c, sizeof(m[0]), cmp_desc);
	uint64_t cand = m[k->majority - 1];
	/* Only an entry of the current term is committed by counting (older ones with it). */
	if (cand > k->commit && term_at(k, cand) == k->term) {
		k->commit = cand;
		apply_committed(k);
		/* Tell the followers: on the next APPEND with entries (a put at c=1 then costs
		 * each follower one datagram and one turn, not two), at the latest after
		 * COMMIT_DELAY_US, at once to a follower whose forwarded command was applied. */
		if (!strata_timer_armed(&k->commit_t))
			strata_timer_arm_in(k->node, &k->commit_t,
					    k->hb_us < COMMIT_DELAY_US ? k->hb_us : COMMIT_DELAY_US);
		flush_soon(k);
	}
}

/* ---- reads (ReadIndex) ---- */

static void add_read(struct kv *k, uint32_t peer, uint64_t id)
{
	if (k->nreads >= READS_MAX) {
		if (peer == 0) {
			struct pend *p = pend_find(k, id);
			if (p)
				reply(k, p, STRATA_EFULL, 0, NULL, 0, 0, "busy: too many reads waiting, retry");
		}
		return;
	}
	struct read_wait r = { .peer = peer, .id = id };
	k->reads[k->nreads++] = r;
	flush_soon(k);
}

static void read_confirmed(struct kv *k, struct read_wait *r)
{
	if (r->peer == 0) {
		struct pend *p = pend_find(k, r->id);
		if (!p)
			return;
		p->state = P_READ_APPLY;
		p->read_index = r->index;
		if (k->applied >= p->read_index)
			serve_read(k, p);
		return;
	}
	struct strata_wr w;
	strata_wr_init(&w, 32);
	strata_wr_u8(&w, M_RI_R);
	strata_wr_u64(&w, r->id);
	strata_wr_u64(&w, r->index);
	send_owed(k, r->peer, wr_done(k, &w));
}

/* Reads whose round a majority has answered are confirmed. */
static void check_reads(struct kv *k)
{
	size_t keep = 0;
	for (size_t i = 0; i < k->nreads; i++) {
		struct read_wait *r = &k->reads[i];
		bool ok = false;
		if (r->round) {
			unsigned c = 1;
			for (uint32_t p = 1; p <= k->n; p++)
				if (p != k->self && k->peers[p].acked_hb >= r->round)
					c++;
			ok = c >= k->majority;
		}
		if (ok)
			read_confirmed(k, r);
		else
			k->reads[keep++] = *r;
	}
	k->nreads = keep;
}

/* Reads not yet in a round join a new one, once the leader's no-op is committed. */
static void start_read_round(struct kv *k)
{
	if (k->commit < k->term_start)
		return;
	bool any = false;
	for (size_t i = 0; i < k->nreads; i++) {
		if (k->reads[i].round)
			continue;
		if (!any) {
			k->hb_seq++;
			k->st.read_rounds++;
			any = true;
		}
		k->reads[i].round = k->hb_seq;
		k->reads[i].index = k->commit;
	}
	if (!any)
		return;
	for (uint32_t p = 1; p <= k->n; p++)
		if (p != k->self)
			send_append(k, p);
	check_reads(k); /* a one-node cluster confirms at once */
}

/* ---- apply ---- */

static void apply_one(struct kv *k, uint64_t idx, struct strata_msg *batch)
{
	struct strata_rd rd;
	strata_rd_init(&rd, batch->data, batch->len);
	uint64_t count = strata_rd_u64_max(&rd, 1u << 20);
	for (uint64_t i = 0; i < count; i++) {
		struct smr_cmd c;
		if (smr_cmd_decode(&rd, &c) != 0) {
			strata_node_bad_payload(k->node, &k->m, 0, "kv: malformed committed entry");
			return;
		}
		struct smr_result res;
		if (smr_kv_apply(k->sm, idx, &c, &res) != 0) {
			/* Out of memory mid-apply: this replica cannot stay consistent. */
			STRATA_ASSERT(0 && "kv: state machine out of memory");
		}
		if (k->role == LEADER) {
			/* Counted when proposed or elected (count_inflight): no longer in flight. */
			uint64_t g = smr_cmd_growth(&c);
			STRATA_ASSERT(k->inflight >= g);
			k->inflight -= g;
		}
		if (c.origin != k->self || c.type == SMR_CMD_NOOP) {
			if (k->role == LEADER && c.type != SMR_CMD_NOOP && c.origin >= 1 &&
			    c.origin <= k->n && c.origin != k->self)
				k->peers[c.origin].commit_urgent = true; /* its client waits */
			strata_msg_unref(res.old);
			continue;
		}
		struct pend *p = pend_find(k, c.origin_id);
		if (!p || p->c.session != c.session || p->c.seq != c.seq || p->c.kind == K_GET ||
		    p->c.kind == K_RANGE) {
			strata_msg_unref(res.old);
			continue;
		}
		if (res.status == STRATA_ESTATE)
			reply(k, p, STRATA_ESTATE, 0, NULL, 0, res.revision, "compare failed");
		else if (res.status == STRATA_ENOSPACE) {
			/* Refused (space quota): the marker's held bytes and quota, or, for a copy
			 * answered from its session, what this replica holds now. */
			uint64_t held = smr_kv_bytes(k->sm), quota = k->quota;
			if (c.type == SMR_CMD_REFUSED) {
				struct strata_rd vr;
				strata_rd_init(&vr, c.val, c.val_len);
				uint64_t h = strata_rd_u64(&vr), q = strata_rd_u64(&vr);
				if (strata_rd_ok(&vr)) {
					held = h;
					quota = q;
				}
			}
			char text[200];
			smr_quota_text(held, quota, text, sizeof(text));
			reply(k, p, STRATA_ENOSPACE, 0, NULL, 0, 0, text);
		}
		else if (res.status == STRATA_EREPLAY)
			reply(k, p, STRATA_EREPLAY, 0, NULL, 0, 0,
			      "a repeat of a request older than its session's window: its outcome "
			      "is no longer known");
		else if (res.status == STRATA_EINVAL && c.type == SMR_CMD_INCR)
			reply(k, p, STRATA_EINVAL, 0, NULL, 0, res.revision,
			      "value is not an integer or out of range");
		else if (c.type == SMR_CMD_INCR) {
			char num[24];
			int len = snprintf(num, sizeof(num), "%lld", (long long)res.num);
			reply(k, p, res.status, STRATA_REPLY_FOUND, num, (size_t)len, res.revision, NULL);
		} else if (c.type == SMR_CMD_GETSET)
			reply(k, p, res.status, res.old ? STRATA_REPLY_FOUND : 0,
			      res.old ? res.old->data : NULL, res.old ? res.old->len : 0,
			      res.revision, NULL);
		else
			reply(k, p, res.status, res.num ? STRATA_REPLY_FOUND : 0, NULL, 0,
			      res.revision, NULL);
		strata_msg_unref(res.old);
		res.old = NULL;
	}
}

static void serve_applied_reads(struct kv *k)
{
	if (k->pend.n == 0)
		return;
	for (uint32_t i = 0; i < k->pend.cap; i++) {
		struct pend *p = pend_at(k, i);
		if (p->c.id && p->state == P_READ_APPLY && p->read_index <= k->applied)
			serve_read(k, p);
	}
}

static void apply_committed(struct kv *k)
{
	bool any = false;
	while (k->applied < k->commit) {
		uint64_t t;
		struct strata_msg *d;
		if (entry_get(k, k->applied + 1, &t, &d) != 0) {
			trace(k, "entry %" PRIu64 " unreadable -> apply stalls", k->applied + 1);
			break;
		}
		uint64_t rev0 = smr_kv_revision(k->sm);
		apply_one(k, k->applied + 1, d);
		if (smr_kv_revision(k->sm) > rev0) {
			if ((k->broken & SMR_BROKEN_UNWATCHED_REVISION) &&
			    !strata_node_deliveries_wanted(k->node, NAME))
				smr_kv_test_skip_revision(k->sm); /* BROKEN VARIANT */
			smr_emit_changes(&k->m, k->sm, rev0 + 1);
		}
		strata_msg_unref(d);
		k->applied++;
		any = true;
	}
	if (any) {
		serve_applied_reads(k);
		cache_trim(k);
		maybe_snapshot(k);
	}
}

/* ---- snapshots and compaction ---- */

/* A new snapshot goes to the slot the stored hard state does not name. Until the batch that
 * stored the current one is synced, a crash may keep either hard state (the durable one naming
 * the old slot, or the staged one naming the new slot), so both slots are in use: a third
 * snapshot stored before that sync would overwrite the one a surviving hard state names (the
 * key-value store's commit, which holds the snapshots, is durable before the record log's, which
 * holds the hard state: wal.c). One snapshot per sync, then; the next waits for it. */
static bool snap_slot_free(const struct kv *k)
{
	return k->snap_ticket <= strata_node_synced_ticket(k->node) ||
	       (k->broken & SMR_BROKEN_SNAP_SLOT_REUSE);
}

static void snap_stored(struct kv *k)
{
	k->snap_ticket = strata_node_batch_ticket(k->node);
}

/* Every snapshot_entries applied entries the state machine (keys, revision, sessions) is
 * stored as the snapshot at the applied index, and the log is compacted behind it, keeping
 * snapshot_tail entries for followers a little behind. Snapshot, compaction and the hard state
 * naming the snapshot are stored in the same turn: durable together (wal.c). The order makes
 * every prefix of the turn's writes a consistent state too (a torn batch keeps a prefix): the
 * new snapshot goes to the other slot, then the hard state names it, then the log is compacted.
 * Only stored entries are covered (a leader's newest entries may not be stored yet). */
static void maybe_snapshot(struct kv *k)
{
	uint64_t every = k->cfg->smr_snapshot_entries;
	if (!every || k->applied < k->snap_index + every || k->applied > k->stored ||
	    !snap_slot_free(k))
		return; /* (a snapshot not taken now is taken at a later apply) */
	uint64_t idx = k->applied, t = term_at(k, idx);
	if (t == UINT64_MAX)
		return;
	struct strata_msg *snap = NULL;
	if (smr_kv_snapshot(k->sm, (k->broken & SMR_BROKEN_SNAP_NO_SESSIONS) != 0, &snap) != 0) {
		trace(k, "snapshot at %" PRIu64 ": out of memory -> not taken", idx);
		return;
	}
	bool store = !(k->broken & SMR_BROKEN_ACK_UNSYNCED);
	if (store && smr_wal_snapshot_put(k->node, k->snap_slot ^ 1u, idx, snap) != 0) {
		trace(k, "storing the snapshot failed -> this turn's sync fails");
		strata_msg_unref(snap);
		return;
	}
	snap_stored(k);
	trace(k, "snapshot at %" PRIu64 " (%zu bytes)", idx, snap->len);
	strata_msg_unref(snap);
	k->snap_index = idx;
	k->snap_term = t;
	k->snap_slot ^= 1u;
	save_state(k);
	uint64_t tail = k->cfg->smr_snapshot_tail;
	uint64_t keep = idx + 1 > tail ? idx + 1 - tail : 1;
	if (keep > k->log_first) {
		if (store && smr_wal_compact(k->node, keep) != 0)
			trace(k, "compacting the log failed -> this turn's sync fails");
		k->log_first = keep;
	}
	k->st.snapshots++;
	cache_trim(k);
}

static void rx_free(struct kv *k)
{
	free(k->rx);
	k->rx = NULL;
	k->rx_index = k->rx_term = k->rx_total = k->rx_len = 0;
}

/* The received snapshot replaces this replica's state and log, in one turn: the new state
 * machine is built (and checked) first; then the snapshot is stored (in the other slot), the
 * hard state names it, and the log is emptied; all of it becomes durable in this turn's sync.
 * A torn batch keeps a prefix of these writes: the old snapshot and log, or the new snapshot
 * named with stale entries left in the log, which the restart ignores (kv_init). */
static bool install_snapshot(struct kv *k)
{
	struct smr_kv *nsm = NULL;
	struct strata_msg *copy = NULL;
	int rc = smr_kv_restore(k->rx, (size_t)k->rx_total, k->cfg->smr_sessions_max, &nsm);
	if (rc == 0 && !(copy = strata_msg_new(k->rx, (size_t)k->rx_total)))
		rc = STRATA_ENOMEM;
	if (rc) {
		smr_kv_free(nsm);
		strata_node_bad_payload(k->node, &k->m, k->leader, "kv: snapshot does not decode");
		rx_free(k);
		return false;
	}
	uint64_t idx = k->rx_index;
	for (uint64_t i = k->cfirst; i <= k->last && k->ccap; i++) {
		struct ent *e = cache_at(k, i);
		strata_msg_unref(e->data);
		e->data = NULL;
	}
	bool store = !(k->broken & SMR_BROKEN_ACK_UNSYNCED);
	if (store && smr_wal_snapshot_put(k->node, k->snap_slot ^ 1u, idx, copy) != 0)
		trace(k, "storing the installed snapshot failed -> this turn's sync fails");
	snap_stored(k);
	strata_msg_unref(copy);
	uint64_t old_first = k->log_first;
	trace(k, "installed snapshot %" PRIu64 " (term %" PRIu64 ", %" PRIu64 " bytes), log was "
	      "1..%" PRIu64 " applied %" PRIu64, idx, k->rx_term, k->rx_total, k->last, k->applied);
	k->last = k->stored = k->commit = k->applied = idx;
	k->cfirst = k->log_first = idx + 1;
	k->snap_index = idx;
	k->snap_term = k->rx_term;
	k->snap_slot ^= 1u;
	smr_kv_free(k->sm);
	k->sm = nsm;
	smr_kv_set_broken_sessions(k->sm, (k->broken & SMR_BROKEN_DUP_APPLY) != 0);
	smr_kv_set_broken_window(k->sm, (k->broken & SMR_BROKEN_NO_WINDOW) != 0);
	save_state(k);
	if (store && (smr_wal_truncate(k->node, old_first) != 0 ||
		      smr_wal_compact(k->node, idx + 1) != 0))
		trace(k, "emptying the stored log failed -> this turn's sync fails");
	k->st.snap_installs++;
	rx_free(k);
	serve_applied_reads(k);
	return true;
}

/* ---- forwarding ---- */

static void dispatch_one(struct kv *k, struct pend *p)
{
	if (!k->leader) {
		p->state = P_WAIT;
		return;
	}
	if (p->c.kind == K_GET || p->c.kind == K_RANGE) {
		if (k->leader == k->self) {
			p->state = P_READ_INDEX;
			add_read(k, 0, p->c.id);
			return;
		}
		struct strata_wr w;
		strata_wr_init(&w, 32);
		strata_wr_u8(&w, M_RI);
		strata_wr_u64(&w, p->c.id);
		p->state = P_READ_INDEX;
		send_owed(k, k->leader, wr_done(k, &w));
		return;
	}
	p->state = P_SENT;
	if (k->leader == k->self) {
		uint64_t held;
		if (quota_fits(k, p->grow, &held)) {
			propose(k, p->c.cmd, p->grow);
			return;
		}
		if (k->broken & SMR_BROKEN_QUOTA_PROPOSE_REFUSED) {
			/* BROKEN VARIANT: answered "space exceeded" at once, and proposed. */
			k->st.quota_rejects++;
			char text[200];
			smr_quota_text(held, k->quota, text, sizeof(text));
			propose(k, p->c.cmd, p->grow);
			reply(k, p, STRATA_ENOSPACE, 0, NULL, 0, 0, text);
			return;
		}
		if (k->broken & SMR_BROKEN_QUOTA_UNLOGGED_REFUSAL) {
			/* BROKEN VARIANT: answered at once, no marker: a copy of this write (a
			 * retry through another node) may still be admitted and take effect. */
			k->st.quota_rejects++;
			char text[200];
			smr_quota_text(held, k->quota, text, sizeof(text));
			reply(k, p, STRATA_ENOSPACE, 0, NULL, 0, 0, text);
			return;
		}
		struct strata_rd rd;
		struct smr_cmd c;
		strata_rd_init(&rd, p->c.cmd->data, p->c.cmd->len);
		STRATA_ASSERT(smr_cmd_decode(&rd, &c) == 0); /* encoded by kv_request_do */
		refuse(k, &c, held); /* answered when the marker is applied (apply_one) */
		return;
	}
	struct strata_wr w;
	strata_wr_init(&w, p->c.cmd->len + 16);
	strata_wr_u8(&w, M_FWD);
	strata_wr_bytes(&w, p->c.cmd->data, p->c.cmd->len);
	send_owed(k, k->leader, wr_done(k, &w));
}

/* A new leader: every unanswered request goes (again) to it. */
static void dispatch_pending(struct kv *k)
{
	if (k->pend.n == 0)
		return;
	for (uint32_t i = 0; i < k->pend.cap; i++) {
		struct pend *p = pend_at(k, i);
		if (p->c.id && p->state != P_READ_APPLY)
			dispatch_one(k, p);
	}
}

/* ---- message handlers ---- */

/* upon <APPEND | term, prev, prev_term, commit, hb, entries> from leader p */
static void on_append(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t term = strata_rd_u64(rd), prev = strata_rd_u64(rd), prev_term = strata_rd_u64(rd);
	uint64_t lcommit = strata_rd_u64(rd), hb = strata_rd_u64(rd);
	uint64_t count = strata_rd_u64_max(rd, ENTRIES_PER_MSG);
	if (!strata_rd_ok(rd)) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed APPEND");
		return;
	}
	bool ok = false;
	uint64_t idx = k->last;
	if (term >= k->term) {
		if (term > k->term || k->role != FOLLOWER)
			become_follower(k, term);
		set_leader(k, p);
		arm_election(k);
		if (prev > k->last) {
			idx = k->last;
		} else if (prev > k->commit && term_at(k, prev) != prev_term) {
			/* (at or below commit the logs agree: the leader holds every committed
			 * entry, and they may be compacted here) */
			idx = prev > 0 ? prev - 1 : 0;
			if (idx < k->commit)
				idx = k->commit;
		} else {
			uint64_t i = prev;
			bool stored = false;
			for (uint64_t e = 0; e < count; e++) {
				uint64_t et = strata_rd_u64(rd);
				const uint8_t *d;
				size_t dl = strata_rd_bytes(rd, &d, k->max_msg);
				if (!strata_rd_ok(rd)) {
					strata_node_bad_payload(k->node, &k->m, p,
								"kv: malformed APPEND entry");
					return;
				}
				i++;
				if (i <= k->commit)
					continue; /* committed: the same entry (possibly compacted) */
				if (i <= k->last) {
					if (term_at(k, i) == et)
						continue;
					if (i <= k->commit) {
						strata_node_bad_payload(k->node, &k->m, p,
									"kv: APPEND conflicts with a committed entry");
						return;
					}
					log_truncate(k, i - 1);
				}
				struct strata_msg *m = strata_msg_new(d, dl);
				if (!m)
					return;
				log_append(k, et, m, true);
				strata_msg_unref(m);
				stored = true;
			}
			if (stored)
				save_state(k);
			ok = true;
			idx = i;
			uint64_t nc = lcommit < i ? lcommit : i;
			if (nc > k->commit) {
				k->commit = nc;
				apply_committed(k);
			}
		}
	}
	struct strata_wr w;
	strata_wr_init(&w, 64);
	strata_wr_u8(&w, M_APPEND_R);
	strata_wr_u64(&w, k->term);
	strata_wr_u8(&w, ok ? 1 : 0);
	strata_wr_u64(&w, idx);
	strata_wr_u64(&w, hb);
	/* An acknowledgement promises that the entries are stored: never early (it leaves after
	 * this batch's sync). The broken variant takes it into the early class. */
	if (k->broken & SMR_BROKEN_EARLY_ACK)
		send_early(k, p, wr_done(k, &w));
	else
		send_to(k, p, wr_done(k, &w));
}

/* upon <APPEND_R | term, ok, idx, hb> from follower p */
static void on_append_r(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t term = strata_rd_u64(rd);
	bool ok = strata_rd_u8(rd) != 0;
	uint64_t idx = strata_rd_u64(rd), hb = strata_rd_u64(rd);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed APPEND_R");
		return;
	}
	if (term > k->term) {
		become_follower(k, term);
		return;
	}
	if (k->role != LEADER || term != k->term)
		return;
	struct peer *pp = &k->peers[p];
	pp->last_ack_us = strata_now_us(k->node);
	if (hb > pp->acked_hb && hb <= k->hb_seq)
		pp->acked_hb = hb;
	if (ok && idx <= k->last) {
		if (pp->eager && pp->match < k->thrifty_idx && idx >= k->thrifty_idx) {
			uint64_t took = pp->last_ack_us - k->thrifty_us;
			pp->ack_us = (3 * pp->ack_us + took) / 4;
		}
		if (idx > pp->match)
			pp->match = idx;
		if (pp->next <= idx)
			pp->next = idx + 1;
		infl_acked(pp);
		advance_commit(k);
		if (may_send_now(k, pp))
			send_append(k, p);
	} else if (!ok) {
		uint64_t hint = idx < pp->next ? idx : pp->next - 1;
		pp->next = (hint > pp->match ? hint : pp->match) + 1;
		pp->ninfl = 0;
		send_append(k, p);
	}
	check_reads(k);
}

/* upon <SNAP | term, index, index_term, total, offset, chunk> from leader p */
static void on_snap(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t term = strata_rd_u64(rd), sidx = strata_rd_u64(rd), sterm = strata_rd_u64(rd);
	uint64_t total = strata_rd_u64(rd), off = strata_rd_u64(rd);
	const uint8_t *d;
	size_t dl = strata_rd_bytes(rd, &d, SNAP_CHUNK);
	if (strata_rd_done(rd) != 0 || sidx == 0 || total == 0 || total > SNAP_MAX || off > total ||
	    dl > total - off) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed SNAP");
		return;
	}
	bool done = false;
	uint64_t want = 0;
	if (term >= k->term) {
		if (term > k->term || k->role != FOLLOWER)
			become_follower(k, term);
		set_leader(k, p);
		arm_election(k);
		if (sidx <= k->commit || (sidx <= k->last && term_at(k, sidx) == sterm)) {
			/* This log already holds what the snapshot covers (committed entries, or the
			 * snapshot's last entry and so every entry before it): nothing to install. */
			done = true;
		} else {
			bool same = k->rx && k->rx_index == sidx && k->rx_term == sterm &&
				    k->rx_total == total;
			if (!same && off == 0) {
				rx_free(k);
				k->rx = malloc((size_t)total);
				if (!k->rx) {
					trace(k, "snapshot of %" PRIu64 " bytes: out of memory", total);
					return;
				}
				k->rx_index = sidx;
				k->rx_term = sterm;
				k->rx_total = total;
				same = true;
			}
			if (same && off == k->rx_len) {
				if (dl)
					memcpy(k->rx + off, d, dl);
				k->rx_len += dl;
			}
			want = same ? k->rx_len : 0;
			if (same && k->rx_len == k->rx_total && !snap_slot_free(k)) {
				/* Whole, but the snapshot stored before is not synced yet: no answer;
				 * the leader's resend at its next heartbeat installs it. */
				trace(k, "snapshot %" PRIu64 " received whole while the last one stored "
				      "is not synced -> installed at the leader's resend", sidx);
				return;
			}
			if (same && k->rx_len == k->rx_total) {
				done = install_snapshot(k);
				want = 0;
			}
		}
	}
	struct strata_wr w;
	strata_wr_init(&w, 48);
	strata_wr_u8(&w, M_SNAP_R);
	strata_wr_u64(&w, k->term);
	strata_wr_u8(&w, done ? 1 : 0);
	strata_wr_u64(&w, done ? sidx : want);
	send_to(k, p, wr_done(k, &w));
}

/* upon <SNAP_R | term, done, index or wanted offset> from follower p */
static void on_snap_r(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t term = strata_rd_u64(rd);
	bool done = strata_rd_u8(rd) != 0;
	uint64_t idx = strata_rd_u64(rd);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed SNAP_R");
		return;
	}
	if (term > k->term) {
		become_follower(k, term);
		return;
	}
	if (k->role != LEADER || term != k->term)
		return;
	struct peer *pp = &k->peers[p];
	pp->last_ack_us = strata_now_us(k->node);
	pp->snap_inflight = false;
	if (done) {
		if (idx > k->last)
			return;
		if (idx > pp->match)
			pp->match = idx;
		pp->next = pp->match + 1;
		pp->ninfl = 0;
		pp->snap_index = 0;
		advance_commit(k);
	} else if (pp->snap_index == k->snap_index) {
		pp->snap_off = idx;
	}
	send_append(k, p);
}

/* upon <VOTE | term, last_idx, last_term> from candidate p */
static void on_vote(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t term = strata_rd_u64(rd), lidx = strata_rd_u64(rd), lterm = strata_rd_u64(rd);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed VOTE");
		return;
	}
	if (term > k->term)
		become_follower(k, term);
	bool grant = false;
	if (term == k->term && (k->vote == 0 || k->vote == p)) {
		uint64_t my_t = term_at(k, k->last);
		grant = lterm > my_t || (lterm == my_t && lidx >= k->last);
	}
	if (grant) {
		k->vote = p;
		save_state(k);
		arm_election(k);
	}
	trace(k, "vote request from %u for term %" PRIu64 " -> %s", p, term,
	      grant ? "granted" : "refused");
	struct strata_wr w;
	strata_wr_init(&w, 32);
	strata_wr_u8(&w, M_VOTE_R);
	strata_wr_u64(&w, k->term);
	strata_wr_u8(&w, grant ? 1 : 0);
	send_to(k, p, wr_done(k, &w));
}

/* upon <VOTE_R | term, granted> from p */
static void on_vote_r(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t term = strata_rd_u64(rd);
	bool granted = strata_rd_u8(rd) != 0;
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed VOTE_R");
		return;
	}
	if (term > k->term) {
		become_follower(k, term);
		return;
	}
	if (k->role != CANDIDATE || term != k->term || !granted)
		return;
	uint64_t bit = 1ull << (p - 1);
	if (k->vote_mask & bit)
		return;
	k->vote_mask |= bit;
	if (++k->votes >= k->majority)
		become_leader(k);
}

/* upon <FWD | cmd> from p: a follower's client write */
static void on_fwd(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	const uint8_t *d;
	size_t dl = strata_rd_bytes(rd, &d, k->max_msg);
	struct strata_rd cr;
	struct smr_cmd c;
	strata_rd_init(&cr, d, dl);
	if (strata_rd_done(rd) != 0 || smr_cmd_decode(&cr, &c) != 0 || strata_rd_done(&cr) != 0 ||
	    c.origin != p || c.type == SMR_CMD_NOOP) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed FWD");
		return;
	}
	if (k->role != LEADER) {
		trace(k, "forwarded command from %u but not the leader -> dropped (origin re-forwards)",
		      p);
		return;
	}
	uint64_t grow = smr_cmd_growth(&c), held;
	if (!quota_fits(k, grow, &held)) {
		refuse(k, &c, held); /* the origin answers its client when it applies the marker */
		return;
	}
	struct strata_msg *m = strata_msg_new(d, dl);
	if (m) {
		propose(k, m, grow);
		strata_msg_unref(m);
	}
}

/* upon <RI | id> from p: a follower's linearizable read needs a read index */
static void on_ri(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t id = strata_rd_u64(rd);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed RI");
		return;
	}
	if (k->role != LEADER) {
		struct strata_wr w;
		strata_wr_init(&w, 32);
		strata_wr_u8(&w, M_RI_R);
		strata_wr_u64(&w, id);
		strata_wr_u64(&w, 0);
		send_owed(k, p, wr_done(k, &w));
		return;
	}
	add_read(k, p, id);
	if (k->thrifty) /* it waits for the entries up to the index too: not held (held_from) */
		k->peers[p].commit_urgent = true;
}

/* upon <RI_R | id, index> from the leader */
static void on_ri_r(struct kv *k, uint32_t p, struct strata_rd *rd)
{
	uint64_t id = strata_rd_u64(rd), index = strata_rd_u64(rd);
	if (strata_rd_done(rd) != 0) {
		strata_node_bad_payload(k->node, &k->m, p, "kv: malformed RI_R");
		return;
	}
	struct pend *pe = pend_find(k, id);
	if (!pe || pe->state != P_READ_INDEX)
		return;
	if (index == 0) {
		/* p was not the leader any more: ask again when a leader is known. */
		if (k->leader == p)
			pe->state = P_WAIT;
		else
			dispatch_one(k, pe);
		return;
	}
	pe->state = P_READ_APPLY;
	pe->read_index = index;
	if (k->applied >= index)
		serve_read(k, pe);
}

/* ---- activation ----
 * Every cluster whose model allows it runs a kv module, but one that nobody uses should cost
 * nothing: the module stays dormant (no timers, no messages) until a client request or a kv
 * message arrives, or it recovers a non-empty log. A client request makes it stand for election
 * soon (within one heartbeat) rather than after a full election timeout. */
static void activate(struct kv *k, bool soon)
{
	if (k->active)
		return;
	k->active = true;
	if (soon)
		strata_timer_arm_in(k->node, &k->elect_t, 1 + strata_random_below(k->node, k->hb_us));
	else
		arm_election(k);
	strata_timer_arm_in(k->node, &k->tick_t, k->hb_us);
}

/* ---- client requests ---- */

static int kv_request_do(struct kv *k, const struct strata_request *q);
static void publish(struct kv *k);

static int kv_request(struct strata_module *m, const struct strata_request *q)
{
	struct kv *k = KV(m);
	if (k->damaged)
		return smr_reject(&k->m, q->id, NULL, STRATA_EIO,
				  "kv: this node's stored log or snapshot is "
				  "unreadable (its data directory is damaged)");
	activate(k, true);
	int rc = kv_request_do(k, q);
	publish(k);
	return rc;
}

/* The command a put request asks for (smr.h: STRATA_REQ_PUT_NX ...). */
static int kv_request_do(struct kv *k, const struct strata_request *q)
{
	if (q->op == STRATA_OP_HISTORY)
		return smr_reply_history(&k->m, k->sm, q);
	uint8_t kind;
	char why[200];
	int rc = smr_request_parse(q, &kind, why, sizeof(why));
	if (rc)
		return smr_reject(&k->m, q->id, NULL, rc, "%s", why);
	size_t need = q->key_len + q->value_len + q->value2_len + SMR_CMD_OVERHEAD + APPEND_OVERHEAD;
	bool is_read = kind == K_GET || kind == K_RANGE;
	if (!is_read && need > k->max_msg)
		return smr_reject(&k->m, q->id, NULL, STRATA_ETOOBIG,
				  "key + values = %zu bytes: more than one log entry carries "
				  "([links] max_value = %zu, minus %u)",
				  q->key_len + q->value_len + q->value2_len, k->max_msg,
				  SMR_CMD_OVERHEAD + APPEND_OVERHEAD);
	/* A serializable get reads this replica's state; the broken variant does the same for a
	 * linearizable get at a leader, skipping the round that proves it still leads. */
	if (is_read && ((q->flags & STRATA_REQ_SERIALIZABLE) ||
			((k->broken & SMR_BROKEN_READ_NO_ROUND) && k->role == LEADER))) {
		if (kind == K_RANGE)
			smr_reply_range(&k->m, k->sm, q->id, q->key, q->key_len, q->value, q->value_len,
					  q->limit);
		else
			smr_reply_get(&k->m, k->sm, q->id, q->key, q->key_len);
		return 0;
	}
	char busy[100];
	struct pend *p = (struct pend *)smr_pend_alloc(&k->pend, need, busy, sizeof(busy));
	if (!p) {
		k->st.busy_rejects++;
		return smr_reject(&k->m, q->id, NULL, STRATA_EFULL, "%s", busy);
	}
	p->c.rid = q->id;
	p->c.kind = kind;
	p->c.deadline_us = strata_now_us(k->node) + k->timeout_us;
	if (is_read) {
		if (smr_pend_read_args(&p->c, q)) {
			pend_free(k, p);
			return STRATA_ENOMEM;
		}
	} else {
		smr_pend_write_session(&p->c, q, k->node, true);
		struct smr_cmd c = {
			.type = kind == K_PUT ? smr_put_type(q->flags) : kind == K_DEL ? SMR_CMD_DEL : SMR_CMD_CAS,
			.origin = k->self, .origin_id = p->c.id,
			.session = p->c.session, .seq = p->c.seq,
			.key = q->key, .key_len = q->key_len,
			.val = kind == K_DEL ? NULL : q->value, .val_len = kind == K_DEL ? 0 : q->value_len,
			.val2 = kind == K_CAS ? q->value2 : NULL, .val2_len = kind == K_CAS ? q->value2_len : 0,
		};
		struct strata_wr w;
		strata_wr_init(&w, need);
		smr_cmd_encode(&w, &c);
		p->c.cmd = wr_done(k, &w);
		if (!p->c.cmd) {
			pend_free(k, p);
			return STRATA_ENOMEM;
		}
		smr_pend_hold(&k->pend, &p->c, p->c.cmd->len);
		p->grow = smr_cmd_growth(&c);
	}
	dispatch_one(k, p);
	return 0;
}

/* ---- timers ---- */

/* Batches the queued commands into entries and sends what each follower may get. */
static void flush_send(struct kv *k)
{
	/* Thrifty ([smr] thrifty, docs/smr.md "Thrifty replication"): when nothing is in flight
	 * (every entry committed: the c = 1 regime), the new batch goes at once only to
	 * majority - 1 followers, and the leader stores it in this turn (its APPENDs leave
	 * before this turn's sync, as always: the early class) and counts itself for it; a put
	 * then waits for two syncs (the leader's and one follower's at N = 3) and one follower's
	 * wake, not for the later of two followers'. With entries in flight (higher load) a
	 * batch goes to every follower and the leader stores later, as without thrifty. */
	uint64_t prev = k->last;
	bool quiet = k->thrifty && k->n >= 3 && k->commit == k->last && k->nprop > 0;
	while (k->nprop > 0 && k->last - k->commit < k->cfg->smr_window)
		make_batch(k);
	if (k->nprop > 0)
		trace(k, "window full (%" PRIu64 " uncommitted) -> %zu commands wait",
		      k->last - k->commit, k->nprop);
	if (k->last > prev) {
		uint64_t now = strata_now_us(k->node);
		k->held = quiet && thrifty_choose(k, prev, now);
		if (k->held) {
			if (!(k->broken & SMR_BROKEN_THRIFTY_UNSTORED))
				persist_unstored(k);
			/* Stored in this batch: counted now, as in on_flush (the batch's replies and
			 * held datagrams leave after its sync). The broken variant counts its copy
			 * without storing it (stored 5 ms later, by persist_t). */
			k->self_durable = k->broken & SMR_BROKEN_THRIFTY_UNSTORED ? k->last : k->stored;
			k->thrifty_idx = k->last;
			k->thrifty_us = now;
			k->st.thrifty_batches++;
			strata_timer_arm_in(k->node, &k->thrifty_t, thrifty_wait(k));
			if (strata_tracing(k->node)) {
				char ids[4 * STRATA_MAX_NODES + 1] = "";
				size_t o = 0;
				for (uint32_t p = 1; p <= k->n && o + 12 < sizeof(ids); p++)
					if (p != k->self && k->peers[p].eager)
						o += (size_t)snprintf(ids + o, sizeof(ids) - o, " %u", p);
				trace(k, "thrifty batch %" PRIu64 " -> at once to%s", k->last, ids);
			}
		}
	}
	/* What an APPEND may carry now (commit_safe: it leaves before this batch's sync). */
	uint64_t cs = commit_safe(k);
	for (uint32_t p = 1; p <= k->n; p++) {
		if (p == k->self)
			continue;
		struct peer *pp = &k->peers[p];
		if (may_send_now(k, pp) ||
		    (pp->sent_commit < cs && (k->commit_due || pp->commit_urgent)))
			send_append(k, p);
	}
	k->commit_due = false;
	/* Every follower has the commit (it rode on entries): no commit-only APPEND is due. Else
	 * (a commit that counted this leader's storage before its sync completed) it goes with
	 * the next APPEND, at the latest COMMIT_DELAY_US from now. */
	bool told = true;
	for (uint32_t p = 1; p <= k->n && told; p++)
		if (p != k->self && k->peers[p].sent_commit < k->commit)
			told = false;
	if (told)
		strata_timer_disarm(k->node, &k->commit_t);
	else if (!strata_timer_armed(&k->commit_t))
		strata_timer_arm_in(k->node, &k->commit_t,
				    k->hb_us < COMMIT_DELAY_US ? k->hb_us : COMMIT_DELAY_US);
	start_read_round(k);
}

static void on_flush(struct kv *k)
{
	if (k->role != LEADER)
		return;
	/* The leader's own write of its newest entries waits PERSIST_DELAY_US (persist_t): a
	 * batch that stores holds its replies until its sync, and with n >= 3 the followers alone
	 * are a majority, so the replies of the batches in between need not wait for it. */
	if (k->persist_due || k->n == 1 || k->parallel) {
		k->persist_due = false;
		persist_unstored(k);
	}
	/* Stored entries count, this batch's too: the node releases the batch's replies and
	 * datagrams only after the sync that covers it (persist before send and before reply). */
	k->self_durable = k->stored;
	if ((k->broken & SMR_BROKEN_THRIFTY_UNSTORED) && k->held && k->thrifty_idx > k->stored)
		k->self_durable = k->thrifty_idx; /* the broken variant: counted, not stored */
	advance_commit(k);
	flush_send(k);
	if (k->n == 1 && k->stored < k->last)
		flush_soon(k); /* one node: store and commit in another round of this batch */
}

static void expire_pending(struct kv *k, uint64_t now)
{
	if (k->pend.n == 0)
		return;
	for (uint32_t i = 0; i < k->pend.cap; i++) {
		struct pend *p = pend_at(k, i);
		if (!p->c.id || p->c.deadline_us > now)
			continue;
		char text[160];
		snprintf(text, sizeof(text),
			 "no answer within %" PRIu64 " ms (leader %u): the outcome is unknown",
			 k->timeout_us / 1000, k->leader);
		reply(k, p, STRATA_ETIMEDOUT, 0, NULL, 0, 0, text);
	}
}

static void on_tick(struct kv *k)
{
	uint64_t now = strata_now_us(k->node);
	expire_pending(k, now);
	if (k->role == LEADER) {
		unsigned heard = 1;
		for (uint32_t p = 1; p <= k->n; p++) {
			if (p == k->self)
				continue;
			struct peer *pp = &k->peers[p];
			if (now - pp->last_ack_us < k->elect_us)
				heard++;
			/* No progress since the last tick: resend from the last match. */
			if (pp->match < k->last && pp->match == pp->match_at_tick) {
				pp->next = pp->match + 1;
				pp->ninfl = 0;
			}
			pp->match_at_tick = pp->match;
			k->in_tick = true;
			send_append(k, p);
			k->in_tick = false;
		}
		/* The broken read variant also keeps leading while cut off: a deposed leader that
		 * has not noticed (what the quorum round of a read exists for). */
		if (heard < k->majority && !(k->broken & SMR_BROKEN_READ_NO_ROUND)) {
			trace(k, "no majority heard for %" PRIu64 " ms -> step down",
			      k->elect_us / 1000);
			become_follower(k, k->term);
		}
	}
	strata_timer_arm_in(k->node, &k->tick_t, k->hb_us);
}

/* ---- module plumbing ---- */

/* The stored snapshot becomes the state machine (at restart). */
static int load_snapshot(struct kv *k)
{
	uint64_t idx, total;
	struct strata_msg *m = NULL;
	struct smr_kv *nsm = NULL;
	int rc = smr_wal_snapshot_info(k->node, k->snap_slot, &idx, &total);
	if (rc == 0 && (idx != k->snap_index || total > SNAP_MAX))
		rc = STRATA_EIO;
	if (rc == 0)
		rc = smr_wal_snapshot_read(k->node, k->snap_slot, 0, (size_t)total, &m);
	if (rc == 0)
		rc = smr_kv_restore(m->data, m->len, k->cfg->smr_sessions_max, &nsm);
	strata_msg_unref(m);
	if (rc)
		return rc;
	smr_kv_free(k->sm);
	k->sm = nsm;
	smr_kv_set_broken_sessions(k->sm, (k->broken & SMR_BROKEN_DUP_APPLY) != 0);
	smr_kv_set_broken_window(k->sm, (k->broken & SMR_BROKEN_NO_WINDOW) != 0);
	k->applied = k->snap_index;
	trace(k, "restored snapshot %" PRIu64 " (%" PRIu64 " bytes)", idx, total);
	return 0;
}

static void kv_init(struct kv *k)
{
	struct smr_hardstate hs;
	int rc = smr_wal_load_state(k->node, &hs);
	if (rc && rc != STRATA_EIO) {
		struct strata_output o = { .kind = STRATA_OUT_EVENT, .module_name = NAME,
					   .text = "warning: kv: stored hard state unreadable; "
						   "starting empty" };
		strata_output(k->node, &o);
	}
	if (rc == 0) {
		k->term = hs.term;
		k->vote = hs.vote;
		k->last = hs.last_index;
		k->stored = k->last;
		k->cfirst = k->last + 1;
		k->snap_index = hs.snap_index;
		k->snap_term = hs.snap_term;
		k->snap_slot = hs.snap_slot;
		uint64_t first = 1;
		if (smr_wal_first(k->node, &first) == 0)
			k->log_first = first;
		/* Entries kept behind the snapshot are this log's only if the one at its index is
		 * the snapshot's (else a torn install left an older log behind: ignore them). */
		if (k->snap_index && k->log_first <= k->snap_index) {
			uint64_t t;
			struct strata_msg *d = NULL;
			if (smr_wal_get(k->node, k->snap_index, &t, &d) != 0 || t != k->snap_term)
				k->log_first = k->snap_index + 1;
			strata_msg_unref(d);
		}
		k->commit = hs.commit_hint > k->snap_index ? hs.commit_hint : k->snap_index;
		if (k->snap_index && load_snapshot(k) != 0) {
			set_damaged(k, "error: kv: the stored snapshot is unreadable; this node's kv "
				       "stays down (its data directory is damaged)");
			return;
		}
		/* The hard state's last entry must be there (entry_get marks the node damaged). */
		uint64_t t;
		struct strata_msg *d = NULL;
		if (k->last > k->snap_index && k->last >= k->log_first &&
		    entry_get(k, k->last, &t, &d) == 0)
			strata_msg_unref(d);
		if (k->damaged)
			return;
		apply_committed(k); /* replay what is known committed, from the snapshot on */
	}
	if (k->last)
		trace(k, "recovered term %" PRIu64 ", log 1..%" PRIu64 ", applied %" PRIu64, k->term,
		      k->last, k->applied);
	if (k->last || k->term)
		activate(k, false);
}

/* The node's status counters (strata status): where this replica stands. */
static void publish(struct kv *k)
{
	struct strata_counters *c = strata_node_counters(k->node);
	c->kv_leader = k->leader;
	c->kv_term = k->term;
	c->kv_last_index = k->last;
	c->kv_commit_index = k->commit;
	c->kv_applied_index = k->applied;
	c->kv_batches = k->st.batches;
	c->kv_commands = k->st.commands;
	c->kv_read_rounds = k->st.read_rounds;
	c->kv_busy = k->st.busy_rejects;
	c->kv_snapshot_index = k->snap_index;
	c->kv_log_first = k->log_first;
	c->kv_snapshots = k->st.snapshots;
	c->kv_snapshot_installs = k->st.snap_installs;
	c->kv_unreadable = k->st.unreadable;
	c->kv_thrifty_batches = k->st.thrifty_batches;
	c->kv_thrifty_fallbacks = k->st.thrifty_fallbacks;
	c->kv_quota_rejects = k->st.quota_rejects;
	c->kv_state_bytes = smr_kv_bytes(k->sm);
	c->kv_quota_bytes = k->quota;
}

static void kv_handle_ev(struct strata_module *m, const struct strata_event *ev);

static void kv_handle(struct strata_module *m, const struct strata_event *ev)
{
	kv_handle_ev(m, ev);
	publish(KV(m));
}

static void kv_handle_ev(struct strata_module *m, const struct strata_event *ev)
{
	struct kv *k = KV(m);
	switch (ev->type) {
	case STRATA_EV_INIT:
		kv_init(k);
		return;
	case STRATA_EV_TURN_END:
		on_flush(k);
		return;
	case STRATA_EV_TIMER:
		if (ev->arg == T_PERSIST) {
			/* Stored by the flush, after it counted what earlier turns stored. */
			k->persist_due = true;
			flush_soon(k);
		} else if (ev->arg == T_THRIFTY) {
			thrifty_late(k);
		} else if (ev->arg == T_COMMIT) {
			k->commit_due = true;
			flush_soon(k);
		} else if (ev->arg == T_TICK) {
			on_tick(k);
		} else if (ev->arg == T_OWED) {
			strata_pl_owed_flush(k->owed);
		} else if (ev->arg == T_ELECT && k->role != LEADER) {
			start_election(k);
		}
		return;
	case STRATA_EV_PEER_RESTART:
		if (ev->peer < 1 || ev->peer > k->n)
			return;
		if (k->role == LEADER) {
			k->peers[ev->peer].next = k->peers[ev->peer].match + 1;
			k->peers[ev->peer].ninfl = 0;
			send_append(k, ev->peer);
		} else if (k->leader == ev->peer) {
			/* What we forwarded to its old incarnation is gone. */
			k->leader = 0;
			for (uint32_t i = 0; i < k->pend.cap; i++)
				if (pend_at(k, i)->c.id && pend_at(k, i)->state != P_READ_APPLY)
					pend_at(k, i)->state = P_WAIT;
		}
		return;
	case STRATA_EV_PL_DELIVER:
		break;
	default:
		return;
	}
	if (!ev->msg || ev->peer < 1 || ev->peer > k->n || k->damaged)
		return;
	activate(k, false);
	struct strata_rd rd;
	strata_rd_init(&rd, ev->msg->data, ev->msg->len);
	switch (strata_rd_u8(&rd)) {
	case M_APPEND: on_append(k, ev->peer, &rd); break;
	case M_APPEND_R: on_append_r(k, ev->peer, &rd); break;
	case M_VOTE: on_vote(k, ev->peer, &rd); break;
	case M_VOTE_R: on_vote_r(k, ev->peer, &rd); break;
	case M_FWD: on_fwd(k, ev->peer, &rd); break;
	case M_RI: on_ri(k, ev->peer, &rd); break;
	case M_RI_R: on_ri_r(k, ev->peer, &rd); break;
	case M_SNAP: on_snap(k, ev->peer, &rd); break;
	case M_SNAP_R: on_snap_r(k, ev->peer, &rd); break;
	default: strata_node_bad_payload(k->node, m, ev->peer, "kv: unknown message type");
	}
}

static void kv_destroy(struct strata_module *m)
{
	struct kv *k = KV(m);
	smr_pend_fini(&k->pend);
	for (size_t i = 0; i < k->nprop; i++)
		strata_msg_unref(k->prop[i]);
	for (uint64_t i = k->cfirst; i <= k->last && k->ccap; i++)
		strata_msg_unref(cache_at(k, i)->data);
	smr_kv_free(k->sm);
	free(k->rx);
	free(k->ents);
	free(k->prop);
	free(k->reads);
	strata_pl_owed_free(k->owed);
	free(k);
}

static const struct strata_module_ops kv_ops = {
	.name = NAME, .handle = kv_handle, .request = kv_request, .destroy = kv_destroy,
};

struct strata_module *smr_kv_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	struct kv *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "kv: out of memory");
		return NULL;
	}
	k->node = n;
	k->cfg = cfg;
	k->self = strata_node_id(n);
	k->n = cfg->n;
	k->majority = cfg->n / 2 + 1;
	k->parallel = cfg->smr_leader_sync_parallel;
	k->thrifty = cfg->smr_thrifty;
	k->hb_us = (uint64_t)cfg->smr_heartbeat_ms * 1000;
	k->elect_us = (uint64_t)cfg->smr_election_ms * 1000;
	k->timeout_us = (uint64_t)cfg->smr_timeout_ms * 1000;
	k->max_msg = cfg->max_value;
	k->quota = cfg->smr_quota_bytes;
	int prc = smr_pend_init(&k->pend, cfg->smr_pending_max, sizeof(struct pend));
	k->prop = calloc(PROPOSE_MAX, sizeof(*k->prop));
	k->reads = calloc(READS_MAX, sizeof(*k->reads));
	k->sm = smr_kv_new(cfg->smr_sessions_max);
	k->owed = strata_pl_owed_new(n, &k->m, T_OWED, NULL,
				     (size_t)cfg->smr_pending_max + READS_MAX,
				     SMR_PEND_BYTES + (uint64_t)READS_MAX * 32);
	k->cfirst = 1;
	k->log_first = 1;
	if (prc || !k->prop || !k->reads || !k->sm || !k->owed) {
		strata_pl_owed_free(k->owed);
		smr_kv_free(k->sm);
		smr_pend_fini(&k->pend);
		free(k->prop);
		free(k->reads);
		free(k);
		snprintf(err, errlen, "kv: out of memory");
		return NULL;
	}
	k->pend.id_gen = strata_random(n) >> 30; /* ids differ across incarnations */
	strata_node_add_module(n, &k->m, &kv_ops, strata_wire_id("kv"));
	strata_timer_init(&k->persist_t, &k->m, T_PERSIST, 0);
	strata_timer_init(&k->commit_t, &k->m, T_COMMIT, 0);
	strata_timer_init(&k->thrifty_t, &k->m, T_THRIFTY, 0);
	strata_timer_init(&k->tick_t, &k->m, T_TICK, 0);
	strata_timer_init(&k->elect_t, &k->m, T_ELECT, 0);
	return &k->m;
}

void smr_kv_set_broken(struct strata_module *m, unsigned broken)
{
	struct kv *k = KV(m);
	k->broken = broken;
	smr_kv_set_broken_sessions(k->sm, (broken & SMR_BROKEN_DUP_APPLY) != 0);
	smr_kv_set_broken_window(k->sm, (broken & SMR_BROKEN_NO_WINDOW) != 0);
	if (broken & SMR_BROKEN_EARLY_ACK)
		strata_links_set_broken_early_acks(strata_node_links(k->node), true);
	if (broken & SMR_BROKEN_NO_OWED)
		strata_pl_owed_test_lossy(k->owed); /* a refused FWD, RI or RI_R is lost */
}

struct smr_kv *smr_kv_state(struct strata_module *m)
{
	return KV(m)->sm;
}

void smr_kv_status(struct strata_module *m, struct smr_status *out)
{
	struct kv *k = KV(m);
	*out = k->st;
	out->term = k->term;
	out->leader = k->leader;
	out->is_leader = k->role == LEADER;
	out->last_index = k->last;
	out->commit_index = k->commit;
	out->applied_index = k->applied;
	out->revision = smr_kv_revision(k->sm);
	out->keys = smr_kv_count(k->sm);
	out->sessions = smr_kv_sessions(k->sm);
	out->pending = k->pend.n;
	out->snap_index = k->snap_index;
	out->log_first = k->log_first;
}
