// Faults during a move of sensor-stats from node-a to node-b on the two-node test bed, injected into the
// real processes while open-loop load runs: a component process is SIGKILLed (the local node restarts
// it), the agents' gRPC link is cut, CLAIMs are held on their way to the data plane or replayed stale.
// Each case states what it guarantees for lost requests and for the state.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';

import { MigrationState } from '../../agent/migration/migration-state.ts';
import type { MigrationResult } from '../../agent/migration/source-migration.ts';
import { encodeHeader, decodeHeader, type EdgeShiftHeader } from '../../p4/protocol/edgeshift-header.ts';
import { EDGESHIFT_UDP_PORT, PacketType } from '../../p4/protocol/edgeshift-protocol.ts';
import { counterStateChecker } from '../../scripts/loadgen/reply-checker.ts';
import { LoadGenerator, type LoadReport } from '../../scripts/loadgen/load-generator.ts';
import {
  sharedArtifactDir,
  TESTBED_COMPONENTS,
  TwoNodeTestbed,
  type NodeName,
  type TwoNodeTestbedOptions,
} from '../../scripts/testbed/two-node-testbed.ts';
import { assertNoFault } from './support/load-assertions.ts';

const RATE_HZ = 250;
const DURATION_MS = 7000;
const KEY_COUNT = 60;
/** ~16 MiB of sensor-stats state, so the snapshot lasts long enough to be hit. */
const SENSOR_STATS_OPTIONS = { windowLength: 16, paddingBytesPerKey: 8192, prefillKeys: 2000 };
const SERVICE = 'sensor-stats';
/**
 * The data plane balances ingest to the less loaded node: a case that kills node-b runs ingest on node-a
 * (and the other way round), so the fault hits sensor-stats and not the clients' entry point.
 */
const INGEST_ON_A = { cpuPercent: { 'node-a': 30, 'node-b': 40 } } as const;
const INGEST_ON_B = { cpuPercent: { 'node-a': 40, 'node-b': 30 } } as const;

interface FaultRun<T> {
  readonly report: LoadReport;
  readonly outcome: T;
  readonly states: Awaited<ReturnType<TwoNodeTestbed['stateOf']>>;
  readonly dataPlaneOwner: { nodeId: number; epoch: number };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a bed and the load; `act` runs 1.5 s into the load; then the load ends and the bed is read. */
async function runWithFault<T>(
  options: Partial<TwoNodeTestbedOptions>,
  act: (bed: TwoNodeTestbed, generator: LoadGenerator) => Promise<T>,
): Promise<FaultRun<T>> {
  const bed = await TwoNodeTestbed.start({
    sensorStatsOptions: SENSOR_STATS_OPTIONS,
    faultLinks: true,
    ...options,
  });
  try {
    const generator = new LoadGenerator({
      target: bed.target('ingest'),
      service: 'ingest',
      rateHz: RATE_HZ,
      durationMs: DURATION_MS,
      keyCount: KEY_COUNT,
      replyDeadlineMs: 5000,
      checkState: counterStateChecker(),
    });
    const running = generator.run();
    await pause(1500);
    const outcome = await act(bed, generator);
    const report = await running;
    await bed.waitUntilReady(); // a killed component is back before its state is read
    return {
      report,
      outcome,
      states: await bed.stateOf(SERVICE),
      dataPlaneOwner: await bed.dataPlaneOwner(SERVICE),
    };
  } finally {
    await bed.close();
  }
}

async function killNode(bed: TwoNodeTestbed, name: NodeName): Promise<void> {
  const pids = [
    ...(await bed.killComponent(name, TESTBED_COMPONENTS.peerAgent)),
    ...(await bed.killComponent(name, TESTBED_COMPONENTS.functionHost)),
  ];
  assert.equal(
    pids.length,
    2,
    `the agent and function host processes of ${name} were found: ${pids.join(',')}`,
  );
}

/** Starts the move A -> B, waits for the source's log to show `transition`, then runs `fault`. */
async function moveWithFault(
  bed: TwoNodeTestbed,
  generator: LoadGenerator,
  logOf: NodeName,
  transition: string,
  fault: () => Promise<void> | void,
  migrateTimeoutMs = 60_000,
): Promise<MigrationResult | Error> {
  const seen = bed.waitForLog(logOf, TESTBED_COMPONENTS.peerAgent, transition);
  generator.mark('move to node-b');
  const move = bed
    .migrate(SERVICE, 'node-b', bed.cutover, migrateTimeoutMs)
    .catch((err: unknown) => err as Error);
  const early = await Promise.race([seen.then(() => undefined), move]);
  if (early !== undefined) assert.fail(`the move ended before ${transition}: ${JSON.stringify(early)}`);
  generator.mark(`fault at ${transition}`);
  await fault();
  return move;
}

function assertAborted(outcome: MigrationResult | Error, label: string): MigrationResult {
  assert.ok(
    !(outcome instanceof Error),
    `${label}: the source agent answers: ${outcome instanceof Error ? outcome.message : ''}`,
  );
  assert.equal(outcome.outcome, 'aborted', `${label}: the move aborts`);
  return outcome;
}

/** Sends one CLAIM from the node's own address and returns the data plane's answer. */
async function sendClaim(bed: TwoNodeTestbed, from: NodeName, epoch: number): Promise<EdgeShiftHeader> {
  const node = bed.nodeInfo(from);
  const serviceId = bed.topology.services.find((service) => service.name === SERVICE)?.id ?? 0;
  const socket = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => socket.bind(0, node.ipv4, resolve));
    const answer = new Promise<Buffer>((resolve) => socket.once('message', resolve));
    const claim = encodeHeader({
      type: PacketType.CLAIM,
      nodeId: node.id,
      serviceId,
      sequence: 1,
      epoch,
      cpuLoadBp: 0,
      memLoadBp: 0,
      inflightRequests: 0,
      targetNodeId: 0,
    });
    socket.send(claim, EDGESHIFT_UDP_PORT, bed.topology.dataPlane.ipv4);
    const decoded = decodeHeader(await answer);
    assert.ok(decoded.ok, 'the answer is an EdgeShift header');
    return decoded.header;
  } finally {
    socket.close();
  }
}

describe('e2e/migration-faults', function () {
  this.timeout(120_000);
  let baselineChecksum: string;

  before(async function () {
    this.timeout(120_000);
    await sharedArtifactDir();
    const run = await runWithFault({}, () => Promise.resolve(undefined));
    assertNoFault(run.report, 'no move');
    baselineChecksum = run.states['node-a'].checksum;
  });

  /**
   * Abort before cutover: node-a keeps serving, nothing lost, state as with no move; at epoch 1, or 2
   * when the target could not be asked after the take-over call and node-a took epoch 2 itself.
   */
  function assertSourceKeptServing(
    run: FaultRun<MigrationResult | Error>,
    label: string,
    epoch = 1,
  ): MigrationResult {
    const result = assertAborted(run.outcome, label);
    assertNoFault(run.report, label);
    assert.deepEqual(
      [run.states['node-a'].role, run.states['node-a'].epoch],
      ['owner', epoch],
      `${label}: node-a still owns sensor-stats at epoch ${epoch}`,
    );
    assert.notEqual(run.states['node-b'].role, 'owner', `${label}: node-b does not own sensor-stats`);
    assert.deepEqual(
      run.dataPlaneOwner,
      { nodeId: 1, epoch },
      `${label}: the data plane still steers to node-a`,
    );
    assert.equal(
      run.states['node-a'].checksum,
      baselineChecksum,
      `${label}: state equal to the run without a move`,
    );
    return result;
  }

  it('target dies during the snapshot: the move aborts, node-a keeps serving, nothing lost, state unchanged', async () => {
    const run = await runWithFault(INGEST_ON_A, (bed, generator) =>
      moveWithFault(bed, generator, 'node-a', '-> TRANSFERRING_SNAPSHOT', () => killNode(bed, 'node-b')),
    );
    const result = assertSourceKeptServing(run, 'target dies in snapshot');
    assert.ok(
      result.transitions.every((step) => step.to !== MigrationState.FROZEN),
      'the source never froze: requests were never held',
    );
  });

  it('target dies while deltas are copied: the move aborts, node-a keeps serving, nothing lost, state unchanged', async () => {
    // Deltas never get small enough, so the pre-copy rounds go on until the target dies.
    const run = await runWithFault(
      { ...INGEST_ON_A, agentMigration: { deltaThresholdBytes: 0, maxDeltaRounds: 100 } },
      (bed, generator) =>
        moveWithFault(bed, generator, 'node-a', '-> COPYING_DELTAS', () => killNode(bed, 'node-b')),
    );
    assertSourceKeptServing(run, 'target dies in delta');
  });

  it('target dies after the freeze, before the cutover: node-a resumes and processes what it buffered, nothing lost', async () => {
    const run = await runWithFault({ ...INGEST_ON_A, cutover: 'in-network' }, async (bed, generator) => {
      // Held CLAIMs keep the move between the freeze and the cutover until the target dies.
      bed.claimGate('node-b').hold(true);
      return moveWithFault(bed, generator, 'node-b', '-> CUTTING_OVER', async () => {
        await pause(50);
        await killNode(bed, 'node-b');
      });
    });
    // The dead target cannot say whether its CLAIM went through: node-a claims epoch 2 and wins it.
    const result = assertSourceKeptServing(run, 'target dies after freeze', 2);
    assert.ok(
      result.transitions.some((step) => step.to === MigrationState.FROZEN),
      `the source had frozen: ${JSON.stringify(result.transitions)}`,
    );
  });

  it('gRPC link cut mid-stream: the move aborts, node-a keeps serving, and a later move succeeds', async () => {
    const run = await runWithFault(
      { agentMigration: { targetIdleTimeoutMs: 1000 } },
      async (bed, generator) => {
        const cut = await moveWithFault(bed, generator, 'node-a', '-> TRANSFERRING_SNAPSHOT', () => {
          bed.link('node-a').cut(true);
          bed.link('node-b').cut(true);
        });
        await pause(1500);
        bed.link('node-a').restore();
        bed.link('node-b').restore();
        generator.mark('move again');
        // gRPC reconnects with backoff: a move may find the channel still waiting, so try a few times.
        let again = await bed.migrate(SERVICE, 'node-b');
        for (let attempt = 1; attempt < 5 && again.outcome === 'aborted'; attempt += 1) {
          await pause(1000);
          again = await bed.migrate(SERVICE, 'node-b');
        }
        return { cut, again };
      },
    );
    assertAborted(run.outcome.cut, 'link cut');
    assertNoFault(run.report, 'link cut');
    assert.equal(
      run.outcome.again.outcome,
      'committed',
      `the move after the link is back commits: ${JSON.stringify(run.outcome.again.abortReason)}`,
    );
    assert.deepEqual(
      [run.states['node-b'].role, run.states['node-b'].epoch],
      ['owner', 2],
      'node-b owns sensor-stats at epoch 2 after the second move',
    );
  });

  it('source dies after the cutover: node-b serves at epoch 2, no request answered twice', async () => {
    const run = await runWithFault({ ...INGEST_ON_B, cutover: 'in-network' }, (bed, generator) =>
      // The source's agent dies too, so its answer to migrate never comes: a short wait.
      moveWithFault(bed, generator, 'node-b', '-> CUT_OVER', () => killNode(bed, 'node-a'), 5000),
    );
    const { totals } = run.report;
    assert.equal(
      totals.duplicates,
      0,
      `no request answered twice: ${JSON.stringify(run.report.faults.slice(0, 5))}`,
    );
    assert.deepEqual(
      run.dataPlaneOwner,
      { nodeId: 2, epoch: 2 },
      'the data plane steers to node-b at epoch 2',
    );
    assert.deepEqual(
      [run.states['node-b'].role, run.states['node-b'].epoch],
      ['owner', 2],
      'node-b owns sensor-stats at epoch 2',
    );
    process.stdout.write(
      `      source died after cutover: lost ${totals.lost}, wrong state ${totals.wrongState}, errors ${totals.errors} of ${totals.sent}\n`,
    );
  });

  it('a replayed stale CLAIM is answered CLAIM_STALE and changes no owner, under load, nothing lost', async () => {
    const run = await runWithFault({ cutover: 'in-network' }, async (bed, generator) => {
      generator.mark('move to node-b');
      const move = await bed.migrate(SERVICE, 'node-b');
      generator.mark('stale CLAIMs');
      const answers = [
        await sendClaim(bed, 'node-a', 1),
        await sendClaim(bed, 'node-a', 2),
        await sendClaim(bed, 'node-b', 2),
      ];
      return { move, answers };
    });
    assert.equal(run.outcome.move.outcome, 'committed', 'the move commits');
    for (const answer of run.outcome.answers) {
      assert.deepEqual(
        [answer.type, answer.targetNodeId, answer.epoch],
        [PacketType.CLAIM_STALE, 2, 2],
        'CLAIM_STALE naming node-b at epoch 2 as the owner in force',
      );
    }
    assert.deepEqual(
      run.dataPlaneOwner,
      { nodeId: 2, epoch: 2 },
      'the data plane still steers to node-b at epoch 2',
    );
    assertNoFault(run.report, 'stale CLAIM');
  });
});
