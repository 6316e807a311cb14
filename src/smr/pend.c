/* The pending client requests of a KV log: the table both logs keep (log.c's leader-driven log
 * and tob_log.c's total-order log), with one way of numbering a request, finding it by its id,
 * bounding the table and counting its bytes, and answering it. What a log does with a pending
 * request (forwarding, read rounds, ordering, the BFT client's fields) stays with the log.
 *
 * Bounds: min([smr] pending_max, 1 << SMR_PEND_ID_BITS) records of the log's record size,
 * allocated once; at most SMR_PEND_BYTES of writes held (smr.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "smr/smr.h"

#define NAME "kv"
#define SLOT_MASK ((1u << SMR_PEND_ID_BITS) - 1)

int smr_pend_init(struct smr_pend_table *t, uint32_t pending_max, size_t size)
{
	STRATA_ASSERT(size >= sizeof(struct smr_pend));
	memset(t, 0, sizeof(*t));
	t->size = size;
	t->cap = pending_max < (1u << SMR_PEND_ID_BITS) ? pending_max : (1u << SMR_PEND_ID_BITS);
	t->rec = calloc(t->cap, size);
	return t->rec ? 0 : STRATA_ENOMEM;
}

void smr_pend_fini(struct smr_pend_table *t)
{
	for (uint32_t i = 0; t->rec && i < t->cap; i++)
		if (smr_pend_at(t, i)->id)
			smr_pend_free(t, smr_pend_at(t, i));
	free(t->rec);
	t->rec = NULL;
}

struct smr_pend *smr_pend_find(const struct smr_pend_table *t, uint64_t id)
{
	uint32_t slot = (uint32_t)(id & SLOT_MASK);
	if (id == 0 || slot >= t->cap)
		return NULL;
	struct smr_pend *p = smr_pend_at(t, slot);
	return p->id == id ? p : NULL;
}

struct smr_pend *smr_pend_alloc(struct smr_pend_table *t, size_t need, char *why, size_t whylen)
{
	if (t->bytes + need > SMR_PEND_BYTES) {
		snprintf(why, whylen, "busy: %zu bytes of writes pending, retry", t->bytes);
		return NULL;
	}
	/* Round-robin: the search starts after the slot it took last. */
	for (uint32_t tries = 0; tries < t->cap; tries++) {
		uint32_t slot = (uint32_t)(t->id_gen++ % t->cap);
		struct smr_pend *p = smr_pend_at(t, slot);
		if (p->id)
			continue;
		memset(p, 0, t->size);
		p->id = (t->id_gen << SMR_PEND_ID_BITS) | slot;
		t->n++;
		return p;
	}
	snprintf(why, whylen, "busy: %u requests pending on this node, retry", t->n);
	return NULL;
}

void smr_pend_hold(struct smr_pend_table *t, struct smr_pend *p, size_t bytes)
{
	p->bytes += bytes;
	t->bytes += bytes;
}

void smr_pend_free(struct smr_pend_table *t, struct smr_pend *p)
{
	STRATA_ASSERT(p->id && t->n > 0 && t->bytes >= p->bytes);
	t->bytes -= p->bytes;
	strata_msg_unref(p->key);
	strata_msg_unref(p->after);
	strata_msg_unref(p->cmd);
	memset(p, 0, t->size);
	t->n--;
}

int smr_pend_read_args(struct smr_pend *p, const struct strata_request *q)
{
	p->key = strata_msg_new(q->key_len ? q->key : (const uint8_t *)"", q->key_len);
	bool after = p->kind == SMR_REQ_RANGE && q->value_len;
	if (after)
		p->after = strata_msg_new(q->value, q->value_len);
	p->limit = q->limit;
	return p->key && (!after || p->after) ? 0 : STRATA_ENOMEM;
}

void smr_pend_write_session(struct smr_pend *p, const struct strata_request *q,
			    struct strata_node *n, bool one_shot)
{
	p->session = q->session;
	p->seq = q->seq;
	if (p->session == 0 && one_shot) {
		p->session = strata_random(n) | 1;
		p->seq = 1;
	}
}

void smr_pend_reply(struct strata_module *m, const struct smr_pend *p, int status,
		    uint64_t flags, const void *data, size_t len, uint64_t revision,
		    const char *text, const struct smr_bft_tag *tag)
{
	struct strata_output o = {
		.kind = STRATA_OUT_REPLY, .module = m->wire_id, .module_name = NAME,
		.a = p->rid, .b = flags, .status = status, .data = data, .len = len, .text = text,
		.revision = revision,
	};
	if (tag)
		smr_bft_output(m->node, &o, tag);
	else
		strata_output(m->node, &o);
}

void smr_pend_serve_read(struct strata_module *m, const struct smr_kv *sm,
			 const struct smr_pend *p, const struct smr_bft_tag *tag)
{
	if (p->kind == SMR_REQ_RANGE)
		smr_reply_range_tagged(m, sm, p->rid, p->key->data, p->key->len,
				       p->after ? p->after->data : NULL,
				       p->after ? p->after->len : 0, p->limit, tag);
	else
		smr_reply_get_tagged(m, sm, p->rid, p->key->data, p->key->len, tag);
}
