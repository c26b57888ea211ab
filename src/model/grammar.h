/*
** model/grammar.h — constrained generation: a grammar the output must
** match, checked token by token.
**
** Grammars are written in GBNF (llama.cpp's notation: `name ::= …` rules,
** "literals", [character classes] with ranges and ^, ( ) groups, | , * + ?
** and {m}, {m,}, {m,n}; `.` any character; # comments; the start rule is
** `root`), or compiled from a JSON Schema (mast_schema_to_gbnf) into GBNF.
**
** The grammar works on bytes: character classes over code points become
** alternatives of UTF-8 byte ranges, so a token that ends inside a
** multi-byte character is judged exactly, whatever the tokenizer (SPM
** byte fallback, byte-level BPE, WordPiece). The matcher keeps the set of
** parse stacks (a pushdown automaton, as llama.cpp's grammar sampler does);
** left recursion is refused when the grammar is read.
*/
#ifndef MAST_MODEL_GRAMMAR_H
#define MAST_MODEL_GRAMMAR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/pool.h"
#include "model/generate.h"
#include "model/tokenizer.h"

typedef struct mast_grammar mast_grammar;

/* MAST_ERR_FORMAT names the line and column and what is wrong. */
mast_status mast_grammar_parse(const char *gbnf, size_t len, mast_grammar **out);
void mast_grammar_free(mast_grammar *g);

/* A JSON Schema as GBNF for compact JSON (no whitespace outside strings,
** so that a bounded schema gives a bounded output). Supported: type
** (one or a list), properties, required, additionalProperties (false, true,
** or a schema), enum, const, items, prefixItems, minItems, maxItems,
** anyOf/oneOf, allOf of one, minLength, maxLength, pattern-free strings,
** format date/time/date-time/uuid, integer minimum/maximum >= 0 bounds,
** $ref to #/$defs/… or #/definitions/…, and the annotations (title,
** description, default, examples, $schema, $id, strict). Anything else is
** MAST_ERR_UNSUPPORTED naming the keyword and where it is. */
mast_status mast_schema_to_gbnf(const json_t *schema, mast_buf *out);
/* The rules alone, named r<N> from *n_rules + 1 on (*n_rules advances), so
** that several schemas share one grammar; *root is the schema's rule. The
** rules refer to the shared ones of mast_grammar_primitives_gbnf. */
mast_status mast_schema_to_gbnf_rules(const json_t *schema, int *n_rules, mast_buf *out, int *root);
const char *mast_grammar_primitives_gbnf(void);
/* The grammar of any JSON object (json_object mode). */
const char *mast_grammar_json_object_gbnf(void);

typedef struct mast_grammar_matcher mast_grammar_matcher;

/* A matcher at the start of g, for a model's tokenizer. */
mast_status mast_grammar_matcher_new(const mast_grammar *g, const mast_tokenizer *tok,
                                     mast_grammar_matcher **out);
void mast_grammar_matcher_free(mast_grammar_matcher *m);
/* Whether bytes s[0..n) may come next (n = 0: only the empty string). */
bool mast_grammar_matcher_allows(mast_grammar_matcher *m, const char *s, size_t n);
/* Takes bytes; MAST_ERR_INVALID when they do not match. */
mast_status mast_grammar_matcher_accept(mast_grammar_matcher *m, const char *s, size_t n);
/* The input so far is a complete sentence of the grammar. */
bool mast_grammar_matcher_can_end(const mast_grammar_matcher *m);
/* Complete, and no byte can follow. */
bool mast_grammar_matcher_complete(const mast_grammar_matcher *m);
/* The ids of every token of the matcher's tokenizer that can come next
** (end-of-generation tokens when the input can end), ascending, into ids
** (room for n_vocab); returns how many. The vocabulary is split over the
** pool's threads (NULL: this thread alone). */
size_t mast_grammar_matcher_allowed(mast_grammar_matcher *m, int n_vocab, mast_pool *pool, int32_t *ids);
/* The generator's hook (model/generate.h) driving this matcher. */
mast_gen_constraint mast_grammar_matcher_constraint(mast_grammar_matcher *m);

#endif
