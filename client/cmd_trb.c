/* `strata trb`: uniform terminating reliable broadcast (Alg. 6.3, module trb;
 * docs/consensus-variants.md).
 *
 *   strata trb send MESSAGE [-n SENDER]     SENDER broadcasts MESSAGE on its next instance and
 *                                           waits until it delivers it
 *   strata trb listen [--all] [--count N] [--duration SEC]
 *                                           deliveries per sender and instance: the message,
 *                                           or ⊥ when the sender crashed */
#include <string.h>

#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"

static const char trb_help[] =
	"usage: strata trb send [-n SENDER] [--] MESSAGE\n"
	"       strata trb listen [--all] [--count N] [--duration SEC]\n"
	"\n"
	"Uniform terminating reliable broadcast (Alg. 6.3 over beb, uniform consensus and P;\n"
	"fail-stop). Every node is the sender of a sequence of instances 1, 2, ...; every node\n"
	"delivers, for each instance, the sender's message or ⊥ (the sender crashed).\n"
	"send: SENDER (-n, default the first that answers) broadcasts MESSAGE on its next instance\n"
	"and prints it once SENDER delivered it. Exit 0 delivered, 1 refused, 3 unknown.\n"
	"-w json: {\"node\":3,\"sender\":3,\"instance\":1,\"message\":\"hello\"}\n"
	"listen: deliveries at one node, or at every node with --all:\n"
	"  node 2: sender 3 instance 1: hello     {\"node\":2,\"sender\":3,\"instance\":1,\"message\":\"hello\"}\n"
	"  node 2: sender 4 instance 1: ⊥ (sender crashed)   ... \"message\":null,\"failed\":true}\n";

/* [tag][s][k][m] -> false if malformed. */
static bool trb_decode(const uint8_t *v, size_t len, bool *failed, uint64_t *s, uint64_t *k,
		       const char **m, size_t *mlen)
{
	struct strata_rd r;
	strata_rd_init(&r, v, len);
	uint8_t tag = strata_rd_u8(&r);
	*s = strata_rd_u64(&r);
	*k = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || tag > 1)
		return false;
	*failed = tag == 0;
	*m = (const char *)v + r.off;
	*mlen = len - r.off;
	return true;
}

static void print_delivery(struct cli *c, uint32_t node, const uint8_t *v, size_t len)
{
	bool failed;
	uint64_t s, k;
	const char *m;
	size_t mlen;
	if (!trb_decode(v, len, &failed, &s, &k, &m, &mlen)) {
		cli_err(c, "trb: node %u sent a malformed delivery", node);
		return;
	}
	if (c->json) {
		struct cli_json j;
		cli_json_init(&j, stdout);
		cli_json_begin_object(&j);
		if (node) {
			cli_json_key(&j, "node");
			cli_json_uint(&j, node);
		}
		cli_json_key(&j, "sender");
		cli_json_uint(&j, s);
		cli_json_key(&j, "instance");
		cli_json_uint(&j, k);
		cli_json_key(&j, "message");
		if (failed)
			cli_json_null(&j);
		else
			cli_json_string_n(&j, m, mlen);
		cli_json_key(&j, "failed");
		cli_json_bool(&j, failed);
		cli_json_end_object(&j);
	} else if (failed) {
		printf("node %u: sender %llu instance %llu: ⊥ (sender crashed)\n", node,
		       (unsigned long long)s, (unsigned long long)k);
	} else {
		printf("node %u: sender %llu instance %llu: %.*s\n", node, (unsigned long long)s,
		       (unsigned long long)k, (int)mlen, m);
	}
}

static bool trb_event(struct cli *c, uint32_t node, const Strata__Client__Event *e, void *arg)
{
	(void)arg;
	if (strcmp(e->kind, "deliver") != 0)
		return false;
	print_delivery(c, node, e->payload.data, e->payload.len);
	return true;
}

int cmd_trb(struct cli *c, int argc, char **argv)
{
	struct cli_send_listen sl = { 0 };
	int rc = cli_send_listen_args(c, "trb", trb_help, argc, argv, &sl);
	if (rc != CLI_OPT_NOT_MINE)
		return rc;
	const struct strata_algo *a = strata_algo_find("trb");
	rc = a ? cli_algo_runnable(c, a, "trb") : CLI_EXIT_FAIL;
	if (rc != CLI_EXIT_OK)
		return rc;
	if (sl.listen)
		return cli_watch_module(c, "trb listen", "trb", sl.all, sl.count, sl.duration, trb_event,
					NULL);
	Strata__Client__Response *resp = NULL;
	const Strata__Client__OpReply *reply = NULL;
	rc = cli_send_once(c, "trb", "trb send", sl.msg, &resp, &reply);
	if (rc != CLI_EXIT_OK)
		return rc;
	struct strata_rd rd;
	strata_rd_init(&rd, reply ? reply->value.data : NULL, reply ? reply->value.len : 0);
	(void)strata_rd_u64(&rd); /* the instance id inside the node */
	if (!reply || !strata_rd_ok(&rd)) {
		cli_err(c, "trb send: malformed reply from the node");
		rc = CLI_EXIT_FAIL;
	} else {
		bool failed;
		uint64_t s, k;
		const char *m;
		size_t mlen;
		if (trb_decode(reply->value.data + rd.off, reply->value.len - rd.off, &failed, &s, &k,
			       &m, &mlen))
			print_delivery(c, (uint32_t)s, reply->value.data + rd.off,
				       reply->value.len - rd.off);
		else
			rc = CLI_EXIT_FAIL;
	}
	strata__client__response__free_unpacked(resp, NULL);
	return rc;
}
