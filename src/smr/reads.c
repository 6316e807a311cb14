/* Answers from a replica's applied state: the get and range replies that both KV logs send
 * (log.c's leader-driven log and tob_log.c's total-order log) once a read may be served, so that
 * the two logs encode them the same way and one place bounds a range reply.
 *
 * A get: STRATA_REPLY_FOUND with the value and its mod revision, or not found with the state's
 * revision. A range: STRATA_REPLY_RANGE's encoding (core/node.h): u64 count, then per key its
 * bytes, value bytes, mod revision, create revision and version, then u8 "more"; at most `limit`
 * keys (0 = SMR_RANGE_DEFAULT) and SMR_RANGE_BYTES of keys and values, at least one key.
 * The _tagged variants sign the reply for the BFT KV's client (bft.c) when tag is not NULL. */
#include <stdlib.h>

#include "core/codec.h"
#include "core/error.h"
#include "smr/smr.h"

#define NAME "kv"

/* Outputs o: signed for tag (the BFT KV, bft.c), or as it is. */
static void emit(struct strata_module *m, struct strata_output *o, const struct smr_bft_tag *tag)
{
	if (tag)
		smr_bft_output(m->node, o, tag);
	else
		strata_output(m->node, o);
}

static void reply_error(struct strata_module *m, uint64_t rid, int status, const char *text,
			const struct smr_bft_tag *tag)
{
	struct strata_output o = {
		.kind = STRATA_OUT_REPLY, .module = m->wire_id, .module_name = NAME, .a = rid,
		.status = status, .text = text,
	};
	if (tag)
		smr_bft_output(m->node, &o, tag);
	else
		strata_node_reply(m->node, m, rid, status, 0, NULL, 0, text);
}

void smr_reply_get(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
		   const void *key, size_t klen)
{
	smr_reply_get_tagged(m, sm, rid, key, klen, NULL);
}

void smr_reply_range(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
		     const void *prefix, size_t plen, const void *after, size_t alen, uint32_t limit)
{
	smr_reply_range_tagged(m, sm, rid, prefix, plen, after, alen, limit, NULL);
}

void smr_reply_get_tagged(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
			  const void *key, size_t klen, const struct smr_bft_tag *tag)
{
	struct smr_kv_value v;
	bool found = smr_kv_get(sm, key, klen, &v) == 0;
	struct strata_output o = {
		.kind = STRATA_OUT_REPLY, .module = m->wire_id, .module_name = NAME, .a = rid,
		.b = found ? STRATA_REPLY_FOUND : 0, .data = found ? v.val->data : NULL,
		.len = found ? v.val->len : 0,
		.revision = found ? v.mod_revision : smr_kv_revision(sm),
	};
	emit(m, &o, tag);
}

void smr_reply_range_tagged(struct strata_module *m, const struct smr_kv *sm, uint64_t rid,
			    const void *prefix, size_t plen, const void *after, size_t alen,
			    uint32_t limit, const struct smr_bft_tag *tag)
{
	size_t lim = limit ? limit : SMR_RANGE_DEFAULT;
	struct smr_kv_item *items = malloc(lim * sizeof(*items));
	size_t count = 0;
	bool more = false;
	if (!items || smr_kv_range(sm, prefix, plen, after, alen, lim, items, &count, &more)) {
		free(items);
		reply_error(m, rid, STRATA_ENOMEM, "out of memory reading the range", tag);
		return;
	}
	size_t bytes = 32, take = 0;
	for (; take < count; take++) {
		size_t b = items[take].key->len + items[take].val->len + 48;
		if (take > 0 && bytes + b > SMR_RANGE_BYTES)
			break;
		bytes += b;
	}
	if (take < count)
		more = true;
	struct strata_wr w;
	strata_wr_init(&w, bytes + 16);
	strata_wr_u64(&w, take);
	for (size_t i = 0; i < take; i++) {
		strata_wr_bytes(&w, items[i].key->data, items[i].key->len);
		strata_wr_bytes(&w, items[i].val->data, items[i].val->len);
		strata_wr_u64(&w, items[i].mod_revision);
		strata_wr_u64(&w, items[i].create_revision);
		strata_wr_u64(&w, items[i].version);
	}
	strata_wr_u8(&w, more ? 1 : 0);
	free(items);
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg) {
		reply_error(m, rid, err, "range reply too large", tag);
		return;
	}
	struct strata_output o = {
		.kind = STRATA_OUT_REPLY, .module = m->wire_id, .module_name = NAME, .a = rid,
		.b = STRATA_REPLY_RANGE, .data = msg->data, .len = msg->len,
		.revision = smr_kv_revision(sm),
	};
	emit(m, &o, tag);
	strata_msg_unref(msg);
}
