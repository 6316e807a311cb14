/* libFuzzer target for the key file readers (rt/uv/keyfile.c): the input is written to a file of
 * mode 0600 in a private temporary directory, then read as a secret key file, a public key file,
 * a threshold coin share file and a client key file; a NUL-terminated copy is parsed as a public
 * key in hex.
 * Beyond "no crash, no sanitizer report": a read that succeeds returns a consistent key (the
 * secret key's public half equals the returned public key, as the reader promises), and a
 * failed read always explains itself (err is filled).
 *
 * Speed: the file is rewritten for every input, and on a disk file system that is the cost: the
 * first version wrote into /tmp with O_TRUNC, which ext4 (auto_da_alloc) turns into a flush of
 * the file's blocks on close, ~3 ms of waiting per input (30,000 inputs took 91 s of wall time
 * for 6 s of CPU). The directory is now made in a memory file system when there is one
 * (FUZZ_KEYFILE_DIR, else /dev/shm, else TMPDIR or /tmp); the readers still open, stat and
 * read a real file, so nothing of theirs is skipped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/assert.h"
#include "crypto/crypto.h"
#include "rt/uv/keyfile.h"

static char path[256];

static char dir[200];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void init(void)
{
	STRATA_ASSERT(strata_crypto_init() == 0);
	const char *base = getenv("FUZZ_KEYFILE_DIR");
	struct stat st;
	if (!base || !*base)
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
				       access("/dev/shm", W_OK) == 0
			       ? "/dev/shm"
			       : NULL;
	if (!base)
		base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof(dir), "%s/strata-fuzz-keyfile.XXXXXX", base);
	STRATA_ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/k", dir);
	atexit(cleanup);
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	STRATA_ASSERT(fd >= 0);
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		STRATA_ASSERT(w > 0);
		off += (size_t)w;
	}
	STRATA_ASSERT(close(fd) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init();
		ready = true;
	}
	write_input(data, size);
	uint8_t pk[32], sk[64], x[32], half[32];
	char err[512];

	err[0] = 0;
	if (strata_keyfile_read(path, pk, sk, err, sizeof(err)) == 0) {
		STRATA_ASSERT(crypto_sign_ed25519_sk_to_pk(half, sk) == 0);
		STRATA_ASSERT(memcmp(half, pk, sizeof(pk)) == 0);
	} else {
		STRATA_ASSERT(err[0] != 0);
	}
	err[0] = 0;
	if (strata_pubkey_read(path, pk, err, sizeof(err)) != 0)
		STRATA_ASSERT(err[0] != 0);
	err[0] = 0;
	if (strata_coinfile_read(path, x, err, sizeof(err)) != 0)
		STRATA_ASSERT(err[0] != 0);
	err[0] = 0;
	if (strata_clientkey_read(path, x, err, sizeof(err)) != 0)
		STRATA_ASSERT(err[0] != 0);

	char *s = malloc(size + 1);
	STRATA_ASSERT(s);
	memcpy(s, data, size);
	s[size] = 0;
	(void)strata_pubkey_parse_hex(pk, s);
	free(s);
	sodium_memzero(sk, sizeof(sk));
	return 0;
}
