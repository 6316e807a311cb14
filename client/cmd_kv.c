/* `strata kv`: the replicated KV store (src/smr, docs/smr.md).
 *
 *   strata kv put KEY VALUE | --value-file F
 *   strata kv get KEY [--serializable]
 *   strata kv del KEY
 *   strata kv cas KEY EXPECTED NEW | --value-file F
 *   strata kv range PREFIX [--limit N] [--after KEY] [--serializable]
 *   strata kv watch KEY | --prefix P [--from REV] [--count N]
 *   strata kv status
 *   strata kv algos
 *
 * Any node accepts a request (followers forward to the leader). Every write carries a fresh
 * session (a random client id, sequence 1), so the CLI may resend it to another node when the
 * first does not answer and the store still applies it once. Exit: 0 ok, 1 definite failure
 * (e.g. "compare failed"), 2 usage, 3 outcome unknown. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/codec.h"
#include "smr/smr.h"

static const char kv_help[] =
	"usage: strata kv put KEY VALUE | strata kv put KEY --value-file F\n"
	"       strata kv get KEY [--serializable]\n"
	"       strata kv del KEY\n"
	"       strata kv cas KEY EXPECTED NEW | strata kv cas KEY EXPECTED --value-file F\n"
	"       strata kv range PREFIX [--limit N] [--after KEY] [--serializable]\n"
	"       strata kv watch KEY | strata kv watch --prefix P  [--from REV] [--count N]\n"
	"       strata kv status\n"
	"       strata kv algos\n"
	"\n"
	"The replicated KV store: a leader-driven replicated log applied to a key-value state\n"
	"machine on every node. Every operation is linearizable; an acknowledged write is on stable\n"
	"storage of a majority. Any node accepts a request (followers forward to the leader).\n"
	"get --serializable reads the contacted node's state without asking the leader: faster,\n"
	"possibly stale. cas writes NEW only if KEY holds exactly EXPECTED (else exit 1, \"compare\n"
	"failed\"). Keys up to 4096 bytes, values up to 1 MiB (within [links] max_value).\n"
	"A get of a key never written, or deleted, prints null. Values that start with '-': after\n"
	"\"--\" (kv put k -- -x), or as they are when they are negative numbers (kv put n -3).\n"
	"-w json prints {\"key\":KEY,\"value\":VALUE or null,\"revision\":N}: the store's revision\n"
	"after a write, the revision of the write that set the key for a get.\n"
	"range: the keys that start with PREFIX (\"\" = every key) in ascending byte order, one\n"
	"\"KEY<tab>VALUE\" line each, at most --limit (default 1000, at most 10000) and 1.5 MiB;\n"
	"when more match, a last line on stderr names the --after KEY that continues. Linearizable\n"
	"unless --serializable. -w json: {\"revision\":N,\"kvs\":[{\"key\",\"value\",\"revision\",\n"
	"\"create_revision\",\"version\"}...],\"more\":BOOL} (revision = the store's; per key, the\n"
	"revision of the write that set it).\n"
	"watch: the changes (puts and deletes, each with its revision) of KEY, or of the keys\n"
	"that start with P (\"\" = every key), as one node applies them (-n picks it), one line\n"
	"each: \"PUT KEY VALUE (revision N)\" or \"DELETE KEY (revision N)\"; with -w json one\n"
	"object per line {\"type\":\"put\"|\"delete\",\"key\",\"value\" (null for a delete),\n"
	"\"revision\",\"create_revision\",\"version\"}. --from REV first replays the node's\n"
	"history from revision REV (it keeps the newest 65,536 changes since it last restored a\n"
	"snapshot; an older REV is refused naming the oldest it holds), then continues live,\n"
	"with no change missed or repeated. --count N exits after N changes. A node drops a\n"
	"watcher that falls more than [client] queue_max bytes behind; the watch then exits 3\n"
	"naming the --from that resumes it.\n"
	"status: per node the leader it follows, its term, last log index, commit and applied\n"
	"index, snapshot index and log size (entries kept after compaction), its fsyncs, its\n"
	"state's bytes and the space quota ([smr] quota_bytes) and the writes it refused for it.\n"
	"A write that would take the state past the quota exits 1 with \"kv: space exceeded\".\n"
	"Exit: 0 ok, 1 definite failure (the error says why), 2 usage, 3 outcome unknown.\n";

static int usage(struct cli *c, const char *fmt, const char *arg)
{
	return cli_usage_err(c, "kv", fmt, arg);
}

/* Reads at most SMR_VALUE_MAX bytes of path into *out (malloc'd). */
static int read_value_file(struct cli *c, const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_err(c, "kv: --value-file %s: %s", path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	char *buf = malloc(SMR_VALUE_MAX + 1);
	size_t n = buf ? fread(buf, 1, SMR_VALUE_MAX + 1, f) : 0;
	bool err = !buf || ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		cli_err(c, "kv: --value-file %s: read error", path);
		return CLI_EXIT_USAGE;
	}
	if (n > SMR_VALUE_MAX) {
		free(buf);
		cli_err(c, "kv: --value-file %s: larger than %u bytes (the value limit)", path,
			SMR_VALUE_MAX);
		return CLI_EXIT_USAGE;
	}
	*out = buf;
	*len = n;
	return CLI_EXIT_OK;
}

static void print_json(const char *key, const void *val, size_t vlen, bool has_val,
		       uint64_t revision)
{
	struct cli_json j;
	cli_json_init(&j, stdout);
	cli_json_begin_object(&j);
	cli_json_key(&j, "key");
	cli_json_string(&j, key);
	cli_json_key(&j, "value");
	if (has_val)
		cli_json_string_n(&j, (const char *)val, vlen);
	else
		cli_json_null(&j);
	cli_json_key(&j, "revision");
	cli_json_uint(&j, revision);
	cli_json_end_object(&j);
}

static int kv_range(struct cli *c, int argc, char **argv)
{
	const char *prefix = NULL, *after = NULL;
	uint32_t limit = 0;
	bool serializable = false, after_dd = false;
	for (int i = 2; i < argc; i++) {
		if (after_dd || !cli_is_option(argv[i])) {
			if (prefix)
				return usage(c, "kv range: unexpected argument '%s'", argv[i]);
			prefix = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			after_dd = true;
		} else if (cli_is_help(argv[i])) {
			fputs(kv_help, stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--serializable") == 0) {
			serializable = true;
		} else if (strcmp(argv[i], "--limit") == 0) {
			if (i + 1 >= argc || !cli_parse_u32(argv[i + 1], 1, 10000, &limit))
				return usage(c, "%s", "kv range: --limit needs a number 1..10000");
			i++;
		} else if (strcmp(argv[i], "--after") == 0) {
			if (i + 1 >= argc)
				return usage(c, "%s", "kv range: --after needs a key");
			after = argv[++i];
		} else {
			return usage(c, "kv range: unknown option '%s'", argv[i]);
		}
	}
	if (!prefix)
		return usage(c, "%s", "kv range: needs PREFIX (\"\" for every key)");
	struct cli_op_args a = {
		.module = "kv", .what = "kv range", .op = CLI_OP_RANGE,
		.key = prefix, .key_len = strlen(prefix),
		.value = after, .value_len = after ? strlen(after) : 0,
		.serializable = serializable, .limit = limit,
	};
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	int rc = cli_op(c, &a, &resp, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (!reply) {
		cli_err(c, "%s", "kv range: the node answered without keys");
		if (resp)
			strata__client__response__free_unpacked(resp, NULL);
		return CLI_EXIT_FAIL;
	}
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "revision");
		cli_json_uint(&j, reply->revision);
		cli_json_key(&j, "kvs");
		cli_json_begin_array(&j);
		for (size_t i = 0; i < reply->n_kvs; i++) {
			const Strata__Client__KeyValue *kv = reply->kvs[i];
			cli_json_begin_object(&j);
			cli_json_key(&j, "key");
			cli_json_string_n(&j, (const char *)kv->key.data, kv->key.len);
			cli_json_key(&j, "value");
			cli_json_string_n(&j, (const char *)kv->value.data, kv->value.len);
			cli_json_key(&j, "revision");
			cli_json_uint(&j, kv->mod_revision);
			cli_json_key(&j, "create_revision");
			cli_json_uint(&j, kv->create_revision);
			cli_json_key(&j, "version");
			cli_json_uint(&j, kv->version);
			cli_json_end_object(&j);
		}
		cli_json_end_array(&j);
		cli_json_key(&j, "more");
		cli_json_bool(&j, reply->more);
		cli_json_end_object(&j);
	} else {
		for (size_t i = 0; i < reply->n_kvs; i++) {
			const Strata__Client__KeyValue *kv = reply->kvs[i];
			fwrite(kv->key.data, 1, kv->key.len, stdout);
			fputc('\t', stdout);
			fwrite(kv->value.data, 1, kv->value.len, stdout);
			fputc('\n', stdout);
		}
		if (reply->more && reply->n_kvs > 0) {
			const Strata__Client__KeyValue *last = reply->kvs[reply->n_kvs - 1];
			fprintf(stderr, "(more keys match: continue with --after %.*s)\n",
				(int)last->key.len, (const char *)last->key.data);
		}
	}
	strata__client__response__free_unpacked(resp, NULL);
	return CLI_EXIT_OK;
}

/* ---- watch ---- */

struct watch_filter {
	const char *key;
	size_t klen;
	bool prefix;
};

static bool watch_match(const struct watch_filter *f, const uint8_t *key, size_t klen)
{
	if (f->prefix)
		return klen >= f->klen && memcmp(key, f->key, f->klen) == 0;
	return klen == f->klen && memcmp(key, f->key, klen) == 0;
}

static void print_change(struct cli *c, const uint8_t *key, size_t klen, const uint8_t *val,
			 size_t vlen, uint64_t rev, uint64_t create, uint64_t version)
{
	bool del = version == 0;
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "type");
		cli_json_string(&j, del ? "delete" : "put");
		cli_json_key(&j, "key");
		cli_json_string_n(&j, (const char *)key, klen);
		cli_json_key(&j, "value");
		if (del)
			cli_json_null(&j);
		else
			cli_json_string_n(&j, (const char *)val, vlen);
		cli_json_key(&j, "revision");
		cli_json_uint(&j, rev);
		cli_json_key(&j, "create_revision");
		cli_json_uint(&j, create);
		cli_json_key(&j, "version");
		cli_json_uint(&j, version);
		cli_json_end_object(&j); /* ends the line */
	} else {
		fputs(del ? "DELETE " : "PUT ", stdout);
		fwrite(key, 1, klen, stdout);
		if (!del) {
			fputc(' ', stdout);
			fwrite(val, 1, vlen, stdout);
		}
		printf(" (revision %" PRIu64 ")\n", rev);
	}
	fflush(stdout);
}

/* The changes of one event payload of module kv (the node's range encoding, one item per
 * change): prints those after *covered that match, advancing *covered and *seen. false if the
 * payload is malformed. */
static bool watch_payload(struct cli *c, const struct watch_filter *f, const uint8_t *p,
			  size_t len, uint64_t *covered, uint64_t *seen, uint64_t count)
{
	struct strata_rd rd;
	strata_rd_init(&rd, p, len);
	uint64_t n = strata_rd_u64_max(&rd, len);
	for (uint64_t i = 0; i < n && strata_rd_ok(&rd) && (!count || *seen < count); i++) {
		const uint8_t *k, *v;
		size_t kl = strata_rd_bytes(&rd, &k, SMR_KEY_MAX);
		size_t vl = strata_rd_bytes(&rd, &v, SMR_VALUE_MAX);
		uint64_t rev = strata_rd_u64(&rd), create = strata_rd_u64(&rd);
		uint64_t version = strata_rd_u64(&rd);
		if (!strata_rd_ok(&rd))
			return false;
		if (rev <= *covered)
			continue; /* already printed from the history */
		*covered = rev;
		if (!watch_match(f, k, kl))
			continue;
		print_change(c, k, kl, v, vl, rev, create, version);
		(*seen)++;
	}
	return strata_rd_ok(&rd);
}

/* Replays the node's history from revision `from` on (in pages), printing the matching
 * changes. CLI_EXIT_OK with *covered = the last revision the history answered for. */
static int watch_history(struct cli *c, const struct cli_endpoint *ep,
			 const struct watch_filter *f, uint64_t from, uint64_t *covered,
			 uint64_t *seen, uint64_t count)
{
	char err[256], who[128];
	cli_describe(ep, who, sizeof(who));
	int fd = cli_connect(ep, cli_now_ms() + (uint64_t)c->timeout_ms, err, sizeof(err));
	if (fd < 0) {
		cli_err(c, "kv watch: %s: %s", who, err);
		return CLI_EXIT_UNKNOWN;
	}
	int rc = CLI_EXIT_OK;
	for (;;) {
		Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
		Strata__Client__OpRequest op = STRATA__CLIENT__OP_REQUEST__INIT;
		op.module = (char *)(uintptr_t)"kv";
		op.op = 8; /* history (STRATA_OP_HISTORY) */
		op.key.data = (uint8_t *)(uintptr_t)f->key;
		op.key.len = f->klen;
		op.prefix = f->prefix;
		op.seq = from;
		op.limit = 1000;
		req.id = cli_next_id(c);
		req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
		req.op = &op;
		Strata__Client__Response *r = NULL;
		uint64_t dl = cli_now_ms() + (uint64_t)c->timeout_ms;
		if (cli_send(fd, &req, dl, err, sizeof(err)) != 0 ||
		    cli_recv(fd, &r, dl, err, sizeof(err)) != 0) {
			cli_err(c, "kv watch: %s: history: %s", who, err[0] ? err : "no answer");
			rc = CLI_EXIT_UNKNOWN;
			break;
		}
		if (r->status != 0 || r->body_case != STRATA__CLIENT__RESPONSE__BODY_OP) {
			cli_err(c, "kv watch: %s", r->error && r->error[0] ? r->error
						       : "the node answered without a history");
			strata__client__response__free_unpacked(r, NULL);
			rc = CLI_EXIT_FAIL;
			break;
		}
		const Strata__Client__OpReply *o = r->op;
		for (size_t i = 0; i < o->n_kvs && (!count || *seen < count); i++) {
			const Strata__Client__KeyValue *kv = o->kvs[i];
			print_change(c, kv->key.data, kv->key.len, kv->value.data, kv->value.len,
				     kv->mod_revision, kv->create_revision, kv->version);
			(*seen)++;
		}
		*covered = o->revision;
		bool more = o->more;
		strata__client__response__free_unpacked(r, NULL);
		if (!more || (count && *seen >= count))
			break;
		from = *covered + 1;
	}
	close(fd);
	return rc;
}

static int kv_watch(struct cli *c, int argc, char **argv)
{
	struct watch_filter f = { 0 };
	bool have = false, after_dd = false;
	uint64_t from = 0;
	uint32_t count = 0;
	for (int i = 2; i < argc; i++) {
		if (after_dd || !cli_is_option(argv[i])) {
			if (have)
				return usage(c, "kv watch: unexpected argument '%s'", argv[i]);
			f.key = argv[i];
			have = true;
		} else if (strcmp(argv[i], "--") == 0) {
			after_dd = true;
		} else if (cli_is_help(argv[i])) {
			fputs(kv_help, stdout);
			return CLI_EXIT_OK;
		} else if (strcmp(argv[i], "--prefix") == 0) {
			if (have || i + 1 >= argc)
				return usage(c, "%s", "kv watch: --prefix needs P, instead of KEY");
			f.key = argv[++i];
			f.prefix = true;
			have = true;
		} else if (strcmp(argv[i], "--from") == 0) {
			char *end = NULL;
			errno = 0;
			if (i + 1 >= argc || !argv[i + 1][0] || argv[i + 1][0] == '-')
				return usage(c, "%s", "kv watch: --from needs a revision (1 or more)");
			unsigned long long v = strtoull(argv[i + 1], &end, 10);
			if (errno || *end || v == 0)
				return usage(c, "%s", "kv watch: --from needs a revision (1 or more)");
			from = v;
			i++;
		} else if (strcmp(argv[i], "--count") == 0) {
			if (i + 1 >= argc || !cli_parse_u32(argv[i + 1], 1, UINT32_MAX, &count))
				return usage(c, "%s", "kv watch: --count needs a number (1 or more)");
			i++;
		} else {
			return usage(c, "kv watch: unknown option '%s'", argv[i]);
		}
	}
	if (!have)
		return usage(c, "%s", "kv watch: needs KEY or --prefix P");
	f.klen = strlen(f.key);
	if (!f.prefix && f.klen == 0)
		return usage(c, "%s", "kv: the key must not be empty");
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, false, eps, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	/* The stream first, then the history from the same node: every change after the history's
	 * last revision arrives on the stream (changes in both are printed once, by revision). */
	char err[256], who[128];
	int fd = -1, at = -1;
	for (int i = 0; i < n && fd < 0; i++) {
		fd = cli_connect(&eps[i], cli_now_ms() + (uint64_t)c->timeout_ms, err, sizeof(err));
		if (fd < 0)
			continue;
		Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
		Strata__Client__SubscribeRequest sr = STRATA__CLIENT__SUBSCRIBE_REQUEST__INIT;
		char *mods[1] = { (char *)(uintptr_t)"kv" };
		sr.deliveries = true;
		sr.modules = mods;
		sr.n_modules = 1;
		req.id = cli_next_id(c);
		req.body_case = STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE;
		req.subscribe = &sr;
		Strata__Client__Response *ack = NULL;
		uint64_t dl = cli_now_ms() + (uint64_t)c->timeout_ms;
		if (cli_send(fd, &req, dl, err, sizeof(err)) != 0 ||
		    cli_recv(fd, &ack, dl, err, sizeof(err)) != 0 || ack->status != 0) {
			if (ack)
				strata__client__response__free_unpacked(ack, NULL);
			close(fd);
			fd = -1;
			continue;
		}
		strata__client__response__free_unpacked(ack, NULL);
		at = i;
	}
	if (fd < 0) {
		cli_err(c, "kv watch: no node answered (%s)", err);
		return CLI_EXIT_UNKNOWN;
	}
	cli_describe(&eps[at], who, sizeof(who));
	uint64_t covered = 0, seen = 0;
	if (from) {
		int rc = watch_history(c, &eps[at], &f, from, &covered, &seen, count);
		if (rc != CLI_EXIT_OK || (count && seen >= count)) {
			close(fd);
			return rc;
		}
	}
	int rc = CLI_EXIT_OK;
	while (!count || seen < count) {
		Strata__Client__Response *r = NULL;
		int s = cli_recv(fd, &r, 0, err, sizeof(err));
		if (s != 0) {
			cli_err(c, "kv watch: the stream from %s ended after revision %" PRIu64 " (%s); "
				"a node drops a watcher more than [client] queue_max bytes behind; "
				"resume with --from %" PRIu64, who, covered, err, covered + 1);
			rc = CLI_EXIT_UNKNOWN;
			break;
		}
		if (r->status != 0) {
			cli_err(c, "kv watch: %s refused: %s", who, r->error ? r->error : "");
			strata__client__response__free_unpacked(r, NULL);
			rc = CLI_EXIT_FAIL;
			break;
		}
		if (r->body_case == STRATA__CLIENT__RESPONSE__BODY_EVENT && r->event->module &&
		    strcmp(r->event->module, "kv") == 0 && strcmp(r->event->kind, "deliver") == 0 &&
		    !watch_payload(c, &f, r->event->payload.data, r->event->payload.len, &covered,
				   &seen, count)) {
			cli_err(c, "kv watch: %s sent a malformed change event", who);
			strata__client__response__free_unpacked(r, NULL);
			rc = CLI_EXIT_FAIL;
			break;
		}
		strata__client__response__free_unpacked(r, NULL);
	}
	close(fd);
	return rc;
}

static const char *const status_fields[] = {
	"kv_leader", "kv_term", "kv_last_index", "kv_commit_index", "kv_applied_index",
	"store_syncs", "kv_snapshot_index", "kv_log_first", "kv_state_bytes", "kv_quota_bytes",
	"kv_quota_rejects",
};
#define NSTATUS (sizeof(status_fields) / sizeof(status_fields[0]))

/* The kv gauges of one node's status; false if it does not answer. */
static bool node_kv_status(struct cli *c, const struct cli_endpoint *ep, uint64_t *v)
{
	char err[200];
	int fd = cli_connect(ep, cli_now_ms() + (uint64_t)c->timeout_ms, err, sizeof(err));
	if (fd < 0)
		return false;
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__StatusRequest sr = STRATA__CLIENT__STATUS_REQUEST__INIT;
	req.id = cli_next_id(c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_STATUS;
	req.status = &sr;
	Strata__Client__Response *resp = NULL;
	uint64_t dl = cli_now_ms() + (uint64_t)c->timeout_ms;
	bool ok = cli_send(fd, &req, dl, err, sizeof(err)) == 0 &&
		  cli_recv(fd, &resp, dl, err, sizeof(err)) == 0 && resp &&
		  resp->body_case == STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY;
	for (size_t f = 0; f < NSTATUS; f++)
		v[f] = 0;
	for (size_t i = 0; ok && i < resp->status_reply->n_counters; i++)
		for (size_t f = 0; f < NSTATUS; f++)
			if (strcmp(resp->status_reply->counters[i]->name, status_fields[f]) == 0)
				v[f] = resp->status_reply->counters[i]->value;
	if (resp)
		strata__client__response__free_unpacked(resp, NULL);
	close(fd);
	return ok;
}

/* Entries in the log: last index - first index + 1 (after compaction). */
static uint64_t log_entries(const uint64_t *v)
{
	uint64_t first = v[7] ? v[7] : 1;
	return v[2] + 1 > first ? v[2] + 1 - first : 0;
}

static int kv_status(struct cli *c)
{
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, false, eps, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	struct cli_json j;
	if (c->json) {
		cli_json_init(&j, stdout);
		cli_json_begin_array(&j);
	} else {
		printf("%-5s %-7s %-6s %-8s %-8s %-8s %-9s %-9s %-8s %-23s %s\n", "node", "leader",
		       "term", "last", "commit", "applied", "snapshot", "log_size", "fsyncs",
		       "bytes/quota", "refused");
	}
	int answered = 0;
	for (int i = 0; i < n; i++) {
		uint64_t v[NSTATUS];
		bool ok = node_kv_status(c, &eps[i], v);
		answered += ok;
		if (c->json) {
			cli_json_begin_object(&j);
			cli_json_key(&j, "node");
			cli_json_uint(&j, eps[i].id);
			cli_json_key(&j, "up");
			cli_json_bool(&j, ok);
			if (ok) {
				const char *names[] = { "leader", "term", "last_index", "commit_index",
							"applied_index", "fsyncs", "snapshot_index",
							"log_first", "state_bytes", "quota_bytes",
							"quota_rejects" };
				for (size_t f = 0; f < NSTATUS; f++) {
					cli_json_key(&j, names[f]);
					cli_json_uint(&j, v[f]);
				}
				cli_json_key(&j, "log_entries");
				cli_json_uint(&j, log_entries(v));
			}
			cli_json_end_object(&j);
		} else if (ok) {
			char bq[48];
			snprintf(bq, sizeof(bq), "%llu/%llu", (unsigned long long)v[8],
				 (unsigned long long)v[9]);
			printf("%-5u %-7llu %-6llu %-8llu %-8llu %-8llu %-9llu %-9llu %-8llu %-23s "
			       "%llu\n",
			       eps[i].id, (unsigned long long)v[0], (unsigned long long)v[1],
			       (unsigned long long)v[2], (unsigned long long)v[3],
			       (unsigned long long)v[4], (unsigned long long)v[6],
			       (unsigned long long)log_entries(v), (unsigned long long)v[5], bq,
			       (unsigned long long)v[10]);
		} else {
			printf("%-5u (no answer)\n", eps[i].id);
		}
	}
	if (c->json) {
		cli_json_end_array(&j);
	}
	return answered ? CLI_EXIT_OK : CLI_EXIT_UNKNOWN;
}

int cmd_kv(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(kv_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "algos") == 0)
		return cli_print_algos(c, "smr");
	if (strcmp(sub, "range") == 0)
		return kv_range(c, argc, argv);
	if (strcmp(sub, "watch") == 0)
		return kv_watch(c, argc, argv);
	if (strcmp(sub, "status") == 0)
		return argc == 2 ? kv_status(c) : usage(c, "%s", "kv status: takes no arguments");
	uint32_t op;
	int want;
	if (strcmp(sub, "put") == 0) {
		op = CLI_OP_WRITE;
		want = 2;
	} else if (strcmp(sub, "get") == 0) {
		op = CLI_OP_READ;
		want = 1;
	} else if (strcmp(sub, "del") == 0 || strcmp(sub, "delete") == 0) {
		op = CLI_OP_DELETE;
		want = 1;
	} else if (strcmp(sub, "cas") == 0) {
		op = CLI_OP_CAS;
		want = 3;
	} else {
		return usage(c, "kv: unknown subcommand '%s' (put, get, del, cas, range, watch, status, "
			     "algos)",
			     sub);
	}
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0;
	bool serializable = false;
	const char *vfile = NULL;
	bool after_dd = false;
	for (int i = 2; i < argc; i++) {
		/* After "--", and for "-5"-like values, an argument is positional (as in reg, lkv). */
		if (after_dd || !cli_is_option(argv[i])) {
			if (npos >= want)
				return cli_usage_err(c, "kv", "kv %s: unexpected argument '%s'", sub, argv[i]);
			pos[npos++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			after_dd = true;
			continue;
		}
		if (cli_is_help(argv[i])) {
			fputs(kv_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--serializable") == 0) {
			serializable = true;
			continue;
		}
		if (strcmp(argv[i], "--value-file") == 0) {
			if (i + 1 >= argc)
				return usage(c, "%s", "kv: --value-file needs a file");
			vfile = argv[++i];
			continue;
		}
		return cli_usage_err(c, "kv", "kv %s: unknown option '%s'", sub, argv[i]);
	}
	if (vfile && op != CLI_OP_WRITE && op != CLI_OP_CAS)
		return usage(c, "kv %s: --value-file applies to put and cas", sub);
	if (serializable && op != CLI_OP_READ)
		return usage(c, "kv %s: --serializable applies to get", sub);
	if (npos != want - (vfile ? 1 : 0))
		return usage(c, "%s", op == CLI_OP_WRITE ? "kv put: needs KEY VALUE (or KEY --value-file F)"
				      : op == CLI_OP_READ ? "kv get: needs KEY"
				      : op == CLI_OP_CAS ? "kv cas: needs KEY EXPECTED NEW (or --value-file F)"
							 : "kv del: needs KEY");
	if (!pos[0][0])
		return usage(c, "%s", "kv: the key must not be empty");
	char *fbuf = NULL;
	size_t flen = 0;
	if (vfile) {
		int rc = read_value_file(c, vfile, &fbuf, &flen);
		if (rc)
			return rc;
	}
	/* The new value: VALUE of put, NEW of cas, or the file's bytes. */
	const char *nv = fbuf ? fbuf : op == CLI_OP_WRITE ? pos[1] : op == CLI_OP_CAS ? pos[2] : NULL;
	size_t nvlen = fbuf ? flen : nv ? strlen(nv) : 0;
	uint64_t session = 0;
	if (op != CLI_OP_READ) {
		randombytes_buf(&session, sizeof(session));
		session |= 1;
	}
	char what[32];
	snprintf(what, sizeof what, "kv %s", sub);
	struct cli_op_args a = {
		.module = "kv",
		.what = what,
		.op = op,
		.key = pos[0],
		.key_len = strlen(pos[0]),
		.value = op == CLI_OP_CAS ? pos[1] : nv,
		.value_len = op == CLI_OP_CAS ? strlen(pos[1]) : nvlen,
		.value2 = op == CLI_OP_CAS ? nv : NULL,
		.value2_len = op == CLI_OP_CAS ? nvlen : 0,
		.session = session,
		.seq = session ? 1 : 0,
		.serializable = serializable,
	};
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	int rc = cli_op(c, &a, &resp, &reply);
	if (rc != CLI_EXIT_OK) {
		free(fbuf);
		return rc;
	}
	bool found = reply && reply->found;
	uint64_t rev = reply ? reply->revision : 0;
	if (c->json) {
		if (op == CLI_OP_READ)
			print_json(pos[0], found ? reply->value.data : NULL,
				   found ? reply->value.len : 0, found, rev);
		else
			print_json(pos[0], nv, nvlen, op != CLI_OP_DELETE, rev);
	} else if (op == CLI_OP_READ) {
		if (found) {
			fwrite(reply->value.data, 1, reply->value.len, stdout);
			fputc('\n', stdout);
		} else {
			printf("null\n");
		}
	} else {
		printf("ok (revision %llu)\n", (unsigned long long)rev);
	}
	if (resp)
		strata__client__response__free_unpacked(resp, NULL);
	free(fbuf);
	return CLI_EXIT_OK;
}
