// rawrt process entry for aarch64.
//
// The kernel starts a process with sp pointing at argc, followed by argv,
// NULL, envp, NULL and the auxiliary vector, sp 16-byte aligned (as AAPCS64
// requires; Linux rounds the initial stack to 16 bytes). `_start` is weak so
// that a program with its own `_start` still links against librawrt.a.
//
// `_start` falls into `__rawrt_start` (x19 and sp: the initial stack
// pointer; entered only so), which
// runs `.preinit_array` then `.init_array` (each entry called with argc,
// argv, envp; one loop that moves on to `.init_array` where `.preinit_array`
// ends), calls `main(argc, argv, envp)` and passes its result to `exit`
// (`{exit}`: rawrt's, an `extern "C"` function that never returns).
// Position-independent (adrp/add).

    .section .text.rawrt_start,"ax",%progbits
    .p2align 2
    .weak   _start
    .type   _start, %function
_start:
    mov     x29, #0                 // outermost frame: frame pointer is 0
    mov     x30, #0                 // and no return address
    mov     x19, sp                 // x19: the initial stack pointer
    .size   _start, . - _start

    .globl  __rawrt_start
    .type   __rawrt_start, %function
__rawrt_start:
    adrp    x20, __preinit_array_start
    add     x20, x20, :lo12:__preinit_array_start
    b       2f
1:  ldr     x8, [x20], #8
    blr     x8
2:  ldr     x0, [x19]               // argc
    add     x1, x19, #8             // argv
    add     x2, x1, x0, lsl #3
    add     x2, x2, #8              // envp
    adrp    x8, __preinit_array_end
    add     x8, x8, :lo12:__preinit_array_end
    cmp     x20, x8
    b.ne    3f
    adrp    x20, __init_array_start
    add     x20, x20, :lo12:__init_array_start
3:  adrp    x8, __init_array_end
    add     x8, x8, :lo12:__init_array_end
    cmp     x20, x8
    b.lo    1b
    bl      main
    bl      {exit}                  // never returns
    .size   __rawrt_start, . - __rawrt_start
    .section .note.GNU-stack,"",%progbits
