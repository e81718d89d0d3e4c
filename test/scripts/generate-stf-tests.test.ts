import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';

import { decodeHeader } from '../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import { ipv4HeaderChecksum } from '../../p4/protocol/udp-frame.ts';
import { STF_DOCUMENTS, renderStfFiles } from '../../p4/tests/cases/index.ts';
import { formatFrame } from '../../p4/tests/cases/stf-document.ts';

const TESTS_DIR = new URL('../../p4/tests/', import.meta.url);

describe('scripts/generate-stf-tests', () => {
  describe('committed STF files', () => {
    for (const [fileName, text] of renderStfFiles()) {
      it(`p4/tests/${fileName} is what the generator writes (run scripts/generate-stf-tests.ts)`, async () => {
        const committed = await readFile(new URL(fileName, TESTS_DIR), 'utf8');
        assert.equal(committed, text, `${fileName} is out of date`);
      });
    }

    it('has no STF file the generator does not write', async () => {
      const onDisk = (await readdir(TESTS_DIR)).filter((name) => name.endsWith('.stf')).sort();
      assert.deepEqual(
        onDisk,
        [...renderStfFiles().keys()].sort(),
        'a stale or hand-written .stf file is in p4/tests/',
      );
    });
  });

  describe('case documents', () => {
    for (const document of STF_DOCUMENTS) {
      it(`${document.fileName}: every expected frame has a valid IPv4 checksum and exact length`, () => {
        for (const stfCase of document.cases) {
          for (const expect of stfCase.expects) {
            const ipv4 = expect.frame.subarray(14, 34);
            const stored = (ipv4[10]! << 8) | ipv4[11]!;
            assert.equal(stored, ipv4HeaderChecksum(ipv4), `bad IPv4 checksum in "${stfCase.title}"`);
          }
        }
        const text = renderStfFiles().get(document.fileName) ?? '';
        for (const line of text.split('\n').filter((l) => l.startsWith('expect '))) {
          assert.ok(line.endsWith('$'), `expect line without $: ${line}`);
        }
      });

      it(`${document.fileName}: every case says how its bytes were built`, () => {
        for (const stfCase of document.cases) {
          assert.ok(stfCase.built.length > 0, `case "${stfCase.title}" has no build comment`);
          assert.ok(stfCase.packets.length > 0, `case "${stfCase.title}" sends nothing`);
        }
      });

      it(`${document.fileName}: keeps table setup short (each add costs about a second on BMv2)`, () => {
        assert.ok(document.setup.length <= 8, `${document.setup.length} setup lines`);
      });
    }

    it('expects ADVICE with the bytes of docs/protocol.md: service, target, epoch and the peer loads', () => {
      const advice = STF_DOCUMENTS.flatMap((document) => document.cases)
        .flatMap((stfCase) => stfCase.expects)
        .map((expect) => decodeHeader(expect.frame.subarray(42)))
        .filter((decoded) => decoded.ok && decoded.header.type === PacketType.ADVICE);
      assert.equal(advice.length, 2, 'two ADVICE packets are expected in metrics-and-advice.stf');
      assert.deepEqual(
        advice.map((decoded) => (decoded.ok ? decoded.header : undefined)),
        [
          {
            type: 2,
            nodeId: 1,
            serviceId: 1,
            sequence: 1002,
            epoch: 1,
            cpuLoadBp: 2500,
            memLoadBp: 1000,
            inflightRequests: 7,
            targetNodeId: 2,
          },
          {
            type: 2,
            nodeId: 1,
            serviceId: 1,
            sequence: 1007,
            epoch: 1,
            cpuLoadBp: 5000,
            memLoadBp: 4000,
            inflightRequests: 11,
            targetNodeId: 2,
          },
        ],
        'ADVICE headers',
      );
    });

    it('watches port 0 in every file: a packet with no egress decision would leave by it', () => {
      for (const fileName of renderStfFiles().keys()) {
        const text = renderStfFiles().get(fileName) ?? '';
        assert.match(text, /^packet 0 /m, `${fileName} must name port 0`);
      }
    });
  });

  describe('table setup against p4/edgeshift.p4', () => {
    const programText = readFile(new URL('../../p4/edgeshift.p4', import.meta.url), 'utf8');

    /** Parameter names of `action name(...)` in the program, in order. */
    function actionParams(program: string, action: string): string[] | undefined {
      const match = new RegExp(`\\baction ${action}\\(([^)]*)\\)`).exec(program);
      if (match === null) return undefined;
      return (match[1] ?? '')
        .split(',')
        .map((param) => param.trim().split(/\s+/).pop() ?? '')
        .filter((name) => name !== '');
    }

    for (const document of STF_DOCUMENTS) {
      it(`${document.fileName}: names tables, keys, actions and parameters the program declares`, async () => {
        const program = await programText;
        for (const line of document.setup) {
          const match = /^(add|setdefault) (\w+) (.*?)(\w+)\((.*)\)$/.exec(line);
          assert.ok(match, `unexpected setup line: ${line}`);
          const [, , table = '', keys = '', action = '', args = ''] = match;
          assert.match(program, new RegExp(`\\btable ${table} \\{`), `table ${table}`);
          for (const key of keys
            .trim()
            .split(/\s+/)
            .filter((k) => k !== '')) {
            const field = key.split(':')[0] ?? '';
            assert.ok(program.includes(`${field}: `), `key ${field} of ${table}`);
          }
          const argNames = args.split(',').map((arg) => arg.split(':')[0]?.trim() ?? '');
          assert.deepEqual(argNames, actionParams(program, action), `parameters of ${action}`);
        }
      });
    }
  });

  describe('formatFrame', () => {
    it('splits an IPv4/UDP frame at its Ethernet, IPv4 and UDP boundaries', () => {
      const frame = Buffer.alloc(14 + 20 + 8 + 2, 0);
      frame.writeUInt16BE(0x0800, 12);
      frame[23] = 17;
      const parts = formatFrame(frame).split(' ');
      assert.deepEqual(
        parts.map((part) => part.length / 2),
        [14, 20, 8, 2],
        'byte counts of the groups',
      );
    });

    it('splits any other frame after the Ethernet header only', () => {
      const frame = Buffer.alloc(20, 0);
      frame.writeUInt16BE(0x86dd, 12);
      assert.deepEqual(
        formatFrame(frame)
          .split(' ')
          .map((part) => part.length / 2),
        [14, 6],
        'byte counts of the groups',
      );
    });
  });
});
