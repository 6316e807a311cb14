/* The replica side of the BFT KV's authenticated replies (bft.c has the specification, the
 * outcome digest and the client's vote): every reply a replica sends is signed with its
 * identity key over replica id || outcome digest, or (an envelope) over replica id || the root
 * of a hash tree whose leaves are the outcome digests of the replies of one event-loop turn.
 *
 * Reply envelopes (struct smr_bft_replies, one per KV module): a correct replica keeps the
 * replies of a turn (copies of their outputs, at most SMR_BFT_ENV_MAX; a full envelope is
 * signed at once) and at the turn's end (STRATA_EV_TURN_END) builds the tree of their outcome
 * digests, signs its root once and outputs each reply with the signature and its proof (index,
 * count, path: bft.c). A reply alone in its turn is signed alone, as before. The client folds
 * its outcome digest up the path and verifies the signature over the root it computed, so an
 * entry cannot be altered or moved to another request (the leaf binds session and seq), and it
 * verifies a root once for all the replies it gets under it (smr_bft_seen). Nothing is held
 * across turns: the outputs leave in the turn that produced them, as the node's outbox
 * releases them. Cost: one Ed25519 signature per turn instead of one per reply, 2 x count
 * hashes, and up to SMR_BFT_ENV_PROOF_MAX bytes more per reply. Memory: SMR_BFT_ENV_MAX
 * output copies and 2 x SMR_BFT_ENV_MAX digests.
 *
 * Test-only Byzantine replies (a node with a strata_byz behaviour, smr_bft_output):
 *   SILENT      answers nothing;
 *   REPLAY and OLD_EPOCH  answer from the initial state: not found, revision 1, writes "done";
 *   FORGE, EQUIVOCATE and LIE_STATE  a forged outcome (a value never written; a failed compare
 *               turned into success) signed with its own key, and the same outcome again
 *               claiming to be the next replica (signed with its own key: BR1 rejects it);
 *   COMPLAIN    (a consensus behaviour) answers correctly;
 *   BADSIG      the forged outcome claiming to be the next replica, with a corrupted signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "smr/smr.h"

static void sign_emit(struct strata_node *n, struct strata_output *o, const struct smr_bft_tag *t,
		      uint32_t claim, bool corrupt)
{
	uint8_t c[SMR_BFT_DIGEST_LEN], msg[SMR_BFT_SIGNED_LEN], sig[STRATA_SIG_LEN];
	smr_bft_outcome(c, t->session, t->seq, o->status, o->b, o->revision, o->data, o->len);
	smr_bft_signed_msg(msg, strata_node_id(n), c);
	strata_sign(sig, strata_node_secret_key(n), msg, sizeof(msg));
	strata_node_counters(n)->sig_signed++;
	if (corrupt)
		sig[0] ^= 0x5a;
	o->peer = claim;
	o->sig = sig;
	o->sig_len = STRATA_SIG_LEN;
	strata_output(n, o);
	o->sig = NULL;
	o->sig_len = 0;
}

/* The forged outcome of the FORGE, EQUIVOCATE and BADSIG behaviours. */
static void forge(struct strata_output *o, const struct smr_bft_tag *t, char *buf, size_t cap)
{
	if (o->status == STRATA_ESTATE) {
		o->status = 0;
		o->text = NULL;
		return;
	}
	int len = snprintf(buf, cap, "forged.%llu", (unsigned long long)t->seq);
	o->status = 0;
	o->b = STRATA_REPLY_FOUND;
	o->data = (const uint8_t *)buf;
	o->len = (size_t)len;
	o->revision += 1;
}

/* ---- reply envelopes ---- */

struct env_entry {
	struct strata_output o; /* data and text: in the arena at off (set at the flush) */
	size_t off;
};

/* The copies of a turn's replies (value, then text) go into one byte arena kept from turn to
 * turn, not a malloc per reply; one grown past ENV_ARENA_KEEP by large replies is freed. */
#define ENV_ARENA_KEEP (64 * 1024)

struct smr_bft_replies {
	struct strata_module *m;
	uint32_t count;
	struct env_entry e[SMR_BFT_ENV_MAX];
	uint8_t nodes[2 * SMR_BFT_ENV_MAX + SMR_BFT_ENV_DEPTH][SMR_BFT_DIGEST_LEN]; /* leaves, then the tree */
	uint8_t *arena;
	size_t used, cap;
	uint64_t envelopes, replies; /* envelopes signed (2 or more replies), replies in them */
};

struct smr_bft_replies *smr_bft_replies_new(struct strata_module *m)
{
	struct smr_bft_replies *e = calloc(1, sizeof(*e));
	if (e)
		e->m = m;
	return e;
}

static void env_clear(struct smr_bft_replies *e)
{
	e->count = 0;
	e->used = 0;
	if (e->cap > ENV_ARENA_KEEP) {
		free(e->arena);
		e->arena = NULL;
		e->cap = 0;
	}
}

void smr_bft_replies_free(struct smr_bft_replies *e)
{
	if (!e)
		return;
	env_clear(e);
	free(e->arena);
	free(e);
}

void smr_bft_replies_counts(const struct smr_bft_replies *e, uint64_t *envelopes,
			    uint64_t *replies)
{
	*envelopes = e ? e->envelopes : 0;
	*replies = e ? e->replies : 0;
}

/* Keeps a copy of o (tag's outcome digest as its leaf) for the turn's envelope. */
static void env_add(struct smr_bft_replies *e, const struct strata_output *o,
		    const struct smr_bft_tag *t)
{
	if (e->count == SMR_BFT_ENV_MAX)
		smr_bft_replies_flush(e);
	size_t tlen = o->text ? strlen(o->text) + 1 : 0;
	struct env_entry *x = &e->e[e->count];
	x->o = *o;
	x->off = e->used;
	bool room = o->len <= SIZE_MAX - tlen - e->used &&
		    strata_bytes_reserve(&e->arena, &e->cap, e->used + o->len + tlen) == 0;
	STRATA_ASSERT(room); /* as the malloc per reply before: no reply without its copy */
	if (o->len)
		memcpy(e->arena + e->used, o->data, o->len);
	if (tlen)
		memcpy(e->arena + e->used + o->len, o->text, tlen);
	e->used += o->len + tlen;
	smr_bft_outcome(e->nodes[e->count], t->session, t->seq, o->status, o->b, o->revision,
			o->data, o->len);
	e->count++;
	strata_node_at_turn_end(e->m);
}

void smr_bft_replies_flush(struct smr_bft_replies *e)
{
	if (!e || e->count == 0)
		return;
	struct strata_node *n = e->m->node;
	uint32_t self = strata_node_id(n), count = e->count;
	uint8_t msg[SMR_BFT_SIGNED_LEN], sig[SMR_BFT_SIG_MAX];
	uint32_t root = smr_bft_tree_build(e->nodes, count);
	smr_bft_signed_msg(msg, self, e->nodes[root]);
	strata_sign(sig, strata_node_secret_key(n), msg, sizeof(msg));
	strata_node_counters(n)->sig_signed++;
	if (count > 1) {
		e->envelopes++;
		e->replies += count;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct strata_output *o = &e->e[i].o;
		/* the arena has its final address now */
		if (o->len)
			o->data = e->arena + e->e[i].off;
		if (o->text)
			o->text = (const char *)e->arena + e->e[i].off + o->len;
		o->peer = self;
		o->sig = sig;
		o->sig_len = STRATA_SIG_LEN;
		if (count > 1) /* alone: the outcome is the root, the signature says it all */
			o->sig_len += smr_bft_tree_proof(e->nodes, count, i, sig + STRATA_SIG_LEN);
		strata_output(n, o);
	}
	env_clear(e);
}

void smr_bft_output(struct strata_node *n, struct strata_output *o, const struct smr_bft_tag *tag)
{
	uint32_t self = strata_node_id(n), next = self % strata_node_n(n) + 1;
	char buf[48];
	switch (strata_node_byz(n)) {
	case STRATA_BYZ_NONE:
	case STRATA_BYZ_COMPLAIN: /* a consensus behaviour: replies stay correct */
	case STRATA_BYZ_COUNT:
		if (tag->env)
			env_add(tag->env, o, tag);
		else
			sign_emit(n, o, tag, self, false);
		return;
	case STRATA_BYZ_SILENT:
		return;
	case STRATA_BYZ_REPLAY:
	case STRATA_BYZ_OLD_EPOCH:
		o->status = 0;
		o->b = 0;
		o->data = NULL;
		o->len = 0;
		o->text = NULL;
		o->revision = 1;
		sign_emit(n, o, tag, self, false);
		return;
	case STRATA_BYZ_FORGE:
	case STRATA_BYZ_EQUIVOCATE:
	case STRATA_BYZ_LIE_STATE:
		forge(o, tag, buf, sizeof(buf));
		sign_emit(n, o, tag, self, false);
		sign_emit(n, o, tag, next, false);
		return;
	case STRATA_BYZ_BADSIG:
		forge(o, tag, buf, sizeof(buf));
		sign_emit(n, o, tag, next, true);
		return;
	}
}
