// Per-component configuration of the local nucleus: a JSON tree per component with a modification time per
// leaf, key-path reads, timestamped merges (UpdateConfiguration), deployment-style reset + merge, and change
// events per changed leaf path. Used by local-nucleus.ts and operations/configuration.ts. Invariant: a merge
// older than a leaf it would touch changes nothing (FailedUpdateConditionCheckError), and every changed, added
// or removed leaf is reported exactly once.
import { EventEmitter } from 'node:events';

import { EdgeShiftError } from '../../components/common/errors.ts';

export type ConfigurationObject = Record<string, unknown>;

export interface ConfigurationChange {
  readonly componentName: string;
  readonly keyPath: readonly string[];
}

interface ComponentConfiguration {
  defaults: ConfigurationObject;
  root: ConfigurationObject;
  /** Modification time (ms since epoch) per leaf, keyed by the JSON of its key path. */
  modifiedAtMs: Map<string, number>;
}

export function isPlainObject(value: unknown): value is ConfigurationObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Leaf paths of a tree: anything not a plain object is a leaf (arrays too, as in Greengrass topics). */
function collectLeaves(value: unknown, prefix: string[], into: Map<string, unknown>): Map<string, unknown> {
  if (!isPlainObject(value) || (Object.keys(value).length === 0 && prefix.length > 0)) {
    if (prefix.length > 0) into.set(JSON.stringify(prefix), value);
    return into;
  }
  for (const [key, inner] of Object.entries(value)) collectLeaves(inner, [...prefix, key], into);
  return into;
}

/** Deep merge as a Greengrass MERGE update: objects merge key by key, everything else replaces. */
export function deepMerge(target: ConfigurationObject, patch: ConfigurationObject): ConfigurationObject {
  const merged: ConfigurationObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    const existing = merged[key];
    merged[key] =
      isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : structuredClone(value);
  }
  return merged;
}

export function findAtPath(root: unknown, keyPath: readonly string[]): { found: boolean; value: unknown } {
  let node: unknown = root;
  for (const key of keyPath) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) return { found: false, value: undefined };
    node = node[key];
  }
  return { found: true, value: node };
}

function withValueAt(
  root: ConfigurationObject,
  keyPath: readonly string[],
  value: unknown,
): ConfigurationObject {
  const [head, ...rest] = keyPath;
  if (head === undefined) return isPlainObject(value) ? value : root;
  const child = root[head];
  const next = rest.length === 0 ? value : withValueAt(isPlainObject(child) ? child : {}, rest, value);
  return { ...root, [head]: next };
}

function withoutPath(root: ConfigurationObject, keyPath: readonly string[]): ConfigurationObject {
  const [head, ...rest] = keyPath;
  if (head === undefined || !Object.hasOwn(root, head)) return root;
  if (rest.length === 0) {
    const copy = { ...root };
    delete copy[head];
    return copy;
  }
  const child = root[head];
  return isPlainObject(child) ? { ...root, [head]: withoutPath(child, rest) } : root;
}

/** Splits a JSON pointer ("/a/b~1c") into key path segments (RFC 6901), as deployment `reset` paths are. */
export function jsonPointerToKeyPath(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export class ConfigurationStore extends EventEmitter<{ change: [ConfigurationChange] }> {
  private readonly components = new Map<string, ComponentConfiguration>();

  constructor(private readonly nowMs: () => number = Date.now) {
    super();
  }

  has(componentName: string): boolean {
    return this.components.has(componentName);
  }

  /** Sets a component's configuration (its recipe defaults merged with any deployment merge). */
  register(componentName: string, configuration: ConfigurationObject): void {
    const root = structuredClone(configuration);
    const previous = this.components.get(componentName);
    const modifiedAtMs = new Map<string, number>();
    for (const key of collectLeaves(root, [], new Map()).keys()) modifiedAtMs.set(key, this.nowMs());
    this.components.set(componentName, { defaults: structuredClone(configuration), root, modifiedAtMs });
    if (previous !== undefined) this.emitChanges(componentName, previous.root, root);
  }

  remove(componentName: string): void {
    this.components.delete(componentName);
  }

  /** A deep copy of the whole configuration. */
  get(componentName: string): ConfigurationObject {
    return structuredClone(this.entry(componentName).root);
  }

  find(componentName: string, keyPath: readonly string[]): { found: boolean; value: unknown } {
    const entry = this.components.get(componentName);
    if (entry === undefined) return { found: false, value: undefined };
    const { found, value } = findAtPath(entry.root, keyPath);
    return { found, value: structuredClone(value) };
  }

  /**
   * UpdateConfiguration: merges `valueToMerge` at `keyPath` (a container, or a leaf replaced by the value).
   * Returns false, changing nothing, when a leaf it would write was modified after `timestampMs`.
   */
  mergeAt(
    componentName: string,
    keyPath: readonly string[],
    valueToMerge: unknown,
    timestampMs: number,
  ): boolean {
    const entry = this.entry(componentName);
    const current = findAtPath(entry.root, keyPath);
    const patch = isPlainObject(current.value) && isPlainObject(valueToMerge) ? valueToMerge : undefined;
    const touched = collectLeaves(patch ?? valueToMerge, [...keyPath], new Map());
    for (const key of touched.keys()) {
      if ((entry.modifiedAtMs.get(key) ?? -Infinity) > timestampMs) return false;
    }
    const next =
      patch !== undefined
        ? withValueAt(entry.root, keyPath, deepMerge(current.value as ConfigurationObject, patch))
        : withValueAt(entry.root, keyPath, structuredClone(valueToMerge));
    this.replaceRoot(componentName, entry, next, timestampMs);
    return true;
  }

  /** The configuration a deployment with this reset + merge would produce (reset first, as Greengrass does). */
  preview(
    componentName: string,
    merge: ConfigurationObject,
    reset: readonly string[] = [],
  ): ConfigurationObject {
    const entry = this.entry(componentName);
    let next = entry.root;
    for (const pointer of reset) {
      const keyPath = jsonPointerToKeyPath(pointer);
      const fallback = findAtPath(entry.defaults, keyPath);
      next = fallback.found
        ? keyPath.length === 0
          ? structuredClone(entry.defaults)
          : withValueAt(next, keyPath, structuredClone(fallback.value))
        : withoutPath(next, keyPath);
    }
    return deepMerge(next, merge);
  }

  /** Applies a deployment-style change (see preview) and reports the changed leaves. */
  applyDeployment(componentName: string, merge: ConfigurationObject, reset: readonly string[] = []): void {
    const entry = this.entry(componentName);
    this.replaceRoot(componentName, entry, this.preview(componentName, merge, reset), this.nowMs());
  }

  private replaceRoot(
    componentName: string,
    entry: ComponentConfiguration,
    next: ConfigurationObject,
    modifiedAtMs: number,
  ): void {
    const before = collectLeaves(entry.root, [], new Map());
    const after = collectLeaves(next, [], new Map());
    for (const [key, value] of after) {
      if (!before.has(key) || JSON.stringify(before.get(key)) !== JSON.stringify(value)) {
        entry.modifiedAtMs.set(key, modifiedAtMs);
      }
    }
    for (const key of before.keys()) if (!after.has(key)) entry.modifiedAtMs.delete(key);
    const previous = entry.root;
    entry.root = next;
    this.emitChanges(componentName, previous, next);
  }

  private emitChanges(componentName: string, previous: ConfigurationObject, next: ConfigurationObject): void {
    const before = collectLeaves(previous, [], new Map());
    const after = collectLeaves(next, [], new Map());
    const changed = new Set<string>();
    for (const [key, value] of after) {
      if (!before.has(key) || JSON.stringify(before.get(key)) !== JSON.stringify(value)) changed.add(key);
    }
    for (const key of before.keys()) if (!after.has(key)) changed.add(key);
    for (const key of changed) {
      this.emit('change', { componentName, keyPath: JSON.parse(key) as string[] });
    }
  }

  private entry(componentName: string): ComponentConfiguration {
    const entry = this.components.get(componentName);
    if (entry === undefined) {
      throw new EdgeShiftError(
        'ERR_NUCLEUS_UNKNOWN_COMPONENT',
        `component ${componentName} is not registered with the local nucleus; call registerComponent first`,
        { context: { component: componentName } },
      );
    }
    return entry;
  }
}
