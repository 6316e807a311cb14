/* Signed Echo Broadcast (the book's Alg. 3.17), implementing Byzantine consistent broadcast
 * (Module 3.11) with Ed25519 signatures, one instance per (sender, sequence number). Module "seb".
 *
 * Events:
 *   request    <bcb, Broadcast | m>            (client STRATA_OP_BROADCAST; this node is s)
 *   indication <bcb, Deliver | s, m>           (STRATA_OUT_DELIVER: peer = s, a = seq, data = m)
 * Properties (for every instance (s, seq)):
 *   BCB1 Validity: if a correct process s broadcasts m, every correct process eventually
 *        delivers m.
 *   BCB2 No duplication: every correct process delivers at most one message.
 *   BCB3 Integrity: if a correct process delivers m with sender s and s is correct, then m was
 *        previously broadcast by s.
 *   BCB4 Consistency: if a correct process delivers m and another correct process delivers m',
 *        then m = m'.
 *
 * Model: fail-arbitrary, authenticated perfect links, Ed25519 identities (crypto/crypto.h),
 * N > 3f. Cost per broadcast: 3 steps (SEND, ECHO, FINAL), 3N messages (linear, against aeb's
 * N^2), paid with N signatures, and (quorum x N) signature verifications at the receivers.
 *
 * Algorithm: s sends [SEND, m] to all. A process that receives the SEND from s signs
 * "ECHO of m in instance (s, seq)" once and sends [ECHO, H(m), sig] to s only. Once s holds valid
 * signatures of more than (N+f)/2 processes on its m, it sends [FINAL, m, those signatures] to
 * all. A process delivers m on a FINAL (from anyone: the certificate is transferable) that holds
 * valid signatures of more than (N+f)/2 distinct processes on m. Two such certificates for
 * different values would need a correct process to sign twice: consistency.
 *
 * Signed statement (fixed layout, 54 bytes): "SEB1", module wire id (u16), sender (u32),
 * seq (u64), signer (u32), SHA-256(m); the wire id keeps seb's and bcc-seb's certificates apart.
 * Wire: [SEND][sender][seq][bytes m]
 *       [ECHO][sender][seq][hash 32][sig 64]
 *       [FINAL][sender][seq][bytes m][count][count x (signer varint, sig 64)]
 *
 * Detected and counted (strata_node_bad_payload): malformed messages, a SEND whose sender field
 * is not the link's sender, an ECHO sent to a process that is not the sender, an ECHO or FINAL
 * with an invalid signature, a duplicate or out-of-range signer in a FINAL, a second SEND or ECHO
 * with another value. A FINAL for an instance already delivered is not verified again.
 *
 * Bounded implementation (see byz.h): an instance retires once delivered and the sender's
 * watermark passes it; the sender keeps, per own instance, one hash and signature per process. */
#include <stdlib.h>
#include <string.h>

#include "bcast/byz.h"
#include "core/assert.h"
#include "core/stack.h"

#define SEB_STMT_LEN 54

struct seb_echo {
	bool have;
	uint8_t hash[STRATA_HASH_LEN];
	uint8_t sig[STRATA_SIG_LEN];
};

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void seb_stmt(uint8_t out[SEB_STMT_LEN], const struct byzb_mod *b,
		     const struct byzb_inst *in, uint32_t signer, const uint8_t hash[32])
{
	memcpy(out, "SEB1", 4);
	put_be(out + 4, b->base.wire_id, 2);
	put_be(out + 6, in->sender, 4);
	put_be(out + 10, in->seq, 8);
	put_be(out + 18, signer, 4);
	memcpy(out + 22, hash, STRATA_HASH_LEN);
}

static bool seb_check(const struct byzb_mod *b, const struct byzb_inst *in, uint32_t signer,
		      const uint8_t hash[32], const uint8_t sig[STRATA_SIG_LEN])
{
	uint8_t st[SEB_STMT_LEN];
	seb_stmt(st, b, in, signer, hash);
	return strata_verify(sig, strata_node_public_key(b->base.node, signer), st, sizeof(st));
}

static void seb_start(struct byzb_mod *b, struct byzb_inst *in, int v)
{
	byzb_send_value(b, BYZ_SEND, in, v);
}

/* FORGE: a FINAL for the sender's next instance, which it never sent, "signed" by everyone
 * with signatures lifted from this instance. */
static void seb_forge_final(struct byzb_mod *b, const struct byzb_inst *in,
			    const uint8_t sig[STRATA_SIG_LEN])
{
	static const uint8_t fake[] = "forged";
	struct strata_wr w;
	strata_wr_init(&w, sizeof(fake) + BYZ_HDR_MAX + b->n * (STRATA_SIG_LEN + 10) + 10);
	byzb_wr_hdr(&w, BYZ_FINAL, in->sender, in->seq + 1);
	strata_wr_bytes(&w, fake, sizeof(fake));
	strata_wr_u64(&w, b->n);
	for (uint32_t p = 1; p <= b->n; p++) {
		strata_wr_u64(&w, p);
		strata_wr_raw(&w, sig, STRATA_SIG_LEN);
	}
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	STRATA_ASSERT(m);
	byzb_send_all(b, m);
	strata_msg_unref(m);
}

static void seb_echo(struct byzb_mod *b, struct byzb_inst *in, int v)
{
	const struct byzb_val *val = &in->vals[v];
	uint8_t hash[STRATA_HASH_LEN], sig[STRATA_SIG_LEN], st[SEB_STMT_LEN];
	memcpy(hash, val->hash, sizeof(hash));
	if (b->byz == STRATA_BYZ_EQUIVOCATE) {
		/* a valid signature, on another value */
		struct strata_msg *alt = byzb_alter(val->p, val->len);
		strata_hash(hash, alt->data, alt->len);
		strata_msg_unref(alt);
	}
	seb_stmt(st, b, in, b->self, hash);
	strata_sign(sig, strata_node_secret_key(b->base.node), st, sizeof(st));
	if (b->byz == STRATA_BYZ_BADSIG)
		for (size_t i = 0; i < sizeof(sig); i++)
			sig[i] = (uint8_t)(sig[i] ^ 0x5a);
	struct strata_wr w;
	strata_wr_init(&w, BYZ_HDR_MAX + sizeof(hash) + sizeof(sig));
	byzb_wr_hdr(&w, BYZ_ECHO, in->sender, in->seq);
	strata_wr_raw(&w, hash, sizeof(hash));
	strata_wr_raw(&w, sig, sizeof(sig));
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	STRATA_ASSERT(m);
	byzb_send(b, in->sender, m);
	strata_msg_unref(m);
	if (b->byz == STRATA_BYZ_FORGE) {
		seb_forge_final(b, in, sig);
		byzb_forge(b, in);
	}
}

static void seb_final(struct byzb_mod *b, struct byzb_inst *in, const struct seb_echo *echoes)
{
	const struct byzb_val *val = &in->vals[in->send_v];
	struct strata_wr w;
	strata_wr_init(&w, val->len + BYZ_HDR_MAX + 10 + b->n * (STRATA_SIG_LEN + 10));
	byzb_wr_hdr(&w, BYZ_FINAL, in->sender, in->seq);
	strata_wr_bytes(&w, val->p, val->len);
	/* Exactly a quorum of signatures: that is a certificate, and every receiver verifies
	 * each one (the book's Sigma has a slot per process; the extra ones prove nothing more). */
	unsigned c = b->q_echo, put = 0;
	strata_wr_u64(&w, c);
	for (uint32_t p = 1; p <= b->n && put < c; p++) {
		if (!echoes[p].have || memcmp(echoes[p].hash, val->hash, STRATA_HASH_LEN) != 0)
			continue;
		put++;
		uint8_t sig[STRATA_SIG_LEN];
		memcpy(sig, echoes[p].sig, sizeof(sig));
		if (b->byz == STRATA_BYZ_BADSIG)
			sig[p % STRATA_SIG_LEN] ^= 1;
		strata_wr_u64(&w, p);
		strata_wr_raw(&w, sig, sizeof(sig));
	}
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	STRATA_ASSERT(m);
	byzb_send_all(b, m);
	strata_msg_unref(m);
}

static void seb_recv_echo(struct byzb_mod *b, struct byzb_inst *in, uint32_t from,
			  struct strata_rd *r)
{
	uint8_t hash[STRATA_HASH_LEN], sig[STRATA_SIG_LEN];
	strata_rd_raw(r, hash, sizeof(hash));
	strata_rd_raw(r, sig, sizeof(sig));
	if (strata_rd_done(r) != 0) {
		byzb_bad(b, from, "malformed seb ECHO");
		return;
	}
	if (in->sender != b->self) {
		byzb_bad(b, from, "seb ECHO sent to a process that is not the sender");
		return;
	}
	if (!in->aux) {
		in->aux = calloc(b->n + 1, sizeof(struct seb_echo));
		STRATA_ASSERT(in->aux);
	}
	struct seb_echo *e = in->aux;
	if (e[from].have) {
		if (memcmp(e[from].hash, hash, sizeof(hash)) != 0)
			byzb_bad(b, from, "two different ECHOs");
		return;
	}
	if (!seb_check(b, in, from, hash, sig)) {
		byzb_bad(b, from, "seb ECHO with an invalid signature");
		return;
	}
	e[from].have = true;
	memcpy(e[from].hash, hash, sizeof(hash));
	memcpy(e[from].sig, sig, sizeof(sig));
	if (in->sent_final || in->send_v < 0)
		return;
	unsigned c = 0;
	for (uint32_t p = 1; p <= b->n; p++)
		c += e[p].have && memcmp(e[p].hash, in->vals[in->send_v].hash, STRATA_HASH_LEN) == 0;
	if (c >= b->q_echo) {
		in->sent_final = true;
		seb_final(b, in, e);
	}
}

static void seb_recv_final(struct byzb_mod *b, struct byzb_inst *in, uint32_t from,
			   struct strata_rd *r, struct strata_msg *msg)
{
	if (in->delivered)
		return; /* a replay or a late copy: no need to verify it again */
	const uint8_t *p;
	size_t len = strata_rd_bytes(r, &p, b->payload_max);
	uint64_t c = strata_rd_u64_max(r, b->n);
	if (!strata_rd_ok(r)) {
		byzb_bad(b, from, "malformed seb FINAL");
		return;
	}
	uint8_t hash[STRATA_HASH_LEN];
	strata_hash(hash, p, len);
	uint64_t seen[(64 + 1 + 63) / 64] = { 0 };
	unsigned valid = 0;
	for (uint64_t i = 0; i < c; i++) {
		uint64_t signer = strata_rd_u64(r);
		uint8_t sig[STRATA_SIG_LEN];
		strata_rd_raw(r, sig, sizeof(sig));
		if (!strata_rd_ok(r) || signer < 1 || signer > b->n ||
		    (seen[signer / 64] >> (signer % 64)) & 1) {
			byzb_bad(b, from, "seb FINAL with a bad or repeated signer");
			return;
		}
		seen[signer / 64] |= 1ull << (signer % 64);
		if (!seb_check(b, in, (uint32_t)signer, hash, sig)) {
			byzb_bad(b, from, "seb FINAL with an invalid signature");
			return;
		}
		valid++;
	}
	if (strata_rd_done(r) != 0) {
		byzb_bad(b, from, "malformed seb FINAL");
		return;
	}
	if (valid < b->q_echo)
		return; /* not a certificate (yet a correct process never sends one) */
	int v = byzb_value(b, in, p, len, msg);
	if (v < 0) {
		byzb_bad(b, from, "too many distinct values in one instance");
		return;
	}
	byzb_deliver(b, in, v);
}

static void seb_recv(struct byzb_mod *b, struct byzb_inst *in, uint32_t from, uint8_t type,
		     struct strata_rd *r, struct strata_msg *msg)
{
	if (type == BYZ_ECHO) {
		seb_recv_echo(b, in, from, r);
		return;
	}
	if (type == BYZ_FINAL) {
		seb_recv_final(b, in, from, r, msg);
		return;
	}
	if (type != BYZ_SEND) {
		byzb_bad(b, from, "seb: unexpected message type");
		return;
	}
	const uint8_t *p;
	size_t len = strata_rd_bytes(r, &p, b->payload_max);
	if (strata_rd_done(r) != 0) {
		byzb_bad(b, from, "malformed seb SEND");
		return;
	}
	int v = byzb_value(b, in, p, len, msg);
	if (v < 0) {
		byzb_bad(b, from, "too many distinct values in one instance");
		return;
	}
	if (in->send_v >= 0) {
		if (in->send_v != v)
			byzb_bad(b, from, "second SEND with another value");
		return;
	}
	in->send_v = v;
	if (!in->sent_echo) {
		in->sent_echo = true;
		seb_echo(b, in, v);
	}
}

static bool seb_retirable(const struct byzb_mod *b, const struct byzb_inst *in)
{
	return in->delivered;
}

const struct byzb_proto byzb_proto_seb = {
	.name = "seb",
	.start = seb_start,
	.recv = seb_recv,
	.retirable = seb_retirable,
	.max_type = BYZ_FINAL,
};

/* Room a FINAL needs beyond the payload: a count and N (signer, signature) pairs. */
size_t byzb_seb_overhead(uint32_t n)
{
	return 10 + (size_t)n * (STRATA_SIG_LEN + 10);
}

struct strata_module *byzb_seb_create(struct strata_node *n, char *err, size_t errlen)
{
	return byzb_create(n, &byzb_proto_seb, "seb", strata_wire_id("seb"), false,
			  byzb_seb_overhead(strata_node_n(n)), err, errlen);
}
