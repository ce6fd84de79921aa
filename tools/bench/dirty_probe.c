/* dirty_probe (docs/dirty-tracking.md): does dirty tracking that the kernel resolves itself work on a p2pmem
 * mapping, and what does it cost (issue 14)?
 * usage: dirty_probe [CASE...]     (no CASE: the full plan below, one boot)
 *
 * Mechanisms:
 *   uffd  userfaultfd write-protect, async (UFFD_FEATURE_WP_ASYNC | WP_UNPOPULATED),
 *         UFFDIO_REGISTER_MODE_WP; get-and-clear with PAGEMAP_SCAN (PM_SCAN_WP_MATCHING |
 *         PM_SCAN_CHECK_WPASYNC, category PAGE_IS_WRITTEN); re-protect also with
 *         UFFDIO_WRITEPROTECT.
 *   sd    soft-dirty: "4" > /proc/self/clear_refs, /proc/self/pagemap bit 55.
 *   mp    today's cmbmap: mprotect(PROT_READ), SIGSEGV handler marks the page and
 *         mprotects it writable again.
 * Mapping kinds:
 *   p2p   mmap of /sys/bus/pci/devices/BDF/p2pmem/allocate (MAP_SHARED, RW), 8 MiB
 *   ext4  MAP_SHARED RW mapping of an 8 MiB file on /mnt/nvme (page cache)
 *
 * A functional case is MECH:KIND:PRE:STEPS, PRE 1 = one store into each page before the
 * first protect (as cmbmap's p2pmem::map_at does), STEPS letters run in order:
 *   C clear / protect (uffd: PAGEMAP_SCAN get-and-clear)   W uffd: UFFDIO_WRITEPROTECT
 *   S CPU store into page 3     R pread() of a 4 KiB file into page 5 (copy_to_user)
 *   D O_DIRECT pread into page 7 (GUP + DMA)   Q report which pages are written
 * A cost case is cost:MECH:KIND (PRE 1): medians over 5 rounds of clear (all 2048 pages
 * dirty), a store to each of 2048 clean pages, the same stores again (no faults), scan.
 *
 * Every case runs in its own child; the parent kills a child that has not finished in
 * 20 s (as `timeout 20`) and says whether it died (a hang) or not even then (unkillable).
 * Exit 0 when the plan ran (findings are in the output), 77 without p2pmem.
 *
 * The host's kernel headers may predate Linux 6.7: the few userfaultfd and PAGEMAP_SCAN
 * definitions used here are copied from the 6.12 uapi headers (include/uapi/linux/
 * userfaultfd.h and fs.h) when missing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>

/* From Linux 6.12 include/uapi/linux/userfaultfd.h. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
/* From Linux 6.12 include/uapi/linux/fs.h. */
#ifndef PAGEMAP_SCAN
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
struct page_region {
  __u64 start;
  __u64 end;
  __u64 categories;
};
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct pm_scan_arg {
  __u64 size;
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end;
  __u64 vec;
  __u64 vec_len;
  __u64 max_pages;
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};
#endif

#define NPAGES 2048u
#define PG 4096u
#define LEN ((size_t)NPAGES * PG)
#define ROUNDS 5
#define LIMIT_S 20
#define SRC "/mnt/nvme/dirty_probe.src"
#define DAT "/mnt/nvme/dirty_probe.dat"

static char g_alloc[512];
static volatile unsigned char *g_map;
static int g_uffd = -1, g_pagemap = -1, g_clear_refs = -1;
static unsigned char g_mp_dirty[NPAGES];  /* mp: pages the handler saw */
static struct page_region g_vec[NPAGES];
static uint64_t g_sd_buf[NPAGES];

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int fail(const char *what) {
  printf("  %s: FAILED errno %d (%s)\n", what, errno, strerror(errno));
  return 1;
}

static void mp_handler(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  uintptr_t a = (uintptr_t)si->si_addr, lo = (uintptr_t)g_map;
  if (g_map && a >= lo && a < lo + LEN) {
    size_t i = (a - lo) / PG;
    g_mp_dirty[i] = 1;
    if (mprotect((void *)(lo + i * PG), PG, PROT_READ | PROT_WRITE) == 0) return;
  }
  signal(sig, SIG_DFL);  /* not ours: crash on the retry */
}

/* ---- the mapping ---- */
static int map_kind(const char *kind) {
  int fd;
  if (strcmp(kind, "p2p") == 0) {
    fd = open(g_alloc, O_RDWR);
    if (fd < 0) return fail("open p2pmem allocate");
  } else {
    fd = open(DAT, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return fail("open " DAT);
    static unsigned char buf[1 << 16];
    memset(buf, 0x5a, sizeof buf);
    for (size_t off = 0; off < LEN; off += sizeof buf)
      if (pwrite(fd, buf, sizeof buf, (off_t)off) != (ssize_t)sizeof buf) return fail("fill " DAT);
    fsync(fd);
  }
  void *m = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return fail("mmap");
  close(fd);
  g_map = m;
  /* ext4: fault every page in (read), as the p2pmem mapping has all its PTEs at mmap. */
  unsigned sum = 0;
  if (strcmp(kind, "ext4") == 0)
    for (size_t i = 0; i < NPAGES; i++) sum += g_map[i * PG];
  (void)sum;
  return 0;
}

static void store_all(unsigned char v) {
  for (size_t i = 0; i < NPAGES; i++) g_map[i * PG] = v;
}

/* ---- mechanisms ---- */
static int setup(const char *mech) {
  if (strcmp(mech, "uffd") == 0) {
    g_uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (g_uffd < 0) return fail("userfaultfd()");
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
    if (ioctl(g_uffd, UFFDIO_API, &api) != 0) return fail("UFFDIO_API(WP_ASYNC|WP_UNPOPULATED)");
    struct uffdio_register reg = {.range = {.start = (uintptr_t)g_map, .len = LEN},
                                  .mode = UFFDIO_REGISTER_MODE_WP};
    if (ioctl(g_uffd, UFFDIO_REGISTER, &reg) != 0) return fail("UFFDIO_REGISTER(MODE_WP)");
    printf("  register ok (ioctls 0x%llx)\n", (unsigned long long)reg.ioctls);
  } else if (strcmp(mech, "sd") == 0) {
    g_clear_refs = open("/proc/self/clear_refs", O_WRONLY);
    if (g_clear_refs < 0) return fail("open clear_refs");
  } else {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = mp_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    if (sigaction(SIGSEGV, &sa, NULL) != 0) return fail("sigaction");
  }
  g_pagemap = open("/proc/self/pagemap", O_RDONLY);
  if (g_pagemap < 0) return fail("open pagemap");
  return 0;
}

/* uffd scan: PAGE_IS_WRITTEN pages, with wp = 1 also write-protected again.
 * Fills mark[] when given; returns the count or -errno. */
static long pm_scan(uint64_t category, int wp, unsigned char *mark) {
  struct pm_scan_arg a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.flags = wp ? (PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC) : 0;
  a.start = (uintptr_t)g_map;
  a.end = (uintptr_t)g_map + LEN;
  a.vec = (uintptr_t)g_vec;
  a.vec_len = NPAGES;
  a.category_mask = category;
  a.return_mask = category;
  long n = ioctl(g_pagemap, PAGEMAP_SCAN, &a);
  if (n < 0) return -errno;
  long pages = 0;
  for (long r = 0; r < n; r++) {
    size_t lo = (g_vec[r].start - (uintptr_t)g_map) / PG, hi = (g_vec[r].end - (uintptr_t)g_map) / PG;
    pages += (long)(hi - lo);
    if (mark)
      for (size_t i = lo; i < hi; i++) mark[i] = 1;
  }
  return pages;
}

static long sd_scan(unsigned char *mark) {
  off_t off = (off_t)((uintptr_t)g_map / PG * 8);
  if (pread(g_pagemap, g_sd_buf, sizeof g_sd_buf, off) != (ssize_t)sizeof g_sd_buf) return -errno;
  long n = 0;
  for (size_t i = 0; i < NPAGES; i++)
    if (g_sd_buf[i] >> 55 & 1) {
      n++;
      if (mark) mark[i] = 1;
    }
  return n;
}

static long clear(const char *mech) {
  if (strcmp(mech, "uffd") == 0) return pm_scan(PAGE_IS_WRITTEN, 1, NULL);
  if (strcmp(mech, "sd") == 0) return pwrite(g_clear_refs, "4", 1, 0) == 1 ? 0 : -errno;
  memset(g_mp_dirty, 0, sizeof g_mp_dirty);
  return mprotect((void *)g_map, LEN, PROT_READ) == 0 ? 0 : -errno;
}

static long uffd_wp_all(void) {
  struct uffdio_writeprotect wp = {.range = {.start = (uintptr_t)g_map, .len = LEN},
                                   .mode = UFFDIO_WRITEPROTECT_MODE_WP};
  return ioctl(g_uffd, UFFDIO_WRITEPROTECT, &wp) == 0 ? 0 : -errno;
}

static long scan(const char *mech, unsigned char *mark) {
  if (strcmp(mech, "uffd") == 0) return pm_scan(PAGE_IS_WRITTEN, 0, mark);
  if (strcmp(mech, "sd") == 0) return sd_scan(mark);
  long n = 0;
  for (size_t i = 0; i < NPAGES; i++)
    if (g_mp_dirty[i]) {
      n++;
      if (mark) mark[i] = 1;
    }
  return n;
}

/* ---- a functional case ---- */
static int run_steps(const char *mech, const char *steps) {
  for (const char *s = steps; *s; s++) {
    long r;
    ssize_t got;
    int fd;
    unsigned char mark[NPAGES];
    switch (*s) {
      case 'C':
        r = clear(mech);
        printf("  C clear/protect: %s%s\n", r < 0 ? "FAILED " : "ok", r < 0 ? strerror((int)-r) : "");
        if (r < 0) return 1;
        break;
      case 'W':
        r = strcmp(mech, "uffd") == 0 ? uffd_wp_all() : clear(mech);
        printf("  W re-protect%s: %s%s\n", strcmp(mech, "uffd") == 0 ? " (UFFDIO_WRITEPROTECT)" : "",
               r < 0 ? "FAILED " : "ok", r < 0 ? strerror((int)-r) : "");
        if (r < 0) return 1;
        break;
      case 'S':
        printf("  S store into page 3 ... ");
        g_map[3 * PG + 1] = 0xa5;
        printf("done\n");
        break;
      case 'R':
        printf("  R pread(file) into page 5 ... ");
        fd = open(SRC, O_RDONLY);
        got = pread(fd, (void *)(g_map + 5 * PG), PG, 0);
        printf("%s\n", got == PG ? "ok" : got < 0 ? strerror(errno) : "short");
        close(fd);
        break;
      case 'D':
        printf("  D O_DIRECT pread into page 7 ... ");
        fd = open(SRC, O_RDONLY | O_DIRECT);
        got = pread(fd, (void *)(g_map + 7 * PG), PG, 0);
        printf("%s\n", got == PG ? "ok" : got < 0 ? strerror(errno) : "short");
        close(fd);
        break;
      case 'Q':
        memset(mark, 0, sizeof mark);
        r = scan(mech, mark);
        if (r < 0) {
          printf("  Q scan: FAILED %s\n", strerror((int)-r));
          return 1;
        }
        printf("  Q written: %ld page(s):", r);
        for (size_t i = 0, shown = 0; i < NPAGES && shown < 8; i++)
          if (mark[i]) printf(" %zu", i), shown++;
        printf("%s\n", r > 8 ? " ..." : "");
        break;
      default:
        printf("  unknown step %c\n", *s);
        return 2;
    }
  }
  return 0;
}

/* ---- a cost case ---- */
static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(double *v) {
  qsort(v, ROUNDS, sizeof *v, cmp_d);
  return v[ROUNDS / 2];
}

static int run_cost(const char *mech, const char *kind) {
  double t_clear[ROUNDS], t_store[ROUNDS], t_store2[ROUNDS], t_scan[ROUNDS], t_alt[ROUNDS];
  store_all(1);  /* everything dirty before the first clear */
  for (int k = 0; k < ROUNDS; k++) {
    double t0 = now_us();
    long c = clear(mech);
    double t1 = now_us();
    if (c < 0) return printf("  clear failed: %s\n", strerror((int)-c)), 1;
    store_all((unsigned char)(k + 2));  /* 2048 clean pages: one fault each */
    double t2 = now_us();
    store_all((unsigned char)(k + 3));  /* the same pages again: no faults */
    double t3 = now_us();
    long n = scan(mech, NULL);
    double t4 = now_us();
    if (n != (long)NPAGES) printf("  round %d: scan saw %ld written pages, want %u\n", k, n, NPAGES);
    /* the other way to clear/scan, for the record (state restored to all-dirty after) */
    double t5 = now_us(), t6 = t5;
    if (strcmp(mech, "uffd") == 0) {
      t5 = now_us();
      uffd_wp_all();
      t6 = now_us();
      store_all((unsigned char)(k + 4));
    } else if (strcmp(mech, "sd") == 0) {
      t5 = now_us();
      pm_scan(PAGE_IS_SOFT_DIRTY, 0, NULL);
      t6 = now_us();
    }
    t_clear[k] = t1 - t0, t_store[k] = t2 - t1, t_store2[k] = t3 - t2, t_scan[k] = t4 - t3;
    t_alt[k] = t6 - t5;
  }
  const char *alt = strcmp(mech, "uffd") == 0 ? "uffdio_wp_us" : strcmp(mech, "sd") == 0 ? "pmscan_sd_us" : "-";
  printf("COST %-4s %-4s clear_us %9.0f  store_clean_ns/page %9.0f  store_dirty_ns/page %7.0f"
         "  fault_ns/page %9.0f  scan_us %8.0f  %s %8.0f\n",
         mech, kind, median(t_clear), median(t_store) * 1e3 / NPAGES, median(t_store2) * 1e3 / NPAGES,
         (median(t_store) - median(t_store2)) * 1e3 / NPAGES, median(t_scan), alt, median(t_alt));
  return 0;
}

/* ---- one case in this process ---- */
static int run_case(const char *spec) {
  char buf[128], *f[4] = {0};
  snprintf(buf, sizeof buf, "%s", spec);
  int nf = 0;
  for (char *p = strtok(buf, ":"); p && nf < 4; p = strtok(NULL, ":")) f[nf++] = p;
  setvbuf(stdout, NULL, _IONBF, 0);
  int cost = strcmp(f[0], "cost") == 0;
  const char *mech = cost ? f[1] : f[0], *kind = cost ? f[2] : f[1];
  int pre = cost ? 1 : (f[2] && f[2][0] == '1');
  if (!mech || !kind || (!cost && !f[3])) return printf("  bad case %s\n", spec), 2;
  if (map_kind(kind)) return 1;
  if (pre) store_all(0x11);
  if (setup(mech)) return 1;
  return cost ? run_cost(mech, kind) : run_steps(mech, f[3]);
}

/* ---- the parent: each case in a child, 20 s each ---- */

static int run_child(const char *spec) {
  printf("== %s\n", spec);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(run_case(spec));
  double t0 = now_us();
  int st, killed = 0;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    double el = (now_us() - t0) / 1e6;
    if (!killed && el > LIMIT_S) {
      kill(pid, SIGKILL);
      killed = 1;
      t0 = now_us();
    } else if (killed && el > 5) {
      printf("-> HANG: still running 5 s after SIGKILL (unkillable), left behind\n");
      return -2;
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (killed) {
    printf("\n-> HANG: did not finish in %d s, killed\n", LIMIT_S);
    return -1;
  }
  if (WIFSIGNALED(st)) printf("-> died of signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else printf("-> exit %d\n", WEXITSTATUS(st));
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int find_alloc(void) {
  glob_t g;
  if (glob("/sys/bus/pci/devices/*/p2pmem/allocate", 0, NULL, &g) != 0) return 0;
  snprintf(g_alloc, sizeof g_alloc, "%s", g.gl_pathv[0]);
  globfree(&g);
  return 1;
}

static int make_src(void) {
  int fd = open(SRC, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  unsigned char b[PG];
  memset(b, 0xc3, sizeof b);
  if (fd < 0 || write(fd, b, PG) != PG || fsync(fd) != 0) return fail("create " SRC);
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!find_alloc()) {
    printf("NO_P2PDMA: no /sys/bus/pci/devices/*/p2pmem/allocate\n");
    return 77;
  }
  printf("p2pmem: %s\n", g_alloc);
  if (make_src()) return 1;
  if (argc > 1) {
    int rc = 0;
    for (int i = 1; i < argc; i++) rc |= run_child(argv[i]) != 0;
    return rc;
  }
  /* The plan: what should work first, then what may hang (killed at 20 s), the
   * system call into p2pmem last (a spin inside the kernel might not die). */
  static const char *plan[] = {
      "mp:ext4:1:CQSQCRQCDQ", "uffd:ext4:0:CQSQCRQWSQCDQ", "sd:ext4:0:CQSQCRQCSQCDQ",
      "mp:p2p:1:CQSQCRQCDQCSQ", "cost:mp:ext4", "cost:uffd:ext4", "cost:sd:ext4", "cost:mp:p2p",
      "uffd:p2p:1:CQ", "sd:p2p:1:CQ",
      "uffd:p2p:1:CQSQWSQ", "uffd:p2p:0:CQSQ", "sd:p2p:1:CQSQCSQ", "sd:p2p:0:CQSQ",
      "cost:uffd:p2p", "cost:sd:p2p",
      "uffd:p2p:1:CQDQ", "sd:p2p:1:CQDQ", "uffd:p2p:1:CQRQ", "sd:p2p:1:CQRQ",
  };
  int hung_uffd = 0, hung_sd = 0;
  for (size_t i = 0; i < sizeof plan / sizeof *plan; i++) {
    const char *c = plan[i];
    if ((strcmp(c, "cost:uffd:p2p") == 0 && hung_uffd) || (strcmp(c, "cost:sd:p2p") == 0 && hung_sd)) {
      printf("== %s: skipped (its store hung above)\n", c);
      continue;
    }
    int rc = run_child(c);
    if (rc < 0 && strncmp(c, "uffd:p2p:1:CQS", 14) == 0) hung_uffd = 1;
    if (rc < 0 && strncmp(c, "sd:p2p:1:CQS", 12) == 0) hung_sd = 1;
  }
  return 0;
}
