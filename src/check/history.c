/* Client histories: a strict, bounded reader for the JSON-lines format of docs/checking.md, the
 * pairing of invokes with their completions, and the writer used by the load client.
 *
 * The reader implements only the JSON subset the format needs: one object per line whose members
 * are strings (with every escape, \uXXXX and surrogate pairs included), integers, null, true,
 * false, or arrays of at most two strings or nulls. Bytes >= 0x80 inside strings are taken as they
 * are (values are byte strings; UTF-8 is not validated). Every problem is reported as
 * "FILE:LINE: problem" and never aborts: this code reads files a user hands us.
 *
 * Memory is bounded by the limits: a line, a string and the number of events. */
#include "check/history.h"

#include "core/error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- interning: keys and values become small integers ---- */

struct intern {
	struct strata_hist_str *v;
	size_t n, cap;
	uint32_t *slot; /* id + 1, 0 = empty; power-of-two size */
	size_t nslot;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t x = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		x ^= (unsigned char)s[i];
		x *= 0x100000001b3ull;
	}
	return x ^ (x >> 29);
}

static int intern_grow_slots(struct intern *t)
{
	size_t nslot = t->nslot ? t->nslot * 2 : 64;
	uint32_t *slot = calloc(nslot, sizeof(*slot));
	if (!slot)
		return STRATA_ENOMEM;
	for (size_t id = 0; id < t->n; id++) {
		if (!t->v[id].s)
			continue; /* null is never looked up */
		size_t i = (size_t)hash_bytes(t->v[id].s, t->v[id].len) & (nslot - 1);
		while (slot[i])
			i = (i + 1) & (nslot - 1);
		slot[i] = (uint32_t)id + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->nslot = nslot;
	return 0;
}

static int intern_get(struct intern *t, const char *s, size_t len, uint32_t *id)
{
	if ((t->n + 1) * 2 > t->nslot) {
		int rc = intern_grow_slots(t);
		if (rc)
			return rc;
	}
	size_t i = (size_t)hash_bytes(s, len) & (t->nslot - 1);
	while (t->slot[i]) {
		const struct strata_hist_str *e = &t->v[t->slot[i] - 1];
		if (e->len == len && (len == 0 || memcmp(e->s, s, len) == 0)) {
			*id = t->slot[i] - 1;
			return 0;
		}
		i = (i + 1) & (t->nslot - 1);
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct strata_hist_str *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return STRATA_ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return STRATA_ENOMEM;
	if (len)
		memcpy(copy, s, len);
	copy[len] = '\0';
	t->v[t->n].s = copy;
	t->v[t->n].len = len;
	*id = (uint32_t)t->n;
	t->slot[i] = (uint32_t)t->n + 1;
	t->n++;
	return 0;
}

/* ---- processes: which op each process has pending ---- */

struct proc {
	int64_t process;
	uint32_t pending; /* op index or NONE */
	uint32_t lproc;   /* NONE: the next invoke starts a new logical process */
};

struct procmap {
	struct proc *e;
	size_t n, nslot; /* open addressing, used flag = lproc/pending not both... see used[] */
	uint8_t *used;
};

static size_t proc_hash(int64_t p, size_t nslot)
{
	uint64_t x = (uint64_t)p * 0x9e3779b97f4a7c15ull;
	return (size_t)(x ^ (x >> 32)) & (nslot - 1);
}

static int procmap_find(struct procmap *m, int64_t p, struct proc **out)
{
	if ((m->n + 1) * 2 > m->nslot) {
		size_t nslot = m->nslot ? m->nslot * 2 : 32;
		struct proc *e = calloc(nslot, sizeof(*e));
		uint8_t *used = calloc(nslot, 1);
		if (!e || !used) {
			free(e);
			free(used);
			return STRATA_ENOMEM;
		}
		for (size_t i = 0; i < m->nslot; i++) {
			if (!m->used[i])
				continue;
			size_t j = proc_hash(m->e[i].process, nslot);
			while (used[j])
				j = (j + 1) & (nslot - 1);
			used[j] = 1;
			e[j] = m->e[i];
		}
		free(m->e);
		free(m->used);
		m->e = e;
		m->used = used;
		m->nslot = nslot;
	}
	size_t i = proc_hash(p, m->nslot);
	while (m->used[i] && m->e[i].process != p)
		i = (i + 1) & (m->nslot - 1);
	if (!m->used[i]) {
		m->used[i] = 1;
		m->e[i].process = p;
		m->e[i].pending = STRATA_HIST_NONE;
		m->e[i].lproc = STRATA_HIST_NONE;
		m->n++;
	}
	*out = &m->e[i];
	return 0;
}

/* ---- the builder: one line at a time ---- */

struct builder {
	struct strata_history *h;
	struct intern keys, vals;
	struct procmap procs;
	struct strata_history_limits lim;
	size_t cap_ev, cap_ops, cap_nem;
	char *sbuf; /* decoded string */
	size_t sbuf_len, sbuf_cap;
	char *err;
	size_t errn;
	uint32_t line;
};

static int bad(struct builder *b, const char *fmt, ...)
{
	if (b->errn) {
		int k = snprintf(b->err, b->errn, "%s:%u: ", b->h->name, (unsigned)b->line);
		if (k >= 0 && (size_t)k < b->errn) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(b->err + k, b->errn - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return STRATA_EPROTO;
}

static int oom(struct builder *b)
{
	if (b->errn)
		snprintf(b->err, b->errn, "%s:%u: out of memory", b->h->name, (unsigned)b->line);
	return STRATA_ENOMEM;
}

struct cur {
	const char *p, *end;
};

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

static int sbuf_put(struct builder *b, const char *s, size_t len)
{
	if (len == 0)
		return 0;
	if (b->sbuf_len + len > b->lim.max_value_bytes)
		return bad(b, "string longer than %zu bytes", b->lim.max_value_bytes);
	if (b->sbuf_len + len > b->sbuf_cap) {
		size_t cap = b->sbuf_cap ? b->sbuf_cap : 256;
		while (cap < b->sbuf_len + len)
			cap *= 2;
		char *n = realloc(b->sbuf, cap);
		if (!n)
			return oom(b);
		b->sbuf = n;
		b->sbuf_cap = cap;
	}
	memcpy(b->sbuf + b->sbuf_len, s, len);
	b->sbuf_len += len;
	return 0;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -1;
		v = v * 16 + d;
	}
	*out = v;
	return 0;
}

static size_t utf8_encode(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes the string literal at c->p (which is '"') into b->sbuf. */
static int parse_string(struct builder *b, struct cur *c)
{
	int rc;
	b->sbuf_len = 0;
	c->p++;
	for (;;) {
		const char *run = c->p;
		while (c->p < c->end && *c->p != '"' && *c->p != '\\' &&
		       (unsigned char)*c->p >= 0x20)
			c->p++;
		if ((rc = sbuf_put(b, run, (size_t)(c->p - run))))
			return rc;
		if (c->p == c->end)
			return bad(b, "unterminated string");
		char ch = *c->p;
		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch != '\\')
			return bad(b, "control character 0x%02x inside a string (escape it)",
				   (unsigned)(unsigned char)ch);
		if (c->end - c->p < 2)
			return bad(b, "unterminated escape");
		char e = c->p[1];
		char out[4];
		size_t olen = 1;
		c->p += 2;
		switch (e) {
		case '"': out[0] = '"'; break;
		case '\\': out[0] = '\\'; break;
		case '/': out[0] = '/'; break;
		case 'b': out[0] = '\b'; break;
		case 'f': out[0] = '\f'; break;
		case 'n': out[0] = '\n'; break;
		case 'r': out[0] = '\r'; break;
		case 't': out[0] = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (c->end - c->p < 4 || hex4(c->p, &cp))
				return bad(b, "\\u must be followed by four hex digits");
			c->p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return bad(b, "lone low surrogate \\u%04x", cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
				    hex4(c->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return bad(b, "high surrogate \\u%04x without a low one", cp);
				c->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			olen = utf8_encode(cp, out);
			break;
		}
		default:
			return bad(b, "invalid escape \\%c", e);
		}
		if ((rc = sbuf_put(b, out, olen)))
			return rc;
	}
}

static int parse_int(struct builder *b, struct cur *c, const char *field, int64_t *out)
{
	int neg = 0;
	if (c->p < c->end && *c->p == '-') {
		neg = 1;
		c->p++;
	}
	if (c->p == c->end || *c->p < '0' || *c->p > '9')
		return bad(b, "field \"%s\": expected an integer", field);
	if (*c->p == '0' && c->p + 1 < c->end && c->p[1] >= '0' && c->p[1] <= '9')
		return bad(b, "field \"%s\": leading zero in an integer", field);
	uint64_t v = 0;
	uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		unsigned d = (unsigned)(*c->p - '0');
		if (v > (lim - d) / 10)
			return bad(b, "field \"%s\": integer out of range", field);
		v = v * 10 + d;
		c->p++;
	}
	if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
		return bad(b, "field \"%s\": must be an integer", field);
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

static int parse_literal(struct cur *c, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return -1;
	c->p += n;
	return 0;
}

/* A parsed "value": absent, null, a string, or a pair (elements null or string). */
struct pval {
	int kind;        /* STRATA_HIST_V_* */
	uint32_t v[2];   /* value ids */
	int is_string[2];
};

/* Parses a string or null into a value id. */
static int parse_value_atom(struct builder *b, struct cur *c, const char *field, uint32_t *id,
			    int *is_string)
{
	if (c->p < c->end && *c->p == '"') {
		int rc = parse_string(b, c);
		if (rc)
			return rc;
		if (intern_get(&b->vals, b->sbuf, b->sbuf_len, id))
			return oom(b);
		*is_string = 1;
		return 0;
	}
	if (parse_literal(c, "null") == 0) {
		*id = STRATA_HIST_NULL;
		*is_string = 0;
		return 0;
	}
	return bad(b, "field \"%s\": expected a string or null", field);
}

static int parse_value(struct builder *b, struct cur *c, const char *field, struct pval *pv)
{
	int rc;
	if (c->p < c->end && *c->p == '[') {
		c->p++;
		skip_ws(c);
		int n = 0;
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			return bad(b, "field \"%s\": empty array (expected [old,new])", field);
		}
		for (;;) {
			if (n == 2)
				return bad(b, "field \"%s\": arrays hold at most two values", field);
			if ((rc = parse_value_atom(b, c, field, &pv->v[n], &pv->is_string[n])))
				return rc;
			n++;
			skip_ws(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				skip_ws(c);
				continue;
			}
			if (c->p < c->end && *c->p == ']') {
				c->p++;
				break;
			}
			return bad(b, "field \"%s\": expected ',' or ']' in array", field);
		}
		if (n != 2)
			return bad(b, "field \"%s\": expected two values [old,new]", field);
		pv->kind = STRATA_HIST_V_PAIR;
		return 0;
	}
	if (c->p < c->end && *c->p == '{')
		return bad(b, "field \"%s\": nested objects are not supported", field);
	pv->kind = STRATA_HIST_V_SCALAR;
	pv->v[1] = STRATA_HIST_NONE;
	pv->is_string[1] = 0;
	return parse_value_atom(b, c, field, &pv->v[0], &pv->is_string[0]);
}

/* Skips the value of a member we do not use, checking it is in the supported subset. */
static int skip_value(struct builder *b, struct cur *c, const char *field)
{
	if (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || *c->p == '-')) {
		int64_t ignored;
		return parse_int(b, c, field, &ignored);
	}
	if (parse_literal(c, "true") == 0 || parse_literal(c, "false") == 0)
		return 0;
	struct pval pv;
	return parse_value(b, c, field, &pv);
}

enum {
	F_PROCESS = 1 << 0,
	F_TYPE = 1 << 1,
	F_F = 1 << 2,
	F_KEY = 1 << 3,
	F_VALUE = 1 << 4,
	F_TIME = 1 << 5,
};

struct fields {
	unsigned seen;
	int64_t process;
	bool nemesis;    /* "process":"nemesis": a fault event, not an operation */
	char fname[STRATA_HIST_NEMESIS_F_MAX]; /* "f" as written (resolved once the line is read) */
	int64_t time;
	int type, f;
	uint32_t key;
	struct pval value;
};

static int parse_enum(struct builder *b, struct cur *c, const char *field,
		      const char *const *names, int count, int *out)
{
	if (c->p == c->end || *c->p != '"')
		return bad(b, "field \"%s\": expected a string", field);
	int rc = parse_string(b, c);
	if (rc)
		return rc;
	for (int i = 0; i < count; i++) {
		if (strlen(names[i]) == b->sbuf_len && memcmp(names[i], b->sbuf, b->sbuf_len) == 0) {
			*out = i;
			return 0;
		}
	}
	if (count == 4)
		return bad(b, "field \"%s\": expected \"%s\", \"%s\", \"%s\" or \"%s\"", field,
			   names[0], names[1], names[2], names[3]);
	return bad(b, "field \"%s\": expected \"%s\", \"%s\" or \"%s\"", field, names[0],
		   names[1], names[2]);
}

static const char *const type_names[] = {"invoke", "ok", "fail", "info"};
static const char *const f_names[] = {"read", "write", "cas"};

const char *strata_hist_type_name(unsigned t)
{
	return t < 4 ? type_names[t] : "?";
}

const char *strata_hist_f_name(unsigned f)
{
	return f < 3 ? f_names[f] : "?";
}

static int parse_member(struct builder *b, struct cur *c, struct fields *fl)
{
	char name[32];
	int rc;
	if (c->p == c->end || *c->p != '"')
		return bad(b, "expected a member name in double quotes");
	if ((rc = parse_string(b, c)))
		return rc;
	size_t nlen = b->sbuf_len < sizeof(name) - 1 ? b->sbuf_len : sizeof(name) - 1;
	if (nlen)
		memcpy(name, b->sbuf, nlen);
	name[nlen] = '\0';
	if (memchr(name, '\0', nlen) || b->sbuf_len >= sizeof(name))
		strcpy(name, "(long name)");
	skip_ws(c);
	if (c->p == c->end || *c->p != ':')
		return bad(b, "expected ':' after \"%s\"", name);
	c->p++;
	skip_ws(c);

	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {{"process", F_PROCESS}, {"type", F_TYPE}, {"f", F_F},
		     {"key", F_KEY},         {"value", F_VALUE}, {"time", F_TIME}};
	unsigned bit = 0;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i].name) == 0)
			bit = known[i].bit;
	if (!bit)
		return skip_value(b, c, name);
	if (fl->seen & bit)
		return bad(b, "duplicate field \"%s\"", name);
	fl->seen |= bit;
	switch (bit) {
	case F_PROCESS:
		/* Jepsen's fault injector writes "process":"nemesis"; every other process is a
		 * number. */
		if (c->p < c->end && *c->p == '"') {
			if ((rc = parse_string(b, c)))
				return rc;
			if (b->sbuf_len != 7 || memcmp(b->sbuf, "nemesis", 7) != 0)
				return bad(b, "field \"process\": expected an integer or \"nemesis\"");
			fl->nemesis = true;
			return 0;
		}
		return parse_int(b, c, name, &fl->process);
	case F_TIME:
		if ((rc = parse_int(b, c, name, &fl->time)))
			return rc;
		if (fl->time < 0)
			return bad(b, "field \"time\": must not be negative");
		return 0;
	case F_TYPE:
		return parse_enum(b, c, name, type_names, 4, &fl->type);
	case F_F:
		if (c->p == c->end || *c->p != '"')
			return bad(b, "field \"f\": expected a string");
		if ((rc = parse_string(b, c)))
			return rc;
		if (!b->sbuf_len || b->sbuf_len >= sizeof fl->fname ||
		    memchr(b->sbuf, '\0', b->sbuf_len))
			return bad(b, "field \"f\": expected a name of 1..%zu bytes",
				   sizeof fl->fname - 1);
		memcpy(fl->fname, b->sbuf, b->sbuf_len);
		fl->fname[b->sbuf_len] = '\0';
		return 0;
	case F_KEY:
		if (c->p == c->end || *c->p != '"')
			return bad(b, "field \"key\": expected a string");
		if ((rc = parse_string(b, c)))
			return rc;
		if (intern_get(&b->keys, b->sbuf, b->sbuf_len, &fl->key))
			return oom(b);
		return 0;
	default:
		return parse_value(b, c, name, &fl->value);
	}
}

static int parse_object(struct builder *b, struct cur *c, struct fields *fl)
{
	int rc;
	skip_ws(c);
	if (c->p == c->end || *c->p != '{')
		return bad(b, "expected a JSON object starting with '{'");
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
	} else {
		for (;;) {
			if ((rc = parse_member(b, c, fl)))
				return rc;
			skip_ws(c);
			if (c->p < c->end && *c->p == ',') {
				c->p++;
				skip_ws(c);
				continue;
			}
			if (c->p < c->end && *c->p == '}') {
				c->p++;
				break;
			}
			return bad(b, "expected ',' or '}' after a member");
		}
	}
	skip_ws(c);
	if (c->p != c->end)
		return bad(b, "text after the object (one op per line)");
	static const char *const req[] = {"process", "type", "f", "key", NULL, "time"};
	for (int i = 0; i < 6; i++)
		if (req[i] && !(fl->seen & (1u << i)) && !(fl->nemesis && i == 3))
			return bad(b, "missing field \"%s\"", req[i]);
	if (fl->nemesis) {
		if (fl->type != STRATA_HIST_INFO)
			return bad(b, "a nemesis event has \"type\":\"info\"");
		if ((fl->seen & F_VALUE) && fl->value.kind != STRATA_HIST_V_SCALAR)
			return bad(b, "a nemesis event's \"value\" is a string or null");
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (strcmp(fl->fname, f_names[i]) == 0) {
			fl->f = i;
			return 0;
		}
	return bad(b, "field \"f\": expected \"%s\", \"%s\" or \"%s\"", f_names[0], f_names[1],
		   f_names[2]);
}

/* Checks the value against the op's shape; messages name the expected form. */
static int check_value_shape(struct builder *b, const struct fields *fl)
{
	const struct pval *v = &fl->value;
	int has = (fl->seen & F_VALUE) != 0;
	if (fl->type == STRATA_HIST_INVOKE) {
		switch (fl->f) {
		case STRATA_HIST_READ:
			if (has && !(v->kind == STRATA_HIST_V_SCALAR && !v->is_string[0]))
				return bad(b, "a read's invoke carries \"value\":null");
			return 0;
		case STRATA_HIST_WRITE:
			if (!has || v->kind != STRATA_HIST_V_SCALAR || !v->is_string[0])
				return bad(b, "a write's invoke needs a string \"value\"");
			return 0;
		default:
			if (!has || v->kind != STRATA_HIST_V_PAIR || !v->is_string[1])
				return bad(b, "a cas invoke needs \"value\":[old,new] with new a string "
					      "(old may be null)");
			return 0;
		}
	}
	if (fl->type == STRATA_HIST_OK && fl->f == STRATA_HIST_READ &&
	    (!has || v->kind != STRATA_HIST_V_SCALAR))
		return bad(b, "a read's ok needs \"value\": the string read, or null");
	return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t cap2 = *cap ? *cap * 2 : 256;
	while (cap2 < need)
		cap2 *= 2;
	void *n = realloc(*p, cap2 * elem);
	if (!n)
		return STRATA_ENOMEM;
	*p = n;
	*cap = cap2;
	return 0;
}

static int add_event(struct builder *b, const struct fields *fl)
{
	struct strata_history *h = b->h;
	int rc;
	if (h->n_ev + h->n_nemesis >= b->lim.max_events)
		return bad(b, "more than %zu events (raise the limit)", b->lim.max_events);
	if (fl->nemesis) {
		/* A fault event: kept for the reports (what was going on), never checked. */
		if (grow((void **)&h->nemesis, &b->cap_nem, h->n_nemesis + 1, sizeof(*h->nemesis)))
			return oom(b);
		struct strata_hist_nemesis *ne = &h->nemesis[h->n_nemesis++];
		ne->time_ns = (uint64_t)fl->time;
		ne->line = b->line;
		ne->value = (fl->seen & F_VALUE) ? fl->value.v[0] : STRATA_HIST_NONE;
		memcpy(ne->f, fl->fname, sizeof ne->f);
		return 0;
	}
	if ((rc = check_value_shape(b, fl)))
		return rc;
	if (grow((void **)&h->ev, &b->cap_ev, h->n_ev + 1, sizeof(*h->ev)))
		return oom(b);
	struct proc *pr;
	if (procmap_find(&b->procs, fl->process, &pr))
		return oom(b);

	uint32_t evi = (uint32_t)h->n_ev;
	struct strata_hist_event *e = &h->ev[evi];
	e->process = fl->process;
	e->time_ns = (uint64_t)fl->time;
	e->line = b->line;
	e->key = fl->key;
	e->type = (uint8_t)fl->type;
	e->f = (uint8_t)fl->f;
	e->vkind = (uint8_t)((fl->seen & F_VALUE) ? fl->value.kind : STRATA_HIST_V_ABSENT);
	e->value = e->vkind ? fl->value.v[0] : STRATA_HIST_NONE;
	e->value2 = e->vkind == STRATA_HIST_V_PAIR ? fl->value.v[1] : STRATA_HIST_NONE;

	if (fl->type == STRATA_HIST_INVOKE) {
		if (pr->pending != STRATA_HIST_NONE)
			return bad(b, "process %lld invokes again while its op from line %u is "
				      "still pending",
				   (long long)fl->process, (unsigned)h->ev[h->ops[pr->pending].ev_invoke].line);
		if (grow((void **)&h->ops, &b->cap_ops, h->n_ops + 1, sizeof(*h->ops)))
			return oom(b);
		if (pr->lproc == STRATA_HIST_NONE)
			pr->lproc = h->n_lprocs++;
		struct strata_hist_op *op = &h->ops[h->n_ops];
		memset(op, 0, sizeof(*op));
		op->process = fl->process;
		op->lproc = pr->lproc;
		op->key = fl->key;
		op->f = (uint8_t)fl->f;
		op->outcome = STRATA_HIST_OUT_INFO;
		op->arg = op->arg2 = op->result = STRATA_HIST_NONE;
		if (fl->f == STRATA_HIST_WRITE) {
			op->arg = fl->value.v[0];
		} else if (fl->f == STRATA_HIST_CAS) {
			op->arg = fl->value.v[0];
			op->arg2 = fl->value.v[1];
		}
		op->call_ns = (uint64_t)fl->time;
		op->ret_ns = STRATA_HIST_INF;
		op->ev_invoke = evi;
		op->ev_complete = STRATA_HIST_NONE;
		pr->pending = (uint32_t)h->n_ops;
		e->op = (uint32_t)h->n_ops;
		h->n_ops++;
		h->n_ev++;
		return 0;
	}

	if (pr->pending == STRATA_HIST_NONE)
		return bad(b, "\"%s\" of process %lld without a pending invoke",
			   type_names[fl->type], (long long)fl->process);
	struct strata_hist_op *op = &h->ops[pr->pending];
	unsigned inv_line = (unsigned)h->ev[op->ev_invoke].line;
	if (op->f != fl->f)
		return bad(b, "completion is a %s but the invoke on line %u is a %s",
			   f_names[fl->f], inv_line, f_names[op->f]);
	if (op->key != fl->key)
		return bad(b, "completion names another key than the invoke on line %u", inv_line);
	if ((uint64_t)fl->time < op->call_ns)
		return bad(b, "completion time %lld is before its invoke's (line %u)",
			   (long long)fl->time, inv_line);
	op->ev_complete = evi;
	e->op = pr->pending;
	switch (fl->type) {
	case STRATA_HIST_OK:
		op->outcome = STRATA_HIST_OUT_OK;
		op->ret_ns = (uint64_t)fl->time;
		if (op->f == STRATA_HIST_READ)
			op->result = fl->value.v[0];
		break;
	case STRATA_HIST_FAIL:
		op->outcome = STRATA_HIST_OUT_FAIL;
		op->ret_ns = (uint64_t)fl->time;
		break;
	default:
		/* Unknown outcome: the op may take effect at any time after its invoke. The
		 * process should never issue again; if it does, it is a new logical process. */
		op->outcome = STRATA_HIST_OUT_INFO;
		op->ret_ns = STRATA_HIST_INF;
		pr->lproc = STRATA_HIST_NONE;
		break;
	}
	pr->pending = STRATA_HIST_NONE;
	h->n_ev++;
	return 0;
}

static int handle_line(struct builder *b, const char *line, size_t len)
{
	b->line++;
	if (len > b->lim.max_line_bytes)
		return bad(b, "line longer than %zu bytes", b->lim.max_line_bytes);
	struct cur c = {line, line + len};
	skip_ws(&c);
	if (c.p == c.end)
		return 0; /* blank lines are allowed */
	struct fields fl;
	memset(&fl, 0, sizeof(fl));
	int rc = parse_object(b, &c, &fl);
	if (rc)
		return rc;
	return add_event(b, &fl);
}

static int builder_init(struct builder *b, const char *name,
			const struct strata_history_limits *limits, char *err, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->err = err;
	b->errn = n;
	if (n)
		err[0] = '\0';
	if (limits)
		b->lim = *limits;
	if (!b->lim.max_line_bytes)
		b->lim.max_line_bytes = STRATA_HISTORY_MAX_LINE_DEFAULT;
	if (!b->lim.max_value_bytes)
		b->lim.max_value_bytes = STRATA_HISTORY_MAX_VALUE_DEFAULT;
	if (!b->lim.max_events)
		b->lim.max_events = STRATA_HISTORY_MAX_EVENTS_DEFAULT;
	if (b->lim.max_events > UINT32_MAX - 1)
		b->lim.max_events = UINT32_MAX - 1;
	b->h = calloc(1, sizeof(*b->h));
	if (!b->h)
		return STRATA_ENOMEM;
	b->h->name = strdup(name ? name : "(history)");
	/* Value id 0 is null. */
	b->vals.v = calloc(16, sizeof(*b->vals.v));
	if (!b->h->name || !b->vals.v) {
		free(b->h->name);
		free(b->h);
		free(b->vals.v);
		b->h = NULL;
		if (n)
			snprintf(err, n, "%s: out of memory", name ? name : "(history)");
		return STRATA_ENOMEM;
	}
	b->vals.cap = 16;
	b->vals.n = 1;
	return 0;
}

/* Finishes the history: hands over the tables, frees the scaffolding. On rc != 0 frees all. */
static int builder_finish(struct builder *b, int rc, struct strata_history **out)
{
	struct strata_history *h = b->h;
	free(b->sbuf);
	free(b->keys.slot);
	free(b->vals.slot);
	free(b->procs.e);
	free(b->procs.used);
	h->keys = b->keys.v;
	h->n_keys = b->keys.n;
	h->vals = b->vals.v;
	h->n_vals = b->vals.n;
	if (rc) {
		strata_history_free(h);
		*out = NULL;
		return rc;
	}
	for (size_t i = 0; i < h->n_ops; i++)
		if (h->ops[i].ev_complete == STRATA_HIST_NONE)
			h->n_pending++;
	*out = h;
	return 0;
}

int strata_history_parse(const char *buf, size_t len, const char *name,
			 const struct strata_history_limits *limits, struct strata_history **out,
			 char *err, size_t n)
{
	struct builder b;
	*out = NULL;
	int rc = builder_init(&b, name, limits, err, n);
	if (rc)
		return rc;
	const char *p = buf, *end = buf + len;
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		rc = handle_line(&b, p, (size_t)(le - p));
		p = nl ? nl + 1 : end;
	}
	return builder_finish(&b, rc, out);
}

int strata_history_load_ex(const char *path, const struct strata_history_limits *limits,
			   struct strata_history **out, char *err, size_t n)
{
	struct builder b;
	*out = NULL;
	int rc = builder_init(&b, path, limits, err, n);
	if (rc)
		return rc;
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (n)
			snprintf(err, n, "%s: %s", path, strerror(errno));
		return builder_finish(&b, STRATA_EIO, out);
	}
	/* A bounded line reader: getline would grow without limit on a file with no newline. */
	size_t cap = 1 << 16, have = 0, pos = 0;
	size_t max_cap = b.lim.max_line_bytes + 2;
	char *buf = malloc(cap);
	int eof = 0;
	if (!buf)
		rc = oom(&b);
	while (!rc) {
		char *nl = memchr(buf + pos, '\n', have - pos);
		if (nl) {
			rc = handle_line(&b, buf + pos, (size_t)(nl - (buf + pos)));
			pos = (size_t)(nl - buf) + 1;
			continue;
		}
		if (eof) {
			if (have > pos)
				rc = handle_line(&b, buf + pos, have - pos);
			break;
		}
		memmove(buf, buf + pos, have - pos);
		have -= pos;
		pos = 0;
		if (have > b.lim.max_line_bytes) {
			b.line++;
			rc = bad(&b, "line longer than %zu bytes", b.lim.max_line_bytes);
			break;
		}
		if (have == cap && cap < max_cap) {
			size_t cap2 = cap * 2 < max_cap ? cap * 2 : max_cap;
			char *nb = realloc(buf, cap2);
			if (!nb) {
				rc = oom(&b);
				break;
			}
			buf = nb;
			cap = cap2;
		}
		size_t got = fread(buf + have, 1, cap - have, f);
		if (got == 0) {
			if (ferror(f)) {
				if (n)
					snprintf(err, n, "%s: read error", path);
				rc = STRATA_EIO;
				break;
			}
			eof = 1;
		}
		have += got;
	}
	free(buf);
	fclose(f);
	return builder_finish(&b, rc, out);
}

int strata_history_load(const char *path, struct strata_history **out, char *err, size_t n)
{
	return strata_history_load_ex(path, NULL, out, err, n);
}

void strata_history_free(struct strata_history *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_keys; i++)
		free(h->keys[i].s);
	for (size_t i = 0; i < h->n_vals; i++)
		free(h->vals[i].s);
	free(h->keys);
	free(h->vals);
	free(h->ev);
	free(h->ops);
	free(h->nemesis);
	free(h->name);
	free(h);
}

size_t strata_history_n_events(const struct strata_history *h)
{
	return h->n_ev;
}

size_t strata_history_n_nemesis(const struct strata_history *h)
{
	return h->n_nemesis;
}

size_t strata_history_n_ops(const struct strata_history *h)
{
	return h->n_ops;
}

size_t strata_history_n_completed(const struct strata_history *h)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n_ops; i++)
		n += h->ops[i].outcome == STRATA_HIST_OUT_OK;
	return n;
}

size_t strata_history_n_keys(const struct strata_history *h)
{
	return h->n_keys;
}

/* ---- writing ---- */

struct obuf {
	char *p;
	size_t len, cap;
	int failed;
};

static void ob_put(struct obuf *o, const char *s, size_t len)
{
	if (o->failed)
		return;
	if (o->len + len + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 128;
		while (cap < o->len + len + 1)
			cap *= 2;
		char *n = realloc(o->p, cap);
		if (!n) {
			o->failed = 1;
			return;
		}
		o->p = n;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, len);
	o->len += len;
}

static void ob_str(struct obuf *o, const char *s)
{
	ob_put(o, s, strlen(s));
}

static void ob_json_string(struct obuf *o, const char *s, size_t len)
{
	if (!s) {
		ob_str(o, "null");
		return;
	}
	ob_put(o, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];
		switch (ch) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			if (ch < 0x20 || ch == 0x7f) {
				snprintf(u, sizeof(u), "\\u%04x", ch);
				esc = u;
			}
		}
		if (!esc)
			continue;
		ob_put(o, s + run, i - run);
		ob_str(o, esc);
		run = i + 1;
	}
	ob_put(o, s + run, len - run);
	ob_put(o, "\"", 1);
}

static int ob_flush(struct obuf *o, FILE *out)
{
	int rc = 0;
	if (o->failed)
		rc = STRATA_ENOMEM;
	else if (o->len && fwrite(o->p, 1, o->len, out) != o->len)
		rc = STRATA_EIO;
	free(o->p);
	return rc;
}

int strata_history_append(FILE *out, int64_t process, enum strata_hist_type type,
			  enum strata_hist_f f, const char *key, const char *value,
			  const char *value2, uint64_t time_ns)
{
	if (!out || !key || (unsigned)type > STRATA_HIST_INFO || (unsigned)f > STRATA_HIST_CAS ||
	    time_ns > (uint64_t)INT64_MAX)
		return STRATA_EINVAL;
	struct obuf o = {0};
	char num[32];
	snprintf(num, sizeof(num), "%lld", (long long)process);
	ob_str(&o, "{\"process\":");
	ob_str(&o, num);
	ob_str(&o, ",\"type\":\"");
	ob_str(&o, type_names[type]);
	ob_str(&o, "\",\"f\":\"");
	ob_str(&o, f_names[f]);
	ob_str(&o, "\",\"key\":");
	ob_json_string(&o, key, strlen(key));
	ob_str(&o, ",\"value\":");
	if (f == STRATA_HIST_CAS && type == STRATA_HIST_INVOKE) {
		ob_str(&o, "[");
		ob_json_string(&o, value, value ? strlen(value) : 0);
		ob_str(&o, ",");
		ob_json_string(&o, value2, value2 ? strlen(value2) : 0);
		ob_str(&o, "]");
	} else {
		ob_json_string(&o, value, value ? strlen(value) : 0);
	}
	snprintf(num, sizeof(num), "%llu", (unsigned long long)time_ns);
	ob_str(&o, ",\"time\":");
	ob_str(&o, num);
	ob_str(&o, "}\n");
	return ob_flush(&o, out);
}

int strata_hist_put_json_string(FILE *out, const char *s, size_t len)
{
	struct obuf o = {0};
	ob_json_string(&o, s, len);
	return ob_flush(&o, out);
}

int strata_hist_put_value_json(FILE *out, const struct strata_history *h, uint32_t v)
{
	if (v == STRATA_HIST_NONE || v >= h->n_vals)
		return fputs("null", out) < 0 ? STRATA_EIO : 0;
	return strata_hist_put_json_string(out, h->vals[v].s, h->vals[v].len);
}

int strata_hist_put_event_json(FILE *out, const struct strata_history *h,
			       const struct strata_hist_event *e)
{
	int rc = 0;
	if (fprintf(out, "{\"process\":%lld,\"type\":\"%s\",\"f\":\"%s\",\"key\":",
		    (long long)e->process, strata_hist_type_name(e->type),
		    strata_hist_f_name(e->f)) < 0)
		return STRATA_EIO;
	rc = strata_hist_put_json_string(out, h->keys[e->key].s, h->keys[e->key].len);
	if (!rc && e->vkind != STRATA_HIST_V_ABSENT) {
		fputs(",\"value\":", out);
		if (e->vkind == STRATA_HIST_V_PAIR) {
			fputc('[', out);
			rc = strata_hist_put_value_json(out, h, e->value);
			fputc(',', out);
			if (!rc)
				rc = strata_hist_put_value_json(out, h, e->value2);
			fputc(']', out);
		} else {
			rc = strata_hist_put_value_json(out, h, e->value);
		}
	}
	if (!rc && fprintf(out, ",\"time\":%llu}", (unsigned long long)e->time_ns) < 0)
		rc = STRATA_EIO;
	return rc;
}

void strata_hist_value_short(const struct strata_history *h, uint32_t v, char *buf, size_t n)
{
	if (v == STRATA_HIST_NULL || v == STRATA_HIST_NONE || v >= h->n_vals) {
		snprintf(buf, n, "null");
		return;
	}
	/* Short, printable rendering for the one-line message; reports print values in full. */
	size_t k = 0;
	if (n < 8)
		return;
	buf[k++] = '"';
	for (size_t i = 0; i < h->vals[v].len && k + 5 < n; i++) {
		unsigned char ch = (unsigned char)h->vals[v].s[i];
		buf[k++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (h->vals[v].len + 5 > n) {
		buf[k++] = '.';
		buf[k++] = '.';
	}
	buf[k++] = '"';
	buf[k] = '\0';
}

int strata_history_append_nemesis(FILE *out, const char *f, const char *value, uint64_t time_ns)
{
	if (!out || !f || !*f || strlen(f) >= STRATA_HIST_NEMESIS_F_MAX ||
	    time_ns > (uint64_t)INT64_MAX)
		return STRATA_EINVAL;
	struct obuf o = {0};
	char num[32];
	ob_str(&o, "{\"process\":\"nemesis\",\"type\":\"info\",\"f\":");
	ob_json_string(&o, f, strlen(f));
	ob_str(&o, ",\"value\":");
	ob_json_string(&o, value, value ? strlen(value) : 0);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)time_ns);
	ob_str(&o, ",\"time\":");
	ob_str(&o, num);
	ob_str(&o, "}\n");
	return ob_flush(&o, out);
}
