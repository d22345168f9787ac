// Points for the impact regression: each past change of a numeric key gives Δx = new − old,
// and Δy = mean of the metric's samples in the window after the change (once it has settled)
// minus the mean in the window before it. Pure: the samples come through `samplesIn`.
import { fitLine, MIN_POINTS, type Fit } from './regression.js'

export interface KeyChange { readonly at: number, readonly from: number, readonly to: number }

export interface ImpactOptions {
  /** Length of the before and after windows, ms. */
  windowMs: number
  /** Time the metric is given to respond before the after window starts, ms. */
  settleMs: number
  minPoints?: number
}

export function impactPoints (changes: readonly KeyChange[], samplesIn: (from: number, to: number) => number[], o: ImpactOptions, now: number): { xs: number[], ys: number[] } {
  const xs: number[] = []
  const ys: number[] = []
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length
  for (const c of changes) {
    const afterFrom = c.at + o.settleMs
    const afterTo = afterFrom + o.windowMs
    if (afterTo > now || c.to === c.from) continue
    const before = samplesIn(c.at - o.windowMs, c.at)
    const after = samplesIn(afterFrom, afterTo)
    if (before.length === 0 || after.length === 0) continue
    xs.push(c.to - c.from)
    ys.push(mean(after) - mean(before))
  }
  return { xs, ys }
}

export function impact (changes: readonly KeyChange[], samplesIn: (from: number, to: number) => number[], o: ImpactOptions, now: number): Fit {
  const { xs, ys } = impactPoints(changes, samplesIn, o, now)
  return fitLine(xs, ys, o.minPoints ?? MIN_POINTS)
}
