// Lowers the peer agent's CPU priority at start (peer-agent-component.ts), so that on a node short of
// cores the work of a move (the snapshot stream, TLS, checksums) yields to the function host's request
// path: a move is background work, requests are not. Only ever lowers it: a process may raise its
// nice value without privileges, and a nice value set from outside (a higher one) is kept.
// Linux weighs nice values only between threads of one autogroup when autogroup scheduling is on,
// and makes one autogroup per session: a component whose session holds only itself (a local nucleus
// starts each in a session of its own) also sets its session's nice, or lowering its own changes nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

import type { Logger } from '../components/common/logger.ts';

const AUTOGROUP_PATH = '/proc/self/autogroup';

export interface CpuPriorityResult {
  /** The process's nice value afterwards. */
  readonly nice: number;
  /** Whether the session's autogroup was set too (it is only where the session is this component's). */
  readonly isAutogroupSet: boolean;
}

/** Session id and parent pid from /proc/self/stat (fields 4 and 6, counted after the command name). */
function sessionAndParent(): { session: number; parent: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself hold spaces or parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { parent: Number(fields[1]), session: Number(fields[3]) };
}

/** The session is this component's when it leads it, or when the shell that runs it does. */
function leadsOwnSession(): boolean {
  const ids = sessionAndParent();
  return ids !== undefined && (ids.session === process.pid || ids.session === ids.parent);
}

function setAutogroupNice(nice: number, log: Logger): boolean {
  if (!leadsOwnSession()) return false;
  try {
    const current = /nice (-?\d+)/.exec(readFileSync(AUTOGROUP_PATH, 'utf8'));
    if (current !== null && Number(current[1]) >= nice) return true;
    writeFileSync(AUTOGROUP_PATH, String(nice));
    return true;
  } catch (err) {
    // No autogroup scheduling in this kernel, or no right to it: the process nice still applies.
    log.debug('session autogroup nice not set', { err });
    return false;
  }
}

export function lowerCpuPriority(nice: number, log: Logger): CpuPriorityResult {
  if (nice <= 0) return { nice: getPriority(), isAutogroupSet: false };
  if (getPriority() < nice) setPriority(nice);
  const isAutogroupSet = setAutogroupNice(nice, log);
  log.info('CPU priority lowered for moves to yield to requests', { nice: getPriority(), isAutogroupSet });
  return { nice: getPriority(), isAutogroupSet };
}
