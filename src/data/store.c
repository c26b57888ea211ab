/*
** data/store.c — the SQLite store: opening, migrations, collections,
** documents and chunks (see store.h).
**
** Migrations are an append-only list of SQL scripts; schema_version holds the
** number applied. A database from a newer mast is refused rather than touched.
*/
#include "data/store.h"
#include "data/store_impl.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"

static const char *const migrations[] = {
    /* 1: the skeleton schema */
    "CREATE TABLE collections("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  config TEXT NOT NULL DEFAULT '{}',"
    "  data_version INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE documents("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
    "  uri TEXT NOT NULL,"
    "  source TEXT NOT NULL DEFAULT '',"
    "  content_hash TEXT NOT NULL,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE(collection_id, uri));"
    "CREATE INDEX documents_source ON documents(collection_id, source);"
    "CREATE TABLE chunks("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    "  ordinal INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  n_tokens INTEGER NOT NULL,"
    "  heading TEXT NOT NULL DEFAULT '',"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  UNIQUE(document_id, ordinal));"
    "CREATE TABLE traces("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  start_us INTEGER NOT NULL,"
    "  duration_us INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  attributes TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX traces_start ON traces(start_us);"
    "CREATE TABLE spans("
    "  trace_id TEXT NOT NULL REFERENCES traces(id) ON DELETE CASCADE,"
    "  span_id INTEGER NOT NULL,"
    "  parent_id INTEGER,"
    "  name TEXT NOT NULL,"
    "  start_us INTEGER NOT NULL,"
    "  duration_us INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  attributes TEXT NOT NULL DEFAULT '{}',"
    "  PRIMARY KEY(trace_id, span_id));",
    /* 2: chunk embeddings (deleted with their chunk) */
    "CREATE TABLE embeddings("
    "  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  dim INTEGER NOT NULL,"
    "  vector BLOB NOT NULL);",
    /* 3: the gateway's virtual keys (only their hashes) and what each spent */
    "CREATE TABLE api_keys("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  hash TEXT NOT NULL UNIQUE,"          /* SHA-256 of the key, hex */
    "  prefix TEXT NOT NULL,"               /* its first characters, to recognise it */
    "  models TEXT NOT NULL DEFAULT '[]',"  /* the model names it may use; [] = any */
    "  budget_usd REAL,"                     /* NULL = no budget */
    "  budget_period TEXT NOT NULL DEFAULT 'total',"   /* day, month or total */
    "  rpm INTEGER, tpm INTEGER,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER);"
    "CREATE TABLE usage("
    "  key_id INTEGER REFERENCES api_keys(id),"   /* NULL: a request without a key */
    "  model TEXT NOT NULL,"
    "  day TEXT NOT NULL,"                   /* YYYY-MM-DD, UTC */
    "  requests INTEGER NOT NULL DEFAULT 0,"
    "  input_tokens INTEGER NOT NULL DEFAULT 0,"
    "  cached_tokens INTEGER NOT NULL DEFAULT 0,"
    "  cache_write_tokens INTEGER NOT NULL DEFAULT 0,"
    "  output_tokens INTEGER NOT NULL DEFAULT 0,"
    "  reasoning_tokens INTEGER NOT NULL DEFAULT 0,"
    "  cost_usd REAL NOT NULL DEFAULT 0,"
    "  UNIQUE(key_id, model, day));",
    /* 4: prompts: immutable versions and movable labels */
    "CREATE TABLE prompts("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  type TEXT NOT NULL,"                  /* text or chat, fixed at creation */
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE prompt_versions("
    "  prompt_id INTEGER NOT NULL REFERENCES prompts(id),"
    "  version INTEGER NOT NULL,"
    "  template TEXT NOT NULL,"              /* text, or a JSON array of messages */
    "  config TEXT NOT NULL DEFAULT '{}',"   /* model, temperature, max_tokens, response_format */
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY(prompt_id, version));"
    "CREATE TABLE prompt_labels("
    "  prompt_id INTEGER NOT NULL REFERENCES prompts(id),"
    "  label TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  PRIMARY KEY(prompt_id, label));",
    /* 5: where a chunk is in a paged source (PDF): its first and last page */
    ("ALTER TABLE chunks ADD COLUMN page_start INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE chunks ADD COLUMN page_end INTEGER NOT NULL DEFAULT 0;"),
    /* 6: near-duplicate detection: each document's MinHash signature (data/dedup.h;
    ** the LSH band index is built from them in memory) */
    "CREATE TABLE doc_minhash("
    "  document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,"
    "  signature BLOB NOT NULL);",
    /* 7: W3C trace context: the trace a request's record belongs to (the caller's, from
    ** traceparent, else its own id) and the caller's span */
    ("ALTER TABLE traces ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE traces ADD COLUMN parent_span_id TEXT NOT NULL DEFAULT '';"
     "CREATE INDEX traces_trace_id ON traces(trace_id);"),
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])
_Static_assert(N_MIGRATIONS == MAST_STORE_SCHEMA_VERSION, "one migration per schema version");

const char *mast_store_default_path(const char *flag)
{
    if (flag && *flag)
        return flag;
    const char *env = getenv("MAST_DB");
    return env && *env ? env : MAST_DEFAULT_DB;
}

mast_status mast_store_error(mast_store *store, const char *what)
{
    return mast_fail(MAST_ERR_DB, "%s: %s: %s", store->path, what, sqlite3_errmsg(store->db));
}

mast_status mast_store_exec(mast_store *store, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(store->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        mast_status st = mast_fail(MAST_ERR_DB, "%s: %s", store->path, err ? err : "error");
        sqlite3_free(err);
        return st;
    }
    return MAST_OK;
}

mast_status mast_store_begin(mast_store *store)
{
    return mast_store_exec(store, "BEGIN IMMEDIATE");
}

mast_status mast_store_commit(mast_store *store)
{
    return mast_store_exec(store, "COMMIT");
}

void mast_store_rollback(mast_store *store)
{
    if (!sqlite3_get_autocommit(store->db))
        sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

mast_status mast_store_prepare(mast_store *store, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2(store->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return mast_store_error(store, "prepare");
    return MAST_OK;
}

#define prepare mast_store_prepare

mast_status mast_store_cached(mast_store *store, const char *sql, sqlite3_stmt **stmt)
{
    int free_slot = -1;
    for (int i = 0; i < MAST_STORE_CACHED; i++) {
        if (store->cache[i].sql == sql) {
            *stmt = store->cache[i].stmt;
            sqlite3_reset(*stmt);
            sqlite3_clear_bindings(*stmt);
            return MAST_OK;
        }
        if (!store->cache[i].sql && free_slot < 0)
            free_slot = i;
    }
    if (sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK)
        return mast_store_error(store, "prepare");
    if (free_slot < 0) {
        sqlite3_finalize(*stmt);
        *stmt = NULL;
        return mast_fail(MAST_ERR_INTERNAL, "the store's statement cache is full");
    }
    store->cache[free_slot].sql = sql;
    store->cache[free_slot].stmt = *stmt;
    return MAST_OK;
}

mast_status mast_store_begin_own(mast_store *store, bool *own)
{
    *own = sqlite3_get_autocommit(store->db) != 0;
    return *own ? mast_store_begin(store) : MAST_OK;
}

mast_status mast_store_end(mast_store *store, bool own, mast_status st)
{
    if (!own)
        return st;
    if (st == MAST_OK)
        st = mast_store_commit(store);
    if (st != MAST_OK)
        mast_store_rollback(store);
    return st;
}

static mast_status schema_version(mast_store *store, int *version)
{
    sqlite3_stmt *stmt;
    *version = 0;
    /* a brand-new database has no schema_version table (and a file that is
    ** not a database fails here with SQLite's own "file is not a database") */
    MAST_TRY(prepare(store, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                            "name = 'schema_version'", &stmt));
    int rc = sqlite3_step(stmt);
    int exists = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) > 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return mast_store_error(store, "cannot read schema version");
    if (!exists)
        return MAST_OK;
    MAST_TRY(prepare(store, "SELECT version FROM schema_version", &stmt));
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return MAST_OK;
}

static mast_status migrate(mast_store *store)
{
    int version;
    MAST_TRY(schema_version(store, &version));
    if (version > (int)N_MIGRATIONS)
        return mast_fail(MAST_ERR_UNSUPPORTED,
                         "%s: database schema version %d is newer than this mast supports (%d)",
                         store->path, version, (int)N_MIGRATIONS);
    for (int v = version; v < (int)N_MIGRATIONS; v++) {
        MAST_TRY(mast_store_begin(store));
        mast_status st = MAST_OK;
        if (v == 0)
            st = mast_store_exec(store, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                                        "INSERT INTO schema_version VALUES(0)");
        if (st == MAST_OK)
            st = mast_store_exec(store, migrations[v]);
        if (st == MAST_OK) {
            char sql[64];
            snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", v + 1);
            st = mast_store_exec(store, sql);
        }
        if (st == MAST_OK)
            st = mast_store_commit(store);
        if (st != MAST_OK) {
            mast_store_rollback(store);
            return mast_fail_prefix(st, "migration to schema version %d failed", v + 1);
        }
    }
    return MAST_OK;
}

static mast_status check_dir(const char *path)
{
    char *dir_copy = strdup(path);
    if (!dir_copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    struct stat st;
    const char *dir = dirname(dir_copy);
    mast_status s = MAST_OK;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        s = mast_fail(MAST_ERR_NOT_FOUND, "%s: cannot open database: directory '%s' does not exist",
                      path, dir);
    free(dir_copy);
    return s;
}

static mast_status new_store(const char *path, mast_store **out)
{
    mast_store *store = calloc(1, sizeof *store);
    if (!store || !(store->path = strdup(path))) {
        free(store);
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    *out = store;
    return MAST_OK;
}

/* Opens path with flags (and, for a URI, as one); on success sets the busy timeout. */
static mast_status open_db(mast_store *store, const char *name, int flags)
{
    if (store->db) {
        sqlite3_close(store->db);
        store->db = NULL;
    }
    int rc = sqlite3_open_v2(name, &store->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return mast_fail(MAST_ERR_DB, "%s: cannot open database: %s", store->path,
                         store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(store->db, 10000);
    return MAST_OK;
}

mast_status mast_store_open(mast_store **out, const char *path)
{
    *out = NULL;
    MAST_TRY(check_dir(path));
    mast_store *store = NULL;
    MAST_TRY(new_store(path, &store));
    mast_status s = open_db(store, path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (s == MAST_OK) {
        s = mast_store_exec(store, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                   "PRAGMA foreign_keys=ON;");
        if (s != MAST_OK)
            s = mast_fail(MAST_ERR_DB, "%s: cannot open database: %s", path,
                          sqlite3_errmsg(store->db));
    }
    if (s == MAST_OK)
        s = migrate(store);
    if (s != MAST_OK) {
        mast_store_close(store);
        return s;
    }
    *out = store;
    return MAST_OK;
}

/* True when this process may write the file and create files beside it
** (the WAL's -wal and -shm). */
static int writable(const char *path)
{
    char *dir_copy = strdup(path);
    int ok = dir_copy && access(path, W_OK) == 0 && access(dirname(dir_copy), W_OK) == 0;
    free(dir_copy);
    return ok;
}

mast_status mast_store_open_existing(mast_store **out, const char *path)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return mast_fail(MAST_ERR_NOT_FOUND, "%s: no such store (nothing was ingested there: "
                         "check --db or $MAST_DB)", path);
    if (writable(path))
        return mast_store_open(out, path);
    mast_store *store = NULL;
    MAST_TRY(new_store(path, &store));
    store->readonly = 1;
    /* read-only: a WAL database needs its -shm file, which a read-only folder
    ** may not have; then the file is read as immutable (no locks) */
    mast_status s = open_db(store, path, SQLITE_OPEN_READONLY);
    int version = 0;
    if (s == MAST_OK && schema_version(store, &version) != MAST_OK) {
        mast_buf uri = {0};
        s = mast_buf_puts(&uri, "file:");
        for (const char *p = path; s == MAST_OK && *p; p++)   /* percent-encode ? # % */
            s = *p == '?' || *p == '#' || *p == '%' ? mast_buf_printf(&uri, "%%%02X", (unsigned char)*p)
                                                     : mast_buf_putc(&uri, *p);
        if (s == MAST_OK)
            s = mast_buf_puts(&uri, "?immutable=1");
        if (s == MAST_OK)
            s = open_db(store, uri.data, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
        mast_buf_free(&uri);
        if (s == MAST_OK)
            s = schema_version(store, &version);
    }
    if (s == MAST_OK && version > (int)N_MIGRATIONS)
        s = mast_fail(MAST_ERR_UNSUPPORTED,
                      "%s: database schema version %d is newer than this mast supports (%d)",
                      path, version, (int)N_MIGRATIONS);
    else if (s == MAST_OK && version < (int)N_MIGRATIONS)
        s = mast_fail(MAST_ERR_UNSUPPORTED, "%s: the store is read-only and needs an upgrade "
                      "(schema version %d to %d): open it once with write access", path, version,
                      (int)N_MIGRATIONS);
    if (s == MAST_OK)
        s = mast_store_exec(store, "PRAGMA foreign_keys=ON");
    if (s != MAST_OK) {
        mast_store_close(store);
        return s;
    }
    *out = store;
    return MAST_OK;
}

int mast_store_readonly(const mast_store *store)
{
    return store->readonly;
}

void mast_store_close(mast_store *store)
{
    if (!store)
        return;
    for (int i = 0; i < MAST_STORE_CACHED; i++)
        sqlite3_finalize(store->cache[i].stmt);
    sqlite3_close(store->db);
    free(store->path);
    free(store);
}

/* ---- collections ---- */

static int valid_collection_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

mast_status mast_store_collection_find(mast_store *store, const char *name, int64_t *id)
{
    if (!valid_collection_name(name))   /* a bad name is a bad argument, not a missing one */
        return mast_fail(MAST_ERR_INVALID,
                         "invalid collection name '%s': use 1 to 64 of A-Z a-z 0-9 . _ -", name);
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "SELECT id FROM collections WHERE name = ?", &stmt));
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    mast_status st = MAST_OK;
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(stmt, 0);
    else if (rc == SQLITE_DONE)
        st = mast_fail(MAST_ERR_NOT_FOUND, "collection '%s' does not exist", name);
    else
        st = mast_store_error(store, "cannot look up collection");
    sqlite3_finalize(stmt);
    return st;
}

mast_status mast_store_collection_ensure(mast_store *store, const char *name, int64_t *id)
{
    if (!valid_collection_name(name))
        return mast_fail(MAST_ERR_INVALID,
                         "invalid collection name '%s': use 1 to 64 of A-Z a-z 0-9 . _ -", name);
    if (mast_store_collection_find(store, name, id) == MAST_OK)
        return MAST_OK;
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "INSERT INTO collections(name, created_at) VALUES(?, unixepoch())",
                     &stmt));
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return mast_store_error(store, "cannot create collection");
    *id = sqlite3_last_insert_rowid(store->db);
    mast_clear_error();
    return MAST_OK;
}

mast_status mast_store_collection_version(mast_store *store, int64_t id, int64_t *version)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "SELECT data_version FROM collections WHERE id = ?", &stmt));
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    mast_status st = MAST_OK;
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int64(stmt, 0);
    else if (rc == SQLITE_DONE)
        st = mast_fail(MAST_ERR_NOT_FOUND, "collection %lld does not exist", (long long)id);
    else
        st = mast_store_error(store, "cannot read collection version");
    sqlite3_finalize(stmt);
    return st;
}

const char *mast_store_path(const mast_store *store) { return store->path; }

/* Steps a prepared statement whose first column is an id into a malloc'ed
** array (finalizing it); `what` words the error. */
static mast_status read_ids(mast_store *store, sqlite3_stmt *stmt, const char *what, int64_t **ids,
                            size_t *n)
{
    size_t cap = 0;
    int rc;
    mast_status st = MAST_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!mast_grow_array((void **)ids, &cap, *n + 1, sizeof **ids)) {
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(stmt, 0);
    }
    if (st == MAST_OK && rc != SQLITE_DONE)
        st = mast_store_error(store, what);
    sqlite3_finalize(stmt);
    if (st != MAST_OK) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return st;
}

mast_status mast_store_docs_matching(mast_store *store, int64_t collection_id, const char *key,
                                     const char *value, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *stmt;
    /* the key as one JSON path member, quoted, so dots and brackets are literal */
    MAST_TRY(prepare(store, "SELECT id FROM documents WHERE collection_id = ?1 AND json_valid(metadata)"
                            " AND CAST(json_extract(metadata, '$.\"' || replace(?2, '\"', '\"\"') || '\"')"
                            " AS TEXT) = ?3 ORDER BY id", &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    sqlite3_bind_text(stmt, 2, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, value, -1, SQLITE_TRANSIENT);
    return read_ids(store, stmt, "cannot filter documents", ids, n);
}

static char *dup_col(sqlite3_stmt *stmt, int col)
{
    const unsigned char *s = sqlite3_column_text(stmt, col);
    return strdup(s ? (const char *)s : "");
}

mast_status mast_store_collection_list(mast_store *store, mast_collection_info **out, size_t *n)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "SELECT c.id, c.name, c.config, c.data_version, c.created_at,"
                     " (SELECT count(*) FROM documents d WHERE d.collection_id = c.id),"
                     " (SELECT count(*) FROM chunks k JOIN documents d ON k.document_id = d.id"
                     "  WHERE d.collection_id = c.id)"
                     " FROM collections c ORDER BY c.name",
                     &stmt));
    mast_collection_info *infos = NULL;
    size_t count = 0, cap = 0;
    int rc;
    mast_status st = MAST_OK;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            mast_collection_info *p = realloc(infos, cap * sizeof *p);
            if (!p) {
                st = mast_fail(MAST_ERR_NOMEM, "out of memory");
                break;
            }
            infos = p;
        }
        mast_collection_info *c = &infos[count++];
        c->id = sqlite3_column_int64(stmt, 0);
        c->name = dup_col(stmt, 1);
        c->config = dup_col(stmt, 2);
        c->data_version = sqlite3_column_int64(stmt, 3);
        c->created_at = sqlite3_column_int64(stmt, 4);
        c->n_documents = sqlite3_column_int64(stmt, 5);
        c->n_chunks = sqlite3_column_int64(stmt, 6);
    }
    if (st == MAST_OK && rc != SQLITE_DONE)
        st = mast_store_error(store, "cannot list collections");
    sqlite3_finalize(stmt);
    if (st != MAST_OK) {
        mast_collection_infos_free(infos, count);
        return st;
    }
    *out = infos;
    *n = count;
    return MAST_OK;
}

void mast_collection_infos_free(mast_collection_info *infos, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(infos[i].name);
        free(infos[i].config);
    }
    free(infos);
}

/* ---- documents ---- */

mast_status mast_store_doc_find(mast_store *store, int64_t collection_id, const char *uri,
                                int64_t *doc_id, char hash[MAST_HASH_HEX_LEN + 1])
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "SELECT id, content_hash FROM documents WHERE collection_id = ? AND uri = ?",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    sqlite3_bind_text(stmt, 2, uri, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    mast_status st = MAST_ERR_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        *doc_id = sqlite3_column_int64(stmt, 0);
        if (hash) {
            const unsigned char *h = sqlite3_column_text(stmt, 1);
            snprintf(hash, MAST_HASH_HEX_LEN + 1, "%s", h ? (const char *)h : "");
        }
        st = MAST_OK;
    } else if (rc != SQLITE_DONE) {
        st = mast_store_error(store, "cannot look up document");
    }
    sqlite3_finalize(stmt);
    return st;
}

static mast_status bump_version(mast_store *store, int64_t collection_id)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "UPDATE collections SET data_version = data_version + 1 WHERE id = ?",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot update collection");
}

static mast_status upsert_doc(mast_store *store, int64_t collection_id, const mast_doc_in *doc,
                              int64_t *doc_id)
{
    int64_t existing;
    mast_status st = mast_store_doc_find(store, collection_id, doc->uri, &existing, NULL);
    if (st != MAST_OK && st != MAST_ERR_NOT_FOUND)
        return st;
    sqlite3_stmt *stmt;
    if (st == MAST_OK) {
        MAST_TRY(prepare(store,
                         "UPDATE documents SET source = ?, content_hash = ?, title = ?,"
                         " metadata = ?, updated_at = unixepoch() WHERE id = ?",
                         &stmt));
        sqlite3_bind_int64(stmt, 5, existing);
    } else {
        MAST_TRY(prepare(store,
                         "INSERT INTO documents(source, content_hash, title, metadata,"
                         " collection_id, uri, created_at, updated_at)"
                         " VALUES(?, ?, ?, ?, ?, ?, unixepoch(), unixepoch())",
                         &stmt));
        sqlite3_bind_int64(stmt, 5, collection_id);
        sqlite3_bind_text(stmt, 6, doc->uri, -1, SQLITE_STATIC);
    }
    sqlite3_bind_text(stmt, 1, doc->source ? doc->source : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, doc->content_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, doc->title ? doc->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, doc->metadata ? doc->metadata : "{}", -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return mast_store_error(store, "cannot write document");
    *doc_id = st == MAST_OK ? existing : sqlite3_last_insert_rowid(store->db);
    return MAST_OK;
}

static mast_status delete_chunks(mast_store *store, int64_t doc_id)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "DELETE FROM chunks WHERE document_id = ?", &stmt));
    sqlite3_bind_int64(stmt, 1, doc_id);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot delete chunks");
}

static mast_status insert_vector(mast_store *store, sqlite3_stmt **stmt, int64_t chunk_id,
                                 const mast_doc_in *doc, const float *vector)
{
    if (!*stmt)
        MAST_TRY(prepare(store, "INSERT INTO embeddings(chunk_id, model, dim, vector) VALUES(?, ?, ?, ?)",
                         stmt));
    sqlite3_reset(*stmt);
    sqlite3_bind_int64(*stmt, 1, chunk_id);
    sqlite3_bind_text(*stmt, 2, doc->embed_model ? doc->embed_model : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(*stmt, 3, doc->embed_dim);
    sqlite3_bind_blob(*stmt, 4, vector, doc->embed_dim * (int)sizeof(float), SQLITE_STATIC);
    return sqlite3_step(*stmt) == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot write vector");
}

static mast_status insert_chunks(mast_store *store, int64_t doc_id, const mast_doc_in *doc,
                                 const mast_chunk_in *chunks, size_t n_chunks)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "INSERT INTO chunks(document_id, ordinal, text, n_tokens, heading,"
                     " page_start, page_end) VALUES(?, ?, ?, ?, ?, ?, ?)",
                     &stmt));
    sqlite3_stmt *vstmt = NULL;
    mast_status st = MAST_OK;
    for (size_t i = 0; i < n_chunks && st == MAST_OK; i++) {
        if (!chunks[i].text) {
            st = mast_fail(MAST_ERR_INVALID, "chunk %zu has no text", i);
            break;
        }
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, doc_id);
        sqlite3_bind_int64(stmt, 2, (int64_t)i);
        sqlite3_bind_text(stmt, 3, chunks[i].text, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 4, chunks[i].n_tokens);
        sqlite3_bind_text(stmt, 5, chunks[i].heading ? chunks[i].heading : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 6, chunks[i].page_start);
        sqlite3_bind_int(stmt, 7, chunks[i].page_end);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            st = mast_store_error(store, "cannot write chunk");
        else if (chunks[i].vector && doc->embed_dim > 0)
            st = insert_vector(store, &vstmt, sqlite3_last_insert_rowid(store->db), doc,
                               chunks[i].vector);
    }
    sqlite3_finalize(stmt);
    sqlite3_finalize(vstmt);
    return st;
}

mast_status mast_store_doc_put(mast_store *store, int64_t collection_id, const mast_doc_in *doc,
                               const mast_chunk_in *chunks, size_t n_chunks, int64_t *doc_id)
{
    if (!doc->uri || !doc->content_hash)
        return mast_fail(MAST_ERR_INVALID, "document without uri or content hash");
    MAST_TRY(mast_store_begin(store));
    int64_t id = 0;
    mast_status st = upsert_doc(store, collection_id, doc, &id);
    if (st == MAST_OK)
        st = delete_chunks(store, id);
    if (st == MAST_OK)
        st = insert_chunks(store, id, doc, chunks, n_chunks);
    if (st == MAST_OK)
        st = mast_store_minhash_write(store, id, doc->minhash);
    if (st == MAST_OK)
        st = bump_version(store, collection_id);
    if (st == MAST_OK)
        st = mast_store_commit(store);
    if (st != MAST_OK) {
        mast_store_rollback(store);
        return mast_fail_prefix(st, "%s", doc->uri);
    }
    if (doc_id)
        *doc_id = id;
    return MAST_OK;
}

mast_status mast_store_doc_delete(mast_store *store, int64_t collection_id, int64_t doc_id)
{
    MAST_TRY(mast_store_begin(store));
    sqlite3_stmt *stmt;
    mast_status st = prepare(store, "DELETE FROM documents WHERE id = ? AND collection_id = ?",
                             &stmt);
    if (st == MAST_OK) {
        sqlite3_bind_int64(stmt, 1, doc_id);
        sqlite3_bind_int64(stmt, 2, collection_id);
        if (sqlite3_step(stmt) != SQLITE_DONE)
            st = mast_store_error(store, "cannot delete document");
        sqlite3_finalize(stmt);
    }
    if (st == MAST_OK)
        st = bump_version(store, collection_id);
    if (st == MAST_OK)
        st = mast_store_commit(store);
    if (st != MAST_OK)
        mast_store_rollback(store);
    return st;
}

mast_status mast_store_doc_scan(mast_store *store, int64_t collection_id, mast_doc_visit_fn fn,
                                void *ctx)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "SELECT id, uri, source FROM documents WHERE collection_id = ? ORDER BY id",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (fn(ctx, sqlite3_column_int64(stmt, 0), (const char *)sqlite3_column_text(stmt, 1),
               (const char *)sqlite3_column_text(stmt, 2)))
            break;
    }
    mast_status st = rc == SQLITE_ROW || rc == SQLITE_DONE
                         ? MAST_OK
                         : mast_store_error(store, "cannot read documents");
    sqlite3_finalize(stmt);
    return st;
}

/* ---- chunks ---- */

static const char *col_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *s = sqlite3_column_text(stmt, col);
    return s ? (const char *)s : "";
}

mast_status mast_store_chunk_scan(mast_store *store, int64_t collection_id,
                                  mast_chunk_visit_fn fn, void *ctx)
{
    return mast_store_chunk_scan_after(store, collection_id, INT64_MIN, fn, ctx);
}

mast_status mast_store_chunk_ids(mast_store *store, int64_t collection_id, int64_t **ids,
                                 size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "SELECT k.id FROM chunks k JOIN documents d ON k.document_id = d.id"
                     " WHERE d.collection_id = ? ORDER BY k.id",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    return read_ids(store, stmt, "cannot read chunk ids", ids, n);
}

mast_status mast_store_chunk_scan_after(mast_store *store, int64_t collection_id, int64_t after,
                                        mast_chunk_visit_fn fn, void *ctx)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "SELECT k.id, k.document_id, k.text, k.heading, d.title, d.uri"
                     " FROM chunks k JOIN documents d ON k.document_id = d.id"
                     " WHERE d.collection_id = ? AND k.id > ? ORDER BY k.id",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    sqlite3_bind_int64(stmt, 2, after);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        mast_chunk_row row = {
            .chunk_id = sqlite3_column_int64(stmt, 0),
            .doc_id = sqlite3_column_int64(stmt, 1),
            .text = col_text(stmt, 2),
            .heading = col_text(stmt, 3),
            .title = col_text(stmt, 4),
            .uri = col_text(stmt, 5),
        };
        if (fn(ctx, &row))
            break;
    }
    mast_status st = rc == SQLITE_ROW || rc == SQLITE_DONE
                         ? MAST_OK
                         : mast_store_error(store, "cannot read chunks");
    sqlite3_finalize(stmt);
    return st;
}

mast_status mast_store_chunk_get(mast_store *store, int64_t chunk_id, mast_result *out)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "SELECT k.document_id, k.text, k.heading, d.title, d.uri, k.page_start,"
                     " k.page_end FROM chunks k JOIN documents d ON k.document_id = d.id"
                     " WHERE k.id = ?",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, chunk_id);
    int rc = sqlite3_step(stmt);
    mast_status st = MAST_OK;
    if (rc == SQLITE_ROW) {
        out->chunk_id = chunk_id;
        out->doc_id = sqlite3_column_int64(stmt, 0);
        out->text = dup_col(stmt, 1);
        out->heading = dup_col(stmt, 2);
        out->title = dup_col(stmt, 3);
        out->uri = dup_col(stmt, 4);
        out->page_start = sqlite3_column_int(stmt, 5);
        out->page_end = sqlite3_column_int(stmt, 6);
        if (!out->text || !out->heading || !out->title || !out->uri)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        st = MAST_ERR_NOT_FOUND;
    } else {
        st = mast_store_error(store, "cannot read chunk");
    }
    sqlite3_finalize(stmt);
    return st;
}

mast_status mast_store_count_chunks(mast_store *store, int64_t collection_id, int64_t *n)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store,
                     "SELECT count(*) FROM chunks k JOIN documents d ON k.document_id = d.id"
                     " WHERE d.collection_id = ?",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    int rc = sqlite3_step(stmt);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? MAST_OK : mast_store_error(store, "cannot count chunks");
}

void mast_results_free(mast_result *results, size_t n_results)
{
    if (!results)
        return;
    for (size_t i = 0; i < n_results; i++) {
        free(results[i].uri);
        free(results[i].title);
        free(results[i].heading);
        free(results[i].text);
        free(results[i].context);
    }
    free(results);
}

mast_status mast_store_collection_config(mast_store *store, int64_t id, char **json)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "SELECT config FROM collections WHERE id = ?", &stmt));
    sqlite3_bind_int64(stmt, 1, id);
    int rc = sqlite3_step(stmt);
    mast_status st = MAST_OK;
    if (rc == SQLITE_ROW)
        *json = dup_col(stmt, 0);
    else
        st = mast_fail(MAST_ERR_NOT_FOUND, "collection %lld does not exist", (long long)id);
    sqlite3_finalize(stmt);
    return st;
}

mast_status mast_store_collection_set_config(mast_store *store, int64_t id, const char *json)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "UPDATE collections SET config = ?, data_version = data_version + 1"
                            " WHERE id = ?", &stmt));
    sqlite3_bind_text(stmt, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, id);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot update collection");
}

mast_status mast_store_clear_embeddings(mast_store *store, int64_t collection_id)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "DELETE FROM embeddings WHERE chunk_id IN (SELECT k.id FROM chunks k"
                            " JOIN documents d ON k.document_id = d.id WHERE d.collection_id = ?)",
                     &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? MAST_OK : mast_store_error(store, "cannot clear vectors");
}

mast_status mast_store_vector_scan(mast_store *store, int64_t collection_id, mast_vector_visit_fn fn,
                                   void *ctx)
{
    sqlite3_stmt *stmt;
    MAST_TRY(prepare(store, "SELECT e.chunk_id, k.document_id, e.dim, e.vector FROM embeddings e"
                            " JOIN chunks k ON e.chunk_id = k.id JOIN documents d ON k.document_id = d.id"
                            " WHERE d.collection_id = ? ORDER BY e.chunk_id", &stmt));
    sqlite3_bind_int64(stmt, 1, collection_id);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int dim = sqlite3_column_int(stmt, 2);
        const void *blob = sqlite3_column_blob(stmt, 3);
        if (!blob || sqlite3_column_bytes(stmt, 3) != dim * (int)sizeof(float))
            continue;   /* malformed row: skipped, never trusted */
        if (fn(ctx, sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 1), dim, blob))
            break;
    }
    mast_status st = rc == SQLITE_ROW || rc == SQLITE_DONE ? MAST_OK
                                                           : mast_store_error(store, "cannot read vectors");
    sqlite3_finalize(stmt);
    return st;
}
