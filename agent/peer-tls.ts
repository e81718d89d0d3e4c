// Mutual TLS for the peer agents: reads the CA, this node's certificate and key (written by
// scripts/generate-certs.ts, or issued by a real CA) and builds gRPC server and channel credentials.
// Invariant: the server always demands a client certificate signed by the CA; a client verifies that
// the server's certificate names the peer node it meant to reach.
import { readFile } from 'node:fs/promises';

import * as grpc from '@grpc/grpc-js';

import { EdgeShiftError } from '../components/common/errors.ts';

export interface TlsFilePaths {
  readonly caCertPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface TlsMaterial {
  readonly caCert: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

async function readTlsFile(path: string, role: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new EdgeShiftError('ERR_TLS_FILES_UNREADABLE', `cannot read the ${role} at '${path}'`, {
      context: { path, role },
      cause: err,
    });
  }
}

export async function readTlsMaterial(paths: TlsFilePaths): Promise<TlsMaterial> {
  return {
    caCert: await readTlsFile(paths.caCertPath, 'CA certificate'),
    cert: await readTlsFile(paths.certPath, 'node certificate'),
    key: await readTlsFile(paths.keyPath, 'node private key'),
  };
}

/** Server side: the client must present a certificate signed by our CA, or the handshake fails. */
export function createPeerServerCredentials(material: TlsMaterial): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(
    material.caCert,
    [{ cert_chain: material.cert, private_key: material.key }],
    true,
  );
}

export function createPeerChannelCredentials(material: TlsMaterial): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(material.caCert, material.key, material.cert);
}

/** Channel options that make the client check the server certificate against the peer's node id. */
export function peerChannelOptions(peerNodeId: string): grpc.ChannelOptions {
  return { 'grpc.ssl_target_name_override': peerNodeId, 'grpc.default_authority': peerNodeId };
}
