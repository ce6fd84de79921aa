// The cmbmap command line: one function per subcommand, shared helpers.
// Exit codes: 0 ok, 1 runtime failure, 2 usage error or missing file.
#pragma once

#include <string>

namespace cmbmap::cli {

constexpr int kExitOk = 0, kExitFail = 1, kExitUsage = 2;

int cmd_run(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_devices(int argc, char** argv);
int cmd_stat(int argc, char** argv);
int cmd_reclaim(int argc, char** argv);
int cmd_options(int argc, char** argv);
int cmd_check(int argc, char** argv);

// "cmbmap: <what>: <why>" on stderr; returns code.
int fail(int code, const std::string& what, const std::string& why);
// Human-readable byte count: "64 MiB" when exact, else bytes.
std::string human_size(uint64_t bytes);
// True if arg is -h/--help.
bool is_help(const char* arg);

}  // namespace cmbmap::cli
