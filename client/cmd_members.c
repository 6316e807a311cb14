/* `strata members`: group membership (Alg. 6.7, module gm; docs/consensus-variants.md).
 *
 *   strata members [--watch] [--count N] [--duration SEC]
 *
 * Asks every node (or the -n node) for its current view (id, members), creating the group
 * membership module there if it is not running yet; --watch then streams the views each node
 * installs as P reports crashes. */
#include <string.h>

#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

static const char members_help[] =
	"usage: strata members [-n NODE] [--watch] [--count N] [--duration SEC]\n"
	"\n"
	"Group membership (Alg. 6.7 over uniform consensus and P; fail-stop): the current view\n"
	"(id, members) as each node (or the -n node) sees it; --watch then prints every view the\n"
	"nodes install (a view change per crash, in the same order at every node).\n"
	"  node 2: view 1: 1,2,3,4            {\"node\":2,\"view\":1,\"members\":[1,2,3,4]}\n"
	"Exit 0, 3 if no node answered (or fewer than --count views were seen).\n";

static void print_view(struct cli *c, uint32_t node, uint64_t id, uint64_t mask, bool now)
{
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "node");
		cli_json_uint(&j, node);
		cli_json_key(&j, "view");
		cli_json_uint(&j, id);
		cli_json_key(&j, "members");
		cli_json_begin_array(&j);
		for (uint32_t q = 1; q <= 64; q++)
			if (mask & (1ull << (q - 1)))
				cli_json_uint(&j, q);
		cli_json_end_array(&j);
		if (now) {
			cli_json_key(&j, "current");
			cli_json_bool(&j, true);
		}
		cli_json_end_object(&j);
	} else {
		printf("node %u: view %llu: ", node, (unsigned long long)id);
		bool first = true;
		for (uint32_t q = 1; q <= 64; q++)
			if (mask & (1ull << (q - 1))) {
				printf("%s%u", first ? "" : ",", q);
				first = false;
			}
		printf("%s\n", now ? " (current)" : "");
	}
	fflush(stdout);
}

static bool members_event(struct cli *c, uint32_t node, const Strata__Client__Event *e,
			  void *arg)
{
	(void)arg;
	if (strcmp(e->kind, "deliver") != 0)
		return false;
	/* payload "1,2,4" */
	uint64_t mask = 0;
	const char *p = (const char *)e->payload.data, *end = p + e->payload.len;
	while (p < end) {
		uint32_t q = 0;
		while (p < end && *p >= '0' && *p <= '9')
			q = q * 10 + (uint32_t)(*p++ - '0');
		if (q >= 1 && q <= 64)
			mask |= 1ull << (q - 1);
		if (p < end)
			p++;
	}
	print_view(c, node, e->seq, mask, false);
	return true;
}

int cmd_members(struct cli *c, int argc, char **argv)
{
	bool watch = false;
	uint32_t count = 0, duration = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (cli_is_help(a)) {
			fputs(members_help, stdout);
			return CLI_EXIT_OK;
		}
		if (!strcmp(a, "--watch"))
			watch = true;
		else if (!strcmp(a, "--count") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 100000000, &count))
				return cli_usage_err(c, "members", "members: bad --count");
		} else if (!strcmp(a, "--duration") && i + 1 < argc) {
			if (!cli_parse_u32(argv[++i], 1, 86400 * 365, &duration))
				return cli_usage_err(c, "members", "members: bad --duration");
		} else
			return cli_usage_err(c, "members", "members: unexpected argument '%s'", a);
	}
	const struct strata_algo *a = strata_algo_find("gm");
	int rc = a ? cli_algo_runnable(c, a, "members") : CLI_EXIT_FAIL;
	if (rc != CLI_EXIT_OK)
		return rc;
	bool all = c->node == 0 && !c->endpoint[0];
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, all, eps, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	int answered = 0;
	uint32_t saved = c->node;
	for (int i = 0; i < n; i++) {
		if (all)
			c->node = eps[i].id;
		struct cli_op_args op = { .module = "gm", .what = "members", .op = CLI_OP_READ,
					  .no_retry = true };
		Strata__Client__Response *resp = NULL;
		const Strata__Client__OpReply *reply = NULL;
		if (cli_op(c, &op, &resp, &reply) != CLI_EXIT_OK)
			continue;
		struct strata_rd rd;
		strata_rd_init(&rd, reply ? reply->value.data : NULL, reply ? reply->value.len : 0);
		uint64_t id = strata_rd_u64(&rd), mask = strata_rd_u64(&rd);
		if (reply && strata_rd_ok(&rd)) {
			print_view(c, eps[i].id, id, mask, true);
			answered++;
		}
		strata__client__response__free_unpacked(resp, NULL);
	}
	c->node = saved;
	if (!answered) {
		cli_err(c, "members: no node answered");
		return CLI_EXIT_UNKNOWN;
	}
	if (!watch)
		return CLI_EXIT_OK;
	return cli_watch_module(c, "members --watch", "gm", all, count, duration, members_event, NULL);
}
