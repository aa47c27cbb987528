// Native tests of the block walker and the hand-off pool: blocks are crafted
// byte arrays laid out the way the kernel writes TPACKET_V3 blocks.
#include <linux/if_arp.h>
#include <linux/if_packet.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../src/block_walker.h"
#include "../src/handoff_pool.h"

using namespace honeyport;

static int failures = 0;
#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

namespace {

struct FrameSpec {
  std::vector<uint8_t> bytes;
  uint32_t wirelen = 0;  // 0: same as bytes
  uint16_t hatype = ARPHRD_ETHER;
  uint8_t pkttype = PACKET_HOST;
  int ifindex = 2;
  uint32_t sec = 1700000000;
  uint32_t nsec = 123456789;
  int vlan = -1;  // < 0: no tag
};

// Lays frames out like tpacket_rcv(): header, sockaddr_ll, data at tp_mac,
// each frame TPACKET_ALIGN'ed after the previous one.
std::vector<uint8_t> Block(const std::vector<FrameSpec>& frames, size_t size = 4096) {
  std::vector<uint8_t> block(size, 0);
  tpacket_block_desc desc{};
  desc.version = TPACKET_V3;
  desc.hdr.bh1.block_status = TP_STATUS_USER;
  desc.hdr.bh1.num_pkts = static_cast<uint32_t>(frames.size());
  desc.hdr.bh1.offset_to_first_pkt = TPACKET_ALIGN(sizeof(tpacket_block_desc));
  size_t at = desc.hdr.bh1.offset_to_first_pkt;
  for (size_t i = 0; i < frames.size(); ++i) {
    const FrameSpec& f = frames[i];
    tpacket3_hdr hdr{};
    hdr.tp_mac = TPACKET_ALIGN(TPACKET3_HDRLEN);
    hdr.tp_snaplen = static_cast<uint32_t>(f.bytes.size());
    hdr.tp_len = f.wirelen ? f.wirelen : hdr.tp_snaplen;
    hdr.tp_sec = f.sec;
    hdr.tp_nsec = f.nsec;
    hdr.tp_status = TP_STATUS_USER;
    if (f.vlan >= 0) {
      hdr.tp_status |= TP_STATUS_VLAN_VALID;
      hdr.hv1.tp_vlan_tci = static_cast<uint16_t>(0xe000 | f.vlan);  // priority bits set
    }
    const size_t next = TPACKET_ALIGN(hdr.tp_mac + hdr.tp_snaplen);
    hdr.tp_next_offset = i + 1 < frames.size() ? static_cast<uint32_t>(next) : 0;
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_hatype = f.hatype;
    sll.sll_pkttype = f.pkttype;
    sll.sll_ifindex = f.ifindex;
    if (at + next > size) {
      std::fprintf(stderr, "test block too small\n");
      std::abort();
    }
    std::memcpy(&block[at], &hdr, sizeof(hdr));
    std::memcpy(&block[at + TPACKET_ALIGN(sizeof(tpacket3_hdr))], &sll, sizeof(sll));
    std::memcpy(&block[at + hdr.tp_mac], f.bytes.data(), f.bytes.size());
    at += next;
  }
  desc.hdr.bh1.blk_len = static_cast<uint32_t>(at);
  std::memcpy(block.data(), &desc, sizeof(desc));
  return block;
}

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i);
  return v;
}

// A batch backed by vectors, sized by the caller.
struct Batch {
  std::vector<uint8_t> data;
  std::vector<double> ts;
  std::vector<uint32_t> offset, caplen, wirelen;
  std::vector<int32_t> iface;
  std::vector<uint16_t> vlan, linktype;
  BatchArrays arrays{};
  Batch(uint32_t frames, uint32_t bytes)
      : data(bytes), ts(frames), offset(frames), caplen(frames), wirelen(frames),
        iface(frames), vlan(frames), linktype(frames) {
    arrays = BatchArrays{data.data(), bytes, frames, ts.data(), offset.data(), caplen.data(),
                         wirelen.data(), iface.data(), vlan.data(), linktype.data()};
  }
};

void CopiesFramesCompactly() {
  FrameSpec a{Bytes(60, 1)};
  FrameSpec b{Bytes(1514, 7)};
  b.vlan = 42;
  b.ifindex = 9;
  FrameSpec c{Bytes(42, 3)};
  c.hatype = ARPHRD_LOOPBACK;
  c.nsec = 999;
  auto block = Block({a, b, c});
  Batch batch(16, 4096);
  BatchFill fill;
  WalkResult r = WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill);
  CHECK(!r.malformed);
  CHECK(r.appended == 3);
  CHECK(fill.count == 3);
  CHECK(fill.used == 60 + 1514 + 42);
  CHECK(batch.offset[0] == 0 && batch.offset[1] == 60 && batch.offset[2] == 60 + 1514);
  CHECK(batch.caplen[1] == 1514 && batch.wirelen[1] == 1514);
  CHECK(std::memcmp(&batch.data[60], b.bytes.data(), 1514) == 0);
  CHECK(std::memcmp(&batch.data[60 + 1514], c.bytes.data(), 42) == 0);
  CHECK(batch.ts[0] == 1700000000.0 * 1e6 + 123456.0);
  CHECK(batch.ts[2] == 1700000000.0 * 1e6 + 0.0);  // 999 ns rounds down to 0 µs
  CHECK(batch.vlan[0] == 0 && batch.vlan[1] == 42);
  CHECK(batch.iface[0] == 2 && batch.iface[1] == 9);
  CHECK(batch.linktype[0] == kLinkTypeEthernet && batch.linktype[2] == kLinkTypeEthernet);
}

void SkipsOutgoingAndUnsupported() {
  FrameSpec out{Bytes(60, 1)};
  out.pkttype = PACKET_OUTGOING;
  FrameSpec in{Bytes(60, 2)};
  FrameSpec weird{Bytes(60, 3)};
  weird.hatype = ARPHRD_IEEE80211_RADIOTAP;
  FrameSpec tun{Bytes(40, 4)};
  tun.hatype = ARPHRD_NONE;
  FrameSpec bcast{Bytes(60, 5)};
  bcast.pkttype = PACKET_BROADCAST;
  auto block = Block({out, in, weird, tun, bcast});
  Batch batch(16, 4096);
  BatchFill fill;
  WalkResult r = WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill);
  CHECK(!r.malformed);
  CHECK(r.outgoing == 1);
  CHECK(r.unsupportedLink == 1);
  CHECK(r.appended == 3);
  CHECK(batch.data[0] == 2);  // the incoming frame comes first
  CHECK(batch.linktype[1] == kLinkTypeRaw);
  CHECK(batch.linktype[2] == kLinkTypeEthernet);
}

void TrimsToSnapLength() {
  FrameSpec a{Bytes(100, 1)};
  a.wirelen = 9000;
  auto block = Block({a, a});
  Batch batch(16, 4096);
  BatchFill fill;
  WalkResult r = WalkBlock(block.data(), block.size(), 64, batch.arrays, fill);
  CHECK(r.appended == 2);
  CHECK(batch.caplen[0] == 64 && batch.caplen[1] == 64);
  CHECK(batch.wirelen[0] == 9000);
  CHECK(batch.offset[1] == 64);
  CHECK(fill.used == 128);
}

void CountsOverflow() {
  auto block = Block({FrameSpec{Bytes(100, 1)}, FrameSpec{Bytes(100, 2)}, FrameSpec{Bytes(100, 3)}});
  {
    Batch batch(2, 4096);  // frame capacity
    BatchFill fill;
    WalkResult r = WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill);
    CHECK(r.appended == 2 && r.overflow == 1 && !r.malformed);
  }
  {
    Batch batch(16, 250);  // data capacity
    BatchFill fill;
    WalkResult r = WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill);
    CHECK(r.appended == 2 && r.overflow == 1 && fill.used == 200);
  }
}

void AppendsAcrossBlocks() {
  auto one = Block({FrameSpec{Bytes(10, 1)}});
  auto two = Block({FrameSpec{Bytes(20, 2)}, FrameSpec{Bytes(30, 3)}});
  Batch batch(16, 4096);
  BatchFill fill;
  WalkBlock(one.data(), one.size(), 65535, batch.arrays, fill);
  WalkBlock(two.data(), two.size(), 65535, batch.arrays, fill);
  CHECK(fill.count == 3 && fill.used == 60);
  CHECK(batch.offset[2] == 30 && batch.data[30] == 3);
}

void RejectsMalformedBlocks() {
  Batch batch(16, 4096);
  {
    BatchFill fill;
    uint8_t tiny[8] = {};
    CHECK(WalkBlock(tiny, sizeof(tiny), 65535, batch.arrays, fill).malformed);
  }
  {
    auto block = Block({FrameSpec{Bytes(60, 1)}});
    tpacket_block_desc desc;
    std::memcpy(&desc, block.data(), sizeof(desc));
    desc.hdr.bh1.num_pkts = 5;  // claims more frames than there are: next offset 0
    std::memcpy(block.data(), &desc, sizeof(desc));
    BatchFill fill;
    WalkResult r = WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill);
    CHECK(r.malformed && r.appended == 1);
  }
  {
    auto block = Block({FrameSpec{Bytes(60, 1)}});
    tpacket_block_desc desc;
    std::memcpy(&desc, block.data(), sizeof(desc));
    desc.hdr.bh1.offset_to_first_pkt = static_cast<uint32_t>(block.size() - 10);
    std::memcpy(block.data(), &desc, sizeof(desc));
    BatchFill fill;
    CHECK(WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill).malformed);
    CHECK(fill.count == 0);
  }
  {
    auto block = Block({FrameSpec{Bytes(60, 1)}});
    const size_t first = TPACKET_ALIGN(sizeof(tpacket_block_desc));
    tpacket3_hdr hdr;
    std::memcpy(&hdr, &block[first], sizeof(hdr));
    hdr.tp_snaplen = 0xfffffff0u;  // data would run past the block
    std::memcpy(&block[first], &hdr, sizeof(hdr));
    BatchFill fill;
    CHECK(WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill).malformed);
    CHECK(fill.count == 0);
  }
  {
    // An empty block (retired by the timeout) is fine and yields nothing.
    auto block = Block({});
    BatchFill fill;
    WalkResult r = WalkBlock(block.data(), block.size(), 65535, batch.arrays, fill);
    CHECK(!r.malformed && r.appended == 0);
  }
}

void MapsLinkTypes() {
  CHECK(LinkTypeForHatype(ARPHRD_ETHER) == 1);
  CHECK(LinkTypeForHatype(ARPHRD_LOOPBACK) == 1);
  CHECK(LinkTypeForHatype(ARPHRD_NONE) == 101);
  CHECK(LinkTypeForHatype(ARPHRD_RAWIP) == 101);
  CHECK(LinkTypeForHatype(ARPHRD_IEEE80211_RADIOTAP) == kLinkTypeUnsupported);
  CHECK(LinkTypeForHatype(ARPHRD_INFINIBAND) == kLinkTypeUnsupported);
}

void PoolLayoutAndSlots() {
  const SlotLayout l = SlotLayout::For(3, 1000, 65536);
  const size_t offsets[] = {l.tsOffset,   l.offsetOffset, l.caplenOffset,   l.wirelenOffset,
                            l.ifaceOffset, l.vlanOffset,  l.linktypeOffset, l.dataOffset};
  for (size_t o : offsets) CHECK(o % 64 == 0);
  CHECK(l.offsetOffset >= l.tsOffset + 8 * 1000);
  CHECK(l.caplenOffset >= l.offsetOffset + 4 * 1000);
  CHECK(l.vlanOffset >= l.ifaceOffset + 4 * 1000);
  CHECK(l.linktypeOffset >= l.vlanOffset + 2 * 1000);
  CHECK(l.dataOffset >= l.linktypeOffset + 2 * 1000);
  CHECK(l.stride >= l.dataOffset + 65536 && l.stride % 64 == 0);

  auto pool = HandoffPool::Create(l);
  CHECK(pool != nullptr);
  const int a = pool->Acquire(), b = pool->Acquire(), c = pool->Acquire();
  CHECK(a >= 0 && b >= 0 && c >= 0 && a != b && b != c && a != c);
  CHECK(pool->Acquire() == -1);
  pool->Release(static_cast<uint32_t>(b));
  CHECK(pool->Acquire() == b);
  pool->Release(99);  // out of range: ignored
  CHECK(pool->Acquire() == -1);
  // Slot arrays stay inside the allocation.
  const BatchArrays last = pool->Arrays(2);
  CHECK(last.data + last.dataCapacity <= pool->memory() + l.TotalBytes());
  std::memset(last.data, 0xab, last.dataCapacity);  // ASan checks the bound
  CHECK(HandoffPool::Create(SlotLayout::For(0, 10, 10)) == nullptr);
}

}  // namespace

int main() {
  CopiesFramesCompactly();
  SkipsOutgoingAndUnsupported();
  TrimsToSnapLength();
  CountsOverflow();
  AppendsAcrossBlocks();
  RejectsMalformedBlocks();
  MapsLinkTypes();
  PoolLayoutAndSlots();
  if (failures != 0) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("walker_test: all checks passed\n");
  return 0;
}
