// Control rules as users write them (JSON, durations as strings) and as the engine runs them
// (numbers, ms). A rule is stored replicated under `murmur/rules/NAME`; it is validated once
// when written, and again by every agent that reads it (a rule written by another version or
// through the raw config API is refused there and reported, never run half-understood).
import { AGGREGATES, type Aggregate } from './aggregate.js'
import { keyProblem } from './config.js'
import { parseDuration } from './duration.js'
import { MurmurError } from './errors.js'

export const RULES_PREFIX = 'murmur/rules/'
export const AUDIT_PREFIX = 'murmur/audit/'
/** Keys under this prefix belong to murmur itself: a rule may not write them. */
export const RESERVED_PREFIX = 'murmur/'

const RULE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const SELECTOR_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

export type Condition =
  /** Schmitt trigger: enters beyond `enter`, leaves beyond `exit` on the other side. */
  | { kind: 'above' | 'below', enter: number, exit: number }
  /** HPA: keep the aggregate near `target`; nothing happens within `tolerance` of it. */
  | { kind: 'target', target: number, tolerance: number }

export type Change =
  | { kind: 'step', step: number }
  | { kind: 'value', value: number }
  /** new = ceil(current × aggregate / target), rounded up to a multiple of `per`. */
  | { kind: 'proportional', per: number }

export interface Rule {
  name: string
  select: { service?: string, tag?: string }
  metric: string
  aggregate: Aggregate
  forMs: number
  condition: Condition
  key: string
  change: Change
  min: number
  max: number
  /** Value assumed when the key is unset or not a number; without it such a rule does nothing. */
  initial?: number
  cooldownMs: number
  /** When lowering, take the highest recommendation over this window (HPA's scale-down stabilisation). */
  stabilizationMs: number
  /** Fewer fresh samples than this: no action (reported as insufficient data). */
  minSamples: number
  /** A sample older than this is not fresh. */
  maxAgeMs: number
  dryRun: boolean
}

export const RULE_DEFAULTS = { aggregate: 'avg', for: '30s', cooldown: '60s', stabilization: '0s', tolerance: 0.1, minSamples: 1, maxAge: '60s', dryRun: false } as const

const TOP_FIELDS = ['select', 'metric', 'aggregate', 'for', 'above', 'below', 'reset', 'tolerance', 'set', 'cooldown', 'stabilization', 'minSamples', 'maxAge', 'dryRun', 'description']
const SET_FIELDS = ['key', 'step', 'value', 'target', 'per', 'min', 'max', 'initial']

function bad (field: string, message: string): never {
  throw new MurmurError('MURMUR_ERR_BAD_RULE', `rule field '${field}': ${message}`)
}

function isObject (x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

function only (o: Record<string, unknown>, allowed: string[], prefix: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(prefix + k, `unknown field (known: ${allowed.join(', ')})`)
}

function num (o: Record<string, unknown>, k: string, field: string): number | undefined {
  const v = o[k]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(field, 'must be a finite number')
  return v
}

function duration (o: Record<string, unknown>, k: string, def: string, minMs: number, maxMs: number): number {
  const v = o[k] ?? def
  const ms = typeof v === 'string' ? parseDuration(v) : undefined
  if (ms === undefined) bad(k, 'must be a duration such as "500ms", "10s", "5m" or "1h"')
  if (ms < minMs || ms > maxMs) bad(k, `must be between ${minMs / 1000} s and ${maxMs / 1000} s`)
  return ms
}

export function ruleNameProblem (name: string): string | undefined {
  return RULE_NAME_RE.test(name) ? undefined : `rule name '${name.slice(0, 80)}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`
}

/** Validates a rule as written; throws MURMUR_ERR_BAD_RULE naming the first bad field. */
export function parseRule (name: string, spec: unknown): Rule {
  const nameProblem = ruleNameProblem(name)
  if (nameProblem !== undefined) throw new MurmurError('MURMUR_ERR_BAD_RULE', nameProblem)
  if (!isObject(spec)) bad('(body)', 'a rule is a JSON object; see README "Control loop"')
  only(spec, TOP_FIELDS, '')
  if (spec.description !== undefined && (typeof spec.description !== 'string' || spec.description.length > 1024)) bad('description', 'must be a string of at most 1024 characters')

  const select: Rule['select'] = {}
  if (spec.select !== undefined) {
    if (!isObject(spec.select)) bad('select', 'must be an object {"service"?, "tag"?} ({} selects every member)')
    only(spec.select, ['service', 'tag'], 'select.')
    for (const k of ['service', 'tag'] as const) {
      const v = spec.select[k]
      if (v === undefined) continue
      if (typeof v !== 'string' || v.length > 128 || !SELECTOR_RE.test(v)) bad(`select.${k}`, 'must be a service name or tag (letters, digits, ., _, -)')
      select[k] = v
    }
    if (select.tag !== undefined && select.service === undefined) bad('select.tag', 'needs select.service')
  }

  if (typeof spec.metric !== 'string' || spec.metric.length === 0 || spec.metric.length > 64) bad('metric', 'must be a metric name, e.g. "cpu" or "latency_p99_ms"')
  const aggregate = spec.aggregate ?? RULE_DEFAULTS.aggregate
  if (typeof aggregate !== 'string' || !(AGGREGATES as readonly string[]).includes(aggregate)) bad('aggregate', `must be one of ${AGGREGATES.join(', ')}`)

  if (!isObject(spec.set)) bad('set', 'must be an object {"key", "min", "max", and one of "step", "value", "target"}')
  const set = spec.set
  only(set, SET_FIELDS, 'set.')
  const kp = keyProblem(set.key)
  if (kp !== undefined) bad('set.key', kp)
  const key = set.key as string
  if (key.startsWith(RESERVED_PREFIX)) bad('set.key', `keys under '${RESERVED_PREFIX}' are murmur's own; a rule may not write them`)
  const min = num(set, 'min', 'set.min')
  const max = num(set, 'max', 'set.max')
  if (min === undefined) bad('set.min', 'is required: every rule is bounded')
  if (max === undefined) bad('set.max', 'is required: every rule is bounded')
  if (min > max) bad('set.min', `must not exceed set.max (${min} > ${max})`)
  const initial = num(set, 'initial', 'set.initial')

  const forms = (['step', 'value', 'target'] as const).filter(k => set[k] !== undefined)
  if (forms.length !== 1) bad('set', 'needs exactly one of "step", "value" or "target"')
  const above = num(spec, 'above', 'above')
  const below = num(spec, 'below', 'below')
  const reset = num(spec, 'reset', 'reset')
  const tolerance = num(spec, 'tolerance', 'tolerance')
  let condition: Condition
  let change: Change
  if (forms[0] === 'target') {
    const target = num(set, 'target', 'set.target') as number
    if (!(target > 0)) bad('set.target', 'must be a positive number (the aggregate to aim for)')
    const per = num(set, 'per', 'set.per') ?? 1
    if (!(per > 0)) bad('set.per', 'must be a positive number (the step the new value is rounded up to)')
    for (const k of ['above', 'below', 'reset'] as const) if (spec[k] !== undefined) bad(k, 'does not go with set.target (a target rule acts whenever the aggregate is off target by more than the tolerance)')
    const tol = tolerance ?? RULE_DEFAULTS.tolerance
    if (tol < 0 || tol >= 1) bad('tolerance', 'must be at least 0 and below 1')
    condition = { kind: 'target', target, tolerance: tol }
    change = { kind: 'proportional', per }
  } else {
    if (set.per !== undefined) bad('set.per', 'goes only with set.target')
    if (tolerance !== undefined) bad('tolerance', 'goes only with set.target')
    if ((above === undefined) === (below === undefined)) bad('above', 'a threshold rule needs exactly one of "above" or "below"')
    const kind = above !== undefined ? 'above' : 'below'
    const enter = (above ?? below) as number
    const exit = reset ?? enter
    if (kind === 'above' && exit > enter) bad('reset', `must not be above "above" (${exit} > ${enter}): the rule re-arms when the aggregate drops below it`)
    if (kind === 'below' && exit < enter) bad('reset', `must not be below "below" (${exit} < ${enter}): the rule re-arms when the aggregate rises above it`)
    condition = { kind, enter, exit }
    if (forms[0] === 'step') {
      const step = num(set, 'step', 'set.step') as number
      if (step === 0) bad('set.step', 'must not be 0')
      change = { kind: 'step', step }
    } else {
      const value = num(set, 'value', 'set.value') as number
      if (value < min || value > max) bad('set.value', `must lie within [set.min, set.max] = [${min}, ${max}]`)
      change = { kind: 'value', value }
    }
  }

  const minSamples = spec.minSamples ?? RULE_DEFAULTS.minSamples
  if (!Number.isSafeInteger(minSamples) || (minSamples as number) < 1 || (minSamples as number) > 100_000) bad('minSamples', 'must be an integer from 1 to 100000')
  if (spec.dryRun !== undefined && typeof spec.dryRun !== 'boolean') bad('dryRun', 'must be true or false')

  return {
    name,
    select,
    metric: spec.metric,
    aggregate: aggregate as Aggregate,
    forMs: duration(spec, 'for', RULE_DEFAULTS.for, 0, 86_400_000),
    condition,
    key,
    change,
    min,
    max,
    ...(initial !== undefined ? { initial } : {}),
    // At least a second between changes: with no cooldown a step rule would step every round.
    cooldownMs: duration(spec, 'cooldown', RULE_DEFAULTS.cooldown, 1000, 7 * 86_400_000),
    stabilizationMs: duration(spec, 'stabilization', RULE_DEFAULTS.stabilization, 0, 86_400_000),
    minSamples: minSamples as number,
    maxAgeMs: duration(spec, 'maxAge', RULE_DEFAULTS.maxAge, 1000, 3_600_000),
    dryRun: spec.dryRun === true
  }
}
