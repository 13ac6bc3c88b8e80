/*
 * gostart / goexit — the bottom frame of every goroutine (Go's goexit, TOPFRAME).
 *
 * A new g's first gogo "returns" here on a fresh stack (see proc.cc: gostackinit):
 *
 *   stack.hi        | (top of the goroutine's stack, 16-byte aligned)   |
 *   stack.hi - 0x40 | initial switchframe popped by gogo, return = here |
 *
 * The initial frame's r12 holds g->startfn and r13 g->startarg (proc.cc: gostackinit).
 * gostart calls startfn(startarg) on a 16-byte-aligned stack with %rbp = 0; when it
 * returns, control falls into goexit, which calls goexit1 → mcall(goexit0) and never comes
 * back. `.cfi_undefined rip` marks this as the outermost frame, so gdb, perf, libunwind and
 * C++ exception unwinding stop here instead of walking into garbage. goexit is a local label,
 * not a symbol: the return address startfn's frame holds is exactly goexit, which a
 * frame-pointer unwinder symbolises as is and a DWARF one as goexit - 1, so a symbol there
 * would name the same root frame gmp_goexit in `perf record -g` and gmp_gostart in
 * `--call-graph dwarf`. Without it both say gmp_gostart.
 *
 * Once startfn runs, the top of the stack reads:
 *
 *   stack.hi - 0x08 | 0 (a null return address)           |  headroom, pushed here
 *   stack.hi - 0x10 | 0 (a null saved %rbp)               |
 *   stack.hi - 0x18 | return address: goexit              |  <- startfn's CFA - 8
 *   stack.hi - 0x20 | 0: startfn's saved %rbp (fp builds) |  <- startfn's %rbp
 *
 * Headroom: why the return address is not the stack's last word. perf --call-graph dwarf
 * copies the user stack from %rsp up to 8 KiB, or to the first unreadable byte: for a
 * goroutine sampled near its root, that is stack.hi (above it lies the next stack's guard
 * page). perf then unwinds the copy with libunwind, whose memory reader rejects
 * `addr + 8 >= end`, the copy's last word included (tools/perf/util/
 * unwind-libunwind-local.c: access_mem; perf 6.1, still so in 2024's sources). With the
 * return address in that word, libunwind got 0 for it, and every chain ended in a bogus
 * `ffffffffffffffff [unknown]` frame (ip 0, less one) where gmp_gostart should be. perf's libdw reader (unwind-libdw.c: memory_read)
 * tests `> end` and was not affected. glibc's threads never meet this: start_thread's frame
 * sits below the thread's TCB in the same mapping. Go leaves the same kind of room under a
 * new g's stack top (newproc1: "extra space in case of reads slightly beyond frame"). Two
 * zero words keep %rsp 16-byte aligned and make the root look like a frame record
 * {rbp 0, return 0}: the end of the chain to a frame-pointer walker that reads one frame
 * too far.
 */
        .text
        .globl  gmp_gostart
        .hidden gmp_gostart
        .type   gmp_gostart, @function
        .p2align 4
gmp_gostart:
        .cfi_startproc
        .cfi_undefined rip                  /* outermost frame: stop unwinding */
        endbr64
        xorl    %ebp, %ebp                  /* end the frame-pointer chain */
        andq    $-16, %rsp                  /* SysV: 16-byte aligned before the call */
        pushq   $0                          /* headroom (see above): a null return address */
        .cfi_adjust_cfa_offset 8
        pushq   $0                          /* ... and a null saved rbp; still aligned */
        .cfi_adjust_cfa_offset 8
        movq    %r13, %rdi                  /* arg = startarg */
        call    *%r12                       /* startfn(startarg) */
.Lgoexit:                                   /* startfn returned: the goroutine ends */
        call    gmp_goexit1                 /* mcall(goexit0); does not return */
        ud2
        .cfi_endproc
        .size   gmp_gostart, .-gmp_gostart

        .section .note.GNU-stack, "", @progbits
