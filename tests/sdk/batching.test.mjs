// tests/sdk/batching.test.mjs — continuous batching and the prompt cache
// through the official openai and @anthropic-ai/sdk clients (run by
// tests/e2e/sdk.sh against a server with --parallel 16): what a request
// generates does not depend on what runs beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const url = process.env.MAST_URL;
const client = new OpenAI({ baseURL: url + '/v1', apiKey: 'unused', maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: url, apiKey: 'unused', maxRetries: 0 });

const openers = ['Once upon a time', 'The little dog', 'Lily and Tom', 'One day', 'A big red ball',
  'The sun was', 'Sam liked to', 'There was a cat'];

// 16 different requests: raw completions and chats, greedy and seeded, of different lengths
const requests = [...Array(16)].map((_, i) => ({
  user: `batch-${i}`,
  chat: i % 2 === 0,
  text: openers[i % 8] + (i >= 8 ? ' and then' : ''),
  max_tokens: 20 + 4 * (i % 5),
  temperature: i % 4 === 1 ? 0.9 : 0,
  seed: 100 + i,
}));

// one streamed request: its text, the finish reason and the usage the stream ends with
async function run(r) {
  const common = { model: 'stories260K', max_tokens: r.max_tokens, temperature: r.temperature, seed: r.seed,
    stream: true, stream_options: { include_usage: true }, user: r.user };
  const stream = r.chat
    ? await client.chat.completions.create({ ...common, messages: [{ role: 'user', content: r.text }] })
    : await client.completions.create({ ...common, prompt: r.text });
  let text = '', finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    text += (r.chat ? c.delta.content : c.text) ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { text, finish, tokens: usage.completion_tokens };
}

async function traceOf(user) {
  for (let i = 0; i < 50; i++) {
    const traces = await fetch(url + '/v1/traces?limit=200').then((x) => x.json());
    const t = traces.data.find((x) => x.attributes['user.id'] === user);
    if (t) return t.attributes;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return null;
}

test('16 concurrent streams generate exactly what each generates alone', async () => {
  const alone = [];
  for (const r of requests) alone.push(await run({ ...r, user: r.user + '-alone' }));
  const together = await Promise.all(requests.map(run));
  for (let i = 0; i < requests.length; i++) {
    assert.ok(alone[i].text.length > 0, `request ${i} generated text`);
    assert.deepEqual(together[i], alone[i], `request ${i} (${requests[i].chat ? 'chat' : 'completion'}, ` +
      `temperature ${requests[i].temperature})`);
  }
  // they did run together: the traces say how many were decoded in one step with each
  let most = 0;
  for (const r of requests) most = Math.max(most, (await traceOf(r.user))['mast.batch.max_size']);
  assert.ok(most >= 8, `at most ${most} requests were decoded together`);
  const lone = await traceOf(requests[0].user + '-alone');
  assert.equal(lone['mast.batch.max_size'], 1);
});

// a 200-token shared prefix (the same system prompt and context) and two different questions
const context = 'You answer from the notes below. ' +
  [...Array(13)].map((_, i) => `Note ${i}: the valve ${i} opens at ${i * 7 % 50} bar.`).join(' ');

test('a shared prefix is read from the cache: cached_tokens and the same tokens as uncached', async () => {
  const ask = (q, user) => client.chat.completions.create({ model: 'tiny', max_tokens: 16, temperature: 0, user,
    messages: [{ role: 'system', content: context }, { role: 'user', content: q }] });
  const first = await ask('Which valve opens at 14 bar?', 'prefix-1');
  assert.ok(first.usage.prompt_tokens >= 200, `the prompt is ${first.usage.prompt_tokens} tokens`);
  const second = await ask('Which valve opens at 21 bar?', 'prefix-2');
  const cached = second.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= 200, `${cached} of ${second.usage.prompt_tokens} prompt tokens were cached`);
  assert.ok(cached < second.usage.prompt_tokens);
  // the same request without the cache (llama-server's cache_prompt: false) decodes the whole
  // prompt, and gives the same tokens
  const cold = await client.chat.completions.create({ model: 'tiny', max_tokens: 16, temperature: 0, user: 'prefix-3',
    messages: [{ role: 'system', content: context }, { role: 'user', content: 'Which valve opens at 21 bar?' }],
    cache_prompt: false });
  assert.equal(cold.usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal(cold.usage.prompt_tokens, second.usage.prompt_tokens);
  assert.ok(second.choices[0].message.content.length > 0);
  assert.equal(second.choices[0].message.content, cold.choices[0].message.content);
  assert.equal(second.usage.completion_tokens, cold.usage.completion_tokens);
  // Anthropic's usage: input_tokens are the uncached part, cache_read_input_tokens the rest
  const m = await anthropic.messages.create({ model: 'tiny', max_tokens: 8, system: context,
    messages: [{ role: 'user', content: 'Which valve opens at 35 bar?' }] });
  assert.ok(m.usage.cache_read_input_tokens >= 200, JSON.stringify(m.usage));
  assert.ok(m.usage.input_tokens >= 1);
});

test('GET /slots and /v1/models show the slots; a client that goes frees its slot', async () => {
  const models = await fetch(url + '/v1/models').then((x) => x.json());
  const stories = models.data.find((m) => m.id === 'stories260K');
  assert.equal(stories.slots, 16);
  assert.equal(typeof stories.slots_busy, 'number');
  assert.equal(typeof stories.kv_cache_bytes, 'number');
  const ac = new AbortController();
  const stream = await client.completions.create({ model: 'tiny', prompt: 'Slots are', max_tokens: 400,
    temperature: 0, stream: true, logit_bias: { 2: -100 } }, { signal: ac.signal });
  let n = 0;
  let busy = null;
  try {
    for await (const _ of stream) {
      if (++n === 3) {
        busy = (await fetch(url + '/slots').then((x) => x.json())).filter((s) => s.model === 'tiny' && s.is_processing);
        ac.abort();
      }
    }
  } catch { /* aborted */ }
  assert.equal(busy.length, 1, 'one tiny slot ran the request');
  assert.equal(busy[0].state, 'generating');
  assert.ok(busy[0].kv_cache_bytes > 0);
  let slots = null;
  for (let i = 0; i < 100; i++) {
    slots = (await fetch(url + '/slots').then((x) => x.json())).filter((s) => s.model === 'tiny');
    if (slots.every((s) => !s.is_processing)) break;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.equal(slots.length, 16);
  assert.ok(slots.every((s) => s.state === 'idle'), JSON.stringify(slots.filter((s) => s.state !== 'idle')));
  const held = slots[busy[0].id];
  assert.ok(held.cached_tokens < 100, `the slot stopped near the 3 chunks read: it holds ${held.cached_tokens} tokens`);
});
