# rawrt process entry for riscv64.
#
# The kernel starts a process with sp pointing at argc, followed by argv,
# NULL, envp, NULL and the auxiliary vector, sp 16-byte aligned (RISC-V
# psABI; Linux rounds the initial stack to 16 bytes). `_start` is weak so that
# a program with its own `_start` still links against librawrt.a.
#
# `_start` falls into `__rawrt_start` (s1 and sp: the initial stack
# pointer; entered only so), which
# runs `.preinit_array` then `.init_array` (each entry called with argc,
# argv, envp; one loop that moves on to `.init_array` where `.preinit_array`
# ends), calls `main(argc, argv, envp)` and passes its result to `exit`
# (`{exit}`: rawrt's, an `extern "C"` function that never returns).
# Position-independent (lla: auipc/addi).

    .section .text.rawrt_start,"ax",@progbits
    .p2align 1
    .weak   _start
    .type   _start, @function
_start:
    .option push
    .option norelax
    lla     gp, __global_pointer$   # gp must be set without relaxation
    .option pop
    li      fp, 0                   # outermost frame: frame pointer is 0
    li      ra, 0                   # and no return address
    mv      s1, sp                  # s1: the initial stack pointer
    .size   _start, . - _start

    .globl  __rawrt_start
    .type   __rawrt_start, @function
__rawrt_start:
    lla     s2, __preinit_array_start
    j       2f
1:  ld      t0, 0(s2)
    jalr    t0
    addi    s2, s2, 8
2:  ld      a0, 0(s1)               # argc
    addi    a1, s1, 8               # argv
    slli    a2, a0, 3
    add     a2, a2, a1
    addi    a2, a2, 8               # envp
    lla     t0, __preinit_array_end
    bne     s2, t0, 3f
    lla     s2, __init_array_start
3:  lla     t0, __init_array_end
    bltu    s2, t0, 1b
    call    main
    call    {exit}                  # never returns
    .size   __rawrt_start, . - __rawrt_start
    .section .note.GNU-stack,"",@progbits
