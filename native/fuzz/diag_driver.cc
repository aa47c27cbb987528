// Drives the sock_diag fuzz target without libFuzzer (gcc builds): replays
// files given as arguments, then builds kernel-shaped dump datagrams (socket
// records, other sequence numbers, NLMSG_DONE, NLMSG_ERROR) and mutates them,
// for HP_FUZZ_ITERATIONS (default 200000) inputs.
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "driver_loop.h"

namespace {

void Append(std::vector<uint8_t>& b, uint16_t type, uint32_t seq, uint32_t pid, const void* payload, size_t length) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(length));
  h.nlmsg_type = type;
  h.nlmsg_seq = seq;
  h.nlmsg_pid = pid;
  const size_t at = b.size();
  b.resize(at + NLMSG_SPACE(length), 0);
  std::memcpy(&b[at], &h, sizeof h);
  std::memcpy(&b[at + NLMSG_HDRLEN], payload, length);
}

std::vector<uint8_t> Seed(std::mt19937& rng) {
  std::vector<uint8_t> b(1, static_cast<uint8_t>(rng()));  // the target's family/cap byte
  const int records = rng() % 40;
  for (int i = 0; i < records; ++i) {
    inet_diag_msg m{};
    m.idiag_family = rng() % 2 ? AF_INET : AF_INET6;
    m.idiag_state = rng() % 8 ? 10 : static_cast<uint8_t>(rng() % 12);
    m.id.idiag_sport = static_cast<uint16_t>(rng());
    for (auto& w : m.id.idiag_src) w = rng();
    m.idiag_uid = rng();
    m.idiag_inode = rng();
    Append(b, SOCK_DIAG_BY_FAMILY, rng() % 10 ? 1 : 2, rng() % 10 ? 4242 : 7, &m, sizeof m);
  }
  switch (rng() % 4) {
    case 0: {
      int status = rng() % 3 ? 0 : -static_cast<int>(rng() % 100);
      Append(b, NLMSG_DONE, 1, 4242, &status, sizeof status);
      break;
    }
    case 1: {
      nlmsgerr e{};
      e.error = -static_cast<int>(rng() % 100);
      Append(b, NLMSG_ERROR, 1, 4242, &e, sizeof e);
      break;
    }
    default: break;
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) { return honeyport::fuzz::RunDriver(argc, argv, 4242, "diag_fuzz", Seed); }
