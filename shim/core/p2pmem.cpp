// p2pmem allocation (see p2pmem.h).
#include "p2pmem.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../resolver/text.h"
#include "../../resolver/types.h"
#include "cmbmap/cmbmap.h"

namespace cmbmap::p2pmem {

static bool allocate_path(const char* pci_path, char* out, size_t cap) {
  char dir[kPathMax];
  return text::join(dir, sizeof dir, pci_path, "p2pmem") && text::join(out, cap, dir, "allocate");
}

int map_at(const char* pci_path, void* at, size_t len, Identity* id) {
  char path[kPathMax];
  if (!allocate_path(pci_path, path, sizeof path)) return CMBMAP_NO_P2PDMA;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno == EACCES || errno == EPERM ? CMBMAP_NO_PERMISSION : CMBMAP_NO_P2PDMA;
  struct stat st{};
  syscall(SYS_fstat, fd, &st);
  *id = Identity{st.st_dev, st.st_ino};
  void* p = (void*)syscall(SYS_mmap, at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  int err = errno;
  syscall(SYS_close, fd);
  if (p == MAP_FAILED) return err == EACCES || err == EPERM ? CMBMAP_NO_PERMISSION : CMBMAP_CMB_FULL;
  return CMBMAP_ELIGIBLE;
}

bool accessible(const char* pci_path) {
  char path[kPathMax];
  return allocate_path(pci_path, path, sizeof path) && syscall(SYS_faccessat, AT_FDCWD, path, R_OK | W_OK) == 0;
}

}  // namespace cmbmap::p2pmem
