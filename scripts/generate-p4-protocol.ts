// Writes p4/include/edgeshift_protocol.p4 from the TypeScript protocol module (the source of truth).
// Run after changing p4/protocol/edgeshift-protocol.ts: `npx tsx scripts/generate-p4-protocol.ts`.
import { writeFile } from 'node:fs/promises';

import { P4_INCLUDE_PATH, renderP4Protocol } from '../p4/protocol/p4-include.ts';

await writeFile(new URL(`../${P4_INCLUDE_PATH}`, import.meta.url), renderP4Protocol());
console.log(`wrote ${P4_INCLUDE_PATH}`);
