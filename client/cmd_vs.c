/* `strata vs`: view-synchronous communication (docs/consensus-variants.md): consensus-based
 * uniform view synchrony (Alg. 6.10-6.11, module uvs, the default) or TRB-based view synchrony
 * (Alg. 6.8-6.9, module vs), chosen with --algo.
 *
 *   strata vs send MESSAGE [-n NODE] [--algo uvs|vs]
 *                                           NODE broadcasts MESSAGE in its current view and
 *                                           waits until it delivers it
 *   strata vs listen [--algo uvs|vs] [--all] [--count N] [--duration SEC]
 *                                           deliveries tagged with their view, and the views
 *                                           installed */
#include <string.h>

#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

static const char vs_help[] =
	"usage: strata vs send [-n NODE] [--algo uvs|vs] [--] MESSAGE\n"
	"       strata vs listen [--algo uvs|vs] [--all] [--count N] [--duration SEC]\n"
	"\n"
	"View-synchronous communication (fail-stop): --algo uvs (default), consensus-based uniform\n"
	"view synchrony (Alg. 6.10-6.11 over beb, uniform consensus and P), or vs, TRB-based view\n"
	"synchrony (Alg. 6.8-6.9 over group membership, one TRB per member and view change, beb).\n"
	"Every message is delivered in the view it was broadcast in, by every member that installs\n"
	"the next view (uvs: once every member has it, so no crashed node delivered more; vs: at once\n"
	"by its sender); a crash reported by P blocks the view, flushes what its members hold and\n"
	"installs the next view (id, members).\n"
	"send: NODE (-n, default the first that answers) broadcasts MESSAGE and prints it once NODE\n"
	"delivered it (a send during a view change waits for the next view). Exit 0 delivered,\n"
	"1 refused, 3 unknown.   -w json: {\"node\":3,\"view\":0,\"sender\":3,\"seq\":1,\"message\":\"hi\"}\n"
	"listen: deliveries and views at one node, or at every node with --all:\n"
	"  node 2: view 0: sender 3: hello     {\"node\":2,\"view\":0,\"sender\":3,\"message\":\"hello\"}\n"
	"  node 2: view 1 installed: 1,2,3,4   {\"node\":2,\"view\":1,\"members\":[1,2,3,4]}\n";

static void print_delivery(struct cli *c, uint32_t node, uint64_t view, uint64_t sender,
			   uint64_t seq, const uint8_t *m, size_t len)
{
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "node");
		cli_json_uint(&j, node);
		cli_json_key(&j, "view");
		cli_json_uint(&j, view);
		cli_json_key(&j, "sender");
		cli_json_uint(&j, sender);
		if (seq) {
			cli_json_key(&j, "seq");
			cli_json_uint(&j, seq);
		}
		cli_json_key(&j, "message");
		cli_json_string_n(&j, (const char *)m, len);
		cli_json_end_object(&j);
	} else {
		printf("node %u: view %llu: sender %llu: %.*s\n", node, (unsigned long long)view,
		       (unsigned long long)sender, (int)len, (const char *)m);
	}
	fflush(stdout);
}

static void print_view(struct cli *c, uint32_t node, uint64_t view, const uint8_t *p, size_t len)
{
	/* p: the members as text "1,2,4" */
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		cli_json_key(&j, "node");
		cli_json_uint(&j, node);
		cli_json_key(&j, "view");
		cli_json_uint(&j, view);
		cli_json_key(&j, "members");
		cli_json_begin_array(&j);
		size_t k = 0;
		while (k < len) {
			uint64_t q = 0;
			while (k < len && p[k] >= '0' && p[k] <= '9' && q < 1000)
				q = q * 10 + (uint64_t)(p[k++] - '0');
			cli_json_uint(&j, q);
			if (k < len)
				k++;
		}
		cli_json_end_array(&j);
		cli_json_end_object(&j);
	} else {
		printf("node %u: view %llu installed: %.*s\n", node, (unsigned long long)view,
		       (int)len, (const char *)p);
	}
	fflush(stdout);
}

static bool vs_event(struct cli *c, uint32_t node, const Strata__Client__Event *e, void *arg)
{
	(void)arg;
	if (strcmp(e->kind, "deliver") != 0)
		return false;
	uint32_t at = e->node ? e->node : node;
	if (e->text && !strcmp(e->text, "view"))
		print_view(c, at, e->seq, e->payload.data, e->payload.len);
	else
		print_delivery(c, at, e->seq, e->peer, 0, e->payload.data, e->payload.len);
	return true;
}

/* --algo uvs|vs, for send and listen. */
static int vs_opt(struct cli *c, int argc, char **argv, int *i, void *arg)
{
	const char **algo = arg;
	if (strcmp(argv[*i], "--algo") != 0 || *i + 1 >= argc)
		return CLI_OPT_NOT_MINE;
	*algo = argv[++*i];
	if (strcmp(*algo, "uvs") != 0 && strcmp(*algo, "vs") != 0)
		return cli_usage_err(c, "vs", "vs: --algo takes uvs or vs, not '%s'", *algo);
	return CLI_EXIT_OK;
}

int cmd_vs(struct cli *c, int argc, char **argv)
{
	const char *algo = "uvs";
	struct cli_send_listen sl = { .opt = vs_opt, .arg = &algo };
	int rc = cli_send_listen_args(c, "vs", vs_help, argc, argv, &sl);
	if (rc != CLI_OPT_NOT_MINE)
		return rc;
	const char *msg = sl.msg;
	const struct strata_algo *a = strata_algo_find(algo);
	rc = a ? cli_algo_runnable(c, a, "vs") : CLI_EXIT_FAIL;
	if (rc != CLI_EXIT_OK)
		return rc;
	if (sl.listen)
		return cli_watch_module(c, "vs listen", algo, sl.all, sl.count, sl.duration, vs_event,
					NULL);
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	rc = cli_send_once(c, algo, "vs send", msg, &resp, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	struct strata_rd rd;
	strata_rd_init(&rd, reply ? reply->value.data : NULL, reply ? reply->value.len : 0);
	uint64_t view = strata_rd_u64(&rd), seq = strata_rd_u64(&rd), node = strata_rd_u64(&rd);
	if (!reply || !strata_rd_ok(&rd) || node == 0 || node > STRATA_MAX_NODES) {
		cli_err(c, "vs send: malformed reply from the node");
		rc = CLI_EXIT_FAIL;
	} else {
		print_delivery(c, (uint32_t)node, view, node, seq, (const uint8_t *)msg, strlen(msg));
	}
	strata__client__response__free_unpacked(resp, NULL);
	return rc;
}
