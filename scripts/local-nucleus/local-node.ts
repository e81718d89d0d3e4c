// A whole edge node without Greengrass: a LocalNucleus plus the components of a recipe directory and an
// artifact directory laid out as `greengrass-cli deployment create --recipeDir --artifactDir` takes them
// (artifacts/<ComponentName>/<version>/<file>), each with an optional configuration merge. Artifacts are
// copied (and ZIPs unarchived) under <root>/packages as the nucleus does. Used by scripts/local-node-cli.ts,
// the demo and end-to-end tests. Invariant: start() either runs every component or leaves nothing running.
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { unzipSync } from 'fflate';

import { EdgeShiftError } from '../../components/common/errors.ts';
import { createLogger, type Logger } from '../../components/common/logger.ts';
import { ComponentRunner, type RunnableComponent } from './component-runner.ts';
import { LocalNucleus } from './local-nucleus.ts';
import { artifactFileName, parseRecipe, selectManifest, type Platform, type Recipe } from './recipe.ts';
import { artifactPaths, substituteDeep } from './recipe-variables.ts';

export interface LocalNodeOptions {
  readonly recipeDir: string;
  readonly artifactDir: string;
  /** The nucleus root: packages/, logs/, work/ and the IPC socket live under it. */
  readonly rootPath: string;
  readonly thingName: string;
  /** Per component: the configuration merge of the deployment ({ComponentName: mergeObject}). */
  readonly merge?: Readonly<Record<string, Record<string, unknown>>>;
  readonly mqttBrokerUrl?: string;
  readonly region?: string;
  readonly ggcVersion?: string;
  /** Default <root>/ipc.socket (keep it under 108 bytes, the Unix socket path limit). */
  readonly socketPath?: string;
  readonly platform?: Platform;
  readonly restartDelayMs?: number;
  readonly stopGraceMs?: number;
  /** Environment the components inherit before the nucleus variables (default process.env). */
  readonly componentEnv?: NodeJS.ProcessEnv;
  /** Only these components of the recipe directory (default all). */
  readonly components?: readonly string[];
  readonly logger?: Logger;
}

const RECIPE_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Reads every recipe of a directory; two recipes for one component are refused. */
export async function readRecipeDir(recipeDir: string): Promise<Recipe[]> {
  const files = (await readdir(recipeDir)).filter((file) => RECIPE_EXTENSIONS.has(path.extname(file))).sort();
  const recipes = new Map<string, Recipe>();
  for (const file of files) {
    const recipe = parseRecipe(await readFile(path.join(recipeDir, file), 'utf8'), file);
    if (recipes.has(recipe.componentName)) {
      throw new EdgeShiftError(
        'ERR_RECIPE_INVALID',
        `two recipes for ${recipe.componentName} in ${recipeDir}`,
        {
          context: { component: recipe.componentName },
        },
      );
    }
    recipes.set(recipe.componentName, recipe);
  }
  return [...recipes.values()];
}

/** Extracts a ZIP into dir, refusing entries that would land outside it. */
async function unarchiveZip(zipPath: string, dir: string): Promise<void> {
  const entries = unzipSync(new Uint8Array(await readFile(zipPath)));
  for (const [name, data] of Object.entries(entries)) {
    const target = path.resolve(dir, name);
    if (!target.startsWith(path.resolve(dir) + path.sep)) {
      throw new EdgeShiftError(
        'ERR_NODE_START_FAILED',
        `ZIP entry ${name} of ${zipPath} escapes its directory`,
      );
    }
    if (name.endsWith('/')) {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, data);
  }
}

export class LocalNode {
  readonly nucleus: LocalNucleus;
  private readonly runner: ComponentRunner;
  private readonly logger: Logger;
  private names: string[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly options: LocalNodeOptions) {
    this.logger = options.logger ?? createLogger('local-node');
    this.nucleus = new LocalNucleus({
      socketPath: options.socketPath ?? path.join(options.rootPath, 'ipc.socket'),
      thingName: options.thingName,
      region: options.region ?? 'us-east-1',
      ggcVersion: options.ggcVersion ?? '2.14.0',
      ...(options.mqttBrokerUrl === undefined ? {} : { mqttBrokerUrl: options.mqttBrokerUrl }),
    });
    this.runner = new ComponentRunner({
      nucleus: this.nucleus,
      rootPath: options.rootPath,
      thingName: options.thingName,
      region: options.region ?? 'us-east-1',
      ggcVersion: options.ggcVersion ?? '2.14.0',
      ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
      ...(options.stopGraceMs === undefined ? {} : { stopGraceMs: options.stopGraceMs }),
      ...(options.componentEnv === undefined ? {} : { baseEnv: options.componentEnv }),
      logger: this.logger.child('runner'),
    });
  }

  /** Names of the components this node runs, in the order they were given. */
  get componentNames(): readonly string[] {
    return this.names;
  }

  /** Process group of each running component: sh -c and the program it started. */
  processGroups(): ReadonlyMap<string, number> {
    return this.runner.processGroups();
  }

  logPathOf(componentName: string): string {
    return path.join(this.options.rootPath, 'logs', `${componentName}.log`);
  }

  async start(): Promise<void> {
    try {
      const components = await this.prepare();
      await mkdir(this.options.rootPath, { recursive: true });
      await this.nucleus.start();
      this.names = components.map((component) => component.recipe.componentName);
      await this.runner.start(components);
      this.logger.info('local node started', { thingName: this.options.thingName, components: this.names });
    } catch (err) {
      await this.close();
      if (err instanceof EdgeShiftError) throw err;
      throw new EdgeShiftError(
        'ERR_NODE_START_FAILED',
        `local node could not start: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Restarts one component as `greengrass-cli component restart` does; its configuration stays. */
  restartComponent(name: string): Promise<void> {
    return this.runner.restart(name);
  }

  /** Stops the components (dependents first), then the nucleus; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.runner.stop();
      await this.nucleus.close();
      this.logger.info('local node stopped', { thingName: this.options.thingName });
    })();
    return this.closing;
  }

  private async prepare(): Promise<RunnableComponent[]> {
    const { recipeDir, merge = {}, components: only } = this.options;
    let recipes = await readRecipeDir(recipeDir);
    if (only !== undefined) recipes = recipes.filter((recipe) => only.includes(recipe.componentName));
    const known = new Set(recipes.map((recipe) => recipe.componentName));
    for (const name of [...Object.keys(merge), ...(only ?? [])]) {
      if (!known.has(name)) {
        throw new EdgeShiftError('ERR_NODE_START_FAILED', `no recipe for ${name} in ${recipeDir}`, {
          context: { component: name },
        });
      }
    }
    return Promise.all(recipes.map((recipe) => this.prepareComponent(recipe, merge[recipe.componentName])));
  }

  private async prepareComponent(
    recipe: Recipe,
    merge: Record<string, unknown> | undefined,
  ): Promise<RunnableComponent> {
    const { rootPath, artifactDir, thingName } = this.options;
    const manifest = selectManifest(recipe, this.options.platform);
    const paths = artifactPaths(rootPath, recipe.componentName, recipe.componentVersion);
    await rm(paths.artifactsPath, { recursive: true, force: true });
    await rm(paths.decompressedPath, { recursive: true, force: true });
    await mkdir(paths.artifactsPath, { recursive: true });
    await mkdir(paths.decompressedPath, { recursive: true });
    for (const artifact of manifest.artifacts) {
      const fileName = artifactFileName(artifact);
      const source = path.join(artifactDir, recipe.componentName, recipe.componentVersion, fileName);
      const target = path.join(paths.artifactsPath, fileName);
      await copyFile(source, target).catch((err: unknown) => {
        throw new EdgeShiftError(
          'ERR_NODE_ARTIFACT_MISSING',
          `artifact ${source} of ${recipe.componentName} not found`,
          {
            context: { component: recipe.componentName, artifact: source },
            cause: err,
          },
        );
      });
      if (artifact.isExecutable) await chmod(target, 0o755);
      // The nucleus unpacks archive.zip into <decompressedPath>/archive/.
      if (artifact.unarchive === 'ZIP') {
        await unarchiveZip(
          target,
          path.join(paths.decompressedPath, path.basename(fileName, path.extname(fileName))),
        );
      }
    }
    const scope = {
      componentName: recipe.componentName,
      thingName,
      rootPath,
      components: new Map([[recipe.componentName, { ...paths, configuration: recipe.defaultConfiguration }]]),
    };
    // Policies may name the thing ({iot:thingName}) in their resources; the nucleus resolves it.
    const configuration: Record<string, unknown> = structuredClone({ ...recipe.defaultConfiguration });
    if (configuration.accessControl !== undefined) {
      configuration.accessControl = substituteDeep(configuration.accessControl, scope);
    }
    return { recipe, manifest, configuration, ...(merge === undefined ? {} : { merge }), ...paths };
  }
}
