// The few OS primitives the resolver uses, issued as raw system calls.
// Why raw: inside the preloaded library, a plain open()/close() would call
// cmbmap's own interposers; the resolver must see the files untouched and
// must never allocate. Everything else in resolver/ goes through these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace cmbmap::prim {

int open_read(const char* path, int extra_flags = 0);  // fd or -errno
int close_fd(int fd);
long read_fd(int fd, void* buf, size_t len);
int fstat_fd(int fd, struct stat* st);                 // 0 or -errno
int fstatfs_fd(int fd, struct statfs* st);
int ioctl_fd(int fd, unsigned long req, void* arg);
long readlink_at(const char* path, char* buf, size_t len);  // NUL-terminated

// Reads a small text file into buf (NUL-terminated, trailing newline kept).
// Returns bytes read or -errno.
long read_text(const char* path, char* buf, size_t len);

}  // namespace cmbmap::prim

namespace cmbmap::prim {

// Calls fn(name, ctx) for each entry of dir except "." and ".."; stops early
// when fn returns false. Returns 0 or -errno. Uses a stack buffer.
int list_dir(const char* dir, bool (*fn)(const char* name, void* ctx), void* ctx);

// True if path exists (faccessat F_OK, raw).
bool exists(const char* path);

// CLOCK_MONOTONIC in nanoseconds (vDSO: no system call, no allocation).
uint64_t monotonic_ns();

}  // namespace cmbmap::prim
