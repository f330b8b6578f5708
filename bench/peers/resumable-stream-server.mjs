// Peer server for agent-streams-bench: Vercel's `resumable-stream` (the library, used through its
// public API) wrapping the synthetic producer, answering our create route with our SSE framing.
//
//   node resumable-stream-server.mjs --port 17071 --redis 127.0.0.1:16379
//
// POST /api/agent/create  {"prompt":…,"provider":"synthetic","chunks":N,"bytes":B,"rate":R}
//   -> 200 text/event-stream, x-conversation-id: <uuid>; one SSE event per chunk
//      ("id: <ms>-<k>", "data: <chunk>" split on its newline like our Sse::event), then
//      "event: done" / "data: [DONE]"; Connection: close, no chunked encoding (like ours).
//   The producer stream (SSE text, one string per event) goes through
//   createNewResumableStream(): the library SUBSCRIBEs to the stream's request channel, SETs the
//   sentinel key in Redis, buffers every chunk in memory (to replay it to a resumer) and
//   PUBLISHes each chunk to the resumers listening, if any; at the end it SETs the sentinel to DONE.
// GET /api/agent/stream/<id>[?resumeAt=<characters>]
//   -> resumeExistingStream(): follows a stream still being produced (through Redis pub/sub from
//      the producing process); 422 once the stream is done (it cannot be replayed), 404 if unknown.
// GET /readyz -> 200 when Redis is connected.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { createResumableStreamContext } from 'resumable-stream';
import { argValue, parseCreate, printLatenessAtExit, readBody, runSynthetic } from './synthetic.mjs';

const port = Number(argValue('--port', '17071'));
const redisArg = argValue('--redis', '127.0.0.1:6379');
const redisUrl = `redis://${redisArg.includes(':') ? redisArg : `127.0.0.1:${redisArg}`}`;

const publisher = createClient({ url: redisUrl });
const subscriber = createClient({ url: redisUrl });
for (const c of [publisher, subscriber]) c.on('error', (e) => console.error('redis:', e.message));
await Promise.all([publisher.connect(), subscriber.connect()]);
const streamContext = createResumableStreamContext({ waitUntil: null, publisher, subscriber });
printLatenessAtExit('resumable-stream peer');

function sseEvent(id, type, data) {
    let out = `id: ${id}\n`;
    if (type) out += `event: ${type}\n`;
    for (const line of data.split('\n')) out += `data: ${line}\n`;
    return out + '\n';
}

// The producer: a ReadableStream of SSE event strings, paced by the synthetic agent.
function makeProducerStream(params) {
    const base = Date.now();
    let run;
    return new ReadableStream({
        start(controller) {
            run = runSynthetic(
                params,
                (k, text) => controller.enqueue(sseEvent(`${base}-${k}`, '', text)),
                () => {
                    controller.enqueue(sseEvent(`${base}-${params.chunks}`, 'done', '[DONE]'));
                    controller.close();
                });
        },
        cancel() {
            run?.stop();
        },
    });
}

async function sendStream(res, id, stream) {
    res.useChunkedEncodingByDefault = false; // body runs to EOF, like our server
    res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
        Connection: 'close',
        'x-conversation-id': id,
    });
    let open = true;
    res.on('close', () => { open = false; });
    const reader = stream.getReader();
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done || !open) break;
            res.write(value);
        }
    } finally {
        reader.releaseLock();
        res.end();
    }
}

function fail(res, status, message) {
    res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' });
    res.end(JSON.stringify({ error: message }));
}

const server = http.createServer(async (req, res) => {
    try {
        const url = new URL(req.url, 'http://127.0.0.1');
        if (req.method === 'GET' && url.pathname === '/readyz') {
            res.writeHead(publisher.isReady && subscriber.isReady ? 200 : 503, { 'Content-Type': 'text/plain' });
            res.end('ok\n');
        } else if (req.method === 'POST' && url.pathname === '/api/agent/create') {
            let params;
            try {
                params = parseCreate(await readBody(req));
            } catch (e) {
                return fail(res, 400, e.message);
            }
            const id = randomUUID();
            const stream = await streamContext.createNewResumableStream(id, () => makeProducerStream(params));
            await sendStream(res, id, stream);
        } else if (req.method === 'GET' && url.pathname.startsWith('/api/agent/stream/')) {
            const id = decodeURIComponent(url.pathname.slice('/api/agent/stream/'.length));
            const resumeAt = url.searchParams.get('resumeAt');
            const stream = await streamContext.resumeExistingStream(id, resumeAt ? parseInt(resumeAt, 10) : undefined);
            if (stream === null) return fail(res, 422, 'the stream is done: resumable-stream cannot replay it');
            if (!stream) return fail(res, 404, 'no such stream');
            await sendStream(res, id, stream);
        } else {
            fail(res, 404, 'not found');
        }
    } catch (e) {
        console.error(e);
        if (!res.headersSent) fail(res, 500, String(e?.message ?? e));
        else res.destroy();
    }
});
server.keepAliveTimeout = 5000;
server.listen(port, '127.0.0.1', () => console.error(`resumable-stream peer on 127.0.0.1:${port}, Redis ${redisUrl}`));
