/*
 * gostart / goexit — the bottom frame of every goroutine (Go's goexit, TOPFRAME).
 *
 * A new g's first gogo "returns" here on a fresh stack (see stack.cc: gostackinit):
 *
 *   stack.hi        | (top of the goroutine's stack, 16-byte aligned)   |
 *   stack.hi - 0x40 | initial switchframe popped by gogo, return = here |
 *
 * The initial frame's r12 holds g->startfn and r13 g->startarg (stack.cc: gostackinit).
 * gostart calls startfn(startarg) on a 16-byte-aligned stack with %rbp = 0; when it
 * returns, control falls into goexit, which calls goexit1 → mcall(goexit0) and never comes
 * back. `.cfi_undefined rip` marks this as the outermost frame, so gdb, perf, libunwind and
 * C++ exception unwinding stop here instead of walking into garbage.
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
        movq    %r13, %rdi                  /* arg = startarg */
        call    *%r12                       /* startfn(startarg) */
        .globl  gmp_goexit
        .hidden gmp_goexit
gmp_goexit:                                 /* startfn returned: the goroutine ends */
        call    gmp_goexit1                 /* mcall(goexit0); does not return */
        ud2
        .cfi_endproc
        .size   gmp_gostart, .-gmp_gostart

        .section .note.GNU-stack, "", @progbits
