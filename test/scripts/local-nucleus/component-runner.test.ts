import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { hasErrorCode } from '../../../components/common/errors.ts';
import {
  ComponentRunner,
  orderByDependencies,
  type RunnableComponent,
} from '../../../scripts/local-nucleus/component-runner.ts';
import { LocalNucleus, type ComponentState } from '../../../scripts/local-nucleus/local-nucleus.ts';
import { parseRecipe, selectManifest } from '../../../scripts/local-nucleus/recipe.ts';
import { processGroupSchedTimes } from '../../../scripts/testbed/process-cpu.ts';

/** tsx's ESM loader by absolute path: a component's cwd is its work directory, outside the project. */
const TSX_LOADER = path.join(
  path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')),
  'dist',
  'loader.mjs',
);

interface FixtureOptions {
  readonly name: string;
  readonly lifecycle: string;
  readonly dependencies?: string;
  readonly configuration?: Record<string, unknown>;
}

/** A RunnableComponent from a small recipe; `lifecycle` is YAML indented for the manifest's Lifecycle. */
function fixture(rootPath: string, options: FixtureOptions): RunnableComponent {
  const text = [
    "RecipeFormatVersion: '2020-01-25'",
    `ComponentName: ${options.name}`,
    "ComponentVersion: '1.0.0'",
    options.dependencies ?? '',
    'Manifests:',
    "  - Platform: { os: '*' }",
    '    Lifecycle:',
    options.lifecycle,
  ].join('\n');
  const recipe = parseRecipe(text, options.name);
  return {
    recipe,
    manifest: selectManifest(recipe),
    configuration: options.configuration ?? {},
    artifactsPath: path.join(rootPath, 'packages', 'artifacts', options.name, '1.0.0'),
    decompressedPath: path.join(rootPath, 'packages', 'artifacts-unarchived', options.name, '1.0.0'),
  };
}

/** Polls a condition until it holds or the deadline passes (for effects of a child process). */
async function eventually(
  condition: () => Promise<boolean> | boolean,
  what: string,
  deadlineMs = 15_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function readLines(file: string): Promise<string[]> {
  if (!existsSync(file)) return [];
  return (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('scripts/local-nucleus/component-runner', function () {
  this.timeout(40_000);
  let root: string;
  let nucleus: LocalNucleus;
  let runner: ComponentRunner;
  let states: { name: string; state: ComponentState }[];

  function stateSequence(name: string): ComponentState[] {
    return states.filter((event) => event.name === name).map((event) => event.state);
  }

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'edgeshift-runner-'));
    nucleus = new LocalNucleus({ socketPath: path.join(root, 'ipc.socket'), thingName: 'thing-7' });
    await nucleus.start();
    states = [];
    nucleus.on('component-state', (event) => states.push(event));
    runner = new ComponentRunner({
      nucleus,
      rootPath: root,
      thingName: 'thing-7',
      region: 'eu-west-1',
      ggcVersion: '2.14.1',
      restartDelayMs: 0,
      stopGraceMs: 500,
    });
  });

  afterEach(async () => {
    await runner.stop();
    await nucleus.close();
    await rm(root, { recursive: true, force: true });
  });

  it('runs Install then Startup with the nucleus environment, Setenv and substituted variables', async () => {
    const component = fixture(root, {
      name: 'com.test.Env',
      configuration: { port: 8080 },
      lifecycle: [
        '      Setenv: { MODE: fast, PORT: "{configuration:/port}" }',
        '      Install: echo install >> {kernel:rootPath}/order.txt',
        '      Startup:',
        '        Script: echo startup >> {kernel:rootPath}/order.txt && env > {kernel:rootPath}/env.txt',
        '        Setenv: { STEP: startup }',
        '      Shutdown: echo shutdown >> {kernel:rootPath}/order.txt',
      ].join('\n'),
    });
    await runner.start([component]);
    assert.deepEqual(
      stateSequence('com.test.Env'),
      ['INSTALLED', 'STARTING', 'RUNNING'],
      'Startup finishing makes the component RUNNING',
    );
    const env = new Map(
      (await readLines(path.join(root, 'env.txt'))).map((line) => [
        line.slice(0, line.indexOf('=')),
        line.slice(line.indexOf('=') + 1),
      ]),
    );
    assert.equal(
      env.get('AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT'),
      nucleus.socketPath,
      'socket',
    );
    assert.match(env.get('SVCUID') ?? '', /^[0-9a-f]{32}$/, 'a per-component token');
    assert.equal(env.get('AWS_IOT_THING_NAME'), 'thing-7', 'thing name');
    assert.equal(env.get('AWS_REGION'), 'eu-west-1', 'region');
    assert.equal(env.get('GGC_VERSION'), '2.14.1', 'nucleus version');
    assert.equal(env.get('MODE'), 'fast', 'lifecycle Setenv');
    assert.equal(env.get('PORT'), '8080', 'a configuration variable in Setenv');
    assert.equal(env.get('STEP'), 'startup', 'step Setenv');
    await runner.stop();
    assert.deepEqual(
      await readLines(path.join(root, 'order.txt')),
      ['install', 'startup', 'shutdown'],
      'order',
    );
    assert.equal(nucleus.getState('com.test.Env'), 'FINISHED', 'stopped components are FINISHED');
  });

  it('gives each component its own SVCUID that the nucleus accepts', async () => {
    const a = fixture(root, {
      name: 'com.test.A',
      lifecycle: '      Startup: echo $SVCUID > {kernel:rootPath}/a.txt',
    });
    const b = fixture(root, {
      name: 'com.test.B',
      lifecycle: '      Startup: echo $SVCUID > {kernel:rootPath}/b.txt',
    });
    await runner.start([a, b]);
    const [tokenA] = await readLines(path.join(root, 'a.txt'));
    const [tokenB] = await readLines(path.join(root, 'b.txt'));
    assert.notEqual(tokenA, tokenB, 'tokens differ');
  });

  it("appends a component's stdout and stderr to logs/<ComponentName>.log", async () => {
    const component = fixture(root, {
      name: 'com.test.Logs',
      lifecycle: '      Run: echo to-stdout; echo to-stderr >&2; exec sleep 60',
    });
    await runner.start([component]);
    const logFile = path.join(root, 'logs', 'com.test.Logs.log');
    await eventually(async () => (await readLines(logFile)).length >= 2, 'both lines in the log');
    assert.deepEqual((await readLines(logFile)).sort(), ['to-stderr', 'to-stdout'], 'both streams captured');
  });

  it('marks a Run that exits 0 FINISHED', async () => {
    await runner.start([fixture(root, { name: 'com.test.Once', lifecycle: '      Run: "true"' })]);
    await eventually(() => nucleus.getState('com.test.Once') === 'FINISHED', 'FINISHED');
    assert.deepEqual(
      stateSequence('com.test.Once'),
      ['INSTALLED', 'STARTING', 'RUNNING', 'FINISHED'],
      'sequence',
    );
  });

  it('restarts a failing Run after Recover and marks it BROKEN after 3 errors', async () => {
    const component = fixture(root, {
      name: 'com.test.Failing',
      lifecycle: [
        '      Run: echo run >> {kernel:rootPath}/runs.txt; exit 3',
        '      Recover: echo recover >> {kernel:rootPath}/recover.txt',
      ].join('\n'),
    });
    await runner.start([component]);
    await eventually(() => nucleus.getState('com.test.Failing') === 'BROKEN', 'BROKEN');
    assert.equal((await readLines(path.join(root, 'runs.txt'))).length, 3, 'ran three times');
    assert.equal((await readLines(path.join(root, 'recover.txt'))).length, 3, 'Recover after each error');
    const sequence = stateSequence('com.test.Failing');
    assert.equal(sequence.filter((state) => state === 'ERRORED').length, 3, 'three ERRORED');
    assert.equal(sequence.at(-1), 'BROKEN', 'ends BROKEN');
  });

  it('retries a failing Install and never runs Run when it stays broken', async () => {
    const component = fixture(root, {
      name: 'com.test.BadInstall',
      lifecycle: [
        '      Install: echo install >> {kernel:rootPath}/install.txt; exit 1',
        '      Run: echo run >> {kernel:rootPath}/run.txt',
      ].join('\n'),
    });
    await runner.start([component]);
    assert.equal(nucleus.getState('com.test.BadInstall'), 'BROKEN', 'start settles on BROKEN');
    assert.equal((await readLines(path.join(root, 'install.txt'))).length, 3, 'Install tried three times');
    assert.deepEqual(await readLines(path.join(root, 'run.txt')), [], 'Run never started');
  });

  it('skips a step whose Skipif holds', async () => {
    const component = fixture(root, {
      name: 'com.test.Skip',
      lifecycle: [
        '      Install:',
        '        Script: echo install >> {kernel:rootPath}/order.txt',
        '        Skipif: onpath sh',
        '      Startup:',
        '        Script: echo startup >> {kernel:rootPath}/order.txt',
        '        Skipif: exists /definitely/not/here',
      ].join('\n'),
    });
    await runner.start([component]);
    assert.deepEqual(
      await readLines(path.join(root, 'order.txt')),
      ['startup'],
      'Install skipped, Startup not',
    );
  });

  it('restarts a component that reports ERRORED over IPC', async () => {
    const script = path.join(import.meta.dirname, 'fixtures', 'report-state-component.ts');
    const component = fixture(root, {
      name: 'com.test.Reporter',
      lifecycle: `      Run: echo run >> {kernel:rootPath}/runs.txt; exec "${process.execPath}" --import ${TSX_LOADER} ${script} {kernel:rootPath}/marker.txt`,
    });
    const runner2 = new ComponentRunner({
      nucleus,
      rootPath: root,
      thingName: 'thing-7',
      restartDelayMs: 0,
      stopGraceMs: 2000,
      baseEnv: { ...process.env, NODE_PATH: '' },
    });
    try {
      await runner2.start([component]);
      await eventually(() => existsSync(path.join(root, 'marker.txt')), 'the first run to report ERRORED');
      await eventually(
        async () => (await readLines(path.join(root, 'runs.txt'))).length === 2,
        'a second run',
      );
      assert.deepEqual(
        stateSequence('com.test.Reporter').slice(0, 7),
        ['INSTALLED', 'STARTING', 'RUNNING', 'ERRORED', 'INSTALLED', 'STARTING', 'RUNNING'],
        'ERRORED reported over IPC leads to a restart',
      );
    } finally {
      await runner2.stop();
    }
  });

  it('restarts a running component on request: SIGTERM, then Run again, with no error counted', async () => {
    const component = fixture(root, {
      name: 'com.test.Restartable',
      lifecycle: [
        '      Install: echo install >> {kernel:rootPath}/install.txt',
        "      Run: echo $$ >> {kernel:rootPath}/pids.txt; trap 'echo term >> {kernel:rootPath}/terms.txt; exit 0' TERM; sleep 60 & wait",
      ].join('\n'),
    });
    await runner.start([component]);
    await eventually(async () => (await readLines(path.join(root, 'pids.txt'))).length === 1, 'first Run');
    await nucleus.mergeConfiguration('com.test.Restartable', { kept: true });
    await runner.restart('com.test.Restartable');
    await eventually(async () => (await readLines(path.join(root, 'pids.txt'))).length === 2, 'second Run');
    assert.deepEqual(await readLines(path.join(root, 'terms.txt')), ['term'], 'the first Run got SIGTERM');
    assert.equal((await readLines(path.join(root, 'install.txt'))).length, 1, 'Install is not run again');
    assert.equal(nucleus.getState('com.test.Restartable'), 'RUNNING');
    assert.equal(nucleus.getConfiguration('com.test.Restartable').kept, true, 'the configuration stays');
    const sequence = stateSequence('com.test.Restartable');
    assert.deepEqual(sequence.slice(-4), ['STOPPING', 'INSTALLED', 'STARTING', 'RUNNING']);
    assert.ok(!sequence.includes('ERRORED'), 'a requested restart is no failure');
    await assert.rejects(runner.restart('com.test.Nothing'), /no component com.test.Nothing/);
  });

  it('kills a Run that ignores SIGTERM after the grace period', async () => {
    const component = fixture(root, {
      name: 'com.test.Stubborn',
      lifecycle: "      Run: trap '' TERM; echo $$ > {kernel:rootPath}/pid.txt; sleep 60",
    });
    await runner.start([component]);
    await eventually(async () => (await readLines(path.join(root, 'pid.txt'))).length === 1, 'pid written');
    const pid = Number((await readLines(path.join(root, 'pid.txt')))[0]);
    assert.ok(isAlive(pid), 'running before stop');
    await runner.stop();
    assert.ok(!isAlive(pid), 'SIGKILL ended the process that ignored SIGTERM');
  });

  it("names each running component's process group, whose CPU time processGroupSchedTimes reads", async () => {
    // Spins for 400 ms, then waits: its CPU time stays at about 400 ms while it runs.
    const spin = path.join(root, 'spin.cjs');
    await writeFile(
      spin,
      'const end = Date.now() + 400; while (Date.now() < end); setTimeout(() => {}, 60000);',
    );
    await runner.start([
      fixture(root, { name: 'com.test.Busy', lifecycle: `      Run: ${process.execPath} ${spin}` }),
      fixture(root, { name: 'com.test.Idle', lifecycle: '      Run: sleep 60' }),
    ]);
    const groups = runner.processGroups();
    assert.deepEqual([...groups.keys()].sort(), ['com.test.Busy', 'com.test.Idle']);
    const busy = groups.get('com.test.Busy') as number;
    const idle = groups.get('com.test.Idle') as number;
    const cpuOf = (group: number): number => processGroupSchedTimes([group]).get(group)?.cpuMs ?? 0;
    await eventually(() => cpuOf(busy) >= 300, 'the busy group used CPU');
    const used = processGroupSchedTimes([busy, idle, 999_999_999]);
    assert.ok((used.get(busy)?.cpuMs ?? 0) < 2000, `busy group: ${used.get(busy)?.cpuMs} ms`);
    assert.ok((used.get(idle)?.cpuMs ?? 0) < 100, `idle group: ${used.get(idle)?.cpuMs} ms`);
    assert.ok((used.get(busy)?.waitMs ?? -1) >= 0, 'the wait for a core is read as well');
    assert.deepEqual(used.get(999_999_999), { cpuMs: 0, waitMs: 0 }, 'a group with no process used nothing');
    await runner.stop();
    assert.equal(runner.processGroups().size, 0, 'no group once the components stopped');
  });

  it('lets a program the Run started close within the grace period, although the Run itself ends at once', async () => {
    const component = fixture(root, {
      name: 'com.test.SlowClose',
      // The Run's shell dies on SIGTERM; the program it started takes 200 ms to close, as a service does.
      lifecycle: `      Run: sh -c "trap 'sleep 0.2; echo closed > {kernel:rootPath}/closed.txt; exit 0' TERM; echo \\$\\$ > {kernel:rootPath}/pid.txt; sleep 60 & wait" & wait`,
    });
    await runner.start([component]);
    await eventually(async () => (await readLines(path.join(root, 'pid.txt'))).length === 1, 'pid written');
    await runner.stop();
    assert.deepEqual(
      await readLines(path.join(root, 'closed.txt')),
      ['closed'],
      'it closed before stop() ended',
    );
  });

  it('ends what a Run left behind in its group, also when the Run itself ended on SIGTERM', async () => {
    const component = fixture(root, {
      name: 'com.test.LeftBehind',
      // The Run's shell dies on SIGTERM; the shell it started ignores it (as a hung process would).
      lifecycle: `      Run: sh -c "trap '' TERM; echo \\$\\$ > {kernel:rootPath}/pid.txt; sleep 60" & wait`,
    });
    await runner.start([component]);
    await eventually(async () => (await readLines(path.join(root, 'pid.txt'))).length === 1, 'pid written');
    const pid = Number((await readLines(path.join(root, 'pid.txt')))[0]);
    assert.ok(isAlive(pid), 'running before stop');
    await runner.stop();
    await eventually(() => !isAlive(pid), 'the process left behind is ended', 2000);
  });

  it('ends a Startup still running when the node stops', async () => {
    const component = fixture(root, {
      name: 'com.test.SlowStart',
      lifecycle: '      Startup: echo $$ > {kernel:rootPath}/pid.txt; exec sleep 60',
    });
    const starting = runner.start([component]);
    await eventually(async () => (await readLines(path.join(root, 'pid.txt'))).length === 1, 'Startup began');
    const pid = Number((await readLines(path.join(root, 'pid.txt')))[0]);
    await runner.stop();
    await starting;
    assert.ok(!isAlive(pid), 'the Startup process was ended');
    assert.equal(nucleus.getState('com.test.SlowStart'), 'FINISHED', 'stopped');
  });

  it('starts dependencies first and stops dependents first', async () => {
    const step = (name: string): string =>
      [
        `      Startup: echo start-${name} >> {kernel:rootPath}/order.txt`,
        `      Shutdown: echo stop-${name} >> {kernel:rootPath}/order.txt`,
      ].join('\n');
    const app = fixture(root, {
      name: 'com.test.App',
      lifecycle: step('app'),
      dependencies: [
        'ComponentDependencies:',
        '  com.test.Base: { VersionRequirement: ^1.0.0 }',
        '  aws.greengrass.Nucleus: { VersionRequirement: ">=2.0.0" }',
        '  com.test.Absent: { VersionRequirement: "*", DependencyType: SOFT }',
      ].join('\n'),
    });
    const base = fixture(root, { name: 'com.test.Base', lifecycle: step('base') });
    await runner.start([app, base]);
    await runner.stop();
    assert.deepEqual(
      await readLines(path.join(root, 'order.txt')),
      ['start-base', 'start-app', 'stop-app', 'stop-base'],
      'dependency order',
    );
  });

  it('does not start a component whose HARD dependency is BROKEN', async () => {
    const base = fixture(root, { name: 'com.test.BrokenBase', lifecycle: '      Install: exit 1' });
    const app = fixture(root, {
      name: 'com.test.NeedsBase',
      lifecycle: '      Startup: echo started > {kernel:rootPath}/app.txt',
      dependencies: 'ComponentDependencies:\n  com.test.BrokenBase: { VersionRequirement: "*" }',
    });
    await runner.start([app, base]);
    assert.equal(nucleus.getState('com.test.BrokenBase'), 'BROKEN', 'the dependency broke');
    assert.ok(!existsSync(path.join(root, 'app.txt')), 'the dependent never ran');
  });

  describe('orderByDependencies', () => {
    it('refuses a missing HARD dependency and a cycle with ERR_NODE_DEPENDENCY', () => {
      const needy = fixture(root, {
        name: 'com.test.Needy',
        lifecycle: '      Run: "true"',
        dependencies: 'ComponentDependencies:\n  com.test.Gone: { VersionRequirement: "*" }',
      });
      assert.throws(
        () => orderByDependencies([needy]),
        (err: unknown) =>
          hasErrorCode(err, 'ERR_NODE_DEPENDENCY') && /com\.test\.Gone/.test((err as Error).message),
        'missing dependency named',
      );
      const x = fixture(root, {
        name: 'com.test.X',
        lifecycle: '      Run: "true"',
        dependencies: 'ComponentDependencies:\n  com.test.Y: { VersionRequirement: "*" }',
      });
      const y = fixture(root, {
        name: 'com.test.Y',
        lifecycle: '      Run: "true"',
        dependencies: 'ComponentDependencies:\n  com.test.X: { VersionRequirement: "*" }',
      });
      assert.throws(
        () => orderByDependencies([x, y]),
        (err: unknown) =>
          hasErrorCode(err, 'ERR_NODE_DEPENDENCY') &&
          /com\.test\.X -> com\.test\.Y -> com\.test\.X/.test((err as Error).message),
        'cycle named',
      );
    });
  });
});
