// Fill engines (shim/tier/fill.cpp) on a real file of this host, into fake
// CMB memory (poisoned, not zeroed, as p2pmem is): every engine delivers
// exactly the file's bytes and zeros past EOF, a file shorter than the
// caller believes is an error (never a half-filled range), passthrough
// without a char device hands over to the next engine, and the fill leaves
// errno alone.
#include <criterion/criterion.h>
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim/tier/fill.h"
#include "shim/tier/p2pmem.h"
#include "test/unit/fake/fake_tier.h"
#include "test/unit/fake/fixture.h"

using namespace cmbmap;

namespace {

using fixture::page;

// Fake CMB memory of len bytes (poisoned).
uint8_t* cmb(size_t len) {
  void* at = nullptr;
  p2pmem::Identity id;
  cr_assert_eq(p2pmem::allocate("fake", len, &at, &id), CMBMAP_ELIGIBLE);
  return static_cast<uint8_t*>(at);
}

// Fills len bytes of the file from off with engine; checks the bytes.
fill::Result fill_and_check(int engine, size_t file_size, uint64_t off, size_t len, int open_flags = O_RDONLY) {
  fixture::File f = fixture::make_file(file_size, open_flags, engine);
  fixture::Planned p;
  fixture::plan_whole_file(f.fd, file_size, &p);
  uint8_t* dst = cmb(len);
  const fill::Source src{.fd = f.fd, .direct_fd = -1, .no_reopen = false, .file_size = file_size,
                         .dev = &p.facts.target, .segs = p.segs, .nsegs = p.plan.count};
  errno = 4242;
  fill::Result r = fill::run(engine, src, dst, off, len);
  cr_expect_eq(errno, 4242, "the fill changed errno");
  if (!r.err) {
    const size_t in_file = off >= file_size ? 0 : (file_size - off < len ? file_size - off : len);
    cr_expect(fixture::holds_file(dst, len, f.fd, off), "engine %s: bytes differ from the file",
              fill::engine_name(engine));
    cr_expect_eq(r.read, in_file);
    cr_expect_eq(r.zeroed, len - in_file);
    size_t nonzero = 0;
    for (size_t i = in_file; i < len; ++i) nonzero += dst[i] != 0;
    cr_expect_eq(nonzero, 0, "%zu bytes past EOF are not zero", nonzero);
  }
  munmap(dst, len);
  fixture::remove_file(f);
  return r;
}

}  // namespace

TestSuite(fill, .init = fake_tier::reset);

Test(fill, pread_whole_pages) {
  fill::Result r = fill_and_check(fill::kPread, 64 * page(), 0, 64 * page());
  cr_assert_eq(r.err, 0);
  cr_assert_eq(r.engine, fill::kPread);
}

Test(fill, uring_many_chunks_and_offset) {
  // Three 512 KiB requests and a short one, from an offset inside the file.
  fill::Result r = fill_and_check(fill::kUring, (2u << 20) + 5 * page(), 3 * page(), (2u << 20));
  cr_assert_eq(r.err, 0);
  cr_assert(r.engine == fill::kUring || r.engine == fill::kPread);  // io_uring may be disabled here
}

Test(fill, odd_size_tail_is_zeroed) {
  for (int engine : {fill::kPread, fill::kUring}) {
    fill::Result r = fill_and_check(engine, 3 * page() + 123, 0, 4 * page());
    cr_assert_eq(r.err, 0, "engine %d", engine);
  }
}

Test(fill, passthru_without_device_reads_through_the_file) {
  // The fake target names no /dev/ng device: the next engine takes over.
  fill::Result r = fill_and_check(fill::kPassthru, 16 * page() + 7, 0, 17 * page());
  cr_assert_eq(r.err, 0);
  cr_assert_neq(r.engine, fill::kPassthru);
}

Test(fill, file_shorter_than_believed_is_an_error) {
  // The caller's size says 8 pages, the file holds 4: never a half fill.
  fixture::File f = fixture::make_file(4 * page(), O_RDONLY);
  uint8_t* dst = cmb(8 * page());
  for (int engine : {fill::kPread, fill::kUring}) {
    const fill::Source src{.fd = f.fd, .direct_fd = -1, .no_reopen = false, .file_size = 8 * page(),
                           .dev = nullptr, .segs = nullptr, .nsegs = 0};
    fill::Result r = fill::run(engine, src, dst, 0, 8 * page());
    cr_expect_neq(r.err, 0, "engine %d filled past the file's end", engine);
  }
  munmap(dst, 8 * page());
  fixture::remove_file(f);
}

Test(fill, no_reopen_reads_through_the_programs_fd) {
  // Under a write lease the file must not be opened again: the fill reads
  // through the program's own (read-write) fd.
  fixture::File f = fixture::make_file(8 * page() + 100, O_RDWR);
  uint8_t* dst = cmb(9 * page());
  const fill::Source src{.fd = f.fd, .direct_fd = -1, .no_reopen = true, .file_size = f.size,
                         .dev = nullptr, .segs = nullptr, .nsegs = 0};
  fill::Result r = fill::run(fill::kPread, src, dst, 0, 9 * page());
  cr_assert_eq(r.err, 0);
  cr_assert(fixture::holds_file(dst, 9 * page(), f.fd));
  munmap(dst, 9 * page());
  fixture::remove_file(f);
}

Test(fill, engine_names_round_trip) {
  for (int e = 0; e < fill::kEngineCount; ++e) cr_assert_eq(fill::engine_from_name(fill::engine_name(e)), e);
  cr_assert_eq(fill::engine_from_name("dma"), -1);
}
