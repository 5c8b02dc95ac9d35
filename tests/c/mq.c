/*
 * POSIX message queues: mq_open with mode and attributes, messages
 * received highest priority first (first in, first out within one
 * priority), O_NONBLOCK giving EAGAIN on an empty or full queue, EMSGSIZE
 * both ways, mq_getattr/mq_setattr, timed receive and send ending with
 * ETIMEDOUT after the deadline, a message from a forked child, mq_notify,
 * and the name rules.
 */
#include "check.h"

static int same(const char *a, const char *b, long n) {
    return n >= 0 && (size_t)n == strlen(b) && memcmp(a, b, (size_t)n) == 0;
}

int main(void) {
    char name[64];
    unique_name("/rawrt-c-mq-", name);
    struct mq_attr attr = {0};
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = 64;
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, &attr);
    CHECK(q >= 0, "mq_open(O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, {maxmsg 4, msgsize 64})");

    struct mq_attr got;
    CHECK(mq_getattr(q, &got) == 0, "mq_getattr");
    CHECK(got.mq_maxmsg == 4 && got.mq_msgsize == 64 && got.mq_curmsgs == 0 && (got.mq_flags & O_NONBLOCK),
          "the attributes are those asked for, with O_NONBLOCK");

    char buf[64];
    unsigned int prio = 99;
    errno = 0;
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == -1 && errno == EAGAIN, "O_NONBLOCK: receive from an empty queue: EAGAIN");

    CHECK(mq_send(q, "low", 3, 1) == 0, "send \"low\" at priority 1");
    CHECK(mq_send(q, "high", 4, 9) == 0, "send \"high\" at priority 9");
    CHECK(mq_send(q, "mid-a", 5, 5) == 0, "send \"mid-a\" at priority 5");
    CHECK(mq_send(q, "mid-b", 5, 5) == 0, "send \"mid-b\" at priority 5");
    errno = 0;
    CHECK(mq_send(q, "full", 4, 3) == -1 && errno == EAGAIN, "O_NONBLOCK: send to a full queue: EAGAIN");
    CHECK(mq_getattr(q, &got) == 0 && got.mq_curmsgs == 4, "mq_getattr counts 4 messages");

    long n = mq_receive(q, buf, sizeof buf, &prio);
    CHECK(same(buf, "high", n) && prio == 9, "first received: \"high\", priority 9");
    n = mq_receive(q, buf, sizeof buf, &prio);
    CHECK(same(buf, "mid-a", n) && prio == 5, "then \"mid-a\", priority 5");
    n = mq_receive(q, buf, sizeof buf, NULL);
    CHECK(same(buf, "mid-b", n), "then \"mid-b\" (first in, first out within a priority; NULL priority pointer)");
    n = mq_receive(q, buf, sizeof buf, &prio);
    CHECK(same(buf, "low", n) && prio == 1, "then \"low\", priority 1");

    char big[65];
    memset(big, 'x', sizeof big);
    errno = 0;
    CHECK(mq_send(q, big, 65, 0) == -1 && errno == EMSGSIZE, "a 65-byte message to a 64-byte queue: EMSGSIZE");
    CHECK(mq_send(q, big, 64, 0) == 0, "a 64-byte message is fine");
    char small[63];
    errno = 0;
    CHECK(mq_receive(q, small, sizeof small, NULL) == -1 && errno == EMSGSIZE,
          "receiving into a buffer smaller than mq_msgsize: EMSGSIZE");
    CHECK(mq_receive(q, buf, sizeof buf, NULL) == 64, "and with a big enough buffer it arrives");

    /* Blocking again, then deadlines. */
    struct mq_attr blocking = {0}, old;
    CHECK(mq_setattr(q, &blocking, &old) == 0 && (old.mq_flags & O_NONBLOCK), "mq_setattr clears O_NONBLOCK (old flags had it)");
    CHECK(mq_getattr(q, &got) == 0 && !(got.mq_flags & O_NONBLOCK), "mq_getattr shows it cleared");

    struct timespec t0, t1, deadline;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(clock_gettime(CLOCK_REALTIME, &deadline) == 0, "clock_gettime(CLOCK_REALTIME)");
    deadline.tv_nsec += 200 * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    errno = 0;
    n = mq_timedreceive(q, buf, sizeof buf, &prio, &deadline);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = elapsed_ms(&t0, &t1);
    CHECK(n == -1 && errno == ETIMEDOUT, "mq_timedreceive on an empty queue: ETIMEDOUT");
    CHECK(ms >= 190 && ms < 5000, "after waiting for the 200 ms deadline");
    out("  (waited ");
    out_num(ms);
    out(" ms)\n");

    for (int i = 0; i < 4; i++) mq_send(q, "fill", 4, 0);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 100 * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    errno = 0;
    CHECK(mq_timedsend(q, "late", 4, 0, &deadline) == -1 && errno == ETIMEDOUT, "mq_timedsend to a full queue: ETIMEDOUT");
    struct timespec past = {0, 0};
    n = mq_timedreceive(q, buf, sizeof buf, NULL, &past);
    CHECK(same(buf, "fill", n), "mq_timedreceive with a past deadline still takes a waiting message");
    for (int i = 0; i < 3; i++) mq_receive(q, buf, sizeof buf, NULL);
    errno = 0;
    struct timespec bad = {0, 2000000000L};
    CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &bad) == -1 && errno == EINVAL,
          "a deadline with tv_nsec out of range (on an empty queue): EINVAL");

    /* A message from another process: the parent blocks until it comes. */
    pid_t child = fork();
    if (child == 0) {
        struct timespec d = {0, 50 * 1000000L};
        nanosleep(&d, NULL);
        mqd_t cq = mq_open(name, O_WRONLY);
        _exit(cq >= 0 && mq_send(cq, "from the child", 14, 7) == 0 ? 0 : 1);
    }
    n = mq_receive(q, buf, sizeof buf, &prio);
    CHECK(same(buf, "from the child", n) && prio == 7, "a blocking receive gets a forked child's message");
    int status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child opened the queue by name and sent");

    struct sigevent sev = {0};
    sev.sigev_notify = SIGEV_NONE;
    CHECK(mq_notify(q, &sev) == 0, "mq_notify(SIGEV_NONE) registers");
    child = fork();
    if (child == 0) {
        struct sigevent s2 = {0};
        s2.sigev_notify = SIGEV_NONE;
        mqd_t cq = mq_open(name, O_RDONLY);
        errno = 0;
        _exit(cq >= 0 && mq_notify(cq, &s2) == -1 && errno == EBUSY ? 0 : 1);
    }
    status = wait_for(child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another process's mq_notify: EBUSY");
    CHECK(mq_notify(q, NULL) == 0, "mq_notify(NULL) unregisters");

    CHECK(mq_close(q) == 0, "mq_close");
    errno = 0;
    CHECK(mq_send(q, "x", 1, 0) == -1 && errno == EBADF, "send on a closed queue: EBADF");
    CHECK(mq_unlink(name) == 0, "mq_unlink");
    errno = 0;
    CHECK(mq_unlink(name) == -1 && errno == ENOENT, "mq_unlink twice: ENOENT");
    errno = 0;
    CHECK(mq_open(name, O_RDWR) == -1 && errno == ENOENT, "mq_open of a removed queue without O_CREAT: ENOENT");
    errno = 0;
    CHECK(mq_open("rawrt-no-slash", O_CREAT | O_RDWR, 0600, NULL) == -1 && errno == EINVAL,
          "a name without a leading '/': EINVAL");
    struct mq_attr silly = {0};
    silly.mq_maxmsg = 0;
    silly.mq_msgsize = 64;
    errno = 0;
    CHECK(mq_open(name, O_CREAT | O_RDWR, 0600, &silly) == -1 && errno == EINVAL, "mq_maxmsg 0: EINVAL");
    return finish("mq");
}
