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
 * We keep every register the C calls may clobber (savestate.inc), call gmp_lazyenter
 * (entersyscall), make the call gmp_lazyargs gives (the one we came for; for a write that a
 * signal cut short, its rest), ask gmp_lazydone whether to make another (the rest of a
 * write a SIGURG cut short again) or with what result to return, call gmp_lazyexit
 * (exitsyscall on this M), and return as
 * the `syscall` instruction would have: rax the result, everything else as it was (rcx and r11, which
 * the instruction clobbers, are restored too). `ret $128` skips the red zone.
 *
 * Another SIGURG of sysmon's may land while the call waits here. A call the kernel restarts
 * comes back to our `syscall`; one it ends in EINTR (lazysyscall.cc, remakenr) is wound back
 * to it by the handler (gmp_lazysyscall_ret, the instruction after it: rax the number
 * again, the arguments still in their registers).
 */
#include "savestate.inc"

        .text
        .globl  gmp_lazysyscall
        .hidden gmp_lazysyscall
        .type   gmp_lazysyscall, @function
        .p2align 4
gmp_lazysyscall:
        .cfi_startproc
        REDIRECTED
        SAVESTATE                           /* -8(%rbp): the number, then the result */
        call    gmp_lazyenter
.Lcall:
        leaq    -56(%rbp), %rdi             /* the call as it came: r9 ... rax, upwards */
        call    gmp_lazyargs                /* the call to make: the number, six arguments */
        movq    8(%rax), %rdi
        movq    16(%rax), %rsi
        movq    24(%rax), %rdx
        movq    32(%rax), %r10
        movq    40(%rax), %r8
        movq    48(%rax), %r9
        movq    (%rax), %rax
        syscall
        .globl  gmp_lazysyscall_ret         /* a SIGURG here, -EINTR: the handler rewinds */
        .hidden gmp_lazysyscall_ret
gmp_lazysyscall_ret:
        movq    %rax, %rdi
        call    gmp_lazydone                /* rax: the result; rdx not 0: make the rest */
        testq   %rdx, %rdx
        jnz     .Lcall
        movq    %rax, -8(%rbp)
        call    gmp_lazyexit
        RESTORESTATE
        REDIRECTEDRET
        .cfi_endproc
        .size   gmp_lazysyscall, .-gmp_lazysyscall

        .section .note.GNU-stack,"",@progbits
