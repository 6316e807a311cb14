/* `strata member list` and `strata endpoint health`: the cluster views operators of etcd and
 * Consul reach for.
 *
 *   strata member list        every node of cluster.ini: id, host, peer and client ports, the
 *                             public key's fingerprint, and its state as seen by the asked node
 *                             (-n, default the first that answers)
 *   strata endpoint health    asks every node for its status: ok with the round-trip time, or
 *                             why not; exit 0 only if every node is healthy, else 1
 * Both take -w json. */
#include <string.h>

#include "cli.h"
#include "crypto/crypto.h"

static const char member_help[] =
	"usage: strata member list [-n ID] [-w json]\n"
	"\n"
	"Every node of the cluster config: id, host, peer (UDP) and client (TCP) ports, the first\n"
	"16 hex digits of its public key, and its state (alive, suspected, crashed, self) as seen\n"
	"by the asked node (-n, default the first that answers; unknown if none answers).\n"
	"Exit: 0 ok, 2 usage or config, 3 no node answered (the list is printed anyway).\n";

static const char health_help[] =
	"usage: strata endpoint health [-w json]\n"
	"\n"
	"Asks every node of the cluster for its status within --timeout: prints ok and the\n"
	"round-trip time, or why not. Exit 0 only if every node is healthy, else 1.\n";

int cmd_member(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1]) || (argc > 2 && cli_is_help(argv[2]))) {
		fputs(member_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "list") != 0 || argc > 2)
		return cli_usage_err(c, "member", "member: only 'member list' (got '%s')",
				     argc > 2 ? argv[2] : argv[1]);
	if (c->endpoint[0])
		return cli_usage_err(c, "member", "member list: needs the cluster config (--dir), not -e");
	const struct strata_config *cfg = cli_config(c);
	if (!cfg)
		return CLI_EXIT_USAGE;
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int ne = cli_endpoints(c, false, eps, STRATA_MAX_NODES);
	if (ne < 0)
		return CLI_EXIT_USAGE;
	Strata__Client__Response *resp = NULL;
	const Strata__Client__Status *st = NULL;
	char err[256] = "";
	for (int i = 0; i < ne && !st; i++)
		if (cli_status_fetch(c, &eps[i], &resp, err, sizeof err) == 0)
			st = resp->status_reply;
	if (!st)
		cli_err(c, "member list: no node answered (%s): states unknown", err);
	struct cli_json j;
	cli_json_init(&j, stdout);
	if (c->json)
		cli_json_begin_array(&j);
	else
		printf("%-4s %-16s %-6s %-6s %-17s %s\n", "ID", "HOST", "PEER", "CLIENT", "KEY",
		       st ? "STATE" : "STATE (no node answered)");
	for (uint32_t id = 1; id <= cfg->n; id++) {
		const struct strata_peer_cfg *p = &cfg->nodes[id];
		char fp[17] = "-";
		if (p->has_public_key) {
			char hex[65];
			strata_hex_encode(hex, p->public_key, 32);
			memcpy(fp, hex, 16);
			fp[16] = '\0';
		}
		const char *state = "unknown";
		if (st && st->node == id)
			state = "self";
		else if (st)
			for (size_t k = 0; k < st->n_peers; k++)
				if (st->peers[k]->id == id)
					state = st->peers[k]->state;
		if (c->json) {
			cli_json_begin_object(&j);
			cli_json_key(&j, "id");
			cli_json_uint(&j, id);
			cli_json_key(&j, "host");
			cli_json_string(&j, p->host);
			cli_json_key(&j, "port");
			cli_json_uint(&j, p->port);
			cli_json_key(&j, "client_port");
			cli_json_uint(&j, p->client_port);
			cli_json_key(&j, "key_fingerprint");
			cli_json_string(&j, fp);
			cli_json_key(&j, "state");
			cli_json_string(&j, state);
			cli_json_key(&j, "seen_by");
			if (st)
				cli_json_uint(&j, st->node);
			else
				cli_json_null(&j);
			cli_json_end_object(&j);
		} else {
			printf("%-4u %-16s %-6u %-6u %-17s %s\n", id, p->host, p->port, p->client_port,
			       fp, state);
		}
	}
	if (c->json) {
		cli_json_end_array(&j);
		fputc('\n', stdout);
	} else if (st) {
		printf("(states as seen by node %u)\n", st->node);
	}
	if (resp)
		strata__client__response__free_unpacked(resp, NULL);
	return st ? CLI_EXIT_OK : CLI_EXIT_UNKNOWN;
}

int cmd_endpoint(struct cli *c, int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1]) || (argc > 2 && cli_is_help(argv[2]))) {
		fputs(health_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "health") != 0 || argc > 2)
		return cli_usage_err(c, "endpoint", "endpoint: only 'endpoint health' (got '%s')",
				     argc > 2 ? argv[2] : argv[1]);
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int ne = cli_endpoints(c, true, eps, STRATA_MAX_NODES);
	if (ne < 0)
		return CLI_EXIT_USAGE;
	struct cli_json j;
	cli_json_init(&j, stdout);
	if (c->json)
		cli_json_begin_array(&j);
	int bad = 0;
	for (int i = 0; i < ne; i++) {
		Strata__Client__Response *resp = NULL;
		char err[256] = "", who[160];
		cli_describe(&eps[i], who, sizeof who);
		uint64_t t0 = cli_now_ms();
		bool ok = cli_status_fetch(c, &eps[i], &resp, err, sizeof err) == 0;
		uint64_t ms = cli_now_ms() - t0;
		bad += !ok;
		if (c->json) {
			cli_json_begin_object(&j);
			cli_json_key(&j, "node");
			cli_json_uint(&j, eps[i].id);
			cli_json_key(&j, "endpoint");
			char hp[STRATA_HOST_MAX + 8];
			snprintf(hp, sizeof hp, "%s:%u", eps[i].host, eps[i].port);
			cli_json_string(&j, hp);
			cli_json_key(&j, "health");
			cli_json_bool(&j, ok);
			cli_json_key(&j, "took_ms");
			cli_json_uint(&j, ms);
			if (!ok) {
				cli_json_key(&j, "error");
				cli_json_string(&j, err);
			}
			cli_json_end_object(&j);
		} else if (ok) {
			printf("%s is healthy: answered status in %llu ms\n", who,
			       (unsigned long long)ms);
		} else {
			printf("%s is unhealthy: %s (after %llu ms)\n", who, err,
			       (unsigned long long)ms);
		}
		if (resp)
			strata__client__response__free_unpacked(resp, NULL);
	}
	if (c->json) {
		cli_json_end_array(&j);
		fputc('\n', stdout);
	}
	if (bad)
		cli_err(c, "endpoint health: %d of %d node(s) unhealthy", bad, ne);
	return bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
