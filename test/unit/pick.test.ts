import { describe, expect, it } from 'vitest'
import { weightedPick } from '../../src/client/pick.js'

const inst = (id: string, weight: number): { id: string, weight: number } => ({ id, weight })

/** How often each item is picked when `random` sweeps [0, 1) evenly in `n` steps. */
function shares (items: Array<{ id: string, weight: number }>, n: number): Record<string, number> {
  const counts: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const got = weightedPick(items, () => i / n)
    if (got !== undefined) counts[got.id] = (counts[got.id] ?? 0) + 1
  }
  return counts
}

describe('weightedPick', () => {
  it('picks in exact proportion to weight over an even sweep', () => {
    expect(shares([inst('a', 1), inst('b', 3), inst('c', 6)], 1000)).toEqual({ a: 100, b: 300, c: 600 })
  })

  it('never picks weight 0, and picks nothing when every weight is 0 or there is nothing', () => {
    expect(shares([inst('a', 0), inst('b', 2)], 100)).toEqual({ b: 100 })
    expect(weightedPick([inst('a', 0), inst('b', 0)])).toBeUndefined()
    expect(weightedPick([])).toBeUndefined()
  })

  it('stays in range at the top end of random()', () => {
    expect(weightedPick([inst('a', 1), inst('b', 1)], () => 0.9999999999)?.id).toBe('b')
  })

  it('uses Math.random by default and returns one of the items', () => {
    const items = [inst('a', 1), inst('b', 1)]
    expect(items).toContain(weightedPick(items))
  })
})
