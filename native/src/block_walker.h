// Copies the frames of one retired TPACKET_V3 block into a compact batch.
//
// Pure function over bytes: no sockets, no Node. The capture thread calls it
// on ring memory; the native test and the fuzz target call it on crafted
// arrays. It reads nothing past the ring headers (tpacket3_hdr, sockaddr_ll):
// the packet bytes themselves are copied, never interpreted.
#pragma once

#include <cstddef>
#include <cstdint>

namespace honeyport {

// LINKTYPE_* values the TypeScript decoder understands.
constexpr uint16_t kLinkTypeEthernet = 1;
constexpr uint16_t kLinkTypeRaw = 101;
// Returned by LinkTypeForHatype for devices whose link header the decoder
// cannot walk; such frames are counted and not delivered.
constexpr uint16_t kLinkTypeUnsupported = 0xFFFF;

// Maps a device's ARPHRD_* type (sll_hatype) to the LINKTYPE_* of the bytes
// a SOCK_RAW packet socket sees for it.
uint16_t LinkTypeForHatype(uint16_t hatype);

// Destination of the copy: one pooled slot, struct-of-arrays like the
// TypeScript FrameBatch so JS can view it without copying.
struct BatchArrays {
  uint8_t* data;
  uint32_t dataCapacity;
  uint32_t frameCapacity;
  double* tsMicros;
  uint32_t* offset;
  uint32_t* caplen;
  uint32_t* wirelen;
  int32_t* iface;
  uint16_t* vlan;
  uint16_t* linktype;
};

// How far a batch is filled; lets several blocks append to one batch.
struct BatchFill {
  uint32_t count = 0;
  uint32_t used = 0;
};

struct WalkResult {
  uint32_t appended = 0;         // frames copied into the batch
  uint32_t outgoing = 0;         // PACKET_OUTGOING frames skipped
  uint32_t unsupportedLink = 0;  // frames from links the decoder cannot walk
  uint32_t overflow = 0;         // frames that did not fit the batch
  bool malformed = false;        // header inconsistent with the block size
};

// Walks the block at [block, block + length). snapLength caps the bytes
// copied per frame (the ring's own snap length is the filter's return value).
// Never reads outside the block and never writes outside `out`, whatever the
// block contains.
WalkResult WalkBlock(const uint8_t* block, size_t length, uint32_t snapLength,
                     const BatchArrays& out, BatchFill& fill);

}  // namespace honeyport
