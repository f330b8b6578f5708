// The official @durable-streams/client following an agent run (the offline demo agent) through
// /v1/stream/agents/<conversationId>: the first session is dropped part-way, the second resumes
// from its offset until the stream closes (the run's done entry), and what the two saw together
// equals the full replay. Run by tests/tst_durablestreams.cpp with AS_BASE and AS_KEY.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stream } from '@durable-streams/client'

const base = process.env.AS_BASE
const headers = { Authorization: `Bearer ${process.env.AS_KEY}` }

async function startRun(prompt) {
  const r = await fetch(`${base}/api/agent/create`, {
    method: 'POST',
    headers: { ...headers, 'Content-Type': 'text/plain' },
    body: prompt,
  })
  assert.ok(r.ok, `create answered ${r.status}`)
  await r.arrayBuffer()
  return r.headers.get('x-conversation-id')
}

// Collects JSON items until `stop(items, batch)` says so; returns the items and the last offset.
function follow(response, stop) {
  const items = []
  return new Promise((resolve, reject) => {
    let offset
    response.subscribeJson(async (batch) => {
      items.push(...batch.items)
      offset = batch.offset
      if (stop(items, batch)) {
        response.cancel()
        resolve({ items, offset, closed: batch.streamClosed })
      }
    })
    response.closed?.catch?.(reject)
  })
}

for (const live of ['sse', 'long-poll']) {
  test(`follows an agent run over ${live}, dropped and resumed from its offset`, { timeout: 60000 }, async () => {
    const id = await startRun(`Plan three days in Lisbon (${live})`)
    const url = `${base}/v1/stream/agents/${encodeURIComponent(id)}`

    const first = await follow(await stream({ url, headers, live }), (items, batch) => items.length >= 3 || batch.streamClosed)
    assert.ok(first.items.length >= 1)
    assert.equal(first.items[0].type, 'turn')

    const second = await follow(await stream({ url, headers, live, offset: first.offset }), (_, batch) => batch.streamClosed)
    assert.equal(second.closed, true)

    const replay = await (await stream({ url, headers, live: false })).json()
    const seen = [...first.items, ...second.items]
    assert.deepEqual(seen, replay)
    assert.equal(replay.at(-1).type, 'done')
    const text = (list) => list.filter((m) => m.type === 'message').map((m) => m.text).join('')
    assert.ok(text(replay).length > 100, 'the demo answer has text')
    assert.equal(text(seen), text(replay))
  })
}
