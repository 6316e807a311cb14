/* From (1,1) atomic to (1,N) atomic registers (the book's Alg. 4.4): a transformation over N^2
 * instances of a (1,1) atomic register — here the private Alg. 4.3 module (reg/reg2atomic11.c,
 * itself over a private Majority Voting module) — driven through the register port (reg.h).
 *
 * Module 4.2 (1,N) atomic register, instance onar, per key:
 *   Events: <onar, Read> / <onar, ReadReturn | v>; <onar, Write | v> / <onar, WriteReturn>.
 *   ONAR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   ONAR2 Validity: as ONRR2 (regular).
 *   ONAR3 Ordering: if a read returns v and a later read returns w, then the write of w does not
 *         precede the write of v.
 * Only the writer (cfg->writer) writes; any process reads.
 *
 * The algorithm: register ooar.q.r (reader q, writer r) is the lower instance with sub-key
 * (key, q, r). The writer increments ts and writes (ts, v) into ooar.q.writer for every q. A
 * reader q reads ooar.q.r for every r, takes the highest (ts, v), writes it back into ooar.p.q
 * for every p (so a later reader elsewhere sees at least as new a value), then returns v. The
 * lower operations of one phase run in parallel (different lower keys); the book issues them in
 * one step too.
 *
 * Model and resilience: those of the lower register: fail-silent, N > 2f.
 * Cost: write = N lower writes (2 steps, 2N^2 messages with mv below); read = N lower reads then
 * N lower writes (4 steps, 4N^2 messages). Memory: per key, this module keeps ts; the lower
 * modules hold N^2 instances per key at most, so REG_MAX_KEYS / N^2 client keys fit. */
#include <stdio.h>

#include "core/error.h"
#include "core/stack.h"
#include "reg/reg.h"

enum { PH_WRITE = 1, PH_READ, PH_WRITEBACK };

static void start_writes(struct reg_mod *r, struct reg_inst *i, uint8_t phase,
			 const struct reg_val *v)
{
	uint32_t self = strata_node_id(r->m.node), nn = strata_node_n(r->m.node);
	reg_phase(i, phase);
	struct strata_msg *p = reg_pack(v->ts, 0, v->v ? v->v->data : NULL, v->v ? v->v->len : 0);
	if (!p) {
		reg_complete(r, i, STRATA_ENOMEM, NULL);
		return;
	}
	uint8_t sk[REG_KEY_MAX + 32];
	int rc = 0;
	for (uint32_t q = 1; q <= nn && !rc; q++) {
		size_t sklen = reg_subkey(sk, i->key, i->klen, q, self);
		rc = reg_port_start(r->lower, &r->m, REG_WRITE, sk, sklen, p->data, p->len, i->rid);
	}
	strata_msg_unref(p);
	if (rc)
		reg_complete(r, i, rc, NULL);
}

static void a1n_start(struct reg_mod *r, struct reg_inst *i)
{
	struct reg_op *o = i->op;
	if (o->kind == REG_WRITE) {
		i->wts++;
		struct reg_val v = { .ts = i->wts, .v = o->val };
		start_writes(r, i, PH_WRITE, &v);
		return;
	}
	uint32_t self = strata_node_id(r->m.node), nn = strata_node_n(r->m.node);
	reg_phase(i, PH_READ);
	reg_val_clear(&i->best);
	uint8_t sk[REG_KEY_MAX + 32];
	for (uint32_t w = 1; w <= nn; w++) {
		size_t sklen = reg_subkey(sk, i->key, i->klen, self, w);
		int rc = reg_port_start(r->lower, &r->m, REG_READ, sk, sklen, NULL, 0, i->rid);
		if (rc) {
			reg_complete(r, i, rc, NULL);
			return;
		}
	}
}

static void a1n_lower_done(struct reg_mod *r, uint64_t tag, int status, const uint8_t *sk,
			   size_t sklen, const uint8_t *val, size_t vlen, bool found)
{
	const uint8_t *key;
	size_t klen;
	uint32_t q, w;
	if (reg_subkey_parse(sk, sklen, &key, &klen, &q, &w) != 0)
		return;
	struct reg_inst *i = reg_inst_find(r, key, klen);
	if (!i || !i->op || tag != i->rid)
		return;
	/* One completion per lower register and phase: the reader is q (reads) or the writer
	 * (writes); the other index names the lower register. */
	uint32_t idx = i->phase == PH_READ ? w : q;
	if (idx < 1 || idx > strata_node_n(r->m.node) || !reg_replied(i, idx))
		return;
	if (status) {
		reg_complete(r, i, status, NULL);
		return;
	}
	if (i->phase == PH_READ) {
		uint64_t ts;
		uint32_t wr;
		const uint8_t *v;
		size_t len;
		if (reg_unpack(val, vlen, found, &ts, &wr, &v, &len) != 0) {
			reg_complete(r, i, STRATA_EPROTO, NULL);
			return;
		}
		if (ts > i->best.ts) {
			struct strata_msg *m = strata_msg_new(v, len);
			if (!m) {
				reg_complete(r, i, STRATA_ENOMEM, NULL);
				return;
			}
			reg_val_set(&i->best, ts, 0, m);
			strata_msg_unref(m);
		}
	}
	if (i->nreplied < strata_node_n(r->m.node))
		return;
	if (i->phase == PH_READ) {
		start_writes(r, i, PH_WRITEBACK, &i->best); /* best stays for the reply */
		return;
	}
	reg_complete(r, i, 0, i->phase == PH_WRITEBACK ? &i->best : NULL);
}

static const struct reg_algo_ops a1n_ops = {
	.start = a1n_start,
	.lower_done = a1n_lower_done,
};

struct strata_module *reg_atomic11to1n_create(struct strata_node *n, char *err, size_t errlen)
{
	struct reg_mod *r = reg_mod_new(n, "atomic11to1n", &a1n_ops, true, err, errlen);
	if (!r)
		return NULL;
	struct reg_mod *low =
		reg_reg2atomic11_new(n, "atomic11to1n.reg2atomic11", false, err, errlen);
	if (!low)
		return NULL;
	r->lower = &low->m;
	r->depth = low->depth + 1;
	r->single_writer = true;
	return &r->m;
}
