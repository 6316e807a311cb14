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
 * (outputs and datagrams of a turn-batch are released after its sync). Bounded: the log is a
 * delivered window per sender ("lbeb/d/<sender>", common.h), not a growing set.
 *
 * Torn writes. A crash may keep a prefix of a batch's unsynced writes and lose its outputs
 * (they wait for the sync): a delivery logged in the window but never announced, or an own
 * broadcast whose seq ("lbeb/lsn") was kept but whose BCAST output was lost. The book's answer
 * is that `delivered` is announced again on recovery (Alg. 3.7: "trigger <Deliver | delivered>"
 * upon Recovery). The window holds ids, not payloads, so lbeb also logs the payloads of the
 * messages whose announcement may still be lost: a ring of LBEB_RING delivery slots
 * ("lbeb/r/<slot>", the DATA message as received) and one of LBEB_RING own-broadcast slots
 * ("lbeb/b/<seq mod LBEB_RING>", the DATA message sent), each written before the window or
 * lsn write it backs (a kept prefix that holds the window or lsn holds the slot). A slot is
 * reused only once the batch that wrote it is synced (its outputs have left then); a delivery
 * that finds no such slot is not logged, hence not delivered, and the stubborn retransmission
 * brings it again; a broadcast that finds its slot unsynced is refused with STRATA_EFULL. On
 * recovery lbeb announces again, marked as replays (strata_output.replay; the checker and the
 * daemon's delivery log record a replay only if the first announcement was lost): first every
 * own broadcast of the ring with seq <= lsn (BCAST, in seq order), then every delivery slot
 * whose message the recovered window holds (DELIVER). A slot the window does not hold was
 * never delivered (its window write was lost) and is not announced. Own replayed broadcasts are
 * not sent again: their sender crashed, and LBEB1 promises nothing for it.
 *
 * Restart: seq is kept on stable storage ("lbeb/lsn") so (sender, seq) names one message for
 * the node's whole life (lbeb's own header inside the sbeb payload carries it); sbeb sends the
 * recovering node's HELLO. Messages broadcast by a process that crashes may be lost (the
 * stubborn ring is volatile), as LBEB1 allows. Payloads are limited to one datagram's frame
 * less the two headers. Memory: the windows, and 2 x LBEB_RING batch tickets; storage: the
 * windows, lsn and 2 x LBEB_RING payload slots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

#define LBEB_RING 64u /* payload slots of each ring (deliveries, own broadcasts) */

struct lbeb {
	struct strata_module m;
	struct bcast_lower sbeb; /* uses sbeb */
	uint64_t lsn;
	struct bc_win *win; /* [n+1] */
	/* The turn-batch that last wrote each slot (0: none since start); reusable once synced. */
	uint64_t dlv_batch[LBEB_RING], own_batch[LBEB_RING];
	unsigned dlv_next; /* the delivery slot tried next */
};

static void lbeb_key(char *key, size_t len, uint32_t s)
{
	snprintf(key, len, "lbeb/d/%u", s);
}

/* Turn-batch tickets: the open batch is number batches + 1; batches - unsynced are synced. */
static uint64_t batch_open(struct strata_node *n)
{
	return strata_node_counters(n)->batches + 1;
}

static bool batch_synced(struct strata_node *n, uint64_t ticket)
{
	return ticket <= strata_node_counters(n)->batches - strata_node_batches_unsynced(n);
}

/* Parses a logged slot: a DATA message of lbeb's header. 0 or -1. */
static int slot_parse(struct strata_node *n, const struct strata_msg *msg, struct bc_hdr *h,
		      const uint8_t **p, size_t *len)
{
	if (!msg || msg->len == 0)
		return -1;
	return bc_parse_data_bytes(msg->data, msg->len, strata_node_n(n), msg->len, h, p, len);
}

/* upon event <Recovery> do ... trigger <lbeb, Deliver | delivered>: the announcements a crash
 * may have lost, as replays (see the top of the file). */
static void lbeb_replay(struct lbeb *b)
{
	struct strata_node *n = b->m.node;
	uint32_t self = strata_node_id(n);
	uint64_t first = b->lsn > LBEB_RING ? b->lsn - LBEB_RING + 1 : 1;
	for (uint64_t seq = first; seq <= b->lsn; seq++) {
		char key[32];
		snprintf(key, sizeof(key), "lbeb/b/%u", (unsigned)(seq % LBEB_RING));
		struct strata_msg *msg = NULL;
		struct bc_hdr h;
		const uint8_t *p;
		size_t len;
		if (strata_retrieve(n, key, &msg) == 0 && slot_parse(n, msg, &h, &p, &len) == 0 &&
		    h.origin == self && h.seq == seq)
			bc_out_bcast_replay(&b->m, seq, p, len);
		if (msg)
			strata_msg_unref(msg);
	}
	for (unsigned slot = 0; slot < LBEB_RING; slot++) {
		char key[32];
		snprintf(key, sizeof(key), "lbeb/r/%u", slot);
		struct strata_msg *msg = NULL;
		struct bc_hdr h;
		const uint8_t *p;
		size_t len;
		if (strata_retrieve(n, key, &msg) == 0 && slot_parse(n, msg, &h, &p, &len) == 0 &&
		    bc_win_has(&b->win[h.origin], h.seq))
			bc_out_replay(&b->m, h.origin, h.seq, p, len);
		if (msg)
			strata_msg_unref(msg);
	}
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
	lbeb_replay(b);
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
	/* The payload first, in a slot whose last writer is synced (see the top of the file). */
	unsigned slot = LBEB_RING;
	for (unsigned k = 0; k < LBEB_RING && slot == LBEB_RING; k++)
		if (batch_synced(n, b->dlv_batch[(b->dlv_next + k) % LBEB_RING]))
			slot = (b->dlv_next + k) % LBEB_RING;
	if (slot == LBEB_RING)
		return; /* every slot awaits its sync: the stubborn retransmission brings it again */
	char key[32];
	snprintf(key, sizeof(key), "lbeb/r/%u", slot);
	if (strata_store(n, key, d->data, d->len) != 0)
		return; /* not logged, so not delivered */
	b->dlv_batch[slot] = batch_open(n);
	b->dlv_next = (slot + 1) % LBEB_RING;
	bc_win_add(w, h.seq);
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
	unsigned slot = (unsigned)(h.seq % LBEB_RING);
	if (!batch_synced(n, b->own_batch[slot]))
		return STRATA_EFULL; /* LBEB_RING own broadcasts await their sync */
	struct strata_msg *msg = bc_encode_data(&h, req->value, req->value_len);
	if (!msg)
		return STRATA_ENOMEM;
	/* The payload before lsn: a kept prefix that holds lsn holds the broadcast. */
	char key[32];
	snprintf(key, sizeof(key), "lbeb/b/%u", slot);
	if (strata_store(n, key, msg->data, msg->len) != 0 ||
	    bc_store_u64(n, "lbeb/lsn", h.seq) != 0) {
		strata_msg_unref(msg);
		return STRATA_EIO;
	}
	b->own_batch[slot] = batch_open(n);
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
