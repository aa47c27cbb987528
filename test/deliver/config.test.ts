import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../src/config/config-error.js';
import { deliveryConfigFromFlags } from '../../src/config/output-flag.js';
import { parseSensorConfig } from '../../src/config/sensor-config.js';

const yaml = (text: string) => parseSensorConfig(parseYaml(text), 'sensor.yaml');

function problems(text: string): string {
  try {
    yaml(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

describe('config: sensor config file', () => {
  it('reads every sink type with defaults filled in', () => {
    const c = yaml(`
sinks:
  - type: stdout
  - type: file
    path: /var/log/honeyport/alarms.json
    format: eve
    rotate: { max_bytes: 100MiB, keep: 3 }
  - type: syslog
    transport: tls
    host: siem.example
    facility: local4
    tls: { ca_file: /etc/honeyport/ca.pem }
  - type: http
    preset: splunk-hec
    url: https://splunk.example:8088/services/collector/event
    auth: { scheme: splunk, secret: { env: HEC_TOKEN } }
    queue: { concurrency: 2, batches_per_second: 50 }
spool: { dir: /var/lib/honeyport/spool, max_bytes: 1GiB }
`);
    assert.equal(c.sinks.length, 4);
    const [out, file, syslog, http] = c.sinks;
    assert.equal(out!.name, 'stdout');
    assert.equal(out!.format, 'ecs');
    assert.ok(file!.type === 'file');
    assert.deepEqual(file!.rotate, { maxBytes: 100 * 2 ** 20, keep: 3 });
    assert.equal(file!.format, 'eve');
    assert.ok(syslog!.type === 'syslog');
    assert.equal(syslog!.port, 6514);
    assert.equal(syslog!.facility, 20);
    assert.equal(syslog!.appName, 'honeyport');
    assert.equal(syslog!.name, 'syslog-tls-siem.example-6514');
    assert.ok(http!.type === 'http');
    assert.deepEqual(http!.auth, { scheme: 'splunk', secret: { env: 'HEC_TOKEN' } });
    assert.equal(http!.queue.concurrency, 2);
    assert.equal(http!.queue.batchesPerSecond, 50);
    assert.equal(http!.queue.batchRecords, 500);
    assert.deepEqual(c.spool, { dir: '/var/lib/honeyport/spool', maxBytes: 2 ** 30 });
  });

  it('defaults to stdout', () => {
    const c = yaml('{}');
    assert.deepEqual(c.sinks.map((s) => s.type), ['stdout']);
  });

  it('names each problem with its field path', () => {
    const m = problems(`
sinks:
  - type: syslog
    transport: tcp
    host: x
    port: 70000
    facility: local9
  - type: http
    url: ftp://x
  - type: pigeon
  - type: file
    path: /x
    colour: blue
spool: { max_bytes: lots }
`);
    assert.match(m, /^sensor\.yaml: invalid config: /);
    assert.match(m, /sinks\[0\]\.port: must be between 1 and 65535/);
    assert.match(m, /sinks\[0\]\.facility: must be a facility name/);
    assert.match(m, /sinks\[1\]\.url: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(m, /sinks\[2\]\.type: type must be stdout, file, syslog or http/);
    assert.match(m, /sinks\[3\]\.colour: unknown key/);
    assert.match(m, /spool\.max_bytes: must be a positive size/);
  });

  it('rejects duplicate names, a Splunk sink without a token and TLS options on plain TCP', () => {
    const m = problems(`
sinks:
  - { type: file, path: /a, name: x }
  - { type: file, path: /b, name: x }
  - { type: http, preset: splunk-hec, url: "https://s:8088/services/collector/event" }
  - { type: syslog, transport: tcp, host: h, tls: { ca_file: /ca } }
`);
    assert.match(m, /sinks\[1\]\.name: "x" is already used by sinks\[0\]/);
    assert.match(m, /sinks\[2\]\.auth: splunk-hec needs auth/);
    assert.match(m, /sinks\[3\]\.tls: only for transport tls/);
  });
});

describe('config: --output flags', () => {
  it('maps each spec to a sink', () => {
    const c = deliveryConfigFromFlags(
      [
        'stdout',
        'file:/tmp/a.json?format=eve&rotate=10MiB',
        'syslog+udp://10.0.0.1',
        'syslog+tls://[fd00::1]:6514?ca=/ca.pem&cert=/c.pem&key=/k.pem&facility=local1',
        'splunk+https://splunk:8088/services/collector/event?token_env=HEC&index=sec',
        'elasticsearch+https://es:9200/_bulk?index=hp&secret_file=/run/secrets/es',
        'https://hooks.example/x?id=7&token_env=HOOK',
      ],
      { spoolDir: '/var/spool/hp', spoolMaxBytes: '64MiB' },
    );
    const [out, file, udp, tls, splunk, es, hook] = c.sinks as [any, any, any, any, any, any, any];
    assert.equal(out.type, 'stdout');
    assert.deepEqual([file.path, file.format, file.rotate.maxBytes], ['/tmp/a.json', 'eve', 10 * 2 ** 20]);
    assert.deepEqual([udp.transport, udp.host, udp.port], ['udp', '10.0.0.1', 514]);
    assert.deepEqual([tls.host, tls.port, tls.facility, tls.tls], ['fd00::1', 6514, 17, { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' }]);
    assert.deepEqual([splunk.preset, splunk.url, splunk.index, splunk.auth], ['splunk-hec', 'https://splunk:8088/services/collector/event', 'sec', { scheme: 'splunk', secret: { env: 'HEC' } }]);
    assert.deepEqual([es.preset, es.auth], ['elasticsearch-bulk', { scheme: 'apikey', secret: { file: '/run/secrets/es' } }]);
    assert.deepEqual([hook.preset, hook.url, hook.auth], ['webhook', 'https://hooks.example/x?id=7', { scheme: 'bearer', secret: { env: 'HOOK' } }]);
    assert.deepEqual(c.spool, { dir: '/var/spool/hp', maxBytes: 64 * 2 ** 20 });
  });

  it('defaults to stdout and explains a bad spec', () => {
    assert.equal(deliveryConfigFromFlags([]).sinks[0]!.type, 'stdout');
    assert.throws(() => deliveryConfigFromFlags(['kafka://x']), /--output kafka:\/\/x: expected stdout, file:PATH/);
    assert.throws(() => deliveryConfigFromFlags(['splunk+https://s:8088/services/collector/event']), /token_env=VAR or token_file=FILE/);
    assert.throws(() => deliveryConfigFromFlags(['syslog+tcp://h:99999']), /expected syslog\+tcp:\/\/HOST\[:PORT\]|port/);
  });
});
