// Allocation-free text helpers (see text.h).
#include "prim/text.h"

namespace cmbmap::text {

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int digit(char c, int base) {
  int d = -1;
  if (c >= '0' && c <= '9') d = c - '0';
  else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
  return d < base ? d : -1;
}

// Parses the number at *s, advancing it; the caller checks what follows.
static bool parse_number(const char** s, uint64_t* out) {
  const char* p = *s;
  int base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) { base = 16; p += 2; }
  else if (p[0] == 'x') { base = 16; p += 1; }
  if (digit(*p, base) < 0) return false;
  uint64_t v = 0;
  for (int d; (d = digit(*p, base)) >= 0; ++p) {
    if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
    v = v * (uint64_t)base + (uint64_t)d;
  }
  *s = p;
  *out = v;
  return true;
}

bool parse_u64(const char* s, uint64_t* out) {
  if (!s) return false;
  while (is_space(*s)) ++s;
  uint64_t v;
  if (!parse_number(&s, &v)) return false;
  while (is_space(*s)) ++s;
  if (*s) return false;
  *out = v;
  return true;
}

bool parse_size(const char* s, uint64_t* out) {
  if (!s) return false;
  while (is_space(*s)) ++s;
  uint64_t v;
  if (!parse_number(&s, &v)) return false;
  unsigned shift = 0;
  switch (*s) {
    case 'k': case 'K': shift = 10; ++s; break;
    case 'm': case 'M': shift = 20; ++s; break;
    case 'g': case 'G': shift = 30; ++s; break;
    case 't': case 'T': shift = 40; ++s; break;
    default: break;
  }
  if (shift && *s == 'i') ++s;
  if (*s == 'B' || *s == 'b') ++s;
  while (is_space(*s)) ++s;
  if (*s) return false;
  if (shift && v > (UINT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

void copy(char* dst, size_t cap, const char* src) {
  if (cap == 0) return;
  size_t i = 0;
  for (; src && src[i] && i + 1 < cap; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

bool equal(const char* a, const char* b) {
  while (*a && *a == *b) { ++a; ++b; }
  return *a == *b;
}

bool join(char* dst, size_t cap, const char* a, const char* b) {
  size_t n = 0;
  for (const char* p = a; *p; ++p) { if (n + 1 >= cap) return false; dst[n++] = *p; }
  if (n + 1 >= cap) return false;
  dst[n++] = '/';
  for (const char* p = b; *p; ++p) { if (n + 1 >= cap) return false; dst[n++] = *p; }
  dst[n] = '\0';
  return true;
}

const char* basename(const char* p) {
  const char* last = p;
  for (; *p; ++p)
    if (*p == '/' && p[1]) last = p + 1;
  return last;
}

void append_u64(char* buf, size_t cap, uint64_t v) {
  size_t n = 0;
  while (buf[n]) ++n;
  char tmp[24];
  int k = 0;
  do { tmp[k++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (k > 0 && n + 1 < cap) buf[n++] = tmp[--k];
  buf[n] = '\0';
}

}  // namespace cmbmap::text
