/*
** deploy/prices.h — what hosted models cost when mast.yaml gives no price: a
** dated table of list prices (USD per million tokens) for well-known OpenAI
** and Anthropic models, built in, or the file $MAST_PRICES in the same format:
**
**   {"as_of": "2025-06-01", "source": "…",
**    "models": {"openai/gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10},
**               "anthropic/claude-sonnet-4": {"input": 3, "cached_input": 0.3,
**                                             "cache_write": 3.75, "output": 15}}}
**
** A provider's model id matches its key exactly, else the longest key it
** starts with followed by '-' (dated ids: "gpt-4o-2024-08-06" is "gpt-4o",
** "claude-3-5-haiku-20241022" is "claude-3-5-haiku"). Prices change: the
** table says when it was true, and a deployment's own price always wins.
*/
#ifndef MAST_DEPLOY_PRICES_H
#define MAST_DEPLOY_PRICES_H

#include <stdbool.h>

#include "deploy/config.h"

/* The table's price for provider ("openai", "anthropic") and model; false when
** it has none. *as_of (may be NULL) names the table's date. A bad $MAST_PRICES
** file is reported once (a warning) and the built-in table used. */
bool mast_price_default(const char *provider, const char *model, mast_price *out, const char **as_of);

#endif
