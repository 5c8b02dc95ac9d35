; rawrt from FASM (the flat assembler, Intel syntax), x86_64 Linux.
;
; One source, two ways to start:
;   fasm x86_64-fasm.asm prog.o                   ; defines main: rawrt's _start runs it
;   fasm -d OWN_START=1 x86_64-fasm.asm prog.o    ; defines its own _start
;   ld -static --gc-sections -s prog.o librawrt.a -o prog
;
; What it does: malloc a buffer, copy a line into it, realloc it bigger
; (the line must survive), write it out, free it; make a pool of 32-byte
; blocks, take two blocks, print the pool's figures, give them back; print
; the heap's figures from mallinfo2. Exit status 0, or 1 if a call failed.
;
; The calling convention (System V AMD64 ABI), which every C function in
; librawrt.a follows:
;   - Integer and pointer arguments go in rdi, rsi, rdx, rcx, r8, r9, in
;     that order. The result comes back in rax.
;   - A structure larger than 16 bytes (mallinfo2's 80 bytes) is returned
;     through memory: the caller passes the address to fill as a hidden
;     first argument in rdi.
;   - rbx, rbp, r12-r15 and rsp are callee-saved: a function we call leaves
;     them as they were, so our values live there across calls. rax, rcx,
;     rdx, rsi, rdi, r8-r11 and the flags may be changed by any call. If we
;     change a callee-saved register we restore it before returning.
;   - At each `call` rsp must be a multiple of 16. The call pushes an 8-byte
;     return address, so on entry to a function rsp is 16n + 8. At _start
;     there is no return address: the kernel starts us with rsp a multiple
;     of 16 (pointing at argc).

format ELF64                        ; a relocatable object for ld

extrn malloc
extrn realloc
extrn free
extrn memcpy
extrn write
extrn exit
extrn rawrt_pool_create
extrn rawrt_pool_alloc
extrn rawrt_pool_free
extrn rawrt_pool_info
extrn rawrt_pool_destroy
extrn mallinfo2

; Offsets into the C structures (include/rawrt.h).
INFO_BLOCK_SIZE = 0                 ; rawrt_pool_info_t.block_size
INFO_IN_USE     = 24                ; rawrt_pool_info_t.in_use
MI_ARENA        = 0                 ; struct mallinfo2.arena
MI_UORDBLKS     = 56                ; struct mallinfo2.uordblks

; Our stack frame, below rsp after the prologue:
;   [rsp + 0 .. 80]  a rawrt_pool_info_t (72 bytes) or a struct mallinfo2 (80)
;   [rsp + 80]       the second pool block
;   [rsp + 88]       padding: the frame size keeps rsp 16-aligned
FRAME = 96

section '.text' executable

if OWN_START eq 1                   ; `fasm -d OWN_START=1` makes this true
public _start
_start:
    ; Nothing to return to, so nothing to save. rsp is 16-aligned; FRAME keeps it so.
    sub     rsp, FRAME
else
public main
main:                               ; int main(int argc, char **argv, char **envp)
    ; On entry rsp = 16n + 8. Three pushes take 24 more bytes: 8 + 24 = 32,
    ; a multiple of 16 again; FRAME (96) keeps it so.
    push    rbx                     ; we keep values in rbx, r12, r13 across calls,
    push    r12                     ; so our caller's values are saved first
    push    r13
    sub     rsp, FRAME
end if

    mov     edi, 64                 ; buffer = malloc(64)
    call    malloc
    test    rax, rax
    jz      fail
    mov     rbx, rax                ; rbx survives the calls below

    mov     rdi, rbx                ; memcpy(buffer, line, line_len)
    lea     rsi, [line]             ; in 64-bit code fasm addresses labels relative to rip
    mov     edx, line_len
    call    memcpy

    mov     rdi, rbx                ; buffer = realloc(buffer, 4000): it may move, the text must not change
    mov     esi, 4000
    call    realloc
    test    rax, rax
    jz      fail
    mov     rbx, rax

    mov     rsi, rbx                ; write(1, buffer, line_len)
    mov     edx, line_len
    call    print
    cmp     rax, line_len
    jne     fail

    mov     edi, 32                 ; pool = rawrt_pool_create(32, 0, 0): 32-byte blocks,
    xor     esi, esi                ; default alignment,
    xor     edx, edx                ; no limit
    call    rawrt_pool_create
    test    rax, rax
    jz      fail
    mov     r12, rax                ; r12 = pool

    mov     rdi, r12                ; first = rawrt_pool_alloc(pool)
    call    rawrt_pool_alloc
    test    rax, rax
    jz      fail
    mov     r13, rax
    mov     byte [r13], 1           ; blocks are ours to write
    mov     rdi, r12                ; second = rawrt_pool_alloc(pool)
    call    rawrt_pool_alloc
    test    rax, rax
    jz      fail
    cmp     rax, r13
    je      fail                    ; two live blocks never share an address
    mov     [rsp + 80], rax

    mov     rdi, r12                ; rawrt_pool_info(pool, &info)
    lea     rsi, [rsp]
    call    rawrt_pool_info
    lea     rsi, [pool_a]           ; "pool: 2 blocks of 32 bytes in use"
    mov     edx, pool_b - pool_a
    call    print
    mov     rdi, [rsp + INFO_IN_USE]
    call    print_num
    lea     rsi, [pool_b]
    mov     edx, pool_c - pool_b
    call    print
    mov     rdi, [rsp + INFO_BLOCK_SIZE]
    call    print_num
    lea     rsi, [pool_c]
    mov     edx, heap_a - pool_c
    call    print

    mov     rdi, r12                ; rawrt_pool_free(pool, first)
    mov     rsi, r13
    call    rawrt_pool_free
    mov     rdi, r12                ; rawrt_pool_free(pool, second)
    mov     rsi, [rsp + 80]
    call    rawrt_pool_free
    mov     rdi, r12                ; rawrt_pool_destroy(pool)
    call    rawrt_pool_destroy

    lea     rdi, [rsp]              ; mallinfo2(): 80 bytes returned through memory at rdi
    call    mallinfo2
    lea     rsi, [heap_a]
    mov     edx, heap_b - heap_a
    call    print
    mov     rdi, [rsp + MI_UORDBLKS]
    call    print_num
    lea     rsi, [heap_b]
    mov     edx, heap_c - heap_b
    call    print
    mov     rdi, [rsp + MI_ARENA]
    call    print_num
    lea     rsi, [heap_c]
    mov     edx, heap_end - heap_c
    call    print

    mov     rdi, rbx                ; free(buffer)
    call    free
    xor     eax, eax                ; status 0
    jmp     done
fail:
    mov     eax, 1                  ; status 1
done:
if OWN_START eq 1
    mov     edi, eax                ; exit(status): runs atexit handlers, never returns
    call    exit
else
    add     rsp, FRAME              ; undo the prologue in reverse order
    pop     r13
    pop     r12
    pop     rbx
    ret                             ; rawrt's _start calls exit(eax)
end if

; print(rsi = text, rdx = length): write(1, text, length); returns write's result.
print:
    mov     edi, 1
    jmp     write                   ; a tail call: write returns straight to our caller

; print_num(rdi = value): writes the unsigned value in decimal.
print_num:
    sub     rsp, 40                 ; entry rsp = 16n + 8; minus 40 = 16m: aligned for the call
    lea     rsi, [rsp + 32]         ; digits go backwards from the end of a 32-byte buffer
    mov     rax, rdi
    mov     ecx, 10
.digit:
    xor     edx, edx
    div     rcx                     ; rax = rdx:rax / 10, rdx = remainder
    add     dl, '0'
    dec     rsi
    mov     [rsi], dl
    test    rax, rax
    jnz     .digit
    lea     rdx, [rsp + 32]
    sub     rdx, rsi                ; length = end - first digit
    call    print
    add     rsp, 40
    ret

section '.rodata'                   ; read-only data (no flags: not writeable, not executable)
line    db "FASM: malloc, realloc, free", 10
line_len = $ - line
pool_a  db "pool: "
pool_b  db " blocks of "
pool_c  db " bytes in use", 10
heap_a  db "heap: "
heap_b  db " bytes allocated, "
heap_c  db " bytes from the kernel", 10
heap_end:

section '.note.GNU-stack'           ; no executable stack
