// Writes p4/tests/*.stf from the case modules in p4/tests/cases/ (packets and expectations built with
// the project's codec and frame builder). Run after changing a case or the protocol:
// `npx tsx scripts/generate-stf-tests.ts`. A test fails when the committed files are out of date.
import { writeFile } from 'node:fs/promises';

import { renderStfFiles } from '../p4/tests/cases/index.ts';

for (const [fileName, text] of renderStfFiles()) {
  await writeFile(new URL(`../p4/tests/${fileName}`, import.meta.url), text);
  console.log(`wrote p4/tests/${fileName}`);
}
