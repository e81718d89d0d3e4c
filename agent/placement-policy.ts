// Decides when this node should offload a service to a peer: only when its own load has been at or
// above the high threshold while the peer's was at or below the low threshold for K consecutive
// samples, and not within a cool-down after a move. Fed by the agent on each ADVICE (peer-agent.ts).
// Invariant (hysteresis): with high - low > |local - peer| no decision to move is ever taken, so two
// nodes with similar load never ping-pong a service; moves are at least cooldownMs apart.
import { EdgeShiftError } from '../components/common/errors.ts';

export interface PlacementThresholds {
  /** A node at or above this load (basis points, 10000 = 100 %) is overloaded. */
  readonly highLoadBp: number;
  /** A peer at or below this load has room; must be below highLoadBp. */
  readonly lowLoadBp: number;
  /** Consecutive qualifying samples before a move (K). */
  readonly consecutiveSamples: number;
  /** No move is decided within this long after the previous one. */
  readonly cooldownMs: number;
}

export interface LoadSample {
  readonly nowMs: number;
  readonly localLoadBp: number;
  readonly peerLoadBp: number;
}

export type PlacementDecision =
  { readonly kind: 'offload'; readonly reason: string } | { readonly kind: 'stay'; readonly reason: string };

export function checkPlacementThresholds(thresholds: PlacementThresholds): string | undefined {
  const { highLoadBp, lowLoadBp, consecutiveSamples, cooldownMs } = thresholds;
  if (!(lowLoadBp >= 0 && lowLoadBp < highLoadBp && highLoadBp <= 10_000)) {
    return `placement.lowLoadBp (${lowLoadBp}) must be below placement.highLoadBp (${highLoadBp}), both in 0..10000`;
  }
  if (!Number.isInteger(consecutiveSamples) || consecutiveSamples < 1) {
    return `placement.consecutiveSamples must be an integer >= 1, instead got ${consecutiveSamples}`;
  }
  if (!(cooldownMs >= 0)) return `placement.cooldownMs must be >= 0, instead got ${cooldownMs}`;
  return undefined;
}

export class PlacementPolicy {
  readonly thresholds: PlacementThresholds;
  private streak = 0;
  private lastMoveMs = Number.NEGATIVE_INFINITY;

  constructor(thresholds: PlacementThresholds) {
    const problem = checkPlacementThresholds(thresholds);
    if (problem !== undefined) {
      throw new EdgeShiftError('ERR_CONFIG_INVALID', problem, {
        context: { component: 'com.edgeshift.PeerAgent' },
      });
    }
    this.thresholds = thresholds;
  }

  observe(sample: LoadSample): PlacementDecision {
    const { highLoadBp, lowLoadBp, consecutiveSamples, cooldownMs } = this.thresholds;
    if (sample.nowMs - this.lastMoveMs < cooldownMs) {
      this.streak = 0;
      return { kind: 'stay', reason: 'cooling down after the last move' };
    }
    const qualifies = sample.localLoadBp >= highLoadBp && sample.peerLoadBp <= lowLoadBp;
    this.streak = qualifies ? this.streak + 1 : 0;
    if (!qualifies) return { kind: 'stay', reason: 'not overloaded while the peer has room' };
    if (this.streak < consecutiveSamples) {
      return { kind: 'stay', reason: `overloaded for ${this.streak} of ${consecutiveSamples} samples` };
    }
    this.streak = 0;
    return {
      kind: 'offload',
      reason: `load ${sample.localLoadBp} bp >= ${highLoadBp} while the peer is at ${sample.peerLoadBp} bp <= ${lowLoadBp} for ${consecutiveSamples} samples`,
    };
  }

  /** Starts the cool-down: call when a move into or out of this node commits. */
  recordMove(nowMs: number): void {
    this.lastMoveMs = nowMs;
    this.streak = 0;
  }
}
