/* Client protocol frames: split, decode + validate, encode (see client_frame.h). */
#include "rt/uv/client_frame.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"

int strata_client_frame_split(const uint8_t *buf, size_t len, size_t max, const uint8_t **body,
			      size_t *body_len, size_t *consumed)
{
	if (len < STRATA_CLIENT_HDR)
		return 0;
	uint32_t n = strata_be32_get(buf);
	if (n > max)
		return STRATA_ETOOBIG;
	if (len - STRATA_CLIENT_HDR < n)
		return 0;
	*body = buf + STRATA_CLIENT_HDR;
	*body_len = n;
	*consumed = STRATA_CLIENT_HDR + (size_t)n;
	return 1;
}

/* `make check-bundle-broken` builds this file with STRATA_CLIENT_BUNDLE_BROKEN=1 to show that
 * test_client_bundle fails when a bundle cut short is accepted (its whole frames handled, the
 * rest ignored); no other build defines it. */
#ifndef STRATA_CLIENT_BUNDLE_BROKEN
#define STRATA_CLIENT_BUNDLE_BROKEN 0
#endif

int strata_client_bundle_check(const uint8_t *p, size_t len, size_t max, char *err, size_t errlen)
{
	if (!strata_client_is_bundle(p, len)) {
		snprintf(err, errlen, "not a bundle");
		return STRATA_EPROTO;
	}
	size_t off = STRATA_CLIENT_BUNDLE_HDR;
	int n = 0;
	while (off < len) {
		const uint8_t *body;
		size_t blen, used;
		int rc = strata_client_frame_split(p + off, len - off, max, &body, &blen, &used);
		if (rc == 0 && STRATA_CLIENT_BUNDLE_BROKEN == 1 && n > 0)
			return n;
		if (rc != 1) {
			snprintf(err, errlen,
				 rc == 0 ? "bundle: frame %d is cut short (its length or header runs past the bundle)"
					 : "bundle: frame %d larger than the limit",
				 n + 1);
			return STRATA_EPROTO;
		}
		off += used;
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "bundle: no frame");
		return STRATA_EPROTO;
	}
	return n;
}

int strata_client_bundle_next(const uint8_t *p, size_t len, size_t *off, const uint8_t **body,
			      size_t *body_len)
{
	size_t used;
	if (*off >= len)
		return 0;
	int rc = strata_client_frame_split(p + *off, len - *off, SIZE_MAX, body, body_len, &used);
	if (STRATA_CLIENT_BUNDLE_BROKEN == 1 && rc != 1)
		return 0;
	STRATA_ASSERT(rc == 1 && "the bundle was checked");
	*off += used;
	return 1;
}

/* A name: 1..STRATA_CLIENT_MODULE_MAX-1 bytes of printable ASCII (no space, no control byte).
 * An embedded NUL cannot reach here: strings_ok() refused it on the wire. */
static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= STRATA_CLIENT_MODULE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* protobuf-c hands a string field over as a C string, so "nnar\0x" would arrive as "nnar". This
 * walks the encoded message with its descriptor and refuses a NUL byte inside any string field
 * (nested messages included, to a bounded depth). The bytes were already accepted by unpack, so
 * only the framing needs checking here; a malformed length, field number 0 or too deep a
 * nesting is refused too. Returns 1 when the message is fine, 0 for a NUL byte in a string,
 * -1 for malformed framing. */
#define STRINGS_DEPTH_MAX 8

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*pos >= len)
			return -1;
		uint8_t b = p[(*pos)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static int strings_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
		      unsigned depth)
{
	if (depth > STRINGS_DEPTH_MAX)
		return -1;
	size_t pos = 0;
	while (pos < len) {
		uint64_t tag, v;
		if (read_varint(p, len, &pos, &tag) != 0)
			return -1;
		/* Field number 0 is invalid protobuf; protobuf-c accepts it in a non-minimal
		 * encoding (0x80 0x00) and then packs the message into bytes it refuses itself. */
		if (tag >> 3 == 0)
			return -1;
		switch (tag & 7) {
		case 0: /* varint */
			if (read_varint(p, len, &pos, &v) != 0)
				return -1;
			break;
		case 1: /* 64-bit */
			if (len - pos < 8)
				return -1;
			pos += 8;
			break;
		case 5: /* 32-bit */
			if (len - pos < 4)
				return -1;
			pos += 4;
			break;
		case 2: { /* length-delimited */
			if (read_varint(p, len, &pos, &v) != 0 || v > len - pos)
				return -1;
			const ProtobufCFieldDescriptor *f =
				tag >> 3 <= UINT32_MAX
					? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
					: NULL;
			if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p + pos, 0, (size_t)v))
				return 0;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				int rc = strings_ok(f->descriptor, p + pos, (size_t)v, depth + 1);
				if (rc != 1)
					return rc;
			}
			pos += (size_t)v;
			break;
		}
		default: /* groups are not used by proto3 */
			return -1;
		}
	}
	return 1;
}


void strata_client_request_free_in(struct strata_pb_arena *a, Strata__Client__Request *r)
{
	if (a)
		strata_pb_arena_reset(a);
	else if (r)
		strata__client__request__free_unpacked(r, NULL);
}

static int invalid(struct strata_pb_arena *a, Strata__Client__Request *r, char *err,
		   size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	strata_client_request_free_in(a, r);
	return STRATA_EINVAL;
}

int strata_client_request_decode(const uint8_t *body, size_t len, Strata__Client__Request **out,
				 uint64_t *id, char *err, size_t errlen)
{
	return strata_client_request_decode_in(NULL, body, len, out, id, err, errlen);
}

int strata_client_request_decode_in(struct strata_pb_arena *a, const uint8_t *body, size_t len,
				    Strata__Client__Request **out, uint64_t *id, char *err,
				    size_t errlen)
{
	STRATA_ASSERT(out && id);
	*out = NULL;
	*id = 0;
	Strata__Client__Request *r = strata__client__request__unpack(a ? &a->pa : NULL, len, body);
	if (!r) {
		if (a)
			strata_pb_arena_reset(a); /* what the failed unpack allocated */
		snprintf(err, errlen, "malformed request (not a strata.client.Request)");
		return STRATA_EPROTO;
	}
	*id = r->id;
	int sok = strings_ok(&strata__client__request__descriptor, body, len, 0);
	if (sok < 0)
		return invalid(a, r, err, errlen, "malformed request (bad field framing)");
	if (sok == 0)
		return invalid(a, r, err, errlen, "a name or string contains a NUL byte");
	switch (r->body_case) {
	case STRATA__CLIENT__REQUEST__BODY_STATUS:
		break;
	case STRATA__CLIENT__REQUEST__BODY_OP:
		if (!name_ok(r->op->module))
			return invalid(a, r, err, errlen, "op: module name must be 1..31 printable ASCII characters");
		if (r->op->op < 1 || r->op->op > STRATA_CLIENT_OP_MAX)
			return invalid(a, r, err, errlen, "op: op must be 1..7 (read, write, delete, "
							"cas, broadcast, propose, range)");
		break;
	case STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE:
		if (r->subscribe->n_modules > STRATA_CLIENT_SUB_MODULES_MAX)
			return invalid(a, r, err, errlen, "subscribe: at most 16 modules");
		for (size_t i = 0; i < r->subscribe->n_modules; i++)
			if (!name_ok(r->subscribe->modules[i]))
				return invalid(a, r, err, errlen,
					       "subscribe: module names must be 1..31 printable ASCII characters");
		break;
	case STRATA__CLIENT__REQUEST__BODY_NEMESIS:
		if (r->nemesis->drop_pct > 100)
			return invalid(a, r, err, errlen, "nemesis: drop_pct must be 0..100");
		if (r->nemesis->delay_ms > STRATA_NEMESIS_DELAY_MAX_MS)
			return invalid(a, r, err, errlen, "nemesis: delay_ms must be 0..60000");
		break;
	default:
		return invalid(a, r, err, errlen, "request has no body (status, op, subscribe or "
						"nemesis)");
	}
	*out = r;
	return 0;
}

void strata_client_request_free(Strata__Client__Request *r)
{
	strata_client_request_free_in(NULL, r);
}

size_t strata_client_response_frame_size(const Strata__Client__Response *r)
{
	return STRATA_CLIENT_HDR + strata__client__response__get_packed_size(r);
}

void strata_client_response_frame_pack(const Strata__Client__Response *r, uint8_t *dst)
{
	size_t n = strata__client__response__get_packed_size(r);
	STRATA_ASSERT(n <= UINT32_MAX);
	strata_be32_put(dst, (uint32_t)n);
	size_t w = strata__client__response__pack(r, dst + STRATA_CLIENT_HDR);
	STRATA_ASSERT(w == n);
}
