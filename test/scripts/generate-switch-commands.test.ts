import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { renderSwitchCommands } from '../../p4/control-plane/switch-commands.ts';
import { loadTopology } from '../../p4/control-plane/topology.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = 'scripts/generate-switch-commands.ts';
const LAB = 'p4/control-plane/lab.yaml';

/** The lab topology's commands, written out by hand from p4/control-plane/lab.yaml. */
const LAB_COMMANDS = [
  'table_set_default EdgeShiftIngress.policy_table EdgeShiftIngress.set_policy 8000 5000 3 64 0',
  'table_add EdgeShiftIngress.node_table EdgeShiftIngress.set_node 1 => 10.0.1.1 00:00:0a:00:01:01 1 2 1',
  'table_add EdgeShiftIngress.node_table EdgeShiftIngress.set_node 2 => 10.0.2.2 00:00:0a:00:02:02 2 1 1',
  'table_add EdgeShiftIngress.service_table EdgeShiftIngress.steer_to_owner 10.0.100.1 9101 => 1',
  'table_add EdgeShiftIngress.service_table EdgeShiftIngress.balance_between 10.0.100.1 9100 => 2 1 2',
  'table_add EdgeShiftIngress.service_table EdgeShiftIngress.balance_between 10.0.100.1 9102 => 3 1 2',
  'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.1.1 9101 => 10.0.100.1',
  'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.1.1 9100 => 10.0.100.1',
  'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.1.1 9102 => 10.0.100.1',
  'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.2.2 9101 => 10.0.100.1',
  'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.2.2 9100 => 10.0.100.1',
  'table_add EdgeShiftIngress.reply_table EdgeShiftIngress.set_vip_source 10.0.2.2 9102 => 10.0.100.1',
  'table_add EdgeShiftIngress.ipv4_lpm EdgeShiftIngress.ipv4_forward 10.0.1.0/24 => 00:00:0a:00:01:01 1',
  'table_add EdgeShiftIngress.ipv4_lpm EdgeShiftIngress.ipv4_forward 10.0.2.0/24 => 00:00:0a:00:02:02 2',
  'table_add EdgeShiftIngress.ipv4_lpm EdgeShiftIngress.ipv4_forward 10.0.3.0/24 => 00:00:0a:00:03:03 3',
];

describe('scripts/generate-switch-commands', () => {
  it('renders the lab topology line by line', async () => {
    const commands = renderSwitchCommands(await loadTopology(join(ROOT, LAB)));
    assert.equal(commands.length, LAB_COMMANDS.length, 'number of commands');
    LAB_COMMANDS.forEach((expected, i) => assert.equal(commands[i], expected, `line ${i + 1}`));
  });

  it('names only tables and actions declared in p4/edgeshift.p4', async () => {
    const program = await readFile(join(ROOT, 'p4/edgeshift.p4'), 'utf8');
    const names = new Set(LAB_COMMANDS.flatMap((line) => line.split(' ').slice(1, 3)));
    for (const name of names) {
      const local = name.replace(/^EdgeShiftIngress\./, '');
      assert.match(program, new RegExp(`(table|action) ${local}\\b`), `${name} is not in the program`);
    }
  });

  it('prints the commands for a topology file on stdout', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', SCRIPT, LAB], { cwd: ROOT });
    assert.equal(stdout, LAB_COMMANDS.join('\n') + '\n', 'stdout');
  });

  it('writes them to --out, and exits 1 with the reason for an invalid topology', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgeshift-commands-'));
    try {
      const out = join(dir, 'commands.txt');
      await run(process.execPath, ['--import', 'tsx', SCRIPT, LAB, '--out', out], { cwd: ROOT });
      assert.equal(await readFile(out, 'utf8'), LAB_COMMANDS.join('\n') + '\n', '--out file');

      const bad = join(dir, 'bad.yaml');
      const lab = await readFile(join(ROOT, LAB), 'utf8');
      await writeFile(bad, lab.replace('loadLowBp: 5000', 'loadLowBp: 9000'));
      await assert.rejects(
        run(process.execPath, ['--import', 'tsx', SCRIPT, bad], { cwd: ROOT }),
        (err: unknown) => {
          const failure = err as { code?: number; stdout?: string; stderr?: string };
          assert.equal(failure.code, 1, 'exit code');
          assert.equal(failure.stdout, '', 'nothing half-printed');
          assert.match(failure.stderr ?? '', /loadHighBp 8000 must be above loadLowBp 9000/, 'reason');
          return true;
        },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
