// Parses and validates Greengrass component recipes (RecipeFormatVersion 2020-01-25, YAML or JSON) into a
// typed Recipe, and picks the manifest for a platform. Used by local-node.ts and component-runner.ts, and
// by scripts/build-artifacts.ts to rewrite Artifacts. Invariant: a Recipe returned here passed the schema
// below and the name/version rules; nothing else about the document is trusted downstream.
import os from 'node:os';

import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';

import { EdgeShiftError } from '../../components/common/errors.ts';

export interface LifecycleStep {
  readonly script: string;
  readonly requiresPrivilege: boolean;
  /** Step deadline; undefined takes the nucleus default for the step. */
  readonly timeoutSeconds: number | undefined;
  /** `onpath <cmd>` or `exists <file>`: the step is skipped when true. */
  readonly skipIf: string | undefined;
  readonly setenv: Readonly<Record<string, string>>;
}

export type LifecycleStepName = 'install' | 'run' | 'startup' | 'shutdown' | 'recover';

export interface Lifecycle {
  readonly setenv: Readonly<Record<string, string>>;
  readonly install?: LifecycleStep;
  readonly run?: LifecycleStep;
  readonly startup?: LifecycleStep;
  readonly shutdown?: LifecycleStep;
  readonly recover?: LifecycleStep;
}

export interface RecipeArtifact {
  readonly uri: string;
  readonly unarchive: 'NONE' | 'ZIP';
  readonly isExecutable: boolean;
}

export interface Manifest {
  readonly platform: Readonly<Record<string, string>>;
  readonly lifecycle: Lifecycle;
  readonly artifacts: readonly RecipeArtifact[];
}

export interface ComponentDependency {
  readonly versionRequirement: string;
  readonly dependencyType: 'HARD' | 'SOFT';
}

export interface Recipe {
  readonly componentName: string;
  readonly componentVersion: string;
  readonly description: string;
  readonly defaultConfiguration: Readonly<Record<string, unknown>>;
  readonly dependencies: Readonly<Record<string, ComponentDependency>>;
  readonly manifests: readonly Manifest[];
  /** The document as parsed, for tools that rewrite and re-emit it (build-artifacts). */
  readonly document: Readonly<Record<string, unknown>>;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
}

// Semantic Versioning 2.0.0, section 2 and 9-10 (the grammar Greengrass applies to ComponentVersion).
const SEMVER =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

const STEP_SCHEMA = {
  oneOf: [
    { type: 'string' },
    {
      type: 'object',
      required: ['Script'],
      additionalProperties: false,
      properties: {
        Script: { type: 'string' },
        RequiresPrivilege: { type: ['boolean', 'string'] },
        Timeout: { type: ['number', 'string'] },
        Skipif: { type: 'string', pattern: '^(onpath|exists) \\S' },
        Setenv: { $ref: '#/$defs/env' },
      },
    },
  ],
};

const RECIPE_SCHEMA = {
  type: 'object',
  required: ['RecipeFormatVersion', 'ComponentName', 'ComponentVersion', 'Manifests'],
  properties: {
    RecipeFormatVersion: { const: '2020-01-25' },
    ComponentName: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' },
    ComponentVersion: { type: 'string', pattern: SEMVER },
    ComponentDescription: { type: 'string' },
    ComponentPublisher: { type: 'string' },
    ComponentType: { type: 'string' },
    ComponentConfiguration: {
      type: 'object',
      properties: { DefaultConfiguration: { type: 'object' } },
    },
    ComponentDependencies: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['VersionRequirement'],
        properties: {
          VersionRequirement: { type: 'string' },
          DependencyType: { enum: ['HARD', 'SOFT'] },
        },
      },
    },
    Manifests: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          Name: { type: 'string' },
          Platform: { type: 'object', additionalProperties: { type: 'string' } },
          Lifecycle: { $ref: '#/$defs/lifecycle' },
          Artifacts: {
            type: 'array',
            items: {
              type: 'object',
              required: ['URI'],
              properties: {
                URI: { type: 'string', pattern: '^(s3|greengrass|docker|file)://' },
                Unarchive: { enum: ['NONE', 'ZIP'] },
                Permission: {
                  type: 'object',
                  properties: {
                    Read: { enum: ['NONE', 'OWNER', 'ALL'] },
                    Execute: { enum: ['NONE', 'OWNER', 'ALL'] },
                  },
                },
              },
            },
          },
        },
      },
    },
    Lifecycle: { $ref: '#/$defs/lifecycle' },
  },
  $defs: {
    env: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    lifecycle: {
      type: 'object',
      additionalProperties: false,
      properties: {
        Setenv: { $ref: '#/$defs/env' },
        Install: STEP_SCHEMA,
        Run: STEP_SCHEMA,
        Startup: STEP_SCHEMA,
        Shutdown: STEP_SCHEMA,
        Recover: STEP_SCHEMA,
        bootstrap: STEP_SCHEMA,
      },
      not: { required: ['Run', 'Startup'] },
    },
  },
} as const;

// Lifecycle keys as written in a recipe, with the step name used here.
const STEP_KEYS: readonly [string, LifecycleStepName][] = [
  ['Install', 'install'],
  ['Run', 'run'],
  ['Startup', 'startup'],
  ['Shutdown', 'shutdown'],
  ['Recover', 'recover'],
];

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRecipeDocument = ajv.compile(RECIPE_SCHEMA);

function describe(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map(
      (error) => `${error.instancePath === '' ? '/' : error.instancePath} ${error.message ?? 'is invalid'}`,
    )
    .join('; ');
}

function invalid(source: string, reason: string): EdgeShiftError {
  return new EdgeShiftError('ERR_RECIPE_INVALID', `recipe ${source} is invalid: ${reason}`, {
    context: { source },
  });
}

function toEnv(value: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  if (typeof value !== 'object' || value === null) return env;
  for (const [key, inner] of Object.entries(value)) env[key] = String(inner);
  return env;
}

function toStep(value: unknown): LifecycleStep {
  if (typeof value === 'string') {
    return {
      script: value,
      requiresPrivilege: false,
      timeoutSeconds: undefined,
      skipIf: undefined,
      setenv: {},
    };
  }
  const step = value as Record<string, unknown>;
  const timeout = step.Timeout === undefined ? undefined : Number(step.Timeout);
  return {
    script: String(step.Script),
    requiresPrivilege: step.RequiresPrivilege === true || step.RequiresPrivilege === 'true',
    timeoutSeconds: timeout,
    skipIf: typeof step.Skipif === 'string' ? step.Skipif : undefined,
    setenv: toEnv(step.Setenv),
  };
}

function toLifecycle(value: unknown): Lifecycle {
  const raw = (value ?? {}) as Record<string, unknown>;
  const lifecycle: Record<string, unknown> = { setenv: toEnv(raw.Setenv) };
  for (const [key, name] of STEP_KEYS) {
    if (raw[key] !== undefined) lifecycle[name] = toStep(raw[key]);
  }
  return lifecycle as unknown as Lifecycle;
}

function toArtifact(value: unknown): RecipeArtifact {
  const raw = value as { URI: string; Unarchive?: 'NONE' | 'ZIP'; Permission?: { Execute?: string } };
  const execute = raw.Permission?.Execute ?? 'NONE';
  return { uri: raw.URI, unarchive: raw.Unarchive ?? 'NONE', isExecutable: execute !== 'NONE' };
}

/** Parses a recipe (YAML or JSON text) and checks it; throws ERR_RECIPE_INVALID naming the path and reason. */
export function parseRecipe(text: string, source = '<recipe>'): Recipe {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw invalid(source, `not valid YAML/JSON (${(err as Error).message})`);
  }
  if (!validateRecipeDocument(document)) throw invalid(source, describe(validateRecipeDocument.errors));
  const raw = document as unknown as Record<string, unknown> & {
    ComponentName: string;
    ComponentVersion: string;
    Manifests: Record<string, unknown>[];
  };
  if (raw.ComponentName.toLowerCase().startsWith('aws.greengrass')) {
    throw invalid(source, `/ComponentName "${raw.ComponentName}" uses the reserved aws.greengrass prefix`);
  }
  const topLifecycle = raw.Lifecycle;
  const configuration = raw.ComponentConfiguration as
    { DefaultConfiguration?: Record<string, unknown> } | undefined;
  const dependencies: Record<string, ComponentDependency> = {};
  for (const [name, dep] of Object.entries(
    (raw.ComponentDependencies ?? {}) as Record<string, Record<string, string>>,
  )) {
    dependencies[name] = {
      versionRequirement: dep.VersionRequirement ?? '*',
      dependencyType: dep.DependencyType === 'SOFT' ? 'SOFT' : 'HARD',
    };
  }
  return {
    componentName: raw.ComponentName,
    componentVersion: raw.ComponentVersion,
    description: typeof raw.ComponentDescription === 'string' ? raw.ComponentDescription : '',
    defaultConfiguration: configuration?.DefaultConfiguration ?? {},
    dependencies,
    manifests: raw.Manifests.map((manifest) => ({
      platform: (manifest.Platform ?? {}) as Record<string, string>,
      // A manifest without its own Lifecycle uses the recipe's top-level one.
      lifecycle: toLifecycle(manifest.Lifecycle ?? topLifecycle),
      artifacts: ((manifest.Artifacts ?? []) as unknown[]).map(toArtifact),
    })),
    document: raw,
  };
}

/** Greengrass's names for Node's os.arch() values. */
const ARCHITECTURE_BY_NODE_ARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'aarch64',
  arm: 'arm',
  ia32: 'x86',
};

export function currentPlatform(): Platform {
  const nodeArch = os.arch();
  return {
    os: os.platform() === 'win32' ? 'windows' : os.platform(),
    architecture: ARCHITECTURE_BY_NODE_ARCH[nodeArch] ?? nodeArch,
  };
}

/** A Platform value matches when absent, '*', equal, or a /regex/ that matches (as in the nucleus). */
function platformValueMatches(wanted: string | undefined, actual: string): boolean {
  if (wanted === undefined || wanted === '*' || wanted === actual) return true;
  if (wanted.length > 2 && wanted.startsWith('/') && wanted.endsWith('/')) {
    return new RegExp(wanted.slice(1, -1)).test(actual);
  }
  return false;
}

/** The first manifest whose Platform matches, as the nucleus picks it; throws ERR_RECIPE_NO_MANIFEST. */
export function selectManifest(recipe: Recipe, platform: Platform = currentPlatform()): Manifest {
  const manifest = recipe.manifests.find(
    (candidate) =>
      platformValueMatches(candidate.platform.os, platform.os) &&
      platformValueMatches(candidate.platform.architecture, platform.architecture),
  );
  if (manifest !== undefined) return manifest;
  throw new EdgeShiftError(
    'ERR_RECIPE_NO_MANIFEST',
    `${recipe.componentName} ${recipe.componentVersion} has no manifest for os=${platform.os} architecture=${platform.architecture}`,
    { context: { component: recipe.componentName, ...platform } },
  );
}

/** The file name an artifact URI ends with (how greengrass-cli finds it in --artifactDir). */
export function artifactFileName(artifact: RecipeArtifact): string {
  const name = artifact.uri.split('/').pop() ?? '';
  return decodeURIComponent(name);
}
