/*
** data/ingest/markdown.c — the Markdown loader (see doc.h).
**
** Line-oriented, CommonMark-flavoured where it matters for chunking:
** headings (ATX "#" and setext "===" / "---" underlines), fenced code blocks
** (a fence is 3+ backticks or tildes, indented at most 3 spaces, closed by a
** fence of the same character at least as long; an unclosed fence runs to the
** end of the file), paragraphs separated by blank lines, YAML front matter.
*/
#include <string.h>

#include "base/buf.h"
#include "base/status.h"
#include "data/ingest/doc.h"

#define MAX_LEVEL 6

typedef struct md {
    mast_doc *doc;
    const char *levels[MAX_LEVEL];   /* heading text per level, NULL if none */
    const char *path;                /* current heading path, in the arena */
    const char *text;
    size_t para_start, para_end;     /* current paragraph [start, end), end 0 = none */
    size_t para_lines;
    size_t last_line_start;
    int found_title;
} md;

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static size_t rtrim(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return n;
}

static mast_status flush_para(md *m)
{
    if (m->para_end > m->para_start) {
        MAST_TRY(mast_doc_add_block(m->doc, MAST_BLOCK_PARA, m->text + m->para_start,
                                    m->para_end - m->para_start, m->path));
    }
    m->para_start = m->para_end = 0;
    m->para_lines = 0;
    return MAST_OK;
}

static mast_status set_heading(md *m, int level, const char *s, size_t n)
{
    n = rtrim(s, n);
    while (n && s[n - 1] == '#')   /* closing #s */
        n--;
    n = rtrim(s, n);
    const char *h = mast_arena_strndup(&m->doc->arena, s, n);
    if (!h)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    m->levels[level - 1] = h;
    for (int i = level; i < MAX_LEVEL; i++)
        m->levels[i] = NULL;
    if (level == 1 && !m->found_title && n) {
        m->doc->title = h;
        m->found_title = 1;
    }
    mast_buf b = {0};
    for (int i = 0; i < MAX_LEVEL; i++) {
        if (!m->levels[i] || !*m->levels[i])
            continue;
        if (b.len)
            MAST_TRY(mast_buf_puts(&b, " > "));
        MAST_TRY(mast_buf_puts(&b, m->levels[i]));
    }
    m->path = mast_arena_strndup(&m->doc->arena, mast_buf_cstr(&b), b.len);
    mast_buf_free(&b);
    return m->path ? MAST_OK : mast_fail(MAST_ERR_NOMEM, "out of memory");
}

/* Returns the fence length (3+) if the line opens/closes a fence, else 0. */
static size_t fence(const char *s, size_t n, char *ch)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ')
        i++;
    if (i >= n || (s[i] != '`' && s[i] != '~'))
        return 0;
    char c = s[i];
    size_t k = 0;
    while (i + k < n && s[i + k] == c)
        k++;
    if (k < 3)
        return 0;
    *ch = c;
    return k;
}

/* A closing fence: up to 3 spaces, >= len fence characters, then blanks. */
static int closes_fence(const char *s, size_t n, char ch, size_t len)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ')
        i++;
    size_t k = 0;
    while (i + k < n && s[i + k] == ch)
        k++;
    return k >= len && is_blank(s + i + k, n - i - k);
}

static int atx_level(const char *s, size_t n, size_t *text_off)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ')
        i++;
    int level = 0;
    while (i < n && s[i] == '#' && level < 7) {
        level++;
        i++;
    }
    if (level == 0 || level > 6)
        return 0;
    if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
        return 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    *text_off = i;
    return level;
}

static int setext_level(const char *s, size_t n)
{
    n = rtrim(s, n);
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ')
        i++;
    if (i >= n || (s[i] != '=' && s[i] != '-'))
        return 0;
    char c = s[i];
    for (; i < n; i++)
        if (s[i] != c)
            return 0;
    return c == '=' ? 1 : 2;
}

static size_t skip_front_matter(const char *text, size_t len)
{
    if (len < 4 || memcmp(text, "---", 3) != 0 || (text[3] != '\n' && text[3] != '\r'))
        return 0;
    size_t pos = (size_t)((const char *)memchr(text, '\n', len) - text) + 1;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = rtrim(text + pos, end - pos);
        if ((n == 3 && memcmp(text + pos, "---", 3) == 0) ||
            (n == 3 && memcmp(text + pos, "...", 3) == 0))
            return nl ? end + 1 : len;
        pos = end + 1;
    }
    return 0;   /* unterminated: treat as ordinary text */
}

mast_status mast_load_markdown(mast_doc *doc, const char *text, size_t len,
                               const char *fallback_title)
{
    md m = {.doc = doc, .text = text, .path = ""};
    doc->title = mast_arena_strdup(&doc->arena, fallback_title ? fallback_title : "");
    if (!doc->title)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t pos = skip_front_matter(text, len);
    char fence_ch = 0;
    size_t fence_len = 0, fence_start = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t next = nl ? end + 1 : len;
        const char *line = text + pos;
        size_t n = end - pos;
        char ch;
        size_t k;
        if (fence_len) {
            if (closes_fence(line, n, fence_ch, fence_len)) {
                MAST_TRY(mast_doc_add_block(doc, MAST_BLOCK_CODE, text + fence_start,
                                            end - fence_start, m.path));
                fence_len = 0;
            }
            pos = next;
            continue;
        }
        if ((k = fence(line, n, &ch)) > 0) {
            MAST_TRY(flush_para(&m));
            fence_ch = ch;
            fence_len = k;
            fence_start = pos;
            pos = next;
            continue;
        }
        size_t off;
        int level;
        if ((level = atx_level(line, n, &off)) > 0) {
            MAST_TRY(flush_para(&m));
            MAST_TRY(set_heading(&m, level, line + off, n - off));
        } else if (m.para_lines == 1 && (level = setext_level(line, n)) > 0) {
            const char *h = text + m.para_start;
            size_t hn = m.para_end - m.para_start;
            m.para_start = m.para_end = 0;
            m.para_lines = 0;
            MAST_TRY(set_heading(&m, level, h, hn));
        } else if (is_blank(line, n)) {
            MAST_TRY(flush_para(&m));
        } else {
            if (!m.para_lines)
                m.para_start = pos;
            m.para_end = pos + rtrim(line, n);
            m.para_lines++;
        }
        pos = next;
    }
    if (fence_len)   /* unclosed fence: runs to the end */
        MAST_TRY(mast_doc_add_block(doc, MAST_BLOCK_CODE, text + fence_start, len - fence_start,
                                    m.path));
    return flush_para(&m);
}
