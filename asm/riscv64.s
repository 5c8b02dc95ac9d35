# rawrt process entry for riscv64.
#
# The kernel starts a process with sp pointing at argc, followed by argv,
# NULL, envp, NULL and the auxiliary vector. `_start` is weak so that a
# program with its own `_start` still links against librawrt.a.
#
# `_start` falls into `__rawrt_start` (a0: the initial stack pointer), which
# runs `.preinit_array` then `.init_array` (each entry called with argc,
# argv, envp; one loop that moves on to `.init_array` where `.preinit_array`
# ends), calls `main(argc, argv, envp)` and passes its result to `exit`
# (`{exit}`: rawrt's, an `extern "C"` function that never returns).
# Position-independent (lla: auipc/addi).

    .text
    .weak   _start
    .type   _start, @function
_start:
    .option push
    .option norelax
    lla     gp, __global_pointer$   # gp must be set without relaxation
    .option pop
    li      fp, 0                   # outermost frame: frame pointer is 0
    li      ra, 0                   # and no return address
    mv      a0, sp                  # arg 1: the initial stack pointer
    andi    sp, sp, -16             # RISC-V psABI: sp 16-byte aligned
    .size   _start, . - _start

    .globl  __rawrt_start
    .type   __rawrt_start, @function
__rawrt_start:
    mv      s1, a0                  # s1: the initial stack pointer
    lla     s2, __preinit_array_start
1:  lla     t0, __preinit_array_end
    bne     s2, t0, 2f
    lla     s2, __init_array_start
2:  lla     t0, __init_array_end
    bgeu    s2, t0, 3f
    ld      a0, 0(s1)               # argc
    addi    a1, s1, 8               # argv
    slli    a2, a0, 3
    add     a2, a2, a1
    addi    a2, a2, 8               # envp
    ld      t0, 0(s2)
    jalr    t0
    addi    s2, s2, 8
    j       1b
3:  ld      a0, 0(s1)
    addi    a1, s1, 8
    slli    a2, a0, 3
    add     a2, a2, a1
    addi    a2, a2, 8
    call    main
    call    {exit}                  # never returns
    unimp
    .size   __rawrt_start, . - __rawrt_start
    .section .note.GNU-stack,"",@progbits
