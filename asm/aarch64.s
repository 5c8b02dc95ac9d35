// rawrt process entry for aarch64.
//
// The kernel starts a process with sp pointing at argc, followed by argv,
// NULL, envp, NULL and the auxiliary vector. `_start` is weak so that a
// program with its own `_start` still links against librawrt.a.

    .text
    .weak   _start
    .type   _start, %function
_start:
    mov     x29, #0                 // outermost frame: frame pointer is 0
    mov     x30, #0                 // and no return address
    mov     x0, sp                  // arg 1: the initial stack pointer
    and     sp, x0, #-16            // AAPCS64: sp 16-byte aligned
    bl      __rawrt_start           // never returns
    brk     #0
    .size   _start, . - _start
    .section .note.GNU-stack,"",%progbits
