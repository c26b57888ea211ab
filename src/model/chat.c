/*
** model/chat.c — chat template families (see chat.h).
*/
#include "model/chat.h"

#include <string.h>

#include "base/status.h"

static int has(const char *t, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(t + i, needle, n) == 0)
            return 1;
    return 0;
}

mast_chat_format mast_chat_detect(const char *t, size_t len)
{
    if (!t)
        return MAST_CHAT_PLAIN;
    if (has(t, len, "<|im_start|>"))
        return MAST_CHAT_CHATML;
    if (has(t, len, "<|start_header_id|>"))
        return MAST_CHAT_LLAMA3;
    if (has(t, len, "<start_of_turn>"))
        return MAST_CHAT_GEMMA;
    if (has(t, len, "[INST]"))
        return has(t, len, "<<SYS>>") ? MAST_CHAT_LLAMA2 : MAST_CHAT_MISTRAL;
    if (has(t, len, "<|user|>"))
        return has(t, len, "<|end|>") ? MAST_CHAT_PHI3 : MAST_CHAT_ZEPHYR;
    return MAST_CHAT_PLAIN;
}

mast_chat_format mast_chat_format_of(const mast_gguf *g)
{
    mast_gguf_str s;
    if (mast_gguf_get_str(g, "tokenizer.chat_template", &s) != MAST_OK)
        return MAST_CHAT_PLAIN;
    return mast_chat_detect(s.data, s.len);
}

static const char *const names[] = {"plain", "chatml", "llama2", "llama3",
                                    "mistral", "zephyr", "phi3", "gemma"};

const char *mast_chat_format_name(mast_chat_format f)
{
    return (unsigned)f < sizeof names / sizeof *names ? names[f] : "plain";
}

int mast_chat_format_parse(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

mast_status mast_chat_render(mast_chat_format f, const mast_chat_message *msgs, size_t n,
                             mast_buf *out)
{
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content ||
            (strcmp(msgs[i].role, "system") && strcmp(msgs[i].role, "user") &&
             strcmp(msgs[i].role, "assistant")))
            return mast_fail(MAST_ERR_INVALID, "message %zu: the role must be system, user or "
                             "assistant (got '%s')", i + 1, msgs[i].role ? msgs[i].role : "(none)");
    mast_status st = MAST_OK;
    const char *system = NULL;   /* for the formats that fold it into the first user turn */
    int first_user = 1;
    for (size_t i = 0; i < n && st == MAST_OK; i++) {
        const char *role = msgs[i].role, *text = msgs[i].content;
        int is_sys = strcmp(role, "system") == 0, is_user = strcmp(role, "user") == 0;
        switch (f) {
        case MAST_CHAT_CHATML:
            st = mast_buf_printf(out, "<|im_start|>%s\n%s<|im_end|>\n", role, text);
            break;
        case MAST_CHAT_LLAMA3:
            st = mast_buf_printf(out, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>",
                                 role, text);
            break;
        case MAST_CHAT_ZEPHYR:
            st = mast_buf_printf(out, "<|%s|>\n%s</s>\n", role, text);
            break;
        case MAST_CHAT_PHI3:
            st = mast_buf_printf(out, "<|%s|>\n%s<|end|>\n", role, text);
            break;
        case MAST_CHAT_LLAMA2:
        case MAST_CHAT_MISTRAL:
        case MAST_CHAT_GEMMA:
            if (is_sys) {
                system = text;
                break;
            }
            if (is_user) {
                if (f == MAST_CHAT_GEMMA)
                    st = mast_buf_printf(out, "<start_of_turn>user\n%s%s%s<end_of_turn>\n",
                                         first_user && system ? system : "",
                                         first_user && system ? "\n\n" : "", text);
                else if (f == MAST_CHAT_LLAMA2 && first_user && system)
                    st = mast_buf_printf(out, "[INST] <<SYS>>\n%s\n<</SYS>>\n\n%s [/INST]", system, text);
                else
                    st = mast_buf_printf(out, "[INST] %s%s%s [/INST]",
                                         first_user && system ? system : "",
                                         first_user && system ? "\n\n" : "", text);
                first_user = 0;
            } else {
                st = f == MAST_CHAT_GEMMA
                         ? mast_buf_printf(out, "<start_of_turn>model\n%s<end_of_turn>\n", text)
                         : mast_buf_printf(out, " %s</s>", text);
            }
            break;
        case MAST_CHAT_PLAIN:
        default:
            st = mast_buf_printf(out, "%s: %s\n", role, text);
            break;
        }
    }
    if (st != MAST_OK)
        return st;
    switch (f) {
    case MAST_CHAT_CHATML: return mast_buf_puts(out, "<|im_start|>assistant\n");
    case MAST_CHAT_LLAMA3: return mast_buf_puts(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    case MAST_CHAT_ZEPHYR:
    case MAST_CHAT_PHI3: return mast_buf_puts(out, "<|assistant|>\n");
    case MAST_CHAT_GEMMA: return mast_buf_puts(out, "<start_of_turn>model\n");
    case MAST_CHAT_LLAMA2:
    case MAST_CHAT_MISTRAL: return MAST_OK;
    case MAST_CHAT_PLAIN:
    default: return mast_buf_puts(out, "assistant:");
    }
}
