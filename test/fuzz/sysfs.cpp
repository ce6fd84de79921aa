// sysfs text into the device verdict (resolver/device.cpp, resolver/cmb.cpp):
// a copy of a captured sysfs tree (test/fixtures/sysfs/partition: a
// controller with a CMB published as p2pmem, a namespace and a partition) gets
// the input's values in its attributes, then a block device is resolved in it.
// Input: the values, NUL-separated, in kAttrs order ("\x01" removes the file);
// the first byte picks the namespace (259:0) or the partition (259:1).
// Oracle: a device found eligible has a CMB that can take read data, a
// published p2pmem pool, and the numbers every LBA is computed from exactly as
// sysfs gave them and usable: a namespace id that names one namespace (or 0,
// unknown, for which no NVMe command is sent), an LBA
// size that is a power of two from 512 bytes to 64 KiB, a partition start
// (sectors) that neither overflows in bytes nor splits an LBA.
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

#include "prim/text.h"
#include "resolver/device.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap;

namespace {

const char* const kCtrl = "devices/pci0000:00/0000:00:05.0/nvme/nvme0/";
const char* const kPci = "devices/pci0000:00/0000:00:05.0/";
// Relative to kCtrl or kPci (the p2pmem attributes).
const struct { bool pci; const char* path; } kAttrs[] = {
    {false, "cmbloc"},
    {false, "cmbsz"},
    {true, "p2pmem/size"},
    {true, "p2pmem/available"},
    {true, "p2pmem/published"},
    {false, "nvme0n1/nsid"},
    {false, "nvme0n1/queue/logical_block_size"},
    {false, "nvme0n1/nvme0n1p1/start"},
    {false, "nvme0n1/size"},
};
constexpr size_t kCount = sizeof kAttrs / sizeof kAttrs[0];
enum { kNsid = 5, kLbaSize = 6, kStart = 7 };

std::string g_root;

std::string attr_path(size_t i) { return g_root + "/" + (kAttrs[i].pci ? kPci : kCtrl) + kAttrs[i].path; }

// The value sysfs text gives, as the resolver should read it: a whole
// unsigned number, decimal or hex, in spaces (text.cpp's own target checks
// parse_u64 against a second implementation).
bool value_of(const std::string& text, uint64_t* v) {
  return text != "\x01" && text.find('\0') == std::string::npos && text::parse_u64(text.c_str(), v);
}

}  // namespace

// The copy is removed when the fuzzer exits (each run made one in /tmp).
std::string g_copy;
void remove_copy() {
  if (!g_copy.empty()) (void)!system(("rm -rf " + g_copy).c_str());
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char dir[] = "/tmp/cmbmap-fuzz-sysfs.XXXXXX";
  if (!mkdtemp(dir)) abort();
  g_copy = dir;
  atexit(remove_copy);
  g_root = std::string(dir) + "/partition";
  // The fixture from the tree (run from its top, as make and test/fuzz/run do).
  const std::string cp = "cp -a test/fixtures/sysfs/partition " + std::string(dir) + "/";
  if (system(cp.c_str()) != 0) { fprintf(stderr, "sysfs: cannot copy the fixture (run from the tree's top)\n"); abort(); }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool partition = data[0] & 1;
  const std::string all((const char*)data + 1, size - 1);
  std::vector<std::string> values;
  for (size_t at = 0; values.size() < kCount;) {
    size_t nul = at <= all.size() ? all.find('\0', at) : std::string::npos;
    if (at > all.size()) { values.push_back("\x01"); continue; }
    if (nul == std::string::npos) nul = all.size();
    values.push_back(all.substr(at, nul - at));
    at = nul + 1;
  }
  for (size_t i = 0; i < kCount; ++i) {
    const std::string p = attr_path(i);
    unlink(p.c_str());
    if (values[i] == "\x01") continue;
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, values[i].data(), values[i].size()) != (ssize_t)values[i].size()) abort();
    close(fd);
  }

  NvmeTarget t;
  resolve_block_device(g_root.c_str(), makedev(259, partition ? 1 : 0), &t);

  FUZZ_CHECK(memchr(t.controller, 0, sizeof t.controller) && memchr(t.namespace_name, 0, sizeof t.namespace_name) &&
                 memchr(t.pci, 0, sizeof t.pci) && memchr(t.pci_path, 0, sizeof t.pci_path),
             "a name is not terminated");
  if (t.reason != CMBMAP_ELIGIBLE) return 0;
  FUZZ_CHECK(t.cmb.present && t.cmb.size && t.cmb.rds && t.cmb.wds, "eligible without a CMB taking read data");
  FUZZ_CHECK(t.p2pmem.present && t.p2pmem.published, "eligible without a published p2pmem pool");
  uint64_t v;
  // Namespace id 0: unknown, and then no NVMe command is sent (shim/tier/nvme.cpp).
  FUZZ_CHECK(t.nsid == 0 || (value_of(values[kNsid], &v) && v == t.nsid && v < 0xffffffffu),
             "eligible with namespace id %u from '%s'", t.nsid, values[kNsid].c_str());
  FUZZ_CHECK(value_of(values[kLbaSize], &v) && v == t.lba_size && v >= 512 && v <= 65536 && !(v & (v - 1)),
             "eligible with LBA size %u from '%s'", t.lba_size, values[kLbaSize].c_str());
  if (partition) {
    FUZZ_CHECK(value_of(values[kStart], &v) && v <= UINT64_MAX / 512 && v * 512 == t.partition_start,
               "partition at byte %llu from start '%s'", (unsigned long long)t.partition_start,
               values[kStart].c_str());
    FUZZ_CHECK(t.partition_start % t.lba_size == 0, "partition at byte %llu splits a %u-byte LBA",
               (unsigned long long)t.partition_start, t.lba_size);
  }
  return 0;
}
