/* Consensus from total-order broadcast, seed notes 8.6 (module tob-consensus).
 *
 * Specification (Module 5.1 / 5.2, cons.h): C1 termination, C2 validity, C3 integrity, C4
 * agreement (uniform here, since every process delivers a prefix of one total order).
 *
 * Implementation (uses TotalOrderBroadcast, instance tob):
 *   upon <c.i, Propose | v> do
 *       trigger <tob, Broadcast | [i, v]>;
 *   upon <tob, Deliver | p, [i, v]> do
 *       if c.i has not decided then
 *           trigger <c.i, Decide | v>;        (the first value delivered for instance i)
 * Correctness: every process delivers the same messages in the same order (TOB4, TOB5), so the
 * first [i, ·] each delivers is the same message (agreement), proposed by p (TOB3: validity); a
 * correct proposer delivers its own message (TOB1), and then every correct process does (TOB4):
 * termination. Decisions after the first are ignored (integrity). A process that never proposed
 * on i decides too, when it delivers the first [i, ·].
 *
 * Model: that of the tob below it (Alg. 6.1 over erb and ldc: fail-noisy, N > 2f). Stacked as
 * every family stacks (bcast/bcast.h): bcast_open(n, "tob", ...) opens this module's instance of
 * the node's tob, whose order is shared with every other user of tob. Faithful transcription;
 * bounded by the family's instance table (cons.h: CONS_LIVE_MAX undecided instances, a decided
 * window of CONS_WINDOW ids, CONS_CACHE decided values), a value fits in one tob message. A
 * decision's "round" is the process whose value was delivered first (text "proposer P"). */
#include <stdio.h>
#include <stdlib.h>

#include "bcast/bcast.h"
#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

struct tob_cons {
	struct cons_mod c;
	struct bcast_lower tob;
	bool own; /* TEST ONLY: decide the own proposal at once (broken variant) */
};

static size_t tc_value_max(const struct tob_cons *t)
{
	size_t max = bcast_payload_max(&t->tob);
	return max > 16 ? max - 16 : 0;
}

/* upon <c.i, Propose | v> do trigger <tob, Broadcast | [i, v]> */
static int tc_propose(struct strata_module *m, struct cons_inst *i, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct tob_cons *t = (struct tob_cons *)m;
	struct strata_wr w;
	strata_wr_init(&w, len + 16);
	strata_wr_u64(&w, i->id);
	strata_wr_raw(&w, v, len);
	int rc = w.err ? w.err : bcast_broadcast(&t->tob, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	cons_out_propose(&t->c.tab, i, v, len, by_client);
	if (t->own) /* BROKEN VARIANT: no waiting for the total order */
		cons_decide(&t->c.tab, i, v, len, strata_node_id(m->node));
	return 0;
}

/* upon <tob, Deliver | p, [i, v]> do if c.i has not decided: trigger <c.i, Decide | v> */
static void tc_deliver(struct tob_cons *t, const struct strata_event *ev)
{
	const struct strata_deliver *d = ev->body;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint64_t id = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || id == 0) {
		strata_node_bad_payload(t->c.m.node, &t->c.m, d->origin,
					"tob-consensus: delivery without an instance");
		return;
	}
	struct cons_inst *i = cons_tab_get_peer(&t->c.tab, id, d->origin);
	if (!i) /* decided already (a later value), or outside the window */
		return;
	cons_decide(&t->c.tab, i, d->data + r.off, d->len - r.off, d->origin);
}

static void tc_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct tob_cons *t = (struct tob_cons *)m;
	if (bcast_is_deliver(&t->tob, ev))
		tc_deliver(t, ev);
}

static int tc_request(struct strata_module *m, const struct strata_request *req)
{
	struct tob_cons *t = (struct tob_cons *)m;
	return cons_request(&t->c.tab, req, tc_value_max(t), tc_propose);
}

static void tc_destroy(struct strata_module *m)
{
	struct tob_cons *t = (struct tob_cons *)m;
	cons_tab_free(&t->c.tab);
	free(t);
}

static const struct strata_module_ops tc_ops = {
	.name = "tob-consensus", .handle = tc_handle, .request = tc_request, .destroy = tc_destroy,
};

struct strata_module *cons_tob_cons_create(struct strata_node *n, char *err, size_t errlen)
{
	struct tob_cons *t = calloc(1, sizeof(*t));
	if (!t || cons_tab_init(&t->c.tab, &t->c.m, sizeof(struct cons_inst)) != 0) {
		free(t);
		snprintf(err, errlen, "tob-consensus: out of memory");
		return NULL;
	}
	t->c.tab.round_name = "proposer";
	t->c.tab.propose = tc_propose;
	strata_node_add_module(n, &t->c.m, &tc_ops, strata_wire_id("tob-consensus"));
	if (bcast_open(n, "tob", &t->c.m, 0, &t->tob, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &t->c.m;
}

void cons_tob_cons_test_own(struct strata_module *m)
{
	((struct tob_cons *)m)->own = true;
}
