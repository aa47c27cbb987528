// Fuzz target: any datagram as a sock_diag dump answer must neither read
// outside it (ASan) nor hit UB (UBSan), and the parser must keep its cap.
// The first byte picks the family and the cap (so both paths get exercised);
// the rest is the datagram.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../src/listeners.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace honeyport;
  const int family = size > 0 && (data[0] & 1) ? AF_INET6 : AF_INET;
  const size_t cap = size > 0 ? data[0] >> 1 : 0;
  // An exact-size heap copy so any overread is caught.
  std::vector<uint8_t> datagram(size > 0 ? data + 1 : data, data + size);
  std::vector<TcpListener> out;
  size_t dropped = 0;
  std::string error;
  const DiagParse r = ParseDiagAnswer(datagram.data(), datagram.size(), family, 1, 4242, cap, &out, &dropped, &error);
  if (out.size() > cap) __builtin_trap();
  if ((r == DiagParse::kError || r == DiagParse::kRefused) && error.empty()) __builtin_trap();
  for (const TcpListener& l : out) {
    if (l.address_length != (family == AF_INET ? 4 : 16)) __builtin_trap();
  }
  return 0;
}
