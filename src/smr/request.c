/* The checks of a KV client request that both logs share (log.c's leader-driven log and
 * tob_log.c's total-order log): its kind, the key, a range's limit and start key, the values'
 * sizes and an MSET's pair list, with one wording of every refusal; and the command type a put's
 * flags name. What depends on the log (how large one log entry or tob message may be, busy
 * limits, sessions) stays with the log. Bounds: SMR_KEY_MAX, SMR_VALUE_MAX, SMR_RANGE_MAX
 * (smr.h). */
#include <stdio.h>

#include "core/error.h"
#include "smr/smr.h"

int smr_request_parse(const struct strata_request *q, uint8_t *kind, char *why, size_t whylen)
{
	uint8_t k = q->op == STRATA_OP_READ ? SMR_REQ_GET : q->op == STRATA_OP_WRITE ? SMR_REQ_PUT
		    : q->op == STRATA_OP_DELETE ? SMR_REQ_DEL : q->op == STRATA_OP_CAS ? SMR_REQ_CAS
		    : q->op == STRATA_OP_RANGE ? SMR_REQ_RANGE : 0;
	*kind = k;
	if (!k) {
		snprintf(why, whylen, "kv supports get, put, del, cas and range");
		return STRATA_EINVAL;
	}
	if (k == SMR_REQ_RANGE && q->limit > SMR_RANGE_MAX) {
		snprintf(why, whylen, "range limit %u: at most %u", q->limit, SMR_RANGE_MAX);
		return STRATA_EINVAL;
	}
	if (k == SMR_REQ_RANGE && q->value_len > SMR_KEY_MAX) {
		snprintf(why, whylen, "range start key of %zu bytes: at most %u", q->value_len,
			 SMR_KEY_MAX);
		return STRATA_EINVAL;
	}
	if (q->key_len == 0 && k != SMR_REQ_RANGE) {
		snprintf(why, whylen, "empty key");
		return STRATA_EINVAL;
	}
	if (k == SMR_REQ_PUT && (q->flags & STRATA_REQ_MPUT) &&
	    smr_mput_check(q->value, q->value_len) != 0) {
		snprintf(why, whylen, "malformed pair list");
		return STRATA_EINVAL;
	}
	if (q->key_len > SMR_KEY_MAX) {
		snprintf(why, whylen, "key of %zu bytes: at most %u", q->key_len, SMR_KEY_MAX);
		return STRATA_EINVAL;
	}
	size_t vmax = q->value_len > q->value2_len ? q->value_len : q->value2_len;
	if (vmax > SMR_VALUE_MAX) {
		snprintf(why, whylen, "value of %zu bytes: at most %u", vmax, SMR_VALUE_MAX);
		return STRATA_ETOOBIG;
	}
	return 0;
}

uint8_t smr_put_type(uint32_t flags)
{
	if (flags & STRATA_REQ_PUT_NX)
		return SMR_CMD_PUT_NX;
	if (flags & STRATA_REQ_PUT_XX)
		return SMR_CMD_PUT_XX;
	if (flags & STRATA_REQ_GETSET)
		return SMR_CMD_GETSET;
	if (flags & STRATA_REQ_INCR)
		return SMR_CMD_INCR;
	if (flags & STRATA_REQ_MPUT)
		return SMR_CMD_MPUT;
	return SMR_CMD_PUT;
}
