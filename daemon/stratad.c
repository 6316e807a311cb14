/* stratad: one strata node as a process. Flags and config, the node's identity and data
 * directory, the stack, the libuv runtime (src/rt/uv), signals and an orderly shutdown.
 *
 *   stratad --config FILE --id N [--data DIR] [--key FILE] [--log-level LEVEL] [--bcast-log DIR]
 *           [--cons-log DIR] [--sched batch|normal]
 *           [--byzantine-test BEHAVIOUR] [--test-sync-delay-ms N] [--test-capture FILE]
 *   stratad keygen --out FILE
 *
 * --byzantine-test makes the node misbehave on purpose (enum strata_byz) so that integration
 * tests can show the fail-arbitrary algorithms mask it; it is accepted only on a fail-arbitrary
 * cluster and announced with a warning in the log. --test-sync-delay-ms makes every storage sync
 * N ms slower (1..10000, on the sync thread), so that a test can show replies wait for the sync;
 * also announced with a warning. --test-capture appends every peer datagram the node sends or
 * receives to FILE (docs/fuzzing.md: seeds for the fuzz targets, and the check that encrypted
 * traffic carries no plaintext); announced with a warning.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on an operating failure (bind, storage), 2 on a usage,
 * config or key problem. See docs/daemon.md. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sodium.h>
#include <uv.h>

#include "check/bcast_log.h"
#include "check/cons_log.h"
#include "cons/tcoin.h"
#include "core/config.h"
#include "core/error.h"
#include "core/stack.h"
#include "core/version.h"
#include "crypto/crypto.h"
#include "crypto/session.h"
#include "rt/uv/keyfile.h"
#include "rt/uv/uv.h"
#include "store/store.h"

#define CONFIG_MAX (1u << 20)
#define INCARNATION_KEY "stratad/incarnation"
#define BCAST_LOGS_MAX 32

static const char usage_text[] =
	"usage: stratad --config FILE --id N [options]\n"
	"       stratad keygen --out FILE\n"
	"       stratad client-keygen --out FILE\n"
	"       stratad coin-deal --nodes N --threshold T --dir DIR\n"
	"\n"
	"Runs node N of the cluster described by FILE.\n"
	"  --config FILE      cluster config (INI); every node needs a public_key\n"
	"  --id N             this node's id, 1..n\n"
	"  --data DIR         data directory (default ./data-N); created if missing,\n"
	"                     an existing one means the node is recovering\n"
	"  --key FILE         secret key file (default: <config dir>/node-N.key)\n"
	"  --client-key FILE  the cluster's client key, needed unless [client] auth = off\n"
	"                     (default: <config dir>/client.key)\n"
	"  --coin-share FILE  threshold coin share, needed when the config has coin_key entries\n"
	"                     (default: <key file>.coin)\n"
	"  --log-level LEVEL  error, warn, info (default), debug or trace\n"
	"  --sched POLICY     CPU scheduling policy of the node's threads: batch (default:\n"
	"                     when woken, the node does not preempt the thread running on its\n"
	"                     CPU, e.g. a peer in the middle of its turn) or normal\n"
	"                     (docs/daemon.md)\n"
	"  --bcast-log DIR    record broadcasts and deliveries in DIR/<algo>/node-N.log\n"
	"  --cons-log DIR     record consensus proposals and decisions in DIR/<algo>/node-N.log\n"
	"  --check-config     only check the config and this node's key, print why not, exit\n"
	"                     (0 ok, 2 a problem); binds nothing, touches no data directory\n"
	"  -h, --help         this text\n"
	"  --version          print the version and exit\n"
	"\n"
	"test-only (never in production):\n"
	"  --byzantine-test BEHAVIOUR\n"
	"                     this node misbehaves on purpose in the Byzantine algorithms:\n"
	"                     silent, equivocate, replay, forge, badsig, lie-state, complain or\n"
	"                     old-epoch (docs/broadcast-byzantine.md, docs/registers-byzantine.md,\n"
	"                     docs/consensus-byzantine.md); only on a fail-arbitrary cluster\n"
	"  --test-sync-delay-ms N\n"
	"                     every storage sync sleeps N ms (1..10000) before it flushes, to\n"
	"                     show that replies and sends wait for the sync (docs/daemon.md)\n"
	"  --test-capture FILE\n"
	"                     append every peer datagram sent or received to FILE\n"
	"                     (docs/fuzzing.md)\n"
	"\n"
	"keygen writes a new Ed25519 identity to FILE (mode 0600) and FILE.pub and prints the\n"
	"public key in hex, for the node's public_key in the config.\n"
	"client-keygen writes a new client key to FILE (mode 0600): clients holding it may use the\n"
	"cluster ([client] auth, docs/security.md); prints the RESP password derived from it.\n"
	"coin-deal deals the threshold coin of randomized consensus for N nodes (any T shares\n"
	"reveal a coin; f + 1 <= T <= N - f): DIR/node-I.key.coin (mode 0600) for each node, and\n"
	"prints the config lines (coin_threshold, each node's coin_key). See docs/consensus.md.\n"
	"Exit status: 0 after SIGTERM/SIGINT, 1 runtime failure, 2 usage/config/key error.\n";

struct bcast_file {
	char module[STRATA_BCAST_ALGO_MAX];
	struct strata_bcast_log *log;
	bool failed;
};

struct cons_file {
	char module[32];
	struct strata_cons_log *log;
	bool failed;
};

struct daemon {
	const char *config_path, *data_dir, *key_path, *bcast_dir, *cons_dir, *coin_path;
	const char *client_key_path; /* --client-key */
	uint32_t id;
	enum strata_log_level log_level;
	int sched_policy; /* --sched: SCHED_BATCH (default) or SCHED_OTHER */
	int sched_errno;  /* why setting sched_policy failed (the node runs as it was), or 0 */
	enum strata_byz byz; /* test-only misbehaviour; STRATA_BYZ_NONE normally */
	unsigned test_sync_delay_ms; /* test-only slow syncs; 0 normally */
	const char *capture_path;    /* test-only capture of peer datagrams; NULL normally */
	FILE *capture;
	bool check_only;     /* --check-config: validate config and key, then exit */
	bool fatal;          /* the node stopped: stable storage failed */
	struct strata_config cfg;
	struct strata_store *store;
	struct strata_uv *rt;
	uv_signal_t sigterm, sigint;
	struct bcast_file blogs[BCAST_LOGS_MAX];
	struct cons_file clogs[BCAST_LOGS_MAX];
	unsigned nclogs;
	unsigned nblogs;
};

static int die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "stratad: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see stratad --help)\n");
	return 2;
}

/* ---- keygen ---- */

/* The key generators' arguments (`--out FILE`, `--help`) and libsodium: -1 to go on with
 * *out set, else the exit status. */
static int keygen_args(int argc, char **argv, const char *cmd, const char **out)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			*out = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			fprintf(stderr, "stratad: %s: unexpected argument '%s'\n(see stratad --help)\n",
				cmd, argv[i]);
			return 2;
		}
	}
	if (!*out) {
		fprintf(stderr, "stratad: %s: --out FILE is required\n(see stratad --help)\n", cmd);
		return 2;
	}
	if (strata_crypto_init() != 0) {
		fprintf(stderr, "stratad: crypto initialisation failed (libsodium or "
				"STRATA_SHA256)\n");
		return 1;
	}
	return -1;
}

static int cmd_keygen(int argc, char **argv)
{
	const char *out = NULL;
	int rc0 = keygen_args(argc, argv, "keygen", &out);
	if (rc0 >= 0)
		return rc0;
	uint8_t pk[STRATA_PK_LEN];
	uint8_t *sk = strata_secure_alloc(STRATA_SK_LEN);
	char err[512];
	int rc = sk ? strata_keypair(pk, sk) : STRATA_ENOMEM;
	if (rc == 0)
		rc = strata_keyfile_write(out, pk, sk, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "key generation failed: %s", strata_strerror(rc));
	strata_secure_free(sk);
	if (rc) {
		fprintf(stderr, "stratad: %s\n", err);
		return 1;
	}
	char hex[2 * STRATA_PK_LEN + 1];
	strata_hex_encode(hex, pk, sizeof(pk));
	printf("%s\n", hex);
	return 0;
}

/* ---- client-keygen ---- */

static int cmd_client_keygen(int argc, char **argv)
{
	const char *out = NULL;
	int rc0 = keygen_args(argc, argv, "client-keygen", &out);
	if (rc0 >= 0)
		return rc0;
	uint8_t *key = strata_secure_alloc(STRATA_CLIENT_KEY_LEN);
	if (!key) {
		fprintf(stderr, "stratad: out of secure memory\n");
		return 1;
	}
	randombytes_buf(key, STRATA_CLIENT_KEY_LEN);
	char err[512], pw[65];
	int rc = strata_clientkey_write(out, key, err, sizeof(err));
	strata_session_resp_password(pw, key);
	strata_secure_free(key);
	if (rc) {
		fprintf(stderr, "stratad: %s\n", err);
		return 1;
	}
	printf("%s\n", pw);
	return 0;
}

/* The client key when [client] auth is on: --client-key or <config dir>/client.key. */
static int load_client_key(struct daemon *d, uint8_t *key)
{
	char path[PATH_MAX + 32];
	if (d->client_key_path) {
		snprintf(path, sizeof(path), "%s", d->client_key_path);
	} else {
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s", d->config_path);
		snprintf(path, sizeof(path), "%s/client.key", dirname(tmp));
	}
	char err[512];
	if (strata_clientkey_read(path, key, err, sizeof(err)) != 0) {
		fprintf(stderr,
			"stratad: %s\n([client] auth is on: clients must hold the cluster's client key; "
			"create it with `stratad client-keygen --out %s` (scripts/cluster does), or set "
			"[client] auth = off on a loopback-only cluster)\n",
			err, path);
		return 2;
	}
	return 0;
}

/* ---- coin-deal ---- */

static int parse_small(const char *flag, const char *v, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long x = strtoul(v, &end, 10);
	if (errno || !*v || *end || x < 1 || x > STRATA_MAX_NODES) {
		fprintf(stderr, "stratad: coin-deal: %s '%s' is not 1..%d\n(see stratad --help)\n",
			flag, v, STRATA_MAX_NODES);
		return 2;
	}
	*out = (uint32_t)x;
	return 0;
}

static int cmd_coin_deal(int argc, char **argv)
{
	uint32_t n = 0, t = 0;
	const char *dir = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (i + 1 >= argc)
			return die_usage("coin-deal: '%s' needs a value or is unknown", argv[i]);
		if (strcmp(argv[i], "--nodes") == 0) {
			if (parse_small("--nodes", argv[++i], &n))
				return 2;
		} else if (strcmp(argv[i], "--threshold") == 0) {
			if (parse_small("--threshold", argv[++i], &t))
				return 2;
		} else if (strcmp(argv[i], "--dir") == 0) {
			dir = argv[++i];
		} else {
			return die_usage("coin-deal: unexpected argument '%s'", argv[i]);
		}
	}
	if (!n || !t || !dir)
		return die_usage("coin-deal: --nodes N, --threshold T and --dir DIR are required%s",
				 "");
	if (t > n)
		return die_usage("coin-deal: the threshold must be at most the number of nodes%s",
				 "");
	if (strata_crypto_init() != 0) {
		fprintf(stderr, "stratad: crypto initialisation failed (libsodium or "
				"STRATA_SHA256)\n");
		return 1;
	}
	uint8_t (*x)[32] = strata_secure_alloc(32u * n);
	uint8_t *seed = strata_secure_alloc(32);
	uint8_t vk[STRATA_MAX_NODES][32];
	if (!x || !seed) {
		fprintf(stderr, "stratad: out of secure memory\n");
		return 1;
	}
	randombytes_buf(seed, 32);
	int rc = tcoin_deal(n, t, seed, x, vk);
	strata_secure_free(seed);
	char err[512];
	uint32_t written = 0;
	for (uint32_t i = 1; rc == 0 && i <= n; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/node-%u.key.coin", dir, i);
		rc = strata_coinfile_write(path, x[i - 1], err, sizeof(err));
		if (rc)
			fprintf(stderr, "stratad: coin-deal: %s\n", err);
		else
			written++;
	}
	strata_secure_free(x);
	if (rc) {
		fprintf(stderr, "stratad: coin-deal: %u of %u share files written; deal again into "
			"an empty directory\n", written, n);
		return 1;
	}
	printf("coin_threshold = %u\n", t);
	for (uint32_t i = 1; i <= n; i++) {
		char hex[65];
		strata_hex_encode(hex, vk[i - 1], 32);
		printf("node.%u coin_key = %s\n", i, hex);
	}
	return 0;
}

/* The coin share, when the config names a threshold coin: --coin-share or <key file>.coin,
 * checked against [node.N] coin_key. */
static int load_coin(struct daemon *d, const char *keypath, uint8_t *x, bool *have)
{
	*have = false;
	if (d->cfg.coin_threshold == 0) {
		if (d->coin_path)
			fprintf(stderr, "stratad: --coin-share given, but %s has no coin_key entries; "
				"ignoring it\n", d->config_path);
		return 0;
	}
	char path[PATH_MAX + 40];
	if (d->coin_path)
		snprintf(path, sizeof(path), "%s", d->coin_path);
	else
		snprintf(path, sizeof(path), "%s.coin", keypath);
	char err[512];
	if (strata_coinfile_read(path, x, err, sizeof(err)) != 0) {
		fprintf(stderr, "stratad: %s (the config has coin_key entries: this node needs its "
			"coin share; see docs/consensus.md)\n", err);
		return 2;
	}
	uint8_t vk[32];
	if (tcoin_public(vk, x) != 0 || memcmp(vk, d->cfg.nodes[d->id].coin_key, 32) != 0) {
		fprintf(stderr, "stratad: %s is not the coin share of [node.%u] coin_key in %s "
			"(another dealing, or wrong --id?)\n", path, d->id, d->config_path);
		return 2;
	}
	*have = true;
	return 0;
}

/* ---- start-up ---- */

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "stratad: %s: %s\n", path, strerror(errno));
		return STRATA_EIO;
	}
	char *buf = malloc(CONFIG_MAX + 1);
	size_t n = buf ? fread(buf, 1, CONFIG_MAX + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad || n > CONFIG_MAX) {
		fprintf(stderr, "stratad: %s: %s\n", path,
			!buf ? "out of memory" : bad ? "read error" : "larger than 1 MiB");
		free(buf);
		return STRATA_EIO;
	}
	buf[n] = 0;
	*out = buf;
	return 0;
}

static int parse_args(struct daemon *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, 'i' },
		{ "data", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "coin-share", required_argument, NULL, 'X' },
		{ "client-key", required_argument, NULL, 'A' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "sched", required_argument, NULL, 'L' },
		{ "bcast-log", required_argument, NULL, 'b' },
		{ "cons-log", required_argument, NULL, 'C' },
		{ "byzantine-test", required_argument, NULL, 'B' },
		{ "test-sync-delay-ms", required_argument, NULL, 'S' },
		{ "test-capture", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "check-config", no_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	d->log_level = STRATA_LOG_INFO;
	d->sched_policy = SCHED_BATCH;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': d->config_path = optarg; break;
		case 'd': d->data_dir = optarg; break;
		case 'k': d->key_path = optarg; break;
		case 'X': d->coin_path = optarg; break;
		case 'A': d->client_key_path = optarg; break;
		case 'b': d->bcast_dir = optarg; break;
		case 'C': d->cons_dir = optarg; break;
		case 'P': d->capture_path = optarg; break;
		case 'i': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || v < 1 || v > STRATA_MAX_NODES)
				return die_usage("--id: '%s' is not a node id (1..64)", optarg);
			d->id = (uint32_t)v;
			break;
		}
		case 'l': {
			int l = strata_log_level_parse(optarg);
			if (l < 0)
				return die_usage("--log-level: '%s' is not error, warn, info, debug "
						 "or trace", optarg);
			d->log_level = (enum strata_log_level)l;
			break;
		}
		case 'L':
			if (strcmp(optarg, "batch") == 0)
				d->sched_policy = SCHED_BATCH;
			else if (strcmp(optarg, "normal") == 0)
				d->sched_policy = SCHED_OTHER;
			else
				return die_usage("--sched: '%s' is not batch or normal", optarg);
			break;
		case 'B': {
			/* "none" parses too, but asking for no misbehaviour with this flag is a mistake. */
			int b = strata_byz_parse(optarg);
			if (b <= 0)
				return die_usage("--byzantine-test: '%s' is not silent, equivocate, "
						 "replay, forge, badsig, lie-state, complain or old-epoch",
						 optarg);
			d->byz = (enum strata_byz)b;
			break;
		}
		case 'S': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || v < 1 || v > 10000)
				return die_usage("--test-sync-delay-ms: '%s' is not 1..10000", optarg);
			d->test_sync_delay_ms = (unsigned)v;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'K': d->check_only = true; break;
		case 'V':
			printf("stratad %s\n", STRATA_VERSION);
			exit(0);
		default:
			return die_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return die_usage("unexpected argument '%s'", argv[optind]);
	if (!d->config_path)
		return die_usage("--config FILE is required%s", "");
	if (!d->id)
		return die_usage("--id N is required%s", "");
	return 0;
}

static int load_config(struct daemon *d)
{
	char *text;
	if (read_file(d->config_path, &text))
		return 2;
	char err[512];
	int rc = strata_config_parse(&d->cfg, text, d->config_path, err, sizeof(err));
	free(text);
	if (rc) {
		fprintf(stderr, "stratad: %s\n", err);
		return 2;
	}
	if (d->id > d->cfg.n) {
		fprintf(stderr, "stratad: --id %u: %s has nodes 1..%u\n", d->id, d->config_path,
			d->cfg.n);
		return 2;
	}
	for (uint32_t i = 1; i <= d->cfg.n; i++)
		if (!d->cfg.nodes[i].has_public_key) {
			fprintf(stderr,
				"stratad: %s: [node.%u] has no public_key (generate one with "
				"`stratad keygen --out node-%u.key` and put the printed key in the "
				"config)\n",
				d->config_path, i, i);
			return 2;
		}
	if (strata_stack_check_config(&d->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "stratad: %s: %s\n", d->config_path, err);
		return 2;
	}
	/* Only the fail-arbitrary algorithms act on the behaviour; anywhere else a misbehaving node
	 * would break the model's assumptions rather than test them. */
	if (d->byz != STRATA_BYZ_NONE && d->cfg.model != STRATA_MODEL_FAIL_ARBITRARY) {
		fprintf(stderr,
			"stratad: --byzantine-test %s needs a fail-arbitrary cluster, but %s has "
			"model = %s\n",
			strata_byz_name(d->byz), d->config_path, strata_model_name(d->cfg.model));
		return 2;
	}
	return 0;
}

/* Reads the secret key and checks it is the identity the config names for this node. */
static int load_key(struct daemon *d, uint8_t *sk, char *path, size_t pathlen)
{
	if (d->key_path) {
		snprintf(path, pathlen, "%s", d->key_path);
	} else {
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s", d->config_path);
		snprintf(path, pathlen, "%s/node-%u.key", dirname(tmp), d->id);
	}
	uint8_t pk[STRATA_PK_LEN];
	char err[512];
	if (strata_keyfile_read(path, pk, sk, err, sizeof(err)) != 0) {
		fprintf(stderr, "stratad: %s\n", err);
		return 2;
	}
	if (memcmp(pk, d->cfg.nodes[d->id].public_key, STRATA_PK_LEN) != 0) {
		char have[2 * STRATA_PK_LEN + 1];
		strata_hex_encode(have, pk, sizeof(pk));
		fprintf(stderr,
			"stratad: %s holds the identity %s, which is not [node.%u] public_key in %s "
			"(wrong --key or --id?)\n",
			path, have, d->id, d->config_path);
		return 2;
	}
	return 0;
}

static uint64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Opens the data directory; *recovering = it existed. The new incarnation is larger than any
 * before it even if the wall clock stepped back, and it is durable before the node starts. */
static int open_data(struct daemon *d, char *dirbuf, size_t dirlen, bool *recovering,
		     uint64_t *incarnation)
{
	if (d->data_dir)
		snprintf(dirbuf, dirlen, "%s", d->data_dir);
	else
		snprintf(dirbuf, dirlen, "./data-%u", d->id);
	struct stat st;
	*recovering = stat(dirbuf, &st) == 0;
	if (*recovering && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "stratad: --data %s: not a directory\n", dirbuf);
		return 2;
	}
	if (!*recovering && mkdir(dirbuf, 0700) != 0) {
		fprintf(stderr, "stratad: --data %s: %s\n", dirbuf, strerror(errno));
		return 1;
	}
	char err[512];
	if (strata_store_open(dirbuf, 0, &d->store, err, sizeof(err)) != 0) {
		fprintf(stderr, "stratad: %s\n", err);
		return 1;
	}
	uint64_t prev = 0;
	struct strata_msg *m = NULL;
	int rc = strata_store_get(d->store, INCARNATION_KEY, &m);
	if (rc == 0) {
		if (m->len == sizeof(prev))
			for (size_t i = 0; i < sizeof(prev); i++)
				prev |= (uint64_t)m->data[i] << (8 * i);
		strata_msg_unref(m);
	} else if (rc != STRATA_ENOENT) {
		fprintf(stderr, "stratad: %s: %s\n", dirbuf, strata_store_error(d->store));
		return 1;
	}
	uint64_t inc = wall_us();
	if (inc <= prev)
		inc = prev + 1;
	uint8_t le[8];
	for (size_t i = 0; i < sizeof(le); i++)
		le[i] = (uint8_t)(inc >> (8 * i));
	rc = strata_store_put(d->store, INCARNATION_KEY, le, sizeof(le));
	if (rc == 0)
		rc = strata_store_sync(d->store);
	if (rc) {
		fprintf(stderr, "stratad: %s: %s\n", dirbuf, strata_store_error(d->store));
		return 1;
	}
	*incarnation = inc;
	return 0;
}

/* ---- broadcast log (--bcast-log) ---- */

static struct bcast_file *bcast_file(struct daemon *d, const char *module)
{
	for (unsigned i = 0; i < d->nblogs; i++)
		if (strcmp(d->blogs[i].module, module) == 0)
			return &d->blogs[i];
	if (d->nblogs == BCAST_LOGS_MAX || strlen(module) >= STRATA_BCAST_ALGO_MAX)
		return NULL;
	struct bcast_file *b = &d->blogs[d->nblogs++];
	snprintf(b->module, sizeof(b->module), "%s", module);
	char dir[PATH_MAX], path[PATH_MAX + 64], old[PATH_MAX + 96];
	snprintf(dir, sizeof(dir), "%s/%s", d->bcast_dir, module);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		strata_uv_log(d->rt, STRATA_LOG_ERROR, "--bcast-log %s: %s", dir, strerror(errno));
		b->failed = true;
		return b;
	}
	/* One log across restarts: each incarnation appends "i <incarnation>" and goes on, so
	 * check-bcast judges runs with kills and restarts. A file that cannot be continued (another
	 * cluster's, or corrupt) is kept under another name and a new log begins. */
	char err[512];
	uint64_t inc = strata_node_incarnation(strata_uv_node(d->rt));
	if (strata_bcast_log_open_incarnation(dir, d->id, d->cfg.n, module, inc, &b->log, err,
					      sizeof(err)) == 0)
		return b;
	snprintf(path, sizeof(path), "%s/node-%u.log", dir, d->id);
	snprintf(old, sizeof(old), "%s.before-%" PRIu64, path, inc);
	strata_uv_log(d->rt, STRATA_LOG_WARN, "--bcast-log: %s; kept as %s, starting a new log",
		      err, old);
	rename(path, old);
	if (strata_bcast_log_open_incarnation(dir, d->id, d->cfg.n, module, inc, &b->log, err,
					      sizeof(err)) != 0) {
		strata_uv_log(d->rt, STRATA_LOG_ERROR, "--bcast-log: %s", err);
		b->failed = true;
	}
	return b;
}

struct open_ctx {
	struct daemon *d;
	const struct strata_config *cfg;
};

static void bcast_open_one(const struct strata_algo *a, void *arg)
{
	struct open_ctx *c = arg;
	char why[256];
	if (strata_algo_check(a, c->cfg, why, sizeof(why)) == 0)
		(void)bcast_file(c->d, a->name);
}

/* Opens the log of every broadcast algorithm this cluster can run up front (modules are created
 * on first use, so this goes by the catalog), so that a node that delivers nothing still leaves
 * a log that says so (the checkers cannot decide validity or agreement without it). */
static void bcast_open_all(struct daemon *d)
{
	struct open_ctx c = { .d = d, .cfg = strata_node_config(strata_uv_node(d->rt)) };
	strata_algo_foreach("bcast", bcast_open_one, &c);
}

/* ---- consensus log (--cons-log) ---- */

/* Whether module is the catalog's algorithm of that name in family. */
static bool in_family(const char *module, const char *family)
{
	const struct strata_algo *a = strata_algo_find(module);
	return a && strcmp(a->family, family) == 0 && strcmp(a->name, module) == 0;
}

static struct cons_file *cons_file(struct daemon *d, const char *module)
{
	for (unsigned i = 0; i < d->nclogs; i++)
		if (strcmp(d->clogs[i].module, module) == 0)
			return &d->clogs[i];
	if (d->nclogs == BCAST_LOGS_MAX || strlen(module) >= sizeof(d->clogs[0].module))
		return NULL;
	struct cons_file *c = &d->clogs[d->nclogs++];
	snprintf(c->module, sizeof(c->module), "%s", module);
	char dir[PATH_MAX], path[PATH_MAX + 64], old[PATH_MAX + 96];
	snprintf(dir, sizeof(dir), "%s/%s", d->cons_dir, module);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		strata_uv_log(d->rt, STRATA_LOG_ERROR, "--cons-log %s: %s", dir, strerror(errno));
		c->failed = true;
		return c;
	}
	/* Keep an earlier life's log: the checker reads every life of a node. */
	snprintf(path, sizeof(path), "%s/node-%u.log", dir, d->id);
	snprintf(old, sizeof(old), "%s.before-%" PRIu64, path,
		 strata_node_incarnation(strata_uv_node(d->rt)));
	rename(path, old);
	char err[512];
	if (strata_cons_log_open(dir, d->id, d->cfg.n, module, &c->log, err, sizeof(err)) != 0) {
		strata_uv_log(d->rt, STRATA_LOG_ERROR, "--cons-log: %s", err);
		c->failed = true;
	}
	return c;
}

static void cons_output(struct daemon *d, const struct strata_output *o)
{
	struct cons_file *c = cons_file(d, o->module_name);
	if (!c || c->failed)
		return;
	int rc = o->kind == STRATA_OUT_BCAST
			 ? strata_cons_log_propose(c->log, o->a, o->data, o->len)
			 : strata_cons_log_decide(c->log, o->a, o->data, o->len);
	if (rc) {
		strata_uv_log(d->rt, STRATA_LOG_ERROR, "--cons-log %s: %s; no longer recorded",
			      o->module_name, strata_cons_log_error(c->log));
		c->failed = true;
	}
}

/* The log that records module's broadcasts and deliveries: a consensus module's go to
 * --cons-log (never to the broadcast logs), the replicated KV's (its watch events, which are not
 * broadcasts) to none, every other module's to --bcast-log. */
enum rec_log { REC_NONE, REC_BCAST, REC_CONS };
static enum rec_log recorded_in(const struct daemon *d, const char *module)
{
	/* Nothing to record (no --bcast-log, no --cons-log): no catalog lookup, which every
	 * delivery would pay. */
	if (!d->cons_dir && !d->bcast_dir)
		return REC_NONE;
	if (in_family(module, "cons"))
		return d->cons_dir ? REC_CONS : REC_NONE;
	if (in_family(module, "smr") || !d->bcast_dir)
		return REC_NONE;
	return REC_BCAST;
}

/* strata_uv_opts.records_deliveries: only the modules a log records build their deliveries
 * for it (the KV builds no watch event for these logs, kv_watch_events). */
static bool records_deliveries(void *arg, const char *module)
{
	return recorded_in(arg, module) != REC_NONE;
}

static void on_output(void *arg, const struct strata_output *o)
{
	struct daemon *d = arg;
	if ((o->kind != STRATA_OUT_BCAST && o->kind != STRATA_OUT_DELIVER) || !o->module_name)
		return;
	/* A module no log records may still output deliveries (the KV's watch events for a
	 * subscribed client): dropped here. */
	switch (recorded_in(d, o->module_name)) {
	case REC_CONS:
		cons_output(d, o);
		return;
	case REC_NONE:
		return;
	case REC_BCAST:
		break;
	}
	struct bcast_file *b = bcast_file(d, o->module_name);
	if (!b || b->failed)
		return;
	uint64_t lamport = strata_node_lamport(strata_uv_node(d->rt));
	bool recorded;
	int rc = o->kind == STRATA_OUT_BCAST
			 ? (o->replay ? strata_bcast_log_broadcast_replay(b->log, o->a, lamport,
									  o->data, o->len, &recorded)
				      : strata_bcast_log_broadcast(b->log, o->a, lamport, o->data,
								   o->len, o->vc, o->vc_len))
		 : o->replay ? strata_bcast_log_replay(b->log, o->peer, o->a, lamport, o->data,
						       o->len, &recorded)
			     : strata_bcast_log_deliver(b->log, o->peer, o->a, lamport, o->data,
							o->len, o->vc, o->vc_len);
	if (rc == 0 && o->kind == STRATA_OUT_BCAST && o->replay && recorded)
		strata_uv_log(d->rt, STRATA_LOG_INFO,
			      "--bcast-log %s: recorded own broadcast %" PRIu64 ", logged before the "
			      "crash but announced only now", o->module_name, o->a);
	if (rc == 0 && o->kind == STRATA_OUT_DELIVER && o->replay)
		strata_uv_log(d->rt, STRATA_LOG_INFO,
			      recorded ? "--bcast-log %s: recorded %u:%" PRIu64 ", logged before the "
					 "crash but announced only now"
				       : "--bcast-log %s: %u:%" PRIu64 " announced again after the "
					 "recovery, recorded already",
			      o->module_name, o->peer, o->a);
	if (rc) {
		strata_uv_log(d->rt, STRATA_LOG_ERROR, "--bcast-log %s: %s; no longer recorded",
			      o->module_name, strata_bcast_log_error(b->log));
		b->failed = true;
	}
}

/* ---- run ---- */

static void on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;
	strata_uv_log(d->rt, STRATA_LOG_INFO, "%s: shutting down", strsignal(signum));
	strata_uv_close(d->rt);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
}

/* Stable storage failed: the node has stopped; so does the process, with status 1. */
static void on_fatal(void *arg)
{
	struct daemon *d = arg;
	d->fatal = true;
	strata_uv_close(d->rt);
	if (!uv_is_closing((uv_handle_t *)&d->sigterm))
		uv_close((uv_handle_t *)&d->sigterm, NULL);
	if (!uv_is_closing((uv_handle_t *)&d->sigint))
		uv_close((uv_handle_t *)&d->sigint, NULL);
}

static int run(struct daemon *d, const uint8_t *sk, const uint8_t *coin,
	       const uint8_t *client_key, bool recovering, uint64_t incarnation)
{
	uv_loop_t loop;
	int rc = uv_loop_init(&loop);
	if (rc) {
		fprintf(stderr, "stratad: uv_loop_init: %s\n", uv_strerror(rc));
		return 1;
	}
	struct strata_uv_opts o = {
		.cfg = &d->cfg, .id = d->id, .incarnation = incarnation, .secret_key = sk,
		.coin_share = coin, .client_key = client_key,
		.store = d->store, .log_level = d->log_level, .on_output = on_output, .on_fatal = on_fatal, .arg = d,
		.records_deliveries = records_deliveries,
		.byz = d->byz, .test_sync_delay_ms = d->test_sync_delay_ms,
	};
	char err[512];
	if (d->capture_path) {
		d->capture = fopen(d->capture_path, "ab");
		if (!d->capture) {
			fprintf(stderr, "stratad: --test-capture %s: %s\n", d->capture_path,
				strerror(errno));
			uv_loop_close(&loop);
			return 1;
		}
		o.test_capture = d->capture;
	}
	d->rt = strata_uv_new(&loop, &o, err, sizeof(err));
	if (!d->rt) {
		fprintf(stderr, "stratad: node %u: %s\n", d->id, err);
		uv_loop_close(&loop);
		return 1;
	}
	if (d->byz != STRATA_BYZ_NONE)
		strata_uv_log(d->rt, STRATA_LOG_WARN,
			      "TEST ONLY: this node misbehaves on purpose: %s (--byzantine-test)",
			      strata_byz_name(d->byz));
	if (d->sched_errno)
		strata_uv_log(d->rt, STRATA_LOG_WARN,
			      "--sched %s: sched_setscheduler: %s; the node runs with the policy it "
			      "was started with", d->sched_policy == SCHED_BATCH ? "batch" : "normal",
			      strerror(d->sched_errno));
	if (d->test_sync_delay_ms)
		strata_uv_log(d->rt, STRATA_LOG_WARN,
			      "TEST ONLY: every storage sync is %u ms slower (--test-sync-delay-ms)",
			      d->test_sync_delay_ms);
	if (d->capture)
		strata_uv_log(d->rt, STRATA_LOG_WARN,
			      "TEST ONLY: every peer datagram is recorded in %s (--test-capture)",
			      d->capture_path);
	int status = 0;
	if (strata_stack_build(strata_uv_node(d->rt), err, sizeof(err)) != 0) {
		strata_uv_log(d->rt, STRATA_LOG_ERROR, "%s: %s", d->config_path, err);
		status = 2;
	}
	if (status == 0 && d->bcast_dir)
		bcast_open_all(d);
	if (status == 0) {
		uv_signal_init(&loop, &d->sigterm);
		uv_signal_init(&loop, &d->sigint);
		d->sigterm.data = d->sigint.data = d;
		uv_signal_start(&d->sigterm, on_signal, SIGTERM);
		uv_signal_start(&d->sigint, on_signal, SIGINT);
		if (strata_uv_start(d->rt, recovering, err, sizeof(err)) != 0) {
			strata_uv_log(d->rt, STRATA_LOG_ERROR, "%s", err);
			status = 1;
			uv_close((uv_handle_t *)&d->sigterm, NULL);
			uv_close((uv_handle_t *)&d->sigint, NULL);
			strata_uv_close(d->rt);
		}
	} else {
		strata_uv_close(d->rt);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (d->fatal)
		status = 1;
	strata_uv_free(d->rt);
	d->rt = NULL;
	rc = uv_loop_close(&loop);
	if (rc) {
		fprintf(stderr, "stratad: uv_loop_close: %s (a handle was left open)\n",
			uv_strerror(rc));
		return 1;
	}
	return status;
}

/* --sched, before any thread exists (the storage's and libuv's pool threads inherit it). Batch
 * (SCHED_BATCH) differs from normal in one way that matters here: a batch thread that wakes up
 * does not preempt the thread running on the CPU it is placed on; it waits for it to block or
 * for the tick. On a machine where the nodes share cores, a leader's one sendmmsg to both
 * followers wakes the first on the leader's own CPU, and under the normal policy that follower
 * preempted the leader before the second datagram left: the second follower got its APPEND
 * only after the first had blocked in its sync (docs/daemon.md). A failure is logged, not fatal. */
static void set_sched(struct daemon *d)
{
	struct sched_param sp = { .sched_priority = 0 };
	int cur = sched_getscheduler(0);
	if (cur == d->sched_policy)
		return;
	if (sched_setscheduler(0, d->sched_policy, &sp) != 0)
		d->sched_errno = errno;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* a client that hangs up is a write error, not a death */
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "client-keygen") == 0)
		return cmd_client_keygen(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "coin-deal") == 0)
		return cmd_coin_deal(argc, argv);
	static struct daemon d; /* large (the config); not on the stack */
	int rc = parse_args(&d, argc, argv);
	if (rc)
		return rc;
	if (strata_crypto_init() != 0) {
		fprintf(stderr, "stratad: crypto initialisation failed (libsodium or "
				"STRATA_SHA256)\n");
		return 1;
	}
	rc = load_config(&d);
	if (rc)
		return rc;
	if (d.bcast_dir) {
		struct stat st;
		if (stat(d.bcast_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "stratad: --bcast-log %s: not a directory\n", d.bcast_dir);
			return 2;
		}
	}
	if (d.cons_dir) {
		struct stat st;
		if (stat(d.cons_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "stratad: --cons-log %s: not a directory\n", d.cons_dir);
			return 2;
		}
	}
	uint8_t *sk = strata_secure_alloc(STRATA_SK_LEN);
	if (!sk) {
		fprintf(stderr, "stratad: out of secure memory\n");
		return 1;
	}
	char keypath[PATH_MAX + 32], datadir[PATH_MAX];
	bool recovering = false;
	uint64_t incarnation = 0;
	uint8_t *coin = strata_secure_alloc(32);
	uint8_t *ckey = strata_secure_alloc(STRATA_CLIENT_KEY_LEN);
	bool have_coin = false;
	if (!coin || !ckey) {
		fprintf(stderr, "stratad: out of secure memory\n");
		strata_secure_free(sk);
		strata_secure_free(coin);
		strata_secure_free(ckey);
		return 1;
	}
	rc = load_key(&d, sk, keypath, sizeof(keypath));
	if (rc == 0)
		rc = load_coin(&d, keypath, coin, &have_coin);
	if (rc == 0 && d.cfg.client_auth)
		rc = load_client_key(&d, ckey);
	if (rc == 0 && d.check_only) {
		printf("stratad: %s: node %u: config and key ok\n", d.config_path, d.id);
		strata_secure_free(sk);
		strata_secure_free(coin);
		strata_secure_free(ckey);
		return 0;
	}
	if (rc == 0)
		set_sched(&d);
	if (rc == 0)
		rc = open_data(&d, datadir, sizeof(datadir), &recovering, &incarnation);
	if (rc == 0)
		rc = run(&d, sk, have_coin ? coin : NULL, d.cfg.client_auth ? ckey : NULL, recovering,
			 incarnation);
	strata_secure_free(sk); /* wiped */
	strata_secure_free(coin);
	strata_secure_free(ckey);
	for (unsigned i = 0; i < d.nblogs; i++)
		strata_bcast_log_close(d.blogs[i].log);
	for (unsigned i = 0; i < d.nclogs; i++)
		strata_cons_log_close(d.clogs[i].log);
	strata_store_close(d.store);
	if (d.capture)
		fclose(d.capture);
	return rc;
}
