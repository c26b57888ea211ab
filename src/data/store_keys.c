/*
** data/store_keys.c — virtual keys and usage in the store (see store_keys.h).
*/
#include "data/store_keys.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/status.h"
#include "data/store_impl.h"

mast_status mast_store_key_add(mast_store *store, const mast_key_spec *k)
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "INSERT INTO api_keys(name, hash, prefix, models, budget_usd, "
                                "budget_period, rpm, tpm, created_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                &st));
    mast_buf models = {0};
    mast_json_dump(k->models ? k->models : json_array(), 0, &models);
    sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, k->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, k->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, mast_buf_cstr(&models), -1, SQLITE_STATIC);
    if (k->budget_usd >= 0)
        sqlite3_bind_double(st, 5, k->budget_usd);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, k->period ? k->period : "total", -1, SQLITE_STATIC);
    if (k->rpm > 0)
        sqlite3_bind_int(st, 7, k->rpm);
    if (k->tpm > 0)
        sqlite3_bind_int(st, 8, k->tpm);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)time(NULL));
    int rc = sqlite3_step(st);
    mast_status s = MAST_OK;
    if (rc == SQLITE_CONSTRAINT)
        s = mast_fail(MAST_ERR_EXISTS, "a key named '%s' exists (revoke it first)", k->name);
    else if (rc != SQLITE_DONE)
        s = mast_store_error(store, "cannot add the key");
    sqlite3_finalize(st);
    mast_buf_free(&models);
    return s;
}

mast_status mast_store_key_revoke(mast_store *store, const char *name)
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "UPDATE api_keys SET revoked_at = ?, name = name || '#revoked-' || id "
                                "WHERE name = ? AND revoked_at IS NULL", &st));
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    mast_status s = sqlite3_step(st) == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot revoke");
    if (s == MAST_OK && sqlite3_changes(store->db) == 0)
        s = mast_fail(MAST_ERR_NOT_FOUND, "no active key is named '%s'", name);
    sqlite3_finalize(st);
    return s;
}

static json_t *column_json(sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL: return json_null();
    case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, col));
    case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, col));
    default: return mast_json_string_lossy((const char *)sqlite3_column_text(st, col));
    }
}

/* Every row of st as an object of its columns. */
static mast_status rows_json(mast_store *store, sqlite3_stmt *st, json_t **out)
{
    json_t *a = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int c = 0; c < sqlite3_column_count(st); c++)
            json_object_set_new(o, sqlite3_column_name(st, c), column_json(st, c));
        json_array_append_new(a, o);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return mast_store_error(store, "cannot read");
    }
    *out = a;
    return MAST_OK;
}

mast_status mast_store_keys(mast_store *store, bool with_hash, bool with_revoked, json_t **out)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT id, name, prefix, models, budget_usd, budget_period, rpm, tpm, "
             "created_at, revoked_at%s FROM api_keys%s ORDER BY id", with_hash ? ", hash" : "",
             with_revoked ? "" : " WHERE revoked_at IS NULL");
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, sql, &st));
    MAST_TRY(rows_json(store, st, out));
    size_t i;
    json_t *k;
    json_array_foreach(*out, i, k) {   /* models as the array it is */
        json_t *m = json_loads(mast_json_get_str(k, "models", "[]"), 0, NULL);
        json_object_set_new(k, "models", m ? m : json_array());
    }
    return MAST_OK;
}

static const char USAGE_SQL[] =
    "INSERT INTO usage(key_id, model, day, requests, input_tokens, cached_tokens, cache_write_tokens,"
    " output_tokens, reasoning_tokens, cost_usd) VALUES(?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(key_id, model, day) DO UPDATE SET requests = requests + 1,"
    " input_tokens = input_tokens + excluded.input_tokens, cached_tokens = cached_tokens + excluded.cached_tokens,"
    " cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,"
    " output_tokens = output_tokens + excluded.output_tokens,"
    " reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cost_usd = cost_usd + excluded.cost_usd";

mast_status mast_store_usage_add(mast_store *store, const mast_usage_row *rows, size_t n)
{
    if (!n)
        return MAST_OK;
    bool own;
    MAST_TRY(mast_store_begin_own(store, &own));
    sqlite3_stmt *st = NULL;
    mast_status s = mast_store_cached(store, USAGE_SQL, &st);
    for (size_t i = 0; s == MAST_OK && i < n; i++) {
        const mast_usage_row *r = &rows[i];
        sqlite3_reset(st);
        if (r->key_id > 0)
            sqlite3_bind_int64(st, 1, r->key_id);
        else
            sqlite3_bind_null(st, 1);
        sqlite3_bind_text(st, 2, r->model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->day, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r->input);
        sqlite3_bind_int64(st, 5, r->cached);
        sqlite3_bind_int64(st, 6, r->cache_write);
        sqlite3_bind_int64(st, 7, r->output);
        sqlite3_bind_int64(st, 8, r->reasoning);
        sqlite3_bind_double(st, 9, r->cost_usd);
        if (sqlite3_step(st) != SQLITE_DONE)
            s = mast_store_error(store, "cannot record usage");
    }
    if (st)
        sqlite3_reset(st);   /* a kept statement must not hold the table */
    return mast_store_end(store, own, s);
}

mast_status mast_store_usage(mast_store *store, const char *key, const char *model, const char *since,
                             json_t **out)
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store,
        "SELECT coalesce(k.name, '(no key)') AS key, u.model, u.day, u.requests, u.input_tokens,"
        " u.cached_tokens, u.cache_write_tokens, u.output_tokens, u.reasoning_tokens, u.cost_usd"
        " FROM usage u LEFT JOIN api_keys k ON k.id = u.key_id"
        " WHERE (?1 IS NULL OR k.name = ?1) AND (?2 IS NULL OR u.model = ?2) AND (?3 IS NULL OR u.day >= ?3)"
        " ORDER BY u.day DESC, key, u.model", &st));
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, since, -1, SQLITE_STATIC);
    return rows_json(store, st, out);
}

mast_status mast_store_key_name(mast_store *store, int64_t key_id, char *out, size_t cap)
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "SELECT name FROM api_keys WHERE id = ?", &st));
    sqlite3_bind_int64(st, 1, key_id);
    mast_status s = sqlite3_step(st) == SQLITE_ROW ? MAST_OK : mast_fail(MAST_ERR_NOT_FOUND, "no key %lld",
                                                                         (long long)key_id);
    if (s == MAST_OK)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return s;
}

mast_status mast_store_key_spent(mast_store *store, int64_t key_id, const char *since, double *out)
{
    sqlite3_stmt *st;
    MAST_TRY(mast_store_prepare(store, "SELECT coalesce(sum(cost_usd), 0) FROM usage WHERE key_id = ?"
                                " AND (?2 IS NULL OR day >= ?2)", &st));
    sqlite3_bind_int64(st, 1, key_id);
    sqlite3_bind_text(st, 2, since, -1, SQLITE_STATIC);
    mast_status s = sqlite3_step(st) == SQLITE_ROW ? MAST_OK : mast_store_error(store, "cannot read usage");
    *out = s == MAST_OK ? sqlite3_column_double(st, 0) : 0;
    sqlite3_finalize(st);
    return s;
}
