/*
** base/random.c — random bytes (see random.h).
*/
#include "base/random.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

bool mast_random_secure(void *out, size_t n)
{
    unsigned char *p = out;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        p += got;
        n -= (size_t)got;
    }
    return true;
}

static _Thread_local uint64_t state[4];
static _Thread_local bool seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(void)
{
    uint64_t r = rotl(state[1] * 5, 7) * 9, t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return r;
}

void mast_random_fast(void *out, size_t n)
{
    if (!seeded) {
        if (!mast_random_secure(state, sizeof state)) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            uint64_t x = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30) ^ (uint64_t)pthread_self();
            for (int i = 0; i < 4; i++) {   /* splitmix64 */
                x += 0x9E3779B97F4A7C15ull;
                uint64_t z = x;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
                state[i] = z ^ (z >> 31);
            }
        }
        if (!(state[0] | state[1] | state[2] | state[3]))
            state[0] = 1;
        seeded = true;
    }
    unsigned char *p = out;
    while (n) {
        uint64_t r = next();
        size_t k = n < 8 ? n : 8;
        memcpy(p, &r, k);
        p += k;
        n -= k;
    }
}
