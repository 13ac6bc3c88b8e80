/*
 * sentinel_yield(out) — the switch must preserve every callee-saved register and the FP
 * control state: load sentinels into rbx, rbp, r12–r15, call gmp_yield (which switches to
 * another goroutine and back, maybe on another M), then store what the registers hold
 * into out[0..5]. The caller compares them with the sentinels.
 *
 *   void sentinel_yield(uint64_t out[6]);     out in %rdi
 *
 * Frame: the six callee-saved registers of our caller, then out (kept across the call):
 * seven pushes after the return address leave %rsp 16-byte aligned for the call.
 */
#include "calleesaved.inc"

        .text
        .globl  sentinel_yield
        .type   sentinel_yield, @function
sentinel_yield:
        .cfi_startproc
        PUSH_CALLEESAVED
        pushq   %rdi                        /* out */
        .cfi_adjust_cfa_offset 8
        movabsq $0x1111111111111111, %rbx
        movabsq $0x2222222222222222, %rbp
        movabsq $0x3333333333333333, %r12
        movabsq $0x4444444444444444, %r13
        movabsq $0x5555555555555555, %r14
        movabsq $0x6666666666666666, %r15
        call    gmp_yield
        movq    (%rsp), %rax                /* out */
        movq    %rbx, 0(%rax)
        movq    %rbp, 8(%rax)
        movq    %r12, 16(%rax)
        movq    %r13, 24(%rax)
        movq    %r14, 32(%rax)
        movq    %r15, 40(%rax)
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        POP_CALLEESAVED
        ret
        .cfi_endproc
        .size   sentinel_yield, .-sentinel_yield

        .section .note.GNU-stack, "", @progbits
