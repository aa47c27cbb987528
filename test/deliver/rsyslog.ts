/**
 * A real rsyslogd on loopback for delivery tests: its own config, work
 * directory and certificates (made here with openssl). Inputs: plain TCP
 * (imptcp, octet-counted framing), UDP, TLS (imtcp + gtls) without and with
 * client-certificate checking. Each input writes its own file, one line per
 * message: "HOSTNAME APP-NAME FACILITY SEVERITY MSGID MSG".
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

export function opensslMissing(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'openssl is not installed';
  }
}

export function rsyslogMissing(): string | undefined {
  if (!existsSync(RSYSLOGD)) return 'rsyslogd is not installed';
  if (!existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so') && !existsSync('/usr/lib/rsyslog/lmnsd_gtls.so')) return 'rsyslog-gnutls is not installed';
  return opensslMissing();
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface TestCertificates {
  readonly ca: string;
  readonly otherCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  await mkdir(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, ['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=honeyport test ${ca}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', 'localhost'], ['client', 'sensor-test']] as const) {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  }
  const p = (f: string): string => join(dir, f);
  return { ca: p('ca.pem'), otherCa: p('other-ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}

export interface SyslogLine {
  readonly hostname: string;
  readonly appName: string;
  readonly facility: string;
  readonly severity: number;
  readonly msgid: string;
  readonly msg: string;
}

export class Rsyslog {
  tcpPort = 0;
  udpPort = 0;
  tlsPort = 0;
  mtlsPort = 0;
  certs!: TestCertificates;
  private child: ChildProcess | undefined;
  private stderr = '';

  constructor(private readonly dir: string) {}

  async start(): Promise<void> {
    const d = this.dir;
    await mkdir(join(d, 'work'), { recursive: true });
    this.certs = await makeCertificates(join(d, 'certs'));
    [this.tcpPort, this.udpPort, this.tlsPort, this.mtlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const c = this.certs;
    const conf = `
global(workDirectory="${d}/work" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="${c.ca}" defaultNetstreamDriverCertFile="${c.serverCert}" defaultNetstreamDriverKeyFile="${c.serverKey}")
module(load="imptcp")
module(load="imudp")
module(load="imtcp")
template(name="line" type="list") {
  property(name="hostname") constant(value=" ") property(name="app-name") constant(value=" ")
  property(name="syslogfacility-text") constant(value=" ") property(name="syslogseverity") constant(value=" ")
  property(name="msgid") constant(value=" ") property(name="msg") constant(value="\\n")
}
ruleset(name="tcp") { action(type="omfile" file="${d}/tcp.log" template="line") }
ruleset(name="udp") { action(type="omfile" file="${d}/udp.log" template="line") }
ruleset(name="tls") { action(type="omfile" file="${d}/tls.log" template="line") }
ruleset(name="mtls") { action(type="omfile" file="${d}/mtls.log" template="line") }
input(type="imptcp" address="127.0.0.1" port="${this.tcpPort}" ruleset="tcp")
input(type="imudp" address="127.0.0.1" port="${this.udpPort}" ruleset="udp" rcvbufSize="4m")
input(type="imtcp" address="127.0.0.1" port="${this.tlsPort}" ruleset="tls"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="${this.mtlsPort}" ruleset="mtls"
  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
`;
    await writeFile(join(d, 'rsyslog.conf'), conf);
    this.child = spawn(RSYSLOGD, ['-f', join(d, 'rsyslog.conf'), '-i', join(d, 'rsyslog.pid'), '-n'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    for (const port of [this.tcpPort, this.tlsPort, this.mtlsPort]) await this.waitListening(port);
  }

  private async waitListening(port: number): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline || this.child?.exitCode !== null) throw new Error(`rsyslogd did not listen on ${port}: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits (bounded) until `file` holds `n` lines, and returns them parsed. */
  async lines(file: 'tcp' | 'udp' | 'tls' | 'mtls', n: number, timeoutMs = 5000): Promise<SyslogLine[]> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    for (;;) {
      text = await readFile(join(this.dir, `${file}.log`), 'utf8').catch(() => '');
      if (text.split('\n').length - 1 >= n || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const parts = l.split(' ');
        return {
          hostname: parts[0]!,
          appName: parts[1]!,
          facility: parts[2]!,
          severity: Number(parts[3]),
          msgid: parts[4]!,
          msg: parts.slice(5).join(' '),
        };
      });
  }

  get errors(): string {
    return this.stderr;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
