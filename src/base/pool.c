/*
** base/pool.c — fixed thread pool (see pool.h).
**
** Each job is a generation number: the caller writes the job, then bumps
** the generation (sequentially consistent, so the job is visible to whoever
** sees the new number); it runs its own share and waits for the count of
** finished workers. Both sides spin before sleeping: matrix products issue
** jobs microseconds apart, and a futex wake-up costs tens of microseconds.
** A spinning worker starts the job without taking the mutex (taking it
** while the caller held it put the worker to sleep on the futex: ~4 us lost
** per job, 16% of generation's time); the mutex and condition variables
** only serve threads that went to sleep, counted in n_sleeping and
** main_waiting, each checked after the matching atomic (Dekker style), so
** no wake-up is lost.
*/
#include "base/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/status.h"

#define SPIN_ROUNDS 20000   /* ~100 microseconds of pause before sleeping */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

struct mast_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    _Atomic unsigned long generation;
    _Atomic int n_finished;
    _Atomic int n_sleeping;     /* workers asleep on `wake` (or about to be) */
    _Atomic int main_waiting;   /* the caller asleep on `done` (or about to be) */
    _Atomic int stopping;
    mast_pool_fn fn;
    void *ctx;
    size_t n;
    void *scratch;          /* mast_pool_scratch */
    size_t scratch_size;
};

typedef struct { mast_pool *pool; int index; } worker_arg;

static void run_share(mast_pool *p, int index)
{
    size_t per = p->n / (size_t)p->n_threads, extra = p->n % (size_t)p->n_threads;
    size_t i = (size_t)index;
    size_t begin = i * per + (i < extra ? i : extra);
    size_t end = begin + per + (i < extra ? 1 : 0);
    if (begin < end)
        p->fn(p->ctx, begin, end, index);
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    mast_pool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        for (int spin = 0; spin < SPIN_ROUNDS && atomic_load(&p->generation) == seen &&
                           !atomic_load(&p->stopping);
             spin++)
            cpu_relax();
        if (atomic_load(&p->generation) == seen && !atomic_load(&p->stopping)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->n_sleeping, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stopping))
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->n_sleeping, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stopping))
            break;
        seen = atomic_load(&p->generation);
        run_share(p, index);
        if (atomic_fetch_add(&p->n_finished, 1) + 1 == p->n_threads - 1 && atomic_load(&p->main_waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

mast_status mast_pool_create(mast_pool **out, int n_threads)
{
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    mast_pool *p = calloc(1, sizeof *p);
    if (!p)
        return mast_fail(MAST_ERR_NOMEM, "out of memory creating a thread pool");
    p->n_threads = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (!p->threads) {
        mast_pool_free(p);
        return mast_fail(MAST_ERR_NOMEM, "out of memory creating a thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->pool = p;
            wa->index = i;
        }
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->n_threads = i;   /* only threads 1..i-1 exist */
            mast_pool_free(p);
            return mast_fail(MAST_ERR_INTERNAL, "cannot start worker thread %d", i);
        }
    }
    *out = p;
    return MAST_OK;
}

int mast_pool_size(const mast_pool *pool)
{
    return pool->n_threads;
}

void mast_pool_for(mast_pool *p, size_t n, mast_pool_fn fn, void *ctx)
{
    if (p->n_threads == 1 || n < 2) {
        if (n)
            fn(ctx, 0, n, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store(&p->n_finished, 0);
    atomic_fetch_add(&p->generation, 1);   /* publishes the job */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }

    run_share(p, 0);

    for (int spin = 0; spin < SPIN_ROUNDS && atomic_load(&p->n_finished) < p->n_threads - 1; spin++)
        cpu_relax();
    if (atomic_load(&p->n_finished) < p->n_threads - 1) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->main_waiting, 1);
        while (atomic_load(&p->n_finished) < p->n_threads - 1)
            pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->main_waiting, 0);
        pthread_mutex_unlock(&p->mu);
    }
}

void mast_pool_free(mast_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    if (p->threads)
        for (int i = 1; i < p->n_threads; i++)
            pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p->scratch);
    free(p);
}

void *mast_pool_scratch(mast_pool *p, size_t bytes)
{
    if (bytes <= p->scratch_size)
        return p->scratch;
    size_t size = (bytes + 63) / 64 * 64;
    void *s = aligned_alloc(64, size);
    if (!s)
        return NULL;
    free(p->scratch);
    p->scratch = s;
    p->scratch_size = size;
    return s;
}
