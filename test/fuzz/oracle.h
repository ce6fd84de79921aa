// What a fuzz target does when its oracle sees a wrong answer (not a crash:
// a result that breaks the contract): says what and aborts, which libFuzzer
// records as a crash with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>

// Set by a target to print the input it is checking, in words, before the abort.
inline void (*fuzz_explain)() = nullptr;

#define FUZZ_CHECK(cond, ...)                                               \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "FUZZ ORACLE: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                         \
      fputc('\n', stderr);                                                  \
      if (fuzz_explain) fuzz_explain();                                     \
      abort();                                                              \
    }                                                                       \
  } while (0)
