// /proc/self/mountinfo and ext4's options text (resolver/fsfacts.cpp), which
// decide whether a mount journals its data (data=journal: then a file's
// blocks are not its bytes and nothing is served by LBA). Two parts:
//  - mountinfo lines as the kernel writes them, from the input's fields (a
//    device, optional fields, super options with or without data=journal,
//    other mounts around it): MountinfoScan must find the device and say
//    whether its super options hold data=journal, fed the text in chunks of
//    any sizes;
//  - any text at all: the scan must give the same answer in any chunking, and
//    has_option must match whole comma/space/newline-separated tokens only.
#include <fuzzer/FuzzedDataProvider.h>
#include <string>
#include <sys/sysmacros.h>
#include <vector>

#include "resolver/fsfacts.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap;

namespace {

const char* const kWant = "data=journal";

// The input's remaining bytes cut into chunks of sizes it picks.
MountinfoScan scan_in_chunks(FuzzedDataProvider& in, const std::string& text, dev_t dev) {
  MountinfoScan s(dev, kWant);
  for (size_t at = 0; at < text.size();) {
    const size_t n = in.ConsumeIntegralInRange<size_t>(1, text.size() - at);
    s.feed(text.data() + at, n);
    at += n;
  }
  s.finish();
  return s;
}

std::string some_token(FuzzedDataProvider& in) {
  static const char* const kTokens[] = {"rw", "ro", "relatime", "data=ordered", "data=journal", "data=journal2",
                                        "xdata=journal", "errors=remount-ro", "shared:1", "master:2", "nodelalloc"};
  return in.ConsumeBool() ? in.PickValueInArray(kTokens) : in.ConsumeRandomLengthString(12);
}

// A token the kernel could print: no separator of fields, options or lines,
// and not the "-" that ends the optional fields.
std::string clean(std::string t) {
  std::string out;
  for (char c : t)
    if (c != ' ' && c != ',' && c != '\n' && c != '\0') out += c;
  return out.empty() || out == "-" ? "x" : out;
}

void check_kernel_lines(FuzzedDataProvider& in) {
  const unsigned major = in.ConsumeIntegralInRange<unsigned>(0, 4095), minor = in.ConsumeIntegralInRange<unsigned>(0, 1 << 20);
  const dev_t dev = makedev(major, minor);
  std::string text;
  bool found = false, journalled = false;
  for (int k = in.ConsumeIntegralInRange<int>(1, 6); k > 0; --k) {
    const bool ours = in.ConsumeBool();
    const unsigned ma = ours ? major : in.ConsumeIntegralInRange<unsigned>(0, 4095);
    const unsigned mi = ours ? minor : in.ConsumeIntegralInRange<unsigned>(0, 1 << 20);
    std::string line = std::to_string(20 + k) + " 1 " + std::to_string(ma) + ":" + std::to_string(mi) + " / /mnt/" +
                       clean(in.ConsumeRandomLengthString(8)) + " " + clean(some_token(in));
    for (int o = in.ConsumeIntegralInRange<int>(0, 2); o > 0; --o) line += " " + clean(some_token(in));
    line += " - ext4 /dev/" + clean(in.ConsumeRandomLengthString(8)) + " ";
    std::string supers;
    bool has = false;
    for (int o = in.ConsumeIntegralInRange<int>(1, 4); o > 0; --o) {
      const std::string t = clean(some_token(in));
      has = has || t == kWant;
      supers += (supers.empty() ? "" : ",") + t;
    }
    line += supers;
    if (makedev(ma, mi) == dev) { found = true; journalled = journalled || has; }
    text += line + "\n";
  }
  if (in.ConsumeBool()) text.pop_back();  // the last line without its newline
  const MountinfoScan s = scan_in_chunks(in, text, dev);
  FUZZ_CHECK(s.found == found && s.has == journalled, "device %u:%u: found %d has %d, expected %d %d in:\n%s", major,
             minor, s.found, s.has, found, journalled, text.c_str());
}

// has_option against tokens split by hand.
bool ref_has(const std::string& list, const std::string& option) {
  std::string tok;
  for (size_t i = 0; i <= list.size(); ++i) {
    if (i == list.size() || list[i] == ',' || list[i] == ' ' || list[i] == '\n') {
      if (!tok.empty() && tok == option) return true;
      tok.clear();
    } else {
      tok += list[i];
    }
  }
  return false;
}

void check_any_text(FuzzedDataProvider& in) {
  std::string text = in.ConsumeRandomLengthString(400);
  text = text.substr(0, text.find('\0'));
  const dev_t dev = makedev(259, 1);
  MountinfoScan whole(dev, kWant);
  whole.feed(text.data(), text.size());
  whole.finish();
  const MountinfoScan chunked = scan_in_chunks(in, text, dev);
  FUZZ_CHECK(whole.found == chunked.found && whole.has == chunked.has, "the chunking changed the answer for:\n%s",
             text.c_str());
  const std::string option = clean(some_token(in));
  FUZZ_CHECK(has_option(text.c_str(), option.c_str()) == ref_has(text, option), "has_option('%s', '%s')",
             text.c_str(), option.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) check_kernel_lines(in);
  else check_any_text(in);
  return 0;
}
