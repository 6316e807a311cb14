/* Helpers shared by the job handler family (see jh.h): the processing checksum, client request
 * parsing, Confirm to a client or an upper module, and the watchers' job events. */
#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "jh/jh.h"

uint64_t jh_checksum(const uint8_t *job, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= job[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

int jh_parse_request(const struct strata_request *req, uint32_t *delay_ms)
{
	if (req->op != STRATA_OP_WRITE || req->value_len == 0)
		return STRATA_EINVAL;
	if (req->value_len > JH_JOB_MAX)
		return STRATA_ETOOBIG;
	if (req->key_len == 0) {
		*delay_ms = JH_DELAY_DEFAULT_MS;
		return 0;
	}
	uint64_t d = 0;
	for (size_t i = 0; i < req->key_len; i++) {
		if (req->key[i] < '0' || req->key[i] > '9' || i >= 6)
			return STRATA_EINVAL;
		d = d * 10 + (uint64_t)(req->key[i] - '0');
	}
	if (d > JH_DELAY_MAX_MS)
		return STRATA_EINVAL;
	*delay_ms = (uint32_t)d;
	return 0;
}

static void out_job(struct strata_module *m, uint64_t seq, const uint8_t *job, size_t len,
		    const char *text)
{
	struct strata_output o = {
		.kind = STRATA_OUT_DELIVER,
		.module = m->wire_id,
		.module_name = m->ops->name,
		.peer = strata_node_id(m->node),
		.a = seq,
		.data = job,
		.len = len,
		.text = text,
	};
	strata_output(m->node, &o);
}

void jh_confirm(struct strata_module *m, struct strata_module *owner, uint64_t id, uint64_t seq,
		const uint8_t *job, size_t len, bool processed, uint64_t checksum)
{
	out_job(m, seq, job, len, "confirmed");
	if (!owner) {
		uint8_t buf[32];
		struct strata_wr w;
		strata_wr_init(&w, sizeof(buf));
		strata_wr_u64(&w, seq);
		strata_wr_u64(&w, processed ? checksum : 0);
		strata_wr_u8(&w, processed ? 1 : 0);
		STRATA_ASSERT(!w.err);
		strata_node_reply(m->node, m, id, 0, 0, w.buf, w.len, NULL);
		strata_wr_free(&w);
		return;
	}
	struct strata_msg *msg = strata_msg_new(job, len);
	STRATA_ASSERT(msg); /* running out of memory mid-handler cannot be recovered */
	struct jh_confirm c = { .tag = id, .seq = seq, .processed = processed,
				.checksum = processed ? checksum : 0, .job = msg->data, .len = len };
	strata_raise_body(m->node, m, owner, JH_EV_CONFIRM, strata_node_id(m->node), 0, seq, msg,
			  &c, sizeof(c));
	strata_msg_unref(msg);
}

void jh_out_processed(struct strata_module *m, uint64_t seq, const uint8_t *job, size_t len,
		      uint64_t checksum)
{
	char text[48];
	snprintf(text, sizeof(text), "processed checksum=%016llx", (unsigned long long)checksum);
	out_job(m, seq, job, len, text);
}

int jh_open(struct strata_node *n, const char *algo, struct jh_lower *out, char *err,
	    size_t errlen)
{
	const struct strata_algo *a = strata_algo_find(algo);
	if (!a || strcmp(a->family, "jh") != 0) {
		snprintf(err, errlen, "no job handler '%s' to stack on", algo);
		return STRATA_ENOENT;
	}
	struct strata_module *m = strata_node_module_by_name(n, a->name);
	if (!m && !(m = strata_algo_create(a, n, err, errlen)))
		return STRATA_ENOMEM;
	if (!m->ops->iface) {
		snprintf(err, errlen, "'%s' cannot be stacked on", a->name);
		return STRATA_EINVAL;
	}
	out->m = m;
	out->iface = m->ops->iface;
	return 0;
}

int jh_handle(const struct jh_lower *l, struct strata_module *upper, uint64_t tag,
	      const uint8_t *job, size_t len, uint32_t delay_ms)
{
	return l->iface->handle(l->m, upper, tag, job, len, delay_ms);
}
