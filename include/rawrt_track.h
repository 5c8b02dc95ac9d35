/* rawrt_track.h: NuttX-style allocation tracking. Included after rawrt.h
 * (or passed with -include rawrt_track.h, which includes rawrt.h), it
 * turns malloc, calloc, realloc and free into calls that carry __FILE__
 * and __LINE__: the heap trace records them (heap_trace_record_t's file
 * and line), and the leak report names each leaked block's file:line.
 *
 * It also reads RAWRT_HEAP_TRACE at start-up (a constructor):
 * RAWRT_HEAP_TRACE=leaks prints the leak report at exit. */
#ifndef RAWRT_TRACK_H
#define RAWRT_TRACK_H

#include "rawrt.h"

#undef malloc
#undef calloc
#undef realloc
#undef free
#define malloc(n) rawrt_malloc_at((n), __FILE__, __LINE__)
#define calloc(n, size) rawrt_calloc_at((n), (size), __FILE__, __LINE__)
#define realloc(p, n) rawrt_realloc_at((p), (n), __FILE__, __LINE__)
#define free(p) rawrt_free_at((p), __FILE__, __LINE__)

__attribute__((constructor)) static void rawrt_track_from_env(void) {
    (void)rawrt_heap_trace_from_env();
}

#endif /* RAWRT_TRACK_H */
