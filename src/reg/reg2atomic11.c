/* From (1,N) regular to (1,1) atomic registers (the book's Alg. 4.3): a transformation that
 * drives an instance of a (1,N) regular register — here a private Majority Voting module
 * (reg/mv.c) — through the register port (reg.h), one lower instance per key.
 *
 * Module 4.2 restricted to one reader, (1,1) atomic register, instance ooar, per key:
 *   Events: <ooar, Read> / <ooar, ReadReturn | v>; <ooar, Write | v> / <ooar, WriteReturn>.
 *   ONAR1 Termination: if a correct process invokes an operation, it eventually completes.
 *   ONAR2 Validity: as ONRR2 (regular).
 *   ONAR3 Ordering: if a read returns v and a later read returns w, then the write of w does not
 *         precede the write of v.
 * One writer and one reader: for clients the writer is cfg->writer and the reader the next node
 * (reg_reader(); reads elsewhere get STRATA_ESTATE); inside Alg. 4.4 the composition names them.
 *
 * The algorithm: the writer writes (ts, v) into the regular register with ts from its own
 * counter; the reader remembers the highest (ts, v) it ever returned and returns the newer of
 * that and what the regular register gives. That memory is what turns "new then old" (allowed
 * by regularity) into atomicity for the one reader.
 *
 * Model and resilience: those of the lower register: fail-silent, N > 2f with Majority Voting.
 * Cost: write = one lower write (2 steps, 2N messages with mv); read = one lower read (2 steps,
 * 2N messages). Memory: this module's key table holds (wts at the writer, highest (ts, v) at the
 * reader) per key, the lower module its own copy; both bounded by REG_MAX_KEYS. */
#include <stdio.h>

#include "core/error.h"
#include "core/stack.h"
#include "reg/reg.h"

static void a11_start(struct reg_mod *r, struct reg_inst *i)
{
	struct reg_op *o = i->op;
	reg_phase(i, 1);
	int rc;
	if (o->kind == REG_WRITE) {
		i->wts++;
		struct strata_msg *p = reg_pack(i->wts, 0, o->val->data, o->val->len);
		if (!p) {
			reg_complete(r, i, STRATA_ENOMEM, NULL);
			return;
		}
		rc = reg_port_start(r->lower, &r->m, REG_WRITE, i->key, i->klen, p->data, p->len,
				    i->rid);
		strata_msg_unref(p);
	} else {
		rc = reg_port_start(r->lower, &r->m, REG_READ, i->key, i->klen, NULL, 0, i->rid);
	}
	if (rc)
		reg_complete(r, i, rc, NULL);
}

static void a11_lower_done(struct reg_mod *r, uint64_t tag, int status, const uint8_t *sk,
			   size_t sklen, const uint8_t *val, size_t vlen, bool found)
{
	struct reg_inst *i = reg_inst_find(r, sk, sklen);
	if (!i || !i->op || tag != i->rid)
		return; /* an operation that already failed */
	if (status || i->op->kind == REG_WRITE) {
		reg_complete(r, i, status, NULL);
		return;
	}
	uint64_t ts;
	uint32_t wr;
	const uint8_t *v;
	size_t len;
	if (reg_unpack(val, vlen, found, &ts, &wr, &v, &len) != 0) {
		reg_complete(r, i, STRATA_EPROTO, NULL);
		return;
	}
	if (ts > i->cur.ts) {
		struct strata_msg *m = strata_msg_new(v, len);
		if (!m) {
			reg_complete(r, i, STRATA_ENOMEM, NULL);
			return;
		}
		reg_val_set(&i->cur, ts, wr, m);
		strata_msg_unref(m);
	}
	reg_complete(r, i, 0, &i->cur);
}

static const struct reg_algo_ops a11_ops = {
	.start = a11_start,
	.lower_done = a11_lower_done,
};

struct reg_mod *reg_reg2atomic11_new(struct strata_node *n, const char *name, bool client,
				     char *err, size_t errlen)
{
	struct reg_mod *r = reg_mod_new(n, name, &a11_ops, client, err, errlen);
	if (!r)
		return NULL;
	char lname[64];
	snprintf(lname, sizeof(lname), "%s.mv", name);
	struct reg_mod *low = reg_mv_new(n, lname, false, err, errlen);
	if (!low)
		return NULL;
	r->lower = &low->m;
	r->depth = low->depth + 1;
	r->single_writer = true;
	r->one_reader = true;
	return r;
}

struct strata_module *reg_reg2atomic11_create(struct strata_node *n, char *err, size_t errlen)
{
	struct reg_mod *r = reg_reg2atomic11_new(n, "reg2atomic11", true, err, errlen);
	return r ? &r->m : NULL;
}
