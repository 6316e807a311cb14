/* The job handler family (seed notes 1.1.3-1.1.4; see docs/first-module.md).
 *
 * Module JobHandler (instance jh):
 *   Request:    <jh, Handle | job>     a job submitted for handling
 *   Indication: <jh, Confirm | job>   the handler has taken responsibility for the job
 *   JH1 (the seed's property): every job submitted for handling is eventually confirmed.
 * Here "eventually" binds a process that does not crash: a job submitted at a process that
 * crashes before confirming it may never be confirmed (the client sees no answer and the
 * outcome is unknown; the job may have been processed). A job the handler cannot take (its
 * bounded queue or buffer is full) is refused at once (STRATA_EFULL): it was not submitted for
 * handling, and the client may submit it again.
 * What a confirmation promises differs between the two implementations, and the simulation
 * suite (tests/sim/sim_jh.c) checks both:
 *   JH2 (jh-sync): a confirmed job has been processed (processing happens before Confirm).
 *   JH3 (jh-async): a confirmed job is eventually processed, exactly once, by a process that
 *       does not crash forever: the buffer is on stable storage, written in the turn-batch
 *       whose sync releases the Confirm, and a restarted process resumes it.
 *
 * "Processing" is observable and deterministic: it takes the job's delay (a timer, default
 * JH_DELAY_DEFAULT_MS, at most JH_DELAY_MAX_MS) and computes the job's checksum (64-bit
 * FNV-1a of its bytes). Both implementations process one job at a time, in arrival order.
 *
 * Stacking: an upper module opens a handler with jh_open() ("uses JobHandler, instance jh"),
 * requests go down as jh_handle() calls and Confirm comes back as a JH_EV_CONFIRM event with
 * a struct jh_confirm body (jt.c is the layered example of seed 1.1.3). Client requests
 * (STRATA_OP_WRITE: value = the job, key = the delay in decimal ms, empty for the default) are
 * confirmed with a reply: value = [varint seq][varint checksum][u8 processed]; checksum is 0
 * when processed is 0 (jh-async confirms before processing).
 *
 * Outputs for watchers (`strata job watch`): STRATA_OUT_DELIVER from the handler module, peer =
 * this node, a = the job's sequence number at this handler, data = the job, text =
 * "confirmed" or "processed checksum=<16 hex>". Jobs of an upper module are announced the same
 * way. These are job events, not broadcast deliveries, so the handler outputs them itself. */
#ifndef STRATA_JH_JH_H
#define STRATA_JH_JH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"

#define JH_DELAY_DEFAULT_MS 100u
#define JH_DELAY_MAX_MS 10000u
#define JH_QUEUE_MAX 64u   /* jh-sync: jobs waiting for processing (unconfirmed) */
#define JH_BUFFER_MAX 64u  /* jh-async: confirmed jobs waiting for processing */
#define JH_JOB_MAX 4096u   /* bytes per job */

/* Event types of the family (range 400-419). */
enum jh_ev {
	JH_EV_CONFIRM = 400, /* <jh, Confirm | job>: body struct jh_confirm */
};

/* The body of JH_EV_CONFIRM; job points into ev->msg. */
struct jh_confirm {
	uint64_t tag;      /* what the upper passed to jh_handle */
	uint64_t seq;      /* the job's sequence number at the handler */
	bool processed;    /* jh-sync: true (checksum is the job's); jh-async: false */
	uint64_t checksum;
	const uint8_t *job;
	size_t len;
};

/* What a job handler module offers to upper modules (its strata_module_ops.iface). */
struct jh_iface {
	/* <jh, Handle | job>: 0 (Confirm will come to `owner`), STRATA_EFULL, STRATA_ETOOBIG,
	 * STRATA_EIO. */
	int (*handle)(struct strata_module *m, struct strata_module *owner, uint64_t tag,
		      const uint8_t *job, size_t len, uint32_t delay_ms);
};

struct jh_lower {
	struct strata_module *m;
	const struct jh_iface *iface;
};

/* "uses JobHandler": finds (or creates) the node's module `algo` (jh-sync or jh-async). */
int jh_open(struct strata_node *n, const char *algo, struct jh_lower *out, char *err,
	    size_t errlen);
/* trigger <jh, Handle | job> on behalf of `upper`. */
int jh_handle(const struct jh_lower *l, struct strata_module *upper, uint64_t tag,
	      const uint8_t *job, size_t len, uint32_t delay_ms);

/* ---- shared by the implementations (common.c) ---- */

/* The checksum "processing" computes: 64-bit FNV-1a. */
uint64_t jh_checksum(const uint8_t *job, size_t len);
/* Parses a client request: job bytes and delay. 0, STRATA_EINVAL or STRATA_ETOOBIG. */
int jh_parse_request(const struct strata_request *req, uint32_t *delay_ms);
/* Confirms a job to its owner: a client reply (owner NULL, id = request id) or a JH_EV_CONFIRM
 * event to the upper module (tag = id). Also announces it to watchers. */
void jh_confirm(struct strata_module *m, struct strata_module *owner, uint64_t id, uint64_t seq,
		const uint8_t *job, size_t len, bool processed, uint64_t checksum);
/* Announces a processed job to watchers. */
void jh_out_processed(struct strata_module *m, uint64_t seq, const uint8_t *job, size_t len,
		      uint64_t checksum);

/* Constructors (one per file). */
struct strata_module *jh_sync_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *jh_async_create(struct strata_node *n, char *err, size_t errlen);
struct strata_module *jh_jt_create(struct strata_node *n, char *err, size_t errlen);

/* TEST ONLY (the simulation suite's broken variants; never called by stratad):
 *   drop_on_full: jh-async makes room in a full buffer by dropping the oldest confirmed job
 *                 instead of refusing the new one;
 *   volatile_buffer: jh-async keeps its buffer in memory only (the seed's buffer), so a crash
 *                 after Confirm loses confirmed jobs. */
void jh_async_test_break(struct strata_module *m, bool drop_on_full, bool volatile_buffer);

#endif
