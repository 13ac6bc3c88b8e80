/*
 * gogo(buf) — resume the g that buf belongs to. Never returns.
 *
 * void gmp_gogo(gobuf *buf);                buf in %rdi
 *
 * buf->sp points at the frame mcall pushed (see mcall.S), or at the initial frame newproc's
 * g gets when it first runs (stack.cc lays it out the same way, returning into gostart):
 *
 *   buf->sp + 0x38 | return address (resume pc, or gmp_gostart)       |
 *            +0x30 | rbp                                              |
 *            +0x28 | rbx                                              |
 *            +0x20 | r12        (new g: startfn)                      |
 *            +0x18 | r13        (new g: startarg)                     |
 *            +0x10 | r14                                              |
 *            +0x08 | r15                                              |
 *            +0x00 | mxcsr (4) | x87 cw (2) | pad (2)                 |  <- buf->sp
 *
 * Offsets: buf->sp 0, buf->g 16, g->m 24, m->fpctl 8.
 */
        .text
        .globl  gmp_gogo
        .hidden gmp_gogo
        .type   gmp_gogo, @function
        .p2align 4
gmp_gogo:
        .cfi_startproc
        endbr64
        movq    16(%rdi), %rax              /* rax = buf->g */
        movq    gmp_tls_g@gottpoff(%rip), %rcx  /* rcx = TLS offset of the g slot */
        movq    %rax, %fs:(%rcx)            /* setg(g) */
        movq    0(%rdi), %rsp               /* switch to the g's stack */
        .cfi_def_cfa rsp, 64                /* CFA: above the return address */
        .cfi_offset rip, -8
        .cfi_offset rbp, -16
        .cfi_offset rbx, -24
        .cfi_offset r12, -32
        .cfi_offset r13, -40
        .cfi_offset r14, -48
        .cfi_offset r15, -56
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
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15                        /* restore R15 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        popq    %r14                        /* restore R14 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        popq    %r13                        /* restore R13 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        popq    %r12                        /* restore R12 */
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        popq    %rbx                        /* restore RBX */
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        popq    %rbp                        /* restore RBP */
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
        popq    %rcx                        /* the resume pc ... */
        .cfi_adjust_cfa_offset -8
        .cfi_register rip, rcx
        jmp     *%rcx                       /* ... jumped to, not returned to: the return
                                             * stack buffer never saw this call, so a ret
                                             * would always mispredict */
        .cfi_endproc
        .size   gmp_gogo, .-gmp_gogo

        .section .note.GNU-stack, "", @progbits
