// The mapping calls on served ranges: munmap, mremap, mprotect, madvise, an
// anonymous MAP_FIXED over them. The kernel decides first wherever it can
// (alignment, lengths, errors): only a call that succeeds changes what
// cmbmap serves, and where the kernel could not keep a call's meaning on
// device memory the range is given back to file pages before the call.
#include <sys/mman.h>

#include "cmbmap/cmbmap.h"
#include "common/log.h"
#include "prim/prim.h"
#include "prim/procself.h"
#include "shim/core/core.h"
#include "shim/core/internal.h"
#include "shim/core/policy.h"
#include "shim/giveback/changes.h"
#include "shim/giveback/commit.h"
#include "shim/giveback/dirty.h"
#include "shim/giveback/lease.h"
#include "shim/giveback/revoke.h"
#include "shim/giveback/writeback.h"
#include "shim/real.h"
#include "shim/tier/registry.h"
#include "shim/tier/served_lock.h"

namespace cmbmap::core {
namespace {

// Gives [addr, addr+len) back before a call the kernel cannot apply to
// device memory. False (errno ENOMEM) if some of it stays served: its
// stores could not be written (revoke.h), and the call must not drop or
// expose them.
// The files of the served ranges in [addr, addr+len) (shared ones only, if
// asked) change: every range of each goes back.
void give_back_files_served_in(void* addr, size_t len, bool shared_only) {
  const uintptr_t lo = (uintptr_t)addr;
  registry::for_each_batch(lo, lo + prim::page_round_up(len), [&](const registry::Range* r, size_t n) {
    for (size_t i = 0; i < n; ++i)
      if (!shared_only || policy::shared(r[i].flags)) revoke::file(r[i].dev, r[i].ino, CMBMAP_FILE_CHANGED);
    return true;
  });
}

// The pages mlock and munlock act on: addr rounded down to its page, the
// length grown by as much and rounded up (the kernel's rounding).
struct PageSpan {
  void* at;
  size_t len;
};
PageSpan page_span(const void* addr, size_t len) {
  const uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(prim::page_size() - 1);
  return {(void*)a, prim::page_round_up(len + ((uintptr_t)addr - a))};
}

bool given_back(void* addr, size_t len, int cause) {
  // Nothing to do (length 0, or one that wraps past the top: the kernel's
  // EINVAL): the kernel answers.
  if (prim::page_round_up(len) == 0) return true;
  revoke::range(addr, len, cause);
  if (!prim::page_aligned(addr) || !registry::overlaps((uintptr_t)addr, prim::page_round_up(len))) return true;
  log::Line(LogLevel::Error).s("a call on ").x((uintptr_t)addr).s("+").u(len)
      .s(" fails with ENOMEM: stores there could not be written back").emit();
  errno = ENOMEM;
  return false;
}

}  // namespace

int unmap(void* addr, size_t len) {
  // The kernel decides first (alignment, length): only a successful munmap
  // changes what cmbmap serves.
  served_lock::Hold hold;
  dirty::SignalsBlocked quiet(dirty::any());
  write_back_before_replacing(addr, len);
  // Arguments the kernel takes: the CMB pages go, zeroed, before the call.
  const bool scrubbed =
      prim::page_aligned(addr) && len && (uintptr_t)addr + prim::page_round_up(len) > (uintptr_t)addr;
  if (scrubbed) revoke::scrub_before_unmap(addr, len);
  int r = real::munmap(addr, len);
  if (r != 0 && scrubbed) {
    // Refused after all (past the top of user space): what was served
    // there is a hole now; nothing may take it for CMB.
    revoke::forget(addr, len);
    log::Line(LogLevel::Error).s("munmap ").x((uintptr_t)addr).s(" length ").u(len)
        .s(" failed after its CMB pages were released").emit();
  }
  if (r != 0) {
    replacing_failed(addr, len);
    return r;
  }
  size_t gone = revoke::forget(addr, len);
  log::Line(LogLevel::Debug).s("munmap ").x((uintptr_t)addr).s(" length ").u(len).s(": ")
      .size(gone).s(" of CMB released").emit();
  return 0;
}

void* map_anonymous_over(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  served_lock::Hold hold;
  const bool scrubbed = give_back_before_replacing(addr, len);
  dirty::SignalsBlocked quiet(dirty::any());
  void* r = real::mmap(addr, len, prot, flags, fd, off);
  if (r != MAP_FAILED || scrubbed) revoke::forget(addr, len);
  return r;
}

int lock(const void* addr, size_t len, unsigned flags) {
  // The kernel rounds addr down to its page; so does the give-back.
  const PageSpan p = page_span(addr, len);
  if (!given_back(p.at, p.len, CMBMAP_REMAPPED)) return -1;
  return real::mlock2(addr, len, flags);
}

int unlock(const void* addr, size_t len) {
  const PageSpan p = page_span(addr, len);
  served_lock::Hold hold;
  // A range unlocked in part goes back to file pages, which the kernel
  // unlocks exactly; one unlocked whole is no longer MAP_LOCKED.
  if (!registry::covers_whole((uintptr_t)p.at, p.len) && !given_back(p.at, p.len, CMBMAP_REMAPPED)) return -1;
  registry::set_unlocked((uintptr_t)p.at, p.len);
  return real::munlock(addr, len);
}

void write_back_before_replacing(void* addr, size_t len) {
  if (prim::page_aligned(addr) && dirty::tracks((uintptr_t)addr, len))
    commit::range(addr, prim::page_round_up(len), writeback::Mode::Freeze);
}

bool give_back_before_replacing(void* addr, size_t len) {
  // File pages in place first (the CMB pages scrubbed): if the call fails,
  // the range is still the program's mapping, ordinary now.
  if (!prim::page_aligned(addr)) return false;
  revoke::range(addr, len, 0);
  if (!registry::overlaps((uintptr_t)addr, prim::page_round_up(len))) return false;
  // Kept (its stores could not be written): the call replaces it all the
  // same, and its CMB memory must not go back to the pool with the bytes.
  revoke::scrub_before_unmap(addr, len);
  return true;
}

void replacing_failed(void* addr, size_t len) {
  if (prim::page_aligned(addr)) dirty::thaw((uintptr_t)addr, (uintptr_t)addr + prim::page_round_up(len));
}

namespace {

// A fixed destination (MREMAP_FIXED) over served ranges: the kernel unmaps
// it first, so they go back first (scrubbed if kept) and are forgotten once
// the call is made.
class FixedTarget {
 public:
  FixedTarget(int flags, void* at, size_t len)
      : at_(at), len_(len), over_((flags & MREMAP_FIXED) && registry::overlaps((uintptr_t)at, len)),
        scrubbed_(over_ && give_back_before_replacing(at, len)) {}
  void made(void* r) const {
    if ((r != MAP_FAILED || scrubbed_) && over_) revoke::forget(at_, len_);
  }

 private:
  void* at_;
  size_t len_;
  bool over_, scrubbed_;
};

// Shrinking in place: the kernel drops the tail; keep the registry exact.
void* remap_shrinking(void* old, size_t old_len, size_t new_len, int flags, void* new_addr) {
  const size_t keep = prim::page_round_up(new_len), was = prim::page_round_up(old_len);
  const bool scrubbed = keep < was && give_back_before_replacing((char*)old + keep, was - keep);
  dirty::SignalsBlocked quiet(dirty::any());
  void* r = real::mremap(old, old_len, new_len, flags, new_addr);
  if ((r != MAP_FAILED || scrubbed) && keep < was) revoke::forget((char*)old + keep, was - keep);
  return r;
}

// Growing or moving: the range returns to the page cache first, so the
// kernel grows or moves an ordinary file mapping; then the whole new
// mapping is planned and served like a new one. A fixed destination over
// served ranges replaces them.
void* remap_moving(void* old, size_t old_len, size_t new_len, int flags, void* new_addr) {
  const FixedTarget target(flags, new_addr, new_len);
  registry::Range like;
  int fd = -1;
  uint64_t file_off = 0;
  if (registry::collect((uintptr_t)old, old_len, &like, 1) == 1) {
    fd = prim::dup_above_floor(like.fd);
    file_off = like.file_offset - (like.start - (uintptr_t)old);
    if (!given_back(old, old_len, CMBMAP_REMAPPED)) {
      prim::close_fd(fd);
      return MAP_FAILED;
    }
  }
  void* r = real::mremap(old, old_len, new_len, flags, new_addr);
  target.made(r);
  if (r != MAP_FAILED && fd >= 0 && !(flags & MREMAP_DONTUNMAP))
    serve_existing(r, new_len, like.prot, like.flags, fd, (off_t)file_off);
  if (fd >= 0) prim::close_fd(fd);
  return r;
}

}  // namespace

void* remap(void* old, size_t old_len, size_t new_len, int flags, void* new_addr) {
  if (!prim::page_aligned(old)) return real::mremap(old, old_len, new_len, flags, new_addr);
  served_lock::Hold hold;
  // Length 0: a second mapping of the same pages (MAP_SHARED), made from
  // the mapping at old. It must be of the file's pages: old goes back to
  // them first (the kernel would duplicate CMB memory no range registers).
  if (old_len == 0) {
    if (!given_back(old, new_len, CMBMAP_REMAPPED)) return MAP_FAILED;
    const FixedTarget target(flags, new_addr, new_len);
    void* r = real::mremap(old, old_len, new_len, flags, new_addr);
    target.made(r);
    return r;
  }
  if (new_len <= old_len && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)))
    return remap_shrinking(old, old_len, new_len, flags, new_addr);
  return remap_moving(old, old_len, new_len, flags, new_addr);
}

int protect(void* addr, size_t len, int prot, int pkey) {
  if (!prim::page_aligned(addr)) return real::pkey_mprotect(addr, len, prot, pkey);
  served_lock::Hold hold;
  // Write-protection is how stores are tracked there: a writable served
  // range goes back to file pages, whose protection the kernel keeps.
  if (dirty::tracks((uintptr_t)addr, len))
    return given_back(addr, len, CMBMAP_REMAPPED) ? real::pkey_mprotect(addr, len, prot, pkey) : -1;
  if (prot & PROT_WRITE) {
    // A shared range made writable: its stores change the file, so every
    // other served range of that file goes back too.
    give_back_files_served_in(addr, len, true);
  }
  if (policy::protect_needs_revoke(prot) || !registry::covers_whole((uintptr_t)addr, len) ||
      !prim::mapped(addr, len)) {
    // Write/exec (copy-on-write, the kernel's EACCES), part of a range, or
    // a span with holes (the kernel changes what lies before the first,
    // then fails with ENOMEM: the registry would not know the change): the
    // file mapping answers exactly as it would without cmbmap.
    return given_back(addr, len, CMBMAP_REMAPPED) ? real::pkey_mprotect(addr, len, prot, pkey) : -1;
  }
  int r = real::pkey_mprotect(addr, len, prot, pkey);
  if (r == 0) {
    registry::set_prot((uintptr_t)addr, len, prot);
    registry::touch((uintptr_t)addr, len);
  }
  return r;
}

namespace {

// The files of the shared mappings over [addr, addr+len) (the first 8).
struct SharedFiles {
  dev_t dev[8];
  ino_t ino[8];
  size_t n;
};
SharedFiles shared_files_over(void* addr, size_t len) {
  SharedFiles h{{}, {}, 0};
  const procself::Span span{(uintptr_t)addr, (uintptr_t)addr + len};
  prim::KeepErrno keep;
  procself::for_each_mapping_over(
      &span, 1,
      [](const procself::Mapping& m, size_t, void* c) {
        auto* h = static_cast<SharedFiles*>(c);
        if (m.shared && h->n < 8) {
          h->dev[h->n] = m.dev;
          h->ino[h->n++] = m.ino;
        }
        return true;
      },
      &h);
  return h;
}

}  // namespace

void protect_other(void* addr, size_t len, int prot) {
  if (!(prot & PROT_WRITE)) return;
  // A mapping made writable lets stores change a file with no call at all.
  changes::happened();
  if (registry::empty() || !lease::any_write_lease()) return;
  // A shared mapping of a file cmbmap serves under a write lease becomes
  // writable: stores through it would change the file behind the lease.
  const SharedFiles h = shared_files_over(addr, len);
  served_lock::Hold hold;
  for (size_t i = 0; i < h.n; ++i)
    if (lease::is_write_leased(h.dev[i], h.ino[i])) revoke::file(h.dev[i], h.ino[i], CMBMAP_FILE_CHANGED);
}

void punching(void* addr, size_t len) {
  // MADV_REMOVE frees the blocks of the shared mappings' files there (a
  // hole punched, as fallocate's): a change of each, which this process's
  // own lease does not see.
  changes::happened();
  if (registry::empty()) return;
  // Served ranges there show the CMB's identity, not their file's.
  served_lock::Hold hold;
  give_back_files_served_in(addr, len, false);
  const SharedFiles h = shared_files_over(addr, len);
  for (size_t i = 0; i < h.n; ++i)
    if (registry::has_file(h.dev[i], h.ino[i])) revoke::file(h.dev[i], h.ino[i], CMBMAP_FILE_CHANGED);
}

int populate(void* addr, size_t len, int advice) {
  const uintptr_t lo = (uintptr_t)addr, hi = lo + prim::page_round_up(len);
  if (!prim::page_aligned(addr) || hi <= lo) return real::madvise(addr, len, advice);
  served_lock::Hold hold;
  // A read-only served range answers as its file mapping would (EINVAL).
  if (advice == MADV_POPULATE_WRITE && !dirty::tracks(lo, hi - lo)) {
    if (!given_back(addr, len, CMBMAP_REMAPPED)) return -1;
    return real::madvise(addr, len, advice);
  }
  // Prefaulting for writing meets clean pages' write-protection: they
  // count as stored (dirty, writable) first, as a store would make them.
  if (advice == MADV_POPULATE_WRITE) dirty::prepare_store(addr, len);
  // CMB pages are all present already, and the kernel refuses to populate
  // device pages (ENOMEM, and a warning in its log): only the parts between
  // served ranges (file pages, or holes the kernel answers for) go to it.
  uintptr_t from = lo;
  int r = 0;
  registry::for_each_batch(lo, hi, [&](const registry::Range* rg, size_t n) {
    for (size_t i = 0; i < n && r == 0; ++i) {
      if (rg[i].start > from) r = real::madvise((void*)from, rg[i].start - from, advice);
      if (rg[i].end > from) from = rg[i].end;
    }
    return r == 0;
  });
  if (r == 0 && from < hi) r = real::madvise((void*)from, hi - from, advice);
  if (r == 0) registry::touch(lo, hi - lo);
  return r;
}

int advise(void* addr, size_t len, int advice) {
  if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE) return populate(addr, len, advice);
  if (advice == MADV_REMOVE) punching(addr, len);
  // The kernel refuses to age locked memory; CMB memory it never locks.
  if ((advice == MADV_COLD || advice == MADV_PAGEOUT) && prim::page_aligned(addr) &&
      registry::any_locked((uintptr_t)addr, prim::page_round_up(len))) {
    errno = EINVAL;
    return -1;
  }
  // Dropped CMB pages have nothing to fault back in from: give the range
  // back so the next read sees the file's bytes.
  if (prim::page_aligned(addr) && policy::advice_needs_revoke(advice)) {
    if (!given_back(addr, len, CMBMAP_REMAPPED)) return -1;
  } else {
    registry::touch((uintptr_t)addr, len);  // WILLNEED and the like: in use, keep it longest
  }
  return real::madvise(addr, len, advice);
}

}  // namespace cmbmap::core
