// rawrt process entry for aarch64.
//
// The kernel starts a process with sp pointing at argc, followed by argv,
// NULL, envp, NULL and the auxiliary vector. `_start` is weak so that a
// program with its own `_start` still links against librawrt.a.
//
// `_start` falls into `__rawrt_start` (x0: the initial stack pointer), which
// runs `.preinit_array` then `.init_array` (each entry called with argc,
// argv, envp; one loop that moves on to `.init_array` where `.preinit_array`
// ends), calls `main(argc, argv, envp)` and passes its result to `exit`
// (`{exit}`: rawrt's, an `extern "C"` function that never returns).
// Position-independent (adrp/add).

    .text
    .weak   _start
    .type   _start, %function
_start:
    mov     x29, #0                 // outermost frame: frame pointer is 0
    mov     x30, #0                 // and no return address
    mov     x0, sp                  // arg 1: the initial stack pointer
    and     sp, x0, #-16            // AAPCS64: sp 16-byte aligned
    .size   _start, . - _start

    .globl  __rawrt_start
    .type   __rawrt_start, %function
__rawrt_start:
    mov     x19, x0                 // x19: the initial stack pointer
    adrp    x20, __preinit_array_start
    add     x20, x20, :lo12:__preinit_array_start
1:  adrp    x8, __preinit_array_end
    add     x8, x8, :lo12:__preinit_array_end
    cmp     x20, x8
    b.ne    2f
    adrp    x20, __init_array_start
    add     x20, x20, :lo12:__init_array_start
2:  adrp    x8, __init_array_end
    add     x8, x8, :lo12:__init_array_end
    cmp     x20, x8
    b.hs    3f
    ldr     x0, [x19]               // argc
    add     x1, x19, #8             // argv
    add     x2, x1, x0, lsl #3
    add     x2, x2, #8              // envp
    ldr     x8, [x20], #8
    blr     x8
    b       1b
3:  ldr     x0, [x19]
    add     x1, x19, #8
    add     x2, x1, x0, lsl #3
    add     x2, x2, #8
    bl      main
    bl      {exit}                  // never returns
    brk     #0
    .size   __rawrt_start, . - __rawrt_start
    .section .note.GNU-stack,"",%progbits
