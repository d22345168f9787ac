// The simulator's event queue: whatever the order of pushes and pops, events come out by
// (time, sequence number), so a seeded simulation replays exactly.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EventQueue } from '../../src/net/memory-transport.js'

describe('EventQueue', () => {
  it('pops by time, then by sequence number, across interleaved pushes and pops (and growth)', () => {
    const op = fc.oneof(
      fc.record({ push: fc.constant(true), at: fc.integer({ min: 0, max: 50 }).map(x => x / 2) }),
      fc.record({ push: fc.constant(false) })
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 3000, size: 'max' }), ops => {
      const q = new EventQueue()
      const model: Array<{ at: number, seq: number }> = []
      let seq = 0
      for (const o of ops) {
        if ('at' in o) {
          const s = seq++
          q.push(o.at, s, { node: undefined, fn: () => s })
          model.push({ at: o.at, seq: s })
        } else if (model.length > 0) {
          model.sort((a, b) => a.at - b.at || a.seq - b.seq)
          const want = model.shift() as { at: number, seq: number }
          expect(q.firstAt()).toBe(want.at)
          expect(q.pop().fn()).toBe(want.seq)
        }
        expect(q.size).toBe(model.length)
      }
      model.sort((a, b) => a.at - b.at || a.seq - b.seq)
      for (const want of model) expect(q.pop().fn()).toBe(want.seq)
      expect(q.firstAt()).toBe(Number.POSITIVE_INFINITY)
    }), { numRuns: 50 })
  })
})
