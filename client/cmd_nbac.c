/* `strata nbac`: non-blocking atomic commit (Alg. 6.6, module nbac; docs/consensus-variants.md).
 *
 *   strata nbac begin [--id TX]              announce transaction TX (default: the next id
 *                                            after the highest the node knows) to every node
 *   strata nbac vote TX yes|no [-n NODE]     NODE votes; returns once NODE decided, prints the
 *                                            outcome: exit 0 commit, 1 abort (or refused),
 *                                            3 unknown (no decision within --timeout)
 *   strata nbac watch [--all] [--count N] [--duration SEC]   votes and outcomes as they happen
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

#define NBAC_OP_PROPOSE 6u

static const char nbac_help[] =
	"usage: strata nbac begin [--id TX]\n"
	"       strata nbac vote TX yes|no [-n NODE]\n"
	"       strata nbac watch [--all] [--count N] [--duration SEC]\n"
	"\n"
	"Non-blocking atomic commit (Alg. 6.6 over beb, uniform consensus and P; fail-stop).\n"
	"begin: the node announces transaction TX (default: the next id after the highest it\n"
	"knows) to every node and prints TX. Exit 0, or 1 if TX is decided already.\n"
	"vote: NODE (-n, default the first that answers) votes yes or no on TX and waits for its\n"
	"decision: every node must vote (or crash: P reports it and TX aborts). Prints\n"
	"\"tx TX: commit\" or \"tx TX: abort\". Exit 0 commit, 1 abort or refused, 3 unknown.\n"
	"-w json: {\"tx\":7,\"node\":2,\"outcome\":\"commit\"}\n"
	"watch: votes and decisions of one node, or of every node with --all:\n"
	"  node 2 tx 7 voted yes            {\"node\":2,\"tx\":7,\"vote\":\"yes\"}\n"
	"  node 2 tx 7 decided commit       {\"node\":2,\"tx\":7,\"outcome\":\"commit\"}\n";

/* ---- nbac ---- */

static int check_runnable(struct cli *c)
{
	const struct strata_algo *a = strata_algo_find("nbac");
	return a ? cli_algo_runnable(c, a, "nbac") : CLI_EXIT_FAIL;
}

static void print_outcome(struct cli *c, uint32_t node, uint64_t tx, const char *key,
			  const char *v, size_t len)
{
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "tx");
		cli_json_uint(&j, tx);
		if (node) {
			cli_json_key(&j, "node");
			cli_json_uint(&j, node);
		}
		cli_json_key(&j, key);
		cli_json_string_n(&j, v, len);
		cli_json_end_object(&j);
	} else if (!strcmp(key, "vote")) {
		printf("node %u tx %llu voted %.*s\n", node, (unsigned long long)tx, (int)len, v);
	} else if (node) {
		printf("node %u tx %llu decided %.*s\n", node, (unsigned long long)tx, (int)len, v);
	} else {
		printf("tx %llu: %.*s\n", (unsigned long long)tx, (int)len, v);
	}
}

static bool nbac_event(struct cli *c, uint32_t node, const Strata__Client__Event *e, void *arg)
{
	(void)arg;
	bool vote = !strcmp(e->kind, "bcast");
	if (!vote && strcmp(e->kind, "deliver") != 0)
		return false;
	print_outcome(c, node, e->seq, vote ? "vote" : "outcome", (const char *)e->payload.data,
		      e->payload.len);
	return true;
}

static int nbac_call(struct cli *c, uint32_t op, const char *tx, const char *value,
		     uint64_t *out_tx, const char **v, size_t *vlen, Strata__Client__Response **resp,
		     struct cli_endpoint *who)
{
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest o = STRATA__CLIENT__OP_REQUEST__INIT;
	o.module = (char *)(uintptr_t)"nbac";
	o.op = op;
	o.key.data = (uint8_t *)(uintptr_t)(tx ? tx : "");
	o.key.len = tx ? strlen(tx) : 0;
	o.value.data = (uint8_t *)(uintptr_t)(value ? value : "");
	o.value.len = value ? strlen(value) : 0;
	req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	req.op = &o;
	/* A vote is not idempotent across nodes (it is that node's vote): no retry elsewhere. */
	c->op_what = op == CLI_OP_WRITE ? "nbac begin" : "nbac vote";
	int rc = cli_call(c, &req, false, resp, who);
	c->op_what = NULL;
	if (rc != CLI_EXIT_OK)
		return rc;
	if ((*resp)->status != 0) {
		cli_err(c, "nbac %s: %s%s", op == CLI_OP_WRITE ? "begin" : "vote",
			(*resp)->error && (*resp)->error[0] ? (*resp)->error
							     : strata_strerror((*resp)->status),
			cli_unknown_suffix((*resp)->status));
		rc = cli_status_unknown((*resp)->status) ? CLI_EXIT_UNKNOWN : CLI_EXIT_FAIL;
		strata__client__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return rc;
	}
	const Strata__Client__OpReply *r =
		(*resp)->body_case == STRATA__CLIENT__RESPONSE__BODY_OP ? (*resp)->op : NULL;
	struct strata_rd rd;
	strata_rd_init(&rd, r ? r->value.data : NULL, r ? r->value.len : 0);
	*out_tx = strata_rd_u64(&rd);
	if (!r || !strata_rd_ok(&rd)) {
		cli_err(c, "nbac: malformed reply from the node");
		strata__client__response__free_unpacked(*resp, NULL);
		*resp = NULL;
		return CLI_EXIT_FAIL;
	}
	*v = (const char *)r->value.data + rd.off;
	*vlen = r->value.len - rd.off;
	return CLI_EXIT_OK;
}

static bool parse_tx(const char *s)
{
	size_t k = strspn(s, "0123456789");
	return s[0] && !s[k] && k <= 15 && strtoull(s, NULL, 10) != 0;
}

int cmd_nbac(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(nbac_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	const char *sub = argv[1];
	const char *tx = NULL, *vote = NULL;
	bool all = false;
	uint32_t count = 0, duration = 0;
	bool is_begin = !strcmp(sub, "begin"), is_vote = !strcmp(sub, "vote"),
	     is_watch = !strcmp(sub, "watch");
	if (!is_begin && !is_vote && !is_watch)
		return cli_usage_err(c, "nbac", "nbac: unknown subcommand '%s'", sub);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			fputs(nbac_help, stdout);
			return CLI_EXIT_OK;
		}
		if (is_begin && !strcmp(a, "--id") && i + 1 < argc)
			tx = argv[++i];
		else if (is_watch && !strcmp(a, "--all"))
			all = true;
		else if (is_watch && !strcmp(a, "--count") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 100000000, &count))
				return cli_usage_err(c, "nbac", "nbac: bad --count");
		} else if (is_watch && !strcmp(a, "--duration") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 86400 * 365, &duration))
				return cli_usage_err(c, "nbac", "nbac: bad --duration");
		} else if (a[0] == '-')
			return cli_usage_err(c, "nbac", "nbac: unknown option '%s'", a);
		else if (is_vote && !tx)
			tx = a;
		else if (is_vote && !vote)
			vote = a;
		else
			return cli_usage_err(c, "nbac", "nbac: unexpected argument '%s'", a);
	}
	if (tx && !parse_tx(tx))
		return cli_usage_err(c, "nbac", "nbac: a transaction id is a number >= 1");
	if (is_vote && tx && vote && strcmp(vote, "yes") && strcmp(vote, "no"))
		return cli_usage_err(c, "nbac", "nbac vote: the vote is yes or no, not '%s'", vote);
	if (is_vote && (!tx || !vote))
		return cli_usage_err(c, "nbac", "nbac vote: needs TX and yes or no");
	int rc = check_runnable(c);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (is_watch)
		return cli_watch_module(c, "nbac watch", "nbac", all, count, duration, nbac_event, NULL);
	Strata__Client__Response *resp = NULL;
	struct cli_endpoint who = { 0 };
	uint64_t got = 0;
	const char *v = NULL;
	size_t vlen = 0;
	rc = nbac_call(c, is_begin ? CLI_OP_WRITE : NBAC_OP_PROPOSE, tx, vote, &got, &v, &vlen,
		       &resp, &who);
	if (rc != CLI_EXIT_OK)
		return rc;
	if (is_begin) {
		if (c->json)
			printf("{\"tx\":%llu,\"node\":%u}\n", (unsigned long long)got, who.id);
		else
			printf("%llu\n", (unsigned long long)got);
	} else {
		if (c->json)
			print_outcome(c, who.id, got, "outcome", v, vlen);
		else
			printf("tx %llu: %.*s\n", (unsigned long long)got, (int)vlen, v);
		rc = vlen == 6 && !memcmp(v, "commit", 6) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	strata__client__response__free_unpacked(resp, NULL);
	return rc;
}
