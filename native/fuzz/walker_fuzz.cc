// Fuzz target: any byte string as a ring block must neither read outside it
// nor write outside the batch (ASan), nor hit UB (UBSan).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../src/block_walker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace honeyport;
  // First byte picks the batch shape so capacity limits get exercised too.
  const uint32_t frames = size > 0 ? 1 + data[0] % 64 : 1;
  const uint32_t bytes = size > 1 ? 64u * (1 + data[1] % 64) : 64;
  const uint32_t snap = size > 2 ? 16u + data[2] * 8u : 65535;
  std::vector<uint8_t> out(bytes);
  std::vector<double> ts(frames);
  std::vector<uint32_t> offset(frames), caplen(frames), wirelen(frames);
  std::vector<int32_t> iface(frames);
  std::vector<uint16_t> vlan(frames), linktype(frames);
  BatchArrays arrays{out.data(), bytes, frames, ts.data(), offset.data(), caplen.data(),
                     wirelen.data(), iface.data(), vlan.data(), linktype.data()};
  // The block itself is an exact-size heap copy so any overread is caught.
  std::vector<uint8_t> block(data, data + size);
  BatchFill fill;
  WalkBlock(block.data(), block.size(), snap, arrays, fill);
  if (fill.count > frames || fill.used > bytes) __builtin_trap();
  for (uint32_t i = 0; i < fill.count; ++i) {
    if (offset[i] + caplen[i] > fill.used) __builtin_trap();
  }
  return 0;
}
