# rawrt from GNU as (AT&T syntax), x86_64 Linux.
#
# One source, two ways to start:
#   as x86_64-gas.s -o prog.o                         # defines main: rawrt's _start runs it
#   as --defsym OWN_START=1 x86_64-gas.s -o prog.o    # defines its own _start
#   ld -static --gc-sections -s prog.o librawrt.a -o prog
#
# What it does: malloc a buffer, copy a line into it, realloc it bigger
# (the line must survive), write it out, free it; make a pool of 32-byte
# blocks, take two blocks, print the pool's figures, give them back; print
# the heap's figures from mallinfo2. Exit status 0, or 1 if a call failed.
#
# The calling convention (System V AMD64 ABI), which every C function in
# librawrt.a follows:
#   - Integer and pointer arguments go in %rdi, %rsi, %rdx, %rcx, %r8, %r9,
#     in that order. The result comes back in %rax.
#   - A structure larger than 16 bytes (mallinfo2's 80 bytes) is returned
#     through memory: the caller passes the address to fill as a hidden
#     first argument in %rdi (the real arguments move one register on).
#   - %rbx, %rbp, %r12-%r15 and %rsp are callee-saved: a function we call
#     leaves them as they were, so we keep our values there across calls.
#     Every other register (%rax, %rcx, %rdx, %rsi, %rdi, %r8-%r11, flags)
#     may be changed by any call. If *we* change a callee-saved register,
#     we must restore it before returning (main below pushes and pops them).
#   - At each `call` instruction %rsp must be a multiple of 16. The call
#     pushes the 8-byte return address, so on entry to a function %rsp is
#     16n + 8. At _start there is no return address: the kernel starts us
#     with %rsp a multiple of 16 (pointing at argc).

    .section .rodata
line:       .ascii "GNU as: malloc, realloc, free\n"
    .set line_len, . - line
pool_a:     .ascii "pool: "
pool_b:     .ascii " blocks of "
pool_c:     .ascii " bytes in use\n"
heap_a:     .ascii "heap: "
heap_b:     .ascii " bytes allocated, "
heap_c:     .ascii " bytes from the kernel\n"
heap_end:

# Offsets into the C structures (include/rawrt.h).
    .set INFO_BLOCK_SIZE, 0     # rawrt_pool_info_t.block_size
    .set INFO_IN_USE, 24        # rawrt_pool_info_t.in_use
    .set MI_ARENA, 0            # struct mallinfo2.arena
    .set MI_UORDBLKS, 56        # struct mallinfo2.uordblks

# Our stack frame (all of it below %rsp after the prologue):
#   0..80(%rsp)  room for a rawrt_pool_info_t (72 bytes) or a struct mallinfo2 (80)
#   80(%rsp)     the second pool block
#   88(%rsp)     padding, so that the frame size keeps %rsp 16-aligned
    .set FRAME, 96

    .text
.ifdef OWN_START
    .globl _start
_start:
    # No return address and nothing to return to: no need to save the
    # callee-saved registers. %rsp is 16-aligned already; FRAME keeps it so.
    sub     $FRAME, %rsp
.else
    .globl main
main:                               # int main(int argc, char **argv, char **envp)
    # On entry %rsp = 16n + 8 (the return address). Three pushes take 24
    # more bytes: 8 + 24 = 32, a multiple of 16 again; FRAME (96) keeps it so.
    push    %rbx                    # we use %rbx, %r12, %r13 across calls,
    push    %r12                    # so save our caller's values first
    push    %r13
    sub     $FRAME, %rsp
.endif

    # buffer = malloc(64)
    mov     $64, %edi               # 1st argument: size
    call    malloc
    test    %rax, %rax
    jz      fail
    mov     %rax, %rbx              # %rbx survives the calls below

    # memcpy(buffer, line, line_len)
    mov     %rbx, %rdi
    lea     line(%rip), %rsi
    mov     $line_len, %edx
    call    memcpy

    # buffer = realloc(buffer, 4000): the block may move, the text must not change
    mov     %rbx, %rdi
    mov     $4000, %esi
    call    realloc
    test    %rax, %rax
    jz      fail
    mov     %rax, %rbx

    # write(1, buffer, line_len)
    mov     %rbx, %rsi
    mov     $line_len, %edx
    call    print
    cmp     $line_len, %rax
    jne     fail

    # pool = rawrt_pool_create(32, 0, 0): 32-byte blocks, default alignment, no limit
    mov     $32, %edi
    xor     %esi, %esi
    xor     %edx, %edx
    call    rawrt_pool_create
    test    %rax, %rax
    jz      fail
    mov     %rax, %r12              # %r12 = pool

    mov     %r12, %rdi              # first = rawrt_pool_alloc(pool)
    call    rawrt_pool_alloc
    test    %rax, %rax
    jz      fail
    mov     %rax, %r13              # %r13 = first block
    movb    $1, (%r13)              # blocks are ours to write
    mov     %r12, %rdi              # second = rawrt_pool_alloc(pool)
    call    rawrt_pool_alloc
    test    %rax, %rax
    jz      fail
    cmp     %rax, %r13
    je      fail                    # two live blocks never share an address
    mov     %rax, 80(%rsp)

    # rawrt_pool_info(pool, &info) and print "pool: 2 blocks of 32 bytes in use"
    mov     %r12, %rdi
    lea     0(%rsp), %rsi
    call    rawrt_pool_info
    lea     pool_a(%rip), %rsi
    mov     $pool_b - pool_a, %edx
    call    print
    mov     INFO_IN_USE(%rsp), %rdi
    call    print_num
    lea     pool_b(%rip), %rsi
    mov     $pool_c - pool_b, %edx
    call    print
    mov     INFO_BLOCK_SIZE(%rsp), %rdi
    call    print_num
    lea     pool_c(%rip), %rsi
    mov     $heap_a - pool_c, %edx
    call    print

    mov     %r12, %rdi              # rawrt_pool_free(pool, first)
    mov     %r13, %rsi
    call    rawrt_pool_free
    mov     %r12, %rdi              # rawrt_pool_free(pool, second)
    mov     80(%rsp), %rsi
    call    rawrt_pool_free
    mov     %r12, %rdi              # rawrt_pool_destroy(pool)
    call    rawrt_pool_destroy

    # mallinfo2(): 80 bytes returned through memory, address in %rdi
    lea     0(%rsp), %rdi
    call    mallinfo2
    lea     heap_a(%rip), %rsi
    mov     $heap_b - heap_a, %edx
    call    print
    mov     MI_UORDBLKS(%rsp), %rdi
    call    print_num
    lea     heap_b(%rip), %rsi
    mov     $heap_c - heap_b, %edx
    call    print
    mov     MI_ARENA(%rsp), %rdi
    call    print_num
    lea     heap_c(%rip), %rsi
    mov     $heap_end - heap_c, %edx
    call    print

    mov     %rbx, %rdi              # free(buffer)
    call    free
    xor     %eax, %eax              # status 0
    jmp     done
fail:
    mov     $1, %eax                # status 1
done:
.ifdef OWN_START
    mov     %eax, %edi              # exit(status): runs atexit handlers, never returns
    call    exit
.else
    add     $FRAME, %rsp            # undo the prologue in reverse order
    pop     %r13
    pop     %r12
    pop     %rbx
    ret                             # rawrt's _start calls exit(%eax)
.endif

# print(%rsi = text, %rdx = length): write(1, text, length); returns write's result.
print:
    mov     $1, %edi
    jmp     write                   # a tail call: write returns straight to our caller

# print_num(%rdi = value): writes the unsigned value in decimal.
print_num:
    sub     $40, %rsp               # entry %rsp = 16n + 8; minus 40 = 16m: aligned for the call
    lea     32(%rsp), %rsi          # digits are stored backwards from the end of a 32-byte buffer
    mov     %rdi, %rax
    mov     $10, %ecx
1:  xor     %edx, %edx
    div     %rcx                    # %rax = %rdx:%rax / 10, %rdx = remainder
    add     $'0', %dl
    dec     %rsi
    mov     %dl, (%rsi)
    test    %rax, %rax
    jnz     1b
    lea     32(%rsp), %rdx
    sub     %rsi, %rdx              # length = end - first digit
    call    print
    add     $40, %rsp
    ret

    .section .note.GNU-stack,"",@progbits   # no executable stack
