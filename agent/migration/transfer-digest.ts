// The checksums of a state transfer between two agents (StateChunk, Delta and TakeOver in
// agent/proto/edgeshift_peer.proto), computed the same way by the source (source-migration.ts) and
// checked by the target (target-migrations.ts). Each chunk is hashed once per side: the digest of the
// whole snapshot is taken over the chunks' digests in index order, not over their bytes again, so a
// 1 MiB move hashes 1 MiB per agent instead of 2, with the same strength against a changed, missing
// or reordered chunk.
import { createHash, type Hash } from 'node:crypto';

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** SHA-256 over the digests of a snapshot's chunks, added in index order. */
export class SnapshotDigest {
  readonly #hash: Hash = createHash('sha256');

  /** Adds the chunk's digest (sha256 of its data), which the caller has already computed. */
  addChunkDigest(chunkSha256: Uint8Array): void {
    this.#hash.update(chunkSha256);
  }

  /** The digest of every chunk added; the object is spent after this call. */
  digest(): Buffer {
    return this.#hash.digest();
  }
}
