/*
** deploy/models.c — served models: loading on first use, residency (LRU,
** keep-alive), one worker thread and a bounded queue each (see models.h).
**
** Locks: the set's mutex (ms->mu: the residency's books and the list's
** growth) is taken before a model's (q->mu), never after. A model's worker
** loads and unloads it; everything else asks, under q->mu, and waits.
*/
#include "deploy/models.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/status.h"
#include "model/gguf.h"
#include "model/pull.h"
#include "observe/metrics.h"

#define DEFAULT_QUEUE 16
#define MAX_MODELS 4096   /* -m models, local deployments and a models folder's files */

typedef struct job {
    mast_model_job_fn fn;
    void *arg;
} job;

typedef struct models_queue {
    mast_models *set;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* the worker waits here for work, loads, unloads and expiry */
    pthread_cond_t loaded_cv;    /* broadcast when the state changes or an unload ends */
    pthread_t thread;
    int started, stopping;
    mast_model_state state;
    char *error;                 /* why the last load failed */
    bool preload;                /* loaded at start-up: /health waits for its first load */
    int loads;
    double load_seconds;
    /* residency */
    int users;                   /* pins (mast_model_acquire) */
    int load_waiters;            /* requests that waited through a load: they pin before it may unload */
    bool evict;                  /* unload as soon as idle (another model needs the room, or an admin) */
    bool admin_unload;           /* ... because an admin asked */
    int64_t expire_ms;           /* monotonic time an idle model unloads; <0: never */
    int64_t last_used_ms;
    bool resident;               /* counted in the set's books (loading or loaded); ms->mu */
    uint64_t resident_bytes;     /* ... for this many bytes; ms->mu */
    /* the jobs */
    job *jobs;                   /* a ring of `ring` */
    size_t head, n, ring;
    size_t cap;                  /* jobs that may wait beyond the free slots */
    int slots, active;           /* batched chat models: slots, and jobs running (the worker's count) */
    mast_slot_info *snap;        /* ... and what each slot held after the last step */
    /* what the model said of itself when it last loaded (kept while unloaded) */
    bool known;
    char arch[32], quant[16], chat_format[16], template_note[256];
    int n_ctx, n_ctx_train, n_vocab, dim;
} models_queue;

struct mast_models {
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* broadcast when a model unloads or becomes ready */
    mast_model **models;         /* MAX_MODELS entries; the first n published */
    size_t n;                    /* read without the lock: __atomic */
    mast_models_opts o;
    mast_local_opts local;
    char *models_dir;
    int n_resident;
    uint64_t resident_bytes;
    int stopping;
};

static int64_t mono_ms(void)
{
    return mast_mono_us() / 1000;
}

/* A monotonic deadline `ms` from now (the condition variables use CLOCK_MONOTONIC). */
static struct timespec deadline_in(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double s = seconds > 1e8 ? 1e8 : seconds < 0 ? 0 : seconds;
    t.tv_sec += (time_t)s;
    t.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

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

static bool arch_is(mast_gguf_str a, const char *name)
{
    return a.len == strlen(name) && !memcmp(a.data, name, a.len);
}

/* A model file's architecture, read from its header (fails fast on a typo,
** a file that is not GGUF, or the wrong kind of model). With *kind < 0, the
** kind is the architecture's. */
static mast_status check_file(const char *path, int *kind)
{
    mast_gguf *g;
    MAST_TRY(mast_gguf_open(&g, path));
    mast_gguf_str arch = {"", 0};
    mast_status st = MAST_OK;
    bool embed = false, chat = false;
    if (mast_gguf_get_str(g, "general.architecture", &arch) != MAST_OK) {
        st = mast_fail(MAST_ERR_FORMAT, "%s: no general.architecture", path);
    } else {
        embed = arch_is(arch, "bert") || arch_is(arch, "mast-static");
        chat = arch_is(arch, "llama") || arch_is(arch, "qwen2");
        if (*kind < 0 && (embed || chat))
            *kind = chat ? MAST_MODEL_CHAT : MAST_MODEL_EMBED;
        if (*kind < 0)
            st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not one mast serves "
                           "(llama, qwen2; bert, mast-static)", path, (int)arch.len, arch.data);
        else if (*kind == MAST_MODEL_EMBED && !embed)
            st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not an embedding model "
                           "(bert or mast-static)", path, (int)arch.len, arch.data);
        else if (*kind == MAST_MODEL_CHAT && !chat)
            st = mast_fail(MAST_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not a generative model "
                           "mast runs (llama, qwen2)%s", path, (int)arch.len, arch.data,
                           arch_is(arch, "bert") ? "; serve it with --embed-model" : "");
    }
    mast_gguf_close(g);
    return st;
}

/* ---- loading and unloading (on the model's worker) ---- */

static mast_metric_family *m_loads, *m_unloads;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_loads = mast_metric_new("mast_model_load_seconds", "Time to load a model into memory (after "
                              "making room), by model and outcome", MAST_HISTOGRAM,
                              (const char *const[]){"model", "outcome", NULL}, MAST_BUCKETS_DURATION,
                              MAST_BUCKETS_DURATION_N);
    m_unloads = mast_metric_new("mast_model_unloads_total", "Models unloaded, by model and reason "
                                "(evict: for another model; admin: asked to; keep_alive: idle long enough)",
                                MAST_COUNTER, (const char *const[]){"model", "reason", NULL}, NULL, 0);
}

/* The bytes a model holds once loaded, as the books count them: its file
** (the weights are mapped and read whole) and its KV budget. */
static uint64_t need_bytes(const mast_models *ms, const mast_model *m)
{
    return m->file_bytes + (m->kind == MAST_MODEL_CHAT ? ms->local.kv_memory : 0);
}

/* Reserves m's room in the books, asking the least recently used other
** model to unload until it fits (a busy one finishes first). */
static mast_status make_room(mast_models *ms, mast_model *m)
{
    uint64_t need = need_bytes(ms, m);
    pthread_mutex_lock(&ms->mu);
    mast_status st = MAST_OK;
    for (;;) {
        if (ms->stopping) {
            st = mast_fail(MAST_ERR_UNSUPPORTED, "the server is stopping");
            break;
        }
        bool fits = (!ms->o.max_loaded || ms->n_resident < ms->o.max_loaded) &&
                    (!ms->o.max_bytes || ms->resident_bytes + need <= ms->o.max_bytes);
        if (fits) {
            ms->n_resident++;
            ms->resident_bytes += need;
            m->queue->resident = true;
            m->queue->resident_bytes = need;
            break;
        }
        if (ms->o.max_bytes && need > ms->o.max_bytes) {
            st = mast_fail(MAST_ERR_LIMIT, "model %s needs %llu bytes (its file%s), more than "
                           "--max-model-memory allows (%llu)", m->id, (unsigned long long)need,
                           m->kind == MAST_MODEL_CHAT && ms->local.kv_memory ? " and its --kv-memory" : "",
                           (unsigned long long)ms->o.max_bytes);
            break;
        }
        /* one eviction at a time; the victim: idle before busy, then least recently used */
        size_t n = __atomic_load_n(&ms->n, __ATOMIC_ACQUIRE);
        mast_model *victim = NULL;
        bool victim_idle = false, evicting = false;
        int64_t victim_used = 0;
        for (size_t i = 0; i < n; i++) {
            mast_model *o = ms->models[i];
            models_queue *oq = o->queue;
            if (o == m || !oq->resident)
                continue;
            pthread_mutex_lock(&oq->mu);
            evicting |= oq->evict;
            bool ready = oq->state == MAST_MODEL_READY && !oq->evict;
            bool idle = !oq->users && !oq->active && !oq->n && !oq->load_waiters;
            int64_t used = oq->last_used_ms;
            pthread_mutex_unlock(&oq->mu);
            if (ready && (!victim || (idle && !victim_idle) ||
                          (idle == victim_idle && used < victim_used))) {
                victim = o;
                victim_idle = idle;
                victim_used = used;
            }
        }
        if (victim && !evicting) {
            mast_info("model %s unloads to make room for %s", victim->id, m->id);
            pthread_mutex_lock(&victim->queue->mu);
            victim->queue->evict = true;
            pthread_cond_signal(&victim->queue->cv);
            pthread_mutex_unlock(&victim->queue->mu);
        }
        /* an unload (or a load ending, which makes a victim) broadcasts; the timeout is a guard */
        struct timespec until = deadline_in(1.0);
        pthread_cond_timedwait(&ms->cv, &ms->mu, &until);
    }
    pthread_mutex_unlock(&ms->mu);
    return st;
}

static void unreserve(mast_models *ms, models_queue *q)
{
    pthread_mutex_lock(&ms->mu);
    if (q->resident) {
        ms->n_resident--;
        ms->resident_bytes -= q->resident_bytes;
        q->resident = false;
        q->resident_bytes = 0;
    }
    pthread_cond_broadcast(&ms->cv);
    pthread_mutex_unlock(&ms->mu);
}

/* What a loaded model says of itself, copied so a listing can show it unloaded. */
static void remember(mast_model *m)
{
    models_queue *q = m->queue;
    q->known = true;
    if (m->kind == MAST_MODEL_CHAT) {
        snprintf(q->arch, sizeof q->arch, "%s", m->info.arch ? m->info.arch : "");
        snprintf(q->quant, sizeof q->quant, "%s", m->info.quant ? m->info.quant : "");
        q->n_ctx = m->info.n_ctx;
        q->n_ctx_train = m->info.n_ctx_train;
        q->n_vocab = m->info.n_vocab;
        const char *why = NULL;
        const char *how = mast_local_generator_template(m->gen, &why);
        snprintf(q->chat_format, sizeof q->chat_format, "%s", how ? how : "plain");
        snprintf(q->template_note, sizeof q->template_note, "%s", why ? why : "");
    } else {
        q->dim = m->dim;
    }
}

/* On the worker, state LOADING: makes room, opens the model, READY or FAILED. */
static void load(mast_model *m)
{
    models_queue *q = m->queue;
    mast_models *ms = q->set;
    int64_t t0 = mast_mono_us();
    mast_status st = make_room(ms, m);
    int64_t t1 = mast_mono_us();
    mast_generator *gen = NULL;
    mast_embedder *emb = NULL;
    if (st == MAST_OK && m->kind == MAST_MODEL_CHAT) {
        st = mast_local_generator_open(m->path, &ms->local, &gen);
        if (st == MAST_OK)
            st = mast_local_generator_info(gen, &m->info);
    } else if (st == MAST_OK) {
        st = mast_embedder_open(&emb, m->path, ms->o.threads);
        if (st == MAST_OK)
            m->dim = mast_embedder_dim(emb);
    }
    double secs = (double)(mast_mono_us() - t1) / 1e6;
    pthread_once(&metrics_once, metrics_init);
    mast_metric_observe(m_loads, (const char *const[]){m->id, st == MAST_OK ? "ok" : "failed"}, secs);
    if (st != MAST_OK) {
        char *why = strdup(mast_errmsg());
        mast_generator_free(gen);
        mast_embedder_free(emb);
        unreserve(ms, q);
        pthread_mutex_lock(&q->mu);
        free(q->error);
        q->error = why;
        q->state = MAST_MODEL_FAILED;
        q->loads++;   /* an attempt: a preload that failed is reported, not waited for */
        mast_error("model %s failed to load: %s", m->id, why ? why : "out of memory");
    } else {
        pthread_mutex_lock(&q->mu);
        m->gen = gen;
        m->emb = emb;
        free(q->error);
        q->error = NULL;
        remember(m);
        q->slots = gen ? mast_local_generator_slots(gen) : 0;
        free(q->snap);
        q->snap = gen ? calloc((size_t)q->slots, sizeof *q->snap) : NULL;   /* without memory, no slots shown */
        if (q->snap)
            mast_local_generator_slot_info(gen, q->snap, q->slots);
        q->loads++;
        q->load_seconds = secs;
        q->state = MAST_MODEL_READY;
        q->last_used_ms = mono_ms();
        int64_t keep = ms->o.keep_alive_ms;
        q->expire_ms = keep < 0 ? -1 : q->last_used_ms + keep;
        if (gen)
            mast_info("model %s ready in %.0f ms%s (%s; %d slots of %d tokens)", m->id, secs * 1e3,
                      t1 - t0 > 1000 ? " after making room" : "", m->path, q->slots, m->info.n_ctx);
        else
            mast_info("model %s ready in %.0f ms (%s)", m->id, secs * 1e3, m->path);
    }
    pthread_cond_broadcast(&q->loaded_cv);
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_lock(&ms->mu);   /* a loader waiting for room may now pick this one */
    pthread_cond_broadcast(&ms->cv);
    pthread_mutex_unlock(&ms->mu);
}

static bool idle(const models_queue *q)
{
    return !q->users && !q->active && !q->n && !q->load_waiters;
}

/* On the worker, with q->mu held and the model idle: unloads it (the lock
** is dropped while the memory is freed). */
static void unload(mast_model *m)
{
    models_queue *q = m->queue;
    pthread_once(&metrics_once, metrics_init);
    mast_metric_add(m_unloads, (const char *const[]){m->id, !q->evict ? "keep_alive" : q->admin_unload
                                                        ? "admin" : "evict"}, 1);
    mast_generator *gen = m->gen;
    mast_embedder *emb = m->emb;
    m->gen = NULL;
    m->emb = NULL;
    memset(&m->info, 0, sizeof m->info);
    free(q->snap);
    q->snap = NULL;
    q->slots = 0;
    q->state = MAST_MODEL_UNLOADED;
    bool evicted = q->evict, asked = q->admin_unload;
    pthread_mutex_unlock(&q->mu);
    mast_generator_free(gen);
    mast_embedder_free(emb);
    unreserve(q->set, q);
    mast_info("model %s unloaded (%s)", m->id, evicted ? (asked ? "asked to" : "for another model")
                                                       : "its keep-alive ran out");
    pthread_mutex_lock(&q->mu);
    q->evict = false;
    q->admin_unload = false;
    pthread_cond_broadcast(&q->loaded_cv);
}

static void *worker(void *arg)
{
    mast_model *m = arg;
    models_queue *q = m->queue;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->state == MAST_MODEL_LOADING && !q->stopping) {
            pthread_mutex_unlock(&q->mu);
            load(m);
            pthread_mutex_lock(&q->mu);
            continue;
        }
        /* Chat models run their jobs together: each job begins in a free slot
        ** and every step advances them all (mast_local_generator_step); a
        ** waiting job begins as soon as a slot frees. Others run one at a time. */
        bool batched = m->gen != NULL;
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
        if (q->state == MAST_MODEL_READY && idle(q) &&
            (q->evict || (q->expire_ms >= 0 && mono_ms() >= q->expire_ms))) {
            unload(m);
            continue;
        }
        if (q->n)
            continue;
        if (q->state == MAST_MODEL_READY && idle(q) && q->expire_ms >= 0) {
            struct timespec until = deadline_in((double)(q->expire_ms - mono_ms()) / 1e3 + 0.001);
            pthread_cond_timedwait(&q->cv, &q->mu, &until);
        } else {
            pthread_cond_wait(&q->cv, &q->mu);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- the set ---- */

static void model_free(mast_model *m)
{
    if (!m)
        return;
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
    free(m);
}

/* A model for path (its kind checked), not yet published. */
static mast_status model_new(mast_models *ms, const char *path, const char *alias, int kind,
                             mast_model **out)
{
    *out = NULL;
    MAST_TRY(check_file(path, &kind));
    mast_model *m = calloc(1, sizeof *m);
    models_queue *q = m ? calloc(1, sizeof *q) : NULL;
    if (!m || !q) {
        free(m);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    m->queue = q;
    m->kind = (mast_model_kind)kind;
    m->path = strdup(path);
    m->id = alias ? strdup(alias) : stem_of(path);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        m->created = (int64_t)sb.st_mtime;
        m->file_bytes = (uint64_t)sb.st_size;
    }
    q->set = ms;
    q->cap = ms->o.queue_max ? ms->o.queue_max : DEFAULT_QUEUE;
    q->ring = q->cap;
    q->state = MAST_MODEL_UNLOADED;
    q->expire_ms = -1;
    pthread_mutex_init(&q->mu, NULL);
    cond_init_mono(&q->cv);
    cond_init_mono(&q->loaded_cv);
    q->jobs = calloc(q->ring, sizeof *q->jobs);
    if (!m->path || !m->id || !q->jobs) {
        model_free(m);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return MAST_OK;
}

static mast_model *find_in(mast_models *ms, const char *id)
{
    size_t n = __atomic_load_n(&ms->n, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ms->models[i]->id, id) == 0)
            return ms->models[i];
    return NULL;
}

/* Starts m's worker and publishes it; ms->mu held (or before any other thread). */
static mast_status publish(mast_models *ms, mast_model *m)
{
    if (ms->n == MAX_MODELS) {
        model_free(m);
        return mast_fail(MAST_ERR_LIMIT, "at most %d models are served", MAX_MODELS);
    }
    if (pthread_create(&m->queue->thread, NULL, worker, m) != 0) {
        model_free(m);
        return mast_fail(MAST_ERR_INTERNAL, "cannot start a thread for a model");
    }
    m->queue->started = 1;
    ms->models[ms->n] = m;
    __atomic_store_n(&ms->n, ms->n + 1, __ATOMIC_RELEASE);
    return MAST_OK;
}

/* Adds the folder's file NAME.gguf as model NAME (model/pull.h's names: not
** starting with a dot, so partial downloads are never offered); ms->mu held. */
static mast_model *add_from_dir(mast_models *ms, const char *name)
{
    mast_model *m = find_in(ms, name);
    if (m || !ms->models_dir || !mast_model_name_ok(name))
        return m;
    mast_buf path = {0};
    if (mast_models_find_file(ms->models_dir, name, &path) == MAST_OK) {
        if (model_new(ms, mast_buf_cstr(&path), name, -1, &m) != MAST_OK)
            mast_warn("models folder: %s", mast_errmsg());
        else if (publish(ms, m) != MAST_OK)
            m = NULL;
    }
    mast_buf_free(&path);
    return m;
}

void mast_models_refresh(mast_models *ms)
{
    if (!ms || !ms->models_dir)
        return;
    DIR *d = opendir(ms->models_dir);
    if (!d)
        return;
    pthread_mutex_lock(&ms->mu);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 5 && len - 5 <= 128 && !strcmp(e->d_name + len - 5, ".gguf")) {
            char name[129];
            snprintf(name, sizeof name, "%.*s", (int)(len - 5), e->d_name);
            add_from_dir(ms, name);
        }
    }
    pthread_mutex_unlock(&ms->mu);
    closedir(d);
}

mast_status mast_models_open(mast_models **out, const mast_model_spec *specs, size_t n,
                             const mast_models_opts *opts)
{
    *out = NULL;
    mast_models *ms = calloc(1, sizeof *ms);
    if (!ms || !(ms->models = calloc(MAX_MODELS, sizeof *ms->models))) {
        free(ms);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&ms->mu, NULL);
    cond_init_mono(&ms->cv);
    if (opts)
        ms->o = *opts;
    ms->local = ms->o.local ? *ms->o.local : MAST_LOCAL_OPTS_DEFAULT;
    ms->o.local = &ms->local;
    mast_status st = MAST_OK;
    if (ms->o.models_dir) {
        struct stat sb;
        if (stat(ms->o.models_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            st = mast_fail(MAST_ERR_NOT_FOUND, "%s: no such models folder (mast pull URL puts "
                           "models there)", ms->o.models_dir);
        else if (!(ms->models_dir = strdup(ms->o.models_dir)))
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
        ms->o.models_dir = ms->models_dir;
    }
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        mast_model *m;
        st = model_new(ms, specs[i].path, specs[i].alias, (int)specs[i].kind, &m);
        if (st != MAST_OK)
            break;
        mast_model *twin = find_in(ms, m->id);
        if (twin) {
            st = mast_fail(MAST_ERR_EXISTS, "two models are named '%s' (%s and %s): name one "
                           "with --alias NAME=FILE", m->id, twin->path, m->path);
            model_free(m);
            break;
        }
        m->queue->preload = ms->o.preload;
        if (m->queue->preload)
            m->queue->state = MAST_MODEL_LOADING;   /* the worker starts with it */
        st = publish(ms, m);
    }
    if (st != MAST_OK) {
        mast_models_close(ms);
        return st;
    }
    mast_models_refresh(ms);   /* the folder's files, after the named ones (which win a tie) */
    *out = ms;
    return MAST_OK;
}

void mast_models_close(mast_models *ms)
{
    if (!ms)
        return;
    pthread_mutex_lock(&ms->mu);
    ms->stopping = 1;   /* loaders waiting for room give up */
    pthread_cond_broadcast(&ms->cv);
    pthread_mutex_unlock(&ms->mu);
    for (size_t i = 0; i < ms->n; i++) {
        models_queue *q = ms->models[i]->queue;
        pthread_mutex_lock(&q->mu);
        q->stopping = 1;   /* waiting jobs still run, cancelled, so that each answers */
        pthread_cond_signal(&q->cv);
        pthread_cond_broadcast(&q->loaded_cv);
        pthread_mutex_unlock(&q->mu);
    }
    for (size_t i = 0; i < ms->n; i++)
        pthread_join(ms->models[i]->queue->thread, NULL);
    for (size_t i = 0; i < ms->n; i++)
        model_free(ms->models[i]);
    pthread_mutex_destroy(&ms->mu);
    pthread_cond_destroy(&ms->cv);
    free(ms->models);
    free(ms->models_dir);
    free(ms);
}

size_t mast_models_count(const mast_models *ms)
{
    return ms ? __atomic_load_n(&ms->n, __ATOMIC_ACQUIRE) : 0;
}

mast_model *mast_models_at(mast_models *ms, size_t i)
{
    return i < mast_models_count(ms) ? ms->models[i] : NULL;
}

mast_model *mast_models_find(mast_models *ms, const char *id)
{
    if (!ms || !id)
        return NULL;
    mast_model *m = find_in(ms, id);
    if (!m && ms->models_dir) {   /* pulled since start-up? */
        pthread_mutex_lock(&ms->mu);
        m = add_from_dir(ms, id);
        pthread_mutex_unlock(&ms->mu);
    }
    return m;
}

mast_model *mast_models_first(mast_models *ms, mast_model_kind kind)
{
    size_t n = mast_models_count(ms);
    for (size_t i = 0; i < n; i++)
        if (ms->models[i]->kind == kind)
            return ms->models[i];
    return NULL;
}

mast_model_state mast_model_state_of(mast_model *m)
{
    pthread_mutex_lock(&m->queue->mu);
    mast_model_state s = m->queue->state;
    pthread_mutex_unlock(&m->queue->mu);
    return s;
}

void mast_model_view_of(mast_model *m, mast_model_view *v)
{
    models_queue *q = m->queue;
    memset(v, 0, sizeof *v);
    pthread_mutex_lock(&q->mu);
    v->state = q->state;
    if (q->error)
        snprintf(v->error, sizeof v->error, "%s", q->error);
    v->preloaded = q->preload;
    v->evicting = q->evict;
    v->users = q->users;
    v->queued = q->n;
    v->loads = q->loads;
    v->load_seconds = q->load_seconds;
    if (q->state == MAST_MODEL_READY) {
        v->weights_bytes = m->file_bytes;
        v->slots = q->snap ? q->slots : 0;
        for (int i = 0; i < v->slots; i++) {
            v->slots_busy += strcmp(q->snap[i].state, "idle") != 0;
            v->kv_bytes += q->snap[i].kv_bytes;
        }
    }
    v->expires_in = q->state == MAST_MODEL_READY && idle(q) && q->expire_ms >= 0
                        ? (double)(q->expire_ms - mono_ms()) / 1e3 : -1;
    if (v->expires_in < -0.5 && q->expire_ms >= 0 && q->state == MAST_MODEL_READY && idle(q))
        v->expires_in = 0;   /* due: the worker is unloading it */
    v->known = q->known;
    memcpy(v->arch, q->arch, sizeof v->arch);
    memcpy(v->quant, q->quant, sizeof v->quant);
    memcpy(v->chat_format, q->chat_format, sizeof v->chat_format);
    memcpy(v->template_note, q->template_note, sizeof v->template_note);
    v->n_ctx = q->n_ctx;
    v->n_ctx_train = q->n_ctx_train;
    v->n_vocab = q->n_vocab;
    v->dim = q->dim;
    pthread_mutex_unlock(&q->mu);
}

bool mast_models_ready(mast_models *ms, const char **why_id, mast_model_state *why_state)
{
    size_t n = mast_models_count(ms);
    for (size_t i = 0; i < n; i++) {
        models_queue *q = ms->models[i]->queue;
        pthread_mutex_lock(&q->mu);
        mast_model_state s = q->state;
        bool waiting = q->preload && (q->loads == 0 || s == MAST_MODEL_FAILED);
        pthread_mutex_unlock(&q->mu);
        if (waiting) {
            *why_id = ms->models[i]->id;
            *why_state = s == MAST_MODEL_FAILED ? s : MAST_MODEL_LOADING;
            return false;
        }
    }
    return true;
}

/* ---- residency ---- */

mast_status mast_model_acquire(mast_model *m, double timeout_s, mast_model_use *use)
{
    models_queue *q = m->queue;
    int64_t t0 = mast_mono_us();
    struct timespec until = deadline_in(timeout_s);
    bool through_load = false, tried = false, cold = false;
    mast_status st = MAST_OK;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        if (q->stopping) {
            st = mast_fail(MAST_ERR_UNSUPPORTED, "the server is stopping");
            break;
        }
        if (q->state == MAST_MODEL_READY && (!q->evict || through_load)) {
            q->users++;
            q->last_used_ms = mono_ms();
            break;
        }
        int rc = 0;
        if (q->state == MAST_MODEL_LOADING) {   /* counted: it pins before the model may unload */
            cold = true;
            q->load_waiters++;
            rc = pthread_cond_timedwait(&q->loaded_cv, &q->mu, &until);
            q->load_waiters--;
            through_load = true;
        } else if (q->evict) {   /* unloading: wait, then load it again */
            cold = true;
            rc = pthread_cond_timedwait(&q->loaded_cv, &q->mu, &until);
        } else if (q->state == MAST_MODEL_UNLOADED || (q->state == MAST_MODEL_FAILED && !tried)) {
            cold = tried = true;
            q->state = MAST_MODEL_LOADING;
            pthread_cond_signal(&q->cv);
            continue;
        } else {
            st = mast_fail(MAST_ERR_UNSUPPORTED, "model %s failed to load: %s", m->id,
                           q->error ? q->error : "out of memory");
            break;
        }
        if (rc == ETIMEDOUT && !(q->state == MAST_MODEL_READY && through_load)) {
            st = mast_fail(MAST_ERR_LIMIT, "model %s is still loading after %.0f s", m->id, timeout_s);
            break;
        }
    }
    pthread_mutex_unlock(&q->mu);
    if (use) {
        use->cold = cold;
        use->wait_seconds = (double)(mast_mono_us() - t0) / 1e6;
    }
    return st;
}

void mast_model_release(mast_model *m, int64_t keep_alive_ms)
{
    models_queue *q = m->queue;
    int64_t keep = keep_alive_ms == MAST_KEEP_ALIVE_DEFAULT ? q->set->o.keep_alive_ms : keep_alive_ms;
    pthread_mutex_lock(&q->mu);
    if (q->users > 0)
        q->users--;
    q->last_used_ms = mono_ms();
    q->expire_ms = keep < 0 ? -1 : q->last_used_ms + keep;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

mast_model_state mast_model_unload(mast_model *m, double timeout_s)
{
    models_queue *q = m->queue;
    struct timespec until = deadline_in(timeout_s);
    pthread_mutex_lock(&q->mu);
    if (q->state == MAST_MODEL_READY) {
        q->evict = true;
        q->admin_unload = true;
        pthread_cond_signal(&q->cv);
        while (q->evict && !q->stopping)
            if (pthread_cond_timedwait(&q->loaded_cv, &q->mu, &until) == ETIMEDOUT)
                break;
    }
    mast_model_state s = q->state;
    pthread_mutex_unlock(&q->mu);
    return s;
}

/* ---- the queue ---- */

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
    if (q->state != MAST_MODEL_READY)   /* a pinned model is ready */
        st = mast_fail(MAST_ERR_INTERNAL, "model %s is not loaded", m->id);
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

/* ---- keep_alive ---- */

mast_status mast_parse_keep_alive(const char *text, int64_t *out)
{
    double secs;
    MAST_TRY(mast_parse_duration(text, &secs));
    *out = secs < 0 ? -1 : (int64_t)llround(secs * 1e3);
    return MAST_OK;
}
