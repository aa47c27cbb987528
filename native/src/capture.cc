#include "capture.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace honeyport {

namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

sock_fprog Program(const std::vector<sock_filter>& filter) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(filter.size());
  prog.filter = const_cast<sock_filter*>(filter.data());
  return prog;
}

bool CheckProgramSize(const std::vector<sock_filter>& filter, std::string* error) {
  if (filter.empty() || filter.size() > BPF_MAXINSNS) {
    *error = "filter must hold 1.." + std::to_string(BPF_MAXINSNS) + " instructions";
    return false;
  }
  return true;
}

// Smallest footprint of a frame in a V3 block: its aligned tpacket3_hdr +
// sockaddr_ll. Bounds how many frames one block (hence one batch) can hold.
constexpr uint32_t kMinFrameFootprint = TPACKET_ALIGN(TPACKET3_HDRLEN);

}  // namespace

struct Capture::Ring {
  std::string name;
  int ifindex = 0;
  int fd = -1;
  uint8_t* map = nullptr;
  size_t mapLength = 0;
  uint32_t blockSize = 0;
  uint32_t blockCount = 0;
  uint32_t next = 0;  // capture thread only

  ~Ring() { Release(); }
  void Release() {
    if (map != nullptr) munmap(map, mapLength);
    map = nullptr;
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

bool ValidateFilter(const std::vector<sock_filter>& filter, std::string* error) {
  if (!CheckProgramSize(filter, error)) return false;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = Errno("socket (filter check)");
    return false;
  }
  const sock_fprog prog = Program(filter);
  const bool ok = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0;
  if (!ok) *error = Errno("invalid BPF program (SO_ATTACH_FILTER)");
  close(fd);
  return ok;
}

std::unique_ptr<Capture> Capture::Open(const CaptureConfig& config, std::string* error) {
  const long page = sysconf(_SC_PAGESIZE);
  if (config.interfaces.empty()) {
    *error = "no interface given";
    return nullptr;
  }
  if (config.blockSize == 0 || config.blockSize % page != 0) {
    *error = "ringBlockSize must be a positive multiple of the page size (" +
             std::to_string(page) + ")";
    return nullptr;
  }
  if (config.blockCount == 0) {
    *error = "ringBlockCount must be positive";
    return nullptr;
  }
  if (config.frameSize < TPACKET3_HDRLEN || config.frameSize % TPACKET_ALIGNMENT != 0 ||
      config.frameSize > config.blockSize) {
    *error = "frameSize must be a multiple of " + std::to_string(TPACKET_ALIGNMENT) +
             " between " + std::to_string(TPACKET3_HDRLEN) + " and ringBlockSize";
    return nullptr;
  }
  if (config.fullBlockPauseMs > 1000) {
    *error = "fullBlockPauseMs must be at most 1000";
    return nullptr;
  }
  if (config.blockTimeoutMs == 0) {
    *error = "blockTimeoutMs must be positive";
    return nullptr;
  }
  if (config.handoffSlots == 0 || config.handoffSlots > 1024) {
    *error = "handoffSlots must be 1..1024";
    return nullptr;
  }
  if (!ValidateFilter(config.filter, error)) return nullptr;

  std::unique_ptr<Capture> capture(new Capture());
  capture->config_ = config;
  for (const std::string& name : config.interfaces) {
    auto ring = std::make_unique<Ring>();
    ring->name = name;
    if (name == "any") {
      if (config.interfaces.size() != 1) {
        *error = "'any' cannot be combined with other interfaces";
        return nullptr;
      }
      ring->ifindex = 0;
    } else {
      ring->ifindex = static_cast<int>(if_nametoindex(name.c_str()));
      if (ring->ifindex == 0) {
        *error = Errno("interface " + name);
        return nullptr;
      }
    }
    for (const auto& other : capture->rings_) {
      if (other->ifindex == ring->ifindex) {
        *error = "interface " + name + " given twice";
        return nullptr;
      }
    }

    // Protocol 0: the socket is not hooked into the receive path, so nothing
    // reaches it until bind() names ETH_P_ALL below. The filter, version and
    // ring are all in place before that, so no packet is ever queued
    // unfiltered and there is nothing to drain.
    ring->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (ring->fd < 0) {
      *error = Errno("socket(AF_PACKET)");
      return nullptr;
    }
    const sock_fprog prog = Program(config.filter);
    if (setsockopt(ring->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) {
      *error = Errno("SO_ATTACH_FILTER");
      return nullptr;
    }
    const int version = TPACKET_V3;
    if (setsockopt(ring->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0) {
      *error = Errno("PACKET_VERSION TPACKET_V3");
      return nullptr;
    }
    tpacket_req3 req{};
    req.tp_block_size = config.blockSize;
    req.tp_block_nr = config.blockCount;
    req.tp_frame_size = config.frameSize;
    req.tp_frame_nr = (config.blockSize / config.frameSize) * config.blockCount;
    req.tp_retire_blk_tov = config.blockTimeoutMs;
    if (setsockopt(ring->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) {
      *error = Errno("PACKET_RX_RING (" + std::to_string(config.blockCount) + " x " +
                     std::to_string(config.blockSize) + " bytes)");
      return nullptr;
    }
    ring->blockSize = config.blockSize;
    ring->blockCount = config.blockCount;
    ring->mapLength = static_cast<size_t>(config.blockSize) * config.blockCount;
    void* map = mmap(nullptr, ring->mapLength, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_POPULATE, ring->fd, 0);
    if (map == MAP_FAILED) {
      *error = Errno("mmap rx ring");
      return nullptr;
    }
    ring->map = static_cast<uint8_t*>(map);
    if (config.kernelIgnoreOutgoing) {
      // Linux >= 4.20 stops delivering our own transmissions to the socket
      // (each packet on lo would otherwise be seen twice). Older kernels
      // refuse the option; the block walker drops PACKET_OUTGOING anyway.
      const int one = 1;
      (void)setsockopt(ring->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    }
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = ring->ifindex;
    if (bind(ring->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      *error = Errno("bind " + name);
      return nullptr;
    }
    if (config.fanoutGroup >= 0) {
      // A fanout group spans one device, so each interface gets its own id.
      const uint32_t id = (static_cast<uint32_t>(config.fanoutGroup) + capture->rings_.size()) & 0xffff;
      const uint32_t arg = id | (PACKET_FANOUT_HASH << 16);
      if (setsockopt(ring->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
        *error = Errno("PACKET_FANOUT group " + std::to_string(id));
        return nullptr;
      }
    }
    capture->rings_.push_back(std::move(ring));
  }

  const uint32_t frameCapacity = config.blockSize / kMinFrameFootprint + 1;
  capture->pool_ = HandoffPool::Create(
      SlotLayout::For(config.handoffSlots, frameCapacity, config.blockSize));
  if (!capture->pool_) {
    *error = "cannot allocate hand-off pool";
    return nullptr;
  }
  capture->stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (capture->stopFd_ < 0) {
    *error = Errno("eventfd");
    return nullptr;
  }
  return capture;
}

Capture::~Capture() {
  Close();
  if (stopFd_ >= 0) close(stopFd_);
}

bool Capture::Start(BatchSink* sink, std::string* error) {
  if (closed_ || thread_.joinable()) {
    *error = closed_ ? "capture is closed" : "capture already started";
    return false;
  }
  sink_ = sink;
  thread_ = std::thread([this] { Run(); });
  return true;
}

void Capture::StopThread() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of overflow; poll() wakes at once.
  (void)!write(stopFd_, &one, sizeof(one));
  thread_.join();
}

void Capture::Close() {
  StopThread();
  std::lock_guard<std::mutex> lock(kernelMutex_);
  if (closed_) return;
  ReadKernelStatsLocked();
  for (auto& ring : rings_) ring->Release();
  closed_ = true;
}

bool Capture::SetFilter(const std::vector<sock_filter>& filter, std::string* error) {
  if (!ValidateFilter(filter, error)) return false;
  std::lock_guard<std::mutex> lock(kernelMutex_);
  if (closed_) {
    *error = "capture is closed";
    return false;
  }
  // SO_ATTACH_FILTER swaps sk->sk_filter with one RCU pointer update: every
  // packet runs either the old or the new program in full, never none.
  const sock_fprog prog = Program(filter);
  for (auto& ring : rings_) {
    if (setsockopt(ring->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) {
      *error = Errno("SO_ATTACH_FILTER on " + ring->name);
      return false;
    }
  }
  config_.filter = filter;
  return true;
}

void Capture::ReadKernelStatsLocked() {
  for (auto& ring : rings_) {
    if (ring->fd < 0) continue;
    tpacket_stats_v3 st{};
    socklen_t len = sizeof(st);
    if (getsockopt(ring->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      kernelPackets_ += st.tp_packets;
      kernelDrops_ += st.tp_drops;
      kernelFreezes_ += st.tp_freeze_q_cnt;
    }
  }
}

CaptureStats Capture::Stats() {
  CaptureStats s;
  {
    std::lock_guard<std::mutex> lock(kernelMutex_);
    if (!closed_) ReadKernelStatsLocked();
    s.kernelPackets = kernelPackets_;
    s.kernelDrops = kernelDrops_;
    s.kernelFreezes = kernelFreezes_;
  }
  s.blocks = blocks_.load(std::memory_order_relaxed);
  s.framesQueued = framesQueued_.load(std::memory_order_relaxed);
  s.handoffDropFrames = handoffDropFrames_.load(std::memory_order_relaxed);
  s.handoffDropBlocks = handoffDropBlocks_.load(std::memory_order_relaxed);
  s.outgoingSkipped = outgoingSkipped_.load(std::memory_order_relaxed);
  s.unsupportedLink = unsupportedLink_.load(std::memory_order_relaxed);
  s.overflow = overflow_.load(std::memory_order_relaxed);
  s.malformedBlocks = malformedBlocks_.load(std::memory_order_relaxed);
  s.socketErrors = socketErrors_.load(std::memory_order_relaxed);
  return s;
}

void Capture::Run() {
  std::vector<pollfd> fds(rings_.size() + 1);
  for (size_t i = 0; i < rings_.size(); ++i) {
    fds[i].fd = rings_[i]->fd;
    fds[i].events = POLLIN | POLLERR;
  }
  fds.back().fd = stopFd_;
  fds.back().events = POLLIN;

  for (;;) {
    bool waiting = false;
    bool sawFull = false;
    for (auto& ring : rings_) waiting = DrainRing(*ring, &sawFull) || waiting;
    if (waiting || (sawFull && config_.fullBlockPauseMs > 0)) {
      // JS holds every slot and a block waits in the ring, or blocks fill
      // faster than the timeout retires them: the ring fds stay readable,
      // so poll only the stop event, briefly, then look again.
      pollfd stop{stopFd_, POLLIN, 0};
      if (poll(&stop, 1, waiting ? 1 : static_cast<int>(config_.fullBlockPauseMs)) > 0) return;
      continue;
    }
    // The timeout only bounds how long a missed wakeup could stall us; the
    // kernel retires partly filled blocks after blockTimeoutMs anyway.
    const int ready = poll(fds.data(), fds.size(), 1000);
    if (ready < 0) {
      if (errno == EINTR) continue;
      socketErrors_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (fds.back().revents != 0) return;
    for (size_t i = 0; i < rings_.size(); ++i) {
      if (fds[i].revents & (POLLERR | POLLNVAL)) {
        // Reading SO_ERROR clears it (e.g. ENETDOWN when a link goes down),
        // so a persistent condition cannot spin this loop.
        int err = 0;
        socklen_t len = sizeof(err);
        (void)getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
        socketErrors_.fetch_add(1, std::memory_order_relaxed);
        if (fds[i].revents & POLLNVAL) return;
      }
    }
  }
}

static int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Capture::DrainRing(Ring& ring, bool* sawFull) {
  // At most one lap per call so that one busy interface cannot starve the
  // others or the stop event.
  for (uint32_t n = 0; n < ring.blockCount; ++n) {
    auto* desc = reinterpret_cast<tpacket_block_desc*>(
        ring.map + static_cast<size_t>(ring.next) * ring.blockSize);
    const uint32_t status = __atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
    if ((status & TP_STATUS_USER) == 0) return false;
    if (config_.handoffWaitMs > 0 && desc->hdr.bh1.num_pkts > 0 && !pool_->HasFree()) {
      const int64_t now = NowMs();
      if (waitingSinceMs_ < 0) waitingSinceMs_ = now;
      // Leave the block in the ring (the kernel keeps filling the others);
      // past the bound, HandleBlock counts its frames as hand-off drops.
      if (now - waitingSinceMs_ < static_cast<int64_t>(config_.handoffWaitMs)) return true;
    }
    waitingSinceMs_ = -1;
    if ((status & TP_STATUS_BLK_TMO) == 0 && desc->hdr.bh1.num_pkts > 0) *sawFull = true;
    HandleBlock(reinterpret_cast<const uint8_t*>(desc));
    // The copy is done: give the block straight back to the kernel.
    __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    ring.next = (ring.next + 1) % ring.blockCount;
  }
  return false;
}

void Capture::HandleBlock(const uint8_t* block) {
  const auto* desc = reinterpret_cast<const tpacket_block_desc*>(block);
  const uint32_t packets = desc->hdr.bh1.num_pkts;
  if (packets == 0) return;  // retired by the timeout while empty
  blocks_.fetch_add(1, std::memory_order_relaxed);

  const int slot = pool_->Acquire();
  if (slot < 0) {
    handoffDropFrames_.fetch_add(packets, std::memory_order_relaxed);
    handoffDropBlocks_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  BatchFill fill;
  const WalkResult walked =
      WalkBlock(block, config_.blockSize, config_.snapLength, pool_->Arrays(slot), fill);
  outgoingSkipped_.fetch_add(walked.outgoing, std::memory_order_relaxed);
  unsupportedLink_.fetch_add(walked.unsupportedLink, std::memory_order_relaxed);
  overflow_.fetch_add(walked.overflow, std::memory_order_relaxed);
  if (walked.malformed) malformedBlocks_.fetch_add(1, std::memory_order_relaxed);

  if (fill.count == 0) {
    pool_->Release(slot);
    return;
  }
  SlotTicket* ticket = pool_->Ticket(slot);
  ticket->count = fill.count;
  if (!sink_->Deliver(ticket)) {
    pool_->Release(slot);
    handoffDropFrames_.fetch_add(fill.count, std::memory_order_relaxed);
    handoffDropBlocks_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  framesQueued_.fetch_add(fill.count, std::memory_order_relaxed);
}

}  // namespace honeyport
