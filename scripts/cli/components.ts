// The EdgeShift components a node runs and how the CLI reads their lifecycle state (GetComponentDetails).
// Used by the status and doctor commands. A component the nucleus does not know is reported as
// NOT_DEPLOYED rather than as a failure of the command.
import { PEER_AGENT_COMPONENT } from '../../agent/agent-config.ts';
import { hasErrorCode } from '../../components/common/errors.ts';
import type { IpcClient } from '../../components/common/ipc/index.ts';
import { FUNCTION_HOST_COMPONENT } from '../../components/function-host/function-host-config.ts';
import { NODE_MONITOR_COMPONENT } from '../../components/node-monitor/node-monitor-config.ts';

export const EDGESHIFT_COMPONENTS = [
  NODE_MONITOR_COMPONENT,
  FUNCTION_HOST_COMPONENT,
  PEER_AGENT_COMPONENT,
] as const;

export interface ComponentStateView {
  readonly componentName: string;
  readonly version: string | null;
  /** The nucleus's lifecycle state, or NOT_DEPLOYED. */
  readonly state: string;
}

export async function readComponentStates(ipc: IpcClient): Promise<ComponentStateView[]> {
  return Promise.all(
    EDGESHIFT_COMPONENTS.map(async (componentName) => {
      try {
        const details = await ipc.getComponentDetails(componentName);
        return { componentName, version: details.version, state: details.state };
      } catch (err) {
        if (isNotFound(err)) return { componentName, version: null, state: 'NOT_DEPLOYED' };
        throw err;
      }
    }),
  );
}

function isNotFound(err: unknown): boolean {
  if (hasErrorCode(err, 'ERR_IPC_OPERATION_FAILED')) return /not found/i.test((err as Error).message);
  return false;
}
