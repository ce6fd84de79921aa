// Number and size parsing used for sysfs values and CMBMAP_* options.
#include <criterion/criterion.h>

#include "prim/text.h"

using namespace cmbmap;

Test(text, parse_u64_decimal_hex_and_whitespace) {
  uint64_t v = 0;
  cr_assert(text::parse_u64("67108864\n", &v));
  cr_assert_eq(v, 67108864u);
  cr_assert(text::parse_u64("0x4021d", &v));
  cr_assert_eq(v, 0x4021du);
  cr_assert(text::parse_u64("x00000062", &v));  // the kernel's "cmb" attribute style
  cr_assert_eq(v, 0x62u);
  cr_assert(text::parse_u64("  7 ", &v));
  cr_assert_eq(v, 7u);
}

Test(text, parse_u64_rejects_garbage_and_overflow) {
  uint64_t v = 42;
  cr_assert_not(text::parse_u64("", &v));
  cr_assert_not(text::parse_u64("12a", &v));
  cr_assert_not(text::parse_u64("-1", &v));
  cr_assert_not(text::parse_u64("18446744073709551616", &v));
  cr_assert_eq(v, 42u, "a failed parse must not write the output");
}

Test(text, parse_size_suffixes) {
  uint64_t v;
  cr_assert(text::parse_size("0", &v)); cr_assert_eq(v, 0u);
  cr_assert(text::parse_size("4096", &v)); cr_assert_eq(v, 4096u);
  cr_assert(text::parse_size("256K", &v)); cr_assert_eq(v, 256u << 10);
  cr_assert(text::parse_size("16M", &v)); cr_assert_eq(v, 16u << 20);
  cr_assert(text::parse_size("2GiB", &v)); cr_assert_eq(v, 2ull << 30);
  cr_assert(text::parse_size("1t", &v)); cr_assert_eq(v, 1ull << 40);
  cr_assert(text::parse_size("64kB", &v)); cr_assert_eq(v, 64u << 10);
}

Test(text, parse_size_rejects_malformed) {
  uint64_t v;
  cr_assert_not(text::parse_size("abc", &v));
  cr_assert_not(text::parse_size("12Q", &v));
  cr_assert_not(text::parse_size("1M2", &v));
  cr_assert_not(text::parse_size("99999999999999T", &v));
}

Test(text, basename_and_join) {
  cr_assert_str_eq(text::basename("/sys/class/nvme/nvme0"), "nvme0");
  cr_assert_str_eq(text::basename("nvme0"), "nvme0");
  char buf[8];
  cr_assert_not(text::join(buf, sizeof buf, "/sys", "block"));
  cr_assert(text::join(buf, sizeof buf, "/a", "bc"));
  cr_assert_str_eq(buf, "/a/bc");
}
