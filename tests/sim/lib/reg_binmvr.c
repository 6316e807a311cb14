/* The lecture notes' multi-valued register from four binary registers; see reg_sim.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "reg/reg.h"
#include "reg_sim.h"

enum { BITS = 4 };

/* Phase = the bit being read or written (1..BITS); best.ts accumulates the bits read. */
static void next_bit(struct reg_mod *r, struct reg_inst *i)
{
	uint32_t bit = i->phase; /* 0-based index of the bit to do now */
	reg_phase(i, (uint8_t)(bit + 1));
	uint8_t sk[REG_KEY_MAX + 32];
	size_t sklen = reg_subkey(sk, i->key, i->klen, bit, 0);
	int rc;
	if (i->op->kind == REG_WRITE) {
		char one = (char)('0' + ((i->wts >> bit) & 1));
		rc = reg_port_start(r->lower, &r->m, REG_WRITE, sk, sklen, &one, 1, i->rid);
	} else {
		rc = reg_port_start(r->lower, &r->m, REG_READ, sk, sklen, NULL, 0, i->rid);
	}
	if (rc)
		reg_complete(r, i, rc, NULL);
}

static void bm_start(struct reg_mod *r, struct reg_inst *i)
{
	struct reg_op *o = i->op;
	if (o->kind == REG_WRITE) {
		char buf[8] = { 0 };
		memcpy(buf, o->val->data, o->val->len < 7 ? o->val->len : 7);
		long v = strtol(buf, NULL, 10);
		if (v < 0 || v > 11) {
			reg_complete(r, i, STRATA_EINVAL, NULL);
			return;
		}
		i->wts = (uint64_t)v; /* the value being written */
	}
	i->remote_ts = 0;        /* bits read so far */
	i->phase = 0;
	next_bit(r, i);
}

static void bm_lower_done(struct reg_mod *r, uint64_t tag, int status, const uint8_t *sk,
			  size_t sklen, const uint8_t *val, size_t vlen, bool found)
{
	const uint8_t *key;
	size_t klen;
	uint32_t bit, zero;
	if (reg_subkey_parse(sk, sklen, &key, &klen, &bit, &zero) != 0)
		return;
	struct reg_inst *i = reg_inst_find(r, key, klen);
	if (!i || !i->op || tag != i->rid)
		return;
	if (status) {
		reg_complete(r, i, status, NULL);
		return;
	}
	if (i->op->kind == REG_READ && found && vlen == 1 && val[0] == '1')
		i->remote_ts |= 1ull << bit;
	if (i->op->kind == REG_READ && found)
		i->remote_ts |= 1ull << 8; /* some bit was ever written */
	if (i->phase < BITS) {
		next_bit(r, i);
		return;
	}
	if (i->op->kind == REG_WRITE) {
		reg_complete(r, i, 0, NULL);
		return;
	}
	/* Every bit starts at 0, as in the notes; a register none of whose bits was ever written
	 * reads as null, the checker's initial value. */
	char out[8];
	int len = snprintf(out, sizeof(out), "%u", (unsigned)(i->remote_ts & 15));
	struct strata_msg *m = strata_msg_new(out, (size_t)len);
	struct reg_val v = { .ts = (i->remote_ts >> 8) & 1, .v = m };
	reg_complete(r, i, m ? 0 : STRATA_ENOMEM, &v);
	if (m)
		strata_msg_unref(m);
}

static const struct reg_algo_ops bm_ops = {
	.start = bm_start,
	.lower_done = bm_lower_done,
};

struct strata_module *reg_binmvr_create(struct strata_node *n, char *err, size_t errlen)
{
	struct reg_mod *r = reg_mod_new_wire(n, "binmvr", REG_BINMVR_WIRE, &bm_ops, true, err,
						errlen);
	if (!r)
		return NULL;
	struct reg_mod *low = reg_mv_new(n, "binmvr.mv", false, err, errlen); /* REG_BINMVR_WIRE + 1 */
	if (!low)
		return NULL;
	r->lower = &low->m;
	r->depth = 1;
	r->single_writer = true;
	return &r->m;
}
