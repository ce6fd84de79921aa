// p2pmem allocation (see p2pmem.h).
#include "shim/tier/p2pmem.h"

#include <fcntl.h>
#include <sys/mman.h>

#include "prim/prim.h"
#include "prim/text.h"
#include "resolver/types.h"
#include "cmbmap/cmbmap.h"

namespace cmbmap::p2pmem {

static bool allocate_path(const char* pci_path, char* out, size_t cap) {
  char dir[kPathMax];
  return text::join(dir, sizeof dir, pci_path, "p2pmem") && text::join(out, cap, dir, "allocate");
}

int allocate(const char* pci_path, size_t len, void** aside, Identity* id) {
  char path[kPathMax];
  if (!allocate_path(pci_path, path, sizeof path)) return CMBMAP_NO_P2PDMA;
  int fd = prim::open_at(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return fd == -EACCES || fd == -EPERM ? CMBMAP_NO_PERMISSION : CMBMAP_NO_P2PDMA;
  struct stat st{};
  prim::fstat_fd(fd, &st);
  *id = Identity{st.st_dev, st.st_ino};
  int err = 0;
  void* p = prim::map(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, &err);
  prim::close_fd(fd);
  if (p == MAP_FAILED) return err == EACCES || err == EPERM ? CMBMAP_NO_PERMISSION : CMBMAP_CMB_FULL;
  // One CPU store to every page now, before the fill. Measured on the
  // P2PDMA kernel: a write fault on a p2pmem page whose page-table entry was
  // never written loops in the kernel forever once mprotect has made the
  // mapping writable again (docs/dirty-tracking.md); a written entry is made
  // writable by mprotect with no fault. Dirty tracking and the scrub on
  // release both make write-protected pages writable later.
  const size_t page = prim::page_size();
  for (size_t off = 0; off < len; off += page) static_cast<volatile uint8_t*>(p)[off] = 0;
  *aside = p;
  return CMBMAP_ELIGIBLE;
}

bool accessible(const char* pci_path) {
  char path[kPathMax];
  return allocate_path(pci_path, path, sizeof path) && prim::may_read_write(path);
}

}  // namespace cmbmap::p2pmem
