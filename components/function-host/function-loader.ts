// What a function is and how the function host loads one: a module exporting
// `createFunction(options)` that returns {name, isStateful, handler, initialize?}. Built-in modules
// (the sample application) are looked up by name so a bundled artifact needs no files beside it.
// Called by function-host.ts; the context a handler gets is built by the service runtime.
import { pathToFileURL } from 'node:url';

import { EdgeShiftError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { KeyValueState } from './state-store.ts';

export interface FunctionInput {
  readonly id: string;
  readonly key: string;
  readonly body: unknown;
}

export interface FunctionContext {
  /** This service's state on this node; migrates with the function. */
  readonly state: KeyValueState;
  readonly logger: Logger;
  readonly nodeName: string;
  /**
   * Invokes a downstream service over UDP and resolves with its reply body. The downstream request id is
   * derived from this request's id, so a duplicate of this request is a duplicate downstream too.
   */
  call(service: string, body: unknown, key: string): Promise<unknown>;
}

export type FunctionHandler = (request: FunctionInput, ctx: FunctionContext) => unknown;

export interface FunctionDefinition {
  readonly name: string;
  readonly isStateful: boolean;
  readonly handler: FunctionHandler;
  /** Fills initial state (for example benchmark keys) on the node that starts as the owner. */
  readonly initialize?: (state: KeyValueState) => void;
}

export type FunctionOptions = Readonly<Record<string, unknown>>;

export interface FunctionModule {
  createFunction(options: FunctionOptions): FunctionDefinition;
}

function loadError(source: string, reason: string, cause?: unknown): EdgeShiftError {
  return new EdgeShiftError('ERR_FNHOST_FUNCTION_LOAD', `function module ${source}: ${reason}`, {
    context: { source },
    cause,
  });
}

function checkDefinition(source: string, value: unknown): FunctionDefinition {
  if (typeof value !== 'object' || value === null)
    throw loadError(source, 'createFunction returned no object');
  const { name, isStateful, handler, initialize } = value as Record<string, unknown>;
  if (typeof name !== 'string' || name.length === 0)
    throw loadError(source, 'name must be a non-empty string');
  if (typeof isStateful !== 'boolean') throw loadError(source, 'isStateful must be a boolean');
  if (typeof handler !== 'function') throw loadError(source, 'handler must be a function');
  if (initialize !== undefined && typeof initialize !== 'function') {
    throw loadError(source, 'initialize must be a function when given');
  }
  return value as FunctionDefinition;
}

async function importModule(source: string): Promise<unknown> {
  try {
    return (await import(pathToFileURL(source).href)) as unknown;
  } catch (err) {
    throw loadError(source, 'could not be imported', err);
  }
}

/**
 * Loads `builtin:<name>` from `builtins`, or any other source as a file path, then creates the
 * function with its options.
 */
export async function loadFunction(
  source: string,
  options: FunctionOptions,
  builtins: Readonly<Record<string, FunctionModule>> = {},
): Promise<FunctionDefinition> {
  let module: unknown;
  if (source.startsWith('builtin:')) {
    module = builtins[source.slice('builtin:'.length)];
    if (module === undefined) {
      throw loadError(source, `no such builtin; known: ${Object.keys(builtins).join(', ') || 'none'}`);
    }
  } else {
    module = await importModule(source);
  }
  const create = (module as { createFunction?: unknown }).createFunction;
  if (typeof create !== 'function') throw loadError(source, 'does not export createFunction');
  let definition: unknown;
  try {
    definition = (create as FunctionModule['createFunction'])(options);
  } catch (err) {
    throw loadError(source, `createFunction threw: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return checkDefinition(source, definition);
}
