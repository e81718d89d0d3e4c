import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { main, parseTarget } from '../../../scripts/loadgen/cli.ts';
import type { LoadReport } from '../../../scripts/loadgen/load-generator.ts';
import { startFaultInjectingServer } from './fault-injecting-udp-server.ts';
import type { FaultInjectingServer, ServerFaults } from './fault-injecting-udp-server.ts';

describe('cli', function () {
  this.timeout(30_000);

  describe('parseTarget', () => {
    const good: Array<[string, { host: string; port: number }]> = [
      ['127.0.0.1:7000', { host: '127.0.0.1', port: 7000 }],
      ['localhost:1', { host: 'localhost', port: 1 }],
      ['[::1]:65535', { host: '::1', port: 65_535 }],
    ];
    for (const [input, expected] of good) {
      it(`reads ${input}`, () => {
        assert.deepEqual(parseTarget(input), expected);
      });
    }
    for (const input of ['127.0.0.1', '127.0.0.1:0', 'host:65536', ':80']) {
      it(`refuses ${input}`, () => {
        assert.throws(() => parseTarget(input), /expected host:port/);
      });
    }
  });

  describe('main', () => {
    let server: FaultInjectingServer | undefined;
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'loadgen-cli-'));
    });

    afterEach(async () => {
      await server?.close();
      server = undefined;
      await rm(dir, { recursive: true, force: true });
    });

    async function runCli(faults: ServerFaults): Promise<{ code: number; printed: string[] }> {
      server = await startFaultInjectingServer('node-a', faults);
      const printed: string[] = [];
      const argv = [
        'node',
        'cli.ts',
        '--target',
        `127.0.0.1:${server.port}`,
        '--rate',
        '200',
        '--duration-ms',
        '500',
      ];
      argv.push(
        '--keys',
        '5',
        '--service',
        'counter',
        '--json-out',
        join(dir, 'run.json'),
        '--svg-out',
        join(dir, 'run.svg'),
      );
      argv.push('--html-out', join(dir, 'run.html'), '--markers', '[{"atMs":250,"label":"cutover"}]');
      const code = await main(argv, (text) => printed.push(text));
      return { code, printed };
    }

    it('exits 0 on a clean run and writes the JSON report, the SVG and the HTML with the marker', async () => {
      const { code, printed } = await runCli({});
      assert.equal(code, 0, 'a clean run succeeds');
      assert.match(printed[0] ?? '', /^t_ms {2}sent {2}replied/, 'the timeline table comes first');
      assert.match(printed[1] ?? '', /100\/100 sent/, 'then the summary');
      const report = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as LoadReport;
      assert.deepEqual([report.totals.sent, report.totals.replied, report.totals.lost], [100, 100, 0]);
      const svg = await readFile(join(dir, 'run.svg'), 'utf8');
      assert.equal(XMLValidator.validate(svg), true, 'the SVG is well-formed');
      assert.ok(svg.includes('>cutover</text>'), 'the marker is drawn');
      assert.ok(
        (await readFile(join(dir, 'run.html'), 'utf8')).includes('<td>cutover</td>'),
        'the HTML lists it',
      );
    });

    it('exits 1 when a reply is lost', async () => {
      const { code } = await runCli({ dropReplyOf: (n) => n === 10 });
      assert.equal(code, 1, 'a lost request fails the run');
    });
  });
});
