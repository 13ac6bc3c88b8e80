#!/usr/bin/env python3
"""Valgrind runs libgmp programs cleanly when the runtime is built with stack_annotations:
no errors, and no "client switching stacks?" warning (every goroutine stack is registered,
so a switch between them is not mistaken for a wild stack pointer). TAP; SKIP where valgrind
is missing.

usage: valgrind_test.py PROGRAM ARGS... [-- PROGRAM ARGS...]
"""
import os
import shutil
import subprocess
import sys

runs = [r.split() for r in " ".join(sys.argv[1:]).split(" -- ")]
vg = shutil.which("valgrind")
print(f"1..{2 * len(runs)}")
n = 0
for argv in runs:
    name = os.path.basename(argv[0]) + " " + " ".join(argv[1:])
    if not vg:
        for what in ("no errors", "no stack-switch warnings"):
            n += 1
            print(f"ok {n} - {name}: {what} # SKIP valgrind is not installed")
        continue
    supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libunwind.supp")
    p = subprocess.run([vg, "--error-exitcode=99", f"--suppressions={supp}", "--"] + argv,
                       capture_output=True, text=True,
                       env=dict(os.environ, GMPMAXPROCS="2"), timeout=300)
    log = p.stderr
    n += 1
    ok = p.returncode == 0 and "ERROR SUMMARY: 0 errors" in log
    print(f"{'ok' if ok else 'not ok'} {n} - {name}: no errors (exit {p.returncode})")
    if not ok:
        print("\n".join("# " + l for l in log.splitlines()[-30:]))
    n += 1
    warns = [l for l in log.splitlines() if "client switching stacks" in l]
    print(f"{'ok' if not warns else 'not ok'} {n} - {name}: no stack-switch warnings")
    for l in warns[:5]:
        print("# " + l)
