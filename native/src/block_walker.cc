#include "block_walker.h"

#include <linux/if_arp.h>
#include <linux/if_packet.h>

#include <cstring>

namespace honeyport {

namespace {

// Where the kernel puts the sockaddr_ll of a V3 frame (see TPACKET3_HDRLEN).
constexpr size_t kSllOffset = TPACKET_ALIGN(sizeof(tpacket3_hdr));

// Headers are copied out with memcpy: ring memory is aligned, but crafted
// test and fuzz inputs need not be, and a misaligned load is UB.
template <typename T>
T Load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

}  // namespace

uint16_t LinkTypeForHatype(uint16_t hatype) {
  switch (hatype) {
    case ARPHRD_ETHER:
    // Linux lo carries a (zeroed) Ethernet header.
    case ARPHRD_LOOPBACK:
      return kLinkTypeEthernet;
    // Links without a link-layer header: the frame starts at the IP header.
    case ARPHRD_NONE:
    case ARPHRD_RAWIP:
    case ARPHRD_TUNNEL:
    case ARPHRD_TUNNEL6:
    case ARPHRD_SIT:
      return kLinkTypeRaw;
    default:
      return kLinkTypeUnsupported;
  }
}

WalkResult WalkBlock(const uint8_t* block, size_t length, uint32_t snapLength,
                     const BatchArrays& out, BatchFill& fill) {
  WalkResult result;
  if (length < sizeof(tpacket_block_desc)) {
    result.malformed = true;
    return result;
  }
  const auto desc = Load<tpacket_block_desc>(block);
  const uint32_t packets = desc.hdr.bh1.num_pkts;
  uint64_t at = desc.hdr.bh1.offset_to_first_pkt;

  for (uint32_t k = 0; k < packets; ++k) {
    if (at < sizeof(tpacket_block_desc) ||
        at + kSllOffset + sizeof(sockaddr_ll) > length) {
      result.malformed = true;
      return result;
    }
    const uint8_t* frame = block + at;
    const auto hdr = Load<tpacket3_hdr>(frame);
    const auto sll = Load<sockaddr_ll>(frame + kSllOffset);
    const uint64_t dataAt = at + hdr.tp_mac;
    if (dataAt + hdr.tp_snaplen > length) {
      result.malformed = true;
      return result;
    }

    if (sll.sll_pkttype == PACKET_OUTGOING) {
      ++result.outgoing;
    } else {
      const uint16_t linktype = LinkTypeForHatype(sll.sll_hatype);
      const uint32_t caplen = hdr.tp_snaplen < snapLength ? hdr.tp_snaplen : snapLength;
      if (linktype == kLinkTypeUnsupported) {
        ++result.unsupportedLink;
      } else if (fill.count >= out.frameCapacity ||
                 caplen > out.dataCapacity - fill.used) {
        ++result.overflow;
      } else {
        const uint32_t i = fill.count;
        std::memcpy(out.data + fill.used, block + dataAt, caplen);
        out.offset[i] = fill.used;
        out.caplen[i] = caplen;
        out.wirelen[i] = hdr.tp_len;
        out.tsMicros[i] = static_cast<double>(hdr.tp_sec) * 1e6 +
                          static_cast<double>(hdr.tp_nsec / 1000);
        out.iface[i] = sll.sll_ifindex;
        out.vlan[i] = (hdr.tp_status & TP_STATUS_VLAN_VALID)
                          ? static_cast<uint16_t>(hdr.hv1.tp_vlan_tci & 0x0fff)
                          : 0;
        out.linktype[i] = linktype;
        fill.used += caplen;
        ++fill.count;
        ++result.appended;
      }
    }

    if (k + 1 < packets) {
      // A zero step would revisit the same frame; the kernel never writes one.
      if (hdr.tp_next_offset == 0) {
        result.malformed = true;
        return result;
      }
      at += hdr.tp_next_offset;
    }
  }
  return result;
}

}  // namespace honeyport
