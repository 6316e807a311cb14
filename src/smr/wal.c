/* The replicated log's stable storage, over the node's strata_store / strata_retrieve.
 *
 * Records: "smr/hs" holds the hard state (term, vote, last index, a known-committed index);
 * "smr/e/<index>" holds one entry (its term and its batch). Everything stored during a turn is
 * made durable by the node's sync at the end of that turn, before any datagram of the turn leaves
 * and before any reply is released (persist before send). Suffix truncation is a new last index
 * in the hard state: entries above it are ignored and overwritten later. This file is the one
 * place that knows the layout, so moving to a dedicated log store changes only this file. */
#include <inttypes.h>
#include <stdio.h>

#include "core/codec.h"
#include "core/error.h"
#include "smr/smr.h"

#define HS_KEY "smr/hs"

int smr_wal_load_state(struct strata_node *n, struct smr_hardstate *hs)
{
	struct smr_hardstate z = { 0 };
	*hs = z;
	struct strata_msg *m = NULL;
	int rc = strata_retrieve(n, HS_KEY, &m);
	if (rc == STRATA_ENOENT)
		return 0;
	if (rc)
		return rc;
	struct strata_rd r;
	strata_rd_init(&r, m->data, m->len);
	hs->term = strata_rd_u64(&r);
	hs->vote = (uint32_t)strata_rd_u64_max(&r, STRATA_MAX_NODES);
	hs->last_index = strata_rd_u64(&r);
	hs->commit_hint = strata_rd_u64(&r);
	rc = strata_rd_done(&r);
	strata_msg_unref(m);
	if (rc == 0 && hs->commit_hint > hs->last_index)
		rc = STRATA_EPROTO;
	return rc;
}

int smr_wal_save_state(struct strata_node *n, const struct smr_hardstate *hs)
{
	uint8_t buf[64];
	struct strata_wr w;
	strata_wr_init(&w, sizeof(buf));
	strata_wr_u64(&w, hs->term);
	strata_wr_u64(&w, hs->vote);
	strata_wr_u64(&w, hs->last_index);
	strata_wr_u64(&w, hs->commit_hint);
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	if (!m)
		return err;
	int rc = strata_store(n, HS_KEY, m->data, m->len);
	strata_msg_unref(m);
	return rc;
}

static void entry_key(char *k, size_t n, uint64_t idx)
{
	/* Zero-padded so the keys sort in index order (useful to a range scan later). */
	snprintf(k, n, "smr/e/%020" PRIu64, idx);
}

int smr_wal_put(struct strata_node *n, uint64_t idx, uint64_t term, const struct strata_msg *data)
{
	char k[48];
	entry_key(k, sizeof(k), idx);
	struct strata_wr w;
	strata_wr_init(&w, data->len + 32);
	strata_wr_u64(&w, term);
	strata_wr_raw(&w, data->data, data->len);
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	if (!m)
		return err;
	int rc = strata_store(n, k, m->data, m->len);
	strata_msg_unref(m);
	return rc;
}

int smr_wal_get(struct strata_node *n, uint64_t idx, uint64_t *term, struct strata_msg **data)
{
	char k[48];
	entry_key(k, sizeof(k), idx);
	struct strata_msg *m = NULL;
	*data = NULL;
	int rc = strata_retrieve(n, k, &m);
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
