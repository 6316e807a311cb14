/* Client protocol frames: split, decode + validate, encode (see client_frame.h). */
#include "rt/uv/client_frame.h"

#include <stdio.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"

int strata_client_frame_split(const uint8_t *buf, size_t len, size_t max, const uint8_t **body,
			      size_t *body_len, size_t *consumed)
{
	if (len < STRATA_CLIENT_HDR)
		return 0;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
		     (uint32_t)buf[3];
	if (n > max)
		return STRATA_ETOOBIG;
	if (len - STRATA_CLIENT_HDR < n)
		return 0;
	*body = buf + STRATA_CLIENT_HDR;
	*body_len = n;
	*consumed = STRATA_CLIENT_HDR + (size_t)n;
	return 1;
}

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n < STRATA_CLIENT_MODULE_MAX;
}

static int invalid(Strata__Client__Request *r, char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	strata__client__request__free_unpacked(r, NULL);
	return STRATA_EINVAL;
}

int strata_client_request_decode(const uint8_t *body, size_t len, Strata__Client__Request **out,
				 uint64_t *id, char *err, size_t errlen)
{
	STRATA_ASSERT(out && id);
	*out = NULL;
	*id = 0;
	Strata__Client__Request *r = strata__client__request__unpack(NULL, len, body);
	if (!r) {
		snprintf(err, errlen, "malformed request (not a strata.client.Request)");
		return STRATA_EPROTO;
	}
	*id = r->id;
	switch (r->body_case) {
	case STRATA__CLIENT__REQUEST__BODY_STATUS:
		break;
	case STRATA__CLIENT__REQUEST__BODY_OP:
		if (!name_ok(r->op->module))
			return invalid(r, err, errlen, "op: module name must be 1..31 bytes");
		if (r->op->op < 1 || r->op->op > STRATA_CLIENT_OP_MAX)
			return invalid(r, err, errlen, "op: op must be 1..6 (read, write, delete, "
							"cas, broadcast, propose)");
		break;
	case STRATA__CLIENT__REQUEST__BODY_SUBSCRIBE:
		if (r->subscribe->n_modules > STRATA_CLIENT_SUB_MODULES_MAX)
			return invalid(r, err, errlen, "subscribe: at most 16 modules");
		for (size_t i = 0; i < r->subscribe->n_modules; i++)
			if (!name_ok(r->subscribe->modules[i]))
				return invalid(r, err, errlen,
					       "subscribe: module names must be 1..31 bytes");
		break;
	case STRATA__CLIENT__REQUEST__BODY_NEMESIS:
		if (r->nemesis->drop_pct > 100)
			return invalid(r, err, errlen, "nemesis: drop_pct must be 0..100");
		if (r->nemesis->delay_ms > STRATA_NEMESIS_DELAY_MAX_MS)
			return invalid(r, err, errlen, "nemesis: delay_ms must be 0..60000");
		break;
	default:
		return invalid(r, err, errlen, "request has no body (status, op, subscribe or "
						"nemesis)");
	}
	*out = r;
	return 0;
}

void strata_client_request_free(Strata__Client__Request *r)
{
	if (r)
		strata__client__request__free_unpacked(r, NULL);
}

size_t strata_client_response_frame_size(const Strata__Client__Response *r)
{
	return STRATA_CLIENT_HDR + strata__client__response__get_packed_size(r);
}

void strata_client_response_frame_pack(const Strata__Client__Response *r, uint8_t *dst)
{
	size_t n = strata__client__response__get_packed_size(r);
	STRATA_ASSERT(n <= UINT32_MAX);
	dst[0] = (uint8_t)(n >> 24);
	dst[1] = (uint8_t)(n >> 16);
	dst[2] = (uint8_t)(n >> 8);
	dst[3] = (uint8_t)n;
	size_t w = strata__client__response__pack(r, dst + STRATA_CLIENT_HDR);
	STRATA_ASSERT(w == n);
}
