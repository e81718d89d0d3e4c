import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'mocha';
import { formatStfReport, runStfFile } from '../../../p4/stf/stf-runner.ts';

// Every p4/tests/*.stf, discovered at run time: the same vectors the P4 program passes on BMv2.
const STF_DIR = 'p4/tests';
const stfFiles = readdirSync(STF_DIR)
  .filter((name) => name.endsWith('.stf'))
  .sort();

describe('stf-suite', () => {
  it('finds STF files in p4/tests', () => {
    assert.ok(stfFiles.length > 0, `no .stf file in ${STF_DIR}: the reference pipeline would be untested`);
  });

  for (const name of stfFiles) {
    it(`passes ${name}`, async () => {
      const result = await runStfFile(`${STF_DIR}/${name}`);
      assert.ok(result.isPassed, formatStfReport(result));
      assert.ok(result.packetCount > 0, `${name} feeds no packet`);
    });
  }
});
