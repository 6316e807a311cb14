/* Authenticated replies and the client's f + 1 vote of the Byzantine fault-tolerant KV
 * (`[smr] log = bft-tob`, tob_log.c; docs/smr.md "BFT KV", docs/consensus-byzantine.md).
 *
 * Specification (what a correct client gets, with at most f Byzantine replicas of N > 3f):
 *   BR1 Authenticity  a reply counted for replica r was signed by r's identity key (Ed25519,
 *                     [node.r] public_key), for this request (its session and sequence number)
 *                     and for exactly this outcome (status, flags, revision, value bytes).
 *   BR2 Vote          the client accepts an outcome once f + 1 distinct replicas signed it:
 *                     at least one of them is correct, so the outcome is one a correct replica
 *                     computed from the totally ordered log. A Byzantine replica counts once,
 *                     whatever it sends (the first reply a replica signed is its vote), and
 *                     cannot sign for another replica.
 *   BR3 Request authenticity  (with the replicas' checks in tob_log.c) a command is applied
 *                     under session s only if the holder of the key pair that owns s signed it:
 *                     s = the first 8 bytes of SHA-256("strata-bft-session-v1" || pk) | 1, and
 *                     the request carries pk and pk's signature of R = SHA-256 of
 *                     "strata-bft-request-v1" || session || seq || op || command type || limit
 *                     || SHA-256(key) || SHA-256(value) || SHA-256(value2) (integers as codec
 *                     varints). Why not the session MAC of the client connection: every node
 *                     holds the cluster's client key, so a Byzantine replica could open a session
 *                     as any client; and a MAC binds a request to one connection to one replica,
 *                     while the command travels through the order to all of them. A session id
 *                     is bound to its key by a 63-bit hash: taking over a session needs a
 *                     second preimage of it (about 2^63 hashes).
 *                     Request envelopes: a client process whose sessions share one key pair
 *                     (session = the first 8 bytes of SHA-256("strata-bft-session-v2" || pk ||
 *                     index) | 1) signs the digests R of the requests of one turn as the root T
 *                     of a hash tree (below, "Envelopes"); a request carries pk, the signature
 *                     of T, its session's index, T and the proof of its leaf. A replica checks
 *                     that pk and index give the session, that R folds up the proof to T, and
 *                     the signature of T (once per T: smr_bft_seen). So a Byzantine replica
 *                     still cannot order under the session a request its owner did not sign:
 *                     an altered entry, or an entry moved to another seq or session, has
 *                     another R, which leads to another root; replaying a genuine entry is
 *                     what a genuine request allows already (the session table applies it
 *                     once).
 * Model: fail-arbitrary replicas, signatures unforgeable; the client knows N, f and every
 * replica's public key (the cluster config). The client protocol is the classic one of PBFT-style
 * state-machine replication: the client sends its request (with its session and sequence
 * number, reads too) to every replica; every replica orders it and answers it once applied.
 *
 * What is signed: replica id (u32, little endian) || C, with C = SHA-256 of
 * "strata-bft-reply-v1" || session || seq || status || flags || revision || SHA-256(value)
 * (each integer as a codec varint). The vote compares C (the outcome, without the replica).
 * The reply's text (an error's detail) is not signed and is not part of the vote.
 *
 * Envelopes (reply envelopes: bft_reply.c). A replica signs the replies of one event-loop turn
 * once: replica id || T, T the root of a hash tree whose leaves are their digests C (at most
 * SMR_BFT_ENV_MAX). An inner node is SHA-256("strata-bft-node-v1" || left || right); a level's
 * last odd node goes up unchanged. A reply carries the signature, its leaf's index, the leaf
 * count and the sibling hashes on the way up (its path, at most SMR_BFT_ENV_DEPTH). The client
 * computes C itself from the reply, folds it up the path and verifies the signature over the
 * root it computed: BR1 holds as before, because a proof leads C to T only if C is a leaf of
 * the tree the replica signed (the leaves' and the inner nodes' labels differ, so neither can
 * pass for the other short of a SHA-256 collision), and C binds session and seq. A reply
 * signed alone carries the signature only (T = C: the format before envelopes). A verifier
 * remembers the signed messages it verified (smr_bft_seen, a ring of SMR_BFT_SEEN), so the
 * other replies under one root cost a fold, not an Ed25519 verification.
 *
 * Cost: one Ed25519 signature per turn at every replica (one per reply when a turn answers
 * one), one verification per distinct (replica, root) at the client; one client signature per
 * request, verified by every replica on arrival (and again on delivery only where the ordered
 * bytes are not those it checked). Memory: a vote is a fixed struct of STRATA_MAX_NODES digests;
 * a proof at most SMR_BFT_ENV_PROOF_MAX bytes.
 *
 * The replica side (signing a reply, and the test-only Byzantine replies) is in bft_reply.c:
 * this file is linked by the client too and uses no node. */
#include <stdio.h>
#include <string.h>

#include "core/codec.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "smr/smr.h"

#define BFT_LABEL "strata-bft-reply-v1"
#define BFT_SESSION_LABEL "strata-bft-session-v1"
#define BFT_SESSION2_LABEL "strata-bft-session-v2"
#define BFT_REQ_LABEL "strata-bft-request-v1"
#define BFT_NODE_LABEL "strata-bft-node-v1"

_Static_assert(STRATA_OUT_SIG_LEN == STRATA_SIG_LEN, "a reply carries one Ed25519 signature");

/* Here rather than in tob_log.c: the client links this file (its f + 1 vote) and must not link
 * the log module, which would bring the whole stack with it (test_layers). */
bool smr_log_is_bft(const struct strata_config *cfg)
{
	return strcmp(cfg->smr_log, "bft-tob") == 0 || strcmp(cfg->smr_log, "btob") == 0;
}

/* SHA-256 of a field of the digests below. An empty field (a put's reply, its request's val2, a
 * delete's value) is SHA-256(""), a constant: one compression fewer per digest at every replica
 * and client. Same bytes as hashing it (test_bft_env checks the constant and the digests). */
static const uint8_t sha256_empty[STRATA_HASH_LEN] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

static void hash_field(uint8_t out[STRATA_HASH_LEN], const uint8_t *p, size_t len)
{
	if (!p || !len)
		memcpy(out, sha256_empty, STRATA_HASH_LEN);
	else
		strata_hash(out, p, len);
}

const uint8_t *smr_bft_sha256_empty(void)
{
	return sha256_empty;
}

void smr_bft_outcome(uint8_t out[SMR_BFT_DIGEST_LEN], uint64_t session, uint64_t seq, int status,
		     uint64_t flags, uint64_t revision, const uint8_t *data, size_t len)
{
	/* The codec's encoding (strata_wr_u64 / strata_wr_i64), built in a fixed buffer: one per
	 * reply at every replica, so no heap writer. */
	uint8_t b[sizeof(BFT_LABEL) - 1 + 5 * STRATA_VARINT_MAX + STRATA_HASH_LEN];
	size_t n = sizeof(BFT_LABEL) - 1;
	memcpy(b, BFT_LABEL, n);
	int64_t st = status;
	n += strata_varint_put(b + n, session);
	n += strata_varint_put(b + n, seq);
	n += strata_varint_put(b + n, ((uint64_t)st << 1) ^ (uint64_t)(st >> 63));
	n += strata_varint_put(b + n, flags);
	n += strata_varint_put(b + n, revision);
	hash_field(b + n, data, len);
	n += STRATA_HASH_LEN;
	strata_hash(out, b, n);
}

void smr_bft_signed_msg(uint8_t msg[SMR_BFT_SIGNED_LEN], uint32_t replica,
			const uint8_t outcome[SMR_BFT_DIGEST_LEN])
{
	for (unsigned i = 0; i < 4; i++)
		msg[i] = (uint8_t)(replica >> (8 * i));
	memcpy(msg + 4, outcome, SMR_BFT_DIGEST_LEN);
}

bool smr_bft_verify(const struct strata_config *cfg, uint32_t replica,
		    const uint8_t outcome[SMR_BFT_DIGEST_LEN], const uint8_t *sig)
{
	if (!sig || replica < 1 || replica > cfg->n || !cfg->nodes[replica].has_public_key)
		return false;
	uint8_t msg[SMR_BFT_SIGNED_LEN];
	smr_bft_signed_msg(msg, replica, outcome);
	return strata_verify(sig, cfg->nodes[replica].public_key, msg, sizeof(msg));
}

/* ---- envelopes: a hash tree, one signature over its root ---- */

/* An inner node: SHA-256("strata-bft-node-v1" || left || right). Its label differs from the
 * leaves' ("strata-bft-reply-v1", "strata-bft-request-v1"), so an inner node is never taken for
 * a leaf, nor a leaf for an inner node, short of a SHA-256 collision. */
static void tree_node(uint8_t out[SMR_BFT_DIGEST_LEN], const uint8_t *l, const uint8_t *r)
{
	uint8_t in[sizeof(BFT_NODE_LABEL) - 1 + 2 * SMR_BFT_DIGEST_LEN];
	memcpy(in, BFT_NODE_LABEL, sizeof(BFT_NODE_LABEL) - 1);
	memcpy(in + sizeof(BFT_NODE_LABEL) - 1, l, SMR_BFT_DIGEST_LEN);
	memcpy(in + sizeof(BFT_NODE_LABEL) - 1 + SMR_BFT_DIGEST_LEN, r, SMR_BFT_DIGEST_LEN);
	strata_hash(out, in, sizeof(in));
}

/* Levels bottom-up: a level of width w has (w + 1) / 2 parents; a pair's parent is its node, a
 * last odd node goes up unchanged (no path entry at that level). */
uint32_t smr_bft_tree_build(uint8_t (*nodes)[SMR_BFT_DIGEST_LEN], uint32_t count)
{
	uint32_t off = 0, w = count;
	while (w > 1) {
		uint32_t up = off + w;
		for (uint32_t j = 0; 2 * j < w; j++) {
			if (2 * j + 1 < w)
				tree_node(nodes[up + j], nodes[off + 2 * j], nodes[off + 2 * j + 1]);
			else
				memcpy(nodes[up + j], nodes[off + 2 * j], SMR_BFT_DIGEST_LEN);
		}
		off = up;
		w = (w + 1) / 2;
	}
	return off;
}

size_t smr_bft_tree_proof(uint8_t (*nodes)[SMR_BFT_DIGEST_LEN], uint32_t count,
			  uint32_t index, uint8_t *proof)
{
	proof[0] = (uint8_t)index;
	proof[1] = (uint8_t)(index >> 8);
	proof[2] = (uint8_t)count;
	proof[3] = (uint8_t)(count >> 8);
	size_t len = SMR_BFT_ENV_HDR;
	uint32_t off = 0, w = count, i = index;
	while (w > 1) {
		if ((i ^ 1) < w) {
			memcpy(proof + len, nodes[off + (i ^ 1)], SMR_BFT_DIGEST_LEN);
			len += SMR_BFT_DIGEST_LEN;
		}
		off += w;
		i >>= 1;
		w = (w + 1) / 2;
	}
	return len;
}

bool smr_bft_tree_fold(const uint8_t leaf[SMR_BFT_DIGEST_LEN], const uint8_t *proof, size_t len,
		       uint8_t root[SMR_BFT_DIGEST_LEN])
{
	if (!proof || len < SMR_BFT_ENV_HDR)
		return false;
	uint32_t i = (uint32_t)proof[0] | (uint32_t)proof[1] << 8;
	uint32_t w = (uint32_t)proof[2] | (uint32_t)proof[3] << 8;
	if (w == 0 || w > SMR_BFT_ENV_MAX || i >= w)
		return false;
	uint8_t cur[SMR_BFT_DIGEST_LEN];
	memcpy(cur, leaf, sizeof(cur));
	size_t at = SMR_BFT_ENV_HDR;
	while (w > 1) {
		if ((i ^ 1) < w) {
			if (at + SMR_BFT_DIGEST_LEN > len)
				return false;
			if (i & 1)
				tree_node(cur, proof + at, cur);
			else
				tree_node(cur, cur, proof + at);
			at += SMR_BFT_DIGEST_LEN;
		}
		i >>= 1;
		w = (w + 1) / 2;
	}
	if (at != len)
		return false;
	memcpy(root, cur, SMR_BFT_DIGEST_LEN);
	return true;
}

/* Whether (pk, msg) is remembered as verified; else verifies sig and remembers it. */
static bool seen_verify(struct smr_bft_seen *seen, const uint8_t pk[SMR_BFT_PK_LEN],
			const uint8_t *msg, size_t mlen, const uint8_t *sig)
{
	uint8_t key[SMR_BFT_SEEN_KEY] = { 0 };
	if (mlen > SMR_BFT_SEEN_KEY - SMR_BFT_PK_LEN - 1)
		return false;
	memcpy(key, pk, SMR_BFT_PK_LEN);
	key[SMR_BFT_PK_LEN] = (uint8_t)mlen;
	memcpy(key + SMR_BFT_PK_LEN + 1, msg, mlen);
	/* Newest first (an envelope's requests arrive together), and the message before the key:
	 * one client's entries share their public key, so comparing it first costs 33 bytes per
	 * entry before the first difference. */
	if (seen)
		for (uint32_t i = 1; i <= seen->used; i++) {
			uint32_t j = (seen->next + SMR_BFT_SEEN - i) % SMR_BFT_SEEN;
			if (memcmp(seen->key[j] + SMR_BFT_PK_LEN, key + SMR_BFT_PK_LEN,
				   sizeof(key) - SMR_BFT_PK_LEN) == 0 &&
			    memcmp(seen->key[j], key, SMR_BFT_PK_LEN) == 0) {
				seen->hits++;
				return true;
			}
		}
	if (seen)
		seen->verified++;
	if (!strata_verify(sig, pk, msg, mlen))
		return false;
	if (seen) {
		memcpy(seen->key[seen->next], key, sizeof(key));
		seen->next = (seen->next + 1) % SMR_BFT_SEEN;
		if (seen->used < SMR_BFT_SEEN)
			seen->used++;
	}
	return true;
}

bool smr_bft_verify_reply(const struct strata_config *cfg, uint32_t replica,
			  const uint8_t outcome[SMR_BFT_DIGEST_LEN], const uint8_t *sig,
			  size_t len, struct smr_bft_seen *seen)
{
	if (!sig || replica < 1 || replica > cfg->n || !cfg->nodes[replica].has_public_key ||
	    len < STRATA_SIG_LEN || len > SMR_BFT_SIG_MAX)
		return false;
	uint8_t root[SMR_BFT_DIGEST_LEN];
	if (len == STRATA_SIG_LEN)
		memcpy(root, outcome, sizeof(root)); /* signed alone: the outcome is the root */
	else if (!smr_bft_tree_fold(outcome, sig + STRATA_SIG_LEN, len - STRATA_SIG_LEN, root))
		return false;
	uint8_t msg[SMR_BFT_SIGNED_LEN];
	smr_bft_signed_msg(msg, replica, root);
	return seen_verify(seen, cfg->nodes[replica].public_key, msg, sizeof(msg), sig);
}

/* ---- signed client requests ---- */

uint64_t smr_bft_session_of(const uint8_t pk[SMR_BFT_PK_LEN])
{
	uint8_t in[sizeof(BFT_SESSION_LABEL) - 1 + SMR_BFT_PK_LEN], h[STRATA_HASH_LEN];
	memcpy(in, BFT_SESSION_LABEL, sizeof(BFT_SESSION_LABEL) - 1);
	memcpy(in + sizeof(BFT_SESSION_LABEL) - 1, pk, SMR_BFT_PK_LEN);
	strata_hash(h, in, sizeof(in));
	uint64_t s = 0;
	for (unsigned i = 0; i < 8; i++)
		s |= (uint64_t)h[i] << (8 * i);
	return s | 1; /* never 0 (no session) */
}

void smr_bft_request_digest(uint8_t out[SMR_BFT_DIGEST_LEN], const struct smr_bft_req *r)
{
	/* The codec's encoding (strata_wr_u64), built in a fixed buffer: computed for every request
	 * at every replica and at the client, so no heap writer. */
	uint8_t b[sizeof(BFT_REQ_LABEL) - 1 + 5 * STRATA_VARINT_MAX + 3 * STRATA_HASH_LEN];
	size_t n = sizeof(BFT_REQ_LABEL) - 1;
	memcpy(b, BFT_REQ_LABEL, n);
	n += strata_varint_put(b + n, r->session);
	n += strata_varint_put(b + n, r->seq);
	n += strata_varint_put(b + n, r->op);
	n += strata_varint_put(b + n, r->type);
	n += strata_varint_put(b + n, r->limit);
	hash_field(b + n, r->key, r->key_len);
	n += STRATA_HASH_LEN;
	hash_field(b + n, r->val, r->val_len);
	n += STRATA_HASH_LEN;
	hash_field(b + n, r->val2, r->val2_len);
	n += STRATA_HASH_LEN;
	strata_hash(out, b, n);
}

void smr_bft_request_sign(uint8_t auth[SMR_BFT_AUTH_LEN], const uint8_t pk[SMR_BFT_PK_LEN],
			  const uint8_t sk[STRATA_SK_LEN], const uint8_t digest[SMR_BFT_DIGEST_LEN])
{
	memcpy(auth, pk, SMR_BFT_PK_LEN);
	strata_sign(auth + SMR_BFT_PK_LEN, sk, digest, SMR_BFT_DIGEST_LEN);
}

uint64_t smr_bft_session_at(const uint8_t pk[SMR_BFT_PK_LEN], uint32_t index)
{
	uint8_t in[sizeof(BFT_SESSION2_LABEL) - 1 + SMR_BFT_PK_LEN + 4], h[STRATA_HASH_LEN];
	size_t at = sizeof(BFT_SESSION2_LABEL) - 1;
	memcpy(in, BFT_SESSION2_LABEL, at);
	memcpy(in + at, pk, SMR_BFT_PK_LEN);
	at += SMR_BFT_PK_LEN;
	for (unsigned i = 0; i < 4; i++)
		in[at + i] = (uint8_t)(index >> (8 * i));
	strata_hash(h, in, sizeof(in));
	uint64_t s = 0;
	for (unsigned i = 0; i < 8; i++)
		s |= (uint64_t)h[i] << (8 * i);
	return s | 1;
}

void smr_bft_request_env_sign(const uint8_t pk[SMR_BFT_PK_LEN], const uint8_t sk[64],
			      uint32_t count, const uint8_t (*digests)[SMR_BFT_DIGEST_LEN],
			      const uint32_t *idx, uint8_t *auths, size_t *lens)
{
	uint8_t nodes[2 * SMR_BFT_ENV_MAX + SMR_BFT_ENV_DEPTH][SMR_BFT_DIGEST_LEN];
	memcpy(nodes, digests, (size_t)count * SMR_BFT_DIGEST_LEN);
	uint32_t root = smr_bft_tree_build(nodes, count);
	uint8_t sig[STRATA_SIG_LEN];
	strata_sign(sig, sk, nodes[root], SMR_BFT_DIGEST_LEN);
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *a = auths + (size_t)i * SMR_BFT_AUTH_MAX;
		memcpy(a, pk, SMR_BFT_PK_LEN);
		memcpy(a + SMR_BFT_PK_LEN, sig, STRATA_SIG_LEN);
		for (unsigned b = 0; b < 4; b++)
			a[SMR_BFT_AUTH_LEN + b] = (uint8_t)(idx[i] >> (8 * b));
		memcpy(a + SMR_BFT_AUTH_LEN + 4, nodes[root], SMR_BFT_DIGEST_LEN);
		lens[i] = SMR_BFT_AUTH_LEN + 4 + SMR_BFT_DIGEST_LEN +
			  smr_bft_tree_proof(nodes, count, i,
					     a + SMR_BFT_AUTH_LEN + 4 + SMR_BFT_DIGEST_LEN);
	}
}

bool smr_bft_request_verify(uint64_t session, const uint8_t digest[SMR_BFT_DIGEST_LEN],
			    const uint8_t *auth, size_t len, struct smr_bft_seen *seen,
			    bool unbound)
{
	if (!auth)
		return false;
	if (len == SMR_BFT_AUTH_LEN) /* alone: the session the key owns, its signature of R */
		return smr_bft_session_of(auth) == session &&
		       seen_verify(seen, auth, digest, SMR_BFT_DIGEST_LEN, auth + SMR_BFT_PK_LEN);
	if (len < SMR_BFT_AUTH_ENV_MIN || len > SMR_BFT_AUTH_MAX)
		return false;
	const uint8_t *ix = auth + SMR_BFT_AUTH_LEN, *t = ix + 4, *proof = t + SMR_BFT_DIGEST_LEN;
	uint32_t index = (uint32_t)ix[0] | (uint32_t)ix[1] << 8 | (uint32_t)ix[2] << 16 |
			 (uint32_t)ix[3] << 24;
	if (smr_bft_session_at(auth, index) != session)
		return false;
	/* The entry is bound to the signature: its digest leads to the signed root T. */
	uint8_t root[SMR_BFT_DIGEST_LEN];
	if (!unbound && (!smr_bft_tree_fold(digest, proof, len - (size_t)(proof - auth), root) ||
			 memcmp(root, t, SMR_BFT_DIGEST_LEN) != 0))
		return false;
	return seen_verify(seen, auth, t, SMR_BFT_DIGEST_LEN, auth + SMR_BFT_PK_LEN);
}

void smr_bft_vote_init(struct smr_bft_vote *v, uint32_t n, uint32_t f)
{
	memset(v, 0, sizeof(*v));
	v->n = n;
	v->f = f;
}

unsigned smr_bft_vote_add(struct smr_bft_vote *v, uint32_t replica,
			  const uint8_t outcome[SMR_BFT_DIGEST_LEN])
{
	if (replica < 1 || replica > v->n || replica > STRATA_MAX_NODES)
		return 0;
	uint64_t bit = 1ull << (replica - 1);
	if (!(v->voted & bit)) { /* a replica's first signed reply is its vote */
		v->voted |= bit;
		memcpy(v->outcome[replica], outcome, SMR_BFT_DIGEST_LEN);
	}
	unsigned same = 0;
	for (uint32_t r = 1; r <= v->n; r++)
		if ((v->voted >> (r - 1)) & 1 &&
		    memcmp(v->outcome[r], v->outcome[replica], SMR_BFT_DIGEST_LEN) == 0)
			same++;
	return same;
}

unsigned smr_bft_vote_count(const struct smr_bft_vote *v)
{
	unsigned c = 0;
	for (uint32_t r = 1; r <= v->n; r++)
		c += (unsigned)((v->voted >> (r - 1)) & 1);
	return c;
}
