// Cloud-triggered reconfiguration over AWS IoT Core: an operator (or an IoT rule) publishes a control
// request to `edgeshift/<thing>/commands/control` and reads the outcome on
// `edgeshift/<thing>/events/control`. The requests are the same as the local control interface's
// (control-service.ts: status, migrate, pull), so there is one command vocabulary on the node and in
// the cloud. Reached through the IPC layer's SubscribeToIoTCore/PublishToIoTCore (mqttproxy policy in
// recipes/com.edgeshift.PeerAgent.yaml). A bad command is answered with its error, never dropped.
import type { IpcClient, IpcSubscription } from '../components/common/ipc/index.ts';
import type { Logger } from '../components/common/logger.ts';
import { parseControlRequest, type ControlReply, type ControlRequest } from './control-service.ts';

export function cloudCommandTopic(thingName: string): string {
  return `edgeshift/${thingName}/commands/control`;
}

export function cloudEventTopic(thingName: string): string {
  return `edgeshift/${thingName}/events/control`;
}

/** What goes back to the cloud for each command; `requestId` echoes the command's, when it had one. */
export type CloudCommandOutcome =
  | { readonly requestId?: string; readonly ok: true; readonly result: ControlReply }
  | { readonly requestId?: string; readonly ok: false; readonly error: { code: string; message: string } };

function requestIdOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { requestId?: unknown }).requestId;
  return typeof id === 'string' ? id : undefined;
}

function errorOf(err: unknown): { code: string; message: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' ? code : 'ERR_PEER_BAD_MESSAGE',
    message: err instanceof Error ? err.message : String(err),
  };
}

async function runCommand(
  payload: Uint8Array,
  handle: (request: ControlRequest) => Promise<ControlReply>,
): Promise<CloudCommandOutcome> {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, error: { code: 'ERR_PEER_BAD_MESSAGE', message: 'cloud command is not JSON' } };
  }
  const requestId = requestIdOf(body);
  const idField = requestId === undefined ? {} : { requestId };
  try {
    const result = await handle(parseControlRequest(body));
    return { ...idField, ok: true, result };
  } catch (err) {
    return { ...idField, ok: false, error: errorOf(err) };
  }
}

export async function serveCloudCommands(options: {
  ipc: IpcClient;
  thingName: string;
  handle: (request: ControlRequest) => Promise<ControlReply>;
  logger: Logger;
}): Promise<IpcSubscription> {
  const { ipc, thingName, handle, logger } = options;
  return ipc.subscribeToIoTCore(cloudCommandTopic(thingName), async (message) => {
    const outcome = await runCommand(message.payload, handle);
    if (!outcome.ok) logger.warn('cloud command refused', { error: outcome.error });
    try {
      await ipc.publishToIoTCore(cloudEventTopic(thingName), JSON.stringify(outcome));
    } catch (err) {
      // The outcome is lost only if IoT Core is unreachable; the command itself has run.
      logger.error('cannot report a cloud command outcome', { err });
    }
  });
}
