/* Unit tests for the config parser (src/core/config.c): valid configs and defaults, every class
 * of error with its exact "FILE:LINE: [section] key: problem" text, the shipped examples in
 * config/, the model table and the resilience check. Run from the repository root. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "crypto/crypto.h"

/* Lines 1-2, 3-5, 6-8 and 9-11: a valid 3-node cluster is CL N1 N2 N3 (11 lines). */
#define CL "[cluster]\nid = t\n"
#define N1 "[node.1]\nport = 7101\nclient_port = 7201\n"
#define N2 "[node.2]\nport = 7102\nclient_port = 7202\n"
#define N3 "[node.3]\nport = 7103\nclient_port = 7203\n"
#define BASE CL N1 N2 N3
/* ristretto255 points (1, 2 and 3 times the base point) as threshold coin keys */
#define RP1 "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
#define RP2 "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919"
#define RP3 "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259"
#define CN1 "[node.1]\nport = 7101\nclient_port = 7201\ncoin_key = " RP1 "\n"
#define CN2 "[node.2]\nport = 7102\nclient_port = 7202\ncoin_key = " RP2 "\n"
#define CN3 "[node.3]\nport = 7103\nclient_port = 7203\ncoin_key = " RP3 "\n"

#define PK1 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
#define PK2 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static int parse(struct strata_config *c, const char *text, char *err, size_t errlen)
{
	return strata_config_parse(c, text, "c.ini", err, errlen);
}

static void parse_ok(struct strata_config *c, const char *text)
{
	char err[512] = "";
	int rc = parse(c, text, err, sizeof(err));
	ck_assert_msg(rc == 0, "unexpected error: %s", err);
}

START_TEST(test_defaults)
{
	struct strata_config c;
	parse_ok(&c, BASE);
	ck_assert_str_eq(c.cluster_id, "t");
	ck_assert_int_eq(c.model, STRATA_MODEL_FAIL_NOISY);
	ck_assert_uint_eq(c.smr_bft_overlap, 1); /* one round at a time */
	ck_assert_uint_eq(c.smr_quota_bytes, 2u << 30); /* etcd's default space quota */
	ck_assert_uint_eq(c.n, 3);
	ck_assert_uint_eq(c.f, 1);
	ck_assert_str_eq(c.reg_algo, "");
	ck_assert_str_eq(c.bcast_algo, "");
	ck_assert_uint_eq(c.writer, 1);
	ck_assert_uint_eq(c.lkv_replicas, 3);
	ck_assert_uint_eq(c.lkv_r, 2);
	ck_assert_uint_eq(c.lkv_w, 2);
	ck_assert_uint_eq(c.bcast_fanout, 3);
	ck_assert_uint_eq(c.bcast_rounds, 4);
	ck_assert_uint_eq(c.bcast_store_probability_pct, 50);
	ck_assert_uint_eq(c.heartbeat_ms, 50);
	ck_assert_uint_eq(c.timeout_ms, 250);
	ck_assert_uint_eq(c.evp_timeout_ms, 250);
	ck_assert_uint_eq(c.evp_increment_ms, 100);
	ck_assert_uint_eq(c.max_datagram, 1400);
	ck_assert_uint_eq(c.max_value, 1048576);
	ck_assert_uint_eq(c.window, 1024);
	ck_assert_uint_eq(c.retransmit_min_ms, 10);
	ck_assert_uint_eq(c.retransmit_max_ms, 1000);
	ck_assert_uint_eq(c.backlog_bytes, 64u * 1024 * 1024);
	for (uint32_t id = 1; id <= 3; id++) {
		ck_assert_uint_eq(c.nodes[id].id, id);
		ck_assert_str_eq(c.nodes[id].host, "127.0.0.1");
		ck_assert_uint_eq(c.nodes[id].port, 7100 + id);
		ck_assert_uint_eq(c.nodes[id].client_port, 7200 + id);
		ck_assert(!c.nodes[id].has_public_key);
	}
	/* SHA-256("t") = e3b98a4da31a127d...: the first 8 bytes read little-endian. */
	ck_assert_uint_eq(c.cluster_hash, 0x7d121aa34d8ab9e3ull);

	/* strata_config_defaults agrees with what the parser fills in. */
	struct strata_config d;
	strata_config_defaults(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_eq(d.model, STRATA_MODEL_FAIL_NOISY);
	ck_assert_uint_eq(d.heartbeat_ms, 50);
	ck_assert_uint_eq(d.max_datagram, 1400);
	ck_assert_uint_eq(d.lkv_replicas, 3);
	ck_assert_uint_eq(d.bcast_fanout, 3);
	ck_assert_uint_eq(d.bcast_rounds, 4);
	ck_assert_uint_eq(d.bcast_store_probability_pct, 50);

	/* A byte order mark right before the first section header. */
	parse_ok(&c, "\xEF\xBB\xBF" BASE);
	ck_assert_uint_eq(c.n, 3);
}
END_TEST

START_TEST(test_every_key)
{
	struct strata_config c;
	parse_ok(&c, "\xEF\xBB\xBF; a comment\r\n"
		     "# another comment\r\n"
		     "[cluster] ; trailing comment\r\n"
		     "id = prod-1.eu_west\r\n"
		     "model = fail-arbitrary\r\n"
		     "f = 1\r\n"
		     "reg_algo = byz_reg\r\n"
		     "bcast_algo = bcb-sign\r\n"
		     "writer = 2\r\n"
		     "\r\n"
		     "[fd]\n"
		     "heartbeat_ms = 20\n"
		     "timeout_ms = 100 ; P's Delta\n"
		     "evp_timeout_ms = 150\n"
		     "evp_increment_ms = 30\n"
		     "[links]\n"
		     "max_datagram = 9000\n"
		     "max_value = 16777216\n"
		     "window = 65536\n"
		     "retransmit_min_ms = 5\n"
		     "retransmit_max_ms = 5\n"
		     "backlog_bytes = 16777216\n"
		     "[lkv]\n"
		     "replicas = 4\n"
		     "r = 1\n"
		     "w = 4\n"
		     "[bcast]\n"
		     "fanout = 64\n"
		     "rounds = 1\n"
		     "store_probability_pct = 0\n"
		     "[node.2]\n"
		     "host = ::1\n"
		     "port = 1\n"
		     "client_port = 65535\n"
		     "public_key = " PK2 "\n"
		     "[node.1]\n"
		     "host = node-1.example.org\n"
		     "port = 7101\n"
		     "client_port = 7201\n"
		     "public_key = " PK1 "\n"
		     "[node.3]\n"
		     "port = 7101\n" /* same port, other host: fine */
		     "client_port = 7201\n"
		     "[node.4]\n"
		     "port=7104\n"
		     "client_port:7204\n");
	ck_assert_str_eq(c.cluster_id, "prod-1.eu_west");
	ck_assert_int_eq(c.model, STRATA_MODEL_FAIL_ARBITRARY);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_uint_eq(c.f, 1);
	ck_assert_str_eq(c.reg_algo, "byz_reg");
	ck_assert_str_eq(c.bcast_algo, "bcb-sign");
	ck_assert_uint_eq(c.writer, 2);
	ck_assert_uint_eq(c.heartbeat_ms, 20);
	ck_assert_uint_eq(c.timeout_ms, 100);
	ck_assert_uint_eq(c.evp_timeout_ms, 150);
	ck_assert_uint_eq(c.evp_increment_ms, 30);
	ck_assert_uint_eq(c.max_datagram, 9000);
	ck_assert_uint_eq(c.max_value, 16777216);
	ck_assert_uint_eq(c.window, 65536);
	ck_assert_uint_eq(c.retransmit_min_ms, 5);
	ck_assert_uint_eq(c.retransmit_max_ms, 5);
	ck_assert_uint_eq(c.backlog_bytes, 16777216);
	ck_assert_uint_eq(c.lkv_replicas, 4);
	ck_assert_uint_eq(c.lkv_r, 1);
	ck_assert_uint_eq(c.lkv_w, 4);
	ck_assert_uint_eq(c.bcast_fanout, 64);
	ck_assert_uint_eq(c.bcast_rounds, 1);
	ck_assert_uint_eq(c.bcast_store_probability_pct, 0);
	ck_assert_str_eq(c.nodes[1].host, "node-1.example.org");
	ck_assert_str_eq(c.nodes[2].host, "::1");
	ck_assert_str_eq(c.nodes[3].host, "127.0.0.1");
	ck_assert_uint_eq(c.nodes[2].port, 1);
	ck_assert_uint_eq(c.nodes[2].client_port, 65535);
	ck_assert_uint_eq(c.nodes[4].client_port, 7204);
	ck_assert(c.nodes[1].has_public_key && c.nodes[2].has_public_key);
	ck_assert(!c.nodes[3].has_public_key);
	ck_assert_uint_eq(c.nodes[1].public_key[0], 0x3d);
	ck_assert_uint_eq(c.nodes[1].public_key[31], 0x0c);
	ck_assert_uint_eq(c.nodes[2].public_key[0], 0xd7);
}
END_TEST

/* One port's limits (struct strata_listen_cfg), field by field. */
static void assert_listen(const struct strata_listen_cfg *l, uint32_t max_conns, uint32_t idle_ms,
			  uint32_t frame_ms, uint32_t queue_max)
{
	ck_assert_uint_eq(l->max_conns, max_conns);
	ck_assert_uint_eq(l->idle_ms, idle_ms);
	ck_assert_uint_eq(l->frame_ms, frame_ms);
	ck_assert_uint_eq(l->queue_max, queue_max);
}

/* [resp] and [metrics]: the connection discipline of the other TCP ports, with their own
 * defaults; a non-loopback metrics_host only with allow_remote = on (refused without it: the
 * bad_configs table). */
START_TEST(test_listener_sections)
{
	struct strata_config c;
	parse_ok(&c, BASE);
	assert_listen(&c.listen[STRATA_PORT_RESP], 1024, 300000, 10000, 4u << 20);
	assert_listen(&c.listen[STRATA_PORT_METRICS], 16, 10000, 10000, 2u << 20);
	ck_assert(!c.metrics_allow_remote);
	ck_assert_str_eq(c.nodes[1].metrics_host, "127.0.0.1");
	parse_ok(&c, CL "[node.1]\nport = 7101\nclient_port = 7201\nmetrics_port = 7301\n"
		     "metrics_host = 0.0.0.0\n"
		     "[resp]\nmax_connections = 8\nidle_timeout_ms = 0\nframe_timeout_ms = 2000\n"
		     "queue_max_bytes = 65536\n"
		     "[metrics]\nallow_remote = on\nmax_connections = 4\nidle_timeout_ms = 3000\n"
		     "frame_timeout_ms = 1000\nqueue_max_bytes = 131072\n");
	assert_listen(&c.listen[STRATA_PORT_RESP], 8, 0, 2000, 65536);
	ck_assert(c.metrics_allow_remote);
	assert_listen(&c.listen[STRATA_PORT_METRICS], 4, 3000, 1000, 131072);
	ck_assert_str_eq(c.nodes[1].metrics_host, "0.0.0.0");
	/* ::1 and the 127/8 addresses are loopback: no allow_remote needed */
	parse_ok(&c, CL "[node.1]\nport = 7101\nclient_port = 7201\nmetrics_port = 7301\n"
		     "metrics_host = 127.0.0.2\n");
}
END_TEST

/* [client], [resp] and [metrics] are one struct strata_listen_cfg each, parsed by one table:
 * each section sets its own port's limits and no other's, and every port's defaults are
 * strata_listen_defaults. */
START_TEST(test_listen_sections_independent)
{
	struct strata_config c;
	parse_ok(&c, BASE);
	assert_listen(&c.listen[STRATA_PORT_CLIENT], 1024, 300000, 10000, 4u << 20);
	for (int p = 0; p < STRATA_PORT_COUNT; p++) {
		struct strata_listen_cfg d = strata_listen_defaults((enum strata_port)p);
		ck_assert_mem_eq(&c.listen[p], &d, sizeof d);
	}
	ck_assert_str_eq(strata_port_name(STRATA_PORT_CLIENT), "client");
	ck_assert_str_eq(strata_port_name(STRATA_PORT_RESP), "resp");
	ck_assert_str_eq(strata_port_name(STRATA_PORT_METRICS), "metrics");

	parse_ok(&c, BASE "[client]\nmax_connections = 5\nidle_timeout_ms = 6\n"
			  "frame_timeout_ms = 7\nqueue_max_bytes = 65537\nauth = on\n");
	assert_listen(&c.listen[STRATA_PORT_CLIENT], 5, 6, 7, 65537);
	for (int p = STRATA_PORT_RESP; p < STRATA_PORT_COUNT; p++) {
		struct strata_listen_cfg d = strata_listen_defaults((enum strata_port)p);
		ck_assert_mem_eq(&c.listen[p], &d, sizeof d);
	}
	parse_ok(&c, BASE "[metrics]\nmax_connections = 1024\n[resp]\nmax_connections = 16384\n"
			  "[client]\nmax_connections = 3\n");
	ck_assert_uint_eq(c.listen[STRATA_PORT_CLIENT].max_conns, 3);
	ck_assert_uint_eq(c.listen[STRATA_PORT_RESP].max_conns, 16384);
	ck_assert_uint_eq(c.listen[STRATA_PORT_METRICS].max_conns, 1024);

	/* A config built by hand (zeroed): the runtime's view has the port's defaults where a
	 * zero would be no limit at all; a zero idle timeout stays (never). */
	struct strata_config z;
	memset(&z, 0, sizeof z);
	z.listen[STRATA_PORT_METRICS].frame_ms = 99;
	for (int p = 0; p < STRATA_PORT_COUNT; p++) {
		struct strata_listen_cfg d = strata_listen_defaults((enum strata_port)p);
		struct strata_listen_cfg l = strata_listen_cfg_of(&z, (enum strata_port)p);
		assert_listen(&l, d.max_conns, 0, p == STRATA_PORT_METRICS ? 99 : d.frame_ms,
			      d.queue_max);
	}
	parse_ok(&c, BASE "[resp]\nqueue_max_bytes = 70000\n");
	struct strata_listen_cfg l = strata_listen_cfg_of(&c, STRATA_PORT_RESP);
	ck_assert_mem_eq(&l, &c.listen[STRATA_PORT_RESP], sizeof l);
}
END_TEST

/* The default f is the most the model's own algorithms survive; lkv defaults shrink to fit. */
START_TEST(test_default_f_and_lkv)
{
	struct strata_config c;
	parse_ok(&c, CL N1);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(c.f, 0);
	ck_assert_uint_eq(c.lkv_replicas, 1);
	ck_assert_uint_eq(c.lkv_r, 1);
	ck_assert_uint_eq(c.lkv_w, 1);

	parse_ok(&c, CL N1 N2);
	ck_assert_uint_eq(c.f, 0);
	ck_assert_uint_eq(c.lkv_replicas, 2);
	ck_assert_uint_eq(c.lkv_r, 2);
	ck_assert_uint_eq(c.lkv_w, 2);

	parse_ok(&c, CL N1 N2 N3 "[node.4]\nport=1\nclient_port=2\n");
	ck_assert_uint_eq(c.f, 1);
	parse_ok(&c, CL N1 N2 N3 "[node.4]\nport=1\nclient_port=2\n[node.5]\nport=3\nclient_port=4\n");
	ck_assert_uint_eq(c.f, 2);

	parse_ok(&c, "[cluster]\nid=b\nmodel=fail-arbitrary\n" N1 N2 N3
		     "[node.4]\nport=1\nclient_port=2\n");
	ck_assert_uint_eq(c.f, 1);
	parse_ok(&c, "[cluster]\nid=b\nmodel=fail-arbitrary\n" N1 N2 N3);
	ck_assert_uint_eq(c.f, 0);
}
END_TEST

START_TEST(test_coin_keys)
{
	struct strata_config c;
	parse_ok(&c, BASE);
	ck_assert_uint_eq(c.coin_threshold, 0);
	ck_assert(!c.nodes[1].has_coin_key);
	parse_ok(&c, CL "coin_threshold = 2\n" CN1 CN2 CN3);
	ck_assert_uint_eq(c.coin_threshold, 2);
	for (uint32_t i = 1; i <= 3; i++)
		ck_assert(c.nodes[i].has_coin_key);
	ck_assert_uint_eq(c.nodes[2].coin_key[0], 0x6a);
	ck_assert_uint_eq(c.nodes[3].coin_key[31], 0x59);
}
END_TEST

START_TEST(test_max_nodes)
{
	char text[16384];
	size_t len = (size_t)snprintf(text, sizeof(text), "[cluster]\nid = big\n");
	for (int i = 1; i <= STRATA_MAX_NODES; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[node.%d]\nport = %d\nclient_port = %d\n", i, 7000 + i,
					8000 + i);
	struct strata_config c;
	parse_ok(&c, text);
	ck_assert_uint_eq(c.n, STRATA_MAX_NODES);
	ck_assert_uint_eq(c.f, (STRATA_MAX_NODES - 1) / 2);
	ck_assert_uint_eq(c.nodes[STRATA_MAX_NODES].port, 7000 + STRATA_MAX_NODES);
}
END_TEST

/* A failed parse leaves the caller's config as it was, and err may be NULL. */
START_TEST(test_failure_keeps_config)
{
	struct strata_config c;
	parse_ok(&c, BASE);
	struct strata_config before = c;
	ck_assert_int_eq(parse(&c, CL N1 "[node.2]\nport = 7101\nclient_port = 7202\n", NULL, 0),
			 STRATA_ECONFIG);
	ck_assert(memcmp(&before, &c, sizeof(c)) == 0);
	char tiny[8];
	ck_assert_int_eq(parse(&c, "[bad]\n", tiny, sizeof(tiny)), STRATA_ECONFIG);
	ck_assert_str_eq(tiny, "c.ini:1");
	ck_assert(memcmp(&before, &c, sizeof(c)) == 0);
}
END_TEST

struct bad {
	const char *text;
	const char *err;
};

static const struct bad bad_configs[] = {
	/* values */
	{CL N1 N2 "[node.3]\nport = abc\nclient_port = 7203\n",
	 "c.ini:10: [node.3] port: not a number: 'abc'"},
	{CL N1 N2 "[node.3]\nport = 70000\nclient_port = 7203\n",
	 "c.ini:10: [node.3] port: out of range: 70000 (must be 1..65535)"},
	{CL N1 N2 "[node.3]\nport = 0\nclient_port = 7203\n",
	 "c.ini:10: [node.3] port: out of range: 0 (must be 1..65535)"},
	{CL N1 N2 "[node.3]\nport = -1\nclient_port = 7203\n",
	 "c.ini:10: [node.3] port: not a number: '-1'"},
	{CL N1 N2 "[node.3]\nport = 99999999999\nclient_port = 7203\n",
	 "c.ini:10: [node.3] port: out of range: 99999999999 (must be 1..65535)"},
	{CL N1 N2 "[node.3]\nport = 7103\nclient_port = 72 03\n",
	 "c.ini:11: [node.3] client_port: not a number: '72 03'"},
	{CL N1 "[node.2]\nport =\nclient_port = 7202\n",
	 "c.ini:7: [node.2] port: not a number: ''"},
	{CL N1 "[node.2]\nhost = a b\nport = 1\nclient_port = 7202\n",
	 "c.ini:7: [node.2] host: not a host name or address: 'a b'"},
	{CL N1 "[node.2]\nhost =\nport = 1\nclient_port = 7202\n",
	 "c.ini:7: [node.2] host: must not be empty"},
	{CL "[node.1]\npublic_key = abcd\n",
	 "c.ini:4: [node.1] public_key: expected 64 hex characters, got 4"},
	{CL "[node.1]\npublic_key = "
	    "zz5a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a\n",
	 "c.ini:4: [node.1] public_key: not hexadecimal: "
	 "'zz5a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'"},
	{"[cluster]\nid =\n", "c.ini:2: [cluster] id: must not be empty"},
	{"[cluster]\nid = 0123456789abcdef0123456789abcdef\n",
	 "c.ini:2: [cluster] id: too long: 32 characters (at most 31)"},
	{"[cluster]\nid = a/b\n",
	 "c.ini:2: [cluster] id: 'a/b' has characters other than letters, digits, '.', '_' and '-'"},
	{CL "model = byzantine\n",
	 "c.ini:3: [cluster] model: unknown model 'byzantine' (expected fail-stop, fail-noisy, "
	 "fail-silent, fail-recovery, fail-arbitrary or randomized)"},
	{CL "writer = 0\n", "c.ini:3: [cluster] writer: out of range: 0 (must be 1..64)"},
	{CL "f = 64\n", "c.ini:3: [cluster] f: out of range: 64 (must be 0..63)"},
	{BASE "[links]\nmax_datagram = 511\n",
	 "c.ini:13: [links] max_datagram: out of range: 511 (must be 512..65000)"},
	/* The space quota: no "0 = none", and at most 3 GiB (a full state stays installable). */
	{BASE "[smr]\nquota_bytes = 0\n",
	 "c.ini:13: [smr] quota_bytes: out of range: 0 (must be 1..3221225472)"},
	{BASE "[smr]\nquota_bytes = 3221225473\n",
	 "c.ini:13: [smr] quota_bytes: out of range: 3221225473 (must be 1..3221225472)"},
	{BASE "[smr]\nbft_overlap = 0\n",
	 "c.ini:13: [smr] bft_overlap: out of range: 0 (must be 1..16)"},
	{BASE "[smr]\nbft_overlap = 17\n",
	 "c.ini:13: [smr] bft_overlap: out of range: 17 (must be 1..16)"},
	{BASE "[links]\nmax_datagram = 65001\n",
	 "c.ini:13: [links] max_datagram: out of range: 65001 (must be 512..65000)"},
	{BASE "[links]\nwindow = 15\n",
	 "c.ini:13: [links] window: out of range: 15 (must be 16..65536)"},
	{BASE "[links]\nmax_value = 16777217\n",
	 "c.ini:13: [links] max_value: out of range: 16777217 (must be 1..16777216)"},
	{BASE "[fd]\nheartbeat_ms = 0\n",
	 "c.ini:13: [fd] heartbeat_ms: out of range: 0 (must be 1..3600000)"},
	{CL "cons_algo = paxos\n",
	 "c.ini:3: [cluster] cons_algo: unknown key (expected one of: id, model, f, reg_algo, "
	 "bcast_algo, writer, nemesis, coin_threshold, encrypt)"},
	{CL "nemesis = yes\n", "c.ini:3: [cluster] nemesis: 'yes' is not on or off"},
	/* the threshold coin's keys */
	{CL "coin_threshold = 2\n" N1 N2 N3,
	 "c.ini:3: [cluster] coin_threshold: set, but no node has a coin_key"},
	{CL "coin_threshold = 2\n" CN1 N2 N3,
	 "c.ini:8: [node.2] coin_key: missing: node.1 has one, and the threshold coin needs every "
	 "node's (deal them together with `stratad coin-deal`)"},
	{CL "[node.1]\nport = 7101\nclient_port = 7201\ncoin_key = "
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n" N2 N3,
	 "c.ini:6: [node.1] coin_key: not a ristretto255 point (a coin_key printed by "
	 "`stratad coin-deal`)"},
	{CL "[node.1]\nport = 7101\nclient_port = 7201\ncoin_key = e2f2\n" N2 N3,
	 "c.ini:6: [node.1] coin_key: expected 64 hex characters, got 4"},
	{CL "coin_threshold = 3\n" CN1 CN2 CN3,
	 "c.ini:3: [cluster] coin_threshold: must be between f + 1 = 2 and n - f = 2, but is 3"},
	{CL CN1 CN2 CN3,
	 "c.ini:1: [cluster] coin_threshold: required key missing (the nodes have coin_key "
	 "entries)"},
	{CL "[node.1]\nprot = 1\n",
	 "c.ini:4: [node.1] prot: unknown key (expected one of: host, port, client_port, "
	 "public_key, resp_port, coin_key, metrics_port, metrics_host)"},
	{"[cluster]\nid = t\nid = u\n", "c.ini:3: [cluster] id: duplicate key (first set on line 2)"},
	/* sections and syntax */
	{CL N1 "[nodes]\n",
	 "c.ini:6: [nodes]: unknown section (expected cluster, node.N, fd, links, lkv, bcast, smr, "
	 "client, tob, resp or metrics)"},
	/* the metrics port has no authentication: loopback unless the config says otherwise */
	{CL "[node.1]\nport = 7101\nclient_port = 7201\nmetrics_port = 7301\nmetrics_host = 0.0.0.0\n",
	 "c.ini:7: [node.1] metrics_host: 0.0.0.0 is not a loopback address, and the metrics port "
	 "has no authentication: anyone who reaches it reads every status counter, the peers' "
	 "states and the operation latencies (set [metrics] allow_remote = on to serve them there "
	 "anyway)"},
	{BASE "[resp]\nmax_connections = 0\n",
	 "c.ini:13: [resp] max_connections: out of range: 0 (must be 1..16384)"},
	{BASE "[metrics]\nqueue_max_bytes = 1000\n",
	 "c.ini:13: [metrics] queue_max_bytes: out of range: 1000 (must be 65536..1073741824)"},
	{BASE "[metrics]\nallow_remote = maybe\n",
	 "c.ini:13: [metrics] allow_remote: 'maybe' is not on or off"},
	{BASE "[metrics]\nmax_connections = 1025\n",
	 "c.ini:13: [metrics] max_connections: out of range: 1025 (must be 1..1024)"},
	{BASE "[client]\nmax_connections = 16385\n",
	 "c.ini:13: [client] max_connections: out of range: 16385 (must be 1..16384)"},
	{BASE "[client]\nmaxconn = 1\n",
	 "c.ini:13: [client] maxconn: unknown key (expected one of: max_connections, "
	 "idle_timeout_ms, frame_timeout_ms, queue_max_bytes, auth)"},
	{BASE "[resp]\nauth = on\n",
	 "c.ini:13: [resp] auth: unknown key (expected one of: max_connections, "
	 "idle_timeout_ms, frame_timeout_ms, queue_max_bytes)"},
	{BASE "[resp]\nidle_timeout_ms = 1\n[metrics]\nidle_timeout_ms = 2\nidle_timeout_ms = 3\n",
	 "c.ini:16: [metrics] idle_timeout_ms: duplicate key (first set on line 15)"},
	{CL "[node.0]\n", "c.ini:3: [node.0]: node id out of range (must be 1..64)"},
	{CL "[node.65]\n", "c.ini:3: [node.65]: node id out of range (must be 1..64)"},
	{CL "[node.99999999999]\n",
	 "c.ini:3: [node.99999999999]: node id out of range (must be 1..64)"},
	{CL "[node.x]\n",
	 "c.ini:3: [node.x]: node id is not a number (expected [node.1] .. [node.64])"},
	{CL "[node.01]\n",
	 "c.ini:3: [node.01]: node id is not a number (expected [node.1] .. [node.64])"},
	{CL N1 "[node.1]\n", "c.ini:6: [node.1]: duplicate section (first on line 3)"},
	{CL N1 "[cluster]\n", "c.ini:6: [cluster]: duplicate section (first on line 1)"},
	/* What scripts/cluster writes (STRATA_CLUSTER_THRIFTY) and a second [smr] appended after it
	 * (tests/integration/lib.sh ini_set adds to the first instead). */
	{CL N1 "[smr]\nthrifty = on\n[smr]\nsnapshot_entries = 10\n",
	 "c.ini:8: [smr]: duplicate section (first on line 6)"},
	{"id = t\n[cluster]\n", "c.ini:1: id: key before the first [section]"},
	{CL "this is not ini\n", "c.ini:3: expected '[section]' or 'key = value'"},
	{CL "[node.1\n", "c.ini:3: section header without closing ']'"},
	{"[cluster] x\n", "c.ini:1: text after section header: 'x'"},
	{"[cluster]\n  id = t\n",
	 "c.ini:2: indented line (write every key at the start of its line; indentation would "
	 "continue the previous value)"},
	/* The first error wins, whichever part of the parser finds it. */
	{CL "junk\n" N1 "[node.2]\nport = x\n", "c.ini:3: expected '[section]' or 'key = value'"},
	{CL "junk\n[bad]\n", "c.ini:3: expected '[section]' or 'key = value'"},
	/* whole-config checks */
	{N1, "c.ini: [cluster]: required section missing"},
	{"[cluster]\nmodel = fail-stop\n" N1, "c.ini:1: [cluster] id: required key missing"},
	{CL, "c.ini: no [node.N] section: a cluster needs at least one node"},
	{CL N1 N3,
	 "c.ini:6: [node.3]: node ids must be contiguous from 1, but [node.2] is missing"},
	{CL "[node.2]\nport=1\nclient_port=2\n",
	 "c.ini:3: [node.2]: node ids must be contiguous from 1, but [node.1] is missing"},
	{CL "[node.1]\nclient_port = 7201\n", "c.ini:3: [node.1] port: required key missing"},
	{CL N1 "[node.2]\n", "c.ini:6: [node.2] port: required key missing"},
	{CL "[node.1]\nport = 7101\n", "c.ini:3: [node.1] client_port: required key missing"},
	{CL N1 "[node.2]\nport = 7101\nclient_port = 7202\n",
	 "c.ini:7: [node.2] port: 127.0.0.1:7101 is already the port of node.1"},
	{CL N1 "[node.2]\nport = 7102\nclient_port = 7201\n",
	 "c.ini:8: [node.2] client_port: 127.0.0.1:7201 is already the client port of node.1"},
	{CL "[node.1]\nport=1\nclient_port=2\npublic_key=" PK1
	    "\n[node.2]\nport=3\nclient_port=4\npublic_key=" PK1 "\n",
	 "c.ini:10: [node.2] public_key: same key as node.1"},
	{CL "f = 3\n" N1 N2 N3,
	 "c.ini:3: [cluster] f: must be less than the number of nodes (f=3, n=3)"},
	{CL "model = fail-arbitrary\nf = 1\n" N1 N2 N3,
	 "c.ini:4: [cluster] f: a fail-arbitrary cluster needs n > 3f (f Byzantine nodes among n; "
	 "two quorums of n - f must share a correct node), but n=3, f=1 (at most f=0)"},
	{CL "writer = 4\n" N1 N2 N3,
	 "c.ini:3: [cluster] writer: no such node: 4 (the cluster has nodes 1..3)"},
	{BASE "[lkv]\nreplicas = 4\n",
	 "c.ini:13: [lkv] replicas: must be at most the number of nodes (replicas=4, n=3)"},
	{BASE "[lkv]\nreplicas = 3\nr = 4\n",
	 "c.ini:14: [lkv] r: must be at most replicas (r=4, replicas=3)"},
	{BASE "[lkv]\nw = 3\nreplicas = 2\n",
	 "c.ini:13: [lkv] w: must be at most replicas (w=3, replicas=2)"},
	{BASE "[lkv]\nr = 0\n", "c.ini:13: [lkv] r: out of range: 0 (must be 1..64)"},
	{BASE "[bcast]\nfanout = 0\n", "c.ini:13: [bcast] fanout: out of range: 0 (must be 1..64)"},
	{BASE "[bcast]\nfanout = 65\n",
	 "c.ini:13: [bcast] fanout: out of range: 65 (must be 1..64)"},
	{BASE "[bcast]\nrounds = 0\n", "c.ini:13: [bcast] rounds: out of range: 0 (must be 1..64)"},
	{BASE "[bcast]\nrounds = 65\n",
	 "c.ini:13: [bcast] rounds: out of range: 65 (must be 1..64)"},
	{BASE "[bcast]\nstore_probability_pct = 101\n",
	 "c.ini:13: [bcast] store_probability_pct: out of range: 101 (must be 0..100)"},
	{BASE "[bcast]\nstore_probability_pct = -1\n",
	 "c.ini:13: [bcast] store_probability_pct: not a number: '-1'"},
	{BASE "[bcast]\nfanout = 3\nfanout = 4\n",
	 "c.ini:14: [bcast] fanout: duplicate key (first set on line 13)"},
	{BASE "[bcast]\nk = 3\n",
	 "c.ini:13: [bcast] k: unknown key (expected one of: fanout, rounds, "
	 "store_probability_pct)"},
	{BASE "[fd]\nheartbeat_ms = 100\ntimeout_ms = 100\n",
	 "c.ini:14: [fd] timeout_ms: must be greater than heartbeat_ms (100), but is 100"},
	{BASE "[fd]\nheartbeat_ms = 300\n",
	 "c.ini:13: [fd] heartbeat_ms: must be less than timeout_ms (250), but is 300"},
	{BASE "[fd]\nheartbeat_ms = 100\ntimeout_ms = 500\nevp_timeout_ms = 50\n",
	 "c.ini:15: [fd] evp_timeout_ms: must be greater than heartbeat_ms (100), but is 50"},
	{BASE "[links]\nretransmit_min_ms = 2000\n",
	 "c.ini:13: [links] retransmit_min_ms: must be at most retransmit_max_ms (1000), but is "
	 "2000"},
	{BASE "[links]\nretransmit_min_ms = 20\nretransmit_max_ms = 19\n",
	 "c.ini:14: [links] retransmit_max_ms: must be at least retransmit_min_ms (20), but is 19"},
	{BASE "[links]\nmax_value = 2000000\nbacklog_bytes = 1000000\n",
	 "c.ini:14: [links] backlog_bytes: must be at least max_value (2000000), but is 1000000"},
};

START_TEST(test_bad_config)
{
	const struct bad *b = &bad_configs[_i];
	struct strata_config c;
	char err[512] = "";
	int rc = parse(&c, b->text, err, sizeof(err));
	ck_assert_msg(rc == STRATA_ECONFIG, "case %d parsed (rc %d): expected %s", _i, rc, b->err);
	ck_assert_msg(strcmp(err, b->err) == 0, "case %d:\n  got      %s\n  expected %s", _i, err,
		      b->err);
}
END_TEST

START_TEST(test_long_line)
{
	char text[512];
	char pad[300];
	memset(pad, 'a', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(text, sizeof(text), CL "; %s\n" N1, pad);
	struct strata_config c;
	char err[256];
	ck_assert_int_eq(parse(&c, text, err, sizeof(err)), STRATA_ECONFIG);
	ck_assert_str_eq(err, "c.ini:3: line too long (at most 197 characters)");
}
END_TEST

/* Every example shipped in config/ parses (they omit keys; scripts/cluster adds them). */
START_TEST(test_examples_parse)
{
	DIR *d = opendir("config");
	ck_assert_msg(d != NULL, "run the tests from the repository root");
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof(path), "config/%s", e->d_name);
		FILE *fp = fopen(path, "r");
		ck_assert_msg(fp != NULL, "cannot open %s", path);
		static char text[65536];
		size_t got = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
		text[got] = '\0';
		struct strata_config c;
		char err[512] = "";
		ck_assert_msg(strata_config_parse(&c, text, path, err, sizeof(err)) == 0, "%s", err);
		ck_assert_uint_ge(c.n, 3);
		ck_assert_uint_lt(c.f, c.n);
		if (c.model == STRATA_MODEL_FAIL_ARBITRARY)
			ck_assert_msg(c.n > 3 * c.f, "%s: Byzantine example needs n > 3f", path);
		else
			ck_assert_msg(c.n > 2 * c.f, "%s: example needs n > 2f", path);
		count++;
	}
	closedir(d);
	ck_assert_int_ge(count, 8);
}
END_TEST

START_TEST(test_model_names)
{
	for (int m = 0; m < STRATA_MODEL_COUNT; m++)
		ck_assert_int_eq(strata_model_parse(strata_model_name((enum strata_model)m)), m);
	ck_assert_str_eq(strata_model_name(STRATA_MODEL_FAIL_RECOVERY), "fail-recovery");
	ck_assert_int_eq(strata_model_parse("fail-arbitrary"), STRATA_MODEL_FAIL_ARBITRARY);
	ck_assert_int_eq(strata_model_parse("Fail-Stop"), -1);
	ck_assert_int_eq(strata_model_parse(""), -1);
	ck_assert_int_eq(strata_model_parse(NULL), -1);
	ck_assert_str_eq(strata_model_name(STRATA_MODEL_COUNT), "unknown");
}
END_TEST

START_TEST(test_model_supports)
{
	/* Rows: cluster model; columns: the model an algorithm needs. Order of enum strata_model:
	 * stop, noisy, silent, recovery, arbitrary, randomized. */
	static const bool expect[STRATA_MODEL_COUNT][STRATA_MODEL_COUNT] = {
		/* fail-stop      */ {1, 1, 1, 0, 0, 1},
		/* fail-noisy     */ {0, 1, 1, 0, 0, 1},
		/* fail-silent    */ {0, 0, 1, 0, 0, 1},
		/* fail-recovery  */ {0, 0, 0, 1, 0, 0},
		/* fail-arbitrary */ {0, 0, 0, 0, 1, 0},
		/* randomized     */ {0, 0, 1, 0, 0, 1},
	};
	for (int c = 0; c < STRATA_MODEL_COUNT; c++)
		for (int a = 0; a < STRATA_MODEL_COUNT; a++)
			ck_assert_msg(strata_model_supports((enum strata_model)c,
							    (enum strata_model)a) == expect[c][a],
				      "cluster %s, algorithm %s", strata_model_name((enum strata_model)c),
				      strata_model_name((enum strata_model)a));
	ck_assert(!strata_model_supports(STRATA_MODEL_COUNT, STRATA_MODEL_FAIL_STOP));
}
END_TEST

START_TEST(test_resilience)
{
	struct strata_config c;
	char err[256] = "";
	strata_config_defaults(&c);
	c.n = 4;
	c.f = 2;
	ck_assert_int_eq(strata_config_check_resilience(&c, "nnar", 2, err, sizeof(err)),
			 STRATA_EMODEL);
	ck_assert_str_eq(err, "algorithm 'nnar' needs n > 2f, but the cluster has n=4, f=2");
	c.n = 5;
	ck_assert_int_eq(strata_config_check_resilience(&c, "nnar", 2, err, sizeof(err)), 0);
	ck_assert_int_eq(strata_config_check_resilience(&c, "nnar", 2, NULL, 0), 0);

	c.n = 6;
	ck_assert_int_eq(strata_config_check_resilience(&c, "bcb", 3, err, sizeof(err)),
			 STRATA_EMODEL);
	ck_assert_str_eq(err, "algorithm 'bcb' needs n > 3f, but the cluster has n=6, f=2");
	c.n = 7;
	ck_assert_int_eq(strata_config_check_resilience(&c, "bcb", 3, err, sizeof(err)), 0);
	c.n = 8;
	ck_assert_int_eq(strata_config_check_resilience(&c, "x", 4, err, sizeof(err)), STRATA_EMODEL);
	ck_assert_str_eq(err, "algorithm 'x' needs n > 4f, but the cluster has n=8, f=2");
	c.n = 2;
	c.f = 2;
	ck_assert_int_eq(strata_config_check_resilience(&c, "y", 1, err, sizeof(err)), STRATA_EMODEL);
	ck_assert_str_eq(err, "algorithm 'y' needs n > f, but the cluster has n=2, f=2");
	c.f = 0;
	ck_assert_int_eq(strata_config_check_resilience(&c, "y", 4, err, sizeof(err)), 0);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_default_f_and_lkv);
	tcase_add_test(tc, test_coin_keys);
	tcase_add_test(tc, test_listener_sections);
	tcase_add_test(tc, test_listen_sections_independent);
	tcase_add_test(tc, test_max_nodes);
	tcase_add_test(tc, test_failure_keeps_config);
	tcase_add_loop_test(tc, test_bad_config, 0, (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_examples_parse);
	suite_add_tcase(s, tc);

	TCase *tm = tcase_create("model");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tm, 60);
	tcase_add_test(tm, test_model_names);
	tcase_add_test(tm, test_model_supports);
	tcase_add_test(tm, test_resilience);
	suite_add_tcase(s, tm);
	return s;
}

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
