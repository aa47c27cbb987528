/** `honeyport run`: the live sensor. Alarms on stdout, status and errors on stderr. */
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { captureFactory, type CaptureBackend } from '../capture/capture-backend.js';
import { ringGeometry } from '../capture/ring-size.js';
import type { Alarm } from '../alarm/alarm.js';
import type { FormatContext } from '../deliver/format-ecs.js';
import type { Delivery } from '../deliver/delivery.js';
import { interfaceIndexTable, unknownInterfaces } from '../sensor/interface-names.js';
import { deliveryConfig, type DeliveryFlags } from './delivery-options.js';
import type { DetectionSettings } from '../pipeline/detection-settings.js';
import type { Policy } from '../policy/policy.js';
import { PortHoldError } from '../ports/port-holder.js';
import type { PortStatus } from '../ports/types.js';
import { ControlSocket } from '../sensor/control-socket.js';
import { loadNative } from '../capture/native-binding.js';
import { MemoryTrim } from '../sensor/memory-trim.js';
import { dropCleanFilePages } from '../sensor/resident-file-pages.js';
import { checkEligibility } from '../sensor/eligibility.js';
import { HostLock, HostLockError } from '../sensor/host-lock.js';
import { asUser, drop, planPrivileges, PrivilegeDropError, UnknownUserError, type PrivilegePlan } from '../sensor/privilege-drop.js';
import { prepareStateDir } from '../sensor/state-dir.js';
import { Sensor } from '../sensor/sensor.js';
import { formatState } from '../state/format-state.js';
import type { StopReason } from '../state/sensor-state.js';
import { snapshotter } from '../state/snapshot.js';
import { StateReporter } from '../state/state-reporter.js';
import { escapeForMessage } from '../validation/echo.js';
import { CliError, ExitCode } from './exit-codes.js';
import { STOP_DEADLINE_MS, type StartupSignals } from './startup-signals.js';
import { packageVersion } from './version.js';
import type { ListenAddress } from '../metrics/listen-address.js';
import type { MetricsServer } from '../metrics/metrics-server.js';

export interface RunCommandOptions extends DetectionSettings {
  /** Re-read on SIGHUP; undefined = the embedded default (reload keeps it). */
  readonly policyFile: string | undefined;
  readonly loadPolicy: (file: string) => Promise<Policy>;
  readonly interfaces: readonly string[];
  readonly allowPublicAddress: boolean;
  readonly stateDir: string;
  readonly ringMiB: number;
  readonly capture: CaptureBackend;
  readonly delivery: DeliveryFlags;
  /** `--metrics-listen`: where /metrics is served; undefined: nowhere. */
  readonly metricsListen?: ListenAddress | undefined;
  /** Milliseconds between state documents (--heartbeat); undefined: none. */
  readonly heartbeatMs: number | undefined;
  /** `--user`: who to run as once the sockets, files and ports are open (privilege-drop.ts). */
  readonly user: string | undefined;
  /** Listening since the command began (startupSignals()): what was asked during start-up is carried out once the sensor runs. */
  readonly signals: StartupSignals;
}

/** `port 445/tcp on 0.0.0.0: listening` / `occupied by pid 812 (smbd)` / `failed (EACCES): …` */
export function statusLine(s: PortStatus): string {
  const where = `port ${s.port}/${s.protocol} on ${s.address}`;
  switch (s.state) {
    case 'listening':
      return `${where}: listening`;
    case 'occupied':
      return s.occupant ? `${where}: occupied by pid ${s.occupant.pid} (${escapeForMessage(s.occupant.command)})` : `${where}: occupied, ${s.reason}`;
    case 'failed':
      return `${where}: failed (${s.code}): ${s.reason}`;
    case 'free':
      return `${where}: free, ${s.reason}`;
  }
}

export { STOP_DEADLINE_MS } from './startup-signals.js';
const DELIVERY_CLOSE_MS = 5_000;

const log = (line: string): void => {
  process.stderr.write(`honeyport: ${line}\n`);
};

export async function runCommand(o: RunCommandOptions): Promise<number> {
  // Everything that can be judged without opening anything is judged first.
  const interfaceTable = interfaceIndexTable();
  const unknown = unknownInterfaces(o.interfaces, interfaceTable);
  if (unknown.length > 0) {
    const here = [...new Set(interfaceTable.values())].sort().join(', ');
    throw new CliError(`--interface ${unknown.join(', ')}: no such network interface (here: ${here})`, ExitCode.USAGE);
  }
  const eligibility = checkEligibility({ policy: o.policy, allowPublicAddress: o.allowPublicAddress });
  if (!eligibility.ok) throw new CliError(`not eligible: ${eligibility.problems.join('; ')}`, ExitCode.USAGE);
  for (const w of eligibility.warnings) log(`warning: ${w}`);
  const native = loadNative();
  if (!native.ok) throw new CliError(native.reason, ExitCode.FAILURE);
  const exitNow = native.addon.exitNow;
  if (exitNow) o.signals.exitWith((code) => exitNow.call(native.addon, code));
  let plan: PrivilegePlan;
  try {
    plan = planPrivileges({ requested: o.user, euid: process.geteuid?.() ?? 0, reloadBindsPorts: o.policyFile !== undefined, lookup: (name) => native.addon.lookupUser(name) });
  } catch (err) {
    if (err instanceof UnknownUserError) throw new CliError(err.message, ExitCode.USAGE);
    throw err;
  }

  // The backend is loaded before anything is opened: a missing optional module is one line.
  let openCapture;
  try {
    openCapture = await captureFactory(o.capture);
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.FAILURE);
  }

  // One sensor per network namespace, taken before anything else is opened.
  let lock: HostLock;
  try {
    lock = await HostLock.acquire();
  } catch (err) {
    if (err instanceof HostLockError) throw new CliError(err.message, ExitCode.FAILURE);
    throw err;
  }
  try {
    await prepareStateDir(o.stateDir, plan.kind === 'drop' ? plan : undefined);
  } catch (err) {
    await lock.release();
    throw new CliError(`state directory ${o.stateDir} ${(err as Error).message}`, ExitCode.USAGE);
  }
  // Bound before any port is held, so a bad address refuses the start; it keeps nothing alive on a failed start.
  let metrics: MetricsServer | undefined;
  if (o.metricsListen) {
    const { openMetricsEndpoint } = await import('../metrics/open-endpoint.js');
    try {
      metrics = await openMetricsEndpoint(o.metricsListen, o.policy);
    } catch (err) {
      await lock.release();
      throw new CliError((err as Error).message, ExitCode.USAGE);
    }
  }

  const counts = { alarms: 0, flood: 0, started: new Date().toISOString() };
  const alarmsByAction: Record<Alarm['action'], number> = { 'honeypot-port-probe': 0, 'honeypot-flood': 0 };
  const ctx: FormatContext = { ruleName: o.policy.name, observer: { hostname: hostname(), version: packageVersion() }, inputs: [...interfaceTable.values()], mode: 'live' };
  // Sinks are opened (and checked: reachable, certificates, credentials) before any port is held,
  // as the user the sensor will run as: what they create is that user's, and what they open
  // that user may reopen (logrotate, SIGHUP); so must the policy file be, re-read on SIGHUP.
  const { Delivery } = await import('../deliver/delivery.js');
  const openDelivery = async (): Promise<Delivery> => {
    if (plan.kind === 'drop' && o.policyFile !== undefined) {
      try {
        await (await open(o.policyFile, 'r')).close();
      } catch (err) {
        await lock.release();
        throw new CliError(`policy file ${o.policyFile} is not readable by ${plan.user}, which the sensor runs as after start, so SIGHUP could not re-read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); make it readable or give --user`, ExitCode.USAGE);
      }
    }
    return Delivery.open(await deliveryConfig(o.delivery), ctx, { stateDocuments: true });
  };
  let delivery: Delivery;
  try {
    delivery = await asUser(plan, native.addon, openDelivery);
  } catch (err) {
    if (err instanceof PrivilegeDropError) {
      await lock.release();
      throw new CliError(err.message, ExitCode.FAILURE);
    }
    // A root operator seeing EACCES must learn as whom the file was opened.
    if (plan.kind === 'drop' && err instanceof Error && err.name === 'ConfigError' && /EACCES|EPERM/.test(err.message)) {
      throw new CliError(`${err.message} (as ${plan.user}, which the sensor runs as after start: make it that user's, or give --user)`, ExitCode.USAGE);
    }
    throw err;
  }
  const publish = (alarm: Alarm): void => {
    counts.alarms++;
    if (alarm.action === 'honeypot-flood') counts.flood++;
    alarmsByAction[alarm.action]++;
    delivery.publish(alarm);
  };

  const ring = ringGeometry(o.ringMiB);
  let sensor: Sensor;
  // State documents to the sinks (src/state/): created once the sensor runs, sent from 'ready' on.
  let reporter: StateReporter | undefined;
  try {
    sensor = await Sensor.start({
      detection: o,
      interfaces: o.interfaces,
      ringBlockSize: ring.blockSize,
      ringBlockCount: ring.blockCount,
      interfaceTable,
      openCapture,
      onAlarm: publish,
      onPortsHeld: (statuses) => {
        for (const s of statuses) log(statusLine(s));
      },
      onPortsChanged: (statuses) => {
        log('port status changed:');
        for (const s of statuses) log(statusLine(s));
        reporter?.portsChanged();
      },
      onListeningFallback: (message) => log(`warning: ${message}`),
      // Root until here: packet sockets, host lock, ports. No captured frame is decoded before this.
      ...(plan.kind === 'drop'
        ? {
            beforeFrames: () => {
              drop(plan, native.addon);
              log(`running as ${plan.user} (uid ${plan.uid}, gid ${plan.gid}), keeping ${plan.keep.length > 0 ? 'CAP_NET_BIND_SERVICE' : 'no capability'}`);
            },
          }
        : {}),
    });
  } catch (err) {
    await delivery.close(DELIVERY_CLOSE_MS);
    await lock.release();
    if (err instanceof PortHoldError || err instanceof PrivilegeDropError) throw new CliError(err.message, ExitCode.FAILURE);
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EPERM' || /Operation not permitted|EPERM/.test(e.message)) {
      throw new CliError(`cannot open a packet socket: ${e.message} (run as root, or grant CAP_NET_RAW)`, ExitCode.FAILURE);
    }
    // An interface that vanished between the check above and the packet socket.
    if (/^interface .*: No such device$/.test(e.message)) throw new CliError(e.message, ExitCode.USAGE);
    throw err;
  }

  let control: ControlSocket;
  const status = (): object => ({
    version: packageVersion(),
    pid: process.pid,
    started: counts.started,
    uptime_s: Math.round(process.uptime()),
    ...sensor.status(),
    alarms: { total: counts.alarms, flood: counts.flood },
    sinks: delivery.stats(),
    state_documents: delivery.stateStats(),
  });
  try {
    control = await ControlSocket.open(o.stateDir, status);
  } catch (err) {
    await sensor.stop();
    await delivery.close(DELIVERY_CLOSE_MS);
    await lock.release();
    throw new CliError((err as Error).message, ExitCode.FAILURE);
  }
  // Said where the drop would have been: after the port lines (a refusal before them stays one line).
  if (plan.kind === 'stay' && plan.warning) log(`warning: ${plan.warning}`);
  log(`capturing on ${o.interfaces.join(', ')}`);
  log(`status socket ${control.path}`);
  if (metrics && o.metricsListen) {
    const { SensorMetrics } = await import('../metrics/sensor-metrics.js');
    const endpoint = metrics.counters;
    metrics.serve(new SensorMetrics(() => ({ ...sensor.status(), probes: sensor.probeTotals(), alarms: alarmsByAction, sinks: delivery.stats(), endpoint }), packageVersion()));
    const { formatListenAddress } = await import('../metrics/listen-address.js');
    log(`metrics on http://${formatListenAddress(o.metricsListen)}/metrics`);
  }
  reporter = new StateReporter({
    heartbeatMs: o.heartbeatMs,
    snapshot: snapshotter({
      version: packageVersion(),
      startedMicros: Date.parse(counts.started) * 1000,
      status: () => sensor.status(),
      alarms: () => ({ total: counts.alarms, flood: counts.flood }),
      delivery: () => ({ alarms: delivery.stats(), states: delivery.stateStats() }),
    }),
    publish: (state) => delivery.publishState((format) => formatState(format, state)),
  });
  const states = reporter;
  states.start();
  log('ready');
  // Once quiet a while: start-up's freed malloc memory goes back to the kernel (memory-trim.ts), and the clean
  // file pages start-up touched leave the resident set (resident-file-pages.ts).
  const addon = native.addon;
  const trim = new MemoryTrim(() => {
    const released = addon.trimMalloc();
    const advise = addon.adviseDontNeed;
    if (advise) dropCleanFilePages(() => readFileSync('/proc/self/smaps', 'latin1'), (ranges) => advise.call(addon, ranges));
    return released;
  }, undefined, () => sensor.status().capture.received);
  trim.settleAfter();

  let reloading = Promise.resolve();
  const reload = async (): Promise<void> => {
    delivery.reopen();
    if (!o.policyFile) {
      log('SIGHUP: no --policy file to re-read; the embedded default stays');
      return;
    }
    let next: Policy;
    try {
      next = await o.loadPolicy(o.policyFile);
      const ok = checkEligibility({ policy: next, allowPublicAddress: o.allowPublicAddress });
      if (!ok.ok) throw new Error(ok.problems.join('; '));
    } catch (err) {
      log(`reload refused: ${(err as Error).message}; policy "${sensor.currentPolicy.name}" stays`);
      return;
    }
    const statuses = await sensor.reload(next);
    log(`policy reloaded: "${next.name}", ports ${next.ports.map((p) => `${p.port}/${p.protocol}`).join(', ')}`);
    for (const s of statuses) log(statusLine(s));
    states.reload();
    trim.settleAfter();
  };

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onHup = (): void => {
      // Still listened for while stopping: without a listener SIGHUP's default action would end the process.
      if (stopping) {
        log('SIGHUP: stopping, no reload');
        return;
      }
      reloading = reloading.then(reload, reload);
    };
    let repeatedFatal = false;
    // `askedAt`: a stop asked for during start-up keeps the deadline counted from its signal.
    const onStop = (reason: StopReason, askedAt = Date.now()): void => {
      const signal = reason.kind === 'signal' ? reason.signal : 'fatal error';
      if (stopping) {
        // A fault that repeats (every captured batch) is said once, not once per occurrence.
        if (reason.kind === 'signal' || !repeatedFatal) log(`${signal}: already stopping (at most ${STOP_DEADLINE_MS / 1000} s)`);
        if (reason.kind === 'fatal') repeatedFatal = true;
        return;
      }
      stopping = true;
      trim.stop();
      log(reason.kind === 'signal' ? `${signal}: stopping` : `fatal error: ${escapeForMessage(reason.message)}; stopping`);
      states.stopping();
      // The ports as held until the stop releases them, for the last state document.
      let portsAtStop: ReturnType<Sensor['status']>['ports'] | undefined;
      try {
        portsAtStop = sensor.status().ports;
      } catch {
        // A fatal error may have left the sensor unable to say: the document then lists what it can.
      }
      const deadline = askedAt + STOP_DEADLINE_MS;
      // Ref'd while the stop runs: a hung step must not let the loop drain (exit 13) nor run forever.
      const backstop = setTimeout(() => o.signals.exitAtDeadline(), Math.max(0, deadline - Date.now()));
      const finish = (code: number): void => {
        // Done: exit as soon as nothing else is pending, and at the latest at the same deadline.
        clearTimeout(backstop);
        setTimeout(() => o.signals.exit(code), Math.max(0, deadline - Date.now())).unref();
        // After the other 'exit' listeners (registered earlier): Node's teardown would next put SIGTERM and SIGINT back
        // to their default action, so a second signal then would end a finished stop by the signal instead of its code.
        if (exitNow) process.once('exit', (exitCode) => exitNow.call(native.addon, exitCode));
        resolve(code);
      };
      void control.close()
        .then(() => metrics?.close())
        .then(() => reloading)
        .then(() => sensor.stop())
        // The last state document goes out even when the capture or the ports failed to close.
        .then(() => states.stop(reason, portsAtStop ? { ports: portsAtStop } : {}), (err: Error) => {
          states.stop(reason, portsAtStop ? { ports: portsAtStop } : {});
          throw err;
        })
        .then(() => delivery.close(DELIVERY_CLOSE_MS))
        .then(() => lock.release())
        .then(() => {
          const c = sensor.status().capture;
          log(`stopped: ${counts.alarms} alarms, ${c.received} packets captured, ${c.kernelDrops} kernel drops, ${c.handoffDrops} hand-off drops`);
          const stats = delivery.stats();
          for (const s of stats) log(`sink ${s.sink}: ${s.produced} alarms${s.recovered ? ` + ${s.recovered} from the spool of a previous run` : ''} = ${s.delivered} delivered + ${s.dropped} dropped + ${s.queued} left in the spool`);
          // State documents are no alarms: their own line, never in the alarm equation.
          const stateStats = delivery.stateStats();
          for (const s of stateStats) log(`sink ${s.sink}: ${s.produced} state documents${s.recovered ? ` + ${s.recovered} from the spool of a previous run` : ''} = ${s.delivered} delivered + ${s.dropped} dropped + ${s.queued} left in the spool`);
          // A dropped alarm or state document (broken stdout, full spool or disk, refusals) is an output failure; so is a fatal error.
          const dropped = [...stats, ...stateStats].some((s) => s.dropped > 0);
          finish(dropped || reason.kind === 'fatal' ? ExitCode.FAILURE : ExitCode.OK);
        }, (err: Error) => {
          log(`error while stopping: ${err.message}`);
          // The sinks still get their time for what was published (the last state document among it); close is idempotent.
          void delivery.close(DELIVERY_CLOSE_MS).catch(() => undefined).then(() => finish(ExitCode.FAILURE));
        });
    };
    o.signals.handOver({ stop: (signal, askedAt) => onStop({ kind: 'signal', signal }, askedAt), reload: onHup });
    // A fatal error stops the sensor like a signal, so its message reaches the SIEM in the last state document.
    const onFatal = (err: unknown): void => onStop({ kind: 'fatal', message: err instanceof Error ? err.message : String(err) });
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);
  });
}
