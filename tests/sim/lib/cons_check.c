/* Online consensus checker; see cons_check.h. */
#include "cons_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

struct cck_val {
	size_t len;
	char v[CCK_MAX_VAL];
};

struct cck_inst {
	uint64_t id;
	unsigned nprop;
	struct cck_val prop[CCK_MAX_NODES * 2];
	uint32_t prop_node[CCK_MAX_NODES * 2];
	bool decided[CCK_MAX_NODES + 1];      /* by the current incarnation */
	bool ever[CCK_MAX_NODES + 1];         /* by any incarnation */
	struct cck_val dec[CCK_MAX_NODES + 1];
};

struct cck {
	uint32_t n;
	bool uniform;
	unsigned ninst;
	struct cck_inst inst[CCK_MAX_INST];
	uint64_t decisions;
	char violation[256];
};

struct cck *cck_new(uint32_t n, bool uniform)
{
	STRATA_ASSERT(n <= CCK_MAX_NODES);
	struct cck *c = calloc(1, sizeof(*c));
	STRATA_ASSERT(c);
	c->n = n;
	c->uniform = uniform;
	return c;
}

void cck_free(struct cck *c)
{
	free(c);
}

static void fail(struct cck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct cck *c, const char *fmt, ...)
{
	if (c->violation[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->violation, sizeof(c->violation), fmt, ap);
	va_end(ap);
}

static struct cck_inst *inst_get(struct cck *c, uint64_t id)
{
	for (unsigned k = 0; k < c->ninst; k++)
		if (c->inst[k].id == id)
			return &c->inst[k];
	STRATA_ASSERT(c->ninst < CCK_MAX_INST);
	struct cck_inst *i = &c->inst[c->ninst++];
	memset(i, 0, sizeof(*i));
	i->id = id;
	return i;
}

static bool val_eq(const struct cck_val *a, const uint8_t *v, size_t len)
{
	return a->len == len && memcmp(a->v, v, len) == 0;
}

static void val_set(struct cck_val *a, const uint8_t *v, size_t len)
{
	STRATA_ASSERT(len <= CCK_MAX_VAL);
	a->len = len;
	memcpy(a->v, v, len);
}

void cck_on_propose(struct cck *c, uint32_t node, uint64_t inst, const uint8_t *v, size_t len)
{
	struct cck_inst *i = inst_get(c, inst);
	if (i->nprop >= sizeof(i->prop) / sizeof(i->prop[0])) {
		fail(c, "checker: too many proposals on instance %llu", (unsigned long long)inst);
		return;
	}
	i->prop_node[i->nprop] = node;
	val_set(&i->prop[i->nprop++], v, len);
}

void cck_on_decide(struct cck *c, uint32_t node, uint64_t inst, const uint8_t *v, size_t len)
{
	STRATA_ASSERT(node >= 1 && node <= c->n);
	struct cck_inst *i = inst_get(c, inst);
	c->decisions++;
	if (len > CCK_MAX_VAL) {
		fail(c, "validity: node %u decided a %zu-byte value on instance %llu, never proposed",
		     node, len, (unsigned long long)inst);
		return;
	}
	bool proposed = false;
	for (unsigned k = 0; k < i->nprop && !proposed; k++)
		proposed = val_eq(&i->prop[k], v, len);
	if (!proposed)
		fail(c, "validity: node %u decided '%.*s' on instance %llu, which nobody proposed",
		     node, (int)len, (const char *)v, (unsigned long long)inst);
	if (i->decided[node])
		fail(c, "integrity: node %u decided instance %llu twice ('%.*s', then '%.*s')", node,
		     (unsigned long long)inst, (int)i->dec[node].len, i->dec[node].v, (int)len,
		     (const char *)v);
	if (i->ever[node] && !val_eq(&i->dec[node], v, len))
		fail(c, "agreement: node %u decided instance %llu as '%.*s' in an earlier life and "
			"'%.*s' now",
		     node, (unsigned long long)inst, (int)i->dec[node].len, i->dec[node].v, (int)len,
		     (const char *)v);
	if (c->uniform)
		for (uint32_t q = 1; q <= c->n; q++)
			if (q != node && i->ever[q] && !val_eq(&i->dec[q], v, len))
				fail(c, "uniform agreement: instance %llu decided '%.*s' by node %u and "
					"'%.*s' by node %u",
				     (unsigned long long)inst, (int)i->dec[q].len, i->dec[q].v, q,
				     (int)len, (const char *)v, node);
	i->decided[node] = true;
	i->ever[node] = true;
	val_set(&i->dec[node], v, len);
}

void cck_on_restart(struct cck *c, uint32_t node)
{
	for (unsigned k = 0; k < c->ninst; k++)
		c->inst[k].decided[node] = false;
}

const char *cck_violation(const struct cck *c)
{
	return c->violation[0] ? c->violation : NULL;
}

uint64_t cck_decisions(const struct cck *c)
{
	return c->decisions;
}

int cck_final(struct cck *c, const bool *correct, char *why, size_t whylen)
{
	if (c->violation[0]) {
		snprintf(why, whylen, "%s", c->violation);
		return 1;
	}
	for (unsigned k = 0; k < c->ninst; k++) {
		struct cck_inst *i = &c->inst[k];
		for (uint32_t p = 1; p <= c->n; p++)
			for (uint32_t q = p + 1; q <= c->n; q++)
				if (correct[p] && correct[q] && i->ever[p] && i->ever[q] &&
				    (i->dec[p].len != i->dec[q].len ||
				     memcmp(i->dec[p].v, i->dec[q].v, i->dec[p].len) != 0)) {
					snprintf(why, whylen,
						 "agreement: correct nodes %u and %u decided instance "
						 "%llu as '%.*s' and '%.*s'",
						 p, q, (unsigned long long)i->id, (int)i->dec[p].len,
						 i->dec[p].v, (int)i->dec[q].len, i->dec[q].v);
					return 1;
				}
		bool by_correct = false;
		for (unsigned j = 0; j < i->nprop; j++)
			by_correct |= correct[i->prop_node[j]];
		if (!by_correct)
			continue;
		for (uint32_t q = 1; q <= c->n; q++)
			if (correct[q] && !i->ever[q]) {
				snprintf(why, whylen,
					 "termination: correct node %u never decided instance %llu "
					 "(proposed by a correct node)",
					 q, (unsigned long long)i->id);
				return 1;
			}
	}
	return 0;
}
