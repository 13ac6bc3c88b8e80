#!/usr/bin/env python3
"""Run libgmp's benchmarks against the same workloads in Go and print a table.

usage: bench/compare.py [BUILD_DIR] [--runs K] [--n N] [--only WORKLOAD,...]

BUILD_DIR (default `build`) is a meson build directory in which bench/bench_<workload> are
already built; the Go programs are built into BUILD_DIR/bench-go/. Each (workload, P count)
runs K fresh processes per side, alternating ours and Go so that machine noise hits both
alike; the table shows the medians and the min-max of the K runs.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path

GO_DIR = Path(__file__).resolve().parent / "go"
# In table order. Each program prints a line named after its workload, except those listed
# in PRIMARY, whose main line has another name.
WORKLOADS = ("spawn", "yield", "pingpong", "buffered", "select4", "mutex", "skynet", "parked",
             "sleepers", "tick", "fileread", "echo", "threads")
# threads: plain C programs of tests/apps (pthread_create, blocking I/O), natively and under
# LD_PRELOAD=libgmp.so at 2 Ps, in a table of their own: each app, its arguments, and the
# key=value figures it prints (on stdout or stderr) that the table shows.
# threadserver holds two fds per connection (both ends are in the process) and raises its
# soft fd limit, but only to the hard one (a higher hard limit needs CAP_SYS_RESOURCE): at
# most 10,000 connections, fewer where the hard limit would not hold them with room to spare
# for the fds a process inherits and libgmp's rings (else accept fails with EMFILE whenever
# the accepts run ahead of the clients' closes).
_hardfds = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
THREADSERVER_CONNS = 10000 if _hardfds == resource.RLIM_INFINITY else min(10000, (_hardfds - 256) // 2)
THREAD_APPS = (("threadserver", [str(THREADSERVER_CONNS), "10"],
                (("time_ms", "ms"), ("peak_rss_kb", "KiB"), ("os_threads", "threads"))),
               ("churn", ["100000"],
                (("ns_per_thread", "ns"), ("growth_kb", "KiB"), ("os_threads", "threads"))))
OWN_TABLES = ("echo", "threads")  # workloads with a table of their own
# echo is a server driven by bench/go/loadgen, run against four servers (ours, Go's, a
# native thread per connection, and one thread on raw io_uring) at each of these connection
# counts.
ECHO_CONNS = (100, 1000)
ECHO_SECONDS = 2
PRIMARY = {"parked": "parked_bytes", "sleepers": "sleepers_late_max"}
PROCS = (1, 2)
TIMEOUT = 600  # seconds per run; a hung scheduler fails the comparison instead of stalling it


def fail(msg):
    print(f"compare: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, env_var, procs, n):
    """Runs one benchmark process and returns {name: (value, unit)} from its output."""
    argv = [str(cmd)] + ([str(n)] if n else [])
    env = dict(os.environ, **{env_var: str(procs)})
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        fail(f"{' '.join(argv)} ({env_var}={procs}) timed out after {TIMEOUT}s\n{e.stdout or ''}{e.stderr or ''}")
    if p.returncode != 0:
        fail(f"{' '.join(argv)} ({env_var}={procs}) exited {p.returncode}\n{p.stdout}{p.stderr}")
    try:
        return {name: (float(value), unit) for name, value, unit in map(str.split, p.stdout.splitlines())}
    except ValueError:
        fail(f"{' '.join(argv)}: output is not `name value unit` lines\n{p.stdout}{p.stderr}")


def printtable(rows, left):
    """Prints rows (tuples of strings) in columns: those in left (the label and the unit)
    left-aligned, the numbers right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(wd) if i in left else c.rjust(wd) for i, (c, wd) in enumerate(zip(r, widths))))


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    gover = subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"cpu:     {model}")
    print(f"nproc:   {len(os.sched_getaffinity(0))}")
    print(f"kernel:  {platform.release()}")
    print(f"go:      {gover}")


def build_type(build):
    """The build type libgmp was configured with; timings of a debug build mean little."""
    try:
        opts = json.loads((build / "meson-info" / "intro-buildoptions.json").read_text())
    except OSError:
        return "unknown"
    vals = {o["name"]: o["value"] for o in opts}
    return f"buildtype={vals.get('buildtype')} optimization={vals.get('optimization')}"


def main():
    ap = argparse.ArgumentParser(description="Compare libgmp's benchmarks with Go's.")
    ap.add_argument("build", nargs="?", default="build", help="meson build directory (default: build)")
    ap.add_argument("--runs", type=int, default=5, help="processes per side and configuration (default: 5)")
    ap.add_argument("--n", type=int, help="N passed to every benchmark (default: each program's own)")
    ap.add_argument("--only", metavar="WORKLOAD,...",
                    help=f"run only these workloads (of {','.join(WORKLOADS)})")
    args = ap.parse_args()
    if args.runs < 1 or (args.n is not None and args.n < 1):
        fail("--runs and --n must be positive")
    workloads = WORKLOADS
    if args.only is not None:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in wanted if w not in WORKLOADS]
        if not wanted or unknown:
            fail(f"--only: unknown workload {', '.join(unknown) or '(none given)'}; "
                 f"choose from {','.join(WORKLOADS)}")
        workloads = tuple(w for w in WORKLOADS if w in wanted)

    build = Path(args.build).resolve()
    ours = {w: build / "bench" / f"bench_{w}" for w in workloads if w != "threads"}
    if "echo" in workloads:
        ours["echo_threads"] = build / "bench" / "bench_echo_threads"
        ours["echo_uring"] = build / "bench" / "bench_echo_uring"
    for path in ours.values():
        if not os.access(path, os.X_OK):
            fail(f"{path} is missing; build libgmp first (meson compile -C {args.build})")
    go_out = build / "bench-go"
    go_out.mkdir(parents=True, exist_ok=True)
    if "threads" in workloads:
        ours.update({app: build / "tests" / app for app, _, _ in THREAD_APPS})
    gobuild = [f"./{w}" for w in workloads if w != "threads"] + (["./loadgen"] if "echo" in workloads else [])
    if gobuild:
        b = subprocess.run(["go", "build", "-o", str(go_out) + "/"] + gobuild,
                           cwd=GO_DIR, capture_output=True, text=True)
        if b.returncode != 0:
            fail(f"go build failed\n{b.stdout}{b.stderr}")
    go = {w: go_out / w for w in workloads if w != "threads"}

    machine()
    print(f"libgmp:  {build_type(build)}")
    print(f"runs:    {args.runs} per side, N={args.n or 'default'}, workloads={','.join(workloads)}")
    print()

    # Boost.Fiber's pingpong (one thread), run beside ours at 1 P when it was built.
    fiber = build / "bench" / "bench_fiber_pingpong"
    fiber = fiber if "pingpong" in workloads and os.access(fiber, os.X_OK) else None
    fibers = []
    # metric -> P -> side -> [values]; every run of a side must report the same metrics.
    samples, units = {}, {}
    for w in workloads:
        if w in OWN_TABLES:
            continue  # below
        for p in PROCS:
            for _ in range(args.runs):
                for side, cmd, var in (("ours", ours[w], "GMPMAXPROCS"), ("go", go[w], "GOMAXPROCS")):
                    out = run(cmd, var, p, args.n)
                    if PRIMARY.get(w, w) not in out:
                        fail(f"{cmd} printed no `{PRIMARY.get(w, w)}` line")
                    for name, (value, unit) in out.items():
                        samples.setdefault(name, {}).setdefault(p, {}).setdefault(side, []).append(value)
                        units[name] = unit
                if w == "pingpong" and p == 1 and fiber:
                    out = run(fiber, "GMPMAXPROCS", p, args.n)  # the variable means nothing to it
                    if "pingpong_fiber" not in out:
                        fail(f"{fiber} printed no `pingpong_fiber` line")
                    fibers.append(out["pingpong_fiber"][0])

    def fmt(v, unit):
        return f"{v:.0f}" if unit in ("KiB", "B") else f"{v:.1f}"

    header = ("workload", "ours", "go", "unit", "ours/go", "ours min-max", "go min-max")
    table = [header]
    # Each workload's main line in WORKLOADS order (spawn 1P, spawn 2P, yield 1P, ...), then
    # extra metrics such as spawn's peak RSS.
    primary = [PRIMARY.get(w, w) for w in WORKLOADS if w not in OWN_TABLES]
    for name in sorted(samples, key=lambda m: (primary.index(m) if m in primary else len(primary), m)):
        unit = units[name]
        for p in PROCS:
            o, g = samples[name].get(p, {}).get("ours", []), samples[name].get(p, {}).get("go", [])
            if len(o) != args.runs or len(g) != args.runs:
                fail(f"{name} {p}P was not reported by every run of both sides")
            mo, mg = statistics.median(o), statistics.median(g)
            table.append((f"{name.replace('_', ' ')} {p}P", fmt(mo, unit), fmt(mg, unit), unit,
                          f"{mo / mg:.2f}" if mg else "-",
                          f"{fmt(min(o), unit)}-{fmt(max(o), unit)}", f"{fmt(min(g), unit)}-{fmt(max(g), unit)}"))
    if len(table) > 1:
        printtable(table, left=(0, 3))
    if fiber:
        mo, mf = statistics.median(samples["pingpong"][1]["ours"]), statistics.median(fibers)
        print()
        print("pingpong on Boost.Fiber (bench_fiber_pingpong: two fibers on one thread), beside ours at 1 P")
        print(f"pingpong 1P  ours {mo:.1f}  fiber {mf:.1f}  ns/op  ours/fiber {mo / mf:.2f}  "
              f"fiber min-max {min(fibers):.1f}-{max(fibers):.1f}")
    elif "pingpong" in workloads:
        print()
        print("pingpong on Boost.Fiber: not built (install libboost-fiber-dev and reconfigure)")
    if "echo" in workloads:
        echo(ours["echo"], go["echo"], ours["echo_threads"], ours["echo_uring"], go_out / "loadgen",
             args.runs)
    if "threads" in workloads:
        threads(build, ours, args.runs)


def cputime_us(pid):
    """User plus system CPU time of process pid so far, in microseconds (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / os.sysconf("SC_CLK_TCK")


def echo_once(server, env, loadgen, conns):
    """Starts server (it prints `port N`), drives it with loadgen, stops it. Besides loadgen's
    figures, echo_cpu: the server's CPU time over the whole run divided by every round trip
    loadgen made (warm-up included), in microseconds per round trip; echo_loadcpu: the same
    for loadgen itself (its user plus system time, from the rusage of waited-for children)."""
    srv = subprocess.Popen([str(server)], env=dict(os.environ, **env), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            fail(f"{server} did not print its port\n{srv.stderr.read() if srv.poll() is not None else ''}")
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run([str(loadgen), line[1], str(conns), str(ECHO_SECONDS)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = cputime_us(srv.pid) if p.returncode == 0 else 0
    finally:
        srv.kill()
        srv.wait()
    if p.returncode != 0:
        fail(f"loadgen against {server} ({conns} connections) exited {p.returncode}\n{p.stdout}{p.stderr}")
    vals = {name: float(value) for name, value, _ in map(str.split, p.stdout.splitlines())}
    total = vals.pop("echo_total")
    vals["echo_cpu"] = cpu / total
    vals["echo_loadcpu"] = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) * 1e6 / total
    return vals


def echo(ours, go, threads, uring, loadgen, runs):
    """The echo table: for each connection count and P count (the thread and io_uring servers
    have none: their figures stand in both rows), round trips/s, p99 latency, the server's and
    the load generator's CPU per round trip; medians of runs, the servers taking turns."""
    sides = [(f"{side}{p}", cmd, {var: str(p)}) for p in PROCS
             for side, cmd, var in (("ours", ours, "GMPMAXPROCS"), ("go", go, "GOMAXPROCS"))]
    sides += [("threads", threads, {}), ("uring", uring, {})]
    rows = [("workload", "ours", "go", "threads", "uring", "unit", "ours/go", "ours/threads",
             "ours/uring")]
    metrics = (("echo_rtps", "rt/s", 0), ("echo_p99", "us", 0), ("echo_cpu", "us/rt", 1),
               ("echo_loadcpu", "us/rt", 1))
    for conns in ECHO_CONNS:
        vals = {}
        for _ in range(runs):
            for side, cmd, env in sides:
                for name, v in echo_once(cmd, env, loadgen, conns).items():
                    vals.setdefault(name, {}).setdefault(side, []).append(v)
        for name, unit, digits in metrics:
            m = {side: statistics.median(vals[name][side]) for side, _, _ in sides}
            for p in PROCS:
                o, g, t, u = m[f"ours{p}"], m[f"go{p}"], m["threads"], m["uring"]
                rows.append((f"{name.replace('_', ' ')} {conns}c {p}P", f"{o:.{digits}f}",
                             f"{g:.{digits}f}", f"{t:.{digits}f}", f"{u:.{digits}f}", unit,
                             f"{o / g:.2f}", f"{o / t:.2f}", f"{o / u:.2f}"))
    print()
    print(f"echo: {ECHO_SECONDS} s measured per run after 0.3 s of warm-up, servers at 1 and 2 Ps "
          "(the thread server: a thread per connection; uring: one thread on io_uring with no "
          "runtime, the floor), load from bench/go/loadgen on the same machine; echo loadcpu "
          "is the load generator's CPU per round trip, which bounds what any server can reach "
          "on this machine (nproc / loadcpu)")
    printtable(rows, left=(0, 5))


def threads(build, apps, runs):
    """The threads table: each of THREAD_APPS natively and preloaded (GMPMAXPROCS=2),
    alternating, medians of runs. os_threads is the most OS threads alive at once (churn
    stops counting at 1024 and prints 1024+)."""
    so = build / "libgmp.so"
    rows = [("workload", "preloaded", "native", "unit", "preloaded/native")]
    for app, argv, shown in THREAD_APPS:
        vals = {}
        for _ in range(runs):
            for side, env in (("native", {}), ("preloaded", {"LD_PRELOAD": str(so), "GMPMAXPROCS": "2"})):
                cmd = [str(apps[app])] + argv
                p = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True,
                                   text=True, timeout=TIMEOUT)
                if p.returncode != 0:
                    fail(f"{' '.join(cmd)} ({side}) exited {p.returncode}\n{p.stdout}{p.stderr}")
                figs = dict(tok.split("=", 1) for tok in (p.stdout + p.stderr).split() if "=" in tok)
                for name, _ in shown:
                    if name not in figs:
                        fail(f"{' '.join(cmd)} ({side}) printed no {name}=\n{p.stdout}{p.stderr}")
                    vals.setdefault(name, {}).setdefault(side, []).append(figs[name])
        for name, unit in shown:
            capped = {side: any(v.endswith("+") for v in vs) for side, vs in vals[name].items()}
            m = {side: statistics.median(float(v.rstrip("+")) for v in vs)
                 for side, vs in vals[name].items()}
            show = {side: f"{m[side]:.0f}{'+' if capped[side] else ''}" for side in m}
            r = m["preloaded"] / m["native"] if m["native"] and not capped["native"] else None
            ratio = "-" if r is None else f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"
            rows.append((f"{app} {name}", show["preloaded"], show["native"], unit, ratio))
    print()
    print(f"threads: tests/apps programs natively and under LD_PRELOAD={so.name} at 2 Ps; "
          + "; ".join(f"{app} {' '.join(argv)}" for app, argv, _ in THREAD_APPS))
    printtable(rows, left=(0, 3))


if __name__ == "__main__":
    main()
