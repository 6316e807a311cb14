/* Strong Byzantine consensus, book Alg. 5.20 "From Byzantine Consensus to Strong Byzantine
 * Consensus" (module sbc), over Byzantine leader-driven consensus (Alg. 5.19, bldc.c, which has
 * weak validity only) and authenticated perfect links.
 *
 * Specification (Module 5.11, strong Byzantine consensus, instance sbc):
 *   Request:    <sbc, Propose | v>
 *   Indication: <sbc, Decide | v>
 *   SBC1 Termination: every correct process eventually decides some value.
 *   SBC2 Strong validity: if all correct processes propose the same value v, then no correct
 *        process decides a value different from v; otherwise, a correct process may only
 *        decide a value that was proposed by some correct process or the special value □.
 *   SBC3 Integrity: no correct process decides twice.
 *   SBC4 Agreement: no two correct processes decide differently.
 * Model: fail-noisy-arbitrary (that of bldc): at most f Byzantine processes, Ed25519 identities,
 * authenticated perfect links, eventual synchrony. Resilience N > 3f: bldc needs it, and the
 * transformation itself needs exactly that (a valid set must hold more correct entries, N - 2f,
 * than Byzantine ones, f: see below), so it adds no stronger bound; the constructor refuses
 * N <= 3f and says why.
 *
 *   upon event <sbc, Init> do proposals := [⊥]^N; proposed := FALSE;
 *   upon event <sbc, Propose | v> do
 *       σ := sign(self, sbc‖self‖PROPOSAL‖v);
 *       forall q do trigger <al, Send | q, [PROPOSAL, v, σ]>;
 *   upon event <al, Deliver | p, [PROPOSAL, v, σ]> such that verifysig(p, sbc‖p‖PROPOSAL‖v, σ)
 *       do proposals[p] := (v, σ);
 *   upon #(proposals) >= N - f ∧ proposed = FALSE do
 *       proposed := TRUE; trigger <bc, Propose | proposals>;
 *   upon event <bc, Decide | P> do
 *       if exists v such that #({p | P[p] = (v, ·)}) >= N - 2f then decide v
 *       else decide □;
 * with the underlying consensus bound to decide only a *valid* P: N - f entries of distinct
 * processes, each with a good signature of its process over its value for this instance.
 *
 * Why it is correct. Agreement and integrity are bc's (the decision is a function of P, the
 * same P at every correct process). Strong validity: a valid P holds N - f signed entries, at
 * most f of Byzantine processes, so at least N - 2f (> f, since N > 3f) of correct ones. If every
 * correct process proposed v, v appears at least N - 2f times and every other value at most f
 * < N - 2f times: the decision is v. Otherwise a value that appears N - 2f > f times was signed
 * by at least one correct process, so was proposed by a correct one; else the decision is □.
 * Two values cannot both reach N - 2f among N - f entries (that needs N <= 3f).
 *
 * What is signed and why. bc (bldc) has weak validity only: a Byzantine leader's value may be
 * decided (docs/consensus-variants.md shows it at N = 6, f = 1). The proposals are signed so
 * that any process can check a proposal set without trusting whoever assembled it; and bc is
 * given the check as an external validity predicate (cons_lower_set_valid): bldc neither
 * proposes nor joins with an invalid set, and its epoch consensus does not WRITE a leader's
 * unbound value that fails it (bep.c). A value bound in an earlier epoch was written by more
 * than f processes, so by a correct one that checked it; a decision from f + 1 DECIDED
 * includes a correct one. So bc decides only valid sets, and a Byzantine leader that offers an
 * invalid one stalls its own epoch and is complained about. (The book's text for this
 * transformation leaves how bc avoids deciding a Byzantine leader's made-up set to the
 * underlying algorithm; this is how it is done here. `broken-sbc-trusts-unsigned-set` in
 * sim_cons_sbc shows what happens without it.) A decided set is checked again on decision
 * (cheap insurance; an invalid one is decided as □ and counted).
 *
 * Departures and choices:
 *   - □ is the empty value: sbc refuses an empty proposal (EINVAL) so that □ is never a
 *     proposal; clients print it as □.
 *   - Joining (cons.h): a process that hears a signed PROPOSAL for an instance no client
 *     proposed on here proposes the value it carries (so one client's proposal makes every
 *     correct process take part; its value was proposed by the signer). Strong validity is about
 *     what processes propose, a join included.
 *   - P is the first N - f valid PROPOSALs, in process order; later ones are kept (a
 *     duplicate or a second value from one process is ignored: one entry per process).
 *   - Instances: client instance i is bc instance (CONS_SPACE_SBC << 48) | i; an upper's
 *     instance of sbc's space 5 (fast Byzantine consensus, fast.c) is bc instance
 *     (CONS_SPACE_SBC_FAST << 48) | i. Other spaces are refused.
 * Memory: the instance table (cons.h: CONS_LIVE_MAX undecided instances, each N values and N
 * signatures) plus bldc's. Values: at most what lets N of them, with signatures, fit one bldc
 * value. Wire: [u8 PROPOSAL][bytes v][64-byte signature]; a proposal set is
 * [count][count x ([p][bytes v][64-byte signature])], p ascending.
 *
 * Byzantine test behaviours (strata_node_byz; simulator and --byzantine-test only): silent
 * sends no PROPOSAL; equivocate signs and sends v to odd processes and "z'"v to even ones;
 * badsig sends its PROPOSAL with a corrupted signature. The others act in bldc. The forger
 * (cons_sbc_test_forge, a simulator switch on a node whose bldc stays honest) proposes to bc a
 * made-up set (N - f processes "signing" a value of its making, "zf:"v, with zeroed
 * signatures) and installs no predicate on its own bldc, so that as leader it offers that set.
 *
 * Sends the links refuse: a correct process's PROPOSAL the links refuse (the backlog toward q
 * full) is one q never gets, and nothing repeats it (bldc repeats its own messages, not sbc's).
 * A process proposes to bc only once it holds N - f PROPOSALs, and bc decides only once a
 * leader holds a proposal set (its own, or one a VALUE announced): with f processes
 * silent, refusals that leave every correct process one PROPOSAL short (p1's to p2, p2's to p3,
 * ..., the last one's to p1) leave nobody proposing to bc, and the instance stops at every
 * process (SBC1). So a PROPOSAL is owed to q and sent again, in order, when the backlog has room
 * (links.h, strata_pl_owed, queued): per peer at most SBC_OWED_MSGS PROPOSALs (one per instance,
 * for the CONS_LIVE_MAX undecided here and as many decided while owed) and SBC_OWED_BYTES of
 * payload (backlog_bytes if larger); one beyond is dropped (lost as before), counted and traced.
 * The equivocating test behaviour's split PROPOSALs are not owed (lost when refused). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/bcollect.h"
#include "cons/bep.h"
#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "crypto/crypto.h"
#include "links/links.h"

#define SBC_DOMAIN "strata-sbc-proposal-v1"
#define SBC_ENTRY_OVERHEAD (STRATA_SIG_LEN + 24u)
#define SBC_OWED_MSGS (2 * CONS_LIVE_MAX)
#define SBC_OWED_BYTES (64u << 20)
#define SBC_TOK_OWED 1 /* the timer that sends owed PROPOSALs again */

struct sbc_inst {
	struct cons_inst c;
	struct strata_msg *prop[BCC_MAX_N + 1]; /* proposals[p]: the value ... */
	uint8_t sig[BCC_MAX_N + 1][STRATA_SIG_LEN]; /* ... and its signature */
	uint32_t nrecv;                          /* #(proposals) */
	bool bc_proposed;                        /* proposed */
};

struct sbc {
	struct strata_module m; /* the layout of struct cons_mod: lower of fast Byzantine consensus */
	struct cons_tab tab;
	struct strata_module *bc;
	uint32_t n, f, self;
	size_t value_max;
	bool trust; /* TEST ONLY: no predicate, no signature check */
	bool forge; /* TEST ONLY: proposes a made-up set to bc */
	uint64_t bad_sig, bad_set, decided_box, refused;
	struct strata_pl_owed *owed; /* PROPOSALs the links refused (see the top) */
};

static void sbc_inst_clear(struct sbc_inst *i)
{
	for (uint32_t p = 0; p <= BCC_MAX_N; p++)
		if (i->prop[p]) {
			strata_msg_unref(i->prop[p]);
			i->prop[p] = NULL;
		}
}

static uint64_t sbc_bc_space(uint64_t id)
{
	return (id >> CONS_SPACE_BITS) == CONS_SPACE_FAST ? CONS_SPACE_SBC_FAST : CONS_SPACE_SBC;
}

static uint64_t sbc_bc_inst(uint64_t id)
{
	return sbc_bc_space(id) << CONS_SPACE_BITS | (id & CONS_SPACE_MASK);
}

/* The instance of sbc a bc instance of space `space` stands for. */
static uint64_t sbc_own_inst(uint64_t space, uint64_t local)
{
	return space == CONS_SPACE_SBC_FAST ? CONS_SPACE_FAST << CONS_SPACE_BITS | local : local;
}

/* sbc‖instance‖p‖PROPOSAL‖v */
static void sbc_text(struct strata_wr *w, uint64_t id, uint32_t p, const uint8_t *v, size_t len)
{
	strata_wr_init(w, len + 64);
	strata_wr_raw(w, SBC_DOMAIN, sizeof(SBC_DOMAIN) - 1);
	strata_wr_u64(w, id);
	strata_wr_u64(w, p);
	strata_wr_raw(w, v, len);
}

static void sbc_sign(struct sbc *s, uint64_t id, const uint8_t *v, size_t len, uint8_t *sig)
{
	struct strata_wr w;
	memset(sig, 0, STRATA_SIG_LEN);
	sbc_text(&w, id, s->self, v, len);
	if (w.err == 0)
		strata_sign(sig, strata_node_secret_key(s->m.node), w.buf, w.len);
	strata_wr_free(&w);
}

static bool sbc_verify(const struct sbc *s, uint64_t id, uint32_t p, const uint8_t *v, size_t len,
		       const uint8_t *sig)
{
	if (s->trust)
		return true; /* TEST ONLY: the broken variant */
	const uint8_t *pk = strata_node_public_key(s->m.node, p);
	if (!pk)
		return false;
	struct strata_wr w;
	sbc_text(&w, id, p, v, len);
	bool ok = w.err == 0 && strata_verify(sig, pk, w.buf, w.len);
	strata_wr_free(&w);
	return ok;
}

/* A proposal set read from the wire: pointers into the buffer. */
struct sbc_set {
	uint32_t count;
	uint32_t who[BCC_MAX_N];
	const uint8_t *v[BCC_MAX_N];
	size_t len[BCC_MAX_N];
	const uint8_t *sig[BCC_MAX_N];
};

/* Parses P: N - f to N entries of distinct processes in ascending order; with check, every
 * signature must verify for instance id. */
static bool sbc_set_parse(const struct sbc *s, uint64_t id, const uint8_t *buf, size_t blen,
			  bool check, struct sbc_set *out)
{
	struct strata_rd r;
	strata_rd_init(&r, buf, blen);
	uint64_t count = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || count < s->n - s->f || count > s->n)
		return false;
	out->count = (uint32_t)count;
	uint32_t last = 0;
	for (uint32_t k = 0; k < out->count; k++) {
		uint64_t p = strata_rd_u64(&r);
		out->len[k] = strata_rd_bytes(&r, &out->v[k], SIZE_MAX);
		out->sig[k] = r.off + STRATA_SIG_LEN <= r.len ? r.p + r.off : NULL;
		if (!out->sig[k])
			return false;
		r.off += STRATA_SIG_LEN;
		if (!strata_rd_ok(&r) || p <= last || p > s->n)
			return false;
		out->who[k] = last = (uint32_t)p;
		if (check && !sbc_verify(s, id, out->who[k], out->v[k], out->len[k], out->sig[k]))
			return false;
	}
	return r.off == r.len;
}

/* The external validity predicate sbc installs on bc: P is a valid proposal set for the sbc
 * instance bc instance `bcid` stands for. */
static bool sbc_valid(struct strata_module *upper, uint64_t bcid, const uint8_t *v, size_t len)
{
	struct sbc *s = (struct sbc *)upper;
	struct sbc_set set;
	uint64_t id = sbc_own_inst(bcid >> CONS_SPACE_BITS, bcid & CONS_SPACE_MASK);
	bool ok = sbc_set_parse(s, id, v, len, true, &set);
	if (!ok)
		s->bad_set++;
	return ok;
}

static struct strata_msg *sbc_enc_proposal(const uint8_t *v, size_t len, const uint8_t *sig)
{
	struct strata_wr w;
	strata_wr_init(&w, len + STRATA_SIG_LEN + 16);
	strata_wr_u8(&w, CONS_PROPOSAL);
	strata_wr_bytes(&w, v, len);
	strata_wr_raw(&w, sig, STRATA_SIG_LEN);
	int err;
	return strata_wr_take_msg(&w, &err);
}

/* TEST ONLY (forge): a made-up set, every process "proposing" zf:v with a zeroed signature. */
static struct strata_msg *sbc_forged_set(const struct sbc *s, const struct strata_msg *own)
{
	struct strata_wr w;
	uint8_t zero[STRATA_SIG_LEN] = { 0 };
	char made[64];
	int ml = snprintf(made, sizeof made, "zf:%.*s", (int)(own->len > 40 ? 40 : own->len),
			  (const char *)own->data);
	strata_wr_init(&w, (size_t)s->n * (STRATA_SIG_LEN + 96) + 16);
	strata_wr_u64(&w, s->n - s->f);
	for (uint32_t p = 1; p <= s->n - s->f; p++) {
		strata_wr_u64(&w, p);
		strata_wr_bytes(&w, made, (size_t)ml);
		strata_wr_raw(&w, zero, sizeof zero);
	}
	int err;
	return strata_wr_take_msg(&w, &err);
}

static void sbc_decide_set(struct sbc *s, uint64_t id, const uint8_t *pv, size_t plen);

/* upon #(proposals) >= N - f ∧ proposed = FALSE do
 *     proposed := TRUE; trigger <bc, Propose | proposals>; */
static void sbc_try(struct sbc *s, struct sbc_inst *i)
{
	if (i->bc_proposed || i->nrecv < s->n - s->f)
		return;
	i->bc_proposed = true;
	uint64_t id = i->c.id;
	struct strata_msg *set = NULL;
	if (s->forge && i->c.nvals) {
		set = sbc_forged_set(s, i->c.vals[0]);
	} else {
		struct strata_wr w;
		size_t need = 16;
		for (uint32_t p = 1; p <= s->n; p++)
			if (i->prop[p])
				need += i->prop[p]->len + SBC_ENTRY_OVERHEAD;
		strata_wr_init(&w, need);
		strata_wr_u64(&w, s->n - s->f);
		uint32_t k = 0;
		for (uint32_t p = 1; p <= s->n && k < s->n - s->f; p++) {
			if (!i->prop[p])
				continue;
			strata_wr_u64(&w, p);
			strata_wr_bytes(&w, i->prop[p]->data, i->prop[p]->len);
			strata_wr_raw(&w, i->sig[p], STRATA_SIG_LEN);
			k++;
		}
		int err;
		set = strata_wr_take_msg(&w, &err);
	}
	if (!set)
		return;
	strata_trace(s->m.node, "sbc", "instance %llu: %u signed PROPOSALs -> bc propose",
		     (unsigned long long)id, i->nrecv);
	struct strata_msg *got = NULL;
	int rc = cons_lower_propose_fetch(s->bc, sbc_bc_inst(id), set->data, set->len, &got);
	strata_msg_unref(set);
	if (got) {
		/* bc decided before this process proposed there: its Decide went by (i is freed). */
		sbc_decide_set(s, id, got->data, got->len);
		strata_msg_unref(got);
		return;
	}
	if (rc) {
		s->refused++;
		strata_trace(s->m.node, "sbc", "instance %llu: bc propose refused: %s",
			     (unsigned long long)id, strata_strerror(rc));
	}
}

/* upon event <sbc, Propose | v> do
 *     σ := sign(self, sbc‖self‖PROPOSAL‖v);
 *     forall q do trigger <al, Send | q, [PROPOSAL, v, σ]>; */
static int sbc_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v, size_t len,
		       bool by_client)
{
	struct sbc *s = (struct sbc *)m;
	uint64_t space = c->id >> CONS_SPACE_BITS;
	if ((space != 0 && space != CONS_SPACE_FAST) || len == 0)
		return STRATA_EINVAL; /* another upper's space; the empty value is □ */
	if (len > s->value_max)
		return STRATA_ETOOBIG;
	if (cons_val_index(c, v, len) < 0)
		return STRATA_EFULL;
	cons_out_propose(&s->tab, c, v, len, by_client);
	enum strata_byz byz = strata_node_byz(m->node);
	if (byz == STRATA_BYZ_SILENT)
		return 0;
	uint8_t sig[STRATA_SIG_LEN];
	sbc_sign(s, c->id, v, len, sig);
	if (byz == STRATA_BYZ_BADSIG)
		sig[0] ^= 0x5a;
	struct strata_msg *msg = sbc_enc_proposal(v, len, sig);
	if (!msg)
		return STRATA_ENOMEM;
	if (byz != STRATA_BYZ_EQUIVOCATE) {
		for (uint32_t q = 1; q <= s->n; q++) /* a refused one: owed */
			(void)strata_pl_owed_send(s->owed, q, c->id, msg);
		strata_msg_unref(msg);
		return 0;
	}
	/* TEST ONLY behaviour: v to odd processes, z'v (signed too) to even ones */
	char alt[128];
	int al = snprintf(alt, sizeof alt, "z'%.*s", (int)(len > 100 ? 100 : len), (const char *)v);
	uint8_t sig2[STRATA_SIG_LEN];
	sbc_sign(s, c->id, (const uint8_t *)alt, (size_t)al, sig2);
	struct strata_msg *msg2 = sbc_enc_proposal((const uint8_t *)alt, (size_t)al, sig2);
	for (uint32_t q = 1; q <= s->n; q++)
		if (q % 2 ? msg : msg2)
			(void)strata_pl_send(m, q, c->id, q % 2 ? msg : msg2);
	strata_msg_unref(msg);
	if (msg2)
		strata_msg_unref(msg2);
	return 0;
}

/* upon event <al, Deliver | p, [PROPOSAL, v, σ]> such that verifysig(...) do
 *     proposals[p] := (v, σ); */
static void sbc_on_proposal(struct sbc *s, uint32_t p, uint64_t id, struct strata_rd *r)
{
	const uint8_t *v;
	size_t len = strata_rd_bytes(r, &v, SIZE_MAX);
	const uint8_t *sig = r->off + STRATA_SIG_LEN == r->len ? r->p + r->off : NULL;
	uint64_t space = id >> CONS_SPACE_BITS;
	if (!strata_rd_ok(r) || !sig || len == 0 || len > s->value_max ||
	    (space != 0 && space != CONS_SPACE_FAST)) {
		strata_node_bad_payload(s->m.node, &s->m, p, "sbc: malformed PROPOSAL");
		return;
	}
	if (cons_tab_retired(&s->tab, id))
		return;
	if (!sbc_verify(s, id, p, v, len, sig)) {
		s->bad_sig++;
		strata_node_bad_payload(s->m.node, &s->m, p, "sbc: PROPOSAL with a bad signature");
		return;
	}
	struct sbc_inst *i = (struct sbc_inst *)cons_tab_get_peer(&s->tab, id, p);
	if (!i)
		return;
	if (!i->c.proposed && space == 0) {
		strata_trace(s->m.node, "sbc", "instance %llu first heard from %u -> join with its value",
			     (unsigned long long)id, p);
		if (sbc_propose(&s->m, &i->c, v, len, false) != 0)
			return;
	}
	if (i->prop[p])
		return; /* one entry per process */
	if (!(i->prop[p] = strata_msg_new(v, len)))
		return;
	memcpy(i->sig[p], sig, STRATA_SIG_LEN);
	i->nrecv++;
	sbc_try(s, i);
}

/* upon event <bc, Decide | P> do
 *     if exists v such that #({p | P[p] = (v, ·)}) >= N - 2f then decide v else decide □; */
static void sbc_decide_set(struct sbc *s, uint64_t id, const uint8_t *pv, size_t plen)
{
	struct cons_inst *c;
	if (cons_tab_get(&s->tab, id, &c) != CONS_GOT)
		return; /* decided already, or outside the window */
	struct sbc_set set;
	const uint8_t *dv = NULL;
	size_t dlen = 0;
	uint32_t best = 0;
	if (sbc_set_parse(s, id, pv, plen, !s->trust, &set)) {
		for (uint32_t k = 0; k < set.count; k++) {
			uint32_t same = 0;
			for (uint32_t j = 0; j < set.count; j++)
				if (set.len[j] == set.len[k] &&
				    memcmp(set.v[j], set.v[k], set.len[k]) == 0)
					same++;
			if (same > best) {
				best = same;
				dv = set.v[k];
				dlen = set.len[k];
			}
		}
		if (best < s->n - 2 * s->f)
			dv = NULL;
	} else {
		s->bad_set++;
	}
	if (!dv) {
		s->decided_box++;
		dlen = 0;
	}
	strata_trace(s->m.node, "sbc", "instance %llu: bc decided a set, %u equal -> decide %s",
		     (unsigned long long)id, best, dv ? "that value" : "□");
	sbc_inst_clear((struct sbc_inst *)c);
	cons_decide(&s->tab, c, dv ? dv : (const uint8_t *)"", dlen, 0);
}

static void sbc_on_bc_decide(struct sbc *s, const struct strata_event *ev)
{
	const struct cons_decided *d = ev->type == CONS_EV_DECIDE && ev->src == s->bc ? ev->body : NULL;
	if (!d || ev->body_len != sizeof(*d))
		return;
	uint64_t space = d->instance >> CONS_SPACE_BITS;
	if (space != CONS_SPACE_SBC && space != CONS_SPACE_SBC_FAST)
		return;
	sbc_decide_set(s, sbc_own_inst(space, d->instance & CONS_SPACE_MASK), d->value, d->len);
}

static void sbc_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct sbc *s = (struct sbc *)m;
	if (ev->type == STRATA_EV_TIMER && ev->arg == SBC_TOK_OWED) {
		strata_pl_owed_flush(s->owed);
		return;
	}
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg) {
		struct strata_rd r;
		strata_rd_init(&r, ev->msg->data, ev->msg->len);
		if (ev->peer < 1 || ev->peer > s->n || strata_rd_u8(&r) != CONS_PROPOSAL) {
			strata_node_bad_payload(m->node, m, ev->peer, "sbc: unknown message type");
			return;
		}
		sbc_on_proposal(s, ev->peer, ev->instance, &r);
		return;
	}
	sbc_on_bc_decide(s, ev);
}

static int sbc_request(struct strata_module *m, const struct strata_request *req)
{
	struct sbc *s = (struct sbc *)m;
	return cons_request(&s->tab, req, s->value_max, sbc_propose);
}

static void sbc_destroy(struct strata_module *m)
{
	struct sbc *s = (struct sbc *)m;
	for (size_t k = 0; k < s->tab.nlive; k++)
		sbc_inst_clear((struct sbc_inst *)s->tab.live[k]);
	cons_tab_free(&s->tab);
	strata_pl_owed_free(s->owed);
	free(s);
}

static const struct strata_module_ops sbc_ops = {
	.name = "sbc", .handle = sbc_handle, .request = sbc_request, .destroy = sbc_destroy,
};

size_t cons_sbc_value_max(const struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &sbc_ops);
	return ((const struct sbc *)m)->value_max;
}

void cons_sbc_test_forge(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &sbc_ops);
	struct sbc *s = (struct sbc *)m;
	s->forge = true;
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC, NULL);
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC_FAST, NULL);
}

static bool sbc_reject_all(struct strata_module *upper, uint64_t bcid, const uint8_t *v,
			   size_t len)
{
	(void)upper, (void)bcid, (void)v, (void)len;
	return false;
}

void cons_sbc_test_reject_all(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &sbc_ops);
	struct sbc *s = (struct sbc *)m;
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC, sbc_reject_all);
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC_FAST, sbc_reject_all);
}

void cons_sbc_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &sbc_ops);
	strata_pl_owed_test_lossy(((struct sbc *)m)->owed);
}

uint64_t cons_sbc_test_owed(const struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &sbc_ops);
	struct strata_pl_owed_counts c;
	strata_pl_owed_counts(((const struct sbc *)m)->owed, &c);
	return c.refused;
}

void cons_sbc_test_trust(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &sbc_ops);
	struct sbc *s = (struct sbc *)m;
	s->trust = true;
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC, NULL);
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC_FAST, NULL);
}

struct strata_module *cons_sbc_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	uint32_t nn = strata_node_n(n);
	if (nn > BCC_MAX_N || nn <= 3 * cfg->f) {
		snprintf(err, errlen,
			 "sbc: needs N > 3f and N <= %u (N = %u, f = %u): a valid proposal set of "
			 "N - f signed proposals must hold more correct ones (N - 2f) than Byzantine "
			 "ones (f), and bldc needs N > 3f",
			 BCC_MAX_N, nn, cfg->f);
		return NULL;
	}
	struct sbc *s = calloc(1, sizeof(*s));
	if (!s || cons_tab_init(&s->tab, &s->m, sizeof(struct sbc_inst)) != 0) {
		free(s);
		snprintf(err, errlen, "sbc: out of memory");
		return NULL;
	}
	uint64_t backlog = cfg->backlog_bytes;
	if (!(s->owed = strata_pl_owed_new(n, &s->m, SBC_TOK_OWED, NULL, SBC_OWED_MSGS,
					   backlog > SBC_OWED_BYTES ? backlog : SBC_OWED_BYTES))) {
		cons_tab_free(&s->tab);
		free(s);
		snprintf(err, errlen, "sbc: out of memory");
		return NULL;
	}
	s->n = nn;
	s->f = cfg->f;
	s->self = strata_node_id(n);
	s->tab.round_name = "round";
	s->tab.propose = sbc_propose;
	size_t bc_max = cons_value_max(n, nn * (BEP_WS_MAX + 1)); /* bldc's */
	s->value_max = bc_max > 16 + nn * SBC_ENTRY_OVERHEAD ? (bc_max - 16) / nn - SBC_ENTRY_OVERHEAD
							      : 0;
	strata_node_add_module(n, &s->m, &sbc_ops, strata_wire_id("sbc"));
	if (cons_lower_open_space(n, "bldc", CONS_SPACE_SBC, &s->m, &s->bc, err, errlen) != 0 ||
	    cons_lower_open_space(n, "bldc", CONS_SPACE_SBC_FAST, &s->m, &s->bc, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC, sbc_valid);
	cons_lower_set_valid(s->bc, CONS_SPACE_SBC_FAST, sbc_valid);
	return &s->m;
}
