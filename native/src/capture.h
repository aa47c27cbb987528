// The raw-socket core: one AF_PACKET socket per interface, each with a
// TPACKET_V3 rx ring, and one thread that walks retired blocks of all of them
// and hands batches to a BatchSink. Node-free, so it can be driven by a plain
// C++ program as well as by the addon.
#pragma once

#include <linux/filter.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "handoff_pool.h"

namespace honeyport {

struct CaptureConfig {
  std::vector<std::string> interfaces;  // device names, or the single name "any"
  uint32_t blockSize = 1u << 20;
  uint32_t blockCount = 64;
  uint32_t frameSize = 2048;
  uint32_t blockTimeoutMs = 8;
  uint32_t snapLength = 65535;
  std::vector<sock_filter> filter;
  int32_t fanoutGroup = -1;  // < 0: no fanout
  bool kernelIgnoreOutgoing = true;
  uint32_t handoffSlots = 16;
  // How long a retired block may wait in the ring for a free hand-off slot
  // before its frames are dropped: the ring (tens of MiB) is the burst
  // buffer while JavaScript is busy, yet the ring is never held forever.
  uint32_t handoffWaitMs = 0;
  // After handing over a block the kernel retired because it was full, wait
  // this long before looking again (0: at once): under a flood both threads
  // then wake once per several blocks instead of once per block. It only
  // applies while blocks fill faster than the block timeout, and bounds what
  // it adds to latency.
  uint32_t fullBlockPauseMs = 0;
  // Open the sockets (frames collect in the rings) but start no thread until
  // the handle's resume(): the sensor drops privileges in between.
  bool held = false;
};

struct CaptureStats {
  // Running totals of PACKET_STATISTICS (the kernel resets them per read).
  uint64_t kernelPackets = 0;  // tp_packets: includes tp_drops
  uint64_t kernelDrops = 0;
  uint64_t kernelFreezes = 0;
  // Capture thread.
  uint64_t blocks = 0;             // non-empty retired blocks walked
  uint64_t framesQueued = 0;       // frames handed to the sink
  uint64_t handoffDropFrames = 0;  // frames of blocks no slot was free for
  uint64_t handoffDropBlocks = 0;
  uint64_t outgoingSkipped = 0;
  uint64_t unsupportedLink = 0;
  uint64_t overflow = 0;
  uint64_t malformedBlocks = 0;
  uint64_t socketErrors = 0;
};

// Receives filled slots on the capture thread. Must not block. Returns false
// when the slot could not be queued (the caller then frees it and counts the
// frames as hand-off drops).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual bool Deliver(SlotTicket* ticket) = 0;
};

class Capture {
 public:
  // Sockets are bound and capturing (into their rings) when this returns.
  static std::unique_ptr<Capture> Open(const CaptureConfig& config, std::string* error);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Starts the capture thread. `sink` must stay valid until StopThread().
  bool Start(BatchSink* sink, std::string* error);
  // Replaces the filter on every socket; validated first, so an invalid
  // program leaves the old one everywhere.
  bool SetFilter(const std::vector<sock_filter>& filter, std::string* error);
  // Safe from any thread except the capture thread.
  CaptureStats Stats();
  // Stops and joins the thread; idempotent.
  void StopThread();
  // StopThread, take final kernel counters, unmap rings, close sockets;
  // idempotent. Stats() keeps answering with the final totals afterwards.
  void Close();

  const std::shared_ptr<HandoffPool>& pool() const { return pool_; }

  struct Ring;

 private:
  Capture() = default;
  void Run();
  // Returns true when it stopped at a block that waits for a hand-off slot.
  // Sets *sawFull when it handed over a block the kernel retired full.
  bool DrainRing(Ring& ring, bool* sawFull);
  void HandleBlock(const uint8_t* block);
  void ReadKernelStatsLocked();

  CaptureConfig config_;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::shared_ptr<HandoffPool> pool_;
  int stopFd_ = -1;
  std::thread thread_;
  BatchSink* sink_ = nullptr;
  int64_t waitingSinceMs_ = -1;  // capture thread only: first wait for a slot

  std::mutex kernelMutex_;  // guards kernel totals and ring fds vs Close()
  uint64_t kernelPackets_ = 0, kernelDrops_ = 0, kernelFreezes_ = 0;
  bool closed_ = false;

  std::atomic<uint64_t> blocks_{0}, framesQueued_{0}, handoffDropFrames_{0},
      handoffDropBlocks_{0}, outgoingSkipped_{0}, unsupportedLink_{0}, overflow_{0},
      malformedBlocks_{0}, socketErrors_{0};
};

// Checks a cBPF program with the kernel's own verifier (on a throwaway UDP
// socket) without touching any capture socket.
bool ValidateFilter(const std::vector<sock_filter>& filter, std::string* error);

}  // namespace honeyport
