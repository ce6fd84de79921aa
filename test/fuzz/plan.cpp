// The segment planner fed random FIEMAP extent lists (offsets, lengths,
// flags, physical addresses, alignments), mapping requests as a program may
// make them (unaligned, past EOF, overflowing) and segment arrays of any size.
// Oracle, for every request the kernel would accept:
//  - the plan covers the mapping exactly: its segments follow each other from
//    the mapping's offset to its end, every byte in exactly one, except that
//    the bytes past EOF in EOF's page may be in none (a segment ending at EOF);
//  - a served (ELIGIBLE) byte lies in a plain written extent (no hole,
//    unwritten, delalloc, unknown, encoded, encrypted, inline, tail, shared or
//    not-aligned flag), before EOF, at the physical address that extent gives
//    it, and its page and first LBA are aligned;
//  - nothing is served when the device is not eligible; eligible_bytes adds up.
// For any other request the planner must still return, within its array.
#include <fuzzer/FuzzedDataProvider.h>
#include <linux/fiemap.h>
#include <vector>

#include "resolver/plan.h"
#include "test/fuzz/oracle.h"

using namespace cmbmap;

namespace {

// Every flag that says the extent's blocks are not the file's plain bytes
// (listed here, not taken from extent_reason, so a wrong extent_reason shows).
constexpr uint32_t kNotPlain = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED |
                               FIEMAP_EXTENT_DATA_ENCRYPTED | FIEMAP_EXTENT_NOT_ALIGNED |
                               FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL |
                               FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_SHARED;
constexpr uint32_t kAllFlags = kNotPlain | FIEMAP_EXTENT_LAST | FIEMAP_EXTENT_MERGED;

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Sizes near block, page and LBA boundaries are where planners go wrong.
uint64_t some_length(FuzzedDataProvider& in, uint64_t unit) {
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: return unit * in.ConsumeIntegralInRange<uint64_t>(0, 64);
    case 1: return 512 * in.ConsumeIntegralInRange<uint64_t>(0, 1024);
    case 2: return in.ConsumeIntegralInRange<uint64_t>(0, 1 << 20);
    default: return in.ConsumeIntegral<uint64_t>();
  }
}

// Extents sorted by logical offset and not overlapping (FIEMAP's order).
std::vector<Extent> some_extents(FuzzedDataProvider& in, uint64_t page) {
  std::vector<Extent> ex(in.ConsumeIntegralInRange<size_t>(0, 48));
  uint64_t at = some_length(in, page) % (page * 8);
  for (Extent& e : ex) {
    e.logical = at;
    e.length = some_length(in, page);
    if (e.length == 0 || e.logical + e.length < e.logical) e.length = page;
    e.physical = in.ConsumeBool() ? some_length(in, page) : in.ConsumeIntegral<uint64_t>() & ~511ULL;
    e.flags = in.ConsumeBool() ? 0 : in.ConsumeIntegral<uint32_t>() & kAllFlags;
    const uint64_t gap = in.ConsumeBool() ? 0 : some_length(in, page) % (page * 16);
    if (e.logical + e.length + gap < e.logical) { ex.resize((size_t)(&e - ex.data()) + 1); break; }
    at = e.logical + e.length + gap;
  }
  return ex;
}

const Extent* extent_at(const std::vector<Extent>& ex, uint64_t b) {
  for (const Extent& e : ex)
    if (e.logical <= b && b - e.logical < e.length) return &e;
  return nullptr;
}

// Every byte of served segment s before EOF: in a plain extent, at its address.
void check_served(const PlanRequest& req, const std::vector<Extent>& ex, const Segment& s, uint64_t lba) {
  FUZZ_CHECK(s.has_physical, "served segment at %llu has no physical address", (unsigned long long)s.offset);
  FUZZ_CHECK(s.offset % req.page_size == 0, "served segment at %llu not page aligned", (unsigned long long)s.offset);
  FUZZ_CHECK(s.physical % lba == 0, "served segment at %llu: physical %llu not on an LBA", (unsigned long long)s.offset,
             (unsigned long long)s.physical);
  FUZZ_CHECK(s.offset < req.file_size, "served segment at %llu wholly past EOF %llu", (unsigned long long)s.offset,
             (unsigned long long)req.file_size);
  const uint64_t end = s.offset + s.length < req.file_size ? s.offset + s.length : req.file_size;
  for (uint64_t b = s.offset; b < end;) {
    const Extent* e = extent_at(ex, b);
    FUZZ_CHECK(e, "served byte %llu lies in no extent (a hole)", (unsigned long long)b);
    FUZZ_CHECK(!(e->flags & kNotPlain), "served byte %llu lies in an extent with flags 0x%x", (unsigned long long)b,
               e->flags);
    FUZZ_CHECK(e->physical + (b - e->logical) == s.physical + (b - s.offset),
               "served byte %llu would be read from %llu, FIEMAP puts it at %llu", (unsigned long long)b,
               (unsigned long long)(s.physical + (b - s.offset)), (unsigned long long)(e->physical + (b - e->logical)));
    const uint64_t e_end = e->logical + e->length;
    b = e_end < end ? e_end : end;
  }
}

void check_plan(const PlanRequest& req, const std::vector<Extent>& ex, const Plan& plan) {
  const uint64_t page = req.page_size, lba = req.lba_size ? req.lba_size : 512;
  const uint64_t end = req.offset + round_up(req.length, page);
  const uint64_t eof_end = round_up(req.file_size, page);
  FUZZ_CHECK(plan.count >= 1 && plan.count <= plan.capacity, "%zu segments in an array of %zu", plan.count,
             plan.capacity);
  uint64_t at = req.offset, eligible = 0;
  for (size_t k = 0; k < plan.count; ++k) {
    const Segment& s = plan.segments[k];
    // The only bytes no segment may hold: past EOF in EOF's own page.
    if (at == req.file_size && s.offset == eof_end && at < end) at = eof_end;
    FUZZ_CHECK(s.offset == at, "segment %zu starts at %llu, expected %llu", k, (unsigned long long)s.offset,
               (unsigned long long)at);
    FUZZ_CHECK(s.length > 0, "segment %zu is empty", k);
    FUZZ_CHECK(s.reason >= 0 && s.reason < CMBMAP_REASON_COUNT, "segment %zu: reason %d", k, s.reason);
    if (s.reason == CMBMAP_ELIGIBLE) {
      FUZZ_CHECK(req.device_reason == CMBMAP_ELIGIBLE, "segment %zu served on a device found %d", k,
                 req.device_reason);
      check_served(req, ex, s, lba);
      eligible += s.length;
    }
    at = s.offset + s.length;
  }
  if (at == req.file_size && at < eof_end && at < end) at = eof_end;
  FUZZ_CHECK(at == end, "the plan ends at %llu, the mapping at %llu", (unsigned long long)at,
             (unsigned long long)end);
  FUZZ_CHECK(eligible == plan.eligible_bytes, "eligible_bytes %llu, served segments hold %llu",
             (unsigned long long)plan.eligible_bytes, (unsigned long long)eligible);
}

// A request the kernel would accept: page-aligned offset, a length, no wrap.
bool kernel_accepts(const PlanRequest& r) {
  const uint64_t len = round_up(r.length, r.page_size);
  return r.length > 0 && len >= r.length && r.offset % r.page_size == 0 && r.offset + len > r.offset;
}

// The input being checked, for the report of a failed check.
struct Current {
  const PlanRequest* req;
  const std::vector<Extent>* ex;
  const Plan* plan;
} g_current;

void explain() {
  const PlanRequest& r = *g_current.req;
  fprintf(stderr, "request: offset %llu length %llu file_size %llu page %u lba %u device %d merge %d\n",
          (unsigned long long)r.offset, (unsigned long long)r.length, (unsigned long long)r.file_size, r.page_size,
          r.lba_size, r.device_reason, r.merge_extents);
  for (const Extent& e : *g_current.ex)
    fprintf(stderr, "  extent logical %llu length %llu physical %llu flags 0x%x\n", (unsigned long long)e.logical,
            (unsigned long long)e.length, (unsigned long long)e.physical, e.flags);
  const Plan& p = *g_current.plan;
  fprintf(stderr, "plan: %zu segments (array %zu), eligible %llu\n", p.count, p.capacity,
          (unsigned long long)p.eligible_bytes);
  for (size_t k = 0; k < p.count; ++k) {
    const Segment& s = p.segments[k];
    fprintf(stderr, "  segment offset %llu length %llu physical %llu%s reason %s\n", (unsigned long long)s.offset,
            (unsigned long long)s.length, (unsigned long long)s.physical, s.has_physical ? "" : " (none)",
            cmbmap_reason_name(s.reason));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const uint32_t kPages[] = {4096, 16384, 65536};
  static const uint32_t kLbas[] = {0, 512, 1024, 4096, 8192, 65536};
  PlanRequest req{};
  req.page_size = in.PickValueInArray(kPages);
  req.lba_size = in.PickValueInArray(kLbas);
  const bool odd_request = in.ConsumeIntegralInRange<int>(0, 15) == 0;
  req.offset = odd_request ? in.ConsumeIntegral<uint64_t>() : req.page_size * in.ConsumeIntegralInRange<uint64_t>(0, 64);
  req.length = odd_request ? in.ConsumeIntegral<uint64_t>() : some_length(in, req.page_size);
  req.file_size = some_length(in, req.page_size);
  req.device_reason = in.ConsumeIntegralInRange<int>(0, 7) ? CMBMAP_ELIGIBLE : CMBMAP_NO_CMB;
  req.merge_extents = in.ConsumeBool();
  const bool whole = in.ConsumeIntegralInRange<int>(0, 15) == 0;
  std::vector<Segment> segs(in.ConsumeIntegralInRange<size_t>(1, 96));
  std::vector<Extent> ex = some_extents(in, req.page_size);
  const bool complete = in.ConsumeIntegralInRange<int>(0, 7) != 0;
  // Exactly the array size the planner is given: ASan sees one slot too far.
  ExtentList list{ex.data(), ex.size(), ex.size(), complete};
  Plan plan{segs.data(), segs.size(), 0, 0};
  if (whole) req.file_size = 0;  // as the mmap hook asks for a mapping-level reason
  if (whole) plan_whole(req, req.device_reason ? req.device_reason : CMBMAP_TOO_SMALL, &plan);
  else plan_mapping(req, list, &plan);
  g_current = {&req, &ex, &plan};
  fuzz_explain = explain;
  if (kernel_accepts(req)) check_plan(req, ex, plan);
  return 0;
}
