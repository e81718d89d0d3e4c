// Reading and parsing the kernel's text files (/proc/stat, /proc/meminfo, cgroup v2 interface files)
// for the host and cgroup samplers. Reads are asynchronous; a missing or unparsable file becomes a
// coded EdgeShiftError naming the path, never a NaN load.
import { readFile } from 'node:fs/promises';

import { EdgeShiftError } from '../common/errors.ts';

export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new EdgeShiftError(
      'ERR_MONITOR_SOURCE_UNREADABLE',
      `cannot read ${what} at ${path}: ${String(err)}`,
      {
        context: { path },
        cause: err,
      },
    );
  }
}

export function malformed(path: string, reason: string): EdgeShiftError {
  return new EdgeShiftError('ERR_MONITOR_SOURCE_MALFORMED', `${path}: ${reason}`, { context: { path } });
}

/** Parses a non-negative decimal integer field; anything else is malformed. */
export function parseCounter(text: string | undefined, path: string, field: string): number {
  if (text === undefined || !/^\d+$/.test(text)) {
    throw malformed(path, `${field} is ${JSON.stringify(text)}, expected a non-negative integer`);
  }
  return Number(text);
}

/** `key value` lines (cpu.stat, /proc/meminfo with its "kB" suffix) as a map of the first number. */
export function parseKeyValueLines(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([\w()]+):?\s+(\S+)/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) values.set(match[1], match[2]);
  }
  return values;
}
