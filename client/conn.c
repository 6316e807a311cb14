/* Talking to stratad: the cluster config, endpoint selection, length-prefixed protobuf frames
 * over TCP with deadlines, and the generic module operation behind most commands.
 *
 * Client authentication ([client] auth, docs/security.md): when the cluster's client key is at
 * hand ($STRATA_CLIENT_KEY, else client.key in the cluster directory, unless the config says
 * auth = off), every connection starts with the handshake of crypto/session.h, run to completion
 * by cli_connect / cli_connect_finish within the deadline, and every frame afterwards is sealed.
 * The session of each connected descriptor is kept in a table indexed by the descriptor (a
 * descriptor number is registered again by the next connect that gets it). Without the key,
 * frames are plain and a node with auth on answers with a clear error.
 *
 * A CLI issues one request at a time, so plain sockets with poll() deadlines are enough (no
 * libuv). Sockets are non-blocking so a stopped (SIGSTOP) node can never hang us: every wait has
 * a deadline, and the exit-code contract turns a missed deadline into "outcome unknown". */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/codec.h"
#include "core/error.h"
#include "crypto/crypto.h"
#include "crypto/session.h"
#include "rt/uv/client_frame.h"
#include "rt/uv/keyfile.h"
#include "smr/smr.h"

/* The credential of this process (loaded once by cli_endpoints) and the sessions by descriptor. */
static struct {
	bool loaded;       /* looked for */
	uint8_t *key;      /* secure memory; NULL = no credential: plain frames */
	char path[4200];
	int timeout_ms;    /* the handshake deadline of cli_connect_finish */
	unsigned refused;  /* handshakes that failed for good: the node refused it, or one of the
			    * two sides does not hold the cluster's key (a definite failure, not a
			    * lost connection) */
} cli_auth;
static struct strata_session **cli_sess; /* indexed by descriptor */
static size_t cli_nsess;

/* ---- messages ---- */

void cli_err(const struct cli *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_err(const struct cli *c, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\ntry '%s %s --help'\n", c->prog, cmd);
	else
		fprintf(stderr, "\ntry '%s --help'\n", c->prog);
	return CLI_EXIT_USAGE;
}

bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

bool cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

uint64_t cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t cli_next_id(struct cli *c)
{
	return ++c->next_id;
}

/* ---- config ---- */

/* Reads a whole small file into a NUL-terminated buffer (caller frees). */
static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
		if (len + 1 == cap) {
			if (cap >= (1u << 20)) { /* a config is small: refuse anything huge */
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: file too large", path);
				return NULL;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	bool bad = ferror(f);
	fclose(f);
	if (!buf || bad) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "out of memory");
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

const struct strata_config *cli_config(struct cli *c)
{
	if (c->cfg)
		return c->cfg;
	char path[4200], err[4608];
	snprintf(path, sizeof path, "%s/cluster.ini", c->dir);
	char *text = read_file(path, err, sizeof err);
	if (!text) {
		cli_err(c, "%s\n(no cluster here: start one with 'scripts/cluster start --dir %s', or "
			   "pass --dir DIR, set STRATA_HOME, or give an endpoint with -e HOST:PORT)",
			err, c->dir);
		return NULL;
	}
	struct strata_config *cfg = malloc(sizeof *cfg);
	if (!cfg) {
		free(text);
		cli_err(c, "out of memory");
		return NULL;
	}
	int rc = strata_config_parse(cfg, text, path, err, sizeof err);
	free(text);
	if (rc != 0) {
		free(cfg);
		cli_err(c, "%s", err);
		return NULL;
	}
	c->cfg = cfg;
	return cfg;
}

/* ---- endpoints ---- */

/* "HOST:PORT" or "[V6]:PORT". */
static bool parse_endpoint(const char *s, struct cli_endpoint *ep)
{
	const char *colon;
	const char *host = s;
	size_t hlen;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return false;
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		hlen = (size_t)(colon - s);
	}
	uint32_t port;
	if (hlen == 0 || hlen >= sizeof ep->host || !cli_parse_u32(colon + 1, 1, 65535, &port))
		return false;
	memcpy(ep->host, host, hlen);
	ep->host[hlen] = '\0';
	ep->port = (uint16_t)port;
	ep->id = 0;
	return true;
}

static void endpoint_of(const struct strata_config *cfg, uint32_t id, struct cli_endpoint *ep)
{
	ep->id = id;
	snprintf(ep->host, sizeof ep->host, "%s", cfg->nodes[id].host);
	ep->port = cfg->nodes[id].client_port;
}

/* Finds the credential: $STRATA_CLIENT_KEY (must load), else DIR/client.key if it exists (unless
 * the cluster's config says [client] auth = off). 0 or -1 after printing why. */
static int auth_load(struct cli *c)
{
	if (cli_auth.loaded)
		return 0;
	cli_auth.loaded = true;
	cli_auth.timeout_ms = c->timeout_ms;
	const char *env = getenv("STRATA_CLIENT_KEY");
	bool must = env && *env;
	if (must) {
		snprintf(cli_auth.path, sizeof cli_auth.path, "%s", env);
	} else {
		snprintf(cli_auth.path, sizeof cli_auth.path, "%s/client.key", c->dir);
		if (access(cli_auth.path, F_OK) != 0)
			return 0;
		char ini[4200];
		snprintf(ini, sizeof ini, "%s/cluster.ini", c->dir);
		if (!c->endpoint[0] || access(ini, F_OK) == 0) {
			const struct strata_config *cfg = cli_config(c);
			if (cfg && !cfg->client_auth)
				return 0;
		}
	}
	if (strata_crypto_init() != 0) {
		cli_err(c, "crypto initialisation failed (libsodium or STRATA_SHA256)");
		return -1;
	}
	cli_auth.key = strata_secure_alloc(STRATA_CLIENT_KEY_LEN);
	char err[4608];
	if (!cli_auth.key ||
	    strata_clientkey_read(cli_auth.path, cli_auth.key, err, sizeof err) != 0) {
		cli_err(c, "%s", cli_auth.key ? err : "out of secure memory");
		strata_secure_free(cli_auth.key);
		cli_auth.key = NULL;
		return -1;
	}
	return 0;
}

static struct strata_session *sess_of(int fd)
{
	return fd >= 0 && (size_t)fd < cli_nsess ? cli_sess[fd] : NULL;
}

/* Forgets the session a previous connection left under this descriptor number. */
static void sess_drop(int fd)
{
	struct strata_session *s = sess_of(fd);
	if (s) {
		strata_session_wipe(s);
		free(s);
		cli_sess[fd] = NULL;
	}
}

static int sess_put(int fd, struct strata_session *s)
{
	if ((size_t)fd >= cli_nsess) {
		size_t n = (size_t)fd + 64;
		struct strata_session **t = realloc(cli_sess, n * sizeof *t);
		if (!t)
			return -1;
		memset(t + cli_nsess, 0, (n - cli_nsess) * sizeof *t);
		cli_sess = t;
		cli_nsess = n;
	}
	cli_sess[fd] = s;
	return 0;
}

int cli_endpoints(struct cli *c, bool all, struct cli_endpoint *out, size_t max)
{
	if (auth_load(c) != 0)
		return -1;
	if (c->endpoint[0]) {
		if (!parse_endpoint(c->endpoint, &out[0])) {
			cli_err(c, "-e %s: expected HOST:PORT", c->endpoint);
			return -1;
		}
		return 1;
	}
	const struct strata_config *cfg = cli_config(c);
	if (!cfg)
		return -1;
	if (c->node && !all) {
		if (c->node > cfg->n) {
			cli_err(c, "-n %u: the cluster in %s has nodes 1..%u", c->node, c->dir, cfg->n);
			return -1;
		}
		endpoint_of(cfg, c->node, &out[0]);
		return 1;
	}
	size_t k = 0;
	for (uint32_t id = 1; id <= cfg->n && k < max; id++)
		endpoint_of(cfg, id, &out[k++]);
	return (int)k;
}

/* ---- sockets ---- */

static int remaining_ms(uint64_t deadline_ms)
{
	if (deadline_ms == 0)
		return -1; /* poll: forever */
	uint64_t now = cli_now_ms();
	if (now >= deadline_ms)
		return 0;
	uint64_t left = deadline_ms - now;
	return left > 600000 ? 600000 : (int)left;
}

static int connect_plain(const struct cli_endpoint *ep, uint64_t deadline_ms, char *err,
			 size_t errlen);

/* Writes all of buf within the deadline. 0 or -1 with err set. */
static int send_all(int fd, const uint8_t *buf, size_t total, uint64_t deadline_ms, char *err,
		    size_t errlen)
{
	size_t off = 0;
	while (off < total) {
		ssize_t w = send(fd, buf + off, total - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, remaining_ms(deadline_ms)) == 0) {
				snprintf(err, errlen, "send timed out");
				return -1;
			}
			continue;
		}
		snprintf(err, errlen, "send: %s", w < 0 ? strerror(errno) : "closed");
		return -1;
	}
	return 0;
}

/* One frame, header and body in one write: a frame split over two segments waits for the
 * first one's acknowledgement under Nagle, and a delayed ACK makes that 40 ms. */
static int send_frame(int fd, const uint8_t *body, size_t len, uint64_t deadline_ms, char *err,
		      size_t errlen)
{
	uint8_t *buf = malloc(len + STRATA_CLIENT_HDR);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	strata_be32_put(buf, (uint32_t)len);
	memcpy(buf + STRATA_CLIENT_HDR, body, len);
	int rc = send_all(fd, buf, len + STRATA_CLIENT_HDR, deadline_ms, err, errlen);
	free(buf);
	return rc;
}

/* Requests are small and each waits for its answer: with Nagle on, a request written while
 * the previous write (the handshake's last message) is unacknowledged waits for the node's
 * delayed ACK, 40 ms on Linux, on every command. */
static int new_socket(int family, int type, int protocol)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
	if (fd >= 0) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return fd;
}

/* Reads one whole frame (at most max bytes of body) into a malloc'd *body. 0 or -1. */
static int recv_frame(int fd, uint8_t **body, size_t *len, size_t max, uint64_t deadline_ms,
		      char *err, size_t errlen)
{
	uint8_t hdr[STRATA_CLIENT_HDR];
	size_t got = 0, want = 4;
	uint8_t *dst = hdr;
	*body = NULL;
	for (int part = 0; part < 2; part++) {
		while (got < want) {
			ssize_t r = read(fd, dst + got, want - got);
			if (r > 0) {
				got += (size_t)r;
				continue;
			}
			if (r == 0) {
				snprintf(err, errlen, "connection closed by the node");
				goto fail;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				snprintf(err, errlen, "read: %s", strerror(errno));
				goto fail;
			}
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, remaining_ms(deadline_ms)) == 0) {
				snprintf(err, errlen, "no answer in time");
				goto fail;
			}
		}
		if (part == 0) {
			want = strata_be32_get(hdr);
			if (want > max) {
				snprintf(err, errlen, "frame of %zu bytes exceeds the %zu limit", want,
					 max);
				return -1;
			}
			*body = malloc(want ? want : 1);
			if (!*body) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			dst = *body;
			got = 0;
		}
	}
	*len = want;
	return 0;
fail:
	free(*body);
	*body = NULL;
	return -1;
}

/* The handshake of crypto/session.h, in two halves. auth_start sends message 1 and registers
 * the session under fd (connecting does no more, so a paused node costs the first request its
 * deadline, as without authentication, not the connect); auth_finish, run by the first send,
 * reads message 2 and sends message 3 within that send's deadline. A session whose handshake
 * failed stays registered, wiped, so the descriptor can never fall back to plain frames. Both
 * return 0, or -1 with a reason in err. */
static int auth_start(int fd, uint64_t deadline_ms, char *err, size_t errlen)
{
	struct strata_session *s = malloc(sizeof *s);
	uint8_t hello[STRATA_SESSION_HELLO_LEN];
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strata_session_client_hello(s, cli_auth.key, hello) != 0 || sess_put(fd, s) != 0) {
		snprintf(err, errlen, "could not start a session");
		strata_session_wipe(s);
		free(s);
		return -1;
	}
	return send_frame(fd, hello, sizeof hello, deadline_ms, err, errlen);
}

static int auth_finish(int fd, uint64_t deadline_ms, char *err, size_t errlen)
{
	struct strata_session *s = sess_of(fd);
	if (!s || s->open)
		return 0;
	if (s->role != STRATA_SESSION_CLIENT) {
		snprintf(err, errlen, "the client handshake failed on this connection");
		return -1;
	}
	uint8_t fin[STRATA_SESSION_FINISH_LEN];
	uint8_t *msg = NULL;
	size_t mlen = 0;
	if (recv_frame(fd, &msg, &mlen, CLI_MAX_FRAME, deadline_ms, err, errlen) != 0)
		goto fail;
	int rc = strata_session_client_finish(s, msg, mlen, fin);
	if (rc == STRATA_EPROTO) {
		/* Not a handshake answer: a node that refuses it says why in a Response. */
		Strata__Client__Response *r = strata__client__response__unpack(NULL, mlen, msg);
		snprintf(err, errlen, "the node refused the client handshake: %s",
			 r && r->error && r->error[0] ? r->error : "(no reason given)");
		if (r)
			strata__client__response__free_unpacked(r, NULL);
		cli_auth.refused++;
		goto fail;
	}
	/* Message 3 goes out even when the node's proof failed, so the node counts it too. */
	int src = send_frame(fd, fin, sizeof fin, deadline_ms, err, errlen);
	if (rc != 0) {
		snprintf(err, errlen,
			 "authentication failed: the node does not hold the client key in %s (another "
			 "cluster's key, or the answer was altered)", cli_auth.path);
		cli_auth.refused++;
		goto fail;
	}
	if (src != 0)
		goto fail;
	free(msg);
	return 0;
fail:
	free(msg);
	strata_session_wipe(s); /* role 0: failed for good */
	return -1;
}

int cli_connect(const struct cli_endpoint *ep, uint64_t deadline_ms, char *err, size_t errlen)
{
	int fd = connect_plain(ep, deadline_ms, err, errlen);
	if (fd < 0)
		return -1;
	sess_drop(fd);
	if (cli_auth.key && auth_start(fd, deadline_ms, err, errlen) != 0) {
		sess_drop(fd);
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_plain(const struct cli_endpoint *ep, uint64_t deadline_ms, char *err,
			 size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	char port[8];
	snprintf(port, sizeof port, "%u", ep->port);
	int gai = getaddrinfo(ep->host, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "%s: %s", ep->host, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	snprintf(err, errlen, "no address");
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = new_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int pr;
			do
				pr = poll(&p, 1, remaining_ms(deadline_ms));
			while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				snprintf(err, errlen, "connect timed out");
			} else {
				int soerr = 0;
				socklen_t sl = sizeof soerr;
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (soerr == 0)
					break;
				snprintf(err, errlen, "%s", strerror(soerr));
			}
		} else {
			snprintf(err, errlen, "%s", strerror(errno));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int cli_connect_start(const struct cli_endpoint *ep, int *fd, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	char port[8];
	snprintf(port, sizeof port, "%u", ep->port);
	int gai = getaddrinfo(ep->host, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "%s: %s", ep->host, gai_strerror(gai));
		return -1;
	}
	int s = new_socket(res->ai_family, res->ai_socktype, res->ai_protocol);
	if (s < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	int rc = connect(s, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc == 0) {
		*fd = s;
		return 0;
	}
	if (errno == EINPROGRESS) {
		*fd = s;
		return 1;
	}
	snprintf(err, errlen, "%s", strerror(errno));
	close(s);
	return -1;
}

int cli_connect_finish(int fd, char *err, size_t errlen)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr == 0) {
		sess_drop(fd);
		if (!cli_auth.key)
			return 0;
		uint64_t dl = cli_now_ms() + (uint64_t)(cli_auth.timeout_ms > 0
								? cli_auth.timeout_ms
								: CLI_DEFAULT_TIMEOUT_MS);
		return auth_start(fd, dl, err, errlen) == 0 ? auth_finish(fd, dl, err, errlen) : -1;
	}
	snprintf(err, errlen, "%s", strerror(soerr));
	return -1;
}

/* ---- frames: [u32 body length][body], the body a Request / Response, sealed in a session ---- */

/* Before a request's frame is built: its packed size (*len), the bound, and the session
 * finished if one was started on fd (*sess, NULL without client auth). 0 or -1 with err. */
static int frame_begin(int fd, const Strata__Client__Request *req, uint64_t deadline_ms,
		       size_t *len, struct strata_session **sess, char *err, size_t errlen)
{
	*len = strata__client__request__get_packed_size(req);
	if (*len > CLI_MAX_FRAME) {
		snprintf(err, errlen, "request too large (%zu bytes, at most %u)", *len,
			 CLI_MAX_FRAME);
		return -1;
	}
	if (auth_finish(fd, deadline_ms, err, errlen) != 0)
		return -1;
	*sess = sess_of(fd);
	return 0;
}

/* The frame's body length for a request of len packed bytes. */
static size_t frame_body_len(const struct strata_session *sess, size_t len)
{
	return sess ? len + STRATA_SESSION_ABYTES : len;
}

/* Writes the frame (STRATA_CLIENT_HDR + frame_body_len bytes) at f; with a session, plain (len
 * bytes) holds the packed request while it is sealed, which advances the session's nonce: frames
 * must leave in the order they were built. */
static void frame_put(struct strata_session *sess, const Strata__Client__Request *req, size_t len,
		      uint8_t *f, uint8_t *plain)
{
	size_t body = frame_body_len(sess, len);
	strata_be32_put(f, (uint32_t)body);
	if (sess) {
		strata__client__request__pack(req, plain);
		strata_session_seal(sess, f + STRATA_CLIENT_HDR, plain, len);
	} else {
		strata__client__request__pack(req, f + STRATA_CLIENT_HDR);
	}
}

/* A frame's body (blen bytes) into a Response: opened first in a session (into plain, blen
 * bytes of room). A bundle is refused here (this reader takes one reply per frame; the node
 * bundles only toward a client that bundles its requests: cli_wbuf / cli_breader). 1 with *out,
 * or -1 with err. */
static int frame_decode(struct strata_session *sess, const uint8_t *body, size_t blen,
			uint8_t *plain, ProtobufCAllocator *pa, Strata__Client__Response **out,
			char *err, size_t errlen)
{
	if (sess) {
		if (blen < STRATA_SESSION_ABYTES || strata_session_open(sess, plain, body, blen) != 0) {
			snprintf(err, errlen, "a reply did not authenticate (altered, replayed or not "
					      "from this session)");
			return -1;
		}
		body = plain;
		blen -= STRATA_SESSION_ABYTES;
		if (strata_client_is_bundle(body, blen)) {
			snprintf(err, errlen, "a bundle of replies on a connection that sent none");
			return -1;
		}
	}
	*out = strata__client__response__unpack(pa, blen, body);
	if (!*out) {
		snprintf(err, errlen, "malformed response frame");
		return -1;
	}
	return 1;
}

int cli_send(int fd, const Strata__Client__Request *req, uint64_t deadline_ms, char *err,
	     size_t errlen)
{
	size_t len;
	struct strata_session *sess;
	if (frame_begin(fd, req, deadline_ms, &len, &sess, err, errlen) != 0)
		return -1;
	size_t body = frame_body_len(sess, len);
	uint8_t *buf = malloc(body + STRATA_CLIENT_HDR + (sess ? len : 0));
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	frame_put(sess, req, len, buf, buf + STRATA_CLIENT_HDR + body);
	int rc = send_all(fd, buf, body + STRATA_CLIENT_HDR, deadline_ms, err, errlen);
	free(buf);
	return rc;
}

void cli_reader_init(struct cli_reader *r)
{
	memset(r, 0, sizeof *r);
}

void cli_reader_free(struct cli_reader *r)
{
	free(r->body);
	cli_reader_init(r);
}

/* read() that maps "nothing yet" to 0, end of stream and errors to -1. */
static ssize_t read_some(int fd, uint8_t *buf, size_t n, char *err, size_t errlen)
{
	for (;;) {
		ssize_t got = read(fd, buf, n);
		if (got > 0)
			return got;
		if (got == 0) {
			snprintf(err, errlen, "connection closed by the node");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		snprintf(err, errlen, "read: %s", strerror(errno));
		return -1;
	}
}

int cli_reader_step(struct cli_reader *r, int fd, Strata__Client__Response **out, char *err,
		    size_t errlen)
{
	while (r->hdr_got < STRATA_CLIENT_HDR) {
		ssize_t got = read_some(fd, r->hdr + r->hdr_got, STRATA_CLIENT_HDR - r->hdr_got, err, errlen);
		if (got <= 0)
			return (int)got;
		r->hdr_got += (size_t)got;
		if (r->hdr_got == STRATA_CLIENT_HDR) {
			r->body_len = strata_be32_get(r->hdr);
			if (r->body_len > CLI_MAX_FRAME + STRATA_SESSION_ABYTES) {
				snprintf(err, errlen, "frame of %zu bytes exceeds the %u limit",
					 r->body_len, CLI_MAX_FRAME);
				return -1;
			}
			r->body = malloc(r->body_len ? r->body_len : 1);
			if (!r->body) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			r->body_got = 0;
		}
	}
	while (r->body_got < r->body_len) {
		ssize_t got = read_some(fd, r->body + r->body_got, r->body_len - r->body_got, err,
					errlen);
		if (got <= 0)
			return (int)got;
		r->body_got += (size_t)got;
	}
	struct strata_session *sess = sess_of(fd);
	uint8_t *plain = NULL;
	if (sess && !(plain = malloc(r->body_len ? r->body_len : 1))) {
		cli_reader_free(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = frame_decode(sess, r->body, r->body_len, plain, NULL, out, err, errlen);
	free(plain);
	cli_reader_free(r);
	return rc;
}

int cli_recv(int fd, Strata__Client__Response **out, uint64_t deadline_ms, char *err,
	     size_t errlen)
{
	struct cli_reader r;
	cli_reader_init(&r);
	for (;;) {
		int rc = cli_reader_step(&r, fd, out, err, errlen);
		if (rc != 0) {
			cli_reader_free(&r);
			return rc == 1 ? 0 : -1;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, remaining_ms(deadline_ms));
		if (pr == 0) {
			cli_reader_free(&r);
			snprintf(err, errlen, "no answer in time");
			return 1;
		}
		if (pr < 0 && errno != EINTR) {
			cli_reader_free(&r);
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* ---- many requests per connection ---- */

/* Seals the bundle being built in w into w->buf (one frame) and empties it. 0 or -1 (memory). */
static int wbuf_seal(struct cli_wbuf *w)
{
	if (!w->pn)
		return 0;
	size_t body = w->plen + STRATA_SESSION_ABYTES;
	if (strata_bytes_reserve(&w->buf, &w->cap, w->len + STRATA_CLIENT_HDR + body) != 0)
		return -1;
	uint8_t *f = w->buf + w->len;
	strata_be32_put(f, (uint32_t)body);
	strata_session_seal(w->sess, f + STRATA_CLIENT_HDR, w->plain, w->plen);
	w->len += STRATA_CLIENT_HDR + body;
	w->plen = 0;
	w->pn = 0;
	return 0;
}

int cli_wbuf_append(struct cli_wbuf *w, int fd, const Strata__Client__Request *req,
		    uint64_t deadline_ms, char *err, size_t errlen)
{
	size_t len;
	struct strata_session *sess;
	if (frame_begin(fd, req, deadline_ms, &len, &sess, err, errlen) != 0)
		return -1;
	if (w->pn && w->sess != sess && wbuf_seal(w) != 0)
		goto oom;
	w->sess = sess;
	if (!sess) {
		if (strata_bytes_reserve(&w->buf, &w->cap, w->len + STRATA_CLIENT_HDR + len) != 0)
			goto oom;
		frame_put(NULL, req, len, w->buf + w->len, NULL);
		w->len += STRATA_CLIENT_HDR + len;
		return 0;
	}
	size_t flen = STRATA_CLIENT_HDR + len;
	if (STRATA_CLIENT_BUNDLE_HDR + flen > CLI_MAX_FRAME) {
		/* Too large for a bundle: sealed alone, after what is bundled so far. */
		size_t body = frame_body_len(sess, len);
		if (wbuf_seal(w) != 0 ||
		    strata_bytes_reserve(&w->buf, &w->cap, w->len + STRATA_CLIENT_HDR + body) != 0 ||
		    strata_bytes_reserve(&w->plain, &w->pcap, len ? len : 1) != 0)
			goto oom;
		frame_put(sess, req, len, w->buf + w->len, w->plain);
		w->len += STRATA_CLIENT_HDR + body;
		return 0;
	}
	if (w->plen + flen > CLI_MAX_FRAME && wbuf_seal(w) != 0) /* a bundle is one frame */
		goto oom;
	if (!w->plen)
		w->plen = STRATA_CLIENT_BUNDLE_HDR;
	if (strata_bytes_reserve(&w->plain, &w->pcap, w->plen + flen) != 0)
		goto oom;
	w->plain[0] = STRATA_CLIENT_BUNDLE_MARK;
	frame_put(NULL, req, len, w->plain + w->plen, NULL);
	w->plen += flen;
	w->pn++;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int cli_wbuf_flush(struct cli_wbuf *w, int fd, uint64_t deadline_ms, char *err, size_t errlen)
{
	int rc = 0;
	if (wbuf_seal(w) != 0) { /* sealed now: nonces in the order the frames leave */
		snprintf(err, errlen, "out of memory");
		rc = -1;
	} else if (w->len) {
		rc = send_all(fd, w->buf, w->len, deadline_ms, err, errlen);
	}
	w->len = 0;
	w->plen = 0;
	w->pn = 0;
	return rc;
}

void cli_wbuf_free(struct cli_wbuf *w)
{
	free(w->buf);
	if (w->plain)
		sodium_memzero(w->plain, w->pcap);
	free(w->plain);
	memset(w, 0, sizeof *w);
}

int cli_breader_init(struct cli_breader *r, size_t cap)
{
	memset(r, 0, sizeof *r);
	if (cap < 64)
		cap = 64;
	r->buf = malloc(cap);
	if (!r->buf)
		return -1;
	r->cap = cap;
	/* A reply to the bench's ops is a few dozen bytes of structs and strings (a get's value
	 * beside them); what does not fit is malloc'd and freed at the next call. */
	strata_pb_arena_init(&r->arena, 4096);
	return 0;
}

void cli_breader_free(struct cli_breader *r)
{
	strata_pb_arena_free(&r->arena);
	free(r->buf);
	if (r->plain)
		sodium_memzero(r->plain, r->pcap);
	free(r->plain);
	memset(r, 0, sizeof *r);
}

int cli_breader_step(struct cli_breader *r, int fd, Strata__Client__Response **out, char *err,
		     size_t errlen)
{
	strata_pb_arena_reset(&r->arena); /* the reply returned last */
	for (;;) {
		if (r->boff < r->blen) { /* the next reply of the bundle opened last */
			const uint8_t *fb;
			size_t fl;
			(void)strata_client_bundle_next(r->plain, r->blen, &r->boff, &fb, &fl);
			*out = strata__client__response__unpack(&r->arena.pa, fl, fb);
			if (!*out) {
				snprintf(err, errlen, "malformed response frame in a bundle");
				return -1;
			}
			return 1;
		}
		size_t have = r->end - r->start;
		if (have >= 4) {
			const uint8_t *h = r->buf + r->start;
			size_t blen = strata_be32_get(h);
			if (blen > CLI_MAX_FRAME + STRATA_SESSION_ABYTES) {
				snprintf(err, errlen, "frame of %zu bytes exceeds the %u limit", blen,
					 CLI_MAX_FRAME);
				return -1;
			}
			if (have >= 4 + blen) {
				const uint8_t *body = h + 4;
				r->start += 4 + blen;
				struct strata_session *sess = sess_of(fd);
				if (sess && strata_bytes_reserve(&r->plain, &r->pcap, blen ? blen : 1) != 0) {
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				if (!sess)
					return frame_decode(NULL, body, blen, NULL, &r->arena.pa, out,
							    err, errlen);
				if (blen < STRATA_SESSION_ABYTES ||
				    strata_session_open(sess, r->plain, body, blen) != 0) {
					snprintf(err, errlen, "a reply did not authenticate (altered, "
							      "replayed or not from this session)");
					return -1;
				}
				size_t plen = blen - STRATA_SESSION_ABYTES;
				if (!strata_client_is_bundle(r->plain, plen)) {
					*out = strata__client__response__unpack(&r->arena.pa, plen,
										r->plain);
					if (!*out) {
						snprintf(err, errlen, "malformed response frame");
						return -1;
					}
					return 1;
				}
				/* A bundle: checked whole, then its replies one per call. */
				char why[160];
				if (strata_client_bundle_check(r->plain, plen, CLI_MAX_FRAME, why,
							       sizeof why) < 0) {
					snprintf(err, errlen, "malformed reply %s", why);
					return -1;
				}
				r->boff = STRATA_CLIENT_BUNDLE_HDR;
				r->blen = plen;
				continue;
			}
			if (4 + blen > r->cap && strata_bytes_reserve(&r->buf, &r->cap, 4 + blen) != 0) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
		}
		if (r->short_read) { /* drained when last read: wait for poll */
			r->short_read = false;
			return 0;
		}
		if (r->start) { /* the unsplit tail to the front */
			memmove(r->buf, r->buf + r->start, have);
			r->start = 0;
			r->end = have;
		}
		size_t room = r->cap - r->end;
		ssize_t got = read_some(fd, r->buf + r->end, room, err, errlen);
		if (got <= 0)
			return (int)got;
		r->end += (size_t)got;
		r->short_read = (size_t)got < room;
	}
}

/* ---- one request, one response ---- */

void cli_describe(const struct cli_endpoint *ep, char *buf, size_t n)
{
	if (ep->id)
		snprintf(buf, n, "node %u (%s:%u)", ep->id, ep->host, ep->port);
	else
		snprintf(buf, n, "%s:%u", ep->host, ep->port);
}

int cli_call(struct cli *c, Strata__Client__Request *req, bool idempotent,
	     Strata__Client__Response **out, struct cli_endpoint *answered)
{
	struct cli_endpoint eps[STRATA_MAX_NODES];
	int n = cli_endpoints(c, false, eps, STRATA_MAX_NODES);
	if (n < 0)
		return CLI_EXIT_USAGE;
	char why[2048] = "";
	size_t wlen = 0;
	/* Every error names the command, as typed when cli_op knows it ("kv get"), else the
	 * command's name ("status"). */
	const char *what = c->op_what ? c->op_what : c->cmd;
	const char *pre = what ? what : "", *sep = what ? ": " : "";
	unsigned refused = 0; /* nodes whose handshake failed for good */
	for (int i = 0; i < n; i++) {
		char err[256], who[160];
		cli_describe(&eps[i], who, sizeof who);
		uint64_t deadline = cli_now_ms() + (uint64_t)c->timeout_ms;
		unsigned refused0 = cli_auth.refused;
		int fd = cli_connect(&eps[i], deadline, err, sizeof err);
		bool sent = false;
		int rc = -1;
		if (fd >= 0) {
			req->id = cli_next_id(c);
			if (cli_send(fd, req, deadline, err, sizeof err) == 0) {
				sent = true;
				/* Skip anything that is not our answer (a daemon may stream). */
				for (;;) {
					rc = cli_recv(fd, out, deadline, err, sizeof err);
					if (rc != 0 || (*out)->id == req->id)
						break;
					strata__client__response__free_unpacked(*out, NULL);
					*out = NULL;
				}
			}
			close(fd);
		}
		if (rc == 0) {
			if (answered)
				*answered = eps[i];
			return CLI_EXIT_OK;
		}
		if (sent && !idempotent) {
			cli_err(c, "%s%s%s: %s: outcome unknown", pre, sep, who, err);
			return CLI_EXIT_UNKNOWN;
		}
		if (cli_auth.refused != refused0)
			refused++;
		if (wlen < sizeof why)
			wlen += (size_t)snprintf(why + wlen, sizeof why - wlen, "\n  %s: %s", who, err);
	}
	/* Every node refused this client's key: nothing was sent, and retrying will not help. */
	if (n > 0 && refused == (unsigned)n) {
		if (n == 1)
			cli_err(c, "%s%s%s", pre, sep, why + 3);
		else
			cli_err(c, "%s%sauthentication failed at every node:%s", pre, sep, why);
		return CLI_EXIT_FAIL;
	}
	if (n == 1)
		cli_err(c, "%s%sno answer from %s", pre, sep, why + 3 /* the newline and indent */);
	else
		cli_err(c, "%s%sno node answered:%s", pre, sep, why);
	return CLI_EXIT_UNKNOWN;
}

static const char *op_name(uint32_t op)
{
	switch (op) {
	case CLI_OP_READ: return "read";
	case CLI_OP_WRITE: return "write";
	case CLI_OP_DELETE: return "delete";
	case CLI_OP_CAS: return "cas";
	case CLI_OP_BROADCAST: return "broadcast";
	case CLI_OP_RANGE: return "range";
	default: return "op";
	}
}

int cli_op(struct cli *c, const struct cli_op_args *a, Strata__Client__Response **resp_out,
	   const Strata__Client__OpReply **reply)
{
	Strata__Client__Request req = STRATA__CLIENT__REQUEST__INIT;
	Strata__Client__OpRequest op = STRATA__CLIENT__OP_REQUEST__INIT;
	op.module = (char *)a->module;
	op.op = a->op;
	op.key.data = (uint8_t *)a->key;
	op.key.len = a->key ? a->key_len : 0;
	op.value.data = (uint8_t *)a->value;
	op.value.len = a->value ? a->value_len : 0;
	op.value2.data = (uint8_t *)a->value2;
	op.value2.len = a->value2 ? a->value2_len : 0;
	op.r = a->r;
	op.w = a->w;
	op.session = a->session;
	op.seq = a->seq;
	op.serializable = a->serializable;
	op.limit = a->limit;
	/* Modules that wait for a quorum (registers) answer "timed out, here is who answered"
	 * before this deadline passes. */
	op.timeout_ms = c->timeout_ms > 0 ? (uint32_t)c->timeout_ms : 0;
	c->node_timed_out = false;
	req.body_case = STRATA__CLIENT__REQUEST__BODY_OP;
	req.op = &op;
	Strata__Client__Response *resp = NULL;
	char what[64];
	if (a->what)
		snprintf(what, sizeof what, "%s", a->what);
	else
		snprintf(what, sizeof what, "%s %s", a->module, op_name(a->op));
	/* Only a read may be retried on another node: a write that timed out may have happened,
	 * unless it carries a session, which makes the store apply it once however often sent. */
	bool is_read = a->op == CLI_OP_READ || a->op == CLI_OP_RANGE;
	int rc;
	if (strcmp(a->module, "kv") == 0 && cli_bft_cluster(c)) {
		/* The BFT KV: every replica, f + 1 equal signed outcomes (client/bft.c); reads
		 * too carry a session and sequence number, as every replica must see the same. */
		struct cli_bft_key key;
		uint8_t auth[SMR_BFT_AUTH_LEN];
		if (cli_bft_key_new(&key) != 0) {
			cli_err(c, "crypto initialisation failed (libsodium or STRATA_SHA256)");
			return CLI_EXIT_FAIL;
		}
		op.session = key.session; /* the session this invocation's key pair owns */
		op.seq = 1;
		cli_bft_sign(&key, &op, auth);
		cli_bft_key_wipe(&key);
		rc = cli_bft_call(c, &req, op.session, op.seq, what, &resp);
	} else {
		c->op_what = what;
		rc = cli_call(c, &req, !a->no_retry && (is_read || a->session != 0), &resp, NULL);
		c->op_what = NULL;
	}
	if (resp_out)
		*resp_out = NULL;
	if (reply)
		*reply = NULL;
	if (rc != CLI_EXIT_OK)
		return rc;
	if (resp->status != 0) {
		const char *text = resp->error && resp->error[0] ? resp->error
								  : strata_strerror(resp->status);
		/* The daemon's own deadline (a quorum that did not answer) is an unknown outcome. */
		bool unknown = cli_status_unknown(resp->status);
		c->node_timed_out = resp->status == STRATA_ETIMEDOUT;
		cli_err(c, "%s: %s%s", what, text, cli_unknown_suffix(resp->status));
		strata__client__response__free_unpacked(resp, NULL);
		return unknown ? CLI_EXIT_UNKNOWN : CLI_EXIT_FAIL;
	}
	if (resp->body_case != STRATA__CLIENT__RESPONSE__BODY_OP && is_read) {
		cli_err(c, "%s: the node answered without a value", what);
		strata__client__response__free_unpacked(resp, NULL);
		return CLI_EXIT_FAIL;
	}
	if (reply && resp_out) {
		*resp_out = resp;
		*reply = resp->body_case == STRATA__CLIENT__RESPONSE__BODY_OP ? resp->op : NULL;
	} else {
		strata__client__response__free_unpacked(resp, NULL);
	}
	return CLI_EXIT_OK;
}
