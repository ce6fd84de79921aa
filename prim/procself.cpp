// /proc/self questions (see procself.h).
#include "prim/procself.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "prim/prim.h"
#include "prim/text.h"

namespace cmbmap::procself {
namespace {

uint64_t hex(const char*& p) {
  uint64_t v = 0;
  for (;; ++p) {
    char c = *p;
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return v;
    v = v * 16 + (uint64_t)d;
  }
}

}  // namespace

// "start-end perms offset major:minor inode [path]"
bool parse_maps_line(const char* p, Mapping* m) {
  m->start = hex(p);
  if (*p++ != '-') return false;
  m->end = hex(p);
  if (*p++ != ' ' || !p[0] || !p[1] || !p[2] || !p[3]) return false;
  m->write = p[1] == 'w';
  m->shared = p[3] == 's';
  p += 4;
  if (*p++ != ' ') return false;
  hex(p);  // offset
  if (*p++ != ' ') return false;
  uint64_t major = hex(p);
  if (*p++ != ':') return false;
  uint64_t minor = hex(p);
  if (*p++ != ' ') return false;
  uint64_t ino = 0;
  for (; *p >= '0' && *p <= '9'; ++p) ino = ino * 10 + (uint64_t)(*p - '0');
  m->dev = makedev(major, minor);
  m->ino = (ino_t)ino;
  return true;
}

namespace {

// PROCMAP_QUERY (linux/fs.h, Linux 6.11), declared here for older headers.
struct MapQuery {
  uint64_t size, query_flags, query_addr;
  uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;  // out
  uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
  uint64_t vma_name_addr, build_id_addr;
};
static_assert(sizeof(MapQuery) == 104);
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, MapQuery);
constexpr uint64_t kQueryWritable = 0x02, kQueryShared = 0x08, kQueryCoveringOrNext = 0x10;

// The mapping at or after addr into m: 1, 0 if there is none, -errno.
int query_mapping(int fd, uintptr_t addr, Mapping* m) {
  MapQuery q{};
  q.size = sizeof q;
  q.query_flags = kQueryCoveringOrNext;
  q.query_addr = addr;
  const int r = prim::ioctl_fd(fd, kProcmapQuery, &q);
  if (r == -ENOENT) return 0;
  if (r < 0) return r;
  *m = Mapping{q.vma_start, q.vma_end, (q.vma_flags & kQueryWritable) != 0, (q.vma_flags & kQueryShared) != 0,
               makedev(q.dev_major, q.dev_minor), (ino_t)q.inode};
  return 1;
}

// for_each_mapping_over by queries: 1 done, 0 the kernel has no
// PROCMAP_QUERY (nothing was called), -1 unreadable.
int query_spans(const Span* spans, size_t n, bool (*fn)(const Mapping&, size_t, void*), void* ctx) {
  const int fd = prim::open_read("/proc/self/maps");
  if (fd < 0) return -1;
  int result = 1;
  for (size_t i = 0; i < n && result == 1; ++i) {
    Mapping m;
    for (uintptr_t at = spans[i].start; at < spans[i].end; at = m.end) {
      const int r = query_mapping(fd, at, &m);
      if (r < 0) result = r == -ENOTTY || r == -EINVAL ? 0 : -1;
      if (r <= 0 || m.start >= spans[i].end) break;
      if (!fn(m, i, ctx)) { i = n; break; }
    }
  }
  prim::close_fd(fd);
  return result;
}

// for_each_mapping_over by one read of every mapping.
bool read_spans(const Span* spans, size_t n, bool (*fn)(const Mapping&, size_t, void*), void* ctx) {
  struct Walk { const Span* spans; size_t n; bool (*fn)(const Mapping&, size_t, void*); void* ctx; } w{spans, n, fn, ctx};
  return for_each_mapping(
      [](const Mapping& m, void* c) {
        const auto* w = static_cast<const Walk*>(c);
        size_t lo = 0, hi = w->n;  // the first span that ends after m.start
        while (lo < hi) {
          const size_t mid = lo + (hi - lo) / 2;
          if (w->spans[mid].end > m.start) hi = mid;
          else lo = mid + 1;
        }
        for (size_t i = lo; i < w->n && w->spans[i].start < m.end; ++i)
          if (!w->fn(m, i, w->ctx)) return false;
        return true;
      },
      &w);
}

}  // namespace

bool for_each_mapping_over(const Span* spans, size_t n, bool (*fn)(const Mapping&, size_t, void*), void* ctx) {
  static int no_query;  // the kernel has no PROCMAP_QUERY (the same answer for every thread)
  if (n == 0) return true;
  if (!__atomic_load_n(&no_query, __ATOMIC_RELAXED)) {
    const int r = query_spans(spans, n, fn, ctx);
    if (r != 0) return r > 0;
    __atomic_store_n(&no_query, 1, __ATOMIC_RELAXED);
  }
  return read_spans(spans, n, fn, ctx);
}

bool for_each_mapping(bool (*fn)(const Mapping&, void*), void* ctx) {
  int fd = prim::open_read("/proc/self/maps");
  if (fd < 0) return false;
  char buf[4096], line[128];
  size_t n = 0;
  bool more = true;
  for (long got; more && (got = prim::read_fd(fd, buf, sizeof buf)) > 0;) {
    for (long i = 0; i < got && more; ++i) {
      if (buf[i] != '\n') {
        if (n + 1 < sizeof line) line[n++] = buf[i];  // the path may be cut: not needed
        continue;
      }
      line[n] = '\0';
      n = 0;
      Mapping m;
      if (parse_maps_line(line, &m)) more = fn(m, ctx);
    }
  }
  prim::close_fd(fd);
  return true;
}

bool mapped_elsewhere(dev_t dev, ino_t ino, uintptr_t start, size_t len, bool writable_only) {
  struct Want { dev_t dev; ino_t ino; uintptr_t lo, hi; bool writable_only, found; } w{dev, ino, start, start + len, writable_only, false};
  for_each_mapping(
      [](const Mapping& m, void* c) {
        auto* w = static_cast<Want*>(c);
        const bool outside = m.end <= w->lo || m.start >= w->hi;
        if (outside && m.dev == w->dev && m.ino == w->ino && (!w->writable_only || (m.write && m.shared)))
          w->found = true;
        return !w->found;
      },
      &w);
  return w.found;
}

void Coverage::add(uintptr_t start, uintptr_t end) {
  const uintptr_t a = start > until_ ? start : until_;
  const uintptr_t b = end < hi_ ? end : hi_;
  if (b <= a) return;
  bytes_ += b - a;
  until_ = b;
}

namespace {

bool is_vm_flags(const char* line) {
  static const char kKey[] = "VmFlags:";
  for (size_t i = 0; i + 1 < sizeof kKey; ++i)
    if (line[i] != kKey[i]) return false;
  return true;
}

}  // namespace

// "VmFlags: rd wr sh mr mw me ms lo dd dc" → kLocked | kDontDump | kDontFork.
unsigned parse_vm_flags(const char* p) {
  unsigned flags = 0;
  for (; *p; ++p) {
    if (p[0] != ' ' || !p[1] || !p[2] || (p[3] && p[3] != ' ' && p[3] != '\n')) continue;
    if (p[1] == 'l' && p[2] == 'o') flags |= kLocked;
    if (p[1] == 'd' && p[2] == 'd') flags |= kDontDump;
    if (p[1] == 'd' && p[2] == 'c') flags |= kDontFork;
  }
  return flags;
}

size_t sticky_flags(uintptr_t lo, uintptr_t hi, Sticky* out, size_t cap, bool (*keep)(const Mapping&, void*),
                    void* ctx) {
  int fd = prim::open_read("/proc/self/smaps");
  if (fd < 0) return 0;
  char buf[4096], line[256];
  size_t len = 0, n = 0;
  Mapping cur{};
  bool inside = false;
  for (long got; (got = prim::read_fd(fd, buf, sizeof buf)) > 0;) {
    for (long i = 0; i < got; ++i) {
      if (buf[i] != '\n') {
        if (len + 1 < sizeof line) line[len++] = buf[i];
        continue;
      }
      line[len] = '\0';
      len = 0;
      // A mapping's first line starts with its address; its fields with a name.
      Mapping m;
      if (parse_maps_line(line, &m)) {
        cur = m;
        inside = cur.start < hi && lo < cur.end && (!keep || keep(cur, ctx));
      } else if (inside && is_vm_flags(line)) {
        const unsigned flags = parse_vm_flags(line + 8);
        if (flags && n < cap) out[n++] = Sticky{cur.start > lo ? cur.start : lo, cur.end < hi ? cur.end : hi, flags};
      }
    }
  }
  prim::close_fd(fd);
  return n;
}

namespace {

// The text after "key:" on its line of /proc/self/status, into out.
bool status_field(const char* key, char* out, size_t cap) {
  char buf[4096];
  const long n = prim::read_text("/proc/self/status", buf, sizeof buf);
  if (n <= 0) return false;
  size_t klen = 0;
  while (key[klen]) ++klen;
  for (const char* line = buf; *line;) {
    bool match = true;
    for (size_t i = 0; i < klen && match; ++i) match = line[i] == key[i];
    if (match && line[klen] == ':') {
      const char* v = line + klen + 1;
      while (*v == ' ' || *v == '\t') ++v;
      size_t k = 0;
      while (v[k] && v[k] != '\n' && k + 1 < cap) { out[k] = v[k]; ++k; }
      out[k] = '\0';
      return true;
    }
    while (*line && *line != '\n') ++line;
    if (*line) ++line;
  }
  return false;
}

}  // namespace

uint64_t locked_bytes() {
  char v[64];
  uint64_t kb = 0;
  if (!status_field("VmLck", v, sizeof v)) return 0;
  for (const char* p = v; *p >= '0' && *p <= '9'; ++p) kb = kb * 10 + (uint64_t)(*p - '0');
  return kb * 1024;
}

bool has_capability(int cap) {
  char v[64];
  if (!status_field("CapEff", v, sizeof v)) return false;
  const char* p = v;
  return (hex(p) >> cap) & 1;
}

size_t map_count() {
  int fd = prim::open_read("/proc/self/maps");
  if (fd < 0) return 0;
  char buf[4096];
  size_t lines = 0;
  for (long n; (n = prim::read_fd(fd, buf, sizeof buf)) > 0;)
    for (long i = 0; i < n; ++i) lines += buf[i] == '\n';
  prim::close_fd(fd);
  return lines;
}

// Far from the limit, the count is taken again only after a number of asks
// that grows with it (one in count/16), so the reading costs each ask a
// constant on average. The asks in between assume each one added all its
// `more`, and keep an eighth of the count as slack for mappings the process
// made meanwhile; near the limit every ask counts.
bool room_for_mappings(size_t more) {
  static size_t counted, asks_since, assumed;
  const size_t limit = max_map_count();
  if (counted && asks_since < counted / 16 && counted + assumed + more + counted / 8 <= limit) {
    ++asks_since;
    assumed += more;
    return true;
  }
  counted = map_count();
  asks_since = 0;
  assumed = more;
  return counted + more <= limit;  // 0: unknown, as before
}

size_t max_map_count() {
  static size_t cached;
  if (!cached) {
    char buf[32];
    uint64_t v = 65530;  // the kernel default
    if (prim::read_text("/proc/sys/vm/max_map_count", buf, sizeof buf) > 0) text::parse_u64(buf, &v);
    cached = (size_t)v;
  }
  return cached;
}

void proc_fd_path(int fd, char* out) {
  text::copy(out, 32, "/proc/self/fd/");
  text::append_u64(out, 32, (unsigned)fd);
}

}  // namespace cmbmap::procself
