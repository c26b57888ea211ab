/*
** deploy/models.h — the models a server serves (`mast serve -m FILE …`,
** `--models-dir DIR`), and which of them are in memory.
**
** Each model is named by its alias or its file's stem. A model loads on first
** use (or at start-up with preload) on a worker thread of its own, and runs
** its work there fed by a bounded queue, in arrival order. A chat model runs
** up to its slots' number of requests together (continuous batching,
** model/generate.h): the worker begins each in a free slot and steps them
** all. Embedding models run one at a time. A full queue (beyond the free
** slots) refuses new work (the HTTP API answers 429 with Retry-After).
**
** Residency: a request pins its model (mast_model_acquire) from the moment it
** picks it until it is answered (mast_model_release), so a model never
** unloads under a request. A model unloads when it is idle and its keep-alive
** has run out (the last request's, else the default; negative: never), when
** an admin asks, or when another model needs its room: at most max_loaded
** models and max_bytes of them (each counted as its file's bytes plus its KV
** budget) are resident, and the least recently used one goes first (a busy
** one finishes its requests first; requests that arrive meanwhile wait and
** load it again after).
*/
#ifndef MAST_DEPLOY_MODELS_H
#define MAST_DEPLOY_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/embedder.h"
#include "model/generate.h"

typedef enum mast_model_kind { MAST_MODEL_CHAT, MAST_MODEL_EMBED } mast_model_kind;

typedef struct mast_model_spec {
    const char *path;
    const char *alias;           /* NULL: the file's stem */
    mast_model_kind kind;
} mast_model_spec;

typedef enum mast_model_state {
    MAST_MODEL_UNLOADED,         /* not in memory: the next request loads it */
    MAST_MODEL_LOADING,          /* loading, or waiting for another model to make room */
    MAST_MODEL_READY,
    MAST_MODEL_FAILED            /* the last load failed (the next request tries again) */
} mast_model_state;

/* keep_alive: use the default (mast_models_opts.keep_alive_ms). */
#define MAST_KEEP_ALIVE_DEFAULT INT64_MIN

typedef struct mast_models_opts {
    const mast_local_opts *local; /* the local engine's options for chat models (NULL: defaults) */
    int threads;                 /* embedding models' threads (0: every CPU) */
    size_t queue_max;            /* jobs that may wait per model beyond its slots (0: 16) */
    int max_loaded;              /* models resident at once (0: no limit) */
    uint64_t max_bytes;          /* their bytes (0: no limit) */
    int64_t keep_alive_ms;       /* how long an idle model stays (<0: forever; 0: unload at once) */
    bool preload;                /* load the given models at start-up (health waits for them) */
    const char *models_dir;      /* also offer every GGUF file here, by its stem (NULL: none) */
} mast_models_opts;

typedef struct mast_model {
    char *id, *path;
    mast_model_kind kind;
    int64_t created;             /* the file's modification time (unix seconds) */
    uint64_t file_bytes;
    /* Valid only while the model is pinned (mast_model_acquire): */
    mast_generator *gen;         /* chat models */
    mast_embedder *emb;          /* embedding models */
    mast_local_info info;        /* chat models */
    int dim;                     /* embedding models */
    /* private to models.c */
    struct models_queue *queue;
} mast_model;

/* What a listing shows of a model (a copy, taken under its lock). */
typedef struct mast_model_view {
    mast_model_state state;
    char error[512];             /* why the last load failed ("" when it did not) */
    bool preloaded, evicting;
    int users;                   /* requests holding it */
    int slots, slots_busy;       /* chat models, while loaded */
    size_t queued;
    uint64_t weights_bytes, kv_bytes;   /* in memory now (0 when unloaded) */
    double expires_in;           /* seconds until an idle model unloads (<0: never or not idle) */
    int loads;                   /* times it was loaded */
    double load_seconds;         /* the last load's time */
    bool known;                  /* loaded once: the fields below are filled */
    char arch[32], quant[16], chat_format[16], template_note[256];
    int n_ctx, n_ctx_train, n_vocab, dim;
} mast_model_view;

/* How a request found its model (mast_model_acquire). */
typedef struct mast_model_use {
    bool cold;                   /* it waited for the model to load (or to make room) */
    double wait_seconds;         /* ... for this long */
} mast_model_use;

typedef struct mast_models mast_models;

/* A job runs on the model's worker thread; cancelled is true when the
** server is stopping (the job answers and frees itself either way). */
typedef void (*mast_model_job_fn)(void *job, mast_model *m, bool cancelled);

/* Checks every file (it exists and names a supported architecture, so a
** typo fails here, at start-up) and, with preload, starts loading them. */
mast_status mast_models_open(mast_models **out, const mast_model_spec *specs, size_t n,
                             const mast_models_opts *opts);
/* Cancels waiting jobs, finishes the running ones, frees the models. */
void mast_models_close(mast_models *ms);

size_t mast_models_count(const mast_models *ms);
mast_model *mast_models_at(mast_models *ms, size_t i);
/* The model named id (alias or stem), or NULL. With a models folder, a file
** added there since start-up is found too. */
mast_model *mast_models_find(mast_models *ms, const char *id);
/* Adds the models folder's new files (for a listing). */
void mast_models_refresh(mast_models *ms);
/* The first model of a kind (the default when a request names none), or NULL. */
mast_model *mast_models_first(mast_models *ms, mast_model_kind kind);

mast_model_state mast_model_state_of(mast_model *m);
/* What a listing shows (the error included), copied under the model's lock. */
void mast_model_view_of(mast_model *m, mast_model_view *out);
/* Whether every preloaded model is ready; else *why says which is loading or failed. */
bool mast_models_ready(mast_models *ms, const char **why_id, mast_model_state *why_state);

/* Pins the model, loading it first if need be (waiting at most timeout_s):
** MAST_ERR_UNSUPPORTED when it fails to load, MAST_ERR_LIMIT when it is
** still loading (mast_errmsg says which). use may be NULL. */
mast_status mast_model_acquire(mast_model *m, double timeout_s, mast_model_use *use);
/* Unpins it; keep_alive_ms sets how long it stays once idle (<0 forever,
** MAST_KEEP_ALIVE_DEFAULT the default). */
void mast_model_release(mast_model *m, int64_t keep_alive_ms);
/* Unloads it once its requests end (waiting at most timeout_s); the next
** request loads it again. Returns its state then. */
mast_model_state mast_model_unload(mast_model *m, double timeout_s);

/* Queues a job for a pinned model: MAST_ERR_LIMIT when the queue is full. */
mast_status mast_model_submit(mast_model *m, mast_model_job_fn fn, void *job);
/* Chat models: their slots as of the worker's last step (out[0..cap)); the
** number of slots (0 while not loaded). */
int mast_model_slots(mast_model *m, mast_slot_info *out, int cap);
/* Jobs waiting (not counting the running ones). */
size_t mast_model_queued(mast_model *m);

/* A keep_alive value, Ollama's way: a number of seconds or a duration
** ("30s", "5m", "1h", "1h30m", "250ms", "30d"); "0" unloads after the request; a
** negative one ("-1", "-1m") keeps the model forever. MAST_ERR_INVALID names
** the problem. */
mast_status mast_parse_keep_alive(const char *text, int64_t *ms);

#endif
