/* Synchronous job handler, seed 1.1.4 "Implementation (synchronized) JOBHANDLER" (module
 * jh-sync). Specification: jh.h (JH1, JH2).
 *
 *   upon <jh, Handle | job> do
 *       "process job";
 *       trigger <jh, Confirm | job>;
 *
 * Model: one process, no messages; runs in every crash-stop model. Processing takes the job's
 * delay (a timer) and computes its checksum; the seed's handler blocks while it processes, so
 * jobs handed over meanwhile wait, in order, in a queue of at most JH_QUEUE_MAX jobs (beyond
 * that Handle is refused with STRATA_EFULL: not confirmed, submit again). A queued job is not
 * confirmed, so nothing here needs stable storage: a crash loses only unconfirmed jobs.
 * Faithful to the seed, with the blocking made explicit as the queue. Memory: JH_QUEUE_MAX jobs
 * of at most JH_JOB_MAX bytes. */
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/error.h"
#include "jh/jh.h"

struct jh_job {
	struct strata_module *owner; /* NULL: a client (id = request id); else an upper module */
	uint64_t id;
	uint32_t delay_ms;
	struct strata_msg *job;
};

struct jh_sync {
	struct strata_module m;
	struct jh_job q[JH_QUEUE_MAX]; /* ring: head, count */
	unsigned head, count;
	uint64_t seq;                  /* jobs processed so far */
	struct strata_timer done;      /* the head's processing ends */
	uint64_t refused;
};

static void sync_start(struct jh_sync *s)
{
	if (s->count == 0 || strata_timer_armed(&s->done))
		return;
	strata_timer_arm_in(s->m.node, &s->done, (uint64_t)s->q[s->head].delay_ms * 1000);
}

/* The end of "process job" for the head of the queue, then trigger <jh, Confirm | job>. */
static void sync_done(struct jh_sync *s)
{
	if (s->count == 0)
		return;
	struct jh_job j = s->q[s->head];
	s->head = (s->head + 1) % JH_QUEUE_MAX;
	s->count--;
	uint64_t seq = ++s->seq;
	uint64_t sum = jh_checksum(j.job->data, j.job->len);
	jh_out_processed(&s->m, seq, j.job->data, j.job->len, sum);
	jh_confirm(&s->m, j.owner, j.id, seq, j.job->data, j.job->len, true, sum);
	strata_msg_unref(j.job);
	sync_start(s);
}

static int sync_enqueue(struct jh_sync *s, struct strata_module *owner, uint64_t id,
			const uint8_t *job, size_t len, uint32_t delay_ms)
{
	if (len == 0 || delay_ms > JH_DELAY_MAX_MS)
		return STRATA_EINVAL;
	if (len > JH_JOB_MAX)
		return STRATA_ETOOBIG;
	if (s->count == JH_QUEUE_MAX) {
		s->refused++;
		strata_trace(s->m.node, "jh-sync", "queue full (%u jobs) -> refused", JH_QUEUE_MAX);
		return STRATA_EFULL;
	}
	struct strata_msg *msg = strata_msg_new(job, len);
	if (!msg)
		return STRATA_ENOMEM;
	s->q[(s->head + s->count) % JH_QUEUE_MAX] = (struct jh_job){ owner, id, delay_ms, msg };
	s->count++;
	sync_start(s);
	return 0;
}

/* upon <jh, Handle | job> from an upper module */
static int sync_handle(struct strata_module *m, struct strata_module *owner, uint64_t tag,
		       const uint8_t *job, size_t len, uint32_t delay_ms)
{
	STRATA_ASSERT(owner);
	return sync_enqueue((struct jh_sync *)m, owner, tag, job, len, delay_ms);
}

/* upon <jh, Handle | job> from a client */
static int sync_request(struct strata_module *m, const struct strata_request *req)
{
	uint32_t delay = 0;
	int rc = jh_parse_request(req, &delay);
	return rc ? rc : sync_enqueue((struct jh_sync *)m, NULL, req->id, req->value,
				      req->value_len, delay);
}

static void sync_ev(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_TIMER)
		sync_done((struct jh_sync *)m);
}

static void sync_destroy(struct strata_module *m)
{
	struct jh_sync *s = (struct jh_sync *)m;
	for (unsigned k = 0; k < s->count; k++)
		strata_msg_unref(s->q[(s->head + k) % JH_QUEUE_MAX].job);
	free(s);
}

static const struct jh_iface sync_iface = { .handle = sync_handle };

static const struct strata_module_ops sync_ops = {
	.name = "jh-sync", .handle = sync_ev, .request = sync_request, .destroy = sync_destroy,
	.iface = &sync_iface,
};

struct strata_module *jh_sync_create(struct strata_node *n, char *err, size_t errlen)
{
	struct jh_sync *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "jh-sync: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &s->m, &sync_ops, 0);
	strata_timer_init(&s->done, &s->m, 1, 0);
	return &s->m;
}
