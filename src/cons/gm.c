/* Group membership, book Alg. 6.7 "Consensus-Based Group Membership" (module gm).
 *
 * Specification (Module 6.5):
 *   Indication: <gm, View | V>          V = (id, M): a view id and its members
 *   GM1 Monotonicity: if a process p installs view V = (id, M) after installing V' = (id', M'),
 *       then id > id' and M ⊊ M'.
 *   GM2 Uniform Agreement: if some process installs (id, M) and another (id, M'), then M = M'.
 *   GM3 Completeness: if a process p crashes, then eventually every correct process installs a
 *       view (id, M) such that p ∉ M.
 *   GM4 Accuracy: if some process installs a view (id, M) with q ∉ M for some q ∈ Π, then q has
 *       crashed.
 *
 * Implementation (uses UniformConsensus, multiple instances uc.i; PerfectFailureDetector P):
 *   upon <gm, Init> do (id, M) := (0, Π); correct := Π; wait := FALSE;
 *       trigger <gm, View | (id, M)>;
 *   upon <P, Crash | p> do correct := correct \ {p};
 *   upon exists p ∈ M such that p ∉ correct ∧ wait = FALSE do
 *       id := id + 1; wait := TRUE; trigger <uc.id, Propose | correct ∩ M>;
 *   upon <uc.i, Decide | M'> such that i = id do
 *       (id, M) := (i, M'); wait := FALSE; trigger <gm, View | (id, M)>;
 *
 * Departures:
 *   - The proposal is correct ∩ M where the book writes correct: a process that has not yet
 *     been told of a crash that an earlier view already reflects would otherwise propose a set
 *     with a member outside M, and GM1's M ⊊ M' would not hold.
 *   - A decision of uc.(id + 1) can arrive before this process proposes on it (uniform consensus
 *     lets a process join an instance it heard of): it is kept and installed in order, as are
 *     decisions of later instances (at most STRATA_MAX_NODES: a view loses a member each time).
 *   - A decision reached before this module existed at the node (it is created on first use:
 *     `strata members`, or a consensus decision) is fetched from uc's decided cache when the
 *     module proposes on that instance and uc answers "decided".
 *   - A restarted node is a new process that this fail-stop algorithm never admits again (the
 *     book's group membership only removes members).
 *
 * View (id, M) is consensus instance (CONS_SPACE_GM << 48) | id of the node's uniform consensus
 * (uhier, Alg. 5.4); the value is M as a varint bitmask (bit q-1 = process q).
 * Model: fail-stop (P), any f < N. Memory: O(N) (views only shrink: at most N - 1 changes).
 * An upper module (view synchrony, vs.c) gets VAR_EV_VIEW (instance = id, arg = M) for every
 * view installed after it opened gm (var_gm_open) and reads the earlier ones (var_gm_view): gm
 * keeps the members of each of its at most N views.
 * Output on each installed view: STRATA_OUT_DELIVER, a = id, b = M as a bitmask, data = the
 * members as text "1,2,4", text "view". Client: READ -> reply [varint id][varint bitmask]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

#define GM_PEND (STRATA_MAX_NODES + 2)

struct gm {
	struct strata_module m;
	struct strata_module *uc;
	uint32_t n;
	uint64_t id, members; /* the installed view */
	uint64_t correct;
	bool wait;
	bool announced; /* view 0 was output */
	bool test_local; /* TEST ONLY: install correct ∩ M without consensus */
	uint64_t pend[GM_PEND]; /* decided, not yet installed: pend[i - id] for view i (0 = none) */
	uint64_t hist[GM_PEND]; /* members of every installed view i <= id (for a late upper) */
	struct strata_module *upper; /* receives VAR_EV_VIEW per installed view (vs.c), or NULL */
};

static uint64_t uc_inst(uint64_t id)
{
	return CONS_SPACE_GM << CONS_SPACE_BITS | id;
}

/* trigger <gm, View | (id, M)> */
static void gm_view(struct gm *g)
{
	char text[STRATA_MAX_NODES * 4 + 1];
	size_t len = 0;
	text[0] = 0;
	for (uint32_t q = 1; q <= g->n; q++)
		if (g->members & cons_bit(q))
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%u", len ? "," : "", q);
	strata_trace(g->m.node, "gm", "view %llu: %s", (unsigned long long)g->id, text);
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER, .module = g->m.wire_id, .module_name = "gm",
		.peer = strata_node_id(g->m.node), .a = g->id, .b = g->members,
		.data = (const uint8_t *)text, .len = len, .text = "view",
	};
	strata_output(g->m.node, &o);
}

static void gm_announce0(struct gm *g)
{
	if (!g->announced) {
		g->announced = true;
		gm_view(g);
	}
}

static void gm_try(struct gm *g);

/* upon <uc.i, Decide | M'> such that i = id do (id, M) := (i, M'); wait := FALSE; View */
static void gm_install_pending(struct gm *g)
{
	gm_announce0(g);
	while (g->pend[1]) {
		uint64_t next = g->pend[1];
		memmove(&g->pend[0], &g->pend[1], sizeof(g->pend) - sizeof(g->pend[0]));
		g->pend[GM_PEND - 1] = 0;
		g->pend[0] = 0;
		if ((next & ~g->members) || next == g->members) {
			/* Not a strict subset: no process proposes that (see the header). */
			strata_node_bad_payload(g->m.node, &g->m, 0, "gm: decided view is not a strict subset");
			return;
		}
		g->id++;
		g->members = next;
		g->hist[g->id] = next;
		g->wait = false;
		gm_view(g);
		if (g->upper)
			strata_raise_body(g->m.node, &g->m, g->upper, VAR_EV_VIEW, strata_node_id(g->m.node),
					  g->id, g->members, NULL, NULL, 0);
	}
}

static void gm_decided(struct gm *g, uint64_t i, uint64_t members)
{
	if (i <= g->id || i - g->id >= GM_PEND || members == 0 || (members & ~cons_all(g->n)))
		return;
	g->pend[i - g->id] = members;
	gm_install_pending(g);
	gm_try(g);
}

/* upon exists p ∈ M such that p ∉ correct ∧ wait = FALSE do
 *     id := id + 1; wait := TRUE; trigger <uc.id, Propose | correct ∩ M>; */
static void gm_try(struct gm *g)
{
	gm_announce0(g);
	if (!(g->members & ~g->correct) || g->wait)
		return;
	uint64_t prop = g->correct & g->members, i = g->id + 1;
	g->wait = true;
	if (g->test_local) { /* BROKEN VARIANT: no consensus */
		gm_decided(g, i, prop);
		return;
	}
	uint8_t buf[16];
	struct strata_wr w;
	strata_wr_init(&w, sizeof(buf));
	strata_wr_u64(&w, prop);
	struct strata_msg *v = NULL;
	int rc = w.err ? w.err : cons_lower_propose_fetch(g->uc, uc_inst(i), w.buf, w.len, &v);
	strata_wr_free(&w);
	if (v) {
		struct strata_rd r;
		strata_rd_init(&r, v->data, v->len);
		uint64_t mm = strata_rd_u64(&r);
		strata_msg_unref(v);
		if (strata_rd_ok(&r) && mm) {
			gm_decided(g, i, mm);
			return;
		}
		rc = STRATA_ENOENT;
	}
	if (rc) {
		g->wait = false; /* nothing proposed: the next crash retries */
		strata_trace(g->m.node, "gm", "view %llu: uc propose refused: %s",
			     (unsigned long long)i, strata_strerror(rc));
	}
}

static void gm_on_uc_decide(struct gm *g, const struct strata_event *ev)
{
	uint64_t id;
	const struct cons_decided *d = cons_upper_decided(ev, g->uc, CONS_SPACE_GM, &id);
	if (!d)
		return;
	struct strata_rd r;
	strata_rd_init(&r, d->value, d->len);
	uint64_t mm = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || r.off != d->len) {
		strata_node_bad_payload(g->m.node, &g->m, ev->peer, "gm: uc decided a malformed view");
		return;
	}
	gm_decided(g, id, mm);
}

static void gm_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct gm *g = (struct gm *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		gm_announce0(g);
		break;
	case CONS_EV_DECIDE:
		gm_on_uc_decide(g, ev);
		break;
	case STRATA_EV_CRASH: /* upon <P, Crash | p> do correct := correct \ {p} */
		if (ev->peer >= 1 && ev->peer <= g->n) {
			g->correct &= ~cons_bit(ev->peer);
			gm_try(g);
		}
		break;
	default:
		break;
	}
}

static int gm_request(struct strata_module *m, const struct strata_request *req)
{
	struct gm *g = (struct gm *)m;
	if (req->op != STRATA_OP_READ)
		return STRATA_EINVAL;
	gm_announce0(g);
	uint8_t buf[24];
	struct strata_wr w;
	strata_wr_init(&w, sizeof(buf));
	strata_wr_u64(&w, g->id);
	strata_wr_u64(&w, g->members);
	int rc = w.err;
	if (!rc)
		strata_node_reply(m->node, m, req->id, 0, STRATA_REPLY_FOUND, w.buf, w.len, NULL);
	strata_wr_free(&w);
	return rc;
}

static void gm_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops gm_ops = {
	.name = "gm", .handle = gm_handle, .request = gm_request, .destroy = gm_destroy,
};

struct strata_module *var_gm_create(struct strata_node *n, char *err, size_t errlen)
{
	struct gm *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "gm: out of memory");
		return NULL;
	}
	g->n = strata_node_n(n);
	g->members = g->correct = g->hist[0] = cons_all(g->n);
	strata_node_add_module(n, &g->m, &gm_ops, strata_wire_id("gm"));
	if (cons_need_fd(&g->m, "gm", err, errlen) != 0 ||
	    cons_lower_open_space(n, VAR_UC, CONS_SPACE_GM, &g->m, &g->uc, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &g->m;
}

int var_gm_open(struct strata_node *n, struct strata_module *upper, struct strata_module **gm,
		char *err, size_t errlen)
{
	struct strata_module *m = strata_node_module_by_name(n, "gm");
	if (!m && !(m = var_gm_create(n, err, errlen)))
		return STRATA_ECONFIG;
	struct gm *g = (struct gm *)m;
	if (g->upper && g->upper != upper) {
		snprintf(err, errlen, "gm already has an upper module");
		return STRATA_ESTATE;
	}
	g->upper = upper;
	*gm = m;
	return 0;
}

uint64_t var_gm_view(const struct strata_module *m, uint64_t id)
{
	const struct gm *g = (const struct gm *)m;
	return id <= g->id && id < GM_PEND ? g->hist[id] : 0;
}

void var_gm_test_local(struct strata_module *m)
{
	((struct gm *)m)->test_local = true;
}
