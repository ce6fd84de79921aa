/* Holds a read-only mapping of a file while other processes change it, for
 * the lease and revocation tests.
 *   holdmap [--rdwr] [--fork] [--block-signals] FILE DIR
 * Maps FILE whole (PROT_READ, MAP_SHARED; opened O_RDWR with --rdwr), with
 * --block-signals first blocks every signal in this thread and a second one,
 * with --fork forks (parent and child both hold the mapping). Each process
 * writes DIR/<who>.ready ("cmb BYTES": how much of the mapping is CMB), waits
 * for DIR/go, then reads the whole mapping as the file is now and writes
 * DIR/<who>.result:
 *   size N / sum HEX (FNV-1a of the mapping's first N bytes, N = file size now)
 *   past_eof SIGBUS|none (a read in the first page past the new EOF page)
 *   cmb BYTES (still CMB afterwards)
 *   breaks N revoked_lease N (cmbmap's statistics; 0 without the shim)
 *   cmb_again BYTES (a new mapping of the file, made once the other process
 *   is done with it: served again under a new lease)
 * <who> is "parent" or "child" (without --fork: "parent").
 *   holdmap --sum FILE SIZE   prints the same sum of FILE's first SIZE bytes
 *   holdmap --open-write FILE opens FILE for writing, prints how long open()
 *                             took in microseconds (a lease break's round trip) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#include "cmbmap/cmbmap.h"

static sigjmp_buf jb;
static void on_fault(int sig) { siglongjmp(jb, sig); }



/* cmbmap's statistics when the shim is loaded (looked up, so the program
 * also runs without it). */
struct stats_view { uint64_t breaks, revoked_lease; };
static struct stats_view stats(void) {
  struct stats_view v = {0, 0};
  int (*get)(struct cmbmap_stats *) = (int (*)(struct cmbmap_stats *))dlsym(RTLD_DEFAULT, "cmbmap_get_stats");
  struct cmbmap_stats s;
  if (get && get(&s) == 0) {
    v.breaks = s.lease_breaks;
    v.revoked_lease = s.revoked_by_reason[CMBMAP_LEASE_BROKEN];
  }
  return v;
}

static void *blocked_thread(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) { perror(tmp); exit(1); }
  fputs(text, f);
  fclose(f);
  rename(tmp, path);
}

static int sum_file(const char *file, size_t size) {
  int fd = open(file, O_RDONLY);
  unsigned char *b = malloc(size ? size : 1);
  if (fd < 0 || !b) { perror(file); return 1; }
  size_t got = 0;
  for (ssize_t n; got < size && (n = pread(fd, b + got, size - got, (off_t)got)) > 0;) got += (size_t)n;
  printf("%016llx\n", (unsigned long long)fnv(b, got));
  return 0;
}

static int open_write(const char *file) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int fd = open(file, O_WRONLY);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (fd < 0) { perror(file); return 1; }
  printf("%lld\n", (long long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "--sum")) return sum_file(argv[2], strtoull(argv[3], NULL, 0));
  if (argc == 3 && !strcmp(argv[1], "--open-write")) return open_write(argv[2]);
  int rdwr = 0, do_fork = 0, block = 0, i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    if (!strcmp(argv[i], "--rdwr")) rdwr = 1;
    else if (!strcmp(argv[i], "--fork")) do_fork = 1;
    else if (!strcmp(argv[i], "--block-signals")) block = 1;
    else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
  }
  if (argc - i != 2) { fprintf(stderr, "usage: holdmap [--rdwr] [--fork] [--block-signals] FILE DIR\n"); return 2; }
  const char *file = argv[i], *dir = argv[i + 1];
  const long pg = sysconf(_SC_PAGESIZE);
  if (block) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_t t;
    pthread_create(&t, NULL, blocked_thread, NULL);  /* inherits the full mask */
  }
  /* close-on-exec, as sqlite3, LMDB and python3 open their files */
  int fd = open(file, (rdwr ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) { perror(file); return 1; }
  struct stat st;
  fstat(fd, &st);
  size_t len = (size_t)st.st_size;
  unsigned char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  const char *who = "parent";
  pid_t child = 0;
  if (do_fork && (child = fork()) == 0) who = "child";
  char text[512], name[64];
  snprintf(text, sizeof text, "cmb %zu\n", cmb_bytes(m, len));
  snprintf(name, sizeof name, "%s.ready", who);
  write_file(dir, name, text);

  char go[4096];
  snprintf(go, sizeof go, "%s/go", dir);
  for (int waited = 0; access(go, F_OK) != 0; ++waited) {
    if (waited > 120000) { fprintf(stderr, "%s: no %s after 120 s\n", who, go); return 1; }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  /* SIGBUS must reach the handler even with everything else blocked. */
  sigset_t faults;
  sigemptyset(&faults);
  sigaddset(&faults, SIGBUS);
  sigaddset(&faults, SIGSEGV);
  pthread_sigmask(SIG_UNBLOCK, &faults, NULL);
  signal(SIGBUS, on_fault);
  signal(SIGSEGV, on_fault);
  fstat(fd, &st);
  size_t size = (size_t)st.st_size < len ? (size_t)st.st_size : len;
  uint64_t sum = fnv(m, size);
  size_t eof_page = (size + pg - 1) / pg * pg;
  const char *volatile past = "n/a";
  if (eof_page < len) {
    int sig = sigsetjmp(jb, 1);
    if (!sig) { volatile unsigned char c = m[eof_page]; (void)c; past = "none"; }
    else past = sig == SIGBUS ? "SIGBUS" : "SIGSEGV";
  }
  struct stats_view v = stats();
  size_t cmb_now = cmb_bytes(m, len);
  munmap(m, len);
  m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  size_t again = m == MAP_FAILED ? 0 : cmb_bytes(m, size);
  snprintf(text, sizeof text,
           "size %zu\nsum %016llx\npast_eof %s\ncmb %zu\nbreaks %llu revoked_lease %llu\ncmb_again %zu\n", size,
           (unsigned long long)sum, past, cmb_now, (unsigned long long)v.breaks, (unsigned long long)v.revoked_lease,
           again);
  snprintf(name, sizeof name, "%s.result", who);
  write_file(dir, name, text);
  if (child > 0) {
    int status;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) return 1;
  }
  return 0;
}
