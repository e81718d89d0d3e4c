// One child process of a namespace testbed (started by NetnsTestbed.spawn through `ip netns exec`, which
// execs the command, so the pid is the command's own): its stdout as lines, a bounded wait for a line,
// stdin writes, and a stop that escalates to SIGKILL. Invariant: every wait is bounded and its timeout
// error carries the process's last output, so a failing system test says what the process did.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

import { EdgeShiftError } from '../../components/common/errors.ts';

export interface NetnsProcessOptions {
  /** Added to the environment of the test process. */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Names the process in errors. */
  readonly label?: string;
}

interface LineWaiter {
  readonly matches: (line: string) => boolean;
  readonly resolve: (line: string) => void;
}

const KEPT_LINES = 200;
const STOP_GRACE_MS = 5000;

export class NetnsProcess {
  readonly label: string;
  /** Resolves with the exit code (or the signal name) when the process has exited. */
  readonly exited: Promise<number | string>;
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  /** Lines dropped from the front of `lines` (bounded memory); absolute index = dropped + position. */
  private droppedLines = 0;
  private readonly waiters = new Set<LineWaiter>();
  private hasExited = false;

  private constructor(child: ChildProcess, label: string) {
    this.child = child;
    this.label = label;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        resolve(code ?? signal ?? 'unknown');
      });
      child.once('error', (err) => {
        this.keep(`spawn error: ${err.message}`);
        this.hasExited = true;
        resolve('spawn-error');
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    createInterface({ input: child.stderr! }).on('line', (line) => this.keep(`stderr: ${line}`));
  }

  static start(argv: readonly string[], options: NetnsProcessOptions = {}): NetnsProcess {
    const [command = '', ...args] = argv;
    const child = spawn(command, args, {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new NetnsProcess(child, options.label ?? argv.join(' '));
  }

  get isRunning(): boolean {
    return !this.hasExited;
  }

  /** The last lines of stdout and stderr, for assertion messages. */
  output(lastLines = 30): string {
    return this.lines.slice(-lastLines).join('\n');
  }

  /** Writes one line to the process's stdin. */
  writeLine(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** Lines seen so far (stdout and stderr): pass it as `sinceLine` to wait only for later lines. */
  get lineCount(): number {
    return this.droppedLines + this.lines.length;
  }

  /**
   * The first line at or after `sinceLine` (already seen or to come) for which `matches` is true;
   * throws ERR_TESTBED_TIMEOUT after `timeoutMs` or when the process exits first.
   */
  async waitForLine(
    matches: (line: string) => boolean,
    timeoutMs: number,
    what: string,
    sinceLine = 0,
  ): Promise<string> {
    const seen = this.lines.slice(Math.max(0, sinceLine - this.droppedLines)).find(matches);
    if (seen !== undefined) return seen;
    let waiter: LineWaiter | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<string>((resolve) => {
          waiter = { matches, resolve };
          this.waiters.add(waiter);
        }),
        this.exited.then((code) => {
          throw this.failure(`exited (${code}) before ${what}`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(this.failure(`did not show ${what} within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      if (waiter !== undefined) this.waiters.delete(waiter);
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL now (for exit hooks, where nothing can be awaited). */
  kill(): void {
    if (!this.hasExited) this.child.kill('SIGKILL');
  }

  private onLine(line: string): void {
    this.keep(line);
    for (const waiter of [...this.waiters]) {
      if (!waiter.matches(line)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(line);
    }
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length <= KEPT_LINES * 2) return;
    this.droppedLines += this.lines.length - KEPT_LINES;
    this.lines.splice(0, this.lines.length - KEPT_LINES);
  }

  private failure(problem: string): EdgeShiftError {
    return new EdgeShiftError(
      'ERR_TESTBED_TIMEOUT',
      `${this.label} ${problem}; last output:\n${this.output()}`,
      {
        context: { label: this.label },
      },
    );
  }
}
