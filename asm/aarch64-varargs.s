// C variadic entry points for aarch64 (AAPCS64 as Linux uses it: variadic
// arguments travel like named ones): each stores the eight integer
// argument registers in an array on its stack and calls
//   void *__rawrt_varargs(size_t which, const size_t regs[8], const size_t *stack)
// with `stack` the caller's stack arguments (the ninth argument on).
// Floating-point arguments are not collected (none of these functions
// takes one). Each function has its own section for --gc-sections.
//
// which: 0 heap_caps_malloc_prefer(size, num, ...)
//        1 heap_caps_calloc_prefer(n, size, num, ...)
//        2 heap_caps_realloc_prefer(ptr, size, num, ...)

    .section .text.__rawrt_varargs_call,"ax",%progbits
    .type   __rawrt_varargs_call, %function
__rawrt_varargs_call:                   // x9 = which; entered by b
    stp     x29, x30, [sp, #-80]!       // frame record, then regs[8]
    mov     x29, sp
    stp     x0, x1, [sp, #16]
    stp     x2, x3, [sp, #32]
    stp     x4, x5, [sp, #48]
    stp     x6, x7, [sp, #64]
    mov     x0, x9                      // which
    add     x1, sp, #16                 // regs
    add     x2, sp, #80                 // the caller's stack arguments
    bl      __rawrt_varargs
    ldp     x29, x30, [sp], #80
    ret
    .size   __rawrt_varargs_call, . - __rawrt_varargs_call

    .section .text.__rawrt_heap_caps_malloc_prefer,"ax",%progbits
    .globl  __rawrt_heap_caps_malloc_prefer
    .hidden __rawrt_heap_caps_malloc_prefer
    .type   __rawrt_heap_caps_malloc_prefer, %function
__rawrt_heap_caps_malloc_prefer:
    mov     x9, #0
    b       __rawrt_varargs_call
    .size   __rawrt_heap_caps_malloc_prefer, . - __rawrt_heap_caps_malloc_prefer

    .section .text.__rawrt_heap_caps_calloc_prefer,"ax",%progbits
    .globl  __rawrt_heap_caps_calloc_prefer
    .hidden __rawrt_heap_caps_calloc_prefer
    .type   __rawrt_heap_caps_calloc_prefer, %function
__rawrt_heap_caps_calloc_prefer:
    mov     x9, #1
    b       __rawrt_varargs_call
    .size   __rawrt_heap_caps_calloc_prefer, . - __rawrt_heap_caps_calloc_prefer

    .section .text.__rawrt_heap_caps_realloc_prefer,"ax",%progbits
    .globl  __rawrt_heap_caps_realloc_prefer
    .hidden __rawrt_heap_caps_realloc_prefer
    .type   __rawrt_heap_caps_realloc_prefer, %function
__rawrt_heap_caps_realloc_prefer:
    mov     x9, #2
    b       __rawrt_varargs_call
    .size   __rawrt_heap_caps_realloc_prefer, . - __rawrt_heap_caps_realloc_prefer
