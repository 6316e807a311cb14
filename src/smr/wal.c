/* The replicated log's stable storage, over core's log and snapshot storage (core/storage.c:
 * strata_log_* and strata_snapshot_*), so the KV has no storage path of its own.
 *
 * Records: log "kv" holds one entry per index (u64 term, then the batch) and, as the log's meta
 * record, the hard state (term, vote, last index, a known-committed index, and the index, term
 * and slot of the current snapshot); snapshot "kv-0" or "kv-1" holds the state machine at the
 * snapshot's index (kv_sm.c's encoding). On a real node and in the simulator the log is the
 * runtime's record log (store/rlog.c: an append-only, preallocated file), so a follower's turn
 * (entries + hard state) costs one write and one fdatasync; the snapshots stay in the key-value
 * store (LMDB). Everything stored during a turn is made durable by the node's sync at the end
 * of that turn, before any datagram of the turn leaves and before any reply is released
 * (persist before send): the key-value store first, then the record log, so the hard state
 * naming a new snapshot slot is never durable before the snapshot in it. A crash in between
 * keeps the new snapshot in the slot the durable hard state does not name: harmless. A torn
 * batch keeps a prefix of the record log's operations: the old hard state and log, or the new
 * hard state and a prefix of the compaction and truncation after it (log.c's recovery checks
 * the snapshot's entry). Data directories of the release before the record log (hard state
 * under "smr/hs", entries as keys) are copied into the record log at the first start. */
#include <inttypes.h>
#include <stdio.h>

#include "core/codec.h"
#include "core/error.h"
#include "smr/smr.h"

#define HS_KEY "smr/hs"
#define LOG_NAME "kv"
/* Two snapshot slots, used in turn: a new snapshot never overwrites the one the stored hard
 * state names, so a crash that keeps only a prefix of a turn's writes (a torn batch) still
 * finds the old snapshot whole. */
static const char *const snap_names[2] = { "kv-0", "kv-1" };

int smr_wal_load_state(struct strata_node *n, struct smr_hardstate *hs)
{
	struct smr_hardstate z = { 0 };
	*hs = z;
	struct strata_msg *m = NULL;
	int rc = strata_log_meta_get(n, LOG_NAME, &m);
	if (rc == STRATA_ENOENT) {
		/* Nothing in the log's meta record: a new node, or a data directory of an earlier
		 * release, which kept the hard state under HS_KEY and the entries as keys. Those
		 * are copied into the record log in this turn (durable with its sync); the keys stay
		 * and are not read again. */
		rc = strata_retrieve(n, HS_KEY, &m);
		if (rc == STRATA_ENOENT)
			return 0;
		if (rc)
			return rc;
		uint64_t copied = 0;
		rc = strata_log_import_keys(n, LOG_NAME, &copied);
		if (rc == 0)
			rc = strata_log_meta_put(n, LOG_NAME, m->data, m->len);
		if (rc) {
			strata_msg_unref(m);
			return rc;
		}
	} else if (rc) {
		return rc;
	}
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	hs->term = strata_rd_u64(&r);
	hs->vote = (uint32_t)strata_rd_u64_max(&r, STRATA_MAX_NODES);
	hs->last_index = strata_rd_u64(&r);
	hs->commit_hint = strata_rd_u64(&r);
	hs->snap_index = strata_rd_u64(&r);
	hs->snap_term = strata_rd_u64(&r);
	hs->snap_slot = (unsigned)strata_rd_u64_max(&r, 1);
	rc = strata_rd_done(&r);
	strata_msg_unref(m);
	if (rc == 0 && (hs->commit_hint > hs->last_index || hs->snap_index > hs->last_index))
		rc = STRATA_EPROTO;
	return rc;
}

int smr_wal_save_state(struct strata_node *n, const struct smr_hardstate *hs)
{
	uint8_t buf[96];
	struct strata_wr w;
	strata_wr_init(&w, sizeof(buf));
	strata_wr_u64(&w, hs->term);
	strata_wr_u64(&w, hs->vote);
	strata_wr_u64(&w, hs->last_index);
	strata_wr_u64(&w, hs->commit_hint);
	strata_wr_u64(&w, hs->snap_index);
	strata_wr_u64(&w, hs->snap_term);
	strata_wr_u64(&w, hs->snap_slot);
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	if (!m)
		return err;
	int rc = strata_log_meta_put(n, LOG_NAME, m->data, m->len);
	strata_msg_unref(m);
	return rc;
}

int smr_wal_put(struct strata_node *n, uint64_t idx, uint64_t term, const struct strata_msg *data)
{
	struct strata_wr w;
	strata_wr_init(&w, data->len + 32);
	strata_wr_u64(&w, term);
	strata_wr_raw(&w, data->data, data->len);
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	if (!m)
		return err;
	int rc = strata_log_put(n, LOG_NAME, idx, m->data, m->len);
	strata_msg_unref(m);
	return rc;
}

int smr_wal_get(struct strata_node *n, uint64_t idx, uint64_t *term, struct strata_msg **data)
{
	struct strata_msg *m = NULL;
	*data = NULL;
	int rc = strata_log_get(n, LOG_NAME, idx, &m);
	if (rc)
		return rc;
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	*term = strata_rd_u64(&r);
	if (!strata_rd_ok(&r)) {
		strata_msg_unref(m);
		return STRATA_EPROTO;
	}
	*data = strata_msg_new(m->data + r.off, m->len - r.off);
	strata_msg_unref(m);
	return *data ? 0 : STRATA_ENOMEM;
}

int smr_wal_first(struct strata_node *n, uint64_t *first)
{
	uint64_t last;
	return strata_log_bounds(n, LOG_NAME, first, &last);
}

int smr_wal_compact(struct strata_node *n, uint64_t keep_from)
{
	return strata_log_truncate_prefix(n, LOG_NAME, keep_from);
}

int smr_wal_truncate(struct strata_node *n, uint64_t drop_from)
{
	return strata_log_truncate_suffix(n, LOG_NAME, drop_from);
}

int smr_wal_snapshot_put(struct strata_node *n, unsigned slot, uint64_t index,
			 const struct strata_msg *snap)
{
	return strata_snapshot_put(n, snap_names[slot & 1], index, snap->data, snap->len);
}

int smr_wal_snapshot_info(struct strata_node *n, unsigned slot, uint64_t *index, uint64_t *total)
{
	return strata_snapshot_get(n, snap_names[slot & 1], index, total);
}

int smr_wal_snapshot_read(struct strata_node *n, unsigned slot, uint64_t offset, size_t max,
			  struct strata_msg **out)
{
	return strata_snapshot_read(n, snap_names[slot & 1], offset, max, out);
}
