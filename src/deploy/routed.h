/*
** deploy/routed.h — a model of mast.yaml as a generator (model/generate.h),
** so `mast run`, `mast chat` and `mast ask` use gateway models as they use a
** GGUF file: the router picks the deployment, retries, falls back and rests
** failing ones exactly as it does for the HTTP gateway (deploy/router.h).
**
** A remote deployment gets the conversation as an OpenAI chat request
** (temperature, top_p, seed, stop, penalties, max_tokens), streamed, through
** the provider call of model/providers/provider.h; a raw prompt goes as one
** user message. A local deployment is opened in this process the first time
** it is chosen, with the local options given. Text streams to the callback
** as it arrives; once some has, a failure is not retried (the text cannot
** be taken back). Tool calls are not passed through this interface, and a
** grammar constraint needs a local model (MAST_ERR_UNSUPPORTED).
*/
#ifndef MAST_DEPLOY_ROUTED_H
#define MAST_DEPLOY_ROUTED_H

#include "deploy/config.h"
#include "model/generate.h"

/* Opens model of the configuration file config_path. MAST_ERR_NOT_FOUND
** (listing the names it has) when it has no such model; the file's own
** errors as mast_config_load reports them. */
mast_status mast_routed_generator_open(const char *config_path, const char *model,
                                       const mast_local_opts *local, mast_generator **out);

#endif
