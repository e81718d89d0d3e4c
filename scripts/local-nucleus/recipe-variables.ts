// Substitutes Greengrass recipe variables in lifecycle scripts, Setenv values and accessControl:
// {artifacts:path}, {artifacts:decompressedPath}, {configuration:/JSON/pointer}, {iot:thingName},
// {kernel:rootPath}, and the `{OtherComponent:artifacts:path}` / `{OtherComponent:configuration:/Key}`
// forms for dependencies. Used by component-runner.ts and local-node.ts. As in the nucleus, a variable
// that cannot be resolved is left as written.
import path from 'node:path';

export interface ComponentVariables {
  readonly artifactsPath: string;
  readonly decompressedPath: string;
  readonly configuration: unknown;
}

export interface VariableScope {
  readonly componentName: string;
  readonly thingName: string;
  readonly rootPath: string;
  /** Variables of this component and of the components it may refer to, by name. */
  readonly components: ReadonlyMap<string, ComponentVariables>;
}

/** Where the nucleus keeps a component's artifacts under its root (the Greengrass layout). */
export function artifactPaths(
  rootPath: string,
  name: string,
  version: string,
): Pick<ComponentVariables, 'artifactsPath' | 'decompressedPath'> {
  return {
    artifactsPath: path.join(rootPath, 'packages', 'artifacts', name, version),
    decompressedPath: path.join(rootPath, 'packages', 'artifacts-unarchived', name, version),
  };
}

/** Resolves an RFC 6901 JSON pointer ('' is the whole document). */
export function resolveJsonPointer(document: unknown, pointer: string): unknown {
  if (pointer === '') return document;
  if (!pointer.startsWith('/')) return undefined;
  let current = document;
  for (const rawToken of pointer.slice(1).split('/')) {
    const token = rawToken.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, token)) return undefined;
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}

function formatValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function resolveComponentVariable(
  target: ComponentVariables | undefined,
  namespace: string,
  key: string,
): string | undefined {
  if (target === undefined) return undefined;
  if (namespace === 'artifacts' && key === 'path') return target.artifactsPath;
  if (namespace === 'artifacts' && key === 'decompressedPath') return target.decompressedPath;
  if (namespace === 'configuration') return formatValue(resolveJsonPointer(target.configuration, key));
  return undefined;
}

// {name:namespace:key} or {namespace:key}; a key may hold ':' only in a configuration pointer.
const VARIABLE = /\{(?:([A-Za-z0-9][A-Za-z0-9._-]*):)?(artifacts|configuration|iot|kernel):([^{}]*)\}/g;

export function substituteVariables(text: string, scope: VariableScope): string {
  return text.replace(
    VARIABLE,
    (whole, componentName: string | undefined, namespace: string, key: string) => {
      let value: string | undefined;
      if (namespace === 'iot' && key === 'thingName' && componentName === undefined) value = scope.thingName;
      else if (namespace === 'kernel' && key === 'rootPath' && componentName === undefined)
        value = scope.rootPath;
      else
        value = resolveComponentVariable(
          scope.components.get(componentName ?? scope.componentName),
          namespace,
          key,
        );
      return value ?? whole;
    },
  );
}

/** Substitutes in every string of a JSON-like value (used for accessControl resources). */
export function substituteDeep(value: unknown, scope: VariableScope): unknown {
  if (typeof value === 'string') return substituteVariables(value, scope);
  if (Array.isArray(value)) return value.map((inner) => substituteDeep(inner, scope));
  if (typeof value !== 'object' || value === null) return value;
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) result[key] = substituteDeep(inner, scope);
  return result;
}
