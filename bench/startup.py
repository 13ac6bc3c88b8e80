#!/usr/bin/env python3
"""startup.py — what preloading libgmp.so costs a short process: each command run natively
and under LD_PRELOAD, interleaved (so both see the same machine noise), N times each; prints
the median and the 10th percentile of the wall time per run, and the ratio of the medians.

Usage: bench/startup.py BUILDDIR [N]   (default N 400)
"""
import os
import statistics
import subprocess
import sys
import time

COMMANDS = [["/bin/true"], ["seq", "1", "100"]]  # seq writes: its first ring


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lib = os.path.abspath(os.path.join(sys.argv[1], "libgmp.so"))
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    plain = dict(os.environ)
    plain.pop("LD_PRELOAD", None)
    preload = dict(plain, LD_PRELOAD=lib)
    print(f"{'command':<16}{'native ms':>12}{'p10':>8}{'preloaded ms':>15}{'p10':>8}{'ratio':>8}")
    for cmd in COMMANDS:
        times = {"native": [], "preload": []}
        for _ in range(n):
            for side, env in (("native", plain), ("preload", preload)):
                t0 = time.perf_counter()
                subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
                times[side].append((time.perf_counter() - t0) * 1e3)
        med = {k: statistics.median(v) for k, v in times.items()}
        p10 = {k: sorted(v)[len(v) // 10] for k, v in times.items()}
        print(f"{' '.join(cmd):<16}{med['native']:>12.2f}{p10['native']:>8.2f}"
              f"{med['preload']:>15.2f}{p10['preload']:>8.2f}{med['preload'] / med['native']:>8.2f}")


if __name__ == "__main__":
    main()
