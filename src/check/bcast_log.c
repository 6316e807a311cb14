/* Broadcast delivery logs: the writer, the strict parser, the happened-before walk and the
 * property checkers declared in bcast_log.h.
 *
 * Memory is bounded by the limits in the header: a parser reads one line at a time into one
 * buffer of the largest legal line, and refuses a log with too many events or payload bytes.
 * The checkers build a hash table of deliveries keyed (node, sender, seq) and, for causal
 * delivery, one vector per broadcast; everything is freed before they return. */
#include "check/bcast_log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/assert.h"
#include "core/error.h"

#define PATH_BYTES 4096
/* Longest legal line: "d <sender> <seq> <lamport> <hex> vc=<n counters>". */
#define LINE_MAX_BYTES \
	((size_t)STRATA_BCAST_PAYLOAD_MAX * 2 + (size_t)STRATA_BCAST_MAX_NODES * 21 + 128)
#define MAX_TOKENS 8

static const char hexdigits[] = "0123456789abcdef";

__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t n, const char *fmt, ...)
{
	if (buf == NULL || n == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

/* Appends to a message already in buf (used for notes after a verdict). */
__attribute__((format(printf, 3, 4))) static void say_more(char *buf, size_t n, const char *fmt,
							   ...)
{
	if (buf == NULL || n == 0)
		return;
	size_t used = strnlen(buf, n);
	if (used + 1 >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

static bool algo_name_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len >= STRATA_BCAST_ALGO_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-' || c == '.';
		if (!ok)
			return false;
	}
	return true;
}

/* ======================================================================================== */
/* Writer                                                                                   */
/* ======================================================================================== */

struct strata_bcast_log {
	FILE *f;
	uint32_t node, n;
	uint64_t last_seq;
	bool may_skip; /* the next broadcast is the first of an incarnation */
	uint64_t *seen; /* sorted (sender << 40 | seq) delivered in earlier incarnations */
	size_t nseen;
	bool crashed;
	int werr; /* first write error, reported again by close */
	char err[256];
};

int strata_bcast_log_open(const char *dir, uint32_t node, uint32_t n, const char *algo,
			  struct strata_bcast_log **out, char *err, size_t errlen)
{
	STRATA_ASSERT(dir != NULL && algo != NULL && out != NULL);
	*out = NULL;
	if (n < 1 || n > STRATA_BCAST_MAX_NODES || node < 1 || node > n) {
		say(err, errlen, "node %u of n %u: need 1 <= node <= n <= %u", node, n,
		    STRATA_BCAST_MAX_NODES);
		return STRATA_EINVAL;
	}
	if (!algo_name_ok(algo)) {
		say(err, errlen, "algorithm name '%s': need 1..%d characters of [A-Za-z0-9_.-]", algo,
		    STRATA_BCAST_ALGO_MAX - 1);
		return STRATA_EINVAL;
	}
	char path[PATH_BYTES];
	int len = snprintf(path, sizeof path, "%s/node-%u.log", dir, node);
	if (len < 0 || (size_t)len >= sizeof path) {
		say(err, errlen, "%s: directory name too long", dir);
		return STRATA_EINVAL;
	}
	struct strata_bcast_log *log = calloc(1, sizeof *log);
	if (log == NULL) {
		say(err, errlen, "out of memory");
		return STRATA_ENOMEM;
	}
	log->f = fopen(path, "w");
	if (log->f == NULL) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		free(log);
		return STRATA_EIO;
	}
	log->node = node;
	log->n = n;
	if (fprintf(log->f, "# node %u n %u algo %s\n", node, n, algo) < 0 || fflush(log->f) != 0) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		fclose(log->f);
		free(log);
		return STRATA_EIO;
	}
	*out = log;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct parser;
static int parse_file(struct parser *p, uint32_t id, struct strata_bcast_logs *logs);
static int parse_existing(const char *path, uint32_t node, struct strata_bcast_logs *logs,
			  char *err, size_t errlen);

/* Cuts a last line without its newline (a write torn by a kill) off the file at path. 0, or
 * STRATA_EIO with a message. */
static int cut_torn_tail(const char *path, FILE *f, off_t *size, char *err, size_t errlen)
{
	off_t end = *size;
	while (end > 0) {
		if (fseeko(f, end - 1, SEEK_SET) != 0)
			break;
		int ch = getc(f);
		if (ch == '\n')
			break;
		if (ch == EOF)
			break;
		end--;
	}
	if (end == *size)
		return 0;
	if (ftruncate(fileno(f), end) != 0) {
		say(err, errlen, "%s: cutting a torn last line: %s", path, strerror(errno));
		return STRATA_EIO;
	}
	*size = end;
	return 0;
}

int strata_bcast_log_open_incarnation(const char *dir, uint32_t node, uint32_t n, const char *algo,
				      uint64_t incarnation, struct strata_bcast_log **out,
				      char *err, size_t errlen)
{
	STRATA_ASSERT(dir != NULL && algo != NULL && out != NULL);
	*out = NULL;
	char path[PATH_BYTES];
	int len = snprintf(path, sizeof path, "%s/node-%u.log", dir, node);
	if (len < 0 || (size_t)len >= sizeof path) {
		say(err, errlen, "%s: directory name too long", dir);
		return STRATA_EINVAL;
	}
	uint64_t last_seq = 0, *seen = NULL;
	size_t nseen = 0;
	FILE *f = fopen(path, "r+");
	if (f == NULL && errno != ENOENT) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		return STRATA_EIO;
	}
	off_t size = 0;
	if (f != NULL) {
		int rc = fseeko(f, 0, SEEK_END) == 0 && (size = ftello(f)) >= 0 ? 0 : STRATA_EIO;
		if (rc != 0)
			say(err, errlen, "%s: %s", path, strerror(errno));
		if (rc == 0)
			rc = cut_torn_tail(path, f, &size, err, errlen);
		fclose(f);
		if (rc != 0)
			return rc;
	}
	if (size > 0) {
		struct strata_bcast_logs *logs = calloc(1, sizeof *logs);
		if (logs == NULL) {
			say(err, errlen, "out of memory");
			return STRATA_ENOMEM;
		}
		int rc = parse_existing(path, node, logs, err, errlen);
		const struct strata_bcast_node_log *nl = &logs->node[node];
		if (rc == 0 && (logs->n != n || strcmp(logs->algo, algo) != 0)) {
			say(err, errlen, "%s: a log of n = %u, algo %s, not n = %u, algo %s (another "
				"cluster's log: move it away)", path, logs->n, logs->algo, n, algo);
			rc = STRATA_EPROTO;
		}
		for (size_t i = nl->nev; rc == 0 && i > 0; i--) {
			const struct strata_bcast_event *e = &nl->ev[i - 1];
			if (e->kind != STRATA_BCAST_EV_INCARNATION)
				continue;
			if (e->seq >= incarnation) {
				say(err, errlen, "%s: records incarnation %llu already, this is %llu",
				    path, (unsigned long long)e->seq,
				    (unsigned long long)incarnation);
				rc = STRATA_EPROTO;
			}
			break;
		}
		last_seq = nl->nbcast;
		if (rc == 0 && nl->ndeliver > 0) {
			seen = malloc((size_t)nl->ndeliver * sizeof *seen);
			if (seen == NULL) {
				say(err, errlen, "out of memory");
				rc = STRATA_ENOMEM;
			}
			for (size_t i = 0; seen != NULL && i < nl->nev; i++)
				if (nl->ev[i].kind == STRATA_BCAST_EV_DELIVER)
					seen[nseen++] = (uint64_t)nl->ev[i].sender << 40 | nl->ev[i].seq;
			if (seen != NULL)
				qsort(seen, nseen, sizeof *seen, cmp_u64);
		}
		strata_bcast_logs_free(logs);
		if (rc != 0) {
			free(seen);
			return rc;
		}
	}
	struct strata_bcast_log *log = NULL;
	int rc;
	if (size == 0) {
		rc = strata_bcast_log_open(dir, node, n, algo, &log, err, errlen);
		if (rc != 0) {
			free(seen);
			return rc;
		}
	} else {
		log = calloc(1, sizeof *log);
		if (log == NULL) {
			say(err, errlen, "out of memory");
			free(seen);
			return STRATA_ENOMEM;
		}
		log->f = fopen(path, "a");
		if (log->f == NULL) {
			say(err, errlen, "%s: %s", path, strerror(errno));
			free(log);
			free(seen);
			return STRATA_EIO;
		}
		log->node = node;
		log->n = n;
	}
	log->last_seq = last_seq;
	log->may_skip = true;
	log->seen = seen;
	log->nseen = nseen;
	if (fprintf(log->f, "i %llu\n", (unsigned long long)incarnation) < 0 ||
	    fflush(log->f) != 0) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		strata_bcast_log_close(log);
		return STRATA_EIO;
	}
	*out = log;
	return 0;
}

static int wfail(struct strata_bcast_log *log, int code, const char *what)
{
	snprintf(log->err, sizeof log->err, "%s", what);
	return code;
}

/* Writes " <hex> [vc=...]\n" and flushes: the common tail of b and d lines. */
static int write_tail(struct strata_bcast_log *log, const uint8_t *payload, size_t len,
		      const uint64_t *vc, size_t vc_len)
{
	FILE *f = log->f;
	if (len == 0) {
		fputs(" -", f);
	} else {
		putc(' ', f);
		for (size_t i = 0; i < len; i++) {
			putc(hexdigits[payload[i] >> 4], f);
			putc(hexdigits[payload[i] & 15], f);
		}
	}
	if (vc_len > 0) {
		fputs(" vc=", f);
		for (size_t i = 0; i < vc_len; i++)
			fprintf(f, i ? ",%llu" : "%llu", (unsigned long long)vc[i]);
	}
	putc('\n', f);
	if (fflush(f) != 0 || ferror(f)) {
		if (log->werr == 0)
			log->werr = STRATA_EIO;
		snprintf(log->err, sizeof log->err, "write failed: %s", strerror(errno));
		return STRATA_EIO;
	}
	return 0;
}

static int check_common(struct strata_bcast_log *log, const uint8_t *payload, size_t len,
			const uint64_t *vc, size_t vc_len)
{
	if (log->crashed)
		return wfail(log, STRATA_ESTATE, "the node already crashed: nothing may follow");
	if (log->werr != 0)
		return wfail(log, log->werr, "an earlier write failed");
	if (len > STRATA_BCAST_PAYLOAD_MAX)
		return wfail(log, STRATA_ETOOBIG, "payload larger than STRATA_BCAST_PAYLOAD_MAX");
	if (len > 0 && payload == NULL)
		return wfail(log, STRATA_EINVAL, "payload is NULL");
	if (vc_len != 0 && (vc_len != log->n || vc == NULL))
		return wfail(log, STRATA_EINVAL, "vector clock must have n entries");
	return 0;
}

int strata_bcast_log_broadcast(struct strata_bcast_log *log, uint64_t seq, uint64_t lamport,
			       const uint8_t *payload, size_t len, const uint64_t *vc, size_t vc_len)
{
	STRATA_ASSERT(log != NULL);
	int rc = check_common(log, payload, len, vc, vc_len);
	if (rc != 0)
		return rc;
	if (log->may_skip ? seq <= log->last_seq : seq != log->last_seq + 1)
		return wfail(log, STRATA_EINVAL,
			     log->may_skip ? "broadcast seq must be larger than every recorded one"
					   : "broadcast seq must be one more than the previous");
	if (seq > STRATA_BCAST_SEQ_MAX)
		return wfail(log, STRATA_EINVAL, "broadcast seq out of range");
	log->last_seq = seq;
	log->may_skip = false;
	fprintf(log->f, "b %llu %llu", (unsigned long long)seq, (unsigned long long)lamport);
	return write_tail(log, payload, len, vc, vc_len);
}

int strata_bcast_log_deliver(struct strata_bcast_log *log, uint32_t sender, uint64_t seq,
			     uint64_t lamport, const uint8_t *payload, size_t len,
			     const uint64_t *vc, size_t vc_len)
{
	STRATA_ASSERT(log != NULL);
	int rc = check_common(log, payload, len, vc, vc_len);
	if (rc != 0)
		return rc;
	if (sender < 1 || sender > log->n)
		return wfail(log, STRATA_EINVAL, "sender out of range 1..n");
	if (seq < 1 || seq > STRATA_BCAST_SEQ_MAX)
		return wfail(log, STRATA_EINVAL, "seq out of range");
	fprintf(log->f, "d %u %llu %llu", sender, (unsigned long long)seq,
		(unsigned long long)lamport);
	return write_tail(log, payload, len, vc, vc_len);
}

int strata_bcast_log_replay(struct strata_bcast_log *log, uint32_t sender, uint64_t seq,
			    uint64_t lamport, const uint8_t *payload, size_t len, bool *recorded)
{
	STRATA_ASSERT(log != NULL && recorded != NULL);
	*recorded = false;
	uint64_t key = (uint64_t)sender << 40 | seq;
	if (log->seen != NULL && seq <= STRATA_BCAST_SEQ_MAX &&
	    bsearch(&key, log->seen, log->nseen, sizeof key, cmp_u64) != NULL)
		return 0;
	int rc = strata_bcast_log_deliver(log, sender, seq, lamport, payload, len, NULL, 0);
	*recorded = rc == 0;
	return rc;
}

int strata_bcast_log_broadcast_replay(struct strata_bcast_log *log, uint64_t seq,
				      uint64_t lamport, const uint8_t *payload, size_t len,
				      bool *recorded)
{
	STRATA_ASSERT(log != NULL && recorded != NULL);
	*recorded = false;
	if (seq <= log->last_seq)
		return 0;
	int rc = strata_bcast_log_broadcast(log, seq, lamport, payload, len, NULL, 0);
	*recorded = rc == 0;
	return rc;
}

int strata_bcast_log_crash(struct strata_bcast_log *log)
{
	STRATA_ASSERT(log != NULL);
	int rc = check_common(log, NULL, 0, NULL, 0);
	if (rc != 0)
		return rc;
	log->crashed = true;
	if (fputs("crash\n", log->f) < 0 || fflush(log->f) != 0) {
		log->werr = STRATA_EIO;
		return wfail(log, STRATA_EIO, "write failed");
	}
	return 0;
}

int strata_bcast_log_flush(struct strata_bcast_log *log)
{
	STRATA_ASSERT(log != NULL);
	if (fflush(log->f) != 0) {
		log->werr = STRATA_EIO;
		return wfail(log, STRATA_EIO, "flush failed");
	}
	return log->werr;
}

int strata_bcast_log_close(struct strata_bcast_log *log)
{
	if (log == NULL)
		return 0;
	int rc = log->werr;
	if (fclose(log->f) != 0 && rc == 0)
		rc = STRATA_EIO;
	free(log->seen);
	free(log);
	return rc;
}

const char *strata_bcast_log_error(const struct strata_bcast_log *log)
{
	STRATA_ASSERT(log != NULL);
	return log->err;
}

/* ======================================================================================== */
/* Parser                                                                                   */
/* ======================================================================================== */

struct parser {
	FILE *f;
	const char *path;
	char *buf;        /* LINE_MAX_BYTES + 1 */
	size_t len;
	uint32_t lineno;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *p, const char *fmt, ...)
{
	if (p->err == NULL || p->errlen == 0)
		return STRATA_EPROTO;
	int off = snprintf(p->err, p->errlen, "%s:%u: ", p->path, p->lineno);
	if (off >= 0 && (size_t)off < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + off, p->errlen - (size_t)off, fmt, ap);
		va_end(ap);
	}
	return STRATA_EPROTO;
}

/* Reads one line without its newline. Returns 1, 0 at end of file, or a negative code. */
static int read_line(struct parser *p)
{
	p->len = 0;
	p->lineno++;
	for (;;) {
		int c = getc_unlocked(p->f);
		if (c == EOF) {
			if (ferror(p->f)) {
				perr(p, "read error: %s", strerror(errno));
				return STRATA_EIO;
			}
			if (p->len == 0)
				return 0;
			/* The writer ends every line; a missing newline means a torn write. */
			return perr(p, "last line has no newline (truncated file?)");
		}
		if (c == '\n')
			break;
		if (c == '\0')
			return perr(p, "NUL byte in line");
		if (c == '\r')
			return perr(p, "carriage return in line (CRLF line endings are not accepted)");
		if (p->len >= LINE_MAX_BYTES)
			return perr(p, "line longer than %zu bytes", (size_t)LINE_MAX_BYTES);
		p->buf[p->len++] = (char)c;
	}
	p->buf[p->len] = '\0';
	return 1;
}

/* Splits the line in place on single spaces. Returns the token count or a negative code. */
static int tokenize(struct parser *p, char **tok)
{
	int nt = 0;
	char *s = p->buf;
	if (*s == '\0')
		return perr(p, "empty line");
	for (;;) {
		char *sp = strchr(s, ' ');
		if (sp == s || *s == '\0')
			return perr(p, "fields must be separated by exactly one space");
		if (nt == MAX_TOKENS)
			return perr(p, "too many fields");
		tok[nt++] = s;
		if (sp == NULL)
			return nt;
		*sp = '\0';
		s = sp + 1;
	}
}

/* Strict decimal: digits only, no sign, no leading zero, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem, size_t max)
{
	if (need <= *cap)
		return 0;
	if (need > max)
		return STRATA_ETOOBIG;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap = ncap > max / 2 ? max : ncap * 2;
	void *na = realloc(*arr, ncap * elem);
	if (na == NULL)
		return STRATA_ENOMEM;
	*arr = na;
	*cap = ncap;
	return 0;
}

struct node_build {
	size_t ev_cap, payload_cap, vc_cap;
	bool have_inc;     /* an "i" line was seen */
	uint64_t last_inc; /* the last one's incarnation */
	bool restarted;    /* no broadcast since the last "i" line */
};

static int parse_payload(struct parser *p, struct strata_bcast_node_log *nl,
			 struct node_build *nb, const char *tok, struct strata_bcast_event *ev)
{
	ev->payload_off = nl->payload_size;
	ev->payload_len = 0;
	if (strcmp(tok, "-") == 0)
		return 0;
	size_t hl = strlen(tok);
	if (hl % 2 != 0)
		return perr(p, "payload has an odd number of hex digits");
	if (hl / 2 > STRATA_BCAST_PAYLOAD_MAX)
		return perr(p, "payload larger than %u bytes", STRATA_BCAST_PAYLOAD_MAX);
	int rc = grow((void **)&nl->payload, &nb->payload_cap, nl->payload_size + hl / 2, 1,
		      STRATA_BCAST_BYTES_MAX);
	if (rc == STRATA_ETOOBIG)
		return perr(p, "more than %u payload bytes in one log", STRATA_BCAST_BYTES_MAX);
	if (rc != 0)
		return perr(p, "out of memory"), STRATA_ENOMEM;
	uint8_t *dst = nl->payload + nl->payload_size;
	for (size_t i = 0; i < hl; i += 2) {
		int hi = hexval(tok[i]), lo = hexval(tok[i + 1]);
		if (hi < 0 || lo < 0)
			return perr(p, "payload is not lowercase hex (or '-' when empty)");
		dst[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	ev->payload_len = hl / 2;
	nl->payload_size += hl / 2;
	return 0;
}

static int parse_vc(struct parser *p, struct strata_bcast_node_log *nl, struct node_build *nb,
		    uint32_t n, char *tok, struct strata_bcast_event *ev)
{
	if (strncmp(tok, "vc=", 3) != 0)
		return perr(p, "unexpected field '%.40s' (only vc=... may follow the payload)", tok);
	int rc = grow((void **)&nl->vc, &nb->vc_cap, nl->vc_count + n, sizeof(uint64_t),
		      (size_t)STRATA_BCAST_EVENTS_MAX * STRATA_BCAST_MAX_NODES);
	if (rc != 0)
		return perr(p, "out of memory"), STRATA_ENOMEM;
	char *s = tok + 3;
	for (uint32_t i = 0; i < n; i++) {
		char *comma = strchr(s, ',');
		if (comma != NULL && i + 1 == n)
			return perr(p, "vc has more than n = %u entries", n);
		if (comma == NULL && i + 1 < n)
			return perr(p, "vc has %u entries, n = %u", i + 1, n);
		if (comma != NULL)
			*comma = '\0';
		if (!parse_u64(s, &nl->vc[nl->vc_count + i]))
			return perr(p, "vc entry %u is not a number", i + 1);
		s = comma ? comma + 1 : s;
	}
	ev->vc_off = nl->vc_count;
	nl->vc_count += n;
	return 0;
}

static int parse_header(struct parser *p, uint32_t id, struct strata_bcast_logs *logs)
{
	char *tok[MAX_TOKENS];
	int rc = read_line(p);
	if (rc == 0)
		return perr(p, "empty file: expected '# node %u n <N> algo <NAME>'", id);
	if (rc < 0)
		return rc;
	int nt = tokenize(p, tok);
	if (nt < 0)
		return nt;
	uint64_t hid, hn;
	if (nt != 7 || strcmp(tok[0], "#") || strcmp(tok[1], "node") || strcmp(tok[3], "n") ||
	    strcmp(tok[5], "algo") || !parse_u64(tok[2], &hid) || !parse_u64(tok[4], &hn))
		return perr(p, "bad header: expected '# node <ID> n <N> algo <NAME>'");
	if (hn < 1 || hn > STRATA_BCAST_MAX_NODES)
		return perr(p, "n = %llu out of range 1..%u", (unsigned long long)hn,
			    STRATA_BCAST_MAX_NODES);
	if (hid != id)
		return perr(p, "header says node %llu but the file is for node %u",
			    (unsigned long long)hid, id);
	if (id > hn)
		return perr(p, "node %u out of range 1..n = %llu", id, (unsigned long long)hn);
	if (!algo_name_ok(tok[6]))
		return perr(p, "bad algorithm name '%.40s'", tok[6]);
	if (logs->n == 0) {
		logs->n = (uint32_t)hn;
		snprintf(logs->algo, sizeof logs->algo, "%s", tok[6]);
	} else if (logs->n != hn) {
		return perr(p, "n = %llu, but other logs of this run say n = %u",
			    (unsigned long long)hn, logs->n);
	} else if (strcmp(logs->algo, tok[6]) != 0) {
		return perr(p, "algo %s, but other logs of this run say %s", tok[6], logs->algo);
	}
	return 0;
}

static int parse_event(struct parser *p, uint32_t id, uint32_t n, struct strata_bcast_node_log *nl,
		       struct node_build *nb, char **tok, int nt)
{
	int rc = grow((void **)&nl->ev, &nb->ev_cap, nl->nev + 1, sizeof *nl->ev,
		      STRATA_BCAST_EVENTS_MAX);
	if (rc == STRATA_ETOOBIG)
		return perr(p, "more than %u events in one log", STRATA_BCAST_EVENTS_MAX);
	if (rc != 0)
		return perr(p, "out of memory"), STRATA_ENOMEM;
	struct strata_bcast_event *ev = &nl->ev[nl->nev];
	memset(ev, 0, sizeof *ev);
	ev->line = p->lineno;
	ev->vc_off = SIZE_MAX;
	if (nl->crash_marker && strcmp(tok[0], "i") != 0)
		return perr(p, "event after the crash marker (only an incarnation line may follow)");
	if (strcmp(tok[0], "crash") == 0) {
		if (nt != 1)
			return perr(p, "crash takes no fields");
		ev->kind = STRATA_BCAST_EV_CRASH;
		/* The crash happened after the node's last event: give it that event's time, so
		 * the happened-before walk does not hoist it above earlier events elsewhere. */
		ev->lamport = nl->nev > 0 ? nl->ev[nl->nev - 1].lamport : 0;
		nl->crash_marker = true;
		nl->nev++;
		return 0;
	}
	int f = 1; /* next field */
	uint64_t v;
	if (strcmp(tok[0], "i") == 0) {
		if (nt != 2 || !parse_u64(tok[1], &v))
			return perr(p, "expected 'i <incarnation>'");
		if (nb->have_inc && v <= nb->last_inc)
			return perr(p, "incarnation %llu after incarnation %llu (they must grow)",
				    (unsigned long long)v, (unsigned long long)nb->last_inc);
		ev->kind = STRATA_BCAST_EV_INCARNATION;
		ev->sender = id;
		ev->seq = v;
		ev->lamport = nl->nev > 0 ? nl->ev[nl->nev - 1].lamport : 0;
		nb->have_inc = true;
		nb->last_inc = v;
		nb->restarted = true;
		nl->nincarnations++;
		nl->crash_marker = false; /* crashed, then recovered */
		nl->nev++;
		return 0;
	}
	if (strcmp(tok[0], "b") == 0) {
		ev->kind = STRATA_BCAST_EV_BROADCAST;
		ev->sender = id;
		if (nt < 4 || nt > 5)
			return perr(p, "expected 'b <seq> <lamport> <payload-hex> [vc=...]'");
	} else if (strcmp(tok[0], "d") == 0) {
		ev->kind = STRATA_BCAST_EV_DELIVER;
		if (nt < 5 || nt > 6)
			return perr(p, "expected 'd <sender> <seq> <lamport> <payload-hex> [vc=...]'");
		if (!parse_u64(tok[f++], &v) || v < 1 || v > n)
			return perr(p, "sender '%.20s' is not a node id in 1..%u", tok[1], n);
		ev->sender = (uint32_t)v;
	} else {
		return perr(p, "unknown event '%.20s' (expected b, d or crash)", tok[0]);
	}
	if (!parse_u64(tok[f], &ev->seq) || ev->seq < 1 || ev->seq > STRATA_BCAST_SEQ_MAX)
		return perr(p, "seq '%.24s' is not a number in 1..%u", tok[f], STRATA_BCAST_SEQ_MAX);
	f++;
	if (!parse_u64(tok[f], &ev->lamport))
		return perr(p, "lamport '%.24s' is not a number", tok[f]);
	f++;
	rc = parse_payload(p, nl, nb, tok[f++], ev);
	if (rc != 0)
		return rc;
	if (f < nt && (rc = parse_vc(p, nl, nb, n, tok[f], ev)) != 0)
		return rc;
	if (ev->kind == STRATA_BCAST_EV_BROADCAST) {
		if (nb->restarted && ev->seq <= nl->nbcast)
			return perr(p, "broadcast seq %llu after a restart, but seq %llu was recorded "
				    "already (a number may not be reused)",
				    (unsigned long long)ev->seq, (unsigned long long)nl->nbcast);
		if (!nb->restarted && ev->seq != nl->nbcast + 1)
			return perr(p, "broadcast seq %llu, expected %llu (a node numbers its "
				    "broadcasts 1, 2, 3, ...; only the first after an 'i' line may "
				    "skip)",
				    (unsigned long long)ev->seq, (unsigned long long)nl->nbcast + 1);
		nl->nunrecorded += ev->seq - nl->nbcast - 1;
		nl->nbcast = ev->seq;
		nb->restarted = false;
	} else {
		nl->ndeliver++;
	}
	nl->nev++;
	return 0;
}

static int parse_file(struct parser *p, uint32_t id, struct strata_bcast_logs *logs)
{
	struct strata_bcast_node_log *nl = &logs->node[id];
	struct node_build nb = {0};
	int rc = parse_header(p, id, logs);
	if (rc != 0)
		return rc;
	char *tok[MAX_TOKENS];
	while ((rc = read_line(p)) == 1) {
		if (p->buf[0] == '#')
			continue;
		int nt = tokenize(p, tok);
		if (nt < 0)
			return nt;
		rc = parse_event(p, id, logs->n, nl, &nb, tok, nt);
		if (rc != 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (nl->nbcast > 0) {
		/* Skipped numbers are bounded too: the seqs themselves are bounded by the events. */
		if (nl->nunrecorded > STRATA_BCAST_EVENTS_MAX)
			return perr(p, "more than %u broadcast numbers skipped at restarts",
				    STRATA_BCAST_EVENTS_MAX);
		nl->bcast_idx = malloc((size_t)nl->nbcast * sizeof *nl->bcast_idx);
		if (nl->bcast_idx == NULL)
			return perr(p, "out of memory"), STRATA_ENOMEM;
		for (uint64_t k = 0; k < nl->nbcast; k++)
			nl->bcast_idx[k] = STRATA_BCAST_UNRECORDED;
		for (size_t i = 0; i < nl->nev; i++)
			if (nl->ev[i].kind == STRATA_BCAST_EV_BROADCAST)
				nl->bcast_idx[nl->ev[i].seq - 1] = i;
	}
	nl->present = true;
	return 0;
}

/* Parses one existing node log (for appending to it). */
static int parse_existing(const char *path, uint32_t node, struct strata_bcast_logs *logs,
			  char *err, size_t errlen)
{
	char *buf = malloc(LINE_MAX_BYTES + 1);
	if (buf == NULL) {
		say(err, errlen, "out of memory");
		return STRATA_ENOMEM;
	}
	struct parser p = {.path = path, .buf = buf, .err = err, .errlen = errlen};
	p.f = fopen(path, "r");
	int rc;
	if (p.f == NULL) {
		say(err, errlen, "%s: %s", path, strerror(errno));
		rc = STRATA_EIO;
	} else {
		rc = parse_file(&p, node, logs);
		fclose(p.f);
	}
	free(buf);
	return rc;
}

/* Recognises node-<ID>.log. Returns 1 with *id set, 0 for an unrelated name, or -1 for a name
 * that looks like a node log but is not canonical (node-01.log, node-0.log, node-99.log). */
static int node_file_id(const char *name, uint32_t *id)
{
	if (strncmp(name, "node-", 5) != 0)
		return 0;
	const char *d = name + 5;
	size_t nd = strspn(d, "0123456789");
	if (nd == 0 || strcmp(d + nd, ".log") != 0)
		return 0;
	if (nd > 3 || d[0] == '0')
		return -1;
	uint32_t v = 0;
	for (size_t i = 0; i < nd; i++)
		v = v * 10 + (uint32_t)(d[i] - '0');
	if (v < 1 || v > STRATA_BCAST_MAX_NODES)
		return -1;
	*id = v;
	return 1;
}

static void node_log_free(struct strata_bcast_node_log *nl)
{
	free(nl->path);
	free(nl->ev);
	free(nl->bcast_idx);
	free(nl->payload);
	free(nl->vc);
	memset(nl, 0, sizeof *nl);
}

void strata_bcast_logs_free(struct strata_bcast_logs *logs)
{
	if (logs == NULL)
		return;
	for (uint32_t i = 0; i <= STRATA_BCAST_MAX_NODES; i++)
		node_log_free(&logs->node[i]);
	free(logs);
}

/* Finds the node files of dir, in id order. */
static int scan_dir(const char *dir, bool *have, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		say(err, errlen, "%s: %s", dir, strerror(errno));
		return STRATA_EIO;
	}
	int rc = 0, found = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint32_t id;
		int r = node_file_id(de->d_name, &id);
		if (r < 0) {
			say(err, errlen, "%s/%s: not a node log name (node-<ID>.log, ID in 1..%u, "
				"no leading zero)", dir, de->d_name, STRATA_BCAST_MAX_NODES);
			rc = STRATA_EINVAL;
			break;
		}
		if (r == 1) {
			have[id] = true;
			found++;
		}
	}
	closedir(d);
	if (rc == 0 && found == 0) {
		say(err, errlen, "%s: no node-<ID>.log files", dir);
		rc = STRATA_ENOENT;
	}
	return rc;
}

int strata_bcast_logs_load(const char *dir, struct strata_bcast_logs **out, char *err,
			   size_t errlen)
{
	STRATA_ASSERT(dir != NULL && out != NULL);
	*out = NULL;
	bool have[STRATA_BCAST_MAX_NODES + 1] = {false};
	int rc = scan_dir(dir, have, err, errlen);
	if (rc != 0)
		return rc;
	struct strata_bcast_logs *logs = calloc(1, sizeof *logs);
	char *buf = malloc(LINE_MAX_BYTES + 1);
	if (logs == NULL || buf == NULL) {
		free(logs);
		free(buf);
		say(err, errlen, "out of memory");
		return STRATA_ENOMEM;
	}
	for (uint32_t id = 1; id <= STRATA_BCAST_MAX_NODES && rc == 0; id++) {
		if (!have[id])
			continue;
		struct strata_bcast_node_log *nl = &logs->node[id];
		size_t plen = strlen(dir) + 32;
		nl->path = malloc(plen);
		if (nl->path == NULL) {
			say(err, errlen, "out of memory");
			rc = STRATA_ENOMEM;
			break;
		}
		snprintf(nl->path, plen, "%s/node-%u.log", dir, id);
		struct parser p = {.path = nl->path, .buf = buf, .err = err, .errlen = errlen};
		p.f = fopen(nl->path, "r");
		if (p.f == NULL) {
			say(err, errlen, "%s: %s", nl->path, strerror(errno));
			rc = STRATA_EIO;
			break;
		}
		rc = parse_file(&p, id, logs);
		fclose(p.f);
	}
	/* A file for node 7 in a run of 5 is only detectable once n is known. */
	for (uint32_t id = logs->n + 1; rc == 0 && id <= STRATA_BCAST_MAX_NODES; id++) {
		if (have[id]) {
			say(err, errlen, "%s/node-%u.log: node %u out of range 1..n = %u", dir, id, id,
			    logs->n);
			rc = STRATA_EPROTO;
		}
	}
	free(buf);
	if (rc != 0) {
		strata_bcast_logs_free(logs);
		return rc;
	}
	*out = logs;
	return 0;
}

/* ======================================================================================== */
/* Happened-before walk                                                                     */
/* ======================================================================================== */

/* A delivery waits while its broadcast is in a present log and not yet visited. */
static bool waits(const struct strata_bcast_logs *logs, const struct strata_bcast_event *e,
		  const uint64_t *bdone)
{
	if (e->kind != STRATA_BCAST_EV_DELIVER)
		return false;
	const struct strata_bcast_node_log *sl = &logs->node[e->sender];
	return strata_bcast_recorded(sl, e->seq) && bdone[e->sender] < e->seq;
}

int strata_bcast_walk(const struct strata_bcast_logs *logs,
		      int (*visit)(void *ctx, uint32_t node, size_t idx, bool cyclic), void *ctx)
{
	STRATA_ASSERT(logs != NULL && visit != NULL && logs->n <= STRATA_BCAST_MAX_NODES);
	size_t pos[STRATA_BCAST_MAX_NODES + 1] = {0};
	uint64_t bdone[STRATA_BCAST_MAX_NODES + 1] = {0};
	for (;;) {
		uint32_t best = 0, blocked = 0;
		uint64_t best_lamport = 0;
		for (uint32_t p = 1; p <= logs->n; p++) {
			const struct strata_bcast_node_log *nl = &logs->node[p];
			if (!nl->present || pos[p] == nl->nev)
				continue;
			const struct strata_bcast_event *e = &nl->ev[pos[p]];
			if (waits(logs, e, bdone)) {
				if (blocked == 0)
					blocked = p;
			} else if (best == 0 || e->lamport < best_lamport) {
				best = p;
				best_lamport = e->lamport;
			}
		}
		bool cyclic = false;
		if (best == 0 && blocked == 0)
			return 0;
		if (best == 0) {
			best = blocked;
			cyclic = true;
		}
		size_t idx = pos[best]++;
		const struct strata_bcast_event *e = &logs->node[best].ev[idx];
		if (e->kind == STRATA_BCAST_EV_BROADCAST)
			bdone[best] = e->seq;
		int rc = visit(ctx, best, idx, cyclic);
		if (rc != 0)
			return rc;
	}
}

/* ======================================================================================== */
/* Checkers                                                                                 */
/* ======================================================================================== */

static const char *const prop_names[] = {
	[STRATA_BCAST_VALIDITY] = "validity", [STRATA_BCAST_NO_DUP] = "no-dup",
	[STRATA_BCAST_NO_CREATION] = "no-creation", [STRATA_BCAST_AGREEMENT] = "agreement",
	[STRATA_BCAST_UNIFORM] = "uniform", [STRATA_BCAST_FIFO] = "fifo",
	[STRATA_BCAST_CAUSAL] = "causal", [STRATA_BCAST_CONSISTENCY] = "consistency",
	[STRATA_BCAST_TOTAL_ORDER] = "total-order",
};

int strata_bcast_property_parse(const char *name, enum strata_bcast_property *out)
{
	STRATA_ASSERT(name != NULL && out != NULL);
	for (size_t i = 1; i < STRATA_ARRAY_LEN(prop_names); i++) {
		if (strcmp(name, prop_names[i]) == 0) {
			*out = (enum strata_bcast_property)i;
			return 0;
		}
	}
	return STRATA_EINVAL;
}

const char *strata_bcast_property_name(enum strata_bcast_property p)
{
	if ((size_t)p < 1 || (size_t)p >= STRATA_ARRAY_LEN(prop_names))
		return "?";
	return prop_names[p];
}

int strata_bcast_parse_ids(const char *s, uint32_t *ids, size_t max, size_t *count)
{
	STRATA_ASSERT(s != NULL && count != NULL && (ids != NULL || max == 0));
	*count = 0;
	if (*s == '\0')
		return 0;
	for (;;) {
		uint64_t v = 0;
		size_t nd = 0;
		while (s[nd] >= '0' && s[nd] <= '9') {
			v = v * 10 + (uint64_t)(s[nd] - '0');
			if (v > UINT32_MAX)
				return STRATA_EINVAL;
			nd++;
		}
		if (nd == 0 || v == 0 || (s[nd] != ',' && s[nd] != '\0'))
			return STRATA_EINVAL;
		if (*count == max)
			return STRATA_ETOOBIG;
		ids[(*count)++] = (uint32_t)v;
		if (s[nd] == '\0')
			return 0;
		s += nd + 1;
	}
}

/* Deliveries keyed (node, sender, seq) -> index of the node's first delivery of it. Open
 * addressing with linear probing; key 0 is free (node ids start at 1). */
struct dtab {
	uint64_t *keys;
	uint32_t *vals;
	size_t mask;
};

#define DT_NONE UINT32_MAX

static uint64_t dt_key(uint32_t p, uint32_t s, uint64_t seq)
{
	return (uint64_t)p << 48 | (uint64_t)s << 40 | seq;
}

static size_t dt_hash(uint64_t k)
{
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return (size_t)k;
}

static uint32_t dt_get(const struct dtab *t, uint32_t p, uint32_t s, uint64_t seq)
{
	uint64_t k = dt_key(p, s, seq);
	for (size_t i = dt_hash(k) & t->mask;; i = (i + 1) & t->mask) {
		if (t->keys[i] == k)
			return t->vals[i];
		if (t->keys[i] == 0)
			return DT_NONE;
	}
}

static void dt_put_first(struct dtab *t, uint32_t p, uint32_t s, uint64_t seq, uint32_t idx)
{
	uint64_t k = dt_key(p, s, seq);
	size_t i = dt_hash(k) & t->mask;
	while (t->keys[i] != 0 && t->keys[i] != k)
		i = (i + 1) & t->mask;
	if (t->keys[i] == 0) {
		t->keys[i] = k;
		t->vals[i] = idx;
	}
}

static int dt_build(struct dtab *t, const struct strata_bcast_logs *logs)
{
	size_t total = 0;
	for (uint32_t p = 1; p <= logs->n; p++)
		total += logs->node[p].ndeliver;
	size_t cap = 16;
	while (cap < total * 2)
		cap *= 2;
	t->keys = calloc(cap, sizeof *t->keys);
	t->vals = malloc(cap * sizeof *t->vals);
	t->mask = cap - 1;
	if (t->keys == NULL || t->vals == NULL)
		return STRATA_ENOMEM;
	for (uint32_t p = 1; p <= logs->n; p++) {
		const struct strata_bcast_node_log *nl = &logs->node[p];
		for (size_t i = 0; i < nl->nev; i++) {
			const struct strata_bcast_event *e = &nl->ev[i];
			if (e->kind == STRATA_BCAST_EV_DELIVER)
				dt_put_first(t, p, e->sender, e->seq, (uint32_t)i);
		}
	}
	return 0;
}

static void dt_free(struct dtab *t)
{
	free(t->keys);
	free(t->vals);
}

struct check {
	const struct strata_bcast_logs *logs;
	uint32_t n;
	bool crashed[STRATA_BCAST_MAX_NODES + 1];
	bool byz[STRATA_BCAST_MAX_NODES + 1];
	struct dtab dt;
	char *report;
	size_t rn;
};

static bool correct(const struct check *c, uint32_t p)
{
	return !c->crashed[p] && !c->byz[p];
}

/* Whether p's log is evidence: a Byzantine node's log may say anything. */
static bool honest(const struct check *c, uint32_t p)
{
	return !c->byz[p];
}

static const struct strata_bcast_node_log *nlog(const struct check *c, uint32_t p)
{
	return &c->logs->node[p];
}

static bool is_first_delivery(const struct check *c, uint32_t p, size_t i)
{
	const struct strata_bcast_event *e = &nlog(c, p)->ev[i];
	return e->kind == STRATA_BCAST_EV_DELIVER && dt_get(&c->dt, p, e->sender, e->seq) == i;
}

static int check_validity(struct check *c)
{
	uint64_t count = 0;
	for (uint32_t s = 1; s <= c->n; s++) {
		const struct strata_bcast_node_log *sl = nlog(c, s);
		if (!correct(c, s))
			continue;
		for (uint64_t k = 1; k <= sl->nbcast; k++) {
			if (!strata_bcast_recorded(sl, k))
				continue; /* skipped at a restart: nobody knows it was broadcast */
			for (uint32_t p = 1; p <= c->n; p++) {
				if (correct(c, p) && dt_get(&c->dt, p, s, k) == DT_NONE) {
					say(c->report, c->rn,
					    "validity violated: node %u never delivered %u:%llu, which "
					    "correct node %u broadcast at line %u",
					    p, s, (unsigned long long)k, s,
					    sl->ev[sl->bcast_idx[k - 1]].line);
					return STRATA_BCAST_VIOLATED;
				}
			}
			count++;
		}
	}
	say(c->report, c->rn,
	    "validity holds: all %llu broadcasts of correct nodes were delivered by every correct "
	    "node", (unsigned long long)count);
	uint64_t skipped = 0;
	for (uint32_t s = 1; s <= c->n; s++)
		if (correct(c, s))
			skipped += nlog(c, s)->nunrecorded;
	if (skipped > 0)
		say_more(c->report, c->rn, " (%llu numbers skipped at restarts, not recorded)",
			 (unsigned long long)skipped);
	return STRATA_BCAST_HOLDS;
}

static int check_no_dup(struct check *c)
{
	uint64_t count = 0;
	for (uint32_t p = 1; p <= c->n; p++) {
		const struct strata_bcast_node_log *nl = nlog(c, p);
		if (!honest(c, p))
			continue;
		for (size_t i = 0; i < nl->nev; i++) {
			const struct strata_bcast_event *e = &nl->ev[i];
			if (e->kind != STRATA_BCAST_EV_DELIVER)
				continue;
			uint32_t first = dt_get(&c->dt, p, e->sender, e->seq);
			if (first != i) {
				say(c->report, c->rn,
				    "no-dup violated: node %u delivered %u:%llu twice (lines %u and %u)",
				    p, e->sender, (unsigned long long)e->seq, nl->ev[first].line,
				    e->line);
				return STRATA_BCAST_VIOLATED;
			}
			count++;
		}
	}
	say(c->report, c->rn, "no-dup holds: %llu deliveries, none repeated",
	    (unsigned long long)count);
	return STRATA_BCAST_HOLDS;
}

/* Formats up to 16 payload bytes as hex for a message. */
static void payload_hex(char *out, size_t outlen, const uint8_t *b, size_t len)
{
	STRATA_ASSERT(outlen >= 40);
	if (len == 0) {
		snprintf(out, outlen, "(empty)");
		return;
	}
	size_t shown = len < 16 ? len : 16, o = 0;
	for (size_t i = 0; i < shown; i++) {
		out[o++] = hexdigits[b[i] >> 4];
		out[o++] = hexdigits[b[i] & 15];
	}
	snprintf(out + o, outlen - o, "%s", len > shown ? "..." : "");
}

static bool same_payload(const struct strata_bcast_node_log *a,
			 const struct strata_bcast_event *ea, const struct strata_bcast_node_log *b,
			 const struct strata_bcast_event *eb)
{
	return ea->payload_len == eb->payload_len &&
	       (ea->payload_len == 0 || memcmp(strata_bcast_event_payload(a, ea),
					       strata_bcast_event_payload(b, eb), ea->payload_len) == 0);
}

/* "node q delivered s:k with payload X at line L, but <who> delivered it with payload Y at
 * line M": the common words of agreement, uniform and consistency about two payloads. */
static int payload_conflict(struct check *c, const char *prop, uint32_t q, size_t qi,
			    const char *who, uint32_t p, size_t pi)
{
	const struct strata_bcast_node_log *ql = nlog(c, q), *pl = nlog(c, p);
	const struct strata_bcast_event *qe = &ql->ev[qi], *pe = &pl->ev[pi];
	char qh[48], ph[48];
	payload_hex(qh, sizeof qh, strata_bcast_event_payload(ql, qe), qe->payload_len);
	payload_hex(ph, sizeof ph, strata_bcast_event_payload(pl, pe), pe->payload_len);
	if (p == q)
		say(c->report, c->rn,
		    "%s violated: node %u delivered %u:%llu with payload %s at line %u, after "
		    "delivering it with payload %s at line %u",
		    prop, q, qe->sender, (unsigned long long)qe->seq, qh, qe->line, ph, pe->line);
	else
		say(c->report, c->rn,
		    "%s violated: node %u delivered %u:%llu with payload %s at line %u, but %snode %u "
		    "delivered it with payload %s at line %u",
		    prop, q, qe->sender, (unsigned long long)qe->seq, qh, qe->line, who, p, ph,
		    pe->line);
	return STRATA_BCAST_VIOLATED;
}

static int creation_one(struct check *c, uint32_t p, const struct strata_bcast_event *e, size_t i)
{
	const struct strata_bcast_node_log *sl = nlog(c, e->sender);
	unsigned long long k = (unsigned long long)e->seq;
	if (e->seq > sl->nbcast) {
		say(c->report, c->rn,
		    "no-creation violated: node %u delivered %u:%llu at line %u, but node %u never "
		    "broadcast it (it broadcast %llu messages)",
		    p, e->sender, k, e->line, e->sender, (unsigned long long)sl->nbcast);
		return STRATA_BCAST_VIOLATED;
	}
	if (!strata_bcast_recorded(sl, e->seq))
		return STRATA_BCAST_HOLDS; /* counted by the caller as unrecorded */
	size_t bi = sl->bcast_idx[e->seq - 1];
	const struct strata_bcast_event *b = &sl->ev[bi];
	const uint8_t *dp = strata_bcast_event_payload(nlog(c, p), e);
	const uint8_t *bp = strata_bcast_event_payload(sl, b);
	if (!same_payload(nlog(c, p), e, sl, b)) {
		char dh[48], bh[48];
		payload_hex(dh, sizeof dh, dp, e->payload_len);
		payload_hex(bh, sizeof bh, bp, b->payload_len);
		say(c->report, c->rn,
		    "no-creation violated: node %u delivered %u:%llu with payload %s at line %u, but "
		    "node %u broadcast it with payload %s at line %u",
		    p, e->sender, k, dh, e->line, e->sender, bh, b->line);
		return STRATA_BCAST_VIOLATED;
	}
	if (e->sender == p && bi > i) {
		say(c->report, c->rn,
		    "no-creation violated: node %u delivered its own %u:%llu at line %u before "
		    "broadcasting it at line %u",
		    p, p, k, e->line, b->line);
		return STRATA_BCAST_VIOLATED;
	}
	return STRATA_BCAST_HOLDS;
}

/* No creation. With Byzantine nodes this is the book's integrity of Byzantine broadcasts: a
 * delivery by a Byzantine node proves nothing, and a Byzantine sender's log cannot say what it
 * sent (it may have sent m to some and m' to others), so only deliveries by honest nodes from
 * honest senders are judged; consistency is the property that covers Byzantine senders. */
static int check_no_creation(struct check *c)
{
	uint64_t count = 0, unchecked = 0, byz_skipped = 0, unrecorded = 0;
	bool nolog[STRATA_BCAST_MAX_NODES + 1] = {false};
	for (uint32_t p = 1; p <= c->n; p++) {
		const struct strata_bcast_node_log *nl = nlog(c, p);
		for (size_t i = 0; i < nl->nev; i++) {
			const struct strata_bcast_event *e = &nl->ev[i];
			if (e->kind != STRATA_BCAST_EV_DELIVER)
				continue;
			if (!honest(c, p) || !honest(c, e->sender)) {
				byz_skipped++;
				continue;
			}
			if (!nlog(c, e->sender)->present) {
				nolog[e->sender] = true;
				unchecked++;
				continue;
			}
			const struct strata_bcast_node_log *sl = nlog(c, e->sender);
			if (e->seq <= sl->nbcast && !strata_bcast_recorded(sl, e->seq)) {
				unrecorded++;
				continue;
			}
			if (creation_one(c, p, e, i) != STRATA_BCAST_HOLDS)
				return STRATA_BCAST_VIOLATED;
			count++;
		}
	}
	say(c->report, c->rn, "no-creation holds: %llu deliveries match a broadcast by their sender",
	    (unsigned long long)count);
	if (unchecked > 0) {
		say_more(c->report, c->rn, "; %llu deliveries not checked because the sender's log is "
			 "missing (node", (unsigned long long)unchecked);
		for (uint32_t s = 1; s <= c->n; s++)
			if (nolog[s])
				say_more(c->report, c->rn, " %u", s);
		say_more(c->report, c->rn, ")");
	}
	if (byz_skipped > 0)
		say_more(c->report, c->rn, "; %llu deliveries by or from Byzantine nodes not judged",
			 (unsigned long long)byz_skipped);
	if (unrecorded > 0)
		say_more(c->report, c->rn, "; %llu deliveries of broadcasts their sender did not "
			 "record before a crash not judged", (unsigned long long)unrecorded);
	return STRATA_BCAST_HOLDS;
}

/* Agreement (from_any = false) and uniform agreement (from_any = true). "Delivered m" means the
 * same sender:seq with the same payload: a correct node that delivers m' for s:k while another
 * delivered m did not deliver m. A node's first delivery of s:k is the one compared; later ones
 * are no-dup's and consistency's business. Byzantine deliveries oblige nobody. */
static int check_agreement(struct check *c, bool from_any)
{
	const char *name = from_any ? "uniform" : "agreement";
	uint64_t count = 0;
	for (uint32_t p = 1; p <= c->n; p++) {
		const struct strata_bcast_node_log *nl = nlog(c, p);
		if (from_any ? !honest(c, p) : !correct(c, p))
			continue;
		for (size_t i = 0; i < nl->nev; i++) {
			if (!is_first_delivery(c, p, i))
				continue;
			const struct strata_bcast_event *e = &nl->ev[i];
			for (uint32_t q = 1; q <= c->n; q++) {
				if (!correct(c, q))
					continue;
				uint32_t qi = dt_get(&c->dt, q, e->sender, e->seq);
				if (qi != DT_NONE) {
					if (same_payload(nlog(c, q), &nlog(c, q)->ev[qi], nl, e))
						continue;
					return payload_conflict(c, name, q, qi,
								correct(c, p) ? "correct "
									      : "crashed ",
								p, i);
				}
				say(c->report, c->rn,
				    "%s violated: node %u never delivered %u:%llu, which %s node %u "
				    "delivered at line %u",
				    name, q, e->sender, (unsigned long long)e->seq,
				    correct(c, p) ? "correct" : "crashed", p, e->line);
				return STRATA_BCAST_VIOLATED;
			}
			count++;
		}
	}
	say(c->report, c->rn, "%s holds: every correct node delivered what %s delivered (%llu "
	    "deliveries checked)", name, from_any ? "any node" : "any correct node",
	    (unsigned long long)count);
	return STRATA_BCAST_HOLDS;
}

/* FIFO delivery as the book states it: if a sender broadcasts m1 before m2, nobody delivers m2
 * unless it already delivered m1. Since a sender numbers its broadcasts 1, 2, 3, ..., a node's
 * deliveries from one sender must read 1, 2, 3, ... (repeats are no-dup's business). */
static int check_fifo(struct check *c)
{
	uint64_t count = 0;
	uint64_t next[STRATA_BCAST_MAX_NODES + 1];
	for (uint32_t p = 1; p <= c->n; p++) {
		const struct strata_bcast_node_log *nl = nlog(c, p);
		if (!honest(c, p))
			continue;
		for (uint32_t s = 0; s <= STRATA_BCAST_MAX_NODES; s++)
			next[s] = 1;
		for (size_t i = 0; i < nl->nev; i++) {
			const struct strata_bcast_event *e = &nl->ev[i];
			if (e->kind != STRATA_BCAST_EV_DELIVER || e->seq < next[e->sender])
				continue;
			if (e->seq == next[e->sender]) {
				next[e->sender]++;
				count++;
				continue;
			}
			uint64_t j = next[e->sender];
			uint32_t later = dt_get(&c->dt, p, e->sender, j);
			if (later != DT_NONE)
				say(c->report, c->rn,
				    "fifo violated: node %u delivered %u:%llu at line %u before %u:%llu "
				    "at line %u",
				    p, e->sender, (unsigned long long)e->seq, e->line, e->sender,
				    (unsigned long long)j, nl->ev[later].line);
			else
				say(c->report, c->rn,
				    "fifo violated: node %u delivered %u:%llu at line %u but never "
				    "delivered %u:%llu",
				    p, e->sender, (unsigned long long)e->seq, e->line, e->sender,
				    (unsigned long long)j);
			return STRATA_BCAST_VIOLATED;
		}
	}
	say(c->report, c->rn, "fifo holds: %llu deliveries in sender order", (unsigned long long)count);
	return STRATA_BCAST_HOLDS;
}

/* Causal delivery. The walk visits events in happened-before order; per node p it keeps
 * V[p][q] = how many of q's broadcasts happened before p's current point (a prefix, since q
 * numbers its broadcasts in program order), and per broadcast m the vector C[m] of its causal
 * past. When p delivers m = s:k, every q:j with j <= C[m][q] (and s:j, j < k) must already have
 * been delivered by p; pref[p][q] tracks the longest prefix q:1..pref that p delivered so far. */
struct causal {
	struct check *c;
	size_t w;          /* row width: n + 1 */
	uint32_t *V, *pref;
	uint32_t **C;      /* C[s] = nbcast[s] rows */
	uint64_t checked;
};

static int causal_violation(struct causal *cs, uint32_t p, const struct strata_bcast_event *e,
			    uint32_t q, uint64_t j)
{
	struct check *c = cs->c;
	uint32_t later = dt_get(&c->dt, p, q, j);
	char where[48] = "";
	if (later != DT_NONE)
		snprintf(where, sizeof where, " at line %u", nlog(c, p)->ev[later].line);
	say(c->report, c->rn,
	    "causal violated: node %u delivered %u:%llu at line %u %s %u:%llu%s, but "
	    "broadcast(%u:%llu) happened before broadcast(%u:%llu)",
	    p, e->sender, (unsigned long long)e->seq, e->line,
	    later != DT_NONE ? "before" : "and never delivered", q, (unsigned long long)j, where, q,
	    (unsigned long long)j, e->sender, (unsigned long long)e->seq);
	return STRATA_BCAST_VIOLATED;
}

static int causal_deliver(struct causal *cs, uint32_t p, size_t i,
			  const struct strata_bcast_event *e)
{
	struct check *c = cs->c;
	uint32_t s = e->sender, k = (uint32_t)e->seq;
	const struct strata_bcast_node_log *sl = nlog(c, s);
	const uint32_t *cm = strata_bcast_recorded(sl, e->seq) ? cs->C[s] + (k - 1) * cs->w : NULL;
	uint32_t *V = cs->V + p * cs->w, *pref = cs->pref + p * cs->w;
	/* A Byzantine node's claimed deliveries are neither judged nor put into the causal past
	 * of its later broadcasts: it could invent dependencies to frame the correct nodes. */
	if (!honest(c, p))
		return 0;
	if (is_first_delivery(c, p, i)) {
		for (uint32_t q = 1; q <= c->n; q++) {
			uint32_t need = cm ? cm[q] : 0;
			if (q == s && need < k - 1)
				need = k - 1;
			while (pref[q] < need) {
				uint32_t at = dt_get(&c->dt, p, q, (uint64_t)pref[q] + 1);
				if (at == DT_NONE || at >= i)
					break;
				pref[q]++;
			}
			if (pref[q] < need)
				return causal_violation(cs, p, e, q, (uint64_t)pref[q] + 1);
		}
		cs->checked++;
	}
	for (uint32_t q = 1; q <= c->n; q++)
		if (cm && cm[q] > V[q])
			V[q] = cm[q];
	if (V[s] < k)
		V[s] = k;
	return 0;
}

static int causal_visit(void *ctx, uint32_t p, size_t i, bool cyclic)
{
	struct causal *cs = ctx;
	struct check *c = cs->c;
	const struct strata_bcast_event *e = &nlog(c, p)->ev[i];
	if (cyclic && !honest(c, p))
		return 0; /* a Byzantine log may claim anything, even a delivery before its broadcast */
	if (cyclic) {
		const struct strata_bcast_node_log *sl = nlog(c, e->sender);
		say(c->report, c->rn,
		    "causal violated: happened-before is cyclic: node %u delivered %u:%llu at line %u, "
		    "which node %u broadcast only after that delivery (line %u)",
		    p, e->sender, (unsigned long long)e->seq, e->line, e->sender,
		    sl->ev[sl->bcast_idx[e->seq - 1]].line);
		return STRATA_BCAST_VIOLATED;
	}
	if (e->kind == STRATA_BCAST_EV_BROADCAST) {
		uint32_t *V = cs->V + p * cs->w;
		uint32_t *row = cs->C[p] + (e->seq - 1) * cs->w;
		memcpy(row, V, cs->w * sizeof *row);
		row[p] = (uint32_t)e->seq - 1;
		V[p] = (uint32_t)e->seq;
		return 0;
	}
	if (e->kind == STRATA_BCAST_EV_DELIVER)
		return causal_deliver(cs, p, i, e);
	return 0;
}

static int check_causal(struct check *c)
{
	struct causal cs = {.c = c, .w = (size_t)c->n + 1};
	int rc = STRATA_ENOMEM;
	cs.V = calloc(cs.w * cs.w, sizeof *cs.V);
	cs.pref = calloc(cs.w * cs.w, sizeof *cs.pref);
	cs.C = calloc(cs.w, sizeof *cs.C);
	if (cs.V == NULL || cs.pref == NULL || cs.C == NULL)
		goto out;
	for (uint32_t s = 1; s <= c->n; s++) {
		size_t rows = (size_t)nlog(c, s)->nbcast;
		if (rows > 0 && (cs.C[s] = malloc(rows * cs.w * sizeof **cs.C)) == NULL)
			goto out;
	}
	rc = strata_bcast_walk(c->logs, causal_visit, &cs);
	if (rc == 0) {
		say(c->report, c->rn, "causal holds: %llu deliveries respect happened-before",
		    (unsigned long long)cs.checked);
		rc = STRATA_BCAST_HOLDS;
	}
out:
	if (rc == STRATA_ENOMEM)
		say(c->report, c->rn, "out of memory");
	if (cs.C != NULL)
		for (size_t s = 0; s < cs.w; s++)
			free(cs.C[s]);
	free(cs.C);
	free(cs.V);
	free(cs.pref);
	return rc;
}

/* Byzantine consistency: every delivery of s:k by a correct node carries the payload of the
 * first delivery of s:k by the lowest-numbered correct node that delivered it. This is what
 * makes a broadcast "consistent" when the sender may equivocate: it need not deliver at all
 * (that is agreement's business), but never two different messages. */
static int check_consistency(struct check *c)
{
	uint64_t messages = 0, count = 0;
	for (uint32_t p = 1; p <= c->n; p++) {
		const struct strata_bcast_node_log *nl = nlog(c, p);
		if (!correct(c, p))
			continue;
		for (size_t i = 0; i < nl->nev; i++) {
			const struct strata_bcast_event *e = &nl->ev[i];
			if (e->kind != STRATA_BCAST_EV_DELIVER)
				continue;
			uint32_t q = 1, qi = DT_NONE;
			for (; q <= p; q++)
				if (correct(c, q) &&
				    (qi = dt_get(&c->dt, q, e->sender, e->seq)) != DT_NONE)
					break;
			STRATA_ASSERT(q <= p && qi != DT_NONE); /* p itself delivered it */
			if (!same_payload(nl, e, nlog(c, q), &nlog(c, q)->ev[qi]))
				return payload_conflict(c, "consistency", p, i, "", q, qi);
			if (q == p && qi == i)
				messages++;
			count++;
		}
	}
	say(c->report, c->rn,
	    "consistency holds: %llu messages delivered by correct nodes, each with one payload "
	    "(%llu deliveries checked)",
	    (unsigned long long)messages, (unsigned long long)count);
	return STRATA_BCAST_HOLDS;
}

static int mark_ids(struct check *c, const char *what, const uint32_t *ids, size_t nids,
		    bool *set)
{
	STRATA_ASSERT(ids != NULL || nids == 0);
	for (size_t i = 0; i < nids; i++) {
		if (ids[i] < 1 || ids[i] > c->n) {
			say(c->report, c->rn, "%s node %u out of range 1..%u", what, ids[i], c->n);
			return STRATA_EINVAL;
		}
		set[ids[i]] = true;
	}
	return 0;
}

/* Total order (Module 6.1, TOB5): for every two correct nodes p and q, the messages both
 * delivered appear in the same order in both logs (first deliveries; a log's line order is its
 * delivery order). Walks p's deliveries in order and requires q's positions of them to grow. */
static int check_total_order(struct check *c)
{
	uint64_t pairs = 0;
	for (uint32_t p = 1; p <= c->n; p++) {
		const struct strata_bcast_node_log *pl = nlog(c, p);
		if (!correct(c, p) || !pl->present)
			continue;
		for (uint32_t q = p + 1; q <= c->n; q++) {
			const struct strata_bcast_node_log *ql = nlog(c, q);
			if (!correct(c, q) || !ql->present)
				continue;
			size_t prev_i = 0;
			uint32_t prev_q = DT_NONE;
			for (size_t i = 0; i < pl->nev; i++) {
				if (!is_first_delivery(c, p, i))
					continue;
				const struct strata_bcast_event *e = &pl->ev[i];
				uint32_t at = dt_get(&c->dt, q, e->sender, e->seq);
				if (at == DT_NONE)
					continue;
				if (prev_q != DT_NONE && at < prev_q) {
					const struct strata_bcast_event *f = &pl->ev[prev_i];
					say(c->report, c->rn,
					    "total-order violated: node %u delivered %u:%llu (line %u) before "
					    "%u:%llu (line %u); node %u delivered them the other way round "
					    "(lines %u and %u)",
					    p, f->sender, (unsigned long long)f->seq, f->line, e->sender,
					    (unsigned long long)e->seq, e->line, q, ql->ev[at].line,
					    ql->ev[prev_q].line);
					return STRATA_BCAST_VIOLATED;
				}
				prev_q = at;
				prev_i = i;
				pairs++;
			}
		}
	}
	say(c->report, c->rn,
	    "total-order holds: every two correct nodes delivered their common messages in the same "
	    "order (%llu common deliveries compared)", (unsigned long long)pairs);
	return STRATA_BCAST_HOLDS;
}

static int check_setup(struct check *c, enum strata_bcast_property prop,
		       const struct strata_bcast_faults *faults)
{
	const struct strata_bcast_logs *logs = c->logs;
	if (faults != NULL) {
		int rc = mark_ids(c, "crashed", faults->crashed, faults->ncrashed, c->crashed);
		if (rc == 0)
			rc = mark_ids(c, "byzantine", faults->byzantine, faults->nbyzantine, c->byz);
		if (rc != 0)
			return rc;
	}
	for (uint32_t p = 1; p <= logs->n; p++)
		if (logs->node[p].crash_marker)
			c->crashed[p] = true;
	/* These properties speak of what every correct node delivered: a correct node without a
	 * log cannot be judged, and calling that "holds" or "violated" would be a guess. */
	if (prop == STRATA_BCAST_VALIDITY || prop == STRATA_BCAST_AGREEMENT ||
	    prop == STRATA_BCAST_UNIFORM || prop == STRATA_BCAST_CONSISTENCY) {
		for (uint32_t p = 1; p <= logs->n; p++) {
			if (correct(c, p) && !logs->node[p].present) {
				say(c->report, c->rn,
				    "cannot decide %s: node %u has no log (node-%u.log) and is not "
				    "listed as crashed or Byzantine",
				    strata_bcast_property_name(prop), p, p);
				return STRATA_ENOENT;
			}
		}
	}
	if (dt_build(&c->dt, logs) != 0) {
		say(c->report, c->rn, "out of memory");
		return STRATA_ENOMEM;
	}
	return 0;
}

int strata_bcast_check_faults(const struct strata_bcast_logs *logs,
			      enum strata_bcast_property prop,
			      const struct strata_bcast_faults *faults, char *report, size_t n)
{
	STRATA_ASSERT(logs != NULL);
	STRATA_ASSERT(logs->n >= 1 && logs->n <= STRATA_BCAST_MAX_NODES);
	struct check c = {.logs = logs, .n = logs->n, .report = report, .rn = n};
	say(report, n, "%s", "");
	int rc = check_setup(&c, prop, faults);
	if (rc == 0) {
		switch (prop) {
		case STRATA_BCAST_VALIDITY: rc = check_validity(&c); break;
		case STRATA_BCAST_NO_DUP: rc = check_no_dup(&c); break;
		case STRATA_BCAST_NO_CREATION: rc = check_no_creation(&c); break;
		case STRATA_BCAST_AGREEMENT: rc = check_agreement(&c, false); break;
		case STRATA_BCAST_UNIFORM: rc = check_agreement(&c, true); break;
		case STRATA_BCAST_FIFO: rc = check_fifo(&c); break;
		case STRATA_BCAST_CAUSAL: rc = check_causal(&c); break;
		case STRATA_BCAST_CONSISTENCY: rc = check_consistency(&c); break;
		case STRATA_BCAST_TOTAL_ORDER: rc = check_total_order(&c); break;
		default:
			say(report, n, "unknown property %d", (int)prop);
			rc = STRATA_EINVAL;
		}
	}
	dt_free(&c.dt);
	return rc;
}

int strata_bcast_check(const struct strata_bcast_logs *logs, enum strata_bcast_property prop,
		       const uint32_t *crashed, size_t ncrashed, char *report, size_t n)
{
	STRATA_ASSERT(crashed != NULL || ncrashed == 0);
	struct strata_bcast_faults f = {.crashed = crashed, .ncrashed = ncrashed};
	return strata_bcast_check_faults(logs, prop, &f, report, n);
}
