// Gives the node CLI IPC access to a local node: registers the debug principal com.edgeshift.DebugCli
// with the local nucleus (local pub/sub on every topic, like a debug component on a device) and writes
// <root>/debug-ipc.json {socketPath, svcuid, thingName} for `edgeshift --ipc <file>`. Called by the local
// node's starters and tests. Invariant: the file is readable by its owner only (it holds a token).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { LocalNucleus } from '../local-nucleus/local-nucleus.ts';
import type { IpcAccess } from './ipc-access.ts';

export const DEBUG_CLI_COMPONENT = 'com.edgeshift.DebugCli';
export const DEBUG_IPC_FILE_NAME = 'debug-ipc.json';

/** The accessControl of the debug principal: local publish and subscribe, any topic. */
export const DEBUG_CLI_ACCESS_CONTROL = {
  'aws.greengrass.ipc.pubsub': {
    [`${DEBUG_CLI_COMPONENT}:pubsub:1`]: {
      policyDescription: 'Node CLI: read and write any local topic for debugging.',
      operations: ['aws.greengrass#PublishToTopic', 'aws.greengrass#SubscribeToTopic'],
      resources: ['*'],
    },
  },
} as const;

export interface DebugAccessOptions {
  readonly rootPath: string;
  readonly thingName: string;
}

/** Registers the debug principal and writes its access file; returns the file path and its content. */
export async function grantDebugAccess(
  nucleus: LocalNucleus,
  options: DebugAccessOptions,
): Promise<{ filePath: string; access: IpcAccess }> {
  const { svcuid } = nucleus.registerComponent({
    name: DEBUG_CLI_COMPONENT,
    version: '1.0.0',
    configuration: { accessControl: DEBUG_CLI_ACCESS_CONTROL },
  });
  const access: IpcAccess = { socketPath: nucleus.socketPath, svcuid, thingName: options.thingName };
  const filePath = path.join(options.rootPath, DEBUG_IPC_FILE_NAME);
  await writeFile(filePath, JSON.stringify(access, null, 2) + '\n', { mode: 0o600 });
  return { filePath, access };
}
