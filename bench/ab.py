#!/usr/bin/env python3
"""Two builds of libgmp side by side: the same benchmarks from BUILD_A and BUILD_B, as fresh
processes taking turns (A, B, A, B, ...) so that machine noise hits both alike; prints the
medians, their spread and B/A. For a change's before and after (a worktree of the commit
before it, built in its own directory):

    git worktree add /tmp/before HEAD~1 && meson setup /tmp/before/build /tmp/before
    ninja -C /tmp/before/build bench/bench_buffered bench/bench_echo
    bench/ab.py /tmp/before/build build --only buffered,echo --procs 2

Workloads are compare.py's (echo: bench/go/loadgen against each build's bench_echo, at
--conns connections; its rows are round trips/s and the server's CPU per round trip)."""
import argparse
import statistics
import subprocess
import sys
from pathlib import Path

import compare


def main():
    ap = argparse.ArgumentParser(description="Compare two builds of libgmp's benchmarks.")
    ap.add_argument("a", help="meson build directory A (say, before a change)")
    ap.add_argument("b", help="meson build directory B (after)")
    ap.add_argument("--runs", type=int, default=5, help="processes per build and row (default: 5)")
    ap.add_argument("--only", default="pingpong,buffered,mutex",
                    help="workloads, comma-separated (default: pingpong,buffered,mutex)")
    ap.add_argument("--procs", default="1,2", help="GMPMAXPROCS values (default: 1,2)")
    ap.add_argument("--conns", type=int, default=1000, help="echo's connections (default: 1000)")
    args = ap.parse_args()
    builds = {"A": Path(args.a).resolve(), "B": Path(args.b).resolve()}
    workloads = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in compare.WORKLOADS or w in ("threads",)]
    if unknown or args.runs < 1:
        compare.fail(f"unknown workload {', '.join(unknown)} (or --runs < 1)")
    procs = [int(p) for p in args.procs.split(",")]
    loadgen = None
    if "echo" in workloads:
        out = builds["A"] / "bench-go"
        out.mkdir(parents=True, exist_ok=True)
        b = subprocess.run(["go", "build", "-o", str(out) + "/", "./loadgen"], cwd=compare.GO_DIR,
                           capture_output=True, text=True)
        if b.returncode != 0:
            compare.fail(f"go build failed\n{b.stdout}{b.stderr}")
        loadgen = out / "loadgen"

    rows = [("workload", "A", "B", "unit", "B/A", "A min-max", "B min-max")]
    for w in workloads:
        for p in procs:
            vals, units = {}, {}
            for _ in range(args.runs):
                for side, build in builds.items():
                    cmd = build / "bench" / f"bench_{w}"
                    if w == "echo":
                        got = compare.echo_once(cmd, {"GMPMAXPROCS": str(p)}, loadgen, args.conns)
                        out = {"echo_rtps": (got["echo_rtps"], "rt/s"),
                               "echo_cpu": (got["echo_cpu"], "us/rt")}
                    else:
                        out = compare.run(cmd, "GMPMAXPROCS", p, None)
                    for name, (v, unit) in out.items():
                        vals.setdefault(name, {}).setdefault(side, []).append(v)
                        units[name] = unit
            for name, sides in vals.items():
                a, b = sides["A"], sides["B"]
                ma, mb = statistics.median(a), statistics.median(b)
                label = f"{name.replace('_', ' ')}{f' {args.conns}c' if w == 'echo' else ''} {p}P"
                rows.append((label, f"{ma:.1f}", f"{mb:.1f}", units[name],
                             f"{mb / ma:.2f}" if ma else "-",
                             f"{min(a):.1f}-{max(a):.1f}", f"{min(b):.1f}-{max(b):.1f}"))
    print(f"A: {builds['A']}\nB: {builds['B']}\nruns: {args.runs} per build, taking turns\n")
    compare.printtable(rows, left=(0, 3))


if __name__ == "__main__":
    sys.exit(main())
