/* `strata nemesis`: the built-in fault injector of test clusters.
 *
 *   strata nemesis isolate N | partition A,B C,D,E | oneway FROM TO | drop N PCT | delay N MS
 *                  | heal | status
 *
 * The daemons apply the faults themselves in their runtime's datagram send and receive paths
 * (src/rt/uv: no root, no firewall), and only when the cluster config says [cluster] nemesis =
 * on (scripts/cluster start sets it for the local clusters it creates). Each node holds its own
 * rules: the peers it does not send to, the peers whose datagrams it drops on arrival, a
 * percentage of its other datagrams it drops on sending, and a delay it holds the datagrams it
 * sends for (a bounded queue; a full queue drops, counted). This command computes every node's
 * rules and sends them to every node:
 *   isolate N        N and the others drop everything between them (replaces the blocks)
 *   partition G G..  nodes talk only within their group; nodes named in no group form one more
 *                    group (replaces the blocks)
 *   oneway FROM TO   datagrams from FROM to TO are lost (added to the blocks)
 *   drop N PCT       node N loses PCT percent of the datagrams it sends (0 stops it)
 *   delay N MS       node N sends its datagrams MS ms late (0..60000; 0 sends the held ones)
 *   heal             every rule cleared on every node
 *   status           every node's rules and what they dropped (-w json)
 * Exit: 0 every node took the rules, 1 the cluster refused (nemesis off), 2 usage, 3 a node did
 * not answer (the rules are then in force on the others only: run heal). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char nemesis_help[] =
	"usage: strata nemesis isolate N\n"
	"       strata nemesis partition A,B C,D,E     (groups; unnamed nodes form one more)\n"
	"       strata nemesis oneway FROM TO\n"
	"       strata nemesis drop N PCT\n"
	"       strata nemesis delay N MS\n"
	"       strata nemesis heal\n"
	"       strata nemesis status [-w json]\n"
	"\n"
	"Makes the nodes themselves lose datagrams between them (test clusters only: the config\n"
	"needs [cluster] nemesis = on, which scripts/cluster start sets). isolate and partition\n"
	"replace the blocked links, oneway adds one direction, drop makes a node lose a share of\n"
	"what it sends, delay makes it send everything MS ms late (0..60000), heal clears\n"
	"everything. Clients still reach every node.\n"
	"Exit: 0 done on every node, 1 refused (nemesis off), 2 usage, 3 a node did not answer\n"
	"(the others keep the rules: run heal).\n";

struct nem_rules {
	uint64_t out, in;
	uint32_t pct, delay;
	uint64_t dropped_out, dropped_in, delayed, overflow;
	bool ok;
	char err[200];
};

/* One nemesis request to one endpoint: 0 with r filled, 1 refused by the node, -1 no answer. */
static int nem_call(struct cli *c, const struct cli_endpoint *ep, bool set, struct nem_rules *r)
{
	uint64_t deadline = cli_now_ms() + (uint64_t)c->timeout_ms;
	int fd = cli_connect(ep, deadline, r->err, sizeof r->err);
	if (fd < 0)
		return -1;
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__NemesisRequest nq = STRATA__CLIENT__NEMESIS_REQUEST__INIT;
	nq.set = set;
	nq.block_out = r->out;
	nq.block_in = r->in;
	nq.drop_pct = r->pct;
	nq.delay_ms = r->delay;
	req.id = cli_next_id(c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_NEMESIS;
	req.nemesis = &nq;
	Strata__Client__Response *resp = NULL;
	int rc = cli_send(fd, &req, deadline, r->err, sizeof r->err);
	while (rc == 0) {
		rc = cli_recv(fd, &resp, deadline, r->err, sizeof r->err);
		if (rc != 0 || resp->id == req.id)
			break;
		strata__client__response__free_unpacked(resp, NULL);
		resp = NULL;
	}
	close(fd);
	if (rc != 0)
		return -1;
	int out = 0;
	if (resp->status != 0 || resp->body_case != STRATA__CLIENT__RESPONSE__BODY_NEMESIS) {
		snprintf(r->err, sizeof r->err, "%s",
			 resp->status && resp->error ? resp->error : "answer without nemesis rules");
		out = 1;
	} else {
		r->out = resp->nemesis->block_out;
		r->in = resp->nemesis->block_in;
		r->pct = resp->nemesis->drop_pct;
		r->dropped_out = resp->nemesis->dropped_out;
		r->dropped_in = resp->nemesis->dropped_in;
		r->delay = resp->nemesis->delay_ms;
		r->delayed = resp->nemesis->delayed;
		r->overflow = resp->nemesis->delay_overflow;
		r->ok = true;
	}
	strata__client__response__free_unpacked(resp, NULL);
	return out;
}

/* "1,2,5" -> mask; false on anything that is not a node id of 1..n. */
static bool parse_group(const char *s, uint32_t n, uint64_t *mask)
{
	*mask = 0;
	char buf[512];
	if (strlen(s) >= sizeof buf || !*s)
		return false;
	strcpy(buf, s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint32_t id;
		if (!cli_parse_u32(t, 1, n, &id))
			return false;
		*mask |= (uint64_t)1 << (id - 1);
	}
	return *mask != 0;
}

static void mask_text(uint64_t m, char *buf, size_t n)
{
	size_t l = 0;
	buf[0] = '\0';
	for (uint32_t i = 1; i <= 64 && l < n; i++)
		if ((m >> (i - 1)) & 1)
			l += (size_t)snprintf(buf + l, n - l, "%s%u", l ? "," : "", i);
	if (!l)
		snprintf(buf, n, "-");
}

static void mask_json(struct cli_json *j, uint64_t m)
{
	cli_json_begin_array(j);
	for (uint32_t i = 1; i <= 64; i++)
		if ((m >> (i - 1)) & 1)
			cli_json_uint(j, i);
	cli_json_end_array(j);
}

int cmd_nemesis(struct cli *c, int argc, char **argv)
{
	return cli_nemesis(c, argc, argv, false);
}

int cli_nemesis(struct cli *c, int argc, char **argv, bool quiet)
{
	if (argc < 2 || cli_is_help(argv[1])) {
		fputs(nemesis_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	for (int i = 2; i < argc; i++)
		if (cli_is_help(argv[i])) {
			fputs(nemesis_help, stdout);
			return CLI_EXIT_OK;
		}
	const char *sub = argv[1];
	const struct strata_config *cfg = c->endpoint[0] ? NULL : cli_config(c);
	if (!cfg)
		return c->endpoint[0] ? cli_usage_err(c, "nemesis", "nemesis: needs the cluster "
								 "config (--dir), not -e")
				      : CLI_EXIT_USAGE;
	uint32_t n = cfg->n;
	uint64_t all = n >= 64 ? UINT64_MAX : ((uint64_t)1 << n) - 1;
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int ne = cli_endpoints(c, true, eps, STRATA_MAX_NODES);
	if (ne < 0)
		return CLI_EXIT_USAGE;
	struct nem_rules *r = calloc((size_t)n + 1, sizeof *r);
	if (!r)
		return CLI_EXIT_FAIL;
	int rc = CLI_EXIT_OK;
	bool status = strcmp(sub, "status") == 0, set = true;
	int want = strcmp(sub, "isolate") == 0 ? 1 : strcmp(sub, "oneway") == 0 ? 2
		 : strcmp(sub, "drop") == 0 || strcmp(sub, "delay") == 0 ? 2 : strcmp(sub, "heal") == 0 || status ? 0
		 : strcmp(sub, "partition") == 0 ? -1 : -2;
	if (want == -2) {
		free(r);
		return cli_usage_err(c, "nemesis", "nemesis: unknown subcommand '%s' (isolate, "
						   "partition, oneway, drop, delay, heal, status)", sub);
	}
	if ((want >= 0 && argc - 2 != want) || (want < 0 && argc - 2 < 1)) {
		free(r);
		return cli_usage_err(c, "nemesis", "nemesis %s: wrong number of arguments", sub);
	}
	/* The current rules of every node: the base that oneway and drop add to. */
	bool need_current = status || !strcmp(sub, "oneway") || !strcmp(sub, "drop") ||
			    !strcmp(sub, "delay") ||
			    !strcmp(sub, "isolate") || !strcmp(sub, "partition");
	if (need_current) {
		for (int i = 0; i < ne; i++) {
			struct nem_rules *x = &r[eps[i].id];
			int k = nem_call(c, &eps[i], false, x);
			if (k == 1) {
				cli_err(c, "nemesis: node %u: %s", eps[i].id, x->err);
				free(r);
				return CLI_EXIT_FAIL;
			}
		}
	}
	if (status) {
		set = false;
	} else if (!strcmp(sub, "heal")) {
		for (uint32_t i = 1; i <= n; i++)
			r[i].out = r[i].in = 0, r[i].pct = 0, r[i].delay = 0;
	} else if (!strcmp(sub, "isolate")) {
		uint32_t v;
		if (!cli_parse_u32(argv[2], 1, n, &v)) {
			free(r);
			return cli_usage_err(c, "nemesis", "nemesis isolate: '%s' is not a node (1..%u)",
					     argv[2], n);
		}
		uint64_t b = (uint64_t)1 << (v - 1);
		for (uint32_t i = 1; i <= n; i++)
			r[i].out = r[i].in = i == v ? all & ~b : b;
	} else if (!strcmp(sub, "partition")) {
		uint64_t group[STRATA_MAX_NODES + 1] = { 0 }, seen = 0;
		int ng = 0;
		for (int a = 2; a < argc; a++) {
			uint64_t m;
			if (!parse_group(argv[a], n, &m) || (m & seen)) {
				free(r);
				return cli_usage_err(c, "nemesis", "nemesis partition: '%s' is not a "
								   "list of distinct node ids (1..%u)",
						     argv[a], n);
			}
			group[ng++] = m;
			seen |= m;
		}
		if (seen != all)
			group[ng++] = all & ~seen;
		for (uint32_t i = 1; i <= n; i++)
			for (int g = 0; g < ng; g++)
				if ((group[g] >> (i - 1)) & 1)
					r[i].out = r[i].in = all & ~group[g];
	} else if (!strcmp(sub, "oneway")) {
		uint32_t from, to;
		if (!cli_parse_u32(argv[2], 1, n, &from) || !cli_parse_u32(argv[3], 1, n, &to) ||
		    from == to) {
			free(r);
			return cli_usage_err(c, "nemesis", "nemesis oneway: needs two different nodes "
							   "(1..%u)", n);
		}
		r[from].out |= (uint64_t)1 << (to - 1);
		r[to].in |= (uint64_t)1 << (from - 1);
	} else if (!strcmp(sub, "delay")) {
		uint32_t v, ms;
		if (!cli_parse_u32(argv[2], 1, n, &v) || !cli_parse_u32(argv[3], 0, 60000, &ms)) {
			free(r);
			return cli_usage_err(c, "nemesis", "nemesis delay: needs a node (1..%u) and "
							   "milliseconds (0..60000)", n);
		}
		r[v].delay = ms;
	} else { /* drop */
		uint32_t v, pct;
		if (!cli_parse_u32(argv[2], 1, n, &v) || !cli_parse_u32(argv[3], 0, 100, &pct)) {
			free(r);
			return cli_usage_err(c, "nemesis", "nemesis drop: needs a node (1..%u) and a "
							   "percentage (0..100)", n);
		}
		r[v].pct = pct;
	}
	if (set) {
		for (int i = 0; i < ne; i++) {
			struct nem_rules *x = &r[eps[i].id];
			x->ok = false;
			int k = nem_call(c, &eps[i], true, x);
			if (k == 1) {
				cli_err(c, "nemesis: node %u: %s", eps[i].id, x->err);
				rc = CLI_EXIT_FAIL;
			} else if (k < 0) {
				cli_err(c, "nemesis: node %u did not take the rules: %s", eps[i].id,
					x->err);
				if (rc == CLI_EXIT_OK)
					rc = CLI_EXIT_UNKNOWN;
			}
		}
	} else {
		for (int i = 0; i < ne; i++)
			if (!r[eps[i].id].ok && rc == CLI_EXIT_OK)
				rc = CLI_EXIT_UNKNOWN;
	}
	if (quiet) {
		/* errors were printed above */
	} else if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_array(&j);
		for (int i = 0; i < ne; i++) {
			const struct nem_rules *x = &r[eps[i].id];
			cli_json_begin_object(&j);
			cli_json_key(&j, "node");
			cli_json_uint(&j, eps[i].id);
			cli_json_key(&j, "reachable");
			cli_json_bool(&j, x->ok);
			if (x->ok) {
				cli_json_key(&j, "block_out");
				mask_json(&j, x->out);
				cli_json_key(&j, "block_in");
				mask_json(&j, x->in);
				cli_json_key(&j, "drop_pct");
				cli_json_uint(&j, x->pct);
				cli_json_key(&j, "dropped_out");
				cli_json_uint(&j, x->dropped_out);
				cli_json_key(&j, "dropped_in");
				cli_json_uint(&j, x->dropped_in);
				cli_json_key(&j, "delay_ms");
				cli_json_uint(&j, x->delay);
				cli_json_key(&j, "delayed");
				cli_json_uint(&j, x->delayed);
				cli_json_key(&j, "delay_overflow");
				cli_json_uint(&j, x->overflow);
			} else {
				cli_json_key(&j, "error");
				cli_json_string(&j, x->err);
			}
			cli_json_end_object(&j);
		}
		cli_json_end_array(&j);
		fputc('\n', stdout);
	} else {
		printf("%-5s %-16s %-16s %-5s %-8s %s\n", "node", "no-send-to", "no-receive-from",
		       "drop%", "delay-ms", "dropped out/in, delayed");
		for (int i = 0; i < ne; i++) {
			const struct nem_rules *x = &r[eps[i].id];
			if (!x->ok) {
				printf("%-5u unreachable: %s\n", eps[i].id, x->err);
				continue;
			}
			char o[200], in[200];
			mask_text(x->out, o, sizeof o);
			mask_text(x->in, in, sizeof in);
			printf("%-5u %-16s %-16s %-5u %-8u %llu/%llu, %llu\n", eps[i].id, o, in, x->pct,
			       x->delay, (unsigned long long)x->dropped_out,
			       (unsigned long long)x->dropped_in, (unsigned long long)x->delayed);
		}
	}
	free(r);
	return rc;
}
