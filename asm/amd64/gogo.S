/*
 * gogo(buf) — resume the g that buf belongs to. Never returns.
 *
 * void gmp_gogo(gobuf *buf);                buf in %rdi
 *
 * buf->sp points at the frame mcall pushed (see mcall.S), or at the initial frame newproc's
 * g gets when it first runs (stack.cc lays it out the same way, returning into gostart):
 *
 *   (the frame: see switchframe.inc)
 *
 * A g with a TCB of its own (g->fsbase, a pthread goroutine) gets it as %fs first, so the
 * TLS g slot written is its own.
 * Offsets: buf->sp 0, buf->g 16, g->m 24, g->fsbase 32, m->fpctl 8.
 */
#include "switchframe.inc"
#include "setfsbase.inc"

        .text
        .globl  gmp_gogo
        .hidden gmp_gogo
        .type   gmp_gogo, @function
        .p2align 4
gmp_gogo:
        .cfi_startproc
        endbr64
        movq    16(%rdi), %rax              /* rax = buf->g */
        movq    32(%rax), %rdx              /* a TCB of its own (g->fsbase)? We come from */
        testq   %rdx, %rdx                  /* g0, so %fs is the M's: load the g's */
        jz      2f
        SETFSBASE %rdx
2:
        movq    gmp_tls_g@gottpoff(%rip), %rcx  /* rcx = TLS offset of the g slot */
        movq    %rax, %fs:(%rcx)            /* setg(g) */
        movq    0(%rdi), %rsp               /* switch to the g's stack */
        SWITCHFRAME_CFI
        /* Load the FP control words only when they differ from the M's current ones
         * (m->fpctl, FP1): ldmxcsr and fldcw are slow serialising loads, and almost every
         * goroutine runs with the defaults. */
        movq    24(%rax), %rcx              /* rcx = g->m */
        movq    (%rsp), %rdx                /* saved: mxcsr | cw << 32 | pad << 48 */
        shlq    $16, %rdx                   /* drop the pad bytes */
        shrq    $16, %rdx
        cmpq    %rdx, 8(%rcx)               /* == m->fpctl? */
        je      1f
        movq    %rdx, 8(%rcx)               /* m->fpctl = saved (FP1) */
        ldmxcsr (%rsp)                      /* restore MXCSR */
        fldcw   4(%rsp)                     /* restore x87 control word */
1:
        POP_SWITCHFRAME
        popq    %rcx                        /* the resume pc ... */
        .cfi_adjust_cfa_offset -8
        .cfi_register rip, rcx
        jmp     *%rcx                       /* ... jumped to, not returned to: the return
                                             * stack buffer never saw this call, so a ret
                                             * would always mispredict */
        .cfi_endproc
        .size   gmp_gogo, .-gmp_gogo

        .section .note.GNU-stack, "", @progbits
