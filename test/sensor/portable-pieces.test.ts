/**
 * Linux-only pieces off Linux: a clear "not on this OS" answer or the
 * portable alternative, checked by passing the platform in (the Windows
 * paths themselves are untested here; README lists them).
 */
import assert from 'node:assert/strict';
import { findOccupant } from '../../src/ports/occupant.js';
import { socketPath } from '../../src/sensor/control-socket.js';

describe('Linux-only pieces on other systems', () => {
  it('occupant naming says it is not available, without touching /proc', async () => {
    const r = await findOccupant(445, 'tcp', '0.0.0.0', { platform: 'win32', procRoot: '/nonexistent' });
    assert.deepEqual(r, { found: false, reason: 'held by another process; naming it is not available on win32 (Linux /proc only)' });
  });
  it('the status socket is a named pipe on Windows, a Unix socket in the state directory elsewhere', () => {
    assert.equal(socketPath('C:\\ProgramData\\honeyport', 'win32'), '\\\\.\\pipe\\honeyport-C__ProgramData_honeyport');
    assert.equal(socketPath('/run/honeyport', 'linux'), '/run/honeyport/honeyport.sock');
  });
});
