// Prints the simple_switch_CLI commands for a topology file, one per line, ready to pipe into
// `simple_switch_CLI --thrift-port 9090`:
//   npx tsx scripts/generate-switch-commands.ts p4/control-plane/lab.yaml [--out commands.txt]
// The topology is validated first (p4/control-plane/topology.ts); nothing is printed if it is invalid.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

import { renderSwitchCommands } from '../p4/control-plane/switch-commands.ts';
import { loadTopology } from '../p4/control-plane/topology.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string' } },
});

const topologyPath = positionals[0];
if (topologyPath === undefined || positionals.length !== 1) {
  console.error('usage: generate-switch-commands.ts <topology.yaml> [--out <file>]');
  process.exit(2);
}

try {
  const text = renderSwitchCommands(await loadTopology(topologyPath)).join('\n') + '\n';
  if (values.out === undefined) process.stdout.write(text);
  else await writeFile(values.out, text);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
