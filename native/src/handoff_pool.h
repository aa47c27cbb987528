// A fixed set of batch slots in one allocation, shared by the capture thread
// (fills a free slot) and the JS thread (reads it during one callback, then
// frees it). The memory is also exposed to JS as one external ArrayBuffer, so
// its lifetime is shared (std::shared_ptr): it is freed only when the capture
// has closed AND V8 has collected the ArrayBuffer. JS therefore never sees
// freed memory; it can only see a slot being refilled if it keeps a view past
// its callback, which the FrameBatch contract forbids.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "block_walker.h"

namespace honeyport {

// Byte offsets inside one slot; identical for every slot.
struct SlotLayout {
  uint32_t slots;
  uint32_t frameCapacity;
  uint32_t dataCapacity;
  size_t stride;
  size_t tsOffset;
  size_t offsetOffset;
  size_t caplenOffset;
  size_t wirelenOffset;
  size_t ifaceOffset;
  size_t vlanOffset;
  size_t linktypeOffset;
  size_t dataOffset;

  static SlotLayout For(uint32_t slots, uint32_t frameCapacity, uint32_t dataCapacity);
  size_t TotalBytes() const { return stride * slots; }
};

// What the thread tells JS about a filled slot. Stored in the pool so that
// handing a slot over allocates nothing.
struct SlotTicket {
  uint32_t slot;
  uint32_t count;
};

class HandoffPool {
 public:
  // Returns nullptr when the allocation fails.
  static std::shared_ptr<HandoffPool> Create(const SlotLayout& layout);
  ~HandoffPool();
  HandoffPool(const HandoffPool&) = delete;
  HandoffPool& operator=(const HandoffPool&) = delete;

  const SlotLayout& layout() const { return layout_; }
  uint8_t* memory() const { return memory_; }

  // Capture thread only: claims a free slot, or returns -1 when JS still
  // holds all of them.
  int Acquire();
  // Capture thread only: whether Acquire() would find a slot now.
  bool HasFree() const;
  // Either thread: gives a slot back (after JS returned, or when handing
  // it over failed).
  void Release(uint32_t slot);

  BatchArrays Arrays(uint32_t slot) const;
  SlotTicket* Ticket(uint32_t slot) { return &tickets_[slot]; }

 private:
  HandoffPool(const SlotLayout& layout, uint8_t* memory);

  SlotLayout layout_;
  uint8_t* memory_;
  std::unique_ptr<std::atomic<bool>[]> busy_;
  std::unique_ptr<SlotTicket[]> tickets_;
  uint32_t next_ = 0;  // capture thread only: round-robin start
};

}  // namespace honeyport
