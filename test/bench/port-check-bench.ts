/**
 * CPU of one port check's read of the listening sockets, in process: the
 * netlink sock_diag dump against /proc/net/tcp + tcp6, alternating blocks of
 * `BLOCK` reads so both see the same machine load. Prints µs of CPU (user +
 * system) per read, one line per block and source, then the range.
 * `node dist/test/bench/port-check-bench.js [rounds]` (measure under
 * /tmp/honeyport-live.lock on a shared machine).
 */
import { ListeningTableReader } from '../../src/ports/listening-table.js';

const BLOCK = 50;
const rounds = Number(process.argv[2] ?? 4);
const ports = new Set([22, 445, 3389]);
const readers = { netlink: new ListeningTableReader(), procfs: new ListeningTableReader({ netlink: null }) };
if (readers.netlink.source !== 'netlink') throw new Error('netlink dump not available here');

async function cpuPerRead(reader: ListeningTableReader): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < BLOCK; i++) await reader.read(ports);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / BLOCK;
}

const seen: Record<keyof typeof readers, number[]> = { netlink: [], procfs: [] };
await cpuPerRead(readers.netlink);
await cpuPerRead(readers.procfs);
for (let r = 0; r < rounds; r++) {
  for (const name of ['procfs', 'netlink'] as const) {
    const us = await cpuPerRead(readers[name]);
    seen[name].push(us);
    process.stdout.write(`round ${r + 1} ${name}: ${us.toFixed(0)} µs CPU per read (${BLOCK} reads)\n`);
  }
}
for (const name of ['procfs', 'netlink'] as const) {
  const v = seen[name];
  const at5s = (us: number) => ((100 * us) / 5e6).toFixed(4);
  process.stdout.write(`${name}: ${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)} µs per read = ${at5s(Math.min(...v))}–${at5s(Math.max(...v))} % of a core at one check per 5 s\n`);
}
