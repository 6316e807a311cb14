/* The client adapter: the one place where indications become client outputs.
 *
 * Modules indicate upward as typed events and never need to know whether the module above is
 * another algorithm or a client. A module instance whose indications are meant for clients
 * (the instance a `strata bcast send --algo X` reaches) names this adapter as its subscriber;
 * the adapter turns each indication into a struct strata_output for the runtime (which streams
 * it to subscribed clients) and the simulator's checkers (which observe the same outputs).
 *
 *   upon event <Deliver | s, seq, m> from module X:  output DELIVER(X, s, seq, m)
 *   upon event <Decide | v> of instance i, round r, from module X:
 *       output DELIVER(X, self, i, r, v); answer the requests waiting for i with (i, v)
 *
 * The answers follow the output, so whoever watches the outputs (a client streaming decisions,
 * the simulator's checkers) has seen the decision before any reply carrying it.
 *
 * Bounded: it keeps no state. Not addressable on the wire (wire id 0). */
#include <stdlib.h>

#include <stdio.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/node.h"

_Static_assert(sizeof(struct strata_decide) <= STRATA_EV_BODY_MAX,
	       "struct strata_decide must fit an event body");

static const char ADAPTER_NAME[] = "client";

static void adapter_deliver(struct strata_module *m, const struct strata_event *ev)
{
	const struct strata_deliver *d = ev->body;
	STRATA_ASSERT(d && ev->body_len == sizeof(*d));
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER,
		.module = ev->src ? ev->src->wire_id : 0,
		.module_name = ev->src ? ev->src->ops->name : NULL,
		.peer = d->origin,
		.a = d->seq,
		.b = d->inc,
		.data = d->data,
		.len = d->len,
		.vc = d->vc,
		.vc_len = d->vc_len,
		.replay = d->replay,
	};
	strata_output(m->node, &o);
}

static void adapter_decide(struct strata_module *m, const struct strata_event *ev)
{
	const struct strata_decide *d = ev->body;
	STRATA_ASSERT(d && ev->body_len == sizeof(*d) && d->nwait <= STRATA_DECIDE_WAIT_MAX);
	struct strata_node *n = m->node;
	char text[48];
	snprintf(text, sizeof(text), "%s %llu", d->round_name ? d->round_name : "round",
		 (unsigned long long)d->round);
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER,
		.module = ev->src ? ev->src->wire_id : 0,
		.module_name = ev->src ? ev->src->ops->name : NULL,
		.peer = strata_node_id(n),
		.a = d->instance,
		.b = d->round,
		.data = d->value,
		.len = d->len,
		.text = text,
	};
	strata_output(n, &o);
	if (!d->nwait)
		return;
	struct strata_wr w;
	strata_wr_init(&w, d->len + 16);
	strata_wr_u64(&w, d->instance);
	strata_wr_raw(&w, d->value, d->len);
	for (unsigned k = 0; k < d->nwait; k++) {
		if (w.err)
			strata_node_reply(n, ev->src, d->waiters[k], STRATA_ENOMEM, 0, NULL, 0, NULL);
		else
			strata_node_reply(n, ev->src, d->waiters[k], 0, STRATA_REPLY_FOUND, w.buf,
					  w.len, NULL);
	}
	strata_wr_free(&w);
}

static void adapter_handle(struct strata_module *m, const struct strata_event *ev)
{
	switch (ev->type) {
	case STRATA_EV_DELIVER: /* upon event <Deliver | s, seq, m> */
		adapter_deliver(m, ev);
		break;
	case STRATA_EV_DECIDE: /* upon event <Decide | v> */
		adapter_decide(m, ev);
		break;
	default:
		break;
	}
}

static void adapter_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops adapter_ops = {
	.name = ADAPTER_NAME, .handle = adapter_handle, .destroy = adapter_destroy,
};

struct strata_module *strata_client_adapter(struct strata_node *n)
{
	struct strata_module *m = strata_node_role(n, STRATA_ROLE_CLIENT);
	if (m)
		return m;
	m = calloc(1, sizeof(*m));
	STRATA_ASSERT(m); /* start-up allocation */
	strata_node_add_module(n, m, &adapter_ops, 0);
	strata_node_set_role(n, STRATA_ROLE_CLIENT, m);
	return m;
}
