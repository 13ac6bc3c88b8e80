/*
 * gmp_clone — clone(2) a thread that runs fn(arg) on a stack of ours (Go's runtime·clone).
 *
 * long gmp_clone(unsigned long flags, void *stack, int *ptid, int *ctid, void *tls,
 *                void (*fn)(void *), void *arg);
 *        rdi = flags, rsi = stack (16-byte aligned top), rdx = ptid, rcx = ctid,
 *        r8 = tls, r9 = fn, 8(%rsp) = arg
 *
 * Returns the child's tid in the parent, or -errno. fn and arg travel on the child's stack,
 * the one thing the child shares with us at birth:
 *
 *   stack      | (16-byte aligned top)  |
 *   stack - 8  | arg                    |
 *   stack - 16 | fn                     |  <- child's %rsp after the syscall
 *
 * The child pops both (so fn is called with %rsp 16-byte aligned), marks the frame
 * outermost, and calls fn(arg); if fn returns the thread exits (Ms never do).
 */
        .text
        .globl  gmp_clone
        .hidden gmp_clone
        .type   gmp_clone, @function
        .p2align 4
gmp_clone:
        .cfi_startproc
        endbr64
        movq    8(%rsp), %rax               /* rax = arg */
        subq    $16, %rsi                   /* make room on the child's stack */
        movq    %r9, 0(%rsi)                /* child's fn */
        movq    %rax, 8(%rsi)               /* child's arg */
        movq    %rcx, %r10                  /* syscall arg 4: ctid */
        movl    $56, %eax                   /* SYS_clone */
        syscall
        testq   %rax, %rax
        jz      1f                          /* 0: we are the child */
        ret                                 /* parent: tid or -errno */
1:
        .cfi_undefined rip                  /* child: outermost frame */
        xorl    %ebp, %ebp                  /* end the frame-pointer chain */
        popq    %rax                        /* fn */
        popq    %rdi                        /* arg */
        call    *%rax                       /* fn(arg) */
        xorl    %edi, %edi                  /* fn returned: exit(0) this thread only */
        movl    $60, %eax                   /* SYS_exit */
        syscall
        ud2
        .cfi_endproc
        .size   gmp_clone, .-gmp_clone

        .section .note.GNU-stack, "", @progbits
