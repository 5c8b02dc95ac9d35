/*
 * What every C test of rawrt's system interfaces shares. The tests are
 * built without libc:
 *     cc -std=c11 -ffreestanding -nostdlib -static -Iinclude test.c librawrt.a
 * and run by `cargo test` (src/hosted/ctests.rs), which checks their exit
 * status and output. Each check prints "ok: WHAT" or "FAIL: WHAT (line N,
 * errno E)"; the last line counts them, and the status is 1 if any failed.
 */
#ifndef RAWRT_TEST_CHECK_H
#define RAWRT_TEST_CHECK_H

#include "rawrt.h"

static int passed, failed;

static inline void out(const char *s) {
    write(STDOUT_FILENO, s, strlen(s));
}

/* A number in decimal into buf (at least 24 bytes); returns buf. */
static inline char *fmt_num(long v, char *buf) {
    char d[24];
    int i = 0, j = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do d[i++] = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (v < 0) buf[j++] = '-';
    while (i > 0) buf[j++] = d[--i];
    buf[j] = 0;
    return buf;
}

static inline void out_num(long v) {
    char b[24];
    out(fmt_num(v, b));
}

/* One line, written at once (children share stdout). */
static void line3(const char *a, const char *b, const char *c) {
    char buf[512];
    size_t n = 0;
    const char *parts[3] = {a, b, c};
    for (int k = 0; k < 3; k++)
        for (const char *s = parts[k]; *s && n < sizeof buf - 1; s++) buf[n++] = *s;
    buf[n++] = '\n';
    write(STDOUT_FILENO, buf, n);
}

static inline void check_(int ok, const char *what, int line) {
    char l[24], e[24], tail[80];
    int err = errno;
    if (ok) {
        passed++;
        line3("ok: ", what, "");
        return;
    }
    failed++;
    /* " (line N, errno E)" */
    size_t n = 0;
    const char *parts[5] = {" (line ", fmt_num(line, l), ", errno ", fmt_num(err, e), ")"};
    for (int k = 0; k < 5; k++)
        for (const char *s = parts[k]; *s && n < sizeof tail - 1; s++) tail[n++] = *s;
    tail[n] = 0;
    line3("FAIL: ", what, tail);
}

#define CHECK(cond, what) check_((cond) != 0, (what), __LINE__)

/* The last line: "NAME: P passed, F failed"; the exit status. */
static inline int finish(const char *name) {
    char p[24], f[24];
    char buf[128];
    size_t n = 0;
    const char *parts[5] = {name, ": ", fmt_num(passed, p), " passed, ", fmt_num(failed, f)};
    for (int k = 0; k < 5; k++)
        for (const char *s = parts[k]; *s && n < sizeof buf - 1; s++) buf[n++] = *s;
    buf[n] = 0;
    line3(buf, " failed", "");
    return failed ? 1 : 0;
}

/* "PREFIX<pid>" into buf: a name no other run uses. */
static inline const char *unique_name(const char *prefix, char *buf) {
    char d[24];
    size_t n = 0;
    for (const char *s = prefix; *s; s++) buf[n++] = *s;
    for (const char *s = fmt_num(getpid(), d); *s; s++) buf[n++] = *s;
    buf[n] = 0;
    return buf;
}

/* Waits for child pid; its raw status. */
static inline int wait_for(pid_t pid) {
    int status = -1;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return status;
}

/* Milliseconds between two CLOCK_MONOTONIC readings. */
static inline long elapsed_ms(const struct timespec *a, const struct timespec *b) {
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

#endif
