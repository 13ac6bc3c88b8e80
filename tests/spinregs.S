/*
 * gmptest_spinregs(flag, out, avx) — spin until *flag != 0 with known values in every
 * register a preemption must keep, outside the runtime's code (a shared library of its
 * own: preempt.cc stops no goroutine in libgmp's code, and the runtime test links the
 * runtime in), then store what the registers hold:
 *
 *   out[0..14]   rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15
 *   out[15]      MXCSR (set to round toward zero, 0x7f80, for the spin)
 *   out[16]      rflags & DF (set for the spin: 0x400)
 *   out[17..80]  ymm0..ymm15, 32 bytes each (with avx == 0: xmm0..xmm15, the upper halves
 *                left as they were)
 *   out[81]      the x87 stack's TOP (5: the three values pushed for the spin)
 *   out[82..84]  those values popped, as doubles: log2(10), pi, 1
 *   out[85]      how many of the 16 words of the red zone (below rsp), set for the spin,
 *                changed
 *
 * The values: general register i (in the order above) holds 0x1111111111111111 * (i + 1)
 * but rsi (out) and rdi (flag), which keep the arguments; vector register v holds the 32
 * bytes v*32 .. v*32+31 (vectors, below). Everything callee-saved is restored, MXCSR reset
 * to 0x1f80 and DF cleared before the return.
 *
 *   void gmptest_spinregs(const volatile int *flag, uint64_t *out, int avx);
 */
#include "calleesaved.inc"

        .section .rodata
        .p2align 5
vectors:
        .irp    i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63
        .byte   \i*8, \i*8+1, \i*8+2, \i*8+3, \i*8+4, \i*8+5, \i*8+6, \i*8+7
        .endr

        .text
        .globl  gmptest_spinregs
        .type   gmptest_spinregs, @function
gmptest_spinregs:
        .cfi_startproc
        PUSH_CALLEESAVED
        leaq    40(%rsp), %rbp              /* CFI on rsp: rbp holds a value in the spin */
        pushq   %rsi                        /* -48(%rbp): out */
        .cfi_adjust_cfa_offset 8
        pushq   %rdx                        /* -56(%rbp): avx */
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp                    /* -64(%rbp): MXCSR */
        .cfi_adjust_cfa_offset 8
        leaq    vectors(%rip), %rax
        testl   %edx, %edx
        jz      1f
        .irp    v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        vmovdqu \v*32(%rax), %ymm\v
        .endr
        jmp     2f
1:
        .irp    v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movdqu  \v*32(%rax), %xmm\v
        .endr
2:
        movl    $0x7f80, -64(%rbp)
        ldmxcsr -64(%rbp)
        pushq   %rbp                        /* the frame pointer, back after the spin */
        .cfi_adjust_cfa_offset 8
        fld1                                /* three values on the x87 stack */
        fldpi
        fldl2t
        .irp    i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
        movabsq $0x5a5a5a5a00000000 + \i, %rax
        movq    %rax, -8*\i(%rsp)          /* the red zone */
        .endr
        movabsq $0x1111111111111111, %rax
        movabsq $0x2222222222222222, %rbx
        movabsq $0x3333333333333333, %rcx
        movabsq $0x4444444444444444, %rdx
        movabsq $0x7777777777777777, %rbp
        movabsq $0x8888888888888888, %r8
        movabsq $0x9999999999999999, %r9
        movabsq $0xaaaaaaaaaaaaaaaa, %r10
        movabsq $0xbbbbbbbbbbbbbbbb, %r11
        movabsq $0xcccccccccccccccc, %r12
        movabsq $0xdddddddddddddddd, %r13
        movabsq $0xeeeeeeeeeeeeeeee, %r14
        movabsq $0xffffffffffffffff, %r15
        std
3:
        pause
        cmpl    $0, (%rdi)
        je      3b
        leaq    -128(%rsp), %rsp            /* keep the red zone: the pushes go below it */
        .cfi_adjust_cfa_offset 128
        pushfq                              /* (%rsp): rflags; 144(%rsp): the frame pointer */
        .cfi_adjust_cfa_offset 8
        pushq   %rax                        /* rax's value */
        .cfi_adjust_cfa_offset 8
        movq    144(%rsp), %rax             /* the frame pointer: the slots above */
        movq    -48(%rax), %rax             /* out */
        movq    %rbx, 8(%rax)
        movq    %rcx, 16(%rax)
        movq    %rdx, 24(%rax)
        movq    %rsi, 32(%rax)
        movq    %rdi, 40(%rax)
        movq    %rbp, 48(%rax)
        movq    %r8, 56(%rax)
        movq    %r9, 64(%rax)
        movq    %r10, 72(%rax)
        movq    %r11, 80(%rax)
        movq    %r12, 88(%rax)
        movq    %r13, 96(%rax)
        movq    %r14, 104(%rax)
        movq    %r15, 112(%rax)
        popq    %rbx                        /* rax's value */
        .cfi_adjust_cfa_offset -8
        movq    %rbx, 0(%rax)
        popq    %rbx                        /* rflags */
        .cfi_adjust_cfa_offset -8
        cld
        andq    $0x400, %rbx
        movq    %rbx, 128(%rax)
        xorl    %ecx, %ecx                  /* the red zone's words that changed */
        .irp    i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
        movabsq $0x5a5a5a5a00000000 + \i, %rdx
        cmpq    %rdx, 128-8*\i(%rsp)
        setne   %dl
        movzbl  %dl, %edx
        addq    %rdx, %rcx
        .endr
        movq    %rcx, 680(%rax)
        fnstsw  %ax                         /* TOP, bits 11-13 of the status word */
        movzwl  %ax, %ecx
        shrl    $11, %ecx
        andl    $7, %ecx
        movq    128(%rsp), %rax             /* the frame pointer */
        movq    -48(%rax), %rax             /* out */
        movq    %rcx, 648(%rax)
        fstpl   656(%rax)                   /* log2(10), pi, 1 as doubles */
        fstpl   664(%rax)
        fstpl   672(%rax)
        leaq    128(%rsp), %rsp
        .cfi_adjust_cfa_offset -128
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        stmxcsr -64(%rbp)
        movl    -64(%rbp), %ebx
        movq    %rbx, 120(%rax)
        movl    $0x1f80, -64(%rbp)
        ldmxcsr -64(%rbp)
        cmpl    $0, -56(%rbp)
        jz      4f
        .irp    v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        vmovdqu %ymm\v, 136+\v*32(%rax)
        .endr
        vzeroupper
        jmp     5f
4:
        .irp    v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movdqu  %xmm\v, 136+\v*32(%rax)
        .endr
5:
        leaq    -40(%rbp), %rsp
        .cfi_def_cfa_offset 56
        POP_CALLEESAVED
        ret
        .cfi_endproc
        .size   gmptest_spinregs, .-gmptest_spinregs

/*
 * gmptest_x87tags() — the x87 tag word (fnstenv): 0xffff when the x87 stack is empty, as
 * the ABI promises at every call (and so in the goroutine that runs next on an M).
 */
        .globl  gmptest_x87tags
        .type   gmptest_x87tags, @function
gmptest_x87tags:
        .cfi_startproc
        subq    $40, %rsp
        .cfi_adjust_cfa_offset 40
        fnstenv (%rsp)
        fldcw   (%rsp)                      /* fnstenv masked the exceptions: undo that */
        movzwl  8(%rsp), %eax
        addq    $40, %rsp
        .cfi_adjust_cfa_offset -40
        ret
        .cfi_endproc
        .size   gmptest_x87tags, .-gmptest_x87tags

        .section .note.GNU-stack,"",@progbits
