// The sample application's functions as built-in modules of the function host (`builtin:sample-app/*`
// in its configuration), so a bundled artifact carries them. Chain: ingest -> sensor-stats -> alert.
import type { FunctionModule } from '../function-host/function-loader.ts';
import * as alert from './alert.ts';
import * as ingest from './ingest.ts';
import * as sensorStats from './sensor-stats.ts';

export const SAMPLE_APP_FUNCTIONS: Readonly<Record<string, FunctionModule>> = {
  'sample-app/ingest': ingest,
  'sample-app/sensor-stats': sensorStats,
  'sample-app/alert': alert,
};
