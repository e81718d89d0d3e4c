// Entry point of com.edgeshift.NodeMonitor under Greengrass or the local node (the recipe runs the
// bundle of this file). Everything happens in node-monitor-component.ts; without Greengrass use
// scripts/run-monitor.ts instead.
import { runNodeMonitorComponent } from './node-monitor-component.ts';

await runNodeMonitorComponent();
