/* Stacking on a broadcast module: bcast_open and friends (see bcast.h). */
#include <stdio.h>
#include <string.h>

#include "bcast/bcast.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"

static int open_lower(struct strata_node *n, const char *algo, struct strata_module *upper,
		      uint64_t sub, bool check_model, struct bcast_lower *out, char *err,
		      size_t errlen)
{
	STRATA_ASSERT(upper && upper->node == n && out);
	if (upper->wire_id == 0 || sub >> BCAST_SUB_BITS) {
		snprintf(err, errlen, "%s: an upper module needs a wire id, sub < 2^48",
			 upper->ops->name);
		return STRATA_EINVAL;
	}
	const struct strata_algo *a = strata_algo_find(algo);
	if (!a || strcmp(a->family, "bcast") != 0) {
		snprintf(err, errlen, "%s: no broadcast algorithm '%s' to stack on",
			 upper->ops->name, algo);
		return STRATA_ENOENT;
	}
	char why[256];
	if (check_model && strata_algo_check(a, strata_node_config(n), why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s stacks on %s: %s", upper->ops->name, a->name, why);
		return STRATA_EMODEL;
	}
	struct strata_module *m = strata_node_module_by_name(n, a->name);
	if (!m) {
		m = strata_algo_create(a, n, err, errlen);
		if (!m)
			return STRATA_ENOMEM;
	}
	const struct bcast_iface *iface = m->ops->iface;
	if (!iface) {
		snprintf(err, errlen, "%s: '%s' cannot be stacked on", upper->ops->name, a->name);
		return STRATA_EINVAL;
	}
	uint64_t inst = BCAST_INST(upper->wire_id, sub);
	int rc = iface->open(m, inst, upper);
	if (rc) {
		snprintf(err, errlen, "%s: opening %s instance %llx: %s", upper->ops->name, a->name,
			 (unsigned long long)inst, strata_strerror(rc));
		return rc;
	}
	*out = (struct bcast_lower){ .m = m, .iface = iface, .inst = inst };
	return 0;
}

int bcast_open(struct strata_node *n, const char *algo, struct strata_module *upper, uint64_t sub,
	       struct bcast_lower *out, char *err, size_t errlen)
{
	return open_lower(n, algo, upper, sub, true, out, err, errlen);
}

int bcast_open_under_recovery(struct strata_node *n, const char *algo,
			      struct strata_module *upper, uint64_t sub, struct bcast_lower *out,
			      char *err, size_t errlen)
{
	if (strata_node_config(n)->model != STRATA_MODEL_FAIL_RECOVERY || strcmp(algo, "beb") != 0) {
		snprintf(err, errlen, "%s: only a fail-recovery algorithm stacks on beb this way",
			 upper->ops->name);
		return STRATA_EINVAL;
	}
	return open_lower(n, algo, upper, sub, false, out, err, errlen);
}

int bcast_broadcast(const struct bcast_lower *l, const uint8_t *data, size_t len)
{
	return l->iface->broadcast(l->m, l->inst, data, len);
}

size_t bcast_payload_max(const struct bcast_lower *l)
{
	return l->iface->payload_max(l->m);
}

bool bcast_is_deliver(const struct bcast_lower *l, const struct strata_event *ev)
{
	return ev->type == STRATA_EV_DELIVER && ev->src == l->m && ev->instance == l->inst &&
	       ev->body && ev->body_len == sizeof(struct strata_deliver);
}
