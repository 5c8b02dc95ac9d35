# rawrt thread primitives for x86_64 (AT&T syntax). Each function has its
# own section so that --gc-sections drops it from programs without threads.
#
# long __rawrt_clone(flags, stack, ptid, ctid, tls, fn, arg)
#   rdi = flags, rsi = stack top, rdx = ptid, rcx = ctid, r8 = tls,
#   r9 = fn, 8(%rsp) = arg.
# The child starts on `stack` with nothing of the parent's frame: it calls
# fn(arg), which must not return (if it does, the thread exits with its
# result). Returns the child's tid or -errno in the parent.

    .section .text.__rawrt_clone,"ax",@progbits
    .globl  __rawrt_clone
    .hidden __rawrt_clone
    .type   __rawrt_clone, @function
__rawrt_clone:
    mov     8(%rsp), %rax           # arg
    and     $-16, %rsi              # the child's stack, 16-byte aligned
    sub     $16, %rsi
    mov     %r9, (%rsi)             # [stack]     = fn
    mov     %rax, 8(%rsi)           # [stack + 8] = arg
    mov     %rcx, %r10              # syscall arg 4: ctid
    mov     $56, %eax               # __NR_clone (flags, stack, ptid, ctid, tls)
    syscall
    test    %rax, %rax
    jnz     1f                      # parent (tid) or error (-errno)
    # Child: rsp = stack - 16; the kernel gave us the thread pointer.
    xor     %ebp, %ebp              # outermost frame
    pop     %rax                    # fn
    pop     %rdi                    # arg 1 = arg; rsp is 16-byte aligned again
    call    *%rax                   # SysV: rsp % 16 == 0 before the call
    mov     %eax, %edi              # fn returned: exit this thread only
    mov     $60, %eax               # __NR_exit
    syscall
    ud2
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
    mov     $11, %eax               # __NR_munmap (base, len)
    syscall
    xor     %edi, %edi              # status 0
    mov     $60, %eax               # __NR_exit
    syscall
    ud2
    .size   __rawrt_unmap_exit, . - __rawrt_unmap_exit
    .section .note.GNU-stack,"",@progbits
