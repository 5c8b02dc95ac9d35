# C variadic entry points for riscv64 (LP64D: variadic arguments travel in
# the integer registers, then on the stack): each stores the eight integer
# argument registers in an array on its stack and calls
#   void *__rawrt_varargs(size_t which, const size_t regs[8], const size_t *stack)
# with `stack` the caller's stack arguments (the ninth argument on).
# Each function has its own section for --gc-sections.
#
# which: 0 heap_caps_malloc_prefer(size, num, ...)
#        1 heap_caps_calloc_prefer(n, size, num, ...)
#        2 heap_caps_realloc_prefer(ptr, size, num, ...)

    .section .text.__rawrt_varargs_call,"ax",@progbits
    .type   __rawrt_varargs_call, @function
__rawrt_varargs_call:                   # t0 = which; entered by j
    addi    sp, sp, -80                 # regs[8], ra, padding: 16-aligned
    sd      ra, 64(sp)
    sd      a0, 0(sp)
    sd      a1, 8(sp)
    sd      a2, 16(sp)
    sd      a3, 24(sp)
    sd      a4, 32(sp)
    sd      a5, 40(sp)
    sd      a6, 48(sp)
    sd      a7, 56(sp)
    mv      a0, t0                      # which
    mv      a1, sp                      # regs
    addi    a2, sp, 80                  # the caller's stack arguments
    call    __rawrt_varargs
    ld      ra, 64(sp)
    addi    sp, sp, 80
    ret
    .size   __rawrt_varargs_call, . - __rawrt_varargs_call

    .section .text.__rawrt_heap_caps_malloc_prefer,"ax",@progbits
    .globl  __rawrt_heap_caps_malloc_prefer
    .hidden __rawrt_heap_caps_malloc_prefer
    .type   __rawrt_heap_caps_malloc_prefer, @function
__rawrt_heap_caps_malloc_prefer:
    li      t0, 0
    j       __rawrt_varargs_call
    .size   __rawrt_heap_caps_malloc_prefer, . - __rawrt_heap_caps_malloc_prefer

    .section .text.__rawrt_heap_caps_calloc_prefer,"ax",@progbits
    .globl  __rawrt_heap_caps_calloc_prefer
    .hidden __rawrt_heap_caps_calloc_prefer
    .type   __rawrt_heap_caps_calloc_prefer, @function
__rawrt_heap_caps_calloc_prefer:
    li      t0, 1
    j       __rawrt_varargs_call
    .size   __rawrt_heap_caps_calloc_prefer, . - __rawrt_heap_caps_calloc_prefer

    .section .text.__rawrt_heap_caps_realloc_prefer,"ax",@progbits
    .globl  __rawrt_heap_caps_realloc_prefer
    .hidden __rawrt_heap_caps_realloc_prefer
    .type   __rawrt_heap_caps_realloc_prefer, @function
__rawrt_heap_caps_realloc_prefer:
    li      t0, 2
    j       __rawrt_varargs_call
    .size   __rawrt_heap_caps_realloc_prefer, . - __rawrt_heap_caps_realloc_prefer
