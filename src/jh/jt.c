/* A layered module on the job handler, seed 1.1.3 "Layered modules" (module jt, "job
 * transformer"). It sits above a JobHandler and below its client:
 *
 *   Module JobTransformer (instance jt), uses JobHandler (instance jh):
 *     Request:    <jt, Submit | job>    (IN from above)
 *     Indication: <jt, Confirm | job>   (OUT to above)
 *   Implementation:
 *     upon <jt, Submit | job> do                       request going down
 *         trigger <jh, Handle | transform(job)>;
 *     upon <jh, Confirm | job'> do                     indication coming up
 *         trigger <jt, Confirm | job>;                  (the job as submitted)
 *   Property: every job submitted is eventually confirmed (inherited from jh's JH1; jt adds no
 *   waiting of its own).
 *
 * transform() upper-cases ASCII letters, so the two layers' views of one job differ visibly:
 * `strata job watch` shows "HELLO" confirmed and processed by jh-async, and the client of jt
 * gets "hello" confirmed, with jh's sequence number and checksum. The lower handler is
 * jh-async (jh_open: "uses"); requests go down as jh_handle() calls, Confirm comes up as a
 * typed JH_EV_CONFIRM event, the same mechanism every family uses to stack. Model: that of its
 * handler. Memory: at most JT_PENDING_MAX jobs handed down and not yet confirmed (beyond:
 * STRATA_EFULL); jh-async confirms within the same turn, so the table is empty between turns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "jh/jh.h"

#define JT_PENDING_MAX 64u
#define JT_LOWER "jh-async"

struct jt_pending {
	uint64_t tag;    /* 0 = free slot */
	uint64_t req_id; /* the client's request */
	struct strata_msg *job; /* as submitted */
};

struct jt {
	struct strata_module m;
	struct jh_lower jh;
	uint64_t next_tag;
	struct jt_pending p[JT_PENDING_MAX];
};

static void jt_transform(uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i] >= 'a' && b[i] <= 'z')
			b[i] = (uint8_t)(b[i] - 'a' + 'A');
}

/* upon <jt, Submit | job> do trigger <jh, Handle | transform(job)> */
static int jt_request(struct strata_module *m, const struct strata_request *req)
{
	struct jt *t = (struct jt *)m;
	uint32_t delay = 0;
	int rc = jh_parse_request(req, &delay);
	if (rc)
		return rc;
	struct jt_pending *slot = NULL;
	for (unsigned k = 0; k < JT_PENDING_MAX && !slot; k++)
		if (!t->p[k].tag)
			slot = &t->p[k];
	if (!slot)
		return STRATA_EFULL;
	struct strata_msg *orig = strata_msg_new(req->value, req->value_len);
	struct strata_msg *down = strata_msg_new(req->value, req->value_len);
	if (!orig || !down) {
		strata_msg_unref(orig);
		strata_msg_unref(down);
		return STRATA_ENOMEM;
	}
	jt_transform(down->data, down->len);
	*slot = (struct jt_pending){ ++t->next_tag, req->id, orig };
	rc = jh_handle(&t->jh, &t->m, slot->tag, down->data, down->len, delay);
	strata_msg_unref(down);
	if (rc) {
		strata_msg_unref(orig);
		*slot = (struct jt_pending){ 0 };
	}
	return rc;
}

/* upon <jh, Confirm | job'> do trigger <jt, Confirm | job> */
static void jt_confirm(struct jt *t, const struct strata_event *ev)
{
	const struct jh_confirm *c = ev->body;
	STRATA_ASSERT(c && ev->body_len == sizeof(*c));
	for (unsigned k = 0; k < JT_PENDING_MAX; k++) {
		struct jt_pending *p = &t->p[k];
		if (p->tag != c->tag)
			continue;
		jh_confirm(&t->m, NULL, p->req_id, c->seq, p->job->data, p->job->len, c->processed,
			   c->checksum);
		strata_msg_unref(p->job);
		*p = (struct jt_pending){ 0 };
		return;
	}
}

static void jt_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == JH_EV_CONFIRM && ev->src == ((struct jt *)m)->jh.m)
		jt_confirm((struct jt *)m, ev);
}

static void jt_destroy(struct strata_module *m)
{
	struct jt *t = (struct jt *)m;
	for (unsigned k = 0; k < JT_PENDING_MAX; k++)
		strata_msg_unref(t->p[k].job);
	free(t);
}

static const struct strata_module_ops jt_ops = {
	.name = "jt", .handle = jt_handle, .request = jt_request, .destroy = jt_destroy,
};

struct strata_module *jh_jt_create(struct strata_node *n, char *err, size_t errlen)
{
	struct jt *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "jt: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &t->m, &jt_ops, 0);
	if (jh_open(n, JT_LOWER, &t->jh, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &t->m;
}
