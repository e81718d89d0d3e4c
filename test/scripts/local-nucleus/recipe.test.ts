import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { artifactFileName, parseRecipe, selectManifest } from '../../../scripts/local-nucleus/recipe.ts';

const VALID = `
RecipeFormatVersion: '2020-01-25'
ComponentName: com.example.Hello
ComponentVersion: '1.2.3'
ComponentDescription: says hello
ComponentConfiguration:
  DefaultConfiguration:
    greeting: hi
ComponentDependencies:
  com.example.Base:
    VersionRequirement: '>=1.0.0 <2.0.0'
  com.example.Optional:
    VersionRequirement: '^1.0.0'
    DependencyType: SOFT
Manifests:
  - Platform: { os: linux, architecture: aarch64 }
    Lifecycle:
      Run: arm-run
  - Platform: { os: linux, architecture: /amd64|x86/ }
    Lifecycle:
      Setenv: { MODE: fast, COUNT: 3 }
      Install:
        Script: npm ci
        Timeout: 300
        RequiresPrivilege: true
        Skipif: exists /opt/done
      Run:
        Script: node {artifacts:path}/main.mjs
        Setenv: { STEP: run }
      Shutdown: echo bye
    Artifacts:
      - URI: s3://bucket/com.example.Hello/1.2.3/hello%20world.zip
        Unarchive: ZIP
        Permission: { Read: OWNER, Execute: OWNER }
  - Platform: { os: '*' }
    Lifecycle:
      Startup: any-start
`;

/** A valid recipe with one field replaced (by a YAML line substitution). */
function mutate(from: string, to: string): string {
  assert.ok(VALID.includes(from), `fixture contains ${from}`);
  return VALID.replace(from, to);
}

interface InvalidCase {
  readonly name: string;
  readonly text: string;
  readonly reason: RegExp;
}

const INVALID: readonly InvalidCase[] = [
  { name: 'not YAML', text: 'a: [1, 2', reason: /not valid YAML/ },
  {
    name: 'another RecipeFormatVersion',
    text: mutate("RecipeFormatVersion: '2020-01-25'", "RecipeFormatVersion: '2021-01-01'"),
    reason: /\/RecipeFormatVersion must be equal to constant/,
  },
  {
    name: 'the reserved aws.greengrass prefix',
    text: mutate('ComponentName: com.example.Hello', 'ComponentName: aws.greengrass.Mine'),
    reason: /reserved aws\.greengrass prefix/,
  },
  {
    name: 'a version that is not semver',
    text: mutate("ComponentVersion: '1.2.3'", "ComponentVersion: '1.2'"),
    reason: /\/ComponentVersion must match pattern/,
  },
  {
    name: 'Run and Startup together',
    text: mutate('      Run: arm-run', '      Run: arm-run\n      Startup: also'),
    reason: /\/Manifests\/0\/Lifecycle must NOT be valid/,
  },
  {
    name: 'an unknown lifecycle step',
    text: mutate('      Run: arm-run', '      Launch: arm-run'),
    reason: /\/Manifests\/0\/Lifecycle must NOT have additional properties/,
  },
  {
    name: 'an artifact with an unknown scheme',
    text: mutate('URI: s3://bucket', 'URI: http://bucket'),
    reason: /\/Manifests\/1\/Artifacts\/0\/URI must match pattern/,
  },
  {
    name: 'a bad Unarchive value',
    text: mutate('Unarchive: ZIP', 'Unarchive: TAR'),
    reason: /\/Manifests\/1\/Artifacts\/0\/Unarchive must be equal to one of the allowed values/,
  },
  {
    name: 'a bad Skipif',
    text: mutate('Skipif: exists /opt/done', 'Skipif: sometimes'),
    reason: /\/Manifests\/1\/Lifecycle\/Install/,
  },
  {
    name: 'no Manifests',
    text: mutate('Manifests:', 'Manifestos:'),
    reason: /must have required property 'Manifests'/,
  },
];

describe('scripts/local-nucleus/recipe', () => {
  describe('parseRecipe', () => {
    it('reads names, configuration, dependencies, lifecycle steps and artifacts', () => {
      const recipe = parseRecipe(VALID);
      assert.equal(recipe.componentName, 'com.example.Hello', 'name');
      assert.equal(recipe.componentVersion, '1.2.3', 'version');
      assert.deepEqual(recipe.defaultConfiguration, { greeting: 'hi' }, 'DefaultConfiguration');
      assert.deepEqual(
        recipe.dependencies,
        {
          'com.example.Base': { versionRequirement: '>=1.0.0 <2.0.0', dependencyType: 'HARD' },
          'com.example.Optional': { versionRequirement: '^1.0.0', dependencyType: 'SOFT' },
        },
        'HARD is the default DependencyType',
      );
      const manifest = recipe.manifests[1];
      assert.deepEqual(
        manifest?.lifecycle,
        {
          setenv: { MODE: 'fast', COUNT: '3' },
          install: {
            script: 'npm ci',
            requiresPrivilege: true,
            timeoutSeconds: 300,
            skipIf: 'exists /opt/done',
            setenv: {},
          },
          run: {
            script: 'node {artifacts:path}/main.mjs',
            requiresPrivilege: false,
            timeoutSeconds: undefined,
            skipIf: undefined,
            setenv: { STEP: 'run' },
          },
          shutdown: {
            script: 'echo bye',
            requiresPrivilege: false,
            timeoutSeconds: undefined,
            skipIf: undefined,
            setenv: {},
          },
        },
        'string and object steps both become LifecycleStep',
      );
      assert.deepEqual(
        manifest?.artifacts,
        [
          {
            uri: 's3://bucket/com.example.Hello/1.2.3/hello%20world.zip',
            unarchive: 'ZIP',
            isExecutable: true,
          },
        ],
        'artifacts',
      );
      assert.equal(artifactFileName(manifest.artifacts[0]!), 'hello world.zip', 'file name is URI-decoded');
    });

    it('reads a JSON recipe', () => {
      const json = JSON.stringify({
        RecipeFormatVersion: '2020-01-25',
        ComponentName: 'com.example.Json',
        ComponentVersion: '0.1.0-beta.1+build.5',
        Manifests: [{ Platform: { os: 'linux' }, Lifecycle: { Run: 'true' } }],
      });
      assert.equal(
        parseRecipe(json).componentVersion,
        '0.1.0-beta.1+build.5',
        'prerelease and build metadata',
      );
    });

    for (const { name, text, reason } of INVALID) {
      it(`rejects ${name} with ERR_RECIPE_INVALID and the path`, () => {
        assert.throws(
          () => parseRecipe(text, 'fixture.yaml'),
          (err: unknown) => {
            assert.ok(hasErrorCode(err, 'ERR_RECIPE_INVALID'), `code for ${name}`);
            assert.match((err as Error).message, reason, `reason for ${name}`);
            return true;
          },
        );
      });
    }
  });

  describe('selectManifest', () => {
    const recipe = parseRecipe(VALID);
    const cases = [
      { platform: { os: 'linux', architecture: 'aarch64' }, run: 'arm-run', why: 'exact match' },
      {
        platform: { os: 'linux', architecture: 'amd64' },
        run: 'node {artifacts:path}/main.mjs',
        why: 'regex',
      },
      {
        platform: { os: 'linux', architecture: 'x86' },
        run: 'node {artifacts:path}/main.mjs',
        why: 'regex alt',
      },
      { platform: { os: 'darwin', architecture: 'arm64' }, startup: 'any-start', why: 'wildcard os' },
    ];
    for (const { platform, run, startup, why } of cases) {
      it(`picks the first matching manifest for ${platform.os}/${platform.architecture}`, () => {
        const manifest = selectManifest(recipe, platform);
        assert.equal(manifest.lifecycle.run?.script, run, `Run (${why})`);
        assert.equal(manifest.lifecycle.startup?.script, startup, `Startup (${why})`);
      });
    }

    it('throws ERR_RECIPE_NO_MANIFEST when nothing matches', () => {
      const linuxOnly = parseRecipe(VALID.replace(/ {2}- Platform: \{ os: '\*' \}\n.*\n.*any-start\n/, ''));
      assert.throws(
        () => selectManifest(linuxOnly, { os: 'windows', architecture: 'amd64' }),
        (err: unknown) =>
          hasErrorCode(err, 'ERR_RECIPE_NO_MANIFEST') && /os=windows/.test((err as Error).message),
        'windows has no manifest',
      );
    });

    it('falls back to the top-level Lifecycle when a manifest has none', () => {
      const text = `
RecipeFormatVersion: '2020-01-25'
ComponentName: com.example.Top
ComponentVersion: '1.0.0'
Lifecycle:
  Run: top-run
Manifests:
  - Platform: { os: linux }
`;
      assert.equal(
        selectManifest(parseRecipe(text), { os: 'linux', architecture: 'amd64' }).lifecycle.run?.script,
        'top-run',
      );
    });
  });
});
