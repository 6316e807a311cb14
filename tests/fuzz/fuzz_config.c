/* libFuzzer target for the config parser: arbitrary text into strata_config_parse.
 *
 * Properties checked beyond "no crash, no sanitizer report": a parse either succeeds with a
 * config that satisfies the documented invariants, or fails with STRATA_ECONFIG and a non-empty,
 * NUL-terminated message that starts with the file name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/crypto.h"

static void check_config(const struct strata_config *c)
{
	STRATA_ASSERT(c->n >= 1 && c->n <= STRATA_MAX_NODES);
	STRATA_ASSERT(c->f < c->n);
	STRATA_ASSERT(c->writer >= 1 && c->writer <= c->n);
	STRATA_ASSERT(c->lkv_r <= c->lkv_replicas && c->lkv_w <= c->lkv_replicas);
	STRATA_ASSERT(c->lkv_replicas <= c->n);
	STRATA_ASSERT(c->heartbeat_ms < c->timeout_ms && c->heartbeat_ms < c->evp_timeout_ms);
	STRATA_ASSERT(c->retransmit_min_ms <= c->retransmit_max_ms);
	STRATA_ASSERT(c->max_datagram >= 512 && c->max_datagram <= 65000);
	STRATA_ASSERT(c->cluster_id[0] != '\0');
	STRATA_ASSERT(memchr(c->cluster_id, '\0', sizeof(c->cluster_id)) != NULL);
	for (uint32_t id = 1; id <= c->n; id++) {
		const struct strata_peer_cfg *p = &c->nodes[id];
		STRATA_ASSERT(p->id == id && p->port != 0 && p->client_port != 0);
		STRATA_ASSERT(p->host[0] != '\0' && memchr(p->host, '\0', sizeof(p->host)) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int crypto_ready;
	if (!crypto_ready) {
		STRATA_ASSERT(strata_crypto_init() == 0);
		crypto_ready = 1;
	}
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct strata_config c;
	char err[256];
	memset(err, 'x', sizeof(err));
	int rc = strata_config_parse(&c, text, "fuzz.ini", err, sizeof(err));
	if (rc == 0) {
		check_config(&c);
	} else {
		STRATA_ASSERT(rc == STRATA_ECONFIG);
		STRATA_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
		STRATA_ASSERT(strncmp(err, "fuzz.ini", 8) == 0);
	}
	free(text);
	return 0;
}
