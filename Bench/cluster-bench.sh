#!/usr/bin/env bash
# The cluster benchmark of issue 7 (results: Bench/results/cluster.md):
#  1. builds totemkv (release),
#  2. for fsync on, then off: starts a 3-node cluster on 127.0.0.1-3 (the configuration of
#     `totemkv up`: token 1000 ms, so 1650 ms with 3 nodes, consensus 1980 ms; netmtu 65000) and runs
#     `totemkv bench` with 1, 16, 64 and 256 clients writing 256-byte values,
#  3. with fsync on: measures how long writes are unavailable after kill -9 of a node the
#     clients do not use, then (after it is back) of the node they use (they fail over to
#     the survivors),
#  4. stops everything and prints a markdown table.
#
# The table gives the nodes' CPU time per acknowledged write (from /proc/PID/stat), the figure
# to compare on a shared machine.
#
# Environment: DURATION (seconds per run, default 10), CLIENTS ("1 16 64 256"),
# BASE_PORT (17379), KILL_AFTER (5), KILL_DURATION (15), SKIP_BUILD=1, BIN (the executable),
# OUT (a directory for the JSON summaries and node logs; default a new temporary one),
# FSYNC_MODES ("on off"), KILL_TESTS (1; 0 skips the unavailability runs). Only the 64-client
# row with fsync on: `SKIP_BUILD=1 CLIENTS=64 FSYNC_MODES=on KILL_TESTS=0 Bench/cluster-bench.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-"1 16 64 256"}
BASE_PORT=${BASE_PORT:-17379}
KILL_AFTER=${KILL_AFTER:-5}
KILL_DURATION=${KILL_DURATION:-15}
BIN=${BIN:-.build/release/totemkv}
FSYNC_MODES=${FSYNC_MODES:-"on off"}
KILL_TESTS=${KILL_TESTS:-1}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/totemkv-cluster-bench.XXXXXX")}
mkdir -p "$OUT"
PORTS="$BASE_PORT,$((BASE_PORT + 1)),$((BASE_PORT + 2))"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  swift build -c release --product totemkv
fi

PIDS=(0 0 0 0)
DIR=""

stop_nodes() {
  for id in 1 2 3; do
    if [[ ${PIDS[$id]} != 0 ]] && kill -0 "${PIDS[$id]}" 2>/dev/null; then kill -TERM "${PIDS[$id]}"; fi
  done
  for id in 1 2 3; do
    if [[ ${PIDS[$id]} != 0 ]]; then
      # Bounded: 100 x 0.1 s, then SIGKILL.
      for _ in $(seq 100); do kill -0 "${PIDS[$id]}" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "${PIDS[$id]}" 2>/dev/null || true
      wait "${PIDS[$id]}" 2>/dev/null || true
      PIDS[$id]=0
    fi
  done
}
trap stop_nodes EXIT

# write_config DIR FSYNC: the configuration `totemkv up` writes, with store.fsync set.
write_config() {
  local dir=$1 fsync=$2
  cat > "$dir/cluster.conf" <<EOF
totem {
	version: 2
	cluster_name: cluster-bench
	transport: udpu
	token: 1000
	netmtu: 65000
	interface {
		ringnumber: 0
		mcastport: $((BASE_PORT + 1000))
	}
}
nodelist {
	node {
		nodeid: 1
		ring0_addr: 127.0.0.1
	}
	node {
		nodeid: 2
		ring0_addr: 127.0.0.2
	}
	node {
		nodeid: 3
		ring0_addr: 127.0.0.3
	}
}
quorum {
	provider: corosync_votequorum
}
logging {
	to_stderr: yes
	timestamp: on
	debug: off
}
store {
	data_directory: $dir/data
	fsync: $fsync
}
client {
	bind_address: 127.0.0.1
	port: $BASE_PORT
}
EOF
}

start_node() {
  local id=$1
  "$BIN" node --config "$DIR/cluster.conf" --nodeid "$id" >> "$DIR/node-$id.log" 2>&1 &
  PIDS[$id]=$!
}

# wait_quorate: every running node reports a quorate ring of 1, 2, 3 (bounded: 120 s).
wait_quorate() {
  for _ in $(seq 1200); do
    local ok=1
    for id in 1 2 3; do
      local status="$DIR/data/node-$id/status.json"
      if ! grep -q "\"pid\":${PIDS[$id]}," "$status" 2>/dev/null \
        || ! grep -q '"members":\[1,2,3\]' "$status" || ! grep -q '"quorate":true' "$status"; then
        ok=0
      fi
    done
    if [[ $ok == 1 ]]; then return 0; fi
    sleep 0.1
  done
  echo "the cluster in $DIR did not become quorate" >&2
  tail -n 5 "$DIR"/node-*.log >&2
  exit 1
}

# nodes_cpu_ticks: utime + stime of the running nodes, in clock ticks.
nodes_cpu_ticks() {
  local total=0
  for id in 1 2 3; do
    if [[ ${PIDS[$id]} != 0 ]] && [[ -r /proc/${PIDS[$id]}/stat ]]; then
      # Fields 14 and 15 (utime, stime), counted after the ")" that ends the command name.
      total=$(( total + $(sed 's/.*) //' "/proc/${PIDS[$id]}/stat" | awk '{print $12 + $13}') ))
    fi
  done
  echo "$total"
}

start_cluster() {
  DIR="$OUT/cluster-fsync-$1"
  rm -rf "$DIR"
  mkdir -p "$DIR"
  write_config "$DIR" "$1"
  for id in 1 2 3; do start_node "$id"; done
  wait_quorate
}

echo "# machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory; disk: $(df -h "$OUT" | awk 'NR==2 {print $1, $2, "size,", $4, "free"}')"
echo "# load average before the runs: $(cut -d" " -f1-3 /proc/loadavg)"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), output in $OUT"

for fsync in $FSYNC_MODES; do
  start_cluster "$fsync"
  for clients in $CLIENTS; do
    echo "## fsync $fsync, $clients client(s)"
    # CPU time of the three nodes (utime + stime, clock ticks) around the run: the machine is
    # shared, so CPU per acknowledged write is the figure that other load does not distort.
    cpu_before=$(nodes_cpu_ticks)
    "$BIN" bench --ports "$PORTS" --clients "$clients" --value-size 256 --duration "$DURATION" \
      --key-prefix "f$fsync:c$clients:" --json > "$OUT/fsync-$fsync-c$clients.json"
    echo "$(( $(nodes_cpu_ticks) - cpu_before )) $(getconf CLK_TCK)" > "$OUT/fsync-$fsync-c$clients.cpu"
    # The machine is shared: the 1-minute load average after each run goes in the table.
    cut -d" " -f1 /proc/loadavg > "$OUT/fsync-$fsync-c$clients.load"
  done
  stop_nodes
done

# Unavailability, fsync on: 16 clients on node 1, able to fail over to nodes 2 and 3.
if [[ $KILL_TESTS == 1 ]]; then
start_cluster on
echo "## kill -9 of node 3 (the clients use node 1)"
"$BIN" bench --ports "$BASE_PORT" --failover-ports "$((BASE_PORT + 1)),$((BASE_PORT + 2))" --clients 16 \
  --duration "$KILL_DURATION" --kill-pid "${PIDS[3]}" --kill-after "$KILL_AFTER" --key-prefix kill3: --json \
  > "$OUT/kill-other.json"
wait "${PIDS[3]}" 2>/dev/null || true
start_node 3
wait_quorate
echo "## kill -9 of node 1 (the node the clients use)"
"$BIN" bench --ports "$BASE_PORT" --failover-ports "$((BASE_PORT + 1)),$((BASE_PORT + 2))" --clients 16 \
  --duration "$KILL_DURATION" --kill-pid "${PIDS[1]}" --kill-after "$KILL_AFTER" --key-prefix kill1: --json \
  > "$OUT/kill-used.json"
wait "${PIDS[1]}" 2>/dev/null || true
PIDS[1]=0
stop_nodes
fi

python3 - "$OUT" "$CLIENTS" "$FSYNC_MODES" "$KILL_TESTS" <<'EOF'
import json, sys
out, clients, modes, kills = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4] == "1"
def ms(us): return f"{us / 1000:.2f}"
print("\n| fsync | clients | acknowledged writes/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | node CPU µs/write | load avg after |")
print("|---|---|---|---|---|---|---|---|---|---|")
for fsync in modes:
    for c in clients:
        s = json.load(open(f"{out}/fsync-{fsync}-c{c}.json"))
        l = s["latency"]
        errors = ", ".join(f'{e["kind"]} {e["count"]}' for e in s["errors"]) or "0"
        ticks, hz = map(int, open(f"{out}/fsync-{fsync}-c{c}.cpu").read().split())
        writes = s["acknowledgedWrites"]
        cpu = f"{ticks / hz * 1e6 / writes:.0f}" if writes > 0 else "-"
        print(f'| {fsync} | {c} | {s["acknowledgedWritesPerSecond"]:.0f} | {ms(l["p50Microseconds"])} | '
              f'{ms(l["p99Microseconds"])} | {ms(l["p999Microseconds"])} | {ms(l["maxMicroseconds"])} | {errors} | '
              f'{cpu} | {open(f"{out}/fsync-{fsync}-c{c}.load").read().strip()} |')
if not kills:
    sys.exit(0)
print("\n| kill -9 of | unavailable (longest gap ending after the kill) | gap starts | gap ends | longest gap of the run | errors |")
print("|---|---|---|---|---|---|")
for name, label in (("kill-other", "node 3 (not the clients')"), ("kill-used", "node 1 (the clients')")):
    s = json.load(open(f"{out}/{name}.json"))
    k = s.get("kill") or {}
    g = k.get("gap")
    errors = ", ".join(f'{e["kind"]} {e["count"]}' for e in s["errors"]) or "0"
    longest = s.get("longestAckGap")
    if g:
        print(f'| {label} | {g["to"] - g["from"]} ms | kill {g["from"] - k["atMillisecond"]:+d} ms | kill {g["to"] - k["atMillisecond"]:+d} ms | '
              f'{longest["to"] - longest["from"] if longest else "-"} ms | {errors} |')
    else:
        print(f"| {label} | no write acknowledged after the kill | | | | {errors} |")
EOF
