/* Always-on assertions. A failed assertion is a programmer error: print where and abort.
 * Never use them for input from a peer, a client or a file; those get error codes. */
#ifndef STRATA_CORE_ASSERT_H
#define STRATA_CORE_ASSERT_H

_Noreturn void strata_assert_fail(const char *expr, const char *file, int line, const char *func);

#define STRATA_ASSERT(c) \
	((c) ? (void)0 : strata_assert_fail(#c, __FILE__, __LINE__, __func__))

#define STRATA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define STRATA_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
