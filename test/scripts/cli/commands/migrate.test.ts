// `edgeshift migrate` between two full local nodes (the two-node test bed: reference data plane, local
// nuclei running the function host, peer agent and node monitor from their recipes), with the CLI on
// node-a's nucleus as the debug principal. Uses the test bed's fixed 127.0.0.10-12 addresses.
import assert from 'node:assert/strict';

import { grantDebugAccess } from '../../../../scripts/cli/debug-access.ts';
import { runCli } from '../../../../scripts/cli/edgeshift.ts';
import { TwoNodeTestbed } from '../../../../scripts/testbed/two-node-testbed.ts';

describe('scripts/cli/commands/migrate', function () {
  this.timeout(120_000);
  let bed: TwoNodeTestbed;
  let accessFile: string;

  before(async () => {
    bed = await TwoNodeTestbed.start({ adminPort: 0 });
    const nodeA = bed.nodeInfo('node-a');
    accessFile = (
      await grantDebugAccess(bed.localNode('node-a').nucleus, {
        rootPath: nodeA.rootPath,
        thingName: 'node-a',
      })
    ).filePath;
  });

  after(async () => {
    await bed?.close();
  });

  it('moves sensor-stats to node-b, showing its states and the timing numbers, and the data plane follows', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const exitCode = await runCli(
      [
        '--ipc',
        accessFile,
        '--data-plane-admin',
        bed.dataPlane.adminUrl ?? '',
        'migrate',
        'sensor-stats',
        '--to',
        'node-b',
        '--option',
        'in-network',
      ],
      { out: (line) => out.push(line), err: (line) => err.push(line), env: {} },
    );
    const text = out.join('\n');
    assert.equal(exitCode, 0, `migrate succeeds:\n${text}\n${err.join('\n')}`);
    assert.match(text, /^migration [\w-]+: sensor-stats node-a → node-b$/m, 'start line');
    assert.match(
      text,
      /^migration [\w-]+ committed: sensor-stats node-a → node-b, epoch 2, in-network cutover$/m,
      'result line',
    );
    assert.match(text, /^ +\d+ +HANDING_OVER +COMMITTED$/m, 'the timeline ends in COMMITTED');
    assert.match(
      text,
      /^total \d+\.\d ms, transfer \d+\.\d ms, freeze window \d+\.\d ms \(service frozen \d+\.\d ms\), cutover \d+\.\d ms$/m,
      'timings',
    );
    const services: string[] = [];
    await runCli(['--data-plane-admin', bed.dataPlane.adminUrl ?? '', 'services'], {
      out: (line) => services.push(line),
      err: () => undefined,
      env: {},
    });
    assert.match(
      services.join('\n'),
      /^sensor-stats +1 +node-b +2$/m,
      'the data plane owner moved with the CLAIM',
    );
  });
});
