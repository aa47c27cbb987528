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
