/*
** data/ingest/ingest.c — walking, format dispatch, incremental updates and
** pruning (see ingest.h).
*/
#include "data/ingest/ingest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mmap.h"
#include "base/progress.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/ingest/doc.h"
#include "data/collection.h"
#include "data/dedup.h"
#include "data/ingest/ingest_impl.h"
#include "model/embedder.h"

typedef enum {
    KIND_TEXT, KIND_MARKDOWN, KIND_JSONL, KIND_HTML, KIND_MAN, KIND_PDF, KIND_CSV, KIND_TSV,
    KIND_OFFICE, KIND_EMAIL, KIND_MBOX
} file_kind;

static const char *const kind_names[] = {"text", "markdown", "jsonl", "html", "man", "pdf", "csv", "tsv",
                                         "office", "email", "mbox"};

typedef struct file_entry {
    char *path;
    uint64_t size;
} file_entry;

typedef struct run {
    mast_store *store;
    char *store_path;              /* realpath of the database, never ingested */
    mast_embedder *embedder;       /* the collection's embedding model, or NULL */
    int own_dim;                   /* > 0: the documents bring vectors of this dimension */
    int64_t collection_id;
    const mast_ingest_opts *opts;
    mast_ingest_stats *stats;
    file_entry *files;
    size_t n_files, cap_files;
    int64_t *seen;                 /* doc ids written or unchanged in this run */
    size_t n_seen, cap_seen;
    char **done_sources;           /* files fully processed in this run */
    size_t n_done, cap_done;
    const char *source;            /* the file being read (an archive's entries' too) */
    mast_archive_budget budget;    /* what it may expand to */
    mast_progress *progress;
    uint64_t bytes_before;         /* of the files before it, for the progress bar */
    int depth;                     /* of archives and attachments around the bytes read */
    int dup_skipped;               /* store_doc left the last document out as a near-duplicate */
    mast_lsh *lsh;                 /* the collection's band index, opened at the first lookup */
    size_t dups_warned;
} run;

static mast_status remember_seen(run *r, int64_t doc_id)
{
    if (!mast_grow_array((void **)&r->seen, &r->cap_seen, r->n_seen + 1, sizeof *r->seen))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    r->seen[r->n_seen++] = doc_id;
    return MAST_OK;
}

/* ---- walking ---- */

static mast_status add_file(run *r, const char *path, uint64_t size)
{
    if (!mast_grow_array((void **)&r->files, &r->cap_files, r->n_files + 1, sizeof *r->files))
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    char *p = strdup(path);
    if (!p)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    r->files[r->n_files++] = (file_entry){p, size};
    return MAST_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static mast_status walk(run *r, const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        mast_warn("%s: failed: %s", path, strerror(errno));
        r->stats->files_seen++;
        r->stats->files_failed++;
        return MAST_OK;
    }
    /* the database itself, its -wal/-shm files and its .idx folder are never ingested */
    size_t db_len = r->store_path ? strlen(r->store_path) : 0;
    if (db_len && strncmp(path, r->store_path, db_len) == 0 &&
        (path[db_len] == '\0' || path[db_len] == '-' || strncmp(path + db_len, ".idx", 4) == 0))
        return MAST_OK;
    if (S_ISREG(st.st_mode)) {
        r->stats->files_seen++;
        return add_file(r, path, (uint64_t)st.st_size);
    }
    if (!S_ISDIR(st.st_mode)) {
        mast_warn("%s: skipped: not a regular file or directory", path);
        r->stats->files_seen++;
        r->stats->files_skipped++;
        return MAST_OK;
    }
    if (depth > 64) {
        mast_warn("%s: skipped: directories nested too deep", path);
        return MAST_OK;
    }
    DIR *d = opendir(path);
    if (!d) {
        mast_warn("%s: failed: cannot read directory: %s", path, strerror(errno));
        r->stats->files_seen++;
        r->stats->files_failed++;
        return MAST_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    mast_status s = MAST_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;   /* hidden files, ".", ".." */
        if (!mast_grow_array((void **)&names, &cap, n + 1, sizeof *names) ||
            !(names[n] = strdup(e->d_name))) {
            s = mast_fail(MAST_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && s == MAST_OK; i++) {
        char child[PATH_MAX];
        int len = snprintf(child, sizeof child, "%s%s%s", path,
                           path[strlen(path) - 1] == '/' ? "" : "/", names[i]);
        if (len < 0 || (size_t)len >= sizeof child) {
            mast_warn("%s/%s: skipped: path too long", path, names[i]);
            r->stats->files_seen++;
            r->stats->files_skipped++;
            continue;
        }
        struct stat lst;
        if (lstat(child, &lst) == 0 && S_ISLNK(lst.st_mode) && stat(child, &st) == 0 &&
            S_ISDIR(st.st_mode))
            continue;   /* no directory symlinks: they can loop */
        s = walk(r, child, depth + 1);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return s;
}

/* ---- reading and sniffing ---- */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* A man page's name: a section digit 1-9 and up to 4 letters or digits
** after the last dot (ls.1, printf.3p, openssl.1ssl). */
static int man_suffix(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot[1] < '1' || dot[1] > '9' || strlen(dot + 2) > 4)
        return 0;
    for (const char *p = dot + 2; *p; p++)
        if (!isalnum((unsigned char)*p))
            return 0;
    return 1;
}

static file_kind kind_of(const char *name)
{
    if (has_suffix(name, ".md") || has_suffix(name, ".markdown") || has_suffix(name, ".mdx"))
        return KIND_MARKDOWN;
    if (has_suffix(name, ".jsonl") || has_suffix(name, ".ndjson"))
        return KIND_JSONL;
    if (has_suffix(name, ".html") || has_suffix(name, ".htm") || has_suffix(name, ".xhtml"))
        return KIND_HTML;
    if (has_suffix(name, ".eml"))
        return KIND_EMAIL;
    if (has_suffix(name, ".mbox") || has_suffix(name, ".mbx"))
        return KIND_MBOX;
    if (has_suffix(name, ".csv"))
        return KIND_CSV;
    if (has_suffix(name, ".tsv") || has_suffix(name, ".tab"))
        return KIND_TSV;
    if (man_suffix(name))
        return KIND_MAN;
    return KIND_TEXT;
}

/* The name without a compression suffix: "a.txt.gz" → "a.txt", "b.tgz" → "b.tar". */
static void strip_compression(char *name)
{
    static const char *const plain[] = {".gz", ".bz2", ".xz", ".zst", ".z", NULL};
    for (const char *const *p = plain; *p; p++)
        if (has_suffix(name, *p)) {
            name[strlen(name) - strlen(*p)] = '\0';
            return;
        }
    static const char *const tars[] = {".tgz", ".tbz2", ".tbz", ".txz", ".tzst", NULL};
    for (const char *const *p = tars; *p; p++)
        if (has_suffix(name, *p)) {
            strcpy(name + strlen(name) - strlen(*p), ".tar");
            return;
        }
}

/* ---- storing one document ---- */

/* Looks for an older near-duplicate of doc (sig): MAST_OK with m->doc_id 0
** when there is none or dedup is off. */
static mast_status find_duplicate(run *r, const char *uri, const mast_minhash *sig,
                                  mast_dedup_match *m)
{
    *m = (mast_dedup_match){0, NULL, 0};
    if (r->opts->dedup == MAST_DEDUP_OFF || !sig->n_shingles)
        return MAST_OK;
    int64_t existing = INT64_MAX;   /* a new document: every stored one is older */
    mast_status st = mast_store_doc_find(r->store, r->collection_id, uri, &existing, NULL);
    if (st != MAST_OK && st != MAST_ERR_NOT_FOUND)
        return st;
    if (st == MAST_ERR_NOT_FOUND)
        existing = INT64_MAX;
    double t = r->opts->dedup_threshold > 0 ? r->opts->dedup_threshold : MAST_DEDUP_THRESHOLD;
    if (!r->lsh)
        MAST_TRY(mast_lsh_open(r->store, r->collection_id, &r->lsh));
    return mast_dedup_find(r->store, r->lsh, sig->v, existing, t, m);
}

/* metadata with "duplicate_of" and "similarity" added (malloc'ed). */
static char *link_metadata(const char *metadata, const mast_dedup_match *m)
{
    json_t *meta = json_loads(metadata ? metadata : "{}", 0, NULL);
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    json_object_set_new(meta, "duplicate_of", mast_json_string_lossy(m->uri));
    json_object_set_new(meta, "similarity", json_real(round(m->similarity * 1000) / 1000));
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    return text;
}

/* Stores doc, unless it is a near-duplicate to be skipped (r->dup_skipped). */
static mast_status store_doc(run *r, const char *uri, const char *source, const char *hash,
                             const char *metadata, mast_doc *doc, const float *vector)
{
    r->dup_skipped = 0;
    mast_minhash sig;
    mast_doc_minhash(doc, &sig);
    mast_dedup_match m;
    MAST_TRY(find_duplicate(r, uri, &sig, &m));
    char *linked = NULL;
    if (m.doc_id) {
        int skip = r->opts->dedup == MAST_DEDUP_SKIP;
        r->stats->docs_duplicate++;
        if (r->dups_warned++ < 20)
            mast_warn("%s: %s: a near-duplicate of %s (similarity %.2f)", uri,
                      skip ? "skipped" : "linked", m.uri, m.similarity);
        else if (r->dups_warned == 21)
            mast_warn("... more near-duplicates: 'mast dedup report' lists them");
        if (skip) {
            free(m.uri);
            r->dup_skipped = 1;
            return MAST_OK;
        }
        linked = link_metadata(metadata, &m);
        free(m.uri);
        if (!linked)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    mast_doc_in d = {uri, source, doc->title, linked ? linked : metadata, hash, NULL, 0,
                     sig.n_shingles ? sig.v : NULL};
    int64_t doc_id;
    size_t n_chunks = 0;
    mast_status st = mast_ingest_put_doc(r->store, r->collection_id, r->embedder,
                                         &r->opts->chunk, &d, doc, vector, r->own_dim, &doc_id,
                                         &n_chunks);
    free(linked);
    MAST_TRY(st);
    if (r->lsh && sig.n_shingles)   /* the next document's lookups see this one */
        MAST_TRY(mast_lsh_add(r->lsh, doc_id, sig.v));
    r->stats->chunks += n_chunks;
    return remember_seen(r, doc_id);
}

/* The content hash of a document: its bytes plus the chunking options, so
** that re-ingesting with another budget re-chunks instead of skipping. */
static void content_hash(const run *r, const char *data, size_t len,
                         char out[MAST_HASH_HEX_LEN + 1])
{
    int32_t params[2] = {r->opts->chunk.chunk_tokens > 0 ? r->opts->chunk.chunk_tokens
                                                         : MAST_DEFAULT_CHUNK_TOKENS,
                         r->opts->chunk.overlap_tokens};
    mast_hasher *h = mast_hasher_new();
    if (!h) {   /* out of memory: a hash that never matches forces a rewrite */
        snprintf(out, MAST_HASH_HEX_LEN + 1, "unhashed");
        return;
    }
    mast_hasher_add(h, data, len);
    mast_hasher_add(h, params, sizeof params);
    if (r->embedder) {   /* another embedding model means new vectors */
        const char *id = mast_embedder_id(r->embedder);
        mast_hasher_add(h, id, strlen(id));
    }
    mast_hasher_hex(h, out);
}

/* Returns 1 when the document exists with this hash (and records it as seen). */
static int unchanged(run *r, const char *uri, const char *hash, mast_status *st)
{
    int64_t doc_id;
    char old[MAST_HASH_HEX_LEN + 1];
    *st = mast_store_doc_find(r->store, r->collection_id, uri, &doc_id, old);
    if (*st == MAST_ERR_NOT_FOUND) {
        *st = MAST_OK;
        return 0;
    }
    if (*st != MAST_OK || strcmp(old, hash) != 0 || r->opts->force)
        return 0;
    *st = remember_seen(r, doc_id);
    return 1;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static char *title_from_path(const char *path)
{
    const char *base = base_name(path);
    char *t = strdup(base);
    if (!t)
        return NULL;
    strip_compression(t);
    char *dot = strrchr(t, '.');
    if (dot && dot != t)
        *dot = '\0';
    return t;
}

/* An archive's entries and an e-mail's attachments are read as files of
** their own, named PARENT!/NAME. */
typedef struct entry_ctx {
    run *r;
    const char *uri;
    int depth, result;
} entry_ctx;
static mast_status visit_entry(void *ctx, const char *name, const char *data, size_t len);

/* Counts a document's outcome (1 written, 0 unchanged, -1 failed; -2, a
** file skipped as no document at all, is not counted). */
static int count_doc(run *r, int res)
{
    if (res == 1)
        r->stats->docs_ingested++;
    else if (res == 0)
        r->stats->docs_unchanged++;
    else if (res == -1)
        r->stats->docs_failed++;
    return res;
}

/* One document from text-like bytes, named `name` (for its kind and title)
** and stored as `uri`. Returns 1 if written, 0 if unchanged, -1 if failed,
** -2 if skipped (each warned). */
static int ingest_doc(run *r, const char *uri, const char *name, file_kind kind,
                      const char *data, size_t len)
{
    char hash[MAST_HASH_HEX_LEN + 1];
    content_hash(r, data, len, hash);
    mast_status st;
    if (unchanged(r, uri, hash, &st))
        return 0;
    if (st != MAST_OK) {
        mast_warn("%s", mast_errmsg());
        return -1;
    }
    if (mast_is_blank(data, len)) {
        mast_warn("%s: skipped: empty file", uri);
        return -2;
    }
    /* the content decides, then the name (a zip package: its parts) */
    if (kind != KIND_OFFICE && mast_is_pdf(data, len))
        kind = KIND_PDF;
    else if (kind != KIND_OFFICE && mast_looks_like_html(data, len))
        kind = KIND_HTML;
    char *text = NULL;
    size_t text_len = 0;
    const char *encoding = NULL;
    if (kind != KIND_PDF && kind != KIND_OFFICE)
        st = mast_decode_text(uri, data, len, kind == KIND_HTML, &text, &text_len, &encoding);
    if (st == MAST_ERR_FORMAT) {
        mast_warn("%s: skipped: %s", uri, mast_errmsg());
        return -2;
    }
    if (st == MAST_OK && kind == KIND_TEXT && mast_looks_like_roff(text, text_len))
        kind = KIND_MAN;   /* a man page without its section's name */
    else if (st == MAST_OK && kind == KIND_TEXT && mast_looks_like_email(text, text_len))
        kind = KIND_EMAIL;
    else if (st == MAST_OK && kind == KIND_MAN && !mast_looks_like_roff(text, text_len))
        kind = KIND_TEXT;  /* notes.1 that is not roff */
    char *title = title_from_path(name);
    mast_doc doc;
    mast_doc_init(&doc);
    if (st == MAST_OK && !title)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    mast_pdf_limits pdf = {r->opts->pdf_seconds > 0 ? r->opts->pdf_seconds : MAST_PDF_SECONDS,
                           0, r->opts->pdf_memory ? r->opts->pdf_memory : MAST_PDF_MEMORY};
    pdf.wall_seconds = pdf.cpu_seconds * 2;
    const char *office = kind == KIND_OFFICE ? mast_office_kind(name) : NULL;
    if (st == MAST_OK && kind == KIND_PDF)
        st = mast_load_pdf(&doc, uri, data, len, &pdf, title);
    else if (st == MAST_OK && office)
        st = mast_load_office(&doc, office, data, len, &r->budget, title);
    else if (st == MAST_OK && kind == KIND_EMAIL) {
        entry_ctx attachments = {r, uri, r->depth, -2};
        st = r->depth >= 4 ? mast_load_email(&doc, text, text_len, title, NULL, NULL)
                           : mast_load_email(&doc, text, text_len, title, visit_entry, &attachments);
    }
    else if (st == MAST_OK)
        st = kind == KIND_MARKDOWN ? mast_load_markdown(&doc, text, text_len, title)
           : kind == KIND_HTML ? mast_load_html(&doc, text, text_len, title)
           : kind == KIND_MAN ? mast_load_man(&doc, text, text_len, title)
           : kind == KIND_CSV || kind == KIND_TSV
               ? mast_load_csv(&doc, text, text_len, kind == KIND_TSV ? '\t' : ',', title)
                              : mast_load_text(&doc, text, text_len, title);
    if (st == MAST_OK) {
        json_t *meta = json_pack("{s:s, s:I}", "format", office ? office : kind_names[kind],
                                 "bytes", (json_int_t)len);
        if (doc.lang)
            json_object_set_new(meta, "lang", mast_json_string_lossy(doc.lang));
        if (doc.description)
            json_object_set_new(meta, "description", mast_json_string_lossy(doc.description));
        if (doc.url)
            json_object_set_new(meta, "url", mast_json_string_lossy(doc.url));
        if (doc.author)
            json_object_set_new(meta, "author", mast_json_string_lossy(doc.author));
        if (doc.pages)
            json_object_set_new(meta, "pages", json_integer(doc.pages));
        if (encoding)   /* what was converted or repaired (mast quality reports it) */
            json_object_set_new(meta, "encoding", json_string(encoding));
        r->stats->pages += (size_t)doc.pages;
        const char *const mail[][2] = {{"to", doc.to}, {"cc", doc.cc}, {"date", doc.date},
                                       {"message_id", doc.message_id}};
        for (size_t i = 0; i < 4; i++)
            if (mail[i][1])
                json_object_set_new(meta, mail[i][0], mast_json_string_lossy(mail[i][1]));
        char *meta_text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        st = r->own_dim ? mast_fail(MAST_ERR_INVALID, "collection takes its documents' own "
                                    "vectors; give them in JSON Lines (--vector-field)")
                        : store_doc(r, uri, r->source, hash, meta_text, &doc, NULL);
        free(meta_text);
        json_decref(meta);
    }
    mast_doc_free(&doc);
    free(title);
    free(text);
    if (st != MAST_OK) {
        mast_warn("%s: %s", uri, mast_errmsg());
        return -1;
    }
    if (r->dup_skipped) {
        r->stats->docs_skipped++;
        return -2;
    }
    return 1;
}

/* ---- JSON Lines ---- */

static char *json_id_string(json_t *v)
{
    char buf[64];
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return strdup(buf);
    }
    return NULL;
}

/* A JSON array of finite numbers as floats (malloc'ed); a bad one is a format error of the line. */
static mast_status read_vector(const json_t *v, size_t line_no, const char *field, float **out,
                               size_t *dim)
{
    mast_status st = mast_json_vector(v, field, MAST_MAX_VECTOR_DIM, out, dim);
    return st == MAST_ERR_INVALID ? mast_fail_prefix(MAST_ERR_FORMAT, "line %zu", line_no) : st;
}

/* Returns 1 written, 0 unchanged, -1 failed, -2 skipped (warned). */
static int ingest_json_line(run *r, const char *path, size_t line_no, const char *line,
                            size_t len, int *n_warned)
{
    const char *id_field = r->opts->id_field ? r->opts->id_field : "_id";
    const char *title_field = r->opts->title_field ? r->opts->title_field : "title";
    const char *text_field = r->opts->text_field ? r->opts->text_field : "text";
    char what[64];
    snprintf(what, sizeof what, "line %zu", line_no);
    json_t *obj = NULL;
    char *id = NULL, *uri = NULL, *text = NULL, *meta_text = NULL;
    size_t text_len = 0;
    mast_doc doc;
    mast_doc_init(&doc);
    int result = -1;
    mast_status st = mast_json_parse(line, len, what, &obj);
    if (st == MAST_OK && !json_is_object(obj))
        st = mast_fail(MAST_ERR_FORMAT, "line %zu: not a JSON object", line_no);
    if (st == MAST_OK && !(id = json_id_string(json_object_get(obj, id_field))))
        st = mast_fail(MAST_ERR_FORMAT, "line %zu: missing \"%s\" (string or integer)", line_no,
                       id_field);
    /* the text may be absent (a title alone is a document); not a string, it is wrong */
    json_t *text_value = st == MAST_OK ? json_object_get(obj, text_field) : NULL;
    const char *body = json_is_string(text_value) ? json_string_value(text_value) : "";
    if (text_value && !json_is_string(text_value) && !json_is_null(text_value))
        st = mast_fail(MAST_ERR_FORMAT, "line %zu: \"%s\" must be a string", line_no, text_field);
    json_t *title_value = st == MAST_OK ? json_object_get(obj, title_field) : NULL;
    if (title_value && !json_is_string(title_value) && !json_is_null(title_value))
        st = mast_fail(MAST_ERR_FORMAT, "line %zu: \"%s\" must be a string", line_no, title_field);
    if (st == MAST_OK) {
        size_t n = strlen(path) + strlen(id) + 2;
        uri = malloc(n);
        if (uri)
            snprintf(uri, n, "%s#%s", path, id);
        else
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    char hash[MAST_HASH_HEX_LEN + 1];
    if (st == MAST_OK) {
        content_hash(r, line, len, hash);
        if (unchanged(r, uri, hash, &st)) {
            result = 0;
            goto done;
        }
    }
    /* a document is its title plus its text: a title alone is its text too */
    const char *title = st == MAST_OK ? mast_json_get_str(obj, title_field, "") : "";
    if (st == MAST_OK && mast_is_blank(body, strlen(body))) {
        if (mast_is_blank(title, strlen(title))) {
            if ((*n_warned)++ < 10)
                mast_warn("%s: line %zu: skipped: no \"%s\" and no \"%s\"", path, line_no,
                          title_field, text_field);
            result = -2;
            goto done;
        }
        body = title;
    }
    float *vector = NULL;
    if (st == MAST_OK && r->own_dim) {
        const char *vf = r->opts->vector_field ? r->opts->vector_field : "vector";
        size_t dim = 0;
        json_t *v = json_object_get(obj, vf);
        st = !v ? mast_fail(MAST_ERR_FORMAT, "line %zu: missing \"%s\" (the collection takes "
                            "%d-dimensional vectors)", line_no, vf, r->own_dim)
                : read_vector(v, line_no, vf, &vector, &dim);
        if (st == MAST_OK && dim != (size_t)r->own_dim)
            st = mast_fail(MAST_ERR_FORMAT, "line %zu: \"%s\" has %zu dimensions, the "
                           "collection's have %d", line_no, vf, dim, r->own_dim);
    }
    if (st == MAST_OK)
        st = mast_utf8_nfc(body, strlen(body), &text, &text_len);
    if (st == MAST_OK)
        st = mast_load_text(&doc, text, text_len, title);
    if (st == MAST_OK) {
        /* the line's own "metadata" object (as BEIR corpora have), then ours */
        json_t *user = json_object_get(obj, "metadata");
        json_t *meta = json_is_object(user) ? json_deep_copy(user) : json_object();
        if (meta) {
            json_object_set_new(meta, "format", json_string("jsonl"));
            json_object_set_new(meta, "_id", json_string(id));
            json_object_set_new(meta, "line", json_integer((json_int_t)line_no));
        }
        meta_text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        json_decref(meta);
        st = store_doc(r, uri, r->source, hash, meta_text, &doc, vector);
    }
    free(vector);
    if (st == MAST_OK)
        result = r->dup_skipped ? -2 : 1;
done:
    if (st != MAST_OK) {
        if ((*n_warned)++ < 10)
            mast_warn("%s: %s", path, mast_errmsg());
        result = -1;
    }
    mast_doc_free(&doc);
    json_decref(obj);
    free(id);
    free(uri);
    free(text);
    free(meta_text);
    return result;
}

static int ingest_jsonl(run *r, const char *path, const char *data, size_t len,
                        mast_progress *progress, uint64_t bytes_before)
{
    /* invalid UTF-8 fails line by line: jansson rejects it with a position */
    size_t pos = 0, line_no = 0, written = 0, failed = 0, skipped = 0, unchanged_docs = 0;
    int n_warned = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        line_no++;
        size_t n = end - pos;
        while (n && (data[pos + n - 1] == '\r' || data[pos + n - 1] == ' '))
            n--;
        if (n) {
            int res = ingest_json_line(r, path, line_no, data + pos, n, &n_warned);
            if (res == 1) {
                written++;
                r->stats->docs_ingested++;
            } else if (res == 0) {
                unchanged_docs++;
                r->stats->docs_unchanged++;
            } else if (res == -2) {
                skipped++;
                r->stats->docs_skipped++;
            } else {
                failed++;
                r->stats->docs_failed++;
            }
        }
        pos = nl ? end + 1 : len;
        mast_progress_update(progress, bytes_before + pos);
    }
    if (n_warned > 10)
        mast_warn("%s: ... and %d more lines failed or skipped", path, n_warned - 10);
    if (written)
        return 1;
    if (unchanged_docs)
        return 0;
    if (failed)
        return -1;
    if (skipped)
        return -2;
    mast_warn("%s: skipped: no JSON lines", path);
    return -2;
}

/* ---- pruning ---- */

typedef struct prune_ctx {
    run *r;
    const char *const *roots;
    size_t n_roots;
    int64_t *victims;
    size_t n_victims, cap_victims;
    int failed;
} prune_ctx;

static int under_root(const char *source, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    return strncmp(source, root, n) == 0 && (source[n] == '\0' || source[n] == '/');
}

static int prune_visit(void *ctx, int64_t doc_id, const char *uri, const char *source)
{
    (void)uri;
    prune_ctx *p = ctx;
    int under = 0;
    for (size_t i = 0; i < p->n_roots && !under; i++)
        under = under_root(source, p->roots[i]);
    if (!under)
        return 0;
    struct stat st;
    int gone = stat(source, &st) != 0;
    if (!gone) {
        /* The file exists: its document is stale only if the file was fully
        ** processed in this run and did not produce this document. */
        int processed = p->r->n_done && bsearch(&source, p->r->done_sources, p->r->n_done, sizeof(char *),
                                cmp_str) != NULL;
        int seen = p->r->n_seen && bsearch(&doc_id, p->r->seen, p->r->n_seen, sizeof(int64_t), mast_cmp_i64) != NULL;
        gone = processed && !seen;
    }
    if (gone) {
        if (!mast_grow_array((void **)&p->victims, &p->cap_victims, p->n_victims + 1,
                        sizeof *p->victims)) {
            p->failed = 1;
            return 1;
        }
        p->victims[p->n_victims++] = doc_id;
    }
    return 0;
}

static mast_status prune(run *r, const char *const *roots, size_t n_roots)
{
    if (r->n_seen > 1)
        qsort(r->seen, r->n_seen, sizeof *r->seen, mast_cmp_i64);
    if (r->n_done > 1)
        qsort(r->done_sources, r->n_done, sizeof *r->done_sources, cmp_str);
    prune_ctx p = {.r = r, .roots = roots, .n_roots = n_roots};
    mast_status st = mast_store_doc_scan(r->store, r->collection_id, prune_visit, &p);
    if (st == MAST_OK && p.failed)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p.n_victims && st == MAST_OK; i++) {
        st = mast_store_doc_delete(r->store, r->collection_id, p.victims[i]);
        if (st == MAST_OK)
            r->stats->docs_pruned++;
    }
    free(p.victims);
    return st;
}

/* ---- the run ---- */

/* ---- CSV rows as documents ---- */

/* The columns named in a comma-separated list, as indexes; an unknown name
** is an error listing the file's columns. */
static mast_status csv_columns(const mast_csv *csv, const char *list, int **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!list)
        return MAST_OK;
    size_t cap = 0;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), p);
        int c = mast_csv_column(csv, name);
        if (c < 0) {
            mast_buf cols = {0};
            for (size_t i = 0; i < csv->rows[0].n; i++)
                mast_buf_printf(&cols, "%s%s", i ? ", " : "", csv->rows[0].fields[i]);
            mast_status st = mast_fail(MAST_ERR_INVALID, "no column '%s' (its columns: %s)", name,
                                       cols.data ? cols.data : "none");
            mast_buf_free(&cols);
            free(*out);
            *out = NULL;
            return st;
        }
        if (!mast_grow_array((void **)out, &cap, *n + 1, sizeof **out)) {
            free(*out);
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        }
        (*out)[(*n)++] = c;
        p = comma ? comma + 1 : p + len;
    }
    return MAST_OK;
}

/* One row as a document. Returns 1 written, 0 unchanged, -1 failed, -2 skipped. */
static int ingest_csv_row(run *r, const char *uri, const mast_csv *csv, size_t row, int id_col,
                          int title_col, const int *text_cols, size_t n_text, const int *meta_cols,
                          size_t n_meta, mast_buf *scratch)
{
    const mast_csv_row *rw = &csv->rows[row];
    const char *id = (size_t)id_col < rw->n ? rw->fields[id_col] : "";
    const char *title = title_col >= 0 && (size_t)title_col < rw->n ? rw->fields[title_col] : "";
    if (!*id) {
        mast_warn("%s: line %zu: skipped: no id in column '%s'", uri, rw->line,
                  csv->rows[0].fields[id_col]);
        return -2;
    }
    mast_status st = mast_csv_row_text(csv, row, text_cols, n_text, scratch);
    if (st == MAST_OK && mast_is_blank(scratch->data ? scratch->data : "", scratch->len) && !*title) {
        mast_warn("%s: line %zu: skipped: an empty row", uri, rw->line);
        return -2;
    }
    json_t *meta = json_pack("{s:s, s:I}", "format", "csv", "line", (json_int_t)rw->line);
    for (size_t k = 0; meta && k < n_meta; k++) {
        size_t c = (size_t)meta_cols[k];
        json_object_set_new(meta, csv->rows[0].fields[c],
                            mast_json_string_lossy(c < rw->n ? rw->fields[c] : ""));
    }
    char *meta_text = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(meta);
    mast_buf key = {0};
    char *doc_uri = NULL;
    if (st == MAST_OK && mast_buf_printf(&key, "%s\n%s\n%s", title, scratch->data ? scratch->data : "",
                                         meta_text ? meta_text : "") == MAST_OK) {
        mast_buf u = {0};
        st = mast_buf_printf(&u, "%s#%s", uri, id);
        doc_uri = mast_buf_detach(&u);
    }
    char hash[MAST_HASH_HEX_LEN + 1];
    int result = -1;
    if (st == MAST_OK && doc_uri && meta_text) {
        content_hash(r, key.data, key.len, hash);
        if (unchanged(r, doc_uri, hash, &st)) {
            result = 0;
        } else if (st == MAST_OK) {
            mast_doc doc;
            mast_doc_init(&doc);
            const char *body = scratch->len ? scratch->data : title;
            st = mast_load_text(&doc, body, strlen(body), title);
            if (st == MAST_OK)
                st = store_doc(r, doc_uri, r->source, hash, meta_text, &doc, NULL);
            mast_doc_free(&doc);
            result = st != MAST_OK ? -1 : r->dup_skipped ? -2 : 1;
        }
    }
    if (st != MAST_OK)
        mast_warn("%s: line %zu: %s", uri, rw->line, mast_errmsg());
    mast_buf_free(&key);
    free(doc_uri);
    free(meta_text);
    return st == MAST_OK ? result : -1;
}

/* Each row of a CSV or TSV file as a document, named by its id column. */
static int ingest_csv_rows(run *r, const char *uri, const char *data, size_t len, char delim)
{
    const mast_ingest_opts *o = r->opts;
    char *text = NULL;
    size_t text_len = 0;
    mast_csv csv = {0};
    int *text_cols = NULL, *meta_cols = NULL, id_col = -1, title_col = -1;
    size_t n_text = 0, n_meta = 0;
    mast_status st = mast_decode_text(uri, data, len, false, &text, &text_len, NULL);
    if (st == MAST_OK)
        st = mast_csv_parse(text, text_len, delim, &csv);
    int *id_cols = NULL, *title_cols = NULL;
    size_t n_id = 0, n_title = 0;
    if (st == MAST_OK)
        st = csv_columns(&csv, o->csv_id_column, &id_cols, &n_id);
    if (st == MAST_OK)
        st = csv_columns(&csv, o->csv_title_column, &title_cols, &n_title);
    if (st == MAST_OK)
        st = csv_columns(&csv, o->csv_metadata_columns, &meta_cols, &n_meta);
    if (st == MAST_OK)
        st = csv_columns(&csv, o->csv_text_columns, &text_cols, &n_text);
    id_col = n_id ? id_cols[0] : -1;
    title_col = n_title ? title_cols[0] : -1;
    if (st == MAST_OK && !o->csv_text_columns) {   /* every column not otherwise used */
        text_cols = calloc(csv.rows[0].n ? csv.rows[0].n : 1, sizeof *text_cols);
        for (size_t c = 0; text_cols && c < csv.rows[0].n; c++) {
            int used = (int)c == id_col || (int)c == title_col;
            for (size_t k = 0; k < n_meta && !used; k++)
                used = meta_cols[k] == (int)c;
            if (!used)
                text_cols[n_text++] = (int)c;
        }
        if (!text_cols)
            st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    }
    int result = -2;
    if (st != MAST_OK) {
        mast_warn("%s: %s", uri, mast_errmsg());
        result = -1;
    }
    mast_buf scratch = {0};
    for (size_t row = 1; st == MAST_OK && row < csv.n_rows; row++) {
        int res = count_doc(r, ingest_csv_row(r, uri, &csv, row, id_col, title_col, text_cols,
                                               n_text, meta_cols, n_meta, &scratch));
        if (res == -2)
            r->stats->docs_skipped++;
        if (res > result)
            result = res;
    }
    if (st == MAST_OK && csv.n_rows < 2)
        mast_warn("%s: skipped: a header and no rows", uri);
    mast_buf_free(&scratch);
    free(id_cols);
    free(title_cols);
    free(text_cols);
    free(meta_cols);
    if (csv.rows)
        mast_csv_free(&csv);
    free(text);
    return result;
}

/* A file's outcome from its parts' (1 written, 0 unchanged, -1 failed, -2
** skipped): written if any of its documents was, else unchanged, else
** failed, else skipped — the larger wins. */
static int ingest_bytes(run *r, const char *uri, const char *name, const char *data, size_t len,
                        int depth);

static mast_status visit_entry(void *ctx, const char *name, const char *data, size_t len)
{
    entry_ctx *e = ctx;
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    if (base[0] == '.' || strstr(name, "__MACOSX/"))
        return MAST_OK;   /* hidden files, as in folders */
    mast_buf child = {0};
    if (mast_buf_printf(&child, "%s!/%s", e->uri, name) != MAST_OK)
        return MAST_ERR_NOMEM;
    int res = ingest_bytes(e->r, child.data, name, data, len, e->depth + 1);
    mast_buf_free(&child);
    if (res > e->result)
        e->result = res;
    return MAST_OK;
}

/* The bytes of a file or of an archive's entry: decompressed, walked (an
** archive) or read as a document. Returns the file's outcome (1 written, 0
** unchanged, -1 failed, -2 skipped); documents are counted where they are
** read. */
static int ingest_bytes(run *r, const char *uri, const char *name, const char *data, size_t len,
                        int depth)
{
    char inner[PATH_MAX];
    snprintf(inner, sizeof inner, "%s", name);
    if (mast_compression_of(data, len)) {
        size_t left = r->budget.max_bytes - r->budget.bytes;
        size_t max = r->budget.max_entry_bytes < left ? r->budget.max_entry_bytes : left;
        char *plain = NULL;
        size_t plain_len = 0;
        mast_status st = mast_decompress(uri, data, len, max, &plain, &plain_len);
        if (st != MAST_OK) {
            mast_warn("%s", mast_errmsg());
            return -1;
        }
        r->budget.bytes += plain_len;
        strip_compression(inner);
        int res = ingest_bytes(r, uri, inner, plain, plain_len, depth);
        free(plain);
        return res;
    }
    if (mast_office_kind(inner) && mast_is_archive(data, len))
        return count_doc(r, ingest_doc(r, uri, inner, KIND_OFFICE, data, len));
    if (mast_is_archive(data, len)) {
        if (depth >= 4) {
            mast_warn("%s: skipped: archives nested more than 4 deep", uri);
            return -2;
        }
        entry_ctx e = {r, uri, depth, -2};
        if (mast_archive_walk(uri, data, len, &r->budget, visit_entry, &e) != MAST_OK) {
            mast_warn("%s", mast_errmsg());
            return -1;
        }
        if (e.result == -2 && r->budget.entries == 0)
            mast_warn("%s: skipped: an empty archive", uri);
        return e.result;
    }
    file_kind kind = kind_of(inner);
    if ((kind == KIND_CSV || kind == KIND_TSV) && r->opts->csv_id_column)
        return ingest_csv_rows(r, uri, data, len, kind == KIND_TSV ? '\t' : ',');
    r->depth = depth;
    if (kind == KIND_MBOX) {   /* a document per message, uri FILE#N */
        int result = -2, n = 0;
        for (size_t pos = 0, next; pos < len; pos = next) {
            next = mast_mbox_next(data, len, pos);
            mast_buf u = {0}, msg = {0};
            mast_buf_printf(&u, "%s#%d", uri, ++n);
            int res = u.data && mast_mbox_unquote(data + pos, next - pos, &msg) == MAST_OK
                          ? count_doc(r, ingest_doc(r, u.data, inner, KIND_EMAIL,
                                                    msg.data ? msg.data : "", msg.len))
                          : -1;
            mast_buf_free(&u);
            mast_buf_free(&msg);
            result = res > result ? res : result;
        }
        return result;
    }
    if (kind == KIND_JSONL)
        return ingest_jsonl(r, uri, data, len, depth == 0 ? r->progress : NULL, r->bytes_before);
    return count_doc(r, ingest_doc(r, uri, inner, kind, data, len));
}

/* A file's size and modification time, to see it change. */
static int file_state(const char *path, struct stat *st)
{
    return stat(path, st) == 0;
}

static int same_state(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ino == b->st_ino;
}

/* Reads a file whole, again if it changed while it was read (its size or
** modification time moved): a torn read is never stored. A file that keeps
** changing is an error naming it. */
static mast_status read_stable(const char *path, size_t max, char **data, size_t *len)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        struct stat before, after;
        int known = file_state(path, &before);
        MAST_TRY(mast_read_file(path, max, data, len));
        if (!known || (file_state(path, &after) && same_state(&before, &after)))
            return MAST_OK;
        free(*data);
        *data = NULL;
        *len = 0;
    }
    return mast_fail(MAST_ERR_IO, "%s: failed: it kept changing while it was read (3 times); "
                     "ingest it again when it is written", path);
}

static void process_file(run *r, file_entry *f, mast_progress *progress, uint64_t bytes_before)
{
    const mast_ingest_opts *o = r->opts;
    size_t max = o->max_file_bytes ? o->max_file_bytes : MAST_DEFAULT_MAX_FILE_BYTES;
    char *data = NULL;
    size_t len = 0;
    mast_status st = read_stable(f->path, max, &data, &len);
    if (st != MAST_OK) {
        mast_warn("%s", mast_errmsg());
        r->stats->files_failed++;
        return;
    }
    r->stats->bytes += len;
    r->source = f->path;
    r->progress = progress;
    r->bytes_before = bytes_before;
    /* an archive or a compressed file may expand to a hundred times its size,
    ** and at least to the limit of one file */
    size_t cap = len > SIZE_MAX / 100 ? SIZE_MAX : len * 100;
    r->budget = (mast_archive_budget){.packed = len, .max_bytes = cap > max ? cap : max,
                                      .max_entry_bytes = max, .max_entries = 10000};
    int res = ingest_bytes(r, f->path, f->path, data, len, 0);
    free(data);
    if (res == 1)
        r->stats->files_ingested++;
    else if (res == 0)
        r->stats->files_unchanged++;
    else if (res == -1)
        r->stats->files_failed++;
    else
        r->stats->files_skipped++;
    if (res >= 0) {
        char *copy = strdup(f->path);
        if (copy && mast_grow_array((void **)&r->done_sources, &r->cap_done, r->n_done + 1,
                               sizeof *r->done_sources))
            r->done_sources[r->n_done++] = copy;
        else
            free(copy);
    }
}

mast_status mast_ingest(mast_store *store, const char *collection, const char *const *paths,
                        size_t n_paths, const mast_ingest_opts *opts, mast_trace *trace,
                        mast_ingest_stats *stats)
{
    static const mast_ingest_opts default_opts = {0};
    memset(stats, 0, sizeof *stats);
    int64_t t0 = mast_mono_us();
    run r = {.store = store, .opts = opts ? opts : &default_opts, .stats = stats};
    r.store_path = realpath(mast_store_path(store), NULL);
    mast_trace_span_begin(trace, "ingest.walk");
    int64_t existing;
    mast_status st = MAST_OK;
    if (r.opts->vector_field && mast_store_collection_find(store, collection, &existing) != MAST_OK)
        st = mast_fail(MAST_ERR_INVALID, "a vector field was given, but collection '%s' does not "
                       "exist to take vectors (create it with a dimension: collection create NAME "
                       "--dim N)", collection);
    if (st == MAST_OK)
        st = mast_store_collection_ensure(store, collection, &r.collection_id);
    if (st == MAST_OK)
        st = mast_collection_open_embedder_threads(store, r.collection_id, r.opts->threads,
                                                   &r.embedder);
    mast_metric own_metric;
    if (st == MAST_OK)
        st = mast_collection_vectors(store, r.collection_id, &r.own_dim, &own_metric);
    if (st == MAST_OK && r.opts->vector_field && !r.own_dim)   /* vectors would be dropped */
        st = mast_fail(MAST_ERR_INVALID, "a vector field was given, but collection '%s' takes no "
                       "vectors of its own (create it with a dimension: collection create NAME "
                       "--dim N)", collection);
    char **roots = calloc(n_paths ? n_paths : 1, sizeof *roots);
    if (st == MAST_OK && !roots)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_paths && st == MAST_OK; i++) {
        /* absolute paths, so that a document's uri does not depend on the cwd */
        roots[i] = realpath(paths[i], NULL);
        if (!roots[i]) {
            mast_warn("%s: failed: %s", paths[i], strerror(errno));
            stats->files_seen++;
            stats->files_failed++;
            continue;
        }
        st = walk(&r, roots[i], 0);
    }
    mast_trace_attr_int(trace, "files", (int64_t)r.n_files);
    mast_trace_span_end(trace, st);

    mast_trace_span_begin(trace, "ingest.load");
    uint64_t total_bytes = 0, done_bytes = 0;
    for (size_t i = 0; i < r.n_files; i++)
        total_bytes += r.files[i].size;
    mast_progress progress;
    mast_progress_begin_bytes(&progress, "ingesting", total_bytes);
    if (!r.opts->progress)
        progress.enabled = 0;
    for (size_t i = 0; i < r.n_files && st == MAST_OK; i++) {
        process_file(&r, &r.files[i], &progress, done_bytes);
        done_bytes += r.files[i].size;
        progress.files = i + 1;
        progress.pages = stats->pages;
        mast_progress_update(&progress, done_bytes);
    }
    mast_progress_end(&progress);
    mast_trace_attr_int(trace, "docs_ingested", (int64_t)stats->docs_ingested);
    mast_trace_attr_int(trace, "docs_unchanged", (int64_t)stats->docs_unchanged);
    mast_trace_attr_int(trace, "n_chunks", (int64_t)stats->chunks);
    mast_trace_span_end(trace, st);

    /* what the documents were chunked with, for `mast quality` and the next reader */
    if (st == MAST_OK && stats->docs_ingested)
        st = mast_collection_set_chunking(store, r.collection_id,
                                          r.opts->chunk.chunk_tokens > 0
                                              ? r.opts->chunk.chunk_tokens
                                              : MAST_DEFAULT_CHUNK_TOKENS,
                                          r.opts->chunk.overlap_tokens);
    if (st == MAST_OK && r.opts->prune) {
        mast_trace_span_begin(trace, "ingest.prune");
        const char **valid_roots = calloc(n_paths ? n_paths : 1, sizeof *valid_roots);
        size_t n_valid = 0;
        for (size_t i = 0; i < n_paths && valid_roots; i++)
            if (roots[i])
                valid_roots[n_valid++] = roots[i];
        st = valid_roots ? prune(&r, valid_roots, n_valid)
                         : mast_fail(MAST_ERR_NOMEM, "out of memory");
        free(valid_roots);
        mast_trace_attr_int(trace, "docs_pruned", (int64_t)stats->docs_pruned);
        mast_trace_span_end(trace, st);
    }

    for (size_t i = 0; i < r.n_files; i++)
        free(r.files[i].path);
    free(r.files);
    for (size_t i = 0; i < r.n_done; i++)
        free(r.done_sources[i]);
    free(r.done_sources);
    free(r.seen);
    mast_lsh_free(r.lsh);
    free(r.store_path);
    mast_embedder_free(r.embedder);
    if (roots)
        for (size_t i = 0; i < n_paths; i++)
            free(roots[i]);
    free(roots);
    stats->seconds = (double)(mast_mono_us() - t0) / 1e6;
    return st;
}
