// A counter service on UDP for the load generator's tests: answers each FunctionRequest with the
// key's count of processed requests (body.count), per request-wire.ts, and injects faults on
// purpose: drop a reply, send a reply twice, count a request twice, or hold every reply for a while
// (a stall). Each fault is chosen by the ordinal of the request received (0-based), so tests know exactly
// which requests must be reported.

import dgram from 'node:dgram';
import { encodeMessage, parseRequest } from '../../../components/function-host/request-wire.ts';

export interface ServerFaults {
  readonly dropReplyOf?: (ordinal: number) => boolean;
  readonly duplicateReplyOf?: (ordinal: number) => boolean;
  readonly countTwiceOf?: (ordinal: number) => boolean;
  /** Holds replies to requests received in [afterMs, afterMs + durationMs) of the first request, releasing them at its end. */
  readonly stall?: { readonly afterMs: number; readonly durationMs: number };
}

export interface FaultInjectingServer {
  readonly port: number;
  readonly received: () => number;
  close(): Promise<void>;
}

export async function startFaultInjectingServer(
  node: string,
  faults: ServerFaults = {},
): Promise<FaultInjectingServer> {
  const socket = dgram.createSocket('udp4');
  const counts = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let ordinal = 0;
  let firstAtMs: number | undefined;
  socket.on('message', (bytes, from) => {
    const parsed = parseRequest(bytes);
    if (!parsed.ok) return;
    const request = parsed.value;
    const current = ordinal++;
    const nowMs = performance.now();
    firstAtMs ??= nowMs;
    const count = (counts.get(request.key) ?? 0) + (faults.countTwiceOf?.(current) ? 2 : 1);
    counts.set(request.key, count);
    const reply = encodeMessage({ id: request.id, ok: true, body: { count }, node, epoch: 1 });
    const send = (): void => {
      if (faults.dropReplyOf?.(current)) return;
      socket.send(reply, from.port, from.address);
      if (faults.duplicateReplyOf?.(current)) socket.send(reply, from.port, from.address);
    };
    const stall = faults.stall;
    const sinceFirstMs = nowMs - firstAtMs;
    if (stall && sinceFirstMs >= stall.afterMs && sinceFirstMs < stall.afterMs + stall.durationMs) {
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          send();
        },
        stall.afterMs + stall.durationMs - sinceFirstMs,
      );
      timers.add(timer);
      return;
    }
    send();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    received: () => ordinal,
    close: () =>
      new Promise((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        socket.close(() => resolve());
      }),
  };
}
