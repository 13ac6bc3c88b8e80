/*
 * mcall(fn) — switch from the current user g to its M's g0 and call fn(g) there.
 *
 * void gmp_mcall(void (*fn)(g *));          fn in %rdi; fn never returns.
 *
 * The SysV callee-saved state of the caller is pushed on the g's own stack; g->sched.sp
 * then points at the lowest word, which is all gogo needs to resume (struct switchframe in
 * src/runtime.h asserts the same layout):
 *
 *   (the frame: see switchframe.inc)
 *
 * Then: TLS g = m->g0, %rsp = g0->sched.sp (fixed since mstart: g0 always restarts from
 * the top of its stack), %rbp = 0, call fn(g).
 * It also records the FP control words in m->fpctl (invariant FP1, see gogo.S).
 * A g with a TCB of its own (g->fsbase) hands %fs back to the M's (m->fsbase) first.
 * Offsets: g->sched.sp 0, g->sched.pc 8, g->m 24, g->fsbase 32, m->g0 0, m->fpctl 8,
 * m->fsbase 16.
 */
#include "switchframe.inc"
#include "setfsbase.inc"

        .text
        .globl  gmp_mcall
        .hidden gmp_mcall
        .type   gmp_mcall, @function
        .p2align 4
gmp_mcall:
        .cfi_startproc
        endbr64
        PUSH_SWITCHFRAME

        movq    %rdi, %r11                  /* r11 = fn */
        movq    gmp_tls_g@gottpoff(%rip), %rcx  /* rcx = TLS offset of the g slot */
        movq    %fs:(%rcx), %rax            /* rax = g (the caller) */
        movq    %rsp, 0(%rax)               /* g->sched.sp = rsp */
        movq    0x38(%rsp), %rdx            /* our return address ... */
        movq    %rdx, 8(%rax)               /* ... to g->sched.pc */
        movq    24(%rax), %rdx              /* rdx = g->m */
        movl    (%rsp), %r8d                /* MXCSR, read back at the size stored ... */
        movzwl  4(%rsp), %r9d               /* ... so store forwarding works */
        shlq    $32, %r9
        orq     %r9, %r8
        movq    %r8, 8(%rdx)                /* m->fpctl: the thread's FP control (FP1) */
        cmpq    $0, 32(%rax)                /* the g ran on a TCB of its own (g->fsbase)? */
        je      2f
        movq    16(%rdx), %r8               /* then back to the M's (m->fsbase), its g slot */
        movq    0(%rdx), %r9                /* holding g0 first: a signal right after the */
        movq    %r9, (%r8,%rcx)             /* the switch must not see a stale g there */
        SETFSBASE %r8
2:
        movq    0(%rdx), %rdx               /* rdx = m->g0 */
        movq    %rdx, %fs:(%rcx)            /* setg(g0) */
        movq    0(%rdx), %rsp               /* switch to g0's stack */
        .cfi_undefined rip                  /* g0's frames do not unwind into the user g */
        xorl    %ebp, %ebp                  /* end the frame-pointer chain on g0 */
        movq    %rax, %rdi                  /* fn(g) */
        call    *%r11
        call    gmp_badmcall                /* fn returned: fatal error */
        ud2
        .cfi_endproc
        .size   gmp_mcall, .-gmp_mcall

        .section .note.GNU-stack, "", @progbits
