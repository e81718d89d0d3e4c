// What the system test group needs from the machine (Debian packages, root), checked up front so a
// missing part fails the group with a message naming it and how to get it, instead of skipping.
import { execFileSync } from 'node:child_process';

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Throws when a requirement is missing; `.ci/run` installs all of them. */
export function requireSystem(parts: readonly ('mosquitto' | 'root' | 'ip' | 'ping')[]): void {
  const missing: string[] = [];
  for (const part of parts) {
    if (part === 'mosquitto' && !hasCommand('mosquitto')) {
      missing.push('mosquitto (Debian package: apt-get install mosquitto)');
    }
    if (part === 'ip' && !hasCommand('ip')) missing.push('ip (Debian package: apt-get install iproute2)');
    if (part === 'ping' && !hasCommand('ping'))
      missing.push('ping (Debian package: apt-get install iputils-ping)');
    if (part === 'root' && process.getuid?.() !== 0)
      missing.push('root (network namespaces need CAP_NET_ADMIN)');
  }
  if (missing.length > 0) {
    throw new Error(`system tests need: ${missing.join('; ')}. Run .ci/run, which installs them.`);
  }
}
