// Listening TCP sockets of the process's network namespace from the kernel's
// NETLINK_SOCK_DIAG interface (inet_diag), for the port holder's periodic
// check (src/ports/listening-table.ts). Node-free.
//
// Why: /proc/net/tcp{,6} walk every bucket of the established hash even when
// only listeners are wanted (262,144 buckets: ~4 ms of CPU per file). A dump
// asking for TCPF_LISTEN alone walks only the listening hash.
//
// Contract: one dump per call, for one address family (AF_INET or AF_INET6,
// as /proc/net/tcp and tcp6 list them: a dual-stack IPv6 socket is AF_INET6).
// Needs no privilege (any user may dump; the kernel lists every user's
// sockets). At most `max_entries` are kept; beyond it `complete` is false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace honeyport {

struct TcpListener {
  // 4 (AF_INET) or 16 (AF_INET6) bytes used of `address`, network order.
  uint8_t address_length = 0;
  uint8_t address[16] = {};
  uint16_t port = 0;
  uint32_t uid = 0;
  uint32_t inode = 0;
};

// kRefused: the kernel answered the request with an error (NLMSG_ERROR).
enum class DiagParse { kMore, kDone, kRefused, kError };

// Parses one datagram of a dump answer (every netlink message in it). Messages
// of another sequence number or port id are skipped; a truncated or
// malformed message or an NLMSG_DONE carrying an error is kError, an
// NLMSG_ERROR kRefused, with `error` set. Appends at most `max_entries` in total to `out`,
// counting the rest in `*dropped`.
DiagParse ParseDiagAnswer(const uint8_t* data, size_t length, int family, uint32_t seq, uint32_t port_id,
                          size_t max_entries, std::vector<TcpListener>* out, size_t* dropped, std::string* error);

enum class DumpResult { kOk, kUnavailable, kFailed };

// Opens a NETLINK_SOCK_DIAG socket, asks for every TCP socket of `family` in
// TCP_LISTEN and reads the answer to its end. kUnavailable: the socket could
// not be opened or the request was refused (no AF_NETLINK under a sandbox,
// no inet_diag in the kernel) — the caller falls back to /proc; kFailed: the
// answer broke off. `error` names the step and errno.
DumpResult DumpTcpListeners(int family, size_t max_entries, std::vector<TcpListener>* out, bool* complete,
                            std::string* error);

}  // namespace honeyport
