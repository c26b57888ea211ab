/*
** model/chat.h — chat templates: a message list as the prompt text a model
** was trained on.
**
** The family is recognised from markers in the GGUF's
** tokenizer.chat_template (a Jinja template; mast does not run Jinja, it
** renders each family's format itself, as llama.cpp's built-in templates do):
**   chatml   "<|im_start|>"          <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n
**   llama3   "<|start_header_id|>"   <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> ...
**   llama2   "[INST]" and "<<SYS>>"  [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant</s>
**   mistral  "[INST]"                [INST] user [/INST] assistant</s> (system joins the first user turn)
**   phi3     "<|user|>" and "<|end|>" <|user|>\ncontent<|end|>\n ... <|assistant|>\n
**   zephyr   "<|user|>"              <|user|>\ncontent</s>\n ... <|assistant|>\n
**   gemma    "<start_of_turn>"       <start_of_turn>user\ncontent<end_of_turn>\n ... <start_of_turn>model\n
**                                    (system joins the first user turn; assistant is "model")
**   plain    anything else, or no template: "role: content\n" lines, then "assistant:"
** The rendered text has no BOS: the tokenizer adds it (add_special), and it
** is tokenized with special tokens parsed.
*/
#ifndef MAST_MODEL_CHAT_H
#define MAST_MODEL_CHAT_H

#include <stddef.h>

#include "base/buf.h"
#include "model/gguf.h"

typedef struct mast_chat_message {
    const char *role;      /* "system", "user" or "assistant" */
    const char *content;
} mast_chat_message;

typedef enum mast_chat_format {
    MAST_CHAT_PLAIN,
    MAST_CHAT_CHATML,
    MAST_CHAT_LLAMA2,
    MAST_CHAT_LLAMA3,
    MAST_CHAT_MISTRAL,
    MAST_CHAT_ZEPHYR,
    MAST_CHAT_PHI3,
    MAST_CHAT_GEMMA,
} mast_chat_format;

/* The family of a template text (NULL: plain). */
mast_chat_format mast_chat_detect(const char *template_text, size_t len);
/* The family of a model's tokenizer.chat_template. */
mast_chat_format mast_chat_format_of(const mast_gguf *g);
const char *mast_chat_format_name(mast_chat_format f);
/* "chatml", "llama3", ... -> format; -1 for an unknown name. */
int mast_chat_format_parse(const char *name);

/* Appends the messages as the model's prompt, ending with the opening of
** the assistant's turn. MAST_ERR_INVALID for a role other than system, user
** or assistant. */
mast_status mast_chat_render(mast_chat_format f, const mast_chat_message *msgs, size_t n,
                             mast_buf *out);

#endif
