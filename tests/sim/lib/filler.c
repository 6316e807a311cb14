/* The backlog filler (test module); see filler.h. */
#include "filler.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "links/links.h"

static void filler_handle(struct strata_module *m, const struct strata_event *ev)
{
	(void)m;
	(void)ev;
}

/* Fills the backlog toward req->r: chunks, then halves, down to single bytes. */
static int filler_request(struct strata_module *m, const struct strata_request *req)
{
	struct strata_node *n = m->node;
	uint8_t buf[SIM_FILLER_CHUNK];
	memset(buf, 'f', sizeof(buf));
	uint32_t to = req->r;
	if (to >= 1 && to <= strata_node_n(n) && to != strata_node_id(n)) {
		for (size_t len = SIM_FILLER_CHUNK; len > 0; len /= 2) {
			while (strata_pl_room(n, to, len)) {
				struct strata_msg *msg = strata_msg_new(buf, len);
				STRATA_ASSERT(msg);
				int rc = strata_pl_send(m, to, 0, msg);
				strata_msg_unref(msg);
				STRATA_ASSERT(rc == 0);
			}
		}
	}
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void filler_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops filler_ops = {
	.name = SIM_FILLER_NAME, .handle = filler_handle, .request = filler_request,
	.destroy = filler_destroy,
};

struct strata_module *sim_filler_add(struct strata_node *n)
{
	struct strata_module *f = calloc(1, sizeof(*f));
	STRATA_ASSERT(f);
	strata_node_add_module(n, f, &filler_ops, SIM_FILLER_WIRE);
	return f;
}

void sim_filler_fill(struct sim *s, uint32_t q, uint64_t req_id, uint32_t peer)
{
	struct strata_request req = { .id = req_id, .op = STRATA_OP_READ, .r = peer };
	sim_request(s, q, SIM_FILLER_NAME, &req);
}
