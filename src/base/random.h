/*
** base/random.h — random bytes: from the kernel (getrandom) for secrets,
** from a per-thread generator seeded by the kernel for identifiers that
** must be unique and unpredictable enough but are made once per request.
*/
#ifndef MAST_BASE_RANDOM_H
#define MAST_BASE_RANDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* n bytes from the kernel's generator; false when it cannot give them. */
bool mast_random_secure(void *out, size_t n);
/* n bytes from this thread's generator (xoshiro256**, seeded once per
** thread from the kernel, or from the clock and the thread if it fails):
** no system call. Not for secrets. */
void mast_random_fast(void *out, size_t n);

#endif
