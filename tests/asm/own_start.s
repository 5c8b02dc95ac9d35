# A program with its own _start, linked against librawrt.a: rawrt's weak
# _start gives way, and the C names still work without any set-up call.
    .text
    .globl  _start
_start:
    mov     %rsp, %rdi          # rawrt_init(sp): args, env, auxv, constructors
    and     $-16, %rsp          # 16-byte alignment before a call
    call    rawrt_init
    mov     $6, %edi            # getauxval(AT_PAGESZ) -> 4096
    call    getauxval
    cmp     $4096, %rax
    jne     1f
    mov     $7, %edi            # exit(7): runs atexit handlers, then exit_group
    call    exit
1:  mov     $99, %edi
    call    exit
    .section .note.GNU-stack,"",@progbits
