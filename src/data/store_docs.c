/*
** data/store_docs.c — managing what is stored: listing and fetching
** documents with their chunks, deleting collections (see store.h).
*/
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/store_impl.h"

static char *dup_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *s = sqlite3_column_text(stmt, col);
    return strdup(s ? (const char *)s : "");
}

mast_status mast_store_collection_delete(mast_store *store, int64_t collection_id)
{
    MAST_TRY(mast_store_begin(store));
    sqlite3_stmt *stmt;
    /* children first: a store whose foreign keys were off once must not keep orphans */
    static const char *const sql[] = {
        "DELETE FROM embeddings WHERE chunk_id IN (SELECT k.id FROM chunks k JOIN documents d"
        " ON k.document_id = d.id WHERE d.collection_id = ?1)",
        "DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE collection_id = ?1)",
        "DELETE FROM documents WHERE collection_id = ?1",
        "DELETE FROM collections WHERE id = ?1",
    };
    mast_status st = MAST_OK;
    for (size_t i = 0; i < sizeof sql / sizeof *sql && st == MAST_OK; i++) {
        st = mast_store_prepare(store, sql[i], &stmt);
        if (st != MAST_OK)
            break;
        sqlite3_bind_int64(stmt, 1, collection_id);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            st = mast_store_error(store, "cannot delete collection");
        sqlite3_finalize(stmt);
        if (st == MAST_OK && i + 1 == sizeof sql / sizeof *sql && sqlite3_changes(store->db) == 0)
            st = mast_fail(MAST_ERR_NOT_FOUND, "collection %lld does not exist",
                           (long long)collection_id);
    }
    if (st == MAST_OK)
        st = mast_store_commit(store);
    if (st != MAST_OK)
        mast_store_rollback(store);
    return st;
}

#define DOC_COLUMNS                                                                         \
    "d.id, d.uri, d.source, d.title, d.metadata, d.content_hash, d.created_at, d.updated_at," \
    " (SELECT count(*) FROM chunks k WHERE k.document_id = d.id),"                           \
    " (SELECT coalesce(sum(k.n_tokens), 0) FROM chunks k WHERE k.document_id = d.id),"       \
    " (SELECT count(*) FROM embeddings e JOIN chunks k ON e.chunk_id = k.id"                  \
    "  WHERE k.document_id = d.id)"

static mast_status read_doc(sqlite3_stmt *stmt, mast_doc_info *d)
{
    memset(d, 0, sizeof *d);
    d->id = sqlite3_column_int64(stmt, 0);
    d->uri = dup_text(stmt, 1);
    d->source = dup_text(stmt, 2);
    d->title = dup_text(stmt, 3);
    d->metadata = dup_text(stmt, 4);
    d->content_hash = dup_text(stmt, 5);
    d->created_at = sqlite3_column_int64(stmt, 6);
    d->updated_at = sqlite3_column_int64(stmt, 7);
    d->n_chunks = sqlite3_column_int64(stmt, 8);
    d->n_tokens = sqlite3_column_int64(stmt, 9);
    d->n_vectors = sqlite3_column_int64(stmt, 10);
    if (!d->uri || !d->source || !d->title || !d->metadata || !d->content_hash) {
        mast_doc_info_free(d);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    return MAST_OK;
}

/* the metadata key as one quoted JSON path member, so dots and brackets are literal */
#define FILTER_SQL                                                                         \
    " AND (?2 IS NULL OR (json_valid(d.metadata) AND CAST(json_extract(d.metadata, '$.\"' ||" \
    " replace(?2, '\"', '\"\"') || '\"') AS TEXT) = ?3))"

mast_status mast_store_doc_list(mast_store *store, int64_t collection_id, const mast_doc_query *q,
                                mast_doc_info **out, size_t *n, int64_t *total)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store, "SELECT count(*) FROM documents d WHERE d.collection_id = ?1"
                                       FILTER_SQL, &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    sqlite3_bind_text(stmt, 2, q->filter_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, q->filter_value ? q->filter_value : "", -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return mast_store_error(store, "cannot count documents");
    MAST_TRY(mast_store_prepare(store, "SELECT " DOC_COLUMNS " FROM documents d WHERE"
                                       " d.collection_id = ?1" FILTER_SQL
                                       " ORDER BY d.id LIMIT ?4 OFFSET ?5", &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    sqlite3_bind_text(stmt, 2, q->filter_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, q->filter_value ? q->filter_value : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, q->limit > 0 ? q->limit : -1);
    sqlite3_bind_int64(stmt, 5, q->offset > 0 ? q->offset : 0);
    size_t cap = 0;
    mast_status st = MAST_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!mast_grow_array((void **)out, &cap, *n + 1, sizeof **out)) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        if ((st = read_doc(stmt, &(*out)[*n])) != MAST_OK)
            break;
        (*n)++;
    }
    if (st == MAST_OK && rc != SQLITE_DONE)
        st = mast_store_error(store, "cannot list documents");
    sqlite3_finalize(stmt);
    if (st != MAST_OK) {
        mast_doc_infos_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return st;
}

static mast_status get_by(mast_store *store, const char *sql, int64_t collection_id,
                          const char *uri, int64_t id, mast_doc_info *out)
{
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store, sql, &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    if (uri)
        sqlite3_bind_text(stmt, 2, uri, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(stmt, 2, id);
    int rc = sqlite3_step(stmt);
    mast_status st = rc == SQLITE_ROW    ? read_doc(stmt, out)
                     : rc == SQLITE_DONE ? MAST_ERR_NOT_FOUND
                                         : mast_store_error(store, "cannot read document");
    sqlite3_finalize(stmt);
    return st;
}

static int all_digits(const char *s)
{
    if (!*s || strlen(s) > 18)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

mast_status mast_store_doc_get(mast_store *store, int64_t collection_id, const char *key,
                               int by_number, mast_doc_info *out)
{
    memset(out, 0, sizeof *out);
    mast_status st = get_by(store, "SELECT " DOC_COLUMNS " FROM documents d WHERE"
                                   " d.collection_id = ?1 AND d.uri = ?2",
                            collection_id, key, 0, out);
    if (st == MAST_ERR_NOT_FOUND && by_number && all_digits(key))
        st = get_by(store, "SELECT " DOC_COLUMNS " FROM documents d WHERE d.collection_id = ?1"
                           " AND d.id = ?2", collection_id, NULL, strtoll(key, NULL, 10), out);
    if (st == MAST_ERR_NOT_FOUND)
        return mast_fail(MAST_ERR_NOT_FOUND, "document '%s' does not exist in this collection", key);
    return st;
}

mast_status mast_store_doc_by_id(mast_store *store, int64_t collection_id, int64_t id,
                                 mast_doc_info *out)
{
    memset(out, 0, sizeof *out);
    mast_status st = get_by(store, "SELECT " DOC_COLUMNS " FROM documents d WHERE"
                                   " d.collection_id = ?1 AND d.id = ?2",
                            collection_id, NULL, id, out);
    if (st == MAST_ERR_NOT_FOUND)
        return mast_fail(MAST_ERR_NOT_FOUND, "document %lld does not exist in this collection",
                         (long long)id);
    return st;
}

void mast_doc_info_free(mast_doc_info *d)
{
    if (!d)
        return;
    free(d->uri);
    free(d->source);
    free(d->title);
    free(d->metadata);
    free(d->content_hash);
    memset(d, 0, sizeof *d);
}

void mast_doc_infos_free(mast_doc_info *docs, size_t n)
{
    for (size_t i = 0; docs && i < n; i++)
        mast_doc_info_free(&docs[i]);
    free(docs);
}

mast_status mast_store_doc_chunks(mast_store *store, int64_t doc_id, mast_chunk_info **out,
                                  size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store, "SELECT id, ordinal, n_tokens, text, heading, page_start,"
                                       " page_end FROM chunks WHERE document_id = ?"
                                       " ORDER BY ordinal", &stmt));
    sqlite3_bind_int64(stmt, 1, doc_id);
    size_t cap = 0;
    int rc;
    mast_status st = MAST_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!mast_grow_array((void **)out, &cap, *n + 1, sizeof **out)) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        mast_chunk_info *c = &(*out)[(*n)++];
        c->id = sqlite3_column_int64(stmt, 0);
        c->ordinal = sqlite3_column_int(stmt, 1);
        c->n_tokens = sqlite3_column_int(stmt, 2);
        c->text = dup_text(stmt, 3);
        c->heading = dup_text(stmt, 4);
        c->page_start = sqlite3_column_int(stmt, 5);
        c->page_end = sqlite3_column_int(stmt, 6);
        if (!c->text || !c->heading)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    if (st == MAST_OK && rc != SQLITE_DONE)
        st = mast_store_error(store, "cannot read chunks");
    sqlite3_finalize(stmt);
    if (st != MAST_OK) {
        mast_chunk_infos_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return st;
}

#define SECTION_MAX 16   /* chunks either side of a section's hit */

mast_status mast_store_chunk_context(mast_store *store, int64_t chunk_id, int expand, char **text)
{
    *text = NULL;
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store, "SELECT document_id, ordinal, heading FROM chunks WHERE id = ?",
                                &stmt));
    sqlite3_bind_int64(stmt, 1, chunk_id);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return mast_fail(MAST_ERR_NOT_FOUND, "chunk %lld does not exist", (long long)chunk_id);
    }
    int64_t doc = sqlite3_column_int64(stmt, 0);
    int ordinal = sqlite3_column_int(stmt, 1);
    char *heading = dup_text(stmt, 2);
    sqlite3_finalize(stmt);
    if (!heading)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    int span = expand > 0 ? expand : SECTION_MAX;
    mast_status st = mast_store_prepare(store, "SELECT ordinal, heading, text FROM chunks WHERE"
                                               " document_id = ? AND ordinal BETWEEN ? AND ?"
                                               " ORDER BY ordinal", &stmt);
    if (st != MAST_OK) {
        free(heading);
        return st;
    }
    sqlite3_bind_int64(stmt, 1, doc);
    sqlite3_bind_int(stmt, 2, ordinal - span);
    sqlite3_bind_int(stmt, 3, ordinal + span);
    /* a section: the run of the same heading around the hit, so a change of
    ** heading before it starts the run again and one after it ends it */
    mast_buf b = {0};
    int rc;
    while (st == MAST_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int o = sqlite3_column_int(stmt, 0);
        const char *h = (const char *)sqlite3_column_text(stmt, 1);
        int same = strcmp(h ? h : "", heading) == 0;
        if (expand < 0 && !same) {
            if (o > ordinal)
                break;
            b.len = 0;   /* not this section: start again */
            continue;
        }
        if (b.len)
            st = mast_buf_puts(&b, "\n\n");
        if (st == MAST_OK)
            st = mast_buf_puts(&b, (const char *)sqlite3_column_text(stmt, 2));
    }
    sqlite3_finalize(stmt);
    free(heading);
    if (st == MAST_OK && !(*text = b.data ? mast_buf_detach(&b) : strdup("")))
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_buf_free(&b);
    return st;
}

void mast_chunk_infos_free(mast_chunk_info *chunks, size_t n)
{
    for (size_t i = 0; chunks && i < n; i++) {
        free(chunks[i].text);
        free(chunks[i].heading);
    }
    free(chunks);
}

mast_status mast_store_doc_meta_scan(mast_store *store, int64_t collection_id, const char *source,
                                     const char *key, mast_doc_meta_fn fn, void *ctx)
{
    sqlite3_stmt *stmt;
    MAST_TRY(mast_store_prepare(store, "SELECT id, CAST(json_extract(metadata, '$.\"' ||"
                                       " replace(?3, '\"', '\"\"') || '\"') AS TEXT) FROM documents"
                                       " WHERE collection_id = ?1 AND source = ?2 ORDER BY id", &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    sqlite3_bind_text(stmt, 2, source, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, key, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(stmt, 1);
        if (fn(ctx, sqlite3_column_int64(stmt, 0), v ? (const char *)v : ""))
            break;
    }
    mast_status st = rc == SQLITE_ROW || rc == SQLITE_DONE ? MAST_OK
                                                           : mast_store_error(store, "cannot read documents");
    sqlite3_finalize(stmt);
    return st;
}
