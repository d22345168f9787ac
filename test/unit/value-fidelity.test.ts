// What is stored is exactly what every agent serves: a value either passes valueProblem and then
// survives the codec (gossip, sync and the config log all use it) bit for bit, or is refused.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEntry, valueProblem } from '../../src/core/config.js'
import type { Entry } from '../../src/core/lww.js'
import { decode, encode } from '../../src/net/codec.js'

const HLC = { wall: 1_700_000_000_000, logical: 0 }

/** Random JSON as a client could send it: any UTF-16 (lone surrogates too), odd object keys. */
const jsonText = fc.oneof(
  fc.json({ stringUnit: 'binary', maxDepth: 6 }),
  fc.json({ stringUnit: 'grapheme', maxDepth: 6 }),
  fc.tuple(fc.json({ maxDepth: 3 }), fc.constantFrom('__proto__', 'constructor', '\ud800', 'x\udfff', '', '0', '-0')).map(([inner, k]) => `{${JSON.stringify(k)}: ${inner}}`)
)

function roundTrip (value: unknown): unknown {
  const e: Entry = { key: 'k', value, deleted: false, hlc: HLC, origin: 'o' }
  const back = decode(encode(e))
  expect(isEntry(back)).toBe(true)
  return (back as Entry).value
}

function survives (value: unknown): boolean {
  const back = decode(encode(value))
  return JSON.stringify(back) === JSON.stringify(value) && JSON.stringify(Object.keys(Object(back))) === JSON.stringify(Object.keys(Object(value)))
}

describe('value fidelity through the codec', () => {
  it('an accepted value decodes to the same JSON; a refused one is refused for a reason the codec would lose', () => {
    fc.assert(fc.property(jsonText, text => {
      const value = JSON.parse(text)
      const problem = valueProblem(value)
      if (problem === undefined) {
        expect(JSON.stringify(roundTrip(value))).toBe(JSON.stringify(value))
      } else {
        // Within the size and depth limits, only values the codec cannot carry are refused.
        expect(problem).toMatch(/surrogate|__proto__/)
        expect(survives(value)).toBe(false)
      }
    }), { numRuns: 2000 })
  })

  it('keeps the examples that used to change in transit out', () => {
    expect(valueProblem(JSON.parse('{"__proto__": 1}'))).toMatch(/__proto__/)
    expect(valueProblem('\ud800')).toMatch(/surrogate/)
    expect(survives(JSON.parse('{"__proto__": 1}'))).toBe(false)
    expect(survives('\ud800')).toBe(false)
  })
})
