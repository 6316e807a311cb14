/* `strata top`: live per-node rates in the terminal, from every node's status.
 *
 *   strata top [--interval S] [--count N]
 *
 * Every S seconds (default 1) each node of the cluster is asked for its status; the rates are
 * the differences of its counters since the previous sample divided by the time between them:
 * datagrams and kilobytes in and out, stable-storage syncs and stores, KV commands and RESP
 * commands per second, with the node's leader and how many peers it suspects. On a terminal the
 * screen is redrawn; piped, one block per sample is printed (-w json: one JSON object per node
 * and sample, one per line). --count N stops after N samples with rates (default: until
 * Ctrl-C). Memory: two samples of at most STRATA_MAX_NODES nodes. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char top_help[] =
	"usage: strata top [--interval S] [--count N]\n"
	"\n"
	"Live per-node rates from every node's status, every S seconds (default 1): datagrams\n"
	"and KB in/out, syncs, stores, KV and RESP commands per second, the leader each node\n"
	"trusts and how many peers it suspects. Redraws the screen on a terminal; piped, prints\n"
	"one block per sample (-w json: one object per node and sample). --count N: stop after\n"
	"N samples (default: until Ctrl-C). For graphs, scrape the metrics_url of\n"
	"`strata status -w json` with Prometheus instead.\n"
	"Exit: 0, 2 usage, 3 no node answered the last sample.\n";

enum { T_DIN, T_DOUT, T_BIN, T_BOUT, T_SYNCS, T_STORES, T_KV, T_RESP, T_N };
static const char *const t_names[T_N] = {
	"dgram_in", "dgram_out", "bytes_in", "bytes_out", "syncs", "stores", "kv_commands",
	"resp_commands",
};

struct top_sample {
	bool ok;
	uint64_t at_ms;
	uint64_t v[T_N];
	uint32_t leader, suspected;
	uint64_t incarnation;
};

static void sample(struct cli *c, const struct cli_endpoint *ep, struct top_sample *s)
{
	Strata__Client__Response *resp = NULL;
	char err[256];
	memset(s, 0, sizeof *s);
	if (cli_status_fetch(c, ep, &resp, err, sizeof err) != 0)
		return;
	const Strata__Client__Status *st = resp->status_reply;
	if (resp->body_case == STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY && st) {
		s->ok = true;
		s->at_ms = cli_now_ms();
		s->leader = st->leader;
		s->incarnation = st->incarnation;
		for (size_t p = 0; p < st->n_peers; p++)
			if (st->peers[p]->id != st->node && strcmp(st->peers[p]->state, "alive") != 0)
				s->suspected++;
		for (size_t i = 0; i < st->n_counters; i++)
			for (int k = 0; k < T_N; k++)
				if (strcmp(st->counters[i]->name, t_names[k]) == 0)
					s->v[k] = st->counters[i]->value;
	}
	strata__client__response__free_unpacked(resp, NULL);
}

static double rate(const struct top_sample *a, const struct top_sample *b, int k)
{
	if (!a->ok || !b->ok || b->at_ms <= a->at_ms || b->v[k] < a->v[k] ||
	    a->incarnation != b->incarnation) /* restarted: counters began again */
		return -1;
	return (double)(b->v[k] - a->v[k]) * 1000.0 / (double)(b->at_ms - a->at_ms);
}

int cmd_top(struct cli *c, int argc, char **argv)
{
	double interval = 1;
	uint32_t count = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (cli_is_help(a)) {
			fputs(top_help, stdout);
			return CLI_EXIT_OK;
		}
		bool ok = v != NULL;
		if (!strcmp(a, "--interval")) {
			char *end = NULL;
			interval = ok ? strtod(v, &end) : -1;
			ok = ok && end && end != v && !*end && interval >= 0.1 && interval <= 3600;
		} else if (!strcmp(a, "--count")) {
			ok = ok && cli_parse_u32(v, 1, 1000000, &count);
		} else {
			return cli_usage_err(c, "top", "top: unknown option '%s'", a);
		}
		if (!ok)
			return cli_usage_err(c, "top", "top: bad or missing value for %s", a);
		i++;
	}
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int ne = cli_endpoints(c, false, eps, STRATA_MAX_NODES);
	if (ne <= 0)
		return CLI_EXIT_USAGE;
	struct top_sample *prev = calloc((size_t)ne, sizeof *prev);
	struct top_sample *cur = calloc((size_t)ne, sizeof *cur);
	if (!prev || !cur) {
		free(prev);
		free(cur);
		return CLI_EXIT_FAIL;
	}
	bool tty = isatty(STDOUT_FILENO) && !c->json;
	int rc = CLI_EXIT_OK;
	for (int i = 0; i < ne; i++)
		sample(c, &eps[i], &prev[i]);
	for (uint32_t shown = 0; count == 0 || shown < count; shown++) {
		struct timespec ts = { .tv_sec = (time_t)interval,
				       .tv_nsec = (long)((interval - (double)(time_t)interval) * 1e9) };
		nanosleep(&ts, NULL);
		int answered = 0;
		for (int i = 0; i < ne; i++) {
			sample(c, &eps[i], &cur[i]);
			answered += cur[i].ok;
		}
		if (tty)
			fputs("\033[H\033[J", stdout);
		if (!c->json)
			printf("%-5s %-7s %-4s %9s %9s %8s %8s %7s %8s %8s %8s\n", "node", "leader",
			       "susp", "dgram-in", "dgram-out", "KB-in", "KB-out", "syncs", "stores",
			       "kv-cmds", "resp-cmd");
		for (int i = 0; i < ne; i++) {
			const struct top_sample *a = &prev[i], *b = &cur[i];
			if (c->json) {
				struct cli_json j;
				cli_json_init(&j, stdout);
				cli_json_begin_object(&j);
				cli_json_key(&j, "node");
				cli_json_uint(&j, eps[i].id);
				cli_json_key(&j, "reachable");
				cli_json_bool(&j, b->ok);
				if (b->ok) {
					cli_json_key(&j, "leader");
					cli_json_uint(&j, b->leader);
					cli_json_key(&j, "suspected");
					cli_json_uint(&j, b->suspected);
					for (int k = 0; k < T_N; k++) {
						char key[48];
						snprintf(key, sizeof key, "%s_per_s", t_names[k]);
						cli_json_key(&j, key);
						double r = rate(a, b, k);
						if (r < 0)
							cli_json_null(&j);
						else
							cli_json_uint(&j, (uint64_t)(r + 0.5));
					}
				}
				cli_json_end_object(&j);
				continue;
			}
			if (!b->ok) {
				printf("%-5u unreachable\n", eps[i].id);
				continue;
			}
			char cells[T_N][16];
			for (int k = 0; k < T_N; k++) {
				double r = rate(a, b, k);
				if (k == T_BIN || k == T_BOUT)
					r = r < 0 ? r : r / 1024.0;
				if (r < 0)
					snprintf(cells[k], sizeof cells[k], "-");
				else
					snprintf(cells[k], sizeof cells[k], "%.0f", r);
			}
			printf("%-5u %-7u %-4u %9s %9s %8s %8s %7s %8s %8s %8s\n", eps[i].id,
			       b->leader, b->suspected, cells[T_DIN], cells[T_DOUT], cells[T_BIN],
			       cells[T_BOUT], cells[T_SYNCS], cells[T_STORES], cells[T_KV],
			       cells[T_RESP]);
		}
		if (!tty && !c->json)
			fputc('\n', stdout);
		fflush(stdout);
		struct top_sample *t = prev;
		prev = cur;
		cur = t;
		rc = answered ? CLI_EXIT_OK : CLI_EXIT_UNKNOWN;
	}
	free(prev);
	free(cur);
	return rc;
}
