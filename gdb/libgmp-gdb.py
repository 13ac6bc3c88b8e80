# libgmp-gdb.py — gdb support for libgmp, Go's G/M/P scheduler for C and C++: what Go's
# src/runtime/runtime-gdb.py is to Go programs.
#
#   info goroutines          one line per live goroutine: id, status, where it is
#   goroutine N CMD...       run a gdb command (bt, frame 2, info locals...) as if goroutine N
#                            were on the selected thread; CMD defaults to bt
#   goroutine all CMD...     the same for every live goroutine
#   set libgmp-backtrace auto|registers|frame-pointers
#                            how `goroutine N` unwinds a goroutine that is not running
#
# Loaded automatically for an installed libgmp.so (gdb/meson.build installs it under gdb's
# auto-load directory), or by hand: `source /path/to/libgmp-gdb.py`. See gdb/README.md.
#
# What the script reads
#
# Only the runtime's own records, through the library's DWARF (it is built with -g), in a live
# process or a core file alike; nothing here calls into the process.
#   - gmp_allgs[0, gmp_allglen): every g record ever made (src/allg.cc). Records are never
#     freed, so any index below allglen is readable. Gidle (a P's unused batch) and Gdead
#     (exited, on a gFree list) records are not goroutines and are skipped, as Go's script
#     skips dead ones. The records are read in bulk (inferior.read_memory) and decoded at the
#     field offsets DWARF gives for gmp::g, so a million goroutines take seconds, not hours.
#   - For each g: goid, atomicstatus, waitreason_ (its text: gmp::waitReasonStrings), waitsince,
#     sched.sp (the saved frame), stk (the stack bounds), m_ (for a running g), startfn and
#     gopc (what it runs, who made it), parentgoid when the runtime has it.
#   - gmp::allm (the M list): id, procid (the OS thread's LWP id), curg.
#   - gmp::sched.coarsenow: the runtime's notion of "now", for "waiting N minutes".
# The runtime writes all of these without expecting a reader that stops it at an arbitrary
# instruction: gdb in all-stop mode (the default) stops every thread, so the records are
# consistent except for a g in the middle of a status change, which shows its old or new
# status. A core is the same snapshot. In non-stop mode other threads keep running and the
# listing is only a sketch.
#
# Where a goroutine is
#
# A running g (Grunning, or Gsyscall: in a system call on its own M) is on an OS thread: its
# g->m_->procid names the gdb thread, which gdb unwinds as usual. A g that is not running
# (Grunnable after it ran, Gwaiting) was switched out by mcall or switchto, which pushed its
# callee-saved registers on its own stack at g->sched.sp (asm/amd64/switchframe.inc):
#
#   sp+0x38 return address (rip)  +0x30 rbp  +0x28 rbx  +0x20 r12  +0x18 r13  +0x10 r14
#   sp+0x08 r15                   +0x00 mxcsr | x87 cw                        (rsp = sp+0x40)
#
# Two ways to unwind from there:
#   - registers: point the selected thread's frame 0 at those registers, run the command,
#     and put the thread's own registers back, as Go's script does. gdb then unwinds with
#     DWARF CFI and everything works (bt full, frame N, info locals). It needs register
#     writes, which only a live process allows.
#   - frame pointers: the runtime and its users are built with frame pointers, so from the
#     saved rbp the chain [rbp] = caller's rbp, [rbp+8] = return address leads down to the
#     goroutine's root, gmp_gostart (which zeroes rbp). Each pc is named with the symbol
#     tables (gdb.block_for_pc, gdb.find_pc_line, `info symbol`). Only bt, without locals;
#     the fallback for core files, and what `info goroutines` always uses (it must not
#     disturb the threads' registers).
# A runnable g that never ran has no stack yet (stk.lo == 0): it is shown by the function it
# will run (startfn).
import re
import struct

import gdb

# gstatus (src/runtime.h): the names Go's script and Go's dumps use.
G_IDLE = 0
G_RUNNABLE = 1
G_RUNNING = 2
G_SYSCALL = 3
G_WAITING = 4
G_DEAD = 6
STATUS_NAMES = {
    G_IDLE: "idle",
    G_RUNNABLE: "runnable",
    G_RUNNING: "running",
    G_SYSCALL: "syscall",
    G_WAITING: "waiting",
    G_DEAD: "dead",
}

# struct switchframe (src/runtime.h), lowest address first.
SWITCHFRAME_SIZE = 64
SWITCHFRAME_REGS = (("r15", 8), ("r14", 16), ("r13", 24), ("r12", 32), ("rbx", 40),
                    ("rbp", 48), ("rip", 56))

MAX_FRAMES = 1000      # a frame-pointer walk longer than this is a broken chain
READ_CHUNK = 4096      # g records read per read_memory call
MINUTE_NS = 60 * 1000 * 1000 * 1000


class _Error(gdb.GdbError):
    """An error for the user: gdb prints it without a Python traceback."""

    def __init__(self, msg):
        super().__init__("libgmp: " + msg)


# ---- reading the runtime -------------------------------------------------------------------

def _lookup_value(name):
    """The value of a global variable of the runtime, or None when gdb does not know it."""
    try:
        sym = gdb.lookup_global_symbol(name)
        if sym is None:
            sym = gdb.lookup_static_symbol(name)
        if sym is not None:
            return sym.value()
        return gdb.parse_and_eval(name)
    except gdb.error:
        return None


def _extern_c(name, type_):
    """An extern "C" variable declared in namespace gmp. Its DWARF name is gmp::name and
    carries no linkage name, so gdb cannot find its address ("Missing ELF symbol"); its ELF
    symbol is plain name, without a type. Read the ELF symbol at the DWARF type. (Types are
    not named in expressions: the parser does not find gmp::g from a frame in libc.)"""
    v = _lookup_value("gmp::" + name)
    try:
        if v is not None:
            v.fetch_lazy()
            return v
    except gdb.error:
        pass
    try:
        addr = int(gdb.parse_and_eval("&'%s'" % name))
    except gdb.error:
        return None
    return gdb.Value(addr).cast(type_.pointer()).dereference()


def _atomic(v):
    """What a libstdc++ std::atomic holds: _M_i for integers (atomic<bool> through _M_base),
    _M_p for pointers (through _M_b)."""
    while v.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        for name in ("_M_i", "_M_p", "_M_b", "_M_base"):
            try:
                v = v[name]
                break
            except gdb.error:
                continue
        else:
            raise _Error("cannot read a %s (not a libstdc++ std::atomic?)" % v.type)
    return v


class _Layout:
    """Where the fields the script reads sit in a gmp::g record, from DWARF."""

    # field path -> signed; read as little-endian integers of the field's DWARF size
    FIELDS = {
        "sched.sp": False, "m_": False, "stk.lo": False, "stk.hi": False,
        "atomicstatus": False, "waitreason_": False, "waitsince": True, "goid": True,
        "startfn": False, "startarg": False, "gopc": False, "parentgoid": True,
    }
    OPTIONAL = ("parentgoid",)

    def __init__(self, gtype):
        self.size = gtype.sizeof
        self.fields = {}
        for path, signed in self.FIELDS.items():
            found = self._find(gtype, path.split("."))
            if found is None:
                if path in self.OPTIONAL:
                    continue
                raise _Error("gmp::g has no field %s: this script does not match the "
                             "runtime" % path)
            off, size = found
            fmt = {1: "b", 2: "h", 4: "i", 8: "q"}[size]
            self.fields[path.replace(".", "_")] = (off, fmt if signed else fmt.upper())

    @staticmethod
    def _find(t, path):
        off = 0
        for name in path:
            t = t.strip_typedefs()
            for f in t.fields():
                if f.name == name:
                    off += f.bitpos // 8
                    t = f.type
                    break
            else:
                return None
        return off, t.strip_typedefs().sizeof

    def decode(self, buf, base, addr):
        rec = _G(addr)
        for name, (off, fmt) in self.fields.items():
            setattr(rec, name, struct.unpack_from("<" + fmt, buf, base + off)[0])
        return rec


class _G:
    """One g record, decoded."""
    parentgoid = 0

    def __init__(self, addr):
        self.addr = addr

    @property
    def status(self):
        return self.atomicstatus

    @property
    def started(self):
        return self.stk_lo != 0

    @property
    def running(self):
        return self.status in (G_RUNNING, G_SYSCALL)


class _Runtime:
    """The runtime of the selected inferior, read afresh for each command (a live process
    changes between commands)."""

    def __init__(self):
        _pc_cache.clear()  # code may have moved since the last command (a re-run, a dlopen)
        self.inferior = gdb.selected_inferior()
        if self.inferior.pid == 0 and not self.inferior.threads():
            raise _Error("no process or core file (run or attach the program, or load a core)")
        try:
            gtype = gdb.lookup_type("gmp::g")
            self.mptr = gdb.lookup_type("gmp::m").pointer()
        except gdb.error:
            raise _Error("no type gmp::g: libgmp is not loaded in this process, or was built "
                         "without debug information (-g)")
        allgs = _extern_c("gmp_allgs", gtype.pointer())
        allglen = _extern_c("gmp_allglen", gdb.lookup_type("long"))
        if allgs is None or allglen is None:
            raise _Error("no gmp_allgs symbol: libgmp is not loaded in this process")
        self.layout = _Layout(gtype)
        try:
            self.allgs = int(allgs)
            self.allglen = int(_atomic(allglen))
        except gdb.MemoryError as e:
            raise _Error("cannot read gmp_allgs (%s)" % e)
        if self.allgs == 0 or self.allglen <= 0:
            raise _Error("the runtime has not started in this process (gmp_allglen is 0)")
        self.now = None
        sched = _lookup_value("gmp::sched")
        if sched is not None:
            try:
                self.now = int(_atomic(sched["coarsenow"]))
            except gdb.error:
                pass
        self.waitreasons = _lookup_value("gmp::waitReasonStrings")
        self._gs = None
        self._ms = None

    def gs(self):
        """The live goroutines, in allgs order."""
        if self._gs is None:
            self._gs = []
            size = self.layout.size
            for start in range(0, self.allglen, READ_CHUNK):
                n = min(READ_CHUNK, self.allglen - start)
                addr = self.allgs + start * size
                try:
                    buf = bytes(self.inferior.read_memory(addr, n * size))
                except gdb.MemoryError as e:
                    raise _Error("cannot read g records at 0x%x (%s)" % (addr, e))
                for i in range(n):
                    g = self.layout.decode(buf, i * size, addr + i * size)
                    if g.status not in (G_IDLE, G_DEAD):
                        self._gs.append(g)
        return self._gs

    def find(self, goid):
        for g in self.gs():
            if g.goid == goid:
                return g
        raise _Error("no goroutine %d (`info goroutines` lists the live ones)" % goid)

    def ms(self):
        """The Ms: a list of (address, id, procid, curg address)."""
        if self._ms is None:
            self._ms = []
            allm = _lookup_value("gmp::allm")
            mp = _atomic(allm) if allm is not None else None
            while mp is not None and int(mp) != 0 and len(self._ms) < 100000:
                self._ms.append((int(mp), int(mp["id"]), int(_atomic(mp["procid"])),
                                 int(mp["curg"])))
                mp = mp["alllink"]
        return self._ms

    def thread_of(self, g):
        """The gdb thread running g (which must be running), or raise."""
        if g.m_ == 0:
            raise _Error("goroutine %d is %s but has no M" % (g.goid, self.status_text(g)))
        m = gdb.Value(g.m_).cast(self.mptr).dereference()
        lwp = int(_atomic(m["procid"]))
        for t in self.inferior.threads():
            if t.ptid[1] == lwp:
                return t
        raise _Error("goroutine %d runs on M%d, LWP %d, which gdb does not list as a thread"
                     % (g.goid, int(m["id"]), lwp))

    def current(self):
        """The goroutine the selected thread is running, or None."""
        t = gdb.selected_thread()
        if t is None:
            return None
        lwp = t.ptid[1]
        curg = {procid: cg for (_, _, procid, cg) in self.ms()}.get(lwp, 0)
        for g in self.gs():
            if g.running and (g.addr == curg or (curg == 0 and self._procid(g) == lwp)):
                return g
        return None

    def _procid(self, g):
        if g.m_ == 0:
            return None
        return int(_atomic(gdb.Value(g.m_).cast(self.mptr).dereference()["procid"]))

    def status_text(self, g):
        """Go's status column: "running", "waiting (semacquire)", "waiting (semacquire,
        3 minutes)"."""
        s = STATUS_NAMES.get(g.status, "unknown(%d)" % g.status)
        if g.status != G_WAITING:
            return s
        why = ""
        if g.waitreason_ != 0:
            why = "reason %d" % g.waitreason_
            try:
                if g.waitreason_ <= self.waitreasons.type.range()[1]:
                    why = self.waitreasons[g.waitreason_].string()
            except (AttributeError, RuntimeError, gdb.error, gdb.MemoryError,
                    UnicodeDecodeError):
                pass  # no waitReasonStrings, or not an array
        if self.now is not None and g.waitsince > 0:
            mins = (self.now - g.waitsince) // MINUTE_NS
            if mins >= 1:
                why += ", %d minute%s" % (mins, "" if mins == 1 else "s")
        return "%s (%s)" % (s, why) if why else s

    def read_words(self, addr, n):
        try:
            return struct.unpack("<%dQ" % n, bytes(self.inferior.read_memory(addr, 8 * n)))
        except gdb.MemoryError:
            return None

    def switchframe(self, g):
        """The registers g resumes with (dict), from the frame at g->sched.sp."""
        words = self.read_words(g.sched_sp, SWITCHFRAME_SIZE // 8)
        if words is None:
            raise _Error("goroutine %d: cannot read its saved frame at 0x%x"
                         % (g.goid, g.sched_sp))
        regs = {name: words[off // 8] for name, off in SWITCHFRAME_REGS}
        regs["rsp"] = g.sched_sp + SWITCHFRAME_SIZE
        return regs


# ---- naming code addresses -----------------------------------------------------------------

_pc_cache = {}


def _short(name):
    """A function's name without its C++ parameter list, as gdb's frame lines print it:
    "gmp::semacquire(std::atomic<unsigned int>*)" -> "gmp::semacquire"."""
    if name is None:
        return None
    name = re.sub(r"( const| volatile| &&| &| noexcept)+$", "", name)
    if not name.endswith(")"):
        return name
    depth = 0
    for i in range(len(name) - 1, -1, -1):
        if name[i] == ")":
            depth += 1
        elif name[i] == "(":
            depth -= 1
            if depth == 0:
                return name[:i] if i > 0 else name
    return name


def _minsym(pc):
    """(name, offset) of the ELF symbol holding pc, or (None, 0)."""
    try:
        out = gdb.execute("info symbol 0x%x" % pc, to_string=True)
    except gdb.error:
        return None, 0
    m = re.match(r"(.*?)(?: \+ (\d+))? in section ", out)
    if not m:
        return None, 0
    return m.group(1), int(m.group(2) or 0)


class _PC:
    """What a code address is: the functions at it (innermost first: inlined ones, then the
    real one), its source line, its shared object."""

    def __init__(self, pc):
        self.pc = pc
        self.names = []
        self.entry = False  # pc is the function's first instruction
        try:
            block = gdb.block_for_pc(pc)
        except RuntimeError:
            block = None
        while block is not None and not block.is_global and not block.is_static:
            if block.function is not None:
                self.names.append(_short(block.function.name))
                self.entry = block.start == pc
            block = block.superblock
        if not self.names:  # no debug information: the ELF symbol tables
            name, off = _minsym(pc)
            if name is not None:
                self.names.append(_short(name))
                self.entry = off == 0
        self.sal = gdb.find_pc_line(pc)
        try:
            self.solib = gdb.current_progspace().solib_name(pc)
        except AttributeError:
            self.solib = gdb.solib_name(pc)

    @property
    def function(self):
        """The real (not inlined) function."""
        return self.names[-1] if self.names else None

    @property
    def where(self):
        if self.sal is not None and self.sal.symtab is not None and self.sal.line:
            return " at %s:%d" % (self.sal.symtab.filename, self.sal.line)
        if self.solib:
            return " from %s" % self.solib
        return ""


def _pcinfo(pc):
    info = _pc_cache.get(pc)
    if info is None:
        info = _pc_cache[pc] = _PC(pc)
    return info


def _in_runtime(name, solib):
    """Is this function part of the runtime (what `info goroutines` looks past)?"""
    if solib and re.search(r"/libgmp\.so[.0-9]*$", solib):
        return True
    return name is None or name.startswith("gmp::") or name.startswith("gmp_")


def _is_root(name):
    return name in ("gmp_gostart", "gmp_goexit")


def _fp_frames(rt, g):
    """The frames of a switched-out g by its frame-pointer chain: a list of (pc, lookup pc),
    and a note when the chain ends before gmp_gostart."""
    regs = rt.switchframe(g)
    pc, rbp = regs["rip"], regs["rbp"]
    frames = []
    while len(frames) < MAX_FRAMES:
        if pc < 4096:
            return frames, "return address 0x%x: the stack is corrupt or missing" % pc
        # Every pc here is a return address: the call is at pc-1 (what gdb looks up too).
        frames.append((pc, pc - 1))
        if _is_root(_pcinfo(pc - 1).function):
            return frames, None
        if rbp == 0:
            return frames, "the frame-pointer chain ends (rbp = 0) before gmp_gostart"
        if not (g.stk_lo <= rbp < g.stk_hi):
            return frames, ("frame pointer 0x%x is outside the goroutine's stack "
                            "[0x%x, 0x%x)" % (rbp, g.stk_lo, g.stk_hi))
        words = rt.read_words(rbp, 2)
        if words is None:
            return frames, "cannot read the frame at 0x%x" % rbp
        nrbp, pc = words
        if nrbp != 0 and nrbp <= rbp:
            return frames, "the frame-pointer chain goes up the stack at 0x%x" % rbp
        rbp = nrbp
    return frames, "more than %d frames" % MAX_FRAMES


def _initial_frame(rt, g):
    """Has g a stack but not run on it yet (its frame returns into gmp_gostart)?"""
    ret = rt.read_words(g.sched_sp + 56, 1)
    return ret is not None and _pcinfo(ret[0]).function == "gmp_gostart" and \
        _pcinfo(ret[0]).entry


def _first_outside(groups):
    """The first function outside the runtime among frames given innermost first, each as
    (names innermost first, solib): an inlined function counts as part of the real function
    it is inlined into."""
    for names, solib in groups:
        if names and not _in_runtime(names[-1], solib):
            return names[0]
    return None


def _where(rt, g):
    """`info goroutines`' last column: where g is, outside the runtime if possible. One
    unreadable goroutine (a torn stack in a core) must not cost the whole listing."""
    try:
        return _where1(rt, g)
    except (gdb.error, gdb.MemoryError, RuntimeError, ValueError, OverflowError) as e:
        return "? (%s)" % e


def _where1(rt, g):
    if not g.started:
        return _pcinfo(g.startfn).function or "0x%x" % g.startfn
    if g.running:
        return _thread_where(rt, g)
    if _initial_frame(rt, g):
        return _pcinfo(g.startfn).function or "0x%x" % g.startfn
    try:
        frames, _ = _fp_frames(rt, g)
    except gdb.GdbError:
        return "?"
    groups = [(_pcinfo(lk).names, _pcinfo(lk).solib) for _, lk in frames]
    name = _first_outside(groups)
    if name is None and groups and groups[0][0]:
        name = groups[0][0][0]
    return name or "?"


def _thread_where(rt, g):
    try:
        t = rt.thread_of(g)
    except gdb.GdbError:
        return "?"
    with _SavedSelection():
        t.switch()
        frame = gdb.newest_frame()
        groups, names = [], []
        n = 0
        while frame is not None and n < MAX_FRAMES:
            names.append(_short(frame.name()))
            if frame.type() != gdb.INLINE_FRAME:
                groups.append((names, _pcinfo(frame.pc()).solib))
                names = []
            try:
                frame = frame.older()
            except gdb.error:
                break
            n += 1
        name = _first_outside(groups)
        if name is None and groups and groups[0][0]:
            name = groups[0][0][0]
        return (name or "?") + " [thread %d]" % t.num


class _SavedSelection:
    """Restores the selected thread and frame on exit."""

    def __enter__(self):
        self.thread = gdb.selected_thread()
        try:
            self.frame = gdb.selected_frame()
        except gdb.error:
            self.frame = None
        return self

    def __exit__(self, *exc):
        if self.thread is not None and self.thread.is_valid():
            self.thread.switch()
        if self.frame is not None:
            try:
                self.frame.select()
            except (gdb.error, RuntimeError):
                pass
        return False


# ---- commands ------------------------------------------------------------------------------

class _BacktraceParam(gdb.Parameter):
    """How `goroutine N CMD` unwinds a goroutine that is not running: "registers" points
    the selected thread at its saved registers while CMD runs (live processes only; any
    command works), "frame-pointers" walks its frame-pointer chain (bt only; works on core
    files), "auto" uses registers when it can write them and frame pointers otherwise."""

    set_doc = "Set how `goroutine N CMD` unwinds a switched-out goroutine."
    show_doc = "Show how `goroutine N CMD` unwinds a switched-out goroutine."

    def __init__(self):
        super().__init__("libgmp-backtrace", gdb.COMMAND_STACK, gdb.PARAM_ENUM,
                         ["auto", "registers", "frame-pointers"])
        self.value = "auto"

    def get_show_string(self, value):
        return "libgmp goroutine unwinding is \"%s\"." % value


_backtrace = _BacktraceParam()


class InfoGoroutines(gdb.Command):
    """List the goroutines of libgmp's runtime.

One line per live goroutine: its id, status (for a waiting one, why and, after a minute, for
how long) and where it is: the first function outside the runtime on its stack, or for one
that has not run yet the function it will run. A running goroutine also shows its gdb
thread. `*` marks the goroutine of the selected thread."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        rt = _Runtime()
        cur = rt.current()
        rows = [(g, rt.status_text(g), _where(rt, g)) for g in rt.gs()]
        if not rows:
            print("No live goroutines.")
            return
        width = max(len(st) for _, st, _ in rows)
        for g, st, where in rows:
            mark = "*" if cur is not None and g.addr == cur.addr else " "
            print("%s %d %-*s  %s" % (mark, g.goid, width, st, where))


class GoroutineCmd(gdb.Command):
    """Run a gdb command in the context of a goroutine.

Usage: goroutine N [CMD...]     (CMD defaults to bt)
       goroutine all [CMD...]

N is a goroutine id, as `info goroutines` lists them. For a running goroutine CMD runs on
its thread. For one that is switched out, CMD runs on the selected thread with frame 0's
registers set to the goroutine's saved ones, which are restored afterwards (live processes);
on a core file, where gdb cannot write registers, only bt is available, by walking the
goroutine's frame-pointer chain. `set libgmp-backtrace` chooses the method."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if not parts:
            raise _Error("usage: goroutine N|all [CMD...]")
        cmd = parts[1] if len(parts) > 1 else "bt"
        rt = _Runtime()
        if parts[0] == "all":
            for g in rt.gs():
                print("\ngoroutine %d [%s]:" % (g.goid, rt.status_text(g)))
                try:
                    _run_in(rt, g, cmd, from_tty)
                except gdb.GdbError as e:
                    print(e)
            return
        try:
            goid = int(gdb.parse_and_eval(parts[0]))
        except (gdb.error, ValueError):
            raise _Error("not a goroutine id: %s" % parts[0])
        _run_in(rt, rt.find(goid), cmd, from_tty)


_BT_RE = re.compile(r"^\s*(bt|backtrace|where)\b\s*(.*)$")


def _run_in(rt, g, cmd, from_tty):
    bt = _BT_RE.match(cmd)
    if g.running:
        with _SavedSelection():
            rt.thread_of(g).switch()
            gdb.execute(cmd, from_tty)
    elif not g.started or _initial_frame(rt, g):
        if not bt:
            raise _Error("goroutine %d has not run yet: it has no frames" % g.goid)
        fn = _pcinfo(g.startfn).function or "0x%x" % g.startfn
        print("goroutine %d has not run yet; it will run %s(0x%x)" % (g.goid, fn, g.startarg))
    else:
        mode = _backtrace.value
        if mode != "frame-pointers":
            try:
                _with_registers(rt, g, cmd, from_tty)
            except _RegisterWriteError as e:
                if mode == "registers" or not bt:
                    raise _Error("cannot point a thread at goroutine %d's registers (%s); on "
                                 "a core file only bt works (frame pointers)" % (g.goid, e))
                _fp_backtrace(rt, g, bt.group(2))
        else:
            if not bt:
                raise _Error("with libgmp-backtrace frame-pointers only bt works")
            _fp_backtrace(rt, g, bt.group(2))
    if bt:
        _created_by(g)


class _RegisterWriteError(Exception):
    pass


def _with_registers(rt, g, cmd, from_tty):
    """Run cmd with the selected thread's frame 0 at g's saved registers, then restore them.
    Registers are written in frame 0 only: in an outer frame gdb would write them into the
    frame's save slots on the stack."""
    regs = rt.switchframe(g)
    with _SavedSelection():
        gdb.newest_frame().select()
        saved = {r: int(gdb.parse_and_eval("(unsigned long)$" + r)) for r in regs}
        written = []
        try:
            try:
                for r, v in regs.items():
                    gdb.execute("set var $%s = %d" % (r, v), to_string=True)
                    written.append(r)
            except gdb.error as e:
                raise _RegisterWriteError(str(e))
            gdb.execute(cmd, from_tty)
        finally:
            if written:
                gdb.newest_frame().select()
                for r in written:
                    gdb.execute("set var $%s = %d" % (r, saved[r]), to_string=True)


def _fp_backtrace(rt, g, args):
    """bt by the frame-pointer chain, printed as gdb prints frames (without arguments)."""
    limit = None
    for a in args.split():
        if re.fullmatch(r"-?\d+", a):
            limit = int(a)
        else:
            print("(frame-pointer backtrace: ignoring %r; no arguments or locals)" % a)
    frames, note = _fp_frames(rt, g)
    lines = []
    for pc, lookup in frames:
        info = _pcinfo(lookup)
        names = info.names or ["??"]
        for i, name in enumerate(names):
            inlined = i < len(names) - 1
            # Only the innermost function has the pc's line; an inlined function's callers
            # are at its call site, which gdb's Python API does not give.
            where = info.where if i == 0 else ""
            if inlined or i > 0:
                lines.append("%s ()%s%s" % (name, where, " [inlined]" if inlined else ""))
            else:
                lines.append("0x%016x in %s ()%s" % (pc, name, where))
    if limit is not None:
        lines = lines[:limit] if limit >= 0 else lines[limit:]
    for i, line in enumerate(lines):
        print("#%-2d %s" % (i, line))
    if note and limit is None:
        print("(%s)" % note)


def _created_by(g):
    """Go's last traceback line: the function that made g and the line it did it on."""
    if g.goid == 1 or g.gopc == 0:
        return  # goroutine 1 is the program's main, made by the runtime at start-up
    info = _pcinfo(g.gopc - 1)
    s = "created by %s" % (info.function or "0x%x" % g.gopc)
    if g.parentgoid > 0:
        s += " in goroutine %d" % g.parentgoid
    print(s + info.where)


InfoGoroutines()
GoroutineCmd()
