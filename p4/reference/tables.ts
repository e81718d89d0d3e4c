// Match-action tables with BMv2 semantics for the reference pipeline: exact keys by hash, LPM by
// longest prefix, ternary by priority; an entry names one of the table's actions with all its
// parameters. Invariant: every stored key and parameter fits its declared width (checked on add).
import { EdgeShiftError } from '../../components/common/errors.ts';

export type MatchKind = 'exact' | 'lpm' | 'ternary';

export interface KeyDefinition {
  /** Key expression as written in the P4 program, e.g. `hdr.ipv4.dst_addr`. */
  readonly name: string;
  readonly matchKind: MatchKind;
  readonly widthBits: number;
}

export interface ParamDefinition {
  readonly name: string;
  readonly widthBits: number;
}

export interface ActionDefinition {
  /** Fully qualified name, as in the compiled BMv2 JSON (e.g. `EdgeShiftIngress.set_node`). */
  readonly name: string;
  readonly params: readonly ParamDefinition[];
}

export type ActionParams = Readonly<Record<string, number>>;

export interface ActionCall {
  readonly action: string;
  readonly params: ActionParams;
}

export type KeyMatch =
  | { readonly kind: 'exact'; readonly value: number }
  | { readonly kind: 'lpm'; readonly value: number; readonly prefixLength: number }
  | { readonly kind: 'ternary'; readonly value: number; readonly mask: number };

export interface TableDefinition {
  readonly name: string;
  readonly keys: readonly KeyDefinition[];
  /** Fully qualified names of the actions an entry may use. */
  readonly actions: readonly string[];
  readonly defaultAction: ActionCall;
}

export interface TableEntry {
  readonly handle: number;
  readonly keys: readonly KeyMatch[];
  readonly action: string;
  readonly params: ActionParams;
  /** Ternary tables only; a higher number wins (p4c's STF driver maps it to BMv2's order). */
  readonly priority: number;
}

export interface LookupResult {
  readonly hit: boolean;
  readonly action: string;
  readonly params: ActionParams;
}

function fitsWidth(value: number, widthBits: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value < 2 ** widthBits;
}

function ternaryMatches(key: number, value: number, mask: number): boolean {
  return (BigInt(key) & BigInt(mask)) === (BigInt(value) & BigInt(mask));
}

function lpmMatches(key: number, value: number, prefixLength: number, widthBits: number): boolean {
  const divisor = 2 ** (widthBits - prefixLength);
  return Math.floor(key / divisor) === Math.floor(value / divisor);
}

export class MatchTable {
  readonly definition: TableDefinition;
  private readonly actionsByName: ReadonlyMap<string, ActionDefinition>;
  private readonly isExactOnly: boolean;
  private readonly exactEntries = new Map<string, TableEntry>();
  /** LPM and ternary entries, best first (longest prefix, then highest priority). */
  private orderedEntries: TableEntry[] = [];
  private defaultCall: ActionCall;
  private nextHandle = 0;
  /** Bumped on every change, so readers can cache what they derive from the table. */
  private changeCount = 0;

  constructor(definition: TableDefinition, actions: ReadonlyMap<string, ActionDefinition>) {
    this.definition = definition;
    this.actionsByName = actions;
    this.isExactOnly = definition.keys.every((key) => key.matchKind === 'exact');
    this.defaultCall = definition.defaultAction;
  }

  get name(): string {
    return this.definition.name;
  }

  get version(): number {
    return this.changeCount;
  }

  get defaultAction(): ActionCall {
    return this.defaultCall;
  }

  entries(): readonly TableEntry[] {
    return this.isExactOnly ? [...this.exactEntries.values()] : [...this.orderedEntries];
  }

  add(keys: readonly KeyMatch[], action: string, params: ActionParams, priority = 0): TableEntry {
    this.checkKeys(keys);
    const checkedParams = this.checkAction(action, params);
    const entry: TableEntry = { handle: this.nextHandle, keys, action, params: checkedParams, priority };
    if (this.isExactOnly) {
      const id = exactId(keys.map((key) => key.value));
      if (this.exactEntries.has(id)) {
        throw new EdgeShiftError(
          'ERR_DATAPLANE_BAD_ENTRY',
          `table ${this.name}: duplicate entry for key ${id}`,
          {
            context: { table: this.name },
          },
        );
      }
      this.exactEntries.set(id, entry);
    } else {
      this.orderedEntries = [...this.orderedEntries, entry].sort(compareEntries);
    }
    this.nextHandle += 1;
    this.changeCount += 1;
    return entry;
  }

  setDefault(action: string, params: ActionParams): void {
    this.defaultCall = { action, params: this.checkAction(action, params) };
    this.changeCount += 1;
  }

  clear(): void {
    this.exactEntries.clear();
    this.orderedEntries = [];
    this.defaultCall = this.definition.defaultAction;
    this.changeCount += 1;
  }

  lookup(keyValues: readonly number[]): LookupResult {
    const entry = this.isExactOnly ? this.exactEntries.get(exactId(keyValues)) : this.findOrdered(keyValues);
    if (entry === undefined) return { hit: false, ...this.defaultCall };
    return { hit: true, action: entry.action, params: entry.params };
  }

  private findOrdered(keyValues: readonly number[]): TableEntry | undefined {
    return this.orderedEntries.find((entry) =>
      entry.keys.every((match, i) => {
        const key = keyValues[i] ?? 0;
        const widthBits = this.definition.keys[i]?.widthBits ?? 0;
        if (match.kind === 'exact') return key === match.value;
        if (match.kind === 'lpm') return lpmMatches(key, match.value, match.prefixLength, widthBits);
        return ternaryMatches(key, match.value, match.mask);
      }),
    );
  }

  private checkKeys(keys: readonly KeyMatch[]): void {
    if (keys.length !== this.definition.keys.length) {
      throw badEntry(this.name, `expects ${this.definition.keys.length} key fields, got ${keys.length}`);
    }
    keys.forEach((match, i) => {
      const key = this.definition.keys[i]!;
      if (match.kind !== key.matchKind) {
        throw badEntry(this.name, `key ${key.name} is ${key.matchKind}, got a ${match.kind} value`);
      }
      if (!fitsWidth(match.value, key.widthBits)) {
        throw badEntry(this.name, `key ${key.name} value ${match.value} does not fit ${key.widthBits} bits`);
      }
      if (match.kind === 'lpm' && (match.prefixLength < 0 || match.prefixLength > key.widthBits)) {
        throw badEntry(
          this.name,
          `key ${key.name} prefix length ${match.prefixLength} not in 0..${key.widthBits}`,
        );
      }
      if (match.kind === 'ternary' && !fitsWidth(match.mask, key.widthBits)) {
        throw badEntry(this.name, `key ${key.name} mask ${match.mask} does not fit ${key.widthBits} bits`);
      }
    });
  }

  private checkAction(action: string, params: ActionParams): ActionParams {
    const definition = this.actionsByName.get(action);
    if (definition === undefined || !this.definition.actions.includes(action)) {
      throw badEntry(this.name, `action ${action} is not one of ${this.definition.actions.join(', ')}`);
    }
    const expected = new Set(definition.params.map((param) => param.name));
    for (const name of Object.keys(params)) {
      if (!expected.has(name)) throw badEntry(this.name, `action ${action} has no parameter ${name}`);
    }
    const checked: Record<string, number> = {};
    for (const param of definition.params) {
      const value = params[param.name];
      if (value === undefined) throw badEntry(this.name, `action ${action} needs parameter ${param.name}`);
      if (!fitsWidth(value, param.widthBits)) {
        throw badEntry(
          this.name,
          `parameter ${param.name} value ${value} does not fit ${param.widthBits} bits`,
        );
      }
      checked[param.name] = value;
    }
    return checked;
  }
}

function exactId(values: readonly number[]): string {
  return values.join('|');
}

function compareEntries(a: TableEntry, b: TableEntry): number {
  const prefixA = a.keys.reduce((sum, key) => sum + (key.kind === 'lpm' ? key.prefixLength : 0), 0);
  const prefixB = b.keys.reduce((sum, key) => sum + (key.kind === 'lpm' ? key.prefixLength : 0), 0);
  if (prefixA !== prefixB) return prefixB - prefixA;
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.handle - b.handle;
}

function badEntry(table: string, detail: string): EdgeShiftError {
  return new EdgeShiftError('ERR_DATAPLANE_BAD_ENTRY', `table ${table}: ${detail}`, { context: { table } });
}
