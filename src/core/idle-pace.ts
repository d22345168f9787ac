// The pace of a periodic repair round (membership digest sync, config anti-entropy): rounds
// that find nothing stretch the period, doubling up to `max` times the base, and any news
// brings it back to the base at once. An idle cluster then pays a round every few seconds;
// a changing one keeps repairing within a base period.

export class IdlePace {
  private factor = 1

  constructor (private readonly max: number) {}

  /** The multiple of the base period to wait for the coming round; the next one waits longer unless news comes. */
  next (): number {
    const f = this.factor
    this.factor = Math.min(this.max, f * 2)
    return f
  }

  /** News: back to the base period. True when it was stretched (the caller brings its next round forward). */
  news (): boolean {
    if (this.factor === 1) return false
    this.factor = 1
    return true
  }
}
