/**
 * Run by the privilege tests in a child process (lower ulimit, other user):
 * opens a PortHolder from argv and prints one JSON line with the outcome.
 * argv[2]: JSON {ports: [{port, protocol}], addresses?, exhaustFds?: boolean}
 */
import { openSync } from 'node:fs';
import { PortHolder, PortHoldError } from '../../src/ports/port-holder.js';
import type { PortProtocol } from '../../src/policy/policy.js';
import { policyOf } from './helpers.js';

interface ChildRequest {
  readonly ports: { port: number; protocol: PortProtocol }[];
  readonly addresses?: { tcp?: string[]; tcp6?: string[] };
  readonly exhaustFds?: boolean;
}

const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
let opened = 0;
if (request.exhaustFds) {
  // Bounded by the tiny ulimit the parent set; stops at EMFILE.
  for (let i = 0; i < 10_000; i++) {
    try {
      openSync('/dev/null', 'r');
      opened++;
    } catch {
      break;
    }
  }
}
try {
  const holder = await PortHolder.open(policyOf(request.ports), request.addresses ? { addresses: request.addresses } : {});
  process.stdout.write(`${JSON.stringify({ ok: true, opened, statuses: holder.statuses() })}\n`);
  await holder.close();
} catch (error) {
  const statuses = error instanceof PortHoldError ? error.statuses : [];
  process.stdout.write(`${JSON.stringify({ ok: false, opened, message: String((error as Error).message), statuses })}\n`);
}
