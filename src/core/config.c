/* The cluster configuration parser: INI text (libinih) into struct strata_config; see config.h.
 *
 * libinih does the tokenising (sections, "key = value", comments, inline "; comments"). We feed it
 * through our own line reader rather than ini_parse_string for three reasons: the Debian build of
 * libinih has no line numbers in the handler, so the reader counts lines; libinih never tells the
 * handler about a section that has no keys, so the reader registers section headers itself (an
 * empty [node.4] is a node, an empty [nodes] is a typo); and libinih silently joins indented lines
 * to the previous value, so the reader refuses indentation instead of mis-parsing it.
 *
 * Everything is parsed into a scratch config and copied out only on success, so a failed parse
 * (say, a reload) leaves the caller's config untouched. Only the first error is reported: after
 * it the reader ends the input, because later messages are usually consequences of the first. */
#include "core/config.h"

#include <ini.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "crypto/crypto.h"

#define DEFAULT_HOST "127.0.0.1"
#define MS_MAX 3600000u                 /* one hour: any longer timeout is a typo */
#define MIB (1024u * 1024u)

/* ---------------------------------------------------------------- models */

static const char *const model_names[STRATA_MODEL_COUNT] = {
	[STRATA_MODEL_FAIL_STOP] = "fail-stop",
	[STRATA_MODEL_FAIL_NOISY] = "fail-noisy",
	[STRATA_MODEL_FAIL_SILENT] = "fail-silent",
	[STRATA_MODEL_FAIL_RECOVERY] = "fail-recovery",
	[STRATA_MODEL_FAIL_ARBITRARY] = "fail-arbitrary",
	[STRATA_MODEL_RANDOMIZED] = "randomized",
};

const char *strata_model_name(enum strata_model m)
{
	if ((unsigned)m >= STRATA_MODEL_COUNT)
		return "unknown";
	return model_names[m];
}

int strata_model_parse(const char *s)
{
	if (!s)
		return -1;
	for (int m = 0; m < STRATA_MODEL_COUNT; m++)
		if (strcmp(s, model_names[m]) == 0)
			return m;
	return -1;
}

/* bit(algo) is set in supports[cluster] when a cluster of that model runs algorithms written for
 * algo. The crash-stop models are ordered by what their detectors give (P > <>P/Omega > nothing);
 * randomized algorithms need only crash-stop processes and coins, so every crash-stop model runs
 * them, and a randomized cluster runs fail-silent ones (they assume nothing beyond crash-stop).
 * Crash-recovery and Byzantine processes break the crash-stop assumption, so those clusters run
 * only their own family. */
#define BIT(m) (1u << (m))
static const unsigned model_supports[STRATA_MODEL_COUNT] = {
	[STRATA_MODEL_FAIL_STOP] = BIT(STRATA_MODEL_FAIL_STOP) | BIT(STRATA_MODEL_FAIL_NOISY) |
				   BIT(STRATA_MODEL_FAIL_SILENT) | BIT(STRATA_MODEL_RANDOMIZED),
	[STRATA_MODEL_FAIL_NOISY] = BIT(STRATA_MODEL_FAIL_NOISY) | BIT(STRATA_MODEL_FAIL_SILENT) |
				    BIT(STRATA_MODEL_RANDOMIZED),
	[STRATA_MODEL_FAIL_SILENT] = BIT(STRATA_MODEL_FAIL_SILENT) | BIT(STRATA_MODEL_RANDOMIZED),
	[STRATA_MODEL_FAIL_RECOVERY] = BIT(STRATA_MODEL_FAIL_RECOVERY),
	[STRATA_MODEL_FAIL_ARBITRARY] = BIT(STRATA_MODEL_FAIL_ARBITRARY),
	[STRATA_MODEL_RANDOMIZED] = BIT(STRATA_MODEL_RANDOMIZED) | BIT(STRATA_MODEL_FAIL_SILENT),
};

bool strata_model_supports(enum strata_model cluster, enum strata_model algo)
{
	if ((unsigned)cluster >= STRATA_MODEL_COUNT || (unsigned)algo >= STRATA_MODEL_COUNT)
		return false;
	return (model_supports[cluster] & BIT(algo)) != 0;
}

bool strata_host_is_loopback(const char *host)
{
	if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	if (strncmp(host, "127.", 4) != 0)
		return false;
	/* 127.a.b.c with decimal octets only. */
	unsigned dots = 0;
	for (const char *q = host + 4; *q; q++) {
		if (*q == '.')
			dots++;
		else if (*q < '0' || *q > '9')
			return false;
	}
	return dots == 2;
}

/* ---------------------------------------------------------------- key table */

enum sec {
	SEC_CLUSTER, SEC_NODE, SEC_FD, SEC_LINKS, SEC_LKV, SEC_BCAST, SEC_SMR, SEC_CLIENT, SEC_TOB,
	SEC_RESP, SEC_METRICS, SEC_COUNT
};

static const char *const sec_names[SEC_COUNT] = {"cluster", "node.N", "fd",  "links",
						 "lkv",     "bcast",  "smr", "client", "tob",
						 "resp",    "metrics"};

enum kind { V_U32, V_NAME, V_ALGO, V_MODEL, V_HOST, V_PORT, V_PUBKEY, V_ONOFF, V_COINKEY };

/* Global keys first, node keys last (K_HOST..K_PUBKEY), so line bookkeeping can split them. */
enum key {
	K_ID, K_MODEL, K_F, K_REG_ALGO, K_BCAST_ALGO, K_WRITER, K_NEMESIS, K_COIN_T,
	K_HEARTBEAT, K_TIMEOUT, K_EVP_TIMEOUT, K_EVP_INC,
	K_MAX_DGRAM, K_MAX_VALUE, K_WINDOW, K_RTX_MIN, K_RTX_MAX, K_BACKLOG, K_ACK_DELAY,
	K_REPLICAS, K_R, K_W, K_LKV_MAX_KEYS,
	K_FANOUT, K_ROUNDS, K_STORE_PCT,
	K_SMR_HB, K_SMR_ELECT, K_SMR_WINDOW, K_SMR_BATCH, K_SMR_PENDING, K_SMR_TIMEOUT,
	K_SMR_SESSIONS, K_SMR_SNAP_ENTRIES, K_SMR_SNAP_TAIL, K_SMR_CKPT, K_SMR_LOG, K_SMR_LEADER_SYNC,
	K_SMR_THRIFTY, K_SMR_QUOTA, K_SMR_OVERLAP, K_TOB_CONS,
	K_CL_AUTH, K_ENCRYPT, K_MT_REMOTE,
	K_HOST, K_PORT, K_CLIENT_PORT, K_PUBKEY, K_RESP_PORT, K_COINKEY, K_METRICS_PORT,
	K_METRICS_HOST,
	K_COUNT
};
#define K_NODE_FIRST K_HOST
#define K_NODE_COUNT (K_COUNT - K_NODE_FIRST)

struct keydef {
	enum sec sec;
	const char *name;
	enum kind kind;
	size_t off; /* into struct strata_config, or struct strata_peer_cfg for node keys */
	uint32_t min, max;
};

#define CFG(field) offsetof(struct strata_config, field)
#define PEER(field) offsetof(struct strata_peer_cfg, field)

static const struct keydef keys[K_COUNT] = {
	[K_ID] = {SEC_CLUSTER, "id", V_NAME, CFG(cluster_id), 0, 0},
	[K_MODEL] = {SEC_CLUSTER, "model", V_MODEL, CFG(model), 0, 0},
	[K_F] = {SEC_CLUSTER, "f", V_U32, CFG(f), 0, STRATA_MAX_NODES - 1},
	[K_REG_ALGO] = {SEC_CLUSTER, "reg_algo", V_ALGO, CFG(reg_algo), 0, 0},
	[K_BCAST_ALGO] = {SEC_CLUSTER, "bcast_algo", V_ALGO, CFG(bcast_algo), 0, 0},
	[K_WRITER] = {SEC_CLUSTER, "writer", V_U32, CFG(writer), 1, STRATA_MAX_NODES},
	[K_NEMESIS] = {SEC_CLUSTER, "nemesis", V_ONOFF, CFG(nemesis), 0, 0},
	[K_COIN_T] = {SEC_CLUSTER, "coin_threshold", V_U32, CFG(coin_threshold), 1,
		      STRATA_MAX_NODES},
	[K_HEARTBEAT] = {SEC_FD, "heartbeat_ms", V_U32, CFG(heartbeat_ms), 1, MS_MAX},
	[K_TIMEOUT] = {SEC_FD, "timeout_ms", V_U32, CFG(timeout_ms), 1, MS_MAX},
	[K_EVP_TIMEOUT] = {SEC_FD, "evp_timeout_ms", V_U32, CFG(evp_timeout_ms), 1, MS_MAX},
	[K_EVP_INC] = {SEC_FD, "evp_increment_ms", V_U32, CFG(evp_increment_ms), 1, MS_MAX},
	[K_MAX_DGRAM] = {SEC_LINKS, "max_datagram", V_U32, CFG(max_datagram), 512, 65000},
	[K_MAX_VALUE] = {SEC_LINKS, "max_value", V_U32, CFG(max_value), 1, 16 * MIB},
	[K_WINDOW] = {SEC_LINKS, "window", V_U32, CFG(window), 16, 65536},
	[K_RTX_MIN] = {SEC_LINKS, "retransmit_min_ms", V_U32, CFG(retransmit_min_ms), 1, MS_MAX},
	[K_RTX_MAX] = {SEC_LINKS, "retransmit_max_ms", V_U32, CFG(retransmit_max_ms), 1, MS_MAX},
	[K_BACKLOG] = {SEC_LINKS, "backlog_bytes", V_U32, CFG(backlog_bytes), 1, UINT32_MAX},
	[K_ACK_DELAY] = {SEC_LINKS, "ack_delay_us", V_U32, CFG(ack_delay_us), 0, 100000},
	[K_REPLICAS] = {SEC_LKV, "replicas", V_U32, CFG(lkv_replicas), 1, STRATA_MAX_NODES},
	[K_R] = {SEC_LKV, "r", V_U32, CFG(lkv_r), 1, STRATA_MAX_NODES},
	[K_W] = {SEC_LKV, "w", V_U32, CFG(lkv_w), 1, STRATA_MAX_NODES},
	[K_LKV_MAX_KEYS] = {SEC_LKV, "max_keys", V_U32, CFG(lkv_max_keys), 1, 1u << 24},
	[K_FANOUT] = {SEC_BCAST, "fanout", V_U32, CFG(bcast_fanout), 1, 64},
	[K_ROUNDS] = {SEC_BCAST, "rounds", V_U32, CFG(bcast_rounds), 1, 64},
	[K_STORE_PCT] = {SEC_BCAST, "store_probability_pct", V_U32,
			 CFG(bcast_store_probability_pct), 0, 100},
	[K_SMR_HB] = {SEC_SMR, "heartbeat_ms", V_U32, CFG(smr_heartbeat_ms), 1, MS_MAX},
	[K_SMR_ELECT] = {SEC_SMR, "election_ms", V_U32, CFG(smr_election_ms), 2, MS_MAX},
	[K_SMR_WINDOW] = {SEC_SMR, "window", V_U32, CFG(smr_window), 1, 4096},
	[K_SMR_BATCH] = {SEC_SMR, "batch_max", V_U32, CFG(smr_batch_max), 1, 65536},
	[K_SMR_PENDING] = {SEC_SMR, "pending_max", V_U32, CFG(smr_pending_max), 1, 1u << 20},
	[K_SMR_TIMEOUT] = {SEC_SMR, "request_timeout_ms", V_U32, CFG(smr_timeout_ms), 1, MS_MAX},
	[K_SMR_SESSIONS] = {SEC_SMR, "sessions_max", V_U32, CFG(smr_sessions_max), 1, 100000000},
	[K_SMR_SNAP_ENTRIES] = {SEC_SMR, "snapshot_entries", V_U32, CFG(smr_snapshot_entries), 0,
				1000000000},
	[K_SMR_SNAP_TAIL] = {SEC_SMR, "snapshot_tail", V_U32, CFG(smr_snapshot_tail), 0, 1000000000},
	[K_SMR_CKPT] = {SEC_SMR, "checkpoint_interval", V_U32, CFG(smr_checkpoint_interval), 0,
			1000000000},
	[K_SMR_LOG] = {SEC_SMR, "log", V_ALGO, CFG(smr_log), 0, 0},
	[K_SMR_OVERLAP] = {SEC_SMR, "bft_overlap", V_U32, CFG(smr_bft_overlap), 1, 16},
	[K_SMR_LEADER_SYNC] = {SEC_SMR, "leader_sync_parallel", V_ONOFF, CFG(smr_leader_sync_parallel), 0, 0},
	[K_SMR_THRIFTY] = {SEC_SMR, "thrifty", V_ONOFF, CFG(smr_thrifty), 0, 0},
	/* At most 3 GiB: a full state plus the session table (about 2 KiB per session: 196 MB
	 * with the default sessions_max) is still a snapshot the log installs (log.c, SNAP_MAX =
	 * 4 GiB). 0 is not a value: a store without a bound on its memory is not offered
	 * (docs/smr.md "Bounds"). */
	[K_SMR_QUOTA] = {SEC_SMR, "quota_bytes", V_U32, CFG(smr_quota_bytes), 1, 3u << 30},
	[K_TOB_CONS] = {SEC_TOB, "consensus", V_ALGO, CFG(tob_consensus), 0, 0},
	[K_CL_AUTH] = {SEC_CLIENT, "auth", V_ONOFF, CFG(client_auth), 0, 0},
	[K_ENCRYPT] = {SEC_CLUSTER, "encrypt", V_ONOFF, CFG(encrypt), 0, 0},
	[K_MT_REMOTE] = {SEC_METRICS, "allow_remote", V_ONOFF, CFG(metrics_allow_remote), 0, 0},
	[K_HOST] = {SEC_NODE, "host", V_HOST, PEER(host), 0, 0},
	[K_PORT] = {SEC_NODE, "port", V_PORT, PEER(port), 1, 65535},
	[K_CLIENT_PORT] = {SEC_NODE, "client_port", V_PORT, PEER(client_port), 1, 65535},
	[K_PUBKEY] = {SEC_NODE, "public_key", V_PUBKEY, PEER(public_key), 0, 0},
	[K_RESP_PORT] = {SEC_NODE, "resp_port", V_PORT, PEER(resp_port), 1, 65535},
	[K_COINKEY] = {SEC_NODE, "coin_key", V_COINKEY, PEER(coin_key), 0, 0},
	[K_METRICS_PORT] = {SEC_NODE, "metrics_port", V_PORT, PEER(metrics_port), 1, 65535},
	[K_METRICS_HOST] = {SEC_NODE, "metrics_host", V_HOST, PEER(metrics_host), 0, 0},
};

/* The TCP ports' sections ([client], [resp], [metrics]): the same four keys each, in a struct
 * strata_listen_cfg of their own (c->listen[port]), looked up in this table before the section's
 * other keys (keys[]: [client] auth, [metrics] allow_remote). The sections differ only in their
 * defaults and in the most connections they allow (the metrics port serves a scraper or two). */
enum listen_key { LK_MAX_CONNS, LK_IDLE, LK_FRAME, LK_QUEUE, LK_COUNT };

#define LISTEN(field) offsetof(struct strata_listen_cfg, field)

static const struct keydef listen_keys[LK_COUNT] = {
	[LK_MAX_CONNS] = {SEC_COUNT, "max_connections", V_U32, LISTEN(max_conns), 1, 0 /* port */},
	[LK_IDLE] = {SEC_COUNT, "idle_timeout_ms", V_U32, LISTEN(idle_ms), 0, 86400000},
	[LK_FRAME] = {SEC_COUNT, "frame_timeout_ms", V_U32, LISTEN(frame_ms), 1, MS_MAX},
	[LK_QUEUE] = {SEC_COUNT, "queue_max_bytes", V_U32, LISTEN(queue_max), 65536, 1024 * MIB},
};

static const struct {
	enum sec sec;
	uint32_t max_conns_max;
	struct strata_listen_cfg defaults;
} ports[STRATA_PORT_COUNT] = {
	[STRATA_PORT_CLIENT] = {SEC_CLIENT, 16384, {1024, 300000, 10000, 4 * MIB}},
	[STRATA_PORT_RESP] = {SEC_RESP, 16384, {1024, 300000, 10000, 4 * MIB}},
	[STRATA_PORT_METRICS] = {SEC_METRICS, 1024, {16, 10000, 10000, 2 * MIB}},
};

/* The port whose section sec is, or -1. */
static int section_port(int sec)
{
	for (int p = 0; p < STRATA_PORT_COUNT; p++)
		if ((int)ports[p].sec == sec)
			return p;
	return -1;
}

/* The definition of listen key lk in port p's section. */
static struct keydef listen_keydef(int p, enum listen_key lk)
{
	struct keydef kd = listen_keys[lk];
	kd.sec = ports[p].sec;
	if (lk == LK_MAX_CONNS)
		kd.max = ports[p].max_conns_max;
	return kd;
}

/* ---------------------------------------------------------------- parse state */

struct parse {
	struct strata_config *c; /* the scratch config */
	const char *file;
	char *err;
	size_t errlen;
	bool failed;

	const char *cur; /* reader position in the input */
	int line;        /* number of the line handed to libinih last */

	/* Line of each section header / key (0 = absent), for messages and "required" checks. */
	int sec_line[SEC_COUNT];
	int node_line[STRATA_MAX_NODES + 1];
	int key_line[K_NODE_FIRST];
	int listen_key_line[STRATA_PORT_COUNT][LK_COUNT];
	int node_key_line[STRATA_MAX_NODES + 1][K_NODE_COUNT];
};

/* Records the first error as "FILE:LINE: [section] key: problem"; line 0, section NULL or key
 * NULL leave that part out. Returns 0, the libinih handler's "error" value. */
static int fail(struct parse *ps, int line, const char *section, const char *key, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));

static int fail(struct parse *ps, int line, const char *section, const char *key, const char *fmt,
		...)
{
	if (ps->failed)
		return 0;
	ps->failed = true;
	if (!ps->err || ps->errlen == 0)
		return 0;

	char where[160];
	int n = line > 0 ? snprintf(where, sizeof(where), "%s:%d: ", ps->file, line)
			 : snprintf(where, sizeof(where), "%s: ", ps->file);
	size_t w = n < 0 ? 0 : ((size_t)n < sizeof(where) ? (size_t)n : sizeof(where) - 1);
	if (section && key)
		snprintf(where + w, sizeof(where) - w, "[%s] %s: ", section, key);
	else if (section)
		snprintf(where + w, sizeof(where) - w, "[%s]: ", section);
	else if (key)
		snprintf(where + w, sizeof(where) - w, "%s: ", key);

	char problem[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s%s", where, problem);
	return 0;
}

/* A printable, bounded copy of untrusted text for quoting in messages: a config file can hold
 * anything, and an error message must not carry terminal escapes or run for kilobytes. */
static const char *quote(char *buf, size_t len, const char *s)
{
	STRATA_ASSERT(len >= 8);
	size_t i = 0;
	for (; s[i] && i < len - 4; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	memcpy(buf + i, s[i] ? "..." : "", s[i] ? 4 : 1);
	return buf;
}

/* ---------------------------------------------------------------- value parsing */

/* Strict unsigned decimal: digits only, no sign, no spaces. Returns 0, -1 (not a number) or -2
 * (a number too large for 32 bits). */
static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	bool big = false;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX) {
			big = true;
			v = UINT32_MAX;
		}
	}
	*out = (uint32_t)v;
	return big ? -2 : 0;
}

static bool name_char(char ch, const char *extra)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr(extra, ch));
}

static bool all_chars(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!name_char(*s, extra))
			return false;
	return true;
}

/* Parses value into the field kd describes (in c, in the peer for node keys, or in the port's
 * struct strata_listen_cfg for listen keys). */
static int set_value(struct parse *ps, int line, const char *section, const struct keydef *kd,
		     void *base, const char *value)
{
	void *field = (char *)base + kd->off;
	char q[80];
	uint32_t v = 0;
	size_t len = strlen(value);

	switch (kd->kind) {
	case V_U32:
	case V_PORT:
		switch (parse_u32(value, &v)) {
		case -1:
			return fail(ps, line, section, kd->name, "not a number: '%s'",
				    quote(q, sizeof(q), value));
		case -2:
			return fail(ps, line, section, kd->name, "out of range: %s (must be %u..%u)",
				    quote(q, sizeof(q), value), kd->min, kd->max);
		}
		if (v < kd->min || v > kd->max)
			return fail(ps, line, section, kd->name, "out of range: %u (must be %u..%u)",
				    v, kd->min, kd->max);
		if (kd->kind == V_PORT)
			*(uint16_t *)field = (uint16_t)v;
		else
			*(uint32_t *)field = v;
		return 1;
	case V_NAME:
	case V_ALGO:
		if (len == 0 && kd->kind == V_NAME)
			return fail(ps, line, section, kd->name, "must not be empty");
		if (len >= STRATA_NAME_MAX)
			return fail(ps, line, section, kd->name, "too long: %zu characters (at most %d)",
				    len, STRATA_NAME_MAX - 1);
		if (!all_chars(value, "._-"))
			return fail(ps, line, section, kd->name,
				    "'%s' has characters other than letters, digits, '.', '_' and '-'",
				    quote(q, sizeof(q), value));
		memcpy(field, value, len + 1);
		return 1;
	case V_ONOFF:
		if (strcmp(value, "on") == 0)
			*(bool *)field = true;
		else if (strcmp(value, "off") == 0)
			*(bool *)field = false;
		else
			return fail(ps, line, section, kd->name, "'%s' is not on or off",
				    quote(q, sizeof(q), value));
		return 1;
	case V_MODEL: {
		int m = strata_model_parse(value);
		if (m < 0)
			return fail(ps, line, section, kd->name,
				    "unknown model '%s' (expected fail-stop, fail-noisy, fail-silent, "
				    "fail-recovery, fail-arbitrary or randomized)",
				    quote(q, sizeof(q), value));
		*(enum strata_model *)field = (enum strata_model)m;
		return 1;
	}
	case V_HOST:
		if (len == 0)
			return fail(ps, line, section, kd->name, "must not be empty");
		if (len >= STRATA_HOST_MAX)
			return fail(ps, line, section, kd->name, "too long: %zu characters (at most %d)",
				    len, STRATA_HOST_MAX - 1);
		/* Host names, IPv4 and IPv6 literals; no spaces, brackets or ports. */
		if (!all_chars(value, ".-_:"))
			return fail(ps, line, section, kd->name, "not a host name or address: '%s'",
				    quote(q, sizeof(q), value));
		memcpy(field, value, len + 1);
		return 1;
	case V_PUBKEY:
		if (len != 2 * STRATA_PK_LEN)
			return fail(ps, line, section, kd->name,
				    "expected %d hex characters, got %zu", 2 * STRATA_PK_LEN, len);
		if (strata_hex_decode(field, STRATA_PK_LEN, value) != 0)
			return fail(ps, line, section, kd->name, "not hexadecimal: '%s'",
				    quote(q, sizeof(q), value));
		((struct strata_peer_cfg *)base)->has_public_key = true;
		return 1;
	case V_COINKEY:
		if (len != 64)
			return fail(ps, line, section, kd->name,
				    "expected 64 hex characters, got %zu", len);
		if (strata_hex_decode(field, 32, value) != 0)
			return fail(ps, line, section, kd->name, "not hexadecimal: '%s'",
				    quote(q, sizeof(q), value));
		if (crypto_core_ristretto255_is_valid_point(field) != 1 ||
		    sodium_is_zero(field, 32))
			return fail(ps, line, section, kd->name,
				    "not a ristretto255 point (a coin_key printed by "
				    "`stratad coin-deal`)");
		((struct strata_peer_cfg *)base)->has_coin_key = true;
		return 1;
	}
	strata_assert_fail("unknown value kind", __FILE__, __LINE__, __func__);
}

/* ---------------------------------------------------------------- sections */

/* Which section a header names; for [node.N] also N. Returns -1 (and writes the problem) when
 * the name is not a section we know. */
static int section_kind(const char *name, uint32_t *id, char *problem, size_t plen)
{
	static const char *const plain[] = {"cluster", NULL,    "fd",     "links", "lkv",
					    "bcast",   "smr",   "client", "tob",   "resp",
					    "metrics"};
	for (int s = 0; s < SEC_COUNT; s++)
		if (plain[s] && strcmp(name, plain[s]) == 0)
			return s;
	if (strncmp(name, "node.", 5) == 0) {
		const char *num = name + 5;
		uint32_t v = 0;
		/* No leading zeros, so [node.03] cannot alias [node.3]. */
		if (parse_u32(num, &v) == -1 || (num[0] == '0' && num[1])) {
			snprintf(problem, plen, "node id is not a number (expected [node.1] .. [node.%d])",
				 STRATA_MAX_NODES);
			return -1;
		}
		if (v < 1 || v > STRATA_MAX_NODES) {
			snprintf(problem, plen, "node id out of range (must be 1..%d)",
				 STRATA_MAX_NODES);
			return -1;
		}
		*id = v;
		return SEC_NODE;
	}
	snprintf(problem, plen,
		 "unknown section (expected cluster, node.N, fd, links, lkv, bcast, smr, client, tob, "
		 "resp or metrics)");
	return -1;
}

static int *section_line(struct parse *ps, int sec, uint32_t id)
{
	return sec == SEC_NODE ? &ps->node_line[id] : &ps->sec_line[sec];
}

/* A section header seen by the reader: "[name]" possibly followed by a comment. */
static void section_header(struct parse *ps, const char *start)
{
	char name[64], q[80], problem[128];
	const char *close = strchr(start, ']');
	if (!close)
		return; /* libinih reports the syntax error on this line */
	size_t len = (size_t)(close - start - 1);
	const char *rest = close + 1 + strspn(close + 1, " \t\r\n");
	if (*rest && *rest != ';' && *rest != '#') {
		char text[64];
		size_t tl = strcspn(rest, "\r\n");
		tl = tl < sizeof(text) - 1 ? tl : sizeof(text) - 1;
		memcpy(text, rest, tl);
		text[tl] = '\0';
		fail(ps, ps->line, NULL, NULL, "text after section header: '%s'",
		     quote(q, sizeof(q), text));
		return;
	}
	if (len >= sizeof(name)) {
		fail(ps, ps->line, NULL, NULL, "section name too long");
		return;
	}
	memcpy(name, start + 1, len);
	name[len] = '\0';

	uint32_t id = 0;
	int sec = section_kind(name, &id, problem, sizeof(problem));
	if (sec < 0) {
		fail(ps, ps->line, quote(q, sizeof(q), name), NULL, "%s", problem);
		return;
	}
	int *where = section_line(ps, sec, id);
	if (*where) {
		fail(ps, ps->line, name, NULL, "duplicate section (first on line %d)", *where);
		return;
	}
	*where = ps->line;
}

/* ---------------------------------------------------------------- libinih callbacks */

/* fgets-style reader over the input text: one call per line, so libinih's line numbers and ours
 * agree. Ends the input (returns NULL) after the first error. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	if (ps->failed || !*ps->cur || num < 2)
		return NULL;

	const char *nl = strchr(ps->cur, '\n');
	size_t len = nl ? (size_t)(nl - ps->cur) + 1 : strlen(ps->cur);
	ps->line++;
	if (len > (size_t)num - 1) {
		/* libinih would split the line and parse its tail as a line of its own. */
		fail(ps, ps->line, NULL, NULL, "line too long (at most %d characters)", num - 3);
		return NULL;
	}
	memcpy(str, ps->cur, len);
	str[len] = '\0';
	ps->cur += len;

	const char *p = str;
	if (ps->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* UTF-8 byte order mark, which libinih skips too */
	size_t indent = strspn(p, " \t");
	const char *start = p + indent;
	bool blank = *start == '\0' || *start == '\r' || *start == '\n';
	bool comment = *start == ';' || *start == '#';
	if (indent > 0 && !blank && !comment) {
		fail(ps, ps->line, NULL, NULL,
		     "indented line (write every key at the start of its line; indentation would "
		     "continue the previous value)");
		return NULL;
	}
	if (*start == '[')
		section_header(ps, start);
	return ps->failed ? NULL : str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	char q[80], problem[128];
	int line = ps->line;

	if (ps->failed)
		return 0;
	if (!name || !value)
		return fail(ps, line, NULL, NULL, "expected 'key = value'");
	if (!section[0])
		return fail(ps, line, NULL, quote(q, sizeof(q), name),
			    "key before the first [section]");

	uint32_t id = 0;
	int sec = section_kind(section, &id, problem, sizeof(problem));
	if (sec < 0)
		return fail(ps, line, quote(q, sizeof(q), section), NULL, "%s", problem);

	/* A port's section: its listen keys first, then the section's own keys. */
	int port = section_port(sec);
	if (port >= 0)
		for (int i = 0; i < LK_COUNT; i++)
			if (strcmp(listen_keys[i].name, name) == 0) {
				int *kl = &ps->listen_key_line[port][i];
				if (*kl)
					return fail(ps, line, section, name,
						    "duplicate key (first set on line %d)", *kl);
				*kl = line;
				struct keydef kd = listen_keydef(port, (enum listen_key)i);
				return set_value(ps, line, section, &kd, &ps->c->listen[port],
						 value);
			}

	int k = -1;
	for (int i = 0; i < K_COUNT; i++)
		if (keys[i].sec == (enum sec)sec && strcmp(keys[i].name, name) == 0)
			k = i;
	if (k < 0) {
		char list[160] = "";
		size_t used = 0;
		for (int i = 0; port >= 0 && i < LK_COUNT && used < sizeof(list); i++) {
			int w = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
					 listen_keys[i].name);
			used += w > 0 ? (size_t)w : 0;
		}
		for (int i = 0; i < K_COUNT; i++)
			if (keys[i].sec == (enum sec)sec && used < sizeof(list)) {
				int w = snprintf(list + used, sizeof(list) - used, "%s%s",
						 used ? ", " : "", keys[i].name);
				used += w > 0 ? (size_t)w : 0;
			}
		return fail(ps, line, section, quote(q, sizeof(q), name),
			    "unknown key (expected one of: %s)", list);
	}

	int *kl = k >= K_NODE_FIRST ? &ps->node_key_line[id][k - K_NODE_FIRST] : &ps->key_line[k];
	if (*kl)
		return fail(ps, line, section, name, "duplicate key (first set on line %d)", *kl);
	*kl = line;
	void *base = k >= K_NODE_FIRST ? (void *)&ps->c->nodes[id] : (void *)ps->c;
	return set_value(ps, line, section, &keys[k], base, value);
}

/* A better message for a line libinih rejected: we still have the text. */
static void syntax_error(struct parse *ps, const char *text, int line)
{
	for (int i = 1; i < line && text; i++) {
		text = strchr(text, '\n');
		text = text ? text + 1 : NULL;
	}
	const char *start = text ? text + strspn(text, " \t") : "";
	if (line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
		start += 3;
	if (*start == '[')
		fail(ps, line, NULL, NULL, "section header without closing ']'");
	else
		fail(ps, line, NULL, NULL, "expected '[section]' or 'key = value'");
}

/* ---------------------------------------------------------------- whole-config checks */

static int key_or_section_line(const struct parse *ps, enum key k)
{
	return ps->key_line[k] ? ps->key_line[k] : ps->sec_line[keys[k].sec];
}

/* Checks lo < hi (or lo <= hi). The message blames hi when the user wrote it or wrote neither,
 * else lo: the key to change is the one the user set. */
static int check_less(struct parse *ps, enum key lo, enum key hi, bool or_equal)
{
	struct strata_config *c = ps->c;
	uint32_t vlo = *(uint32_t *)((char *)c + keys[lo].off);
	uint32_t vhi = *(uint32_t *)((char *)c + keys[hi].off);
	if (or_equal ? vlo <= vhi : vlo < vhi)
		return 1;
	const char *sec = sec_names[keys[lo].sec];
	const char *rel = or_equal ? "at most" : "less than";
	const char *rel2 = or_equal ? "at least" : "greater than";
	if (ps->key_line[hi] || !ps->key_line[lo])
		return fail(ps, key_or_section_line(ps, hi), sec, keys[hi].name,
			    "must be %s %s (%u), but is %u", rel2, keys[lo].name, vlo, vhi);
	return fail(ps, ps->key_line[lo], sec, keys[lo].name, "must be %s %s (%u), but is %u", rel,
		    keys[hi].name, vhi, vlo);
}

static int check_nodes(struct parse *ps)
{
	struct strata_config *c = ps->c;
	char sec[16];

	uint32_t n = 0;
	for (uint32_t id = 1; id <= STRATA_MAX_NODES; id++)
		if (ps->node_line[id]) {
			if (n + 1 != id) {
				snprintf(sec, sizeof(sec), "node.%u", id);
				return fail(ps, ps->node_line[id], sec, NULL,
					    "node ids must be contiguous from 1, but [node.%u] is "
					    "missing",
					    n + 1);
			}
			n = id;
		}
	if (n == 0)
		return fail(ps, 0, NULL, NULL, "no [node.N] section: a cluster needs at least one node");
	c->n = n;

	for (uint32_t id = 1; id <= n; id++) {
		struct strata_peer_cfg *p = &c->nodes[id];
		int *kl = ps->node_key_line[id];
		snprintf(sec, sizeof(sec), "node.%u", id);
		p->id = id;
		if (!kl[K_HOST - K_NODE_FIRST])
			memcpy(p->host, DEFAULT_HOST, sizeof(DEFAULT_HOST));
		/* Metrics stay on loopback unless the config says otherwise (they need no key). */
		if (!kl[K_METRICS_HOST - K_NODE_FIRST])
			snprintf(p->metrics_host, sizeof p->metrics_host, "127.0.0.1");
		if (!kl[K_PORT - K_NODE_FIRST])
			return fail(ps, ps->node_line[id], sec, "port", "required key missing");
		if (!kl[K_CLIENT_PORT - K_NODE_FIRST])
			return fail(ps, ps->node_line[id], sec, "client_port", "required key missing");
		/* Anyone who reaches an unauthenticated client port reads and writes everything:
		 * only loopback may go without (docs/security.md). */
		if (!c->client_auth && !strata_host_is_loopback(p->host))
			return fail(ps, ps->key_line[K_CL_AUTH], "client", "auth",
				    "off, but node.%u serves clients on %s, which is not a loopback "
				    "address: anyone who reaches it could read and write everything "
				    "(set auth = on and give every client the cluster's client.key)",
				    id, p->host);
		/* The metrics port has no authentication: it stays on loopback unless the config
		 * says, explicitly, that it may not (docs/security.md says what it exposes). */
		if (p->metrics_port && !c->metrics_allow_remote &&
		    !strata_host_is_loopback(p->metrics_host))
			return fail(ps, kl[K_METRICS_HOST - K_NODE_FIRST], sec, "metrics_host",
				    "%s is not a loopback address, and the metrics port has no "
				    "authentication: anyone who reaches it reads every status counter, "
				    "the peers' states and the operation latencies (set [metrics] "
				    "allow_remote = on to serve them there anyway)",
				    p->metrics_host);

		for (uint32_t j = 1; j < id; j++) {
			const struct strata_peer_cfg *o = &c->nodes[j];
			bool same_host = strcmp(o->host, p->host) == 0;
			if (same_host && o->port == p->port)
				return fail(ps, kl[K_PORT - K_NODE_FIRST], sec, "port",
					    "%s:%u is already the port of node.%u", p->host,
					    p->port, j);
			if (same_host && o->client_port == p->client_port)
				return fail(ps, kl[K_CLIENT_PORT - K_NODE_FIRST], sec,
					    "client_port",
					    "%s:%u is already the client port of node.%u", p->host,
					    p->client_port, j);
			/* Two ids with one identity would let one process speak for both. */
			if (p->has_public_key && o->has_public_key &&
			    memcmp(p->public_key, o->public_key, STRATA_PK_LEN) == 0)
				return fail(ps, kl[K_PUBKEY - K_NODE_FIRST], sec, "public_key",
					    "same key as node.%u", j);
		}
	}
	return 1;
}

/* The threshold coin: every node has a coin_key or none does; with keys, coin_threshold is
 * required and f + 1 <= coin_threshold <= n - f (unpredictable to f processes, revealed by the
 * n - f correct ones). */
static int check_coin(struct parse *ps)
{
	struct strata_config *c = ps->c;
	uint32_t with = 0, first_without = 0, first_with = 0;
	for (uint32_t id = 1; id <= c->n; id++) {
		if (c->nodes[id].has_coin_key) {
			with++;
			if (!first_with)
				first_with = id;
		} else if (!first_without) {
			first_without = id;
		}
	}
	char sec[24];
	if (with && with < c->n) {
		snprintf(sec, sizeof(sec), "node.%u", first_without);
		return fail(ps, ps->node_line[first_without], sec, "coin_key",
			    "missing: node.%u has one, and the threshold coin needs every node's "
			    "(deal them together with `stratad coin-deal`)",
			    first_with);
	}
	if (with && !ps->key_line[K_COIN_T])
		return fail(ps, ps->sec_line[SEC_CLUSTER], "cluster", "coin_threshold",
			    "required key missing (the nodes have coin_key entries)");
	if (!with && ps->key_line[K_COIN_T])
		return fail(ps, ps->key_line[K_COIN_T], "cluster", "coin_threshold",
			    "set, but no node has a coin_key");
	if (with && (c->coin_threshold < c->f + 1 || c->coin_threshold + c->f > c->n))
		return fail(ps, ps->key_line[K_COIN_T], "cluster", "coin_threshold",
			    "must be between f + 1 = %u and n - f = %u, but is %u", c->f + 1,
			    c->n - c->f, c->coin_threshold);
	return 1;
}

static int check_cluster(struct parse *ps)
{
	struct strata_config *c = ps->c;

	if (!ps->key_line[K_F]) {
		/* The most faults the model's own algorithms survive: a majority of correct
		 * processes for crash models, more than two thirds for Byzantine ones. */
		uint32_t k = c->model == STRATA_MODEL_FAIL_ARBITRARY ? 3 : 2;
		c->f = (c->n - 1) / k;
	} else if (c->f >= c->n) {
		return fail(ps, ps->key_line[K_F], "cluster", "f",
			    "must be less than the number of nodes (f=%u, n=%u)", c->f, c->n);
	} else if (c->model == STRATA_MODEL_FAIL_ARBITRARY && c->n <= 3 * c->f) {
		/* Byzantine quorums of n - f must intersect in a correct process: 2(n - f) - n > f. */
		return fail(ps, ps->key_line[K_F], "cluster", "f",
			    "a fail-arbitrary cluster needs n > 3f (f Byzantine nodes among n; two "
			    "quorums of n - f must share a correct node), but n=%u, f=%u (at most f=%u)",
			    c->n, c->f, (c->n - 1) / 3);
	}
	if (c->writer > c->n)
		return fail(ps, key_or_section_line(ps, K_WRITER), "cluster", "writer",
			    "no such node: %u (the cluster has nodes 1..%u)", c->writer, c->n);
	return check_coin(ps);
}

static int check_lkv(struct parse *ps)
{
	struct strata_config *c = ps->c;

	/* Defaults shrink with small clusters; explicit values are checked as written. */
	if (!ps->key_line[K_REPLICAS] && c->lkv_replicas > c->n)
		c->lkv_replicas = c->n;
	if (!ps->key_line[K_R] && c->lkv_r > c->lkv_replicas)
		c->lkv_r = c->lkv_replicas / 2 + 1;
	if (!ps->key_line[K_W] && c->lkv_w > c->lkv_replicas)
		c->lkv_w = c->lkv_replicas / 2 + 1;

	if (c->lkv_replicas > c->n)
		return fail(ps, ps->key_line[K_REPLICAS], "lkv", "replicas",
			    "must be at most the number of nodes (replicas=%u, n=%u)",
			    c->lkv_replicas, c->n);
	if (c->lkv_r > c->lkv_replicas)
		return fail(ps, key_or_section_line(ps, K_R), "lkv", "r",
			    "must be at most replicas (r=%u, replicas=%u)", c->lkv_r,
			    c->lkv_replicas);
	if (c->lkv_w > c->lkv_replicas)
		return fail(ps, key_or_section_line(ps, K_W), "lkv", "w",
			    "must be at most replicas (w=%u, replicas=%u)", c->lkv_w,
			    c->lkv_replicas);
	return 1;
}

static int check_all(struct parse *ps)
{
	if (!ps->sec_line[SEC_CLUSTER])
		return fail(ps, 0, "cluster", NULL, "required section missing");
	if (!ps->key_line[K_ID])
		return fail(ps, ps->sec_line[SEC_CLUSTER], "cluster", "id", "required key missing");
	return check_nodes(ps) && check_cluster(ps) && check_lkv(ps) &&
	       check_less(ps, K_HEARTBEAT, K_TIMEOUT, false) &&
	       check_less(ps, K_HEARTBEAT, K_EVP_TIMEOUT, false) &&
	       check_less(ps, K_SMR_HB, K_SMR_ELECT, false) &&
	       check_less(ps, K_RTX_MIN, K_RTX_MAX, true) &&
	       /* The backlog must hold at least one largest value, or it could never be sent. */
	       check_less(ps, K_MAX_VALUE, K_BACKLOG, true);
}

/* ---------------------------------------------------------------- public API */

void strata_config_defaults(struct strata_config *c)
{
	memset(c, 0, sizeof(*c));
	c->model = STRATA_MODEL_FAIL_NOISY;
	c->writer = 1;
	c->lkv_replicas = 3;
	c->lkv_r = 2;
	c->lkv_w = 2;
	c->lkv_max_keys = 65536;
	c->bcast_fanout = 3;
	c->bcast_rounds = 4;
	c->bcast_store_probability_pct = 50;
	c->smr_heartbeat_ms = 50;
	c->smr_election_ms = 500;
	c->smr_window = 64;
	c->smr_batch_max = 1024;
	c->smr_pending_max = 8192;
	c->smr_timeout_ms = 5000;
	c->smr_sessions_max = 100000;
	c->smr_quota_bytes = 2u << 30; /* etcd's default space quota */
	c->smr_snapshot_entries = 10000;
	c->smr_checkpoint_interval = 1024;
	c->smr_bft_overlap = 1;
	c->smr_snapshot_tail = 1000;
	for (int p = 0; p < STRATA_PORT_COUNT; p++)
		c->listen[p] = ports[p].defaults;
	c->client_auth = true;
	c->heartbeat_ms = 50;
	c->timeout_ms = 250;
	c->evp_timeout_ms = 250;
	c->evp_increment_ms = 100;
	c->max_datagram = 1400;
	c->max_value = 1 * MIB;
	c->window = 1024;
	c->retransmit_min_ms = 10;
	c->retransmit_max_ms = 1000;
	c->backlog_bytes = 64 * MIB;
	c->ack_delay_us = 2000; /* a lone ack waits 2 ms for a frame to ride (docs/links.md) */
}

const char *strata_port_name(enum strata_port p)
{
	STRATA_ASSERT((unsigned)p < STRATA_PORT_COUNT);
	return sec_names[ports[p].sec];
}

struct strata_listen_cfg strata_listen_defaults(enum strata_port p)
{
	STRATA_ASSERT((unsigned)p < STRATA_PORT_COUNT);
	return ports[p].defaults;
}

struct strata_listen_cfg strata_listen_cfg_of(const struct strata_config *c, enum strata_port p)
{
	STRATA_ASSERT((unsigned)p < STRATA_PORT_COUNT);
	struct strata_listen_cfg l = c->listen[p];
	const struct strata_listen_cfg *d = &ports[p].defaults;
	if (!l.max_conns)
		l.max_conns = d->max_conns;
	if (!l.frame_ms)
		l.frame_ms = d->frame_ms;
	if (!l.queue_max)
		l.queue_max = d->queue_max;
	return l;
}

int strata_config_parse(struct strata_config *c, const char *text, const char *filename, char *err,
			size_t errlen)
{
	STRATA_ASSERT(c && text);
	struct strata_config tmp;
	struct parse ps;

	memset(&ps, 0, sizeof(ps));
	strata_config_defaults(&tmp);
	ps.c = &tmp;
	ps.file = filename ? filename : "<config>";
	ps.err = err;
	ps.errlen = errlen;
	ps.cur = text;
	if (err && errlen)
		err[0] = '\0';

	int rc = ini_parse_stream(read_line, &ps, on_key, &ps);
	if (rc > 0 && !ps.failed)
		syntax_error(&ps, text, rc);
	else if (rc > 0 && rc < ps.line && ps.failed) {
		/* A syntax error before the line we failed on came first. */
		ps.failed = false;
		syntax_error(&ps, text, rc);
	} else if (rc < 0 && !ps.failed) {
		fail(&ps, 0, NULL, NULL, "out of memory while parsing");
	}
	if (ps.failed)
		return STRATA_ECONFIG;
	if (!check_all(&ps))
		return STRATA_ECONFIG;

	uint8_t h[STRATA_HASH_LEN];
	strata_hash(h, (const uint8_t *)tmp.cluster_id, strlen(tmp.cluster_id));
	tmp.cluster_hash = 0;
	for (int i = 7; i >= 0; i--)
		tmp.cluster_hash = (tmp.cluster_hash << 8) | h[i];

	*c = tmp;
	return 0;
}

int strata_config_check_resilience(const struct strata_config *c, const char *algo,
				   unsigned resilience_k, char *err, size_t errlen)
{
	STRATA_ASSERT(c && algo && resilience_k >= 1);
	if ((uint64_t)c->n > (uint64_t)resilience_k * c->f)
		return 0;
	if (err && errlen) {
		char k[16] = "";
		if (resilience_k > 1)
			snprintf(k, sizeof(k), "%u", resilience_k);
		snprintf(err, errlen, "algorithm '%s' needs n > %sf, but the cluster has n=%u, f=%u",
			 algo, k, c->n, c->f);
	}
	return STRATA_EMODEL;
}
