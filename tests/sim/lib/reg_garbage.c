/* A source of malformed register payloads; see reg_sim.h. */
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "links/links.h"
#include "reg/reg.h"
#include "reg_sim.h"

struct garbage {
	struct strata_module m;
	struct strata_module_ops ops;
	char name[48];
	struct strata_timer t;
};

/* A well-formed register message (READ, VALUE, WRITE or ACK) for key, optionally followed by
 * junk. Only ever sent damaged: a well-formed WRITE or ACK from a faulty node is a Byzantine
 * fault, which crash-model registers rightly do not survive. */
static struct strata_msg *message(struct strata_node *n, uint8_t type, const uint8_t *key,
				  size_t klen, uint64_t ts, size_t vlen, size_t junk)
{
	struct strata_wr w;
	strata_wr_init(&w, 256);
	strata_wr_u8(&w, type);
	strata_wr_bytes(&w, key, klen);
	strata_wr_u64(&w, strata_random_below(n, 5));
	if (type == REG_MSG_VALUE || type == REG_MSG_WRITE) {
		strata_wr_u64(&w, ts);
		strata_wr_u64(&w, 0);
		strata_wr_bytes(&w, "zzzz", vlen);
	}
	for (size_t i = 0; i < junk; i++)
		strata_wr_u8(&w, (uint8_t)strata_random(n));
	return strata_wr_take_msg(&w, NULL);
}

/* Every payload below is malformed by construction, so a receiver that accepted one as a
 * message would be wrong. */
static void send_one(struct garbage *g)
{
	struct strata_node *n = g->m.node;
	uint32_t nn = strata_node_n(n), self = strata_node_id(n);
	uint32_t to = 1 + (uint32_t)strata_random_below(n, nn);
	if (to == self)
		return;
	const uint8_t *key = (const uint8_t *)"x";
	uint64_t inst = reg_hash(key, 1);
	uint8_t type = (uint8_t)(1 + strata_random_below(n, 4));
	struct strata_msg *m = NULL;
	switch (strata_random_below(n, 5)) {
	case 0: /* random bytes behind a type no register message has */ {
		uint8_t buf[48];
		size_t len = 1 + (size_t)strata_random_below(n, sizeof(buf));
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)strata_random(n);
		buf[0] = (uint8_t)(buf[0] % 2 ? 0 : 5 + buf[0] % 200);
		m = strata_msg_new(buf, len);
		break;
	}
	case 1: /* truncated: every field is required */ {
		struct strata_msg *ok = message(n, type, key, 1, 3, 2, 0);
		m = strata_msg_new(ok->data, (size_t)strata_random_below(n, ok->len));
		strata_msg_unref(ok);
		break;
	}
	case 2: /* trailing bytes */
		m = message(n, type, key, 1, 3, 2, 1 + (size_t)strata_random_below(n, 8));
		break;
	case 3: /* a key that does not hash to the instance */
		m = message(n, type, (const uint8_t *)"y", 1, 3, 2, 0);
		break;
	default: /* bottom (ts 0) carrying a value */
		m = message(n, strata_random_below(n, 2) ? REG_MSG_VALUE : REG_MSG_WRITE, key, 1, 0,
			    1 + (size_t)strata_random_below(n, 4), 0);
		break;
	}
	strata_pl_send(&g->m, to, inst, m);
	strata_msg_unref(m);
}

static void g_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct garbage *g = (struct garbage *)m;
	if (ev->type == STRATA_EV_INIT || ev->type == STRATA_EV_TIMER) {
		if (ev->type == STRATA_EV_TIMER)
			send_one(g);
		strata_timer_arm_in(m->node, &g->t, 1000);
	}
}

static void g_destroy(struct strata_module *m)
{
	free(m);
}

struct strata_module *reg_garbage_create(struct strata_node *n, const char *name, uint16_t wire_id)
{
	struct garbage *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	strncpy(g->name, name, sizeof(g->name) - 1);
	g->ops.name = g->name;
	g->ops.handle = g_handle;
	g->ops.destroy = g_destroy;
	strata_node_add_module(n, &g->m, &g->ops, wire_id);
	strata_timer_init(&g->t, &g->m, 1, 0);
	return &g->m;
}
