/* `strata bcast`: broadcast with any broadcast algorithm of the build and watch deliveries.
 *
 *   strata bcast send MESSAGE [--algo NAME]         returns once the node has broadcast it
 *   strata bcast listen [--algo NAME] [--all] [--count N] [--duration SEC]
 *   strata bcast algos
 *
 * listen subscribes to deliveries (Event kind "deliver") of one node (-n, default the first that
 * answers) or of every node (--all) and prints one line per delivery: delivering node, original
 * sender, sequence number, vector clock where the algorithm has one, payload. With -w json each
 * delivery is one JSON object per line with node, sender, seq, payload, module and vc. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/error.h"
#include "core/stack.h"

static const char bcast_help[] =
	"usage: strata bcast send [--] MESSAGE [--algo NAME] [--repeat N]\n"
	"       strata bcast send --value-file FILE [--algo NAME] [--repeat N]\n"
	"       strata bcast listen [--algo NAME] [--all] [--count N] [--duration SEC]\n"
	"       strata bcast algos\n"
	"\n"
	"send: the node (-n, default the first that answers) broadcasts MESSAGE with algorithm NAME\n"
	"(default: the cluster's bcast_algo, else urb); it returns once the node has broadcast.\n"
	"--repeat N broadcasts N messages \"MESSAGE-1\" ... \"MESSAGE-N\", one after the other.\n"
	"listen: streams deliveries of one node, or of every node with --all, until Ctrl-C, N\n"
	"deliveries, or SEC seconds. -w json prints one object per delivery:\n"
	"  {\"node\":2,\"sender\":1,\"seq\":7,\"payload\":\"hi\",\"module\":\"urb\",\"vc\":[...]}\n"
	"What a recovered node (lbeb, lurb, ltob) announces again of what it logged before its\n"
	"crash is not a new delivery and is not printed.\n";

static const char *default_algo(struct cli *c)
{
	const struct strata_config *cfg = c->endpoint[0] ? NULL : cli_config(c);
	return cfg && cfg->bcast_algo[0] ? cfg->bcast_algo : "urb";
}

/* Resolves NAME (or an alias such as causal) to the algorithm's module name. */
static int check_algo(struct cli *c, const char **algo)
{
	const struct strata_algo *a = strata_algo_find(*algo);
	if (!a || strcmp(a->family, "bcast") != 0)
		return cli_usage_err(c, "bcast",
				     "bcast: unknown broadcast algorithm '%s' (see `strata bcast algos`)",
				     *algo);
	*algo = a->name;
	int runnable = cli_algo_runnable(c, a, "bcast");
	if (runnable != CLI_EXIT_OK)
		return runnable;
	return CLI_EXIT_OK;
}

/* One broadcast request. A node whose broadcast window is full answers STRATA_EFULL, which
 * means "slow down", not failure: wait a little and ask again, for up to the --timeout. */
static int send_one(struct cli *c, const char *algo, const char *msg, size_t len)
{
	uint64_t deadline = cli_now_ms() + (uint64_t)c->timeout_ms;
	unsigned pause_ms = 5;
	for (;;) {
		Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
		Strata__Client__OpRequest op = STRATA__CLIENT__OP_REQUEST__INIT;
		op.module = (char *)algo;
		op.op = CLI_OP_BROADCAST;
		op.value.data = (uint8_t *)msg;
		op.value.len = len;
		req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
		req.op = &op;
		Strata__Client__Response *resp = NULL;
		int rc = cli_call(c, &req, false, &resp, NULL);
		if (rc != CLI_EXIT_OK)
			return rc;
		int status = resp->status;
		if (status == STRATA_EFULL && cli_now_ms() + pause_ms < deadline) {
			strata__client__response__free_unpacked(resp, NULL);
			usleep(pause_ms * 1000);
			pause_ms = pause_ms < 100 ? pause_ms * 2 : pause_ms;
			continue;
		}
		if (status != 0) {
			cli_err(c, "bcast send: %s%s",
				resp->error && resp->error[0] ? resp->error : strata_strerror(status),
				cli_unknown_suffix(status));
			strata__client__response__free_unpacked(resp, NULL);
			return cli_status_unknown(status) ? CLI_EXIT_UNKNOWN : CLI_EXIT_FAIL;
		}
		strata__client__response__free_unpacked(resp, NULL);
		return CLI_EXIT_OK;
	}
}

static int bcast_send(struct cli *c, const char *algo, const char *msg, uint32_t repeat)
{
	if (repeat) {
		/* One message after the other: each returns once the node has broadcast it. */
		for (uint32_t i = 1; i <= repeat; i++) {
			char buf[1024];
			snprintf(buf, sizeof buf, "%s-%u", msg, i);
			int rc = send_one(c, algo, buf, strlen(buf));
			if (rc != CLI_EXIT_OK)
				return rc;
		}
		if (!c->json)
			printf("broadcast %u messages\n", repeat);
		return CLI_EXIT_OK;
	}
	struct cli_op_args op = {
		.module = algo, .what = "bcast send", .op = CLI_OP_BROADCAST, .value = msg,
		.value_len = strlen(msg),
	};
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	int rc = cli_op(c, &op, &resp, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "algo");
		cli_json_string(&j, algo);
		cli_json_key(&j, "payload");
		cli_json_string(&j, msg);
		if (reply && reply->value.len) {
			cli_json_key(&j, "seq");
			cli_json_string_n(&j, (const char *)reply->value.data, reply->value.len);
		}
		cli_json_end_object(&j);
	} else {
		printf("broadcast\n");
	}
	if (resp)
		strata__client__response__free_unpacked(resp, NULL);
	return CLI_EXIT_OK;
}

static void print_delivery(struct cli *c, uint32_t node, const Strata__Client__Event *e)
{
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "node");
		cli_json_uint(&j, e->node ? e->node : node);
		cli_json_key(&j, "sender");
		cli_json_uint(&j, e->peer);
		cli_json_key(&j, "seq");
		cli_json_uint(&j, e->seq);
		cli_json_key(&j, "payload");
		cli_json_string_n(&j, (const char *)e->payload.data, e->payload.len);
		cli_json_key(&j, "module");
		cli_json_string(&j, e->module ? e->module : "");
		cli_json_key(&j, "vc");
		cli_json_begin_array(&j);
		for (size_t i = 0; i < e->n_vc; i++)
			cli_json_uint(&j, e->vc[i]);
		cli_json_end_array(&j);
		cli_json_key(&j, "wall_ms");
		cli_json_uint(&j, e->wall_ms);
		cli_json_end_object(&j);
	} else {
		printf("node %u delivered %u:%llu", e->node ? e->node : node, e->peer,
		       (unsigned long long)e->seq);
		if (e->n_vc) {
			printf(" vc [");
			for (size_t i = 0; i < e->n_vc; i++)
				printf("%s%llu", i ? "," : "", (unsigned long long)e->vc[i]);
			printf("]");
		}
		printf(" (%s) ", e->module ? e->module : "");
		fwrite(e->payload.data, 1, e->payload.len, stdout);
		fputc('\n', stdout);
	}
	fflush(stdout);
}

/* Every delivery of the subscribed module (one algorithm, or every module). */
static bool bcast_event(struct cli *c, uint32_t node, const Strata__Client__Event *e, void *arg)
{
	(void)arg;
	if (strcmp(e->kind, "deliver") != 0)
		return false;
	print_delivery(c, node, e);
	return true;
}

static int bcast_listen(struct cli *c, const char *algo, bool all, uint64_t count,
			uint32_t duration)
{
	struct cli_watch w = { .what = "bcast listen", .module = algo, .all = all,
			       .count = count, .duration = duration, .lost_unknown = true,
			       .fn = bcast_event };
	return cli_watch(c, &w);
}

int cmd_bcast(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(bcast_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "algos") == 0)
		return cli_print_algos(c, "bcast");
	bool send = strcmp(sub, "send") == 0;
	if (!send && strcmp(sub, "listen") != 0)
		return cli_usage_err(c, "bcast", "bcast: unknown subcommand '%s'", sub);
	const char *algo = NULL, *msg = NULL;
	bool all = false;
	uint32_t count = 0, duration = 0, repeat = 0;
	const char *value_file = NULL;
	bool after_dd = false;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (send && (after_dd || !cli_is_option(a))) {
			if (msg)
				return cli_usage_err(c, "bcast", "bcast: unexpected argument '%s'", a);
			msg = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			after_dd = true;
			continue;
		}
		if (send && !strcmp(a, "--value-file") && i + 1 < argc) {
			value_file = argv[++i];
			continue;
		}
		if (cli_is_help(a)) {
			fputs(bcast_help, stdout);
			return CLI_EXIT_OK;
		}
		if (!strcmp(a, "--algo") && i + 1 < argc)
			algo = argv[++i];
		else if (send && !strcmp(a, "--repeat") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 10000000, &repeat))
				return cli_usage_err(c, "bcast", "bcast: bad --repeat");
		} else if (!send && !strcmp(a, "--all"))
			all = true;
		else if (!send && !strcmp(a, "--count") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 100000000, &count))
				return cli_usage_err(c, "bcast", "bcast: bad --count");
		} else if (!send && !strcmp(a, "--duration") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 86400 * 365, &duration))
				return cli_usage_err(c, "bcast", "bcast: bad --duration");
		} else if (a[0] == '-' && a[1])
			return cli_usage_err(c, "bcast", "bcast: unknown option '%s'", a);
		else if (send && !msg)
			msg = a;
		else
			return cli_usage_err(c, "bcast", "bcast: unexpected argument '%s'", a);
	}
	if (send && value_file && msg)
		return cli_usage_err(c, "bcast", "bcast send: MESSAGE or --value-file, not both");
	if (send && !msg && !value_file)
		return cli_usage_err(c, "bcast", "bcast send: needs MESSAGE (or --value-file FILE)");
	if (send && !algo)
		algo = default_algo(c);
	if (algo) {
		int rc = check_algo(c, &algo);
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	if (!send)
		return bcast_listen(c, algo, all, count, duration);
	if (!value_file)
		return bcast_send(c, algo, msg, repeat);
	char *buf = NULL;
	size_t len = 0;
	int frc = cli_read_value_file(c, "bcast", value_file, &buf, &len);
	if (frc != CLI_EXIT_OK)
		return frc;
	/* Messages are text here (--repeat appends "-N"): a NUL byte would cut one short. */
	if (memchr(buf, 0, len)) {
		free(buf);
		return cli_usage_err(c, "bcast", "bcast send: --value-file %s holds a NUL byte "
						 "(messages are text)",
				     value_file);
	}
	buf[len] = '\0';
	int rc = bcast_send(c, algo, buf, repeat);
	free(buf);
	return rc;
}
