/** ifindex → interface name, from sysfs (alarms name the interface a probe arrived on). */
import { readFileSync, readdirSync } from 'node:fs';

export function interfaceIndexTable(sysNet = '/sys/class/net'): Map<number, string> {
  const table = new Map<number, string>();
  let names: string[] = [];
  try {
    names = readdirSync(sysNet);
  } catch {
    return table;
  }
  for (const name of names) {
    try {
      table.set(Number(readFileSync(`${sysNet}/${name}/ifindex`, 'utf8').trim()), name);
    } catch {
      // an interface that vanished while we looked
    }
  }
  return table;
}

/**
 * The names in `wanted` that are no interface here ("any" always is). Empty
 * when the table is empty (no sysfs): then nothing can be judged, and the
 * packet socket reports an unknown name itself.
 */
export function unknownInterfaces(wanted: readonly string[], table: ReadonlyMap<number, string>): string[] {
  if (table.size === 0) return [];
  const known = new Set(table.values());
  return wanted.filter((name) => name !== 'any' && !known.has(name));
}
