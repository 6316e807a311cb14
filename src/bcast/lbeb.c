/* Logged best-effort broadcast, book Alg. 3.7 "Logged Basic Broadcast" (module lbeb).
 *
 * Specification (Module 3.11, logged best-effort broadcast):
 *   LBEB1 Validity: if a process that never crashes broadcasts m, every correct process
 *         eventually log-delivers m.
 *   LBEB2 No duplication: no message is log-delivered more than once.
 *   LBEB3 No creation: if a process log-delivers m with sender s, then m was previously
 *         broadcast by s.
 * (In fail-recovery, "correct" means: eventually up forever.)
 * Model: fail-recovery, stacked on stubborn best-effort broadcast as the book draws it ("uses
 * StubbornBestEffortBroadcast, instance sbeb": its own sbeb instance, bcast/bcast.h; every
 * retransmission comes up as a Deliver, which the delivered log deduplicates).
 * Resilience: any f.
 * Cost: 1 step, N messages per broadcast (plus stubborn retransmissions every heartbeat_ms),
 * one stable-storage write per delivery.
 *
 * Log-delivery is the book's `delivered` variable on stable storage: a message is delivered
 * when its id enters the log, durable before anything that depends on it leaves the node
 * (the node syncs at the end of every turn, before flushing datagrams). Bounded: the log is a
 * delivered window per sender ("lbeb/d/<sender>", common.h), not a growing set; payloads are
 * not logged (the STRATA_OUT_DELIVER output carries them to clients and the daemon's delivery
 * log). On recovery the windows are retrieved and a STRATA_OUT_EVENT says so; recovered
 * messages are not delivered again (the book's re-announcement of `delivered`).
 * Restart: seq is kept on stable storage ("lbeb/lsn") so (sender, seq) names one message for
 * the node's whole life (lbeb's own header inside the sbeb payload carries it); sbeb sends the
 * recovering node's HELLO. Messages broadcast by a process that crashes may be lost (the
 * stubborn ring is volatile), as LBEB1 allows. Payloads are limited to one datagram's frame
 * less the two headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

struct lbeb {
	struct strata_module m;
	struct bcast_lower sbeb; /* uses sbeb */
	uint64_t lsn;
	struct bc_win *win; /* [n+1] */
};

static void lbeb_key(char *key, size_t len, uint32_t s)
{
	snprintf(key, len, "lbeb/d/%u", s);
}

static void lbeb_init(struct lbeb *b, bool recovering)
{
	struct strata_node *n = b->m.node;
	if (!recovering)
		return;
	(void)bc_retrieve_u64(n, "lbeb/lsn", &b->lsn);
	uint64_t total = 0;
	for (uint32_t s = 1; s <= strata_node_n(n); s++) {
		char key[32];
		lbeb_key(key, sizeof(key), s);
		if (bc_retrieve_win(n, key, &b->win[s]) == 0)
			total += b->win[s].low;
	}
	char text[96];
	snprintf(text, sizeof(text), "lbeb recovered its delivery log (%llu below watermarks)",
		 (unsigned long long)total);
	struct strata_output o = { .kind = STRATA_OUT_EVENT, .module = b->m.wire_id,
				   .module_name = "lbeb", .text = text };
	strata_output(n, &o);
}

/* upon event <sbeb, Deliver | p, [DATA, sn, m]> do
 *     if (p, sn) not in delivered: delivered := delivered + (p, sn); store(delivered);
 *                                  trigger <lbeb, Deliver | p, m> */
static void lbeb_recv(struct lbeb *b, const struct strata_event *ev)
{
	struct strata_node *n = b->m.node;
	const struct strata_deliver *d = ev->body;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data_bytes(d->data, d->len, strata_node_n(n), d->len, &h, &p, &len) != 0 ||
	    h.origin != d->origin) {
		strata_node_bad_payload(n, &b->m, d->origin, "lbeb: malformed DATA");
		return;
	}
	struct bc_win *w = &b->win[h.origin];
	if (bc_win_has(w, h.seq))
		return;
	bc_win_add(w, h.seq);
	char key[32];
	lbeb_key(key, sizeof(key), h.origin);
	if (bc_store_win(n, key, w) != 0) {
		/* Not logged, so not delivered: the stubborn retransmission brings it again. */
		bc_retrieve_win(n, key, w);
		return;
	}
	bc_out_deliver(&b->m, h.origin, 0, h.seq, p, len, NULL, 0);
}

static void lbeb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lbeb *b = (struct lbeb *)m;
	if (ev->type == STRATA_EV_INIT)
		lbeb_init(b, ev->arg == 1);
	else if (bcast_is_deliver(&b->sbeb, ev))
		lbeb_recv(b, ev);
	else if ((ev->type == STRATA_EV_SL_DELIVER || ev->type == STRATA_EV_FLL_DELIVER ||
		  ev->type == STRATA_EV_PL_DELIVER) && ev->msg)
		/* lbeb's messages travel inside sbeb's, under sbeb's wire id. */
		strata_node_bad_payload(m->node, m, ev->peer, "lbeb: a frame under lbeb's own wire id");
}

static size_t lbeb_payload_max(const struct lbeb *b)
{
	size_t max = bcast_payload_max(&b->sbeb);
	return max > BC_HDR_MAX ? max - BC_HDR_MAX : 0;
}

static int lbeb_request(struct strata_module *m, const struct strata_request *req)
{
	struct lbeb *b = (struct lbeb *)m;
	struct strata_node *n = m->node;
	int rc = bc_check_request(req, lbeb_payload_max(b));
	if (rc)
		return rc;
	/* upon event <lbeb, Broadcast | m> do trigger <sbeb, Broadcast | [DATA, sn, m]> */
	struct bc_hdr h = { BC_DATA, strata_node_id(n), 0, b->lsn + 1 };
	if (bc_store_u64(n, "lbeb/lsn", h.seq) != 0)
		return STRATA_EIO;
	struct strata_msg *msg = bc_encode_data(&h, req->value, req->value_len);
	if (!msg)
		return STRATA_ENOMEM;
	rc = bcast_broadcast(&b->sbeb, msg->data, msg->len);
	strata_msg_unref(msg);
	if (rc)
		return rc;
	b->lsn++;
	bc_out_bcast(m, h.seq, req->value, req->value_len, NULL, 0);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void lbeb_destroy(struct strata_module *m)
{
	struct lbeb *b = (struct lbeb *)m;
	free(b->win);
	free(b);
}

static const struct strata_module_ops lbeb_ops = {
	.name = "lbeb", .handle = lbeb_handle, .request = lbeb_request, .destroy = lbeb_destroy,
};

struct strata_module *bc_lbeb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct lbeb *b = calloc(1, sizeof(*b));
	if (b)
		b->win = calloc(strata_node_n(n) + 1, sizeof(*b->win));
	if (!b || !b->win) {
		free(b);
		return NULL;
	}
	strata_node_add_module(n, &b->m, &lbeb_ops, strata_wire_id("lbeb"));
	if (bcast_open(n, "sbeb", &b->m, 0, &b->sbeb, err, errlen) != 0)
		return NULL; /* the node owns b now and frees it */
	return &b->m;
}
