/* From (1,N) atomic to (N,N) atomic registers (the book's Alg. 4.8): a transformation over N
 * instances of a (1,N) atomic register — here a private Read-Impose Write-Majority module
 * (reg/riwm.c) — driven through the register port (reg.h).
 *
 * Module 4.3 (N,N) atomic register, instance nnar, per key:
 *   Events: <nnar, Read> / <nnar, ReadReturn | v>; <nnar, Write | v> / <nnar, WriteReturn>.
 *   NNAR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   NNAR2 Atomicity: every failed operation appears to be complete or not invoked at all, and
 *         every complete operation appears to take effect at a single point between its
 *         invocation and its completion (linearizability).
 * Every process may write.
 *
 * The algorithm: register onar.q (writer q, every process reads) is the lower instance with
 * sub-key (key, q, 0) and holds (ts, rank, v). A write at p reads every onar.q, takes the highest
 * (ts, rank), and writes (ts + 1, rank(p), v) into onar.p. A read reads every onar.q and returns
 * the value with the highest (ts, rank). The N lower reads of a phase run in parallel.
 *
 * Model and resilience: those of the lower register: fail-silent, N > 2f with riwm.
 * Cost: write = N lower reads + 1 lower write (6 steps, 4N^2 + 2N messages with riwm); read = N
 * lower reads (4 steps, 4N^2 messages). Memory: this module keeps no register state of its own
 * beyond the operation in progress; the lower module holds N instances per key, so
 * REG_MAX_KEYS / N client keys fit. */
#include <stdio.h>

#include "core/error.h"
#include "core/stack.h"
#include "reg/reg.h"

enum { PH_READ = 1, PH_WRITE };

static void read_all(struct reg_mod *r, struct reg_inst *i)
{
	uint32_t nn = strata_node_n(r->m.node);
	reg_phase(i, PH_READ);
	reg_val_clear(&i->best);
	uint8_t sk[REG_KEY_MAX + 32];
	for (uint32_t q = 1; q <= nn; q++) {
		size_t sklen = reg_subkey(sk, i->key, i->klen, q, 0);
		int rc = reg_port_start(r->lower, &r->m, REG_READ, sk, sklen, NULL, 0, i->rid);
		if (rc) {
			reg_complete(r, i, rc, NULL);
			return;
		}
	}
}

static void write_own(struct reg_mod *r, struct reg_inst *i)
{
	uint32_t self = strata_node_id(r->m.node);
	reg_phase(i, PH_WRITE);
	struct reg_op *o = i->op;
	struct strata_msg *p = reg_pack(i->best.ts + 1, self, o->val->data, o->val->len);
	if (!p) {
		reg_complete(r, i, STRATA_ENOMEM, NULL);
		return;
	}
	uint8_t sk[REG_KEY_MAX + 32];
	size_t sklen = reg_subkey(sk, i->key, i->klen, self, 0);
	int rc = reg_port_start(r->lower, &r->m, REG_WRITE, sk, sklen, p->data, p->len, i->rid);
	strata_msg_unref(p);
	if (rc)
		reg_complete(r, i, rc, NULL);
}

static void ann_lower_done(struct reg_mod *r, uint64_t tag, int status, const uint8_t *sk,
			   size_t sklen, const uint8_t *val, size_t vlen, bool found)
{
	const uint8_t *key;
	size_t klen;
	uint32_t q, zero;
	if (reg_subkey_parse(sk, sklen, &key, &klen, &q, &zero) != 0)
		return;
	struct reg_inst *i = reg_inst_find(r, key, klen);
	if (!i || !i->op || tag != i->rid)
		return;
	if (status) {
		reg_complete(r, i, status, NULL);
		return;
	}
	if (i->phase == PH_WRITE) {
		reg_complete(r, i, 0, NULL);
		return;
	}
	if (q < 1 || q > strata_node_n(r->m.node) || !reg_replied(i, q))
		return;
	uint64_t ts;
	uint32_t wr;
	const uint8_t *v;
	size_t len;
	if (reg_unpack(val, vlen, found, &ts, &wr, &v, &len) != 0) {
		reg_complete(r, i, STRATA_EPROTO, NULL);
		return;
	}
	if (ts > 0 && reg_val_newer(ts, wr, &i->best)) {
		struct strata_msg *m = strata_msg_new(v, len);
		if (!m) {
			reg_complete(r, i, STRATA_ENOMEM, NULL);
			return;
		}
		reg_val_set(&i->best, ts, wr, m);
		strata_msg_unref(m);
	}
	if (i->nreplied < strata_node_n(r->m.node))
		return;
	if (i->op->kind == REG_WRITE)
		write_own(r, i);
	else
		reg_complete(r, i, 0, &i->best);
}

static const struct reg_algo_ops ann_ops = {
	.start = read_all,
	.lower_done = ann_lower_done,
};

struct strata_module *reg_atomic1nton_create(struct strata_node *n, char *err, size_t errlen)
{
	struct reg_mod *r = reg_mod_new(n, "atomic1nton", &ann_ops, true, err, errlen);
	if (!r)
		return NULL;
	struct reg_mod *low = reg_riwm_new(n, "atomic1nton.riwm", false, err, errlen);
	if (!low)
		return NULL;
	r->lower = &low->m;
	r->depth = low->depth + 1;
	return &r->m;
}
