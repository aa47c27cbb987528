/**
 * A follow-up raised only because a handshake completed (its final ACK was
 * captured, no further probe) must describe that real flow: the ACK's source
 * port (so its Community ID is the flow's) and the ACK's packet index. The
 * fault was `source.port: 0` and `honeyport.replay.packet: -1`, from a replay
 * of nmap -sT, which completes each handshake and resets it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runReplay } from '../helpers/tshark.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CAPTURE = join(ROOT, 'fixtures/live/nmap-sT.pcap');

interface Doc {
  readonly source: { readonly port: number };
  readonly honeyport: { readonly alarm: string; readonly replay: { readonly packet: number }; readonly connection?: { readonly handshake_completed: boolean } };
  readonly event: { readonly count: number };
}

describe('replay: handshake-only follow-ups name the captured ACK', () => {
  it('nmap -sT: every count-0 follow-up has the ACK\'s source port and packet index', function () {
    if (!existsSync(CAPTURE)) {
      console.log(`      skipped: ${CAPTURE} is absent`);
      this.skip();
    }
    const r = runReplay(CAPTURE, { cliPath: join(ROOT, 'dist/src/cli/main.js'), policyFile: join(ROOT, 'fixtures/policies/test-linux.yaml'), window: '60s' });
    assert.equal(r.status, 0, r.stderr);
    const docs = r.alarms as unknown as Doc[];
    const handshakes = docs.filter((d) => d.honeyport.alarm === 'follow-up' && d.event.count === 0);
    assert.ok(handshakes.length > 0, 'nmap -sT completes handshakes');
    for (const d of handshakes) {
      assert.equal(d.honeyport.connection?.handshake_completed, true);
      assert.ok(d.source.port > 0, `source.port ${d.source.port}`);
      assert.ok(d.honeyport.replay.packet >= 0, `replay.packet ${d.honeyport.replay.packet}`);
    }
    // Two alarms never point at the same packet as the same phase (ids derive from it).
    const points = docs.map((d) => `${d.honeyport.alarm}@${d.honeyport.replay.packet}`);
    assert.equal(new Set(points).size, points.length, points.join(' '));
  });
});
