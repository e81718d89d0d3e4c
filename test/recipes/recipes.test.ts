import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import type { AnySchema } from 'ajv';

import { withoutAccessControl } from '../../components/common/component-runtime.ts';
import { compileConfigValidator } from '../../components/common/config-validator.ts';
import { parseRecipe, selectManifest, type Recipe } from '../../scripts/local-nucleus/recipe.ts';

const RECIPE_DIR = new URL('../../recipes/', import.meta.url).pathname;
const EXPECTED = ['com.edgeshift.FunctionHost', 'com.edgeshift.NodeMonitor', 'com.edgeshift.PeerAgent'];
/**
 * Node flags per component: the two on a migration's path get garbage-collection headroom, and the
 * one on every request's path short scavenges.
 */
const NODE_FLAGS: Record<string, string> = {
  'com.edgeshift.FunctionHost': '--initial-old-space-size=64 --max-semi-space-size=2 ',
  'com.edgeshift.NodeMonitor': '',
  'com.edgeshift.PeerAgent': '--initial-old-space-size=64 ',
};

function loadRecipe(name: string): Recipe {
  return parseRecipe(readFileSync(path.join(RECIPE_DIR, `${name}.yaml`), 'utf8'), `${name}.yaml`);
}

function loadSchema(name: string): AnySchema {
  return JSON.parse(
    readFileSync(path.join(RECIPE_DIR, 'schemas', `${name}.schema.json`), 'utf8'),
  ) as AnySchema;
}

interface Policy {
  policyDescription?: unknown;
  operations?: unknown;
  resources?: unknown;
}

describe('recipes', () => {
  it('holds exactly one recipe and one schema per component', () => {
    const recipes = readdirSync(RECIPE_DIR).filter((file) => file.endsWith('.yaml'));
    assert.deepEqual(
      recipes.sort(),
      EXPECTED.map((name) => `${name}.yaml`),
      'recipe files',
    );
    const schemas = readdirSync(path.join(RECIPE_DIR, 'schemas'));
    assert.deepEqual(
      schemas.sort(),
      EXPECTED.map((name) => `${name}.schema.json`),
      'schema files',
    );
  });

  for (const name of EXPECTED) {
    describe(name, () => {
      const recipe = loadRecipe(name);

      it('is named after its file and versioned', () => {
        assert.equal(recipe.componentName, name, 'ComponentName matches the file name');
        assert.match(recipe.componentVersion, /^\d+\.\d+\.\d+$/, 'a release version');
      });

      for (const architecture of ['amd64', 'aarch64']) {
        it(`has a Linux ${architecture} manifest that runs the bundle with the matching aws-crt binary`, () => {
          const manifest = selectManifest(recipe, { os: 'linux', architecture });
          assert.equal(manifest.platform.architecture, architecture, 'an explicit manifest, not a wildcard');
          assert.equal(
            manifest.lifecycle.run?.script,
            `node ${NODE_FLAGS[name]}{artifacts:decompressedPath}/bundle/main.mjs`,
            'Run',
          );
          const crt = architecture === 'amd64' ? 'aws-crt-linux-x64' : 'aws-crt-linux-arm64';
          assert.deepEqual(
            manifest.artifacts.map((artifact) => [artifact.uri, artifact.unarchive]),
            [
              [`s3://BUCKET_NAME/${name}/${recipe.componentVersion}/bundle.zip`, 'ZIP'],
              [`s3://BUCKET_NAME/${name}/${recipe.componentVersion}/${crt}.zip`, 'ZIP'],
            ],
            'artifacts laid out as <ComponentName>/<version>/<file>',
          );
          assert.equal(
            manifest.lifecycle.setenv.AWS_CRT_NODEJS_BINARY_ABSOLUTE_PATH,
            `{artifacts:decompressedPath}/${crt}/aws-crt-nodejs.node`,
            'the bundle finds the native binary of this architecture',
          );
        });
      }

      it("has schema defaults equal to the recipe's DefaultConfiguration", () => {
        const validate = compileConfigValidator<Record<string, unknown>>(name, loadSchema(name));
        const defaults = withoutAccessControl(recipe.defaultConfiguration);
        assert.deepEqual(validate({}), defaults, 'the schema fills in exactly the DefaultConfiguration');
        assert.deepEqual(validate(defaults), defaults, 'the DefaultConfiguration is valid as it is');
      });

      it('limits every IPC policy to named operations and topics, each with a description', () => {
        const accessControl = (recipe.defaultConfiguration.accessControl ?? {}) as Record<
          string,
          Record<string, Policy>
        >;
        assert.ok(Object.keys(accessControl).length > 0, 'has accessControl');
        for (const [service, policies] of Object.entries(accessControl)) {
          assert.ok(['aws.greengrass.ipc.pubsub', 'aws.greengrass.ipc.mqttproxy'].includes(service), service);
          for (const [policyId, policy] of Object.entries(policies)) {
            assert.match(
              policyId,
              new RegExp(`^${name.replaceAll('.', '\\.')}:(pubsub|mqttproxy):\\d+$`),
              'policy id',
            );
            assert.equal(typeof policy.policyDescription, 'string', `${policyId} has a policyDescription`);
            assert.ok(
              Array.isArray(policy.operations) && policy.operations.length > 0,
              `${policyId} operations`,
            );
            assert.ok(!(policy.operations as string[]).includes('*'), `${policyId} names its operations`);
            for (const resource of policy.resources as string[]) {
              assert.match(
                resource,
                /^edgeshift\/[^*#+]+/,
                `${policyId} resource ${resource} is an EdgeShift topic`,
              );
              assert.ok(
                resource.includes('{iot:thingName}'),
                `${policyId} resource ${resource} is this node's`,
              );
            }
          }
        }
      });
    });
  }
});
