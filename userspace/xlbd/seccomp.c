// SPDX-License-Identifier: GPL-2.0
#include "seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>

#include "lib/log.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The sanitizer build (make asan) runs the same tests under the filter, and
 * its runtime needs more at exit than xlbd ever does: LeakSanitizer stops
 * the world by cloning a tracer task (no CLONE_THREAD) that ptrace()s every
 * thread, and a report may exec llvm-symbolizer. */
#if defined(__SANITIZE_ADDRESS__)
#define XLB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XLB_SANITIZED 1
#endif
#endif
#ifndef XLB_SANITIZED
#define XLB_SANITIZED 0
#endif

/* What the runtime calls, found by running the integration tests with a
 * filter that logs what it refuses (actions_logged), and by reading the
 * paths they do not reach. Grouped by who needs them. */
// clang-format off
static const int allowed[] = {
	/* the event loop and its fds: timers, signals, wake-ups, inotify */
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_pwait2), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
	SCMP_SYS(signalfd4), SCMP_SYS(eventfd2), SCMP_SYS(inotify_init1),
	SCMP_SYS(inotify_add_watch), SCMP_SYS(inotify_rm_watch),
	/* bytes in and out: the proxy's splice path, the log, files */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(splice), SCMP_SYS(pipe2),
	SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(fcntl),
	SCMP_SYS(lseek), SCMP_SYS(ioctl),
	/* sockets: listeners, backends, the control socket and its SCM_RIGHTS
	 * hand-over, netlink, libcurl (Docker's unix socket, ACME) */
	SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(bind), SCMP_SYS(listen),
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(shutdown),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
	SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg),
	/* maps and programs for links found later; setns() into a backend's
	 * netns for its veth peer's XDP (caps.c) */
	SCMP_SYS(bpf), SCMP_SYS(setns),
	/* files: certificates, ACME state, config on SIGHUP, pins at teardown,
	 * /proc and /sys for links */
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(access),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getdents64), SCMP_SYS(getdents),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(rmdir), SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(chmod), SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat), SCMP_SYS(fchown), SCMP_SYS(fchownat), SCMP_SYS(ftruncate),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(statfs), SCMP_SYS(fstatfs),
	SCMP_SYS(getcwd), SCMP_SYS(umask),
	/* memory */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(brk), SCMP_SYS(mremap),
	/* threads (clone itself is below: threads only) and signals: the log
	 * thread, TLS handshake workers, ACME, libcurl's resolver */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list),
	SCMP_SYS(rseq), SCMP_SYS(set_tid_address), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
	SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(membarrier),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(tgkill),
	SCMP_SYS(prctl),
	/* time, randomness, limits, who we are (OpenSSL, libcurl, glibc) */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(getrandom), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(uname),
	SCMP_SYS(sysinfo), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid), SCMP_SYS(capget),
	/* a helper thread started later drops its capabilities (lib/thread.h):
	 * capset can lower a thread's sets, never raise them past permitted */
	SCMP_SYS(capset),
#if XLB_SANITIZED
	/* LeakSanitizer's stop-the-world at exit */
	SCMP_SYS(ptrace), SCMP_SYS(wait4),
#endif
};

/* What a process that took over xlbd would want and xlbd never calls after
 * set-up: run a program, read or write another process, load kernel code,
 * change its mounts, root or ids, or reach for kernel attack surface. */
static const int killed[] = {
#if !XLB_SANITIZED
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
#endif
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev), SCMP_SYS(init_module),
	SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(kexec_load),
	SCMP_SYS(kexec_file_load), SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
	SCMP_SYS(chroot), SCMP_SYS(fsopen), SCMP_SYS(fsmount), SCMP_SYS(move_mount),
	SCMP_SYS(open_tree), SCMP_SYS(unshare), SCMP_SYS(open_by_handle_at),
	SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setreuid), SCMP_SYS(setregid),
	SCMP_SYS(setresuid), SCMP_SYS(setresgid), SCMP_SYS(setfsuid), SCMP_SYS(setfsgid),
	SCMP_SYS(setgroups), SCMP_SYS(keyctl), SCMP_SYS(add_key), SCMP_SYS(request_key),
	SCMP_SYS(userfaultfd), SCMP_SYS(perf_event_open), SCMP_SYS(iopl), SCMP_SYS(ioperm),
	SCMP_SYS(reboot), SCMP_SYS(swapon), SCMP_SYS(swapoff),
};
// clang-format on

/* Adds a rule per call of calls that this architecture has (SCMP_SYS
 * names the others by a negative number: e.g. open on arm64). Returns how
 * many it added, or a negative errno. */
static int add_all(scmp_filter_ctx ctx, uint32_t action, const int *calls, size_t n)
{
	int added = 0;

	for (size_t i = 0; i < n; i++) {
		int err = calls[i] < 0 ? 0 : seccomp_rule_add(ctx, action, calls[i], 0);

		if (err)
			return err;
		added += calls[i] >= 0;
	}
	return added;
}

/* clone3 passes its flags in memory, where a filter cannot look: it fails
 * with ENOSYS and glibc falls back to clone, whose flags it can see. A
 * clone without CLONE_THREAD (a fork) gets the default answer. */
static int add_clone(scmp_filter_ctx ctx)
{
	int err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);

	if (err)
		return err;
	if (XLB_SANITIZED)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
}

/* The rules; returns how many calls they allow (clone among them), or a
 * negative errno. TSYNC: the log thread and the TLS workers run already,
 * and a filter loaded without it would hold this thread alone. */
static int build_filter(scmp_filter_ctx ctx)
{
	int err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	int n = 0;

	/* the kernel logs each refused call (type=1326, with its number) while
	 * kernel.seccomp.actions_logged has errno, as by default: a path the
	 * list missed shows there. A kernel before 4.14 cannot; no matter. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);

	if (!err)
		err = n = add_all(ctx, SCMP_ACT_ALLOW, allowed, N_OF(allowed));
	if (err >= 0)
		err = add_all(ctx, SCMP_ACT_KILL_PROCESS, killed, N_OF(killed));
	if (err >= 0)
		err = add_clone(ctx);
	return err < 0 ? err : n + 1;
}

/* A call on neither list fails with EPERM rather than ENOSYS: the error
 * every caller already handles and logs, where ENOSYS may send a library
 * down a "kernel too old" fallback. */
int xlb_seccomp_install(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int n, err;

	if (!ctx)
		return -ENOMEM;
	n = build_filter(ctx);
	err = n < 0 ? n : seccomp_load(ctx);
	seccomp_release(ctx);
	return err < 0 ? err : n;
}

int xlb_seccomp_enter(bool enabled)
{
	int n;

	if (!enabled) {
		pr_warn("event=seccomp mode=off reason=\"--no-seccomp\"");
		return 0;
	}
	n = xlb_seccomp_install();
	/* a kernel built without seccomp filters, or valgrind (leaks.bats),
	 * which does not pass seccomp() on: no filter to be had, and nothing
	 * that an operator could fix with a flag */
	if (n == -EOPNOTSUPP) {
		pr_warn("event=seccomp mode=off reason=\"unsupported here\"");
		return 0;
	}
	if (n < 0)
		return pr_err("event=seccomp_failed err=\"%s\" hint=\"--no-seccomp runs without it\"",
			      strerror(-n)),
		       n;
	pr_info("event=seccomp mode=filter syscalls=%d killed=%zu default=eperm", n, N_OF(killed));
	return 0;
}
