// The rule engine and rule validation: table-driven cases with an explicit clock, and
// fast-check laws over random rules and random observation sequences.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MurmurError } from '../../src/core/errors.js'
import { parseRule, type Rule } from '../../src/core/rule-spec.js'
import { evaluate, INITIAL_STATE, type Decision, type Observation, type RuleState } from '../../src/core/rules.js'

const T0 = 1_800_000_000_000

function rule (spec: Record<string, unknown>): Rule {
  return parseRule('r', { metric: 'lat', ...spec })
}

const THRESHOLD = { for: '10s', above: 250, reset: 150, set: { key: 'web/max_conns', step: -10, min: 10, max: 200 }, cooldown: '60s' }

/**
 * Runs a rule as the controller does: one evaluation per step, the key written on each firing
 * (unless dry run), the cooldown fed from the last write. `values[i]` undefined = no samples.
 */
function run (r: Rule, values: Array<number | undefined>, o: { stepMs?: number, current?: number, samples?: number } = {}): Array<Decision & { now: number }> {
  let state: RuleState = INITIAL_STATE
  let current = o.current ?? 100
  let lastChangeAt: number | undefined
  const out: Array<Decision & { now: number }> = []
  values.forEach((value, i) => {
    const now = T0 + i * (o.stepMs ?? 1000)
    const d = evaluate(r, state, { now, value, samples: value === undefined ? 0 : o.samples ?? 3, current, lastChangeAt })
    state = d.state
    if (d.change !== undefined) {
      lastChangeAt = now
      if (!d.dryRun) current = d.change.to
    }
    out.push({ ...d, now })
  })
  return out
}

const fires = (ds: Decision[]): Array<{ from: number, to: number }> => ds.filter(d => d.outcome === 'fire').map(d => d.change as { from: number, to: number })

describe('threshold rules', () => {
  it('fire once the condition has held for the window, then wait out the cooldown', () => {
    const ds = run(rule(THRESHOLD), Array(80).fill(400))
    expect(ds[0].outcome).toBe('holding')
    expect(ds.findIndex(d => d.outcome === 'fire')).toBe(10)
    expect(ds[10].change).toEqual({ from: 100, to: 90 })
    expect(ds[11].outcome).toBe('cooldown')
    // Still above after the cooldown: the pressure persists, so it steps again (from the key's value).
    expect(fires(ds)).toEqual([{ from: 100, to: 90 }, { from: 90, to: 80 }])
    expect(ds.findIndex((d, i) => i > 10 && d.outcome === 'fire')).toBe(70)
  })

  it('keep the condition through the hysteresis band and lose it only beyond reset', () => {
    const r = rule({ ...THRESHOLD, for: '5s' })
    // Enters at 300, dips into the band (200) without breaking the hold, fires at 5 s.
    const band = run(r, [300, 300, 200, 200, 200, 200, 200])
    expect(band.map(d => d.outcome)).toEqual(['holding', 'holding', 'holding', 'holding', 'holding', 'fire', 'cooldown'])
    // Below reset the hold is over: re-entering starts the window again.
    const reset = run(r, [300, 300, 300, 100, 300, 300, 300, 300, 300, 300])
    expect(reset[3].outcome).toBe('idle')
    expect(reset.findIndex(d => d.outcome === 'fire')).toBe(9)
    // A value in the band never starts a hold.
    expect(run(r, Array(20).fill(200)).every(d => d.outcome === 'idle')).toBe(true)
  })

  it('mirror with below: raise while the aggregate is low', () => {
    const r = rule({ for: '0s', below: 20, reset: 40, set: { key: 'k', step: 5, min: 0, max: 50 }, cooldown: '1s' })
    expect(fires(run(r, [10, 10, 30, 30, 50, 10], { current: 40 }))).toEqual([{ from: 40, to: 45 }, { from: 45, to: 50 }])
  })

  it('never leave [min, max], and say so when a bound stops the change', () => {
    const ds = run(rule({ ...THRESHOLD, for: '0s', cooldown: '1s', set: { key: 'k', step: -30, min: 10, max: 200 } }), Array(10).fill(400), { current: 70 })
    expect(fires(ds)).toEqual([{ from: 70, to: 40 }, { from: 40, to: 10 }])
    expect(ds.slice(2).every(d => d.outcome === 'unchanged')).toBe(true)
    // A value set by hand outside the bounds is brought inside by the next firing.
    expect(fires(run(rule({ ...THRESHOLD, for: '0s' }), [400], { current: 500 }))).toEqual([{ from: 500, to: 200 }])
  })

  it('set a fixed value', () => {
    expect(fires(run(rule({ ...THRESHOLD, for: '0s', set: { key: 'k', value: 50, min: 10, max: 200 } }), [400, 400]))).toEqual([{ from: 100, to: 50 }])
  })

  it('take no action on missing or too few samples, and restart the hold after a gap', () => {
    const r = rule({ ...THRESHOLD, for: '3s', minSamples: 2 })
    const ds = run(r, [400, 400, undefined, 400, 400, 400, 400])
    expect(ds[2].outcome).toBe('insufficient')
    expect(ds[2].reason).toMatch(/0 fresh samples of lat, need 2/)
    expect(ds.findIndex(d => d.outcome === 'fire')).toBe(6)
    expect(run(r, Array(10).fill(400), { samples: 1 }).every(d => d.outcome === 'insufficient')).toBe(true)
  })

  it('do nothing to a key that is not a number unless the rule gives set.initial', () => {
    const r = rule({ ...THRESHOLD, for: '0s' })
    const d = evaluate(r, INITIAL_STATE, { now: T0, value: 400, samples: 1, current: undefined })
    expect(d.outcome).toBe('no-value')
    const withInitial = rule({ ...THRESHOLD, for: '0s', set: { ...THRESHOLD.set, initial: 100 } })
    expect(evaluate(withInitial, INITIAL_STATE, { now: T0, value: 400, samples: 1, current: undefined }).change).toEqual({ from: 100, to: 90 })
  })

  it('count the cooldown from the rule\'s last action by any actor (a new actor sees it in the audit)', () => {
    const r = rule({ ...THRESHOLD, for: '0s' })
    const o: Observation = { now: T0, value: 400, samples: 1, current: 100, lastChangeAt: T0 - 59_000 }
    expect(evaluate(r, INITIAL_STATE, o).outcome).toBe('cooldown')
    expect(evaluate(r, INITIAL_STATE, { ...o, lastChangeAt: T0 - 60_000 }).outcome).toBe('fire')
  })

  it('decide the same in a dry run, flagged, without the key changing', () => {
    const dry = run(rule({ ...THRESHOLD, dryRun: true }), Array(80).fill(400))
    expect(fires(dry)).toEqual([{ from: 100, to: 90 }, { from: 100, to: 90 }])
    expect(dry.filter(d => d.outcome === 'fire').every(d => d.dryRun)).toBe(true)
  })
})

describe('target rules (HPA form)', () => {
  const target = { for: '0s', set: { key: 'web/replicas', target: 100, min: 1, max: 50 }, cooldown: '1s' }

  it('scale proportionally: ceil(current × value / target)', () => {
    expect(fires(run(rule(target), [150], { current: 4 }))).toEqual([{ from: 4, to: 6 }])
    expect(fires(run(rule(target), [120], { current: 10 }))).toEqual([{ from: 10, to: 12 }])
    expect(fires(run(rule({ ...target, set: { ...target.set, per: 5 } }), [130], { current: 10 }))).toEqual([{ from: 10, to: 15 }])
  })

  it('do nothing within the tolerance (0.1 by default)', () => {
    expect(run(rule(target), [109, 91, 110], { current: 4 }).map(d => d.outcome)).toEqual(['idle', 'idle', 'idle'])
    expect(run(rule({ ...target, tolerance: 0.3 }), [125], { current: 4 })[0].outcome).toBe('idle')
  })

  it('lower only to the highest recommendation of the stabilisation window', () => {
    const r = rule({ ...target, stabilization: '5s' })
    // 200 → recommend 8 from 4 (raise, at once); then 50 → recommend 4 from 8, but the window
    // still holds 8, so nothing until the 8 ages out.
    const ds = run(r, [200, 50, 50, 50, 50, 50, 50, 50], { current: 4 })
    expect(ds[0].change).toEqual({ from: 4, to: 8 })
    expect(ds.slice(1, 5).map(d => d.outcome)).toEqual(['stabilizing', 'stabilizing', 'stabilizing', 'stabilizing'])
    expect(fires(ds.slice(5))).toEqual([{ from: 8, to: 4 }])
  })
})

describe('rule validation names the bad field', () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ['missing bounds', { above: 1, set: { key: 'k', step: 1, max: 5 } }, /'set\.min'.*required/],
    ['min above max', { above: 1, set: { key: 'k', step: 1, min: 9, max: 5 } }, /'set\.min'/],
    ['no action form', { above: 1, set: { key: 'k', min: 1, max: 5 } }, /'set'.*exactly one/],
    ['two action forms', { above: 1, set: { key: 'k', step: 1, value: 2, min: 1, max: 5 } }, /'set'.*exactly one/],
    ['step zero', { above: 1, set: { key: 'k', step: 0, min: 1, max: 5 } }, /'set\.step'/],
    ['value out of bounds', { above: 1, set: { key: 'k', value: 9, min: 1, max: 5 } }, /'set\.value'/],
    ['reserved key', { above: 1, set: { key: 'murmur/rules/x', step: 1, min: 1, max: 5 } }, /'set\.key'.*murmur/],
    ['bad key', { above: 1, set: { key: 'a b', step: 1, min: 1, max: 5 } }, /'set\.key'/],
    ['reset on the wrong side', { above: 10, reset: 20, set: { key: 'k', step: 1, min: 1, max: 5 } }, /'reset'/],
    ['no threshold', { set: { key: 'k', step: 1, min: 1, max: 5 } }, /'above'/],
    ['above and below', { above: 1, below: 0, set: { key: 'k', step: 1, min: 1, max: 5 } }, /'above'/],
    ['threshold with target', { above: 1, set: { key: 'k', target: 10, min: 1, max: 5 } }, /'above'/],
    ['bad duration', { above: 1, for: 'soon', set: { key: 'k', step: 1, min: 1, max: 5 } }, /'for'.*duration/],
    ['cooldown too short', { above: 1, cooldown: '100ms', set: { key: 'k', step: 1, min: 1, max: 5 } }, /'cooldown'/],
    ['unknown field', { above: 1, colour: 'red', set: { key: 'k', step: 1, min: 1, max: 5 } }, /'colour'.*unknown/],
    ['unknown set field', { above: 1, set: { key: 'k', step: 1, min: 1, max: 5, by: 2 } }, /'set\.by'/],
    ['bad aggregate', { above: 1, aggregate: 'median', set: { key: 'k', step: 1, min: 1, max: 5 } }, /'aggregate'/],
    ['tag without service', { above: 1, select: { tag: 'x' }, set: { key: 'k', step: 1, min: 1, max: 5 } }, /'select\.tag'/],
    ['dryRun not boolean', { above: 1, dryRun: 'yes', set: { key: 'k', step: 1, min: 1, max: 5 } }, /'dryRun'/],
    ['target not positive', { set: { key: 'k', target: 0, min: 1, max: 5 } }, /'set\.target'/],
    ['tolerance out of range', { tolerance: 1, set: { key: 'k', target: 5, min: 1, max: 5 } }, /'tolerance'/]
  ])('%s', (_what, spec, message) => {
    let err: unknown
    try { rule(spec) } catch (e) { err = e }
    expect(err).toBeInstanceOf(MurmurError)
    expect((err as MurmurError).code).toBe('MURMUR_ERR_BAD_RULE')
    expect((err as MurmurError).message).toMatch(message)
  })

  it('refuses bodies that are not rules and bad names', () => {
    expect(() => parseRule('r', [1])).toThrow(/a rule is a JSON object/)
    expect(() => parseRule('r', null)).toThrow(MurmurError)
    expect(() => parseRule('bad name', { metric: 'x', above: 1, set: { key: 'k', step: 1, min: 1, max: 5 } })).toThrow(/rule name/)
  })

  it('fills the defaults', () => {
    const r = rule({ above: 1, set: { key: 'k', step: 1, min: 1, max: 5 } })
    expect(r).toMatchObject({ aggregate: 'avg', forMs: 30_000, cooldownMs: 60_000, stabilizationMs: 0, minSamples: 1, maxAgeMs: 60_000, dryRun: false, select: {} })
    expect(r.condition).toEqual({ kind: 'above', enter: 1, exit: 1 })
  })
})

// ---- laws ---------------------------------------------------------------------------------

const specArb = fc.record({
  cond: fc.oneof(
    fc.record({ above: fc.integer({ min: 0, max: 100 }), band: fc.integer({ min: 0, max: 50 }) }).map(x => ({ above: x.above, reset: x.above - x.band })),
    fc.record({ below: fc.integer({ min: 0, max: 100 }), band: fc.integer({ min: 0, max: 50 }) }).map(x => ({ below: x.below, reset: x.below + x.band })),
    fc.record({ target: fc.integer({ min: 1, max: 100 }) }).map(x => ({ target: x.target }))
  ),
  change: fc.oneof(fc.integer({ min: -20, max: 20 }).filter(s => s !== 0).map(step => ({ step })), fc.integer({ min: 0, max: 100 }).map(value => ({ value }))),
  min: fc.integer({ min: 0, max: 50 }),
  span: fc.integer({ min: 0, max: 100 }),
  forS: fc.integer({ min: 0, max: 10 }),
  cooldownS: fc.integer({ min: 1, max: 30 }),
  stabilizationS: fc.integer({ min: 0, max: 20 }),
  minSamples: fc.integer({ min: 1, max: 3 }),
  dryRun: fc.boolean()
}).map(s => {
  const max = s.min + s.span
  const set: Record<string, unknown> = { key: 'k', min: s.min, max }
  const cond: Record<string, unknown> = { ...s.cond }
  if ('target' in cond) { set.target = cond.target; delete cond.target } else if ('value' in s.change) set.value = Math.min(max, Math.max(s.min, s.change.value)); else set.step = s.change.step
  return rule({ ...cond, set, for: `${s.forS}s`, cooldown: `${s.cooldownS}s`, stabilization: `${s.stabilizationS}s`, minSamples: s.minSamples, dryRun: s.dryRun })
})

const stepArb = fc.record({ dt: fc.integer({ min: 100, max: 5000 }), value: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }), samples: fc.integer({ min: 0, max: 4 }) })

function simulate (r: Rule, steps: Array<{ dt: number, value: number | undefined, samples: number }>, start: number): Array<{ d: Decision, now: number, before: RuleState, samples: number }> {
  let state = INITIAL_STATE
  let current = start
  let lastChangeAt: number | undefined
  let now = T0
  const out: Array<{ d: Decision, now: number, before: RuleState, samples: number }> = []
  for (const s of steps) {
    now += s.dt
    const d = evaluate(r, state, { now, value: s.value, samples: s.value === undefined ? 0 : s.samples, current, lastChangeAt })
    out.push({ d, now, before: state, samples: s.value === undefined ? 0 : s.samples })
    state = d.state
    if (d.change !== undefined) {
      lastChangeAt = now
      if (!d.dryRun) current = d.change.to
    }
  }
  return out
}

describe('laws of the engine', () => {
  const steps = fc.array(stepArb, { minLength: 1, maxLength: 120 })
  const start = fc.integer({ min: -50, max: 250 })

  it('never sets a value outside [min, max]', () => {
    fc.assert(fc.property(specArb, steps, start, (r, s, c) => {
      for (const { d } of simulate(r, s, c)) if (d.change !== undefined) expect(d.change.to >= r.min && d.change.to <= r.max).toBe(true)
    }), { numRuns: 300 })
  })

  it('never makes two changes within a cooldown', () => {
    fc.assert(fc.property(specArb, steps, start, (r, s, c) => {
      const times = simulate(r, s, c).filter(x => x.d.outcome === 'fire').map(x => x.now)
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(r.cooldownMs)
    }), { numRuns: 300 })
  })

  it('never acts on fewer fresh samples than minSamples', () => {
    fc.assert(fc.property(specArb, steps, start, (r, s, c) => {
      for (const x of simulate(r, s, c)) if (x.samples < r.minSamples) expect(x.d.outcome).toBe('insufficient')
    }), { numRuns: 200 })
  })

  it('fires only after the condition has held for the window', () => {
    fc.assert(fc.property(specArb, steps, start, (r, s, c) => {
      for (const x of simulate(r, s, c)) {
        if (x.d.outcome === 'fire') expect(r.forMs === 0 || (x.before.since !== undefined && x.now - x.before.since >= r.forMs)).toBe(true)
      }
    }), { numRuns: 200 })
  })

  it('lowers no further than the highest recommendation in the stabilisation window', () => {
    fc.assert(fc.property(specArb, steps, start, (r, s, c) => {
      for (const x of simulate(r, s, c)) {
        const ch = x.d.change
        if (ch === undefined || ch.to >= ch.from || r.stabilizationMs === 0) continue
        for (const rec of x.before.recs) if (x.now - rec.at < r.stabilizationMs) expect(ch.to).toBeGreaterThanOrEqual(Math.min(rec.value, ch.from))
      }
    }), { numRuns: 300 })
  })

  it('a dry run decides exactly what the live rule would, given the same key value', () => {
    fc.assert(fc.property(specArb, steps, fc.integer({ min: 0, max: 100 }), (r, s, c) => {
      // With the key held constant (as in a dry run), live and dry must agree step by step.
      const hold = (x: Rule): Array<[string, unknown]> => {
        let state = INITIAL_STATE
        let last: number | undefined
        let now = T0
        return s.map(st => {
          now += st.dt
          const d = evaluate(x, state, { now, value: st.value, samples: st.value === undefined ? 0 : st.samples, current: c, lastChangeAt: last })
          state = d.state
          if (d.change !== undefined) last = now
          return [d.outcome, d.change]
        })
      }
      expect(hold({ ...r, dryRun: true })).toEqual(hold({ ...r, dryRun: false }))
    }), { numRuns: 200 })
  })

  it('holds the Schmitt state inside the band: no flapping between enter and exit', () => {
    fc.assert(fc.property(fc.integer({ min: 10, max: 100 }), fc.integer({ min: 1, max: 9 }), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 50 }), (above, band, inBand) => {
      const r = rule({ above, reset: above - band, for: '0s', cooldown: '1h', set: { key: 'k', step: -1, min: 0, max: 1000 } })
      // Enter once, then wander inside [reset, above]: the rule stays entered (side 1) throughout.
      let state = evaluate(r, INITIAL_STATE, { now: T0, value: above + 1, samples: 1, current: 500 }).state
      inBand.forEach((u, i) => {
        const v = above - band + (u / 1000) * band
        state = evaluate(r, state, { now: T0 + (i + 1) * 1000, value: v, samples: 1, current: 499, lastChangeAt: T0 }).state
        expect(state.side).toBe(1)
      })
    }), { numRuns: 200 })
  })
})
