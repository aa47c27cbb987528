// The loop both gcc fuzz drivers share (standalone_driver.cc for the block
// walker, diag_driver.cc for the sock_diag parser): replay the files given as
// arguments, then HP_FUZZ_ITERATIONS (default 200000) inputs from the
// driver's own kernel-shaped seeds, every second one mutated. Only the seeds
// differ between targets; the mutations and the bound are the same.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace honeyport::fuzz {

// 1–8 edits: a byte set, a bit flipped, a truncation, a 32-bit word written.
inline void Mutate(std::vector<uint8_t>& b, std::mt19937& rng) {
  const int edits = 1 + rng() % 8;
  for (int i = 0; i < edits && !b.empty(); ++i) {
    switch (rng() % 4) {
      case 0: b[rng() % b.size()] = static_cast<uint8_t>(rng()); break;
      case 1: b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 2: b.resize(rng() % (b.size() + 1)); break;
      default: {
        const uint32_t v = rng();
        const size_t at = rng() % b.size();
        std::memcpy(&b[at], &v, std::min<size_t>(4, b.size() - at));
      }
    }
  }
}

template <typename SeedFn>
int RunDriver(int argc, char** argv, uint32_t seed, const char* name, SeedFn makeSeed) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  const char* env = std::getenv("HP_FUZZ_ITERATIONS");
  const long iterations = env ? std::atol(env) : 200000;
  std::mt19937 rng(seed);
  for (long i = 0; i < iterations; ++i) {
    std::vector<uint8_t> b = makeSeed(rng);
    if (i % 2) Mutate(b, rng);
    LLVMFuzzerTestOneInput(b.data(), b.size());
  }
  std::printf("%s: %ld inputs, no finding\n", name, iterations);
  return 0;
}

}  // namespace honeyport::fuzz
