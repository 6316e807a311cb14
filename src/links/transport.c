/* The link layer behind the node's transport interface (core/node.h, struct
 * strata_transport_ops): the node creates, feeds, flushes and times the link layer only through
 * this table, so src/core knows no link code. Runtimes (rt/uv, rt/sim) and tests name it in
 * strata_node_opts.transport. Stateless: the per-node state is struct strata_links
 * (links/datagram.c), owned by the node between create and destroy. */
#include "links/links.h"

#include "core/assert.h"

static void *tr_create(struct strata_node *n, char *err, size_t errlen)
{
	return strata_links_new(n, err, errlen);
}

static void tr_destroy(void *t) { strata_links_free(t); }

static void tr_recv(void *t, const uint8_t *buf, size_t len) { strata_links_recv(t, buf, len); }

static void tr_recv_from(void *t, const uint8_t *buf, size_t len, uint32_t from)
{
	strata_links_recv_from(t, buf, len, from);
}

static void tr_flush(void *t) { strata_links_flush(t); }

static void tr_timer(void *t, uint64_t token, uint64_t instance)
{
	strata_links_timer(t, token, instance);
}

static uint64_t tr_peer_incarnation(const void *t, uint32_t peer)
{
	return strata_links_peer_incarnation(t, peer);
}

const struct strata_transport_ops strata_links_transport = {
	.name = "links",
	.create = tr_create,
	.destroy = tr_destroy,
	.recv = tr_recv,
	.recv_from = tr_recv_from,
	.flush = tr_flush,
	.timer = tr_timer,
	.peer_incarnation = tr_peer_incarnation,
};

struct strata_links *strata_node_links(const struct strata_node *n)
{
	struct strata_links *l = strata_node_transport(n, &strata_links_transport);
	STRATA_ASSERT(l != NULL);
	return l;
}
