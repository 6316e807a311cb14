/* Best-effort broadcast, book Alg. 3.1 "Basic Broadcast" (module beb).
 *
 * Specification (Module 3.1):
 *   BEB1 Validity: if a correct process broadcasts m, every correct process eventually
 *        delivers m.
 *   BEB2 No duplication: no message is delivered more than once.
 *   BEB3 No creation: if a process delivers m with sender s, then m was previously broadcast
 *        by s.
 * Model: fail-silent (crash-stop, no failure detector), over perfect links. Resilience: any f.
 * Cost: 1 communication step, N messages per broadcast.
 *
 * Faithful transcription: broadcast = pl-send to every process (self included). The only
 * state is a bounded delivered window per origin (common.h), which guards no-duplication
 * across an origin's restart; perfect links already deliver each frame once per session. A
 * frame whose claimed origin is not the link-level sender is malformed (no creation: links are
 * authenticated, a beb message is never relayed).
 * Restart: a restarted origin is a new process with a new incarnation, counting seq from 1.
 *
 * Stackable (bcast/bcast.h): one beb instance per user, in an instance table of at most
 * BEB_INST_CAP instances, each with its own sequence numbers and delivered windows. Instance 0
 * serves clients (`--algo beb`); the others serve upper modules (erb, urb, consensus, ...).
 * Frames carry the instance id; Deliver indications go to the instance's subscribers.
 * Memory: BEB_INST_CAP x (n+1) windows of BC_WIN_BITS bits. Instances are never retired: there
 * is one per upper module (and per sub-instance an upper opens), all created by code, not by
 * peers' choice (a peer's frame for an instance without an upper here is dropped).
 *
 * Sends the links refuse: the perfect links queue at most `[links] backlog_bytes` toward a peer
 * and refuse a send beyond it (STRATA_EFULL), a message that peer would never get (BEB1, and
 * everything stacked on beb). What the links refuse is owed to the peer and sent again, in
 * order, when its backlog has room (links.h, strata_pl_owed, queued): per peer at most
 * BEB_OWED_MSGS messages (a correct receiver more than BC_WIN_BITS messages of one origin behind
 * gives up the oldest anyway, common.h) and BEB_OWED_BYTES of payload, or backlog_bytes if that
 * is larger; one beyond is dropped (lost as before), counted and traced. */
#include <stdlib.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"
#include "links/links.h"

#define BEB_INST_CAP 64
#define BEB_OWED_MSGS BC_WIN_BITS /* messages owed to one peer, at most */
#define BEB_OWED_BYTES (64u << 20) /* and bytes (or backlog_bytes if larger) */
#define BEB_TOK_OWED 1            /* the timer that sends owed messages again */

struct beb_inst {
	struct bc_subs up;       /* who gets this instance's Deliver indications */
	uint64_t lsn;            /* this instance's last own sequence number */
	struct bc_origin org[];  /* [n+1] */
};

struct beb {
	struct strata_module m;
	struct strata_itab *inst;
	struct strata_pl_owed *owed; /* sends the links refused (see the top) */
};

static struct beb_inst *beb_inst(struct beb *b, uint64_t id, int *rc)
{
	bool created = false;
	struct beb_inst *i = strata_itab_get_id(b->inst, id, &created, rc);
	if (i && created && bc_subs_default(&b->m, id, &i->up) != 0) {
		/* Nobody here stands on this instance: a peer's frame for an upper we do not run. */
		strata_itab_del_id(b->inst, id);
		*rc = STRATA_ENOENT;
		return NULL;
	}
	return i;
}

/* upon event <pl, Deliver | p, [DATA, m]> do trigger <beb, Deliver | p, m> */
static void beb_recv(struct beb *b, const struct strata_event *ev)
{
	struct strata_node *n = b->m.node;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), strata_node_config(n)->max_value, &h, &p,
			  &len) != 0 ||
	    h.origin != ev->peer) {
		strata_node_bad_payload(n, &b->m, ev->peer, "beb: malformed DATA");
		return;
	}
	int rc = 0;
	struct beb_inst *i = beb_inst(b, ev->instance, &rc);
	if (!i) {
		strata_node_counters(n)->rej_module++;
		strata_trace(n, "beb", "DATA from %u for instance %llx: %s -> dropped", ev->peer,
			     (unsigned long long)ev->instance,
			     rc == STRATA_EFULL ? strata_itab_error(b->inst) : "no upper module here");
		return;
	}
	struct bc_origin *o = &i->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	bc_win_add(&o->win, h.seq);
	struct strata_deliver d = {
		.origin = h.origin, .inc = h.inc, .seq = h.seq, .data = p, .len = len,
	};
	bc_subs_indicate(&b->m, &i->up, ev->instance, ev->msg, &d);
}

static void beb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct beb *b = (struct beb *)m;
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		beb_recv(b, ev);
	else if (ev->type == STRATA_EV_TIMER && ev->arg == BEB_TOK_OWED)
		strata_pl_owed_flush(b->owed);
}

/* upon event <beb, Broadcast | m> do forall q in Pi: trigger <pl, Send | q, [DATA, m]> */
static int beb_send(struct beb *b, uint64_t id, const uint8_t *data, size_t len, uint64_t *seq)
{
	struct strata_node *n = b->m.node;
	if (len > bc_pl_payload_max(n, 0))
		return STRATA_ETOOBIG;
	int rc = 0;
	struct beb_inst *i = beb_inst(b, id, &rc);
	if (!i)
		return rc;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), i->lsn + 1 };
	struct strata_msg *msg = bc_encode_data(&h, data, len);
	if (!msg)
		return STRATA_ENOMEM;
	i->lsn++;
	for (uint32_t q = 1; q <= strata_node_n(n); q++)
		(void)strata_pl_owed_send(b->owed, q, id, msg); /* refused: owed */
	strata_msg_unref(msg);
	if (seq)
		*seq = i->lsn;
	return 0;
}

static int beb_request(struct strata_module *m, const struct strata_request *req)
{
	struct beb *b = (struct beb *)m;
	/* On a fail-recovery cluster beb exists only under lmv, lldc and lec
	 * (bcast_open_under_recovery): its clients are refused there, as the catalog refuses it. */
	if (!strata_model_supports(strata_node_config(m->node)->model, STRATA_MODEL_FAIL_SILENT))
		return STRATA_EMODEL;
	int rc = bc_check_request(req, bc_pl_payload_max(m->node, 0));
	if (rc)
		return rc;
	uint64_t seq = 0;
	rc = beb_send(b, 0, req->value, req->value_len, &seq);
	if (rc)
		return rc;
	bc_out_bcast(m, seq, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static int beb_open(struct strata_module *m, uint64_t id, struct strata_module *upper)
{
	int rc = 0;
	struct beb_inst *i = beb_inst((struct beb *)m, id, &rc);
	return i ? bc_subs_add(&i->up, upper) : rc;
}

static int beb_broadcast(struct strata_module *m, uint64_t id, const uint8_t *data, size_t len)
{
	return beb_send((struct beb *)m, id, data, len, NULL);
}

static size_t beb_payload_max(const struct strata_module *m)
{
	return bc_pl_payload_max(m->node, 0);
}

static void beb_destroy(struct strata_module *m)
{
	struct beb *b = (struct beb *)m;
	strata_itab_free(b->inst);
	strata_pl_owed_free(b->owed);
	free(b);
}

static const struct strata_module_ops beb_ops;

int bc_beb_test_no_owed(struct strata_module *m)
{
	if (!m || m->ops != &beb_ops)
		return STRATA_EINVAL;
	strata_pl_owed_test_lossy(((struct beb *)m)->owed);
	return 0;
}

int bc_beb_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c)
{
	if (!m || m->ops != &beb_ops)
		return STRATA_EINVAL;
	strata_pl_owed_counts(((struct beb *)m)->owed, c);
	return 0;
}

static const struct bcast_iface beb_iface = {
	.open = beb_open, .broadcast = beb_broadcast, .payload_max = beb_payload_max,
};

static const struct strata_module_ops beb_ops = {
	.name = "beb", .handle = beb_handle, .request = beb_request, .destroy = beb_destroy,
	.iface = &beb_iface,
};

struct strata_module *bc_beb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct beb *b = calloc(1, sizeof(*b));
	size_t ext = sizeof(struct beb_inst) + (strata_node_n(n) + 1) * sizeof(struct bc_origin);
	if (b) {
		b->inst = strata_itab_new("beb instances", BEB_INST_CAP, ext, NULL, NULL);
		uint32_t backlog = strata_node_config(n)->backlog_bytes;
		b->owed = strata_pl_owed_new(n, &b->m, BEB_TOK_OWED, NULL, BEB_OWED_MSGS,
					     backlog > BEB_OWED_BYTES ? backlog : BEB_OWED_BYTES);
	}
	if (!b || !b->inst || !b->owed) {
		if (b) {
			strata_itab_free(b->inst);
			strata_pl_owed_free(b->owed);
		}
		free(b);
		snprintf(err, errlen, "beb: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &b->m, &beb_ops, strata_wire_id("beb"));
	return &b->m;
}
