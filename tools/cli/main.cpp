// cmbmap: entry point and top-level help. Subcommands live in cmd_*.cpp.
#include <cstdio>
#include <cstring>

#include "tools/cli/cli.h"
#include "cmbmap/cmbmap.h"

using namespace cmbmap::cli;

static void usage() {
  FILE* f = stdout;
  fprintf(f,
R"(usage: cmbmap COMMAND [ARGS...]

Serve file mmap() from an NVMe controller memory buffer (CMB), for unmodified
programs, through the LD_PRELOAD library libcmbmap.so.

Commands:
  run [--] CMD [ARGS...]     run CMD with libcmbmap.so preloaded
  inspect FILE... [--json]   where each range of FILE lives and whether it can be served
  devices [--json]           NVMe controllers, their CMB and p2pmem, and why one cannot serve
  stat [PID] [--json]        live statistics of processes running under cmbmap: CMB
                             held per controller, leases, revocations, fallbacks
  reclaim [--controller C] [--bytes N|--all]
                             ask running processes to give CMB memory back
  options [--markdown]       the CMBMAP_* environment variables
  check [--json] [--peer BDF]...
                             whether this machine can serve, and what to change if not

Options: -h, --help (also after a command), -V, --version.
Exit status: 0 ok, 1 runtime failure, 2 usage error or missing file; `run` exits
with CMD's status (126/127 if CMD cannot be run).

Fallback: any range cmbmap cannot serve (no CMB, holes, unwritten or shared
extents, odd alignment, any error) stays an ordinary file mapping; the reason is
shown by `cmbmap inspect`, `cmbmap stat` and CMBMAP_LOG=info.

Environment (see `cmbmap options`):
)");
  cmd_options(0, nullptr);
  fprintf(f,
R"(
Writable shared mappings (CMBMAP_WRITABLE=1): stores live in device memory until
written back to the file (msync, munmap, exit, revocation, and every
CMBMAP_WRITEBACK_MS). If the process is killed (SIGKILL or a crash), stores not
yet written back are lost; with the page cache they would have survived.
)");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cmbmap COMMAND [ARGS...] (see cmbmap --help)\n");
    return kExitUsage;
  }
  const char* cmd = argv[1];
  if (is_help(cmd) || !strcmp(cmd, "help")) { usage(); return kExitOk; }
  if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("cmbmap %s\n", cmbmap_version());
    return kExitOk;
  }
  struct { const char* name; int (*fn)(int, char**); } cmds[] = {
      {"run", cmd_run}, {"inspect", cmd_inspect}, {"devices", cmd_devices},
      {"stat", cmd_stat}, {"reclaim", cmd_reclaim}, {"options", cmd_options},
      {"check", cmd_check},
  };
  for (auto& c : cmds)
    if (!strcmp(cmd, c.name)) return c.fn(argc - 2, argv + 2);
  fprintf(stderr, "cmbmap: unknown command '%s' (see cmbmap --help)\n", cmd);
  return kExitUsage;
}
