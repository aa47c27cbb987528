// Drives LLVMFuzzerTestOneInput without libFuzzer (gcc builds): replays files
// given as arguments, then mutates kernel-shaped seed blocks for a bounded
// number of iterations (HP_FUZZ_ITERATIONS, default 200000).
#include <linux/if_packet.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// A plausible block: header plus a chain of frames, so mutations start near
// the interesting paths instead of failing the first bounds check.
std::vector<uint8_t> Seed(std::mt19937& rng) {
  const size_t size = 256 + rng() % 4096;
  std::vector<uint8_t> b(size, 0);
  tpacket_block_desc desc{};
  const uint32_t first = TPACKET_ALIGN(sizeof(tpacket_block_desc));
  desc.hdr.bh1.offset_to_first_pkt = first;
  uint32_t at = first, n = 0;
  while (n < 40) {
    const uint32_t snap = rng() % 200;
    const uint32_t mac = TPACKET_ALIGN(TPACKET3_HDRLEN);
    const uint32_t next = TPACKET_ALIGN(mac + snap);
    if (at + next > size) break;
    tpacket3_hdr hdr{};
    hdr.tp_mac = static_cast<uint16_t>(mac);
    hdr.tp_snaplen = snap;
    hdr.tp_len = snap + rng() % 100;
    hdr.tp_status = rng() & 0xff;
    hdr.tp_next_offset = next;
    sockaddr_ll sll{};
    sll.sll_hatype = static_cast<uint16_t>(rng() % 3 == 0 ? 772 : 1);
    sll.sll_pkttype = static_cast<uint8_t>(rng() % 5);
    std::memcpy(&b[at], &hdr, sizeof(hdr));
    std::memcpy(&b[at + TPACKET_ALIGN(sizeof(tpacket3_hdr))], &sll, sizeof(sll));
    at += next;
    ++n;
  }
  desc.hdr.bh1.num_pkts = n;
  std::memcpy(b.data(), &desc, sizeof(desc));
  // The target reads its batch shape from the first bytes (the block's
  // `version` field, which the walker ignores): vary them.
  for (int i = 0; i < 3; ++i) b[i] = static_cast<uint8_t>(rng());
  return b;
}

void Mutate(std::vector<uint8_t>& b, std::mt19937& rng) {
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

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  const char* env = std::getenv("HP_FUZZ_ITERATIONS");
  const long iterations = env ? std::atol(env) : 200000;
  std::mt19937 rng(12345);
  for (long i = 0; i < iterations; ++i) {
    std::vector<uint8_t> b = Seed(rng);
    if (i % 2) Mutate(b, rng);
    LLVMFuzzerTestOneInput(b.data(), b.size());
  }
  std::printf("walker_fuzz: %ld inputs, no finding\n", iterations);
  return 0;
}
