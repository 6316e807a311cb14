/* Answers from a replica's applied state: the get and range replies that both KV logs send
 * (log.c's leader-driven log and tob_log.c's total-order log) once a read may be served, so that
 * the two logs encode them the same way and one place bounds a range reply.
 *
 * A get: STRATA_REPLY_FOUND with the value and its mod revision, or not found with the state's
 * revision. A range: STRATA_REPLY_RANGE's encoding (core/node.h): u64 count, then per key its
 * bytes, value bytes, mod revision, create revision and version, then u8 "more"; at most `limit`
 * keys (0 = SMR_RANGE_DEFAULT) and SMR_RANGE_BYTES of keys and values, at least one key.
 * The _tagged variants sign the reply for the BFT KV's client (bft.c) when tag is not NULL. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
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

/* ---- watch: live change events and history replies (`kv watch`, docs/smr.md "Watch") ---- */

int smr_reject(struct strata_module *m, uint64_t rid, const struct smr_bft_tag *tag, int code,
	       const char *fmt, ...)
{
	char text[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	reply_error(m, rid, code, text, tag);
	return 0;
}

/* Live watch events: the changes of revisions from..(the store's revision), as
 * STRATA_OUT_DELIVER of module kv (a = the first revision of the piece, data = the encoding of
 * STRATA_REPLY_RANGE with one item per change: a delete has an empty value and version 0), in
 * pieces of at most WATCH_PIECE events and about SMR_RANGE_BYTES. Subscribers get every change and
 * filter by key themselves (`kv watch`, docs/smr.md "Watch"). Nothing is built while the runtime
 * has no taker for them (no subscriber of module kv): a watcher that comes later reads these
 * changes from the history (smr_reply_history), which the apply recorded regardless. */
#define WATCH_PIECE 256u
void smr_emit_changes(struct strata_module *m, const struct smr_kv *sm, uint64_t from)
{
	if (!strata_node_deliveries_wanted(m->node, NAME))
		return;
	uint64_t to = smr_kv_revision(sm);
	struct smr_kv_event ev[WATCH_PIECE];
	while (from <= to) {
		size_t count = 0;
		uint64_t next = 0, oldest = 0;
		if (smr_kv_history(sm, from, "", 0, true, WATCH_PIECE, ev, &count, &next,
				   &oldest) != 0) {
			/* Already out of the history (one entry larger than it): skipped. */
			strata_trace(m->node, NAME, "watch: revisions %" PRIu64 "..%" PRIu64
				     " not in the history", from, oldest - 1);
			from = oldest;
			continue;
		}
		if (count == 0)
			break;
		size_t bytes = 32, take = 0;
		for (; take < count; take++) {
			size_t b = ev[take].key->len + (ev[take].val ? ev[take].val->len : 0) + 48;
			if (take > 0 && bytes + b > SMR_RANGE_BYTES)
				break;
			bytes += b;
		}
		struct strata_wr w;
		strata_wr_init(&w, bytes + 16);
		strata_wr_u64(&w, take);
		for (size_t i = 0; i < take; i++) {
			strata_wr_bytes(&w, ev[i].key->data, ev[i].key->len);
			strata_wr_bytes(&w, ev[i].val ? ev[i].val->data : NULL,
					ev[i].val ? ev[i].val->len : 0);
			strata_wr_u64(&w, ev[i].revision);
			strata_wr_u64(&w, ev[i].create_revision);
			strata_wr_u64(&w, ev[i].version);
		}
		strata_wr_u8(&w, 0);
		int err = 0;
		struct strata_msg *msg = strata_wr_take_msg(&w, &err);
		if (msg) {
			struct strata_output o = {
				.kind = STRATA_OUT_DELIVER, .module = m->wire_id, .module_name = NAME,
				.peer = strata_node_id(m->node), .a = ev[0].revision, .data = msg->data,
				.len = msg->len,
			};
			strata_output(m->node, &o);
			strata_msg_unref(msg);
			strata_node_counters(m->node)->kv_watch_events += take;
		} else {
			strata_trace(m->node, NAME, "watch: encode failed (%s) -> events dropped",
				     strata_strerror(err));
		}
		from = ev[take - 1].revision + 1;
	}
}

/* A history request (STRATA_OP_HISTORY, `kv watch --from`): the changes from revision q->seq
 * on of key q->key (or of the keys with that prefix: STRATA_REQ_PREFIX), read from this
 * replica's history (smr_kv_history). The reply is STRATA_REPLY_RANGE's encoding, one item per
 * change (a delete: empty value, version 0), at most `limit` (default SMR_RANGE_DEFAULT) and
 * SMR_RANGE_BYTES; its revision is the last revision it covers (continue from the next one). A
 * compacted start: STRATA_ENOENT naming the oldest revision held (also the reply's revision). */
int smr_reply_history(struct strata_module *m, const struct smr_kv *sm, const struct strata_request *q)
{
	bool prefix = (q->flags & STRATA_REQ_PREFIX) != 0;
	if (q->key_len > SMR_KEY_MAX)
		return smr_reject(m, q->id, NULL, STRATA_EINVAL, "key of %zu bytes: at most %u",
				  q->key_len, SMR_KEY_MAX);
	if (q->key_len == 0 && !prefix)
		return smr_reject(m, q->id, NULL, STRATA_EINVAL, "empty key");
	if (q->limit > SMR_RANGE_MAX)
		return smr_reject(m, q->id, NULL, STRATA_EINVAL, "history limit %u: at most %u",
				  q->limit, SMR_RANGE_MAX);
	size_t lim = q->limit ? q->limit : SMR_RANGE_DEFAULT;
	struct smr_kv_event *ev = malloc(lim * sizeof(*ev));
	if (!ev)
		return smr_reject(m, q->id, NULL, STRATA_ENOMEM,
				  "out of memory reading the history");
	size_t count = 0;
	uint64_t next = 0, oldest = 0;
	int rc = smr_kv_history(sm, q->seq, q->key, q->key_len, prefix, lim, ev, &count, &next,
				&oldest);
	if (rc == STRATA_ENOENT) {
		free(ev);
		char text[200];
		snprintf(text, sizeof(text),
			 "revision %" PRIu64 " is compacted: the oldest revision node %u still holds "
			 "is %" PRIu64, q->seq, strata_node_id(m->node), oldest);
		struct strata_output o = {
			.kind = STRATA_OUT_REPLY, .module = m->wire_id, .module_name = NAME,
			.a = q->id, .status = STRATA_ENOENT, .text = text, .revision = oldest,
		};
		strata_output(m->node, &o);
		return 0;
	}
	size_t bytes = 32, take = 0;
	for (; take < count; take++) {
		size_t b = ev[take].key->len + (ev[take].val ? ev[take].val->len : 0) + 48;
		if (take > 0 && bytes + b > SMR_RANGE_BYTES)
			break;
		bytes += b;
	}
	bool more = take < count || next <= smr_kv_revision(sm);
	uint64_t covered = take < count ? ev[take].revision - 1 : next - 1;
	struct strata_wr w;
	strata_wr_init(&w, bytes + 16);
	strata_wr_u64(&w, take);
	for (size_t i = 0; i < take; i++) {
		strata_wr_bytes(&w, ev[i].key->data, ev[i].key->len);
		strata_wr_bytes(&w, ev[i].val ? ev[i].val->data : NULL, ev[i].val ? ev[i].val->len : 0);
		strata_wr_u64(&w, ev[i].revision);
		strata_wr_u64(&w, ev[i].create_revision);
		strata_wr_u64(&w, ev[i].version);
	}
	strata_wr_u8(&w, more ? 1 : 0);
	free(ev);
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return smr_reject(m, q->id, NULL, err, "history reply too large");
	struct strata_output o = {
		.kind = STRATA_OUT_REPLY, .module = m->wire_id, .module_name = NAME, .a = q->id,
		.b = STRATA_REPLY_RANGE, .data = msg->data, .len = msg->len, .revision = covered,
	};
	strata_output(m->node, &o);
	strata_msg_unref(msg);
	return 0;
}
