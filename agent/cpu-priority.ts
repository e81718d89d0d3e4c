// The CPU weight of the peer agent while no request waits on it (source-migration.ts,
// target-migrations.ts). A move's bulk (chunks through TLS, checksums, the import calls) is background
// work that competes with the function host's requests for the node's cores. So is the whole of an
// in-network move with the direct hand-off: the function hosts cut over between themselves, and both
// agents only confirm it. Where the freeze window's path runs through both agents (reconfiguration, or
// no direct hand-off), the agent lowers its weight for the stream only and restores it before the freeze.
// Linux shares the CPU between autogroups (one per session, with autogroup scheduling on) before it
// weighs nice values inside them, and lets a process set its autogroup's nice to any value from 0 up,
// back and forth, where its own nice could not come back down without privilege. So this works where
// the agent leads its own session, as the local nucleus starts each component; elsewhere it is a no-op.
import { readFileSync, writeFileSync } from 'node:fs';

import type { Logger } from '../components/common/logger.ts';

const AUTOGROUP_PATH = '/proc/self/autogroup';

export interface StreamPriority {
  /** Runs `work` at the stream's lower weight; the weight comes back when no stream runs any more. */
  during<T>(work: () => Promise<T>): Promise<T>;
  /** Lowers the weight as during() does, until the returned release is called (again: no effect). */
  lower(): () => void;
}

/** Runs the work as it is (no autogroup of its own, or nothing asked). */
export const UNCHANGED_PRIORITY: StreamPriority = {
  during: (work) => work(),
  lower: () => () => undefined,
};

/** Session id and parent pid from /proc/self/stat (fields 4 and 6, counted after the command name). */
function sessionAndParent(): { session: number; parent: number } | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name is in parentheses and may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { parent: Number(fields[1]), session: Number(fields[3]) };
  } catch {
    return undefined;
  }
}

/** The session is this component's when it leads it, or when the shell that runs it does. */
function leadsOwnSession(): boolean {
  const ids = sessionAndParent();
  return ids !== undefined && (ids.session === process.pid || ids.session === ids.parent);
}

/**
 * The nice value in an autogroup line (`/autogroup-42 nice 0`). The kernel prints nothing for a process
 * in the root autogroup (init's session, where no session of its own was ever made): undefined then.
 */
export function parseAutogroupNice(text: string): number | undefined {
  const match = /nice (-?\d+)/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/** This process's autogroup nice, or undefined where it has no autogroup to weigh. */
export function readAutogroupNice(): number | undefined {
  try {
    return parseAutogroupNice(readFileSync(AUTOGROUP_PATH, 'utf8'));
  } catch {
    return undefined;
  }
}

class SessionStreamPriority implements StreamPriority {
  readonly #streamNice: number;
  readonly #baseNice: number;
  readonly #log: Logger;
  #streams = 0;

  constructor(streamNice: number, baseNice: number, log: Logger) {
    this.#streamNice = streamNice;
    this.#baseNice = baseNice;
    this.#log = log;
  }

  async during<T>(work: () => Promise<T>): Promise<T> {
    const release = this.lower();
    try {
      return await work();
    } finally {
      release();
    }
  }

  lower(): () => void {
    this.#streams += 1;
    if (this.#streams === 1) this.#set(this.#streamNice);
    let isReleased = false;
    return () => {
      if (isReleased) return;
      isReleased = true;
      this.#streams -= 1;
      if (this.#streams === 0) this.#set(this.#baseNice);
    };
  }

  #set(nice: number): void {
    try {
      writeFileSync(AUTOGROUP_PATH, String(nice));
    } catch (err) {
      this.#log.warn('could not set the session CPU weight', { nice, err });
    }
  }
}

/** The weight control for this process: its session's autogroup where that is its own, else none. */
export function sessionStreamPriority(streamNice: number, log: Logger): StreamPriority {
  const baseNice = readAutogroupNice();
  if (streamNice <= 0 || baseNice === undefined || baseNice >= streamNice || !leadsOwnSession()) {
    log.info('snapshot streams run at the CPU weight the agent started with', { streamNice, baseNice });
    return UNCHANGED_PRIORITY;
  }
  log.info('snapshot streams run at a lower CPU weight', { streamNice, baseNice });
  return new SessionStreamPriority(streamNice, baseNice, log);
}
