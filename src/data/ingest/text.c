/*
** data/ingest/text.c — the document model and the plain-text loader.
*/
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "data/ingest/doc.h"

void mast_doc_init(mast_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    mast_arena_init(&doc->arena, 0);
    doc->title = "";
}

void mast_doc_free(mast_doc *doc)
{
    free(doc->blocks);
    mast_arena_free(&doc->arena);
    memset(doc, 0, sizeof *doc);
}

mast_status mast_doc_add_block(mast_doc *doc, mast_block_kind kind, const char *text, size_t len,
                               const char *heading)
{
    if (doc->n_blocks == doc->cap_blocks) {
        size_t cap = doc->cap_blocks ? doc->cap_blocks * 2 : 16;
        mast_block *p = realloc(doc->blocks, cap * sizeof *p);
        if (!p)
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        doc->blocks = p;
        doc->cap_blocks = cap;
    }
    doc->blocks[doc->n_blocks++] = (mast_block){kind, text, len, heading, 0};
    return MAST_OK;
}

mast_status mast_doc_append(mast_doc *doc, const mast_doc *from)
{
    for (size_t i = 0; i < from->n_blocks; i++) {
        const mast_block *k = &from->blocks[i];
        char *text = mast_arena_strndup(&doc->arena, k->text, k->len);
        char *h = k->heading ? mast_arena_strdup(&doc->arena, k->heading) : NULL;
        if (!text || (k->heading && !h))
            return mast_fail(MAST_ERR_NOMEM, "out of memory");
        MAST_TRY(mast_doc_add_block(doc, k->kind, text, k->len, h));
        mast_doc_set_page(doc, k->page);
    }
    return MAST_OK;
}

mast_status mast_headings_set(mast_doc *doc, mast_headings *h, int level, const char *text,
                              size_t len)
{
    level = level < 1 ? 1 : level > MAST_HEADING_LEVELS ? MAST_HEADING_LEVELS : level;
    const char *copy = mast_arena_strndup(&doc->arena, text, len);
    if (!copy)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    h->levels[level - 1] = copy;
    for (int i = level; i < MAST_HEADING_LEVELS; i++)
        h->levels[i] = NULL;
    size_t n = 0;
    for (int i = 0; i < MAST_HEADING_LEVELS; i++)
        n += h->levels[i] && *h->levels[i] ? strlen(h->levels[i]) + 3 : 0;
    char *path = mast_arena_alloc(&doc->arena, n + 1), *p = path;
    if (!path)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    for (int i = 0; i < MAST_HEADING_LEVELS; i++) {
        if (!h->levels[i] || !*h->levels[i])
            continue;
        if (p > path) {
            memcpy(p, " > ", 3);
            p += 3;
        }
        size_t k = strlen(h->levels[i]);
        memcpy(p, h->levels[i], k);
        p += k;
    }
    *p = '\0';
    h->path = path;
    return MAST_OK;
}

static int blank_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

mast_status mast_load_text(mast_doc *doc, const char *text, size_t len, const char *fallback_title)
{
    doc->title = mast_arena_strdup(&doc->arena, fallback_title ? fallback_title : "");
    size_t pos = 0, para_start = 0;
    int in_para = 0;
    while (pos <= len) {
        const char *nl = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;
        size_t end = nl ? (size_t)(nl - text) : len;
        if (blank_line(text + pos, end - pos)) {
            if (in_para) {
                size_t end_para = pos;
                while (end_para > para_start && (text[end_para - 1] == '\n' ||
                                                 text[end_para - 1] == '\r'))
                    end_para--;
                MAST_TRY(mast_doc_add_block(doc, MAST_BLOCK_PARA, text + para_start,
                                            end_para - para_start, NULL));
            }
            in_para = 0;
        } else if (!in_para) {
            in_para = 1;
            para_start = pos;
        }
        if (!nl)
            break;
        pos = end + 1;
    }
    if (in_para)
        MAST_TRY(mast_doc_add_block(doc, MAST_BLOCK_PARA, text + para_start, len - para_start, NULL));
    return doc->title ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}
