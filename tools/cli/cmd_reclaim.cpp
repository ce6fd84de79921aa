// `cmbmap reclaim [--controller C] [--bytes N | --all] [--pid PID] [--json]`:
// asks processes running under cmbmap to give CMB memory back. Each one's
// watcher thread revokes its least recently used ranges to ordinary file
// pages (the program notices nothing) until its share is met; this command
// waits for each answer and reports what was given back.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "prim/text.h"
#include "common/live_block.h"
#include "common/watcher_message.h"
#include "tools/cli/cli.h"
#include "tools/cli/json.h"
#include "tools/cli/live_stats.h"

namespace cmbmap::cli {
namespace {

void usage() {
  printf("usage: cmbmap reclaim [--controller C] [--bytes N | --all] [--pid PID] [--json] [--timeout S]\n"
         "  Asks processes running under cmbmap to give CMB memory back. Each revokes its\n"
         "  least recently used served ranges to ordinary file pages (the program keeps\n"
         "  reading the same bytes) until its share of the request is met. Processes that\n"
         "  hold the most are asked first. Default: --all, on every controller.\n"
         "  --controller C  only memory of controller C (nvme0)\n"
         "  --bytes N       give back at least N bytes in total (K/M/G suffixes)\n"
         "  --all           give back everything\n"
         "  --pid PID       ask only this process\n"
         "  --timeout S     seconds to wait for each process's answer (default 10)\n"
         "Exit status: 0 when the request was met, 1 when it was not (or a process did\n"
         "not answer), 2 on a usage error.\n");
}

// The CLI's slot argument: -1 (any) when no controller was named, -2
// (none: no range matches it) when the process has no slot for it.
int slot_of(const cmbmap_stats& s, const char* controller) {
  if (!controller) return -1;
  const int slot = live_block::slot_of(s, controller);
  return slot >= 0 ? slot : -2;
}

uint64_t now_ms() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

struct Answer {
  uint64_t pid, asked, given, holds;
  std::string error;
};

// Sends one request and waits for the process to count it answered.
Answer ask(const LiveStats& l, int slot, uint64_t bytes, bool all, const char* controller, unsigned timeout_s) {
  Answer a{l.s.pid, all ? held_on(l.s, controller) : bytes, 0, held_on(l.s, controller), ""};
  const long page = sysconf(_SC_PAGESIZE);
  const uint64_t message = all ? watcher_message::encode(slot, watcher_message::kAllPages)
                               : watcher_message::request(slot, bytes, (uint64_t)page);
  const int sent = watcher_message::send((pid_t)l.s.pid, (pid_t)l.s.watcher_tid, (int)l.s.watcher_signal, message);
  if (sent < 0) {
    a.error = sent == -EPERM ? "not permitted (another user's process)" : strerror(-sent);
    return a;
  }
  const uint64_t deadline = now_ms() + timeout_s * 1000ull;
  cmbmap_stats now;
  for (;;) {
    if (!reread(l.path, &now)) { a.error = "the process exited"; return a; }
    if (now.reclaim_requests > l.s.reclaim_requests) break;
    if (now_ms() > deadline) { a.error = "no answer within the timeout"; return a; }
    timespec ts{0, 5000000};
    nanosleep(&ts, nullptr);
  }
  a.given = now.reclaimed_bytes - l.s.reclaimed_bytes;
  a.holds = held_on(now, controller);
  return a;
}

// The command line.
struct Request {
  const char* controller = nullptr;
  uint64_t bytes = 0;
  bool all = true, json = false;
  long only_pid = -1;
  unsigned timeout_s = 10;
};

// Parses argv into *r: kExitOk, or the exit status (usage shown, --help).
int parse(int argc, char** argv, Request* r, bool* help) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) { fail(kExitUsage, a, std::string("needs ") + what); return nullptr; }
      return argv[++i];
    };
    const char* v;
    char* end;
    if (is_help(argv[i])) { usage(); *help = true; return kExitOk; }
    if (a == "--json") r->json = true;
    else if (a == "--all") r->all = true;
    else if (a == "--controller") { if (!(r->controller = value("a controller name"))) return kExitUsage; }
    else if (a == "--bytes") {
      if (!(v = value("a byte count"))) return kExitUsage;
      if (!text::parse_size(v, &r->bytes) || r->bytes == 0) return fail(kExitUsage, v, "not a byte count");
      r->all = false;
    } else if (a == "--pid") {
      if (!(v = value("a PID"))) return kExitUsage;
      if ((r->only_pid = strtol(v, &end, 10)) <= 0 || *end) return fail(kExitUsage, v, "not a PID");
    } else if (a == "--timeout") {
      if (!(v = value("seconds"))) return kExitUsage;
      long t = strtol(v, &end, 10);
      if (t <= 0 || *end) return fail(kExitUsage, v, "not a number of seconds");
      r->timeout_s = (unsigned)t;
    } else {
      return fail(kExitUsage, a, "unknown option (see cmbmap reclaim --help)");
    }
  }
  return kExitOk;
}

void report(const Request& r, const std::vector<Answer>& answers, uint64_t given, bool met) {
  if (r.json) {
    Json j;
    j.begin_object().num("requested_bytes", r.all ? 0 : r.bytes).num("given_bytes", given);
    j.begin_array("processes");
    for (const Answer& a : answers) {
      j.begin_object().num("pid", a.pid).num("asked_bytes", a.asked).num("given_bytes", a.given)
          .num("holds_bytes", a.holds);
      if (!a.error.empty()) j.str("error", a.error);
      j.end_object();
    }
    j.end_array().end_object();
    printf("%s\n", j.text().c_str());
  } else if (answers.empty()) {
    printf("no process under cmbmap holds CMB memory%s%s\n", r.controller ? " on " : "",
           r.controller ? r.controller : "");
  } else {
    printf("%-8s %-12s %-12s %-12s\n", "pid", "asked", "given back", "holds now");
    for (const Answer& a : answers)
      printf("%-8llu %-12s %-12s %-12s%s%s\n", (unsigned long long)a.pid, human_size(a.asked).c_str(),
             human_size(a.given).c_str(), human_size(a.holds).c_str(), a.error.empty() ? "" : "  ",
             a.error.c_str());
    printf("given back %s in total%s\n", human_size(given).c_str(),
           met ? "" : r.all ? " (some processes did not answer)" : " (less than requested)");
  }
}

}  // namespace

int cmd_reclaim(int argc, char** argv) {
  Request r;
  bool help = false;
  if (int rc = parse(argc, argv, &r, &help); rc != kExitOk || help) return rc;
  const char* controller = r.controller;
  std::vector<LiveStats> procs;
  for (const LiveStats& l : live_stats())
    if ((r.only_pid < 0 || (long)l.s.pid == r.only_pid) && held_on(l.s, controller) > 0) procs.push_back(l);
  std::sort(procs.begin(), procs.end(), [&](const LiveStats& x, const LiveStats& y) {
    return held_on(x.s, controller) > held_on(y.s, controller);
  });
  std::vector<Answer> answers;
  uint64_t given = 0;
  bool failed = false;
  for (const LiveStats& l : procs) {
    if (!r.all && given >= r.bytes) break;
    if (!live_block::watcher_plausible(l.owner, l.s.pid, l.s.watcher_tid, l.s.watcher_signal)) {
      answers.push_back({l.s.pid, 0, 0, held_on(l.s, controller), "no cmbmap watcher thread to ask"});
      failed = true;
      continue;
    }
    uint64_t share = r.all ? 0 : std::min(r.bytes - given, held_on(l.s, controller));
    Answer a = ask(l, slot_of(l.s, controller), share, r.all, controller, r.timeout_s);
    given += a.given;
    failed |= !a.error.empty();
    answers.push_back(a);
  }
  const bool met = r.all ? !failed : given >= r.bytes;
  report(r, answers, given, met);
  return met ? kExitOk : kExitFail;
}

}  // namespace cmbmap::cli
