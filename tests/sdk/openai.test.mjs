// tests/sdk/openai.test.mjs — mast serve through the official openai SDK
// (run by tests/e2e/sdk.sh, which starts the server and sets MAST_URL and
// the reference outputs of `mast run` and `mast embed`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.MAST_URL + '/v1', apiKey: 'unused', maxRetries: 0 });
const user = (content) => [{ role: 'user', content }];

test('models list the served models with their context', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['stories260K', 'tiny', 'tiny-bert-random']);
  const m = await client.models.retrieve('stories260K');
  assert.equal(m.context_length, 128);
  assert.equal(m.architecture, 'llama');
  assert.ok(m.capabilities.includes('tools'));
});

test('greedy chat equals mast run --chat --temp 0', async () => {
  const r = await client.chat.completions.create({
    model: 'stories260K', messages: user('Once upon a time'), max_tokens: 24, temperature: 0 });
  assert.equal(r.choices[0].message.content, process.env.MAST_GREEDY);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 24);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 24);
  assert.equal(r.object, 'chat.completion');
});

test('streamed chat: role first, the same text, one finish_reason, usage last', async () => {
  const stream = await client.chat.completions.create({
    model: 'stories260K', messages: user('Once upon a time'), max_tokens: 24, temperature: 0,
    stream: true, stream_options: { include_usage: true } });
  let text = '', finishes = [], usage = null, first = true;
  for await (const chunk of stream) {
    if (chunk.usage) { usage = chunk.usage; assert.deepEqual(chunk.choices, []); continue; }
    const c = chunk.choices[0];
    if (first) { assert.equal(c.delta.role, 'assistant'); first = false; }
    text += c.delta.content ?? '';
    if (c.finish_reason) finishes.push(c.finish_reason);
  }
  assert.equal(text, process.env.MAST_GREEDY);
  assert.deepEqual(finishes, ['length']);
  assert.equal(usage.completion_tokens, 24);
});

test('the same seed gives the same text; stop sequences end it', async () => {
  const ask = (seed) => client.chat.completions.create({
    model: 'stories260K', messages: user('Once upon a time'), max_tokens: 30, temperature: 1, seed });
  const [a, b] = [await ask(7), await ask(7)];
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const words = process.env.MAST_GREEDY.trim().split(' ');
  const stop = ' ' + words[2];
  const r = await client.chat.completions.create({
    model: 'stories260K', messages: user('Once upon a time'), max_tokens: 24, temperature: 0, stop: [stop] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].message.content, process.env.MAST_GREEDY.slice(0, process.env.MAST_GREEDY.indexOf(stop)));
});

test('text completions equal mast run', async () => {
  const r = await client.completions.create({ model: 'stories260K', prompt: 'Lily saw a', max_tokens: 12, temperature: 0 });
  assert.equal(r.choices[0].text, process.env.MAST_COMPLETION);
  assert.equal(r.object, 'text_completion');
});

const schema = {
  type: 'object', additionalProperties: false, required: ['name', 'age', 'tags'],
  properties: {
    name: { type: 'string', maxLength: 12 },
    age: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { enum: ['red', 'green', 'blue'] }, minItems: 1, maxItems: 3 },
  },
};

function validate(v) {   // the schema above, checked by hand
  assert.deepEqual(Object.keys(v).sort(), ['age', 'name', 'tags']);
  assert.equal(typeof v.name, 'string');
  assert.ok([...v.name].length <= 12);
  assert.ok(Number.isInteger(v.age) && v.age >= 0);
  assert.ok(v.tags.length >= 1 && v.tags.length <= 3);
  for (const t of v.tags) assert.ok(['red', 'green', 'blue'].includes(t));
}

test('json_schema strict: the SDK parses an object that validates, for a random-weight model', async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = await client.chat.completions.parse({
      model: 'tiny', messages: user('Describe a person.'), max_tokens: 200, seed,
      response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema } } });
    assert.equal(r.choices[0].finish_reason, 'stop');
    validate(r.choices[0].message.parsed);
  }
});

const tools = [
  { type: 'function', function: { name: 'get_weather', parameters: {
    type: 'object', additionalProperties: false, required: ['city'],
    properties: { city: { type: 'string', maxLength: 16 } } } } },
  { type: 'function', function: { name: 'get_time', parameters: {
    type: 'object', additionalProperties: false, required: ['zone'],
    properties: { zone: { enum: ['UTC', 'CET'] } } } } },
];

test('tool_choice required and named: a valid call every time', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({
      model: 'tiny', messages: user('Weather in Paris?'), tools, tool_choice: 'required',
      parallel_tool_calls: false, max_tokens: 100, seed });
    const m = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(m.content, null);
    assert.equal(m.tool_calls.length, 1);
    assert.ok(['get_weather', 'get_time'].includes(m.tool_calls[0].function.name));
    const args = JSON.parse(m.tool_calls[0].function.arguments);
    assert.ok(typeof args.city === 'string' || ['UTC', 'CET'].includes(args.zone));
  }
  const r = await client.chat.completions.create({
    model: 'tiny', messages: user('Time?'), tools, max_tokens: 100, seed: 9,
    tool_choice: { type: 'function', function: { name: 'get_time' } } });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_time');
  assert.ok(['UTC', 'CET'].includes(JSON.parse(call.function.arguments).zone));
  assert.match(call.id, /^call_[0-9a-f]{24}$/);
});

test('streamed tool calls reassemble with the SDK stream helper; follow-up with results', async () => {
  const stream = client.chat.completions.stream({
    model: 'tiny', messages: user('Time?'), tools, max_tokens: 100, seed: 3,
    tool_choice: { type: 'function', function: { name: 'get_time' } } });
  const finishes = [];
  stream.on('chunk', (c) => { if (c.choices[0]?.finish_reason) finishes.push(c.choices[0].finish_reason); });
  const done = await stream.finalChatCompletion();
  assert.deepEqual(finishes, ['tool_calls']);
  const call = done.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_time');
  assert.ok(['UTC', 'CET'].includes(JSON.parse(call.function.arguments).zone));
  const follow = await client.chat.completions.create({
    model: 'tiny', max_tokens: 5, temperature: 0, tools, messages: [
      ...user('Time?'), { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '12:00' }] });
  assert.ok(['stop', 'length', 'tool_calls'].includes(follow.choices[0].finish_reason));
  const p = await fetch(process.env.MAST_URL + '/apply-template', { method: 'POST', body: JSON.stringify({
    model: 'tiny', tools, messages: [...user('Time?'), { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '12:00' }] }) }).then((r) => r.json());
  assert.ok(p.prompt.includes('<tools>') && p.prompt.includes('"name":"get_time"'));
  assert.ok(p.prompt.includes('<tool_response>\n12:00\n</tool_response>'));
});

test('embeddings: float and base64 equal mast embed', async () => {
  const want = JSON.parse(process.env.MAST_EMBED).embeddings[0];
  const f = await client.embeddings.create({ model: 'tiny-bert-random', input: ['the cat sat', 'a dog'], encoding_format: 'float' });
  assert.equal(f.data.length, 2);
  assert.equal(f.data[1].index, 1);
  f.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6, `dim ${i}`));
  const b = await client.embeddings.create({ model: 'tiny-bert-random', input: 'the cat sat', encoding_format: 'base64' });
  const raw = Buffer.from(b.data[0].embedding, 'base64');   // what the SDK asked for stays base64
  const v = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  v.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-6));
  assert.ok(f.usage.prompt_tokens > 0);
});

test('errors surface as the SDK typed errors', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'nope', messages: user('x') }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(client.chat.completions.create({ model: 'stories260K', messages: user('x'), max_tokens: 1000 }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'context_length_exceeded' && /128/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'stories260K', messages: user('x'), bogus: 1 }),
    (e) => e instanceof OpenAI.BadRequestError && /bogus/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'stories260K', messages: user('x'), n: 2 }),
    (e) => e instanceof OpenAI.BadRequestError && /"n"/.test(e.message));
  const bad = await fetch(process.env.MAST_URL + '/v1/chat/completions', { method: 'POST', body: '{"model":' });
  assert.equal(bad.status, 400);
  // the queue holds 2 behind the 16 running: of 30 long requests at once, some are refused with 429
  const many = await Promise.allSettled([...Array(30)].map(() => client.chat.completions.create({
    model: 'tiny', messages: user('x'), max_tokens: 400, temperature: 0 })));
  const limited = many.filter((r) => r.status === 'rejected');
  assert.ok(limited.length >= 1, 'some requests were refused');
  assert.ok(many.length - limited.length >= 18, 'the 16 running and the queued two were answered');
  for (const r of limited) assert.ok(r.reason instanceof OpenAI.RateLimitError, String(r.reason));
});

test('a client that goes mid-stream stops its generation', async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create({
    model: 'tiny', messages: user('x'), max_tokens: 400, temperature: 0, stream: true, user: 'gone-mid-stream' },
    { signal: ac.signal });
  let n = 0;
  try { for await (const _ of stream) { if (++n === 3) ac.abort(); } } catch { /* aborted */ }
  const r = await client.chat.completions.create({ model: 'tiny', messages: user('y'), max_tokens: 2 });
  assert.ok(r.usage.completion_tokens <= 2);
  // the aborted request's trace: it stopped near the 3 chunks read, far from its 400 tokens
  let attrs = null;
  for (let i = 0; i < 50 && !attrs; i++) {
    const traces = await fetch(process.env.MAST_URL + '/v1/traces?limit=50').then((x) => x.json());
    attrs = traces.data.map((t) => t.attributes).find((a) => a['user.id'] === 'gone-mid-stream') ?? null;
    if (!attrs) await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.ok(attrs, 'the aborted request was traced');
  assert.ok(attrs['gen_ai.usage.output_tokens'] < 100, `generated ${attrs['gen_ai.usage.output_tokens']} tokens`);
});
