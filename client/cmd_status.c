/* `strata status [--all]`: a node's view of the cluster (members and their failure-detector
 * state, leader, incarnations, counters), from the first node that answers, the -n node, or
 * with --all from every node.
 *
 * -w json prints one object per node; with --all a JSON array with one element per configured
 * node, unreachable ones as {"node":ID,"reachable":false,"error":"..."}. */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char status_help[] =
	"usage: strata status [--all] [GLOBAL FLAGS]\n"
	"\n"
	"Shows one node's view: its id, incarnation, system model, the leader it trusts, every\n"
	"peer's state as its failure detector sees it (alive, suspected, crashed) with the peer's\n"
	"incarnation, and its counters (datagrams, retransmissions, rejected input rej_*, ...).\n"
	"\n"
	"  --all    ask every node of the cluster (exit 3 if some node did not answer)\n"
	"\n"
	"Without -n, the first node that answers is shown. -w json prints a JSON object\n"
	"(with --all, a JSON array).\n";

int cli_status_fetch(struct cli *c, const struct cli_endpoint *ep,
		     Strata__Client__Response **out, char *err, size_t errlen)
{
	uint64_t deadline = cli_now_ms() + (uint64_t)c->timeout_ms;
	int fd = cli_connect(ep, deadline, err, errlen);
	if (fd < 0)
		return -1;
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__StatusRequest sr = STRATA__CLIENT__STATUS_REQUEST__INIT;
	req.id = cli_next_id(c);
	req.body_case = STRATA__CLIENT__REQUEST__BODY_STATUS;
	req.status = &sr;
	int rc = cli_send(fd, &req, deadline, err, errlen);
	while (rc == 0) {
		rc = cli_recv(fd, out, deadline, err, errlen);
		if (rc != 0)
			break;
		if ((*out)->id == req.id)
			break;
		strata__client__response__free_unpacked(*out, NULL);
	}
	close(fd);
	if (rc != 0)
		return -1;
	Strata__Client__Response *r = *out;
	if (r->status != 0 || r->body_case != STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY) {
		snprintf(err, errlen, "%s", r->status ? r->error : "answer without a status");
		strata__client__response__free_unpacked(r, NULL);
		*out = NULL;
		return -1;
	}
	return 0;
}

void cli_status_json(struct cli_json *j, const Strata__Client__Status *s)
{
	cli_json_begin_object(j);
	cli_json_key(j, "node");
	cli_json_uint(j, s->node);
	cli_json_key(j, "reachable");
	cli_json_bool(j, true);
	cli_json_key(j, "cluster");
	cli_json_string(j, s->cluster);
	cli_json_key(j, "incarnation");
	cli_json_uint(j, s->incarnation);
	cli_json_key(j, "model");
	cli_json_string(j, s->model);
	cli_json_key(j, "n");
	cli_json_uint(j, s->n);
	cli_json_key(j, "f");
	cli_json_uint(j, s->f);
	cli_json_key(j, "leader");
	cli_json_uint(j, s->leader);
	cli_json_key(j, "lamport");
	cli_json_uint(j, s->lamport);
	cli_json_key(j, "uptime_ms");
	cli_json_uint(j, s->uptime_ms);
	cli_json_key(j, "metrics_url");
	if (s->metrics_url && s->metrics_url[0])
		cli_json_string(j, s->metrics_url);
	else
		cli_json_null(j);
	cli_json_key(j, "peers");
	cli_json_begin_array(j);
	for (size_t i = 0; i < s->n_peers; i++) {
		cli_json_begin_object(j);
		cli_json_key(j, "id");
		cli_json_uint(j, s->peers[i]->id);
		cli_json_key(j, "state");
		cli_json_string(j, s->peers[i]->state);
		cli_json_key(j, "incarnation");
		cli_json_uint(j, s->peers[i]->incarnation);
		cli_json_end_object(j);
	}
	cli_json_end_array(j);
	cli_json_key(j, "counters");
	cli_json_begin_object(j);
	for (size_t i = 0; i < s->n_counters; i++) {
		cli_json_key(j, s->counters[i]->name);
		cli_json_uint(j, s->counters[i]->value);
	}
	cli_json_end_object(j);
	cli_json_key(j, "modules");
	cli_json_begin_array(j);
	for (size_t i = 0; i < s->n_modules; i++)
		cli_json_string(j, s->modules[i]);
	cli_json_end_array(j);
	cli_json_end_object(j);
}

void cli_status_json_unreachable(struct cli_json *j, uint32_t id, const char *err)
{
	cli_json_begin_object(j);
	cli_json_key(j, "node");
	cli_json_uint(j, id);
	cli_json_key(j, "reachable");
	cli_json_bool(j, false);
	cli_json_key(j, "error");
	cli_json_string(j, err);
	cli_json_end_object(j);
}

static void status_text(const Strata__Client__Status *s)
{
	printf("node %u  incarnation %" PRIu64 "  cluster %s  model %s  n=%u f=%u\n", s->node,
	       s->incarnation, s->cluster, s->model, s->n, s->f);
	if (s->leader)
		printf("leader %u", s->leader);
	else
		printf("leader none");
	printf("  lamport %" PRIu64 "  uptime %" PRIu64 ".%01" PRIu64 " s\n", s->lamport,
	       s->uptime_ms / 1000, (s->uptime_ms % 1000) / 100);
	if (s->metrics_url && s->metrics_url[0])
		printf("metrics %s\n", s->metrics_url);
	printf("  %-5s %-10s %s\n", "peer", "state", "incarnation");
	for (size_t i = 0; i < s->n_peers; i++) {
		const Strata__Client__PeerStatus *p = s->peers[i];
		bool self = p->id == s->node;
		printf("  %-5u %-10s %" PRIu64 "%s%s\n", p->id, p->state, p->incarnation,
		       self ? "  (this node)" : "", p->id == s->leader ? "  (leader)" : "");
	}
	if (s->n_modules) {
		/* Wrapped at about 100 columns: a full stack has many modules. */
		size_t col = 8;
		printf("modules:");
		for (size_t i = 0; i < s->n_modules; i++) {
			size_t w = strlen(s->modules[i]) + 1;
			if (col + w > 100) {
				printf("\n        ");
				col = 8;
			}
			printf(" %s", s->modules[i]);
			col += w;
		}
		printf("\n");
	}
	/* Text shows the counters that moved; -w json shows them all. */
	size_t shown = 0, zero = 0;
	for (size_t i = 0; i < s->n_counters; i++) {
		if (s->counters[i]->value == 0) {
			zero++;
			continue;
		}
		if (shown == 0)
			printf("counters:\n");
		printf("  %-24s %10" PRIu64 "%s", s->counters[i]->name, s->counters[i]->value,
		       shown % 3 == 2 ? "\n" : "");
		shown++;
	}
	if (shown % 3)
		printf("\n");
	if (zero)
		printf("%s%zu other counters are 0 (-w json lists every counter)\n",
		       shown ? "" : "counters: ", zero);
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	bool all = false;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(status_help, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--all") == 0 || strcmp(argv[i], "-a") == 0)
			all = true;
		else if (strcmp(argv[i], "--") != 0)
			return cli_usage_err(c, "status", "status: unexpected argument '%s'", argv[i]);
	}
	struct cli_json j;
	cli_json_init(&j, stdout);
	if (!all) {
		Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
		Strata__Client__StatusRequest sr = STRATA__CLIENT__STATUS_REQUEST__INIT;
		req.body_case = STRATA__CLIENT__REQUEST__BODY_STATUS;
		req.status = &sr;
		Strata__Client__Response *resp = NULL;
		int rc = cli_call(c, &req, true, &resp, NULL);
		if (rc != CLI_EXIT_OK)
			return rc;
		if (resp->status != 0 || resp->body_case != STRATA__CLIENT__RESPONSE__BODY_STATUS_REPLY) {
			cli_err(c, "status: %s", resp->status ? resp->error : "answer without a status");
			strata__client__response__free_unpacked(resp, NULL);
			return CLI_EXIT_FAIL;
		}
		if (c->json)
			cli_status_json(&j, resp->status_reply);
		else
			status_text(resp->status_reply);
		strata__client__response__free_unpacked(resp, NULL);
		return CLI_EXIT_OK;
	}

	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, true, eps, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	int rc = CLI_EXIT_OK;
	if (c->json)
		cli_json_begin_array(&j);
	for (int i = 0; i < n; i++) {
		Strata__Client__Response *resp = NULL;
		char err[256], who[160];
		if (cli_status_fetch(c, &eps[i], &resp, err, sizeof err) != 0) {
			rc = CLI_EXIT_UNKNOWN;
			cli_describe(&eps[i], who, sizeof who);
			if (c->json)
				cli_status_json_unreachable(&j, eps[i].id, err);
			else
				printf("%s%s: unreachable: %s\n", i ? "\n" : "", who, err);
			continue;
		}
		if (c->json) {
			cli_status_json(&j, resp->status_reply);
		} else {
			if (i)
				printf("\n");
			status_text(resp->status_reply);
		}
		strata__client__response__free_unpacked(resp, NULL);
	}
	if (c->json)
		cli_json_end_array(&j);
	return rc;
}
