// Entry point of the com.edgeshift.FunctionHost Greengrass component (recipes/com.edgeshift.FunctionHost.yaml):
// connects IPC, validates the configuration, runs the function host until SIGTERM.
import { runComponent } from '../common/component-runtime.ts';
import { functionHostComponentOptions } from './function-host-component.ts';

await runComponent(functionHostComponentOptions());
