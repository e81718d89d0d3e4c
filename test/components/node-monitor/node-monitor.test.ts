import assert from 'node:assert/strict';
import { join } from 'node:path';

import { hasErrorCode } from '../../../components/common/errors.ts';
import type { LoadSample, LoadSampler } from '../../../components/node-monitor/load-sample.ts';
import type { MetricsReport } from '../../../components/node-monitor/metrics-report.ts';
import { NodeMonitor, type NodeMonitorOptions } from '../../../components/node-monitor/node-monitor.ts';
import {
  createSampler,
  validateNodeMonitorConfig,
  type NodeMonitorConfig,
} from '../../../components/node-monitor/node-monitor-config.ts';
import { decodeHeader, encodeHeader, type EdgeShiftHeader } from '../../../p4/protocol/edgeshift-header.ts';
import { PacketType } from '../../../p4/protocol/edgeshift-protocol.ts';
import { FakeTime } from './fake-time.ts';
import { FIXTURE_ROOT } from './fixtures.ts';
import { UdpInbox } from './udp-inbox.ts';

/** 1_700_000_000_123 ms modulo 2^32. */
const WALL_CLOCK_MS = 1_700_000_000_123;
const FIRST_SEQUENCE = 0xcfe5687b;

/** A sampler whose samples the test hands out one by one. */
class ScriptedSampler implements LoadSampler {
  readonly waiting: ((sample: LoadSample) => void)[] = [];

  sample(): Promise<LoadSample> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  answer(sample: LoadSample): void {
    const resolve = this.waiting.shift();
    assert.ok(resolve !== undefined, 'a sample was requested');
    resolve(sample);
  }
}

/** Waits for I/O-driven work (real file reads) to reach a state; fails with `what` after 5 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadlineMs = Date.now() + 5000;
  while (!condition()) {
    assert.ok(Date.now() < deadlineMs, `timed out waiting: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function decodeAdvice(bytes: Buffer): EdgeShiftHeader {
  const decoded = decodeHeader(bytes);
  assert.ok(decoded.ok);
  return decoded.header;
}

function configFor(port: number, overrides: Record<string, unknown> = {}): NodeMonitorConfig {
  return validateNodeMonitorConfig({
    nodeId: 3,
    thingName: 'edge-c',
    periodMs: 100,
    smoothingTimeConstantMs: 100,
    source: {
      kind: 'synthetic',
      cpu: { shape: 'constant', percent: 50 },
      memory: { shape: 'constant', percent: 25 },
    },
    dataPlane: { address: '127.0.0.1', port },
    ...overrides,
  });
}

describe('components/node-monitor/node-monitor', () => {
  let inbox: UdpInbox;
  let time: FakeTime;
  let monitor: NodeMonitor | undefined;

  beforeEach(async () => {
    inbox = await UdpInbox.open();
    time = new FakeTime();
  });

  afterEach(async () => {
    await monitor?.close();
    monitor = undefined;
    await inbox.close();
  });

  async function startMonitor(
    config: NodeMonitorConfig,
    options: NodeMonitorOptions = {},
  ): Promise<NodeMonitor> {
    monitor = new NodeMonitor(config, {
      clock: time,
      timer: time,
      wallClockMs: () => WALL_CLOCK_MS,
      ...options,
    });
    await monitor.start();
    return monitor;
  }

  it('sends the exact METRICS packet each period to the data plane', async () => {
    await startMonitor(configFor(inbox.port));
    time.advance(100);
    const expected = Buffer.from(
      'e5f7' + '01' + '01' + '0003' + '0000' + 'cfe5687b' + '00000000' + '1388' + '09c4' + '0000' + '0000',
      'hex',
    );
    assert.deepEqual(
      await inbox.next(),
      expected,
      'node 3, wall-clock sequence, 5000 bp CPU, 2500 bp memory',
    );
  });

  it('increments the sequence by one per packet from the wall-clock start', async () => {
    await startMonitor(configFor(inbox.port));
    const sequences: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      time.advance(100);
      const decoded = decodeHeader(await inbox.next());
      assert.ok(decoded.ok, 'a valid EdgeShift header');
      assert.equal(decoded.header.type, PacketType.METRICS);
      sequences.push(decoded.header.sequence);
    }
    assert.deepEqual(sequences, [FIRST_SEQUENCE, FIRST_SEQUENCE + 1, FIRST_SEQUENCE + 2]);
  });

  it('smooths the load with the configured time constant', async () => {
    const source = {
      kind: 'synthetic',
      cpu: {
        shape: 'steps',
        repeat: false,
        steps: [
          { durationMs: 150, percent: 0 },
          { durationMs: 1, percent: 100 },
        ],
      },
    };
    await startMonitor(configFor(inbox.port, { source }));
    time.advance(100);
    const before = decodeHeader(await inbox.next());
    time.advance(100);
    const after = decodeHeader(await inbox.next());
    assert.ok(before.ok && after.ok);
    assert.equal(before.header.cpuLoadBp, 0, 'first sample taken as is');
    // One 100 ms interval with a 100 ms time constant moves 1 - e^-1 of the way to 100 %.
    assert.equal(after.header.cpuLoadBp, Math.round((1 - Math.exp(-1)) * 10000), 'not the raw 10000');
  });

  it('announces the in-flight count of the provider, clamped to 16 bits', async () => {
    let inflight: number | undefined = 70_000;
    await startMonitor(configFor(inbox.port, { inflightRequests: 7 }), {
      inflightRequestsProvider: () => inflight,
    });
    time.advance(100);
    const clamped = decodeHeader(await inbox.next());
    inflight = undefined;
    time.advance(100);
    const fromConfig = decodeHeader(await inbox.next());
    assert.ok(clamped.ok && fromConfig.ok);
    assert.equal(clamped.header.inflightRequests, 65535);
    assert.equal(fromConfig.header.inflightRequests, 7, 'the configured count when the provider has none');
  });

  it('announces full load while the function host drains, and its smoothed load after', async () => {
    let isDraining = true;
    await startMonitor(configFor(inbox.port), { isDrainingProvider: () => isDraining });
    time.advance(100);
    const draining = decodeHeader(await inbox.next());
    isDraining = false;
    time.advance(100);
    const after = decodeHeader(await inbox.next());
    assert.ok(draining.ok && after.ok);
    assert.deepEqual([draining.header.cpuLoadBp, draining.header.memLoadBp], [10000, 10000]);
    assert.ok(after.header.cpuLoadBp < 10000 && after.header.memLoadBp < 10000, 'the real load again');
  });

  it('publishes each report as JSON on edgeshift/metrics/<thingName>', async () => {
    const published: { topic: string; value: unknown }[] = [];
    await startMonitor(configFor(inbox.port), {
      publishLocal: (topic, value) => {
        published.push({ topic, value });
        return Promise.resolve();
      },
    });
    time.advance(100);
    await inbox.next();
    const report: MetricsReport = {
      nodeId: 3,
      thingName: 'edge-c',
      sequence: FIRST_SEQUENCE,
      timestampMs: WALL_CLOCK_MS,
      cpuLoadBp: 5000,
      memLoadBp: 2500,
      inflightRequests: 0,
      rawCpuLoadRatio: 0.5,
      rawMemLoadRatio: 0.25,
    };
    assert.deepEqual(published, [{ topic: 'edgeshift/metrics/edge-c', value: report }]);
  });

  it('does not publish locally when publishLocalTopic is false', async () => {
    const published: string[] = [];
    await startMonitor(configFor(inbox.port, { publishLocalTopic: false }), {
      publishLocal: (topic) => {
        published.push(topic);
        return Promise.resolve();
      },
    });
    time.advance(100);
    await inbox.next();
    assert.deepEqual(published, []);
  });

  it('skips and counts ticks while a slow sample is still running', async () => {
    const sampler = new ScriptedSampler();
    monitor = new NodeMonitor(configFor(inbox.port), {
      clock: time,
      timer: time,
      samplerFactory: () => sampler,
    });
    const started = monitor.start();
    await until(() => sampler.waiting.length === 1, 'the priming sample was asked for');
    sampler.answer({ cpuLoadRatio: null, memLoadRatio: 0.1 });
    await started;
    time.advance(300);
    assert.equal(sampler.waiting.length, 1, 'one sample in progress, not three');
    sampler.answer({ cpuLoadRatio: 0.4, memLoadRatio: 0.1 });
    const decoded = decodeHeader(await inbox.next());
    assert.ok(decoded.ok);
    assert.equal(decoded.header.cpuLoadBp, 4000);
    assert.equal(monitor.stats.overlappedTicks, 2, 'the ticks at 200 and 300 ms were skipped');
    assert.equal(inbox.pendingCount, 0, 'no burst of packets after the slow sample');
  });

  it('sends nothing and counts the error when the source fails', async () => {
    const config = configFor(inbox.port, {
      source: { kind: 'cgroup', path: join(FIXTURE_ROOT, 'cgroup-v1') },
    });
    await startMonitor(config);
    time.advance(100);
    const running = monitor;
    assert.ok(running !== undefined);
    await until(() => running.stats.sampleErrors === 2, 'priming and the tick both failed');
    assert.equal(running.stats.packetsSent, 0, 'no METRICS without a sample');
    assert.equal(inbox.pendingCount, 0, 'no METRICS without a sample');
  });

  it('applies a new period, source and data-plane address without restart', async () => {
    const second = await UdpInbox.open();
    try {
      const running = await startMonitor(configFor(inbox.port));
      time.advance(100);
      await inbox.next();
      await running.reconfigure(
        configFor(second.port, {
          periodMs: 50,
          source: { kind: 'synthetic', cpu: { shape: 'constant', percent: 80 } },
        }),
      );
      time.advance(50);
      const moved = decodeHeader(await second.next());
      assert.ok(moved.ok);
      assert.deepEqual(
        [moved.header.sequence, moved.header.cpuLoadBp, moved.header.memLoadBp],
        [FIRST_SEQUENCE + 1, 8000, 0],
        'next sequence, new source (smoothing restarted), at the new address after one new period',
      );
      assert.equal(inbox.pendingCount, 0, 'nothing more to the old address');
    } finally {
      await second.close();
    }
  });

  it('sends from the configured source address and port, as the data plane authenticates them', async () => {
    const config = configFor(inbox.port, {
      dataPlane: { address: '127.0.0.1', port: inbox.port, sourceAddress: '127.0.0.2' },
    });
    const running = await startMonitor(config);
    time.advance(100);
    const { from } = await inbox.nextDatagram();
    assert.deepEqual([from.address, from.port], ['127.0.0.2', running.localPort], 'source 127.0.0.2');
  });

  describe('ADVICE from the data plane', () => {
    const advice = encodeHeader({
      type: PacketType.ADVICE,
      nodeId: 3,
      serviceId: 5,
      sequence: FIRST_SEQUENCE,
      epoch: 2,
      cpuLoadBp: 1000,
      memLoadBp: 2000,
      inflightRequests: 1,
      targetNodeId: 4,
    });
    let agent: UdpInbox;

    beforeEach(async () => {
      agent = await UdpInbox.open();
    });

    afterEach(async () => {
      await agent.close();
    });

    it('is forwarded unchanged to the peer agent', async () => {
      const running = await startMonitor(configFor(inbox.port, { adviceForward: { port: agent.port } }));
      await inbox.send(advice, running.localPort ?? 0);
      assert.deepEqual(await agent.next(), advice, 'the same bytes');
      await until(() => running.stats.advicesForwarded === 1, 'the forward is counted');
    });

    it('is dropped when it does not come from the data plane address and port', async () => {
      const running = await startMonitor(configFor(inbox.port, { adviceForward: { port: agent.port } }));
      await agent.send(advice, running.localPort ?? 0);
      await until(() => running.stats.datagramsDropped === 1, 'the spoofed ADVICE is dropped');
      assert.equal(agent.pendingCount, 0, 'nothing forwarded');
    });

    it('drops other packet types and garbage', async () => {
      const running = await startMonitor(configFor(inbox.port, { adviceForward: { port: agent.port } }));
      const metrics = encodeHeader({ ...decodeAdvice(advice), type: PacketType.METRICS });
      await inbox.send(metrics, running.localPort ?? 0);
      await inbox.send(Buffer.from('hello'), running.localPort ?? 0);
      await until(() => running.stats.datagramsDropped === 2, 'both dropped');
      assert.equal(agent.pendingCount, 0, 'nothing forwarded');
    });
  });

  it('refuses to start twice or reconfigure after close', async () => {
    const running = await startMonitor(configFor(inbox.port));
    await assert.rejects(running.start(), (err) => hasErrorCode(err, 'ERR_MONITOR_CLOSED'));
    await running.close();
    await running.close();
    await assert.rejects(running.reconfigure(configFor(inbox.port)), (err) =>
      hasErrorCode(err, 'ERR_MONITOR_CLOSED'),
    );
  });

  it('samples the real host and sends loads within range', async () => {
    monitor = new NodeMonitor(
      configFor(inbox.port, { source: { kind: 'host' }, periodMs: 20, smoothingTimeConstantMs: 20 }),
      {
        samplerFactory: createSampler,
      },
    );
    await monitor.start();
    const decoded = decodeHeader(await inbox.next());
    assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
    assert.ok(decoded.header.memLoadBp > 0, 'this machine uses some memory');
  });
});
