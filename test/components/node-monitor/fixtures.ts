// Stages the node monitor's fixture files (test/fixtures/node-monitor/<name>/) into a scratch directory
// that a sampler reads, so a test can move a sampler from one snapshot of /proc or a cgroup to the next.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FIXTURE_ROOT = join(import.meta.dirname, '..', '..', 'fixtures', 'node-monitor');

export class StagedFixture {
  private constructor(readonly path: string) {}

  static async create(): Promise<StagedFixture> {
    return new StagedFixture(await mkdtemp(join(tmpdir(), 'edgeshift-monitor-')));
  }

  /** Replaces the files of the scratch directory with those of fixture `name`. */
  async use(name: string): Promise<void> {
    await cp(join(FIXTURE_ROOT, name), this.path, { recursive: true, force: true });
  }

  async remove(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
  }
}
