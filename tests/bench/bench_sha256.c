/* SHA-256 and HMAC-SHA256 cost per call: libsodium against src/crypto/sha256.c's portable and
 * SHA-extension compression functions, measured in the same run.
 *
 *   bench_sha256 [--runs R] [--bytes B]      (make bench-sha256; BENCH_SHA256_ARGS passes flags)
 *
 * Hashes of 64 B, 256 B, 1 KiB and 8 KiB (one-shot), and HMACs of a 200-byte and a 1,400-byte
 * datagram with a prepared key (the state after the key's pad blocks copied, then the datagram
 * hashed: what strata_mac_keyed does for every datagram). Each cell hashes about B bytes (default
 * 16 MiB, at least 2,000 calls) per run and reports nanoseconds of thread CPU time per call,
 * the median of R runs (default 5); the variants alternate within each run, so they share the
 * machine's load. The load average at the start is printed with the table. The SHA-extension
 * column is left out on a CPU without them. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/assert.h"
#include "crypto/crypto.h"
#include "crypto/sha256.h"

enum variant { V_SODIUM, V_PORTABLE, V_SHA_NI, V_COUNT };
static const char *const variant_names[V_COUNT] = {"libsodium", "portable", "sha-ni"};

struct cell {
	const char *name;
	size_t len;
	int hmac; /* 0: SHA-256 one-shot; 1: HMAC-SHA256 with a prepared key */
};
static const struct cell cells[] = {
	{"sha256 64 B", 64, 0},	   {"sha256 256 B", 256, 0}, {"sha256 1 KiB", 1024, 0},
	{"sha256 8 KiB", 8192, 0}, {"hmac 200 B", 200, 1},   {"hmac 1400 B", 1400, 1},
};
#define NCELLS (sizeof(cells) / sizeof(cells[0]))

static double thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint8_t sink;

/* ns of CPU per call of cell c with variant v, over `calls` calls. */
static double measure(enum variant v, const struct cell *c, const uint8_t *data, size_t calls,
		      const crypto_auth_hmacsha256_state *sodium_key,
		      const struct strata_hmac_sha256 *own_key)
{
	uint8_t out[32];
	if (v == V_PORTABLE)
		STRATA_ASSERT(strata_sha256_use(STRATA_SHA256_PORTABLE) == 0);
	else if (v == V_SHA_NI)
		STRATA_ASSERT(strata_sha256_use(STRATA_SHA256_SHA_NI) == 0);
	double t0 = thread_cpu_ns();
	for (size_t i = 0; i < calls; i++) {
		if (v == V_SODIUM && !c->hmac) {
			crypto_hash_sha256(out, data, c->len);
		} else if (v == V_SODIUM) {
			crypto_auth_hmacsha256_state st;
			memcpy(&st, sodium_key, sizeof(st));
			crypto_auth_hmacsha256_update(&st, data, c->len);
			crypto_auth_hmacsha256_final(&st, out);
		} else if (!c->hmac) {
			strata_sha256(out, data, c->len);
		} else {
			struct strata_hmac_sha256 st;
			memcpy(&st, own_key, sizeof(st));
			strata_hmac_sha256_update(&st, data, c->len);
			strata_hmac_sha256_final(&st, out);
		}
		sink ^= out[0];
	}
	return (thread_cpu_ns() - t0) / (double)calls;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int runs = 5;
	size_t bytes = 16u << 20;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc)
			bytes = (size_t)strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_sha256 [--runs R] [--bytes B]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 101 || bytes == 0) {
		fprintf(stderr, "bench_sha256: --runs 1..101, --bytes > 0\n");
		return 2;
	}
	STRATA_ASSERT(strata_crypto_init() == 0);
	int nv = strata_sha256_have_sha_ni() ? V_COUNT : V_SHA_NI;
	if (nv < V_COUNT)
		printf("note: no SHA extensions on this CPU: sha-ni column left out\n");

	static uint8_t data[8192];
	uint8_t key[STRATA_LINK_KEY_LEN];
	randombytes_buf(data, sizeof(data));
	randombytes_buf(key, sizeof(key));
	crypto_auth_hmacsha256_state sodium_key;
	crypto_auth_hmacsha256_init(&sodium_key, key, sizeof(key));
	struct strata_hmac_sha256 own_key;
	strata_hmac_sha256_init(&own_key, key, sizeof(key));

	double *ns = calloc((size_t)runs * NCELLS * V_COUNT, sizeof(double));
	STRATA_ASSERT(ns);
	char load[64] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(load, sizeof(load), f))
			strcpy(load, "?");
		fclose(f);
		load[strcspn(load, "\n")] = 0;
	}
	for (int r = 0; r < runs; r++)
		for (size_t c = 0; c < NCELLS; c++) {
			size_t calls = bytes / cells[c].len;
			if (calls < 2000)
				calls = 2000;
			for (int v = 0; v < nv; v++)
				ns[((size_t)r * NCELLS + c) * V_COUNT + (size_t)v] =
					measure((enum variant)v, &cells[c], data, calls,
						&sodium_key, &own_key);
		}

	printf("bench_sha256: ns of CPU per call, median of %d runs (load average at start: %s)\n",
	       runs, load);
	printf("%-14s", "");
	for (int v = 0; v < nv; v++)
		printf(" %12s", variant_names[v]);
	printf("  %s\n", nv == V_COUNT ? "libsodium/sha-ni  portable/sha-ni  MB/s sha-ni" : "");
	for (size_t c = 0; c < NCELLS; c++) {
		double med[V_COUNT] = {0};
		double tmp[101];
		for (int v = 0; v < nv; v++) {
			for (int r = 0; r < runs; r++)
				tmp[r] = ns[((size_t)r * NCELLS + c) * V_COUNT + (size_t)v];
			qsort(tmp, (size_t)runs, sizeof(double), cmp_double);
			med[v] = tmp[runs / 2];
		}
		printf("%-14s", cells[c].name);
		for (int v = 0; v < nv; v++)
			printf(" %12.0f", med[v]);
		if (nv == V_COUNT)
			printf("  %15.2f  %15.2f  %11.0f", med[V_SODIUM] / med[V_SHA_NI],
			       med[V_PORTABLE] / med[V_SHA_NI],
			       (double)cells[c].len / med[V_SHA_NI] * 1e3);
		printf("\n");
	}
	free(ns);
	return 0;
}
