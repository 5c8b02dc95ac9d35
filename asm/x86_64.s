# rawrt process entry for x86_64 (AT&T syntax).
#
# The kernel starts a process with rsp pointing at argc, followed by the argv
# pointers, a NULL, the envp pointers, a NULL and the auxiliary vector. rsp is
# 16-byte aligned there (x86-64 psABI, "Process Initialization"; Linux rounds
# the initial stack to 16 bytes), as the calls below need.
# `_start` is weak: a program that defines its own `_start` still links
# against librawrt.a and gets the heap and the system interfaces.
#
# `_start` falls into `__rawrt_start` (rbx and rsp: the initial stack
# pointer; entered only so), which
# runs `.preinit_array` then `.init_array` (each entry called with argc,
# argv, envp; one loop that moves on to `.init_array` where `.preinit_array`
# ends), calls `main(argc, argv, envp)` and passes its result to `exit`
# (`{exit}`: rawrt's, an `extern "C"` function that never returns).
# Position-independent (RIP-relative), so that a PIE may link it.

    .section .text.rawrt_start,"ax",@progbits    # unaligned: no padding before it
    .weak   _start
    .type   _start, @function
_start:
    xor     %ebp, %ebp              # outermost frame: frame pointer is 0
    mov     %rsp, %rbx              # rbx: the initial stack pointer
    .size   _start, . - _start

    .globl  __rawrt_start
    .type   __rawrt_start, @function
__rawrt_start:
    lea     __preinit_array_start(%rip), %r12
    jmp     2f
1:  call    *(%r12)
    add     $8, %r12
2:  mov     (%rbx), %edi            # argc
    lea     8(%rbx), %rsi           # argv
    lea     8(%rsi,%rdi,8), %rdx    # envp
    lea     __preinit_array_end(%rip), %rax
    cmp     %rax, %r12
    jne     3f
    lea     __init_array_start(%rip), %r12
3:  lea     __init_array_end(%rip), %rax
    cmp     %rax, %r12
    jb      1b
    call    main
    mov     %eax, %edi
    call    {exit}                  # never returns
    .size   __rawrt_start, . - __rawrt_start
    .section .note.GNU-stack,"",@progbits
