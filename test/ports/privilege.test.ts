/**
 * Failures that need another process: a tiny open-files limit (EMFILE), and
 * an unprivileged user (EACCES below 1024, an occupant it may not look up).
 * The unprivileged child runs from a staged copy it can read, not from the
 * checkout (which may be under root's 0700 home).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PortStatus } from '../../src/ports/types.js';
import { stageReadableCopy, type StagedCopy } from '../helpers/stage-readable.js';
import { closeServer, freePorts, listenOn } from './helpers.js';

const ownChild = fileURLToPath(new URL('./child-open.js', import.meta.url));

interface ChildResult {
  ok: boolean;
  opened: number;
  message?: string;
  statuses: PortStatus[];
}

function runChild(prefix: string[], request: object, child = ownChild): Promise<ChildResult> {
  const argv = [...prefix, process.execPath, child, JSON.stringify(request)];
  const command = argv.shift()!;
  const args = argv;
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 15_000 }, (error, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (!line.startsWith('{')) {
        reject(new Error(`child gave no result: ${error?.message ?? ''} ${stderr}`));
        return;
      }
      resolve(JSON.parse(line) as ChildResult);
    });
  });
}

const canDropPrivileges = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
const asNobody = ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];

describe('PortHolder in a child process', function () {
  let staged: StagedCopy | undefined;
  /** child-open.js in a copy that nobody can read. */
  const nobodyChild = (): string => join(staged!.root, 'dist/test/ports/child-open.js');
  before(() => {
    if (canDropPrivileges) staged = stageReadableCopy(['dist/src', 'dist/test/ports'], { dependencies: true });
  });
  after(() => staged?.remove());

  it('reports EMFILE as "too many open files: raise LimitNOFILE" when no descriptor is left', async () => {
    const [port] = (await freePorts(1)) as [number];
    const result = await runChild(['/bin/sh', '-c', 'ulimit -n 64 && exec "$0" "$@"'], {
      ports: [{ port, protocol: 'tcp' }],
      addresses: { tcp: ['127.0.0.1'] },
      exhaustFds: true,
    });
    assert.ok(result.opened > 0, 'the child filled its descriptor table');
    assert.equal(result.ok, false);
    assert.equal(result.statuses[0]?.state, 'failed');
    if (result.statuses[0]?.state === 'failed') assert.equal(result.statuses[0].code, 'EMFILE');
    assert.match(result.message ?? '', /too many open files.*raise LimitNOFILE/);
  });

  it('reports a port below 1024 as failed for want of CAP_NET_BIND_SERVICE', async function () {
    if (!canDropPrivileges) {
      console.log('      skipped: needs root and setpriv to run the child as nobody');
      this.skip();
    }
    const [low] = (await freePorts(1, true)) as [number];
    const [high] = (await freePorts(1)) as [number];
    const result = await runChild(asNobody, {
      ports: [{ port: low, protocol: 'tcp' }, { port: high, protocol: 'tcp6' }],
      addresses: { tcp: ['127.0.0.1'], tcp6: ['::1'] },
    }, nobodyChild());
    assert.equal(result.ok, true, result.message);
    const failed = result.statuses.find((s) => s.port === low);
    assert.equal(failed?.state, 'failed');
    if (failed?.state === 'failed') {
      assert.equal(failed.code, 'EACCES');
      assert.match(failed.reason, /no CAP_NET_BIND_SERVICE/);
    }
    assert.equal(result.statuses.find((s) => s.port === high)?.state, 'listening');
  });

  it('says the holder is unknown when /proc does not tell an unprivileged user', async function () {
    if (!canDropPrivileges) {
      console.log('      skipped: needs root and setpriv to run the child as nobody');
      this.skip();
    }
    const [taken, free] = (await freePorts(2)) as [number, number];
    const blocker = await listenOn({ host: '127.0.0.1', port: taken }); // held by root: this process
    try {
      const result = await runChild(asNobody, {
        ports: [{ port: taken, protocol: 'tcp' }, { port: free, protocol: 'tcp' }],
        addresses: { tcp: ['127.0.0.1'] },
      }, nobodyChild());
      const occupied = result.statuses.find((s) => s.port === taken);
      assert.equal(occupied?.state, 'occupied');
      if (occupied?.state === 'occupied') {
        assert.equal(occupied.occupant, undefined);
        assert.match(occupied.reason, /unknown process: permission denied .* CAP_SYS_PTRACE/);
      }
    } finally {
      await closeServer(blocker);
    }
  });
});
