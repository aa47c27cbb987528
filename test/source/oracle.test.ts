/**
 * The reader against independent judges over the public captures in
 * ../shared/pcaps: pcap-parser for every classic microsecond pcap (same
 * packets, same bytes, same timestamps), and the MANIFEST's packet counts
 * (from capinfos/tshark) for every file, pcapng included.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureDamagedError, readCapture } from '../../src/source/capture-file.js';
import { drain } from './collect.js';

interface PcapParserPacket {
  header: { timestampSeconds: number; timestampMicroseconds: number };
  data: Buffer;
}
interface PcapParser {
  parse(input: string): NodeJS.EventEmitter;
}
const pcapParser = createRequire(import.meta.url)('pcap-parser') as PcapParser;

// dist/test/source/ -> repository root -> ../shared/pcaps
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const PCAPS = join(repoRoot, '..', 'shared', 'pcaps');

interface OracleFrame {
  data: Buffer;
  tsMicros: number;
}

function readWithPcapParser(path: string): Promise<{ frames: OracleFrame[]; error?: Error }> {
  return new Promise((resolve) => {
    const frames: OracleFrame[] = [];
    let error: Error | undefined;
    const p = pcapParser.parse(path);
    p.on('packet', (pkt: PcapParserPacket) => {
      frames.push({
        data: Buffer.from(pkt.data),
        tsMicros: pkt.header.timestampSeconds * 1e6 + pkt.header.timestampMicroseconds,
      });
    });
    p.on('error', (e: Error) => {
      error = e;
    });
    p.on('end', () => resolve({ frames, error }));
  });
}

interface ManifestRow {
  file: string;
  packets: number;
  /** tshark could not read the file to its end. */
  damaged: boolean;
}

function manifest(): Map<string, ManifestRow> {
  const rows = new Map<string, ManifestRow>();
  const lines = readFileSync(join(PCAPS, 'MANIFEST.tsv'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const head = lines[0].split('\t');
  const col = (name: string): number => {
    const i = head.indexOf(name);
    assert.ok(i >= 0, `MANIFEST.tsv has no ${name} column`);
    return i;
  };
  const [iFile, iPackets, iError] = [col('file'), col('packets'), col('tshark_read_error')];
  for (const line of lines.slice(1)) {
    const f = line.split('\t');
    rows.set(f[iFile], { file: f[iFile], packets: Number(f[iPackets]), damaged: (f[iError] ?? '').trim() !== '' });
  }
  return rows;
}

function isClassicMicro(path: string): boolean {
  const magic = readFileSync(path).subarray(0, 4).toString('hex');
  return magic === 'a1b2c3d4' || magic === 'd4c3b2a1';
}

describe('capture reader against pcap-parser and the public captures', function () {
  const present = existsSync(join(PCAPS, 'MANIFEST.tsv'));
  const files = present ? readdirSync(PCAPS).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort() : [];

  before(function () {
    if (!present) {
      console.log(`    (skipped: no public captures at ${PCAPS})`);
      this.skip();
    }
  });

  it('yields the same packets as pcap-parser for every classic microsecond pcap', async () => {
    let compared = 0;
    for (const f of files) {
      const path = join(PCAPS, f);
      if (!isClassicMicro(path)) continue;
      const theirs = await readWithPcapParser(path);
      assert.equal(theirs.error, undefined, `${f}: pcap-parser failed: ${String(theirs.error)}`);
      const ours = await drain(readCapture(path, { batchSize: 7 }));
      if (ours.error !== undefined) {
        // pcap-parser drops a damaged tail silently; we must yield the same prefix, then say so.
        assert.ok(ours.error instanceof CaptureDamagedError, `${f}: ${String(ours.error)}`);
        assert.equal(ours.error.file, path);
      }
      assert.equal(ours.frames.length, theirs.frames.length, f);
      ours.frames.forEach((fr, i) => {
        assert.ok(fr.data.equals(theirs.frames[i].data), `${f} packet ${i}: bytes differ`);
        assert.equal(fr.tsMicros, theirs.frames[i].tsMicros, `${f} packet ${i}: timestamp`);
      });
      compared++;
    }
    assert.ok(compared >= 20, `only ${compared} classic pcaps compared`);
  });

  it("matches the MANIFEST's packet count for every capture, failing only on the damaged ones", async () => {
    const rows = manifest();
    let checked = 0;
    for (const f of files) {
      const row = rows.get(f);
      if (row === undefined) continue;
      const d = await drain(readCapture(join(PCAPS, f)));
      assert.equal(d.frames.length, row.packets, `${f}: packet count`);
      if (row.damaged) {
        assert.ok(d.error instanceof CaptureDamagedError, `${f}: expected damage, got ${String(d.error)}`);
      } else {
        assert.equal(d.error, undefined, `${f}: ${String(d.error)}`);
        assert.equal(d.summary?.packets, row.packets);
      }
      checked++;
    }
    assert.ok(checked === rows.size, `${checked} of ${rows.size} MANIFEST rows found`);
  });

  it('reads the nanosecond and pcapng captures with their own formats and link types', async () => {
    const nano = await drain(readCapture(join(PCAPS, 'tcpdump_tcp-handshake-nano.pcap')));
    assert.equal(nano.summary?.format, 'pcap-ns');
    assert.ok(nano.frames.every((f) => f.linktype === 113));
    const ng = await drain(readCapture(join(PCAPS, 'zeek_pcapng_126idb_vlan_ipv6.pcapng')));
    assert.equal(ng.summary?.format, 'pcapng');
    // MANIFEST: every packet is on IDB #48, an Ethernet interface.
    assert.ok(ng.frames.every((f) => f.iface === 48 && f.linktype === 1));
    const empty = await drain(readCapture(join(PCAPS, 'tcpdump_empty.pcapng')));
    assert.deepEqual(empty.summary, { format: 'pcapng', packets: 0, bytes: 48, compressed: false });
  });
});
