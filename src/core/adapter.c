/* The client adapter: the one place where indications become client outputs.
 *
 * Modules indicate upward as typed events and never need to know whether the module above is
 * another algorithm or a client. A module instance whose indications are meant for clients
 * (the instance a `strata bcast send --algo X` reaches) names this adapter as its subscriber;
 * the adapter turns each indication into a struct strata_output for the runtime (which streams
 * it to subscribed clients) and the simulator's checkers (which observe the same outputs).
 *
 *   upon event <Deliver | s, seq, m> from module X:  output DELIVER(X, s, seq, m)
 *
 * Bounded: it keeps no state. Not addressable on the wire (wire id 0). */
#include <stdlib.h>

#include "core/assert.h"
#include "core/node.h"

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

static void adapter_handle(struct strata_module *m, const struct strata_event *ev)
{
	/* upon event <Deliver | s, seq, m> */
	if (ev->type == STRATA_EV_DELIVER)
		adapter_deliver(m, ev);
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
