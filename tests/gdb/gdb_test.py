#!/usr/bin/env python3
# gdb_test.py — checks gdb/libgmp-gdb.py on gdbprog (gdbprog.cc) the ways a user meets a
# libgmp process: started under gdb, attached to, and dead (a core from gdb's
# generate-core-file and one from the kernel), with raw-clone and pthread Ms, with the
# runtime linked in and as libgmp.so (the script auto-loaded by gdb's own rules).
#
# gdbprog stops with a known set of goroutines (see its header): main running in
# gdbtest_stop, a spinner running on another M, a parker waiting on the runtime semaphore, a
# yielder that is runnable after running, three runnable ones that never ran. Each check runs
# gdb in batch mode and compares what the script prints with that.
#
# Output is TAP (meson's protocol: 'tap'): `ok N - what`, `not ok N - what` followed by the gdb
# output as `#` lines, `ok N - what # SKIP why`. Without gdb: `1..0 # SKIP why`.
import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--script", required=True, help="gdb/libgmp-gdb.py")
ap.add_argument("--static", required=True, help="gdbprog_static")
ap.add_argument("--shared", required=True, help="gdbprog_shared")
ap.add_argument("--lib", required=True, help="the built libgmp.so (its real file)")
ap.add_argument("--autoload-name", required=True, help="the name gdb/meson.build installs")
ap.add_argument("--gdb", default=os.environ.get("GDB", "gdb"))
args = ap.parse_args()

GDB = shutil.which(args.gdb)
if GDB is None:
    print("1..0 # SKIP gdb is not installed (%s not found)" % args.gdb)
    sys.exit(0)
probe = subprocess.run([GDB, "-batch", "-nx", "-ex", "python print('py-ok')"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
if "py-ok" not in probe.stdout:
    print("1..0 # SKIP this gdb has no Python support")
    sys.exit(0)

SCRIPT = os.path.abspath(args.script)
TIMEOUT = 120

# The program's environment: it picks its own GOMAXPROCS (2); nothing inherited may change
# how it runs, except what a run asks for.
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GMP")}

ntest = 0
failed = 0


def report(ok, what, output=None, skip=None, todo=None):
    global ntest, failed
    ntest += 1
    if skip is not None:
        print("ok %d - %s # SKIP %s" % (ntest, what, skip))
        return
    line = "%s %d - %s" % ("ok" if ok else "not ok", ntest, what)
    if not ok and todo:
        line += " # TODO " + todo
    elif not ok:
        failed += 1
    print(line)
    if not ok and output is not None:
        for l in output.rstrip("\n").split("\n"):
            print("#   " + l)
    sys.stdout.flush()


def check(cond, what, output):
    report(bool(cond), what, output)
    return bool(cond)


# ---- running gdb ---------------------------------------------------------------------------

def gdb_cmdline(target, commands, source=True, pre=()):
    """gdb -batch on target with commands, each a (name, command); the output of each is
    found after a line "@@name" (gdb's echo)."""
    cmd = [GDB, "-batch", "-nx"]
    for c in pre:
        cmd += ["-iex", c]
    if source:
        cmd += ["-ex", "source " + SCRIPT]
    for name, c in commands:
        cmd += ["-ex", "echo \\n@@%s\\n" % name, "-ex", c]
    cmd += ["-ex", "echo \\n@@end\\n"]
    return cmd + target


def run_gdb(target, commands, env=None, source=True, pre=()):
    """Runs gdb; returns (whole output, {name: output of that command})."""
    try:
        p = subprocess.run(gdb_cmdline(target, commands, source, pre), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=env or BASE_ENV, timeout=TIMEOUT)
        out = p.stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else \
            (e.stdout or "")
        out += "\n(gdb timed out after %d s)" % TIMEOUT
    sections = {}
    parts = re.split(r"^@@(\S+)\n", out, flags=re.M)
    for i in range(1, len(parts) - 1, 2):
        sections[parts[i]] = parts[i + 1]
    return out, sections


def ids_of(out):
    """The goroutine ids gdbprog printed."""
    m = re.search(r"gdbtest: main=(\d+) spinner=(\d+) parker=(\d+) yielder=(\d+) "
                  r"fresh=(\d+),(\d+),(\d+) pid=(\d+) ready", out)
    if not m:
        return None
    v = [int(x) for x in m.groups()]
    return {"main": v[0], "spinner": v[1], "parker": v[2], "yielder": v[3],
            "fresh": v[4:7], "pid": v[7]}


# ---- reading the script's output ------------------------------------------------------------

GLINE = re.compile(r"^([* ]) (\d+) (\S.*?)\s{2,}(\S.*)$")


def goroutines(text):
    """`info goroutines` lines: {goid: (mark, status, where)}."""
    rows = {}
    for line in (text or "").split("\n"):
        m = GLINE.match(line)
        if m:
            rows[int(m.group(2))] = (m.group(1), m.group(3).strip(), m.group(4).strip())
    return rows


FRAME = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(.+?) \(", re.M)


def frames(text):
    """Function names of a backtrace (gdb's or the script's), innermost first."""
    return [m.group(2) for m in FRAME.finditer(text or "")]


def has_sequence(names, want):
    """Are want's names all in names, in this order?"""
    i = 0
    for n in names:
        if i < len(want) and n == want[i]:
            i += 1
    return i == len(want)


def check_listing(tag, text, ids, static, where_main, threads=True):
    """What `info goroutines` must say about gdbprog's goroutines."""
    rows = goroutines(text)
    want = {ids["main"], ids["spinner"], ids["yielder"], *ids["fresh"]}
    if static:
        want.add(ids["parker"])
    check(set(rows) == want, "%s: info goroutines lists exactly goroutines %s"
          % (tag, sorted(want)), text)
    main = rows.get(ids["main"], ("", "", ""))
    check(main[0] == "*" and main[1] == "running" and main[2].startswith(where_main),
          "%s: main is `* %d running  %s...` (the selected thread's goroutine)"
          % (tag, ids["main"], where_main), text)
    spin = rows.get(ids["spinner"], ("", "", ""))
    thr = re.findall(r"\[thread (\d+)\]", main[2] + " " + spin[2])
    check(spin[0] == " " and spin[1] == "running" and spin[2].startswith("gdbtest_spin") and
          (not threads or (len(thr) == 2 and thr[0] != thr[1])),
          "%s: the spinner is running in gdbtest_spin on its own thread" % tag, text)
    if static:
        park = rows.get(ids["parker"], ("", "", ""))
        check(park[1] == "waiting (semacquire)" and park[2] == "gdbtest_park_inner",
              "%s: the parker is `waiting (semacquire)  gdbtest_park_inner`" % tag, text)
    yl = rows.get(ids["yielder"], ("", "", ""))
    check(yl[1] == "runnable" and yl[2] == "gdbtest_yielder",
          "%s: the yielder is `runnable  gdbtest_yielder`" % tag, text)
    fr = [rows.get(i, ("", "", "")) for i in ids["fresh"]]
    check(all(r[1] == "runnable" and r[2] == "gdbtest_never_run" for r in fr),
          "%s: the never-run goroutines are `runnable  gdbtest_never_run`" % tag, text)


def check_parker_bt(tag, text, how):
    names = frames(text)
    check(has_sequence(names, ["gmp::semacquire", "gdbtest_park_inner", "gdbtest_park_outer",
                               "gmp_gostart"]) and names[-1:] == ["gmp_gostart"] and
          re.search(r"^created by main\b", text or "", re.M),
          "%s: goroutine <parker> bt (%s): semacquire, gdbtest_park_inner, gdbtest_park_outer "
          "down to gmp_gostart, created by main" % (tag, how), text)


def check_yielder_bt(tag, text, how):
    names = frames(text)
    check(has_sequence(names, ["gmp::gosched", "gdbtest_yielder", "gmp_gostart"]) and
          names[-1:] == ["gmp_gostart"] and
          re.search(r"^created by main\b", text or "", re.M),
          "%s: goroutine <yielder> bt (%s): gosched, gdbtest_yielder down to gmp_gostart"
          % (tag, how), text)


def check_spinner_bt(tag, text):
    names = frames(text)
    check(names[:1] == ["gdbtest_spin"] and names[-1:] == ["gmp_gostart"],
          "%s: goroutine <spinner> bt: its thread's stack, gdbtest_spin on gmp_gostart" % tag,
          text)


def check_fresh_bt(tag, text):
    check(re.search(r"has not run yet; it will run gdbtest_never_run\(", text or "") and
          not frames(text),
          "%s: goroutine <fresh> bt: not run yet, will run gdbtest_never_run" % tag, text)


# The commands every look at the stopped program makes.
def look(static, bt_mode=None):
    c = [("list", "info goroutines")]
    if bt_mode:
        c.append(("mode", "set libgmp-backtrace " + bt_mode))
    if static:
        c.append(("parker", "goroutine gdbtest_id_parker bt"))
    c += [("yielder", "goroutine gdbtest_id_yielder bt"),
          ("spinner", "goroutine gdbtest_id_spinner bt"),
          ("fresh", "goroutine gdbtest_id_fresh bt")]
    return c


def check_look(tag, out, s, ids, static, where_main, how, threads=True):
    check_listing(tag, s.get("list"), ids, static, where_main, threads)
    if static:
        check_parker_bt(tag, s.get("parker"), how)
    check_yielder_bt(tag, s.get("yielder"), how)
    check_spinner_bt(tag, s.get("spinner"))
    check_fresh_bt(tag, s.get("fresh"))


# ---- the runs -----------------------------------------------------------------------------

def live_static(tmp):
    """Started under gdb, stopped at gdbtest_stop; ends with a gcore for core_static."""
    tag = "live"
    core = os.path.join(tmp, "gcore")
    regs = "python print('REGS', int(gdb.parse_and_eval('$pc')), int(gdb.parse_and_eval('$sp')))"
    cmds = [("break", "break gdbtest_stop"), ("run", "run"), ("regs0", regs)]
    cmds += look(True)
    cmds += [("regs1", regs),
             ("symbol", "goroutine gdbtest_id_parker info symbol $pc"),
             ("star", "goroutine gdbtest_id_spinner info goroutines"),
             ("fp", "set libgmp-backtrace frame-pointers"),
             ("fpparker", "goroutine gdbtest_id_parker bt"),
             ("fpyielder", "goroutine gdbtest_id_yielder bt"),
             ("fpsymbol", "goroutine gdbtest_id_parker info symbol $pc"),
             ("auto", "set libgmp-backtrace auto"),
             ("all", "goroutine all bt"),
             ("unknown", "goroutine 9999 bt"),
             ("usage", "goroutine"),
             ("regs2", regs),
             ("gcore", "generate-core-file " + core),
             # Two minutes and five seconds later, as far as the runtime's clock goes.
             ("later", "set var gmp::sched.coarsenow._M_i = gmp::sched.coarsenow._M_i + "
                       "125000000000"),
             ("list2", "info goroutines"),
             ("kill", "kill")]
    env = dict(BASE_ENV, GDBTEST_GCORE="1")
    out, s = run_gdb([args.static], cmds, env=env)
    ids = ids_of(out)
    if not check(ids and "@@end" in out, "%s: gdbprog_static runs under gdb and stops" % tag,
                 out):
        return None, None
    check_look(tag, out, s, ids, True, "gdbtest_stop", "registers")
    r = [s.get(k, "") for k in ("regs0", "regs1", "regs2")]
    r = [re.search(r"REGS (\d+) (\d+)", x) for x in r]
    check(all(r) and len({x.groups() for x in r}) == 1,
          "%s: the selected thread's $pc and $sp are the same before and after goroutine "
          "commands" % tag, "\n".join(s.get(k, "") for k in ("regs0", "regs1", "regs2")))
    check(re.search(r"gmp::gopark.* in section", s.get("symbol", "")),
          "%s: goroutine <parker> info symbol $pc runs in the parker's frame 0 (gopark)"
          % tag, s.get("symbol"))
    star = goroutines(s.get("star"))
    check(star.get(ids["spinner"], ("",))[0] == "*" and
          star.get(ids["main"], ("*",))[0] == " ",
          "%s: goroutine <spinner> info goroutines: `*` follows the selected thread" % tag,
          s.get("star"))
    check_parker_bt(tag, s.get("fpparker"), "frame pointers, live")
    check_yielder_bt(tag, s.get("fpyielder"), "frame pointers, live")
    check("only bt works" in s.get("fpsymbol", ""),
          "%s: with frame pointers, a command other than bt is refused clearly" % tag,
          s.get("fpsymbol"))
    a = s.get("all", "")
    check(all(re.search(r"^goroutine %d \[" % i, a, re.M)
              for i in [ids["main"], ids["spinner"], ids["parker"], ids["yielder"]] +
              ids["fresh"]) and a.count("gmp_gostart (") >= 3,
          "%s: goroutine all bt covers every goroutine" % tag, a)
    check(re.search(r"libgmp: no goroutine 9999\b", s.get("unknown", "")),
          "%s: goroutine 9999: `no goroutine 9999`" % tag, s.get("unknown"))
    check(re.search(r"libgmp: usage: goroutine", s.get("usage", "")),
          "%s: goroutine without arguments prints its usage" % tag, s.get("usage"))
    park = goroutines(s.get("list2")).get(ids["parker"], ("", "", ""))
    check(park[1] == "waiting (semacquire, 2 minutes)",
          "%s: a goroutine parked for 2 minutes is `waiting (semacquire, 2 minutes)`" % tag,
          s.get("list2"))
    ok = os.path.exists(core) and "Saved corefile" in s.get("gcore", "")
    check(ok, "%s: generate-core-file wrote a core" % tag, s.get("gcore"))
    return (core if ok else None), ids


def core_static(core, ids, how):
    tag = "core (%s)" % how
    cmds = look(True) + [
        ("locals", "goroutine gdbtest_id_parker info locals"),
        ("regmode", "set libgmp-backtrace registers"),
        ("regbt", "goroutine gdbtest_id_parker bt"),
    ]
    out, s = run_gdb([args.static, core], cmds)
    where = "gdbtest_stop" if how == "gcore" else "__pthread_kill"
    check_look(tag, out, s, ids, True, where, "frame pointers")
    check(re.search(r"libgmp: cannot point a thread at goroutine \d+'s registers.*only bt",
                    s.get("locals", "")),
          "%s: a command other than bt says a core allows only bt" % tag, s.get("locals"))
    check(re.search(r"libgmp: cannot point a thread", s.get("regbt", "")),
          "%s: libgmp-backtrace registers fails clearly on a core" % tag, s.get("regbt"))


def kernel_core(tmp):
    """A core the kernel writes when gdbprog dies of SIGABRT: what production gives."""
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    if pattern.startswith("|"):
        report(True, "kernel core", skip="core_pattern pipes cores to %s" % pattern.split()[0])
        return
    d = os.path.join(tmp, "kcore")
    os.mkdir(d)

    def limits():  # as large a core as the hard limit allows (0: no core, SKIP below)
        hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    p = subprocess.run([os.path.abspath(args.static), "--abort"], cwd=d, env=BASE_ENV,
                       preexec_fn=limits, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=TIMEOUT)
    ids = ids_of(p.stdout)
    cores = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("core")]
    if p.returncode != -signal.SIGABRT or not ids or not cores:
        report(True, "kernel core", skip="no core from the kernel (rc %d, core_pattern %r)"
               % (p.returncode, pattern))
        return
    core_static(cores[0], ids, "kernel")


def live_pthread():
    tag = "live, pthread Ms"
    env = dict(BASE_ENV, GMPDEBUG="mclone=pthread")
    cmds = [("break", "break gdbtest_stop"), ("run", "run")] + look(True) + [("kill", "kill")]
    out, s = run_gdb([args.static], cmds, env=env)
    ids = ids_of(out)
    if check(ids, "%s: gdbprog_static runs under gdb and stops" % tag, out):
        check_look(tag, out, s, ids, True, "gdbtest_stop", "registers")


def live_shared_autoload(tmp):
    """libgmp.so, the script found by gdb's auto-load rule under the name gdb/meson.build
    installs it with (no `source`)."""
    tag = "libgmp.so, auto-loaded"
    auto = os.path.join(tmp, "auto")
    real = os.path.realpath(args.lib)
    d = auto + os.path.dirname(real)
    os.makedirs(d)
    shutil.copy(SCRIPT, os.path.join(d, args.autoload_name))
    pre = ["set auto-load scripts-directory " + auto, "set auto-load safe-path " + auto]
    cmds = [("break", "break gdbtest_stop"), ("run", "run"), ("loaded", "info auto-load")]
    cmds += look(False) + [("kill", "kill")]
    out, s = run_gdb([args.shared], cmds, source=False, pre=pre)
    ids = ids_of(out)
    if not check(ids, "%s: gdbprog_shared runs under gdb and stops" % tag, out):
        return
    check(re.search(r"Yes\s+\S*/%s" % re.escape(args.autoload_name), s.get("loaded", "")),
          "%s: gdb auto-loads %s for %s" % (tag, args.autoload_name, real), out)
    check_look(tag, out, s, ids, False, "gdbtest_stop", "registers")


def attached(tmp):
    """gdb -p on a running gdbprog (goroutine 1 in a system call); also measures what a gcore
    of it would dump before anyone works around it."""
    tag = "attached"
    p = subprocess.Popen([os.path.abspath(args.static), "--wait"], env=BASE_ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = p.stdout.readline()
        ids = ids_of(line)
        if not check(ids, "%s: gdbprog_static --wait starts" % tag, line):
            return
        arena_dump_check(ids["pid"])
        out, s = run_gdb(["-p", str(ids["pid"])], look(True) + [("detach", "detach")])
        if "ptrace: Operation not permitted" in out:
            report(True, tag, skip="ptrace attach not permitted here")
            return
        check_look(tag, out, s, ids, True, "", "registers")
    finally:
        p.kill()
        p.wait()


def arena_dump_check(pid):
    """gdb's gcore writes every mapping not marked VM_DONTDUMP, inaccessible ones too, as
    zeros: the runtime's reservations (the g arena) must be MADV_DONTDUMP (allg.cc)."""
    total = 0
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        smaps = f.read()
    if "libasan" in smaps:
        report(True, "gcore would write only the runtime's reservations it needs",
               skip="an ASan build: ASan's shadow memory reservations are its own")
        return
    for line in smaps.splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ", line)
        if m:
            cur = (int(m.group(2), 16) - int(m.group(1), 16), m.group(3))
        elif line.startswith("VmFlags:") and cur:
            if cur[1].startswith("---") and " dd" not in line:
                total += cur[0]
    gib = total / (1 << 30)
    report(gib < 1, "gcore would write %.1f GiB of inaccessible (PROT_NONE) reservations "
           "(< 1 GiB wanted)" % gib)


def errors():
    """Clear errors when there is nothing to read."""
    _, s = run_gdb([args.static], [("noproc", "info goroutines")])
    check(re.search(r"libgmp: no process or core file", s.get("noproc", "")),
          "errors: no process: `no process or core file`", s.get("noproc"))
    _, s = run_gdb([args.static], [("starti", "starti"), ("early", "info goroutines"),
                                   ("kill", "kill")])
    check(re.search(r"libgmp: the runtime has not started", s.get("early", "")),
          "errors: before the runtime starts: `the runtime has not started`", s.get("early"))
    true = shutil.which("true") or "/bin/true"
    _, s = run_gdb([true], [("starti", "starti"), ("none", "info goroutines"),
                            ("kill", "kill")])
    check(re.search(r"libgmp: .*libgmp is not loaded", s.get("none", "")),
          "errors: a program without libgmp: `libgmp is not loaded`", s.get("none"))


def main():
    with tempfile.TemporaryDirectory(prefix="gmp-gdb-test-") as tmp:
        core, ids = live_static(tmp)
        if core:
            core_static(core, ids, "gcore")
        else:
            report(True, "core (gcore)", skip="no core from the live run")
        kernel_core(tmp)
        live_pthread()
        live_shared_autoload(tmp)
        attached(tmp)
        errors()
    print("1..%d" % ntest)
    return 1 if failed else 0


sys.exit(main())
