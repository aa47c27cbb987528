/**
 * Recommended decoy ports per host OS: ports that only the *other* OS family
 * offers, so that nothing legitimate in the estate ever connects to them on
 * this host. The reasoning per port is in the README ("Recommended ports").
 */
import type { OsType, Policy, ProtectedPort } from './policy.js';

const tcp = (port: number): ProtectedPort => ({ port, protocol: 'tcp' });

export const RECOMMENDED_PORTS: Readonly<Record<OsType, readonly ProtectedPort[]>> = {
  // Windows-only services that lateral-movement tooling probes first
  // (SMB/RPC for PsExec/WMI/DCOM, RDP, WinRM, MSSQL, Kerberos for DC discovery).
  linux: [88, 135, 139, 445, 1433, 3389, 5985, 5986].map(tcp),
  // Unix-only services worm-like and cloud-native attackers sweep for
  // (SSH, rpcbind/NFS, r-services, rsync, Docker API, Redis, kubelet).
  windows: [22, 111, 512, 873, 2049, 2375, 6379, 10250].map(tcp),
};

export function defaultPolicyName(os: OsType): string {
  return `honeyport-${os}-recommended`;
}

export function recommendedPolicy(os: OsType): Policy {
  return { name: defaultPolicyName(os), os, ports: RECOMMENDED_PORTS[os], whitelist: [] };
}

/** The policy used when no --policy is given. */
export const defaultPolicy = (): Policy => recommendedPolicy('linux');
