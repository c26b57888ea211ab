/*
** deploy/models.c — served models: background loading, one worker thread and
** a bounded queue each (see models.h).
*/
#include "deploy/models.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "model/gguf.h"

#define DEFAULT_QUEUE 16

typedef struct job {
    mast_model_job_fn fn;
    void *arg;
} job;

typedef struct models_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_cond_t loaded_cv;    /* broadcast when the state leaves LOADING */
    pthread_t thread;
    int started, stopping;
    mast_model_state state;
    char *error;                 /* why it failed to load */
    job *jobs;                   /* a ring of `ring` */
    size_t head, n, ring;
    size_t cap;                  /* jobs that may wait beyond the free slots */
    const mast_local_opts *local;
    int threads;
    int slots, active;           /* batched chat models: slots, and jobs running (the worker's count) */
    mast_slot_info *snap;        /* ... and what each slot held after the last step */
} models_queue;

struct mast_models {
    mast_model *models;
    size_t n;
    mast_local_opts local;
};

/* The stem of a path: "dir/name.gguf" -> "name". */
static char *stem_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
        n -= 5;
    return strndup(base, n);
}

/* A model file's architecture, read from its header (fails fast on a typo,
** a file that is not GGUF, or the wrong kind of model). */
static mast_status check_file(const mast_model_spec *s)
{
    mast_gguf *g;
    MAST_TRY(mast_gguf_open(&g, s->path));
    mast_gguf_str arch = {"", 0};
    mast_status st = MAST_OK;
    if (mast_gguf_get_str(g, "general.architecture", &arch) != MAST_OK)
        st = mast_fail(MAST_ERR_FORMAT, "%s: no general.architecture", s->path);
    else if (s->kind == MAST_MODEL_EMBED && !(arch.len == 4 && !memcmp(arch.data, "bert", 4)) &&
             !(arch.len == 11 && !memcmp(arch.data, "mast-static", 11)))
        st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not an embedding model "
                       "(bert or mast-static)", s->path, (int)arch.len, arch.data);
    else if (s->kind == MAST_MODEL_CHAT && !(arch.len == 5 && !memcmp(arch.data, "llama", 5)) &&
             !(arch.len == 5 && !memcmp(arch.data, "qwen2", 5)))
        st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not a generative model "
                       "mast runs (llama, qwen2)%s", s->path, (int)arch.len, arch.data,
                       arch.len == 4 && !memcmp(arch.data, "bert", 4) ? "; serve it with --embed-model" : "");
    mast_gguf_close(g);
    return st;
}

static void *worker(void *arg)
{
    mast_model *m = arg;
    models_queue *q = m->queue;
    mast_status st;
    if (m->kind == MAST_MODEL_CHAT) {
        st = mast_local_generator_open(m->path, q->local, &m->gen);
        if (st == MAST_OK)
            st = mast_local_generator_info(m->gen, &m->info);
    } else {
        st = mast_embedder_open(&m->emb, m->path, q->threads);
        if (st == MAST_OK)
            m->dim = mast_embedder_dim(m->emb);
    }
    pthread_mutex_lock(&q->mu);
    pthread_cond_broadcast(&q->loaded_cv);
    if (st != MAST_OK) {
        q->error = strdup(mast_errmsg());
        q->state = MAST_MODEL_FAILED;
        mast_error("model %s failed to load: %s", m->id, mast_errmsg());
    } else {
        q->state = MAST_MODEL_READY;
        if (m->gen)
            mast_info("model %s ready (%s; %d slots of %d tokens)", m->id, m->path,
                      mast_local_generator_slots(m->gen), m->info.n_ctx);
        else
            mast_info("model %s ready (%s)", m->id, m->path);
    }
    /* Chat models run their jobs together: each job begins in a free slot
    ** and every step advances them all (mast_local_generator_step); a
    ** waiting job begins as soon as a slot frees. Others run one at a time. */
    bool batched = m->kind == MAST_MODEL_CHAT && m->gen;
    q->slots = batched ? mast_local_generator_slots(m->gen) : 0;
    if (batched)   /* without memory for it, the slots are not shown */
        q->snap = calloc((size_t)q->slots, sizeof *q->snap);
    if (q->snap)
        mast_local_generator_slot_info(m->gen, q->snap, q->slots);
    for (;;) {
        while (q->n && (!batched || q->active < q->slots)) {
            job j = q->jobs[q->head];
            q->head = (q->head + 1) % q->ring;
            q->n--;
            int cancelled = q->stopping || q->state != MAST_MODEL_READY;
            pthread_mutex_unlock(&q->mu);
            j.fn(j.arg, m, cancelled);
            pthread_mutex_lock(&q->mu);
            q->active = batched ? mast_local_generator_active(m->gen) : 0;
            if (q->snap)
                mast_local_generator_slot_info(m->gen, q->snap, q->slots);
        }
        if (q->active) {   /* the running jobs finish even while the server stops */
            pthread_mutex_unlock(&q->mu);
            mast_local_generator_step(m->gen);
            int active = mast_local_generator_active(m->gen);
            pthread_mutex_lock(&q->mu);
            q->active = active;
            if (q->snap)
                mast_local_generator_slot_info(m->gen, q->snap, q->slots);
            continue;
        }
        if (q->stopping && !q->n)
            break;
        if (!q->n)
            pthread_cond_wait(&q->cv, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

mast_status mast_models_open(mast_models **out, const mast_model_spec *specs, size_t n,
                             const mast_local_opts *local, int threads, size_t queue_max)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        MAST_TRY(check_file(&specs[i]));
    mast_models *ms = calloc(1, sizeof *ms);
    if (!ms || (n && !(ms->models = calloc(n, sizeof *ms->models)))) {
        free(ms);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    ms->local = local ? *local : MAST_LOCAL_OPTS_DEFAULT;
    mast_status st = MAST_OK;
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        mast_model *m = &ms->models[i];
        m->kind = specs[i].kind;
        m->path = strdup(specs[i].path);
        m->id = specs[i].alias ? strdup(specs[i].alias) : stem_of(specs[i].path);
        m->queue = calloc(1, sizeof *m->queue);
        if (!m->path || !m->id || !m->queue) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        ms->n = i + 1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(ms->models[k].id, m->id) == 0)
                st = mast_fail(MAST_ERR_EXISTS, "two models are named '%s' (%s and %s): name one "
                               "with --alias NAME=FILE", m->id, ms->models[k].path, m->path);
        struct stat sb;
        m->created = stat(m->path, &sb) == 0 ? (int64_t)sb.st_mtime : 0;
        models_queue *q = m->queue;
        q->cap = queue_max ? queue_max : DEFAULT_QUEUE;
        q->local = &ms->local;
        q->threads = threads;
        q->state = MAST_MODEL_LOADING;
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->cv, NULL);
        pthread_cond_init(&q->loaded_cv, NULL);
        q->ring = q->cap;
        if (!(q->jobs = calloc(q->ring, sizeof *q->jobs)))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < ms->n && st == MAST_OK; i++) {
        mast_model *m = &ms->models[i];
        if (pthread_create(&m->queue->thread, NULL, worker, m) != 0)
            st = mast_fail(MAST_ERR_INTERNAL, "cannot start a thread for model %s", m->id);
        else
            m->queue->started = 1;
    }
    if (st != MAST_OK) {
        mast_models_close(ms);
        return st;
    }
    *out = ms;
    return MAST_OK;
}

void mast_models_close(mast_models *ms)
{
    if (!ms)
        return;
    for (size_t i = 0; i < ms->n; i++) {
        models_queue *q = ms->models[i].queue;
        if (!q || !q->started)
            continue;
        pthread_mutex_lock(&q->mu);
        q->stopping = 1;   /* waiting jobs still run, cancelled, so that each answers */
        pthread_cond_signal(&q->cv);
        pthread_cond_broadcast(&q->loaded_cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
    }
    for (size_t i = 0; i < ms->n; i++) {
        mast_model *m = &ms->models[i];
        mast_generator_free(m->gen);
        mast_embedder_free(m->emb);
        if (m->queue) {
            pthread_mutex_destroy(&m->queue->mu);
            pthread_cond_destroy(&m->queue->cv);
            pthread_cond_destroy(&m->queue->loaded_cv);
            free(m->queue->jobs);
            free(m->queue->snap);
            free(m->queue->error);
            free(m->queue);
        }
        free(m->id);
        free(m->path);
    }
    free(ms->models);
    free(ms);
}

size_t mast_models_count(const mast_models *ms)
{
    return ms ? ms->n : 0;
}

mast_model *mast_models_at(mast_models *ms, size_t i)
{
    return ms && i < ms->n ? &ms->models[i] : NULL;
}

mast_model *mast_models_find(mast_models *ms, const char *id)
{
    for (size_t i = 0; ms && id && i < ms->n; i++)
        if (strcmp(ms->models[i].id, id) == 0)
            return &ms->models[i];
    return NULL;
}

mast_model *mast_models_first(mast_models *ms, mast_model_kind kind)
{
    for (size_t i = 0; ms && i < ms->n; i++)
        if (ms->models[i].kind == kind)
            return &ms->models[i];
    return NULL;
}

mast_model_state mast_model_state_of(mast_model *m, const char **error)
{
    pthread_mutex_lock(&m->queue->mu);
    mast_model_state s = m->queue->state;
    if (error)
        *error = m->queue->error;   /* set once, before the state says FAILED */
    pthread_mutex_unlock(&m->queue->mu);
    return s;
}

mast_model_state mast_model_wait_loaded(mast_model *m, double timeout_s, const char **error)
{
    models_queue *q = m->queue;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    pthread_mutex_lock(&q->mu);
    while (q->state == MAST_MODEL_LOADING && !q->stopping)
        if (pthread_cond_timedwait(&q->loaded_cv, &q->mu, &until) != 0)
            break;
    mast_model_state s = q->state;
    if (error)
        *error = q->error;
    pthread_mutex_unlock(&q->mu);
    return s;
}

bool mast_models_ready(mast_models *ms, const char **why_id, mast_model_state *why_state)
{
    for (size_t i = 0; ms && i < ms->n; i++) {
        mast_model_state s = mast_model_state_of(&ms->models[i], NULL);
        if (s != MAST_MODEL_READY) {
            *why_id = ms->models[i].id;
            *why_state = s;
            return false;
        }
    }
    return true;
}

/* Twice the room, the waiting jobs first in order. */
static bool grow_ring(models_queue *q)
{
    job *jobs = malloc(2 * q->ring * sizeof *jobs);
    if (!jobs)
        return false;
    for (size_t i = 0; i < q->n; i++)
        jobs[i] = q->jobs[(q->head + i) % q->ring];
    free(q->jobs);
    q->jobs = jobs;
    q->head = 0;
    q->ring *= 2;
    return true;
}

mast_status mast_model_submit(mast_model *m, mast_model_job_fn fn, void *arg)
{
    models_queue *q = m->queue;
    mast_status st = MAST_OK;
    pthread_mutex_lock(&q->mu);
    if (q->state == MAST_MODEL_FAILED)
        st = mast_fail(MAST_ERR_UNSUPPORTED, "model %s failed to load: %s", m->id, q->error);
    else if (q->stopping)
        st = mast_fail(MAST_ERR_UNSUPPORTED, "the server is stopping");
    else if (q->n >= q->cap + (size_t)(q->slots - q->active))   /* free slots take some at once */
        st = mast_fail(MAST_ERR_LIMIT, "model %s is busy: %d requests are running and %zu waiting "
                       "(the queue's limit); retry later", m->id, q->active,
                       q->n - (size_t)(q->slots - q->active));
    else if (q->n == q->ring && !grow_ring(q))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    else {
        q->jobs[(q->head + q->n) % q->ring] = (job){fn, arg};
        q->n++;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return st;
}

int mast_model_slots(mast_model *m, mast_slot_info *out, int cap)
{
    models_queue *q = m->queue;
    pthread_mutex_lock(&q->mu);
    int n = q->snap ? q->slots : 0;
    for (int i = 0; i < n && i < cap; i++)
        out[i] = q->snap[i];
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t mast_model_queued(mast_model *m)
{
    pthread_mutex_lock(&m->queue->mu);
    size_t n = m->queue->n;
    pthread_mutex_unlock(&m->queue->mu);
    return n;
}
