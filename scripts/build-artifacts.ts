// Builds the Greengrass artifacts of every component (`npm run build:artifacts`): bundles each entry with
// esbuild into one ESM file and ships it as bundle.zip (main.mjs plus the files the code reads relative to
// itself, e.g. the peer agent's .proto), and what cannot be bundled, the aws-crt native binary, as one ZIP
// per CPU (aws-crt-linux-x64.zip, aws-crt-linux-arm64.zip; the recipe's Setenv points aws-crt at it).
// Writes <out>/<ComponentName>/<version>/... and <out>/recipes/<ComponentName>-<version>.yaml with
// BUCKET_NAME replaced, so both `greengrass-cli deployment create --recipeDir --artifactDir` and an S3
// upload work. Reads recipes/; used by the end-to-end test and scripts/cloud/. Prints artifact sizes.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Command } from 'commander';
import { build } from 'esbuild';
import { zipSync } from 'fflate';

import { EdgeShiftError } from '../components/common/errors.ts';
import { parseRecipe, type Recipe } from './local-nucleus/recipe.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The entry point bundled for each component. */
export const COMPONENT_ENTRIES: Readonly<Record<string, string>> = {
  'com.edgeshift.NodeMonitor': 'components/node-monitor/main.ts',
  'com.edgeshift.FunctionHost': 'components/function-host/main.ts',
  'com.edgeshift.PeerAgent': 'agent/main.ts',
};

/**
 * Files a component reads relative to its own module (new URL('./x', import.meta.url)), by path from the
 * entry's directory; they go into bundle.zip at the same relative path beside main.mjs.
 */
export const COMPONENT_RESOURCES: Readonly<Record<string, readonly string[]>> = {
  'com.edgeshift.PeerAgent': ['proto/edgeshift_peer.proto'],
};

/** aws-crt's directory under dist/bin for each ZIP (glibc builds: Greengrass core devices run glibc). */
const CRT_BINARIES: readonly { zipName: string; binDir: string }[] = [
  { zipName: 'aws-crt-linux-x64', binDir: 'linux-x64-glibc' },
  { zipName: 'aws-crt-linux-arm64', binDir: 'linux-arm64-glibc' },
];

/** The placeholder in recipes/ Artifacts URIs. */
const BUCKET_PLACEHOLDER = 'BUCKET_NAME';

// In an ESM bundle, CommonJS code (aws-crt, the SDK) still needs require, __filename and __dirname;
// aws-crt loads its .node binary with a computed require().
const ESM_BANNER = [
  "import { createRequire as __edgeshiftCreateRequire } from 'node:module';",
  "import { fileURLToPath as __edgeshiftFileUrlToPath } from 'node:url';",
  "import { dirname as __edgeshiftDirname } from 'node:path';",
  'const require = __edgeshiftCreateRequire(import.meta.url);',
  'const __filename = __edgeshiftFileUrlToPath(import.meta.url);',
  'const __dirname = __edgeshiftDirname(__filename);',
].join('\n');

export interface BuildOptions {
  /** Output directory (default <project>/artifacts). */
  readonly outDir?: string;
  /** S3 bucket written into the Artifacts URIs (default: the BUCKET_NAME placeholder stays). */
  readonly bucket?: string;
  /** Only these components (default all recipes). */
  readonly components?: readonly string[];
  readonly recipeDir?: string;
  /** Where progress lines go (default console.log). */
  readonly print?: (line: string) => void;
}

export interface BuiltArtifact {
  readonly path: string;
  readonly bytes: number;
}

export interface BuiltComponent {
  readonly componentName: string;
  readonly componentVersion: string;
  readonly recipePath: string;
  readonly artifacts: readonly BuiltArtifact[];
  /** Size of main.mjs before compression. */
  readonly bundleBytes: number;
}

export interface BuildResult {
  readonly outDir: string;
  readonly recipeDir: string;
  readonly built: readonly BuiltComponent[];
  /** Components whose entry file does not exist yet. */
  readonly skipped: readonly string[];
}

function crtBinDir(): string {
  // aws-crt as the SDK resolves it, whatever the hoisting.
  const sdkRequire = createRequire(createRequire(import.meta.url).resolve('aws-iot-device-sdk-v2'));
  return path.join(path.dirname(sdkRequire.resolve('aws-crt/package.json')), 'dist', 'bin');
}

/** main.mjs and the resources beside it, as bundle.zip. */
/** Returns the size of main.mjs. */
async function writeBundleZip(name: string, entry: string, zipPath: string): Promise<number> {
  const result = await build({
    entryPoints: [entry],
    outfile: 'main.mjs',
    write: false,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: ESM_BANNER },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (result.errors.length > 0 || output === undefined) {
    throw new EdgeShiftError(
      'ERR_BUILD_FAILED',
      `esbuild failed for ${entry}: ${result.errors[0]?.text ?? 'no output'}`,
    );
  }
  const files: Record<string, Uint8Array> = { 'main.mjs': output.contents };
  for (const resource of COMPONENT_RESOURCES[name] ?? []) {
    files[resource] = new Uint8Array(await readFile(path.join(path.dirname(entry), resource)));
  }
  await writeFile(zipPath, zipSync(files, { level: 6 }));
  return output.contents.byteLength;
}

/** The aws-crt ZIPs are the same for every component: compress them once per build. */
let crtZips: Promise<Map<string, Uint8Array>> | undefined;

async function compressCrtBinaries(): Promise<Map<string, Uint8Array>> {
  const binRoot = crtBinDir();
  const zips = new Map<string, Uint8Array>();
  for (const { zipName, binDir } of CRT_BINARIES) {
    const binary = await readFile(path.join(binRoot, binDir, 'aws-crt-nodejs.node'));
    zips.set(zipName, zipSync({ 'aws-crt-nodejs.node': new Uint8Array(binary) }, { level: 6 }));
  }
  return zips;
}

async function writeCrtZips(dir: string): Promise<void> {
  crtZips ??= compressCrtBinaries();
  for (const [zipName, zip] of await crtZips) await writeFile(path.join(dir, `${zipName}.zip`), zip);
}

async function buildComponent(
  recipe: Recipe,
  recipeText: string,
  entry: string,
  options: Required<Pick<BuildOptions, 'outDir' | 'bucket'>>,
): Promise<BuiltComponent> {
  const { componentName, componentVersion } = recipe;
  const dir = path.join(options.outDir, componentName, componentVersion);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const bundleBytes = await writeBundleZip(componentName, entry, path.join(dir, 'bundle.zip'));
  await writeCrtZips(dir);
  const resolvedText = recipeText.replaceAll(`s3://${BUCKET_PLACEHOLDER}/`, `s3://${options.bucket}/`);
  const resolved = parseRecipe(resolvedText, `${componentName} (built)`);
  // Every artifact the built recipe lists must now exist beside it.
  const fileNames = new Set(
    resolved.manifests.flatMap((manifest) => manifest.artifacts.map((a) => a.uri.split('/').pop() ?? '')),
  );
  const artifacts: BuiltArtifact[] = [];
  for (const fileName of [...fileNames].sort()) {
    const file = path.join(dir, fileName);
    if (!existsSync(file)) {
      throw new EdgeShiftError(
        'ERR_BUILD_FAILED',
        `the recipe of ${componentName} lists ${fileName}, which the build did not produce`,
      );
    }
    artifacts.push({ path: file, bytes: (await stat(file)).size });
  }
  const recipePath = path.join(options.outDir, 'recipes', `${componentName}-${componentVersion}.yaml`);
  await mkdir(path.dirname(recipePath), { recursive: true });
  await writeFile(recipePath, resolvedText);
  return { componentName, componentVersion, recipePath, artifacts, bundleBytes };
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(2)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

export async function buildArtifacts(options: BuildOptions = {}): Promise<BuildResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const outDir = path.resolve(options.outDir ?? path.join(PROJECT_ROOT, 'artifacts'));
  const sourceRecipeDir = options.recipeDir ?? path.join(PROJECT_ROOT, 'recipes');
  const bucket = options.bucket ?? BUCKET_PLACEHOLDER;
  const built: BuiltComponent[] = [];
  const skipped: string[] = [];
  const files = (await readdir(sourceRecipeDir)).filter((file) => file.endsWith('.yaml')).sort();
  for (const file of files) {
    const text = await readFile(path.join(sourceRecipeDir, file), 'utf8');
    const recipe = parseRecipe(text, file);
    const name = recipe.componentName;
    if (options.components !== undefined && !options.components.includes(name)) continue;
    const entryRelative = COMPONENT_ENTRIES[name];
    if (entryRelative === undefined) {
      throw new EdgeShiftError(
        'ERR_BUILD_FAILED',
        `no entry point known for ${name}; add it to COMPONENT_ENTRIES`,
      );
    }
    const entry = path.join(PROJECT_ROOT, entryRelative);
    if (!existsSync(entry)) {
      print(`skipping ${name}: its entry ${entryRelative} does not exist yet`);
      skipped.push(name);
      continue;
    }
    const component = await buildComponent(recipe, text, entry, { outDir, bucket });
    built.push(component);
    for (const artifact of component.artifacts) {
      print(
        `${name} ${component.componentVersion}  ${path.basename(artifact.path).padEnd(26)} ${formatBytes(artifact.bytes).padStart(10)}`,
      );
    }
    print(
      `${name} ${component.componentVersion}  ${'(main.mjs unpacked)'.padEnd(26)} ${formatBytes(component.bundleBytes).padStart(10)}`,
    );
  }
  print(`recipes written to ${path.join(outDir, 'recipes')}`);
  return { outDir, recipeDir: path.join(outDir, 'recipes'), built, skipped };
}

async function main(argv: readonly string[]): Promise<void> {
  const program = new Command()
    .name('build-artifacts')
    .description(
      'Bundle each EdgeShift component into Greengrass artifacts and write recipes that point at them.',
    )
    .option('--out <dir>', 'output directory', path.join(PROJECT_ROOT, 'artifacts'))
    .option('--bucket <name>', 'S3 bucket for the Artifacts URIs', BUCKET_PLACEHOLDER)
    .option('--component <name...>', 'only these components')
    .parse(argv);
  const options = program.opts<{ out: string; bucket: string; component?: string[] }>();
  await buildArtifacts({
    outDir: options.out,
    bucket: options.bucket,
    ...(options.component === undefined ? {} : { components: options.component }),
  });
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
