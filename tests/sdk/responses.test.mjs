// The official openai npm package against Agent Streams' /v1/responses (run by
// tests/tst_openaisdk.cpp, which starts Redis and two instances of the app on it).
//   AS_BASE_A, AS_BASE_B: http://127.0.0.1:<port> of the two instances; AS_KEY, AS_OTHER_KEY: API keys.
// Instance B allows one create a minute (the rate-limit case); A has the default limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const A = process.env.AS_BASE_A;
const B = process.env.AS_BASE_B;
const KEY = process.env.AS_KEY;
const client = new OpenAI({ baseURL: `${A}/v1`, apiKey: KEY, maxRetries: 0 });
const clientB = new OpenAI({ baseURL: `${B}/v1`, apiKey: KEY, maxRetries: 0 });
const PROMPT = 'Plan a 3-day trip to Lisbon, Portugal';

function checkNumbers(events, from = 0) {
  events.forEach((e, i) => assert.equal(e.sequence_number, from + i, `event ${i} (${e.type}) is numbered ${e.sequence_number}`));
}
const deltas = (events) => events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');

async function createStream(extra = {}) {
  return client.responses.create({ model: 'demo', input: PROMPT, background: true, stream: true, ...extra });
}
async function collect(stream, limit = Infinity) {
  const events = [];
  for await (const e of stream) {
    events.push(e);
    if (events.length >= limit) break; // the SDK aborts the request: the connection drops
  }
  return events;
}
async function rawStream(base, id, startingAfter) {
  const q = startingAfter === undefined ? '' : `&starting_after=${startingAfter}`;
  const r = await fetch(`${base}/v1/responses/${id}?stream=true${q}`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(r.status, 200);
  return r.text();
}

test('create with background + stream: events numbered from 0, deltas equal retrieve().output_text', async () => {
  const events = await collect(await createStream());
  checkNumbers(events);
  assert.deepEqual(events.slice(0, 3).map((e) => e.type), ['response.created', 'response.queued', 'response.in_progress']);
  assert.equal(events[0].response.status, 'queued');
  assert.deepEqual(events[0].response.output, []);
  assert.equal(events.at(-1).type, 'response.completed');
  const id = events[0].response.id;
  assert.match(id, /^resp_[0-9a-f]{48}$/);
  const text = deltas(events);
  assert.ok(text.length > 100);
  const retrieved = await client.responses.retrieve(id);
  assert.equal(retrieved.status, 'completed');
  const call = retrieved.output.find((item) => item.type === 'function_call');
  assert.equal(call?.name, 'get_weather_forecast');
  assert.equal(JSON.parse(call.arguments).destination, 'Lisbon, Portugal');
  assert.equal(events[3].type, 'response.output_item.added');
  assert.equal(events[3].item.type, 'function_call');
  assert.equal(retrieved.output_text, text);
  assert.equal(events.at(-1).response.output_text ?? retrieved.output_text, text);
});

// The planner calls its weather tool first: events 3-6 are that function_call item, so k = 4, 5
// and 6 drop the connection inside the tool call.
for (const k of [1, 3, 4, 5, 6, 9, 17]) {
  test(`drop after ${k} events, resume with retrieve(id, {stream, starting_after}): no gap, no duplicate`, async () => {
    const first = await collect(await createStream(), k);
    assert.equal(first.length, k);
    const id = first[0].response.id;
    const last = first.at(-1).sequence_number;
    const rest = await collect(await client.responses.retrieve(id, { stream: true, starting_after: last }));
    const all = [...first, ...rest];
    checkNumbers(all);
    assert.equal(all.at(-1).type, 'response.completed');
    assert.equal(deltas(all), (await client.responses.retrieve(id)).output_text);
  });
}

test('responses.stream({response_id}) replays from 0 and yields a final response', async () => {
  const head = await collect(await createStream(), 6);
  const id = head[0].response.id;
  const stream = client.responses.stream({ response_id: id });
  const final = await stream.finalResponse();
  assert.equal(final.id, id);
  assert.equal(final.status, 'completed');
  assert.equal(final.output_text, (await client.responses.retrieve(id)).output_text);
});

test('resume on another instance of the same Redis gives byte-identical events', async () => {
  const head = await collect(await createStream(), 8);
  const id = head[0].response.id;
  await client.responses.stream({ response_id: id }).finalResponse();
  for (const after of [undefined, 0, 7, 40]) {
    const [a, b] = await Promise.all([rawStream(A, id, after), rawStream(B, id, after)]);
    assert.ok(a.length > 0);
    assert.equal(b, a, `starting_after=${after}`);
  }
  // Mid-run too: B follows A's live run from the same point.
  const live = await collect(await createStream(), 5);
  const liveId = live[0].response.id;
  const [a, b] = await Promise.all([rawStream(A, liveId, 4), rawStream(B, liveId, 4)]);
  assert.equal(b, a);
});

async function resumesFromCheckpoint(base) {
  const r = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } });
  const m = /agentstreams_responses_resumes_total\{from="checkpoint"\} (\d+)/.exec(await r.text());
  assert.ok(m, 'the resumes counter is exported');
  return Number(m[1]);
}

test('a long response resumed from a checkpoint of the instance that streamed it equals a resume read from its first entry', async () => {
  // 3,000 deltas: instance A saves checkpoints (every 1,024 events) while it streams the response
  // from 0; a resume on A continues from one, B's first (it never streamed it) reads from the turn.
  const created = await client.responses.create({ model: 'synthetic', input: 'x', background: true, chunks: 3000, bytes: 40, rate: 0 });
  const full = await rawStream(A, created.id);
  assert.equal(full.match(/^event: /gm).length, 3 + 2 + 3000 + 3 + 1, full.slice(-600));
  const before = await resumesFromCheckpoint(A);
  for (const after of [1100, 2500, 3004]) {
    const [a, b] = await Promise.all([rawStream(A, created.id, after), rawStream(B, created.id, after)]);
    assert.equal(a, b, `starting_after=${after}`);
    assert.ok(full.endsWith(a.slice(a.indexOf('event: '))), `starting_after=${after} is a suffix of the full stream`);
  }
  assert.equal(await resumesFromCheckpoint(A), before + 3);
  // B's first resume read from the turn (it had none); it saved its own on the way.
});

test('cancel mid-run ends with status cancelled, idempotently', async () => {
  const head = await collect(await createStream(), 7);
  const id = head[0].response.id;
  const cancelled = await client.responses.cancel(id);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal((await client.responses.cancel(id)).status, 'cancelled');
  assert.equal((await client.responses.retrieve(id)).status, 'cancelled');
  const rest = await collect(await client.responses.retrieve(id, { stream: true, starting_after: 6 }));
  assert.ok(!rest.some((e) => e.type === 'response.completed'));
});

test('background without stream returns at once; previous_response_id continues the conversation', async () => {
  const { data: first, response } = await client.responses
    .create({ model: 'demo', input: PROMPT, background: true, metadata: { case: 'turns' } })
    .withResponse();
  assert.ok(['queued', 'in_progress'].includes(first.status));
  assert.deepEqual(first.metadata, { case: 'turns' });
  const conversation = response.headers.get('x-conversation-id');
  assert.match(conversation, /^@dafx-travelplanner@[0-9a-f]{32}$/);
  await client.responses.stream({ response_id: first.id }).finalResponse();
  const second = await client.responses.create({ model: 'demo', input: 'Add a day in Sintra', previous_response_id: first.id });
  assert.equal(second.status, 'completed');
  assert.equal(second.previous_response_id, first.id);
  assert.match(second.output_text, /^Here is an update to your plan, taking into account: \*Add a day in Sintra\*/);
  assert.notEqual(second.id, first.id);
  // The same conversation on the sample's API: both turns, in order.
  const r = await fetch(`${A}/api/agent/stream/${encodeURIComponent(conversation)}`, {
    headers: { Accept: 'text/plain', Authorization: `Bearer ${KEY}` },
  });
  const text = await r.text();
  assert.ok(text.startsWith((await client.responses.retrieve(first.id)).output_text));
  assert.ok(text.includes('> Add a day in Sintra'));
  const items = await client.responses.inputItems.list(second.id);
  assert.equal(items.data.length, 1);
  assert.equal(items.data[0].content[0].text, 'Add a day in Sintra');
  assert.equal(items.has_more, false);
});

test('input_items pages with after/limit/order; DELETE hides the response', async () => {
  const input = ['one', 'two', 'three'].map((t) => ({ role: 'user', content: t }));
  const r = await client.responses.create({ model: 'demo', input, background: true });
  const page = await client.responses.inputItems.list(r.id, { limit: 2, order: 'asc' });
  assert.deepEqual(page.data.map((i) => i.content[0].text), ['one', 'two']);
  assert.equal(page.has_more, true);
  const next = await client.responses.inputItems.list(r.id, { limit: 2, order: 'asc', after: page.data[1].id });
  assert.deepEqual(next.data.map((i) => i.content[0].text), ['three']);
  const desc = await client.responses.inputItems.list(r.id);
  assert.deepEqual(desc.data.map((i) => i.content[0].text), ['three', 'two', 'one']);
  const deleted = await client.responses.delete(r.id);
  assert.equal(deleted?.deleted ?? true, true);
  await assert.rejects(client.responses.retrieve(r.id), OpenAI.NotFoundError);
});

test('errors arrive as the SDK error classes', async () => {
  await assert.rejects(client.responses.retrieve('resp_' + '0'.repeat(48)), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.status, 404);
    assert.equal(e.message.includes(`Response with id 'resp_${'0'.repeat(48)}' not found.`), true);
    return true;
  });
  await assert.rejects(client.responses.create({ input: 'x' }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'model');
  await assert.rejects(client.responses.create({ model: 'demo', input: 'x', background: true, store: false }),
    (e) => e instanceof OpenAI.BadRequestError && e.error?.type === 'invalid_request_error');
  const plain = await client.responses.create({ model: 'demo', input: PROMPT });
  await assert.rejects(client.responses.retrieve(plain.id, { stream: true }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'stream');
  const wrongKey = new OpenAI({ baseURL: `${A}/v1`, apiKey: 'not-a-key', maxRetries: 0 });
  await assert.rejects(wrongKey.responses.retrieve(plain.id), OpenAI.AuthenticationError);
  const otherTenant = new OpenAI({ baseURL: `${A}/v1`, apiKey: process.env.AS_OTHER_KEY, maxRetries: 0 });
  await assert.rejects(otherTenant.responses.retrieve(plain.id), OpenAI.NotFoundError);
  await assert.rejects(otherTenant.responses.cancel(plain.id), OpenAI.NotFoundError);
  // B allows one create a minute.
  await clientB.responses.create({ model: 'demo', input: PROMPT, background: true });
  await assert.rejects(clientB.responses.create({ model: 'demo', input: PROMPT, background: true }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError);
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
    return true;
  });
});
