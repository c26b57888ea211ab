/*
** tests/deploy/test_models.c — served models' residency: loading on first
** use, --max-loaded and --max-model-memory evicting the least recently used
** (a busy one only once its requests end), keep-alive expiry, admin unload,
** a models folder's files found by name, and keep_alive's parsing.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status.h"
#include "deploy/models.h"
#include "test.h"

static char path_buf[3][1024];

static const char *shared(int slot, const char *rel)
{
    const char *d = getenv("MAST_SHARED_DATA");
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", d ? d : "../shared/data", rel);
    return path_buf[slot];
}

static mast_model_state state(mast_model *m)
{
    return mast_model_state_of(m);
}

/* Waits up to 5 s for a model to reach a state (unloading happens on its worker). */
static bool wait_state(mast_model *m, mast_model_state s)
{
    for (int i = 0; i < 500 && state(m) != s; i++)
        usleep(10000);
    return state(m) == s;
}

static mast_models *open_two(int max_loaded, uint64_t max_bytes, int64_t keep)
{
    mast_model_spec specs[] = {
        {shared(0, "models/stories260K.gguf"), "a", MAST_MODEL_CHAT},
        {shared(1, "models/tiny-llama-gqa-random.gguf"), "b", MAST_MODEL_CHAT},
        {shared(2, "models/tiny-bert-random.gguf"), "e", MAST_MODEL_EMBED},
    };
    mast_local_opts local = MAST_LOCAL_OPTS_DEFAULT;
    local.slots = 2;
    local.threads = 1;
    mast_models *ms = NULL;
    mast_status st = mast_models_open(&ms, specs, 3, &(mast_models_opts){
        .local = &local, .threads = 1, .max_loaded = max_loaded, .max_bytes = max_bytes,
        .keep_alive_ms = keep});
    if (st != MAST_OK)
        fprintf(stderr, "  %s\n", mast_errmsg());
    return ms;
}

static void test_loads_on_first_use(void)
{
    mast_models *ms = open_two(0, 0, -1);
    REQUIRE(ms);
    mast_model *a = mast_models_find(ms, "a");
    REQUIRE(a);
    CHECK_EQ_INT(state(a), MAST_MODEL_UNLOADED);   /* nothing loads before it is asked for */
    const char *why = "x";
    mast_model_state s;
    CHECK(mast_models_ready(ms, &why, &s));        /* no preload: healthy at once */
    mast_model_use use;
    REQUIRE(mast_model_acquire(a, 60, &use) == MAST_OK);
    CHECK(use.cold);
    CHECK_EQ_INT(state(a), MAST_MODEL_READY);
    CHECK(a->gen != NULL);
    CHECK(a->info.n_vocab == 512);
    mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);
    REQUIRE(mast_model_acquire(a, 60, &use) == MAST_OK);
    CHECK(!use.cold);                              /* the second finds it loaded */
    mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);
    mast_model_view v;
    mast_model_view_of(a, &v);
    CHECK_EQ_INT(v.loads, 1);
    CHECK(v.known && v.n_vocab == 512 && !strcmp(v.arch, "llama"));
    CHECK(v.weights_bytes == a->file_bytes && a->file_bytes > 1000000);
    CHECK(v.slots == 2);
    mast_models_close(ms);
}

static void test_max_loaded_evicts_lru(void)
{
    mast_models *ms = open_two(2, 0, -1);
    REQUIRE(ms);
    mast_model *a = mast_models_find(ms, "a"), *b = mast_models_find(ms, "b"), *e = mast_models_find(ms, "e");
    REQUIRE(mast_model_acquire(a, 60, NULL) == MAST_OK);
    mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);
    usleep(2000);
    REQUIRE(mast_model_acquire(b, 60, NULL) == MAST_OK);
    mast_model_release(b, MAST_KEEP_ALIVE_DEFAULT);
    usleep(2000);
    REQUIRE(mast_model_acquire(a, 60, NULL) == MAST_OK);   /* a is now the most recent */
    mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);
    REQUIRE(mast_model_acquire(e, 60, NULL) == MAST_OK);   /* a third: b (least recent) goes */
    mast_model_release(e, MAST_KEEP_ALIVE_DEFAULT);
    CHECK_EQ_INT(state(b), MAST_MODEL_UNLOADED);
    CHECK_EQ_INT(state(a), MAST_MODEL_READY);
    CHECK_EQ_INT(state(e), MAST_MODEL_READY);
    mast_model_view v;
    mast_model_view_of(b, &v);
    CHECK(v.known && v.n_vocab > 0 && v.weights_bytes == 0);   /* what it is stays listed */
    mast_models_close(ms);
}

typedef struct waiter {
    mast_model *m;
    mast_status st;
    mast_model_use use;
} waiter;

static void *acquire_thread(void *arg)
{
    waiter *w = arg;
    w->st = mast_model_acquire(w->m, 60, &w->use);
    if (w->st == MAST_OK)
        mast_model_release(w->m, MAST_KEEP_ALIVE_DEFAULT);
    return NULL;
}

/* A model in use is not unloaded under its request: the other waits. */
static void test_busy_model_finishes_first(void)
{
    mast_models *ms = open_two(1, 0, -1);
    REQUIRE(ms);
    mast_model *a = mast_models_find(ms, "a"), *b = mast_models_find(ms, "b");
    REQUIRE(mast_model_acquire(a, 60, NULL) == MAST_OK);   /* a request holds a */
    waiter w = {b, MAST_ERR_INTERNAL, {0}};
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, acquire_thread, &w) == 0);
    usleep(300000);
    CHECK_EQ_INT(state(a), MAST_MODEL_READY);              /* still a's: its request runs */
    CHECK_EQ_INT(state(b), MAST_MODEL_LOADING);            /* b waits for the room */
    mast_model_view v;
    mast_model_view_of(a, &v);
    CHECK(v.evicting);
    mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);        /* the request ends: a goes, b comes */
    pthread_join(t, NULL);
    CHECK_EQ_INT(w.st, MAST_OK);
    CHECK(w.use.cold && w.use.wait_seconds >= 0.25);
    CHECK_EQ_INT(state(a), MAST_MODEL_UNLOADED);
    CHECK_EQ_INT(state(b), MAST_MODEL_READY);
    /* alternating with one resident: each load unloads the other */
    for (int i = 0; i < 3; i++) {
        REQUIRE(mast_model_acquire(a, 60, NULL) == MAST_OK);
        CHECK_EQ_INT(state(b), MAST_MODEL_UNLOADED);
        mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);
        REQUIRE(mast_model_acquire(b, 60, NULL) == MAST_OK);
        CHECK_EQ_INT(state(a), MAST_MODEL_UNLOADED);
        mast_model_release(b, MAST_KEEP_ALIVE_DEFAULT);
    }
    mast_model_view_of(a, &v);
    CHECK_EQ_INT(v.loads, 4);
    mast_models_close(ms);
}

static void test_memory_budget(void)
{
    /* room for b's file or a's and e's together, not for b beside either */
    mast_models *probe = open_two(0, 0, -1);
    REQUIRE(probe);
    uint64_t fa = mast_models_find(probe, "a")->file_bytes, fb = mast_models_find(probe, "b")->file_bytes;
    mast_models_close(probe);
    mast_models *ms = open_two(0, fb + fa / 2, -1);
    REQUIRE(ms);
    mast_model *a = mast_models_find(ms, "a"), *b = mast_models_find(ms, "b");
    REQUIRE(mast_model_acquire(a, 60, NULL) == MAST_OK);
    mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);
    REQUIRE(mast_model_acquire(b, 60, NULL) == MAST_OK);
    mast_model_release(b, MAST_KEEP_ALIVE_DEFAULT);
    CHECK_EQ_INT(state(a), MAST_MODEL_UNLOADED);
    mast_models_close(ms);
    /* a model larger than the budget fails with the reason, and is retried on the next request */
    ms = open_two(0, fa - 1, -1);
    REQUIRE(ms);
    a = mast_models_find(ms, "a");
    CHECK_EQ_INT(mast_model_acquire(a, 60, NULL), MAST_ERR_UNSUPPORTED);
    CHECK(strstr(mast_errmsg(), "more than --max-model-memory allows") != NULL);
    CHECK_EQ_INT(state(a), MAST_MODEL_FAILED);
    CHECK_EQ_INT(mast_model_acquire(a, 60, NULL), MAST_ERR_UNSUPPORTED);
    mast_models_close(ms);
}

static void test_keep_alive_and_unload(void)
{
    mast_models *ms = open_two(0, 0, 200);   /* an idle model stays 200 ms */
    REQUIRE(ms);
    mast_model *a = mast_models_find(ms, "a"), *b = mast_models_find(ms, "b");
    REQUIRE(mast_model_acquire(a, 60, NULL) == MAST_OK);
    usleep(400000);
    CHECK_EQ_INT(state(a), MAST_MODEL_READY);   /* never while a request holds it */
    mast_model_release(a, MAST_KEEP_ALIVE_DEFAULT);
    CHECK_EQ_INT(state(a), MAST_MODEL_READY);
    CHECK(wait_state(a, MAST_MODEL_UNLOADED));  /* then 200 ms after it ends */
    REQUIRE(mast_model_acquire(a, 60, NULL) == MAST_OK);
    mast_model_release(a, -1);                  /* keep_alive -1: forever */
    usleep(400000);
    CHECK_EQ_INT(state(a), MAST_MODEL_READY);
    REQUIRE(mast_model_acquire(b, 60, NULL) == MAST_OK);
    mast_model_release(b, 0);                   /* keep_alive 0: at once */
    CHECK(wait_state(b, MAST_MODEL_UNLOADED));
    CHECK_EQ_INT(mast_model_unload(a, 10), MAST_MODEL_UNLOADED);   /* an admin's unload */
    CHECK_EQ_INT(mast_model_unload(a, 10), MAST_MODEL_UNLOADED);   /* twice: nothing to do */
    mast_models_close(ms);
}

static void test_models_folder(void)
{
    char dir[] = "/tmp/mast-models-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char link1[1100], link2[1100], bad[1100];
    snprintf(link1, sizeof link1, "%s/tiny.gguf", dir);
    snprintf(link2, sizeof link2, "%s/later.gguf", dir);
    snprintf(bad, sizeof bad, "%s/broken.gguf", dir);
    REQUIRE(symlink(shared(0, "models/stories260K.gguf"), link1) == 0);
    FILE *f = fopen(bad, "w");
    REQUIRE(f);
    fputs("not gguf", f);
    fclose(f);
    mast_models *ms = NULL;
    REQUIRE(mast_models_open(&ms, NULL, 0, &(mast_models_opts){.models_dir = dir, .keep_alive_ms = -1}) == MAST_OK);
    CHECK_EQ_INT(mast_models_count(ms), 1);     /* the broken file is left out (with a warning) */
    mast_model *m = mast_models_find(ms, "tiny");
    REQUIRE(m);
    CHECK_EQ_INT(m->kind, MAST_MODEL_CHAT);     /* its kind from its architecture */
    CHECK(mast_models_find(ms, "later") == NULL);
    REQUIRE(symlink(shared(1, "models/tiny-bert-random.gguf"), link2) == 0);   /* pulled since */
    mast_model *l = mast_models_find(ms, "later");
    REQUIRE(l);
    CHECK_EQ_INT(l->kind, MAST_MODEL_EMBED);
    CHECK(mast_models_find(ms, "../tiny") == NULL);
    CHECK_EQ_INT(mast_models_count(ms), 2);
    REQUIRE(mast_model_acquire(l, 60, NULL) == MAST_OK);
    CHECK(l->dim > 0);
    mast_model_release(l, MAST_KEEP_ALIVE_DEFAULT);
    mast_models_close(ms);
    CHECK_EQ_INT(mast_models_open(&ms, NULL, 0, &(mast_models_opts){.models_dir = "/nonexistent/x"}),
                 MAST_ERR_NOT_FOUND);
    unlink(link1);
    unlink(link2);
    unlink(bad);
    rmdir(dir);
}

static void test_parse_keep_alive(void)
{
    int64_t ms = 0;
    CHECK(mast_parse_keep_alive("5m", &ms) == MAST_OK && ms == 300000);
    CHECK(mast_parse_keep_alive("30s", &ms) == MAST_OK && ms == 30000);
    CHECK(mast_parse_keep_alive("1h30m", &ms) == MAST_OK && ms == 5400000);
    CHECK(mast_parse_keep_alive("250ms", &ms) == MAST_OK && ms == 250);
    CHECK(mast_parse_keep_alive("90", &ms) == MAST_OK && ms == 90000);
    CHECK(mast_parse_keep_alive("0", &ms) == MAST_OK && ms == 0);
    CHECK(mast_parse_keep_alive("-1", &ms) == MAST_OK && ms == -1);
    CHECK(mast_parse_keep_alive("-5m", &ms) == MAST_OK && ms == -1);
    CHECK(mast_parse_keep_alive("1.5s", &ms) == MAST_OK && ms == 1500);
    CHECK_EQ_INT(mast_parse_keep_alive("5x", &ms), MAST_ERR_INVALID);
    CHECK(strstr(mast_errmsg(), "'5x' is not a duration") != NULL);
    CHECK_EQ_INT(mast_parse_keep_alive("", &ms), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_parse_keep_alive("m", &ms), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_parse_keep_alive("5 m", &ms), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_parse_keep_alive("nan", &ms), MAST_ERR_INVALID);
    CHECK_EQ_INT(mast_parse_keep_alive("1e400s", &ms), MAST_ERR_INVALID);
}

int main(void)
{
    RUN(test_loads_on_first_use);
    RUN(test_max_loaded_evicts_lru);
    RUN(test_busy_model_finishes_first);
    RUN(test_memory_budget);
    RUN(test_keep_alive_and_unload);
    RUN(test_models_folder);
    RUN(test_parse_keep_alive);
    return test_summary();
}
