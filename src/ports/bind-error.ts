/** Turns a listen() error into the operator-facing reason a `failed` status carries. */
import type { PortProtocol } from '../policy/policy.js';

export interface BindFailure {
  readonly code: string;
  readonly reason: string;
}

export function describeBindError(
  error: unknown,
  port: number,
  protocol: PortProtocol,
  address: string,
): BindFailure {
  const code = errorCode(error) ?? 'UNKNOWN';
  const where = `${protocol} port ${port} on ${address}`;
  switch (code) {
    case 'EACCES':
      return {
        code,
        reason:
          port < 1024
            ? `permission denied for ${where}: no CAP_NET_BIND_SERVICE (ports below 1024 need root or the CAP_NET_BIND_SERVICE capability)`
            : `permission denied for ${where}: check net.ipv4.ip_unprivileged_port_start and security modules (SELinux, AppArmor)`,
      };
    case 'EMFILE':
      return { code, reason: `too many open files opening ${where}: raise LimitNOFILE (ulimit -n)` };
    case 'ENFILE':
      return {
        code,
        reason: `too many open files in the system opening ${where}: raise LimitNOFILE and fs.file-max`,
      };
    case 'EADDRNOTAVAIL':
      return { code, reason: `cannot bind ${where}: ${address} is not an address of this host` };
    case 'EAFNOSUPPORT':
      return {
        code,
        reason: `cannot open ${where}: ${protocol === 'tcp6' ? 'IPv6' : 'IPv4'} is not available on this host`,
      };
    case 'ENOBUFS':
    case 'ENOMEM':
      return { code, reason: `out of kernel memory opening ${where} (${code})` };
    default: {
      const message = error instanceof Error ? error.message : String(error);
      return { code, reason: `cannot open ${where}: ${message}` };
    }
  }
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
