// How the node CLI reaches the Greengrass IPC socket: an access file given with --ipc (the local node
// writes <root>/debug-ipc.json for the debug principal), else the variables a nucleus gives a component
// (AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT, SVCUID). Used by cli-context.ts and doctor.
// Invariant: the file is validated here once; callers get a complete IpcAccess or an EdgeShiftError.
import { readFile } from 'node:fs/promises';

import { Ajv } from 'ajv';

import { EdgeShiftError } from '../../components/common/errors.ts';

export interface IpcAccess {
  readonly socketPath: string;
  readonly svcuid: string;
  readonly thingName?: string;
}

export const SOCKET_ENV = 'AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT';

const validateAccessFile = new Ajv({ allErrors: true }).compile<IpcAccess>({
  type: 'object',
  required: ['socketPath', 'svcuid'],
  properties: {
    socketPath: { type: 'string', minLength: 1 },
    svcuid: { type: 'string', minLength: 1 },
    thingName: { type: 'string', minLength: 1 },
  },
});

async function readAccessFile(filePath: string): Promise<IpcAccess> {
  let document: unknown;
  try {
    document = JSON.parse(await readFile(filePath, 'utf8'));
  } catch (cause) {
    throw new EdgeShiftError('ERR_CLI_IPC_FILE_INVALID', `cannot read --ipc ${filePath}: ${String(cause)}`, {
      context: { filePath },
      cause,
    });
  }
  if (!validateAccessFile(document)) {
    const reasons = (validateAccessFile.errors ?? [])
      .map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`)
      .join('; ');
    throw new EdgeShiftError(
      'ERR_CLI_IPC_FILE_INVALID',
      `--ipc ${filePath} is not an access file: ${reasons}`,
      {
        context: { filePath },
      },
    );
  }
  return document;
}

/** The IPC access of this run: the --ipc file if given, else the component environment. */
export async function resolveIpcAccess(
  ipcFile: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<IpcAccess> {
  if (ipcFile !== undefined) return readAccessFile(ipcFile);
  const socketPath = env[SOCKET_ENV];
  const svcuid = env.SVCUID;
  if (socketPath === undefined || socketPath === '' || svcuid === undefined || svcuid === '') {
    throw new EdgeShiftError(
      'ERR_CLI_NO_IPC_ACCESS',
      `no IPC access: pass --ipc <root>/debug-ipc.json (written by the local node) or run inside a component with ${SOCKET_ENV} and SVCUID set`,
    );
  }
  const thingName = env.AWS_IOT_THING_NAME;
  return thingName === undefined || thingName === ''
    ? { socketPath, svcuid }
    : { socketPath, svcuid, thingName };
}
