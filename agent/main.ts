// Entry point of the com.edgeshift.PeerAgent Greengrass component (recipes/com.edgeshift.PeerAgent.yaml):
// connects IPC, validates the configuration, runs the peer agent until SIGTERM (then close(): running
// calls finish, moves into this node that are not past cutover are dropped).
import { runComponent } from '../components/common/component-runtime.ts';
import { peerAgentComponentOptions } from './peer-agent-component.ts';

await runComponent(peerAgentComponentOptions());
