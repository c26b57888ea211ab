/*
** base/utf8.h — UTF-8 validation, repair, decoding and NFC normalization.
**
** Validation follows RFC 3629: no overlong forms, no surrogates, nothing past
** U+10FFFF. Normalization uses utf8proc.
*/
#ifndef MAST_BASE_UTF8_H
#define MAST_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mast.h"

/* Decodes one code point at s[0..len). Returns the number of bytes used
** (1..4) and sets *cp; on an invalid or truncated sequence returns 1 and sets
** *cp = -1. `len` must be > 0. */
size_t mast_utf8_decode(const char *s, size_t len, int32_t *cp);

/* Encodes cp (at most U+10FFFF, not a surrogate) into out[0..4); returns
** the number of bytes. */
size_t mast_utf8_encode(uint32_t cp, char *out);

/* True when s[0..len) is valid UTF-8. On false, *bad_offset (if not NULL) is
** the offset of the first invalid byte. */
bool mast_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Decodes Windows-1252 (which WHATWG's encoding standard also uses for
** ISO-8859-1, Latin-1 and US-ASCII labels) into UTF-8: 0xA0-0xFF are
** Latin-1's, 0x80-0x9F the typographic characters (€, ‘’, “”, –, …), the
** five bytes it leaves undefined the C1 controls. The caller frees *out. */
mast_status mast_cp1252_to_utf8(const char *s, size_t len, char **out, size_t *out_len);
/* Converts UTF-16 (without its byte-order mark) to UTF-8; lone surrogates,
** NUL and an odd last byte become U+FFFD, counted in *n_replaced (may be
** NULL). The caller frees *out. */
mast_status mast_utf16_to_utf8(const char *s, size_t len, bool big_endian, char **out,
                               size_t *out_len, size_t *n_replaced);
/* Whether label names Windows-1252 or an alias of it (case-insensitive). */
bool mast_cp1252_label(const char *label, size_t len);

/* Copies s[0..len) replacing each invalid byte by U+FFFD; NUL bytes are
** replaced too. The caller frees *out. *n_replaced counts the replacements. */
mast_status mast_utf8_repair(const char *s, size_t len, char **out, size_t *out_len,
                             size_t *n_replaced);

/* NFC-normalizes valid UTF-8. The caller frees *out. */
mast_status mast_utf8_nfc(const char *s, size_t len, char **out, size_t *out_len);

/* Length of the longest prefix of s[0..len) that is at most `max` bytes and
** does not end inside a UTF-8 sequence. */
size_t mast_utf8_truncate(const char *s, size_t len, size_t max);

/* Writes a one-line preview of text[0..len) into *out (cleared first): runs
** of white space collapsed to one space, at most `max_chars` characters
** including a trailing "..." when the text was cut; cut on a character
** boundary, and on a word boundary where the text has spaces. */
struct mast_buf;
mast_status mast_utf8_preview(const char *text, size_t len, size_t max_chars,
                              struct mast_buf *out);

#endif
