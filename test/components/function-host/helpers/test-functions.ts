// Functions used by the function host tests: a per-key counter (stateful), a counter whose requests can
// be held at a gate (to have requests in progress), and a front that calls a downstream service.
import type { FunctionDefinition } from '../../../../components/function-host/function-loader.ts';
import { createLogger } from '../../../../components/common/logger.ts';
import type {
  HostedServiceOptions,
  RequestServerOptions,
} from '../../../../components/function-host/request-server.ts';

/** Counts requests per key; replies {count, seen} where seen lists the bodies in processing order. */
export function counterFunction(name = 'counter'): FunctionDefinition {
  return {
    name,
    isStateful: true,
    handler: (request, ctx) => {
      const previous = ctx.state.getJson<{ count: number; seen: unknown[] }>(request.key) ?? {
        count: 0,
        seen: [],
      };
      const next = { count: previous.count + 1, seen: [...previous.seen, request.body] };
      ctx.state.putJson(request.key, next);
      return next;
    },
  };
}

/** A counter whose handler waits for `open()` before writing, so requests stay in progress. */
export function gatedCounterFunction(name = 'counter'): {
  definition: FunctionDefinition;
  open: () => void;
  started: () => number;
} {
  let release: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (release = resolve));
  let startedCount = 0;
  const counter = counterFunction(name);
  return {
    definition: {
      ...counter,
      handler: async (request, ctx) => {
        startedCount += 1;
        await gate;
        return counter.handler(request, ctx);
      },
    },
    open: () => {
      release();
      gate = Promise.resolve();
    },
    started: () => startedCount,
  };
}

/** Calls `downstream` with the same key and wraps its answer. */
export function frontFunction(downstream: string): FunctionDefinition {
  return {
    name: 'front',
    isStateful: false,
    handler: async (request, ctx) => ({
      front: true,
      downstream: await ctx.call(downstream, request.body, request.key),
    }),
  };
}

export function hosted(
  definition: FunctionDefinition,
  overrides: Partial<HostedServiceOptions> = {},
): HostedServiceOptions {
  return {
    definition,
    serviceId: 1,
    listen: { address: '127.0.0.1', port: 0 },
    role: 'owner',
    epoch: 1,
    ...overrides,
  };
}

export function serverOptions(
  nodeName: string,
  services: HostedServiceOptions[],
  overrides: Partial<RequestServerOptions> = {},
): RequestServerOptions {
  return {
    nodeName,
    services,
    maxBufferedRequests: 1000,
    dedupeEntriesPerKey: 16,
    handOverHoldMs: 0,
    callTimeoutMs: 2000,
    callAttempts: 2,
    logger: createLogger(nodeName, { level: 'silent' }),
    ...overrides,
  };
}
