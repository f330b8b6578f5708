// The synthetic producer shared by the peer servers: the same chunk contract as the C++ server's
// SyntheticAgent (backend/agents/SyntheticAgent.*), so agent-streams-bench checks and times the
// peers exactly as it does ours:
//   chunk k = "<k> <µs since the epoch when chunk k was due> xxx…\n", exactly `bytes` bytes,
//   k = 0..chunks-1, chunk k due at start + k / rate seconds (rate 0 = as fast as possible).
// Also records how late the producer itself emitted each chunk (Node timers have 1 ms
// granularity), printed at exit so the peer's latency can be split into producer lateness and
// delivery.

const kMaxChunks = 10_000_000;
const kMinBytes = 32;
const kMaxBytes = 1024 * 1024;
const kBurst = 256; // chunks per loop turn at most, like SyntheticAgent

// Wall clock (CLOCK_REALTIME, what the bench compares with) in µs with sub-millisecond
// resolution: Date.now() has 1 ms only, and performance.timeOrigin was measured off by up to
// ~0.5 ms on this machine. So: the monotonic clock, anchored once at the instant Date.now()
// steps to a new millisecond (a spin of at most 1 ms at start-up).
const anchorUs = (() => {
    for (let i = 0; i < 1000; ++i) performance.now(), Date.now(); // the first calls are slow (lazy set-up)
    const m0 = Date.now();
    let m;
    do m = Date.now(); while (m === m0);
    return m * 1000 - performance.now() * 1000;
})();
export function wallUs() {
    return Math.round(anchorUs + performance.now() * 1000);
}

export function makeChunk(k, dueUs, bytes) {
    const head = `${k} ${dueUs} `;
    return head + 'x'.repeat(bytes - 1 - head.length) + '\n';
}

// {chunks, bytes, rate} from the create body, with SyntheticAgent's limits; throws on bad input.
export function parseCreate(body) {
    let o;
    try {
        o = JSON.parse(body);
    } catch {
        throw new Error('the body is not JSON');
    }
    if (!o || typeof o !== 'object' || o.provider !== 'synthetic')
        throw new Error('only "provider":"synthetic" is supported by this peer');
    const int = (key, min, max, fallback) => {
        const v = o[key];
        if (v === undefined || v === null) return fallback;
        if (!Number.isInteger(v) || v < min || v > max) throw new Error(`"${key}" must be an integer from ${min} to ${max}`);
        return v;
    };
    const p = { chunks: int('chunks', 1, kMaxChunks, 20), bytes: int('bytes', kMinBytes, kMaxBytes, 40), rate: 20 };
    if (o.rate !== undefined && o.rate !== null) {
        if (typeof o.rate !== 'number' || !(o.rate >= 0) || !Number.isFinite(o.rate))
            throw new Error('"rate" must be a number of chunks per second >= 0');
        p.rate = o.rate;
    }
    return p;
}

export const lateness = { count: 0, sumUs: 0, maxUs: 0, over1ms: 0 };

// Calls emit(k, text) for every chunk when it is due, then end(). emit may return a promise:
// at rate 0 it is awaited (backpressure); paced chunks are emitted on time whatever is pending.
export function runSynthetic({ chunks, bytes, rate }, emit, end) {
    const startUs = wallUs();
    const startMs = performance.now();
    let k = 0;
    let stopped = false;
    const tick = async () => {
        for (let burst = 0; burst < kBurst && !stopped; ++burst) {
            if (k >= chunks) {
                stopped = true;
                end();
                return;
            }
            let dueUs;
            if (rate > 0) {
                const offsetMs = (k * 1000) / rate;
                const elapsedMs = performance.now() - startMs;
                if (offsetMs > elapsedMs) {
                    setTimeout(tick, offsetMs - elapsedMs);
                    return;
                }
                dueUs = startUs + Math.round(offsetMs * 1000);
                const late = wallUs() - dueUs;
                lateness.count++;
                lateness.sumUs += late;
                if (late > lateness.maxUs) lateness.maxUs = late;
                if (late > 1000) lateness.over1ms++;
                emit(k, makeChunk(k, dueUs, bytes));
            } else {
                dueUs = wallUs();
                const p = emit(k, makeChunk(k, dueUs, bytes));
                if (p && typeof p.then === 'function') await p;
            }
            ++k;
        }
        if (!stopped) setImmediate(tick); // a burst is over: let the event loop breathe
    };
    setImmediate(tick);
    return { stop: () => { stopped = true; } };
}

export function printLatenessAtExit(name) {
    const report = () => {
        const l = lateness;
        if (l.count > 0)
            console.error(`${name}: producer lateness over ${l.count} paced chunks: mean ${(l.sumUs / l.count / 1000).toFixed(3)} ms, ` +
                `max ${(l.maxUs / 1000).toFixed(3)} ms, ${l.over1ms} over 1 ms`);
    };
    for (const sig of ['SIGTERM', 'SIGINT'])
        process.on(sig, () => {
            report();
            process.exit(0);
        });
}

export function readBody(req, limit = 1 << 20) {
    return new Promise((resolve, reject) => {
        const parts = [];
        let n = 0;
        req.on('data', (b) => {
            n += b.length;
            if (n > limit) {
                reject(new Error('body too large'));
                req.destroy();
            } else parts.push(b);
        });
        req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        req.on('error', reject);
    });
}

export function argValue(name, fallback) {
    const i = process.argv.indexOf(name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
