/**
 * Fleet policy files: several policies, each with `servers:` selectors, and
 * the choice of the one a host gets. Each refusal is injected here: a host
 * no policy claims, a host two policies claim, selectors and names that are
 * wrong, and the errors keep the field path of the entry they come from.
 */
import assert from 'node:assert/strict';
import { parseAddress, type ParsedAddress } from '../../src/net/address.js';
import { parsePolicyDocumentText, parsePolicyText } from '../../src/policy/load.js';
import { PolicyError } from '../../src/policy/schema.js';
import { compileHostGlob } from '../../src/policy/host-glob.js';
import { parseServerSelector, selectorMatches } from '../../src/policy/server-selector.js';
import { PolicySelectionError, selectPolicy, type HostIdentity } from '../../src/policy/select.js';
import { thisHostAddresses } from '../../src/policy/this-host.js';
import { networkInterfaces } from 'node:os';
import { formatAddress } from '../../src/net/address.js';

const addr = (text: string): ParsedAddress => parseAddress(text) ?? assert.fail(`bad test address ${text}`);
const host = (name: string | undefined, ...addresses: string[]): HostIdentity => ({ name, addresses: addresses.map(addr) });

const FLEET = `policies:
  - name: dmz-web
    servers: ["web-*", "www?.example.org", 198.18.10.0/24]
    os: linux
    ports: recommended
  - name: db
    servers: ["db[0-9][0-9]", "fd00:18:db::/48"]
    os: linux
    ports: [{port: 3389, protocol: tcp}]
    whitelist: [198.18.1.3]
  - name: win
    servers: ["WIN-*"]
    os: windows
    ports: recommended
`;

function problems(text: string): string[] {
  try {
    parsePolicyDocumentText(text, 'fleet.yaml');
  } catch (err) {
    assert.ok(err instanceof PolicyError, `not a PolicyError: ${String(err)}`);
    return [...err.problems];
  }
  assert.fail('document was accepted');
}

function selectionError(doc: ReturnType<typeof parsePolicyDocumentText>, h: HostIdentity): string {
  try {
    selectPolicy(doc, h, 'fleet.yaml');
  } catch (err: unknown) {
    assert.ok(err instanceof PolicySelectionError, `not a PolicySelectionError: ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('a policy was selected');
}

describe('host name globs', () => {
  it('* is any run of characters (dots too), ? one character, [..] a class, [!..] its complement', () => {
    const g = (p: string): ((n: string) => boolean) => {
      const c = compileHostGlob(p);
      assert.ok(typeof c !== 'string', `${p}: ${String(c)}`);
      return (n) => c.matches(n);
    };
    assert.ok(g('web-*')('web-1'));
    assert.ok(g('web-*')('web-1.corp.example'), '* crosses dots');
    assert.ok(g('web-*')('web-'), '* may be empty');
    assert.ok(!g('web-*')('xweb-1'), 'the whole name must match');
    assert.ok(g('*.dmz.example')('a.b.dmz.example'));
    assert.ok(g('www?.example.org')('www2.example.org'));
    assert.ok(!g('www?.example.org')('www.example.org'), '? is exactly one character');
    assert.ok(!g('www?.example.org')('www22.example.org'));
    assert.ok(g('db[0-9][0-9]')('db07'));
    assert.ok(!g('db[0-9][0-9]')('db7x'));
    assert.ok(g('db[!0-9]')('dbx'));
    assert.ok(!g('db[!0-9]')('db1'));
    assert.ok(g('db[ab-]')('db-'), 'a trailing - is literal');
    assert.ok(g('a*b*c*d')('aXXbYYcZZd'));
    assert.ok(!g('a*b*c*d')('aXXbYYcZZ'));
  });

  it('is case-insensitive (DNS names are) and ignores one trailing dot of the name', () => {
    const c = compileHostGlob('WIN-[A-F]*');
    assert.ok(typeof c !== 'string');
    assert.ok(c.matches('win-c0ffee'));
    assert.ok(c.matches('Win-Bx.Corp.Example.'));
  });

  it('refuses what is no host name glob, saying why', () => {
    assert.match(String(compileHostGlob('db[0-9')), /unterminated \[/);
    assert.match(String(compileHostGlob('web 1')), /may contain only/);
    assert.match(String(compileHostGlob('')), /empty/);
    assert.match(String(compileHostGlob('db[]')), /empty \[\]/);
    assert.match(String(compileHostGlob('a'.repeat(254))), /at most 253/);
  });

  it('stays fast on a pattern built to backtrack', () => {
    const c = compileHostGlob(`${'*a'.repeat(60)}*b`);
    assert.ok(typeof c !== 'string');
    const started = Date.now();
    assert.ok(!c.matches('a'.repeat(253)));
    assert.ok(Date.now() - started < 1000, 'no exponential backtracking');
  });
});

describe('server selectors', () => {
  it('an address or CIDR selects by the host\'s addresses, v4 and v6; anything else is a host name glob', () => {
    const s = (t: string) => {
      const r = parseServerSelector(t);
      assert.ok(r.ok, r.ok ? '' : r.error);
      return r.selector;
    };
    assert.equal(s('198.18.10.0/24').kind, 'addresses');
    assert.equal(s('198.18.10.7').kind, 'addresses');
    assert.equal(s('fd00:18::/32').kind, 'addresses');
    assert.equal(s('web-*').kind, 'name');
    assert.ok(selectorMatches(s('198.18.10.0/24'), host('x', '198.18.10.200')));
    assert.ok(!selectorMatches(s('198.18.10.0/24'), host('x', '198.18.11.1')));
    assert.ok(selectorMatches(s('198.18.10.0/24'), host('x', '::ffff:198.18.10.9')), 'an IPv4-mapped address is the IPv4 address');
    assert.ok(selectorMatches(s('fd00:18::/32'), host('x', '198.18.0.1', 'fd00:18:ab::1')), 'any of the host\'s addresses');
    assert.ok(!selectorMatches(s('fd00:18::/32'), host('x', 'fd00:19::1')));
    assert.ok(selectorMatches(s('198.18.10.7'), host('x', '198.18.10.7')));
    assert.ok(!selectorMatches(s('web-*'), host(undefined, '198.18.10.7')), 'no name, no name match');
  });

  it('refuses bad CIDRs and addresses (digits, dots, colons and slashes are never a glob)', () => {
    const e = (t: string): string => {
      const r = parseServerSelector(t);
      assert.ok(!r.ok, `${t} accepted`);
      return r.error;
    };
    assert.match(e('198.18.10.0/33'), /prefix length/);
    assert.match(e('198.18.10.1/24'), /host bits/);
    assert.match(e('198.18.300.1'), /not an IPv4\/IPv6 address/);
    assert.match(e('fd00::zz'), /not an IPv4\/IPv6 address/);
  });
});

describe("this host's addresses", () => {
  it('leave out loopback (on every host, it would match every fleet selector) and keep every other address', () => {
    const listed = Object.values(networkInterfaces()).flatMap((l) => l ?? []);
    assert.ok(listed.some((i) => i.internal), 'the loopback interface is listed here, so leaving it out is tested');
    const ours = new Set(thisHostAddresses().map((a) => formatAddress(a.family, a.bytes)));
    for (const i of listed) {
      const a = parseAddress(i.address.replace(/%.*$/, ''))!;
      assert.equal(ours.has(formatAddress(a.family, a.bytes)), !i.internal, `${i.address} (internal: ${i.internal})`);
    }
  });
});

describe('fleet policy documents', () => {
  it('reads several policies with their selectors', () => {
    const doc = parsePolicyDocumentText(FLEET, 'fleet.yaml');
    assert.equal(doc.kind, 'fleet');
    assert.ok(doc.kind === 'fleet');
    assert.deepEqual(doc.entries.map((e) => e.policy.name), ['dmz-web', 'db', 'win']);
    assert.deepEqual(doc.entries[1]!.servers.map((s) => s.text), ['db[0-9][0-9]', 'fd00:18:db::/48']);
    assert.equal(doc.entries[1]!.policy.whitelist.length, 1);
  });

  it('a single-policy file is unchanged', () => {
    const doc = parsePolicyDocumentText('os: linux\nports: recommended\n', 'one.yaml');
    assert.equal(doc.kind, 'single');
    assert.equal(selectPolicy(doc, host('anything'), 'one.yaml').policy.name, 'honeyport-linux-recommended');
    assert.equal(parsePolicyText('os: linux\nports: recommended\n', 'one.yaml').name, 'honeyport-linux-recommended');
  });

  it('errors keep the entry\'s field path: policies[i].field', () => {
    assert.deepEqual(problems('policies:\n  - {name: a, servers: [x], os: linux, ports: [{port: 1, protocol: udp}]}\n'), ['policies[0].ports[0].protocol: must be "tcp" or "tcp6"']);
    assert.deepEqual(problems('policies:\n  - {name: a, servers: [x], os: linux, ports: recommended}\n  - {name: b, servers: [y], os: linux, ports: recommended, whitelist: [banana]}\n').map((p) => p.replace(/: .*/, '')), ['policies[1].whitelist[0]']);
    assert.deepEqual(problems('policies:\n  - {name: a, servers: ["web-*", "10.0.0.0/33"], os: linux, ports: recommended}\n').map((p) => p.replace(/: .*/, '')), ['policies[0].servers[1]']);
    assert.deepEqual(problems('policies:\n  - {name: a, servers: [x], os: linux, ports: recommended}\n  - 7\n'), ['policies[1]: must be a policy (a mapping)']);
    assert.deepEqual(problems('policies: []\n'), ['policies: must list at least one policy']);
    assert.deepEqual(problems('policies:\n  - {name: a, servers: [x], os: linux, ports: recommended}\nos: linux\n'), ['os: unknown key (a file of several policies holds only "policies:")']);
  });

  it('each policy needs a unique name and at least one selector', () => {
    assert.deepEqual(problems('policies:\n  - {servers: [x], os: linux, ports: recommended}\n'), ['policies[0].name: required in a file of several policies']);
    assert.deepEqual(problems('policies:\n  - {name: a, servers: [x], os: linux, ports: recommended}\n  - {name: a, servers: [y], os: linux, ports: recommended}\n'), ['policies[1].name: "a" is already the name of policies[0]']);
    assert.deepEqual(problems('policies:\n  - {name: a, os: linux, ports: recommended}\n'), ['policies[0].servers: required: host name globs or CIDRs of the hosts this policy is for']);
    assert.deepEqual(problems('policies:\n  - {name: a, servers: [], os: linux, ports: recommended}\n'), ['policies[0].servers: must list at least one selector']);
    assert.deepEqual(problems('policies:\n  - {name: a, servers: [7], os: linux, ports: recommended}\n'), ['policies[0].servers[0]: must be a host name glob or a CIDR (a string)']);
  });

  it('a host gets the one policy whose selectors match it, by name or by address', () => {
    const doc = parsePolicyDocumentText(FLEET, 'fleet.yaml');
    const pick = (h: HostIdentity) => selectPolicy(doc, h, 'fleet.yaml');
    assert.equal(pick(host('web-3.corp.example')).policy.name, 'dmz-web');
    assert.equal(pick(host('WWW1.example.org')).policy.name, 'dmz-web');
    assert.equal(pick(host('db12')).policy.name, 'db');
    assert.equal(pick(host('win-7')).policy.os, 'windows');
    assert.equal(pick(host('anonymous', '198.18.10.4')).policy.name, 'dmz-web');
    assert.equal(pick(host('anonymous', '198.18.0.1', 'fd00:18:db:1::5')).policy.name, 'db');
    const s = pick(host('db01'));
    assert.deepEqual(s.match, { index: 1, by: 'db[0-9][0-9]' });
  });

  it('none: one line naming the host and its addresses', () => {
    const doc = parsePolicyDocumentText(FLEET, 'fleet.yaml');
    assert.equal(selectionError(doc, host('mail-1', '198.18.20.1')), 'fleet.yaml: no policy is for host "mail-1" (addresses 198.18.20.1): add it to the servers: of one of its 3 policies');
    assert.match(selectionError(doc, host(undefined)), /no policy is for host \(no name\) \(no addresses\)/);
  });

  it('more than one: one line naming both policies and what matched, never a silent pick', () => {
    const doc = parsePolicyDocumentText(FLEET, 'fleet.yaml');
    assert.equal(
      selectionError(doc, host('web-db', 'fd00:18:db::9')),
      'fleet.yaml: host "web-db" matches 2 policies: policies[0] "dmz-web" (by "web-*") and policies[1] "db" (by "fd00:18:db::/48"); a server has one policy: make their servers: disjoint',
    );
    const three = parsePolicyDocumentText('policies:\n' + ['a', 'b', 'c'].map((n) => `  - {name: ${n}, servers: ["*"], os: linux, ports: recommended}\n`).join(''), 'fleet.yaml');
    assert.match(selectionError(three, host('h')), /matches 3 policies: policies\[0\] "a" \(by "\*"\) and policies\[1\] "b" \(by "\*"\) and 1 more;/);
  });

  it('escapes a hostile host name in the message', () => {
    const doc = parsePolicyDocumentText(FLEET, 'fleet.yaml');
    const m = selectionError(doc, host('evil\n\u001b[31m'));
    assert.ok(!/[\n\u001b]/.test(m));
  });
});
