import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { RequestServer } from '../../../components/function-host/request-server.ts';
import { StateStore } from '../../../components/function-host/state-store.ts';
import { encodeMessage, type FunctionRequest } from '../../../components/function-host/request-wire.ts';
import { UdpTestClient } from './helpers/udp-client.ts';
import {
  counterFunction,
  frontFunction,
  gatedCounterFunction,
  hosted,
  serverOptions,
} from './helpers/test-functions.ts';

const request = (id: string, key = 'k', body: unknown = id): FunctionRequest => ({
  id,
  service: 'counter',
  key,
  body,
});

describe('components/function-host/request-server', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  const track = <T extends { close(): Promise<void> | void }>(thing: T): T => {
    cleanups.push(() => thing.close());
    return thing;
  };
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function startNode(
    name: string,
    ...args: Parameters<typeof serverOptions> extends [string, ...infer Rest] ? Rest : never
  ): Promise<RequestServer> {
    return track(await RequestServer.start(serverOptions(name, ...args)));
  }

  /** A reply to a request sent after `client`'s earlier ones proves the server has handled those. */
  async function barrier(
    client: UdpTestClient,
    server: RequestServer,
    expectedBefore: number,
  ): Promise<void> {
    client.send(server.serviceAddress('counter'), request(`barrier-${expectedBefore}`, 'barrier'));
    await client.waitForReplies(expectedBefore + 1);
  }

  it('processes a request and answers the sender with the exact reply', async () => {
    const node = await startNode('node-a', [hosted(counterFunction())]);
    const client = track(await UdpTestClient.open());
    client.send(node.serviceAddress('counter'), request('c:1', 'sensor-1', 20.5));
    const [received] = await client.waitForReplies(1);
    assert.equal(
      received?.bytes.toString(),
      '{"id":"c:1","ok":true,"body":{"count":1,"seen":[20.5]},"node":"node-a","epoch":1}',
      'reply bytes',
    );
    assert.deepEqual(received?.from, node.serviceAddress('counter'), 'the reply comes from the service port');
  });

  it('answers a duplicate with the original reply and never processes it twice', async () => {
    const node = await startNode('node-a', [hosted(counterFunction())]);
    const client = track(await UdpTestClient.open());
    client.send(node.serviceAddress('counter'), request('c:1'));
    await client.waitForReplies(1);
    client.send(node.serviceAddress('counter'), request('c:1', 'k', 'different body'));
    const replies = await client.waitForReplies(2);
    assert.equal(
      replies[1]?.bytes.toString(),
      replies[0]?.bytes.toString(),
      'the duplicate gets the original reply bytes',
    );
    const summary = node.runtime('counter').summary();
    assert.equal(summary.processedRequests, 1, 'processed once');
    assert.equal(summary.duplicateRequests, 1);
  });

  it('drops a duplicate that arrives while the original is still in progress', async () => {
    const gated = gatedCounterFunction();
    const node = await startNode('node-a', [hosted(gated.definition)]);
    const client = track(await UdpTestClient.open());
    client.send(node.serviceAddress('counter'), request('c:1'));
    client.send(node.serviceAddress('counter'), request('c:1'));
    client.send(node.serviceAddress('counter'), request('c:2', 'other'));
    await client.waitForReplies(0);
    while (node.runtime('counter').summary().duplicateRequests < 1) await new Promise((r) => setImmediate(r));
    gated.open();
    await client.waitForReplies(2);
    await barrier(client, node, 2);
    assert.deepEqual(
      client.replies.map((r) => r.reply.id).sort(),
      ['barrier-2', 'c:1', 'c:2'],
      'one reply per id',
    );
    assert.equal(node.runtime('counter').summary().processedRequests, 3, 'c:1 once, c:2 and the barrier');
  });

  it('keeps per-key order while requests of other keys run concurrently', async () => {
    const definition = counterFunction();
    const slow = {
      ...definition,
      handler: async (...args: Parameters<typeof definition.handler>) => {
        // Later requests finish sooner if nothing orders them: a reordering would show in `seen`.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 20 - Number(args[0].body))));
        return definition.handler(...args);
      },
    };
    const node = await startNode('node-a', [hosted(slow)]);
    const client = track(await UdpTestClient.open());
    for (let i = 0; i < 20; i += 1) {
      client.send(node.serviceAddress('counter'), request(`a:${i}`, 'a', i));
      client.send(node.serviceAddress('counter'), request(`b:${i}`, 'b', i));
    }
    await client.waitForReplies(40);
    const lastOf = (key: string): unknown =>
      client.replies
        .filter((r) => r.reply.id.startsWith(`${key}:`))
        .find((r) => (r.reply.body as { count: number }).count === 20)?.reply.body;
    const inOrder = Array.from({ length: 20 }, (_, i) => i);
    assert.deepEqual(lastOf('a'), { count: 20, seen: inOrder }, 'key a processed in arrival order');
    assert.deepEqual(lastOf('b'), { count: 20, seen: inOrder }, 'key b processed in arrival order');
  });

  it('buffers arrivals while frozen and processes them in order on resume', async () => {
    const node = await startNode('node-a', [hosted(counterFunction())]);
    const client = track(await UdpTestClient.open());
    const runtime = node.runtime('counter');
    assert.equal(await runtime.freeze(), 0);
    for (let i = 1; i <= 3; i += 1) client.send(node.serviceAddress('counter'), request(`c:${i}`, 'k', i));
    while (runtime.summary().bufferedRequests < 3) await new Promise((r) => setImmediate(r));
    assert.equal(runtime.summary().processedRequests, 0, 'nothing processed while frozen');
    assert.equal(runtime.resume(), 3, 'resume reports the buffered requests');
    const replies = await client.waitForReplies(3);
    assert.deepEqual(
      replies.map((r) => r.reply.body),
      [1, 2, 3].map((count) => ({ count, seen: [1, 2, 3].slice(0, count) })),
      'buffered requests processed in arrival order',
    );
  });

  it('waits for requests in progress before a freeze completes', async () => {
    const gated = gatedCounterFunction();
    const node = await startNode('node-a', [hosted(gated.definition)]);
    const client = track(await UdpTestClient.open());
    client.send(node.serviceAddress('counter'), request('c:1'));
    while (gated.started() < 1) await new Promise((r) => setImmediate(r));
    let isFrozen = false;
    const freezing = node
      .runtime('counter')
      .freeze()
      .then(() => (isFrozen = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(isFrozen, false, 'freeze must wait for the request in progress');
    gated.open();
    await freezing;
    assert.equal(node.runtime('counter').summary().processedRequests, 1);
  });

  it('answers with ERR_FNHOST_BUFFER_FULL when the freeze buffer is full', async () => {
    const node = await startNode('node-a', [hosted(counterFunction())], { maxBufferedRequests: 2 });
    const client = track(await UdpTestClient.open());
    await node.runtime('counter').freeze();
    for (let i = 1; i <= 3; i += 1) client.send(node.serviceAddress('counter'), request(`c:${i}`));
    const [rejected] = await client.waitForReplies(1);
    assert.equal(rejected?.reply.id, 'c:3');
    assert.equal(rejected?.reply.error?.code, 'ERR_FNHOST_BUFFER_FULL');
    assert.equal(node.runtime('counter').summary().rejectedRequests, 1, 'the rejection is counted');
  });

  it('answers a standby with no route with ERR_FNHOST_NOT_OWNER, and a bad request with ERR_FNHOST_BAD_REQUEST', async () => {
    const node = await startNode('node-b', [hosted(counterFunction(), { role: 'standby' })]);
    const client = track(await UdpTestClient.open());
    client.send(node.serviceAddress('counter'), request('c:1'));
    const [notOwner] = await client.waitForReplies(1);
    assert.equal(notOwner?.reply.error?.code, 'ERR_FNHOST_NOT_OWNER');
    assert.equal(notOwner?.reply.ok, false);
    client.sendRaw(node.serviceAddress('counter'), Buffer.from('{"id":"c:2","service":"counter"}'));
    const replies = await client.waitForReplies(2);
    assert.deepEqual(replies[1]?.reply.error, {
      code: 'ERR_FNHOST_BAD_REQUEST',
      message: 'key must be a string',
    });
  });

  describe('migration primitives', () => {
    async function twoNodes(
      holdMs = 0,
    ): Promise<{ a: RequestServer; b: RequestServer; client: UdpTestClient }> {
      const a = await startNode('node-a', [hosted(counterFunction())]);
      const b = await startNode('node-b', [hosted(counterFunction(), { role: 'standby' })], {
        handOverHoldMs: holdMs,
      });
      return { a, b, client: track(await UdpTestClient.open()) };
    }

    it('forwards buffered requests on handOver so the new owner answers the client directly', async () => {
      const { a, b, client } = await twoNodes();
      b.runtime('counter').beginImport(2, false);
      b.runtime('counter').activate(2);
      await a.runtime('counter').freeze();
      for (let i = 1; i <= 3; i += 1) client.send(a.serviceAddress('counter'), request(`c:${i}`, 'k', i));
      while (a.runtime('counter').summary().bufferedRequests < 3) await new Promise((r) => setImmediate(r));
      assert.equal(await a.runtime('counter').handOver(2, b.serviceAddress('counter')), 3, 'three forwarded');
      const replies = await client.waitForReplies(3);
      for (const received of replies) {
        assert.equal(received.reply.node, 'node-b', 'the new owner processed it');
        assert.equal(received.reply.epoch, 2);
        assert.deepEqual(
          received.from,
          b.serviceAddress('counter'),
          'the new owner answers the client directly',
        );
      }
      assert.deepEqual(
        replies.map((r) => r.reply.id),
        ['c:1', 'c:2', 'c:3'],
        'in arrival order',
      );
      client.send(a.serviceAddress('counter'), request('c:4', 'k', 4));
      const late = await client.waitForReplies(4);
      assert.equal(late[3]?.reply.node, 'node-b', 'a late arrival at the old owner is forwarded too');
      assert.equal(a.runtime('counter').summary().processedRequests, 0, 'the old owner processed nothing');
    });

    it('holds direct arrivals at the new owner until the old owner has forwarded its buffer', async () => {
      const { a, b, client } = await twoNodes(30_000);
      b.runtime('counter').beginImport(2, false);
      b.runtime('counter').activate(2);
      await a.runtime('counter').freeze();
      client.send(a.serviceAddress('counter'), request('c:1', 'k', 1));
      while (a.runtime('counter').summary().bufferedRequests < 1) await new Promise((r) => setImmediate(r));
      client.send(b.serviceAddress('counter'), request('c:2', 'k', 2));
      while (b.runtime('counter').summary().bufferedRequests < 1) await new Promise((r) => setImmediate(r));
      assert.equal(b.runtime('counter').summary().processedRequests, 0, 'the direct arrival waits');
      await a.runtime('counter').handOver(2, b.serviceAddress('counter'));
      const replies = await client.waitForReplies(2);
      assert.deepEqual(
        replies.map((r) => [r.reply.id, (r.reply.body as { count: number }).count]),
        [
          ['c:1', 1],
          ['c:2', 2],
        ],
        'the older buffered request runs first',
      );
    });

    it('with mirrors, holds forwarded and direct arrivals alike until every mirror the marker counts is applied', async () => {
      const { a, b, client } = await twoNodes(30_000);
      const runtime = b.runtime('counter');
      runtime.beginImport(2, true);
      runtime.activate(2);
      // The old owner's mirror 0: it had counted key k five times.
      const writes = new StateStore();
      writes.beginSnapshot(64);
      writes.namespace('app').putJson('k', { count: 5, seen: [] });
      const mirror = writes.takeDelta().delta;
      client.send(b.serviceAddress('counter'), request('c:7', 'k', 7));
      client.send(b.serviceAddress('counter'), { ...request('c:6', 'k', 6), replyTo: client.address });
      while (runtime.summary().bufferedRequests < 2) await new Promise((r) => setImmediate(r));
      runtime.handOverComplete(2, 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(runtime.summary().processedRequests, 0, 'the marker counts a mirror not yet here');
      // It carries the old owner's reply to c:5, which the new owner sends on receipt.
      const reply = encodeMessage({ id: 'c:5', ok: true, body: { count: 5 }, node: 'node-a', epoch: 1 });
      runtime.acceptMirror(
        2,
        0,
        { delta: mirror, reply, replyTo: client.address },
        a.serviceAddress('counter'),
      );
      const replies = await client.waitForReplies(3);
      assert.deepEqual(
        replies.map((r) => [r.reply.id, (r.reply.body as { count: number }).count, r.reply.node]),
        [
          ['c:5', 5, 'node-a'],
          ['c:6', 6, 'node-b'],
          ['c:7', 7, 'node-b'],
        ],
        'on the mirrored state, the forwarded request first',
      );
    });

    it("hands over at once on the new owner's cutover notice, and only on the one its freeze expects", async () => {
      const { a, b, client } = await twoNodes();
      const token = 'a1'.repeat(16);
      b.runtime('counter').beginImport(2, false);
      b.runtime('counter').activate(2);
      await a.runtime('counter').freeze({ token, epoch: 2, newOwner: b.serviceAddress('counter') });
      client.send(a.serviceAddress('counter'), request('c:1', 'k', 1));
      while (a.runtime('counter').summary().bufferedRequests < 1) await new Promise((r) => setImmediate(r));
      for (const [epoch, presented] of [
        [2, 'b2'.repeat(16)],
        [3, token],
        [2, token.slice(1)],
      ] as const) {
        assert.equal(a.runtime('counter').cutoverNotice(epoch, presented), false, `${epoch}/${presented}`);
      }
      assert.equal(a.runtime('counter').role, 'frozen', 'a wrong token or epoch changes nothing');
      client.sendRaw(
        a.serviceAddress('counter'),
        encodeMessage({ cutoverNotice: { service: 'counter', epoch: 2, token } }),
      );
      const [received] = await client.waitForReplies(1);
      assert.equal(received?.reply.node, 'node-b', 'the buffered request went to the new owner');
      assert.equal(a.runtime('counter').role, 'forwarding');
      assert.equal(a.runtime('counter').noticeHandOvers, 1);
      assert.equal(
        await a.runtime('counter').handOver(2, b.serviceAddress('counter')),
        1,
        'the agent finds it done',
      );
      assert.ok(a.runtime('counter').lastFrozenMs > 0, 'the freeze is measured');
    });

    it('ignores a cutover notice after the freeze it was given with has ended', async () => {
      const { a, b, client } = await twoNodes();
      const token = 'c3'.repeat(16);
      await a.runtime('counter').freeze({ token, epoch: 2, newOwner: b.serviceAddress('counter') });
      a.runtime('counter').resume();
      client.sendRaw(
        a.serviceAddress('counter'),
        encodeMessage({ cutoverNotice: { service: 'counter', epoch: 2, token } }),
      );
      client.send(a.serviceAddress('counter'), request('c:1'));
      const [received] = await client.waitForReplies(1);
      assert.equal(received?.reply.node, 'node-a', 'the resumed owner keeps serving');
      assert.equal(a.runtime('counter').noticeHandOvers, 0);
    });

    it('fences an owner that gets a route to another node at a newer epoch', async () => {
      const { a, b, client } = await twoNodes();
      b.runtime('counter').beginImport(2, false);
      b.runtime('counter').activate(2);
      assert.equal(await a.setRoute('counter', b.serviceAddress('counter'), 2), true);
      assert.equal(a.runtime('counter').role, 'forwarding', 'the fenced node gave up ownership');
      assert.throws(
        () => a.runtime('counter').resume(),
        (err) => hasErrorCode(err, 'ERR_FNHOST_WRONG_ROLE'),
      );
      client.send(a.serviceAddress('counter'), request('c:1'));
      const [received] = await client.waitForReplies(1);
      assert.equal(
        received?.reply.node,
        'node-b',
        'requests reaching the fenced node are processed by the new owner',
      );
      await assert.rejects(a.setRoute('counter', a.serviceAddress('counter'), 1), (err) =>
        hasErrorCode(err, 'ERR_FNHOST_STALE_EPOCH'),
      );
    });

    it('ends a routing loop between two non-owners with ERR_FNHOST_NOT_OWNER after MAX_FORWARD_HOPS', async () => {
      const a = await startNode('node-a', [hosted(counterFunction(), { role: 'standby' })]);
      const b = await startNode('node-b', [hosted(counterFunction(), { role: 'standby' })]);
      await a.setRoute('counter', b.serviceAddress('counter'), 1);
      await b.setRoute('counter', a.serviceAddress('counter'), 1);
      const client = track(await UdpTestClient.open());
      client.send(a.serviceAddress('counter'), request('c:1'));
      const [received] = await client.waitForReplies(1);
      assert.equal(received?.reply.error?.code, 'ERR_FNHOST_NOT_OWNER');
      assert.match(received?.reply.error?.message ?? '', /forwarding loop/);
      const forwards =
        a.runtime('counter').summary().forwardedRequests + b.runtime('counter').summary().forwardedRequests;
      assert.equal(forwards, 4, 'forwarded MAX_FORWARD_HOPS times, then answered');
    });

    it('refuses to activate or hand over at an epoch that is not newer', async () => {
      const { a, b } = await twoNodes();
      b.runtime('counter').beginImport(2, false);
      assert.throws(
        () => b.runtime('counter').activate(1),
        (err) => hasErrorCode(err, 'ERR_FNHOST_STALE_EPOCH'),
      );
      await assert.rejects(a.runtime('counter').handOver(1, b.serviceAddress('counter')), (err) =>
        hasErrorCode(err, 'ERR_FNHOST_STALE_EPOCH'),
      );
      assert.equal(a.runtime('counter').role, 'owner', 'a refused hand-over changes nothing');
    });
  });

  describe('ctx.call', () => {
    it('calls a downstream service and answers with its result', async () => {
      const node = await startNode('node-a', [
        hosted(frontFunction('counter'), { serviceId: 2 }),
        hosted(counterFunction()),
      ]);
      const client = track(await UdpTestClient.open());
      client.send(node.serviceAddress('front'), { id: 'c:1', service: 'front', key: 'k', body: 7 });
      const [received] = await client.waitForReplies(1);
      assert.deepEqual(received?.reply.body, { front: true, downstream: { count: 1, seen: [7] } });
      assert.equal(node.runtime('counter').summary().processedRequests, 1);
    });

    it('follows a route set for the downstream service to another node', async () => {
      const b = await startNode('node-b', [hosted(counterFunction())]);
      const a = await startNode('node-a', [hosted(frontFunction('counter'))]);
      await a.setRoute('counter', b.serviceAddress('counter'), 1);
      const client = track(await UdpTestClient.open());
      client.send(a.serviceAddress('front'), { id: 'c:1', service: 'front', key: 'k', body: 7 });
      const [received] = await client.waitForReplies(1);
      assert.deepEqual(received?.reply.body, { front: true, downstream: { count: 1, seen: [7] } });
      assert.equal(b.runtime('counter').summary().processedRequests, 1, 'the routed node did the work');
    });
  });
});
