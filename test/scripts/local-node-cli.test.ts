import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

import { InvalidArgumentError } from 'commander';

import { runCli } from '../../scripts/cli/edgeshift.ts';
import { parseMerge } from '../../scripts/local-node-cli.ts';
import { PROJECT_ROOT } from '../../scripts/build-artifacts.ts';

const RECIPE = `
RecipeFormatVersion: '2020-01-25'
ComponentName: com.test.Cli
ComponentVersion: '1.0.0'
ComponentConfiguration:
  DefaultConfiguration:
    word: default
Manifests:
  - Platform: { os: '*' }
    Lifecycle:
      Startup: echo "start {configuration:/word} $AWS_IOT_THING_NAME" >> {kernel:rootPath}/trace.txt
      Shutdown: echo stop >> {kernel:rootPath}/trace.txt
`;

describe('scripts/local-node-cli', function () {
  this.timeout(60_000);

  describe('parseMerge', () => {
    it('accepts an object of objects keyed by component name', () => {
      assert.deepEqual(parseMerge('{"com.a.B":{"x":1}}'), { 'com.a.B': { x: 1 } }, 'parsed');
    });
    for (const [text, reason] of [
      ['not json', /not JSON/],
      ['[1]', /must be a JSON object/],
      ['{"com.a.B": 3}', /the merge for com\.a\.B must be a JSON object/],
    ] as const) {
      it(`rejects ${text}`, () => {
        assert.throws(
          () => parseMerge(text),
          (err: unknown) => err instanceof InvalidArgumentError && reason.test(err.message),
        );
      });
    }
  });

  it('runs the components with the merge until SIGTERM, then runs Shutdown and exits 0', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-cli-'));
    try {
      await mkdir(path.join(dir, 'recipes'));
      await mkdir(path.join(dir, 'artifacts'));
      await writeFile(path.join(dir, 'recipes', 'cli.yaml'), RECIPE);
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(PROJECT_ROOT, 'scripts', 'local-node-cli.ts'),
          '--recipe-dir',
          path.join(dir, 'recipes'),
          '--artifact-dir',
          path.join(dir, 'artifacts'),
          '--root',
          path.join(dir, 'root'),
          '--thing-name',
          'cli-thing',
          '--merge',
          '{"com.test.Cli":{"word":"merged"}}',
        ],
        {
          cwd: PROJECT_ROOT,
          env: { ...process.env, EDGESHIFT_LOG_LEVEL: 'info' },
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let output = '';
      child.stdout.setEncoding('utf8');
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: string) => {
          output += chunk;
          if (output.includes('"local node running"')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${output}`)));
      });
      assert.equal(
        await readFile(path.join(dir, 'root', 'trace.txt'), 'utf8'),
        'start merged cli-thing\n',
        'started',
      );
      const accessFile = path.join(dir, 'root', 'debug-ipc.json');
      const access = JSON.parse(await readFile(accessFile, 'utf8')) as Record<string, unknown>;
      assert.equal(
        access.socketPath,
        path.join(dir, 'root', 'ipc.socket'),
        'the node CLI access file names the socket',
      );
      assert.equal(access.thingName, 'cli-thing');
      assert.equal((await stat(accessFile)).mode & 0o777, 0o600, 'the access file holds a token: owner only');
      const cliErrors: string[] = [];
      const cliExit = await runCli(['--ipc', accessFile, 'ipc', 'pub', 'edgeshift/debug/ping', '{}'], {
        out: () => undefined,
        err: (line) => cliErrors.push(line),
        env: {},
      });
      assert.equal(cliExit, 0, `the node CLI publishes as the debug principal: ${cliErrors.join('; ')}`);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, 'exit code 0 after SIGTERM');
      assert.equal(
        await readFile(path.join(dir, 'root', 'trace.txt'), 'utf8'),
        'start merged cli-thing\nstop\n',
        'Shutdown ran',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
