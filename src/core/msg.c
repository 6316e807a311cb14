/* Reference-counted message buffers; see msg.h for the ownership rules. */
#include "core/msg.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

struct strata_msg *strata_msg_alloc(size_t len)
{
	struct strata_msg *m = malloc(sizeof(*m) + len);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = len;
	return m;
}

struct strata_msg *strata_msg_new(const void *data, size_t len)
{
	struct strata_msg *m = strata_msg_alloc(len);
	if (m && len)
		memcpy(m->data, data, len);
	return m;
}

struct strata_msg *strata_msg_ref(struct strata_msg *m)
{
	STRATA_ASSERT(m && m->refs > 0);
	m->refs++;
	return m;
}

void strata_msg_unref(struct strata_msg *m)
{
	if (!m)
		return;
	STRATA_ASSERT(m->refs > 0);
	if (--m->refs == 0)
		free(m);
}
