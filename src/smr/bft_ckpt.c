/* Signed checkpoints of the Byzantine fault-tolerant KV (`[smr] log = btob` or `bft-tob`,
 * tob_log.c): the checkpoint protocol of PBFT-style state-machine replication (Castro and
 * Liskov, "Practical Byzantine Fault Tolerance", OSDI 1999, Sect. 4.3), over the KV's totally
 * ordered commands. The book names the need (Sect. 6.1.5 keeps the whole log) but gives no
 * module; the specification below is ours.
 *
 * Specification (N > 3f replicas, at most f Byzantine; `[smr] checkpoint_interval` = K):
 *   CK1 Certificate   a stable checkpoint (index i, digest D) carries 2f + 1 Ed25519 signatures
 *                     of distinct replicas over (replica, i, D); anyone with the cluster's public
 *                     keys verifies it alone (smr_ckpt_cert_verify).
 *   CK2 Correctness   D is the digest of the state every correct replica holds after applying
 *                     the first i ordered commands: of 2f + 1 signers at least f + 1 are correct,
 *                     and a correct replica signs only its own state's digest.
 *   CK3 Progress      once the network heals and the correct replicas have applied the same
 *                     commands, each holds a stable checkpoint less than K below them, from
 *                     2f + 1 votes or from a peer's certificate (its last vote is among every
 *                     correct replica's last W).
 * Algorithm:
 *   upon applying command i with i mod K = 0 (every correct replica, the same i; over btob: the
 *        first round end at or past it, below):
 *       D := SHA-256(canonical snapshot of the state: keys in byte order, then the sessions in
 *            applied order; smr_kv_snapshot_canonical);
 *       send VOTE(self, i, D, sign(self, i, D)) to every replica; count it;
 *   upon VOTE(r, i, D, s) from r over authenticated links (r = the link's peer), i mod K = 0,
 *        i > stable, s valid:
 *       keep r's first vote for i among r's newest W votes (a replica that lags votes the
 *       indexes the others voted before, in order, and reaches their newest W);
 *       if 2f + 1 replicas voted D for i: stable := (i, D, their signatures);
 *       send STABLE(i, D, the 2f + 1 signatures) to every replica;
 *   upon STABLE(i, D, sigs) with i > stable and sigs a valid certificate: stable := (i, D, sigs).
 *   every tick, if the applied index did not move and this replica's newest vote is above
 *       stable: send that VOTE again to every replica (CK3 whatever became of the first copy:
 *       once the order stands still the correct replicas share their last checkpoint, so their
 *       repeated votes reach 2f + 1 there; a repeat is counted once, as r's first vote for i).
 *   CK4 Verified transfer (`[smr] log = btob`) a replica installs a fetched snapshot only if
 *                     its SHA-256 is the digest of a certificate it verified (CK1): whatever
 *                     one Byzantine server sends, what is installed is the state 2f + 1 replicas
 *                     signed; a Byzantine server can delay a fetch (silence, bad bytes: the next
 *                     replica is asked), never corrupt it.
 *   CK5 Rejoin        a replica that fell behind what the others still hold for it (or
 *                     restarted without state) and learns a stable checkpoint above its applied
 *                     index installs it and resumes the order (btob) at the round after it.
 *
 * Checkpoints over btob are taken at round ends: at the first round end at or past each K-th
 * applied command (tob_log.c; btob delivers the last message of a round with the position after
 * it: the next round and every sender's next sequence number). Correct replicas deliver the same
 * messages in the same rounds, so they checkpoint at the same indexes with the same positions.
 * The snapshot is [round][n][next] x n, then the canonical KV, and D is the SHA-256 of all of it:
 * the certificate covers the state AND where the order resumes after it. Over tob (bft-tob) the
 * index is every K-th command, the position empty, and nothing is fetched (tob is crash-stop).
 *
 * Snapshot transfer (the KV over btob), our design after PBFT's state transfer, simplified to
 * one snapshot:
 *   every tick (2 x `[fd] timeout_ms`): per-sender budgets refill; if this replica's applied
 *       index did not move since the last tick (or it restarted without state: joining):
 *       if stable > applied: fetch(stable) else send ASK(stable index) to every replica;
 *   upon ASK(i) from q (at most once per tick per q): if stable > i: send STABLE(stable) to q;
 *   fetch(i, D): ask one replica q at a time (id order after self, each once per attempt)
 *       FETCH(i, D, offset) for the next chunk (at most CKPT_CHUNK_MAX bytes), stop-and-wait;
 *   upon FETCH(i, D, off) from q (at most CKPT_SERVE_BURST per tick per q): if the stable
 *       checkpoint is (i, D) and this replica holds its snapshot: CHUNK(i, D, total, off, bytes),
 *       else NOSNAP(i);
 *   upon CHUNK from the replica asked, at the expected offset: append; when whole: if SHA-256
 *       of it = D, install it (tob_log.c: the state, the applied index, btob resumes at its
 *       round) else count it, ask the next replica;
 *   upon NOSNAP, or the replica asked silent for CKPT_FETCH_TICKS ticks: the next replica;
 *       after every replica, the attempt ends (the next tick starts another, for the then
 *       stable checkpoint).
 * Each replica keeps the snapshots of its two newest own checkpoints until one is stable, then
 * serves that one (its own, with the certified digest) until the next is stable.
 *
 * Bounded verification work: a STABLE at or below the stable index is dropped unverified; a
 * certificate that failed verification is remembered by hash per sender and not verified again;
 * at most CKPT_VERIFY_BURST certificates per sender per tick are verified (beyond: dropped and
 * counted, the sender's next ones or an ASK bring it again). So a Byzantine replica costs each
 * replica at most 2 x (2f + 1) signature verifications per tick, whatever it sends.
 *
 * Model: fail-arbitrary replicas, unforgeable signatures and SHA-256, the order's agreement
 * (all correct replicas apply the same commands in the same order: btob, Alg. 6.2). Bounded: each
 * replica's newest W = CKPT_WINDOW votes above the stable index (a Byzantine replica fills only its
 * own; older or stale ones are dropped and counted), the stable certificate (2f + 1 signatures),
 * the digests of the last W own checkpoints: (N + 1) x W x (8 + 32 + 64) bytes; over btob also
 * the snapshots of at most three checkpoints (two own pending, one served) and one fetch's buffer
 * (at most CKPT_SNAP_MAX, 256 MiB: a larger one is refused, its server counted as bad; one
 * fetch at a time), and per-peer budgets (N small records). A replica too far behind for the
 * others' windows learns the stable checkpoint from a peer's STABLE (sent when stable, or on ASK).
 *
 * Costs per checkpoint: one canonical snapshot of the state (O(keys log keys)), one SHA-256 of
 * it, one signature, N - 1 votes sent and N - 1 verified at each replica; one STABLE per replica.
 * Over btob a snapshot copy is kept per checkpoint (freed when the next is stable). A fetch: the
 * snapshot's bytes once from a correct server (more from Byzantine ones, each at most the
 * snapshot size), 2f + 1 verifications of its certificate, one SHA-256, one restore.
 *
 * What this does not give: a replica that restarted re-signs btob sequence numbers from the
 * checkpoint's position on; a message it signed before the crash with such a number, held but
 * not yet ordered by others, makes the two an equivocation of a correct sender, which btob
 * settles as for any sender (one of them is ordered, the same everywhere; the KV's requests in
 * the other are ordered through the other replicas' fallback copies). A replica whose state the
 * others no longer hold for it but that is not stalled (its applied index moves) catches up
 * through the order only.
 *
 * Test-only Byzantine behaviours (strata_node_byz): SILENT votes nothing; EQUIVOCATE votes a
 * different wrong digest to every peer; REPLAY and OLD_EPOCH vote their previous checkpoint's
 * digest again; LIE_STATE votes a wrong digest (validly signed); BADSIG votes with a corrupted
 * signature; FORGE votes a wrong digest, sends a STABLE far ahead (64 K) for a digest no
 * replica holds, carrying its own signature and signatures it claims are the others', and
 * serves forged snapshots (the genuine state plus a key no client wrote, under the genuine
 * position; without the genuine one, 64 bytes of its own). smr_ckpt_test_forge_snapshots: a replica that serves forged snapshots and runs
 * everything else correctly (its votes count, so certificates form while a correct replica is
 * away on N = 3f + 1).
 * smr_ckpt_test_drop_first_votes: every vote this replica takes goes out only when it is sent
 * again (the first send of each is dropped, as a perfect-link send refused under load), so
 * stable checkpoints rest on the repeat of a standing replica's newest vote alone (CK3).
 * TEST ONLY broken variants: SMR_BROKEN_BFT_CKPT_NOVERIFY, votes and certificates are taken
 * without checking their signatures; SMR_BROKEN_BFT_SNAP_NODIGEST, a fetched snapshot is
 * installed without comparing its SHA-256 with the certified digest; SMR_BROKEN_BFT_NO_REVOTE,
 * a standing replica never sends its newest vote again. */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/config.h"
#include "core/error.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "links/links.h"
#include "smr/smr.h"

#define CKPT_WINDOW 8u
#define CKPT_LABEL "strata-bft-checkpoint-v1"
#define CKPT_VOTE 1
#define CKPT_STABLE 2
#define CKPT_FORGE_AHEAD 64u
#define CKPT_ASK 3
#define CKPT_FETCH 4
#define CKPT_CHUNK 5
#define CKPT_NOSNAP 6
#define CKPT_CHUNK_MAX ((size_t)32 << 10) /* snapshot bytes per CHUNK at most */
#define CKPT_SNAP_MAX ((size_t)256 << 20) /* a snapshot larger than this is not fetched */

uint64_t smr_bft_quota_max(uint32_t sessions_max)
{
	/* The blob: the position (n x 16 bytes), the canonical KV: per key at most its bytes + 40
	 * of encoding (the quota counts 64), per session at most 4 varints (40 bytes) and a result
	 * (3 varints, 30 bytes) per seq of its window; 1 MiB of slack for the position and the
	 * headers. */
	uint64_t sessions = (uint64_t)sessions_max * (40 + 30u * SMR_SESSION_WINDOW);
	uint64_t room = CKPT_SNAP_MAX - ((uint64_t)1 << 20);
	return sessions + ((uint64_t)1 << 20) < room ? room - sessions : (uint64_t)1 << 20;
}
#define CKPT_VERIFY_BURST 2u  /* certificates verified per sender per tick at most */
#define CKPT_SERVE_BURST 64u  /* chunks served per asking replica per tick at most */
#define CKPT_FETCH_TICKS 3u   /* a server silent this many ticks: ask the next one */

/* One replica's vote. */
struct ck_vote {
	uint64_t index; /* 0 = none */
	uint8_t digest[SMR_BFT_DIGEST_LEN];
	uint8_t sig[STRATA_SIG_LEN];
};

struct smr_ckpt {
	struct strata_module *m;
	struct strata_node *node;
	const struct strata_config *cfg;
	uint32_t n, f, self;
	uint64_t interval;
	unsigned broken;
	struct ck_vote (*votes)[CKPT_WINDOW]; /* [n + 1]: each replica's newest W votes */
	struct smr_ckpt_cert stable;
	struct {
		uint64_t index;
		uint8_t digest[SMR_BFT_DIGEST_LEN];
	} own[CKPT_WINDOW];
	unsigned own_next;
	struct strata_msg *my_vote;     /* the newest VOTE this replica sent (resent when stalled) */
	struct smr_ckpt_counts cnt;
	/* Snapshot transfer (fetch enabled: the KV over btob). */
	bool fetch;
	smr_ckpt_install_fn install;
	void *install_arg;
	uint64_t tick_us;
	struct {
		uint64_t index;
		struct strata_msg *blob;
	} pend_blob[2];                 /* own checkpoints' snapshots not (yet) stable */
	unsigned pend_next;
	struct strata_msg *served;      /* the snapshot of the stable checkpoint, if held */
	uint64_t served_index;
	uint64_t served_round;          /* its position's round (where the order resumes) */
	struct strata_msg *forged;      /* TEST ONLY: what a forging server serves for served_index */
	bool test_forge;                /* TEST ONLY: serves forged snapshots */
	bool test_drop_first;           /* TEST ONLY: a vote's first send is dropped */
	struct ck_peer {
		uint8_t bad[SMR_BFT_DIGEST_LEN]; /* hash of its last certificate that failed */
		bool has_bad;
		unsigned verified, asked, served; /* this tick */
	} *peer;                        /* [n + 1] */
	uint64_t applied;               /* the KV's applied index at the last tick */
	bool joining;                   /* restarted without state: fetch at once */
	struct {
		bool active;
		uint64_t index;
		uint8_t digest[SMR_BFT_DIGEST_LEN];
		uint32_t server;
		uint64_t tried; /* servers asked in this attempt (bit q - 1) */
		uint8_t *buf;
		size_t total, got;
		uint64_t deadline_us;
	} fx;
};

static void signed_msg(uint8_t *out, uint32_t replica, uint64_t index,
		       const uint8_t digest[SMR_BFT_DIGEST_LEN])
{
	size_t at = sizeof(CKPT_LABEL) - 1;
	memcpy(out, CKPT_LABEL, at);
	for (unsigned i = 0; i < 4; i++)
		out[at++] = (uint8_t)(replica >> (8 * i));
	for (unsigned i = 0; i < 8; i++)
		out[at++] = (uint8_t)(index >> (8 * i));
	memcpy(out + at, digest, SMR_BFT_DIGEST_LEN);
}

#define SIGNED_LEN (sizeof(CKPT_LABEL) - 1 + 4 + 8 + SMR_BFT_DIGEST_LEN)

bool smr_ckpt_sig_verify(const struct strata_config *cfg, uint32_t replica, uint64_t index,
			 const uint8_t digest[SMR_BFT_DIGEST_LEN], const uint8_t *sig)
{
	if (replica < 1 || replica > cfg->n || !cfg->nodes[replica].has_public_key)
		return false;
	uint8_t msg[SIGNED_LEN];
	signed_msg(msg, replica, index, digest);
	return strata_verify(sig, cfg->nodes[replica].public_key, msg, sizeof(msg));
}

bool smr_ckpt_cert_verify(const struct strata_config *cfg, const struct smr_ckpt_cert *c)
{
	uint64_t seen = 0;
	if (c->index == 0 || c->nsig < 2 * cfg->f + 1 || c->nsig > cfg->n)
		return false;
	for (uint32_t k = 0; k < c->nsig; k++) {
		uint32_t r = c->replica[k];
		if (r < 1 || r > cfg->n || ((seen >> (r - 1)) & 1) ||
		    !smr_ckpt_sig_verify(cfg, r, c->index, c->digest, c->sig[k]))
			return false;
		seen |= 1ull << (r - 1);
	}
	return true;
}

void smr_ckpt_digest(uint8_t out[SMR_BFT_DIGEST_LEN], const struct strata_msg *canonical)
{
	strata_hash(out, canonical->data, canonical->len);
}

struct smr_ckpt *smr_ckpt_new(struct strata_module *m, uint64_t interval)
{
	struct smr_ckpt *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->m = m;
	c->node = m->node;
	c->cfg = strata_node_config(m->node);
	c->n = strata_node_n(m->node);
	c->f = c->cfg->f;
	c->self = strata_node_id(m->node);
	c->interval = interval;
	c->votes = calloc(c->n + 1, sizeof(*c->votes));
	c->peer = calloc(c->n + 1, sizeof(*c->peer));
	if (!c->votes || !c->peer) {
		free(c->votes);
		free(c->peer);
		free(c);
		return NULL;
	}
	return c;
}

void smr_ckpt_free(struct smr_ckpt *c)
{
	if (c) {
		free(c->votes);
		free(c->peer);
		for (unsigned k = 0; k < 2; k++)
			strata_msg_unref(c->pend_blob[k].blob);
		strata_msg_unref(c->served);
		strata_msg_unref(c->forged);
		strata_msg_unref(c->my_vote);
		free(c->fx.buf);
	}
	free(c);
}

void smr_ckpt_enable_fetch(struct smr_ckpt *c, smr_ckpt_install_fn fn, void *arg,
			  uint64_t tick_us)
{
	c->fetch = true;
	c->install = fn;
	c->install_arg = arg;
	c->tick_us = tick_us;
}

void smr_ckpt_test_forge_snapshots(struct smr_ckpt *c)
{
	c->test_forge = true;
}

void smr_ckpt_test_drop_first_votes(struct smr_ckpt *c)
{
	c->test_drop_first = true;
}

/* ---- the snapshot: [u64 round][u64 n][u64 next] x n, then the canonical KV ---- */

int smr_ckpt_blob(const struct smr_kv *sm, const struct smr_ckpt_pos *pos, struct strata_msg **out)
{
	*out = NULL;
	uint32_t n = pos ? pos->n : 0;
	struct strata_wr w;
	/* the position, then the canonical KV written after it in the same buffer (it was built
	 * apart and copied in: a second buffer and copy of the whole state per checkpoint) */
	strata_wr_init(&w, smr_kv_snapshot_bound(sm) + 32 + 10 * (size_t)n);
	strata_wr_u64(&w, pos ? pos->round : 0);
	strata_wr_u64(&w, n);
	for (uint32_t q = 1; q <= n; q++)
		strata_wr_u64(&w, pos->next[q]);
	int err = smr_kv_snapshot_canonical_write(sm, &w);
	if (err) {
		strata_wr_free(&w);
		return err;
	}
	*out = strata_wr_take_msg(&w, &err);
	return *out ? 0 : STRATA_ENOMEM;
}

int smr_ckpt_blob_parse(const uint8_t *data, size_t len, uint32_t n, struct smr_ckpt_pos *pos,
			const uint8_t **kv, size_t *kv_len)
{
	struct strata_rd rd;
	strata_rd_init(&rd, data, len);
	memset(pos, 0, sizeof(*pos));
	pos->round = strata_rd_u64(&rd);
	pos->n = (uint32_t)strata_rd_u64_max(&rd, STRATA_MAX_NODES);
	for (uint32_t q = 1; q <= pos->n && strata_rd_ok(&rd); q++)
		pos->next[q] = strata_rd_u64(&rd);
	if (!strata_rd_ok(&rd) || (pos->n != 0 && pos->n != n) || rd.off > len)
		return STRATA_EPROTO;
	*kv = data + rd.off;
	*kv_len = len - rd.off;
	return 0;
}

void smr_ckpt_set_broken(struct smr_ckpt *c, unsigned broken)
{
	c->broken = broken;
}

static bool check_sigs(const struct smr_ckpt *c)
{
	return !(c->broken & SMR_BROKEN_BFT_CKPT_NOVERIFY);
}

static struct strata_msg *encode_vote(uint32_t replica, uint64_t index,
				      const uint8_t digest[SMR_BFT_DIGEST_LEN], const uint8_t *sig)
{
	struct strata_wr w;
	strata_wr_init(&w, 32 + SMR_BFT_DIGEST_LEN + STRATA_SIG_LEN);
	strata_wr_u8(&w, CKPT_VOTE);
	strata_wr_u64(&w, replica);
	strata_wr_u64(&w, index);
	strata_wr_raw(&w, digest, SMR_BFT_DIGEST_LEN);
	strata_wr_raw(&w, sig, STRATA_SIG_LEN);
	int err = 0;
	return strata_wr_take_msg(&w, &err);
}

static struct strata_msg *encode_cert(const struct smr_ckpt_cert *cert)
{
	struct strata_wr w;
	strata_wr_init(&w, 32 + SMR_BFT_DIGEST_LEN + cert->nsig * (10 + STRATA_SIG_LEN));
	strata_wr_u8(&w, CKPT_STABLE);
	strata_wr_u64(&w, cert->index);
	strata_wr_raw(&w, cert->digest, SMR_BFT_DIGEST_LEN);
	strata_wr_u64(&w, cert->nsig);
	for (uint32_t k = 0; k < cert->nsig; k++) {
		strata_wr_u64(&w, cert->replica[k]);
		strata_wr_raw(&w, cert->sig[k], STRATA_SIG_LEN);
	}
	int err = 0;
	return strata_wr_take_msg(&w, &err);
}

static void send_others(struct smr_ckpt *c, struct strata_msg *msg)
{
	if (!msg)
		return; /* out of memory: a vote lost, as on a lossy link; the next one counts */
	for (uint32_t q = 1; q <= c->n; q++)
		if (q != c->self)
			(void)strata_pl_send(c->m, q, 0, msg);
	strata_msg_unref(msg);
}

static void fetch_start(struct smr_ckpt *c);

static void adopt(struct smr_ckpt *c, const struct smr_ckpt_cert *cert, const char *how)
{
	c->stable = *cert;
	c->cnt.stable_index = cert->index;
	strata_trace(c->node, "ckpt", "checkpoint %llu stable (%s, %u signatures)",
		     (unsigned long long)cert->index, how, cert->nsig);
	/* The snapshot this replica serves: its own at the stable index, if it has it and its
	 * digest is the certified one; own ones at or below the stable index are let go. */
	for (unsigned k = 0; k < 2; k++) {
		struct strata_msg *b = c->pend_blob[k].blob;
		if (!b || c->pend_blob[k].index > cert->index)
			continue;
		uint8_t d[SMR_BFT_DIGEST_LEN];
		smr_ckpt_digest(d, b);
		if (c->pend_blob[k].index == cert->index &&
		    memcmp(d, cert->digest, sizeof(d)) == 0) {
			strata_msg_unref(c->served);
			strata_msg_unref(c->forged);
			c->forged = NULL;
			c->served = b;
			c->served_index = cert->index;
			struct strata_rd rd; /* the position comes first: [round]... */
			strata_rd_init(&rd, b->data, b->len);
			c->served_round = strata_rd_u64(&rd);
		} else {
			strata_msg_unref(b);
		}
		c->pend_blob[k].blob = NULL;
		c->pend_blob[k].index = 0;
	}
	if (c->fetch && c->joining && !c->fx.active && cert->index > c->applied)
		fetch_start(c);
}

/* Records replica r's vote (in its ring of W, replacing its oldest); stabilises index once
 * 2f + 1 replicas voted D for it. */
static void count_vote(struct smr_ckpt *c, uint32_t r, uint64_t index,
		       const uint8_t digest[SMR_BFT_DIGEST_LEN], const uint8_t *sig)
{
	struct ck_vote *ring = c->votes[r], *slot = &ring[0];
	for (unsigned k = 0; k < CKPT_WINDOW; k++) {
		if (ring[k].index == index) {
			if (memcmp(ring[k].digest, digest, SMR_BFT_DIGEST_LEN) != 0)
				c->cnt.rejected++; /* a second, different vote: equivocation */
			return;
		}
		if (ring[k].index < slot->index)
			slot = &ring[k];
	}
	if (slot->index > index) {
		c->cnt.dropped++; /* older than the W this replica voted last */
		return;
	}
	slot->index = index;
	memcpy(slot->digest, digest, SMR_BFT_DIGEST_LEN);
	memcpy(slot->sig, sig, STRATA_SIG_LEN);
	struct smr_ckpt_cert cert;
	memset(&cert, 0, sizeof(cert));
	cert.index = index;
	memcpy(cert.digest, digest, SMR_BFT_DIGEST_LEN);
	for (uint32_t q = 1; q <= c->n && cert.nsig < 2 * c->f + 1; q++)
		for (unsigned k = 0; k < CKPT_WINDOW; k++)
			if (c->votes[q][k].index == index &&
			    memcmp(c->votes[q][k].digest, digest, SMR_BFT_DIGEST_LEN) == 0) {
				cert.replica[cert.nsig] = q;
				memcpy(cert.sig[cert.nsig], c->votes[q][k].sig, STRATA_SIG_LEN);
				cert.nsig++;
				break;
			}
	if (cert.nsig < 2 * c->f + 1 || cert.index <= c->stable.index)
		return;
	c->cnt.stabilized++;
	adopt(c, &cert, "2f + 1 votes");
	send_others(c, encode_cert(&c->stable));
}

/* The FORGE behaviour's certificate: far ahead, a digest nobody holds, its own signature and
 * copies of it claiming to be the others'. */
static void forge_cert(struct smr_ckpt *c, uint64_t index, const uint8_t digest[SMR_BFT_DIGEST_LEN])
{
	struct smr_ckpt_cert cert;
	memset(&cert, 0, sizeof(cert));
	cert.index = index + CKPT_FORGE_AHEAD * c->interval;
	memcpy(cert.digest, digest, SMR_BFT_DIGEST_LEN);
	cert.digest[1] ^= 0x77;
	uint8_t msg[SIGNED_LEN];
	signed_msg(msg, c->self, cert.index, cert.digest);
	for (uint32_t k = 0; k < 2 * c->f + 1 && k < c->n; k++) {
		uint32_t r = (c->self - 1 + k) % c->n + 1;
		cert.replica[k] = r;
		strata_sign(cert.sig[k], strata_node_secret_key(c->node), msg, sizeof(msg));
		cert.nsig++;
	}
	send_others(c, encode_cert(&cert));
}

/* upon applying command i with i mod K = 0: sign the state's digest, send it to all */
void smr_ckpt_applied(struct smr_ckpt *c, uint64_t index, const struct smr_kv *sm,
		      const struct smr_ckpt_pos *pos)
{
	if (!c->interval || index == 0 || (!pos && index % c->interval != 0))
		return;
	enum strata_byz byz = strata_node_byz(c->node);
	if (byz == STRATA_BYZ_SILENT)
		return;
	struct strata_msg *snap = NULL;
	if (smr_ckpt_blob(sm, pos, &snap) != 0)
		return; /* out of memory: no vote this time (the next checkpoint counts) */
	uint8_t d[SMR_BFT_DIGEST_LEN];
	smr_ckpt_digest(d, snap);
	if (c->fetch) { /* kept to be served once (if) it is stable */
		unsigned k = c->pend_next;
		strata_msg_unref(c->pend_blob[k].blob);
		c->pend_blob[k].blob = snap;
		c->pend_blob[k].index = index;
		c->pend_next = (k + 1) % 2;
	} else {
		strata_msg_unref(snap);
	}
	unsigned prev = (c->own_next + CKPT_WINDOW - 1) % CKPT_WINDOW;
	uint8_t lie[SMR_BFT_DIGEST_LEN];
	memcpy(lie, d, sizeof(lie));
	if (byz == STRATA_BYZ_REPLAY || byz == STRATA_BYZ_OLD_EPOCH)
		memcpy(lie, c->own[prev].digest, sizeof(lie));
	else if (byz == STRATA_BYZ_LIE_STATE || byz == STRATA_BYZ_FORGE ||
		 byz == STRATA_BYZ_EQUIVOCATE)
		lie[0] ^= 0xa5;
	strata_trace(c->node, "ckpt", "checkpoint %llu taken (round %llu): digest %02x%02x%02x%02x",
		     (unsigned long long)index, (unsigned long long)(pos ? pos->round : 0), d[0],
		     d[1], d[2], d[3]);
	c->own[c->own_next].index = index;
	memcpy(c->own[c->own_next].digest, d, sizeof(d));
	c->own_next = (c->own_next + 1) % CKPT_WINDOW;
	c->cnt.taken++;
	uint8_t msg[SIGNED_LEN], sig[STRATA_SIG_LEN];
	signed_msg(msg, c->self, index, lie);
	strata_sign(sig, strata_node_secret_key(c->node), msg, sizeof(msg));
	strata_node_counters(c->node)->sig_signed++;
	if (byz == STRATA_BYZ_BADSIG)
		sig[2] ^= 0x3c;
	if (byz == STRATA_BYZ_EQUIVOCATE) {
		for (uint32_t q = 1; q <= c->n; q++) {
			if (q == c->self)
				continue;
			lie[3] = (uint8_t)q;
			signed_msg(msg, c->self, index, lie);
			strata_sign(sig, strata_node_secret_key(c->node), msg, sizeof(msg));
			struct strata_msg *v = encode_vote(c->self, index, lie, sig);
			if (v) {
				(void)strata_pl_send(c->m, q, 0, v);
				strata_msg_unref(v);
			}
		}
	} else {
		struct strata_msg *v = encode_vote(c->self, index, lie, sig);
		strata_msg_unref(c->my_vote);
		c->my_vote = v ? strata_msg_ref(v) : NULL;
		if (c->test_drop_first)
			strata_msg_unref(v); /* TEST ONLY: as a send refused; the repeat sends it */
		else
			send_others(c, v);
	}
	if (byz == STRATA_BYZ_FORGE)
		forge_cert(c, index, d);
	if (index > c->stable.index)
		count_vote(c, c->self, index, lie, sig);
}

/* ---- snapshot transfer: a replica behind the stable checkpoint fetches it from one replica ---- */

static void send_to(struct smr_ckpt *c, uint32_t q, struct strata_msg *msg)
{
	if (!msg)
		return; /* out of memory: lost as on a lossy link; the fetch's timeout asks again */
	(void)strata_pl_send(c->m, q, 0, msg);
	strata_msg_unref(msg);
}

static struct strata_msg *encode_fetch(uint64_t index, const uint8_t digest[SMR_BFT_DIGEST_LEN],
				       uint64_t offset)
{
	struct strata_wr w;
	strata_wr_init(&w, 32 + SMR_BFT_DIGEST_LEN);
	strata_wr_u8(&w, CKPT_FETCH);
	strata_wr_u64(&w, index);
	strata_wr_raw(&w, digest, SMR_BFT_DIGEST_LEN);
	strata_wr_u64(&w, offset);
	int err = 0;
	return strata_wr_take_msg(&w, &err);
}

static void fetch_reset(struct smr_ckpt *c)
{
	free(c->fx.buf);
	c->fx.buf = NULL;
	c->fx.total = c->fx.got = 0;
}

/* The next replica to ask, in id order after the last one (self skipped), each once per
 * attempt; after all of them the attempt ends and the next tick starts another. */
static void next_server(struct smr_ckpt *c)
{
	fetch_reset(c);
	uint32_t q = c->fx.server ? c->fx.server : c->self;
	for (uint32_t k = 0; k < c->n; k++) {
		q = q % c->n + 1;
		if (q == c->self || ((c->fx.tried >> (q - 1)) & 1))
			continue;
		c->fx.server = q;
		c->fx.tried |= 1ull << (q - 1);
		c->fx.deadline_us = strata_now_us(c->node) + CKPT_FETCH_TICKS * c->tick_us;
		strata_trace(c->node, "ckpt", "fetching snapshot %llu from replica %u",
			     (unsigned long long)c->fx.index, q);
		send_to(c, q, encode_fetch(c->fx.index, c->fx.digest, 0));
		return;
	}
	c->fx.active = false; /* every replica asked: again at the next tick */
}

static void fetch_start(struct smr_ckpt *c)
{
	fetch_reset(c);
	c->fx.active = true;
	c->fx.index = c->stable.index;
	memcpy(c->fx.digest, c->stable.digest, SMR_BFT_DIGEST_LEN);
	c->fx.tried = 0;
	c->fx.server = 0;
	c->cnt.fetches++;
	next_server(c);
}

/* A snapshot that failed (digest, format, silence): the next replica. */
static void fetch_failed(struct smr_ckpt *c, uint32_t peer, const char *why)
{
	c->cnt.snap_bad++;
	strata_node_bad_payload(c->node, c->m, peer, why);
	strata_trace(c->node, "ckpt", "snapshot %llu from replica %u refused: %s",
		     (unsigned long long)c->fx.index, peer, why);
	next_server(c);
}

/* What a forging server (TEST ONLY) serves: the genuine state plus a key no client wrote,
 * under the genuine position, so that it installs cleanly and only its digest betrays it. */
static struct strata_msg *forge_snapshot(struct smr_ckpt *c)
{
	if (c->forged)
		return c->forged;
	struct smr_ckpt_pos pos;
	const uint8_t *kv;
	size_t kv_len;
	struct smr_kv *sm = NULL;
	if (smr_ckpt_blob_parse(c->served->data, c->served->len, c->n, &pos, &kv, &kv_len) != 0 ||
	    smr_kv_restore(kv, kv_len, c->cfg->smr_sessions_max, &sm) != 0)
		return NULL;
	struct smr_cmd cmd = { .type = SMR_CMD_PUT, .key = (const uint8_t *)"forged-snapshot",
			       .key_len = 15, .val = (const uint8_t *)"x", .val_len = 1 };
	struct smr_result res;
	memset(&res, 0, sizeof(res));
	if (smr_kv_apply(sm, c->served_index, &cmd, &res) == 0)
		(void)smr_ckpt_blob(sm, pos.n ? &pos : NULL, &c->forged);
	strata_msg_unref(res.old);
	smr_kv_free(sm);
	return c->forged;
}

/* upon FETCH(i, D, offset) from q: the chunk at offset of the stable snapshot, if held */
static void serve(struct smr_ckpt *c, uint32_t q, uint64_t index, const uint8_t *digest,
		  uint64_t offset)
{
	struct ck_peer *pp = &c->peer[q];
	if (pp->served >= CKPT_SERVE_BURST) {
		c->cnt.limited++;
		return;
	}
	pp->served++;
	struct strata_msg *blob = c->served;
	bool have = blob && c->served_index == index && c->stable.index == index &&
		    memcmp(c->stable.digest, digest, SMR_BFT_DIGEST_LEN) == 0 && offset <= blob->len;
	bool forging = c->test_forge || strata_node_byz(c->node) == STRATA_BYZ_FORGE;
	if (have && forging)
		blob = forge_snapshot(c);
	const uint8_t *bytes = blob ? blob->data : NULL;
	size_t blen = blob ? blob->len : 0;
	uint8_t junk[64];
	if (forging && (!have || !blob) && offset == 0) {
		/* a forger without the genuine snapshot serves bytes of its making */
		memset(junk, 0x5a, sizeof(junk));
		bytes = junk;
		blen = sizeof(junk);
		have = true;
	}
	struct strata_wr w;
	if (!have || !bytes || offset > blen) {
		strata_wr_init(&w, 16);
		strata_wr_u8(&w, CKPT_NOSNAP);
		strata_wr_u64(&w, index);
	} else {
		size_t n = blen - (size_t)offset;
		size_t max = c->cfg->max_value > 1024 ? c->cfg->max_value - 512 : 512;
		if (n > CKPT_CHUNK_MAX)
			n = CKPT_CHUNK_MAX;
		if (n > max)
			n = max;
		strata_wr_init(&w, n + 64 + SMR_BFT_DIGEST_LEN);
		strata_wr_u8(&w, CKPT_CHUNK);
		strata_wr_u64(&w, index);
		strata_wr_raw(&w, digest, SMR_BFT_DIGEST_LEN);
		strata_wr_u64(&w, blen);
		strata_wr_u64(&w, offset);
		strata_wr_bytes(&w, bytes + offset, n);
		c->cnt.served++;
	}
	int err = 0;
	send_to(c, q, strata_wr_take_msg(&w, &err));
}

/* upon CHUNK(i, D, total, offset, bytes) from the replica asked */
static void on_chunk(struct smr_ckpt *c, uint32_t peer, uint64_t index, const uint8_t *digest,
		     uint64_t total, uint64_t offset, const uint8_t *p, size_t n)
{
	if (!c->fx.active || peer != c->fx.server || index != c->fx.index ||
	    memcmp(digest, c->fx.digest, SMR_BFT_DIGEST_LEN) != 0 || offset != c->fx.got)
		return; /* late or unasked: ignored */
	if (offset == 0) {
		if (total == 0 || total > CKPT_SNAP_MAX) {
			fetch_failed(c, peer, "kv checkpoint: snapshot of an impossible size");
			return;
		}
		c->fx.buf = malloc((size_t)total);
		if (!c->fx.buf) {
			next_server(c);
			return;
		}
		c->fx.total = (size_t)total;
	}
	if (total != c->fx.total || n == 0 || n > c->fx.total - c->fx.got) {
		fetch_failed(c, peer, "kv checkpoint: snapshot chunk out of its bounds");
		return;
	}
	memcpy(c->fx.buf + c->fx.got, p, n);
	c->fx.got += n;
	c->fx.deadline_us = strata_now_us(c->node) + CKPT_FETCH_TICKS * c->tick_us;
	if (c->fx.got < c->fx.total) {
		send_to(c, peer, encode_fetch(index, digest, c->fx.got));
		return;
	}
	/* Whole: installed only if its SHA-256 is the certified digest (2f + 1 signed it). */
	uint8_t d[SMR_BFT_DIGEST_LEN];
	strata_hash(d, c->fx.buf, c->fx.total);
	bool check = !(c->broken & SMR_BROKEN_BFT_SNAP_NODIGEST);
	if (check && memcmp(d, c->fx.digest, sizeof(d)) != 0) {
		fetch_failed(c, peer, "kv checkpoint: snapshot whose digest is not the certified one");
		return;
	}
	int rc = c->install(c->install_arg, c->fx.index, c->fx.buf, c->fx.total);
	if (rc == STRATA_ESTATE) { /* caught up through the order meanwhile */
		c->fx.active = false;
		fetch_reset(c);
		return;
	}
	if (rc) {
		fetch_failed(c, peer, "kv checkpoint: certified snapshot does not install");
		return;
	}
	c->cnt.installed++;
	c->joining = false;
	strata_trace(c->node, "ckpt", "snapshot %llu from replica %u verified and installed",
		     (unsigned long long)c->fx.index, peer);
	c->fx.active = false;
	fetch_reset(c);
}

static void on_transfer(struct smr_ckpt *c, uint32_t peer, uint8_t tag, struct strata_rd *rd)
{
	uint64_t index = strata_rd_u64(rd);
	if (tag == CKPT_ASK) {
		/* upon ASK(i) from q: send q the stable certificate if above i (once per tick) */
		struct ck_peer *pp = &c->peer[peer];
		if (strata_rd_done(rd) != 0) {
			c->cnt.rejected++;
			strata_node_bad_payload(c->node, c->m, peer, "kv checkpoint: malformed ask");
		} else if (pp->asked++ >= 1) {
			c->cnt.limited++;
		} else if (c->stable.index > index) {
			send_to(c, peer, encode_cert(&c->stable));
		}
		return;
	}
	if (tag == CKPT_NOSNAP) {
		if (strata_rd_done(rd) == 0 && c->fx.active && peer == c->fx.server &&
		    index == c->fx.index)
			next_server(c);
		return;
	}
	uint8_t digest[SMR_BFT_DIGEST_LEN];
	strata_rd_raw(rd, digest, sizeof(digest));
	if (tag == CKPT_FETCH) {
		uint64_t offset = strata_rd_u64(rd);
		if (strata_rd_done(rd) != 0) {
			c->cnt.rejected++;
			strata_node_bad_payload(c->node, c->m, peer, "kv checkpoint: malformed fetch");
			return;
		}
		serve(c, peer, index, digest, offset);
		return;
	}
	uint64_t total = strata_rd_u64(rd), offset = strata_rd_u64(rd);
	const uint8_t *p;
	size_t n = strata_rd_bytes(rd, &p, CKPT_CHUNK_MAX);
	if (strata_rd_done(rd) != 0) {
		c->cnt.rejected++;
		strata_node_bad_payload(c->node, c->m, peer, "kv checkpoint: malformed chunk");
		return;
	}
	on_chunk(c, peer, index, digest, total, offset, p, n);
}

/* Every tick (the KV's, tick_us): per-sender budgets refill; a replica whose applied index did
 * not move since the last tick (or that restarted without state) asks for the stable
 * certificate and, behind it, fetches its snapshot; a fetch from a silent replica moves on. */
void smr_ckpt_tick(struct smr_ckpt *c, uint64_t applied, bool joining)
{
	for (uint32_t q = 0; q <= c->n; q++)
		c->peer[q].verified = c->peer[q].asked = c->peer[q].served = 0;
	bool stalled = applied == c->applied;
	c->applied = applied;
	c->joining = joining;
	/* CK3: each vote went out once, and if one did not count (a send refused, or a vote a
	 * receiver did not keep), nothing sent it again: once the order stands still, this
	 * replica's newest vote above the stable checkpoint goes out again every tick, so the
	 * correct replicas, at the same last checkpoint, reach 2f + 1 votes for it. */
	if (stalled && !joining && c->my_vote && !(c->broken & SMR_BROKEN_BFT_NO_REVOTE)) {
		unsigned last = (c->own_next + CKPT_WINDOW - 1) % CKPT_WINDOW;
		if (c->own[last].index > c->stable.index)
			send_others(c, strata_msg_ref(c->my_vote));
	}
	if (!c->fetch)
		return;
	if (c->fx.active) {
		if (c->fx.index <= applied) {
			c->fx.active = false; /* caught up through the order */
			fetch_reset(c);
		} else if (strata_now_us(c->node) >= c->fx.deadline_us) {
			c->cnt.snap_timeouts++;
			strata_trace(c->node, "ckpt", "snapshot %llu: replica %u silent",
				     (unsigned long long)c->fx.index, c->fx.server);
			next_server(c);
		}
		return;
	}
	if (!stalled && !joining)
		return;
	if (c->stable.index > applied) {
		fetch_start(c);
		return;
	}
	struct strata_wr w;
	strata_wr_init(&w, 16);
	strata_wr_u8(&w, CKPT_ASK);
	strata_wr_u64(&w, c->stable.index);
	int err = 0;
	send_others(c, strata_wr_take_msg(&w, &err));
}

/* upon VOTE(r, i, D, s) from r, and upon STABLE(i, D, sigs) */
void smr_ckpt_deliver(struct smr_ckpt *c, uint32_t peer, const uint8_t *data, size_t len)
{
	struct strata_rd rd;
	strata_rd_init(&rd, data, len);
	uint8_t tag = strata_rd_u8(&rd);
	if (tag == CKPT_VOTE) {
		uint32_t r = (uint32_t)strata_rd_u64_max(&rd, c->n);
		uint64_t index = strata_rd_u64(&rd);
		uint8_t digest[SMR_BFT_DIGEST_LEN], sig[STRATA_SIG_LEN];
		strata_rd_raw(&rd, digest, sizeof(digest));
		strata_rd_raw(&rd, sig, sizeof(sig));
		if (strata_rd_done(&rd) != 0 || r != peer || index == 0 ||
		    (!c->fetch && index % (c->interval ? c->interval : 1) != 0)) {
			c->cnt.rejected++;
			strata_node_bad_payload(c->node, c->m, peer, "kv checkpoint: malformed vote");
			return;
		}
		if (index <= c->stable.index) {
			c->cnt.dropped++; /* stable already */
			return;
		}
		if (check_sigs(c)) {
			strata_node_counters(c->node)->sig_verified++;
			if (!smr_ckpt_sig_verify(c->cfg, r, index, digest, sig)) {
				c->cnt.rejected++;
				strata_node_bad_payload(c->node, c->m, peer,
							"kv checkpoint: vote with a bad signature");
				return;
			}
		}
		strata_trace(c->node, "ckpt", "vote of %u for %llu: digest %02x%02x%02x%02x", r,
			     (unsigned long long)index, digest[0], digest[1], digest[2], digest[3]);
		count_vote(c, r, index, digest, sig);
		return;
	}
	if (tag == CKPT_ASK || tag == CKPT_FETCH || tag == CKPT_CHUNK || tag == CKPT_NOSNAP) {
		on_transfer(c, peer, tag, &rd);
		return;
	}
	struct smr_ckpt_cert cert;
	memset(&cert, 0, sizeof(cert));
	if (tag == CKPT_STABLE) {
		cert.index = strata_rd_u64(&rd);
		strata_rd_raw(&rd, cert.digest, SMR_BFT_DIGEST_LEN);
		cert.nsig = (uint32_t)strata_rd_u64_max(&rd, c->n);
		for (uint32_t k = 0; k < cert.nsig && strata_rd_ok(&rd); k++) {
			cert.replica[k] = (uint32_t)strata_rd_u64_max(&rd, c->n);
			strata_rd_raw(&rd, cert.sig[k], STRATA_SIG_LEN);
		}
	}
	if (tag != CKPT_STABLE || strata_rd_done(&rd) != 0) {
		c->cnt.rejected++;
		strata_node_bad_payload(c->node, c->m, peer, "kv checkpoint: malformed message");
		return;
	}
	if (cert.index <= c->stable.index)
		return; /* what it certifies is stable here already: not verified */
	/* Bounded verification work: a certificate that failed is not verified again (the
	 * sender's last bad one, by hash), and at most CKPT_VERIFY_BURST per sender per tick. */
	struct ck_peer *pp = &c->peer[peer];
	uint8_t h[SMR_BFT_DIGEST_LEN];
	strata_hash(h, data, len);
	if (pp->has_bad && memcmp(pp->bad, h, sizeof(h)) == 0) {
		c->cnt.limited++;
		return;
	}
	if (c->tick_us && pp->verified >= CKPT_VERIFY_BURST) {
		c->cnt.limited++;
		return;
	}
	pp->verified++;
	if (check_sigs(c)) {
		strata_node_counters(c->node)->sig_verified += cert.nsig;
		if (!smr_ckpt_cert_verify(c->cfg, &cert)) {
			c->cnt.rejected++;
			memcpy(pp->bad, h, sizeof(h));
			pp->has_bad = true;
			strata_node_bad_payload(c->node, c->m, peer,
						"kv checkpoint: certificate without 2f + 1 valid "
						"signatures");
			return;
		}
	} else if (cert.nsig < 2 * c->f + 1) {
		c->cnt.rejected++;
		return;
	}
	c->cnt.adopted++;
	adopt(c, &cert, "a peer's certificate");
}

uint64_t smr_ckpt_stable_round(const struct smr_ckpt *c)
{
	return c->served && c->served_index == c->stable.index ? c->served_round : 0;
}

const struct smr_ckpt_cert *smr_ckpt_stable(const struct smr_ckpt *c)
{
	return c->stable.index ? &c->stable : NULL;
}

bool smr_ckpt_own(const struct smr_ckpt *c, uint64_t index, uint8_t digest[SMR_BFT_DIGEST_LEN])
{
	for (unsigned k = 0; k < CKPT_WINDOW; k++)
		if (c->own[k].index == index && index) {
			memcpy(digest, c->own[k].digest, SMR_BFT_DIGEST_LEN);
			return true;
		}
	return false;
}

uint64_t smr_ckpt_last_own(const struct smr_ckpt *c)
{
	uint64_t last = 0;
	for (unsigned k = 0; k < CKPT_WINDOW; k++)
		if (c->own[k].index > last)
			last = c->own[k].index;
	return last;
}

void smr_ckpt_counts(const struct smr_ckpt *c, struct smr_ckpt_counts *out)
{
	*out = c->cnt;
}
