// `edgeshift ipc pub <topic> <json>` and `edgeshift ipc sub <topic>`: Greengrass local publish/subscribe
// for debugging, through the same IPC client the components use. Registered by scripts/cli/edgeshift.ts.
// Invariant: sub prints each message as it arrives and stops cleanly on Ctrl-C or after --count.
import type { Command } from 'commander';

import { EdgeShiftError } from '../../../components/common/errors.ts';
import type { LocalMessage } from '../../../components/common/ipc/index.ts';
import type { CliContext } from '../cli-context.ts';
import { positiveInteger } from '../cli-arguments.ts';

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new EdgeShiftError(
      'ERR_CLI_BAD_ARGUMENT',
      `ipc pub: the payload is not JSON (${String(cause)}); quote it, e.g. '{"op":"status"}'`,
      { cause },
    );
  }
}

/** A message as printed: JSON payloads as they are, binary ones as base64. */
export function describeMessage(message: LocalMessage): Record<string, unknown> {
  return message.kind === 'json'
    ? { topic: message.topic, json: message.value }
    : { topic: message.topic, binaryBase64: Buffer.from(message.bytes).toString('base64') };
}

export function registerIpc(program: Command, contextOf: (command: Command) => CliContext): void {
  const ipc = program.command('ipc').description('Greengrass local publish/subscribe for debugging');
  ipc
    .command('pub')
    .description('publish a JSON message on a local topic')
    .argument('<topic>', 'local topic (no wildcards)')
    .argument('<json>', 'the message, as JSON')
    .action(async (topic: string, json: string, _options: unknown, command: Command) => {
      const context = contextOf(command);
      const value = parsePayload(json);
      await context.withIpc((client) => client.publishJson(topic, value));
      context.print({ published: true, topic }, () => [`published on ${topic}`]);
    });
  ipc
    .command('sub')
    .description('print messages on a local topic (MQTT wildcards + and # allowed) until Ctrl-C')
    .argument('<topic>', 'local topic filter')
    .option('--count <n>', 'stop after n messages', positiveInteger)
    .option('--duration-ms <ms>', 'stop after this long', positiveInteger)
    .action(async (topic: string, options: { count?: number; durationMs?: number }, command: Command) => {
      const context = contextOf(command);
      await context.withIpc(async (client) => {
        let received = 0;
        let stopEarly: () => void = () => undefined;
        const enough = new Promise<void>((resolve) => (stopEarly = resolve));
        const subscription = await client.subscribe(
          topic,
          (message) => {
            if (options.count !== undefined && received >= options.count) return;
            received += 1;
            const described = describeMessage(message);
            context.print(described, () => [
              `${message.topic}  ${JSON.stringify(described.json ?? described.binaryBase64)}`,
            ]);
            if (received === options.count) stopEarly();
          },
          { receiveMode: 'all' },
        );
        if (!context.options.json) context.io.err(`subscribed to ${topic}; Ctrl-C to stop`);
        await Promise.race([enough, context.untilStopped(options.durationMs)]);
        await subscription.close();
      });
    });
}
