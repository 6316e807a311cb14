/* Simulation suite of the Byzantine fault-tolerant KV's client protocol, `[smr] log = bft-tob`
 * (src/smr/tob_log.c with the signed replies and f + 1 vote of src/smr/bft.c), with the
 * linearizability checker of sim_kv.
 *
 * Every run: N = 4, f = 1. One replica, drawn per seed, is Byzantine in its replies with a
 * behaviour drawn per seed (silent, replay: answers from the initial state, forge and equivocate:
 * forged outcomes signed by itself and the same again claiming to be another replica, badsig:
 * a forged outcome claiming another replica with a corrupted signature; bft.c). Five correct
 * clients with their own sessions issue gets, puts and cas on three keys, one operation at a
 * time each, every operation sent to every replica with the client's session and a fresh
 * sequence number (reads too), and accept an outcome once f + 1 replicas signed it
 * (smr_bft_vote); an operation whose replies all came in without f + 1 agreeing, or none agreed
 * within 4 s, has an unknown outcome. Faults at random times in a 1 s operation phase: loss,
 * duplication, delay and reordering; one correct replica cut off (isolated) for 0.2-0.6 s; a
 * correct replica paused for 0.1-0.7 s (requests sent while it is paused are lost). The phase
 * runs on while fewer than 5 writes or 5 reads completed, up to 3 times its length
 * (SIM_OPS_EXTEND); a run still short then fails.
 *
 * Cases: bft-kv-one-byzantine orders with tob 6.1 (`[smr] log = bft-tob`); bft-kv-over-btob
 * with Byzantine total-order broadcast (`[smr] log = btob`, Alg. 6.2 over Byzantine
 * leader-driven consensus, bldc, on a fail-arbitrary cluster), where the Byzantine replica's
 * behaviour also acts in btob and in bldc (btob.c, bldc.c), with a 2 s operation phase.
 *
 * Then the network heals: every operation must end within 5 s (liveness), every client reads
 * every key once more, the correct replicas that applied the same number of commands must hold
 * the same state, and each key's history of the correct clients must be linearizable. Nobody
 * watches a subset of the replicas drawn from the seed (no watch event built there); the other
 * correct replicas' watch events must agree on the change of each revision (kvh_watch).
 *
 * What this does NOT show: in bft-kv-one-byzantine the order below is the crash-stop tob
 * (Alg. 6.1 over ldc) and the Byzantine replica runs it correctly, lying only to clients; in
 * bft-kv-over-btob it lies in btob and its consensus too.
 *
 * Broken variants (expect_violation), the Byzantine replica forging:
 *   broken-accept-one  the client takes the first signed reply (a quorum of 1, not f + 1);
 *   broken-no-verify   the client does not check signatures: the forger's copy claiming to be
 *                      another replica makes f + 1;
 *   broken-unsigned-requests  the replicas order and apply commands without checking the
 *                      client's signature (SMR_BROKEN_BFT_UNSIGNED): the forger's commands under
 *                      a correct client's session (its request with another value, and the next
 *                      seq) are applied, and a value no client wrote is read.
 *
 * Catch-up (src/smr/bft_ckpt.c, snapshot transfer): btob-catchup-snapshot crashes a correct
 * replica 0.2-0.4 s into a 4 s operation phase and restarts it empty once the others ran
 * AWAY_ROUNDS rounds further (beyond what bldc answers DECIDED for), so it can come back only
 * through a certified snapshot. The Byzantine replica runs the order and votes correctly (so
 * that 2f + 1 votes certify checkpoints meanwhile) and serves forged snapshots
 * (smr_ckpt_test_forge_snapshots); the restarted replica is the one before it in id order, so it
 * asks the forger first. Checks: it installed a snapshot, refused the forged one, and ends at the
 * others' applied index with their state (agreement), the history linearizable. Broken variant
 * broken-snap-no-digest: snapshots installed without the digest check (the forged state is
 * installed; agreement catches it).
 *
 * Catching up far behind: btob-catchup-far runs with `[smr] checkpoint_interval` = FAR_K (256)
 * so that the order can run more than CONS_CACHE rounds past the last stable checkpoint. The
 * same correct replica as in btob-catchup-snapshot is restarted empty (even seeds) or cut off by
 * a partition (odd seeds) once the first stable checkpoint is 8-40 rounds behind the order (so
 * that it also needs rounds it had, which no retransmission brings again), and stays away until
 * the others have decided FAR_GAP (CONS_CACHE + 48) rounds past their stable checkpoint's round
 * and past where it left;
 * then the clients stop, and once the order stood still for a second, if the others are still
 * more than CONS_CACHE + 16 rounds past that checkpoint, the replica comes back (else the load
 * resumes and the wait goes on). With nothing more issued it must reach the others' applied
 * index within FAR_CATCH_MS (10 s) of simulated time; then the usual final reads, agreement,
 * linearizability and CK1-CK3. btob-catchup-far-load: the same, but the replica comes back
 * while the load goes on for 2 s more. The suite fails if no returning replica's btob ever
 * held more than 64 decisions of later rounds (the bound btob had before, btob.c).
 *
 * Sends the links refuse (btob.c, "Sends the links refuse"): btob-catchup-far-backlog is
 * btob-catchup-far with `[links] backlog_bytes` = `max_value` = FAR_BACKLOG (32 KiB), so that the
 * links refuse sends toward the replica away (and under bursts), and with the Byzantine replica's
 * first broadcast skipping a sequence number (cons_btob_test_gap); when the replica comes back
 * the others first move the leader (2f + 1 complaints: bld's round and bec's epoch change while
 * its backlog is full). Besides btob-catchup-far's checks: once every correct replica caught up,
 * with the clients stopped, no correct replica's btob delivers another round for FAR_STILL_MS,
 * and each delivered every message it broadcast (check_still); then the Byzantine replica
 * crashes, so that the final reads are ordered only with the returning replica taking part. The
 * suite fails if btob owed no broadcast the links refused. Broken variants, on every
 * replica: broken-backlog-no-owed (a refused broadcast is lost), broken-backlog-gap-rounds (a
 * message above a gap starts rounds), broken-backlog-no-probe (an idle replica never asks where
 * the others are) (cons_btob_test_broken), broken-backlog-epoch-lost (a refused complaint or
 * NEWEPOCH is lost: strata_fd_bld_test_no_owed, cons_bec_test_no_owed).
 *
 * Signed requests: every client's session is owned by an Ed25519 key pair (drawn per seed) and
 * every request carries its signature (smr_bft_request_sign); a FORGE replica orders forged
 * commands under the clients' sessions with the signatures of the requests it received
 * (tob_log.c forge_commands), which the correct replicas skip.
 *
 * btob-quota: bft-kv-over-btob's run (a Byzantine replica of a drawn behaviour, loss, a
 * partition, a pause) with [smr] quota_bytes = 300 and a workload of puts and deletes on eight
 * keys (an absent key holds "(absent)" in the history, written first by a setup process; a
 * delete writes it): the quota is decided at apply, the same at every correct replica; a
 * refusal f + 1 replicas signed is a definite failure for the checker; no correct replica's
 * state ever holds more than the quota (its high-water mark, every tick); writes refused and
 * deletes done over the case. broken-quota-unchecked (SMR_BROKEN_QUOTA_UNCHECKED: no check at
 * apply) must outgrow the quota. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "cons/cons.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "fd/fd.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#include "lib/build.h"
#include "lib/history_verdict.h"
#include "lib/kv_harness.h"
#include "smr/smr.h"

#define NCL 5
#define NKEYS 3
#define QKEYS 8 /* keys of the quota cases' workload */
#define QUOTA_SIM 300u /* their [smr] quota_bytes: about four keys */
#define ABSENT "(absent)" /* the quota cases' history: what an absent key holds */
#define MS 1000ull
#define NN 4
#define FF 1

enum { OP_GET, OP_PUT, OP_CAS, OP_DEL };
enum { V_NONE, V_ONE, V_NOVERIFY, V_UNSIGNED, V_CKPT, V_UNBOUND, V_CATCHUP, V_SNAP_NODIGEST,
       V_VOTES_LOST, V_NO_REVOTE, V_LEFT_OUT, V_FIRST_USE, V_FAR, V_FAR_LOAD, V_FAR_BACKLOG,
       V_BL_NO_OWED, V_BL_GAP_ROUNDS, V_BL_NO_PROBE, V_BL_EPOCH_LOST, V_QUOTA,
       V_QUOTA_UNCHECKED };
#define CKPT_K 16 /* [smr] checkpoint_interval in these runs */
#define MIN_OPS 5 /* the non-vacuity minimum: writes and reads completed */
#define AWAY_ROUNDS (CONS_LIVE_MAX + CONS_CACHE + 80) /* catch-up: rounds the others run ahead */
#define LATE_ROUNDS 8 /* btob-kv-first-use: rounds the late replica's btob delivers first */
/* btob-catchup-far: [smr] checkpoint_interval (commands) in these runs, long enough that the
 * others decide more than CONS_CACHE rounds past their last stable checkpoint; the replica comes
 * back once they did FAR_GAP rounds past it, and must catch up within FAR_CATCH_MS. */
#define FAR_K 256
#define FAR_GAP (CONS_CACHE + 48)
#define FAR_CATCH_MS 10000
/* btob-catchup-far-backlog: [links] backlog_bytes and max_value (the links refuse a send beyond
 * it; the config asks backlog_bytes >= max_value, and below 32 KiB the order's values (about
 * max_value / 36) no longer fit a bundle of the KV's), and how long the order must stand still
 * once the clients stopped and every replica caught up. */
#define FAR_BACKLOG (32u * 1024)
#define FAR_STILL_MS 3000

struct vote_val {
	int status;
	uint64_t flags, revision;
	char val[40];
};

struct client {
	int64_t proc;
	bool busy;
	uint64_t req_id, seq, next_at, deadline;
	uint64_t session;
	uint8_t pk[32], sk[64]; /* the key pair that owns the session (signed requests) */
	unsigned sent; /* replicas the request went to */
	int kind;
	const char *key;
	char val[24], old[24];
	struct smr_bft_vote vote;
	struct vote_val got[NN + 1];
	/* The request of this tick, signed with the others' when the tick's requests go out. */
	bool queued;
	struct strata_request q;
	uint8_t dig[SMR_BFT_DIGEST_LEN];
	uint8_t auth[SMR_BFT_AUTH_MAX];
};

struct run {
	struct sim *s;
	struct strata_config cfg;
	struct client cl[NCL];
	int variant;
	uint32_t byz_id;
	enum strata_byz byz;
	FILE *hist;
	char *hbuf;
	size_t hlen;
	int error;
	char errtxt[256];
	unsigned ops_ok, reads_ok, writes_ok, info, forged_seen, rejected_sig;
	struct smr_bft_seen envs; /* reply envelopes verified, as the CLI keeps them */
	/* Request envelopes (bft.c): the clients are one process with one key pair, session k at
	 * index k, and the requests of a tick are signed once; else each client has its own key
	 * pair and signs each request alone. */
	bool req_env;
	uint8_t pk[32], sk[64];
	bool over_btob, trace;
	uint32_t lagger;   /* catch-up cases: the correct replica cut off or restarted */
	uint32_t late;     /* btob-kv-first-use: the correct replica no request reaches at first */
	bool late_reached; /* ... until its btob delivered LATE_ROUNDS rounds */
	uint64_t late_kv_at; /* ... its btob's round when its KV was first seen there */
	bool restart;      /* catch-up cases: restarted empty (else cut off) */
	bool ckpt_judged; /* CK3 judged: the correct replicas applied the same commands */
	uint64_t ckpt_last_own; /* the correct replicas' newest own checkpoint (check_checkpoints) */
	bool load_stopped; /* btob-catchup-far: the clients issue nothing new */
	uint64_t far_gap;  /* ... rounds the others were past their stable checkpoint's */
	char seen[QKEYS][40];
	/* The quota cases: puts and deletes on QKEYS keys, [smr] quota_bytes = QUOTA_SIM; writes
	 * refused (a definite failure), deletes done, and the first correct replica seen holding
	 * more than the quota (its state's high-water mark). */
	bool quota;
	unsigned quota_refused, dels_ok;
	char quota_bad[200];
	/* Watch events (kv_harness's kvh_watch): the correct replicas' only; nobody watches the
	 * replicas w.unwatched, drawn from the seed. */
	struct kvh w;
};

static const char *keys[QKEYS] = { "a", "b", "c", "d", "e", "f", "g", "h" };

static unsigned nkeys(const struct run *r)
{
	return r->quota ? QKEYS : NKEYS;
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	(void)s;
	const struct run *r = arg;
	if (r->variant == V_FIRST_USE) {
		/* As stratad builds a node: the detector and the eager algorithms at start, the
		 * rest (here the KV, its btob and bldc) created on first use, by a client request
		 * or a peer's frame (src/stack/build.c). */
		char err[256];
		if (strata_stack_build(n, err, sizeof(err)) != 0) {
			fprintf(stderr, "build: %s\n", err);
			abort();
		}
		return;
	}
	simb_fd(n);
	simb_algo(n, "kv");
}

static void record(struct run *r, struct client *c, enum strata_hist_type t, const char *value,
		   const char *value2)
{
	strata_history_append(r->hist, c->proc, t,
			      c->kind == OP_GET ? STRATA_HIST_READ
			      : c->kind == OP_PUT || c->kind == OP_DEL ? STRATA_HIST_WRITE
			      : STRATA_HIST_CAS,
			      c->key, value, value2, sim_now(r->s) * 1000);
}

static void record_end(struct run *r, struct client *c, enum strata_hist_type t)
{
	if (c->kind == OP_GET)
		record(r, c, t, NULL, NULL);
	else if (c->kind == OP_DEL) /* a delete writes "absent" */
		record(r, c, t, ABSENT, NULL);
	else if (c->kind == OP_PUT)
		record(r, c, t, c->val, NULL);
	else
		record(r, c, t, c->old, c->val);
}

static unsigned key_index(const char *key)
{
	for (unsigned i = 0; i < QKEYS; i++)
		if (keys[i] == key)
			return i;
	return 0;
}

static void remember(char dst[40], const char *v)
{
	size_t len = strnlen(v, 39);
	memmove(dst, v, len);
	dst[len] = 0;
}

static void finish(struct run *r, struct client *c, enum strata_hist_type t)
{
	c->busy = false;
	c->next_at = sim_now(r->s) + sim_random_below(r->s, 5 * MS);
	if (t == STRATA_HIST_INFO)
		r->info++;
	record_end(r, c, t);
}

/* The outcome f + 1 replicas signed: the operation's end in the history. */
static void accept(struct run *r, struct client *c, const struct vote_val *v)
{
	if (v->status == STRATA_ESTATE && c->kind == OP_CAS) {
		finish(r, c, STRATA_HIST_FAIL);
		return;
	}
	if (v->status == STRATA_ENOSPACE && r->quota && c->kind == OP_PUT) {
		r->quota_refused++; /* the space quota: refused, nothing done */
		finish(r, c, STRATA_HIST_FAIL);
		return;
	}
	if (v->status != 0) {
		if (v->status != STRATA_ETIMEDOUT && v->status != STRATA_EFULL && !r->error) {
			r->error = 1;
			snprintf(r->errtxt, sizeof(r->errtxt), "f + 1 replicas answered error %d",
				 v->status);
		}
		finish(r, c, STRATA_HIST_INFO); /* busy or timed out at f + 1: unknown */
		return;
	}
	c->busy = false;
	c->next_at = sim_now(r->s) + sim_random_below(r->s, 5 * MS);
	r->ops_ok++;
	char *seen = r->seen[key_index(c->key)];
	if (c->kind == OP_GET) {
		r->reads_ok++;
		bool found = (v->flags & STRATA_REPLY_FOUND) != 0;
		record(r, c, STRATA_HIST_OK, found ? v->val : r->quota ? ABSENT : NULL, NULL);
		if (found)
			remember(seen, v->val);
	} else if (c->kind == OP_DEL) {
		r->dels_ok++;
		record_end(r, c, STRATA_HIST_OK);
		remember(seen, "");
	} else {
		r->writes_ok++;
		record_end(r, c, STRATA_HIST_OK);
		remember(seen, c->val);
	}
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	/* A correct replica's watch events (the Byzantine one's state is its own business). */
	if (node != r->byz_id && kvh_watch(&r->w, node, o))
		return;
	/* Replies: the channel does not tell who answered, the signature does. */
	if (o->kind != STRATA_OUT_REPLY)
		return;
	for (unsigned k = 0; k < NCL; k++) {
		struct client *c = &r->cl[k];
		if (!c->busy || c->req_id != o->a)
			continue;
		if (!o->sig)
			return; /* not a BFT reply: counts for nothing */
		uint8_t outcome[SMR_BFT_DIGEST_LEN];
		smr_bft_outcome(outcome, c->session, c->seq, o->status, o->b, o->revision, o->data,
				o->len);
		if (r->variant != V_NOVERIFY &&
		    !smr_bft_verify_reply(&r->cfg, o->peer, outcome, o->sig, o->sig_len, &r->envs)) {
			r->rejected_sig++;
			return;
		}
		uint32_t who = o->peer;
		if (who < 1 || who > NN)
			return;
		bool first = !((c->vote.voted >> (who - 1)) & 1);
		if (first) {
			struct vote_val *v = &c->got[who];
			v->status = o->status;
			v->flags = o->b;
			v->revision = o->revision;
			size_t len = o->len < sizeof(v->val) - 1 ? o->len : sizeof(v->val) - 1;
			if (len)
				memcpy(v->val, o->data, len);
			v->val[len] = 0;
			if (strncmp(v->val, "forged", 6) == 0)
				r->forged_seen++;
		}
		unsigned same = smr_bft_vote_add(&c->vote, who, outcome);
		unsigned quorum = r->variant == V_ONE ? 1 : FF + 1;
		if (same >= quorum)
			accept(r, c, &c->got[who]);
		else if (smr_bft_vote_count(&c->vote) >= c->sent)
			finish(r, c, STRATA_HIST_INFO); /* every reply in, no f + 1 agree */
		return;
	}
}

static void issue(struct run *r, struct client *c, int kind, const char *key)
{
	c->kind = kind;
	c->key = key;
	c->seq++;
	if (kind != OP_GET)
		snprintf(c->val, sizeof(c->val), "%u.%llu", (unsigned)c->proc,
			 (unsigned long long)c->seq);
	if (kind == OP_DEL)
		c->val[0] = 0;
	if (kind == OP_CAS) {
		const char *seen = r->seen[key_index(key)];
		snprintf(c->old, sizeof(c->old), "%s", seen[0] ? seen : "none");
	}
	c->req_id = ((uint64_t)(c - r->cl + 1) << 32) | c->seq;
	c->busy = true;
	c->deadline = sim_now(r->s) + 4000 * MS;
	smr_bft_vote_init(&c->vote, NN, FF);
	memset(c->got, 0, sizeof(c->got));
	if (kind == OP_GET)
		record(r, c, STRATA_HIST_INVOKE, NULL, NULL);
	else
		record_end(r, c, STRATA_HIST_INVOKE);
	struct strata_request q = {
		.id = c->req_id,
		.op = kind == OP_GET ? STRATA_OP_READ : kind == OP_PUT ? STRATA_OP_WRITE
		      : kind == OP_DEL ? STRATA_OP_DELETE : STRATA_OP_CAS,
		.key = (const uint8_t *)key, .key_len = strlen(key),
		.session = c->session, .seq = c->seq,
	};
	if (kind == OP_PUT) {
		q.value = (const uint8_t *)c->val;
		q.value_len = strlen(c->val);
	} else if (kind == OP_CAS) {
		q.value = (const uint8_t *)c->old;
		q.value_len = strlen(c->old);
		q.value2 = (const uint8_t *)c->val;
		q.value2_len = strlen(c->val);
	}
	/* Signed by the key pair that owns the session (src/smr/bft.c). */
	struct smr_bft_req sr = {
		.session = c->session, .seq = c->seq, .op = q.op,
		.type = kind == OP_GET ? 0 : kind == OP_PUT ? SMR_CMD_PUT
			: kind == OP_DEL ? SMR_CMD_DEL : SMR_CMD_CAS,
		.key = q.key, .key_len = q.key_len, .val = q.value, .val_len = q.value_len,
		.val2 = q.value2, .val2_len = q.value2_len,
	};
	smr_bft_request_digest(c->dig, &sr);
	c->q = q;
	c->queued = true;
}

/* Whether a client's request reaches replica id now (btob-kv-first-use: not the late replica
 * before its btob delivered LATE_ROUNDS rounds). */
static bool reachable(const struct run *r, uint32_t id)
{
	return sim_is_up(r->s, id) && !sim_is_paused(r->s, id) &&
	       (id != r->late || r->late_reached);
}

/* Signs the tick's requests (one envelope, or each alone) and sends each to every replica. */
static void send_queued(struct run *r)
{
	uint8_t digs[NCL][SMR_BFT_DIGEST_LEN];
	uint8_t auths[NCL * SMR_BFT_AUTH_MAX];
	uint32_t idx[NCL], n = 0;
	size_t lens[NCL];
	struct client *who[NCL];
	for (unsigned k = 0; k < NCL; k++)
		if (r->cl[k].queued) {
			who[n] = &r->cl[k];
			memcpy(digs[n], r->cl[k].dig, SMR_BFT_DIGEST_LEN);
			idx[n++] = k;
		}
	if (!n)
		return;
	if (r->req_env)
		smr_bft_request_env_sign(r->pk, r->sk, n, (const uint8_t(*)[SMR_BFT_DIGEST_LEN])digs,
					 idx, auths, lens);
	for (uint32_t i = 0; i < n; i++) {
		struct client *c = who[i];
		c->queued = false;
		if (r->req_env) {
			memcpy(c->auth, auths + (size_t)i * SMR_BFT_AUTH_MAX, lens[i]);
			c->q.client_auth_len = lens[i];
		} else {
			smr_bft_request_sign(c->auth, c->pk, c->sk, c->dig);
			c->q.client_auth_len = SMR_BFT_AUTH_LEN;
		}
		c->q.client_auth = c->auth;
		/* Counted before any is sent: a replica may answer at once (a restarted one
		 * that is catching up refuses at once), and every reply in ends the operation. */
		c->sent = 0;
		for (uint32_t id = 1; id <= NN; id++)
			if (reachable(r, id))
				c->sent++;
		for (uint32_t id = 1; id <= NN; id++)
			if (reachable(r, id))
				sim_request(r->s, id, "kv", &c->q);
		if (c->busy && c->sent == 0)
			finish(r, c, STRATA_HIST_INFO);
	}
}

static void expire(struct run *r)
{
	for (unsigned k = 0; k < NCL; k++)
		if (r->cl[k].busy && sim_now(r->s) >= r->cl[k].deadline)
			finish(r, &r->cl[k], STRATA_HIST_INFO);
}

static int all_idle(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	expire(r);
	for (unsigned k = 0; k < NCL; k++)
		if (r->cl[k].busy)
			return 0;
	return 1;
}

/* Agreement on the state among the correct replicas. */
static int check_agreement(struct run *r, char *why, size_t wl, bool *violation)
{
	sim_run_until(r->s, sim_now(r->s) + 300 * MS, NULL, NULL);
	uint64_t applied[NN + 1] = { 0 }, digest[NN + 1] = { 0 };
	for (uint32_t id = 1; id <= NN; id++) {
		struct strata_node *n = sim_node(r->s, id);
		struct strata_module *m = n ? strata_node_module_by_name(n, "kv") : NULL;
		if (!m || id == r->byz_id)
			continue;
		struct smr_status st;
		smr_tobkv_status(m, &st);
		applied[id] = st.applied_index;
		digest[id] = smr_kv_digest(smr_tobkv_state(m));
	}
	for (uint32_t a = 1; a <= NN; a++)
		for (uint32_t b = a + 1; b <= NN; b++) {
			if (!applied[a] || applied[a] != applied[b] || digest[a] == digest[b])
				continue;
			*violation = true;
			return sim_fail(why, wl, "agreement: correct replicas %u and %u both applied "
					"%llu commands but hold different states", a, b,
					(unsigned long long)applied[a]);
		}
	return 0;
}

/* btob-kv-first-use: the late replica's KV was created after its btob had delivered (on first
 * use), and it must still have applied every ordered command: once calm, every correct
 * replica holds a KV at the same applied index (with check_agreement: the same state), and
 * CK3 is judged (a stable checkpoint at the newest own one). A replica that lost the first
 * deliveries ends behind the others for good, and no checkpoint it votes becomes stable. */
static int check_first_use(struct run *r, char *why, size_t wl, bool *violation)
{
	uint64_t applied[NN + 1] = { 0 };
	for (uint32_t id = 1; id <= NN; id++) {
		struct strata_node *n = sim_node(r->s, id);
		struct strata_module *m = n ? strata_node_module_by_name(n, "kv") : NULL;
		if (id == r->byz_id)
			continue;
		if (!m)
			return sim_fail(why, wl, "first use: correct replica %u never created its KV",
					id);
		struct smr_status st;
		smr_tobkv_status(m, &st);
		applied[id] = st.applied_index;
	}
	for (uint32_t id = 1; id <= NN; id++)
		if (id != r->byz_id && id != r->late && applied[id] != applied[r->late]) {
			*violation = true;
			return sim_fail(why, wl, "first use: late replica %u applied %llu commands, "
					"correct replica %u %llu (once calm)", r->late,
					(unsigned long long)applied[r->late], id,
					(unsigned long long)applied[id]);
		}
	if (!r->ckpt_judged || !r->ckpt_last_own)
		return sim_fail(why, wl, "first use: no checkpoint to judge (newest own %llu): "
				"vacuous run", (unsigned long long)r->ckpt_last_own);
	if (r->late_kv_at <= 1)
		return sim_vacuous(why, wl, "first use: replica %u's KV existed before its btob "
				   "delivered (a peer's KV frame created it)", r->late);
	return 0;
}

/* The signed checkpoints (src/smr/bft_ckpt.c): a correct replica's stable checkpoint has a
 * certificate of 2f + 1 valid signatures of distinct replicas (CK1), and its digest is the one
 * every correct replica that signed its own checkpoint at that index computed (CK2). When the
 * correct replicas all applied the same A commands (the run's end, once calm), each holds a
 * stable checkpoint at the last multiple of K up to A (CK3; N = 3f + 1 needs all three correct
 * replicas' votes: with one stuck behind in the order, the others cannot stabilise, and CK3 is
 * not judged). */
static int check_checkpoints(struct run *r, char *why, size_t wl, bool *violation)
{
	struct smr_ckpt *ck[NN + 1] = { 0 };
	uint64_t applied[NN + 1] = { 0 };
	for (uint32_t id = 1; id <= NN; id++) {
		struct strata_node *n = sim_node(r->s, id);
		struct strata_module *m = n ? strata_node_module_by_name(n, "kv") : NULL;
		if (!m || id == r->byz_id)
			continue;
		ck[id] = smr_tobkv_ckpt(m);
		struct smr_status st;
		smr_tobkv_status(m, &st);
		applied[id] = st.applied_index;
	}
	uint64_t same = 0, last_own = 0;
	for (uint32_t a = 1; a <= NN; a++)
		if (ck[a]) {
			same = !same || same == applied[a] ? applied[a] : UINT64_MAX;
			uint64_t o = smr_ckpt_last_own(ck[a]);
			last_own = o > last_own ? o : last_own;
		}
	if (same != UINT64_MAX)
		r->ckpt_judged = true;
	r->ckpt_last_own = last_own;
	for (uint32_t a = 1; a <= NN; a++) {
		if (!ck[a])
			continue;
		const struct smr_ckpt_cert *c = smr_ckpt_stable(ck[a]);
		/* tob: every K-th command; btob: the first round end at or past it (bft_ckpt.c),
		 * the correct replicas' newest own checkpoint. */
		uint64_t want = same == UINT64_MAX ? 0
				: r->over_btob ? last_own : same / CKPT_K * CKPT_K;
		if ((!c && want) || (c && c->index < want)) {
			*violation = true; /* CK3: the last checkpoint never became stable */
			return sim_fail(why, wl, "checkpoints: the correct replicas all applied %llu "
					"commands, and replica %u's stable checkpoint is %llu, not %llu",
					(unsigned long long)same, a,
					(unsigned long long)(c ? c->index : 0),
					(unsigned long long)want);
		}
		if (!c)
			continue;
		if (!smr_ckpt_cert_verify(&r->cfg, c)) {
			*violation = true;
			return sim_fail(why, wl, "checkpoints: correct replica %u's stable checkpoint "
					"%llu is not certified by 2f + 1 valid signatures", a,
					(unsigned long long)c->index);
		}
		for (uint32_t b = 1; b <= NN; b++) {
			uint8_t d[SMR_BFT_DIGEST_LEN];
			if (ck[b] && smr_ckpt_own(ck[b], c->index, d) &&
			    memcmp(d, c->digest, sizeof(d)) != 0) {
				*violation = true;
				return sim_fail(why, wl, "checkpoints: replica %u's stable checkpoint "
						"%llu has a digest correct replica %u does not hold",
						a, (unsigned long long)c->index, b);
			}
		}
	}
	return 0;
}

/* Catch-up cases: the lagging (or restarted) replica came back through a certified snapshot:
 * it installed one, refused the forger's (asked first), and ended where the other correct
 * replicas did, with their state (agreement, above, compares the states). */
static int check_rejoined(struct run *r, char *why, size_t wl, bool *violation)
{
	struct strata_module *m = strata_node_module_by_name(sim_node(r->s, r->lagger), "kv");
	struct smr_ckpt_counts ck;
	smr_ckpt_counts(smr_tobkv_ckpt(m), &ck);
	struct smr_status st;
	smr_tobkv_status(m, &st);
	uint64_t want = 0;
	for (uint32_t id = 1; id <= NN; id++) {
		if (id == r->byz_id || id == r->lagger)
			continue;
		struct smr_status o;
		smr_tobkv_status(strata_node_module_by_name(sim_node(r->s, id), "kv"), &o);
		want = o.applied_index > want ? o.applied_index : want;
	}
	if (r->trace || getenv("SIM_KV_VERBOSE"))
		fprintf(stderr, "  replica %u (%s): %llu fetches, %llu installed, %llu refused, "
			"%llu timeouts; applied %llu of %llu\n", r->lagger,
			r->restart ? "restarted empty" : "cut off", (unsigned long long)ck.fetches,
			(unsigned long long)ck.installed, (unsigned long long)ck.snap_bad,
			(unsigned long long)ck.snap_timeouts, (unsigned long long)st.applied_index,
			(unsigned long long)want);
	if (ck.installed == 0)
		return sim_fail(why, wl, "catch-up: replica %u (%s) never installed a snapshot "
				"(%llu fetches)", r->lagger, r->restart ? "restarted" : "cut off",
				(unsigned long long)ck.fetches);
	if (ck.snap_bad == 0 && r->variant != V_SNAP_NODIGEST)
		return sim_fail(why, wl, "catch-up: replica %u never refused the forger's snapshot",
				r->lagger);
	if (st.applied_index != want)
		return sim_fail(why, wl, "catch-up: replica %u applied %llu commands, the others %llu",
				r->lagger, (unsigned long long)st.applied_index,
				(unsigned long long)want);
	(void)violation;
	return 0;
}

static int check_history(struct run *r, char *why, size_t wl, bool *violation)
{
	return simh_check_history(r->hist, &r->hbuf, &r->hlen, STRATA_CHECK_ATOMIC, why, wl,
				  violation);
}

static uint32_t random_correct(struct run *r)
{
	uint32_t id = 1 + (uint32_t)sim_random_below(r->s, NN - 1);
	return id >= r->byz_id ? id + 1 : id;
}

/* Over every seed of bft-kv-over-btob (the round sender orders the requests it holds for the
 * other replicas too, tob_log.c: that must happen somewhere; checked at the end). */
static uint64_t total_taken, total_ordered, total_rounds, total_early, total_left_out;
/* btob-catchup-far: the most decisions of later rounds a returning replica's btob held */
static uint64_t far_held_max, far_served_max, far_runs;

/* Overlapping rounds (tob_log.c): every request a correct round sender left out of its bundle
 * was carried by a message the order held there (checked at each one it left out, by a scan of
 * btob's held messages apart from the sender's own tags). A request no held message carries,
 * left out by every replica alike, waits for the fallback ([fd] timeout_ms). */
static int check_left_out(struct run *r, char *why, size_t wl, bool *violation)
{
	for (uint32_t id = 1; id <= NN; id++) {
		if (id == r->byz_id)
			continue;
		uint64_t lo, bad;
		struct strata_module *kv = strata_node_module_by_name(sim_node(r->s, id), "kv");
		if (!kv) /* not created (btob-kv-first-use builds the KV on first use) */
			continue;
		smr_tobkv_test_left_out(kv, &lo, &bad);
		if (r->variant == V_NONE)
			total_left_out += lo;
		if (bad) {
			*violation = true;
			return sim_fail(why, wl, "overlap: replica %u left %llu of %llu requests out of "
					"its bundles that no message the order held carried", id,
					(unsigned long long)bad, (unsigned long long)lo);
		}
	}
	return 0;
}

static struct strata_module *mod_of(struct run *r, uint32_t id, const char *name)
{
	struct strata_node *n = sim_node(r->s, id);
	return n ? strata_node_module_by_name(n, name) : NULL;
}

/* btob-catchup-far: the applied index of the correct replicas other than the lagging one (the
 * largest), and whether the lagging one is there too. */
static bool far_caught_up(struct run *r, uint64_t *others, uint64_t *lagger)
{
	*others = *lagger = 0;
	for (uint32_t id = 1; id <= NN; id++) {
		struct strata_module *kv = mod_of(r, id, "kv");
		if (!kv || id == r->byz_id)
			continue;
		struct smr_status st;
		smr_tobkv_status(kv, &st);
		if (id == r->lagger)
			*lagger = st.applied_index;
		else if (st.applied_index > *others)
			*others = st.applied_index;
	}
	return *others > 0 && *lagger == *others;
}

/* btob-catchup-far-backlog: over its seeds, what the links refused and what came of it. */
static uint64_t bl_runs, bl_send_full, bl_refused, bl_resent, bl_reached, bl_asks;

/* btob-catchup-far-backlog: with the clients stopped and every correct replica caught up, the
 * order stands still: no correct replica's btob delivers another round in FAR_STILL_MS (a
 * broadcast the links refused used to leave a gap in its sender's numbers, and every process
 * holding a message above it proposed MISSING rounds for ever). */
static int check_still(struct run *r, char *why, size_t wl, bool count)
{
	uint64_t at[NN + 1] = { 0 };
	for (uint32_t id = 1; id <= NN; id++)
		if (id != r->byz_id)
			at[id] = cons_btob_round(mod_of(r, id, "btob"));
	sim_run_for(r->s, FAR_STILL_MS * MS, NULL, NULL);
	int rc = 0;
	for (uint32_t id = 1; id <= NN; id++) {
		if (id == r->byz_id)
			continue;
		uint64_t now = cons_btob_round(mod_of(r, id, "btob")), refused, resent, asks, reached;
		cons_btob_link_counts(mod_of(r, id, "btob"), &refused, &resent, &asks, &reached);
		if (!count)
			refused = resent = asks = reached = 0;
		bl_send_full += count ? strata_node_counters(sim_node(r->s, id))->send_full : 0;
		bl_refused += refused;
		bl_resent += resent;
		bl_asks += asks;
		bl_reached += reached;
		if (!rc && now != at[id])
			rc = sim_fail(why, wl, "order: replica %u delivered rounds %llu to %llu in %d s "
				      "with no client request (the clients stopped, every correct "
				      "replica caught up)", id, (unsigned long long)at[id],
				      (unsigned long long)now - 1, FAR_STILL_MS / 1000);
		/* BTOB1 (validity): a correct replica delivered every message it broadcast */
		uint64_t own = cons_btob_own_pending(mod_of(r, id, "btob"));
		if (!rc && own)
			rc = sim_fail(why, wl, "validity: %llu of correct replica %u's broadcasts "
				      "never delivered (the order stood still)",
				      (unsigned long long)own, id);
	}
	bl_runs += count;
	return rc;
}

/* broken-backlog-epoch-lost: replica id's complaints and NEWEPOCH the links refuse are lost */
static void epoch_lost(struct run *r, uint32_t id)
{
	strata_fd_bld_test_no_owed(mod_of(r, id, "bld"));
	cons_bec_test_no_owed(mod_of(r, id, "bec"));
}

static int far_done(struct sim *s, void *arg)
{
	(void)s;
	uint64_t o, l;
	return far_caught_up(arg, &o, &l);
}

/* The quota cases over their seeds: writes refused and deletes done (non-vacuity). */
static unsigned quota_seeds;
static uint64_t quota_refused, quota_dels;

/* The space quota's promise: no correct replica's state ever held more than the quota (its
 * high-water mark since created or restored); the Byzantine replica's state is its own. */
static void check_quota(struct run *r)
{
	for (uint32_t id = 1; id <= NN && r->quota && !r->quota_bad[0]; id++) {
		struct strata_node *n = sim_node(r->s, id);
		struct strata_module *m = n ? strata_node_module_by_name(n, "kv") : NULL;
		if (!m || id == r->byz_id)
			continue;
		uint64_t peak = smr_kv_bytes_peak(smr_tobkv_state(m));
		if (peak > r->cfg.smr_quota_bytes)
			snprintf(r->quota_bad, sizeof(r->quota_bad),
				 "quota: correct replica %u's state held %llu bytes, over [smr] "
				 "quota_bytes = %u", id, (unsigned long long)peak,
				 r->cfg.smr_quota_bytes);
	}
}

static int run_case(uint64_t seed, bool trace, char *why, size_t wl, int variant,
		    const char *log)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-btob-kv");
	r->cfg.n = NN;
	r->cfg.f = FF;
	/* btob stands on Byzantine consensus (bldc): a fail-arbitrary cluster */
	r->cfg.model = strcmp(log, "btob") == 0 ? STRATA_MODEL_FAIL_ARBITRARY
						 : STRATA_MODEL_FAIL_NOISY;
	snprintf(r->cfg.smr_log, sizeof(r->cfg.smr_log), "%s", log);
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	r->cfg.smr_timeout_ms = 1500;
	bool backlog = variant == V_FAR_BACKLOG || variant == V_BL_NO_OWED ||
		       variant == V_BL_GAP_ROUNDS || variant == V_BL_NO_PROBE ||
		       variant == V_BL_EPOCH_LOST;
	bool far = variant == V_FAR || variant == V_FAR_LOAD || backlog;
	/* btob-catchup-far-backlog's broken variants (cons_btob_test_broken) */
	unsigned bl_broken = variant == V_BL_NO_OWED ? BTOB_BROKEN_NO_OWED
			     : variant == V_BL_GAP_ROUNDS ? BTOB_BROKEN_GAP_ROUNDS
			     : variant == V_BL_NO_PROBE ? BTOB_BROKEN_NO_PROBE : 0;
	r->cfg.smr_checkpoint_interval = far ? FAR_K : CKPT_K;
	if (backlog) /* the links refuse sends: [links] backlog_bytes cut */
		r->cfg.backlog_bytes = r->cfg.max_value = FAR_BACKLOG;

	/* Over btob: overlapping rounds ([smr] bft_overlap = 2) in bft-kv-over-btob's odd seeds
	 * and the broken variant that leaves out requests; else one round at a time (the
	 * default). */
	r->cfg.smr_bft_overlap =
		variant == V_LEFT_OUT || (variant == V_NONE && seed % 2 == 1) ? 2 : 1;
	sim_config_loopback(&r->cfg, NN, 7800);
	r->variant = variant;
	r->quota = variant == V_QUOTA || variant == V_QUOTA_UNCHECKED;
	if (r->quota)
		r->cfg.smr_quota_bytes = QUOTA_SIM;
	r->over_btob = strcmp(log, "btob") == 0;
	r->trace = trace;
	r->hist = open_memstream(&r->hbuf, &r->hlen);
	kvh_init(&r->w, NN, 0);
	r->w.unwatched = kvh_unwatched(seed, NN);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace, .unwatched = r->w.unwatched };
	r->s = r->w.s = sim_new(&so);
	struct sim *s = r->s;
	r->byz_id = 1 + (uint32_t)sim_random_below(s, NN);
	/* A broken variant needs the forger's reply to reach the client first: a quorum of 1
	 * takes the first signed reply, and the first replica to apply a command is the one
	 * that decides first, the leader (node 1, the lowest id, while nothing is cut). Drawn
	 * among all four, the forger was the leader in about one seed of five, and 10 seeds
	 * sometimes held none. */
	bool catchup = variant == V_CATCHUP || variant == V_SNAP_NODIGEST || far;
	/* the runs of bft-kv-over-btob, with checkpoint votes lost or not */
	bool votes_lost = variant == V_VOTES_LOST || variant == V_NO_REVOTE;
	bool first_use = variant == V_FIRST_USE;
	bool plain = variant == V_NONE || votes_lost || variant == V_LEFT_OUT || first_use ||
		     r->quota;
	if (!plain && !catchup)
		r->byz_id = 1;
	if (first_use && r->byz_id == 1) /* bldc's first leader correct: the order starts at once,
					   * before a stalled KV's ASK could create the late one's */
		r->byz_id = 2 + (uint32_t)sim_random_below(s, NN - 1);
	r->byz = !plain ? STRATA_BYZ_FORGE
			: (enum strata_byz)(1 + sim_random_below(s, STRATA_BYZ_BADSIG));
	if (catchup) {
		/* The Byzantine replica runs the order and votes correctly (so that 2f + 1 votes
		 * certify checkpoints while a correct replica is away) and serves forged snapshots
		 * (bft_ckpt.c); the lagging replica is the one before it, so that it asks the
		 * forger first (servers are asked in id order after self). */
		r->byz = STRATA_BYZ_NONE;
		r->lagger = r->byz_id == 1 ? NN : r->byz_id - 1;
		/* btob-catchup-far: restarted empty in even seeds, cut off (a partition) in odd */
		r->restart = !far || seed % 2 == 0;
	}
	sim_set_byz(s, r->byz_id, r->byz);
	struct sim_net calm = { .delay_min_us = 100, .delay_max_us = 1000 };
	sim_set_net(s, &calm);
	sim_start(s);
	sim_run_for(s, 300 * MS, NULL, NULL); /* the detectors settle */
	r->req_env = variant == V_UNBOUND || sim_random_below(s, 4) != 0;
	{
		uint8_t pseed[32];
		for (unsigned i = 0; i < sizeof(pseed); i += 8) {
			uint64_t x = sim_random(s);
			memcpy(pseed + i, &x, 8);
		}
		STRATA_ASSERT(strata_keypair_seed(r->pk, r->sk, pseed) == 0);
	}
	for (unsigned k = 0; k < NCL; k++) {
		struct client *c = &r->cl[k];
		uint8_t kseed[32];
		for (unsigned i = 0; i < sizeof(kseed); i += 8) {
			uint64_t x = sim_random(s);
			memcpy(kseed + i, &x, 8);
		}
		STRATA_ASSERT(strata_keypair_seed(c->pk, c->sk, kseed) == 0);
		c->proc = k + 1;
		c->session = smr_bft_session_of(c->pk);
		if (r->req_env)
			c->session = smr_bft_session_at(r->pk, k);
		c->next_at = sim_now(s) + sim_random_below(s, 3 * MS);
	}
	/* The quota cases' history: every key holds "absent" first (a setup process). */
	for (unsigned i = 0; r->quota && i < QKEYS; i++) {
		strata_history_append(r->hist, 99, STRATA_HIST_INVOKE, STRATA_HIST_WRITE, keys[i],
				      ABSENT, NULL, sim_now(s) * 1000);
		strata_history_append(r->hist, 99, STRATA_HIST_OK, STRATA_HIST_WRITE, keys[i],
				      ABSENT, NULL, sim_now(s) * 1000);
	}
	if (variant == V_QUOTA_UNCHECKED) /* no quota check at apply */
		for (uint32_t id = 1; id <= NN; id++)
			smr_tobkv_set_broken(strata_node_module_by_name(sim_node(s, id), "kv"),
					     SMR_BROKEN_QUOTA_UNCHECKED);
	if (variant == V_UNSIGNED || variant == V_CKPT || variant == V_UNBOUND)
		/* replicas that take any command under any session, any checkpoint, or an entry
		 * of a request envelope not bound to its signature */
		for (uint32_t id = 1; id <= NN; id++)
			smr_tobkv_set_broken(strata_node_module_by_name(sim_node(s, id), "kv"),
					     variant == V_CKPT ? SMR_BROKEN_BFT_CKPT_NOVERIFY
					     : variant == V_UNBOUND ? SMR_BROKEN_BFT_ENV_UNBOUND
								    : SMR_BROKEN_BFT_UNSIGNED);
	if (bl_broken)
		for (uint32_t id = 1; id <= NN; id++)
			cons_btob_test_broken(mod_of(r, id, "btob"), bl_broken);
	if (variant == V_BL_EPOCH_LOST)
		for (uint32_t id = 1; id <= NN; id++)
			epoch_lost(r, id);
	if (backlog) /* the Byzantine replica's first broadcast skips a number: a gap for good */
		cons_btob_test_gap(mod_of(r, r->byz_id, "btob"));
	if (catchup)
		smr_ckpt_test_forge_snapshots(smr_tobkv_ckpt(
			strata_node_module_by_name(sim_node(s, r->byz_id), "kv")));
	if (variant == V_SNAP_NODIGEST)
		for (uint32_t id = 1; id <= NN; id++)
			smr_tobkv_set_broken(strata_node_module_by_name(sim_node(s, id), "kv"),
					     SMR_BROKEN_BFT_SNAP_NODIGEST);
	if (votes_lost) /* every replica's votes go out only when sent again (CK3) */
		for (uint32_t id = 1; id <= NN; id++) {
			struct strata_module *kv = strata_node_module_by_name(sim_node(s, id), "kv");
			smr_ckpt_test_drop_first_votes(smr_tobkv_ckpt(kv));
			if (variant == V_NO_REVOTE)
				smr_tobkv_set_broken(kv, SMR_BROKEN_BFT_NO_REVOTE);
		}
	if (r->over_btob) /* every request a round sender leaves out: a held message carries it */
		for (uint32_t id = 1; id <= NN; id++) {
			struct strata_module *kv = strata_node_module_by_name(sim_node(s, id), "kv");
			uint64_t lo, bad;
			if (!kv) /* btob-kv-first-use: the KV is created on first use, later */
				continue;
			smr_tobkv_test_left_out(kv, &lo, &bad);
			if (variant == V_LEFT_OUT)
				smr_tobkv_set_broken(kv, SMR_BROKEN_BFT_OVERLAP_SKIP);
		}
	bool faults = plain || catchup;
	if (faults) {
		struct sim_net net = {
			.drop = sim_random_unit(s) * 0.10, .dup = sim_random_unit(s) * 0.05,
			.delay_min_us = 100, .delay_max_us = 100 + sim_random_below(s, 3000),
			.tail = 0.02 + sim_random_unit(s) * 0.1, .tail_us = 20 * MS,
		};
		sim_set_net(s, &net);
	}
	/* btob orders one sender's messages per round, rounds rotating over the senders: a longer
	 * phase (2 s: with btob's pipelined rounds it completes about the operations the 3 s
	 * phase did before them: 793 against 821 in seeds 1-3; 3 s now completed 1,282). */
	const uint64_t t0 = sim_now(s),
		       t_ops = (far ? 12000 : catchup ? 4000 : strcmp(log, "btob") == 0 ? 2000 : 1000) * MS;
	/* btob-catchup-far: a correct replica that stays (the watcher) and the round it was at
	 * when its stable checkpoint last moved (at or after that checkpoint's round) */
	uint32_t watch = 1;
	while (watch == r->byz_id || watch == r->lagger)
		watch++;
	uint64_t w_stable = 0, w_stable_round = 0, stop_at = 0, far_end = UINT64_MAX;
	uint64_t away_from = 0;
	if (first_use) /* its btob delivers before any request reaches it (its KV) */
		r->late = random_correct(r);
	uint64_t part_at = t0 + sim_random_below(s, t_ops / 2);
	uint64_t part_len = 200 * MS + sim_random_below(s, 400 * MS);
	uint64_t pause_at = t0 + sim_random_below(s, t_ops / 2);
	uint64_t pause_len = 100 * MS + sim_random_below(s, 600 * MS);
	uint32_t cut = catchup ? r->lagger : random_correct(r), pause_id = 0;
	/* btob-catchup-far: away once the first stable checkpoint is 8-40 rounds behind the order
	 * (below), so that a restarted replica also needs the rounds between that checkpoint and
	 * where it left, which no retransmission brings it (it had them) */
	uint64_t far_after = far ? 8 + sim_random_below(s, 33) : 0;
	if (catchup) { /* away from part_at until the others ran AWAY_ROUNDS rounds (below) */
		part_at = far ? UINT64_MAX : t0 + 200 * MS + sim_random_below(s, 200 * MS);
		part_len = UINT64_MAX / 4;
		pause_at = UINT64_MAX;
	}
	bool parted = false, healed = false, paused = false, resumed = false;
	/* The phase runs on, faults and all, while fewer than MIN_OPS writes or reads completed,
	 * up to SIM_OPS_EXTEND times its length (docs/simulator.md, "A short operation phase
	 * runs on"). */
	uint64_t t = t0;
	for (; t < t0 + t_ops || (t < t0 + SIM_OPS_EXTEND * t_ops &&
				  (r->writes_ok < MIN_OPS || r->reads_ok < MIN_OPS));
	     t += MS) {
		sim_run_until(s, t, NULL, NULL);
		expire(r);
		if (faults && !parted && t >= part_at) {
			uint64_t all = (1ull << (NN + 1)) - 2, cb = 1ull << cut;
			if (catchup)
				away_from = cons_btob_round(strata_node_module_by_name(
					sim_node(s, cut), "btob"));
			if (r->restart)
				sim_crash(s, cut);
			else
				sim_partition(s, cb, all & ~cb);
			parted = true;
		}
		if (far) {
			const struct smr_ckpt_cert *wc =
				smr_ckpt_stable(smr_tobkv_ckpt(mod_of(r, watch, "kv")));
			uint64_t si = wc ? wc->index : 0;
			if (si != w_stable) {
				w_stable = si;
				w_stable_round = cons_btob_round(mod_of(r, watch, "btob"));
			}
			if (!parted && w_stable && part_at == UINT64_MAX &&
			    cons_btob_round(mod_of(r, watch, "btob")) >= w_stable_round + far_after)
				part_at = t + MS;
		}
		if (far && parted && !healed) {
			/* Away until the others decided FAR_GAP rounds past their stable
			 * checkpoint and past where it left; then (btob-catchup-far) the load stops,
			 * and once the order stood still for a second, if they are still more than
			 * CONS_CACHE + 16 rounds past it, it comes back (else the load resumes). */
			uint64_t now_round = cons_btob_round(mod_of(r, watch, "btob"));
			bool gap = w_stable > 0 && now_round >= w_stable_round + FAR_GAP &&
				   now_round >= away_from + FAR_GAP;
			bool back = false;
			if (variant == V_FAR_LOAD) {
				back = gap;
			} else if (!r->load_stopped && gap) {
				r->load_stopped = true;
				stop_at = t;
			} else if (r->load_stopped && t >= stop_at + 1000 * MS) {
				back = now_round >= w_stable_round + CONS_CACHE + 16;
				r->load_stopped = back;
			}
			if (t + 2500 * MS >= t0 + t_ops)
				back = true; /* judged vacuous below */
			if (back && backlog) {
				/* The leader detector and the epoch move while the replica is away and
				 * its backlog is full: the others complain about the leader they trust
				 * (2f + 1 complaints), so its complaints and NEWEPOCH are refused. */
				for (uint32_t id = 1; id <= NN; id++) {
					struct strata_module *bld = mod_of(r, id, "bld");
					if (id == r->lagger || !bld)
						continue;
					uint64_t br = strata_fd_bld_round(bld);
					(void)strata_fd_bld_complain(bld, (uint32_t)((br - 1) % NN) + 1);
				}
			}
			if (back) {
				part_len = t - part_at;
				r->far_gap = now_round - (away_from > w_stable_round ? away_from
									      : w_stable_round);
				far_end = variant == V_FAR_LOAD ? t + 2000 * MS : t;
				if (trace || getenv("SIM_KV_VERBOSE"))
					fprintf(stderr, "  replica %u (%s) back after %llu ms: "
						"round %llu, it left at %llu, stable checkpoint %llu "
						"at round <= %llu; load %s\n", cut,
						r->restart ? "restarted" : "cut off",
						(unsigned long long)(part_len / MS),
						(unsigned long long)now_round,
						(unsigned long long)away_from,
						(unsigned long long)w_stable,
						(unsigned long long)w_stable_round,
						r->load_stopped ? "stopped" : "goes on");
			}
		}
		if (catchup && !far && parted && !healed) {
			/* Away until the others are AWAY_ROUNDS rounds ahead (beyond what bldc
			 * still answers for: CONS_LIVE_MAX lingering instances and CONS_CACHE
			 * decided values), at most until near the phase's end. */
			uint64_t now_round = cons_btob_round(strata_node_module_by_name(
				sim_node(s, r->byz_id), "btob"));
			part_len = now_round >= away_from + AWAY_ROUNDS || t + 300 * MS >= t0 + t_ops
					   ? t - part_at : UINT64_MAX / 4;
			if (part_len != UINT64_MAX / 4 && (trace || getenv("SIM_KV_VERBOSE")))
				fprintf(stderr, "  replica %u back after %llu ms: round %llu, it left "
					"at %llu\n", cut, (unsigned long long)(part_len / MS),
					(unsigned long long)now_round, (unsigned long long)away_from);
		}
		if (parted && !healed && t >= part_at + part_len) {
			if (r->restart) {
				sim_restart(s, cut); /* a new process: no state at all */
				if (variant == V_SNAP_NODIGEST)
					smr_tobkv_set_broken(strata_node_module_by_name(
						sim_node(s, cut), "kv"), SMR_BROKEN_BFT_SNAP_NODIGEST);
				if (bl_broken)
					cons_btob_test_broken(mod_of(r, cut, "btob"), bl_broken);
				if (variant == V_BL_EPOCH_LOST)
					epoch_lost(r, cut);
			} else {
				sim_heal(s);
			}
			healed = true;
		}
		if (first_use && !r->late_reached) {
			/* Requests reach the late replica once its btob (created by the others'
			 * frames) delivered LATE_ROUNDS rounds; by mid-phase at the latest (then the
			 * run is vacuous, below). */
			struct strata_module *bt =
				strata_node_module_by_name(sim_node(s, r->late), "btob");
			r->late_reached = (bt && cons_btob_round(bt) > LATE_ROUNDS) ||
					  t >= t0 + t_ops / 2;
		}
		if (first_use && !r->late_kv_at &&
		    strata_node_module_by_name(sim_node(s, r->late), "kv")) {
			struct strata_module *bt =
				strata_node_module_by_name(sim_node(s, r->late), "btob");
			r->late_kv_at = bt ? cons_btob_round(bt) : 1;
		}
		if (faults && !paused && t >= pause_at) {
			pause_id = random_correct(r);
			sim_pause(s, pause_id);
			paused = true;
		}
		if (paused && !resumed && t >= pause_at + pause_len) {
			sim_resume(s, pause_id);
			resumed = true;
		}
		for (unsigned k = 0; k < NCL; k++) {
			struct client *c = &r->cl[k];
			if (c->busy || t < c->next_at || r->load_stopped)
				continue;
			uint64_t x = sim_random_below(s, 100);
			int kind = r->quota ? (x < 40 ? OP_GET : x < 80 ? OP_PUT : OP_DEL)
					    : (x < 45 ? OP_GET : x < 85 ? OP_PUT : OP_CAS);
			issue(r, c, kind, keys[sim_random_below(s, nkeys(r))]);
		}
		send_queued(r);
		check_quota(r);
		if (healed && t >= far_end)
			break; /* btob-catchup-far: back, with the load stopped (or after 2 s more) */
	}
	const uint64_t ops_ms = (t - t0) / MS;
	sim_heal(s);
	if (pause_id && sim_is_paused(s, pause_id))
		sim_resume(s, pause_id);
	sim_set_net(s, &calm);
	sim_run_until(s, sim_now(s) + 5000 * MS, all_idle, r);
	int rc = 0;
	for (unsigned k = 0; k < NCL && !rc; k++)
		if (r->cl[k].busy)
			rc = sim_fail(why, wl, "liveness: client %u got no outcome within 5 s after "
				      "healing", k);
	if (!rc && far) {
		/* Nothing new is issued: the lagging replica must reach the others' applied index
		 * within FAR_CATCH_MS of coming back, through whatever the others still hold. */
		r->load_stopped = true;
		sim_run_until(s, sim_now(s) + FAR_CATCH_MS * MS, far_done, r);
		uint64_t others, lag;
		bool ok = far_caught_up(r, &others, &lag);
		/* three KV ticks (2 x timeout_ms each): the logs follow the last stable checkpoint */
		sim_run_for(s, 6 * r->cfg.timeout_ms * MS, NULL, NULL);
		uint64_t held = 0, dropped = 0, served = 0;
		cons_btob_future_counts(mod_of(r, r->lagger, "btob"), &held, &dropped);
		for (uint32_t id = 1; id <= NN && !rc; id++) {
			uint64_t lr, sv;
			size_t lb;
			if (id == r->byz_id)
				continue;
			struct strata_module *bt = mod_of(r, id, "btob");
			cons_btob_log_counts(bt, &lr, &lb, &sv);
			if (id != r->lagger)
				served += sv;
			/* The log keeps the rounds from the stable checkpoint's on (the KV lets go
			 * of the others every tick), not every round delivered. */
			uint64_t from = smr_ckpt_stable_round(smr_tobkv_ckpt(mod_of(r, id, "kv")));
			if (from && lr > cons_btob_round(bt) - from)
				rc = sim_fail(why, wl, "decided log: replica %u holds %llu rounds, more "
					      "than the %llu from its stable checkpoint's round %llu to "
					      "%llu", id, (unsigned long long)lr,
					      (unsigned long long)(cons_btob_round(bt) - from),
					      (unsigned long long)from,
					      (unsigned long long)cons_btob_round(bt));
		}
		if (!backlog) {
			if (served > far_served_max)
				far_served_max = served;
			if (held > far_held_max)
				far_held_max = held;
			far_runs++;
		}
		if (trace || getenv("SIM_KV_VERBOSE"))
			fprintf(stderr, "  replica %u: applied %llu of %llu (%s); its btob held up to "
				"%llu decisions of later rounds at once, the other correct replicas "
				"answered %llu rounds from their decided logs\n", r->lagger,
				(unsigned long long)lag, (unsigned long long)others,
				ok ? "caught up" : "behind", (unsigned long long)held,
				(unsigned long long)served);
		if (!ok)
			rc = sim_fail(why, wl, "liveness: replica %u (%s, the others %llu rounds past "
				      "their stable checkpoint and where it left) applied %llu "
				      "commands, the others %llu, %d s after the load stopped",
				      r->lagger, r->restart ? "restarted" : "cut off",
				      (unsigned long long)r->far_gap, (unsigned long long)lag,
				      (unsigned long long)others, FAR_CATCH_MS / 1000);
		else if (r->far_gap < CONS_CACHE + 16)
			rc = sim_fail(why, wl, "catch-up: the others were only %llu rounds past their "
				      "stable checkpoint when replica %u came back: vacuous run",
				      (unsigned long long)r->far_gap, r->lagger);
		if (!rc && backlog)
			rc = check_still(r, why, wl, variant == V_FAR_BACKLOG);
		if (!rc && backlog) /* the final reads need the returning replica in the order */
			sim_crash(s, r->byz_id);
		r->load_stopped = false;
	}
	for (unsigned key = 0; key < nkeys(r) && !rc; key++)
		for (unsigned k = 0; k < NCL && !rc; k++) {
			unsigned info0 = r->info;
			issue(r, &r->cl[k], OP_GET, keys[key]);
			send_queued(r);
			sim_run_until(s, sim_now(s) + 5000 * MS, all_idle, r);
			if (r->cl[k].busy)
				rc = sim_fail(why, wl, "liveness: final read of %s unanswered", keys[key]);
			else if ((plain || variant == V_CATCHUP || far) && r->info != info0)
				/* After healing every request is ordered: a read that timed out
				 * (say, its designated replica is silent and no other replica put
				 * its copy into the order, tob_log.c) is a liveness failure. */
				rc = sim_fail(why, wl, "liveness: final read of %s by client %u has no "
					      "outcome f + 1 replicas agree on (timed out)", keys[key], k);
		}
	if (!rc && r->error)
		rc = sim_fail(why, wl, "%s", r->errtxt);
	if (!rc && (r->writes_ok < MIN_OPS || r->reads_ok < MIN_OPS))
		rc = sim_fail(why, wl, "only %u writes and %u reads completed in a %llu ms operation "
			      "phase (%llu ms, run on while short): vacuous run", r->writes_ok,
			      r->reads_ok, (unsigned long long)ops_ms,
			      (unsigned long long)(t_ops / MS));
	if (votes_lost || first_use) /* ticks of 2 x timeout: standing replicas vote again */
		sim_run_for(s, 2000 * MS, NULL, NULL);
	bool violation = false;
	check_quota(r);
	if (r->quota_bad[0]) {
		rc = sim_fail(why, wl, "%s", r->quota_bad);
		violation = true;
	}
	if (r->quota) {
		quota_seeds++;
		quota_refused += r->quota_refused;
		quota_dels += r->dels_ok;
		if (!rc && quota_seeds >= 3 && (quota_refused == 0 || quota_dels == 0))
			rc = sim_fail(why, wl, "%llu writes refused and %llu deletes in %u seeds of "
				      "the quota case: vacuous", (unsigned long long)quota_refused,
				      (unsigned long long)quota_dels, quota_seeds);
		if (trace || getenv("SIM_KV_VERBOSE"))
			fprintf(stderr, "seed %llu: quota: %u writes refused, %u deletes\n",
				(unsigned long long)seed, r->quota_refused, r->dels_ok);
	}
	if (!rc)
		rc = check_agreement(r, why, wl, &violation);
	if (!rc)
		rc = check_history(r, why, wl, &violation);
	if (!rc)
		rc = kvh_check_watch(&r->w, why, wl, &violation);
	if (!rc)
		rc = check_checkpoints(r, why, wl, &violation);
	if (!rc && catchup && !far)
		rc = check_rejoined(r, why, wl, &violation);
	if (!rc && r->over_btob)
		rc = check_left_out(r, why, wl, &violation);
	if (!rc && first_use)
		rc = check_first_use(r, why, wl, &violation);
	if (!rc && votes_lost && (!r->ckpt_judged || !r->ckpt_last_own))
		rc = sim_fail(why, wl, "checkpoints: no checkpoint to judge (the correct replicas "
			      "applied %s, newest own checkpoint %llu): vacuous run",
			      r->ckpt_judged ? "the same" : "different counts",
			      (unsigned long long)r->ckpt_last_own);
	if (rc && variant != V_NONE && variant != V_CATCHUP && !far && variant != V_VOTES_LOST &&
	    variant != V_LEFT_OUT && variant != V_FIRST_USE && variant != V_QUOTA && !violation) {
		fprintf(stderr, "sim_btob_kv: broken variant seed %llu failed for another reason: "
			"%s\n", (unsigned long long)seed, why);
		exit(1);
	}
	uint64_t envelopes = 0, enveloped = 0;
	for (uint32_t id = 1; id <= NN; id++) {
		if (!sim_node(s, id))
			continue; /* crashed (btob-catchup-far-backlog's Byzantine replica) */
		const struct strata_counters *nc = strata_node_counters(sim_node(s, id));
		envelopes += nc->kv_bft_envelopes;
		enveloped += nc->kv_bft_enveloped;
		if (variant == V_NONE && strcmp(log, "btob") == 0 && id != r->byz_id) {
			total_taken += nc->kv_bft_taken; /* by correct replicas */
			total_ordered += nc->kv_bft_ordered;
			total_rounds += nc->kv_bft_rounds;
			total_early += nc->kv_bft_early;
		}
	}
	if (trace || getenv("SIM_KV_VERBOSE"))
		fprintf(stderr, "seed %llu: byzantine %u (%s): %u ok (%u writes, %u reads), %u "
			"unknown, %u forged replies seen, %u bad signatures, checkpoint progress %s; "
			"%llu reply envelopes of %llu replies, clients verified %llu roots and took "
			"%llu replies by a verified root\n",
			(unsigned long long)seed, r->byz_id, strata_byz_name(r->byz), r->ops_ok,
			r->writes_ok, r->reads_ok, r->info, r->forged_seen, r->rejected_sig,
			r->ckpt_judged ? "judged" : "not judged (a correct replica behind)",
			(unsigned long long)envelopes, (unsigned long long)enveloped,
			(unsigned long long)r->envs.verified, (unsigned long long)r->envs.hits);
	sim_free(s);
	fclose(r->hist);
	free(r->hbuf);
	kvh_fini(&r->w);
	free(r);
	return rc;
}

static int run_bft(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_NONE, "bft-tob");
}

static int run_btob(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_NONE, "btob");
}

static int run_one(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_ONE, "bft-tob");
}

static int run_noverify(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_NOVERIFY, "bft-tob");
}

static int run_unsigned(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_UNSIGNED, "bft-tob");
}

static int run_ckpt_noverify(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_CKPT, "bft-tob");
}

static int run_env_unbound(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_UNBOUND, "bft-tob");
}

static int run_catchup(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_CATCHUP, "btob");
}

static int run_snap_nodigest(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_SNAP_NODIGEST, "btob");
}

static int run_votes_lost(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_VOTES_LOST, "btob");
}

static int run_no_revote(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_NO_REVOTE, "btob");
}

static int run_left_out(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_LEFT_OUT, "btob");
}

static int run_first_use(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_FIRST_USE, "btob");
}

static int run_far(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_FAR, "btob");
}

static int run_far_load(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_FAR_LOAD, "btob");
}

static int run_far_backlog(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_FAR_BACKLOG, "btob");
}

static int run_bl_no_owed(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_BL_NO_OWED, "btob");
}

static int run_bl_gap_rounds(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_BL_GAP_ROUNDS, "btob");
}

static int run_bl_no_probe(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_BL_NO_PROBE, "btob");
}

static int run_bl_epoch_lost(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_BL_EPOCH_LOST, "btob");
}

/* The space quota over btob: decided at apply by every correct replica alike, voted by the
 * client; the bound on the correct replicas, refused writes never taking effect. */
static int run_quota(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_QUOTA, "btob");
}

/* Broken: no quota check at apply: the correct replicas outgrow the quota. */
static int run_quota_unchecked(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, V_QUOTA_UNCHECKED, "btob");
}

static const struct sim_case cases[] = {
	{ "bft-kv-one-byzantine", run_bft, 10, false },
	{ "bft-kv-over-btob", run_btob, 6, false },
	{ "btob-quota", run_quota, 6, false },
	{ "broken-quota-unchecked", run_quota_unchecked, 6, true },
	{ "broken-accept-one", run_one, 10, true },
	{ "broken-no-verify", run_noverify, 10, true },
	{ "broken-unsigned-requests", run_unsigned, 10, true },
	{ "broken-ckpt-no-verify", run_ckpt_noverify, 3, true },
	{ "broken-env-unbound", run_env_unbound, 10, true },
	{ "btob-catchup-snapshot", run_catchup, 4, false },
	{ "broken-snap-no-digest", run_snap_nodigest, 4, true },
	{ "btob-ckpt-votes-lost", run_votes_lost, 3, false },
	{ "broken-ckpt-no-revote", run_no_revote, 2, true },
	{ "btob-kv-first-use", run_first_use, 3, false },
	{ "btob-catchup-far", run_far, 4, false },
	{ "btob-catchup-far-load", run_far_load, 2, false },
	{ "btob-catchup-far-backlog", run_far_backlog, 16, false },
	{ "broken-backlog-no-owed", run_bl_no_owed, 20, true },
	{ "broken-backlog-gap-rounds", run_bl_gap_rounds, 8, true },
	{ "broken-backlog-no-probe", run_bl_no_probe, 8, true },
	{ "broken-backlog-epoch-lost", run_bl_epoch_lost, 8, true },
	{ "broken-overlap-left-out", run_left_out, 4, true },
};

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_btob_kv", cases, sizeof(cases) / sizeof(cases[0]));
	if (far_runs) {
		printf("sim_btob_kv: btob-catchup-far: a returning replica's btob held up to %llu "
		       "decisions of later rounds at once\n", (unsigned long long)far_held_max);
		printf("sim_btob_kv: btob-catchup-far: the other correct replicas answered up to %llu "
		       "rounds of one run from their decided logs\n",
		       (unsigned long long)far_served_max);
		if (!far_served_max) {
			printf("FAIL sim_btob_kv: no correct replica answered a round from its decided "
			       "log (btob-catchup-far is vacuous)\n");
			rc = 1;
		}
		if (far_held_max <= 64) {
			printf("FAIL sim_btob_kv: no returning replica held more than 64 decisions of "
			       "later rounds (btob-catchup-far is vacuous)\n");
			rc = 1;
		}
	}
	if (bl_runs) {
		printf("sim_btob_kv: btob-catchup-far-backlog: over %llu runs the correct replicas' "
		       "links refused %llu sends; btob owed %llu broadcasts to a peer and sent %llu "
		       "again; %llu ASKs while idle, %llu rounds delivered behind the others' round\n",
		       (unsigned long long)bl_runs, (unsigned long long)bl_send_full,
		       (unsigned long long)bl_refused, (unsigned long long)bl_resent,
		       (unsigned long long)bl_asks, (unsigned long long)bl_reached);
		/* Vacuous if btob never had a refused broadcast to owe. Whether an owed one is sent
		 * again or delivered by the order first (then it is owed no more) depends on the
		 * seeds: at base 761499667 all 206 owed were delivered first, so "sent again" alone
		 * made the suite fail there; broken-backlog-no-owed shows owing matters. */
		if (!bl_refused) {
			printf("FAIL sim_btob_kv: btob owed no broadcast the links refused "
			       "(btob-catchup-far-backlog is vacuous)\n");
			rc = 1;
		}
	}
	if (total_rounds) {
		printf("sim_btob_kv: bft-kv-over-btob: %llu requests ordered in %llu rounds (%.2f per "
		       "round, summed over the correct replicas), %llu of them of another replica's "
		       "share\n", (unsigned long long)total_ordered,
		       (unsigned long long)total_rounds,
		       (double)total_ordered / (double)total_rounds, (unsigned long long)total_taken);
		printf("sim_btob_kv: bft-kv-over-btob: %llu bundles sent while the round before was "
		       "decided (overlapping rounds), %llu requests left out as a held message's\n",
		       (unsigned long long)total_early, (unsigned long long)total_left_out);
		if (!total_early) {
			printf("FAIL sim_btob_kv: no round sender ever sent while the round before was "
			       "decided (overlapping rounds are vacuous, tob_log.c)\n");
			rc = 1;
		}
		if (!total_taken) {
			printf("FAIL sim_btob_kv: no round sender ever ordered a request of another "
			       "replica's share (holding and taking are vacuous, tob_log.c)\n");
			rc = 1;
		}
	}
	return rc;
}
