// The real libc functions behind every interposer. Until they are resolved
// (dlsym in the library constructor) and while dlsym itself runs, calls go
// straight to the kernel as raw system calls, so bootstrap never recurses
// and never touches the heap. This is the only file that knows about dlsym.
#pragma once

#include <csignal>
#include <cstdio>
#include <spawn.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace cmbmap::real {

void resolve();  // called once from the constructor

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off);
int munmap(void* addr, size_t len);
void* mremap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr);
int mprotect(void* addr, size_t len, int prot);
// mprotect with a protection key; pkey -1 is plain mprotect.
int pkey_mprotect(void* addr, size_t len, int prot, int pkey);
int madvise(void* addr, size_t len, int advice);
int mlock2(const void* addr, size_t len, unsigned flags);  // mlock is mlock2 with flags 0
int munlock(const void* addr, size_t len);
int msync(void* addr, size_t len, int flags);

int openat(int dirfd, const char* path, int flags, mode_t mode);
int close(int fd);
int dup2(int oldfd, int newfd);
int dup3(int oldfd, int newfd, int flags);
int close_range(unsigned first, unsigned last, int flags);
FILE* fdopen(int fd, const char* mode);
int fclose(FILE* f);
void closefrom(int lowfd);

ssize_t write(int fd, const void* buf, size_t n);
ssize_t pwrite(int fd, const void* buf, size_t n, off_t off);
ssize_t writev(int fd, const struct iovec* iov, int cnt);
ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off);
ssize_t pwritev2(int fd, const struct iovec* iov, int cnt, off_t off, int flags);
int truncate(const char* path, off_t len);
int ftruncate(int fd, off_t len);
int fallocate(int fd, int mode, off_t off, off_t len);
int posix_fallocate(int fd, off_t off, off_t len);
ssize_t copy_file_range(int in, off_t* in_off, int out, off_t* out_off, size_t n, unsigned flags);
ssize_t sendfile(int out, int in, off_t* off, size_t n);

ssize_t read(int fd, void* buf, size_t n);
ssize_t pread(int fd, void* buf, size_t n, off_t off);
ssize_t readv(int fd, const struct iovec* iov, int cnt);
ssize_t preadv(int fd, const struct iovec* iov, int cnt, off_t off);
ssize_t preadv2(int fd, const struct iovec* iov, int cnt, off_t off, int flags);
int sigaction(int sig, const struct sigaction* act, struct sigaction* old);
sighandler_t signal(int sig, sighandler_t handler);
sighandler_t sysv_signal(int sig, sighandler_t handler);
ssize_t read_chk(int fd, void* buf, size_t n, size_t buflen);
ssize_t pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen);
ssize_t splice(int in, loff_t* in_off, int out, loff_t* out_off, size_t n, unsigned flags);
int fsync(int fd);
int fdatasync(int fd);
int sync_file_range(int fd, off_t off, off_t len, unsigned flags);
int syncfs(int fd);
void sync();
int sigprocmask(int how, const sigset_t* set, sigset_t* old);
int pthread_sigmask(int how, const sigset_t* set, sigset_t* old);

int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa, const posix_spawnattr_t* attr,
                char* const argv[], char* const envp[]);
int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa, const posix_spawnattr_t* attr,
                 char* const argv[], char* const envp[]);
int system(const char* cmd);
FILE* popen(const char* cmd, const char* mode);
int execve(const char* path, char* const argv[], char* const envp[]);
int execvpe(const char* file, char* const argv[], char* const envp[]);
int fexecve(int fd, char* const argv[], char* const envp[]);
[[noreturn]] void quick_exit(int status);
// The older versions glibc keeps for programs linked before a change
// (x86_64): posix_spawn@GLIBC_2.2.5 runs a file without #! under /bin/sh
// where the current one fails with ENOEXEC; quick_exit@GLIBC_2.10. The
// current version where this libc has no older one.
int posix_spawn_compat(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                       const posix_spawnattr_t* attr, char* const argv[], char* const envp[]);
int posix_spawnp_compat(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                        const posix_spawnattr_t* attr, char* const argv[], char* const envp[]);
[[noreturn]] void quick_exit_compat(int status);
int unshare(int flags);
ssize_t recv(int fd, void* buf, size_t n, int flags);
ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* from, socklen_t* len);
ssize_t recvmsg(int fd, struct msghdr* msg, int flags);
ssize_t getdents64(int fd, void* buf, size_t n);
int ioctl(int fd, unsigned long req, void* arg);
int setns(int fd, int nstype);

}  // namespace cmbmap::real
