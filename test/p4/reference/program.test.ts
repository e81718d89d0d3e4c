import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'mocha';
import { ACTIONS, COUNTERS, REGISTERS, TABLES } from '../../../p4/reference/program.ts';

// The reference's view of the program must be the program: names, key fields, parameter names and
// widths, register widths, read from p4/edgeshift.p4 itself.
const P4 = readFileSync('p4/edgeshift.p4', 'utf8');

/** bit<N> widths of the program's typedefs and of plain bit<N>. */
function widthOf(type: string): number | undefined {
  const plain = /^bit<(\d+)>$/.exec(type);
  if (plain !== null) return Number(plain[1]);
  const typedef = new RegExp(`typedef\\s+bit<(\\d+)>\\s+${type}\\s*;`).exec(P4);
  return typedef === null ? undefined : Number(typedef[1]);
}

function bareName(name: string): string {
  return name.split('.').pop() ?? name;
}

describe('program', () => {
  for (const table of TABLES) {
    it(`declares table ${table.name} with keys ${table.keys.map((key) => `${key.name}:${key.matchKind}`).join(', ') || '(none)'}`, () => {
      const body = new RegExp(`table\\s+${bareName(table.name)}\\s*\\{([\\s\\S]*?)\\n    \\}`).exec(P4)?.[1];
      assert.ok(body !== undefined, `p4/edgeshift.p4 declares table ${bareName(table.name)}`);
      for (const key of table.keys) {
        assert.match(
          body,
          new RegExp(`${key.name.replace(/\./g, '\\.')}\\s*:\\s*${key.matchKind}\\s*;`),
          `key ${key.name}`,
        );
      }
      for (const action of table.actions)
        assert.match(body, new RegExp(`\\b${bareName(action)}\\s*;`), `action ${action}`);
      const defaultName = bareName(table.defaultAction.action);
      assert.match(body, new RegExp(`default_action\\s*=\\s*${defaultName}\\(`), `default ${defaultName}`);
    });
  }

  for (const action of ACTIONS.filter((candidate) => candidate.name !== 'NoAction')) {
    it(`declares action ${action.name}(${action.params.map((param) => `${param.name}: bit<${param.widthBits}>`).join(', ')})`, () => {
      const signature = new RegExp(`action\\s+${bareName(action.name)}\\s*\\(([^)]*)\\)`).exec(P4)?.[1];
      assert.ok(signature !== undefined, `p4/edgeshift.p4 declares action ${bareName(action.name)}`);
      const params = signature
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '')
        .map((part) => {
          const [type = '', name = ''] = part.split(/\s+/);
          return { name, widthBits: widthOf(type) };
        });
      assert.deepEqual(params, action.params, `parameters of ${action.name} in order, with widths`);
    });
  }

  for (const register of REGISTERS) {
    it(`declares register ${register.name} of ${register.widthBits} bits`, () => {
      const declaration = new RegExp(`register<([\\w<>]+)>\\((\\w+)\\)\\s+${register.name}\\s*;`).exec(P4);
      assert.ok(declaration !== null, `p4/edgeshift.p4 declares register ${register.name} at the top level`);
      assert.equal(widthOf(declaration[1]!), register.widthBits, `width of ${register.name}`);
    });
  }

  for (const counter of COUNTERS) {
    it(`declares counter ${counter.name}`, () => {
      assert.match(P4, new RegExp(`counter\\(\\w+,\\s*CounterType\\.packets\\)\\s+${counter.name}\\s*;`));
    });
  }
});
