/* Consensus decision logs and their offline checker; see cons_log.h. */
#include "check/cons_log.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct strata_cons_log {
	FILE *f;
	char err[256];
};

int strata_cons_log_open(const char *dir, uint32_t node, uint32_t n, const char *algo,
			 struct strata_cons_log **out, char *err, size_t errlen)
{
	*out = NULL;
	if (node < 1 || node > n || n > STRATA_CONS_MAX_NODES || !algo || !algo[0] ||
	    strlen(algo) > 31 || strpbrk(algo, " \n/")) {
		if (err)
			snprintf(err, errlen, "consensus log: bad node %u, n %u or algo", node, n);
		return STRATA_EINVAL;
	}
	struct strata_cons_log *l = calloc(1, sizeof(*l));
	char path[4096];
	snprintf(path, sizeof(path), "%s/node-%u.log", dir, node);
	if (!l || !(l->f = fopen(path, "w"))) {
		if (err)
			snprintf(err, errlen, "%s: %s", path, l ? strerror(errno) : "out of memory");
		free(l);
		return STRATA_EIO;
	}
	fprintf(l->f, "# node %u n %u algo %s\n", node, n, algo);
	fflush(l->f);
	*out = l;
	return 0;
}

static int log_line(struct strata_cons_log *l, char kind, uint64_t instance, const uint8_t *v,
		    size_t len)
{
	if (!l || !l->f)
		return STRATA_ESTATE;
	fprintf(l->f, "%c %" PRIu64 " ", kind, instance);
	if (len == 0)
		fputc('-', l->f);
	for (size_t k = 0; k < len; k++)
		fprintf(l->f, "%02x", v[k]);
	fputc('\n', l->f);
	if (fflush(l->f) != 0 || ferror(l->f)) {
		snprintf(l->err, sizeof(l->err), "write: %s", strerror(errno));
		return STRATA_EIO;
	}
	return 0;
}

int strata_cons_log_propose(struct strata_cons_log *log, uint64_t instance, const uint8_t *v,
			    size_t len)
{
	return log_line(log, 'p', instance, v, len);
}

int strata_cons_log_decide(struct strata_cons_log *log, uint64_t instance, const uint8_t *v,
			   size_t len)
{
	return log_line(log, 'd', instance, v, len);
}

int strata_cons_log_close(struct strata_cons_log *log)
{
	if (!log)
		return 0;
	int rc = log->f && fclose(log->f) != 0 ? STRATA_EIO : 0;
	free(log);
	return rc;
}

const char *strata_cons_log_error(const struct strata_cons_log *log)
{
	return log ? log->err : "";
}

/* ---- the checker ---- */

struct rec {
	uint64_t inst;
	uint32_t node, life;
	char kind;
	uint8_t *v;
	size_t len;
};

struct recs {
	struct rec *r;
	size_t n, cap;
};

static int fail(struct strata_cons_report *rep, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct strata_cons_report *rep, int rc, const char *fmt, ...)
{
	if (!rep->why[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(rep->why, sizeof(rep->why), fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse_line(struct recs *rs, const char *path, unsigned lineno, char *line,
		      uint32_t node, uint32_t life, struct strata_cons_report *rep)
{
	char kind;
	uint64_t inst;
	int off = 0;
	if (sscanf(line, "%c %" SCNu64 " %n", &kind, &inst, &off) != 2 || off == 0 ||
	    (kind != 'p' && kind != 'd') || inst == 0)
		return fail(rep, STRATA_EPROTO, "%s:%u: malformed line", path, lineno);
	const char *hex = line + off;
	size_t hl = strcspn(hex, "\n");
	size_t len = strcmp(hex, "-") == 0 || (hl == 1 && hex[0] == '-') ? 0 : hl / 2;
	if ((len && hl % 2) || len > STRATA_CONS_VALUE_MAX)
		return fail(rep, STRATA_EPROTO, "%s:%u: malformed value", path, lineno);
	uint8_t *v = len ? malloc(len) : NULL;
	if (len && !v)
		return fail(rep, STRATA_ENOMEM, "out of memory");
	for (size_t k = 0; k < len; k++) {
		int a = hexval(hex[2 * k]), b = hexval(hex[2 * k + 1]);
		if (a < 0 || b < 0) {
			free(v);
			return fail(rep, STRATA_EPROTO, "%s:%u: malformed value", path, lineno);
		}
		v[k] = (uint8_t)(a * 16 + b);
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 256;
		struct rec *r = cap <= STRATA_CONS_EVENTS_MAX ? realloc(rs->r, cap * sizeof(*r)) : NULL;
		if (!r) {
			free(v);
			return fail(rep, STRATA_ENOMEM, "more than %u lines, or out of memory",
				    STRATA_CONS_EVENTS_MAX);
		}
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->n++] = (struct rec){ inst, node, life, kind, v, len };
	if (kind == 'p')
		rep->proposals++;
	else
		rep->decisions++;
	return 0;
}

static int read_file(struct recs *rs, const char *path, uint32_t life,
		     struct strata_cons_report *rep, bool *seen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(rep, STRATA_EIO, "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned lineno = 0, node = 0, n = 0;
	int rc = 0;
	while (rc == 0 && (got = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (lineno == 1) {
			char algo[64];
			if (sscanf(line, "# node %u n %u algo %63s", &node, &n, algo) != 3 || node < 1 ||
			    node > n || n > STRATA_CONS_MAX_NODES)
				rc = fail(rep, STRATA_EPROTO, "%s: bad header", path);
			continue;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		rc = parse_line(rs, path, lineno, line, node, life, rep);
	}
	free(line);
	fclose(f);
	if (rc == 0 && lineno == 0)
		rc = fail(rep, STRATA_EPROTO, "%s: empty (no header)", path);
	if (rc == 0 && !seen[node]) {
		seen[node] = true;
		rep->nodes++;
	}
	rep->lives++;
	return rc;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if (x->inst != y->inst)
		return x->inst < y->inst ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->life < y->life ? -1 : x->life > y->life ? 1 : 0;
}

static bool same(const struct rec *a, const struct rec *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->v, b->v, a->len) == 0);
}

static void show(char *buf, size_t n, const struct rec *r)
{
	size_t k = 0;
	for (; k < r->len && k < 40 && k + 1 < n; k++)
		buf[k] = r->v[k] >= 32 && r->v[k] < 127 ? (char)r->v[k] : '.';
	buf[k] = 0;
}

/* Checks one instance's records [a, b). */
static void check_instance(const struct rec *a, const struct rec *b, const bool *crashed,
			   unsigned props, struct strata_cons_report *rep)
{
	char s1[48], s2[48];
	const struct rec *first = NULL, *first_correct = NULL;
	rep->instances++;
	for (const struct rec *d = a; d < b; d++) {
		if (d->kind != 'd')
			continue;
		if (props & STRATA_CONS_VALIDITY) {
			bool ok = false;
			for (const struct rec *p = a; p < b && !ok; p++)
				ok = p->kind == 'p' && same(p, d);
			if (!ok && !(rep->failed & STRATA_CONS_VALIDITY)) {
				show(s1, sizeof s1, d);
				rep->failed |= STRATA_CONS_VALIDITY;
				fail(rep, 1, "validity: node %u decided '%s' on instance %" PRIu64
					     ", which no node proposed", d->node, s1, d->inst);
			}
		}
		for (const struct rec *e = a; e < d; e++) {
			if (e->kind != 'd' || e->node != d->node || !(props & STRATA_CONS_INTEGRITY))
				continue;
			if (e->life == d->life || !same(e, d)) {
				rep->failed |= STRATA_CONS_INTEGRITY;
				fail(rep, 1, "integrity: node %u decided instance %" PRIu64 " twice%s",
				     d->node, d->inst, same(e, d) ? "" : ", differently");
			}
		}
		if (!first)
			first = d;
		else if ((props & STRATA_CONS_UNIFORM) && !same(first, d)) {
			show(s1, sizeof s1, first);
			show(s2, sizeof s2, d);
			rep->failed |= STRATA_CONS_UNIFORM;
			fail(rep, 1, "uniform agreement: instance %" PRIu64 " decided '%s' by node %u and '%s' by node %u",
			     d->inst, s1, first->node, s2, d->node);
		}
		if (crashed[d->node])
			continue;
		if (!first_correct)
			first_correct = d;
		else if ((props & STRATA_CONS_AGREEMENT) && !same(first_correct, d)) {
			show(s1, sizeof s1, first_correct);
			show(s2, sizeof s2, d);
			rep->failed |= STRATA_CONS_AGREEMENT;
			fail(rep, 1, "agreement: instance %" PRIu64 " decided '%s' by correct node %u and '%s' by correct node %u",
			     d->inst, s1, first_correct->node, s2, d->node);
		}
	}
}

int strata_cons_check_dir(const char *dir, const bool *crashed, unsigned props,
			  struct strata_cons_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	DIR *dp = opendir(dir);
	if (!dp)
		return fail(rep, STRATA_EIO, "%s: %s", dir, strerror(errno));
	struct recs rs = { 0 };
	bool seen[STRATA_CONS_MAX_NODES + 1] = { false };
	struct dirent *de;
	int rc = 0;
	uint32_t life = 0;
	while (rc == 0 && (de = readdir(dp))) {
		unsigned id;
		int used = 0;
		if (sscanf(de->d_name, "node-%u.log%n", &id, &used) != 1 || used == 0 ||
		    (de->d_name[used] && strncmp(de->d_name + used, ".before-", 8) != 0))
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rc = read_file(&rs, path, ++life, rep, seen);
	}
	closedir(dp);
	if (rc == 0 && rep->lives == 0)
		rc = fail(rep, STRATA_ENOENT, "%s: no node-*.log files", dir);
	if (rc == 0) {
		qsort(rs.r, rs.n, sizeof(*rs.r), cmp_rec);
		for (size_t i = 0; i < rs.n;) {
			size_t j = i;
			while (j < rs.n && rs.r[j].inst == rs.r[i].inst)
				j++;
			check_instance(&rs.r[i], &rs.r[j], crashed, props, rep);
			i = j;
		}
		rc = rep->failed ? 1 : 0;
	}
	for (size_t i = 0; i < rs.n; i++)
		free(rs.r[i].v);
	free(rs.r);
	return rc;
}
