import assert from 'node:assert/strict';

import {
  AGENT_DEFAULTS,
  compilePeerAgentConfigValidator,
  resolveAgentConfig,
} from '../../agent/agent-config.ts';
import type { EdgeShiftError } from '../../components/common/errors.ts';

const validate = compilePeerAgentConfigValidator();

const TWO_NODE = {
  nodeId: 1,
  nodeName: 'node-a',
  peers: [{ nodeId: 2, nodeName: 'node-b', grpcAddress: '10.0.0.2:7800' }],
  services: [
    { name: 'sensor-stats', serviceId: 7, port: 7107, cutover: 'in-network' },
    { name: 'ingest', serviceId: 3, port: 7103, cutover: 'reconfiguration' },
  ],
};

describe('agent/agent-config', () => {
  it('fills the defaults and resolves names, addresses and TLS paths', () => {
    const resolved = resolveAgentConfig(validate(TWO_NODE), {
      thingName: 'thing-a',
      workDir: '/gg/work/agent',
    });
    assert.equal(resolved.nodeName, 'node-a', 'nodeName wins over the thing name');
    assert.equal(resolved.nodeNumber, 1);
    assert.equal(resolved.grpcListenAddress, '0.0.0.0:7800');
    assert.deepEqual(resolved.peers, [{ nodeId: 'node-b', nodeNumber: 2, grpcAddress: '10.0.0.2:7800' }]);
    assert.deepEqual(resolved.dataPlane, { address: '127.0.0.1', port: 7700 });
    assert.deepEqual(resolved.dataPlaneListen, AGENT_DEFAULTS.dataPlaneListen);
    assert.deepEqual(resolved.tls, {
      caCertPath: '/gg/work/agent/tls/ca.crt',
      certPath: '/gg/work/agent/tls/node-a.crt',
      keyPath: '/gg/work/agent/tls/node-a.key',
    });
    assert.deepEqual(resolved.placement, AGENT_DEFAULTS.placement);
    assert.deepEqual(resolved.settings, AGENT_DEFAULTS.settings);
  });

  it('names the node after the thing when nodeName is absent, and merges partial timeouts', () => {
    const { nodeName: _omit, ...rest } = TWO_NODE;
    const resolved = resolveAgentConfig(
      validate({ ...rest, migration: { chunkBytes: 65_536, timeouts: { cutoverMs: 900 } } }),
      {
        thingName: 'thing-a',
        workDir: '/w',
      },
    );
    assert.equal(resolved.nodeName, 'thing-a');
    assert.equal(resolved.settings.chunkBytes, 65_536);
    assert.equal(resolved.settings.timeouts.cutoverMs, 900, 'the given timeout');
    assert.equal(
      resolved.settings.timeouts.freezeMs,
      AGENT_DEFAULTS.settings.timeouts.freezeMs,
      'the others keep their default',
    );
  });

  const rejected: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    [
      'a cutover option that does not exist',
      { ...TWO_NODE, services: [{ name: 's', serviceId: 1, port: 1, cutover: 'teleport' }] },
      /\/services\/0\/cutover/,
    ],
    [
      'a service id twice',
      { ...TWO_NODE, services: [TWO_NODE.services[0], { ...TWO_NODE.services[1], serviceId: 7 }] },
      /serviceId 7 appears twice/,
    ],
    [
      'a peer with this node own id',
      { ...TWO_NODE, peers: [{ nodeId: 1, nodeName: 'x', grpcAddress: 'h:1' }] },
      /own nodeId 1/,
    ],
    [
      'placement without hysteresis',
      { ...TWO_NODE, placement: { highLoadBp: 6000, lowLoadBp: 6000 } },
      /lowLoadBp \(6000\) must be below/,
    ],
    ['an unknown key', { ...TWO_NODE, colour: 'blue' }, /colour|additional properties/],
  ];
  for (const [name, config, message] of rejected) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => validate(config),
        (err: EdgeShiftError) => err.code === 'ERR_CONFIG_INVALID' && message.test(err.message),
      );
    });
  }
});
