#include "handoff_pool.h"

#include <cstdlib>
#include <new>

namespace honeyport {

namespace {

constexpr size_t kAlign = 64;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

SlotLayout SlotLayout::For(uint32_t slots, uint32_t frameCapacity, uint32_t dataCapacity) {
  SlotLayout l{};
  l.slots = slots;
  l.frameCapacity = frameCapacity;
  l.dataCapacity = dataCapacity;
  // Widest element first; each array starts on a 64-byte boundary so typed
  // array views are always aligned.
  size_t at = 0;
  l.tsOffset = at;
  at = RoundUp(at + sizeof(double) * frameCapacity, kAlign);
  l.offsetOffset = at;
  at = RoundUp(at + sizeof(uint32_t) * frameCapacity, kAlign);
  l.caplenOffset = at;
  at = RoundUp(at + sizeof(uint32_t) * frameCapacity, kAlign);
  l.wirelenOffset = at;
  at = RoundUp(at + sizeof(uint32_t) * frameCapacity, kAlign);
  l.ifaceOffset = at;
  at = RoundUp(at + sizeof(int32_t) * frameCapacity, kAlign);
  l.vlanOffset = at;
  at = RoundUp(at + sizeof(uint16_t) * frameCapacity, kAlign);
  l.linktypeOffset = at;
  at = RoundUp(at + sizeof(uint16_t) * frameCapacity, kAlign);
  l.dataOffset = at;
  at = RoundUp(at + dataCapacity, kAlign);
  l.stride = at;
  return l;
}

std::shared_ptr<HandoffPool> HandoffPool::Create(const SlotLayout& layout) {
  void* memory = nullptr;
  if (layout.slots == 0 || posix_memalign(&memory, kAlign, layout.TotalBytes()) != 0) {
    return nullptr;
  }
  return std::shared_ptr<HandoffPool>(new HandoffPool(layout, static_cast<uint8_t*>(memory)));
}

HandoffPool::HandoffPool(const SlotLayout& layout, uint8_t* memory)
    : layout_(layout),
      memory_(memory),
      busy_(new std::atomic<bool>[layout.slots]),
      tickets_(new SlotTicket[layout.slots]) {
  for (uint32_t i = 0; i < layout.slots; ++i) {
    busy_[i].store(false, std::memory_order_relaxed);
    tickets_[i] = SlotTicket{i, 0};
  }
}

HandoffPool::~HandoffPool() { std::free(memory_); }

int HandoffPool::Acquire() {
  for (uint32_t n = 0; n < layout_.slots; ++n) {
    const uint32_t i = (next_ + n) % layout_.slots;
    // Acquire pairs with Release's store: JS is done reading before we write.
    if (!busy_[i].load(std::memory_order_acquire)) {
      busy_[i].store(true, std::memory_order_relaxed);
      next_ = (i + 1) % layout_.slots;
      return static_cast<int>(i);
    }
  }
  return -1;
}

bool HandoffPool::HasFree() const {
  for (uint32_t i = 0; i < layout_.slots; ++i) {
    if (!busy_[i].load(std::memory_order_acquire)) return true;
  }
  return false;
}

void HandoffPool::Release(uint32_t slot) {
  if (slot < layout_.slots) busy_[slot].store(false, std::memory_order_release);
}

BatchArrays HandoffPool::Arrays(uint32_t slot) const {
  uint8_t* base = memory_ + layout_.stride * slot;
  BatchArrays a{};
  a.data = base + layout_.dataOffset;
  a.dataCapacity = layout_.dataCapacity;
  a.frameCapacity = layout_.frameCapacity;
  a.tsMicros = reinterpret_cast<double*>(base + layout_.tsOffset);
  a.offset = reinterpret_cast<uint32_t*>(base + layout_.offsetOffset);
  a.caplen = reinterpret_cast<uint32_t*>(base + layout_.caplenOffset);
  a.wirelen = reinterpret_cast<uint32_t*>(base + layout_.wirelenOffset);
  a.iface = reinterpret_cast<int32_t*>(base + layout_.ifaceOffset);
  a.vlan = reinterpret_cast<uint16_t*>(base + layout_.vlanOffset);
  a.linktype = reinterpret_cast<uint16_t*>(base + layout_.linktypeOffset);
  return a;
}

}  // namespace honeyport
