/* kv with `[smr] log = tob`: the KV state machine (kv_sm.c) fed by total-order broadcast
 * deliveries, the state-machine replication of the seed's Sect. 8.8 and of the book's Sect. 6.1.5
 * ("Replicated state machine"), faithful: every command is tob-broadcast (Alg. 6.1, module
 * tob, over erb and the config's `[tob] consensus`), and every replica applies the commands in
 * the order tob delivers them.
 *
 * Specification (the state machine's, seen by clients; the same client interface as the default
 * log, log.c: put, get, del, cas, range, the RESP commands, sessions):
 *   Linearizability  every put, del, cas and (default) get or range takes effect atomically at
 *                    one point between its invocation and its response.
 *   Exactly once     a write is applied at most once per (session, seq), however often it is
 *                    retried at one node or another.
 *   Serializable get (flag) reads this replica's applied state: possibly stale, never torn.
 * What the replicas get from tob (Module 6.1 with a uniform consensus, Sect. 6.1.4):
 *   SM1 Agreement/order  every replica applies the same commands in the same order (uniform
 *                    total order: also a replica that crashed applied a prefix of that order).
 *   SM2 Validity     a command broadcast by a correct replica is applied by every correct one.
 *   SM3 No creation, no duplication  a command is applied once, and only if a client sent it.
 *
 * Algorithm. The seed's Sect. 8.8 and the book's Sect. 6.1.5:
 *   upon <sm, Execute | command> (a client request at this replica):
 *       trigger <tob, Broadcast | [self, request id, command]>;
 *   upon <tob, Deliver | p, [q, id, command]>:
 *       (state, result) := apply(state, command);
 *       if q = self then answer the client's request id with result;
 * Every applied change is streamed to `kv watch` subscribers and kept in the state machine's
 * revision history for `kv watch --from`, as the default log does (reads.c: smr_emit_changes,
 * smr_reply_history); the BFT KV does not offer watch.
 * A write is answered by the replica that received it, when that replica applies it. A
 * linearizable read goes through the total order too: the replica tob-broadcasts a read
 * marker [self, id] (a no-op command) and answers from its state when it delivers the marker,
 * so the read takes effect at the marker's place in the order. That place lies between the
 * read's invocation and its response: the marker exists only after the invocation, and with a
 * uniform consensus no round that any process decided before can contain it (a decision is
 * final before anyone delivers it), so every write answered before the read was invoked is
 * ordered before the marker. This is why `[smr] log = tob` needs a uniform consensus under tob
 * (ldc, uflood or uhier): over a regular one (flood, hier) a replica may answer a write from a
 * decision that the surviving replicas then decide differently, and the write is lost. A
 * serializable get reads the local state at once.
 *
 * Model: that of tob and its consensus, crash-stop: fail-noisy with ldc (N > 2f), fail-stop with
 * uflood or uhier. Nothing is stored: tob 6.1 is a crash-stop algorithm, and a replica that
 * crashed has lost its state. A node that restarts (its INIT says recovering) is a new process
 * that takes no part: its kv refuses requests with a clear error (the default log, log.c, is the
 * crash-recovery path; ltob, Alg. 6.12, would be this path's). Durability is therefore that of
 * crash-stop: an answered write survives as long as one correct replica does.
 *
 * Costs per command: one tob broadcast (O(N^2) messages of erb) and a share of one consensus per
 * tob batch (tob proposes every unordered message at once); a linearizable read the same (its
 * marker); a serializable read none.
 *
 * `[smr] log = bft-tob`: the same replicas with the client protocol of a Byzantine
 * fault-tolerant KV (bft.c: signed replies, the client's f + 1 vote). The client sends every
 * request, reads too, to every replica with its session and a fresh sequence number. One
 * replica, designated by (session, seq), tob-broadcasts it at once (a write as a command, a read
 * as a marker naming (session, seq)); every other replica holds it and broadcasts its own copy
 * only if the request is still unanswered `[fd] timeout_ms` later (the fallback: a Byzantine,
 * slow or cut-off designated replica delays a request, it cannot censor it). Every replica
 * answers the request it holds when it delivers the first copy of (session, seq), from any
 * replica: a write with its result (a later copy is a duplicate the session table answers with
 * the same result), a read from the state at that place. Correct replicas deliver the copies in
 * one order, so those that held the request by then answer the same, signed; a replica whose
 * copy of the request came after that place answers at its own copy (still inside the
 * operation's interval), and the client waits for f + 1 equal answers. Requests without a
 * session or sequence number are refused (every replica must see the same). Bundles: the
 * requests one event-loop turn puts into the order go out as one broadcast ([count][entry]...,
 * at most BUNDLE_MAX entries and one tob message; STRATA_EV_TURN_END), so the order signs and
 * verifies one message per bundle (btob), not per request. Over btob a replica holds the
 * requests it gets while the order is busy, and the sender of the next round to deliver
 * bundles every request it holds, any replica's share, when the round before it is delivered
 * (bundle_due, cons_btob_send_now): a request waits for the next round instead of its
 * designated replica's (every N-th), and a round orders one message. Why a request still goes
 * into the order once: that sender's earlier rounds are delivered (what they ordered is
 * answered and dropped here), and the other replicas hold theirs until its round is delivered;
 * a copy ordered twice anyway (a late or idle-order flush) is applied once, as a fallback copy
 * is. An idle order sends each replica's own share at once, as before; a silent round sender
 * delays the others by idle_us ([fd] timeout_ms / 25), after which their messages make its
 * round MISSING. Overlapping rounds (`[smr] bft_overlap` = 2; default 1, off): the sender
 * of the round after the next one may bundle while that one is decided (BTOB_SEND_NEXT),
 * leaving out what a message the order holds carries (bundle_due below says why nothing is
 * lost). Only when and by whom a request is broadcast changes; what a delivered entry
 * must carry and how it is checked do not, so safety rests on the checks below as before. Costs: one copy of a command in the
 * order while the designated replica is correct and quick (N copies at worst), one signature per
 * reply, one client signature checked per request at each replica (on arrival; the ordered copy
 * is checked again only where its digest and auth bytes are not those already checked, e.g. at
 * a replica that never got the request from the client). Signed client requests (bft.c): every
 * request carries the public key that owns its
 * session and its signature of the request's digest; a replica checks it before it orders the
 * request (else STRATA_EAUTH, counted in client_bad_requests), appends it to the command or read
 * marker it broadcasts, and every replica checks it again on delivery: a write whose signature
 * does not match the ordered command is skipped by every correct replica alike (counted in
 * kv_bft_unsigned), and a marker counts only with the signature of the read it names. So a
 * Byzantine replica can neither order a command no client sent, nor alter one, nor preempt a
 * client's next sequence number; it can re-order a genuine signed request (the session table
 * applies it once while the session is kept: a session evicted from the bounded table could
 * have an old write replayed). NOT Byzantine-safe with `bft-tob`: tob 6.1 and its consensus are
 * crash-stop algorithms, so a replica that lies inside the order (forged or withheld consensus
 * messages) is outside this mode's model; only replicas that lie to clients or forge commands
 * are tolerated (tests/sim/sim_btob_kv.c).
 * `[smr] log = btob` is the same BFT client protocol over Byzantine total-order broadcast
 * (Alg. 6.2, src/cons/btob.c) instead of tob: the order no longer trusts any replica's
 * messages (signed, decisions checked; btob stands on Byzantine consensus, bldc, so this log
 * runs on fail-arbitrary clusters only; tests/integration/test_bft_kv_live.sh). Over btob a
 * replica that restarted (nothing is stored) or fell behind what the others still hold for it
 * rejoins through a certified snapshot (bft_ckpt.c: checkpoints at round ends carry the order's
 * position; one replica serves the snapshot, its SHA-256 must be the certified digest): the
 * state, the applied index and btob's round are installed at once (tkv_install), then the order
 * goes on from the round after the checkpoint. A restarted replica refuses client requests
 * (STRATA_ESTATE, "catching up") until it holds the stable checkpoint's state.
 *
 * Bounds: at most `[smr] pending_max` requests per node (beyond: STRATA_EFULL "busy, retry"),
 * holding at most SMR_PEND_BYTES of commands (the pending table, pend.c); a request unanswered
 * after `[smr] request_timeout_ms` gets STRATA_ETIMEDOUT ("the outcome is unknown"); tob refuses a
 * broadcast when its unordered set is full (busy, retry); a command must fit one tob message (tob's
 * payload bound, below `[links] max_value`); the state machine's session table is bounded by
 * sessions_max; bft: a pending request keeps its encoded command with its auth (a write's bytes
 * count in SMR_PEND_BYTES, a read's marker is about 130 bytes plus an auth of 96 to
 * SMR_BFT_AUTH_MAX bytes: a signature alone or a request envelope's, bft.c), the verified envelope
 * roots are a ring of SMR_BFT_SEEN (struct smr_bft_seen), and one bundle of at most BUNDLE_MAX
 * entries and one tob message is open per turn. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "smr/smr.h"

#define NAME "kv"
#define TICK_US 100000ull
#define T_TICK 1
#define T_CKPT 2 /* btob: the checkpointer's tick (snapshot fetch, budgets) */
#define T_HOLD 3 /* btob: a held bundle goes out at the latest now */
#define BUNDLE_MAX 256u     /* bft: requests in one broadcast at most */
#define BUNDLE_OVERHEAD 20u /* bft: a bundle's count and one entry's length */

enum { K_GET = SMR_REQ_GET, K_PUT = SMR_REQ_PUT, K_DEL = SMR_REQ_DEL, K_CAS = SMR_REQ_CAS,
       K_RANGE = SMR_REQ_RANGE };

/* A pending client request: the table's record (pend.c) and the BFT client's fields. */
struct tpend {
	struct smr_pend c; /* the request, its id and deadline; bft: the command or marker with
			    * its auth not yet broadcast (cmd) */
	uint32_t hnext; /* bft: the next slot + 1 in this one's (session, seq) bucket, 0 = none */
	uint8_t rdig[SMR_BFT_DIGEST_LEN]; /* bft: the digest the client signed (verified here) */
	uint64_t fallback_us;   /* bft: when this replica broadcasts cmd if still unanswered */
	bool verified;          /* bft: rdig and cmd's auth were checked on arrival */
	bool rdig_is_cmd;       /* bft: rdig is write_digest of cmd's command (same op, no limit) */
	uint16_t alen;          /* bft: the length of the auth bytes that end cmd */
	bool sent;              /* bft: cmd went to the order (at once or as the fallback) */
};

struct tkv {
	struct strata_module m;
	struct strata_node *node;
	const struct strata_config *cfg;
	uint32_t self;
	struct bcast_lower tob;
	struct smr_kv *sm;
	uint64_t applied; /* commands delivered and applied (the state machine's index) */
	struct smr_pend_table pend; /* of struct tpend */
	uint64_t timeout_us;
	uint64_t fallback_us; /* bft: a non-designated replica orders its copy this late */
	struct strata_timer tick;
	bool ticking;
	bool restarted; /* a recovered node: a new process without the state (see above) */
	bool bft;       /* `[smr] log = bft-tob`: the BFT client protocol (see above) */
	uint32_t *hidx; /* bft: buckets of pending requests by (session, seq): slot + 1, 0 = empty */
	uint32_t hmask;
	unsigned broken;
	uint64_t commands, reads, busy;
	uint64_t unsigned_cmds; /* bft: ordered commands skipped, their client signature bad */
	/* The space quota (`[smr] quota_bytes`; docs/smr.md "The space quota"), the BFT KV's at
	 * most smr_bft_quota_max. Decided at apply: a delivered write that would take the state
	 * past it is applied as the refusal's marker instead. quota_rejects counts them. */
	uint64_t quota, quota_rejects;
	uint64_t fallbacks;     /* bft: copies a non-designated replica ordered (fallback) */
	/* bft: the requests this turn put into the order, broadcast as one bundle at the turn's
	 * end: [count][bytes entry]..., an entry is a command or marker with its client's auth. */
	struct strata_wr bundle;
	uint32_t nbundle;
	struct {
		uint64_t id; /* the pending request (0: a forged command, TEST ONLY) */
		bool fresh;  /* its first broadcast (refused: answered busy); else a fallback */
	} bundle_ids[BUNDLE_MAX];
	uint64_t bundles, bundled; /* bundles broadcast, and the entries in them */
	/* btob: the requests this replica holds, in arrival order (ids; answered or sent ones are
	 * dropped lazily) until bundle_due sends them (collect): its own share at most
	 * hold_max_us after the first of them came (own_since_us). */
	uint64_t *wq;
	uint32_t nwq;
	bool own_waiting;
	uint64_t own_since_us, hold_max_us, idle_us;
	struct strata_timer holdt;
	bool hold_over; /* holdt fired: the held requests go out at this turn's end */
	uint64_t taken; /* requests of another replica's share this one put in its bundles */
	/* btob, overlapping rounds ([smr] bft_overlap): bundles sent while the rounds before
	 * were being decided, and the requests in messages the order holds undelivered (their
	 * (session, seq << 1 | read) tags, sorted; not bundled again), as of the order's round
	 * and held count xround, xnun. */
	uint64_t early;
	uint64_t left_out, left_out_bad; /* TEST ONLY (check_left_out): checked, not held */
	bool test_left_out;
	struct xtag {
		uint64_t session, sr;
	} *xt;
	uint32_t nxt, xt_cap;
	uint64_t xround, xnun;
	uint64_t rounds, ordered;  /* btob rounds that delivered, and the bundle entries ordered */
	struct smr_ckpt *ck;    /* bft: signed checkpoints (bft_ckpt.c), NULL otherwise */
	struct smr_bft_replies *env; /* bft: this turn's replies, signed once (bft_reply.c) */
	struct smr_bft_seen seen;    /* bft: request envelope roots verified (bft.c) */
	/* btob: checkpoints at round ends (the resume position), snapshot fetch and rejoining. */
	bool over_btob;
	bool joining;           /* restarted without state: no requests until a snapshot or the
				 * order brought it to the stable checkpoint */
	uint64_t ckpt_next;     /* the next checkpoint: the first round end at or past this */
	struct strata_timer ckt;
	uint64_t ckt_us;
};

#define TKV(mod) ((struct tkv *)(mod))

static uint32_t designated(const struct tkv *k, uint64_t session, uint64_t seq);

static struct tpend *pend_at(const struct tkv *k, uint32_t slot)
{
	return (struct tpend *)k->pend.rec + slot;
}

static struct tpend *pend_find(const struct tkv *k, uint64_t id)
{
	return (struct tpend *)smr_pend_find(&k->pend, id);
}

static uint32_t bucket(const struct tkv *k, uint64_t session, uint64_t seq)
{
	uint64_t h = (session ^ (seq * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	return (uint32_t)(h >> 32) & k->hmask;
}

/* bft: the pending request of (session, seq) here (reads and writes apart), or NULL. */
static struct tpend *pend_by_tag(struct tkv *k, uint64_t session, uint64_t seq, bool read)
{
	for (uint32_t at = k->hidx[bucket(k, session, seq)]; at; at = pend_at(k, at - 1)->hnext) {
		struct tpend *p = pend_at(k, at - 1);
		bool p_read = p->c.kind == K_GET || p->c.kind == K_RANGE;
		if (p->c.session == session && p->c.seq == seq && p_read == read)
			return p;
	}
	return NULL;
}

/* How the (session, seq) index names p: its slot + 1. */
static uint32_t tag_ref(const struct tkv *k, const struct tpend *p)
{
	return (uint32_t)(p - pend_at(k, 0)) + 1;
}

static void tag_link(struct tkv *k, struct tpend *p)
{
	uint32_t *head = &k->hidx[bucket(k, p->c.session, p->c.seq)];
	p->hnext = *head;
	*head = tag_ref(k, p);
}

static void tag_unlink(struct tkv *k, struct tpend *p)
{
	uint32_t *at = &k->hidx[bucket(k, p->c.session, p->c.seq)], self = tag_ref(k, p);
	while (*at && *at != self)
		at = &pend_at(k, *at - 1)->hnext;
	if (*at)
		*at = p->hnext;
}

static void pend_free(struct tkv *k, struct tpend *p)
{
	if (k->bft && p->hnext != UINT32_MAX)
		tag_unlink(k, p);
	smr_pend_free(&k->pend, &p->c);
}

static void reply(struct tkv *k, struct tpend *p, int status, uint64_t flags, const void *data,
		  size_t len, uint64_t revision, const char *text)
{
	struct smr_bft_tag tag = { p->c.session, p->c.seq, k->env };
	smr_pend_reply(&k->m, &p->c, status, flags, data, len, revision, text,
		       k->bft ? &tag : NULL);
	pend_free(k, p);
}

static void serve_read(struct tkv *k, struct tpend *p)
{
	struct smr_bft_tag tag = { p->c.session, p->c.seq, k->env };
	smr_pend_serve_read(&k->m, k->sm, &p->c, k->bft ? &tag : NULL);
	pend_free(k, p);
}

/* ---- upon <tob, Deliver | p, [q, id, command]> ---- */

/* The answer to this replica's own request, from the command's result (as log.c answers). */
static void answer(struct tkv *k, struct tpend *p, const struct smr_cmd *c,
		   const struct smr_result *res)
{
	if (res->status == STRATA_ESTATE)
		reply(k, p, STRATA_ESTATE, 0, NULL, 0, res->revision, "compare failed");
	else if (res->status == STRATA_ENOSPACE) {
		char text[200];
		smr_quota_text(smr_kv_bytes(k->sm), k->quota, text, sizeof(text));
		reply(k, p, STRATA_ENOSPACE, 0, NULL, 0, 0, text);
	} else if (res->status == STRATA_EINVAL && c->type == SMR_CMD_INCR)
		reply(k, p, STRATA_EINVAL, 0, NULL, 0, res->revision,
		      "value is not an integer or out of range");
	else if (c->type == SMR_CMD_INCR) {
		char num[24];
		int len = snprintf(num, sizeof(num), "%lld", (long long)res->num);
		reply(k, p, res->status, STRATA_REPLY_FOUND, num, (size_t)len, res->revision, NULL);
	} else if (c->type == SMR_CMD_GETSET)
		reply(k, p, res->status, res->old ? STRATA_REPLY_FOUND : 0,
		      res->old ? res->old->data : NULL, res->old ? res->old->len : 0, res->revision,
		      NULL);
	else
		reply(k, p, res->status, res->num ? STRATA_REPLY_FOUND : 0, NULL, 0, res->revision,
		      NULL);
}

/* bft: the digest a client signed for the write command c (as tkv_request builds it). */
static void write_digest(uint8_t out[SMR_BFT_DIGEST_LEN], const struct smr_cmd *c)
{
	struct smr_bft_req r = {
		.session = c->session, .seq = c->seq,
		.op = c->type == SMR_CMD_DEL ? STRATA_OP_DELETE
		      : c->type == SMR_CMD_CAS ? STRATA_OP_CAS : STRATA_OP_WRITE,
		.type = c->type,
		.key = c->key, .key_len = c->key_len,
		.val = c->val, .val_len = c->val_len,
		.val2 = c->val2, .val2_len = c->val2_len,
	};
	smr_bft_request_digest(out, &r);
}

/* bft: whether the ordered request (its digest dig, its auth bytes) is the one p holds, whose
 * signature this replica verified when the client's request arrived. */
static bool same_request(const struct tpend *p, const uint8_t dig[SMR_BFT_DIGEST_LEN],
			 const uint8_t *auth, size_t alen)
{
	return p && p->verified && p->c.cmd && auth && alen == p->alen && p->c.cmd->len >= alen &&
	       memcmp(p->rdig, dig, SMR_BFT_DIGEST_LEN) == 0 &&
	       memcmp(p->c.cmd->data + p->c.cmd->len - alen, auth, alen) == 0;
}

/* bft: whether the ordered write c with its auth bytes is, field for field, the command p holds
 * (its own encoding of the client's request) with the same auth bytes, and p's digest is that
 * command's write_digest: then write_digest(c) equals p->rdig and same_request holds, without
 * hashing the command again (the digest is a function of exactly these fields). */
static bool same_command(const struct tpend *p, const struct smr_cmd *c, const uint8_t *auth,
			 size_t alen)
{
	if (!p || !p->verified || !p->rdig_is_cmd || !p->c.cmd || !auth || alen != p->alen ||
	    p->c.cmd->len < alen || memcmp(p->c.cmd->data + p->c.cmd->len - alen, auth, alen) != 0)
		return false;
	struct strata_rd rd;
	strata_rd_init(&rd, p->c.cmd->data, p->c.cmd->len - alen);
	struct smr_cmd h;
	if (smr_cmd_decode(&rd, &h) != 0)
		return false;
	return h.type == c->type && h.session == c->session && h.seq == c->seq &&
	       h.key_len == c->key_len && h.val_len == c->val_len && h.val2_len == c->val2_len &&
	       (!h.key_len || memcmp(h.key, c->key, h.key_len) == 0) &&
	       (!h.val_len || memcmp(h.val, c->val, h.val_len) == 0) &&
	       (!h.val2_len || memcmp(h.val2, c->val2, h.val2_len) == 0);
}

/* bft: a client signature check (alone or an envelope's, bft.c), its Ed25519 verifications
 * counted in sig_verified (a remembered envelope root costs none). */
static bool request_verify(struct tkv *k, uint64_t session, const uint8_t dig[SMR_BFT_DIGEST_LEN],
			   const uint8_t *auth, size_t alen)
{
	uint64_t v0 = k->seen.verified;
	bool ok = smr_bft_request_verify(session, dig, auth, alen, &k->seen,
					 (k->broken & SMR_BROKEN_BFT_ENV_UNBOUND) != 0);
	strata_node_counters(k->node)->sig_verified += k->seen.verified - v0;
	return ok;
}

static void on_deliver_one(struct tkv *k, uint32_t origin, const uint8_t *data, size_t len)
{
	/* bft: every command and read marker is followed by its client's auth (public key and
	 * signature, or a request envelope's: bft.c), the rest of the entry. */
	struct strata_rd rd;
	strata_rd_init(&rd, data, len);
	struct smr_cmd c;
	int drc = smr_cmd_decode(&rd, &c);
	size_t alen = drc == 0 && k->bft ? len - rd.off : 0;
	const uint8_t *auth = alen ? data + rd.off : NULL;
	if (drc != 0 || (k->bft && (alen < SMR_BFT_AUTH_LEN || alen > SMR_BFT_AUTH_MAX)) ||
	    (!k->bft && strata_rd_done(&rd) != 0) || c.origin != origin) {
		/* tob delivers what a replica broadcast: only a broken peer gets here. */
		strata_node_bad_payload(k->node, &k->m, origin, "kv (tob): malformed command");
		return;
	}
	bool check = k->bft && !(k->broken & SMR_BROKEN_BFT_UNSIGNED);
	bool marker = c.type == SMR_CMD_NOOP;
	/* bft: the request this replica holds for (session, seq), if any. */
	struct tpend *p = k->bft && c.session && !k->restarted
				  ? pend_by_tag(k, c.session, c.seq, marker)
				  : NULL;
	if (check && !marker) {
		/* A write is applied only with its client's signature: a Byzantine replica cannot
		 * order a command the client did not send, nor alter one. Every correct replica
		 * decides this alike, from the delivered bytes alone (a request it verified on
		 * arrival, the same digest and auth bytes, is not verified again: same answer). */
		uint8_t dig[SMR_BFT_DIGEST_LEN];
		bool same = same_command(p, &c, auth, alen);
		if (!same)
			write_digest(dig, &c);
		if (!c.session ||
		    (!same && !same_request(p, dig, auth, alen) &&
		     !request_verify(k, c.session, dig, auth, alen))) {
			k->unsigned_cmds++;
			strata_node_bad_payload(k->node, &k->m, origin,
						"kv (bft): an ordered command without its client's "
						"signature, skipped");
			return;
		}
	}
	/* The space quota, decided here: no leader can refuse a write before the order (every
	 * replica broadcasts its own clients' writes), so a delivered write that could take the
	 * state past the quota is applied as the refusal's marker: the same decision at every
	 * replica (the same state, the same command, the same quota), kept in the write's session
	 * so every copy of it gets it; nothing changes. */
	uint64_t grow = k->quota ? smr_cmd_growth(&c) : 0, held = smr_kv_bytes(k->sm);
	if (grow > 0 && !(k->broken & SMR_BROKEN_QUOTA_UNCHECKED) &&
	    (held > k->quota || grow > k->quota - held)) {
		c.type = SMR_CMD_REFUSED;
		k->quota_rejects++;
	}
	k->applied++;
	struct smr_result res;
	uint64_t rev0 = smr_kv_revision(k->sm);
	if (smr_kv_apply(k->sm, k->applied, &c, &res) != 0)
		STRATA_ASSERT(0 && "kv: state machine out of memory"); /* cannot stay consistent */
	if (smr_kv_revision(k->sm) > rev0)
		smr_emit_changes(&k->m, k->sm, rev0 + 1); /* `kv watch`, as log.c does */
	if (k->ck && !k->restarted && !k->over_btob)
		smr_ckpt_applied(k->ck, k->applied, k->sm, NULL);
	if (k->bft && c.session && !k->restarted) {
		/* Every replica answers the client's copy of the request it holds, at the first
		 * copy (any replica's) of (session, seq) it delivers: the same place in the order
		 * at every correct replica that held the request by then. */
		/* A marker counts only with the client's signature of the read it holds here. */
		if (p && marker) {
			if (!check || same_request(p, p->rdig, auth, alen) ||
			    request_verify(k, c.session, p->rdig, auth, alen))
				serve_read(k, p);
		} else if (p) {
			answer(k, p, &c, &res);
		}
	} else if (c.origin == k->self && !k->restarted && !k->bft) {
		struct tpend *q = pend_find(k, c.origin_id);
		if (q && (q->c.kind == K_GET || q->c.kind == K_RANGE) && c.type == SMR_CMD_NOOP)
			serve_read(k, q); /* the read marker: the read takes effect here */
		else if (q && q->c.kind != K_GET && q->c.kind != K_RANGE &&
			 c.type != SMR_CMD_NOOP && q->c.session == c.session && q->c.seq == c.seq)
			answer(k, q, &c, &res);
	}
	strata_msg_unref(res.old);
}

/* upon <tob, Deliver | p, m>: one command (tob), or a bundle of them (bft). */
static void on_deliver(struct tkv *k, const struct strata_deliver *d)
{
	if (!k->bft) {
		on_deliver_one(k, d->origin, d->data, d->len);
		return;
	}
	struct strata_rd rd;
	strata_rd_init(&rd, d->data, d->len);
	uint64_t count = strata_rd_u64(&rd);
	if (!strata_rd_ok(&rd) || count == 0 || count > BUNDLE_MAX) {
		strata_node_bad_payload(k->node, &k->m, d->origin, "kv (bft): malformed bundle");
		return;
	}
	for (uint64_t i = 0; i < count; i++) {
		const uint8_t *e;
		size_t elen = strata_rd_bytes(&rd, &e, SIZE_MAX);
		if (!strata_rd_ok(&rd)) {
			/* Every correct replica stops at the same entry (the same bytes). */
			strata_node_bad_payload(k->node, &k->m, d->origin,
						"kv (bft): malformed bundle entry");
			return;
		}
		k->ordered++;
		on_deliver_one(k, d->origin, e, elen);
	}
}

/* bft: broadcasts this turn's bundle (at the turn's end, or when the next entry would not fit).
 * A request whose first broadcast the order refuses is answered busy, as before bundling; a
 * fallback copy stays unsent and is tried again at the next tick. */
static void bundle_flush(struct tkv *k)
{
	if (!k->nbundle)
		return;
	struct strata_wr w;
	strata_wr_init(&w, k->bundle.len + 10);
	strata_wr_u64(&w, k->nbundle);
	strata_wr_raw(&w, k->bundle.buf, k->bundle.len);
	int rc = w.err ? w.err : bcast_broadcast(&k->tob, w.buf, w.len);
	strata_wr_free(&w);
	if (rc == 0) {
		k->bundles++;
		k->bundled += k->nbundle;
	}
	uint32_t nids = k->nbundle;
	k->nbundle = 0;
	strata_wr_free(&k->bundle);
	strata_wr_init(&k->bundle, bcast_payload_max(&k->tob));
	for (uint32_t i = 0; i < nids; i++) {
		struct tpend *p = pend_find(k, k->bundle_ids[i].id);
		if (!p)
			continue;
		if (rc == 0) {
			continue;
		} else if (k->bundle_ids[i].fresh) {
			if (rc == STRATA_EFULL)
				k->busy++;
			char text[120];
			snprintf(text, sizeof(text), "%s: tob refused the command (%s)%s",
				 rc == STRATA_EFULL ? "busy" : "kv", strata_strerror(rc),
				 rc == STRATA_EFULL ? ", retry" : "");
			reply(k, p, rc, 0, NULL, 0, 0, text);
		} else {
			p->sent = false; /* again at the next tick */
			p->fallback_us = strata_now_us(k->node);
		}
	}
}

/* bft: adds one entry (a command or marker with its auth) to this turn's bundle. */
static void bundle_add(struct tkv *k, const uint8_t *e, size_t len, uint64_t id, bool fresh)
{
	if (k->nbundle == BUNDLE_MAX ||
	    k->bundle.len + len + BUNDLE_OVERHEAD > bcast_payload_max(&k->tob))
		bundle_flush(k);
	strata_wr_bytes(&k->bundle, e, len);
	k->bundle_ids[k->nbundle].id = id;
	k->bundle_ids[k->nbundle].fresh = fresh;
	k->nbundle++;
	strata_node_at_turn_end(&k->m);
}

/* btob: holds a request (its id) until collect puts it in a bundle or it is answered. Every
 * pending request is in wq at most once, so dropping the answered and sent ones makes room. */
static void wq_push(struct tkv *k, uint64_t id)
{
	if (k->nwq == k->pend.cap) {
		uint32_t w = 0;
		for (uint32_t i = 0; i < k->nwq; i++) {
			const struct tpend *p = pend_find(k, k->wq[i]);
			if (p && !p->sent && p->c.cmd)
				k->wq[w++] = k->wq[i];
		}
		k->nwq = w;
	}
	STRATA_ASSERT(k->nwq < k->pend.cap);
	k->wq[k->nwq++] = id;
}

/* btob: whether the held requests go out at this turn's end, and whose (BTOB_SEND_*: none,
 * this replica's own share, or every request it holds). Over btob a replica's messages are
 * ordered only in its own rounds, every N-th, each round costs a consensus instance (about
 * 3N^2 datagrams) and each message a signature and N - 1 verifications; a request designated
 * to one replica waited for that replica's round, so a round carried about 1/N of the requests
 * in flight. So a replica holds what it gets while the order is busy, and the sender of the
 * next round to deliver puts every request it holds into one message when the round before
 * is delivered (cons_btob_send_now): every request waits for the next round, not for its own
 * replica's, and a round orders one message. Its earlier rounds are delivered, so what it
 * holds is not ordered yet (ordered requests are answered and dropped); the other replicas
 * hold theirs until that round is delivered, so a request goes into the order once (a copy
 * ordered twice is applied once: the session table). An idle order (nothing unordered and no
 * round delivered for idle_us) sends each replica's own share at once, as before holding; so
 * a silent, slow or cut-off round sender delays the others by idle_us, and its round is made
 * MISSING by theirs. At most hold_max_us after the first own request came, the own share goes
 * out whatever the order does (holdt). A fallback copy in the bundle goes out at once. Holding
 * and taking change only when a request is broadcast and by which replica (any replica may
 * already order any request it holds: the fallback); never what a bundle holds or how a
 * delivered one is checked.
 * Overlapping rounds ([smr] bft_overlap > 1; off by default: no gain was measured, docs/
 * consensus-byzantine.md): with one round at a time, the requests that come while round r is
 * decided wait for r's delivery. So the
 * sender of round r + 1 may bundle while round r is decided, once r's message is here
 * (BTOB_SEND_NEXT; btob lets bft_overlap rounds with messages be in flight and asks this
 * module to look at the turn's end when such a message arrives). A round sender (SEND_ALL or
 * SEND_NEXT) leaves out every request that a message the order holds undelivered carries
 * (xtag_refresh: each sender's next messages held here in a row, cons_btob_held): that
 * message is proposed in its sender's round with this request in it, so bundling it again
 * would only order it twice. The trigger: the round goes early once the requests it would
 * carry number at least half of those the held messages carry (a round costs one bldc
 * instance, a signature and N - 1 verifications whatever it carries; sent at the first new
 * request, rounds would alternate large and tiny), else at r's delivery as before. Why nothing
 * is lost: a request left out is in a held message M of sender q, next in q's window. If M is
 * decided in q's round, the request is ordered (and answered, dropped here). If q's round
 * decides MISSING or another value, M is either still q's next (proposed again N rounds
 * later: btob's validity for a correct q) or below q's next (let go here: the request is
 * bundled again by the next round sender); a Byzantine q that keeps M held without getting it
 * ordered delays the request until the fallback (timeout_ms, as a Byzantine designated
 * replica could before; every replica that holds it orders its copy). Ordered twice: only
 * what a held message carries is left out, so a request is ordered twice no more often than
 * before (a late or idle-order flush; applied once). TEST ONLY: check_left_out re-checks each
 * left-out request against the held messages; SMR_BROKEN_BFT_OVERLAP_SKIP shifts the tags to
 * the session's next request (sim_btob_kv, broken-overlap-left-out). */
static bool own_overdue(struct tkv *k);

static int bundle_due(struct tkv *k)
{
	if (k->hold_over || k->nbundle || !k->hold_max_us || own_overdue(k))
		return BTOB_SEND_OWN;
	return cons_btob_send_now(k->tob.m, k->idle_us);
}

/* btob: whether a request of this replica's own share has been held hold_max_us. own_since_us
 * is when the first of them came since the last collect; when that is overdue, the held ones
 * are looked at (others' rounds may have ordered them meanwhile: answered, or sent), and it
 * moves to the oldest one still held (it came fallback_us before its fallback time). */
static bool own_overdue(struct tkv *k)
{
	uint64_t now = strata_now_us(k->node);
	if (!k->own_waiting || now < k->own_since_us + k->hold_max_us)
		return false;
	bool any = false;
	uint64_t oldest = now;
	for (uint32_t i = 0; i < k->nwq; i++) {
		const struct tpend *p = pend_find(k, k->wq[i]);
		if (!p || p->sent || !p->c.cmd || designated(k, p->c.session, p->c.seq) != k->self)
			continue;
		any = true;
		if (p->fallback_us - k->fallback_us < oldest)
			oldest = p->fallback_us - k->fallback_us;
	}
	k->own_waiting = any;
	k->own_since_us = oldest;
	return any && now >= oldest + k->hold_max_us;
}

/* btob: the tags of the requests in the messages the order holds here undelivered, that their
 * senders' next rounds order (cons_btob_held): such a request is not bundled again by a round
 * sender (SEND_ALL, SEND_NEXT). Recomputed when the order's round or its held count changed
 * (a held message leaves only when a round is delivered; one arrives: the count grows). */
static int xtag_cmp(const void *a, const void *b)
{
	const struct xtag *x = a, *y = b;
	if (x->session != y->session)
		return x->session < y->session ? -1 : 1;
	return x->sr < y->sr ? -1 : x->sr > y->sr;
}

static void xtag_bundle(void *arg, const uint8_t *data, size_t len)
{
	struct tkv *k = arg;
	struct strata_rd rd;
	strata_rd_init(&rd, data, len);
	uint64_t count = strata_rd_u64(&rd);
	for (uint64_t i = 0; i < count && i < BUNDLE_MAX && strata_rd_ok(&rd); i++) {
		const uint8_t *e;
		size_t elen = strata_rd_bytes(&rd, &e, SIZE_MAX);
		struct strata_rd er;
		struct smr_cmd c;
		strata_rd_init(&er, e, elen);
		if (!strata_rd_ok(&rd) || smr_cmd_decode(&er, &c) != 0 || !c.session)
			continue; /* judged when delivered (on_deliver), not here */
		if (k->nxt == k->xt_cap) {
			uint32_t cap = k->xt_cap ? 2 * k->xt_cap : 256;
			struct xtag *xt = cap <= 16 * BUNDLE_MAX ? realloc(k->xt, cap * sizeof(*xt))
								 : NULL;
			if (!xt)
				return; /* beyond: not left out (at worst ordered twice, applied once) */
			k->xt = xt;
			k->xt_cap = cap;
		}
		bool rd_kind = c.type == SMR_CMD_NOOP;
		if (k->broken & SMR_BROKEN_BFT_OVERLAP_SKIP)
			c.seq++; /* TEST ONLY: the next request of the session left out instead */
		k->xt[k->nxt].session = c.session;
		k->xt[k->nxt].sr = c.seq << 1 | rd_kind;
		k->nxt++;
	}
}

static void xtag_refresh(struct tkv *k)
{
	uint64_t round = cons_btob_round(k->tob.m), nun = cons_btob_unordered(k->tob.m);
	if (round == k->xround && nun == k->xnun)
		return;
	k->xround = round;
	k->xnun = nun;
	k->nxt = 0;
	if (nun)
		(void)cons_btob_held(k->tob.m, k->tob.inst, xtag_bundle, k);
	if (k->nxt > 1)
		qsort(k->xt, k->nxt, sizeof(*k->xt), xtag_cmp);
}

/* Whether p's request is in a message the order holds (after xtag_refresh). */
static bool xtag_held(const struct tkv *k, const struct tpend *p)
{
	bool read = p->c.kind == K_GET || p->c.kind == K_RANGE;
	struct xtag key = { p->c.session, p->c.seq << 1 | read };
	return k->nxt && bsearch(&key, k->xt, k->nxt, sizeof(*k->xt), xtag_cmp) != NULL;
}

/* btob: how many held requests a round sender would bundle (not in a held message). */
static uint32_t collectable(struct tkv *k)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < k->nwq; i++) {
		const struct tpend *p = pend_find(k, k->wq[i]);
		if (p && !p->sent && p->c.cmd && !xtag_held(k, p))
			n++;
	}
	return n;
}

/* TEST ONLY (smr_tobkv_test_left_out): whether a request a round sender left out is carried
 * by a message the order holds, found again by a scan of btob's held messages of its own
 * (not the sorted tags): a sender that leaves out a request no held message carries delays it
 * to the fallback at every replica that does the same. */
struct left_out_scan {
	uint64_t session, seq;
	bool read, found;
};

static void left_out_one(void *arg, const uint8_t *data, size_t len)
{
	struct left_out_scan *q = arg;
	struct strata_rd rd;
	strata_rd_init(&rd, data, len);
	uint64_t count = strata_rd_u64(&rd);
	for (uint64_t i = 0; i < count && strata_rd_ok(&rd) && !q->found; i++) {
		const uint8_t *e;
		size_t elen = strata_rd_bytes(&rd, &e, SIZE_MAX);
		struct strata_rd er;
		struct smr_cmd c;
		strata_rd_init(&er, e, elen);
		if (strata_rd_ok(&rd) && smr_cmd_decode(&er, &c) == 0 && c.session == q->session &&
		    c.seq == q->seq && (c.type == SMR_CMD_NOOP) == q->read)
			q->found = true;
	}
}

static void check_left_out(struct tkv *k, const struct tpend *p)
{
	struct left_out_scan q = { p->c.session, p->c.seq,
				   p->c.kind == K_GET || p->c.kind == K_RANGE, false };
	(void)cons_btob_held(k->tob.m, k->tob.inst, left_out_one, &q);
	k->left_out++;
	if (!q.found)
		k->left_out_bad++;
}

/* btob: puts the held requests of this replica's share (all: every held request that no
 * message the order holds carries, xtag_refresh) into the bundle. */
static void collect(struct tkv *k, bool all)
{
	uint32_t w = 0;
	if (all)
		xtag_refresh(k);
	for (uint32_t i = 0; i < k->nwq; i++) {
		struct tpend *p = pend_find(k, k->wq[i]);
		if (!p || p->sent || !p->c.cmd)
			continue;
		uint32_t d = designated(k, p->c.session, p->c.seq);
		if (d != k->self && !all) {
			k->wq[w++] = k->wq[i];
			continue;
		}
		if (all && xtag_held(k, p)) { /* ordered with the message that carries it */
			if (k->test_left_out)
				check_left_out(k, p);
			k->wq[w++] = k->wq[i];
			continue;
		}
		p->sent = true; /* unless the bundle is refused (bundle_flush) */
		if (d != k->self)
			k->taken++;
		bundle_add(k, p->c.cmd->data, p->c.cmd->len, p->c.id, d == k->self);
	}
	k->nwq = w;
	k->own_waiting = false;
	k->hold_over = false;
	if (strata_timer_armed(&k->holdt))
		strata_timer_disarm(k->node, &k->holdt);
}

/* ---- upon <sm, Execute | command>: client requests ---- */

static void arm_tick(struct tkv *k)
{
	if (k->ticking)
		return;
	k->ticking = true;
	strata_timer_arm_in(k->node, &k->tick, TICK_US);
}

/* Test-only (a replica with the FORGE behaviour, the BFT KV): orders commands the client did
 * not send under its session, with the signature of the request it did send: the same
 * (session, seq) with another value, and the next seq writing that value. Correct replicas skip
 * both (on_deliver); a KV that does not check client signatures applies them. */
static void forge_commands(struct tkv *k, const struct smr_cmd *real, const uint8_t *auth,
			   size_t alen)
{
	char val[48];
	int len = snprintf(val, sizeof(val), "forged.%llu", (unsigned long long)real->seq);
	uint8_t zero[SMR_BFT_AUTH_LEN] = { 0 };
	for (int i = 0; i < 2; i++) {
		struct smr_cmd f = *real;
		f.type = SMR_CMD_PUT;
		f.seq = real->seq + (uint64_t)i;
		f.val = (const uint8_t *)val;
		f.val_len = (size_t)len;
		f.val2 = NULL;
		f.val2_len = 0;
		struct strata_wr w;
		strata_wr_init(&w, f.key_len + (size_t)len + SMR_CMD_OVERHEAD + SMR_BFT_AUTH_MAX);
		smr_cmd_encode(&w, &f);
		strata_wr_raw(&w, auth ? auth : zero, auth ? alen : SMR_BFT_AUTH_LEN);
		if (!w.err)
			bundle_add(k, w.buf, w.len, 0, false);
		strata_wr_free(&w);
	}
}

/* bft: the one replica that puts the request (session, seq) into the order at once. The others
 * hold it and put their own copy in only if it is still unanswered fallback_us later (a
 * Byzantine, slow or cut-off designated replica delays a request, it cannot censor it), so the
 * order carries one copy of a request instead of N. Spread over the replicas by (session, seq). */
static uint32_t designated(const struct tkv *k, uint64_t session, uint64_t seq)
{
	uint64_t h = (session ^ (seq * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	return (uint32_t)((h >> 33) % strata_node_n(k->node)) + 1;
}

static int tkv_request(struct strata_module *m, const struct strata_request *q)
{
	struct tkv *k = TKV(m);
	struct smr_bft_tag tagv = { q->session, q->seq, k->env };
	const struct smr_bft_tag *tag = k->bft ? &tagv : NULL;
	if (k->restarted)
		return smr_reject(
			&k->m, q->id, tag, STRATA_ESTATE,
			"kv ([smr] log = tob) is crash-stop: this node restarted and holds no "
			"state; start it with a new data directory in a new cluster, or use the "
			"default log");
	if (k->joining)
		return smr_reject(
			&k->m, q->id, tag, STRATA_ESTATE,
			"kv: this replica restarted without state and is catching up (a certified "
			"snapshot from a peer, then the order): retry, or ask another replica");
	if (q->op == STRATA_OP_HISTORY) {
		if (k->bft)
			return smr_reject(
				&k->m, q->id, tag, STRATA_EINVAL,
				"kv watch is not offered by the BFT KV ([smr] log = bft-tob)");
		return smr_reply_history(&k->m, k->sm, q); /* `kv watch --from` */
	}
	uint8_t kind;
	char why[200];
	int rc = smr_request_parse(q, &kind, why, sizeof(why));
	if (rc)
		return smr_reject(&k->m, q->id, tag, rc, "%s", why);
	bool is_read = kind == K_GET || kind == K_RANGE;
	size_t need = (is_read ? SMR_CMD_OVERHEAD
			       : q->key_len + q->value_len + q->value2_len + SMR_CMD_OVERHEAD) +
		      (k->bft ? SMR_BFT_AUTH_MAX + BUNDLE_OVERHEAD : 0);
	size_t tob_max = bcast_payload_max(&k->tob);
	if (need > tob_max)
		return smr_reject(
			&k->m, q->id, tag, STRATA_ETOOBIG,
			"key + values = %zu bytes: more than one tob message carries (%zu, "
			"from [links] max_value)",
			q->key_len + q->value_len + q->value2_len, tob_max - SMR_CMD_OVERHEAD);
	if (is_read && (q->flags & STRATA_REQ_SERIALIZABLE)) {
		if (kind == K_RANGE)
			smr_reply_range_tagged(&k->m, k->sm, q->id, q->key, q->key_len, q->value,
					       q->value_len, q->limit, tag);
		else
			smr_reply_get_tagged(&k->m, k->sm, q->id, q->key, q->key_len, tag);
		return 0;
	}
	if (k->bft && (q->session == 0 || q->seq == 0))
		return smr_reject(&k->m, q->id, tag, STRATA_EINVAL,
				  "the BFT KV needs a client session and sequence number on every "
				  "request, reads too (every replica must see the same)");
	uint8_t wtype = kind == K_PUT ? smr_put_type(q->flags) : kind == K_DEL ? SMR_CMD_DEL
										: SMR_CMD_CAS;
	struct smr_bft_req sreq = {
		.session = q->session, .seq = q->seq, .op = q->op,
		.type = is_read ? 0 : wtype, .limit = kind == K_RANGE ? q->limit : 0,
		.key = q->key, .key_len = q->key_len,
		.val = kind == K_DEL || kind == K_GET ? NULL : q->value,
		.val_len = kind == K_DEL || kind == K_GET ? 0 : q->value_len,
		.val2 = kind == K_CAS ? q->value2 : NULL, .val2_len = kind == K_CAS ? q->value2_len : 0,
	};
	uint8_t rdig[SMR_BFT_DIGEST_LEN] = { 0 };
	if (k->bft && !(k->broken & SMR_BROKEN_BFT_UNSIGNED)) {
		/* Signed client requests (bft.c): only the owner of the session's key pair can have
		 * a request ordered under it. */
		smr_bft_request_digest(rdig, &sreq);
		if (!request_verify(k, q->session, rdig, q->client_auth, q->client_auth_len)) {
			strata_node_counters(k->node)->client_bad_requests++;
			return smr_reject(
				&k->m, q->id, tag, STRATA_EAUTH,
				"the BFT KV takes only requests signed with the key pair that "
				"owns their session (client_auth): %s",
				q->client_auth ? "the signature or the session does not match"
					       : "this one is unsigned");
		}
	}
	if (k->bft && pend_by_tag(k, q->session, q->seq, is_read))
		return smr_reject(&k->m, q->id, tag, STRATA_EINVAL,
				  "session %llu seq %llu is pending here already",
				  (unsigned long long)q->session, (unsigned long long)q->seq);
	char busy[100];
	struct tpend *p = (struct tpend *)smr_pend_alloc(&k->pend, need, busy, sizeof(busy));
	if (!p) {
		k->busy++;
		return smr_reject(&k->m, q->id, tag, STRATA_EFULL, "%s", busy);
	}
	p->c.rid = q->id;
	p->c.kind = kind;
	p->hnext = UINT32_MAX; /* not in the (session, seq) index (yet) */
	p->c.deadline_us = strata_now_us(k->node) + k->timeout_us;
	struct smr_cmd c = { .type = SMR_CMD_NOOP, .origin = k->self, .origin_id = p->c.id };
	if (is_read) {
		if (smr_pend_read_args(&p->c, q)) {
			pend_free(k, p);
			return STRATA_ENOMEM;
		}
		if (k->bft) { /* the read marker names the client's request */
			p->c.session = c.session = q->session;
			p->c.seq = c.seq = q->seq;
			memcpy(p->rdig, rdig, sizeof(rdig));
		}
		/* The broken variant answers a linearizable read from the local state, outside
		 * the total order: a replica behind the others returns a stale value. */
		if (k->broken & SMR_BROKEN_READ_NO_ROUND) {
			serve_read(k, p);
			return 0;
		}
	} else {
		smr_pend_write_session(&p->c, q, k->node, !k->bft);
		c.type = wtype;
		c.session = p->c.session;
		c.seq = p->c.seq;
		c.key = q->key;
		c.key_len = q->key_len;
		c.val = kind == K_DEL ? NULL : q->value;
		c.val_len = kind == K_DEL ? 0 : q->value_len;
		c.val2 = kind == K_CAS ? q->value2 : NULL;
		c.val2_len = kind == K_CAS ? q->value2_len : 0;
		smr_pend_hold(&k->pend, &p->c, need);
	}
	if (k->bft)
		tag_link(k, p);
	if (k->bft && !is_read && strata_node_byz(k->node) == STRATA_BYZ_FORGE)
		forge_commands(k, &c, q->client_auth, q->client_auth_len);
	struct strata_wr w;
	strata_wr_init(&w, need + 16);
	smr_cmd_encode(&w, &c);
	if (k->bft)
		strata_wr_raw(&w, q->client_auth ? q->client_auth : (const uint8_t *)"",
			      q->client_auth ? q->client_auth_len : 0);
	rc = w.err;
	if (!rc && k->bft) { /* kept for the fallback, and for same_request */
		memcpy(p->rdig, rdig, sizeof(rdig));
		p->verified = !(k->broken & SMR_BROKEN_BFT_UNSIGNED);
		/* write_digest's fields: the op its command type gives, no limit */
		p->rdig_is_cmd = !is_read && sreq.limit == 0 &&
				 sreq.op == (wtype == SMR_CMD_DEL   ? STRATA_OP_DELETE
					     : wtype == SMR_CMD_CAS ? STRATA_OP_CAS
								    : STRATA_OP_WRITE);
		p->alen = (uint16_t)(q->client_auth ? q->client_auth_len : 0);
		int terr = 0;
		p->c.cmd = strata_wr_take_msg(&w, &terr); /* the writer's block: no copy */
		if (!p->c.cmd)
			rc = terr ? terr : STRATA_ENOMEM;
	}
	if (!rc && !k->bft) {
		rc = bcast_broadcast(&k->tob, w.buf, w.len);
	} else if (!rc && k->wq) {
		/* btob: held, until collect takes it or the fallback (on_tick) orders it */
		p->fallback_us = strata_now_us(k->node) + k->fallback_us;
		wq_push(k, p->c.id);
		if (designated(k, q->session, q->seq) == k->self && !k->own_waiting) {
			k->own_waiting = true;
			k->own_since_us = strata_now_us(k->node);
		}
	} else if (!rc && designated(k, q->session, q->seq) == k->self) {
		p->sent = true; /* at the turn's end (a refused bundle answers it busy) */
		bundle_add(k, p->c.cmd->data, p->c.cmd->len, p->c.id, true);
	} else if (!rc) {
		p->fallback_us = strata_now_us(k->node) + k->fallback_us;
	}
	strata_wr_free(&w);
	if (rc) {
		struct tpend copy = *p;
		pend_free(k, p);
		if (rc == STRATA_EFULL)
			k->busy++;
		return smr_reject(&k->m, copy.c.rid, tag, rc, "%s: tob refused the command (%s)%s",
				  rc == STRATA_EFULL ? "busy" : "kv", strata_strerror(rc),
				  rc == STRATA_EFULL ? ", retry" : "");
	}
	if (is_read)
		k->reads++;
	else
		k->commands++;
	if (k->nwq)
		strata_node_at_turn_end(&k->m); /* held requests: their round may be near now */
	arm_tick(k);
	return 0;
}

static void on_tick(struct tkv *k)
{
	k->ticking = false;
	if (k->pend.n == 0)
		return;
	uint64_t now = strata_now_us(k->node);
	for (uint32_t i = 0; i < k->pend.cap; i++) {
		struct tpend *p = pend_at(k, i);
		if (p->c.id && p->c.cmd && !p->sent && p->fallback_us <= now) {
			/* bft: the designated replica's copy has not been ordered (or not by
			 * the time this one arrived): this replica orders its own. */
			p->sent = true; /* unless the bundle is refused (bundle_flush) */
			k->fallbacks++;
			bundle_add(k, p->c.cmd->data, p->c.cmd->len, p->c.id, false);
			strata_trace(k->node, NAME, "session %llu seq %llu unanswered after %llu ms: "
				     "own copy ordered", (unsigned long long)p->c.session,
				     (unsigned long long)p->c.seq,
				     (unsigned long long)(k->fallback_us / 1000));
		}
		if (!p->c.id || p->c.deadline_us > now)
			continue;
		char text[160];
		snprintf(text, sizeof(text),
			 "no answer within %" PRIu64 " ms (tob has not delivered it): the outcome "
			 "is unknown", k->timeout_us / 1000);
		reply(k, p, STRATA_ETIMEDOUT, 0, NULL, 0, 0, text);
	}
	if (k->pend.n)
		arm_tick(k);
}

static void publish(struct tkv *k)
{
	struct strata_counters *c = strata_node_counters(k->node);
	c->kv_last_index = k->applied;
	c->kv_commit_index = k->applied;
	c->kv_applied_index = k->applied;
	c->kv_commands = k->commands;
	c->kv_read_rounds = k->reads;
	c->kv_busy = k->busy;
	c->kv_quota_rejects = k->quota_rejects;
	c->kv_state_bytes = smr_kv_bytes(k->sm);
	c->kv_quota_bytes = k->quota;
	c->kv_bft_unsigned = k->unsigned_cmds;
	c->kv_bft_fallbacks = k->fallbacks;
	c->kv_bft_taken = k->taken;
	c->kv_bft_early = k->early;
	c->kv_bft_bundles = k->bundles;
	c->kv_bft_bundled = k->bundled;
	c->kv_bft_rounds = k->rounds;
	c->kv_bft_ordered = k->ordered;
	smr_bft_replies_counts(k->env, &c->kv_bft_envelopes, &c->kv_bft_enveloped);
	if (k->ck) {
		struct smr_ckpt_counts ck;
		smr_ckpt_counts(k->ck, &ck);
		c->kv_ckpt_taken = ck.taken;
		c->kv_ckpt_stable_index = ck.stable_index;
		c->kv_ckpt_stabilized = ck.stabilized;
		c->kv_ckpt_adopted = ck.adopted;
		c->kv_ckpt_rejected = ck.rejected;
		c->kv_ckpt_dropped = ck.dropped;
		c->kv_ckpt_limited = ck.limited;
		c->kv_ckpt_fetches = ck.fetches;
		c->kv_ckpt_snap_bad = ck.snap_bad;
		c->kv_ckpt_served = ck.served;
		c->kv_snapshot_installs = ck.installed;
	}
}

/* btob: a checkpoint at the first round end at or past each interval-th applied command, with
 * the order's position there (what a replica that installs it resumes from). Every correct
 * replica delivers the same messages in the same rounds: the same indexes and positions. */
static void ckpt_round_end(struct tkv *k, const struct strata_deliver *d)
{
	uint64_t K = k->cfg->smr_checkpoint_interval;
	uint32_t n = strata_node_n(k->node);
	if (!k->over_btob || !k->ck || !K || k->applied < k->ckpt_next || !d->vc ||
	    d->vc_len != (size_t)n + 1)
		return; /* not a round end (cons.h: btob's positions) */
	struct smr_ckpt_pos pos;
	memset(&pos, 0, sizeof(pos));
	pos.round = d->vc[0];
	for (uint32_t q = 1; q <= n; q++)
		pos.next[q] = d->vc[q];
	pos.n = n;
	smr_ckpt_applied(k->ck, k->applied, k->sm, &pos);
	k->ckpt_next = (k->applied / K + 1) * K;
}

/* Installs a certified snapshot (bft_ckpt.c verified its digest): the state, the applied index,
 * and btob resumes at the snapshot's position. Nothing changes unless all of it parses. */
static int tkv_install(void *arg, uint64_t index, const uint8_t *blob, size_t len)
{
	struct tkv *k = arg;
	if (index <= k->applied)
		return STRATA_ESTATE;
	struct smr_ckpt_pos pos;
	const uint8_t *kv;
	size_t kv_len;
	int rc = smr_ckpt_blob_parse(blob, len, strata_node_n(k->node), &pos, &kv, &kv_len);
	if (rc || pos.n == 0 || pos.round == 0)
		return rc ? rc : STRATA_EPROTO;
	struct smr_kv *sm = NULL;
	if ((rc = smr_kv_restore(kv, kv_len, k->cfg->smr_sessions_max, &sm)) != 0)
		return rc;
	smr_kv_free(k->sm);
	k->sm = sm;
	smr_kv_set_broken_sessions(k->sm, (k->broken & SMR_BROKEN_DUP_APPLY) != 0);
	k->applied = index;
	uint64_t K = k->cfg->smr_checkpoint_interval;
	k->ckpt_next = K ? (index / K + 1) * K : 0;
	k->joining = false;
	strata_trace(k->node, NAME, "installed the certified snapshot of index %llu: resuming the "
		     "order at round %llu", (unsigned long long)index, (unsigned long long)pos.round);
	rc = cons_btob_resume(k->tob.m, pos.round, pos.next);
	return rc == STRATA_ESTATE ? 0 : rc;
}

static void tkv_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct tkv *k = TKV(m);
	if (ev->type == STRATA_EV_INIT) {
		if (k->over_btob && k->ck) {
			/* btob: a restarted replica rejoins (a certified snapshot, then the order) */
			k->joining = ev->arg == 1;
			strata_timer_arm_in(k->node, &k->ckt, k->ckt_us);
			if (k->joining)
				strata_trace(k->node, NAME, "restarted without state: fetching the "
					     "stable checkpoint's snapshot to rejoin");
		} else if (ev->arg == 1) {
			k->restarted = true;
			strata_trace(k->node, NAME, "restarted with [smr] log = tob (crash-stop): "
				     "requests are refused");
		}
	} else if (ev->type == STRATA_EV_TIMER && ev->arg == T_TICK) {
		on_tick(k);
	} else if (ev->type == STRATA_EV_TIMER && ev->arg == T_CKPT) {
		const struct smr_ckpt_cert *st = smr_ckpt_stable(k->ck);
		if (k->joining && st && k->applied >= st->index)
			k->joining = false; /* the order brought it there (peers still held it) */
		if (k->over_btob) /* btob's decided log: the rounds the stable checkpoint covers go */
			cons_btob_keep_from(k->tob.m, smr_ckpt_stable_round(k->ck));
		smr_ckpt_tick(k->ck, k->applied, k->joining);
		strata_timer_arm_in(k->node, &k->ckt, k->ckt_us);
	} else if (ev->type == STRATA_EV_TIMER && ev->arg == T_HOLD) {
		if (own_overdue(k))
			k->hold_over = true; /* out at this turn's end */
		if (k->nwq)
			strata_node_at_turn_end(&k->m); /* else: the order may be idle now */
	} else if (ev->type == STRATA_EV_TURN_END) {
		int due = k->wq ? bundle_due(k) : BTOB_SEND_OWN;
		if (due == BTOB_SEND_NEXT) {
			/* Overlapping rounds: this replica's round may be ordered while the one
			 * before it is; it goes once it holds as many requests that round's message
			 * does not carry as half of what the held messages carry (else its batch
			 * would be small: each round costs a consensus instance), or at once when
			 * those are none. Else when the round before is delivered (SEND_ALL). */
			xtag_refresh(k);
			uint32_t n = collectable(k);
			due = n && 2 * n >= k->nxt ? BTOB_SEND_ALL : BTOB_SEND_HOLD;
			if (due == BTOB_SEND_ALL)
				k->early++;
		}
		if (!k->wq) {
			bundle_flush(k); /* may answer busy: before the replies' envelope */
		} else if (due != BTOB_SEND_HOLD) {
			collect(k, due == BTOB_SEND_ALL);
			bundle_flush(k);
		} else if (k->own_waiting && !strata_timer_armed(&k->holdt)) {
			uint64_t at = strata_now_us(k->node) + k->idle_us; /* idle by then? */
			if (at > k->own_since_us + k->hold_max_us)
				at = k->own_since_us + k->hold_max_us;
			strata_timer_arm(k->node, &k->holdt, at);
		}
		smr_bft_replies_flush(k->env);
	} else if (bcast_is_deliver(&k->tob, ev)) {
		const struct strata_deliver *d = ev->body;
		if (k->over_btob && d->vc)
			k->rounds++; /* the last message of its round carries the position */
		on_deliver(k, d);
		ckpt_round_end(k, d);
		if (k->nwq)
			strata_node_at_turn_end(&k->m); /* held requests: their round may be near now */
	} else if (ev->type == STRATA_EV_PL_DELIVER && k->ck && ev->msg && ev->peer >= 1 &&
		   ev->peer <= strata_node_n(k->node) && !k->restarted) {
		smr_ckpt_deliver(k->ck, ev->peer, ev->msg->data, ev->msg->len);
	}
	publish(k);
}

static void tkv_destroy(struct strata_module *m)
{
	struct tkv *k = TKV(m);
	smr_pend_fini(&k->pend);
	smr_kv_free(k->sm);
	strata_wr_free(&k->bundle);
	smr_ckpt_free(k->ck);
	smr_bft_replies_free(k->env);
	free(k->hidx);
	free(k->wq);
	free(k->xt);
	free(k);
}

static const struct strata_module_ops tkv_ops = {
	.name = NAME, .handle = tkv_handle, .request = tkv_request, .destroy = tkv_destroy,
};

bool smr_log_is_tob(const struct strata_config *cfg)
{
	return strcmp(cfg->smr_log, "tob") == 0 || smr_log_is_bft(cfg);
}

struct strata_module *smr_tobkv_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	const char *cons = cons_tob_consensus(cfg);
	bool over_btob = strcmp(cfg->smr_log, "btob") == 0;
	if (!over_btob && strcmp(cons, "ldc") != 0 && strcmp(cons, "uflood") != 0 &&
	    strcmp(cons, "uhier") != 0) {
		snprintf(err, errlen,
			 "[smr] log = tob needs a uniform consensus under tob ([tob] consensus = ldc, "
			 "uflood or uhier), not %s: over a regular consensus a replica may answer a "
			 "write that the others order differently after it crashed", cons);
		return NULL;
	}
	struct tkv *k = calloc(1, sizeof(*k));
	if (!k) {
		snprintf(err, errlen, "kv: out of memory");
		return NULL;
	}
	k->node = n;
	k->cfg = cfg;
	k->self = strata_node_id(n);
	k->timeout_us = (uint64_t)cfg->smr_timeout_ms * 1000;
	/* [fd] timeout_ms: a replica that got the request after the designated copy was ordered
	 * (it answers only at its own copy) answers this late, so it must stay short; a longer
	 * wait (a quarter of the request timeout, 1.25 s) showed as a 1.3 s p99 at c = 1 under
	 * load. Under a load that makes the order slower than this, replicas add copies. */
	k->fallback_us = (uint64_t)(cfg->timeout_ms ? cfg->timeout_ms : 250) * 1000;
	int prc = smr_pend_init(&k->pend, cfg->smr_pending_max, sizeof(struct tpend));
	k->sm = smr_kv_new(cfg->smr_sessions_max);
	k->bft = smr_log_is_bft(cfg);
	k->quota = cfg->smr_quota_bytes;
	if (k->bft && k->quota > smr_bft_quota_max(cfg->smr_sessions_max))
		k->quota = smr_bft_quota_max(cfg->smr_sessions_max); /* a checkpoint stays fetchable */
	if (k->bft) {
		uint32_t cap = 1;
		while (cap < 2 * k->pend.cap)
			cap <<= 1;
		k->hmask = cap - 1;
		k->hidx = calloc(cap, sizeof(*k->hidx));
	}
	if (prc || !k->sm || (k->bft && !k->hidx)) {
		smr_kv_free(k->sm);
		smr_pend_fini(&k->pend);
		free(k->hidx);
		free(k);
		snprintf(err, errlen, "kv: out of memory");
		return NULL;
	}
	k->pend.id_gen = strata_random(n) >> 30; /* ids differ across incarnations */
	strata_node_add_module(n, &k->m, &tkv_ops, strata_wire_id("kv"));
	strata_timer_init(&k->tick, &k->m, T_TICK, 0);
	if (k->bft && (!(k->ck = smr_ckpt_new(&k->m, cfg->smr_checkpoint_interval)) ||
		       !(k->env = smr_bft_replies_new(&k->m)))) {
		snprintf(err, errlen, "kv: out of memory");
		return NULL; /* the node owns (and frees) the module */
	}
	if (bcast_open(n, over_btob ? "btob" : "tob", &k->m, 1, &k->tob, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	if (over_btob && k->ck) {
		k->over_btob = true;
		k->ckpt_next = cfg->smr_checkpoint_interval;
		k->ckt_us = 2 * (uint64_t)(cfg->timeout_ms ? cfg->timeout_ms : 250) * 1000;
		strata_timer_init(&k->ckt, &k->m, T_CKPT, 0);
		strata_timer_init(&k->holdt, &k->m, T_HOLD, 0);
		k->hold_max_us = k->fallback_us / 4;
		k->idle_us = k->fallback_us / 25;
		cons_btob_set_overlap(k->tob.m, cfg->smr_bft_overlap);
		k->wq = calloc(k->pend.cap, sizeof(*k->wq));
		if (!k->wq) {
			snprintf(err, errlen, "kv: out of memory");
			return NULL; /* the node owns (and frees) the module */
		}
		smr_ckpt_enable_fetch(k->ck, tkv_install, k, k->ckt_us);
	}
	strata_wr_init(&k->bundle, bcast_payload_max(&k->tob));
	return &k->m;
}

void smr_tobkv_set_broken(struct strata_module *m, unsigned broken)
{
	struct tkv *k = TKV(m);
	k->broken = broken;
	smr_kv_set_broken_sessions(k->sm, (broken & SMR_BROKEN_DUP_APPLY) != 0);
	if (k->ck)
		smr_ckpt_set_broken(k->ck, broken);
}

void smr_tobkv_test_left_out(struct strata_module *m, uint64_t *left_out, uint64_t *bad)
{
	struct tkv *k = TKV(m);
	k->test_left_out = true;
	*left_out = k->left_out;
	*bad = k->left_out_bad;
}

struct smr_ckpt *smr_tobkv_ckpt(struct strata_module *m)
{
	return TKV(m)->ck;
}

struct smr_kv *smr_tobkv_state(struct strata_module *m)
{
	return TKV(m)->sm;
}

void smr_tobkv_status(struct strata_module *m, struct smr_status *out)
{
	struct tkv *k = TKV(m);
	memset(out, 0, sizeof(*out));
	out->last_index = out->commit_index = out->applied_index = k->applied;
	out->revision = smr_kv_revision(k->sm);
	out->keys = smr_kv_count(k->sm);
	out->sessions = smr_kv_sessions(k->sm);
	out->pending = k->pend.n;
	out->commands = k->commands;
	out->read_rounds = k->reads;
	out->busy_rejects = k->busy;
	out->quota_rejects = k->quota_rejects;
}
