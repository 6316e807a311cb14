/* The oracle perfect failure detector (test module); see oracle.h. */
#include "oracle.h"

#include <stdlib.h>

#include "core/assert.h"

/* Nothing to observe: the oracle learns of crashes only through requests. */
static void oracle_handle(struct strata_module *m, const struct strata_event *ev)
{
	(void)m;
	(void)ev;
}

/* A request names the crashed node in r; the oracle raises STRATA_EV_CRASH to subscribers. */
static int oracle_request(struct strata_module *m, const struct strata_request *req)
{
	strata_indicate(m, STRATA_EV_CRASH, req->r, 0, 0, NULL);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void oracle_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops oracle_ops = {
	.name = SIM_ORACLE_NAME, .handle = oracle_handle, .request = oracle_request,
	.destroy = oracle_destroy,
};

struct strata_module *sim_oracle_add(struct strata_node *n)
{
	struct strata_module *o = calloc(1, sizeof(*o));
	STRATA_ASSERT(o);
	strata_node_add_module(n, o, &oracle_ops, SIM_ORACLE_WIRE);
	strata_node_set_role(n, STRATA_ROLE_FD, o);
	return o;
}

void sim_oracle_tell(struct sim *s, uint32_t q, uint64_t req_id, uint32_t crashed)
{
	struct strata_request req = { .id = req_id, .op = STRATA_OP_READ, .r = crashed };
	sim_request(s, q, SIM_ORACLE_NAME, &req);
}
