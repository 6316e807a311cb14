/* `strata job`: the job handlers of seed 1.1.4 (jh-sync, jh-async) and the layered module of
 * 1.1.3 (jt over jh-async), see docs/first-module.md.
 *
 *   strata job submit JOB [--algo jh-sync|jh-async|jt] [--delay-ms MS] [--no-wait]
 *   strata job watch [--all] [--count N] [--duration SEC]
 *   strata job algos
 *
 * submit hands JOB to one node's handler (-n, default the first that answers) on a connection
 * that also subscribes to the handler's job events, and prints when the job was confirmed and
 * when it was processed, in the order they happened: jh-sync processes, then confirms; jh-async
 * confirms at once and processes later. Exit 0 confirmed (and, for jh-async and jt, processed
 * within --timeout after the processing delay), 1 refused (a full handler, or a bad job), 3
 * outcome unknown (no answer). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

#define JOB_OP_WRITE 2u
#define JOB_DELAY_MAX_MS 10000u

static const char job_help[] =
	"usage: strata job submit JOB [--algo jh-sync|jh-async|jt] [--delay-ms MS] [--no-wait]\n"
	"       strata job watch [--all] [--count N] [--duration SEC]\n"
	"       strata job algos\n"
	"\n"
	"submit: the node (-n, default the first that answers) handles JOB with the synchronous\n"
	"(jh-sync: process, then confirm) or asynchronous (jh-async, the default: confirm, buffer,\n"
	"process later) job handler, or with jt, a layered module that upper-cases the job and hands\n"
	"it to jh-async. Processing takes MS milliseconds (default 100, at most 10000) and computes\n"
	"the job's checksum. Prints the confirmation and the processing in the order they happened.\n"
	"--no-wait returns once the job is confirmed (jh-async and jt: before it is processed).\n"
	"Exit 0 confirmed (and processed), 1 refused (the handler is full: submit again), 3 unknown.\n"
	"-w json: {\"algo\":\"jh-async\",\"node\":1,\"seq\":4,\"confirmed_ms\":3,\n"
	"          \"processed_ms\":104,\"checksum\":\"af63dc4c8601ec8c\"}\n"
	"watch: streams every job event of one node, or of every node with --all:\n"
	"  node 2 jh-async job 4 confirmed: JOB\n"
	"  node 2 jh-async job 4 processed checksum=af63dc4c8601ec8c: JOB\n";

static bool is_job_module(const char *name)
{
	const struct strata_algo *a = name ? strata_algo_find(name) : NULL;
	return a && strcmp(a->family, "jh") == 0;
}

static int subscribe(struct cli *c, int fd, const char *mod1, const char *mod2, char *err,
		     size_t errlen)
{
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__SubscribeRequest sr = STRATA__CLIENT__SUBSCRIBE_REQUEST__INIT;
	char *mods[2] = { (char *)mod1, (char *)mod2 };
	sr.deliveries = true;
	sr.modules = mods;
	sr.n_modules = mod1 ? (mod2 ? 2 : 1) : 0;
	req.id = cli_next_id(c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE;
	req.subscribe = &sr;
	return cli_send(fd, &req, cli_now_ms() + (uint64_t)c->timeout_ms, err, errlen);
}

struct job_seen {
	bool confirmed, processed;
	uint64_t seq, checksum, confirmed_ms, processed_ms;
	uint64_t early[16]; /* processed events seen before the confirmation: seqs */
	uint64_t early_sum[16], early_ms[16];
	unsigned nearly;
};

static void print_line(const char *algo, uint32_t node, uint64_t seq, const char *what,
		       uint64_t ms)
{
	printf("job %llu %s by %s at node %u after %llu ms\n", (unsigned long long)seq, what, algo,
	       node, (unsigned long long)ms);
	fflush(stdout);
}

static int job_submit(struct cli *c, const char *algo, const char *job, uint32_t delay_ms,
		      bool no_wait)
{
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, false, eps, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	/* jt's jobs are processed by the jh-async below it: its events carry the job's jh seq. */
	const char *proc_mod = strcmp(algo, "jt") == 0 ? "jh-async" : algo;
	int fd = -1;
	struct cli_endpoint who = { 0 };
	char err[256] = "";
	for (int i = 0; i < n && fd < 0; i++) {
		fd = cli_connect(&eps[i], cli_now_ms() + (uint64_t)c->timeout_ms, err, sizeof err);
		if (fd >= 0 && subscribe(c, fd, algo, strcmp(proc_mod, algo) ? proc_mod : NULL, err,
					 sizeof err) != 0) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0)
			who = eps[i];
	}
	if (fd < 0) {
		cli_err(c, "job submit: no node answered (%s)", err);
		return CLI_EXIT_UNKNOWN;
	}
	char delay[16];
	snprintf(delay, sizeof delay, "%u", delay_ms);
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest op = STRATA__CLIENT__OP_REQUEST__INIT;
	op.module = (char *)algo;
	op.op = JOB_OP_WRITE;
	op.key.data = (uint8_t *)delay;
	op.key.len = strlen(delay);
	op.value.data = (uint8_t *)job;
	op.value.len = strlen(job);
	req.id = cli_next_id(c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	req.op = &op;
	uint64_t t0 = cli_now_ms();
	uint64_t deadline = t0 + (uint64_t)c->timeout_ms;
	if (cli_send(fd, &req, deadline, err, sizeof err) != 0) {
		cli_err(c, "job submit: %s", err);
		close(fd);
		return CLI_EXIT_UNKNOWN;
	}
	struct job_seen s = { 0 };
	int rc = CLI_EXIT_UNKNOWN;
	bool sync = strcmp(algo, "jh-sync") == 0;
	for (;;) {
		Strata__Client__Response *r = NULL;
		int got = cli_recv(fd, &r, deadline, err, sizeof err);
		if (got != 0) {
			cli_err(c, "job submit (%s): %s: outcome unknown", algo,
				got > 0 ? (s.confirmed ? "confirmed, but not processed within --timeout"
						       : "no confirmation within --timeout")
					: err);
			break;
		}
		uint64_t now = cli_now_ms() - t0;
		if (r->body_case == STRATA__CLIENT__RESPONSE__BODY_EVENT) {
			const Strata__Client__Event *e = r->event;
			if (!strcmp(e->kind, "deliver") && e->module && !strcmp(e->module, proc_mod) &&
			    e->text && !strncmp(e->text, "processed checksum=", 19)) {
				uint64_t sum = strtoull(e->text + 19, NULL, 16);
				if (s.confirmed && e->seq == s.seq) {
					s.processed = true;
					s.checksum = sum;
					s.processed_ms = now;
				} else if (!s.confirmed && s.nearly < 16) {
					s.early[s.nearly] = e->seq;
					s.early_sum[s.nearly] = sum;
					s.early_ms[s.nearly++] = now;
				}
			}
		} else if (r->id == req.id) {
			if (r->status != 0) {
				cli_err(c, "job submit (%s): %s", algo,
					r->status == STRATA_EFULL
						? "refused: the handler is full (not confirmed; submit again)"
						: r->error && r->error[0] ? r->error
									  : strata_strerror(r->status));
				rc = CLI_EXIT_FAIL;
				strata__client__response__free_unpacked(r, NULL);
				break;
			}
			const Strata__Client__OpReply *o =
				r->body_case == STRATA__CLIENT__RESPONSE__BODY_OP ? r->op : NULL;
			struct strata_rd rd;
			strata_rd_init(&rd, o ? o->value.data : NULL, o ? o->value.len : 0);
			s.seq = strata_rd_u64(&rd);
			uint64_t sum = strata_rd_u64(&rd);
			bool processed = strata_rd_u8(&rd) != 0;
			if (!o || strata_rd_done(&rd) != 0) {
				cli_err(c, "job submit: malformed reply from the node");
				rc = CLI_EXIT_FAIL;
				strata__client__response__free_unpacked(r, NULL);
				break;
			}
			s.confirmed = true;
			s.confirmed_ms = now;
			if (processed) { /* jh-sync: processing came first */
				s.processed = true;
				s.checksum = sum;
				s.processed_ms = now;
			}
			for (unsigned k = 0; k < s.nearly && !s.processed; k++)
				if (s.early[k] == s.seq) {
					s.processed = true;
					s.checksum = s.early_sum[k];
					s.processed_ms = s.early_ms[k];
				}
			if (!s.processed) /* wait for the processing too */
				deadline = cli_now_ms() + delay_ms + (uint64_t)c->timeout_ms;
		}
		strata__client__response__free_unpacked(r, NULL);
		if (s.confirmed && (s.processed || no_wait)) {
			rc = CLI_EXIT_OK;
			break;
		}
	}
	close(fd);
	if (!s.confirmed)
		return rc;
	uint32_t node = who.id;
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "algo");
		cli_json_string(&j, algo);
		if (node) {
			cli_json_key(&j, "node");
			cli_json_uint(&j, node);
		}
		cli_json_key(&j, "seq");
		cli_json_uint(&j, s.seq);
		cli_json_key(&j, "confirmed_ms");
		cli_json_uint(&j, s.confirmed_ms);
		if (s.processed) {
			char hex[20];
			snprintf(hex, sizeof hex, "%016llx", (unsigned long long)s.checksum);
			cli_json_key(&j, "processed_ms");
			cli_json_uint(&j, s.processed_ms);
			cli_json_key(&j, "checksum");
			cli_json_string(&j, hex);
		}
		cli_json_end_object(&j);
		return rc;
	}
	char what[64];
	snprintf(what, sizeof what, "processed (checksum %016llx)", (unsigned long long)s.checksum);
	if (sync) {
		print_line(algo, node, s.seq, what, s.processed_ms);
		print_line(algo, node, s.seq, "confirmed", s.confirmed_ms);
	} else {
		print_line(algo, node, s.seq, "confirmed", s.confirmed_ms);
		if (s.processed)
			print_line(proc_mod, node, s.seq, what, s.processed_ms);
	}
	return rc;
}

static void print_event(struct cli *c, uint32_t node, const Strata__Client__Event *e)
{
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "node");
		cli_json_uint(&j, e->node ? e->node : node);
		cli_json_key(&j, "algo");
		cli_json_string(&j, e->module ? e->module : "");
		cli_json_key(&j, "seq");
		cli_json_uint(&j, e->seq);
		cli_json_key(&j, "event");
		cli_json_string(&j, e->text ? e->text : "");
		cli_json_key(&j, "job");
		cli_json_string_n(&j, (const char *)e->payload.data, e->payload.len);
		cli_json_key(&j, "wall_ms");
		cli_json_uint(&j, e->wall_ms);
		cli_json_end_object(&j);
	} else {
		printf("node %u %s job %llu %s: ", e->node ? e->node : node, e->module ? e->module : "",
		       (unsigned long long)e->seq, e->text ? e->text : "");
		fwrite(e->payload.data, 1, e->payload.len, stdout);
		fputc('\n', stdout);
	}
	fflush(stdout);
}

/* Every job handler module's events (the subscription names none). */
static bool job_event(struct cli *c, uint32_t node, const Strata__Client__Event *e, void *arg)
{
	(void)arg;
	if (strcmp(e->kind, "deliver") != 0 || !is_job_module(e->module))
		return false;
	print_event(c, node, e);
	return true;
}

static int job_watch(struct cli *c, bool all, uint32_t count, uint32_t duration)
{
	struct cli_watch w = { .what = "job watch", .all = all, .count = count,
			       .duration = duration, .lost_unknown = true, .fn = job_event };
	return cli_watch(c, &w);
}

int cmd_job(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(job_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "algos") == 0)
		return cli_print_algos(c, "jh");
	bool submit = strcmp(sub, "submit") == 0;
	if (!submit && strcmp(sub, "watch") != 0)
		return cli_usage_err(c, "job", "job: unknown subcommand '%s'", sub);
	const char *algo = "jh-async", *job = NULL;
	bool all = false, opts = true, no_wait = false;
	uint32_t count = 0, duration = 0, delay = 100;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (opts && cli_is_help(a)) {
			fputs(job_help, stdout);
			return CLI_EXIT_OK;
		}
		if (opts && !strcmp(a, "--")) {
			opts = false;
		} else if (opts && submit && !strcmp(a, "--algo") && i + 1 < argc) {
			algo = argv[++i];
		} else if (opts && submit && !strcmp(a, "--delay-ms") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 0, JOB_DELAY_MAX_MS, &delay))
				return cli_usage_err(c, "job", "job: --delay-ms needs 0..%u",
						     JOB_DELAY_MAX_MS);
		} else if (opts && submit && !strcmp(a, "--no-wait")) {
			no_wait = true;
		} else if (opts && !submit && !strcmp(a, "--all")) {
			all = true;
		} else if (opts && !submit && !strcmp(a, "--count") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 100000000, &count))
				return cli_usage_err(c, "job", "job: bad --count");
		} else if (opts && !submit && !strcmp(a, "--duration") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 86400 * 365, &duration))
				return cli_usage_err(c, "job", "job: bad --duration");
		} else if (opts && cli_is_option(a)) {
			return cli_usage_err(c, "job", "job: unknown option '%s'", a);
		} else if (submit && !job) {
			job = a;
		} else {
			return cli_usage_err(c, "job", "job: unexpected argument '%s'", a);
		}
	}
	if (!submit)
		return job_watch(c, all, count, duration);
	if (!job || !job[0])
		return cli_usage_err(c, "job", "job submit: needs a non-empty JOB");
	const struct strata_algo *a = strata_algo_find(algo);
	if (!a || strcmp(a->family, "jh") != 0)
		return cli_usage_err(c, "job", "job: unknown job handler '%s' (see `strata job algos`)",
				     algo);
	int rc = cli_algo_runnable(c, a, "job");
	return rc != CLI_EXIT_OK ? rc : job_submit(c, a->name, job, delay, no_wait);
}
