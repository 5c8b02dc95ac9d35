# rawrt process entry for riscv64.
#
# The kernel starts a process with sp pointing at argc, followed by argv,
# NULL, envp, NULL and the auxiliary vector. `_start` is weak so that a
# program with its own `_start` still links against librawrt.a.

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
    call    __rawrt_start           # never returns
    unimp
    .size   _start, . - _start
    .section .note.GNU-stack,"",@progbits
