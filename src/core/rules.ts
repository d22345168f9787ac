// The rule engine: one pure step per rule and round. It takes what the round observed (the
// aggregate of fresh samples, the key's current value, when the key last changed) and the
// rule's state from the previous round, and returns the new state and what to do. Time comes
// in as `now`; nothing here reads a clock, the network or the disk.
//
// Every agent runs every rule each round (so a member that takes a rule over already knows how
// long its condition has held); only the rule's actor writes. The new value is computed from
// the key's current value, never accumulated in the engine, so a firing that is repeated (two
// actors for a moment, a retried write) lands on the same value or is stopped by the cooldown,
// which counts from the rule's last action as every agent sees it (its replicated audit record).
import type { Rule } from './rule-spec.js'

export interface RuleState {
  /** Which side of the condition the aggregate is on: 1 above (or over target), -1 below, 0 neither. */
  readonly side: -1 | 0 | 1
  /** Since when the condition has held without a break (missing data is a break). */
  readonly since?: number
  /** What the rule would have set at each recent round, for the stabilisation window. */
  readonly recs: ReadonlyArray<{ at: number, value: number }>
  /** When this engine last decided to fire (dry runs included): a cooldown even before the write is seen. */
  readonly lastFired?: number
}

export const INITIAL_STATE: RuleState = { side: 0, recs: [] }

export interface Observation {
  readonly now: number
  /** The rule's aggregate over fresh samples; undefined without any. */
  readonly value: number | undefined
  /** Fresh samples that went into it. */
  readonly samples: number
  /** The key's current value when it is a number. */
  readonly current: number | undefined
  /** Last action of this rule, by any actor (from its replicated audit records), ms. */
  readonly lastChangeAt?: number
}

export type Outcome =
  | 'fire'
  /** Too few fresh samples: no action. */
  | 'insufficient'
  /** Condition not met (or within tolerance of the target). */
  | 'idle'
  /** Condition met, not yet for the rule's window. */
  | 'holding'
  | 'cooldown'
  /** Lowering held back: a higher recommendation within the stabilisation window. */
  | 'stabilizing'
  /** The new value would equal the current one (at a bound). */
  | 'unchanged'
  /** The key is unset or not a number, and the rule has no `initial`. */
  | 'no-value'

export interface Decision {
  readonly state: RuleState
  readonly outcome: Outcome
  readonly reason: string
  /** With outcome 'fire'. */
  readonly change?: { readonly from: number, readonly to: number }
  readonly dryRun: boolean
}

const fmt = (v: number): string => String(Math.round(v * 1000) / 1000)

export function clamp (v: number, min: number, max: number): number {
  return v < min ? min : v > max ? max : v
}

/** Which side of the condition `value` is on, with hysteresis for thresholds. */
function sideOf (rule: Rule, prev: RuleState['side'], value: number): RuleState['side'] {
  const c = rule.condition
  if (c.kind === 'target') {
    const ratio = value / c.target
    // The epsilon keeps 110 against a target of 100 within a 0.1 tolerance despite rounding.
    return Math.abs(ratio - 1) <= c.tolerance + 1e-9 ? 0 : ratio > 1 ? 1 : -1
  }
  // Schmitt trigger: entered beyond `enter`, left only beyond `exit`.
  const sign = c.kind === 'above' ? 1 : -1
  const beyond = (level: number): boolean => sign * (value - level) > 0
  if (prev === sign) return sign * (value - c.exit) < 0 ? 0 : sign
  return beyond(c.enter) ? sign : 0
}

/** What the rule would set now, from the key's current value (clamped to the bounds). */
function recommend (rule: Rule, current: number, value: number): number {
  const ch = rule.change
  let next: number
  if (ch.kind === 'step') next = current + ch.step
  else if (ch.kind === 'value') next = ch.value
  else {
    const target = rule.condition.kind === 'target' ? rule.condition.target : value
    // HPA: desired = ceil(current × value / target); the epsilon keeps 10 × 1.2 from becoming 13.
    next = Math.ceil(current * value / target / ch.per - 1e-9) * ch.per
  }
  return clamp(next, rule.min, rule.max)
}

function describe (rule: Rule, value: number): string {
  const c = rule.condition
  const agg = `${rule.aggregate}(${rule.metric}) = ${fmt(value)}`
  if (c.kind === 'target') return `${agg}, target ${fmt(c.target)} ±${fmt(c.tolerance * 100)} %`
  return `${agg} ${c.kind === 'above' ? '>' : '<'} ${fmt(c.enter)} (reset ${fmt(c.exit)})`
}

export function evaluate (rule: Rule, state: RuleState, o: Observation): Decision {
  const now = o.now
  const recs = rule.stabilizationMs > 0 ? state.recs.filter(r => now - r.at < rule.stabilizationMs) : []
  const keep = (s: Partial<RuleState>): RuleState => ({ side: state.side, recs, lastFired: state.lastFired, since: state.since, ...s })
  const decide = (st: RuleState, outcome: Outcome, reason: string, change?: Decision['change']): Decision => ({ state: st, outcome, reason, dryRun: rule.dryRun, ...(change !== undefined ? { change } : {}) })

  if (o.value === undefined || o.samples < rule.minSamples) {
    return decide(keep({ side: 0, since: undefined }), 'insufficient', `${o.samples} fresh sample${o.samples === 1 ? '' : 's'} of ${rule.metric}, need ${rule.minSamples}`)
  }
  const side = sideOf(rule, state.side, o.value)
  const since = side === 0 ? undefined : side === state.side && state.since !== undefined ? state.since : now
  const what = describe(rule, o.value)
  const current = o.current ?? rule.initial
  if (side === 0 || since === undefined) {
    // No reason to change: the recommendation is to stay (within bounds).
    if (current !== undefined && rule.stabilizationMs > 0) recs.push({ at: now, value: clamp(current, rule.min, rule.max) })
    return decide(keep({ side, since, recs }), 'idle', what)
  }
  if (current === undefined) return decide(keep({ side, since }), 'no-value', `${what}, but ${rule.key} is not set to a number and the rule has no set.initial`)
  const rec = recommend(rule, current, o.value)
  if (rule.stabilizationMs > 0) recs.push({ at: now, value: rec })
  const st = keep({ side, since, recs })
  const last = Math.max(o.lastChangeAt ?? -Infinity, state.lastFired ?? -Infinity)
  if (now - last < rule.cooldownMs) return decide(st, 'cooldown', `${what}; cooldown: last change ${fmt((now - last) / 1000)} s ago, cooldown ${fmt(rule.cooldownMs / 1000)} s`)
  if (now - since < rule.forMs) return decide(st, 'holding', `${what}, held ${fmt((now - since) / 1000)} s of ${fmt(rule.forMs / 1000)} s`)
  let to = rec
  if (to < current && rule.stabilizationMs > 0) {
    // HPA's scale-down stabilisation: lower only to the highest recommendation of the window.
    to = Math.max(...recs.map(r => r.value))
    if (to >= current) return decide(st, 'stabilizing', `${what}; a recommendation of ${fmt(to)} within the last ${fmt(rule.stabilizationMs / 1000)} s holds ${rule.key} at ${fmt(current)}`)
  }
  if (to === current) return decide(st, 'unchanged', `${what}; ${rule.key} stays ${fmt(current)} (bounds [${fmt(rule.min)}, ${fmt(rule.max)}])`)
  return decide({ ...st, since: now, lastFired: now }, 'fire', `${what} for ${fmt((now - since) / 1000)} s: ${rule.key} ${fmt(current)} → ${fmt(to)}`, { from: current, to })
}
