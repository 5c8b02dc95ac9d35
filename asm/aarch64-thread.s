// rawrt thread primitives for aarch64. Each function has its own section
// so that --gc-sections drops it from programs without threads.
//
// long __rawrt_clone(flags, stack, ptid, ctid, tls, fn, arg)
//   x0 = flags, x1 = stack top, x2 = ptid, x3 = ctid, x4 = tls,
//   x5 = fn, x6 = arg.
// The child starts on `stack` with nothing of the parent's frame: it calls
// fn(arg), which must not return (if it does, the thread exits with its
// result). Returns the child's tid or -errno in the parent.

    .section .text.__rawrt_clone,"ax",%progbits
    .globl  __rawrt_clone
    .hidden __rawrt_clone
    .type   __rawrt_clone, %function
__rawrt_clone:
    and     x1, x1, #-16            // the child's stack, 16-byte aligned
    stp     x5, x6, [x1, #-16]!     // [stack] = fn, [stack + 8] = arg
    mov     x9, x3                  // generic order: flags, stack, ptid, tls, ctid
    mov     x3, x4
    mov     x4, x9
    mov     x8, #220                // __NR_clone
    svc     #0
    cbnz    x0, 1f                  // parent (tid) or error (-errno)
    // Child: sp = stack - 16; the kernel set tpidr_el0 from tls.
    ldp     x1, x0, [sp], #16       // x1 = fn, x0 = arg; sp 16-byte aligned
    mov     x29, #0                 // outermost frame
    mov     x30, #0
    blr     x1
    mov     x8, #93                 // fn returned: __NR_exit with its result
    svc     #0
    brk     #0
1:  ret
    .size   __rawrt_clone, . - __rawrt_clone

// void __rawrt_unmap_exit(void *base, size_t len) — never returns.
// Unmaps the calling thread's own stack and exits the thread without
// touching memory in between: everything stays in registers.

    .section .text.__rawrt_unmap_exit,"ax",%progbits
    .globl  __rawrt_unmap_exit
    .hidden __rawrt_unmap_exit
    .type   __rawrt_unmap_exit, %function
__rawrt_unmap_exit:
    mov     x8, #215                // __NR_munmap (base, len)
    svc     #0
    mov     x0, #0                  // status 0
    mov     x8, #93                 // __NR_exit
    svc     #0
    brk     #0
    .size   __rawrt_unmap_exit, . - __rawrt_unmap_exit
    .section .note.GNU-stack,"",%progbits
