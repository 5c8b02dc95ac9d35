# C variadic entry points for x86_64 (SysV): each stores the six integer
# argument registers in an array on its stack and calls
#   void *__rawrt_varargs(size_t which, const size_t regs[6], const size_t *stack)
# with `stack` the caller's stack arguments (the seventh argument on).
# Floating-point arguments are not collected (none of these functions
# takes one). Each function has its own section for --gc-sections.
#
# which: 0 heap_caps_malloc_prefer(size, num, ...)
#        1 heap_caps_calloc_prefer(n, size, num, ...)
#        2 heap_caps_realloc_prefer(ptr, size, num, ...)

    .section .text.__rawrt_varargs_call,"ax",@progbits
    .type   __rawrt_varargs_call, @function
__rawrt_varargs_call:                   # eax = which; entered by jmp
    push    %rbp                        # rsp is 16-byte aligned now
    mov     %rsp, %rbp
    sub     $48, %rsp                   # regs[6], still aligned
    mov     %rdi, 0(%rsp)
    mov     %rsi, 8(%rsp)
    mov     %rdx, 16(%rsp)
    mov     %rcx, 24(%rsp)
    mov     %r8, 32(%rsp)
    mov     %r9, 40(%rsp)
    mov     %eax, %edi                  # which
    mov     %rsp, %rsi                  # regs
    lea     16(%rbp), %rdx              # the caller's stack arguments
    call    __rawrt_varargs
    leave
    ret
    .size   __rawrt_varargs_call, . - __rawrt_varargs_call

    .section .text.__rawrt_heap_caps_malloc_prefer,"ax",@progbits
    .globl  __rawrt_heap_caps_malloc_prefer
    .hidden __rawrt_heap_caps_malloc_prefer
    .type   __rawrt_heap_caps_malloc_prefer, @function
__rawrt_heap_caps_malloc_prefer:
    mov     $0, %eax
    jmp     __rawrt_varargs_call
    .size   __rawrt_heap_caps_malloc_prefer, . - __rawrt_heap_caps_malloc_prefer

    .section .text.__rawrt_heap_caps_calloc_prefer,"ax",@progbits
    .globl  __rawrt_heap_caps_calloc_prefer
    .hidden __rawrt_heap_caps_calloc_prefer
    .type   __rawrt_heap_caps_calloc_prefer, @function
__rawrt_heap_caps_calloc_prefer:
    mov     $1, %eax
    jmp     __rawrt_varargs_call
    .size   __rawrt_heap_caps_calloc_prefer, . - __rawrt_heap_caps_calloc_prefer

    .section .text.__rawrt_heap_caps_realloc_prefer,"ax",@progbits
    .globl  __rawrt_heap_caps_realloc_prefer
    .hidden __rawrt_heap_caps_realloc_prefer
    .type   __rawrt_heap_caps_realloc_prefer, @function
__rawrt_heap_caps_realloc_prefer:
    mov     $2, %eax
    jmp     __rawrt_varargs_call
    .size   __rawrt_heap_caps_realloc_prefer, . - __rawrt_heap_caps_realloc_prefer
