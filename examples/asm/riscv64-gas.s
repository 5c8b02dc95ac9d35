# rawrt from GNU as, riscv64 Linux. The program defines its own _start
# (rawrt's _start is weak and gives way); malloc, pools and the system
# interfaces need no initialisation call.
#
#   riscv64-linux-gnu-as riscv64-gas.s -o prog.o
#   riscv64-linux-gnu-ld -static --gc-sections -s prog.o librawrt.a -o prog
#   qemu-riscv64 ./prog
# (librawrt.a built with `cargo rustc --release --lib --crate-type staticlib
#  --target riscv64gc-unknown-linux-gnu`.)
#
# What it does: malloc a buffer, copy a line into it, realloc it bigger
# (the line must survive), write it out, free it; make a pool of 32-byte
# blocks, take two blocks, print the pool's figures, give them back; print
# the heap's figures from mallinfo2. Exit status 0, or 1 if a call failed.
#
# The calling convention (RISC-V LP64D psABI), which every C function in
# librawrt.a follows:
#   - Integer and pointer arguments go in a0-a7, in order. The result comes
#     back in a0.
#   - A structure larger than 16 bytes (mallinfo2's 80 bytes) is returned
#     through memory: the caller passes the address to fill as a hidden
#     first argument in a0 (the real arguments move one register on).
#   - s0-s11 and sp are callee-saved: a function we call leaves them as
#     they were, so our values live in s1-s4 across calls. a0-a7, t0-t6 and
#     ra may be changed by any call.
#   - `call f` puts the return address in ra; a function that calls others
#     must save ra to return. _start has no return address and never
#     returns, so it saves nothing.
#   - sp must be a multiple of 16 at every call.
#   - gp (the global pointer) must be set before any code the linker may
#     have "relaxed" to gp-relative addressing runs: GNU ld does that for
#     data near __global_pointer$. rawrt's own _start sets it; ours must too.

    .section .rodata
line:   .ascii "riscv64 GNU as: malloc, realloc, free\n"
    .set line_len, . - line
pool_a: .ascii "pool: "
    .set pool_a_len, . - pool_a     # lengths as `. - label`: the assembler cannot
pool_b: .ascii " blocks of "        # subtract two labels in a section the linker
    .set pool_b_len, . - pool_b     # may still shrink (relax), but this it can
pool_c: .ascii " bytes in use\n"
    .set pool_c_len, . - pool_c
heap_a: .ascii "heap: "
    .set heap_a_len, . - heap_a
heap_b: .ascii " bytes allocated, "
    .set heap_b_len, . - heap_b
heap_c: .ascii " bytes from the kernel\n"
    .set heap_c_len, . - heap_c

# Offsets into the C structures (include/rawrt.h).
    .set INFO_BLOCK_SIZE, 0         # rawrt_pool_info_t.block_size
    .set INFO_IN_USE, 24            # rawrt_pool_info_t.in_use
    .set MI_ARENA, 0                # struct mallinfo2.arena
    .set MI_UORDBLKS, 56            # struct mallinfo2.uordblks

# print(text): write(1, text, text_len).
.macro PRINT text
    lla     a1, \text               # a pc-relative address (auipc + addi)
    li      a2, \text\()_len
    call    print
.endm

    .text
    .globl  _start
    .type   _start, @function
_start:
    .option push
    .option norelax                 # this one must not itself become gp-relative
    lla     gp, __global_pointer$
    .option pop
    andi    sp, sp, -16             # the kernel gives a 16-aligned sp; make sure
    addi    sp, sp, -80             # room for a rawrt_pool_info_t (72) or a struct mallinfo2 (80)

    li      a0, 64                  # buffer = malloc(64)
    call    malloc
    beqz    a0, fail
    mv      s1, a0                  # s1 survives the calls below

    mv      a0, s1                  # memcpy(buffer, line, line_len)
    lla     a1, line
    li      a2, line_len
    call    memcpy

    mv      a0, s1                  # buffer = realloc(buffer, 4000): it may move, the text must not change
    li      a1, 4000
    call    realloc
    beqz    a0, fail
    mv      s1, a0

    mv      a1, s1                  # write(1, buffer, line_len)
    li      a2, line_len
    call    print
    li      t0, line_len
    bne     a0, t0, fail

    li      a0, 32                  # pool = rawrt_pool_create(32, 0, 0): 32-byte blocks,
    li      a1, 0                   # default alignment,
    li      a2, 0                   # no limit
    call    rawrt_pool_create
    beqz    a0, fail
    mv      s2, a0                  # s2 = pool

    mv      a0, s2                  # first = rawrt_pool_alloc(pool)
    call    rawrt_pool_alloc
    beqz    a0, fail
    mv      s3, a0
    li      t0, 1
    sb      t0, 0(s3)               # blocks are ours to write
    mv      a0, s2                  # second = rawrt_pool_alloc(pool)
    call    rawrt_pool_alloc
    beqz    a0, fail
    beq     a0, s3, fail            # two live blocks never share an address
    mv      s4, a0

    mv      a0, s2                  # rawrt_pool_info(pool, &info)
    mv      a1, sp
    call    rawrt_pool_info
    PRINT   pool_a          # "pool: 2 blocks of 32 bytes in use"
    ld      a0, INFO_IN_USE(sp)
    call    print_num
    PRINT   pool_b
    ld      a0, INFO_BLOCK_SIZE(sp)
    call    print_num
    PRINT   pool_c

    mv      a0, s2                  # rawrt_pool_free(pool, first)
    mv      a1, s3
    call    rawrt_pool_free
    mv      a0, s2                  # rawrt_pool_free(pool, second)
    mv      a1, s4
    call    rawrt_pool_free
    mv      a0, s2                  # rawrt_pool_destroy(pool)
    call    rawrt_pool_destroy

    mv      a0, sp                  # mallinfo2(): the 80-byte result is written at a0
    call    mallinfo2
    PRINT   heap_a
    ld      a0, MI_UORDBLKS(sp)
    call    print_num
    PRINT   heap_b
    ld      a0, MI_ARENA(sp)
    call    print_num
    PRINT   heap_c

    mv      a0, s1                  # free(buffer)
    call    free
    li      a0, 0                   # exit(0): runs atexit handlers, never returns
    call    exit
fail:
    li      a0, 1                   # exit(1)
    call    exit
    .size   _start, . - _start

# print(a1 = text, a2 = length): write(1, text, length); returns write's result.
print:
    li      a0, 1
    tail    write                   # a tail call: ra still holds our caller's return address

# print_num(a0 = value): writes the unsigned value in decimal.
print_num:
    addi    sp, sp, -48             # 32 bytes of digits, ra at 40(sp); 48 keeps sp 16-aligned
    sd      ra, 40(sp)
    addi    a1, sp, 32              # digits go backwards from the end of the buffer
    li      t1, 10
1:  remu    t2, a0, t1              # t2 = value % 10
    divu    a0, a0, t1              # value /= 10
    addi    t2, t2, '0'
    addi    a1, a1, -1
    sb      t2, 0(a1)
    bnez    a0, 1b
    addi    a2, sp, 32
    sub     a2, a2, a1              # length = end - first digit
    call    print
    ld      ra, 40(sp)
    addi    sp, sp, 48
    ret

    .section .note.GNU-stack,"",@progbits   # no executable stack
