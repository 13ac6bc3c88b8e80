/*
 * gmp_lazysyscall — a blocking system call that sysmon found holding its P, made again
 * between entersyscall and exitsyscall (src/lazysyscall.cc).
 *
 * The SIGURG handler sends the interrupted thread here. The kernel had wound it back to its
 * `syscall` instruction to restart the call (SA_RESTART), so the registers hold what the
 * call needs: rax the number, rdi, rsi, rdx, r10, r8, r9 the arguments. The handler left the
 * stack as:
 *
 *   [rsp]        the address after that `syscall` instruction (where we return)
 *   [rsp+8]      128 bytes left alone: the interrupted code's red zone
 *   [rsp+136]    the interrupted code's stack
 *
 * We keep every register the C calls may clobber (the general ones and rflags on the
 * stack, the extended state — x87, SSE, AVX, AVX-512 — with xsave, mask gmp_xsavemask into
 * a 64-byte-aligned area of gmp_xsavesize bytes), call gmp_lazyenter (entersyscall), make
 * the call, call gmp_lazyexit (exitsyscall on this M), and return as the `syscall`
 * instruction would have: rax the result, everything else as it was (rcx and r11, which
 * the instruction clobbers, are restored too). `ret $128` skips the red zone.
 */
/* The extended state to or from the area at %rsp; clobbers eax and edx. */
        .macro  XSTATE op
        movl    gmp_xsavemask(%rip), %eax
        xorl    %edx, %edx
        \op    (%rsp)
        .endm

        .text
        .globl  gmp_lazysyscall
        .hidden gmp_lazysyscall
        .type   gmp_lazysyscall, @function
        .p2align 4
gmp_lazysyscall:
        .cfi_startproc
        .cfi_def_cfa rsp, 136
        .cfi_offset rip, -136
        endbr64
        pushq   %rbp
        .cfi_def_cfa_offset 144
        .cfi_offset rbp, -144
        movq    %rsp, %rbp
        .cfi_def_cfa_register rbp
        pushq   %rax                        /* -8(%rbp): the number, then the result */
        pushq   %rdi                        /* -16 */
        pushq   %rsi                        /* -24 */
        pushq   %rdx                        /* -32 */
        pushq   %r10                        /* -40 */
        pushq   %r8                         /* -48 */
        pushq   %r9                         /* -56 */
        pushq   %rcx                        /* -64 */
        pushq   %r11                        /* -72 */
        pushfq                              /* -80 */
        subq    gmp_xsavesize(%rip), %rsp
        andq    $-64, %rsp
        xorl    %eax, %eax                  /* xrstor wants the header's reserved bytes 0 */
        movq    %rax, 512(%rsp)
        movq    %rax, 520(%rsp)
        movq    %rax, 528(%rsp)
        movq    %rax, 536(%rsp)
        movq    %rax, 544(%rsp)
        movq    %rax, 552(%rsp)
        movq    %rax, 560(%rsp)
        movq    %rax, 568(%rsp)
        XSTATE  xsave64                     /* the system call itself needs none of it */
        call    gmp_lazyenter
        movq    -8(%rbp), %rax
        movq    -16(%rbp), %rdi
        movq    -24(%rbp), %rsi
        movq    -32(%rbp), %rdx
        movq    -40(%rbp), %r10
        movq    -48(%rbp), %r8
        movq    -56(%rbp), %r9
        syscall
        movq    %rax, -8(%rbp)
        call    gmp_lazyexit
        XSTATE  xrstor64
        leaq    -80(%rbp), %rsp
        popfq
        popq    %r11
        popq    %rcx
        popq    %r9
        popq    %r8
        popq    %r10
        popq    %rdx
        popq    %rsi
        popq    %rdi
        popq    %rax
        popq    %rbp
        .cfi_restore rbp
        .cfi_def_cfa rsp, 136
        ret     $128
        .cfi_endproc
        .size   gmp_lazysyscall, .-gmp_lazysyscall

        .section .note.GNU-stack,"",@progbits
