/* The consensus family (internal to src/cons/; see docs/consensus.md).
 *
 * Module (the book's Module 5.1 / 5.2):
 *   Request:    <c, Propose | v>
 *   Indication: <c, Decide | v>
 *   C1 Termination: every correct process eventually decides some value.
 *   C2 Validity: if a process decides v, then v was proposed by some process.
 *   C3 Integrity: no process decides twice.
 *   C4 (Uniform) Agreement: no two correct processes (uniform: no two processes) decide
 *      differently.
 *
 * Multi-instance. Every algorithm module runs many independent consensus instances, addressed
 * by a 64-bit instance id (>= 1) that every wire frame carries (the link layer's frame instance).
 * struct cons_tab is the instance table each module keeps:
 *   - an instance is created on the first Propose or the first peer message that names it;
 *   - it is retired when this process decides: its state is freed and its id is marked in a
 *     decided window (a watermark `low` below which every id is decided, plus CONS_WINDOW bits
 *     above it); messages for retired ids are ignored, and the watermark advances over
 *     contiguous decided ids;
 *   - ids above low + CONS_WINDOW are refused (clients get EINVAL, peer frames are dropped and
 *     counted), at most CONS_LIVE_MAX instances are undecided at once (EFULL beyond), and the
 *     last CONS_CACHE decided values are kept to answer a late Propose on a decided instance.
 * Memory per module is therefore bounded by CONS_LIVE_MAX undecided instances (each holding at
 * most N distinct values of at most cons_value_max bytes) + CONS_CACHE values + CONS_WINDOW bits.
 *
 * Joining. The book has every correct process propose; here a client proposes at one node. A
 * process that learns of an instance from a peer's message before any client proposed there
 * joins it by proposing a value it has just learned was proposed (the smallest one the message
 * carries): validity is kept (that value was proposed by some process) and every correct process
 * takes part, which the algorithms' termination needs. Where no message of the book would tell
 * the others that an instance exists (hierarchical consensus: only the round's leader speaks),
 * the proposer announces its value once with a VALUE message (N messages per proposer).
 *
 * Outputs (what clients, logs and the simulator's checkers see):
 *   STRATA_OUT_BCAST    this process proposed: a = instance, data = value
 *   STRATA_OUT_DELIVER  this process decided: peer = this node, a = instance, b = round (or
 *                       epoch; 0 if the algorithm has none), data = value, text = "round R"
 *                       or "epoch E" (clients see the text; b stays inside the node)
 * A Propose request (STRATA_OP_PROPOSE) carries the instance id as decimal ASCII in key (empty:
 * the next id after the highest this node knows) and the value; the reply's value is
 * [varint instance][value bytes] (cons_reply_decode). */
#ifndef STRATA_CONS_CONS_H
#define STRATA_CONS_CONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcast/bcast.h"
#include "core/codec.h"
#include "core/node.h"
#include "core/stack.h"

#define CONS_WINDOW 4096u   /* decided-window bits above the watermark */
#define CONS_LIVE_MAX 256u  /* undecided instances at once, per module */
#define CONS_CACHE 64u      /* decided values kept for late proposers */
#define CONS_WAIT_MAX 8u    /* client requests waiting on one instance */
#define CONS_VALS_MAX 64u   /* distinct values one instance knows (<= N in a correct run) */
#define CONS_HDR_MAX 32u    /* per-message header bytes (type, round, counts) */

/* Indications inside the family (event range 300-399). */
enum cons_ev {
	CONS_EV_START_EPOCH = 300, /* ec: peer = leader l, arg = timestamp ts */
	CONS_EV_DECIDE = 301,      /* <Decide | v> to an upper module: body struct cons_decided */
};

/* The body of CONS_EV_DECIDE: value points into ev->msg. */
struct cons_decided {
	uint64_t instance;
	const uint8_t *value;
	size_t len;
};

/* Message types shared by the family (each algorithm uses a subset). */
enum cons_type {
	CONS_PROPOSAL = 1,
	CONS_DECIDED = 2,
	CONS_VALUE = 3, /* a proposer's announcement (joining, see above) */
	CONS_ACK = 4,
	CONS_DECIDED_DIGEST = 5, /* bldc: DECIDED naming the value by its SHA-256 digest */
};

/* One instance's common state; algorithms embed it first in their own instance struct. */
struct cons_inst {
	uint64_t id;
	bool proposed;             /* this process has proposed (or joined) */
	uint64_t excluded;         /* processes known crashed for this instance (bit q-1) */
	uint32_t nvals;            /* distinct values this instance knows */
	struct strata_msg *vals[CONS_VALS_MAX]; /* one reference each */
	uint64_t waiters[CONS_WAIT_MAX]; /* client request ids waiting for the decision */
	unsigned nwait;
};

/* Instance spaces: the top bits of an instance id name its space, each with its own decided
 * window and its own upper module. Space 0 is the clients' (ids 1, 2, ...), space 1
 * total-order broadcast's rounds, spaces 2-6 and 8 the consensus variants of chapter 6
 * (nbac.c, trb.c, gm.c, fast.c, uvs.c; vs.c's trb instances), space 7 logged uniform
 * total-order broadcast's rounds (ltob.c), space 9 Byzantine total-order broadcast's rounds
 * (btob.c), spaces 10 and 11 strong Byzantine consensus's (sbc.c: its clients' instances, and
 * those of fast Byzantine consensus, which stands on sbc's space 5). */
#define CONS_SPACE_BITS 48
#define CONS_SPACE_MASK ((1ull << CONS_SPACE_BITS) - 1)
#define CONS_SPACES 12u
#define CONS_SPACE_TOB 1ull
#define CONS_SPACE_NBAC 2ull
#define CONS_SPACE_TRB 3ull
#define CONS_SPACE_GM 4ull
#define CONS_SPACE_FAST 5ull
#define CONS_SPACE_VS 6ull
#define CONS_SPACE_LTOB 7ull /* logged uniform total-order broadcast's rounds (ltob.c) */
#define CONS_SPACE_VSTRB 8ull
#define CONS_SPACE_BTOB 9ull /* Byzantine total-order broadcast's rounds (btob.c) */
#define CONS_SPACE_SBC 10ull /* sbc.c's own instances (its space 0) on bldc */
#define CONS_SPACE_SBC_FAST 11ull /* sbc.c's space-5 instances (fast Byzantine consensus) */

struct cons_win {
	uint64_t low;                    /* every id <= low is decided here */
	uint64_t high;                   /* highest id seen */
	uint64_t bits[CONS_WINDOW / 64]; /* decided ids in (low, low + CONS_WINDOW] */
};

struct cons_tab {
	struct strata_module *m;
	struct bcast_lower beb;      /* "uses BestEffortBroadcast, instance beb" */
	size_t inst_size;            /* sizeof the algorithm's instance struct */
	struct cons_inst **live;     /* [CONS_LIVE_MAX], the first nlive used */
	size_t nlive;
	struct cons_win win[CONS_SPACES]; /* ids are (space << CONS_SPACE_BITS) | local id */
	uint64_t crashed;            /* processes the detector reported crashed (bit q-1) */
	struct {
		uint64_t id;
		struct strata_msg *v;
	} cache[CONS_CACHE];
	unsigned cache_next;
	uint64_t dropped_window, refused_full;
	const char *round_name;      /* "round" or "epoch": what a decision's b counts */
	/* Logged algorithms: loads a decision from stable storage when it is no longer cached
	 * (a new reference, or NULL). NULL for the others. */
	struct strata_msg *(*load_decided)(struct cons_tab *t, uint64_t id);
	/* Frees a live instance the upper skipped (cons_lower_skip), if the algorithm's instance
	 * holds more than cons_inst's values; NULL: freed as a plain cons_inst. */
	void (*drop)(struct cons_tab *t, struct cons_inst *i);
	/* The algorithm's <Propose | v> (for uppers, cons_lower_propose). */
	int (*propose)(struct strata_module *m, struct cons_inst *i, const uint8_t *v, size_t len,
		       bool by_client);
	struct strata_module *uppers[CONS_SPACES]; /* receives the decisions of space s >= 1 */
	/* External validity (optional, per space, set by the upper with cons_lower_set_valid):
	 * whether v may be decided on instance id (the full id). A Byzantine consensus that
	 * honours it (bldc) never proposes, joins with or writes a value that fails it, so every
	 * value it decides passes it (docs/consensus-byzantine.md, strong Byzantine consensus). */
	bool (*valid[CONS_SPACES])(struct strata_module *upper, uint64_t id, const uint8_t *v,
				    size_t len);
	/* The upper's own record of what was decided here (optional, per space, set with
	 * cons_lower_set_decided): the value this process decided on the retired instance id (a
	 * new reference) or NULL; asked once the cache no longer holds id (cons_tab_decided), its
	 * answers not cached. */
	struct strata_msg *(*decided_src[CONS_SPACES])(struct strata_module *upper, uint64_t id);
};

/* Every consensus module begins with this (flood, hier, uflood, uhier, ldc, lldc). */
struct cons_mod {
	struct strata_module m;
	struct cons_tab tab;
};

/* The consensus total-order broadcast stands on: [tob] consensus, or ldc. */
const char *cons_tob_consensus(const struct strata_config *cfg);

/* Stacking on consensus ("uses Consensus, instances c.r"): upper proposes with
 * cons_lower_propose on instances (space << CONS_SPACE_BITS) | r, r = 1, 2, ..., and receives
 * CONS_EV_DECIDE for them. Finds the node's module `algo` (creating it from the catalog if the
 * node has none). One upper per instance space of a consensus module; cons_lower_open is
 * cons_lower_open_space with CONS_SPACE_TOB. 0, or a STRATA_E* code with err. */
int cons_lower_open(struct strata_node *n, const char *algo, struct strata_module *upper,
		    struct strata_module **lower, char *err, size_t errlen);
int cons_lower_open_space(struct strata_node *n, const char *algo, uint64_t space,
			  struct strata_module *upper, struct strata_module **lower, char *err,
			  size_t errlen);
/* Installs the external validity predicate of `space` on lower (see struct cons_tab). */
void cons_lower_set_valid(struct strata_module *lower, uint64_t space,
			  bool (*valid)(struct strata_module *upper, uint64_t id, const uint8_t *v,
					size_t len));
/* Installs the upper's record of decided values of `space` on lower (see struct cons_tab). */
void cons_lower_set_decided(struct strata_module *lower, uint64_t space,
			    struct strata_msg *(*src)(struct strata_module *upper, uint64_t id));
/* Whether v passes the predicate of id's space (true when the space has none). */
bool cons_tab_valid(const struct cons_tab *t, uint64_t id, const uint8_t *v, size_t len);
/* The value decided on a retired instance of lower (a new reference), or NULL when it is no
 * longer cached: for an upper whose Propose got STRATA_ESTATE because the instance was decided
 * (and its Decide indicated) before the upper existed. */
struct strata_msg *cons_lower_decided(struct strata_module *lower, uint64_t instance);
/* trigger <c.instance, Propose | v>. 0, STRATA_EFULL, STRATA_EINVAL (outside the window) or
 * STRATA_ESTATE (decided already: its Decide was indicated then). */
int cons_lower_propose(struct strata_module *lower, uint64_t instance, const uint8_t *v,
		       size_t len);
/* If ev is lower's <Decide> (CONS_EV_DECIDE) for an instance of `space`, its body, with the
 * instance's id inside the space in *id; else NULL (another event, space or lower). */
const struct cons_decided *cons_upper_decided(const struct strata_event *ev,
					      const struct strata_module *lower, uint64_t space,
					      uint64_t *id);
/* cons_lower_propose for an upper that may be created after its instance was decided: on
 * STRATA_ESTATE, *decided is the decided value (a new reference; the upper delivers it itself,
 * its Decide having gone by) and 0 is returned, or STRATA_ENOENT when that value is no longer
 * held. Otherwise *decided = NULL and cons_lower_propose's code. */
int cons_lower_propose_fetch(struct strata_module *lower, uint64_t instance, const uint8_t *v,
			     size_t len, struct strata_msg **decided);

int cons_tab_init(struct cons_tab *t, struct strata_module *m, size_t inst_size);
void cons_tab_free(struct cons_tab *t);
/* Whether id is decided (retired) here. */
bool cons_tab_retired(const struct cons_tab *t, uint64_t id);
/* The live instance id, or NULL. */
struct cons_inst *cons_tab_find(struct cons_tab *t, uint64_t id);

enum cons_get {
	CONS_GOT,     /* *out is the live instance (created now if it did not exist) */
	CONS_RETIRED, /* decided here already */
	CONS_OUTSIDE, /* id 0 or beyond the window */
	CONS_NOROOM,  /* CONS_LIVE_MAX undecided instances already */
};
/* Finds or creates instance id; a new one is zeroed (inst_size bytes) with its id set and
 * every process already reported crashed excluded. */
enum cons_get cons_tab_get(struct cons_tab *t, uint64_t id, struct cons_inst **out);
/* For a peer's message: cons_tab_get, counting and tracing what is dropped. NULL = ignore. */
struct cons_inst *cons_tab_get_peer(struct cons_tab *t, uint64_t id, uint32_t from);

/* Records a crash reported by P; the caller then re-evaluates its live instances. */
void cons_tab_crash(struct cons_tab *t, uint32_t q);
/* A restarted peer is a new process: instances created from now on count it as correct. */
void cons_tab_restore(struct cons_tab *t, uint32_t q);

/* Decides v on instance i: outputs the decision, answers the waiting clients, caches v, marks
 * i decided and frees it. i must not be used afterwards. */
void cons_decide(struct cons_tab *t, struct cons_inst *i, const uint8_t *v, size_t len,
		 uint64_t round);
/* Marks i proposed; a client's proposal (not a join) is also output as STRATA_OUT_BCAST, so the
 * checkers' validity counts client proposals only. */
void cons_out_propose(struct cons_tab *t, struct cons_inst *i, const uint8_t *v, size_t len,
		      bool by_client);

/* The instance's value table: index of v (added if new), or -1 if the table is full. */
int cons_val_index(struct cons_inst *i, const uint8_t *v, size_t len);
/* The smallest value of a set (bitmask over i->vals), -1 if empty. Order: by bytes
 * (memcmp), a proper prefix first. */
int cons_val_min(const struct cons_inst *i, uint64_t set);
int cons_val_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* ---- Requests ---- */

/* Checks a Propose request and parses its instance (0 when the client named none: the caller
 * picks t->high + 1). Returns 0, STRATA_EINVAL or STRATA_ETOOBIG. */
int cons_check_request(const struct cons_tab *t, const struct strata_request *req,
		       size_t value_max, uint64_t *instance);
/* Queues req's id on i for the decision; STRATA_EFULL if CONS_WAIT_MAX are waiting. */
int cons_wait(struct cons_inst *i, uint64_t req_id);
/* A Propose on a decided instance: answers at once with the cached value, or with ESTATE
 * when it is no longer cached. */
void cons_reply_decided(struct cons_tab *t, uint64_t instance, uint64_t req_id);

/* An algorithm's <Propose | v> handler (by_client: a client's request, not a join). */
typedef int (*cons_propose_fn)(struct strata_module *m, struct cons_inst *i, const uint8_t *v,
			       size_t len, bool by_client);
/* The request path every algorithm shares: checks req, finds or creates its instance, answers
 * at once when it is decided here, else queues the client for the decision and proposes (unless
 * this process proposed or joined already). Returns 0 or a STRATA_E* code for the reply. */
int cons_request(struct cons_tab *t, const struct strata_request *req, size_t value_max,
		 cons_propose_fn propose);

/* Largest proposal an algorithm accepts when one message carries up to `per_msg` values (room
 * left for the broadcast layers' own headers). */
size_t cons_value_max(const struct strata_node *n, unsigned per_msg);

/* ---- Messages ---- */

/* "uses BestEffortBroadcast, instance beb": opens the module's own instance of the node's beb
 * (bcast/bcast.h). 0, or a STRATA_E* code with the reason in err.
 * The fail-recovery algorithms (logged: lldc, lec) stand on beb too, over perfect links
 * (bcast_open_under_recovery: the catalog refuses beb to a fail-recovery cluster's clients only);
 * the book draws sbeb + sl under them, whose one-datagram frames cannot carry our values (see
 * docs/architecture.md, "Where we departed"). */
int cons_open_beb(struct strata_node *n, struct strata_module *m, struct bcast_lower *beb,
		  bool logged, char *err, size_t errlen);
/* trigger <beb, Broadcast | m> for consensus instance `instance`: one beb instance carries every
 * consensus instance of a module, so the bytes on it are [varint instance][msg]. */
void cons_beb_broadcast(const struct bcast_lower *beb, uint64_t instance,
			const struct strata_msg *msg);
/* If ev is a Deliver of `lower` (beb, or uhier's rb), fills *out as the event the algorithm
 * handles: peer = the broadcasting process, instance = the consensus instance, msg = a new
 * message with the consensus payload (the caller unrefs it). false if ev is not one, or is
 * malformed (reported). */
bool cons_unwrap(struct strata_module *m, const struct bcast_lower *lower,
		 const struct strata_event *ev, struct strata_event *out);
/* [type][bytes v] */
struct strata_msg *cons_enc_value(uint8_t type, const uint8_t *v, size_t len);
/* [type][round][count][count x bytes] for the values of set. */
struct strata_msg *cons_enc_set(uint8_t type, uint64_t round, const struct cons_inst *i,
				uint64_t set);
/* Decodes a [type][round][count][values] body into i's value table: *set gets their bits.
 * 0, or STRATA_EPROTO (malformed, or more distinct values than the table holds). */
int cons_dec_set(struct strata_rd *r, struct cons_inst *i, uint64_t *set);

/* Subscribes m to the node's failure detector (P); fails with a reason if there is none. */
int cons_need_fd(struct strata_module *m, const char *algo, char *err, size_t errlen);

static inline uint64_t cons_bit(uint32_t q)
{
	return 1ull << (q - 1);
}

static inline uint64_t cons_all(uint32_t n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* ---- Constructors (one per file) ---- */
struct strata_module *cons_flood_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_hier_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_uflood_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_uhier_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_ldc_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_lldc_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_tob_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_btob_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY: btob delivers decided messages without checking them (broken variant). */
void cons_btob_test_trust(struct strata_module *m);
/* TEST ONLY broken variants of btob's handling of sends the links refuse (btob.c, "Sends the
 * links refuse"): NO_OWED, a refused broadcast is lost (not owed and sent again); GAP_ROUNDS,
 * any held message starts rounds, also one above a gap in its sender's numbers; NO_PROBE, an
 * idle process never asks where the others are. */
enum {
	BTOB_BROKEN_NO_OWED = 1,
	BTOB_BROKEN_GAP_ROUNDS = 2,
	BTOB_BROKEN_NO_PROBE = 4,
	BTOB_BROKEN_SIG_HEADER = 8, /* signatures that leave the payload out (btob.c) */
};
void cons_btob_test_broken(struct strata_module *m, unsigned flags);
/* TEST ONLY: this process's next broadcast skips a sequence number (a Byzantine sender's gap:
 * every process gets the message above it, none the one it skipped). */
void cons_btob_test_gap(struct strata_module *m);
/* TEST ONLY: btob at this process behaves as byz (btob.c's behaviours) while the node and its
 * consensus stay correct: a Byzantine process that runs bldc by the book and lies in btob's
 * proposals, the case where weak validity lets its values be decided. */
void cons_btob_test_byz(struct strata_module *m, enum strata_byz byz);
/* btob's rounds that delivered something, and the messages they delivered (batching). */
void cons_btob_counts(const struct strata_module *m, uint64_t *rounds, uint64_t *messages);
/* The most decisions of later rounds btob held at once (its future buffer), and what it
 * dropped (messages and decisions over a bound). */
void cons_btob_future_counts(const struct strata_module *m, uint64_t *held_max,
			     uint64_t *dropped);
/* This process's broadcasts the links refused to a peer or held back behind one (owed), and
 * those sent again when the links had room; the ASKs it sent while idle, and the rounds it
 * delivered while behind the round f + 1 others said they are at (btob.c, on_probe). */
void cons_btob_link_counts(const struct strata_module *m, uint64_t *refused, uint64_t *resent,
			   uint64_t *asks, uint64_t *reached);
/* The next round btob delivers. */
uint64_t cons_btob_round(const struct strata_module *m);
/* When an upper that batches broadcasts what it holds (btob.c): HOLD; OWN (the order is idle:
 * at once, its own messages); ALL (this process is the sender of the next round to deliver:
 * what it holds for others too goes into that round); NEXT (overlapping rounds: this process
 * is the sender of a round after it that may be ordered while the rounds before it are, whose
 * messages are here: what it holds and those messages do not carry may go now). */
enum { BTOB_SEND_HOLD = 0, BTOB_SEND_OWN = 1, BTOB_SEND_ALL = 2, BTOB_SEND_NEXT = 3 };
int cons_btob_send_now(const struct strata_module *m, uint64_t idle_us);
/* Rounds with messages btob lets be in flight at once (1 by default, at most min(N, 16)). */
void cons_btob_set_overlap(struct strata_module *m, uint32_t rounds);
/* Calls fn with the payload (of upper instance inst) of every message held here undelivered
 * that its sender's next round orders (each sender's next ones held in a row); how many. */
size_t cons_btob_held(const struct strata_module *m, uint64_t inst,
		      void (*fn)(void *arg, const uint8_t *p, size_t len), void *arg);
/* Messages btob holds here undelivered (any sender, any instance). */
uint64_t cons_btob_unordered(const struct strata_module *m);
/* This process's own broadcasts not delivered here yet. */
uint64_t cons_btob_own_pending(const struct strata_module *m);
/* btob's deliveries to an upper (not the client adapter): a message that is the last of its
 * round carries the position after it in its struct strata_deliver's vc (vc_len = N + 1):
 * vc[0] the next round, vc[q] sender q's next sequence number; other deliveries vc = NULL. */
/* Resumes btob at `round` with next[1..N] (a checkpoint's position, above this process's):
 * 0, or STRATA_ESTATE when this process is there already. */
int cons_btob_resume(struct strata_module *m, uint64_t round, const uint64_t *next);
/* The decided log (btob.c): the delivered rounds below `round` are let go (the upper's stable
 * checkpoint covers them); the rounds kept, their bytes, and the answers bldc took from it. */
void cons_btob_keep_from(struct strata_module *m, uint64_t round);
void cons_btob_log_counts(const struct strata_module *m, uint64_t *rounds, size_t *bytes,
			  uint64_t *served);
/* Retires every instance of id's space up to id (the upper skipped them: a checkpoint): moves the
 * decided window's watermark there and lets go of the live instances below it. */
void cons_lower_skip(struct strata_module *lower, uint64_t id);
struct strata_module *cons_tob_cons_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_ltob_create(struct strata_node *n, char *err, size_t errlen);
/* Test-only broken variant: ltob delivers without logging its delivered windows and round (the
 * simulator's case that must catch it). */
void cons_ltob_test_unlogged(struct strata_module *m);
/* TEST ONLY: tob-consensus decides its own proposal at once instead of the first value tob
 * delivers (the simulation suite's broken variant). Never called by stratad. */
void cons_tob_cons_test_own(struct strata_module *m);
struct strata_module *cons_rbc_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_rcons_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_brcons_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY (brcons, the simulation suite's broken variants): relay an EST on k echoes instead
 * of f + 1; decide (and output) on k DECIDED instead of f + 1 and 2f + 1. Never called by
 * stratad. */
void cons_brcons_test_relay_at(struct strata_module *m, uint32_t k);
void cons_brcons_test_decided_at(struct strata_module *m, uint32_t k);
/* TEST ONLY (broken variant): a message the links refuse is lost, not owed and sent again; and
 * how many the links refused (owed). Never called by stratad. */
void cons_brcons_test_no_owed(struct strata_module *m);
uint64_t cons_brcons_test_owed(const struct strata_module *m);
/* TEST ONLY: the randomized modules (rbc, rcons) use a coin computed from `seed` by anyone who
 * knows it (a predictable coin) instead of the threshold coin. Never called by stratad. */
void cons_rb_test_seeded_coin(struct strata_module *m, uint64_t seed);
/* TEST ONLY: the randomized modules decide on more than `above` equal PHASE-2 values instead
 * of more than f (the simulation suite's broken variant). */
void cons_rb_test_decide_min(struct strata_module *m, uint32_t above);
/* The node's epoch-change module (ec.c), created on first use over the node's Omega; logged:
 * the fail-recovery variant (Alg. 5.8, module "lec"). */
struct strata_module *cons_ec_get(struct strata_node *n, bool logged, char *err, size_t errlen);
/* TEST ONLY: on its next recovery the logged epoch change forgets its promise (lastts) and
 * logged leader-driven consensus its accepted values: the simulation suite's broken variant. */
void cons_ec_test_forget(struct strata_module *ec);
/* TEST ONLY (broken variants): a NACK (ec, lec) or an ACK (uhier) the links refuse is lost, not
 * owed and sent again; and what the links refused of them and what came of it (links.h). */
struct strata_pl_owed_counts;
void cons_ec_test_no_owed(struct strata_module *ec);
void cons_ec_test_owed_counts(struct strata_module *ec, struct strata_pl_owed_counts *c);
void cons_uhier_test_no_owed(struct strata_module *uhier);
void cons_uhier_test_owed_counts(struct strata_module *uhier, struct strata_pl_owed_counts *c);
void cons_ldc_test_forget(struct strata_module *ldc);
/* TEST ONLY: on recovery logged leader-driven consensus does not indicate its decisions to the
 * upper modules again (the broken variant of sim_cons_lr's lldc-recovery-reannounce). */
void cons_ldc_test_no_reannounce(struct strata_module *ldc);

/* Byzantine leader-driven consensus (Alg. 5.19, bldc.c) over the node's Byzantine epoch change
 * (Alg. 5.15, bec.c; created on first use over bld, Alg. 2.10). */
struct strata_module *cons_bldc_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *cons_bec_get(struct strata_node *n, char *err, size_t errlen);
/* Strong Byzantine consensus (Alg. 5.20, sbc.c) over bldc. */
struct strata_module *cons_sbc_create(struct strata_node *n, char *err, size_t errlen);
/* TEST ONLY (the simulation suite's broken variant; never called by stratad): sbc installs no
 * validity predicate on bldc and checks no signature of a decided proposal set. */
void cons_sbc_test_trust(struct strata_module *sbc);
/* The largest proposal sbc accepts (N of them, signed, must fit one bldc value). */
size_t cons_sbc_value_max(const struct strata_module *sbc);
/* TEST ONLY: this node's sbc proposes a made-up proposal set to bldc (a Byzantine forger whose
 * bldc stays honest), and its own bldc takes it. Never called by stratad. */
void cons_sbc_test_forge(struct strata_module *sbc);
/* TEST ONLY: a predicate no value passes (the broken variant for the termination check: bldc
 * then never proposes nor writes). Never called by stratad. */
void cons_sbc_test_reject_all(struct strata_module *sbc);
/* TEST ONLY (broken variant): a PROPOSAL the links refuse is lost, not owed and sent again; and
 * how many PROPOSALs the links refused (owed). Never called by stratad. */
void cons_sbc_test_no_owed(struct strata_module *sbc);
uint64_t cons_sbc_test_owed(const struct strata_module *sbc);
/* bec's leader(ts) = (ts mod N) + 1, and its last started epoch. */
uint32_t cons_bec_leader(uint32_t n, uint64_t ts);
uint64_t cons_bec_epoch(const struct strata_module *bec);
/* TEST ONLY (broken variant): a NEWEPOCH the links refuse is lost, not owed and sent again. */
void cons_bec_test_no_owed(struct strata_module *bec);
uint64_t cons_bldc_epoch(const struct strata_module *bldc);
/* TEST ONLY (the simulation suite's broken variants; never called by stratad): bldc's epoch
 * consensus counts `quorum` WRITEs and ACCEPTs and uses it in sound() instead of more than
 * (N + f) / 2; its conditional collect verifies no signature. */
void cons_bldc_test_quorum(struct strata_module *bldc, uint32_t quorum);
void cons_bldc_test_no_sigcheck(struct strata_module *bldc);
/* TEST ONLY broken variant: WRITE and ACCEPT quorums are acted on with this process's own value
 * (the value it wrote, or its val) without checking that the quorum's digest is its digest. */
void cons_bldc_test_no_digest(struct strata_module *bldc);
/* TEST ONLY (broken variant): a client instance's first VALUE or DECIDED the links refuse is
 * lost, not owed and sent again; and how many the links refused (owed). Never called by
 * stratad. */
void cons_bldc_test_no_owed(struct strata_module *bldc);
uint64_t cons_bldc_test_owed(const struct strata_module *bldc);
/* TEST ONLY broken variants of one conditional collect per epoch (bldc.c): the epoch's bound is
 * ignored (a leader proposes directly, and a PROPOSE is written, on every instance); a
 * process's epoch STATE omits every instance it wrote or accepted in. */
void cons_bldc_test_bound_ignored(struct strata_module *bldc);
void cons_bldc_test_epoch_state_omits(struct strata_module *bldc);

/* Stable storage helpers of the logged algorithms. retrieve: 0, STRATA_ENOENT, or STRATA_EPROTO
 * for a damaged record. */
int cons_store_u64s(struct strata_node *n, const char *key, const uint64_t *v, size_t count);
int cons_retrieve_u64s(struct strata_node *n, const char *key, uint64_t *v, size_t count);
/* The decided window (low, high, bits) as one record, and back. */
int cons_tab_store(struct cons_tab *t, const char *key);
/* The decided window of instance space `space` (cons_tab_store is space 0's). */
int cons_tab_store_space(struct cons_tab *t, const char *key, uint64_t space);
int cons_tab_load_space(struct cons_tab *t, const char *key, uint64_t space);
/* Logged algorithms, upon Recovery: indicates again <Decide | v> to the upper of `space` for its
 * decided instances from CONS_CACHE below the window's watermark up (their decisions loaded
 * from stable storage; bounded by CONS_CACHE + CONS_WINDOW), in instance order. An upper takes
 * them idempotently (a round it has passed is ignored) and reads older ones on demand with
 * cons_lower_decided. Returns how many were indicated. */
unsigned cons_tab_reannounce(struct cons_tab *t, uint64_t space);

/* Messages of epochs this process has not started yet (leader-driven consensus, ldc.c and
 * bldc.c: an epoch-consensus message can overtake the StartEpoch indication of its epoch),
 * held until that epoch starts. Bounded: cap messages, and with per_peer > 0 at most per_peer
 * of one sender; over the bound the message of the earliest epoch (of that sender, with
 * per_peer) goes, the new one if it is the earliest: a later epoch is the likelier to start.
 * The entries are the caller's array of cap (e). */
struct cons_future_msg {
	uint32_t from;
	uint64_t instance, ets;
	struct strata_msg *msg; /* one reference */
};
struct cons_future {
	struct cons_future_msg *e;
	unsigned n, cap, per_peer;
	uint64_t dropped; /* messages let go over the bound */
};
/* Holds msg (a new reference); false when msg itself was the one let go. */
bool cons_future_add(struct cons_future *b, uint32_t from, uint64_t instance, uint64_t ets,
		     struct strata_msg *msg);
/* Epoch ets started: hands each held message of ets to fn (in arrival order, after the buffer
 * kept only the later epochs' ones) and lets go of those of earlier epochs. */
void cons_future_start(struct cons_future *b, uint64_t ets,
		       void (*fn)(void *arg, uint32_t from, uint64_t instance,
				  struct strata_msg *msg),
		       void *arg);
void cons_future_free(struct cons_future *b);
int cons_tab_load(struct cons_tab *t, const char *key);
/* Caches a decided value (a reference is taken). */
void cons_tab_cache(struct cons_tab *t, uint64_t id, struct strata_msg *v);
/* The decided value of a retired instance: from the cache, else from load_decided (a new
 * reference, or NULL). */
struct strata_msg *cons_tab_decided(struct cons_tab *t, uint64_t id);

/* TEST ONLY: makes leader-driven consensus's epoch consensus accept `quorum` STATE and ACCEPT
 * messages instead of a majority (the simulation suite's broken variant). Never called by
 * stratad. */
void cons_ldc_test_quorum(struct strata_module *ldc, uint32_t quorum);

#endif
