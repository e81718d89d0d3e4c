// Runs Debian's mosquitto 2.0 as a child process on a free loopback port with a throw-away config:
// the second real MQTT broker (besides aedes), and the one that speaks MQTT 5 for the SDK's MQTT5 client.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from '../../support/free-port.ts';

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const isOpen = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (isOpen) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface MosquittoBroker {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startMosquitto(): Promise<MosquittoBroker> {
  const directory = await mkdtemp(join(tmpdir(), 'mosquitto-'));
  const port = await freePort();
  const configPath = join(directory, 'mosquitto.conf');
  await writeFile(
    configPath,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', ''].join('\n'),
  );
  const child: ChildProcess = spawn('mosquitto', ['-c', configPath], { stdio: 'ignore' });
  await waitForPort(port, 5000);
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(directory, { recursive: true, force: true });
    },
  };
}
