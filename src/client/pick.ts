// Weighted random choice among instances.

/**
 * An instance of weight 4 is picked four times as often as one of weight 2; weight 0 is never
 * picked (it drains an instance). Weights are integers, as the agent requires.
 */
export function weightedPick<T extends { weight: number }> (items: readonly T[], random: () => number = Math.random): T | undefined {
  let total = 0
  for (const i of items) total += Math.max(0, i.weight)
  if (total === 0) return undefined
  let r = Math.floor(random() * total)
  for (const i of items) {
    const w = Math.max(0, i.weight)
    if (r < w) return i
    r -= w
  }
  return undefined
}
