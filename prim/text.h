// Tiny allocation-free text helpers for sysfs values and option strings.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cmbmap::text {

// Parses an unsigned integer (decimal, or hex with 0x / x prefix), allowing
// surrounding whitespace. Returns false on anything else or overflow.
bool parse_u64(const char* s, uint64_t* out);

// Parses a size with an optional K/M/G/T suffix (powers of 1024, "KiB"/"K"/"k"
// and a trailing "B" accepted). Returns false on a malformed value.
bool parse_size(const char* s, uint64_t* out);

// Copies src into dst (always NUL-terminated, truncating).
void copy(char* dst, size_t cap, const char* src);

// True if a and b hold the same text.
bool equal(const char* a, const char* b);

// Joins a, b with '/' into dst; false if it does not fit.
bool join(char* dst, size_t cap, const char* a, const char* b);

// Appends v in decimal to the text in buf (NUL-terminated, truncating).
void append_u64(char* buf, size_t cap, uint64_t v);

// Last path component of p (p itself if it has no '/').
const char* basename(const char* p);

}  // namespace cmbmap::text
