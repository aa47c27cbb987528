/**
 * `--capture afpacket|pcap`: which LiveCapture backend the sensor runs on.
 * AF_PACKET (the native core) is the default on Linux, libpcap through `cap`
 * elsewhere. Each backend is imported only when chosen, so a host without
 * the native addon or without libpcap fails only for the backend asked for,
 * with one line, before any port is held.
 */
import type { LiveCaptureFactory } from './live-capture.js';

export const CAPTURE_BACKENDS = ['afpacket', 'pcap'] as const;
export type CaptureBackend = (typeof CAPTURE_BACKENDS)[number];

export function defaultCaptureBackend(platform: NodeJS.Platform = process.platform): CaptureBackend {
  return platform === 'linux' ? 'afpacket' : 'pcap';
}

/** The factory of `backend`; throws (one line) when it cannot run on this host. */
export async function captureFactory(backend: CaptureBackend, platform: NodeJS.Platform = process.platform): Promise<LiveCaptureFactory> {
  switch (backend) {
    case 'afpacket': {
      if (platform !== 'linux') throw new Error(`--capture afpacket needs Linux (AF_PACKET); use --capture pcap on ${platform}`);
      const { openAfPacketCapture } = await import('./afpacket.js');
      return openAfPacketCapture;
    }
    case 'pcap': {
      const { loadCap, PcapCapture } = await import('./pcap.js');
      const Cap = loadCap();
      return (options) => new PcapCapture(options, Cap);
    }
  }
}
