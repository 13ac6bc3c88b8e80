#!/usr/bin/env python3
"""USDT probes: every probe the runtime documents (src/probes.h) is in libgmp.so's notes,
and perf can attach to them: a program that creates N goroutines fires goroutine__create
N + 1 times (goroutine 1 included) and goroutine__exit N times. TAP output; the perf part is
skipped, with the reason, where perf or uprobes are not available.

usage: probes_test.py LIBGMP_SO SPAWN_PROGRAM
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROBES = ["goroutine__create", "goroutine__start", "goroutine__park", "goroutine__ready",
          "goroutine__exit", "steal", "m__start", "m__park", "netpoll__wait"]
N = 1000

lib, spawn = sys.argv[1], sys.argv[2]
results = []


def check(ok, name, diag=""):
    results.append((ok, name, diag, None))


def skip(name, why):
    results.append((True, name, "", why))


def notes():
    out = subprocess.run(["readelf", "-n", lib], capture_output=True, text=True, check=True).stdout
    found = {}
    provider = None
    for line in out.splitlines():
        m = re.match(r"\s+Provider: (\S+)", line)
        if m:
            provider = m.group(1)
        m = re.match(r"\s+Name: (\S+)", line)
        if m and provider:
            found[m.group(1)] = provider
    return found


found = notes()
for p in PROBES:
    check(found.get(p) == "gmp", f"readelf -n shows probe gmp:{p}",
          f"provider {found.get(p)!r}" if p in found else "missing")

perf = shutil.which("perf")
if not perf:
    skip("perf counts goroutine__create and goroutine__exit", "perf is not installed")
else:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PERF_BUILDID_DIR=os.path.join(tmp, "buildid"))
        events = ["sdt_gmp:goroutine__create", "sdt_gmp:goroutine__exit"]
        add = subprocess.run([perf, "probe", "-x", lib, "-a", events[0], "-a", events[1]],
                             capture_output=True, text=True, env=env)
        if add.returncode != 0:
            skip("perf counts goroutine__create and goroutine__exit",
                 "perf probe cannot add uprobes here: " + add.stderr.strip().splitlines()[-1])
        else:
            try:
                data = os.path.join(tmp, "perf.data")
                rec = subprocess.run([perf, "record", "-q", "-o", data, "-e", events[0], "-e",
                                      events[1], "--", spawn, str(N)],
                                     capture_output=True, text=True, env=env)
                if rec.returncode != 0:
                    skip("perf counts goroutine__create and goroutine__exit",
                         "perf record failed: " + rec.stderr.strip()[-300:])
                else:
                    script = subprocess.run([perf, "script", "-i", data], capture_output=True,
                                            text=True, env=env).stdout
                    creates = len(re.findall(r"sdt_gmp:goroutine__create:", script))
                    exits = len(re.findall(r"sdt_gmp:goroutine__exit:", script))
                    check(creates == N + 1, "perf counts goroutine__create once per goroutine",
                          f"{creates} events for {N} goroutines and goroutine 1")
                    check(exits >= N, "perf counts goroutine__exit for every finished goroutine",
                          f"{exits} events for {N} goroutines")
                    first = re.search(r"goroutine__create: \(\w+\) arg1=(\d+) arg2=\d+ arg3=(\d+)",
                                      script)
                    check(first is not None and first.group(1) == "1" and first.group(2) == "0",
                          "the first create is goroutine 1, made by no goroutine",
                          first.group(0) if first else "no event")
            finally:
                subprocess.run([perf, "probe", "-d", "sdt_gmp:*"], capture_output=True, env=env)

print(f"1..{len(results)}")
for i, (ok, name, diag, why) in enumerate(results, 1):
    if why:
        print(f"ok {i} - {name} # SKIP {why}")
    else:
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if diag:
            print(f"# {diag}")
