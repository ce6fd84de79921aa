// `cmbmap inspect FILE... [--json]`: a filefrag -v style table of where each
// range of a file lives (extent, namespace, LBA) and whether cmbmap can place
// it in CMB memory, or the reason it stays ordinary.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "resolver/resolve.h"
#include "tools/cli/cli.h"
#include "tools/cli/hidden_cmb.h"
#include "tools/cli/target_json.h"

namespace cmbmap::cli {
namespace {

struct Inspected {
  std::string path;
  FileFacts facts;
  std::vector<Segment> segments;
  const char* lease;  // whether a read-only holder would get its read lease now
};

// Tries the read lease a read-only program would need (and drops it at
// once). A break in between would send SIGIO: ignored here.
const char* probe_read_lease(int fd) {
  signal(SIGIO, SIG_IGN);
  if (fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
    fcntl(fd, F_SETLEASE, F_UNLCK);
    return "available";
  }
  return errno == EAGAIN ? "open_for_write" : errno == EACCES || errno == EPERM ? "not_owner" : "unsupported";
}

int inspect_one(const char* path, Inspected* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out->path = path;
  if (resolve_file("/sys", fd, &out->facts) < 0) { int e = errno; close(fd); return e; }
  if (out->facts.file_reason == CMBMAP_ELIGIBLE && out->facts.target.reason == CMBMAP_NO_CMB)
    find_hidden_cmb(&out->facts.target);
  uint64_t size = (uint64_t)out->facts.st.st_size;
  std::vector<Extent> ext(65536);
  ExtentList list{ext.data(), ext.size(), 0, true};
  out->segments.resize(ext.size() * 2 + 16);
  Plan plan{out->segments.data(), out->segments.size(), 0, 0};
  if (size > 0) plan_file(fd, out->facts, 0, size, true, false, &list, &plan);
  out->segments.resize(plan.count);
  out->lease = probe_read_lease(fd);
  close(fd);
  return 0;
}

uint32_t lba_size(const FileFacts& f) { return f.target.lba_size ? f.target.lba_size : 512; }

void print_text(const Inspected& in) {
  const FileFacts& f = in.facts;
  const NvmeTarget& t = f.target;
  printf("%s: %llu bytes", in.path.c_str(), (unsigned long long)f.st.st_size);
  if (t.namespace_name[0])
    printf(" on %s (controller %s, PCI %s, LBA %u bytes)", t.namespace_name, t.controller,
           t.pci[0] ? t.pci : "?", lba_size(f));
  // The file's verdict (an inode's reason comes before the device's).
  printf("; verdict %s", cmbmap_reason_name(file_verdict(f)));
  if (file_verdict(f) != device_reason(f)) printf(" (device %s)", cmbmap_reason_name(device_reason(f)));
  printf("; read lease %s\n", in.lease);
  if (in.segments.empty()) { printf("  (empty file: nothing to map)\n"); return; }
  printf("  %-14s %-14s %-12s %-20s %-12s %-9s %s\n", "offset", "physical", "length", "flags", "lba",
         "placement", "reason");
  for (const Segment& s : in.segments) {
    std::string phys = s.has_physical ? std::to_string(s.physical) : "-";
    std::string lba = s.has_physical && t.namespace_name[0] ? std::to_string((s.physical + t.partition_start) / lba_size(f)) : "-";
    printf("  %-14llu %-14s %-12llu %-20s %-12s %-9s %s\n", (unsigned long long)s.offset, phys.c_str(),
           (unsigned long long)s.length, fiemap_flags_text(s.flags).c_str(), lba.c_str(),
           s.reason == CMBMAP_ELIGIBLE ? "cmb" : "ordinary", cmbmap_reason_name(s.reason));
  }
}

void add_json(Json& j, const Inspected& in) {
  const FileFacts& f = in.facts;
  const NvmeTarget& t = f.target;
  j.begin_object().str("path", in.path).num("size", (uint64_t)f.st.st_size)
      .str("device_reason", cmbmap_reason_name(device_reason(f)))
      .str("verdict", cmbmap_reason_name(file_verdict(f))).str("read_lease", in.lease);
  if (t.namespace_name[0]) j.str("controller", t.controller).str("namespace", t.namespace_name);
  else j.null("controller").null("namespace");
  j.begin_array("segments");
  for (const Segment& s : in.segments) {
    j.begin_object().num("offset", s.offset).num("length", s.length);
    if (s.has_physical) j.num("physical", s.physical); else j.null("physical");
    fiemap_flags_json(j, s.flags);
    if (t.namespace_name[0]) {
      j.str("controller", t.controller).str("namespace", t.namespace_name)
          .str("namespace_device", std::string("/dev/") + t.namespace_name);
    } else {
      j.null("controller").null("namespace").null("namespace_device");
    }
    // LBAs count from the namespace start: add the partition's offset.
    if (s.has_physical && t.namespace_name[0])
      j.num("lba", (s.physical + t.partition_start) / lba_size(f));
    else
      j.null("lba");
    j.num("lba_size", lba_size(f))
        .str("placement", s.reason == CMBMAP_ELIGIBLE ? "cmb" : "ordinary")
        .str("reason", cmbmap_reason_name(s.reason))
        .end_object();
  }
  j.end_array().end_object();
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  bool json = false;
  std::vector<const char*> files;
  for (int i = 0; i < argc; ++i) {
    if (is_help(argv[i])) {
      printf("usage: cmbmap inspect FILE... [--json]\n"
             "  Shows each range of FILE: offset, physical byte offset, length, extent flags,\n"
             "  LBA on the namespace, placement (cmb or ordinary) and the reason; the file's\n"
             "  verdict before extents (device_reason: the filesystem's or the device's, the\n"
             "  same for all its files; verdict: also this inode's own, e.g. ENCRYPTED); and whether\n"
             "  a read-only program would get the read lease serving needs now (available,\n"
             "  open_for_write: someone holds it open for writing, not_owner: only the owner\n"
             "  or CAP_LEASE may lease it, unsupported).\n");
      return kExitOk;
    }
    if (!strcmp(argv[i], "--json")) json = true;
    else if (argv[i][0] == '-' && argv[i][1]) return fail(kExitUsage, argv[i], "unknown option");
    else files.push_back(argv[i]);
  }
  if (files.empty()) return fail(kExitUsage, "inspect", "no FILE given (usage: cmbmap inspect FILE... [--json])");
  int rc = kExitOk;
  Json j;
  j.begin_object().begin_array("files");
  for (const char* path : files) {
    Inspected in;
    int err = inspect_one(path, &in);
    if (err) { rc = fail(err == ENOENT ? kExitUsage : kExitFail, path, strerror(err)); continue; }
    if (json) add_json(j, in); else print_text(in);
  }
  j.end_array().end_object();
  if (json) printf("%s\n", j.text().c_str());
  return rc;
}

}  // namespace cmbmap::cli
