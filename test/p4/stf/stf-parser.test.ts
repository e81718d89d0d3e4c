import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { hasErrorCode } from '../../../components/common/errors.ts';
import { parseNumber, parseStf, type StfStatement } from '../../../p4/stf/stf-parser.ts';

function only(text: string): StfStatement {
  const { statements } = parseStf(text, 'case.stf');
  assert.equal(statements.length, 1, `'${text}' must give one statement`);
  return statements[0]!;
}

describe('stf-parser', () => {
  describe('parseStf statements', () => {
    const cases: { input: string; expected: Record<string, unknown> }[] = [
      {
        input: 'add node_table meta.node_id:1 set_node(ipv4_addr:0x0a000101, port:0b11)',
        expected: {
          kind: 'add',
          table: 'node_table',
          priority: undefined,
          action: 'set_node',
          entryId: undefined,
        },
      },
      {
        input: 'ADD ingress.acl 10 hdr.ipv4.dst_addr:0x0a0001** deny() = entry_1',
        expected: { kind: 'add', table: 'ingress.acl', priority: 10, action: 'deny', entryId: 'entry_1' },
      },
      {
        input: 'setdefault policy_table set_policy(load_high_bp:8000, load_low_bp:5000)',
        expected: { kind: 'setdefault', table: 'policy_table', action: 'set_policy' },
      },
      {
        input: 'SetDefault ipv4_lpm drop()',
        expected: { kind: 'setdefault', table: 'ipv4_lpm', action: 'drop' },
      },
      {
        input: 'packet 3 0A0B 0c0d',
        expected: { kind: 'packet', port: 3, bytes: Buffer.from('0a0b0c0d', 'hex') },
      },
      {
        input: 'expect 2 0A0B **0d $',
        expected: { kind: 'expect', port: 2, pattern: { nibbles: '0A0B**0D', isExactLength: true } },
      },
      {
        input: 'expect 2 0a0b',
        expected: { kind: 'expect', port: 2, pattern: { nibbles: '0A0B', isExactLength: false } },
      },
      { input: 'EXPECT 7', expected: { kind: 'expect', port: 7, pattern: undefined } },
      { input: 'wait   # drain', expected: { kind: 'wait' } },
      {
        input: 'register_write service_owner 3 0x2',
        expected: { kind: 'register_write', register: 'service_owner', index: 3 },
      },
      {
        input: 'register_read ingress.node_cpu_load 1',
        expected: { kind: 'register_read', register: 'ingress.node_cpu_load', index: 1 },
      },
      {
        input: 'register_reset service_epoch',
        expected: { kind: 'register_reset', register: 'service_epoch' },
      },
      {
        input: 'counter_read drop_reasons 4',
        expected: { kind: 'counter_read', counter: 'drop_reasons', index: 4 },
      },
      {
        input: 'counter_write drop_reasons 4 10 600',
        expected: { kind: 'counter_write', counter: 'drop_reasons', index: 4, packets: 10, bytes: 600 },
      },
      {
        input: 'check_counter drop_reasons(5) packets == 2',
        expected: {
          kind: 'check_counter',
          counter: 'drop_reasons',
          index: 5,
          check: { countType: 'packets', condition: '==', value: 2 },
        },
      },
      {
        input: 'check_counter drop_reasons(0x5) BYTES >= 64',
        expected: {
          kind: 'check_counter',
          counter: 'drop_reasons',
          index: 5,
          check: { countType: 'bytes', condition: '>=', value: 64 },
        },
      },
      {
        input: 'check_counter drop_reasons(1)',
        expected: { kind: 'check_counter', counter: 'drop_reasons', index: 1, check: undefined },
      },
    ];
    for (const { input, expected } of cases) {
      it(input, () => {
        const statement = only(input) as unknown as Record<string, unknown>;
        for (const [field, value] of Object.entries(expected)) {
          assert.deepEqual(statement[field], value, `field ${field} of '${input}'`);
        }
        assert.equal(statement.line, 1, 'line numbers start at 1');
      });
    }

    it('parses add keys: exact, 0b, LPM with * nibbles and value/len', () => {
      const statement = only('add t 5 a.b:10 c:0b101 d:0x0a0001** e:0x0a000100/24 act(p:1, q:0xff) = x');
      assert.equal(statement.kind, 'add');
      if (statement.kind !== 'add') return;
      assert.deepEqual(
        statement.keys.map((key) => [
          key.name,
          key.value.kind,
          key.value.number.value,
          key.value.number.wildcardMask,
        ]),
        [
          ['a.b', 'number', 10n, 0n],
          ['c', 'number', 5n, 0n],
          ['d', 'number', 0x0a000100n, 0xffn],
          ['e', 'prefix', 0x0a000100n, 0n],
        ],
        "each key keeps its value and its don't-care bits",
      );
      assert.equal(statement.keys[3]!.value.kind === 'prefix' && statement.keys[3]!.value.prefixLength, 24);
      assert.deepEqual(
        statement.params.map((param) => [param.name, param.value.value]),
        [
          ['p', 1n],
          ['q', 255n],
        ],
      );
    });

    it('skips comments and blank lines and numbers lines from the file start', () => {
      const { statements } = parseStf('# header\n\n  wait\npacket 1 00 # trailing\n', 'f.stf');
      assert.deepEqual(
        statements.map((statement) => [statement.kind, statement.line]),
        [
          ['wait', 3],
          ['packet', 4],
        ],
      );
    });
  });

  describe('parseStf errors', () => {
    const cases: { input: string; reason: RegExp }[] = [
      { input: 'frobnicate 1', reason: /unknown statement 'frobnicate'/ },
      { input: 'packet x 00', reason: /port 'x' is not a decimal number/ },
      { input: 'packet 1 0', reason: /odd number of hex digits/ },
      { input: 'packet 1', reason: /packet has no bytes/ },
      { input: 'packet 1 0g', reason: /packet bytes must be hex digits/ },
      { input: 'expect 1 0x$1', reason: /hex digits or '\*'/ },
      { input: 'add t k:1 act', reason: /missing <action>/ },
      { input: 'add t k:0xzz act()', reason: /'0xzz' is not a decimal, 0x or 0b number/ },
      { input: 'add t k act()', reason: /key 'k' is not <field>:<value>/ },
      { input: 'add t k:1 act(p) ', reason: /action parameter 'p' is not <name>:<value>/ },
      { input: 'add t k:1 act() junk', reason: /expected '= <id>'/ },
      { input: 'add t k:1/x act()', reason: /prefix length 'x'/ },
      { input: 'check_counter c(1) packets ~ 3', reason: /is not packets\|bytes <op> <n>/ },
      { input: 'register_write r 1', reason: /expected register_write <register> <index> <value>/ },
      { input: 'wait now', reason: /unexpected 'now' after wait/ },
    ];
    for (const { input, reason } of cases) {
      it(`rejects '${input}'`, () => {
        assert.throws(
          () => parseStf(`# first\n${input}\n`, 'bad.stf'),
          (err: unknown) => {
            assert.ok(hasErrorCode(err, 'ERR_STF_SYNTAX'), 'syntax errors carry ERR_STF_SYNTAX');
            assert.match((err as Error).message, /^bad\.stf:2: /, 'the message starts with file:line');
            assert.match((err as Error).message, reason);
            return true;
          },
        );
      });
    }
  });

  describe('parseNumber', () => {
    const cases: { input: string; value: bigint; wildcardMask: bigint; digitBits: number | undefined }[] = [
      { input: '42', value: 42n, wildcardMask: 0n, digitBits: undefined },
      { input: '0x2A', value: 42n, wildcardMask: 0n, digitBits: 8 },
      { input: '0b101010', value: 42n, wildcardMask: 0n, digitBits: 6 },
      { input: '0x0a0001**', value: 0x0a000100n, wildcardMask: 0xffn, digitBits: 32 },
      { input: '0b1*', value: 2n, wildcardMask: 1n, digitBits: 2 },
      { input: '0x0a0000000101', value: 0x0a0000000101n, wildcardMask: 0n, digitBits: 48 },
    ];
    for (const { input, value, wildcardMask, digitBits } of cases) {
      it(input, () => {
        const number = parseNumber(input);
        assert.deepEqual(
          [number.value, number.wildcardMask, number.digitBits],
          [value, wildcardMask, digitBits],
        );
      });
    }
  });
});
