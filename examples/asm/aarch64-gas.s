// rawrt from GNU as, aarch64 Linux. The program defines main; rawrt's
// _start runs it and exits with its result.
//
//   aarch64-linux-gnu-as aarch64-gas.s -o prog.o
//   aarch64-linux-gnu-ld -z max-page-size=4096 -static --gc-sections -s prog.o librawrt.a -o prog
//   qemu-aarch64 ./prog
// (librawrt.a built with `cargo rustc --release --lib --crate-type staticlib
//  --target aarch64-unknown-linux-gnu`.)
//
// What it does: malloc a buffer, copy a line into it, realloc it bigger
// (the line must survive), write it out, free it; make a pool of 32-byte
// blocks, take two blocks, print the pool's figures, give them back; print
// the heap's figures from mallinfo2. Exit status 0, or 1 if a call failed.
//
// The calling convention (AAPCS64), which every C function in librawrt.a
// follows:
//   - Integer and pointer arguments go in x0-x7 (w0-w7 for 32-bit values),
//     in order. The result comes back in x0.
//   - A structure larger than 16 bytes (mallinfo2's 80 bytes) is returned
//     through memory: the caller puts the address to fill in x8, the
//     "indirect result register", not in x0.
//   - x19-x28, x29 (the frame pointer) and sp are callee-saved: a function
//     we call leaves them as they were, so our values live in x19-x22
//     across calls, and we save our caller's values of them first.
//     x0-x18 may be changed by any call.
//   - `bl` puts the return address in x30 (the link register) and `ret`
//     jumps to it, so a function that calls others must save x30 (here
//     together with x29, in the first pair of the frame).
//   - sp must always be a multiple of 16 (the hardware checks it when sp is
//     used to address memory).

    .section .rodata
line:   .ascii "aarch64 GNU as: malloc, realloc, free\n"
    .set line_len, . - line
pool_a: .ascii "pool: "
pool_b: .ascii " blocks of "
pool_c: .ascii " bytes in use\n"
heap_a: .ascii "heap: "
heap_b: .ascii " bytes allocated, "
heap_c: .ascii " bytes from the kernel\n"
heap_end:

// Offsets into the C structures (include/rawrt.h).
    .set INFO_BLOCK_SIZE, 0         // rawrt_pool_info_t.block_size
    .set INFO_IN_USE, 24            // rawrt_pool_info_t.in_use
    .set MI_ARENA, 0                // struct mallinfo2.arena
    .set MI_UORDBLKS, 56            // struct mallinfo2.uordblks

// The frame, 128 bytes (a multiple of 16):
//   [sp, #0]   x29, x30      [sp, #16]  x19, x20      [sp, #32]  x21, x22
//   [sp, #48 .. #128]  a rawrt_pool_info_t (72 bytes) or a struct mallinfo2 (80)
    .set BUF, 48

// print x1 = text, x2 = length: write(1, text, length).
.macro PRINT label_from, label_to
    adrp    x1, \label_from             // the 4 KiB page of the label...
    add     x1, x1, :lo12:\label_from   // ...plus its offset in the page
    mov     x2, #(\label_to - \label_from)
    bl      print
.endm

    .text
    .globl  main
    .type   main, %function
main:                               // int main(int argc, char **argv, char **envp)
    stp     x29, x30, [sp, #-128]!  // allocate the frame; save frame pointer and return address
    mov     x29, sp
    stp     x19, x20, [sp, #16]     // save the callee-saved registers we use
    stp     x21, x22, [sp, #32]

    mov     x0, #64                 // buffer = malloc(64)
    bl      malloc
    cbz     x0, fail
    mov     x19, x0                 // x19 survives the calls below

    mov     x0, x19                 // memcpy(buffer, line, line_len)
    adrp    x1, line
    add     x1, x1, :lo12:line
    mov     x2, #line_len
    bl      memcpy

    mov     x0, x19                 // buffer = realloc(buffer, 4000): it may move, the text must not change
    mov     x1, #4000
    bl      realloc
    cbz     x0, fail
    mov     x19, x0

    mov     x1, x19                 // write(1, buffer, line_len)
    mov     x2, #line_len
    bl      print
    cmp     x0, #line_len
    b.ne    fail

    mov     x0, #32                 // pool = rawrt_pool_create(32, 0, 0): 32-byte blocks,
    mov     x1, #0                  // default alignment,
    mov     x2, #0                  // no limit
    bl      rawrt_pool_create
    cbz     x0, fail
    mov     x20, x0                 // x20 = pool

    mov     x0, x20                 // first = rawrt_pool_alloc(pool)
    bl      rawrt_pool_alloc
    cbz     x0, fail
    mov     x21, x0
    mov     w9, #1
    strb    w9, [x21]               // blocks are ours to write
    mov     x0, x20                 // second = rawrt_pool_alloc(pool)
    bl      rawrt_pool_alloc
    cbz     x0, fail
    cmp     x0, x21
    b.eq    fail                    // two live blocks never share an address
    mov     x22, x0

    mov     x0, x20                 // rawrt_pool_info(pool, &info)
    add     x1, sp, #BUF
    bl      rawrt_pool_info
    PRINT   pool_a, pool_b          // "pool: 2 blocks of 32 bytes in use"
    ldr     x0, [sp, #(BUF + INFO_IN_USE)]
    bl      print_num
    PRINT   pool_b, pool_c
    ldr     x0, [sp, #(BUF + INFO_BLOCK_SIZE)]
    bl      print_num
    PRINT   pool_c, heap_a

    mov     x0, x20                 // rawrt_pool_free(pool, first)
    mov     x1, x21
    bl      rawrt_pool_free
    mov     x0, x20                 // rawrt_pool_free(pool, second)
    mov     x1, x22
    bl      rawrt_pool_free
    mov     x0, x20                 // rawrt_pool_destroy(pool)
    bl      rawrt_pool_destroy

    add     x8, sp, #BUF            // mallinfo2(): the 80-byte result is written at x8
    bl      mallinfo2
    PRINT   heap_a, heap_b
    ldr     x0, [sp, #(BUF + MI_UORDBLKS)]
    bl      print_num
    PRINT   heap_b, heap_c
    ldr     x0, [sp, #(BUF + MI_ARENA)]
    bl      print_num
    PRINT   heap_c, heap_end

    mov     x0, x19                 // free(buffer)
    bl      free
    mov     w0, #0                  // status 0
    b       done
fail:
    mov     w0, #1                  // status 1
done:
    ldp     x21, x22, [sp, #32]     // restore in reverse order
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #128    // and free the frame
    ret                             // rawrt's _start calls exit(w0)
    .size   main, . - main

// print(x1 = text, x2 = length): write(1, text, length); returns write's result.
print:
    mov     x0, #1
    b       write                   // a tail call: x30 still holds our caller's return address

// print_num(x0 = value): writes the unsigned value in decimal.
print_num:
    stp     x29, x30, [sp, #-48]!   // 16 bytes for x29/x30, 32 for the digits
    mov     x29, sp
    add     x1, sp, #48             // digits go backwards from the end of the buffer
    mov     x3, #10
1:  udiv    x4, x0, x3              // x4 = value / 10
    msub    x5, x4, x3, x0          // x5 = value - x4 * 10
    add     w5, w5, #'0'
    strb    w5, [x1, #-1]!          // pre-decrement x1, then store
    mov     x0, x4
    cbnz    x0, 1b
    add     x2, sp, #48
    sub     x2, x2, x1              // length = end - first digit
    bl      print
    ldp     x29, x30, [sp], #48
    ret

    .section .note.GNU-stack,"",%progbits   // no executable stack
