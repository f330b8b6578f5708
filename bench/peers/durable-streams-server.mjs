// Peer server for agent-streams-bench: the reference Node server of the Durable Streams protocol
// (@durable-streams/server, DurableStreamTestServer, with its own storage as it ships) plus an
// in-process synthetic producer, in ONE process (so the bench's --server-pid counts both).
//
//   node durable-streams-server.mjs --port 17071 [--data-dir DIR | --memory] [--append store|http]
//                                   [--max-file-handles N]
//
// Storage: --data-dir DIR = the file-backed store (segment files + LMDB metadata; every append
//   is written and fdatasync'ed before it is acknowledged and readable): the durable mode, the
//   default (DIR defaults to a fresh directory under the OS temp dir). --memory = StreamStore,
//   in memory only.
// Producer (--append): how each chunk reaches the stream.
//   store (default): the server's own store API, as its POST handler does after parsing:
//     store.create(path, {contentType: "text/plain"}), store.append(path, bytes,
//     {contentType}) per chunk, store.closeStream(path) at the end. No HTTP for the producer.
//   http: the protocol's HTTP write path over loopback keep-alive connections to this same
//     server: PUT <path> (create), POST <path> per chunk, POST <path> with "Stream-Closed: true"
//     at the end; appends of one stream are sent one after the other (order).
//   Either way the readers are woken by the store and read with the protocol's SSE live mode.
//
// Routes: the Durable Streams server answers everything, except two routes of ours added in
// front of its request handler:
//   POST /api/agent/create {"provider":"synthetic","chunks":N,"bytes":B,"rate":R}
//     -> creates the stream /agent/<uuid> (text/plain), starts the producer, answers
//        201 {"path":…}, Location: <path>, x-conversation-id: <uuid>.
//     The bench (--protocol durable-streams) then reads GET <path>?offset=-1&live=sse:
//     "event: data" per chunk, "event: control" with streamNextOffset / upToDate / streamClosed.
//   GET /readyz -> 200.
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { DurableStreamTestServer, FileBackedStreamStore } from '@durable-streams/server';
import { argValue, parseCreate, printLatenessAtExit, readBody, runSynthetic } from './synthetic.mjs';

const port = Number(argValue('--port', '17071'));
const memory = process.argv.includes('--memory');
const appendMode = argValue('--append', 'store');
if (appendMode !== 'store' && appendMode !== 'http') {
    console.error('--append must be store or http');
    process.exit(2);
}
const dataDir = memory ? undefined : argValue('--data-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'durable-streams-peer-')));

const ds = new DurableStreamTestServer({ port, host: '127.0.0.1', dataDir });
// --max-file-handles N: the file store keeps at most 100 segment files open by default (an
// option of FileBackedStreamStore that DurableStreamTestServer does not pass on); with more live
// streams than that, appends fail ("Cannot fsync: handle not found"). Off by default: the server
// is measured as it ships.
const maxFileHandles = argValue('--max-file-handles', '');
if (maxFileHandles && dataDir) ds.store = new FileBackedStreamStore({ dataDir, maxFileHandles: Number(maxFileHandles) });
const baseUrl = await ds.start();
const store = ds.store;
printLatenessAtExit('durable-streams peer');

// --append http: the producer's client side, in this process.
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
function dsRequest(method, streamPath, body, headers) {
    return new Promise((resolve, reject) => {
        const req = http.request(`${baseUrl}${streamPath}`, { method, agent, headers }, (res) => {
            res.resume();
            res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`${method} ${streamPath}: HTTP ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(body);
    });
}

async function createStream(streamPath) {
    if (appendMode === 'http') await dsRequest('PUT', streamPath, undefined, { 'content-type': 'text/plain' });
    else await store.create(streamPath, { contentType: 'text/plain' });
}

function startProducer(streamPath, params) {
    let last = Promise.resolve();
    const onError = (e) => console.error(`producer ${streamPath}:`, e.message);
    runSynthetic(
        params,
        (k, text) => {
            const bytes = Buffer.from(text);
            if (appendMode === 'http') {
                last = last.then(() => dsRequest('POST', streamPath, bytes, { 'content-type': 'text/plain' }));
            } else {
                // The store serialises the appends of one stream itself (its append lock).
                last = Promise.resolve(store.append(streamPath, bytes, { contentType: 'text/plain' })).then(() => store.touchAccess(streamPath));
            }
            last = last.catch(onError);
            return last;
        },
        () => {
            last.then(() =>
                appendMode === 'http' ? dsRequest('POST', streamPath, undefined, { 'Stream-Closed': 'true' }) : store.closeStream(streamPath),
            ).catch(onError);
        });
}

const [dsHandler] = ds.server.listeners('request');
ds.server.removeAllListeners('request');
ds.server.on('request', async (req, res) => {
    if (req.method === 'GET' && req.url === '/readyz') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok\n');
        return;
    }
    if (!(req.method === 'POST' && req.url === '/api/agent/create')) {
        dsHandler(req, res); // the Durable Streams server itself
        return;
    }
    const reply = (status, obj, headers = {}) => {
        const body = JSON.stringify(obj);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
        res.end(body);
    };
    let params;
    try {
        params = parseCreate(await readBody(req));
    } catch (e) {
        return reply(400, { error: e.message });
    }
    const id = randomUUID();
    const streamPath = `/agent/${id}`;
    try {
        await createStream(streamPath);
    } catch (e) {
        return reply(500, { error: e.message });
    }
    startProducer(streamPath, params);
    reply(201, { path: streamPath }, { Location: streamPath, 'x-conversation-id': id });
});
console.error(`durable-streams peer on ${baseUrl}, storage ${memory ? 'memory' : `files in ${dataDir}`}, producer appends via ${appendMode}`);
