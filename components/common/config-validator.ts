// Validates a component's configuration against its JSON Schema (kept beside its recipe in
// recipes/schemas/) with ajv: defaults filled in, then the result deep-frozen and handed inward as a
// typed object. Callers: every component's start-up and its configuration-update handler.
import { Ajv, type AnySchema, type ErrorObject } from 'ajv';

import { EdgeShiftError } from './errors.ts';

export type ConfigValidator<T> = (value: unknown) => Readonly<T>;

/** Extra rules across fields that a schema cannot say; return a message naming the field, or undefined. */
export type CrossFieldRule<T> = (config: T) => string | undefined;

function describeAjvError(error: ErrorObject): string {
  const path = error.instancePath === '' ? '/' : error.instancePath;
  // ajv's own text ("must NOT have additional properties") hides which key was unexpected.
  const unknownKey = (error.params as { additionalProperty?: unknown }).additionalProperty;
  if (error.keyword === 'additionalProperties' && typeof unknownKey === 'string') {
    return `${path} has unknown property '${unknownKey}'`;
  }
  return `${path} ${error.message ?? 'is invalid'}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

export function compileConfigValidator<T>(
  componentName: string,
  schema: AnySchema,
  rules: readonly CrossFieldRule<T>[] = [],
): ConfigValidator<T> {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
  const validate = ajv.compile<T>(schema);
  return (value: unknown) => {
    const copy: unknown = structuredClone(value ?? {});
    if (!validate(copy)) {
      const reasons = (validate.errors ?? []).map(describeAjvError).join('; ');
      throw new EdgeShiftError('ERR_CONFIG_INVALID', `${componentName} configuration rejected: ${reasons}`, {
        context: { component: componentName },
      });
    }
    const config = copy as T;
    for (const rule of rules) {
      const problem = rule(config);
      if (problem !== undefined) {
        throw new EdgeShiftError(
          'ERR_CONFIG_INVALID',
          `${componentName} configuration rejected: ${problem}`,
          {
            context: { component: componentName },
          },
        );
      }
    }
    return deepFreeze(config);
  };
}
