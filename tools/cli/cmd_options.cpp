// `cmbmap options`: the CMBMAP_* table, as text or as the README's markdown.
#include <cstdio>
#include <cstring>

#include "common/options.h"
#include "tools/cli/cli.h"

namespace cmbmap::cli {

int cmd_options(int argc, char** argv) {
  bool markdown = false;
  for (int i = 0; i < argc; ++i) {
    if (is_help(argv[i])) {
      printf("usage: cmbmap options [--markdown]\n  Lists the CMBMAP_* environment variables.\n");
      return kExitOk;
    }
    if (!strcmp(argv[i], "--markdown")) markdown = true;
    else return fail(kExitUsage, argv[i], "unknown option");
  }
  size_t n;
  const OptionDef* t = option_table(&n);
  if (markdown) {
    printf("| Variable | Default | Meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < n; ++i)
      printf("| `%s` | `%s` | %s |\n", t[i].name, t[i].default_text, t[i].help);
    return kExitOk;
  }
  for (size_t i = 0; i < n; ++i)
    printf("  %-16s (default %s)\n      %s\n", t[i].name, t[i].default_text, t[i].help);
  return kExitOk;
}

}  // namespace cmbmap::cli
