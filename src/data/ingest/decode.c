/*
** data/ingest/decode.c — from a file's bytes to text the loaders read:
** decompression (gzip, bzip2, xz, zstd: libarchive's filters, by magic
** bytes), archives walked entry by entry with limits against bombs, and
** character sets (UTF-8 repaired, UTF-16 with a byte-order mark, Windows-1252
** detected or declared) converted to NFC UTF-8. See ingest_impl.h.
*/
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/status.h"
#include "base/utf8.h"
#include "data/ingest/ingest_impl.h"

/* ---- compression ---- */

const char *mast_compression_of(const char *data, size_t len)
{
    static const struct { const char *magic; size_t n; const char *name; } kinds[] = {
        {"\x1f\x8b", 2, "gzip"}, {"BZh", 3, "bzip2"}, {"\xfd" "7zXZ\0", 6, "xz"},
        {"\x28\xb5\x2f\xfd", 4, "zstd"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (len >= kinds[i].n && memcmp(data, kinds[i].magic, kinds[i].n) == 0)
            return kinds[i].name;
    return NULL;
}

/* Reads the current entry's data into a malloc'ed, NUL-terminated buffer,
** failing past `max` bytes. */
static mast_status read_entry(struct archive *a, const char *what, size_t max, char **out,
                              size_t *out_len)
{
    mast_buf b = {0};
    for (;;) {
        if (mast_buf_reserve(&b, 64 << 10) != MAST_OK) {
            mast_buf_free(&b);
            return MAST_ERR_NOMEM;
        }
        la_ssize_t n = archive_read_data(a, b.data + b.len, b.cap - b.len - 1);
        if (n < 0) {
            mast_buf_free(&b);
            return mast_fail(MAST_ERR_FORMAT, "%s: %s", what, archive_error_string(a));
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
        if (b.len > max) {
            mast_buf_free(&b);
            return mast_fail(MAST_ERR_LIMIT, "%s: decompresses to more than the limit of %zu "
                             "bytes", what, max);
        }
    }
    if (mast_buf_reserve(&b, 1) != MAST_OK) {
        mast_buf_free(&b);
        return MAST_ERR_NOMEM;
    }
    b.data[b.len] = '\0';
    *out_len = b.len;
    *out = b.data;
    return MAST_OK;
}

/* Opens a compressed stream at its data; the caller frees *out. */
static mast_status open_raw(const char *what, const char *in, size_t len, struct archive **out)
{
    struct archive *a = *out = archive_read_new();
    if (!a)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    struct archive_entry *e;
    if (archive_read_open_memory(a, in, len) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK)
        return mast_fail(MAST_ERR_FORMAT, "%s: cannot decompress: %s", what,
                         archive_error_string(a) ? archive_error_string(a)
                                                 : "damaged or truncated data");
    return MAST_OK;
}

/* Bytes a stream decompresses to, counted through a scratch buffer (stops
** counting past max). */
static mast_status count_stream(const char *what, const char *in, size_t len, size_t max,
                                size_t *total)
{
    struct archive *a;
    mast_status st = open_raw(what, in, len, &a);
    static const size_t scratch_len = (size_t)1 << 20;
    char *scratch = malloc(scratch_len);
    if (st == MAST_OK && !scratch)
        st = mast_fail(MAST_ERR_NOMEM, "out of memory");
    size_t n_total = 0;
    while (st == MAST_OK) {
        la_ssize_t n = archive_read_data(a, scratch, scratch_len);
        if (n < 0)
            st = mast_fail(MAST_ERR_FORMAT, "%s: %s", what, archive_error_string(a));
        else if (n == 0)
            break;
        else if ((n_total += (size_t)n) > max)
            st = mast_fail(MAST_ERR_LIMIT, "%s: decompresses to more than the limit of %zu "
                           "bytes", what, max);
    }
    free(scratch);
    archive_read_free(a);
    *total = n_total;
    return st;
}

/* Reads the current entry into buf (cap bytes), MAST_ERR_LIMIT past it. */
static mast_status read_fixed(struct archive *a, const char *what, char *buf, size_t cap,
                              size_t *out_len)
{
    size_t len = 0;
    for (;;) {
        char probe;
        /* once full, one byte more says whether there is more */
        la_ssize_t n = len < cap ? archive_read_data(a, buf + len, cap - len)
                                 : archive_read_data(a, &probe, 1);
        if (n < 0)
            return mast_fail(MAST_ERR_FORMAT, "%s: %s", what, archive_error_string(a));
        if (n == 0)
            break;
        if (len >= cap)
            return mast_fail(MAST_ERR_LIMIT, "%s: decompresses to more than the limit of %zu "
                             "bytes", what, cap);
        len += (size_t)n;
    }
    buf[len] = '\0';
    *out_len = len;
    return MAST_OK;
}

mast_status mast_decompress(const char *what, const char *in, size_t len, size_t max, char **out,
                            size_t *out_len)
{
    /* Small outputs are read in one pass into one buffer of 4 MB (only the
    ** pages written are touched). A larger one is first counted through a
    ** scratch buffer, so that a bomb is refused without holding the limit's
    ** worth of memory, then read into a buffer of the exact size: no buffer
    ** ever grows by copying. */
    static const size_t one_pass = (size_t)4 << 20;
    size_t first = max < one_pass ? max : one_pass;
    char *buf = malloc(first + 1);
    if (!buf)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    struct archive *a;
    mast_status st = open_raw(what, in, len, &a);
    if (st == MAST_OK)
        st = read_fixed(a, what, buf, first, out_len);
    archive_read_free(a);
    if (st == MAST_OK) {
        char *shrunk = realloc(buf, *out_len + 1);
        *out = shrunk ? shrunk : buf;
        return MAST_OK;
    }
    free(buf);
    if (st != MAST_ERR_LIMIT || first == max)
        return st;
    size_t total;
    MAST_TRY(count_stream(what, in, len, max, &total));
    if (!(buf = malloc(total + 1)))
        return mast_fail(MAST_ERR_NOMEM, "%s: out of memory for %zu bytes", what, total);
    st = open_raw(what, in, len, &a);
    if (st == MAST_OK)
        st = read_fixed(a, what, buf, total, out_len);
    archive_read_free(a);
    if (st != MAST_OK)
        free(buf);
    else
        *out = buf;
    return st;
}

/* ---- archives ---- */

/* A tar header without the ustar magic (V7 tar): a name, and the checksum
** at 148 (octal) equal to the sum of the header's bytes with that field as
** spaces. */
static int v7_tar(const unsigned char *h, size_t len)
{
    if (len < 512 || h[0] == 0)
        return 0;
    unsigned long want = 0, sum = 0;
    size_t i = 148;
    while (i < 156 && h[i] == ' ')
        i++;
    if (i == 156 || h[i] < '0' || h[i] > '7')
        return 0;
    for (; i < 156 && h[i] >= '0' && h[i] <= '7'; i++)
        want = want * 8 + (unsigned long)(h[i] - '0');
    for (size_t k = 0; k < 512; k++)
        sum += k >= 148 && k < 156 ? ' ' : h[k];
    return sum == want;
}

int mast_is_archive(const char *data, size_t len)
{
    if (len >= 4 && memcmp(data, "PK\3\4", 4) == 0)
        return 1;
    if (len >= 6 && memcmp(data, "7z\xbc\xaf\x27\x1c", 6) == 0)
        return 1;
    if (len >= 262 && memcmp(data + 257, "ustar", 5) == 0)
        return 1;
    return v7_tar((const unsigned char *)data, len);
}

mast_status mast_archive_walk(const char *what, const char *data, size_t len,
                              mast_archive_budget *budget, mast_archive_fn fn, void *ctx)
{
    struct archive *a = archive_read_new();
    if (!a)
        return mast_fail(MAST_ERR_NOMEM, "out of memory");
    archive_read_support_filter_all(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_7zip(a);
    mast_status st = MAST_OK;
    const char *sep = what ? ": " : "";
    what = what ? what : "";
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK)
        st = mast_fail(MAST_ERR_FORMAT, "%s%snot a readable archive: %s", what, sep,
                       archive_error_string(a));
    struct archive_entry *e;
    int rc;
    while (st == MAST_OK && (rc = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
        if (rc < ARCHIVE_WARN) {
            st = mast_fail(MAST_ERR_FORMAT, "%s%sdamaged archive: %s", what, sep,
                           archive_error_string(a));
            break;
        }
        const char *name = archive_entry_pathname_utf8(e);
        if (!name)
            name = archive_entry_pathname(e);
        if (archive_entry_filetype(e) != AE_IFREG || !name)
            continue;
        if (++budget->entries > budget->max_entries) {
            st = mast_fail(MAST_ERR_LIMIT, "%s%srefused: more than %zu entries (an archive "
                           "bomb?)", what, sep, budget->max_entries);
            break;
        }
        size_t left = budget->max_bytes > budget->bytes ? budget->max_bytes - budget->bytes : 0;
        size_t max = budget->max_entry_bytes < left ? budget->max_entry_bytes : left;
        char *buf = NULL;
        size_t n = 0;
        /* a declared size past the limit is refused before a byte is read */
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > (la_int64_t)max)
            st = mast_fail(MAST_ERR_LIMIT, "%s: %lld bytes, more than the limit of %zu bytes",
                           name, (long long)archive_entry_size(e), max);
        else
            st = read_entry(a, name, max, &buf, &n);
        if (st == MAST_ERR_LIMIT && max == left) {
            st = mast_fail(MAST_ERR_LIMIT, "%s%srefused: expands to more than %zu bytes, %zu "
                           "times its size (an archive bomb?), at %s", what, sep, budget->max_bytes,
                           budget->max_bytes / (budget->packed ? budget->packed : 1), name);
            break;
        }
        if (st != MAST_OK) {   /* one bad entry: reported, the others go on */
            mast_warn("%s%s%s", what, sep, mast_errmsg());
            st = MAST_OK;
            continue;
        }
        budget->bytes += n;
        st = fn(ctx, name, buf, n);
        free(buf);
    }
    archive_read_free(a);
    return st;
}

/* ---- character sets ---- */

bool mast_looks_like_html(const char *data, size_t len)
{
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    static const char *const openings[] = {"<!doctype html", "<html", "<?xml version"};
    for (size_t k = 0; k < sizeof openings / sizeof *openings; k++) {
        size_t n = strlen(openings[k]);
        if (len - i >= n && strncasecmp(data + i, openings[k], n) == 0)
            return k < 2 || (len - i > 200 && memmem(data + i, 200, "<html", 5) != NULL);
    }
    return false;
}

/* 0: not text (NUL bytes, or too many invalid bytes); 1: valid UTF-8; 2:
** UTF-8 with some invalid bytes (repaired); 3: not UTF-8 at all but like
** Windows-1252/Latin-1 text: high bytes and no multi-byte UTF-8 sequence,
** hardly any control characters (read as Windows-1252). */
static int sniff_text(const char *data, size_t len)
{
    if (memchr(data, '\0', len))
        return 0;
    size_t bad = 0, multibyte = 0, controls = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)data[i];
        if (c < 0x80) {
            controls += c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b;
            i++;
            continue;
        }
        int32_t cp;
        size_t n = mast_utf8_decode(data + i, len - i, &cp);
        if (cp < 0)
            bad++;
        else
            multibyte++;
        i += n;
    }
    if (bad == 0)
        return 1;
    if (multibyte == 0 && controls * 100 <= len)
        return 3;
    return bad * 20 > len ? 0 : 2;   /* more than 5% bad bytes: not text */
}

/* UTF-16 without a byte-order mark: most of the first 4 KB's units have a
** zero byte on the same side and few have none. 1 = LE, 2 = BE, 0 = no. */
static int sniff_utf16(const char *data, size_t len)
{
    size_t n = (len < 4096 ? len : 4096) & ~(size_t)1, zero_odd = 0, zero_even = 0;
    if (n < 16)
        return 0;
    for (size_t i = 0; i < n; i += 2) {
        zero_even += data[i] == 0 && data[i + 1] != 0;
        zero_odd += data[i + 1] == 0 && data[i] != 0;
    }
    size_t units = n / 2;
    if (zero_odd * 10 >= units * 9)
        return 1;
    if (zero_even * 10 >= units * 9)
        return 2;
    return 0;
}

/* The charset an HTML document declares in its first 2 KB (<meta charset=…>
** or the http-equiv Content-Type's charset=…): its label, or NULL. */
static const char *declared_charset(const char *data, size_t len, size_t *label_len)
{
    size_t n = len < 2048 ? len : 2048;
    for (size_t i = 0; i + 8 <= n; i++) {
        if (strncasecmp(data + i, "charset=", 8))
            continue;
        size_t j = i + 8;
        while (j < n && (data[j] == '"' || data[j] == '\'' || data[j] == ' '))
            j++;
        size_t k = j;
        while (k < n && (isalnum((unsigned char)data[k]) || strchr("-_.:", data[k])))
            k++;
        if (k > j) {
            *label_len = k - j;
            return data + j;
        }
    }
    return NULL;
}

mast_status mast_decode_text(const char *what, const char *data, size_t len, bool html,
                             char **out, size_t *out_len, const char **encoding)
{
    const char *enc_unused;
    if (!encoding)
        encoding = &enc_unused;
    *encoding = NULL;
    char *converted = NULL;
    size_t conv_len = len;
    const char *src = data;
    int utf16 = 0, bom = 0;
    if (len >= 2 && (memcmp(data, "\xff\xfe", 2) == 0 || memcmp(data, "\xfe\xff", 2) == 0)) {
        utf16 = data[0] == '\xff' ? 1 : 2;
        bom = 2;
    } else {
        utf16 = sniff_utf16(data, len);
    }
    if (utf16) {
        size_t n_bad;
        MAST_TRY(mast_utf16_to_utf8(data + bom, len - bom, utf16 == 2, &converted, &conv_len,
                                    &n_bad));
        mast_warn("%s: UTF-16%s (%s): converted to UTF-8%s", what, utf16 == 2 ? "BE" : "LE",
                  bom ? "its byte-order mark" : "detected", n_bad ? ", broken units replaced by "
                                                                    "U+FFFD" : "");
        src = converted;
        *encoding = utf16 == 2 ? "utf-16be" : "utf-16le";
    } else {
        int quality = sniff_text(data, len);
        if (quality == 0) {
            if (len >= 8 && memcmp(data, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0)
                return mast_fail(MAST_ERR_FORMAT, "a legacy Microsoft Office file (OLE2: .doc, "
                                 ".xls, .ppt, .msg, or a password-protected document), which "
                                 "mast does not read; save it as .docx, .xlsx or .pptx");
            return mast_fail(MAST_ERR_FORMAT, "not a text file");
        }
        size_t label_len = 0;
        const char *label = html && quality != 1 ? declared_charset(data, len, &label_len) : NULL;
        bool cp1252 = quality == 3 || (label && mast_cp1252_label(label, label_len));
        if (quality != 1 && cp1252) {
            MAST_TRY(mast_cp1252_to_utf8(data, len, &converted, &conv_len));
            mast_warn("%s: not UTF-8: read as Windows-1252 (%s)", what,
                      label ? "its declared charset" : "detected");
            src = converted;
            *encoding = "windows-1252";
        } else if (quality != 1) {
            size_t n_bad;
            MAST_TRY(mast_utf8_repair(data, len, &converted, &conv_len, &n_bad));
            if (label && !(label_len == 5 && !strncasecmp(label, "utf-8", 5)))
                mast_warn("%s: the charset %.*s is not supported: %zu invalid UTF-8 byte%s "
                          "replaced by U+FFFD", what, (int)label_len, label, n_bad,
                          n_bad == 1 ? "" : "s");
            else
                mast_warn("%s: repaired %zu invalid UTF-8 byte%s (replaced by U+FFFD)", what,
                          n_bad, n_bad == 1 ? "" : "s");
            src = converted;
            *encoding = "utf-8, repaired";
        }
    }
    /* a UTF-8 byte-order mark is not text */
    if (conv_len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0) {
        src += 3;
        conv_len -= 3;
    }
    mast_status st = mast_utf8_nfc(src, conv_len, out, out_len);
    free(converted);
    return st;
}
