/*
** data/store_traces.c — persisting and reading traces (tables traces, spans).
**
** Kept apart from store.c because it is observability's storage, not the
** documents'; the format of what is read back is JSON so that the CLI and the
** HTTP server print the same thing.
*/
#include "data/store_traces.h"
#include "data/store_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"

static const char *status_name(mast_status st)
{
    return st == MAST_OK ? "ok" : mast_strerror(st);
}

/* Inserts one trace inside the caller's transaction. */
/* One trace with the batch's statements; attrs is the batch's scratch buffer. */
static mast_status save_one(mast_store *store, sqlite3_stmt *trace_stmt, sqlite3_stmt *span_stmt,
                            const mast_trace *t, mast_buf *attrs)
{
    if (!t || t->n_spans == 0)
        return MAST_OK;
    const mast_span *root = &t->spans[0];
    for (size_t i = 0; i < t->n_spans; i++) {
        const mast_span *s = &t->spans[i];
        mast_buf_clear(attrs);
        MAST_TRY(mast_span_attributes(s, attrs));
        if (i == 0) {   /* the trace's row carries the root span's attributes */
            sqlite3_reset(trace_stmt);
            sqlite3_bind_text(trace_stmt, 1, t->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(trace_stmt, 2, root->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(trace_stmt, 3, root->start_us);
            sqlite3_bind_int64(trace_stmt, 4, root->duration_us);
            sqlite3_bind_text(trace_stmt, 5, status_name(root->status), -1, SQLITE_STATIC);
            sqlite3_bind_text(trace_stmt, 6, mast_buf_cstr(attrs), -1, SQLITE_STATIC);
            sqlite3_bind_text(trace_stmt, 7, t->trace_id[0] ? t->trace_id : t->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(trace_stmt, 8, t->parent_span_id, -1, SQLITE_STATIC);
            if (sqlite3_step(trace_stmt) != SQLITE_DONE)
                return mast_store_error(store, "cannot save trace");
        }
        sqlite3_reset(span_stmt);
        sqlite3_bind_text(span_stmt, 1, t->id, -1, SQLITE_STATIC);
        sqlite3_bind_int(span_stmt, 2, s->id);
        if (s->parent < 0)
            sqlite3_bind_null(span_stmt, 3);
        else
            sqlite3_bind_int(span_stmt, 3, s->parent);
        sqlite3_bind_text(span_stmt, 4, s->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(span_stmt, 5, s->start_us);
        sqlite3_bind_int64(span_stmt, 6, s->duration_us);
        sqlite3_bind_text(span_stmt, 7, status_name(s->status), -1, SQLITE_STATIC);
        sqlite3_bind_text(span_stmt, 8, mast_buf_cstr(attrs), -1, SQLITE_STATIC);
        if (sqlite3_step(span_stmt) != SQLITE_DONE)
            return mast_store_error(store, "cannot save span");
    }
    return MAST_OK;
}

static const char TRACE_SQL[] = "INSERT INTO traces(id, name, start_us, duration_us, status, attributes,"
                                " trace_id, parent_span_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";
static const char SPAN_SQL[] = "INSERT INTO spans(trace_id, span_id, parent_id, name, start_us, duration_us,"
                               " status, attributes) VALUES(?, ?, ?, ?, ?, ?, ?, ?)";

mast_status mast_store_traces_save(mast_store *store, mast_trace *const *traces, size_t n)
{
    sqlite3_stmt *trace_stmt, *span_stmt;
    bool own;
    MAST_TRY(mast_store_begin_own(store, &own));
    mast_status st = mast_store_cached(store, TRACE_SQL, &trace_stmt);
    if (st == MAST_OK)
        st = mast_store_cached(store, SPAN_SQL, &span_stmt);
    mast_buf attrs = {0};
    for (size_t i = 0; i < n && st == MAST_OK; i++)
        st = save_one(store, trace_stmt, span_stmt, traces[i], &attrs);
    mast_buf_free(&attrs);
    if (st == MAST_OK) {   /* kept statements must not hold the tables */
        sqlite3_reset(trace_stmt);
        sqlite3_reset(span_stmt);
    }
    return mast_store_end(store, own, st);
}

mast_status mast_store_trace_save(mast_store *store, const mast_trace *t)
{
    mast_trace *one = (mast_trace *)t;
    return mast_store_traces_save(store, &one, 1);
}

static json_t *parse_attrs(sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_object();
}

/* trace_id (the W3C trace; the record's id when it had no caller) and the
** caller's parent_span_id when there was one, from columns col, col + 1. */
static void set_context(json_t *o, sqlite3_stmt *stmt, int col)
{
    const char *tid = (const char *)sqlite3_column_text(stmt, col);
    const char *parent = (const char *)sqlite3_column_text(stmt, col + 1);
    json_object_set_new(o, "trace_id", json_string(tid && *tid ? tid : json_string_value(json_object_get(o, "id"))));
    if (parent && *parent)
        json_object_set_new(o, "parent_span_id", json_string(parent));
}

mast_status mast_store_trace_list(mast_store *store, int limit, json_t **out)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(store->db,
                           "SELECT id, name, start_us, duration_us, status, attributes,"
                           " (SELECT count(*) FROM spans s WHERE s.trace_id = t.id), trace_id,"
                           " parent_span_id FROM traces t ORDER BY start_us DESC LIMIT ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return mast_store_error(store, "cannot list traces");
    sqlite3_bind_int(stmt, 1, limit);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string((const char *)sqlite3_column_text(stmt, 0)));
        json_object_set_new(o, "name", mast_json_string_lossy((const char *)sqlite3_column_text(stmt, 1)));
        json_object_set_new(o, "start_us", json_integer(sqlite3_column_int64(stmt, 2)));
        json_object_set_new(o, "duration_us", json_integer(sqlite3_column_int64(stmt, 3)));
        json_object_set_new(o, "status", json_string((const char *)sqlite3_column_text(stmt, 4)));
        json_object_set_new(o, "attributes", parse_attrs(stmt, 5));
        json_object_set_new(o, "n_spans", json_integer(sqlite3_column_int64(stmt, 6)));
        set_context(o, stmt, 7);
        json_array_append_new(arr, o);
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        json_decref(arr);
        return mast_store_error(store, "cannot list traces");
    }
    *out = arr;
    return MAST_OK;
}

mast_status mast_store_trace_get(mast_store *store, const char *id_prefix, json_t **out)
{
    sqlite3_stmt *stmt;
    if (strlen(id_prefix) == 0 || strspn(id_prefix, "0123456789abcdef") != strlen(id_prefix))
        return mast_fail(MAST_ERR_INVALID, "'%s' is not a trace id (hex digits)", id_prefix);
    /* a prefix of the id, else (the short id mast traces shows) its end */
    json_t *trace = NULL;
    int n = 0, rc;
    for (int by_end = 0; by_end < 2 && n == 0; by_end++) {
        if (sqlite3_prepare_v2(store->db, by_end
                               ? "SELECT id, name, start_us, duration_us, status, attributes, trace_id,"
                                 " parent_span_id FROM traces WHERE id LIKE '%' || ?1 ORDER BY id LIMIT 2"
                               : "SELECT id, name, start_us, duration_us, status, attributes, trace_id,"
                                 " parent_span_id FROM traces WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id"
                                 " LIMIT 2",
                               -1, &stmt, NULL) != SQLITE_OK)
            return mast_store_error(store, "cannot read trace");
        sqlite3_bind_text(stmt, 1, id_prefix, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            if (++n > 1)
                break;
            trace = json_object();
            json_object_set_new(trace, "id", json_string((const char *)sqlite3_column_text(stmt, 0)));
            json_object_set_new(trace, "name", mast_json_string_lossy((const char *)sqlite3_column_text(stmt, 1)));
            json_object_set_new(trace, "start_us", json_integer(sqlite3_column_int64(stmt, 2)));
            json_object_set_new(trace, "duration_us", json_integer(sqlite3_column_int64(stmt, 3)));
            json_object_set_new(trace, "status", json_string((const char *)sqlite3_column_text(stmt, 4)));
            json_object_set_new(trace, "attributes", parse_attrs(stmt, 5));
            set_context(trace, stmt, 6);
        }
        sqlite3_finalize(stmt);
    }
    if (n == 0) {   /* a W3C trace id (a caller's, from traceparent): the record, when it has one */
        json_decref(trace);
        if (sqlite3_prepare_v2(store->db, "SELECT id FROM traces WHERE trace_id >= ?1 AND trace_id < ?1 || 'g'"
                               " ORDER BY id LIMIT 6", -1, &stmt, NULL) != SQLITE_OK)
            return mast_store_error(store, "cannot read trace");
        sqlite3_bind_text(stmt, 1, id_prefix, -1, SQLITE_STATIC);
        char ids[6][33];
        int k = 0;
        while (k < 6 && sqlite3_step(stmt) == SQLITE_ROW)
            snprintf(ids[k++], sizeof ids[0], "%s", (const char *)sqlite3_column_text(stmt, 0));
        sqlite3_finalize(stmt);
        if (k == 1)
            return mast_store_trace_get(store, ids[0], out);
        if (k > 1) {
            mast_buf b = {0};
            for (int i = 0; i < k && i < 5; i++)
                mast_buf_printf(&b, "%s%.12s", i ? ", " : "", ids[i] + 20);
            mast_status st = mast_fail(MAST_ERR_INVALID, "trace '%s' holds %s%d requests: show one of %s%s",
                                       id_prefix, k > 5 ? "more than " : "", k > 5 ? 5 : k, mast_buf_cstr(&b),
                                       k > 5 ? ", ..." : "");
            mast_buf_free(&b);
            return st;
        }
        return mast_fail(MAST_ERR_NOT_FOUND, "trace '%s' not found", id_prefix);
    }
    if (n > 1) {
        json_decref(trace);
        return mast_fail(MAST_ERR_INVALID, "trace id '%s' is ambiguous: give more of it", id_prefix);
    }
    if (sqlite3_prepare_v2(store->db,
                           "SELECT span_id, parent_id, name, start_us, duration_us, status,"
                           " attributes FROM spans WHERE trace_id = ? ORDER BY span_id",
                           -1, &stmt, NULL) != SQLITE_OK) {
        json_decref(trace);
        return mast_store_error(store, "cannot read spans");
    }
    sqlite3_bind_text(stmt, 1, json_string_value(json_object_get(trace, "id")), -1,
                      SQLITE_TRANSIENT);
    json_t *spans = json_array();
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *o = json_object();
        json_object_set_new(o, "span_id", json_integer(sqlite3_column_int(stmt, 0)));
        json_object_set_new(o, "parent_id", sqlite3_column_type(stmt, 1) == SQLITE_NULL
                                                ? json_null()
                                                : json_integer(sqlite3_column_int(stmt, 1)));
        json_object_set_new(o, "name", mast_json_string_lossy((const char *)sqlite3_column_text(stmt, 2)));
        json_object_set_new(o, "start_us", json_integer(sqlite3_column_int64(stmt, 3)));
        json_object_set_new(o, "duration_us", json_integer(sqlite3_column_int64(stmt, 4)));
        json_object_set_new(o, "status", json_string((const char *)sqlite3_column_text(stmt, 5)));
        json_object_set_new(o, "attributes", parse_attrs(stmt, 6));
        json_array_append_new(spans, o);
    }
    sqlite3_finalize(stmt);
    json_object_set_new(trace, "spans", spans);
    *out = trace;
    return MAST_OK;
}

mast_status mast_store_traces_size(mast_store *store, int64_t *count, uint64_t *bytes)
{
    sqlite3_stmt *stmt;
    *count = 0;
    *bytes = 0;
    if (sqlite3_prepare_v2(store->db, "SELECT count(*) FROM traces", -1, &stmt, NULL) != SQLITE_OK)
        return mast_store_error(store, "cannot count traces");
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    if (sqlite3_prepare_v2(store->db, "SELECT sum(pgsize) FROM dbstat WHERE name IN ('traces', 'spans', "
                           "'traces_start', 'sqlite_autoindex_traces_1', 'sqlite_autoindex_spans_1')",
                           -1, &stmt, NULL) != SQLITE_OK)
        return MAST_OK;   /* no dbstat in this SQLite: no bytes */
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *bytes = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return MAST_OK;
}

/* Deletes up to `batch` of the oldest traces, those before before_us (or
** any, with INT64_MAX); how many. */
static mast_status delete_oldest(mast_store *store, int64_t before_us, size_t batch, int *n)
{
    sqlite3_stmt *stmt;
    *n = 0;
    if (sqlite3_prepare_v2(store->db, "DELETE FROM traces WHERE id IN (SELECT id FROM traces WHERE "
                           "start_us < ? ORDER BY start_us LIMIT ?)", -1, &stmt, NULL) != SQLITE_OK)
        return mast_store_error(store, "cannot prune traces");
    sqlite3_bind_int64(stmt, 1, before_us);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)batch);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return mast_store_error(store, "cannot prune traces");
    *n = sqlite3_changes(store->db);
    return MAST_OK;
}

mast_status mast_store_traces_prune(mast_store *store, int64_t before_us, uint64_t max_bytes,
                                    size_t batch, int64_t *deleted)
{
    if (!batch)
        batch = 500;
    int64_t total = 0;
    int n = 0;
    mast_status st = MAST_OK;
    if (before_us > 0)   /* by age: every trace older than the limit */
        do {
            st = delete_oldest(store, before_us, batch, &n);
            total += n;
        } while (st == MAST_OK && n > 0);
    if (st == MAST_OK && max_bytes) {   /* by size: the oldest, until under the limit */
        int64_t count;
        uint64_t bytes;
        st = mast_store_traces_size(store, &count, &bytes);
        if (st == MAST_OK && bytes > max_bytes && count > 0) {
            /* bytes per trace from the tables as they are; 5% more, so the next
            ** traces do not cross the limit again at once */
            double per = (double)bytes / (double)count;
            int64_t over = (int64_t)(((double)(bytes - max_bytes) + 0.05 * (double)max_bytes) / per) + 1;
            for (int64_t left = over; st == MAST_OK && left > 0; left -= n) {
                st = delete_oldest(store, INT64_MAX, left < (int64_t)batch ? (size_t)left : batch, &n);
                total += n;
                if (!n)
                    break;
            }
        }
    }
    if (deleted)
        *deleted = total;
    return st;
}

mast_status mast_store_traces_after(mast_store *store, const char *after_id, int limit, json_t **out)
{
    *out = NULL;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(store->db, "SELECT id FROM traces WHERE id > ? ORDER BY id LIMIT ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        return mast_store_error(store, "cannot read traces");
    sqlite3_bind_text(stmt, 1, after_id ? after_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, limit);
    json_t *ids = json_array();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(stmt, 0)));
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        json_decref(ids);
        return mast_store_error(store, "cannot read traces");
    }
    json_t *arr = json_array();
    size_t i;
    json_t *id;
    mast_status st = MAST_OK;
    json_array_foreach(ids, i, id) {
        json_t *t;
        if ((st = mast_store_trace_get(store, json_string_value(id), &t)) == MAST_ERR_NOT_FOUND) {
            st = MAST_OK;   /* pruned meanwhile */
            continue;
        }
        if (st != MAST_OK)
            break;
        json_array_append_new(arr, t);
    }
    json_decref(ids);
    if (st != MAST_OK) {
        json_decref(arr);
        return st;
    }
    *out = arr;
    return MAST_OK;
}
