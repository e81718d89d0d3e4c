// Parser of p4c's Simple Test Framework (STF) files, as p4c's BMv2 driver reads them: one statement
// per line, `#` comments, case-insensitive keywords. Grammar (names are qualified names, numbers
// decimal, 0x or 0b; hex numbers may carry `*` nibbles; key values may be `value/len`):
//   add <table> [<priority>] <key>:<value> ... <action>(<param>:<number>, ...) [= <id>]
//   setdefault <table> <action>(<param>:<number>, ...)
//   packet <port> <hex bytes>            expect <port> [<hex bytes with * nibbles>[$]]
//   wait                                  check_counter <counter>(<index>) [packets|bytes <op> <number>]
//   register_write <register> <index> <value>   register_read <register> <index>   register_reset <register>
//   counter_read <counter> <index>        counter_write <counter> <index> <packets> <bytes>
// Used by the STF runner (stf-runner.ts). Invariant: every error names file:line and the bad token.
import { EdgeShiftError } from '../../components/common/errors.ts';

/** A number as written: its value, which bits were `*`, and how many bits its digits spell. */
export interface StfNumber {
  readonly text: string;
  readonly value: bigint;
  /** Bits written as `*` (don't care); 0n when none. */
  readonly wildcardMask: bigint;
  /** Bits spelled by the digits (4 per hex digit, 1 per binary digit); undefined for decimal. */
  readonly digitBits: number | undefined;
}

export type StfKeyValue =
  | { readonly kind: 'number'; readonly number: StfNumber }
  | { readonly kind: 'prefix'; readonly number: StfNumber; readonly prefixLength: number };

export interface StfNamedNumber {
  readonly name: string;
  readonly value: StfNumber;
}

export interface StfExpectPattern {
  /** Upper-case hex nibbles, `*` for any nibble. */
  readonly nibbles: string;
  /** `$` at the end: the packet must have exactly this length. */
  readonly isExactLength: boolean;
}

export type CounterCondition = '==' | '!=' | '<' | '<=' | '>' | '>=';

interface Located {
  readonly line: number;
}

export type StfStatement = Located &
  (
    | {
        readonly kind: 'add';
        readonly table: string;
        readonly priority: number | undefined;
        readonly keys: readonly { readonly name: string; readonly value: StfKeyValue }[];
        readonly action: string;
        readonly params: readonly StfNamedNumber[];
        readonly entryId: string | undefined;
      }
    | {
        readonly kind: 'setdefault';
        readonly table: string;
        readonly action: string;
        readonly params: readonly StfNamedNumber[];
      }
    | { readonly kind: 'packet'; readonly port: number; readonly bytes: Buffer }
    | { readonly kind: 'expect'; readonly port: number; readonly pattern: StfExpectPattern | undefined }
    | { readonly kind: 'wait' }
    | {
        readonly kind: 'register_write';
        readonly register: string;
        readonly index: number;
        readonly value: StfNumber;
      }
    | { readonly kind: 'register_read'; readonly register: string; readonly index: number }
    | { readonly kind: 'register_reset'; readonly register: string }
    | { readonly kind: 'counter_read'; readonly counter: string; readonly index: number }
    | {
        readonly kind: 'counter_write';
        readonly counter: string;
        readonly index: number;
        readonly packets: number;
        readonly bytes: number;
      }
    | {
        readonly kind: 'check_counter';
        readonly counter: string;
        readonly index: number;
        readonly check:
          | {
              readonly countType: 'packets' | 'bytes';
              readonly condition: CounterCondition;
              readonly value: number;
            }
          | undefined;
      }
  );

export interface StfFile {
  readonly file: string;
  readonly statements: readonly StfStatement[];
}

class LineError extends Error {}

const NAME = /^[A-Za-z_$][\w$]*(\[\d+\])?(\.[A-Za-z_$][\w$]*(\[\d+\])?)*$/;
const CONDITIONS: readonly CounterCondition[] = ['==', '!=', '<=', '>=', '<', '>'];

/** Parses the text of an STF file; throws ERR_STF_SYNTAX naming `file:line` on the first bad line. */
export function parseStf(text: string, file = '<stf>'): StfFile {
  const statements: StfStatement[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const content = raw.split('#', 1)[0]!.trim();
    if (content === '') return;
    try {
      statements.push(parseStatement(content, line));
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      throw new EdgeShiftError('ERR_STF_SYNTAX', `${file}:${line}: ${err.message} in '${content}'`, {
        context: { file, line },
      });
    }
  });
  return { file, statements };
}

function parseStatement(content: string, line: number): StfStatement {
  const [keyword = '', rest = ''] = splitFirst(content);
  switch (keyword.toLowerCase()) {
    case 'add':
      return { line, ...parseAdd(rest) };
    case 'setdefault':
      return { line, ...parseSetDefault(rest) };
    case 'packet': {
      const [port, data] = splitFirst(rest);
      return { line, kind: 'packet', port: parsePort(port), bytes: parsePacketData(data) };
    }
    case 'expect': {
      const [port, data] = splitFirst(rest);
      return {
        line,
        kind: 'expect',
        port: parsePort(port),
        pattern: data === '' ? undefined : parseExpectData(data),
      };
    }
    case 'wait':
      expectNoMore(rest, 'wait');
      return { line, kind: 'wait' };
    case 'register_write': {
      const [register, index, value] = words(rest, 3, 'register_write <register> <index> <value>');
      return {
        line,
        kind: 'register_write',
        register: name(register),
        index: small(index),
        value: parseNumber(value),
      };
    }
    case 'register_read': {
      const [register, index] = words(rest, 2, 'register_read <register> <index>');
      return { line, kind: 'register_read', register: name(register), index: small(index) };
    }
    case 'register_reset': {
      const [register] = words(rest, 1, 'register_reset <register>');
      return { line, kind: 'register_reset', register: name(register) };
    }
    case 'counter_read': {
      const [counter, index] = words(rest, 2, 'counter_read <counter> <index>');
      return { line, kind: 'counter_read', counter: name(counter), index: small(index) };
    }
    case 'counter_write': {
      const [counter, index, packets, bytes] = words(
        rest,
        4,
        'counter_write <counter> <index> <packets> <bytes>',
      );
      return {
        line,
        kind: 'counter_write',
        counter: name(counter),
        index: small(index),
        packets: small(packets),
        bytes: small(bytes),
      };
    }
    case 'check_counter':
      return { line, ...parseCheckCounter(rest) };
    default:
      throw new LineError(`unknown statement '${keyword}'`);
  }
}

function parseAdd(
  rest: string,
): Extract<StfStatement, { kind: 'add' }> extends Located & infer T ? T : never {
  const [table, afterTable] = splitFirst(rest);
  const { head, action, params, tail } = splitAction(afterTable);
  const entryId = parseEntryId(tail);
  const tokens = head.split(/\s+/).filter((token) => token !== '');
  const priority = tokens[0] !== undefined && /^\d+$/.test(tokens[0]) ? Number(tokens.shift()) : undefined;
  const keys = tokens.map((token) => {
    const colon = token.lastIndexOf(':');
    if (colon <= 0) throw new LineError(`key '${token}' is not <field>:<value>`);
    return { name: name(token.slice(0, colon)), value: parseKeyValue(token.slice(colon + 1)) };
  });
  return { kind: 'add', table: name(table), priority, keys, action, params, entryId };
}

function parseSetDefault(rest: string): {
  kind: 'setdefault';
  table: string;
  action: string;
  params: StfNamedNumber[];
} {
  const [table, afterTable] = splitFirst(rest);
  const { head, action, params, tail } = splitAction(afterTable);
  if (head.trim() !== '') throw new LineError(`unexpected '${head.trim()}' before the action`);
  expectNoMore(tail, 'setdefault');
  return { kind: 'setdefault', table: name(table), action, params };
}

/** Splits `<head> <action>(<params>) <tail>` at the first parenthesis. */
function splitAction(text: string): { head: string; action: string; params: StfNamedNumber[]; tail: string } {
  const open = text.indexOf('(');
  const close = text.indexOf(')', open);
  if (open < 0 || close < 0) throw new LineError('missing <action>(<param>:<value>, ...)');
  const before = text.slice(0, open).trimEnd();
  const split = before.search(/\S+$/);
  if (split < 0) throw new LineError('missing action name before (');
  const action = name(before.slice(split));
  const inside = text.slice(open + 1, close).trim();
  const params =
    inside === ''
      ? []
      : inside.split(',').map((part) => {
          const [paramName = '', value = '', extra] = part.split(':').map((piece) => piece.trim());
          if (extra !== undefined || value === '')
            throw new LineError(`action parameter '${part.trim()}' is not <name>:<value>`);
          return { name: name(paramName), value: parseNumber(value) };
        });
  return { head: before.slice(0, split), action, params, tail: text.slice(close + 1).trim() };
}

function parseEntryId(tail: string): string | undefined {
  if (tail === '') return undefined;
  const match = /^=\s*([A-Za-z_$][\w$]*)$/.exec(tail);
  if (match === null) throw new LineError(`expected '= <id>' after the action, got '${tail}'`);
  return match[1];
}

function parseCheckCounter(
  rest: string,
): Extract<StfStatement, { kind: 'check_counter' }> extends Located & infer T ? T : never {
  const match = /^([^\s(]+)\s*\(\s*([^)\s]+)\s*\)\s*(.*)$/.exec(rest);
  if (match === null)
    throw new LineError('expected check_counter <counter>(<index>) [packets|bytes <op> <n>]');
  const [, counter = '', index = '', condition = ''] = match;
  if (condition === '')
    return { kind: 'check_counter', counter: name(counter), index: small(index), check: undefined };
  const parts = /^(packets|bytes)\s*(==|!=|<=|>=|<|>)\s*(\S+)$/i.exec(condition);
  if (parts === null) throw new LineError(`counter condition '${condition}' is not packets|bytes <op> <n>`);
  const op = CONDITIONS.find((candidate) => candidate === parts[2]);
  if (op === undefined) throw new LineError(`unknown comparison '${parts[2]}'`);
  return {
    kind: 'check_counter',
    counter: name(counter),
    index: small(index),
    check: {
      countType: parts[1]!.toLowerCase() as 'packets' | 'bytes',
      condition: op,
      value: small(parts[3]!),
    },
  };
}

/** Parses decimal, 0x (with `*` nibbles) and 0b (with `*` bits) numbers. */
export function parseNumber(text: string): StfNumber {
  const lower = text.toLowerCase();
  if (/^\d+$/.test(text)) return { text, value: BigInt(text), wildcardMask: 0n, digitBits: undefined };
  const radix = lower.startsWith('0x') ? 16 : lower.startsWith('0b') ? 2 : 0;
  const digits = lower.slice(2);
  const pattern = radix === 16 ? /^[0-9a-f*]+$/ : /^[01*]+$/;
  if (radix === 0 || !pattern.test(digits))
    throw new LineError(`'${text}' is not a decimal, 0x or 0b number`);
  const bitsPerDigit = radix === 16 ? 4 : 1;
  const digitMask = BigInt(radix - 1);
  let value = 0n;
  let wildcardMask = 0n;
  for (const digit of digits) {
    value <<= BigInt(bitsPerDigit);
    wildcardMask <<= BigInt(bitsPerDigit);
    if (digit === '*') wildcardMask |= digitMask;
    else value |= BigInt(Number.parseInt(digit, radix));
  }
  return { text, value, wildcardMask, digitBits: digits.length * bitsPerDigit };
}

function parseKeyValue(text: string): StfKeyValue {
  const slash = text.indexOf('/');
  if (slash < 0) return { kind: 'number', number: parseNumber(text) };
  const number = parseNumber(text.slice(0, slash));
  const length = text.slice(slash + 1);
  if (!/^\d+$/.test(length)) throw new LineError(`prefix length '${length}' is not a decimal number`);
  return { kind: 'prefix', number, prefixLength: Number(length) };
}

function parsePacketData(data: string): Buffer {
  const hex = data.replace(/\s+/g, '');
  if (hex === '') throw new LineError('packet has no bytes');
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new LineError('packet bytes must be hex digits');
  if (hex.length % 2 !== 0) throw new LineError(`packet has an odd number of hex digits (${hex.length})`);
  return Buffer.from(hex, 'hex');
}

function parseExpectData(data: string): StfExpectPattern {
  let nibbles = data.replace(/\s+/g, '').toUpperCase();
  const isExactLength = nibbles.endsWith('$');
  if (isExactLength) nibbles = nibbles.slice(0, -1);
  if (!/^[0-9A-F*]+$/.test(nibbles))
    throw new LineError("expected bytes must be hex digits or '*', with an optional final '$'");
  if (nibbles.length % 2 !== 0)
    throw new LineError(`expected bytes have an odd number of nibbles (${nibbles.length})`);
  return { nibbles, isExactLength };
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text)) throw new LineError(`port '${text}' is not a decimal number`);
  return Number(text);
}

function small(text: string): number {
  const number = parseNumber(text);
  if (number.wildcardMask !== 0n || number.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new LineError(`'${text}' is not a plain number`);
  }
  return Number(number.value);
}

function name(text: string): string {
  if (!NAME.test(text)) throw new LineError(`'${text}' is not a name`);
  return text;
}

function splitFirst(text: string): [string, string] {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  if (space < 0) return [trimmed, ''];
  return [trimmed.slice(0, space), trimmed.slice(space).trim()];
}

/** Exactly `count` whitespace-separated words, padded to four so destructuring is typed. */
function words(text: string, count: number, usage: string): [string, string, string, string] {
  const parts = text.split(/\s+/).filter((part) => part !== '');
  if (parts.length !== count) throw new LineError(`expected ${usage}`);
  return [parts[0] ?? '', parts[1] ?? '', parts[2] ?? '', parts[3] ?? ''];
}

function expectNoMore(text: string, keyword: string): void {
  if (text.trim() !== '') throw new LineError(`unexpected '${text.trim()}' after ${keyword}`);
}
