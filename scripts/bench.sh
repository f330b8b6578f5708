#!/usr/bin/env bash
# One-command benchmark: builds Release, and for each of N runs (default 3) and each workload
# starts a FRESH dedicated redis-server and agent-streams server on 127.0.0.1, runs
# agent-streams-bench against them, and stops both. Prints medians and min-max per figure.
#
#   scripts/bench.sh                       # 3 runs of floor xadd W1 W1-resumable-stream W1-durable-streams
#                                          #   W2 W3 W4 W5-live W5-idle
#   scripts/bench.sh --runs 1 --quick      # smoke test (small counts)
#   scripts/bench.sh --workloads "W1 W2"   # a subset
#   scripts/bench.sh --responses           # W1 and W3 through /v1/responses vs /api/agent/* in the same pass
#                                          #   (W1 W1-responses W3 W3-responses; CPU per delta compared)
#   scripts/bench.sh --durable             # W1 and W2 over the Durable Streams protocol, ours (/v1/stream on
#                                          #   Redis) and the reference server (file store; -memory: in memory)
#                                          #   in the same pass, the bench being producer and reader of both
#                                          #   (W1-ds-ours W1-ds-ref W1-ds-ref-memory W2-ds-ours W2-ds-ref W2-ds-ref-memory)
#   scripts/bench.sh --cluster             # W1 W2 W4 W5-live on one server and on a Redis Cluster of 3 primaries
#                                          #   (ports REDIS_PORT..+2, no replicas) in the same pass: W1-cluster etc.;
#                                          #   redis_cpu_s sums the nodes, and each node's app connections are printed
#   scripts/bench.sh --aof                 # Redis with appendonly yes, appendfsync everysec
#   scripts/bench.sh --tls                 # Redis on TLS only (certificates made with openssl; peers skipped)
#   scripts/bench.sh -- --w1-sessions 500  # anything after -- goes to agent-streams-bench
#   scripts/bench.sh --rev HEAD~3          # benchmark another commit
#   scripts/bench.sh --worktree            # build the working tree as it is (uncommitted edits too)
#   scripts/bench.sh --hops --workloads W1 # + where a live chunk's time goes inside the server
#                                          #   (every 8th chunk timed at each hop: run<i>-W1/hops.txt)
#
# By default the COMMITTED tree (HEAD) is exported with git archive to
# /tmp/agent-streams-bench/src-<sha> and built there (Release), so edits in progress in the
# working tree never end up in the figures.
# Peers (bench/peers/, Node): W1-resumable-stream runs W1 against a server built on Vercel's
# resumable-stream, W1-durable-streams against the Durable Streams reference server (file-backed;
# W1-durable-streams-memory: in-memory store; W1-durable-streams-http: the producer appends over
# the protocol's HTTP POST instead of the store API). Each gets a fresh redis-server and a fresh
# peer process, like our workloads; `npm ci` runs in bench/peers when node_modules is missing.
# Redis: no persistence by default (save "" and appendonly no): the figures measure the server,
# not the disk. Results: $OUT (default /tmp/agent-streams-bench/<time>/): runs.jsonl, summary.txt,
# per-run logs. The server runs with its abuse limits lifted (create rate, streams per address):
# every bench connection comes from the same address.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REV=HEAD
WORKTREE=0
RUNS=3
WORKLOADS="floor xadd W1 W1-resumable-stream W1-durable-streams W2 W3 W4 W5-live W5-idle"
AOF=0
TLS=0
HOPS=0
EXTRA=()
REDIS_PORT=${REDIS_PORT:-16379}
SERVER_PORT=${SERVER_PORT:-17071}
OUT=${OUT:-/tmp/agent-streams-bench/$(date +%Y%m%d-%H%M%S)}

while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --workloads) WORKLOADS=$2; shift 2 ;;
        --responses) WORKLOADS="W1 W1-responses W3 W3-responses"; shift ;;
        --cluster) WORKLOADS="W1 W1-cluster W2 W2-cluster W4 W4-cluster W5-live W5-live-cluster"; shift ;;
        --durable) WORKLOADS="W1-ds-ours W1-ds-ref W1-ds-ref-memory W2-ds-ours W2-ds-ref W2-ds-ref-memory"; shift ;;
        --quick) EXTRA+=(--quick); shift ;;
        --aof) AOF=1; shift ;;
        --tls) TLS=1; shift ;;
        --hops) HOPS=1; shift ;;
        --rev) REV=$2; shift 2 ;;
        --worktree) WORKTREE=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        --) shift; EXTRA+=("$@"); break ;;
        -h|--help) sed -n 2,35p "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

mkdir -p "$OUT"
if [ "$WORKTREE" = 1 ]; then
    SRC=$ROOT
    BUILD=${BUILD:-$ROOT/build-bench}
    SHA="$(git -C "$ROOT" rev-parse --short HEAD)+worktree"
else
    SHA=$(git -C "$ROOT" rev-parse --short "$REV")
    SRC=/tmp/agent-streams-bench/src-$SHA
    BUILD=${BUILD:-$SRC/build}
    if [ ! -f "$SRC/CMakeLists.txt" ]; then
        mkdir -p "$SRC"
        git -C "$ROOT" archive "$SHA" | tar -x -C "$SRC"
    fi
fi
echo "building $SHA in $BUILD (log: $OUT/build.log)"
if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAGENT_STREAMS_TESTS=OFF >"$OUT/build.log"
fi
ninja -C "$BUILD" -j2 agent-streams agent-streams-bench >>"$OUT/build.log"

# The Node peers, from the same tree as the server (committed tree by default).
PEERS=$SRC/bench/peers
case " $WORKLOADS " in
    *" W1-resumable-stream "*|*" W1-durable-streams"*|*"-ds-ref"*)
        if [ ! -f "$PEERS/package-lock.json" ]; then
            echo "no bench/peers in $SHA: peer workloads skipped" >&2
            WORKLOADS=$(echo "$WORKLOADS" | tr ' ' '\n' | grep -v -- '-resumable-stream\|-durable-streams\|-ds-ref' | xargs)
        elif [ ! -d "$PEERS/node_modules" ]; then
            echo "npm ci in $PEERS (log: $OUT/npm.log)"
            # npm 11 refuses `npm ci` when the lock lacks other platforms' optional packages
            # (msgpackr-extract); `npm install` then installs the same pinned versions.
            (cd "$PEERS" && { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; }) >"$OUT/npm.log" 2>&1 \
                || { echo "npm install failed (see $OUT/npm.log)" >&2; exit 1; }
        fi
        ;;
esac

# Sockets: 10,000 idle streams need > 10,000 descriptors in the server and in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 16384 ]; then
    echo "warning: ulimit -n is $(ulimit -n); W5-idle needs about 2 x 10,000 + slack" >&2
fi

for port in "$REDIS_PORT" "$SERVER_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is in use: set REDIS_PORT / SERVER_PORT" >&2
        exit 1
    fi
done

# Lift the per-address limits of the hardened server (all bench clients share 127.0.0.1).
SERVER_FLAGS=()
REDIS_URL="127.0.0.1:$REDIS_PORT"
REDIS_TLS_ARGS=()
if [ "$TLS" = 1 ]; then
    # A private CA and a server certificate for localhost: the app verifies it with --redis-ca.
    # The Node peers speak plaintext Redis only: their workloads are left out.
    WORKLOADS=$(echo "$WORKLOADS" | tr ' ' '\n' | grep -v -- '-resumable-stream\|-durable-streams\|-ds-ref\|^xadd$' | xargs)
    TLSDIR="$OUT/tls"
    mkdir -p "$TLSDIR"
    (cd "$TLSDIR" \
        && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bench CA" \
        && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" \
        && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext \
        && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext) \
        >"$OUT/tls.log" 2>&1 || { echo "openssl failed (see $OUT/tls.log)" >&2; exit 1; }
    REDIS_URL="rediss://localhost:$REDIS_PORT"
    SERVER_FLAGS+=(--redis-ca "$TLSDIR/ca.pem")
    REDIS_TLS_ARGS=(--port 0 --tls-port "$REDIS_PORT" --tls-cert-file "$TLSDIR/server.pem" --tls-key-file "$TLSDIR/server.key"
                    --tls-ca-cert-file "$TLSDIR/ca.pem" --tls-auth-clients no)
fi
# (Read from the sources the binary was just built from.)
CONFIG_SRC="$SRC/backend/Config.cpp"
grep -q '"creates-per-minute"' "$CONFIG_SRC" && SERVER_FLAGS+=(--creates-per-minute 0)
grep -q '"max-streams-per-key"' "$CONFIG_SRC" && SERVER_FLAGS+=(--max-streams-per-key 100000)
grep -q '"max-streams"' "$CONFIG_SRC" && SERVER_FLAGS+=(--max-streams 100000)

REDIS_PID=""
SERVER_PID=""
stop_all() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$REDIS_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
    for pid in "${CLUSTER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CLUSTER_PIDS=()
    SERVER_PID=""
    REDIS_PID=""
}
CLUSTER_PIDS=()
trap stop_all EXIT INT TERM

wait_port() { # port, seconds
    for _ in $(seq $(($2 * 20))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

start_all() { # tag workload
    local dir="$OUT/$1"
    mkdir -p "$dir"
    local persist=(--save "" --appendonly no)
    [ "$AOF" = 1 ] && persist=(--save "" --appendonly yes --appendfsync everysec)
    local listen=(--port "$REDIS_PORT")
    [ "$TLS" = 1 ] && listen=("${REDIS_TLS_ARGS[@]}")
    local redis_url=$REDIS_URL
    REDIS_PIDS=""
    if [ "${2%-cluster}" != "$2" ]; then
        # 3 primaries, no replicas: the cost of routing per slot, not of replication.
        local nodes=()
        for i in 0 1 2; do
            local port=$((REDIS_PORT + i))
            mkdir -p "$dir/node$port"
            redis-server --bind 127.0.0.1 --port "$port" --dir "$dir/node$port" "${persist[@]}" --maxclients 1000 \
                --cluster-enabled yes --cluster-config-file nodes.conf --logfile "$dir/node$port/redis.log" --daemonize no &
            CLUSTER_PIDS+=($!)
            nodes+=("127.0.0.1:$port")
        done
        for n in "${nodes[@]}"; do wait_port "${n#*:}" 10 || { echo "cluster node $n did not start" >&2; exit 1; }; done
        redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/cluster-create.log" 2>&1 \
            || { echo "redis-cli --cluster create failed (see $dir/cluster-create.log)" >&2; exit 1; }
        for _ in $(seq 100); do
            ok=1
            for n in "${nodes[@]}"; do redis-cli -p "${n#*:}" cluster info | grep -q cluster_state:ok || ok=0; done
            [ "$ok" = 1 ] && break
            sleep 0.1
        done
        REDIS_PID=${CLUSTER_PIDS[0]}
        REDIS_PIDS=$(IFS=,; echo "${CLUSTER_PIDS[*]}")
        redis_url=$(IFS=,; echo "${nodes[*]}")
    else
        redis-server --bind 127.0.0.1 "${listen[@]}" --dir "$dir" "${persist[@]}" --maxclients 1000 \
            --logfile "$dir/redis.log" --daemonize no &
        REDIS_PID=$!
        REDIS_PIDS=$REDIS_PID
        wait_port "$REDIS_PORT" 10 || { echo "redis-server did not start" >&2; exit 1; }
    fi
    case "$2" in
        W1-resumable-stream)
            node "$PEERS/resumable-stream-server.mjs" --port "$SERVER_PORT" --redis "127.0.0.1:$REDIS_PORT" >"$dir/server.log" 2>&1 & ;;
        W1-durable-streams)
            node "$PEERS/durable-streams-server.mjs" --port "$SERVER_PORT" --data-dir "$dir/durable-streams-data" >"$dir/server.log" 2>&1 & ;;
        W1-durable-streams-memory)
            node "$PEERS/durable-streams-server.mjs" --port "$SERVER_PORT" --memory >"$dir/server.log" 2>&1 & ;;
        W1-ds-ref|W2-ds-ref)
            node "$PEERS/durable-streams-server.mjs" --port "$SERVER_PORT" --data-dir "$dir/durable-streams-data" >"$dir/server.log" 2>&1 & ;;
        W1-ds-ref-memory|W2-ds-ref-memory)
            node "$PEERS/durable-streams-server.mjs" --port "$SERVER_PORT" --memory >"$dir/server.log" 2>&1 & ;;
        W1-durable-streams-http)
            node "$PEERS/durable-streams-server.mjs" --port "$SERVER_PORT" --data-dir "$dir/durable-streams-data" --append http \
                >"$dir/server.log" 2>&1 & ;;
        *)
            # (AGENT_STREAMS_HOP_TRACE: see backend/HopTrace.h; written when the server stops.)
            hop_env=()
            [ "$HOPS" = 1 ] && hop_env=(AGENT_STREAMS_HOP_TRACE="$dir/hops.txt")
            env "${hop_env[@]}" \
            "$BUILD/bin/agent-streams" --headless --bench --listen 127.0.0.1 --port "$SERVER_PORT" --redis "$redis_url" \
                "${SERVER_FLAGS[@]}" >"$dir/server.log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    wait_port "$SERVER_PORT" 20 || { echo "the server of $2 did not start (see $dir/server.log)" >&2; exit 1; }
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$SERVER_PORT/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the server of $2 is not ready (see $dir/server.log)" >&2
    exit 1
}

{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
    echo "redis: $(redis-server --version | cut -d' ' -f3), persistence: $([ "$AOF" = 1 ] && echo 'AOF everysec' || echo none), transport: $([ "$TLS" = 1 ] && echo TLS || echo plain TCP)"
    echo "server flags: --headless --bench ${SERVER_FLAGS[*]:-}"
    echo "commit: $SHA  runs: $RUNS  workloads: $WORKLOADS  extra: ${EXTRA[*]:-}"
} | tee "$OUT/machine.txt"

: >"$OUT/runs.jsonl"
for run in $(seq "$RUNS"); do
    for w in $WORKLOADS; do
        start_all "run$run-$w" "$w"
        echo "--- run $run/$RUNS $w"
        case "$w" in
            W1-resumable-stream) args=(--workload W1 --label "$w") ;;
            W1-durable-streams*) args=(--workload W1 --label "$w" --protocol durable-streams) ;;
            W1-responses|W3-responses) args=(--workload "${w%-responses}" --label "$w" --protocol responses) ;;
            W1-ds-*|W2-ds-*) args=(--workload "${w%%-*}" --label "$w" --protocol durable-http) ;;
            *-cluster) args=(--workload "${w%-cluster}" --label "$w") ;;
            *) args=(--workload "$w") ;;
        esac
        "$BUILD/bin/agent-streams-bench" --port "$SERVER_PORT" --redis "127.0.0.1:$REDIS_PORT" --server-pid "$SERVER_PID" \
            --redis-pid "$REDIS_PIDS" "${args[@]}" --seed "$run" "${EXTRA[@]}" >"$OUT/run$run-$w/bench.txt" 2>&1 || true
        grep '^BENCH_JSON ' "$OUT/run$run-$w/bench.txt" | sed "s/^BENCH_JSON {/{\"run\":$run,/" >>"$OUT/runs.jsonl" || true
        grep -E '^(W|xadd)' "$OUT/run$run-$w/bench.txt" | tail -1 || true
        if [ "${#CLUSTER_PIDS[@]}" -gt 0 ]; then
            # The server's connections to each node (its own, with the bench gone; minus redis-cli).
            for i in 0 1 2; do
                echo "  node $((REDIS_PORT + i)): $(( $(redis-cli -p $((REDIS_PORT + i)) info clients | grep -o 'connected_clients:[0-9]*' | cut -d: -f2) - 1 )) app connections"
            done | tee "$OUT/run$run-$w/connections.txt"
        fi
        stop_all
        # The Node peers print how late their producer emitted the chunks when they stop.
        grep -h 'producer lateness' "$OUT/run$run-$w/server.log" 2>/dev/null || true
        [ "$HOPS" = 1 ] && grep -h '^#' "$OUT/run$run-$w/hops.txt" 2>/dev/null | sed 1d || true
    done
done

python3 - "$OUT/runs.jsonl" <<'PY' | tee "$OUT/summary.txt"
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["workload"], []).append(r)
def fmt(v):
    if v is None: return "-"
    if abs(v) >= 1000: return f"{v:,.0f}"
    if abs(v) >= 100: return f"{v:.0f}"
    if abs(v) >= 10: return f"{v:.1f}"
    return f"{v:.2f}"
order = ["floor", "xadd", "W1", "W1-resumable-stream", "W1-durable-streams", "W1-durable-streams-memory", "W1-durable-streams-http",
         "W1-responses", "W1-ds-ours", "W1-ds-ref", "W1-ds-ref-memory", "W2", "W2-ds-ours", "W2-ds-ref", "W2-ds-ref-memory",
         "W3", "W3-responses", "W4", "W5-live", "W5-idle", "W1-cluster", "W2-cluster", "W4-cluster", "W5-live-cluster"]
print(f"\nmedian [min-max] over runs ({', '.join(str(len(by[w])) + ' ' + w for w in order if w in by)})")
for w in [w for w in order if w in by]:
    print(f"\n== {w}")
    keys = [k for k in by[w][0] if k not in ("run", "workload")]
    for k in keys:
        vals = [r.get(k) for r in by[w]]
        if any(isinstance(v, str) for v in vals):
            print(f"  {k:34} {' | '.join(str(v) for v in vals)}")
            continue
        nums = [v for v in vals if v is not None]
        if not nums:
            continue
        print(f"  {k:34} {fmt(statistics.median(nums)):>12}  [{fmt(min(nums))} - {fmt(max(nums))}]")
if "xadd" in by and "W2" in by:
    x = statistics.median(r["xadd_pipelined_rps"] for r in by["xadd"])
    cs = [r["chunks_per_s"] for r in by["W2"] if r.get("chunks_per_s")]
    if cs and x:
        print(f"\nW2 chunks/s / pipelined XADD/s = {statistics.median(cs) / x:.3f} (target >= 0.25)")
def med(w, k):
    v = [r[k] for r in by.get(w, []) if r.get(k) is not None]
    return statistics.median(v) if v else None
ours = med("W1", "server_cpu_us_per_chunk")
for w in ("W1", "W3"):
    native, openai = med(w, "server_cpu_us_per_chunk"), med(w + "-responses", "server_cpu_us_per_chunk")
    if native and openai:
        print(f"{w} server CPU per delta: /v1/responses / /api/agent = {openai:.2f} / {native:.2f} us = {openai / native:.3f} (target <= 1.3)")
for wl in ("W1", "W2"):
    for ref in (wl + "-ds-ref", wl + "-ds-ref-memory"):
        a, b = med(wl + "-ds-ours", "server_cpu_us_per_chunk"), med(ref, "server_cpu_us_per_chunk")
        if a is not None and b is not None:
            print(f"{wl} Durable Streams, server CPU per chunk: ours / {ref[3:]} = {a:.1f} / {b:.1f} us = {a / b:.3f}")
        pa, pb = med(wl + "-ds-ours", "p99_ms"), med(ref, "p99_ms")
        if pa is not None and pb is not None:
            print(f"{wl} Durable Streams p50/p99: ours {med(wl + '-ds-ours', 'p50_ms'):.2f}/{pa:.2f} ms, {ref[3:]} "
                  f"{med(ref, 'p50_ms'):.2f}/{pb:.2f} ms; appended/lost of those: ours {fmt(med(wl + '-ds-ours', 'appended'))}/"
                  f"{fmt(med(wl + '-ds-ours', 'lost_of_appended'))}, {ref[3:]} {fmt(med(ref, 'appended'))}/{fmt(med(ref, 'lost_of_appended'))}")
for wl in ("W1", "W2", "W4", "W5-live"):
    single, cluster = med(wl, "server_cpu_us_per_chunk"), med(wl + "-cluster", "server_cpu_us_per_chunk")
    if single and cluster:
        print(f"{wl} server CPU per chunk: 3-primary cluster / one server = {cluster:.1f} / {single:.1f} us = {cluster / single:.3f} (target <= 1.5); "
              f"p50/p99 {med(wl + '-cluster', 'p50_ms') or 0:.2f}/{med(wl + '-cluster', 'p99_ms') or 0:.2f} vs {med(wl, 'p50_ms') or 0:.2f}/{med(wl, 'p99_ms') or 0:.2f} ms; "
              f"lost {fmt(med(wl + '-cluster', 'lost'))} vs {fmt(med(wl, 'lost'))}")
for peer in [w for w in order if w.startswith("W1-") and w != "W1-responses" and "-ds-" not in w]:
    theirs = med(peer, "server_cpu_us_per_chunk")
    if ours and theirs:
        target = " (target <= 1)" if peer == "W1-resumable-stream" else ""
        print(f"W1 server CPU per chunk: ours / {peer[3:]} = {ours:.1f} / {theirs:.1f} us = {ours / theirs:.3f}{target}")
    p_ours, p_theirs = med("W1", "p99_ms"), med(peer, "p99_ms")
    if p_ours is not None and p_theirs is not None:
        print(f"W1 p99: ours {p_ours:.2f} ms, {peer[3:]} {p_theirs:.2f} ms; lost: ours {fmt(med('W1', 'lost'))}, "
              f"{peer[3:]} {fmt(med(peer, 'lost'))}")
PY
echo "results: $OUT"
