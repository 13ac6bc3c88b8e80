#!/usr/bin/env bash
# bench/echoload.sh — the echo server under load, to look inside it (compare.py's echo table
# only gives its totals).
#
#   bench/echoload.sh BUILD PROCS CONNS SERVERS [PERF ARGS...]
#
# Starts SERVERS copies of BUILD/bench/bench_echo at GMPMAXPROCS=PROCS on one port (they
# share it: SO_REUSEPORT), drives them with bench/go/loadgen at CONNS connections for 3 s,
# and prints loadgen's figures, the servers' CPU per round trip and the reschedule IPIs the
# machine took meanwhile (RES in /proc/interrupts, all CPUs: what waking a sleeping thread on
# another CPU costs, on a hypervisor a vCPU kick). With PERF ARGS, runs
# `perf PERF ARGS -p <the servers> -- sleep 2` during the measured part, e.g.
#   bench/echoload.sh build 2 1000 1 stat -e context-switches -e syscalls:sys_enter_futex
#   bench/echoload.sh build 2 1000 1 record -g -o /tmp/echo.data
#   bench/echoload.sh build 1 1000 2     # two 1-P servers, against `build 2 1000 1`
#   bench/echoload.sh build 2 1000 1 stat -e syscalls:sys_exit_futex --filter 'ret == -512'
#     (futex waits an idle M's io_uring task work cut short: -ERESTARTSYS)
# loadgen is built into BUILD/bench-go/ (as compare.py does) when it is not there.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '4,17p' "$0" >&2; exit 2; }
build=$(cd "$1" && pwd); procs=$2; conns=$3; servers=$4; shift 4
here=$(cd "$(dirname "$0")" && pwd)
loadgen=$build/bench-go/loadgen
if [ ! -x "$loadgen" ]; then
  mkdir -p "$build/bench-go"
  (cd "$here/go" && go build -o "$build/bench-go/" ./loadgen)
fi

pids=()
out=$(mktemp)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -f "$out"' EXIT
GMPMAXPROCS=$procs "$build/bench/bench_echo" 0 >"$out" &
pids+=($!)
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
port=$(awk '{print $2}' "$out")
[ -n "$port" ] || { echo "echoload: the server printed no port" >&2; exit 1; }
for _ in $(seq 2 "$servers"); do
  GMPMAXPROCS=$procs "$build/bench/bench_echo" "$port" >/dev/null &
  pids+=($!)
done
sleep 0.3

resched() { awk '$1 == "RES:" {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i} END {print n + 0}' /proc/interrupts; }
res0=$(resched)
"$loadgen" "$port" "$conns" 3 >"$out" &
lg=$!
if [ $# -gt 0 ]; then
  sleep 0.8  # past loadgen's warm-up
  perf "$@" -p "$(IFS=,; echo "${pids[*]}")" -- sleep 2
fi
wait "$lg"
res1=$(resched)
cat "$out"
echo "reschedule IPIs during the run: $((res1 - res0))"
ticks=0
for p in "${pids[@]}"; do
  ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat")))
done
total=$(awk '$1 == "echo_total" {print $2}' "$out")
awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$total" -v s="$servers" -v p="$procs" \
  'BEGIN {printf "servers %d x %dP: cpu %.1f us/rt\n", s, p, t / hz * 1e6 / n}'
