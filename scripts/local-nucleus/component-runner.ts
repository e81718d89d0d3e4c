// Runs components from their recipes as the Greengrass nucleus does: registers each with the LocalNucleus
// (its SVCUID), then Install → Startup | Run with the nucleus environment and Setenv, output appended to
// <root>/logs/<ComponentName>.log, Recover and a restart on failure (BROKEN after maxErrorCount errors, an
// UpdateState ERRORED counting as one), dependency order on start and its reverse on stop (Shutdown, then
// SIGTERM, then SIGKILL). Used by local-node.ts. Invariant: every process it spawns is in its own process
// group and is ended by stop(); it never signals a process it did not start.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { EdgeShiftError } from '../../components/common/errors.ts';
import { createLogger, type Logger } from '../../components/common/logger.ts';
import type { ComponentState, ComponentStateEvent, LocalNucleus } from './local-nucleus.ts';
import type { LifecycleStep, LifecycleStepName, Manifest, Recipe } from './recipe.ts';
import { substituteVariables, type ComponentVariables, type VariableScope } from './recipe-variables.ts';

/** A component ready to run: its recipe, the manifest for this platform and where its artifacts are. */
export interface RunnableComponent {
  readonly recipe: Recipe;
  readonly manifest: Manifest;
  /** The configuration to register: the recipe's DefaultConfiguration (with accessControl variables resolved). */
  readonly configuration: Record<string, unknown>;
  /** The deployment's configuration merge, applied through the nucleus before the lifecycle starts. */
  readonly merge?: Record<string, unknown>;
  readonly artifactsPath: string;
  readonly decompressedPath: string;
}

export interface ComponentRunnerOptions {
  readonly nucleus: LocalNucleus;
  /** The nucleus root: logs/ and work/ live under it ({kernel:rootPath}). */
  readonly rootPath: string;
  readonly thingName: string;
  readonly region?: string;
  readonly ggcVersion?: string;
  /** Errors before BROKEN (Greengrass: 3). */
  readonly maxErrorCount?: number;
  /** Wait before a restart after an error (default 1000 ms). */
  readonly restartDelayMs?: number;
  /** Grace between SIGTERM and SIGKILL when stopping a process (default 15 000 ms). */
  readonly stopGraceMs?: number;
  /** Environment every component inherits before the nucleus variables (default process.env). */
  readonly baseEnv?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
}

// Greengrass defaults for step timeouts (developer guide, recipe reference: Lifecycle).
const DEFAULT_TIMEOUT_SECONDS: Readonly<Record<LifecycleStepName, number | undefined>> = {
  install: 120,
  startup: 120,
  shutdown: 15,
  recover: 60,
  run: undefined,
};

const SETTLED_STATES: ReadonlySet<ComponentState> = new Set(['RUNNING', 'FINISHED', 'BROKEN']);
/** How often a stop looks whether the processes of a component are gone. */
const GROUP_POLL_MS = 20;

/** Start order: each component after the components it depends on (aws.greengrass.* are the nucleus's). */
export function orderByDependencies(components: readonly RunnableComponent[]): RunnableComponent[] {
  const byName = new Map(components.map((component) => [component.recipe.componentName, component]));
  const ordered: RunnableComponent[] = [];
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (component: RunnableComponent, chain: readonly string[]): void => {
    const name = component.recipe.componentName;
    if (done.has(name)) return;
    if (visiting.has(name)) {
      throw new EdgeShiftError('ERR_NODE_DEPENDENCY', `dependency cycle: ${[...chain, name].join(' -> ')}`);
    }
    visiting.add(name);
    for (const [dependency, { dependencyType }] of Object.entries(component.recipe.dependencies)) {
      const target = byName.get(dependency);
      if (target !== undefined) visit(target, [...chain, name]);
      else if (dependencyType === 'HARD' && !dependency.startsWith('aws.greengrass.')) {
        throw new EdgeShiftError(
          'ERR_NODE_DEPENDENCY',
          `${name} has a HARD dependency on ${dependency}, which is not deployed`,
          {
            context: { component: name, dependency },
          },
        );
      }
    }
    visiting.delete(name);
    done.add(name);
    ordered.push(component);
  };
  for (const component of components) visit(component, []);
  return ordered;
}

function isOnPath(command: string, envPath: string): boolean {
  return envPath.split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, command), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** `Skipif: onpath <cmd>` or `exists <file>`: true when the step must be skipped. */
export function shouldSkip(skipIf: string | undefined, envPath: string): boolean {
  if (skipIf === undefined) return false;
  const [kind, ...rest] = skipIf.trim().split(/\s+/);
  const target = rest.join(' ');
  if (kind === 'onpath') return isOnPath(target, envPath);
  if (kind === 'exists') return existsSync(target);
  return false;
}

/**
 * Signals the child's whole process group: sh -c and whatever it started. Once the child itself has
 * exited, only `leftBehind` still signals the group, for processes it started that outlived it.
 */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals, leftBehind = false): void {
  const hasExited = child.exitCode !== null || child.signalCode !== null;
  if (child.pid === undefined || (hasExited && !leftBehind)) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
}

/** True while a process of group `groupId` runs (zombies, which only wait to be reaped, do not count). */
function groupIsRunning(groupId: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so read after its last ')'.
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(group) === groupId && state !== 'Z') return true;
  }
  return false;
}

/**
 * SIGTERM to the script's whole group, then up to `graceMs` for every process in it to end, then
 * SIGKILL to what is left. The group counts, not the script: `sh -c` ends on SIGTERM at once, while
 * the program it started may still be closing (a function host writing its state checkpoints).
 */
async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  const exited = exitOf(child);
  signalGroup(child, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  await Promise.race([exited, delay(graceMs)]);
  while (child.pid !== undefined && groupIsRunning(child.pid) && Date.now() < deadline) {
    await delay(GROUP_POLL_MS);
  }
  // A process the script started can outlive it: a component hung in a native crash handler kept
  // its ports, and every test bed after it failed to bind them.
  signalGroup(child, 'SIGKILL', true);
  await exited;
}

/** One component under supervision: its lifecycle, error count and Run process. */
class SupervisedComponent {
  readonly name: string;
  private errorCount = 0;
  private runProcess: ChildProcess | undefined;
  /** An Install, Startup or Recover step in progress (stop() ends it before Shutdown). */
  private stepProcess: ChildProcess | undefined;
  private isStopping = false;
  private isSettingState = false;
  private readonly settled: Promise<void>;
  private markSettled: () => void = () => undefined;
  private svcuid = '';
  private readonly logPath: string;
  private readonly workPath: string;
  private readonly onNucleusState = (event: ComponentStateEvent): void => this.nucleusStateChanged(event);

  /** The Run process's group (its pid: it leads a group of its own), while it runs. */
  get processGroupId(): number | undefined {
    const child = this.runProcess;
    return child === undefined || child.exitCode !== null || child.signalCode !== null
      ? undefined
      : child.pid;
  }

  constructor(
    readonly component: RunnableComponent,
    private readonly runner: ComponentRunner,
    private readonly options: Required<Omit<ComponentRunnerOptions, 'logger' | 'baseEnv'>> & {
      baseEnv: NodeJS.ProcessEnv;
    },
    private readonly logger: Logger,
  ) {
    this.name = component.recipe.componentName;
    this.logPath = path.join(options.rootPath, 'logs', `${this.name}.log`);
    this.workPath = path.join(options.rootPath, 'work', this.name);
    this.settled = new Promise((resolve) => (this.markSettled = resolve));
  }

  /** Registers and starts; resolves once RUNNING, FINISHED or BROKEN. */
  async start(): Promise<void> {
    mkdirSync(path.dirname(this.logPath), { recursive: true });
    mkdirSync(this.workPath, { recursive: true });
    const { nucleus } = this.options;
    this.svcuid = nucleus.registerComponent({
      name: this.name,
      version: this.component.recipe.componentVersion,
      configuration: this.component.configuration,
    }).svcuid;
    if (this.component.merge !== undefined) {
      const result = await nucleus.mergeConfiguration(this.name, this.component.merge);
      if (!result.accepted)
        this.logger.warn('configuration merge refused', { component: this.name, reason: result.reason });
    }
    nucleus.on('component-state', this.onNucleusState);
    void this.runLifecycle(true);
    await this.settled;
  }

  async stop(): Promise<void> {
    if (this.isStopping) return;
    this.isStopping = true;
    this.markSettled();
    const state = this.options.nucleus.getState(this.name);
    if (state !== 'BROKEN' && state !== 'FINISHED') this.setState('STOPPING');
    await this.endLifecycle(this.runProcess);
    this.options.nucleus.off('component-state', this.onNucleusState);
    if (this.options.nucleus.getState(this.name) === 'STOPPING') this.setState('FINISHED');
  }

  /**
   * As `greengrass-cli component restart`: ends the running lifecycle as stop() does (Shutdown, then
   * SIGTERM, then SIGKILL) and runs it again without Install. Registration and configuration stay.
   */
  async restart(): Promise<void> {
    if (this.isStopping) return;
    const running = this.runProcess;
    this.runProcess = undefined; // its exit is this restart's doing, not a failure
    this.setState('STOPPING');
    await this.endLifecycle(running);
    if (!this.isStopping) await this.runLifecycle(false);
  }

  /** Ends a step in progress, runs Shutdown, then ends the Run process `run`. */
  private async endLifecycle(run: ChildProcess | undefined): Promise<void> {
    if (this.stepProcess !== undefined) await terminate(this.stepProcess, this.options.stopGraceMs);
    const shutdown = this.component.manifest.lifecycle.shutdown;
    if (shutdown !== undefined) await this.runStep('shutdown', shutdown);
    if (run !== undefined) await terminate(run, this.options.stopGraceMs);
  }

  private setState(state: ComponentState): void {
    this.isSettingState = true;
    try {
      this.options.nucleus.setState(this.name, state);
    } finally {
      this.isSettingState = false;
    }
    this.logger.info('component state', { component: this.name, state });
    if (SETTLED_STATES.has(state)) this.markSettled();
  }

  /** A component that reports ERRORED over IPC is treated as failed, as by the nucleus. */
  private nucleusStateChanged(event: ComponentStateEvent): void {
    if (event.name !== this.name || this.isSettingState || this.isStopping || event.state !== 'ERRORED')
      return;
    this.logger.warn('component reported ERRORED', { component: this.name });
    const running = this.runProcess;
    this.runProcess = undefined;
    void (async () => {
      if (running !== undefined) await terminate(running, this.options.stopGraceMs);
      await this.fail('reported ERRORED', false);
    })();
  }

  private async runLifecycle(withInstall: boolean): Promise<void> {
    const { lifecycle } = this.component.manifest;
    if (withInstall && lifecycle.install !== undefined) {
      if (!(await this.runStep('install', lifecycle.install))) return this.fail('Install failed', true);
    }
    if (this.isStopping) return;
    this.setState('INSTALLED');
    if (lifecycle.startup !== undefined) {
      this.setState('STARTING');
      if (!(await this.runStep('startup', lifecycle.startup))) return this.fail('Startup failed', false);
      if (!this.isStopping) this.setState('RUNNING');
      return;
    }
    if (
      lifecycle.run !== undefined &&
      !shouldSkip(lifecycle.run.skipIf, this.environment(lifecycle.run).PATH ?? '')
    ) {
      this.setState('STARTING');
      this.startRun(lifecycle.run);
      return;
    }
    this.setState('FINISHED');
  }

  private startRun(step: LifecycleStep): void {
    const child = this.spawnStep('run', step);
    this.runProcess = child;
    // The nucleus marks a Run component RUNNING as soon as its script starts.
    this.setState('RUNNING');
    void exitOf(child).then(({ code, signal }) => {
      if (this.runProcess !== child || this.isStopping) return;
      this.runProcess = undefined;
      if (code === 0) {
        this.setState('FINISHED');
        return;
      }
      void this.fail(`Run exited with ${code ?? signal ?? 'unknown'}`, false);
    });
  }

  private async fail(reason: string, inInstall: boolean): Promise<void> {
    if (this.isStopping) return;
    this.errorCount += 1;
    this.logger.warn('component failed', { component: this.name, reason, errorCount: this.errorCount });
    this.setState('ERRORED');
    const recover = this.component.manifest.lifecycle.recover;
    if (recover !== undefined) await this.runStep('recover', recover);
    if (this.errorCount >= this.options.maxErrorCount) {
      this.setState('BROKEN');
      return;
    }
    await delay(this.options.restartDelayMs);
    if (!this.isStopping) await this.runLifecycle(inInstall);
  }

  /** Runs a step to its end; false on a non-zero exit or its timeout. A skipped step counts as done. */
  private async runStep(name: LifecycleStepName, step: LifecycleStep): Promise<boolean> {
    const env = this.environment(step);
    if (shouldSkip(step.skipIf, env.PATH ?? '')) return true;
    const child = this.spawnStep(name, step);
    if (name !== 'shutdown') this.stepProcess = child;
    const timeoutSeconds = step.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS[name];
    let hasTimedOut = false;
    const timer =
      timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            hasTimedOut = true;
            signalGroup(child, 'SIGKILL');
          }, timeoutSeconds * 1000);
    const { code } = await exitOf(child);
    if (this.stepProcess === child) this.stepProcess = undefined;
    clearTimeout(timer);
    if (hasTimedOut)
      this.logger.warn('lifecycle step timed out', { component: this.name, step: name, timeoutSeconds });
    return code === 0 && !hasTimedOut;
  }

  private spawnStep(name: LifecycleStepName, step: LifecycleStep): ChildProcess {
    if (step.requiresPrivilege && process.getuid?.() !== 0) {
      this.logger.warn('RequiresPrivilege ignored: the local node runs steps as its own user', {
        component: this.name,
        step: name,
      });
    }
    const script = substituteVariables(step.script, this.runner.scopeFor(this.name));
    const logFd = openSync(this.logPath, 'a');
    try {
      const child = spawn('sh', ['-c', script], {
        cwd: this.workPath,
        env: this.environment(step),
        detached: true, // own process group, so stop() ends the script and its children together
        stdio: ['ignore', logFd, logFd],
      });
      child.on('error', (err) =>
        this.logger.error('could not spawn a lifecycle step', { component: this.name, error: err }),
      );
      return child;
    } finally {
      closeSync(logFd);
    }
  }

  private environment(step: LifecycleStep): NodeJS.ProcessEnv {
    const scope = this.runner.scopeFor(this.name);
    const setenv: Record<string, string> = {};
    for (const [key, value] of Object.entries({
      ...this.component.manifest.lifecycle.setenv,
      ...step.setenv,
    })) {
      setenv[key] = substituteVariables(value, scope);
    }
    const { nucleus, thingName, region, ggcVersion } = this.options;
    return {
      ...this.options.baseEnv,
      AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: nucleus.socketPath,
      SVCUID: this.svcuid,
      AWS_IOT_THING_NAME: thingName,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      GGC_VERSION: ggcVersion,
      ...setenv,
    };
  }
}

export class ComponentRunner {
  private readonly supervised = new Map<string, SupervisedComponent>();
  private order: string[] = [];
  private isStopping = false;
  private readonly logger: Logger;
  private readonly settings: ConstructorParameters<typeof SupervisedComponent>[2];

  constructor(private readonly options: ComponentRunnerOptions) {
    this.logger = options.logger ?? createLogger('component-runner');
    this.settings = {
      nucleus: options.nucleus,
      rootPath: options.rootPath,
      thingName: options.thingName,
      region: options.region ?? 'us-east-1',
      ggcVersion: options.ggcVersion ?? '2.14.0',
      maxErrorCount: options.maxErrorCount ?? 3,
      restartDelayMs: options.restartDelayMs ?? 1000,
      stopGraceMs: options.stopGraceMs ?? 15_000,
      baseEnv: options.baseEnv ?? process.env,
    };
  }

  /** Starts the components in dependency order, each once the ones before it settled. */
  async start(components: readonly RunnableComponent[]): Promise<void> {
    for (const component of orderByDependencies(components)) {
      if (this.isStopping) return; // stop() came while earlier components were starting
      const brokenDependency = this.brokenHardDependency(component);
      if (brokenDependency !== undefined) {
        // As on the nucleus, a component does not start while a HARD dependency is BROKEN.
        this.logger.error('not started: a HARD dependency is BROKEN', {
          component: component.recipe.componentName,
          dependency: brokenDependency,
        });
        continue;
      }
      const supervised = new SupervisedComponent(component, this, this.settings, this.logger);
      this.supervised.set(supervised.name, supervised);
      this.order.push(supervised.name);
      await supervised.start();
    }
  }

  private brokenHardDependency(component: RunnableComponent): string | undefined {
    return Object.entries(component.recipe.dependencies).find(
      ([name, { dependencyType }]) =>
        dependencyType === 'HARD' &&
        this.supervised.has(name) &&
        this.options.nucleus.getState(name) === 'BROKEN',
    )?.[0];
  }

  /** Restarts one running component (restart() of its supervision). */
  async restart(name: string): Promise<void> {
    const supervised = this.supervised.get(name);
    if (supervised === undefined) {
      throw new EdgeShiftError('ERR_NUCLEUS_UNKNOWN_COMPONENT', `no component ${name} runs on this node`, {
        context: { component: name },
      });
    }
    await supervised.restart();
  }

  /** Stops every component, dependents first. */
  async stop(): Promise<void> {
    this.isStopping = true;
    for (const name of [...this.order].reverse()) await this.supervised.get(name)?.stop();
    this.order = [];
  }

  /** Process group of each component whose Run process is running (e.g. to read its CPU time). */
  processGroups(): ReadonlyMap<string, number> {
    const groups = new Map<string, number>();
    for (const [name, supervised] of this.supervised) {
      const group = supervised.processGroupId;
      if (group !== undefined) groups.set(name, group);
    }
    return groups;
  }

  /** Recipe-variable scope for one component, with the current configuration of every component. */
  scopeFor(componentName: string): VariableScope {
    const components = new Map<string, ComponentVariables>();
    for (const [name, supervised] of this.supervised) {
      components.set(name, {
        artifactsPath: supervised.component.artifactsPath,
        decompressedPath: supervised.component.decompressedPath,
        configuration: this.options.nucleus.getConfiguration(name),
      });
    }
    return {
      componentName,
      thingName: this.options.thingName,
      rootPath: this.options.rootPath,
      components,
    };
  }
}
