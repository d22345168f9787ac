// Lifeguard's local health multiplier (Dadgar et al., "Lifeguard: Local Health Awareness for
// More Accurate Failure Detection", 2018; hashicorp/memberlist awareness.go). An agent that
// misses its own acks and nacks, or runs late on its own timers, is more likely slow itself
// than surrounded by dead peers: it stretches its probe timeouts by (score + 1) instead of
// accusing others at full speed.

export class Awareness {
  private value = 0

  /** @param max scores run from 0 (healthy) to max - 1. */
  constructor (private readonly max: number) {}

  get score (): number { return this.value }

  /** Add `delta` (positive: worse, negative: better), clamped to [0, max - 1]. */
  apply (delta: number): void {
    this.value = Math.min(this.max - 1, Math.max(0, this.value + delta))
  }

  /** A timeout stretched by the current score. */
  scale (ms: number): number {
    return ms * (this.value + 1)
  }
}
