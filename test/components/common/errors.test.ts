import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { EdgeShiftError, ERROR_CATALOG, hasErrorCode } from '../../../components/common/errors.ts';

/** Rows of the docs table: `| CODE | description | how to solve |`. */
async function documentedCodes(): Promise<Map<string, string[]>> {
  const text = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const code = cells[1];
    if (code === undefined || !code.startsWith('ERR_')) continue;
    rows.set(code, cells.slice(2, 4));
  }
  return rows;
}

describe('components/common/errors', () => {
  it('documents every catalog code in docs/errors.md with the same description and remedy', async () => {
    const documented = await documentedCodes();
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      assert.deepEqual(
        documented.get(code),
        [entry.description, entry.howToSolve],
        `docs/errors.md row for ${code}`,
      );
    }
    assert.deepEqual(
      [...documented.keys()].sort(),
      Object.keys(ERROR_CATALOG).sort(),
      'docs/errors.md must list exactly the catalog codes',
    );
  });

  it('keeps code, context and cause on an EdgeShiftError', () => {
    const cause = new Error('inner');
    const err = new EdgeShiftError('ERR_CONFIG_INVALID', 'bad', { context: { field: '/periodMs' }, cause });
    assert.equal(err.code, 'ERR_CONFIG_INVALID');
    assert.equal(err.context.field, '/periodMs');
    assert.equal(err.cause, cause);
    assert.ok(hasErrorCode(err, 'ERR_CONFIG_INVALID'));
    assert.ok(!hasErrorCode(new Error('x'), 'ERR_CONFIG_INVALID'));
  });
});
