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
 *   upon applying command i with i mod K = 0 (every correct replica, the same i):
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
 * The certificate is what a replica that fell behind verifies a snapshot against (docs/smr.md):
 * a snapshot fetched from ONE replica is genuine iff its digest is D.
 *
 * Model: fail-arbitrary replicas, unforgeable signatures, the order's agreement (all correct
 * replicas apply the same commands in the same order: btob, Alg. 6.2). Bounded: each replica's
 * newest W = CKPT_WINDOW votes above the stable index (a Byzantine replica fills only its own;
 * older or stale ones are dropped and counted), the stable certificate (2f + 1 signatures), the
 * digests of the last W own checkpoints. Memory: (N + 1) x W x (8 + 32 + 64) bytes, independent
 * of the state's size. A replica too far behind for the others' windows learns the stable
 * checkpoint from a peer's STABLE.
 *
 * Costs per checkpoint: one canonical snapshot of the state (O(keys log keys), freed at once),
 * one SHA-256 of it, one signature, N - 1 votes sent and N - 1 verified at each replica; one
 * STABLE per replica (received ones at or below the stable index are dropped unverified).
 *
 * Test-only Byzantine behaviours (strata_node_byz): SILENT votes nothing; EQUIVOCATE votes a
 * different wrong digest to every peer; REPLAY and OLD_EPOCH vote their previous checkpoint's
 * digest again; LIE_STATE votes a wrong digest (validly signed); BADSIG votes with a corrupted
 * signature; FORGE votes a wrong digest and sends a STABLE far ahead (64 K) for a digest no
 * replica holds, carrying its own signature and signatures it claims are the others'.
 * TEST ONLY broken variant (SMR_BROKEN_BFT_CKPT_NOVERIFY): votes and certificates are taken
 * without checking their signatures. */
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
	struct smr_ckpt_counts cnt;
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
	if (!c->votes) {
		free(c);
		return NULL;
	}
	return c;
}

void smr_ckpt_free(struct smr_ckpt *c)
{
	if (c)
		free(c->votes);
	free(c);
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

static void adopt(struct smr_ckpt *c, const struct smr_ckpt_cert *cert, const char *how)
{
	c->stable = *cert;
	c->cnt.stable_index = cert->index;
	strata_trace(c->node, "ckpt", "checkpoint %llu stable (%s, %u signatures)",
		     (unsigned long long)cert->index, how, cert->nsig);
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
void smr_ckpt_applied(struct smr_ckpt *c, uint64_t index, const struct smr_kv *sm)
{
	if (!c->interval || index % c->interval != 0)
		return;
	enum strata_byz byz = strata_node_byz(c->node);
	if (byz == STRATA_BYZ_SILENT)
		return;
	struct strata_msg *snap = NULL;
	if (smr_kv_snapshot_canonical(sm, &snap) != 0)
		return; /* out of memory: no vote this time (the next checkpoint counts) */
	uint8_t d[SMR_BFT_DIGEST_LEN];
	smr_ckpt_digest(d, snap);
	strata_msg_unref(snap);
	unsigned prev = (c->own_next + CKPT_WINDOW - 1) % CKPT_WINDOW;
	uint8_t lie[SMR_BFT_DIGEST_LEN];
	memcpy(lie, d, sizeof(lie));
	if (byz == STRATA_BYZ_REPLAY || byz == STRATA_BYZ_OLD_EPOCH)
		memcpy(lie, c->own[prev].digest, sizeof(lie));
	else if (byz == STRATA_BYZ_LIE_STATE || byz == STRATA_BYZ_FORGE ||
		 byz == STRATA_BYZ_EQUIVOCATE)
		lie[0] ^= 0xa5;
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
		send_others(c, encode_vote(c->self, index, lie, sig));
	}
	if (byz == STRATA_BYZ_FORGE)
		forge_cert(c, index, d);
	if (index > c->stable.index)
		count_vote(c, c->self, index, lie, sig);
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
		    index % (c->interval ? c->interval : 1) != 0) {
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
		count_vote(c, r, index, digest, sig);
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
	if (check_sigs(c)) {
		strata_node_counters(c->node)->sig_verified += cert.nsig;
		if (!smr_ckpt_cert_verify(c->cfg, &cert)) {
			c->cnt.rejected++;
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

void smr_ckpt_counts(const struct smr_ckpt *c, struct smr_ckpt_counts *out)
{
	*out = c->cnt;
}
