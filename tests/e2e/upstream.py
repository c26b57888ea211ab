#!/usr/bin/env python3
"""tests/e2e/upstream.py — a fault-injecting model provider for the gateway tests.

Speaks the OpenAI Chat Completions (POST /v1/chat/completions) and Anthropic Messages
(POST /v1/messages) wire formats, streaming and not, on 127.0.0.1 (an ephemeral port,
printed as "port N" on stdout). Each request for a provider model id follows the next
action of that model's script, or "ok" when the script is empty:

  POST /_script {"model": "upstream-a", "actions": ["429:1", "ok"]}   append to a script
  POST /_reset                                                        forget scripts and log
  GET  /_log                                                          the requests received

Actions:
  ok            answer "Hello from MODEL" (usage with cached and reasoning tokens)
  tool          answer with a tool call get_weather({"city": "Paris"})
  429:S         429 rate limited, Retry-After S seconds
  500           a server error
  529           overloaded (Anthropic's 529 / overloaded_error)
  401           authentication failed
  400           a bad request
  ctx           a context-length error (400)
  stall:S       wait S seconds before anything, then answer ok
  stall_mid:S   (streams) send the first words, wait S seconds, then hang up
  break         (streams) send an event whose data is not JSON, then hang up
"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCRIPTS, LOG, LOCK = {}, [], threading.Lock()
OPENAI_USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
                "prompt_tokens_details": {"cached_tokens": 4},
                "completion_tokens_details": {"reasoning_tokens": 2}}
ANTHROPIC_USAGE = {"input_tokens": 8, "cache_read_input_tokens": 4,
                   "cache_creation_input_tokens": 3, "output_tokens": 5}


def next_action(model):
    with LOCK:
        q = SCRIPTS.get(model, [])
        return q.pop(0) if q else "ok"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, data, event=None):
        text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        self.wfile.write(text.encode())
        self.wfile.flush()

    def do_GET(self):
        if self.path == "/_log":
            with LOCK:
                self.send_json(200, LOG)
        else:
            self.send_json(404, {"error": {"message": "no such route"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/_script":
            with LOCK:
                SCRIPTS.setdefault(body["model"], []).extend(body["actions"])
            return self.send_json(200, {"ok": True})
        if self.path == "/_reset":
            with LOCK:
                SCRIPTS.clear()
                LOG.clear()
            return self.send_json(200, {"ok": True})
        anthropic = self.path == "/v1/messages"
        if not anthropic and self.path != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": "no such route"}})
        model = body.get("model", "")
        action = next_action(model)
        with LOCK:
            LOG.append({"path": self.path, "model": model, "action": action, "body": body,
                        "authorization": self.headers.get("Authorization"),
                        "x_api_key": self.headers.get("x-api-key"),
                        "traceparent": self.headers.get("traceparent")})
        name, _, arg = action.partition(":")
        if name == "stall":
            time.sleep(float(arg))
            name = "ok"
        if name in ("429", "500", "529", "401", "400", "ctx"):
            return self.error(anthropic, name, arg)
        tool = name == "tool"
        self.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if body.get("stream"):
            return (self.anthropic_stream if anthropic else self.openai_stream)(model, tool, name, arg)
        return self.send_json(200, self.anthropic_reply(model, tool) if anthropic
                              else self.openai_reply(model, tool))

    def error(self, anthropic, name, arg):
        status = {"429": 429, "500": 500, "529": 529, "401": 401, "400": 400, "ctx": 400}[name]
        kind = {"429": "rate_limit_error", "500": "api_error", "529": "overloaded_error",
                "401": "authentication_error", "400": "invalid_request_error",
                "ctx": "invalid_request_error"}[name]
        msg = {"ctx": "This model's maximum context length is 8192 tokens (context_length_exceeded)",
               "400": "temperature must be between 0 and 2"}.get(name, f"simulated {kind}")
        headers = [("Retry-After", arg)] if name == "429" and arg else []
        if anthropic:
            return self.send_json(status, {"type": "error", "error": {"type": kind, "message": msg}}, headers)
        code = "context_length_exceeded" if name == "ctx" else None
        return self.send_json(status, {"error": {"message": msg, "type": kind, "code": code}}, headers)

    @staticmethod
    def openai_reply(model, tool):
        msg = {"role": "assistant", "content": None if tool else f"Hello from {model}"}
        if tool:
            msg["tool_calls"] = [{"id": "call_1", "type": "function", "function": {
                "name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]
        return {"id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": msg, "logprobs": None,
                             "finish_reason": "tool_calls" if tool else "stop"}], "usage": OPENAI_USAGE}

    @staticmethod
    def anthropic_reply(model, tool):
        content = ([{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]
                   if tool else [{"type": "text", "text": f"Hello from {model}"}])
        return {"id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None,
                "usage": ANTHROPIC_USAGE}

    def openai_stream(self, model, tool, name, arg):
        self.start_sse()
        def chunk(delta, finish=None, usage=None, choices=True):
            c = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}
            if usage:
                c["usage"] = usage
            self.sse(json.dumps(c))
        chunk({"role": "assistant", "content": ""})
        if name == "break":
            return self.sse("{not json")
        if tool:
            chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]})
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]})
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]})
        else:
            chunk({"content": "Hello"})
            if name == "stall_mid":
                time.sleep(float(arg))
                return
            chunk({"content": f" from {model}"})
        chunk({}, "tool_calls" if tool else "stop")
        if self.include_usage:
            chunk(None, usage=OPENAI_USAGE, choices=False)
        self.sse("[DONE]")

    def anthropic_stream(self, model, tool, name, arg):
        self.start_sse()
        def ev(kind, obj):
            obj["type"] = kind
            self.sse(json.dumps(obj), kind)
        usage0 = dict(ANTHROPIC_USAGE, output_tokens=1)
        ev("message_start", {"message": {"id": "msg_up", "type": "message", "role": "assistant",
                                          "model": model, "content": [], "usage": usage0}})
        if name == "break":
            return self.sse("{not json", "content_block_delta")
        if tool:
            ev("content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "toolu_1",
                                                                    "name": "get_weather", "input": {}}})
            ev("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta",
                                                             "partial_json": "{\"city\": "}})
            ev("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta",
                                                             "partial_json": "\"Paris\"}"}})
        else:
            ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hello"}})
            if name == "stall_mid":
                time.sleep(float(arg))
                return
            ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": f" from {model}"}})
        ev("content_block_stop", {"index": 0})
        ev("message_delta", {"delta": {"stop_reason": "tool_use" if tool else "end_turn",
                                       "stop_sequence": None}, "usage": {"output_tokens": 5}})
        ev("message_stop", {})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()
