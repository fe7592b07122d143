#!/usr/bin/env bash
# TotemKV (a local 3-node cluster, fsync on) against a local redis-server with no
# persistence and with `appendonly yes` + `appendfsync always`, side by side in one run:
#
#   redis-benchmark -t set,get -d 256 -c 50 -n 200000 -P 1   (and -P 16)
#
# against node 1 of the cluster and against each redis-server. Installs redis-server and
# redis-tools with apt-get when they are missing, builds totemkv in release, picks free
# ports, stops everything it started on exit (by process id). Prints a markdown table.
#
# Usage: Bench/redis-compare.sh [requests]     (default 200000; fewer for a quick look)
# Environment: KEEP_DIR=1 keeps the scratch directory (cluster logs, redis files).
#   SKIP_BUILD=1 uses the release totemkv already built; TOTEMKV=/path/to/totemkv benches
#   another binary (an A/B run against an older build).
#   TARGETS="totemkv redis-aof-always redis-nopersist" (the default) and PIPELINES="1 16"
#   (the default) pick the rows to run, e.g. TARGETS=totemkv PIPELINES=16 for a quick look;
#   a row not run prints "-".
#   KEYSPACE=N adds `-r N` (random keys `key:000000000000` .. N-1 instead of one key): the
#   issue's command re-sets one key to the value it has, which CMap recognises as identical
#   (no change stored), so this shows the figure when most SETs store a new value.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS="${1:-200000}"
CLIENTS=50
VALUE_BYTES=256
RANDOM_KEYS=()
[ -n "${KEYSPACE:-}" ] && RANDOM_KEYS=(-r "$KEYSPACE")

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "installing $2 (for $1)..." >&2
    $SUDO apt-get install -y "$2" >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null; $SUDO apt-get install -y "$2" >/dev/null; }
}
need redis-server redis-server
need redis-benchmark redis-tools
need redis-cli redis-tools

TARGETS="${TARGETS:-totemkv redis-aof-always redis-nopersist}"
PIPELINES="${PIPELINES:-1 16}"
runs() { [[ " $TARGETS " == *" $1 "* ]]; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "building totemkv (release)..." >&2
    swift build -c release --product totemkv >&2
fi
TOTEMKV="${TOTEMKV:-$(swift build -c release --show-bin-path)/totemkv}"

SCRATCH="$(mktemp -d /tmp/totemkv-redis-compare.XXXXXX)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    [ "${KEEP_DIR:-0}" = 1 ] && echo "scratch kept: $SCRATCH" >&2 || rm -rf "$SCRATCH"
}
trap cleanup EXIT

# True when nothing listens on TCP or UDP port $1 of 127.0.0.0/8.
port_free() {
    python3 - "$1" <<'EOF'
import socket, sys
port = int(sys.argv[1])
for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
EOF
}
# A base port P whose cluster ports (P..P+2, P+1000, P+10000..P+10002) and two redis
# ports (P+3, P+4) are free.
pick_base() {
    for _ in $(seq 1 50); do
        local base=$((20000 + RANDOM % 20000)) ok=1
        for p in $base $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 1000)) \
                 $((base + 10000)) $((base + 10001)) $((base + 10002)); do
            port_free "$p" || { ok=0; break; }
        done
        [ $ok = 1 ] && { echo "$base"; return; }
    done
    echo "no free ports found" >&2
    exit 1
}
BASE="$(pick_base)"
REDIS_PLAIN=$((BASE + 3))
REDIS_FSYNC=$((BASE + 4))

# Waits (bounded, 120 s) until `redis-cli -p $1 $2...` prints something containing $want.
wait_for() {
    local port=$1 want=$2; shift 2
    for _ in $(seq 1 1200); do
        if redis-cli -p "$port" "$@" 2>/dev/null | grep -q "$want"; then return 0; fi
        sleep 0.1
    done
    echo "port $port never answered '$want' to $*" >&2
    exit 1
}

echo "starting the cluster (totemkv up, base port $BASE) and the redis-servers ($TARGETS)..." >&2
if runs totemkv; then
    "$TOTEMKV" up --nodes 3 --dir "$SCRATCH/cluster" --base-port "$BASE" --timeout 120 >"$SCRATCH/up.out" 2>&1 &
    PIDS+=($!)
fi
if runs redis-nopersist; then
    redis-server --port "$REDIS_PLAIN" --bind 127.0.0.1 --save "" --appendonly no --dir "$SCRATCH" \
        --logfile "$SCRATCH/redis-plain.log" &
    PIDS+=($!)
fi
if runs redis-aof-always; then
    mkdir -p "$SCRATCH/aof"
    redis-server --port "$REDIS_FSYNC" --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always \
        --dir "$SCRATCH/aof" --logfile "$SCRATCH/redis-fsync.log" &
    PIDS+=($!)
fi
if runs totemkv; then
    for id in 1 2 3; do wait_for $((BASE + id - 1)) "quorate:1" INFO quorum; done
fi
if runs redis-nopersist; then wait_for "$REDIS_PLAIN" PONG PING; fi
if runs redis-aof-always; then wait_for "$REDIS_FSYNC" PONG PING; fi

# One redis-benchmark run: prints "set get" requests per second.
bench() {
    local port=$1 pipeline=$2 out
    out=$(redis-benchmark -p "$port" -t set,get -d "$VALUE_BYTES" -c "$CLIENTS" -n "$REQUESTS" -P "$pipeline" ${RANDOM_KEYS[@]+"${RANDOM_KEYS[@]}"} -q 2>&1 \
        | tr '\r' '\n' | grep -E '^(SET|GET): [0-9.]+ requests per second')
    local set get
    set=$(echo "$out" | awk '/^SET:/ {print $2}')
    get=$(echo "$out" | awk '/^GET:/ {print $2}')
    echo "${set:-0} ${get:-0}"
}

declare -A RESULT
for pipeline in 1 16; do
    for target in totemkv redis-aof-always redis-nopersist; do
        RESULT[$target.$pipeline]="- -"
        [[ " $PIPELINES " == *" $pipeline "* ]] && runs "$target" || continue
        case $target in
            totemkv) port=$BASE ;;
            redis-aof-always) port=$REDIS_FSYNC ;;
            redis-nopersist) port=$REDIS_PLAIN ;;
        esac
        echo "redis-benchmark -P $pipeline against $target..." >&2
        RESULT[$target.$pipeline]="$(bench "$port" "$pipeline")"
    done
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.0f %%", 100 * a / b; else print "-" }'; }
echo "| target | -P | SET req/s | GET req/s |"
echo "|---|---:|---:|---:|"
for pipeline in 1 16; do
    for target in totemkv redis-aof-always redis-nopersist; do
        read -r set get <<<"${RESULT[$target.$pipeline]}"
        echo "| $target | $pipeline | $set | $get |"
    done
done
echo
echo "| ratio | -P 1 | -P 16 |"
echo "|---|---:|---:|"
read -r t1s t1g <<<"${RESULT[totemkv.1]}"; read -r t16s t16g <<<"${RESULT[totemkv.16]}"
read -r a1s a1g <<<"${RESULT[redis-aof-always.1]}"; read -r a16s a16g <<<"${RESULT[redis-aof-always.16]}"
read -r n1s n1g <<<"${RESULT[redis-nopersist.1]}"; read -r n16s n16g <<<"${RESULT[redis-nopersist.16]}"
echo "| totemkv SET / redis appendfsync always SET (target >= 50 % at -P 16) | $(pct "$t1s" "$a1s") | $(pct "$t16s" "$a16s") |"
echo "| totemkv GET (linearizable) / redis GET, no persistence (target >= 30 %) | $(pct "$t1g" "$n1g") | $(pct "$t16g" "$n16g") |"
echo "| totemkv GET (linearizable) / redis GET, appendfsync always | $(pct "$t1g" "$a1g") | $(pct "$t16g" "$a16g") |"
