/* The client side of the BFT KV (`[smr] log = bft-tob` or `btob`; src/smr/bft.c,
 * docs/consensus-byzantine.md "BFT KV client protocol"): `strata kv` and `strata workload --kv`
 * on such a cluster send every request to every replica, with the client's session and a
 * sequence number (reads too), and accept an outcome once f + 1 distinct replicas returned it
 * signed (Ed25519, each replica's [node.N] public_key in the cluster config). With at most f
 * Byzantine replicas, one of the f + 1 is correct: the outcome is one a correct replica computed
 * from the totally ordered log. A reply whose signature does not verify counts for nothing; a
 * replica's first verified reply is its vote (smr_bft_vote).
 *
 * What the client verifies of a reply (cli_bft_check): the signature over the replica id and
 * the outcome digest C of bft.c (session, seq, status, flags, revision, value bytes), or over the
 * replica id and the root its reply envelope's proof leads C to (bft_reply.c); for a range
 * also that the keys the node decoded re-encode to the signed bytes, so a node cannot show other
 * keys than the ones it signed. The error text is not signed (the status is).
 *
 * Signed requests: the CLI (each `strata kv` run) and each logical client of the workload make
 * an Ed25519 key pair; the session is the one that key pair owns (smr_bft_session_of), and
 * every request carries the public key and the signature of its digest (smr_bft_request_digest),
 * which every replica checks before it orders the request and again when it applies it
 * (src/smr/tob_log.c): a Byzantine replica cannot order a request the client did not send.
 * `strata bench` signs the requests its clients send in one turn of its loop as one envelope
 * (smr_bft_request_env_sign): one key pair for the process, client i's session at index i.
 *
 * Without the cluster's config (`-e HOST:PORT`) there are no public keys: the CLI then talks to
 * that one node as for any other log, and says so nowhere else; the vote needs the config. */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "smr/smr.h"

bool cli_bft_cluster(struct cli *c)
{
	if (c->endpoint[0])
		return false;
	const struct strata_config *cfg = cli_config(c);
	return cfg && smr_log_is_bft(cfg);
}

int cli_bft_key_new(struct cli_bft_key *k)
{
	if (strata_crypto_init() != 0 || strata_keypair(k->pk, k->sk) != 0)
		return -1;
	k->session = smr_bft_session_of(k->pk);
	return 0;
}

void cli_bft_key_wipe(struct cli_bft_key *k)
{
	sodium_memzero(k, sizeof *k);
}

void cli_bft_digest(const Strata__Client__OpRequest *op, uint8_t dig[SMR_BFT_DIGEST_LEN])
{
	bool with_val = op->op == CLI_OP_WRITE || op->op == CLI_OP_CAS || op->op == CLI_OP_RANGE;
	struct smr_bft_req r = {
		.session = op->session, .seq = op->seq, .op = op->op,
		.type = op->op == CLI_OP_WRITE ? SMR_CMD_PUT : op->op == CLI_OP_DELETE ? SMR_CMD_DEL
			: op->op == CLI_OP_CAS ? SMR_CMD_CAS : 0,
		.limit = op->op == CLI_OP_RANGE ? op->limit : 0,
		.key = op->key.data, .key_len = op->key.len,
		.val = with_val ? op->value.data : NULL, .val_len = with_val ? op->value.len : 0,
		.val2 = op->op == CLI_OP_CAS ? op->value2.data : NULL,
		.val2_len = op->op == CLI_OP_CAS ? op->value2.len : 0,
	};
	smr_bft_request_digest(dig, &r);
}

void cli_bft_sign(const struct cli_bft_key *k, Strata__Client__OpRequest *op,
		  uint8_t auth[SMR_BFT_AUTH_LEN])
{
	uint8_t dig[SMR_BFT_DIGEST_LEN];
	cli_bft_digest(op, dig);
	smr_bft_request_sign(auth, k->pk, k->sk, dig);
	op->client_auth.data = auth;
	op->client_auth.len = SMR_BFT_AUTH_LEN;
}

/* The range a node decoded (OpReply.kvs, more) encoded as src/smr/reads.c encodes it. */
static bool range_matches(const Strata__Client__OpReply *op, const uint8_t *data, size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + 16);
	strata_wr_u64(&w, op->n_kvs);
	for (size_t i = 0; i < op->n_kvs; i++) {
		const Strata__Client__KeyValue *kv = op->kvs[i];
		strata_wr_bytes(&w, kv->key.data, kv->key.len);
		strata_wr_bytes(&w, kv->value.data, kv->value.len);
		strata_wr_u64(&w, kv->mod_revision);
		strata_wr_u64(&w, kv->create_revision);
		strata_wr_u64(&w, kv->version);
	}
	strata_wr_u8(&w, op->more ? 1 : 0);
	bool same = !w.err && w.len == len && (len == 0 || memcmp(w.buf, data, len) == 0);
	strata_wr_free(&w);
	return same;
}

uint32_t cli_bft_check(const struct strata_config *cfg, struct smr_bft_seen *seen,
		       uint64_t session, uint64_t seq, const Strata__Client__Response *r,
		       uint8_t outcome[SMR_BFT_DIGEST_LEN])
{
	if (r->bft_replica == 0 || r->bft_replica > cfg->n || r->bft_sig.len < STRATA_OUT_SIG_LEN ||
	    r->bft_sig.len > SMR_BFT_SIG_MAX)
		return 0;
	const Strata__Client__OpReply *op =
		r->body_case == STRATA__CLIENT__RESPONSE__BODY_OP ? r->op : NULL;
	bool raw = r->status != 0 ||
		   (r->bft_flags & (STRATA_REPLY_RANGE | STRATA_REPLY_SIBLINGS)) != 0;
	const uint8_t *data = raw ? r->bft_data.data : op ? op->value.data : NULL;
	size_t len = raw ? r->bft_data.len : op ? op->value.len : 0;
	if (r->status == 0 && (r->bft_flags & STRATA_REPLY_RANGE) &&
	    (!op || !range_matches(op, r->bft_data.data, r->bft_data.len)))
		return 0;
	if (r->status == 0 && op && op->found != ((r->bft_flags & STRATA_REPLY_FOUND) != 0))
		return 0;
	smr_bft_outcome(outcome, session, seq, r->status, r->bft_flags, op ? op->revision : 0, data,
			len);
	return smr_bft_verify_reply(cfg, r->bft_replica, outcome, r->bft_sig.data, r->bft_sig.len,
				    seen)
		       ? r->bft_replica
		       : 0;
}

/* ---- one request to every replica, f + 1 equal signed replies ---- */

struct peer {
	int fd;
	bool done;
	struct cli_reader rd;
	char why[200]; /* what became of this node's answer */
};

static void describe_reply(char *buf, size_t n, const Strata__Client__Response *r)
{
	uint64_t rev = r->body_case == STRATA__CLIENT__RESPONSE__BODY_OP ? r->op->revision : 0;
	if (r->status == 0)
		snprintf(buf, n, "ok, revision %llu", (unsigned long long)rev);
	else
		snprintf(buf, n, "%s", r->error && r->error[0] ? r->error : strata_strerror(r->status));
}

int cli_bft_call(struct cli *c, Strata__Client__Request *req, uint64_t session, uint64_t seq,
		 const char *what, Strata__Client__Response **out)
{
	*out = NULL;
	const struct strata_config *cfg = cli_config(c);
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, true, eps, STRATA_MAX_NODES);
	if (!cfg || n < 0)
		return CLI_EXIT_USAGE;
	uint32_t quorum = cfg->f + 1;
	struct peer peers[STRATA_MAX_NODES];
	Strata__Client__Response *votes[STRATA_MAX_NODES + 1] = { 0 };
	struct smr_bft_vote vote;
	smr_bft_vote_init(&vote, cfg->n, cfg->f);
	uint64_t deadline = cli_now_ms() + (uint64_t)c->timeout_ms;
	req->id = cli_next_id(c);
	unsigned bad_sig = 0;
	for (int i = 0; i < n; i++) {
		struct peer *p = &peers[i];
		memset(p, 0, sizeof *p);
		cli_reader_init(&p->rd);
		char err[160];
		p->fd = cli_connect(&eps[i], deadline, err, sizeof err);
		if (p->fd >= 0 && cli_send(p->fd, req, deadline, err, sizeof err) != 0) {
			close(p->fd);
			p->fd = -1;
		}
		if (p->fd < 0) {
			p->done = true;
			snprintf(p->why, sizeof p->why, "%s", err);
		}
	}
	int rc = CLI_EXIT_UNKNOWN;
	uint32_t winner = 0;
	for (;;) {
		struct pollfd pfd[STRATA_MAX_NODES];
		int who[STRATA_MAX_NODES];
		nfds_t np = 0;
		for (int i = 0; i < n; i++)
			if (!peers[i].done) {
				pfd[np] = (struct pollfd){ .fd = peers[i].fd, .events = POLLIN };
				who[np++] = i;
			}
		uint64_t now = cli_now_ms();
		if (np == 0 || now >= deadline)
			break;
		int pr = poll(pfd, np, (int)(deadline - now));
		if (pr < 0 && errno != EINTR)
			break;
		for (nfds_t k = 0; k < np && !winner; k++) {
			if (!pfd[k].revents)
				continue;
			struct peer *p = &peers[who[k]];
			for (;;) {
				Strata__Client__Response *r = NULL;
				char err[160];
				int s = cli_reader_step(&p->rd, p->fd, &r, err, sizeof err);
				if (s == 0)
					break;
				if (s < 0) {
					p->done = true;
					snprintf(p->why, sizeof p->why, "%s", err);
					break;
				}
				if (r->id != req->id) { /* not our answer */
					strata__client__response__free_unpacked(r, NULL);
					continue;
				}
				p->done = true;
				uint8_t oc[SMR_BFT_DIGEST_LEN];
				uint32_t rep = cli_bft_check(cfg, NULL, session, seq, r, oc);
				if (!rep) {
					bad_sig++;
					snprintf(p->why, sizeof p->why, "%s",
						 r->bft_replica ? "a reply whose signature does not "
								  "verify (counted for nothing)"
								: "an unsigned reply (not a BFT KV "
								  "node?)");
					strata__client__response__free_unpacked(r, NULL);
					break;
				}
				describe_reply(p->why, sizeof p->why, r);
				if (!votes[rep] && !((vote.voted >> (rep - 1)) & 1))
					votes[rep] = r;
				else
					strata__client__response__free_unpacked(r, NULL);
				if (smr_bft_vote_add(&vote, rep, oc) >= quorum)
					winner = rep;
				break;
			}
		}
		if (winner)
			break;
	}
	if (winner) {
		*out = votes[winner];
		votes[winner] = NULL;
		rc = CLI_EXIT_OK;
	} else {
		char detail[4096];
		size_t dl = 0;
		detail[0] = 0;
		for (int i = 0; i < n && dl < sizeof detail; i++) {
			char who[160];
			cli_describe(&eps[i], who, sizeof who);
			dl += (size_t)snprintf(detail + dl, sizeof detail - dl, "\n  %s: %s", who,
					       peers[i].done ? peers[i].why : "no answer in time");
		}
		cli_err(c,
			"%s: no f + 1 = %u replicas returned the same signed outcome within %d ms "
			"(%u of %d answered with a valid signature%s): outcome unknown%s",
			what, quorum, c->timeout_ms, smr_bft_vote_count(&vote), n,
			bad_sig ? ", some with an invalid one" : "", detail);
	}
	for (int i = 0; i < n; i++) {
		if (peers[i].fd >= 0)
			close(peers[i].fd);
		cli_reader_free(&peers[i].rd);
	}
	for (uint32_t r = 0; r <= STRATA_MAX_NODES; r++)
		if (votes[r])
			strata__client__response__free_unpacked(votes[r], NULL);
	return rc;
}
