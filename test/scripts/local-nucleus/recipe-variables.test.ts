import assert from 'node:assert/strict';

import {
  artifactPaths,
  resolveJsonPointer,
  substituteDeep,
  substituteVariables,
  type VariableScope,
} from '../../../scripts/local-nucleus/recipe-variables.ts';

const SCOPE: VariableScope = {
  componentName: 'com.example.Hello',
  thingName: 'edge-node-1',
  rootPath: '/greengrass/v2',
  components: new Map([
    [
      'com.example.Hello',
      {
        ...artifactPaths('/greengrass/v2', 'com.example.Hello', '1.0.0'),
        configuration: {
          periodMs: 100,
          enabled: false,
          name: 'hello',
          nested: { 'a/b': { 'c~d': 'deep' }, list: [1, 'two'] },
          empty: null,
        },
      },
    ],
    [
      'com.example.Base',
      { artifactsPath: '/a/base', decompressedPath: '/d/base', configuration: { port: 8080 } },
    ],
  ]),
};

const CASES: readonly { input: string; output: string }[] = [
  { input: '{iot:thingName}', output: 'edge-node-1' },
  { input: '{kernel:rootPath}/bin', output: '/greengrass/v2/bin' },
  {
    input: 'node {artifacts:path}/main.mjs',
    output: 'node /greengrass/v2/packages/artifacts/com.example.Hello/1.0.0/main.mjs',
  },
  {
    input: '{artifacts:decompressedPath}/bundle/main.mjs',
    output: '/greengrass/v2/packages/artifacts-unarchived/com.example.Hello/1.0.0/bundle/main.mjs',
  },
  { input: '--period {configuration:/periodMs}', output: '--period 100' },
  { input: '{configuration:/enabled}', output: 'false' },
  { input: '{configuration:/name}-{iot:thingName}', output: 'hello-edge-node-1' },
  { input: '{configuration:/nested/a~1b/c~0d}', output: 'deep' },
  { input: '{configuration:/nested/list}', output: '[1,"two"]' },
  { input: '{configuration:/nested/list/1}', output: 'two' },
  { input: '{com.example.Base:configuration:/port}', output: '8080' },
  { input: '{com.example.Base:artifacts:path}/x', output: '/a/base/x' },
  // Unresolvable variables stay as written, as in the nucleus.
  { input: '{configuration:/missing}', output: '{configuration:/missing}' },
  { input: '{configuration:/empty}', output: '{configuration:/empty}' },
  { input: '{com.example.Absent:configuration:/port}', output: '{com.example.Absent:configuration:/port}' },
  { input: '{iot:thingArn}', output: '{iot:thingArn}' },
  { input: '{not:a-variable} ${HOME}', output: '{not:a-variable} ${HOME}' },
];

describe('scripts/local-nucleus/recipe-variables', () => {
  describe('substituteVariables', () => {
    for (const { input, output } of CASES) {
      it(`turns ${input} into ${output}`, () => {
        assert.equal(substituteVariables(input, SCOPE), output, input);
      });
    }
  });

  describe('substituteDeep', () => {
    it('substitutes in every string of accessControl and leaves other values alone', () => {
      const accessControl = {
        'aws.greengrass.ipc.mqttproxy': {
          'com.example.Hello:mqttproxy:1': {
            operations: ['aws.greengrass#PublishToIoTCore'],
            resources: ['edgeshift/{iot:thingName}/metrics'],
            n: 1,
          },
        },
      };
      assert.deepEqual(
        substituteDeep(accessControl, SCOPE),
        {
          'aws.greengrass.ipc.mqttproxy': {
            'com.example.Hello:mqttproxy:1': {
              operations: ['aws.greengrass#PublishToIoTCore'],
              resources: ['edgeshift/edge-node-1/metrics'],
              n: 1,
            },
          },
        },
        'thing name substituted in resources',
      );
    });
  });

  describe('resolveJsonPointer', () => {
    it('returns the whole document for the empty pointer and undefined for a pointer without a leading slash', () => {
      assert.deepEqual(resolveJsonPointer({ a: 1 }, ''), { a: 1 }, 'whole document');
      assert.equal(resolveJsonPointer({ a: 1 }, 'a'), undefined, 'not a pointer');
    });
  });
});
