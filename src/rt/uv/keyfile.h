/* Key files: a node's Ed25519 identity on disk.
 *
 * The secret file holds one line, "ed25519-secret <128 hex>" (libsodium's 64-byte secret key:
 * seed followed by public key), and must have mode 0600 or stricter; the public file, the same
 * path plus ".pub", holds "ed25519-public <64 hex>" and may be world-readable. These functions do
 * file I/O, which is why they live in the runtime and not in crypto/.
 *
 * strata_crypto_init() must have been called. Every function returns 0 or a negative STRATA_E*
 * code and, on failure, writes a message naming the file into err (which may be NULL):
 *   STRATA_EIO     the file could not be created, opened, read or written;
 *   STRATA_ECONFIG the file exists but is unsafe (mode) or malformed;
 *   STRATA_EINVAL  the arguments are inconsistent (pk is not the public half of sk). */
#ifndef STRATA_RT_UV_KEYFILE_H
#define STRATA_RT_UV_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

/* Creates path (mode 0600) and path.pub (mode 0644). Refuses to overwrite either file; if the
 * public file cannot be created, the secret file is removed again so no half pair is left. */
int strata_keyfile_write(const char *path, const uint8_t pk[32], const uint8_t sk[64], char *err,
			 size_t errlen);

/* Reads the secret key into sk (64 bytes; the caller's secure memory, e.g. strata_secure_alloc)
 * and derives pk from it. Refuses a file readable or writable by group or others, a file whose
 * content is not exactly one "ed25519-secret <128 hex>" line, and a key whose public half does
 * not belong to its seed. Temporaries holding secret material are wiped. On failure sk is wiped. */
int strata_keyfile_read(const char *path, uint8_t pk[32], uint8_t *sk, char *err, size_t errlen);

/* Reads a public key file ("ed25519-public <64 hex>"). */
int strata_pubkey_read(const char *path, uint8_t pk[32], char *err, size_t errlen);

/* Parses 64 hex characters into a public key and checks it is a valid Ed25519 point;
 * STRATA_EINVAL otherwise. */
int strata_pubkey_parse_hex(uint8_t pk[32], const char *hex);

/* Threshold coin share files (docs/consensus.md): one line "coin-share <64 hex>" (the
 * ristretto255 scalar x_i, canonical and non-zero), mode 0600 or stricter, written by
 * `stratad coin-deal`. write refuses to overwrite; read refuses unsafe modes and malformed
 * content, and wipes its temporaries (and x on failure). */
int strata_coinfile_write(const char *path, const uint8_t x[32], char *err, size_t errlen);
int strata_coinfile_read(const char *path, uint8_t *x, char *err, size_t errlen);

/* The cluster's client key (docs/security.md): one line "strata-client-key <64 hex>" (32 random
 * bytes), mode 0600 or stricter, written by `stratad client-keygen`. write refuses to overwrite;
 * read refuses unsafe modes and malformed content and wipes its temporaries (and key on
 * failure). */
int strata_clientkey_write(const char *path, const uint8_t key[32], char *err, size_t errlen);
int strata_clientkey_read(const char *path, uint8_t *key, char *err, size_t errlen);

#endif
