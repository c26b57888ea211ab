/*
** deploy/models.h — the models a server serves (`mast serve -m FILE …`).
**
** Each model is named by its alias or its file's stem, loads in a thread of
** its own after start-up (the server answers /health 503 until every model
** is ready), and runs its work on one worker thread fed by a bounded queue,
** in arrival order. A chat model runs up to its slots' number of requests
** together (continuous batching, model/generate.h): the worker begins each
** in a free slot and steps them all. Embedding models run one at a time. A
** full queue (beyond the free slots) refuses new work (the HTTP API answers
** 429 with Retry-After).
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

typedef enum mast_model_state { MAST_MODEL_LOADING, MAST_MODEL_READY, MAST_MODEL_FAILED } mast_model_state;

typedef struct mast_model {
    char *id, *path;
    mast_model_kind kind;
    int64_t created;             /* the file's modification time (unix seconds) */
    mast_generator *gen;         /* chat models, once ready */
    mast_embedder *emb;          /* embedding models, once ready */
    mast_local_info info;        /* chat models, once ready */
    int dim;                     /* embedding models, once ready */
    /* private to models.c */
    struct models_queue *queue;
} mast_model;

typedef struct mast_models mast_models;

/* A job runs on the model's worker thread; cancelled is true when the
** server is stopping (the job answers and frees itself either way). */
typedef void (*mast_model_job_fn)(void *job, mast_model *m, bool cancelled);

/* Checks every file (it exists and names a supported architecture, so a
** typo fails here, at start-up), then loads each in the background.
** local: the local engine's options for chat models; queue_max: waiting
** jobs per model (0: 16). */
mast_status mast_models_open(mast_models **out, const mast_model_spec *specs, size_t n,
                             const mast_local_opts *local, int threads, size_t queue_max);
/* Cancels waiting jobs, finishes the running ones, frees the models. */
void mast_models_close(mast_models *ms);

size_t mast_models_count(const mast_models *ms);
mast_model *mast_models_at(mast_models *ms, size_t i);
/* The model named id (alias or stem), or NULL. */
mast_model *mast_models_find(mast_models *ms, const char *id);
/* The first model of a kind (the default when a request names none), or NULL. */
mast_model *mast_models_first(mast_models *ms, mast_model_kind kind);

mast_model_state mast_model_state_of(mast_model *m, const char **error);
/* Waits (at most timeout_s) while the model loads: a request that arrives
** during a cold start is answered once it is ready, not refused. */
mast_model_state mast_model_wait_loaded(mast_model *m, double timeout_s, const char **error);
/* Whether every model is ready; else *why says which is loading or failed. */
bool mast_models_ready(mast_models *ms, const char **why_id, mast_model_state *why_state);

/* Queues a job: MAST_ERR_LIMIT when the queue is full, MAST_ERR_UNSUPPORTED
** when the model failed to load (mast_errmsg says why). */
mast_status mast_model_submit(mast_model *m, mast_model_job_fn fn, void *job);
/* Chat models: their slots as of the worker's last step (out[0..cap)); the
** number of slots (0 before the model is ready). */
int mast_model_slots(mast_model *m, mast_slot_info *out, int cap);
/* Jobs waiting (not counting the running ones). */
size_t mast_model_queued(mast_model *m);

#endif
