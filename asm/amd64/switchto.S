/*
 * switchto(old, to, after) — switch from the running g straight to another one, without
 * passing through g0: gosched's fast path (src/proc.cc, "Yielding without g0").
 *
 * void gmp_switchto(g *old, gobuf *to, void (*after)(g *old));   rdi, rsi, rdx
 *
 * Saves old's context exactly as mcall does (same frame, so gogo or another switchto can
 * resume it), switches to to's stack and TLS g, calls after(old) there, then resumes to's
 * frame exactly as gogo does. after runs once old's context is complete, which is what
 * makes it safe to publish old (on a run queue) from it: a thief that takes old at once
 * finds a full frame. Returns (in old) when old is next resumed.
 *
 *   (the frame: see switchframe.inc)
 *
 * %fs: to's own TCB (g->fsbase) when it has one, else the M's when old had one.
 * Offsets: g->sched.sp 0, g->sched.pc 8, gobuf->g 16, g->m 24, g->fsbase 32, m->fsbase 16.
 * FP control: the words just saved are the thread's current ones; to's are loaded only
 * when they differ (as in gogo). m->fpctl is left alone: FP1 only speaks of g0, and the
 * next mcall on this thread refreshes it.
 */
#include "switchframe.inc"
#include "setfsbase.inc"

        .text
        .globl  gmp_switchto
        .hidden gmp_switchto
        .type   gmp_switchto, @function
        .p2align 4
gmp_switchto:
        .cfi_startproc
        endbr64
        PUSH_SWITCHFRAME

        movq    %rsp, 0(%rdi)               /* old->sched.sp = rsp */
        movq    0x38(%rsp), %rax            /* our return address ... */
        movq    %rax, 8(%rdi)               /* ... to old->sched.pc */
        movl    (%rsp), %ebx                /* rbx = the thread's FP control words now: */
        movzwl  4(%rsp), %eax               /*   mxcsr | cw << 32, read back at the size */
        shlq    $32, %rax                   /*   stored so store forwarding works */
        orq     %rax, %rbx

        movq    16(%rsi), %rax              /* rax = to->g */
        movq    gmp_tls_g@gottpoff(%rip), %rcx  /* rcx = TLS offset of the g slot */
        movq    32(%rax), %r8               /* %fs: to's own TCB (g->fsbase) if it has one */
        testq   %r8, %r8                    /* (its g slot holds to's g: tcbsetg), */
        jnz     3f
        cmpq    $0, 32(%rdi)                /* else the M's if old had one of its own */
        je      2f
        movq    24(%rax), %r8               /* to->m (runon set it; old->m is cleared) */
        movq    16(%r8), %r8                /* m->fsbase, whose g slot gets to's g before */
        movq    %rax, (%r8,%rcx)            /* %fs turns to it (a signal in between) */
3:
        SETFSBASE %r8
2:
        movq    %rax, %fs:(%rcx)            /* setg(to's g) */
        movq    0(%rsi), %rsp               /* switch to to's stack */
        SWITCHFRAME_CFI
        call    *%rdx                       /* after(old), rdi still old; rsp is 16-aligned
                                             * (the frame is 64 bytes under a return
                                             * address); rbx survives (callee-saved) */

        movq    (%rsp), %rdx                /* to's words: mxcsr | cw << 32 | pad << 48 */
        shlq    $16, %rdx                   /* drop the pad bytes */
        shrq    $16, %rdx
        cmpq    %rdx, %rbx                  /* same as the thread's? (almost always) */
        je      1f
        ldmxcsr (%rsp)                      /* restore MXCSR */
        fldcw   4(%rsp)                     /* restore x87 control word */
1:
        POP_SWITCHFRAME
        ret                                 /* to the resume pc. Unlike gogo, a ret: the
                                             * return stack buffer saw the call into
                                             * switchto, and the resume pc is almost
                                             * always that same call site in gosched */
        .cfi_endproc
        .size   gmp_switchto, .-gmp_switchto

        .section .note.GNU-stack, "", @progbits
