// See listeners.h.
#include "listeners.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace honeyport {
namespace {

// The kernel's TCP_LISTEN state number (include/net/tcp_states.h).
constexpr uint8_t kTcpListen = 10;
// One datagram of a dump holds at most ~32 KiB of messages (the kernel sizes
// its dump skbs from the reader's buffer, capped); twice that never truncates.
constexpr size_t kReceiveBuffer = 64 * 1024;
// recv() waits at most this long for the kernel's next datagram.
constexpr int kReceiveTimeoutMs = 2000;

std::string ErrnoText(const char* step, int err) { return std::string(step) + ": " + std::strerror(err); }

// A kernel error code arrives negated; anything outside -4095..-1 (the kernel's
// MAX_ERRNO) is a damaged answer, and negating INT_MIN would be undefined.
int KernelErrno(int negated) { return negated < 0 && negated >= -4095 ? -negated : EPROTO; }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

DiagParse ParseDiagAnswer(const uint8_t* data, size_t length, int family, uint32_t seq, uint32_t port_id,
                          size_t max_entries, std::vector<TcpListener>* out, size_t* dropped, std::string* error) {
  const size_t address_length = family == AF_INET ? 4 : 16;
  size_t at = 0;
  while (length - at >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    std::memcpy(&header, data + at, sizeof header);
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > length - at) {
      *error = "sock_diag answer: a message's length runs past its datagram";
      return DiagParse::kError;
    }
    const uint8_t* payload = data + at + NLMSG_HDRLEN;
    const size_t payload_length = header.nlmsg_len >= NLMSG_HDRLEN ? header.nlmsg_len - NLMSG_HDRLEN : 0;
    const size_t next = NLMSG_ALIGN(header.nlmsg_len);
    at = next >= length - at ? length : at + next;
    if (header.nlmsg_seq != seq || header.nlmsg_pid != port_id) continue;  // not an answer to this request
    if (header.nlmsg_flags & NLM_F_DUMP_INTR) {
      // The kernel's tables changed under the dump: what came may be inconsistent.
      *error = "sock_diag answer: dump interrupted by a table change";
      return DiagParse::kError;
    }
    if (header.nlmsg_type == NLMSG_DONE) {
      int status = 0;
      if (payload_length >= sizeof status) std::memcpy(&status, payload, sizeof status);
      if (status < 0) {
        *error = ErrnoText("sock_diag dump", KernelErrno(status));
        return DiagParse::kError;
      }
      return DiagParse::kDone;
    }
    if (header.nlmsg_type == NLMSG_ERROR) {
      nlmsgerr e;
      if (payload_length < sizeof e) {
        *error = "sock_diag answer: a short error message";
        return DiagParse::kError;
      }
      std::memcpy(&e, payload, sizeof e);
      if (e.error == 0) continue;  // an acknowledgement
      *error = ErrnoText("sock_diag request", KernelErrno(e.error));
      return DiagParse::kRefused;
    }
    if (header.nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    inet_diag_msg msg;
    if (payload_length < sizeof msg) {
      *error = "sock_diag answer: a short socket record";
      return DiagParse::kError;
    }
    std::memcpy(&msg, payload, sizeof msg);
    if (msg.idiag_family != family || msg.idiag_state != kTcpListen) continue;
    if (out->size() >= max_entries) {
      ++*dropped;
      continue;
    }
    TcpListener l;
    l.address_length = static_cast<uint8_t>(address_length);
    std::memcpy(l.address, msg.id.idiag_src, address_length);
    l.port = ntohs(msg.id.idiag_sport);
    l.uid = msg.idiag_uid;
    l.inode = msg.idiag_inode;
    out->push_back(l);
  }
  if (at != length) {
    *error = "sock_diag answer: a datagram ends inside a message header";
    return DiagParse::kError;
  }
  return DiagParse::kMore;
}

DumpResult DumpTcpListeners(int family, size_t max_entries, std::vector<TcpListener>* out, bool* complete,
                            std::string* error) {
  *complete = false;
  if (family != AF_INET && family != AF_INET6) {
    *error = "sock_diag: family must be AF_INET or AF_INET6";
    return DumpResult::kFailed;
  }
  Fd fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) {
    *error = ErrnoText("socket(AF_NETLINK, NETLINK_SOCK_DIAG)", errno);
    return DumpResult::kUnavailable;
  }
  timeval timeout{kReceiveTimeoutMs / 1000, (kReceiveTimeoutMs % 1000) * 1000};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message;
  std::memset(&message, 0, sizeof message);
  const uint32_t seq = 1;  // a fresh socket per dump: nothing else is in flight on it
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = seq;
  message.request.sdiag_family = static_cast<uint8_t>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1u << kTcpListen;  // the listening hash only
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(sizeof message)) {
    *error = ErrnoText("sendto(NETLINK_SOCK_DIAG)", sent < 0 ? errno : EMSGSIZE);
    return DumpResult::kUnavailable;
  }
  sockaddr_nl self{};
  socklen_t self_length = sizeof self;
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&self), &self_length) != 0) {
    *error = ErrnoText("getsockname(NETLINK_SOCK_DIAG)", errno);
    return DumpResult::kFailed;
  }

  std::vector<uint8_t> buffer(kReceiveBuffer);
  size_t dropped = 0;
  for (;;) {
    iovec iov{buffer.data(), buffer.size()};
    msghdr header{};
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    const ssize_t got = recvmsg(fd.get(), &header, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoText("recvmsg(NETLINK_SOCK_DIAG)", errno);
      return DumpResult::kFailed;
    }
    if (header.msg_flags & MSG_TRUNC) {
      *error = "recvmsg(NETLINK_SOCK_DIAG): datagram larger than the buffer";
      return DumpResult::kFailed;
    }
    const DiagParse step = ParseDiagAnswer(buffer.data(), static_cast<size_t>(got), family, seq, self.nl_pid,
                                           max_entries, out, &dropped, error);
    // Refused (e.g. ENOENT: no inet_diag/tcp_diag in the kernel, EPERM from a security module): unavailable.
    if (step == DiagParse::kRefused) return DumpResult::kUnavailable;
    if (step == DiagParse::kError) return DumpResult::kFailed;
    if (step == DiagParse::kDone) break;
    // Beyond the cap the answer cannot be complete: stop reading, closing the socket ends the dump.
    if (dropped > 0) return DumpResult::kOk;
  }
  *complete = dropped == 0;
  return DumpResult::kOk;
}

}  // namespace honeyport
