/* `strata consensus`: propose on a consensus instance with any consensus algorithm of the build,
 * and watch decisions.
 *
 *   strata consensus propose VALUE [--algo NAME] [--instance ID]    (or --value-file F)
 *   strata consensus watch [--algo NAME] [--all] [--count N] [--duration SEC]
 *   strata consensus algos
 *
 * propose asks one node (-n, default the first that answers) to propose VALUE on instance ID
 * (default: the next instance after the highest that node knows) and waits for that node's
 * decision, which may be another process's proposal. Exit 0 decided, 1 refused, 3 no decision
 * within --timeout (the outcome is unknown: the proposal may still be decided). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check/bcast_log.h"
#include "check/cons_log.h"
#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

#define CONS_OP_PROPOSE 6u
#define CONS_VALUE_FILE_MAX (1u << 20)

static const char cons_help[] =
	"usage: strata consensus propose [--algo NAME] [--instance ID] [--] VALUE\n"
	"       strata consensus propose --value-file F [--algo NAME] [--instance ID]\n"
	"       strata consensus watch [--algo NAME] [--all] [--count N] [--duration SEC]\n"
	"       strata consensus algos\n"
	"\n"
	"propose: the node (-n, default the first that answers) proposes VALUE on consensus\n"
	"instance ID (default: the next after the highest it knows) with algorithm NAME (default:\n"
	"ldc where the model allows it; sbc, strong Byzantine consensus, on a fail-arbitrary\n"
	"cluster; else uhier) and prints the decided value, which may be another node's proposal.\n"
	"Exit 0 decided, 1 refused, 3 unknown (no decision in --timeout).\n"
	"A VALUE starting with '-' follows '--' (negative numbers need none); rbc and brcons take\n"
	"0 or 1; brcons decides once every correct node (or f + 1 of them with one value)\n"
	"proposed. sbc and fast-sbc (Alg. 5.20, 6.5) may decide □ (no value: the correct nodes'\n"
	"proposals differed), printed as □ (\"value\":\"\" and \"box\":true with -w json).\n"
	"-w json: {\"instance\":7,\"value\":\"v\",\"algo\":\"ldc\",\"node\":2}\n"
	"watch: streams the decisions of one node, or of every node with --all:\n"
	"  {\"node\":2,\"instance\":7,\"value\":\"v\",\"algo\":\"ldc\",\"epoch\":6}\n"
	"(\"round\" instead of \"epoch\" for the flooding, hierarchical and randomized algorithms;\n"
	"\"fast_path\": true or false for fast-uhier, fast-uflood (Alg. 6.4) and fast-sbc (Alg. 6.5)).\n";

static int check_algo(struct cli *c, const char **algo)
{
	const struct strata_algo *a = strata_algo_find(*algo);
	if (!a || strcmp(a->family, "cons") != 0)
		return cli_usage_err(c, "consensus",
				     "consensus: unknown consensus algorithm '%s' (see `strata consensus algos`)",
				     *algo);
	*algo = a->name;
	return cli_algo_runnable(c, a, "consensus");
}

static const char *default_algo(struct cli *c)
{
	const struct strata_config *cfg = c->endpoint[0] ? NULL : cli_config(c);
	const struct strata_algo *ldc = strata_algo_find("ldc");
	char why[256];
	if (!cfg || (ldc && strata_algo_check(ldc, cfg, why, sizeof why) == 0))
		return "ldc";
	/* A fail-arbitrary cluster: strong Byzantine consensus (Alg. 5.20 over bldc). */
	const struct strata_algo *sbc = strata_algo_find("sbc");
	if (cfg->model == STRATA_MODEL_FAIL_ARBITRARY && sbc &&
	    strata_algo_check(sbc, cfg, why, sizeof why) == 0)
		return "sbc";
	return "uhier";
}

static int read_file(struct cli *c, const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_err(c, "consensus: %s: %s", path, strerror(errno));
		return CLI_EXIT_USAGE;
	}
	*buf = malloc(CONS_VALUE_FILE_MAX + 1);
	if (!*buf) {
		fclose(f);
		cli_err(c, "consensus: out of memory");
		return CLI_EXIT_FAIL;
	}
	*len = fread(*buf, 1, CONS_VALUE_FILE_MAX + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad || *len > CONS_VALUE_FILE_MAX) {
		cli_err(c, "consensus: %s: %s", path,
			bad ? "read error" : "larger than 1 MiB");
		free(*buf);
		*buf = NULL;
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

/* Strong and fast Byzantine consensus decide □ (the empty value) when the correct proposals
 * differ; they refuse empty proposals, so an empty decision is □. */
static bool is_box_algo(const char *algo)
{
	return algo && (!strcmp(algo, "sbc") || !strcmp(algo, "fast-sbc"));
}

static int cons_propose(struct cli *c, const char *algo, const char *instance,
			const uint8_t *value, size_t len)
{
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest op = STRATA__CLIENT__OP_REQUEST__INIT;
	op.module = (char *)algo;
	op.op = CONS_OP_PROPOSE;
	op.key.data = (uint8_t *)(instance ? instance : "");
	op.key.len = instance ? strlen(instance) : 0;
	op.value.data = (uint8_t *)value;
	op.value.len = len;
	req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	req.op = &op;
	Strata__Client__Response *resp = NULL;
	struct cli_endpoint who = { 0 };
	/* With a named instance a retry elsewhere proposes on the same instance: harmless. */
	c->op_what = "consensus propose";
	int rc = cli_call(c, &req, instance != NULL, &resp, &who);
	c->op_what = NULL;
	if (rc != CLI_EXIT_OK)
		return rc;
	if (resp->status != 0) {
		cli_err(c, "consensus propose (%s): %s%s", algo,
			resp->error && resp->error[0] ? resp->error : strata_strerror(resp->status),
			cli_unknown_suffix(resp->status));
		rc = cli_status_unknown(resp->status) ? CLI_EXIT_UNKNOWN : CLI_EXIT_FAIL;
		strata__client__response__free_unpacked(resp, NULL);
		return rc;
	}
	const Strata__Client__OpReply *r =
		resp->body_case == STRATA__CLIENT__RESPONSE__BODY_OP ? resp->op : NULL;
	struct strata_rd rd;
	strata_rd_init(&rd, r ? r->value.data : NULL, r ? r->value.len : 0);
	uint64_t inst = strata_rd_u64(&rd);
	if (!r || !strata_rd_ok(&rd)) {
		cli_err(c, "consensus propose: malformed reply from the node");
		strata__client__response__free_unpacked(resp, NULL);
		return CLI_EXIT_FAIL;
	}
	const char *v = (const char *)r->value.data + rd.off;
	size_t vlen = r->value.len - rd.off;
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "instance");
		cli_json_uint(&j, inst);
		cli_json_key(&j, "value");
		cli_json_string_n(&j, v, vlen);
		cli_json_key(&j, "algo");
		cli_json_string(&j, algo);
		if (vlen == 0 && is_box_algo(algo)) {
			cli_json_key(&j, "box");
			cli_json_bool(&j, true);
		}
		if (who.id) {
			cli_json_key(&j, "node");
			cli_json_uint(&j, who.id);
		}
		cli_json_end_object(&j);
	} else {
		printf("instance %llu decided: ", (unsigned long long)inst);
		if (vlen == 0 && is_box_algo(algo))
			fputs("□ (no value: the correct nodes' proposals differed)", stdout);
		fwrite(v, 1, vlen, stdout);
		fputc('\n', stdout);
	}
	strata__client__response__free_unpacked(resp, NULL);
	return CLI_EXIT_OK;
}

static bool is_cons_module(const char *name)
{
	const struct strata_algo *a = name ? strata_algo_find(name) : NULL;
	return a && strcmp(a->family, "cons") == 0;
}

static void print_decision(struct cli *c, uint32_t node, const Strata__Client__Event *e)
{
	/* text is "round R" or "epoch E" */
	const char *text = e->text ? e->text : "";
	const char *sp = strchr(text, ' ');
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "node");
		cli_json_uint(&j, e->node ? e->node : node);
		cli_json_key(&j, "instance");
		cli_json_uint(&j, e->seq);
		cli_json_key(&j, "value");
		cli_json_string_n(&j, (const char *)e->payload.data, e->payload.len);
		cli_json_key(&j, "algo");
		cli_json_string(&j, e->module ? e->module : "");
		if (e->payload.len == 0 && is_box_algo(e->module)) {
			cli_json_key(&j, "box");
			cli_json_bool(&j, true);
		}
		if (sp && (!strncmp(text, "round", 5) || !strncmp(text, "epoch", 5))) {
			char key[8];
			snprintf(key, sizeof key, "%.5s", text);
			cli_json_key(&j, key);
			cli_json_uint(&j, strtoull(sp + 1, NULL, 10));
		} else if (sp && !strncmp(text, "fast-path ", 10)) { /* fast consensus (Alg. 6.4) */
			cli_json_key(&j, "fast_path");
			cli_json_bool(&j, sp[1] == '1');
		}
		cli_json_key(&j, "wall_ms");
		cli_json_uint(&j, e->wall_ms);
		cli_json_end_object(&j);
	} else {
		printf("node %u decided instance %llu (%s, %s): ", e->node ? e->node : node,
		       (unsigned long long)e->seq, e->module ? e->module : "", text);
		if (e->payload.len == 0 && is_box_algo(e->module))
			fputs("□", stdout);
		fwrite(e->payload.data, 1, e->payload.len, stdout);
		fputc('\n', stdout);
	}
	fflush(stdout);
}

/* A decision of any consensus module (the subscription names one algorithm, or none). */
static bool cons_event(struct cli *c, uint32_t node, const Strata__Client__Event *e, void *arg)
{
	(void)arg;
	if (strcmp(e->kind, "deliver") != 0 || !is_cons_module(e->module))
		return false;
	print_decision(c, node, e);
	return true;
}

static int cons_watch(struct cli *c, const char *algo, bool all, uint64_t count,
		      uint32_t duration)
{
	struct cli_watch w = { .what = "consensus watch", .module = algo, .all = all,
			       .count = count, .duration = duration, .lost_unknown = true,
			       .fn = cons_event };
	return cli_watch(c, &w);
}

int cmd_consensus(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(cons_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *sub = argv[1];
	if (strcmp(sub, "algos") == 0)
		return cli_print_algos(c, "cons");
	bool prop = strcmp(sub, "propose") == 0;
	if (!prop && strcmp(sub, "watch") != 0)
		return cli_usage_err(c, "consensus", "consensus: unknown subcommand '%s'", sub);
	const char *algo = NULL, *value = NULL, *file = NULL, *instance = NULL;
	bool all = false, after_dd = false;
	uint32_t count = 0, duration = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		/* After "--", and for "-5"-like values, an argument is the value (as in reg, kv). */
		if (after_dd || !cli_is_option(a)) {
			if (prop && !value) {
				value = a;
				continue;
			}
			return cli_usage_err(c, "consensus", "consensus: unexpected argument '%s'", a);
		}
		if (prop && !strcmp(a, "--")) {
			after_dd = true;
			continue;
		}
		if (cli_is_help(a)) {
			fputs(cons_help, stdout);
			return CLI_EXIT_OK;
		}
		if (!strcmp(a, "--algo") && i + 1 < argc)
			algo = argv[++i];
		else if (prop && !strcmp(a, "--instance") && i + 1 < argc) {
			instance = argv[++i];
			size_t k = strspn(instance, "0123456789");
			if (!instance[0] || instance[k] || k > 19 || strtoull(instance, NULL, 10) == 0)
				return cli_usage_err(c, "consensus",
						     "consensus: --instance needs a number >= 1");
		} else if (prop && !strcmp(a, "--value-file") && i + 1 < argc)
			file = argv[++i];
		else if (!prop && !strcmp(a, "--all"))
			all = true;
		else if (!prop && !strcmp(a, "--count") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 100000000, &count))
				return cli_usage_err(c, "consensus", "consensus: bad --count");
		} else if (!prop && !strcmp(a, "--duration") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 86400 * 365, &duration))
				return cli_usage_err(c, "consensus", "consensus: bad --duration");
		} else if (a[0] == '-' && a[1])
			return cli_usage_err(c, "consensus", "consensus: unknown option '%s'", a);
		else if (prop && !value)
			value = a;
		else
			return cli_usage_err(c, "consensus", "consensus: unexpected argument '%s'", a);
	}
	if (prop && !value == !file)
		return cli_usage_err(c, "consensus", "consensus propose: needs VALUE or --value-file F");
	if (prop && !algo)
		algo = default_algo(c);
	if (algo) {
		int rc = check_algo(c, &algo);
		if (rc != CLI_EXIT_OK)
			return rc;
	}
	if (!prop)
		return cons_watch(c, algo, all, count, duration);
	if (!file)
		return cons_propose(c, algo, instance, (const uint8_t *)value, strlen(value));
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = read_file(c, file, &buf, &len);
	if (rc == CLI_EXIT_OK)
		rc = cons_propose(c, algo, instance, buf, len);
	free(buf);
	return rc;
}

/* ---- strata check-consensus ---- */

static const char check_cons_help[] =
	"usage: strata check-consensus [--crashed LIST] DIR\n"
	"\n"
	"Checks the consensus logs DIR/node-<ID>.log (and earlier lives, node-<ID>.log.before-*)\n"
	"written by stratad --cons-log (DIR is the algorithm's subdirectory, e.g. LOGS/ldc) for\n"
	"validity (every decided value was proposed on its instance), integrity (no node decides an\n"
	"instance twice, or differently after a restart), agreement (no two correct nodes decide an\n"
	"instance differently) and uniform agreement (no two nodes at all). --crashed 1,3 names the\n"
	"nodes that crashed: agreement does not count them; uniform agreement does.\n"
	"exit: 0 every property holds, 1 one is violated (the first counterexample is printed),\n"
	"      2 usage or unreadable logs. -w json: {\"holds\":true,\"nodes\":5,...}\n";

int cmd_check_consensus(struct cli *c, int argc, char **argv)
{
	const char *dir = NULL, *crashed = "";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			fputs(check_cons_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--crashed") == 0 && i + 1 < argc)
			crashed = argv[++i];
		else if (a[0] == '-' && a[1])
			return cli_usage_err(c, "check-consensus",
					     "check-consensus: unknown or incomplete flag '%s'", a);
		else if (!dir)
			dir = a;
		else
			return cli_usage_err(c, "check-consensus", "check-consensus: one directory only");
	}
	if (!dir)
		return cli_usage_err(c, "check-consensus", "check-consensus: a log directory is required");
	uint32_t ids[STRATA_BCAST_MAX_NODES];
	size_t nids = 0;
	if (strata_bcast_parse_ids(crashed, ids, STRATA_BCAST_MAX_NODES, &nids) != 0)
		return cli_usage_err(c, "check-consensus",
				     "check-consensus: --crashed takes node ids like 1,3");
	bool down[STRATA_CONS_MAX_NODES + 1] = { false };
	for (size_t i = 0; i < nids; i++)
		if (ids[i] >= 1 && ids[i] <= STRATA_CONS_MAX_NODES)
			down[ids[i]] = true;
	struct strata_cons_report rep;
	int rc = strata_cons_check_dir(dir, down, STRATA_CONS_ALL, &rep);
	if (rc < 0) {
		cli_err(c, "check-consensus: %s", rep.why);
		return CLI_EXIT_USAGE;
	}
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "holds");
		cli_json_bool(&j, rc == 0);
		static const char *const names[] = { "validity", "integrity", "agreement",
						     "uniform-agreement" };
		for (unsigned k = 0; k < 4; k++) {
			cli_json_key(&j, names[k]);
			cli_json_bool(&j, !(rep.failed & (1u << k)));
		}
		cli_json_key(&j, "nodes");
		cli_json_uint(&j, rep.nodes);
		cli_json_key(&j, "lives");
		cli_json_uint(&j, rep.lives);
		cli_json_key(&j, "instances");
		cli_json_uint(&j, rep.instances);
		cli_json_key(&j, "proposals");
		cli_json_uint(&j, rep.proposals);
		cli_json_key(&j, "decisions");
		cli_json_uint(&j, rep.decisions);
		if (rc) {
			cli_json_key(&j, "violation");
			cli_json_string(&j, rep.why);
		}
		cli_json_end_object(&j);
	} else if (rc == 0) {
		printf("holds: validity, integrity, agreement, uniform agreement (%u nodes, %u logs, "
		       "%llu instances, %llu proposals, %llu decisions)\n",
		       rep.nodes, rep.lives, (unsigned long long)rep.instances,
		       (unsigned long long)rep.proposals, (unsigned long long)rep.decisions);
	} else {
		printf("violated: %s\n", rep.why);
	}
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
