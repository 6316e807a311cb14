/* `strata reg`: read and write registers through any register algorithm of the build.
 *
 *   strata reg write KEY VALUE [--algo NAME]
 *   strata reg read KEY [--algo NAME]
 *   strata reg algos
 *
 * The algorithm defaults to the cluster's [cluster] reg_algo, else nnar. Writes of single-writer
 * algorithms go to the configured writer unless -n names a node (which then gets the daemon's
 * clear error if it is not the writer). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/stack.h"

static const char reg_help[] =
	"usage: strata reg write KEY [--] VALUE [--algo NAME]\n"
	"       strata reg write KEY --value-file FILE [--algo NAME]\n"
	"       strata reg read KEY [--algo NAME]\n"
	"       strata reg algos\n"
	"\n"
	"Writes or reads register KEY with a register algorithm (see `strata reg algos`; default:\n"
	"the cluster's reg_algo, else nnar). A read of a register never written prints null.\n"
	"Each algorithm keeps its own registers: a key written with --algo nnar reads as null\n"
	"with --algo mv. A value starting with '-' goes after -- (or is a negative number).\n"
	"A read or write that gets no quorum within --timeout is not retried on another node\n"
	"(it lacks its quorum there too): the node answers at 3/4 of --timeout, naming the\n"
	"quorum the algorithm needs and which nodes answered in the current phase, and the\n"
	"operation may still take effect (exit 3); a second line says how many nodes the\n"
	"first reachable node sees alive (the only line when the node itself did not answer).\n"
	"Exit: 0 ok, 1 the node refused (the error says why), 2 usage, 3 outcome unknown.\n";

/* After a register operation timed out. If the node said so itself (node_said: its message names
 * the quorum and who answered), adds how many nodes the first reachable node sees alive, so the
 * user can tell nodes that are down from nodes that are up but silent. If no answer came at
 * all (the node is stopped or unreachable): which quorum the algorithm needs, and that view. */
static void explain_timeout(struct cli *c, const char *what, const struct strata_algo *a,
			    bool node_said)
{
	const struct strata_config *cfg = c->endpoint[0] ? NULL : cli_config(c);
	char need[160] = "";
	if (cfg) {
		uint32_t n = cfg->n, q;
		if (a->resilience_k == 3) {
			q = (n + cfg->f) / 2 + 1;
			snprintf(need, sizeof need, "a Byzantine quorum of %u of %u nodes (more than (n+f)/2)",
				 q, n);
		} else if (a->resilience_k == 2) {
			q = n / 2 + 1;
			snprintf(need, sizeof need, "a majority quorum of %u of %u nodes", q, n);
		} else {
			snprintf(need, sizeof need,
				 "an answer from every node its failure detector has not detected as "
				 "crashed (%u nodes)",
				 n);
		}
	}
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int ne = cli_endpoints(c, false, eps, STRATA_MAX_NODES);
	for (int i = 0; i < ne; i++) {
		Strata__Client__Response *resp = NULL;
		char err[256];
		if (cli_status_fetch(c, &eps[i], &resp, err, sizeof err) != 0)
			continue;
		const Strata__Client__Status *st = resp->status_reply;
		if (resp->body_case == STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY && st) {
			unsigned alive = 1; /* the node itself */
			char sus[256] = "";
			size_t sl = 0;
			for (size_t p = 0; p < st->n_peers; p++) {
				if (st->peers[p]->id == st->node)
					continue;
				if (strcmp(st->peers[p]->state, "alive") == 0)
					alive++;
				else if (sl < sizeof sus)
					sl += (size_t)snprintf(sus + sl, sizeof sus - sl, "%s%u",
							       sl ? "," : "", st->peers[p]->id);
			}
			if (node_said) /* the quorum and who answered are said: add who is up */
				cli_err(c, "%s: node %u sees %u of %u nodes alive%s%s%s", what, st->node,
					alive, st->n, sus[0] ? " (not: " : "", sus, sus[0] ? ")" : "");
			else
				cli_err(c, "%s: %s needs %s to answer within --timeout %d ms; node %u "
					   "sees %u of %u nodes alive%s%s%s",
					what, a->name, need[0] ? need : "a quorum", c->timeout_ms, st->node,
					alive, st->n, sus[0] ? " (not: " : "", sus, sus[0] ? ")" : "");
			strata__client__response__free_unpacked(resp, NULL);
			return;
		}
		strata__client__response__free_unpacked(resp, NULL);
	}
	if (!node_said && ne == 1 && eps[0].id)
		cli_err(c, "%s: %s needs %s to answer within --timeout %d ms; node %u did not answer "
			   "a status request either",
			what, a->name, need[0] ? need : "a quorum", c->timeout_ms, eps[0].id);
	else if (!node_said)
		cli_err(c, "%s: %s needs %s to answer within --timeout %d ms; no node answered a "
			   "status request either",
			what, a->name, need[0] ? need : "a quorum", c->timeout_ms);
}

static const char *default_algo(struct cli *c)
{
	const struct strata_config *cfg = c->endpoint[0] ? NULL : cli_config(c);
	return cfg && cfg->reg_algo[0] ? cfg->reg_algo : "nnar";
}

int cmd_reg(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(reg_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "algos") == 0)
		return cli_print_algos(c, "reg");
	bool write = strcmp(sub, "write") == 0;
	if (!write && strcmp(sub, "read") != 0)
		return cli_usage_err(c, "reg", "reg: unknown subcommand '%s'", sub);
	const char *pos[2] = { NULL, NULL };
	int npos = 0;
	const char *algo = NULL, *value_file = NULL;
	bool after_dd = false;
	for (int i = 2; i < argc; i++) {
		if (after_dd || !cli_is_option(argv[i])) {
			if (npos >= 2)
				return cli_usage_err(c, "reg", "reg: unexpected argument '%s'", argv[i]);
			pos[npos++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			after_dd = true;
			continue;
		}
		if (cli_is_help(argv[i])) {
			fputs(reg_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--algo") == 0) {
			if (i + 1 >= argc)
				return cli_usage_err(c, "reg", "reg: --algo needs a name");
			algo = argv[++i];
		} else if (strcmp(argv[i], "--value-file") == 0) {
			if (i + 1 >= argc)
				return cli_usage_err(c, "reg", "reg: --value-file needs a file name");
			value_file = argv[++i];
		} else if (strncmp(argv[i], "--algo=", 7) == 0) {
			algo = argv[i] + 7;
		} else {
			return cli_usage_err(c, "reg", "reg: unknown option '%s' (a value starting "
						       "with '-' goes after --)",
					     argv[i]);
		}
	}
	char *file_value = NULL;
	size_t file_len = 0;
	if (value_file) {
		if (!write || npos != 1)
			return cli_usage_err(c, "reg", "reg: --value-file goes with write KEY");
		int frc = cli_read_value_file(c, "reg", value_file, &file_value, &file_len);
		if (frc != CLI_EXIT_OK)
			return frc;
		pos[1] = "";
		npos = 2;
	}
	if (npos != (write ? 2 : 1))
		return cli_usage_err(c, "reg", write ? "reg write: needs KEY VALUE"
						     : "reg read: needs KEY");
	if (!pos[0][0])
		return cli_usage_err(c, "reg", "reg: the key must not be empty");
	if (!algo)
		algo = default_algo(c);
	const struct strata_algo *a = strata_algo_find(algo);
	if (!a || strcmp(a->family, "reg") != 0)
		return cli_usage_err(c, "reg", "reg: unknown register algorithm '%s' (see `strata reg "
					       "algos`)",
				     algo);
	algo = a->name; /* an alias names the module by its algorithm */
	int runnable = cli_algo_runnable(c, a, "reg");
	if (runnable != CLI_EXIT_OK)
		return runnable;
	/* Single-writer registers: send writes to the writer unless the user picked a node. */
	if (write && a->single_writer && !c->node && !c->endpoint[0]) {
		const struct strata_config *cfg = cli_config(c);
		if (!cfg)
			return CLI_EXIT_USAGE;
		c->node = cfg->writer ? cfg->writer : 1;
	}
	struct cli_op_args op = {
		.module = algo,
		.what = write ? "reg write" : "reg read",
		.op = write ? CLI_OP_WRITE : CLI_OP_READ,
		.key = pos[0],
		.key_len = strlen(pos[0]),
		.value = write ? (file_value ? file_value : pos[1]) : NULL,
		.value_len = write ? (file_value ? file_len : strlen(pos[1])) : 0,
		.no_retry = true,
	};
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	int rc = cli_op(c, &op, &resp, &reply);
	if (rc == CLI_EXIT_UNKNOWN)
		explain_timeout(c, write ? "reg write" : "reg read", a, c->node_timed_out);
	if (rc != CLI_EXIT_OK) {
		free(file_value);
		return rc;
	}
	bool found = reply && reply->found;
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "key");
		cli_json_string(&j, pos[0]);
		cli_json_key(&j, "value");
		if (write)
			cli_json_string_n(&j, op.value, op.value_len);
		else if (found)
			cli_json_string_n(&j, (const char *)reply->value.data, reply->value.len);
		else
			cli_json_null(&j);
		cli_json_key(&j, "algo");
		cli_json_string(&j, algo);
		cli_json_end_object(&j);
	} else if (write) {
		printf("ok\n");
	} else if (found) {
		fwrite(reply->value.data, 1, reply->value.len, stdout);
		fputc('\n', stdout);
	} else {
		printf("null\n");
		/* Each algorithm is its own store: the key may well hold a value under another. */
		fprintf(stderr, "strata: reg read: null: never written with --algo %s (each register "
				"algorithm keeps its own keys)\n",
			algo);
	}
	if (resp)
		strata__client__response__free_unpacked(resp, NULL);
	free(file_value);
	return CLI_EXIT_OK;
}
