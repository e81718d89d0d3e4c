import assert from 'node:assert/strict';

import { compileConfigValidator } from '../../../components/common/config-validator.ts';

interface Sample {
  periodMs: number;
  timeConstantMs: number;
}

const validate = compileConfigValidator<Sample>(
  'com.example.Sample',
  {
    type: 'object',
    additionalProperties: false,
    properties: {
      periodMs: { type: 'integer', minimum: 10, default: 100 },
      timeConstantMs: { type: 'integer', minimum: 1, default: 500 },
    },
  },
  [
    (config) =>
      config.timeConstantMs < config.periodMs ? '/timeConstantMs must be >= /periodMs' : undefined,
  ],
);

describe('components/common/config-validator', () => {
  it('fills defaults and freezes the result', () => {
    const config = validate({});
    assert.deepEqual(config, { periodMs: 100, timeConstantMs: 500 });
    assert.ok(Object.isFrozen(config), 'a validated configuration must be immutable');
  });

  it('does not change the caller object', () => {
    const raw = { periodMs: 50 };
    validate(raw);
    assert.deepEqual(raw, { periodMs: 50 }, 'defaults go into a copy');
  });

  const rejects: [string, unknown, RegExp][] = [
    ['a value below its minimum', { periodMs: 1 }, /\/periodMs must be >= 10/],
    ['a wrong type', { periodMs: 'fast' }, /\/periodMs must be integer/],
    ['an unknown key, naming it', { periodMS: 100 }, /\/ has unknown property 'periodMS'/],
    [
      'a cross-field violation',
      { periodMs: 1000, timeConstantMs: 100 },
      /\/timeConstantMs must be >= \/periodMs/,
    ],
  ];
  for (const [name, raw, message] of rejects) {
    it(`rejects ${name} with ERR_CONFIG_INVALID`, () => {
      assert.throws(() => validate(raw), { code: 'ERR_CONFIG_INVALID', message });
    });
  }
});
