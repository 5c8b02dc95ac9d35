# rawrt thread primitives for riscv64. Each function has its own section
# so that --gc-sections drops it from programs without threads.
#
# long __rawrt_clone(flags, stack, ptid, ctid, tls, fn, arg)
#   a0 = flags, a1 = stack top, a2 = ptid, a3 = ctid, a4 = tls,
#   a5 = fn, a6 = arg.
# The child starts on `stack` with nothing of the parent's frame: it calls
# fn(arg), which must not return (if it does, the thread exits with its
# result). Returns the child's tid or -errno in the parent.

    .section .text.__rawrt_clone,"ax",@progbits
    .globl  __rawrt_clone
    .hidden __rawrt_clone
    .type   __rawrt_clone, @function
__rawrt_clone:
    andi    a1, a1, -16             # the child's stack, 16-byte aligned
    addi    a1, a1, -16
    sd      a5, 0(a1)               # [stack] = fn
    sd      a6, 8(a1)               # [stack + 8] = arg
    mv      t0, a3                  # generic order: flags, stack, ptid, tls, ctid
    mv      a3, a4
    mv      a4, t0
    li      a7, 220                 # __NR_clone
    ecall
    bnez    a0, 1f                  # parent (tid) or error (-errno)
    # Child: sp = stack - 16; the kernel set tp from tls.
    ld      a1, 0(sp)               # fn
    ld      a0, 8(sp)               # arg
    addi    sp, sp, 16              # 16-byte aligned again
    li      fp, 0                   # outermost frame
    li      ra, 0
    jalr    a1
    li      a7, 93                  # fn returned: __NR_exit with its result
    ecall
    unimp
1:  ret
    .size   __rawrt_clone, . - __rawrt_clone

# void __rawrt_unmap_exit(void *base, size_t len) — never returns.
# Unmaps the calling thread's own stack and exits the thread without
# touching memory in between: everything stays in registers.

    .section .text.__rawrt_unmap_exit,"ax",@progbits
    .globl  __rawrt_unmap_exit
    .hidden __rawrt_unmap_exit
    .type   __rawrt_unmap_exit, @function
__rawrt_unmap_exit:
    li      a7, 215                 # __NR_munmap (base, len)
    ecall
    li      a0, 0                   # status 0
    li      a7, 93                  # __NR_exit
    ecall
    unimp
    .size   __rawrt_unmap_exit, . - __rawrt_unmap_exit
    .section .note.GNU-stack,"",@progbits
