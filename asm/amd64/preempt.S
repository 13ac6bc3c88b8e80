/*
 * gmp_asyncpreempt — a goroutine stopped where it was by sysmon's preemption request
 * yields its P (src/preempt.cc; Go's asyncPreempt).
 *
 * The SIGURG handler sends the interrupted thread here instead of back to the instruction
 * it was about to run, and left the stack as:
 *
 *   [rsp]        the interrupted instruction's address (where we return)
 *   [rsp+8]      128 bytes left alone: the interrupted code's red zone
 *   [rsp+136]    the interrupted code's stack
 *
 * We keep every register the C call may clobber (savestate.inc), call gmp_asyncpreempt2
 * (gosched: other goroutines run; this one resumes later, maybe on another M), restore
 * them all and return to the interrupted instruction with `ret $128`, which skips the red
 * zone. The callee-saved registers come back through the switch itself.
 *
 * CFI: the frame is a signal frame (.cfi_signal_frame): the return address is the
 * interrupted instruction itself, not one after a call, so unwinders (a goroutine dump,
 * gdb, libgcc) look up its caller's CFI at that address, not the byte before it.
 */
#include "savestate.inc"

        .text
        .globl  gmp_asyncpreempt
        .hidden gmp_asyncpreempt
        .type   gmp_asyncpreempt, @function
        .p2align 4
gmp_asyncpreempt:
        .cfi_startproc
        .cfi_signal_frame
        REDIRECTED
        SAVESTATE
        call    gmp_asyncpreempt2
        RESTORESTATE
        REDIRECTEDRET
        .cfi_endproc
        .size   gmp_asyncpreempt, .-gmp_asyncpreempt

        .section .note.GNU-stack,"",@progbits
