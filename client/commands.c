/* The command table of the `strata` CLI.
 *
 * Extension point: a new command is one function (see client/cli.h) and one line here. Families
 * that talk to modules (reg write|read, lkv put|get|del, bcast send|listen, workload) build on
 * cli_op() and cli_print_algos(); keep each family in its own client/cmd_FAMILY.c. */
#include "cli.h"

const struct cli_cmd cli_commands[] = {
	{ "status", "members, suspicions, leader, incarnations and counters of a node (or --all)",
	  cmd_status },
	{ "watch", "live view: who suspects whom, leaders, failure-detector events", cmd_watch },
	{ "keygen", "create a node identity (Ed25519 key pair): --out FILE", cmd_keygen },
	{ "algos", "list the algorithms this build implements (no daemon needed)", cmd_algos },
	{ "check", "check a client history: --model atomic|regular|safe FILE", cmd_check },
	{ "check-bcast", "check broadcast delivery logs: --property P [--crashed L] [--byzantine L] DIR",
	  cmd_check_bcast },
	{ "check-consensus", "check consensus decision logs: [--crashed L] DIR", cmd_check_consensus },
	{ "shiviz", "convert broadcast delivery logs in DIR to a ShiViz log", cmd_shiviz },
	{ "reg", "registers: write KEY VALUE | read KEY [--algo NAME] | algos", cmd_reg },
	{ "bcast", "broadcast: send MESSAGE | listen [--all] [--algo NAME] | algos", cmd_bcast },
	{ "lkv", "leaderless store: put KEY VALUE | get KEY | del KEY [--r R --w W] | algos", cmd_lkv },
	{ "kv", "replicated KV store: put KEY VALUE | get KEY | del KEY | "
		"cas KEY OLD NEW | range PREFIX | watch KEY | status | algos", cmd_kv },
	{ "consensus", "consensus: propose VALUE [--algo NAME] [--instance ID] | watch [--all] | algos",
	  cmd_consensus },
	{ "nbac", "atomic commit (Alg. 6.6): begin [--id TX] | vote TX yes|no -n NODE | watch [--all]",
	  cmd_nbac },
	{ "trb", "terminating reliable broadcast (Alg. 6.3): send MESSAGE [-n SENDER] | listen [--all]",
	  cmd_trb },
	{ "members", "group membership (Alg. 6.7): every node's view (id, members) [--watch]",
	  cmd_members },
	{ "vs", "view synchrony (Alg. 6.8-6.11): send MESSAGE [-n NODE] | listen [--algo uvs|vs]",
	  cmd_vs },
	{ "job", "job handlers (seed 1.1.4): submit JOB [--algo jh-sync|jh-async|jt] | watch [--all] | "
		 "algos", cmd_job },
	{ "bench", "closed-loop load on the KV store: put|get --clients C --total N ... (vs etcd: "
		"make bench)", cmd_bench },
	{ "workload", "concurrent clients recording a history for `strata check`", cmd_workload },
	{ "top", "live per-node rates: datagrams, syncs, KV and RESP commands [--interval S]", cmd_top },
	{ "member", "member list: every node's id, addresses, key fingerprint and state", cmd_member },
	{ "endpoint", "endpoint health: every node ok (with latency) or why not", cmd_endpoint },
	{ "nemesis", "test clusters: isolate N | partition A,B C,D | oneway FROM TO | drop N PCT | "
		     "delay N MS | heal | status", cmd_nemesis },
	{ NULL, NULL, NULL },
};
