/* Unit tests for the BFT KV's envelopes (src/smr/bft.c): the hash tree over an envelope's
 * digests (every leaf's proof leads to the root; an altered leaf, path, index or count does not,
 * or is refused as malformed) and a reply's verification alone and under an envelope signature
 * (the replica it names, the remembered roots, the count of Ed25519 verifications), and a request
 * envelope's entries (bound to their digest and session; the broken unbound check is not). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/config.h"
#include "crypto/crypto.h"
#include "smr/smr.h"

#define D SMR_BFT_DIGEST_LEN

static uint8_t nodes[2 * SMR_BFT_ENV_MAX + SMR_BFT_ENV_DEPTH][D];

static void leaves(uint32_t count, uint8_t salt)
{
	for (uint32_t i = 0; i < count; i++) {
		uint8_t in[5] = { salt, (uint8_t)i, (uint8_t)(i >> 8), 7, 9 };
		strata_hash(nodes[i], in, sizeof(in));
	}
}

START_TEST(test_every_leaf_folds_to_the_root)
{
	static const uint32_t counts[] = { 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100, 129, 255, 256 };
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		uint32_t count = counts[c];
		leaves(count, (uint8_t)c);
		uint32_t root = smr_bft_tree_build(nodes, count);
		ck_assert_uint_lt(root, 2 * count + SMR_BFT_ENV_DEPTH);
		for (uint32_t i = 0; i < count; i++) {
			uint8_t proof[SMR_BFT_ENV_PROOF_MAX], got[D];
			size_t len = smr_bft_tree_proof(nodes, count, i, proof);
			ck_assert_uint_le(len, SMR_BFT_ENV_PROOF_MAX);
			ck_assert(smr_bft_tree_fold(nodes[i], proof, len, got));
			ck_assert(memcmp(got, nodes[root], D) == 0);
		}
	}
}
END_TEST

START_TEST(test_altered_proofs_do_not_lead_to_the_root)
{
	uint32_t count = 13;
	leaves(count, 42);
	uint32_t root = smr_bft_tree_build(nodes, count);
	for (uint32_t i = 0; i < count; i++) {
		uint8_t proof[SMR_BFT_ENV_PROOF_MAX], alt[SMR_BFT_ENV_PROOF_MAX], got[D], leaf[D];
		size_t len = smr_bft_tree_proof(nodes, count, i, proof);
		/* another leaf under this leaf's proof (an entry moved to another request) */
		memcpy(leaf, nodes[(i + 1) % count], D);
		ck_assert(!smr_bft_tree_fold(leaf, proof, len, got) ||
			  memcmp(got, nodes[root], D) != 0);
		/* one bit of the path flipped */
		for (size_t at = SMR_BFT_ENV_HDR; at < len; at += 7) {
			memcpy(alt, proof, len);
			alt[at] ^= 1;
			ck_assert(!smr_bft_tree_fold(nodes[i], alt, len, got) ||
				  memcmp(got, nodes[root], D) != 0);
		}
		/* another index (the same leaf placed elsewhere) */
		memcpy(alt, proof, len);
		alt[0] = (uint8_t)((i + 1) % count);
		ck_assert(!smr_bft_tree_fold(nodes[i], alt, len, got) ||
			  memcmp(got, nodes[root], D) != 0);
		/* malformed: index beyond count, count 0 or too large, path cut or extended */
		memcpy(alt, proof, len);
		alt[0] = (uint8_t)count;
		ck_assert(!smr_bft_tree_fold(nodes[i], alt, len, got));
		memcpy(alt, proof, len);
		alt[2] = 0;
		ck_assert(!smr_bft_tree_fold(nodes[i], alt, len, got));
		memcpy(alt, proof, len);
		alt[2] = (uint8_t)(SMR_BFT_ENV_MAX + 1);
		alt[3] = (uint8_t)((SMR_BFT_ENV_MAX + 1) >> 8);
		ck_assert(!smr_bft_tree_fold(nodes[i], alt, len, got));
		ck_assert(!smr_bft_tree_fold(nodes[i], proof, len - 1, got));
		memcpy(alt, proof, len);
		memset(alt + len, 0, D);
		ck_assert(!smr_bft_tree_fold(nodes[i], alt, len + D, got));
		ck_assert(!smr_bft_tree_fold(nodes[i], proof, 3, got));
	}
}
END_TEST

static struct strata_config cfg;
static uint8_t sk[3][STRATA_SK_LEN];

static void two_replicas(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.n = 2;
	for (uint32_t r = 1; r <= 2; r++) {
		uint8_t seed[32];
		memset(seed, (int)r, sizeof(seed));
		ck_assert_int_eq(strata_keypair_seed(cfg.nodes[r].public_key, sk[r], seed), 0);
		cfg.nodes[r].has_public_key = true;
	}
}

START_TEST(test_reply_alone_and_in_an_envelope)
{
	two_replicas();
	uint8_t oc[D], other[D], msg[SMR_BFT_SIGNED_LEN], sig[SMR_BFT_SIG_MAX];
	smr_bft_outcome(oc, 11, 3, 0, STRATA_REPLY_FOUND, 5, (const uint8_t *)"v", 1);
	smr_bft_outcome(other, 11, 4, 0, STRATA_REPLY_FOUND, 5, (const uint8_t *)"v", 1);
	/* alone */
	smr_bft_signed_msg(msg, 1, oc);
	strata_sign(sig, sk[1], msg, sizeof(msg));
	ck_assert(smr_bft_verify_reply(&cfg, 1, oc, sig, STRATA_SIG_LEN, NULL));
	ck_assert(!smr_bft_verify_reply(&cfg, 2, oc, sig, STRATA_SIG_LEN, NULL));
	ck_assert(!smr_bft_verify_reply(&cfg, 1, other, sig, STRATA_SIG_LEN, NULL));
	ck_assert(!smr_bft_verify_reply(&cfg, 1, oc, sig, STRATA_SIG_LEN - 1, NULL));
	/* an envelope of 5 replies, oc at index 3 */
	leaves(5, 1);
	memcpy(nodes[3], oc, D);
	uint32_t root = smr_bft_tree_build(nodes, 5);
	smr_bft_signed_msg(msg, 1, nodes[root]);
	strata_sign(sig, sk[1], msg, sizeof(msg));
	size_t len = STRATA_SIG_LEN + smr_bft_tree_proof(nodes, 5, 3, sig + STRATA_SIG_LEN);
	struct smr_bft_seen seen;
	memset(&seen, 0, sizeof(seen));
	ck_assert(smr_bft_verify_reply(&cfg, 1, oc, sig, len, &seen));
	ck_assert_uint_eq(seen.verified, 1);
	ck_assert(smr_bft_verify_reply(&cfg, 1, oc, sig, len, &seen)); /* remembered */
	ck_assert_uint_eq(seen.verified, 1);
	ck_assert_uint_eq(seen.hits, 1);
	/* another outcome under this proof, another replica, the envelope taken as a lone sig */
	ck_assert(!smr_bft_verify_reply(&cfg, 1, other, sig, len, &seen));
	ck_assert(!smr_bft_verify_reply(&cfg, 2, oc, sig, len, &seen));
	ck_assert(!smr_bft_verify_reply(&cfg, 1, oc, sig, STRATA_SIG_LEN, &seen));
	/* a remembered root does not vouch for a bad signature of another replica */
	uint8_t bad[SMR_BFT_SIG_MAX];
	memcpy(bad, sig, len);
	bad[0] ^= 1;
	ck_assert(!smr_bft_verify_reply(&cfg, 2, oc, bad, len, &seen));
	ck_assert(!smr_bft_verify_reply(&cfg, 1, oc, bad, len, NULL));
	/* the other entries verify under the same root without another Ed25519 verification */
	uint64_t before = seen.verified;
	for (uint32_t i = 0; i < 5; i++) {
		uint8_t s2[SMR_BFT_SIG_MAX];
		memcpy(s2, sig, STRATA_SIG_LEN);
		size_t l2 = STRATA_SIG_LEN + smr_bft_tree_proof(nodes, 5, i, s2 + STRATA_SIG_LEN);
		ck_assert(smr_bft_verify_reply(&cfg, 1, nodes[i], s2, l2, &seen));
	}
	ck_assert_uint_eq(seen.verified, before);
}
END_TEST

START_TEST(test_request_envelope)
{
	uint8_t pk[STRATA_PK_LEN], skey[STRATA_SK_LEN], seed[32];
	memset(seed, 9, sizeof(seed));
	ck_assert_int_eq(strata_keypair_seed(pk, skey, seed), 0);
	enum { N = 6 };
	uint8_t digs[N][D], auths[N * SMR_BFT_AUTH_MAX];
	uint32_t idx[N];
	size_t lens[N];
	uint64_t sess[N];
	for (uint32_t i = 0; i < N; i++) {
		idx[i] = 3 * i;
		sess[i] = smr_bft_session_at(pk, idx[i]);
		struct smr_bft_req r = { .session = sess[i], .seq = 1 + i, .op = 2, .type = 1,
					 .key = (const uint8_t *)"k", .key_len = 1 };
		smr_bft_request_digest(digs[i], &r);
	}
	smr_bft_request_env_sign(pk, skey, N, (const uint8_t(*)[D])digs, idx, auths, lens);
	struct smr_bft_seen seen;
	memset(&seen, 0, sizeof(seen));
	for (uint32_t i = 0; i < N; i++) {
		const uint8_t *a = auths + (size_t)i * SMR_BFT_AUTH_MAX;
		ck_assert_uint_ge(lens[i], SMR_BFT_AUTH_ENV_MIN);
		ck_assert(smr_bft_request_verify(sess[i], digs[i], a, lens[i], &seen, false));
		/* another entry's digest, or this one under another session, is refused */
		uint32_t j = (i + 1) % N;
		ck_assert(!smr_bft_request_verify(sess[i], digs[j], a, lens[i], &seen, false));
		ck_assert(!smr_bft_request_verify(sess[j], digs[i], a, lens[i], &seen, false));
		/* the broken check (signature only) takes the other entry's digest */
		ck_assert(smr_bft_request_verify(sess[i], digs[j], a, lens[i], &seen, true));
	}
	ck_assert_uint_eq(seen.verified, 1); /* one root, verified once */
	/* a bad signature is refused where the root is not remembered */
	uint8_t bad[SMR_BFT_AUTH_MAX];
	memcpy(bad, auths, lens[0]);
	bad[SMR_BFT_PK_LEN] ^= 1;
	ck_assert(!smr_bft_request_verify(sess[0], digs[0], bad, lens[0], NULL, false));
	ck_assert(!smr_bft_request_verify(sess[0], digs[0], auths, SMR_BFT_AUTH_ENV_MIN - 1, NULL,
					  false));
}
END_TEST

/* The digests as the codec writes them and SHA-256 hashes every field, empty ones too: what
 * smr_bft_request_digest and smr_bft_outcome computed before they took SHA-256("") as a
 * constant. Their bytes are signed by clients and replicas, so they must not change. */
static void ref_digest(uint8_t out[D], const char *label, const uint64_t *v, unsigned nv,
		       const uint8_t *const *f, const size_t *flen, unsigned nf)
{
	struct strata_wr w;
	strata_wr_init(&w, 4096);
	strata_wr_raw(&w, label, strlen(label));
	for (unsigned i = 0; i < nv; i++)
		strata_wr_u64(&w, v[i]);
	for (unsigned i = 0; i < nf; i++) {
		uint8_t h[D];
		strata_hash(h, f[i] ? f[i] : (const uint8_t *)"", f[i] ? flen[i] : 0);
		strata_wr_raw(&w, h, D);
	}
	ck_assert_int_eq(w.err, 0);
	strata_hash(out, w.buf, w.len);
	strata_wr_free(&w);
}

START_TEST(test_digests_with_empty_fields)
{
	uint8_t e[D];
	strata_hash(e, (const uint8_t *)"", 0);
	ck_assert_mem_eq(smr_bft_sha256_empty(), e, D);
	static const uint8_t bytes[] = "some key or value bytes, long enough for two SHA-256 blocks "
				       "of input when the whole of it is taken as one field";
	const size_t lens[] = { 0, 1, 16, 100, sizeof(bytes) - 3 }; /* field i starts at bytes + i */
	uint64_t x = 88172645463325252ull;
	for (unsigned it = 0; it < 400; it++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* each field: NULL, empty (non-NULL) or some bytes */
		const uint8_t *f[3];
		size_t fl[3];
		for (unsigned i = 0; i < 3; i++) {
			unsigned pick = (unsigned)(x >> (8 * i)) % 7;
			f[i] = pick == 0 ? NULL : bytes + i;
			fl[i] = pick == 0 ? (pick & 1) : lens[pick % 5];
		}
		struct smr_bft_req r = { .session = x, .seq = x >> 20, .op = (uint32_t)(x % 9),
					 .type = (uint8_t)(x % 5), .limit = (uint32_t)(x >> 50),
					 .key = f[0], .key_len = fl[0], .val = f[1], .val_len = fl[1],
					 .val2 = f[2], .val2_len = fl[2] };
		uint8_t got[D], want[D];
		smr_bft_request_digest(got, &r);
		uint64_t rv[5] = { r.session, r.seq, r.op, r.type, r.limit };
		ref_digest(want, "strata-bft-request-v1", rv, 5, f, fl, 3);
		ck_assert_mem_eq(got, want, D);
		int status = (int)(x % 7) - 3;
		uint64_t flags = x >> 60, rev = x >> 33;
		smr_bft_outcome(got, x, x >> 7, status, flags, rev, f[1], fl[1]);
		int64_t st = status;
		uint64_t ov[5] = { x, x >> 7, ((uint64_t)st << 1) ^ (uint64_t)(st >> 63), flags, rev };
		ref_digest(want, "strata-bft-reply-v1", ov, 5, &f[1], &fl[1], 1);
		ck_assert_mem_eq(got, want, D);
	}
}
END_TEST

static Suite *bft_env_suite(void)
{
	Suite *s = suite_create("bft_env");
	TCase *tc = tcase_create("bft_env");
	tcase_add_test(tc, test_every_leaf_folds_to_the_root);
	tcase_add_test(tc, test_altered_proofs_do_not_lead_to_the_root);
	tcase_add_test(tc, test_reply_alone_and_in_an_envelope);
	tcase_add_test(tc, test_request_envelope);
	tcase_add_test(tc, test_digests_with_empty_fields);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	SRunner *sr = srunner_create(bft_env_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
