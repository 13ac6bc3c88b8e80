#!/usr/bin/env python3
"""perf_test.py — perf's call chains through goroutine stacks end at the goroutine root.

Usage: perf_test.py SPIN    (SPIN: the tests/perf/spin program; output is TAP)

Records SPIN (CPU-bound goroutines running spin_outer → spin_middle → spin_inner, yielding
between slices) twice, with `perf record -e cpu-clock -g` (the kernel walks frame pointers)
and `perf record -e cpu-clock --call-graph dwarf` (perf copies 32 KiB of user stack per
sample and unwinds it afterwards from .eh_frame), and checks, for the samples in spin_inner:

  - the chain reads spin_inner, spin_middle, spin_outer, then the goroutine root
    gmp_gostart as its last frame: nothing after the root, no [unknown] frame, no -1
    (ffffffffffffffff) entry;
  - the samples come from the program's main thread (M0) or from threads named gmp-m<N>.

Every spin_inner sample must end at the root. A frame-pointer unwind legitimately misses the
caller of a function sampled in its prologue or epilogue (%rbp still, or again, points at the
caller's frame), so the full spin_inner → spin_middle → spin_outer sequence is required of
all but a small fraction (FP_SLACK) in fp mode, and of all in dwarf mode, where the CFI
describes every instruction — except that perf's copy of the user stack, taken with a
no-fault copy in the sampling interrupt, can end early when a page of the stack is
momentarily unmapped (page migration, a huge-page collapse): such a chain is a clean prefix
of the expected one, spin_inner <- spin_middle and nothing else. CI saw 2 of 3,649 samples
so, on both threads at once; up to CUT_SLACK of them are allowed, anything else (a wrong
frame, [unknown], a chain that goes on past the root) fails. (The dwarf check is the one that caught perf's libunwind
reader refusing a stack's last word: see the headroom note in asm/amd64/gostart.S.)

The goroutines yield after every four spin_inner calls, so nearly every sample is taken in a
goroutine that has been switched out and back in (gmp_switchto or gogo): the chain must not
depend on how the goroutine got back on its M.

Each check reports `ok`, `not ok`, or `ok N # SKIP reason` when perf is missing or
perf_event_open is refused (perf_event_paranoid, a container's seccomp profile): a skip is
printed with the reason and never counts as a pass.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOTS = ('gmp_gostart',)                # the goroutine root: asm/amd64/gostart.S
CHAIN = ('spin_inner', 'spin_middle', 'spin_outer')
FP_SLACK = 0.02                         # fp mode: prologue/epilogue samples allowed
CUT_SLACK = 0.002                       # dwarf mode: stack copies cut short allowed
MIN_SAMPLES = 50                        # fewer spin_inner samples than this is a failure
MIN_YIELDS = 50                         # spin yields ~1/ms per spinner: ~800 in a run
SPIN_MS = '500'                         # how long each spinner runs
SPINNERS = '2'                          # with 2 Ps: often on M0 and on a gmp-m<N>

MODES = [
    ('fp', ['-g']),
    # 32 KiB of stack per sample: spin's three frames fit even in an ASan build's big frames.
    ('dwarf', ['--call-graph', 'dwarf,32768']),
]


def tap_plan(n):
    print(f'1..{n}', flush=True)


def tap(num, ok, desc, diag=()):
    print(f'{"ok" if ok else "not ok"} {num} - {desc}', flush=True)
    for line in diag:
        print(f'# {line}', flush=True)


def tap_skip(num, desc, reason):
    print(f'ok {num} - {desc} # SKIP {reason}', flush=True)


def first_error_line(text):
    """The most telling line of perf's complaint (perf prints a paragraph)."""
    lines = [l.strip() for l in text.splitlines()
             if l.strip() and l.strip().rstrip(':') not in ('Error', 'error')]
    for pattern in (r'paranoid', r'[Pp]ermission|not permitted|denied',
                    r'not supported|No such|not found|not installed', r'[Ee]rror'):
        for l in lines:
            if re.search(pattern, l):
                return l
    return lines[0] if lines else 'no output'


def perf_unavailable(perf, tmp, callgraph):
    """None if perf can record a process's cpu-clock with this call-graph mode, else why not."""
    if perf is None:
        return 'perf not installed (Debian: apt-get install linux-perf)'
    data = os.path.join(tmp, 'probe.data')
    try:
        r = subprocess.run([perf, 'record', '-q', '-e', 'cpu-clock', *callgraph, '-o', data,
                            '--', 'true'], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f'perf record failed to run: {e}'
    if r.returncode != 0:
        try:
            with open('/proc/sys/kernel/perf_event_paranoid') as f:
                paranoid = f.read().strip()
        except OSError:
            paranoid = '?'
        return (f'perf record {" ".join(callgraph)} refused (perf_event_paranoid={paranoid}): '
                f'{first_error_line(r.stderr + r.stdout)}')
    return None


def parse_script(text):
    """perf script -F comm,pid,tid,ip,sym,dso → [(comm, pid, tid, [(ip, sym, dso), ...])],
    each chain innermost first and without the kernel frames above the user ones."""
    samples = []
    for block in re.split(r'\n\s*\n', text):
        lines = [l for l in block.split('\n') if l.strip()]
        if not lines:
            continue
        head = re.match(r'^\s*(.*?)\s+(\d+)/(\d+)\s*$', lines[0])
        if not head:
            continue
        frames = []
        for l in lines[1:]:
            m = re.match(r'^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$', l)
            if m:
                frames.append((m.group(1), m.group(2), m.group(3)))
        while frames and frames[0][2].startswith('[kernel'):
            frames.pop(0)               # interrupted in user code: keep the user chain
        samples.append((head.group(1), int(head.group(2)), int(head.group(3)), frames))
    return samples


def symname(sym):
    """'spin_inner+0x50' → 'spin_inner'; '[unknown]' stays."""
    return re.sub(r'\+0x[0-9a-f]+$', '', sym)


def check_chain(frames):
    """(ends cleanly at the root?, reads spin_inner <- spin_middle <- spin_outer?, what is
    wrong with the ending)."""
    names = [symname(s) for _, s, _ in frames]
    full = names[:len(CHAIN)] == list(CHAIN)
    why = []
    if names[-1] not in ROOTS:
        why.append(f'last frame is {frames[-1][0]} {frames[-1][1]}, not the root')
    if sum(n in ROOTS for n in names) != 1:
        why.append('the root appears %d times' % sum(n in ROOTS for n in names))
    if 'spin_outer' in names and names[names.index('spin_outer') + 1:] != names[-1:]:
        why.append('frames between spin_outer and the last one')
    bogus = [f'{ip} {s}' for ip, s, _ in frames if s == '[unknown]' or
             ip == 'ffffffffffffffff']
    if bogus:
        why.append('bogus frames: ' + ', '.join(bogus))
    return not why, full, '; '.join(why)


def cut_short(mode, frames):
    """A dwarf chain that is a clean prefix of the expected one: the stack copy ended early."""
    names = [symname(s) for _, s, _ in frames]
    return mode == 'dwarf' and 0 < len(names) < len(CHAIN) and names == list(CHAIN[:len(names)])


def render(frames):
    return ' <- '.join(symname(s) if s != '[unknown]' else f'[unknown]@{ip}'
                       for ip, s, _ in frames)


def run_mode(perf, spin, tmp, mode, callgraph):
    """Record and script one mode; returns ((samples, yields) or None, error or None)."""
    data = os.path.join(tmp, f'{mode}.data')
    cmd = [perf, 'record', '-q', '-e', 'cpu-clock', *callgraph, '-o', data, '--',
           spin, SPIN_MS, SPINNERS]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None, f'perf record exited {r.returncode}: {first_error_line(r.stderr)}'
    m = re.search(r'(\d+) yields', r.stdout)
    yields = int(m.group(1)) if m else 0
    r = subprocess.run([perf, 'script', '-i', data, '-F', 'comm,pid,tid,ip,sym,dso'],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        return None, f'perf script exited {r.returncode}: {first_error_line(r.stderr)}'
    return (parse_script(r.stdout), yields), None


def check_root(mode, inner, yields):
    """Every chain ends cleanly at the root, after enough switches out and back in."""
    bad = [(smp, check_chain(smp[3])[2]) for smp in inner if not check_chain(smp[3])[0]]
    cut = [b for b in bad if cut_short(mode, b[0][3])]
    if len(cut) <= CUT_SLACK * len(inner):
        bad = [b for b in bad if not cut_short(mode, b[0][3])]
    diag = [f'{len(inner)} spin_inner samples, {len(bad)} not ending cleanly at '
            f'{"/".join(ROOTS)}; {yields} yields (switches out and back in)']
    diag += [f'{comm}/{tid}: {why}: {render(frames)}' for (comm, _, tid, frames), why in bad[:3]]
    if not bad:
        diag.append('e.g. ' + render(inner[len(inner) // 2][3]))
    if yields < MIN_YIELDS:
        diag.append(f'too few yields (< {MIN_YIELDS}): the samples would not show resumed '
                    'goroutines')
    return not bad and yields >= MIN_YIELDS, diag


def check_sequence(mode, inner, yields):
    """The chains read spin_inner <- spin_middle <- spin_outer (fp: all but FP_SLACK)."""
    partial = [smp for smp in inner if not check_chain(smp[3])[1]]
    slack = FP_SLACK if mode == 'fp' else CUT_SLACK
    if mode == 'dwarf' and any(not cut_short(mode, smp[3]) for smp in partial):
        slack = 0.0  # a dwarf chain that is wrong, not merely cut short
    diag = [f'{len(inner) - len(partial)}/{len(inner)} complete '
            f'(allowed incomplete: {slack:.1%})']
    diag += [f'incomplete: {render(smp[3])}' for smp in partial[:3]]
    return len(partial) <= slack * len(inner), diag


def check_threads(mode, inner, yields, main_comm):
    """The samples come from the main thread (M0, keeps the program's name) or gmp-m<N>."""
    counts = {}
    for comm, pid, tid, _ in inner:
        counts[(comm, tid, pid)] = counts.get((comm, tid, pid), 0) + 1
    wrong = [f'{c}/{t}' for c, t, pid in counts
             if not (re.fullmatch(r'gmp-m\d+', c) or (t == pid and c == main_comm))]
    diag = [', '.join(f'{c}/{t}: {n}' for (c, t, _), n in sorted(counts.items()))]
    if wrong:
        diag.append('unexpected threads: ' + ', '.join(wrong))
    return not wrong, diag


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: perf_test.py SPIN')
    spin = os.path.abspath(sys.argv[1])
    main_comm = os.path.basename(spin)[:15]     # comm: at most 15 characters
    checks = [
        ('chains end at the goroutine root', check_root),
        ('chains read spin_inner <- spin_middle <- spin_outer', check_sequence),
        ('samples on the main thread or gmp-m<N>',
         lambda m, i, y: check_threads(m, i, y, main_comm)),
    ]
    perf = shutil.which('perf')
    tap_plan(len(MODES) * len(checks))
    num = 0
    with tempfile.TemporaryDirectory(prefix='gmp-perf-') as tmp:
        for mode, callgraph in MODES:
            skip = perf_unavailable(perf, tmp, callgraph)
            inner, yields, err = [], 0, None
            if not skip:
                got, err = run_mode(perf, spin, tmp, mode, callgraph)
                if got:
                    samples, yields = got
                    inner = [smp for smp in samples
                             if smp[3] and symname(smp[3][0][1]) == 'spin_inner']
                    if len(inner) < MIN_SAMPLES:
                        err = (f'only {len(inner)} spin_inner samples of {len(samples)} '
                               f'(< {MIN_SAMPLES})')
            for what, check in checks:
                num += 1
                desc = f'{mode}: {what}'
                if skip:
                    tap_skip(num, desc, skip)
                elif err:
                    tap(num, False, desc, [err])
                else:
                    ok, diag = check(mode, inner, yields)
                    tap(num, ok, desc, diag)


if __name__ == '__main__':
    main()
