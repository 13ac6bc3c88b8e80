/*
 * gmptest_rawread(fd, buf, out) — read(fd, buf, 1) with its own `syscall` instruction,
 * outside the runtime's code (a shared library of its own: lazysyscall.cc leaves system
 * calls in libgmp's code alone), around known values in registers the call must keep.
 * out[0..9]: rdi, rsi, rdx, r10, r8, r9, r12, xmm0, xmm9, xmm15 after the call. Returns rax.
 */
        .text
        .globl  gmptest_rawread
        .type   gmptest_rawread, @function
gmptest_rawread:
        .cfi_startproc
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        movq    %rdx, %rbx
        movq    $0x1010, %r10
        movq    $0x0808, %r8
        movq    $0x0909, %r9
        movq    $0x1212, %r12
        movq    k0(%rip), %xmm0
        movq    k9(%rip), %xmm9
        movq    k15(%rip), %xmm15
        movl    $1, %edx
        xorl    %eax, %eax                  /* SYS_read */
        syscall
        movq    %rdi, 0(%rbx)
        movq    %rsi, 8(%rbx)
        movq    %rdx, 16(%rbx)
        movq    %r10, 24(%rbx)
        movq    %r8, 32(%rbx)
        movq    %r9, 40(%rbx)
        movq    %r12, 48(%rbx)
        movq    %xmm0, 56(%rbx)
        movq    %xmm9, 64(%rbx)
        movq    %xmm15, 72(%rbx)
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_endproc
        .size   gmptest_rawread, .-gmptest_rawread

        .section .rodata
        .p2align 3
k0:     .quad   0xa0a0a0a0
k9:     .quad   0xa9a9a9a9
k15:    .quad   0xafafafaf

        .section .note.GNU-stack,"",@progbits
