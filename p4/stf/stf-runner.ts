// Runs a parsed STF file against the reference pipeline with the semantics of p4c's BMv2 driver:
// statements in file order; outputs collected per port; at the end, on every watched port (named by
// some packet or expect line) the outputs must match that port's expects in order and in number.
// `expect <port>` with no bytes accepts any number of packets there. Reports file:line, expected and
// actual hex and the first differing byte. Invariant: never throws on a failing test, only reports.
import { readFile } from 'node:fs/promises';
import { EdgeShiftError } from '../../components/common/errors.ts';
import { ReferencePipeline } from '../reference/pipeline.ts';
import type { ActionParams, KeyMatch, MatchTable } from '../reference/tables.ts';
import {
  parseStf,
  type StfExpectPattern,
  type StfFile,
  type StfKeyValue,
  type StfNamedNumber,
  type StfNumber,
  type StfStatement,
} from './stf-parser.ts';

export interface StfOutput {
  readonly frame: Buffer;
  /** Line of the packet statement that produced it. */
  readonly packetLine: number;
}

export interface StfRunResult {
  readonly file: string;
  readonly isPassed: boolean;
  readonly failures: readonly string[];
  /** Informational lines: register and counter reads, outputs on unwatched ports. */
  readonly notes: readonly string[];
  readonly outputsByPort: ReadonlyMap<number, readonly StfOutput[]>;
  readonly packetCount: number;
  readonly expectCount: number;
}

export interface StfRunOptions {
  /** A pipeline to drive; a fresh one by default. */
  readonly pipeline?: ReferencePipeline;
  /** Time of each packet in µs; by default 1 s + 100 µs per packet, so nothing depends on wall time. */
  readonly nowUs?: (packetIndex: number) => bigint;
}

interface Expectation {
  readonly line: number;
  readonly pattern: StfExpectPattern | undefined;
}

class CommandError extends Error {}
/** A check_counter that does not hold: reported, and the run goes on. */
class CheckFailure extends Error {}

export async function runStfFile(path: string, options: StfRunOptions = {}): Promise<StfRunResult> {
  return runStf(parseStf(await readFile(path, 'utf8'), path), options);
}

export function runStf(stf: StfFile, options: StfRunOptions = {}): StfRunResult {
  const pipeline = options.pipeline ?? new ReferencePipeline();
  const nowUs = options.nowUs ?? ((index: number) => 1_000_000n + BigInt(index) * 100n);
  const outputsByPort = new Map<number, StfOutput[]>();
  const expectations = new Map<number, Expectation[]>();
  const watchedPorts = new Set<number>();
  const failures: string[] = [];
  const notes: string[] = [];
  let packetCount = 0;
  let expectCount = 0;

  for (const statement of stf.statements) {
    try {
      if (statement.kind === 'packet') {
        watchedPorts.add(statement.port);
        for (const output of pipeline.process(statement.bytes, statement.port, nowUs(packetCount))) {
          pushTo(outputsByPort, output.port, {
            frame: Buffer.from(output.frame),
            packetLine: statement.line,
          });
        }
        packetCount += 1;
      } else if (statement.kind === 'expect') {
        watchedPorts.add(statement.port);
        pushTo(expectations, statement.port, { line: statement.line, pattern: statement.pattern });
        expectCount += 1;
      } else {
        const note = runCommand(pipeline, statement);
        if (note !== undefined) notes.push(`${stf.file}:${statement.line}: ${note}`);
      }
    } catch (err) {
      const isKnown =
        err instanceof CommandError || err instanceof CheckFailure || err instanceof EdgeShiftError;
      if (!isKnown) throw err;
      failures.push(`${stf.file}:${statement.line}: ${err.message}`);
      // The real driver stops at a command it cannot translate; so does this runner.
      if (!(err instanceof CheckFailure)) break;
    }
  }

  for (const port of [...watchedPorts].sort((a, b) => a - b)) {
    failures.push(...checkPort(stf.file, port, outputsByPort.get(port) ?? [], expectations.get(port) ?? []));
  }
  for (const [port, outputs] of outputsByPort) {
    if (!watchedPorts.has(port)) {
      notes.push(`${outputs.length} packet(s) left on unwatched port ${port} (not checked, as on BMv2)`);
    }
  }
  return {
    file: stf.file,
    isPassed: failures.length === 0,
    failures,
    notes,
    outputsByPort,
    packetCount,
    expectCount,
  };
}

/** A human-readable report: PASS/FAIL, then each failure. */
export function formatStfReport(result: StfRunResult): string {
  const head = `${result.isPassed ? 'PASS' : 'FAIL'} ${result.file}: ${result.packetCount} packets, ${result.expectCount} expects`;
  return [head, ...result.failures.map((failure) => `  ${failure}`)].join('\n');
}

function checkPort(
  file: string,
  port: number,
  outputs: readonly StfOutput[],
  expected: readonly Expectation[],
): string[] {
  const patterns = expected.filter((expectation) => expectation.pattern !== undefined);
  if (patterns.length < expected.length) {
    // `expect <port>` alone: any number of packets is fine there (p4c's expectedAny).
    if (patterns.length === 0) return [];
    return [`${file}:${expected[0]!.line}: port ${port} has expects both with and without bytes`];
  }
  const failures: string[] = [];
  const count = Math.min(outputs.length, expected.length);
  for (let i = 0; i < count; i += 1) {
    const mismatch = comparePacket(expected[i]!.pattern!, outputs[i]!.frame);
    if (mismatch !== undefined) {
      failures.push(
        `${file}:${expected[i]!.line}: packet ${i} on port ${port} (from the packet at line ${outputs[i]!.packetLine}) ${mismatch}`,
      );
    }
  }
  for (const missing of expected.slice(count)) {
    failures.push(
      `${file}:${missing.line}: expected packet on port ${port} did not come out: ${spaced(missing.pattern!.nibbles)}`,
    );
  }
  for (const extra of outputs.slice(count)) {
    failures.push(
      `${file}:${extra.packetLine}: unexpected packet on port ${port} (produced by this packet line): ${spaced(extra.frame.toString('hex').toUpperCase())}`,
    );
  }
  return failures;
}

/** Undefined when `frame` matches; else the reason, with both hex strings and the first difference. */
export function comparePacket(pattern: StfExpectPattern, frame: Buffer): string | undefined {
  const actual = frame.toString('hex').toUpperCase();
  const expectedText = `expected ${spaced(pattern.nibbles)}${pattern.isExactLength ? ' $' : ''}`;
  const actualText = `actual   ${spaced(actual)}`;
  if (actual.length < pattern.nibbles.length) {
    return `is too short: ${actual.length / 2} bytes, expected ${pattern.nibbles.length / 2}\n    ${expectedText}\n    ${actualText}`;
  }
  for (let i = 0; i < pattern.nibbles.length; i += 1) {
    const want = pattern.nibbles[i];
    if (want !== '*' && want !== actual[i]) {
      return `differs at byte ${Math.floor(i / 2)} (nibble ${i}: expected ${want}, got ${actual[i]})\n    ${expectedText}\n    ${actualText}`;
    }
  }
  if (pattern.isExactLength && actual.length !== pattern.nibbles.length) {
    return `is ${actual.length / 2} bytes, expected exactly ${pattern.nibbles.length / 2}\n    ${expectedText}\n    ${actualText}`;
  }
  return undefined;
}

function runCommand(pipeline: ReferencePipeline, statement: StfStatement): string | undefined {
  switch (statement.kind) {
    case 'add': {
      const table = pipeline.table(statement.table);
      const keys = translateKeys(table, statement.keys);
      const params = translateParams(statement.params);
      pipeline.addEntry(table.name, keys, statement.action, params, statement.priority);
      return undefined;
    }
    case 'setdefault':
      pipeline.setDefault(statement.table, statement.action, translateParams(statement.params));
      return undefined;
    case 'wait':
      return undefined;
    case 'register_write': {
      const register = pipeline.register(statement.register);
      register.write(
        statement.index,
        toNumber(statement.value, register.widthBits, `value of ${register.name}`),
      );
      return undefined;
    }
    case 'register_read': {
      const register = pipeline.register(statement.register);
      return `${register.name}[${statement.index}] = ${register.read(statement.index)}`;
    }
    case 'register_reset':
      pipeline.register(statement.register).reset();
      return undefined;
    case 'counter_read': {
      const counter = pipeline.counter(statement.counter);
      const { packets, bytes } = counter.read(statement.index);
      return `${counter.name}[${statement.index}] = ${packets} packets, ${bytes} bytes`;
    }
    case 'counter_write':
      pipeline.counter(statement.counter).write(statement.index, statement.packets, statement.bytes);
      return undefined;
    case 'check_counter':
      return checkCounter(pipeline, statement);
    default:
      return undefined;
  }
}

function checkCounter(
  pipeline: ReferencePipeline,
  statement: Extract<StfStatement, { kind: 'check_counter' }>,
): string {
  const counter = pipeline.counter(statement.counter);
  const counts = counter.read(statement.index);
  const text = `${counter.name}[${statement.index}] = ${counts.packets} packets, ${counts.bytes} bytes`;
  if (statement.check === undefined) return text;
  const { countType, condition, value } = statement.check;
  const actual = counts[countType];
  const holds = {
    '==': actual === value,
    '!=': actual !== value,
    '<': actual < value,
    '<=': actual <= value,
    '>': actual > value,
    '>=': actual >= value,
  }[condition];
  if (!holds)
    throw new CheckFailure(`check_counter failed: ${text}; wanted ${countType} ${condition} ${value}`);
  return text;
}

/** Key values as p4c's BMv2 driver turns them into table_add arguments; missing keys match anything. */
function translateKeys(
  table: MatchTable,
  given: readonly { readonly name: string; readonly value: StfKeyValue }[],
): Record<string, KeyMatch> {
  const keys: Record<string, KeyMatch> = {};
  for (const key of table.definition.keys) {
    if (key.matchKind === 'exact') keys[key.name] = { kind: 'exact', value: 0 };
    if (key.matchKind === 'lpm') keys[key.name] = { kind: 'lpm', value: 0, prefixLength: 0 };
    if (key.matchKind === 'ternary') keys[key.name] = { kind: 'ternary', value: 0, mask: 0 };
  }
  for (const { name, value } of given) {
    const key = resolveKey(table, name);
    keys[key.name] = translateKey(key.matchKind, key.widthBits, value, key.name);
  }
  return keys;
}

function resolveKey(table: MatchTable, name: string): MatchTable['definition']['keys'][number] {
  const keys = table.definition.keys;
  const found = keys.find((key) => key.name === name) ?? keys.find((key) => key.name.endsWith(`.${name}`));
  if (found === undefined) {
    throw new CommandError(
      `table ${table.name} has no key field '${name}'; its keys are ${keys.map((key) => key.name).join(', ')}`,
    );
  }
  return found;
}

function translateKey(matchKind: string, widthBits: number, value: StfKeyValue, keyName: string): KeyMatch {
  const number = value.number;
  const numeric = toNumber({ ...number, wildcardMask: 0n }, widthBits, `key ${keyName}`);
  if (value.kind === 'prefix') {
    if (matchKind !== 'lpm')
      throw new CommandError(`key ${keyName} is ${matchKind}; value/len is for lpm keys`);
    return { kind: 'lpm', value: numeric, prefixLength: value.prefixLength };
  }
  if (matchKind === 'exact') {
    if (number.wildcardMask !== 0n)
      throw new CommandError(`key ${keyName} is exact; '*' is for lpm or ternary keys`);
    return { kind: 'exact', value: numeric };
  }
  if (matchKind === 'lpm') {
    // The driver counts the written non-'*' digits; a decimal value is taken as a full-width prefix.
    const prefixLength =
      number.digitBits === undefined ? widthBits : number.digitBits - popCount(number.wildcardMask);
    return { kind: 'lpm', value: numeric, prefixLength };
  }
  if (number.digitBits === undefined)
    throw new CommandError(`decimal value ${number.text} not supported for ternary key ${keyName}`);
  const mask = ((1n << BigInt(number.digitBits)) - 1n) & ~number.wildcardMask;
  return {
    kind: 'ternary',
    value: numeric,
    mask: toNumber({ ...number, value: mask, wildcardMask: 0n }, widthBits, `mask of ${keyName}`),
  };
}

function translateParams(params: readonly StfNamedNumber[]): ActionParams {
  const translated: Record<string, number> = {};
  for (const param of params) {
    if (param.value.wildcardMask !== 0n) throw new CommandError(`parameter ${param.name} cannot contain '*'`);
    translated[param.name] = toNumber(param.value, 53, `parameter ${param.name}`);
  }
  return translated;
}

function toNumber(number: StfNumber, widthBits: number, what: string): number {
  if (number.wildcardMask !== 0n) throw new CommandError(`${what} cannot contain '*'`);
  if (number.value >= 1n << BigInt(Math.min(widthBits, 53))) {
    throw new CommandError(`${what} ${number.text} does not fit ${widthBits} bits`);
  }
  return Number(number.value);
}

function popCount(value: bigint): number {
  let count = 0;
  for (let rest = value; rest > 0n; rest >>= 1n) count += Number(rest & 1n);
  return count;
}

function pushTo<T>(map: Map<number, T[]>, port: number, value: T): void {
  const list = map.get(port);
  if (list === undefined) map.set(port, [value]);
  else list.push(value);
}

function spaced(hex: string): string {
  return hex.replace(/(.{2})(?=.)/g, '$1 ');
}
