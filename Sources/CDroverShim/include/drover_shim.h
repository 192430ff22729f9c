#ifndef DROVER_SHIM_H
#define DROVER_SHIM_H

// Linux-only calls that Swift's Glibc module does not expose: it is built without _GNU_SOURCE
// and lacks <sys/epoll.h>, <sys/eventfd.h>, <sys/timerfd.h>, <sys/signalfd.h> and <sys/prctl.h>.
// The epoll/eventfd/timerfd/signalfd headers need no feature macros, so they are included here
// and Swift calls them directly; everything that needs _GNU_SOURCE or a raw syscall is wrapped
// in a drover_* function defined in shim.c. Every wrapper returns -1 and sets errno on failure,
// like the call it wraps, unless its comment says otherwise.

#include <spawn.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/types.h>

/// Raise glibc's heap trim threshold and top pad so SQLite's per-statement allocations do not
/// grow and shrink the heap on every call (measured: halves statement throughput otherwise).
void drover_tune_malloc(void);

/// pidfd_open(2) (Linux 5.3): a close-on-exec descriptor that becomes readable when `pid` exits.
int drover_pidfd_open(pid_t pid, unsigned int flags);

/// pidfd_send_signal(2) (Linux 5.1) with no siginfo and no flags.
int drover_pidfd_send_signal(int pidfd, int sig);

/// prctl(PR_SET_PDEATHSIG, sig): deliver `sig` to the calling process when the thread that
/// created it exits. 0 clears it.
int drover_set_parent_death_signal(int sig);

/// Installs a handler for `sig` that SIGKILLs the caller's whole process group (itself and
/// everything it started that stayed in the group), async-signal-safely. For a worker that
/// leads its own group: its exec'd commands must not outlive it. Returns 0 or -1 with errno.
int drover_kill_group_on_signal(int sig);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants of the caller are re-parented to it
/// (not to init), so it can kill and reap what its children left behind.
int drover_set_child_subreaper(void);

/// prctl(PR_SET_NAME, name): the thread's (for the main thread: the process's) `comm`, what
/// `top`, `pgrep NAME` and /proc/PID/comm show; at most 15 bytes are kept.
int drover_set_process_name(const char *name);

/// ioctl(fd, TIOCGWINSZ): the terminal's columns and rows; 0 on success, -1 with errno.
int drover_terminal_size(int fd, int *columns, int *rows);

/// prctl(PR_GET_PDEATHSIG): the current parent-death signal (0 = none), or -1 with errno.
int drover_parent_death_signal(void);

/// POSIX_SPAWN_SETSID (glibc 2.26): the child calls setsid() before exec.
short drover_spawn_flag_setsid(void);

/// posix_spawn_file_actions_addchdir_np (glibc 2.29). Returns 0 or an error number.
int drover_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34): close every fd >= `from` in the child.
/// Returns 0 or an error number.
int drover_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// pipe2(fds, O_CLOEXEC): fds[0] reads, fds[1] writes.
int drover_pipe_cloexec(int fds[2]);

/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC).
int drover_accept_nonblocking(int fd);

/// getsockopt(SO_PEERCRED): the peer's pid, uid and gid as of connect()/socketpair().
int drover_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

/* memfd_create(2) without MFD_CLOEXEC: an anonymous file that survives execve, for the
   in-place upgrade's state (exec.c). Glibc's Swift module does not import memfd_create. */
int drover_memfd_inheritable(const char *name);

#endif
