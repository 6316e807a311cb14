/* The replica side of the BFT KV's authenticated replies (bft.c has the specification, the
 * outcome digest and the client's vote): every reply a replica sends is signed with its
 * identity key over replica id || outcome digest.
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
	strata_output(n, o);
	o->sig = NULL;
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

void smr_bft_output(struct strata_node *n, struct strata_output *o, const struct smr_bft_tag *tag)
{
	uint32_t self = strata_node_id(n), next = self % strata_node_n(n) + 1;
	char buf[48];
	switch (strata_node_byz(n)) {
	case STRATA_BYZ_NONE:
	case STRATA_BYZ_COMPLAIN: /* a consensus behaviour: replies stay correct */
	case STRATA_BYZ_COUNT:
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
