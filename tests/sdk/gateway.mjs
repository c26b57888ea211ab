// tests/sdk/gateway.mjs — mast as a gateway, driven by the official openai SDK
// (run by tests/e2e/gateway.sh, which starts the fault-injecting upstream of
// tests/e2e/upstream.py and `mast serve --config`, and sets UPSTREAM_URL and
// MAST_URL). Every path is asserted on the client's result and on the
// headers that say how the gateway got it.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const client = new OpenAI({ baseURL: process.env.MAST_URL + '/v1', apiKey: 'unused', maxRetries: 0 });
const user = [{ role: 'user', content: 'Hi' }];
const up = process.env.UPSTREAM_URL;

async function script(model, actions) {
  await fetch(`${up}/_script`, { method: 'POST', body: JSON.stringify({ model, actions }) });
}
async function upstreamLog() {
  return (await fetch(`${up}/_log`)).json();
}
beforeEach(async () => { await fetch(`${up}/_reset`, { method: 'POST', body: '{}' }); });

async function chat(body) {
  const { data, response } = await client.chat.completions.create({ messages: user, ...body }).withResponse();
  return { r: data, h: response.headers };
}

test('a plain answer: the provider model is hidden, usage normalized, cost priced', async () => {
  const { r, h } = await chat({ model: 'fast' });
  assert.equal(r.choices[0].message.content, 'Hello from upstream-a');
  assert.equal(r.model, 'fast');
  assert.equal(h.get('x-mast-model'), 'fast');
  assert.equal(h.get('x-mast-deployment'), 'fast/0');
  assert.equal(h.get('x-mast-attempts'), '1');
  assert.ok(Number(h.get('x-mast-overhead-ms')) >= 0);
  // 12 prompt tokens of which 4 cached, 5 output: (8 × 0.15 + 4 × 0.075 + 5 × 0.60) / 1e6
  assert.equal(h.get('x-mast-cost-usd'), '0.00000450');
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 4);
  const log = await upstreamLog();
  assert.equal(log[0].authorization, 'Bearer ' + process.env.UPSTREAM_KEY_VALUE);
  assert.equal(log[0].model, 'upstream-a');
});

test('a rate limit moves to the next deployment at once', async () => {
  await script('upstream-a', ['429:5']);
  const t0 = Date.now();
  const { r, h } = await chat({ model: 'fast' });
  assert.equal(r.choices[0].message.content, 'Hello from upstream-a2');
  assert.equal(h.get('x-mast-attempts'), '2');
  assert.equal(h.get('x-mast-deployment'), 'fast/1');
  assert.ok(Date.now() - t0 < 3000, 'no wait for Retry-After when another deployment can answer');
});

test('retries honour Retry-After on the same deployment when it is the only one', async () => {
  await script('upstream-solo', ['429:1', '500']);
  const t0 = Date.now();
  const { r, h } = await chat({ model: 'solo' });
  assert.equal(r.choices[0].message.content, 'Hello from upstream-solo');
  assert.equal(h.get('x-mast-attempts'), '3');
  assert.ok(Date.now() - t0 >= 1000, 'waited for Retry-After: 1');
});

test('every deployment failing falls back to another model, translated from Anthropic', async () => {
  await script('upstream-a', ['500', '500', '500']);
  await script('upstream-a2', ['529', '529', '529']);
  const { r, h } = await chat({ model: 'fast' });
  assert.equal(r.choices[0].message.content, 'Hello from upstream-b');
  assert.equal(r.model, 'fast');
  assert.equal(h.get('x-mast-model'), 'big');
  assert.equal(h.get('x-mast-attempts'), '4');   // first try + 2 retries on fast, then big
  // Anthropic's input_tokens excludes its cache: 8 + 4 read + 3 written
  assert.equal(r.usage.prompt_tokens, 15);
  assert.equal(r.usage.prompt_tokens_details.cached_tokens, 4);
  assert.equal(h.get('x-mast-cost-usd'), '0.00011145');   // (8×3 + 4×0.3 + 3×3.75 + 5×15) / 1e6
  const log = await upstreamLog();
  assert.equal(log.at(-1).path, '/v1/messages');
  assert.equal(log.at(-1).x_api_key, process.env.UPSTREAM_KEY_VALUE);
});

test('a stream falls back before its first byte: a stalled first token', async () => {
  await script('upstream-a', ['stall:3']);
  const { data: stream, response } = await client.chat.completions.create(
    { model: 'fast', messages: user, stream: true, stream_options: { include_usage: true } }).withResponse();
  let text = '', usage = null;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    text += c.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, 'Hello from upstream-a2');
  assert.equal(response.headers.get('x-mast-attempts'), '2');
  assert.equal(usage.prompt_tokens, 12);
});

test('a stream that breaks before anything worth sending falls back too', async () => {
  await script('upstream-a', ['break']);
  const stream = await client.chat.completions.create({ model: 'fast', messages: user, stream: true });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'Hello from upstream-a2');
});

test('a stream that fails after its first words reports the error in the stream', async () => {
  await script('upstream-a', ['stall_mid:4']);
  const stream = await client.chat.completions.create({ model: 'fast', messages: user, stream: true });
  let text = '';
  await assert.rejects(async () => {
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
  }, (e) => /no complete reply|timeout/.test(String(e.message)));
  assert.equal(text, 'Hello');
  const log = await upstreamLog();
  assert.equal(log.length, 1, 'not retried once the client had bytes');
});

test('streamed tool calls from Anthropic arrive in OpenAI shape', async () => {
  await script('upstream-b', ['tool']);
  const stream = await client.chat.completions.create({
    model: 'big', messages: user, stream: true,
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: {
      type: 'object', properties: { city: { type: 'string' } } } } }] });
  const calls = {}, finishes = [];
  for await (const c of stream) {
    const ch = c.choices[0];
    if (!ch) continue;
    if (ch.finish_reason) finishes.push(ch.finish_reason);
    for (const tc of ch.delta.tool_calls ?? []) {
      if (tc.id) calls[tc.index] = { id: tc.id, name: tc.function.name, args: '' };
      else assert.equal(tc.function?.name, undefined, 'the name only on the first fragment');
      calls[tc.index].args += tc.function?.arguments ?? '';
    }
  }
  assert.deepEqual(finishes, ['tool_calls']);
  assert.equal(calls[0].name, 'get_weather');
  assert.deepEqual(JSON.parse(calls[0].args), { city: 'Paris' });
  const sent = (await upstreamLog())[0].body;
  assert.equal(sent.tools[0].input_schema.type, 'object');
});

test('tool calls and results translate to Anthropic and back', async () => {
  await script('upstream-b', ['tool']);
  const { r } = await chat({ model: 'big', messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
    { role: 'tool', tool_call_id: 'call_9', content: '3 °C' }],
    tools: [{ type: 'function', function: { name: 'get_weather' } }], tool_choice: 'required' });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.deepEqual(JSON.parse(r.choices[0].message.tool_calls[0].function.arguments), { city: 'Paris' });
  const sent = (await upstreamLog())[0].body;
  assert.equal(sent.system, 'Be brief.');
  assert.deepEqual(sent.tool_choice, { type: 'any' });
  assert.deepEqual(sent.messages[1].content[0], { type: 'tool_use', id: 'call_9', name: 'get_weather',
                                                  input: { city: 'Oslo' } });
  assert.deepEqual(sent.messages[2].content[0], { type: 'tool_result', tool_use_id: 'call_9', content: '3 °C' });
});

test('a context-window error goes to the context fallback', async () => {
  await script('upstream-ctx', ['ctx']);
  const { r, h } = await chat({ model: 'short' });
  assert.equal(r.choices[0].message.content, 'Hello from upstream-b');
  assert.equal(h.get('x-mast-model'), 'big');
  assert.equal(h.get('x-mast-attempts'), '2');
});

test("a bad request is the client's: no retry, no fallback, the provider's message", async () => {
  await script('upstream-a', ['400']);
  await assert.rejects(chat({ model: 'fast' }), (e) => e.status === 400 &&
    /temperature must be between 0 and 2/.test(e.message));
  assert.equal((await upstreamLog()).length, 1);
});

test('a failing deployment rests (circuit breaker) and the next request skips it', async () => {
  await script('upstream-c1', ['500', '500', '500']);
  const { h } = await chat({ model: 'breaker' });   // c1 fails (1), c2 answers
  assert.equal(h.get('x-mast-deployment'), 'breaker/1');
  const models = await (await fetch(process.env.MAST_URL + '/v1/models')).json();
  const b = models.data.find((m) => m.id === 'breaker');
  assert.equal(b.deployments[0].resting, true, 'allowed_fails 1: one failure opens the breaker');
  const { h: h2 } = await chat({ model: 'breaker' });
  assert.equal(h2.get('x-mast-attempts'), '1');
  assert.equal(h2.get('x-mast-deployment'), 'breaker/1');
  const log = await upstreamLog();
  assert.equal(log.filter((l) => l.model === 'upstream-c1').length, 1);
});

test('upstream authentication failures are not the client\'s: a 502 without the key', async () => {
  await script('upstream-solo', ['401', '401', '401']);
  await assert.rejects(chat({ model: 'solo' }), (e) => {
    assert.equal(e.status, 502);
    assert.ok(!String(e.message).includes(process.env.UPSTREAM_KEY_VALUE));
    return true;
  });
});

test('a local deployment answers through the same route', async () => {
  const { r, h } = await chat({ model: 'tiny', max_tokens: 4, temperature: 0 });
  assert.equal(r.usage.completion_tokens, 4);
  assert.equal(h.get('x-mast-deployment'), 'tiny/0');
});

// The same gateway in front of Anthropic clients: /v1/messages for a model of mast.yaml
const anthropic = new Anthropic({ baseURL: process.env.MAST_URL, apiKey: 'unused', maxRetries: 0 });

test('an Anthropic client: an OpenAI-compatible deployment answers in Anthropic\'s shape', async () => {
  const m = await anthropic.messages.create({ model: 'fast', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(m.type, 'message');
  assert.equal(m.content[0].text, 'Hello from upstream-a');
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.usage.input_tokens, 8);             // 12 prompt tokens, 4 of them cached
  assert.equal(m.usage.cache_read_input_tokens, 4);
  assert.equal(m.usage.output_tokens, 5);
  const sent = (await upstreamLog())[0].body;
  assert.equal(sent.max_tokens, 64);
  assert.deepEqual(sent.messages, [{ role: 'user', content: 'Hi' }]);
});

test('an Anthropic client streaming a tool call through an OpenAI deployment', async () => {
  await script('upstream-a', ['tool']);
  const stream = anthropic.messages.stream({
    model: 'fast', max_tokens: 64, messages: [{ role: 'user', content: 'Weather?' }],
    tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }] });
  const m = await stream.finalMessage();
  assert.equal(m.stop_reason, 'tool_use');
  const call = m.content.find((b) => b.type === 'tool_use');
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(call.input, { city: 'Paris' });
  const sent = (await upstreamLog())[0].body;
  assert.equal(sent.tools[0].function.parameters.type, 'object');
});

test('an Anthropic client falls back and gets errors in its own shape', async () => {
  await script('upstream-a', ['500', '500', '500']);
  await script('upstream-a2', ['500', '500', '500']);
  const m = await anthropic.messages.create({ model: 'fast', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] });
  assert.equal(m.content[0].text, 'Hello from upstream-b');
  await fetch(`${up}/_reset`, { method: 'POST', body: '{}' });
  await script('upstream-a', ['400']);
  await assert.rejects(anthropic.messages.create({ model: 'fast', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }),
    (e) => e.status === 400 && e.error?.type === 'error' && e.error?.error?.type === 'invalid_request_error');
});

test('an Anthropic request the gateway cannot translate is a 400 in Anthropic\'s shape', async () => {
  await assert.rejects(anthropic.messages.create({ model: 'fast', max_tokens: 8, messages: [{ role: 'user', content: [
    { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }] }),
    (e) => e.status === 400 && e.error?.error?.type === 'invalid_request_error' &&
           /'image' blocks are not supported by the gateway/.test(e.error.error.message));
  assert.equal((await upstreamLog()).length, 0, 'nothing reached a provider');
});
