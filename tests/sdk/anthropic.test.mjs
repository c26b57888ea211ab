// tests/sdk/anthropic.test.mjs — mast serve through the official
// @anthropic-ai/sdk (run by tests/e2e/sdk.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.MAST_URL, apiKey: 'unused', maxRetries: 0 });

test('messages: greedy text equals mast run --chat --temp 0', async () => {
  const r = await client.messages.create({ model: 'stories260K', max_tokens: 24, temperature: 0,
    messages: [{ role: 'user', content: 'Once upon a time' }] });
  assert.equal(r.content[0].type, 'text');
  assert.equal(r.content[0].text, process.env.MAST_GREEDY);
  assert.equal(r.stop_reason, 'max_tokens');
  assert.equal(r.usage.output_tokens, 24);
});

test('streamed messages: the event sequence and the same text', async () => {
  const types = [];
  const stream = client.messages.stream({ model: 'stories260K', max_tokens: 24, temperature: 0,
    messages: [{ role: 'user', content: 'Once upon a time' }] });
  stream.on('streamEvent', (e) => types.push(e.type));
  const msg = await stream.finalMessage();
  assert.equal(msg.content[0].text, process.env.MAST_GREEDY);
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
  assert.equal(types.filter((t) => t === 'content_block_start').length, 1);
});

test('stop_sequences report which one ended the text', async () => {
  const words = process.env.MAST_GREEDY.trim().split(' ');
  const stop = ' ' + words[2];
  const r = await client.messages.create({ model: 'stories260K', max_tokens: 24, temperature: 0,
    stop_sequences: [stop], messages: [{ role: 'user', content: 'Once upon a time' }] });
  assert.equal(r.stop_reason, 'stop_sequence');
  assert.equal(r.stop_sequence, stop);
});

const tools = [{ name: 'get_time', description: 'the time in a zone', input_schema: {
  type: 'object', additionalProperties: false, required: ['zone'], properties: { zone: { enum: ['UTC', 'CET'] } } } }];

test('tool_use with a forced tool, streamed; a tool_result follow-up', async () => {
  const stream = client.messages.stream({ model: 'tiny', max_tokens: 80, tools,
    tool_choice: { type: 'tool', name: 'get_time' }, messages: [{ role: 'user', content: 'Time?' }] });
  const msg = await stream.finalMessage();
  assert.equal(msg.stop_reason, 'tool_use');
  const use = msg.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_time');
  assert.ok(['UTC', 'CET'].includes(use.input.zone));
  assert.match(use.id, /^toolu_/);
  const follow = await client.messages.create({ model: 'tiny', max_tokens: 5, tools, messages: [
    { role: 'user', content: 'Time?' }, { role: 'assistant', content: [use] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '12:00' }] }] });
  assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(follow.stop_reason));
});

test('count_tokens and errors in Anthropic shape', async () => {
  const n = await client.messages.countTokens({ model: 'stories260K', messages: [{ role: 'user', content: 'Once upon a time' }] });
  const r = await client.messages.create({ model: 'stories260K', max_tokens: 1, messages: [{ role: 'user', content: 'Once upon a time' }] });
  assert.equal(n.input_tokens, r.usage.input_tokens + r.usage.cache_read_input_tokens);
  await assert.rejects(client.messages.create({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error');
  await assert.rejects(client.messages.create({ model: 'stories260K', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /max_tokens/.test(e.message));
});
