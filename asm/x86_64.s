# rawrt process entry for x86_64 (AT&T syntax).
#
# The kernel starts a process with rsp pointing at argc, followed by the argv
# pointers, a NULL, the envp pointers, a NULL and the auxiliary vector. rsp is
# 16-byte aligned here, but we align it again so that nothing depends on that.
# `_start` is weak: a program that defines its own `_start` still links
# against librawrt.a and gets the heap and the system interfaces.

    .text
    .weak   _start
    .type   _start, @function
_start:
    xor     %ebp, %ebp              # outermost frame: frame pointer is 0
    mov     %rsp, %rdi              # arg 1: the initial stack pointer
    and     $-16, %rsp              # SysV ABI: 16-byte alignment at the call
    call    __rawrt_start           # never returns
    ud2
    .size   _start, . - _start
    .section .note.GNU-stack,"",@progbits
