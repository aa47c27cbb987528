// Drives LLVMFuzzerTestOneInput without libFuzzer (gcc builds): replays files
// given as arguments, then mutates kernel-shaped seed blocks for a bounded
// number of iterations (HP_FUZZ_ITERATIONS, default 200000).
#include <linux/if_packet.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "driver_loop.h"

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

}  // namespace

int main(int argc, char** argv) { return honeyport::fuzz::RunDriver(argc, argv, 12345, "walker_fuzz", Seed); }
