/* The mknod supervisor's worker deadlines: a worker whose time is up is
 * killed and remembered for the reaping; when that memory is full it waits
 * another timeout instead of keeping a deadline in the past (which made
 * every poll() of the monitor return at once: a busy loop). */
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mknod-supervisor.h"

#define MS 1000000ull

static void init(struct mknod_supervisor *s)
{
        memset(s, 0, sizeof(*s));
        s->listenfd = -1;
        s->timeout_ns = 200 * MS;
        s->resp_size = sizeof(struct seccomp_notif_resp);
        s->notif_size = sizeof(struct seccomp_notif);
}

static pid_t sleeper(void)
{
        pid_t pid = fork();

        if (pid == 0) {
                pause();
                _exit(0);
        }
        CHECK(pid > 0);
        return pid;
}

static void test_no_worker_no_timeout(void)
{
        struct mknod_supervisor s;

        init(&s);
        CHECK(mknod_supervisor_poll_timeout(&s, 1000 * MS) == -1);
}

static void test_timeout_follows_the_earliest_deadline(void)
{
        struct mknod_supervisor s;

        init(&s);
        s.workers[s.n_workers++] = (struct mknod_worker){.pid = 1, .deadline_ns = 1500 * MS, .nfd = -1};
        s.workers[s.n_workers++] = (struct mknod_worker){.pid = 2, .deadline_ns = 1200 * MS, .nfd = -1};
        CHECK(mknod_supervisor_poll_timeout(&s, 1000 * MS) == 200);
        /* rounded up, never 0 before the deadline */
        CHECK(mknod_supervisor_poll_timeout(&s, 1200 * MS - 1) == 1);
        CHECK(mknod_supervisor_poll_timeout(&s, 1200 * MS) == 0);
        /* nothing expired yet: nobody is touched */
        mknod_supervisor_expire(&s, 1000 * MS);
        CHECK(s.n_workers == 2 && s.n_abandoned == 0);
}

static void test_expired_worker_is_killed_and_reaped_later(void)
{
        struct mknod_supervisor s;
        pid_t pid = sleeper();
        int status;

        init(&s);
        s.workers[s.n_workers++] =
            (struct mknod_worker){.pid = pid, .deadline_ns = 1000 * MS, .nfd = -1, .caller = 42};
        mknod_supervisor_expire(&s, 1000 * MS);
        CHECK(s.n_workers == 0);
        CHECK(s.n_abandoned == 1 && s.abandoned[0] == pid);
        CHECK(mknod_supervisor_poll_timeout(&s, 1000 * MS) == -1);
        CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CHECK(mknod_supervisor_reaped(&s, pid));
        CHECK(s.n_abandoned == 0);
        CHECK(!mknod_supervisor_reaped(&s, pid));
}

static void test_full_abandoned_list_waits_a_timeout(void)
{
        struct mknod_supervisor s;
        pid_t pid = sleeper();
        int status;

        init(&s);
        for (size_t i = 0; i < MKNOD_SUPERVISOR_ABANDONED; i++)
                s.abandoned[s.n_abandoned++] = (pid_t)(1000000 + i);
        s.workers[s.n_workers++] =
            (struct mknod_worker){.pid = pid, .deadline_ns = 1000 * MS, .nfd = -1, .caller = 42};
        mknod_supervisor_expire(&s, 1000 * MS);
        /* kept, alive, and given another timeout: poll() waits again */
        CHECK(s.n_workers == 1 && s.workers[0].pid == pid);
        CHECK(s.workers[0].deadline_ns == 1200 * MS);
        CHECK(mknod_supervisor_poll_timeout(&s, 1000 * MS) == 200);
        CHECK(waitpid(pid, &status, WNOHANG) == 0);
        /* one abandoned worker reaped: the next expiry kills this one */
        CHECK(mknod_supervisor_reaped(&s, 1000000));
        mknod_supervisor_expire(&s, 1200 * MS);
        CHECK(s.n_workers == 0 && s.n_abandoned == MKNOD_SUPERVISOR_ABANDONED);
        CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
        CHECK(mknod_supervisor_reaped(&s, pid));
}

int main(void)
{
        test_no_worker_no_timeout();
        test_timeout_follows_the_earliest_deadline();
        test_expired_worker_is_killed_and_reaped_later();
        test_full_abandoned_list_waits_a_timeout();
        return check_report("test_mknod_supervisor");
}
