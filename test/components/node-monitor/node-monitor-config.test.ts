import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { CgroupLoadSampler } from '../../../components/node-monitor/cgroup-sampler.ts';
import { HostLoadSampler } from '../../../components/node-monitor/host-sampler.ts';
import {
  createSampler,
  resolveThingName,
  validateNodeMonitorConfig,
} from '../../../components/node-monitor/node-monitor-config.ts';
import { SyntheticLoadSampler } from '../../../components/node-monitor/synthetic-sampler.ts';
import { EDGESHIFT_UDP_PORT } from '../../../p4/protocol/edgeshift-protocol.ts';
import { FakeTime } from './fake-time.ts';

const SCHEMA_PATH = new URL(
  '../../../recipes/schemas/com.edgeshift.NodeMonitor.schema.json',
  import.meta.url,
);

describe('components/node-monitor/node-monitor-config', () => {
  describe('validateNodeMonitorConfig', () => {
    it('fills every default of an empty document', () => {
      assert.deepEqual(validateNodeMonitorConfig({}), {
        nodeId: 1,
        periodMs: 100,
        smoothingTimeConstantMs: 500,
        source: { kind: 'host' },
        dataPlane: { address: '127.0.0.1', port: 7700 },
        publishLocalTopic: true,
        inflightRequests: 0,
      });
    });

    it('defaults the data-plane port to EDGESHIFT_UDP_PORT of the protocol module', () => {
      const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as {
        properties: { dataPlane: { properties: { port: { default: number } } } };
      };
      assert.equal(
        schema.properties.dataPlane.properties.port.default,
        EDGESHIFT_UDP_PORT,
        'one source of truth',
      );
    });

    it('defaults the ADVICE forward address to loopback', () => {
      const config = validateNodeMonitorConfig({ adviceForward: { port: 7710 } });
      assert.deepEqual(config.adviceForward, { address: '127.0.0.1', port: 7710 });
    });

    it('returns a frozen configuration', () => {
      const config = validateNodeMonitorConfig({ source: { kind: 'cgroup', path: '/sys/fs/cgroup' } });
      assert.ok(Object.isFrozen(config) && Object.isFrozen(config.source), 'inner code cannot change it');
    });

    it('accepts a synthetic profile with every waveform', () => {
      const source = {
        kind: 'synthetic',
        cpu: { shape: 'steps', steps: [{ durationMs: 1000, percent: 20 }], repeat: false },
        memory: { shape: 'square', lowPercent: 10, highPercent: 60, periodMs: 2000, dutyCycle: 0.3 },
      };
      assert.deepEqual(validateNodeMonitorConfig({ nodeId: 4, source }).source, source);
    });

    const rejected: readonly { name: string; config: unknown; field: string }[] = [
      { name: 'node id 0', config: { nodeId: 0 }, field: '/nodeId' },
      { name: 'node id 16', config: { nodeId: 16 }, field: '/nodeId' },
      { name: 'a fractional node id', config: { nodeId: 1.5 }, field: '/nodeId' },
      { name: 'a 5 ms period', config: { periodMs: 5 }, field: '/periodMs' },
      { name: 'a 20 s period', config: { periodMs: 20_000 }, field: '/periodMs' },
      { name: 'an unknown source kind', config: { source: { kind: 'gpu' } }, field: '/source/kind' },
      { name: 'a cgroup source without path', config: { source: { kind: 'cgroup' } }, field: '/source' },
      {
        name: 'a sine without amplitude',
        config: { source: { kind: 'synthetic', cpu: { shape: 'sine', meanPercent: 50, periodMs: 1000 } } },
        field: '/source/cpu',
      },
      {
        name: 'a load above 100 %',
        config: { source: { kind: 'synthetic', cpu: { shape: 'constant', percent: 150 } } },
        field: '/source/cpu/percent',
      },
      { name: 'a port of 0', config: { dataPlane: { port: 0 } }, field: '/dataPlane/port' },
      { name: 'an unknown key', config: { periodMS: 100 }, field: "/ has unknown property 'periodMS'" },
      {
        name: 'a time constant below the period',
        config: { periodMs: 1000, smoothingTimeConstantMs: 200 },
        field: '/smoothingTimeConstantMs 200 must be at least /periodMs 1000',
      },
      {
        name: 'a square wave with low above high',
        config: {
          source: {
            kind: 'synthetic',
            cpu: { shape: 'square', lowPercent: 90, highPercent: 10, periodMs: 1000 },
          },
        },
        field: '/source/cpu/lowPercent',
      },
      {
        name: 'a sine faster than the sampling',
        config: {
          periodMs: 200,
          source: {
            kind: 'synthetic',
            cpu: { shape: 'constant', percent: 1 },
            memory: { shape: 'sine', meanPercent: 50, amplitudePercent: 10, periodMs: 100 },
          },
        },
        field: '/source/memory/periodMs',
      },
    ];
    for (const { name, config, field } of rejected) {
      it(`rejects ${name}, naming ${field}`, () => {
        assert.throws(
          () => validateNodeMonitorConfig(config),
          (err: Error) => hasErrorCode(err, 'ERR_CONFIG_INVALID') && err.message.includes(field),
          `the message must name ${field}`,
        );
      });
    }
  });

  describe('resolveThingName', () => {
    const base = validateNodeMonitorConfig({ nodeId: 3 });

    it('prefers the configured thing name', () => {
      const config = validateNodeMonitorConfig({ nodeId: 3, thingName: 'edge-c' });
      assert.equal(resolveThingName(config, { AWS_IOT_THING_NAME: 'from-nucleus' }), 'edge-c');
    });

    it("falls back to the nucleus's AWS_IOT_THING_NAME, then to the node id", () => {
      assert.equal(resolveThingName(base, { AWS_IOT_THING_NAME: 'from-nucleus' }), 'from-nucleus');
      assert.equal(resolveThingName(base, {}), 'edgeshift-node-3');
    });
  });

  describe('createSampler', () => {
    it('builds the sampler each source kind names', () => {
      const time = new FakeTime();
      assert.ok(createSampler({ kind: 'host' }, time) instanceof HostLoadSampler);
      assert.ok(createSampler({ kind: 'cgroup', path: '/sys/fs/cgroup' }, time) instanceof CgroupLoadSampler);
      const synthetic = { kind: 'synthetic', cpu: { shape: 'constant', percent: 1 } } as const;
      assert.ok(createSampler(synthetic, time) instanceof SyntheticLoadSampler);
    });
  });
});
