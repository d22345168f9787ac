// The control loop's shell: once a round it reads the members' metrics, runs every rule
// through the pure engine (src/core/rules.ts), and, for the rules this agent is the actor of
// (highest rendezvous hash among alive members), writes the new value through the agent's
// normal config path followed by an audit record. It also keeps, in memory only, the history
// the analyses read: a bounded ring per (member, metric), each numeric key's changes, and
// each service's instance joins and leaves. That history starts again when the agent does.
import { freshValues, MemberIndex, summarize, aggregateOf, type MemberMetrics, type Selector, type Summary } from '../core/aggregate.js'
import { estimateArrivals, InstanceTracker, type ArrivalEstimate, type ArrivalEvent } from '../core/arrivals.js'
import { MurmurError } from '../core/errors.js'
import { SeriesStore } from '../core/history.js'
import { formatHlc } from '../core/hlc.js'
import { impact, type KeyChange } from '../core/impact.js'
import type { Entry } from '../core/lww.js'
import type { Fit } from '../core/regression.js'
import { Electorate } from '../core/rendezvous.js'
import { AUDIT_PREFIX, parseRule, RESERVED_PREFIX, RULES_PREFIX, ruleNameProblem, type Rule } from '../core/rule-spec.js'
import { evaluate, INITIAL_STATE, type Decision, type RuleState } from '../core/rules.js'
import type { Logger } from './log.js'

/** What the controller needs from the agent (built by controlHost in metrics-source.ts). */
export interface ControlHost {
  readonly id: string
  readonly node: string
  members: () => MemberMetrics[]
  /** Grows with every change of which members are alive or which services they host. */
  servicesIndex: () => number
  get: (key: string) => Entry | undefined
  list: (prefix: string) => Entry[]
  set: (key: string, value: unknown) => Promise<Entry>
  del: (key: string) => Promise<unknown>
  logger: Logger
}

export interface ControllerOptions {
  /** Period of a round (every rule evaluated once), ms. @default 1000 */
  intervalMs: number
  /** At most one history sample per (member, metric) per this, ms. @default 10000 */
  historyEveryMs: number
  /** Samples kept per (member, metric): with the default period, one hour. @default 360 */
  historyCapacity: number
  /** (member, metric) series kept at most; beyond it new series are not recorded. @default 20000 */
  maxSeries: number
}

export const CONTROLLER_DEFAULTS: ControllerOptions = { intervalMs: 1000, historyEveryMs: 10_000, historyCapacity: 360, maxSeries: 20_000 }

/** Audit records kept per rule: slots 0-99 are overwritten in turn (no deletes, no tombstones). */
export const AUDIT_KEEP = 100
/** Changes remembered per key, and keys whose changes are remembered. */
const KEY_CHANGES_KEEP = 100
const KEYS_TRACKED = 1000
/** Join/leave events kept per service, and services tracked; the arrival window is at most a day. */
const ARRIVALS_KEEP = 1000
const SERVICES_TRACKED = 256
const ARRIVAL_WINDOW_MS = 86_400_000

export interface AuditRecord {
  rule: string
  ruleVersion: string
  seq: number
  evaluator: { id: string, name: string }
  key: string
  old: number
  new: number
  dryRun: boolean
  reason: string
  /** What the actor saw: the aggregate, how many fresh samples, the window, since when the condition held (ms). */
  inputs: { metric: string, aggregate: string, value: number | undefined, members: number, windowMs: number, oldestAgeMs: number | null, holdingSinceMs: number | null }
  at: string
  atMs: number
}

interface Slot {
  name: string
  entry: Entry
  rule?: Rule
  error?: string
  state: RuleState
  last?: Decision & { at: number, value: number | undefined, samples: number, oldestAgeMs: number | null }
  busy: boolean
  heldSince?: number
}

const numeric = (v: unknown): number | undefined => typeof v === 'number' && Number.isFinite(v) ? v : undefined

export const auditKey = (rule: string, seq: number): string => `${AUDIT_PREFIX}${rule}/${String(seq % AUDIT_KEEP).padStart(2, '0')}`

export class Controller {
  readonly counters = { rounds: 0, fired: 0, dryRuns: 0, writeFailures: 0, lastRoundMs: 0 }
  private readonly slots = new Map<string, Slot>()
  /** Newest audit record per rule: seq for the next slot, time for the cooldown. */
  private readonly latestAudit = new Map<string, { seq: number, at: number }>()
  private readonly series: SeriesStore
  private readonly keyChanges = new Map<string, KeyChange[]>()
  private readonly lastNumeric = new Map<string, number>()
  private readonly tracker: InstanceTracker
  private readonly arrivals = new Map<string, ArrivalEvent[]>()
  /** When the member metrics were last sampled into `series`. */
  private sampledAt = Number.NEGATIVE_INFINITY
  /** The services index the instance tracker last saw. */
  private trackedIndex = -1
  private readonly opts: ControllerOptions
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  readonly startedAt = Date.now()

  constructor (private readonly host: ControlHost, opts: Partial<ControllerOptions> = {}) {
    this.opts = { ...CONTROLLER_DEFAULTS, ...opts }
    this.tracker = new InstanceTracker(this.startedAt)
    this.series = new SeriesStore(this.opts.historyCapacity, this.opts.historyEveryMs, this.opts.maxSeries)
  }

  start (): void {
    for (const e of this.host.list('')) this.onConfig(e)
    const loop = (delay: number): void => {
      this.timer = setTimeout(() => {
        if (this.stopped) return
        let due = Infinity
        try {
          due = this.round(Date.now())
        } catch (err) {
          this.host.logger('warn', 'control', 'round failed', { error: (err as Error).message })
        }
        // Jittered so that agents started together do not all write in the same millisecond;
        // sooner when a rule's window or cooldown ends before the next round would come, so
        // an action is not a whole round late.
        loop(Math.max(10, Math.min(this.opts.intervalMs * (0.9 + Math.random() * 0.2), due - Date.now() + 5)))
      }, delay)
    }
    loop(this.opts.intervalMs)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** Every config change (local or remote, in HLC order per key) passes here. */
  onConfig (e: Entry): void {
    if (e.key.startsWith(RULES_PREFIX)) this.onRule(e)
    else if (e.key.startsWith(AUDIT_PREFIX)) this.onAudit(e)
    else if (!e.key.startsWith(RESERVED_PREFIX)) this.onValue(e)
  }

  private onRule (e: Entry): void {
    const name = e.key.slice(RULES_PREFIX.length)
    if (e.deleted) {
      this.slots.delete(name)
      return
    }
    // A changed rule keeps its state (how long its condition has held); its cooldown counts
    // from its audit records, which a new version keeps too.
    const slot = this.slots.get(name) ?? { name, entry: e, state: INITIAL_STATE, busy: false }
    slot.entry = e
    try {
      slot.rule = parseRule(name, e.value)
      slot.error = undefined
    } catch (err) {
      slot.rule = undefined
      slot.error = (err as Error).message
      this.host.logger('warn', 'control', 'rule refused', { rule: name, error: slot.error })
    }
    this.slots.set(name, slot)
  }

  private onAudit (e: Entry): void {
    const r = e.value as Partial<AuditRecord> | undefined
    if (e.deleted || typeof r?.rule !== 'string' || typeof r.seq !== 'number' || typeof r.atMs !== 'number') return
    const prev = this.latestAudit.get(r.rule)
    if (prev === undefined || r.seq > prev.seq) this.latestAudit.set(r.rule, { seq: r.seq, at: r.atMs })
  }

  private onValue (e: Entry): void {
    const prev = this.lastNumeric.get(e.key)
    const now = e.deleted ? undefined : numeric(e.value)
    if (now === undefined) {
      this.lastNumeric.delete(e.key)
      return
    }
    this.lastNumeric.set(e.key, now)
    if (prev === undefined || prev === now) return
    let list = this.keyChanges.get(e.key)
    if (list === undefined) {
      if (this.keyChanges.size >= KEYS_TRACKED) return
      this.keyChanges.set(e.key, list = [])
    }
    list.push({ at: e.hlc.wall, from: prev, to: now })
    if (list.length > KEY_CHANGES_KEEP) list.shift()
  }

  // ---- the round ----------------------------------------------------------------------

  /** Runs every rule once; returns when the earliest rule window or cooldown ends (wall ms). */
  round (now: number): number {
    const t0 = performance.now()
    let due = Infinity
    // The member table is read only when something in this round needs it: a rule, a history
    // sample (one per historyEveryMs) or a change of members or services. Read every round, it
    // cost each agent O(N) objects and strings a second whether or not a rule was set.
    let members: MemberMetrics[] | undefined
    const table = (): MemberMetrics[] => (members ??= this.host.members())
    this.recordHistory(table, now)
    let index: MemberIndex | undefined
    let electorate: Electorate | undefined
    for (const slot of this.slots.values()) {
      const rule = slot.rule
      if (rule === undefined) continue
      index ??= new MemberIndex(table())
      const { values, times } = freshValues(index.select(rule.select), rule.metric, now, rule.maxAgeMs)
      const value = aggregateOf(rule.aggregate, values)
      const lastChangeAt = this.latestAudit.get(rule.name)?.at
      const d = evaluate(rule, slot.state, { now, value: values.length > 0 ? value : undefined, samples: values.length, current: numeric(this.host.get(rule.key)?.value), lastChangeAt })
      // The engine restarts the hold when it fires; the audit record wants where it began.
      slot.heldSince = slot.state.since
      slot.state = d.state
      const oldest = times.length === 0 ? null : now - Math.min(...times)
      slot.last = { ...d, at: now, value, samples: values.length, oldestAgeMs: oldest }
      if (d.outcome === 'holding' && d.state.since !== undefined) due = Math.min(due, d.state.since + rule.forMs)
      else if (d.outcome === 'cooldown') due = Math.min(due, Math.max(lastChangeAt ?? -Infinity, d.state.lastFired ?? -Infinity) + rule.cooldownMs)
      if (d.outcome !== 'fire') continue
      electorate ??= new Electorate(index.alive.map(m => m.memberId))
      if (electorate.owner(rule.name) === this.host.id) this.act(slot, rule, d, now)
    }
    this.counters.rounds++
    this.counters.lastRoundMs = performance.now() - t0
    return due
  }

  private act (slot: Slot, rule: Rule, d: Decision, now: number): void {
    const change = d.change
    if (slot.busy || change === undefined) return
    slot.busy = true
    const seq = (this.latestAudit.get(rule.name)?.seq ?? 0) + 1
    const last = slot.last
    const record: AuditRecord = {
      rule: rule.name,
      ruleVersion: formatHlc(slot.entry.hlc),
      seq,
      evaluator: { id: this.host.id, name: this.host.node },
      key: rule.key,
      old: change.from,
      new: change.to,
      dryRun: rule.dryRun,
      reason: d.reason,
      inputs: { metric: rule.metric, aggregate: rule.aggregate, value: last?.value, members: last?.samples ?? 0, windowMs: rule.forMs, oldestAgeMs: last?.oldestAgeMs ?? null, holdingSinceMs: slot.heldSince ?? now },
      at: new Date(now).toISOString(),
      atMs: now
    }
    // Known at once here, before the write comes back as an event: the next round's cooldown
    // and sequence number must already count this action.
    this.latestAudit.set(rule.name, { seq, at: now })
    // The audit record goes first: an actor killed between the two writes leaves a record and
    // no change (the next actor waits out the cooldown, then acts once), never a change
    // without a record (the next actor would not know of it and change the key again).
    const write = async (): Promise<void> => {
      await this.host.set(auditKey(rule.name, seq), record)
      if (!rule.dryRun) await this.host.set(rule.key, change.to)
    }
    write().then(() => {
      if (rule.dryRun) this.counters.dryRuns++
      else this.counters.fired++
      this.host.logger('info', 'control', rule.dryRun ? 'would change (dry run)' : 'changed', { rule: rule.name, key: rule.key, from: change.from, to: change.to, reason: d.reason })
    }).catch(err => {
      this.counters.writeFailures++
      this.host.logger('error', 'control', 'rule action failed', { rule: rule.name, key: rule.key, error: (err as Error).message })
    }).finally(() => { slot.busy = false })
  }

  private recordHistory (table: () => readonly MemberMetrics[], now: number): void {
    // SeriesStore keeps one sample per historyEveryMs per series: sampling more often only
    // builds keys it then drops.
    if (now - this.sampledAt >= this.opts.historyEveryMs) {
      this.sampledAt = now
      for (const m of table()) {
        if (!m.alive) continue
        for (const [k, v] of Object.entries(m.metrics)) this.series.record(`${m.memberId}\u0000${k}`, m.at, v)
      }
    }
    if (this.counters.rounds % 600 === 0) this.series.prune(now - 2 * this.opts.historyCapacity * this.opts.historyEveryMs)
    const servicesIndex = this.host.servicesIndex()
    if (servicesIndex === this.trackedIndex) return
    this.trackedIndex = servicesIndex
    const members = table()
    const instances: Array<{ memberId: string, generation: number, service: string, instance: string }> = []
    for (const m of members) {
      if (m.alive) for (const s of m.services) instances.push({ memberId: m.memberId, generation: m.generation, service: s.name, instance: s.id })
    }
    for (const e of this.tracker.observe(instances, members.map(m => m.memberId), now)) {
      let list = this.arrivals.get(e.service)
      if (list === undefined) {
        if (this.arrivals.size >= SERVICES_TRACKED) continue
        this.arrivals.set(e.service, list = [])
      }
      list.push(e)
      if (list.length > ARRIVALS_KEEP) list.shift()
    }
  }

  // ---- what the HTTP routes read and write ---------------------------------------------

  async putRule (name: string, spec: unknown): Promise<Entry> {
    parseRule(name, spec)
    return await this.host.set(RULES_PREFIX + name, spec)
  }

  async deleteRule (name: string): Promise<void> {
    this.ruleEntry(name)
    await this.host.del(RULES_PREFIX + name)
  }

  private ruleEntry (name: string): Entry {
    const problem = ruleNameProblem(name)
    if (problem !== undefined) throw new MurmurError('MURMUR_ERR_BAD_RULE', problem)
    const e = this.host.get(RULES_PREFIX + name)
    if (e === undefined) throw new MurmurError('MURMUR_ERR_NOT_FOUND', `rule '${name}' does not exist`)
    return e
  }

  rules (): Array<Record<string, unknown>> {
    const alive = this.host.members().filter(m => m.alive)
    const electorate = new Electorate(alive.map(m => m.memberId))
    return this.host.list(RULES_PREFIX).map(e => this.ruleView(e, alive, electorate))
  }

  rule (name: string): Record<string, unknown> {
    const alive = this.host.members().filter(m => m.alive)
    return this.ruleView(this.ruleEntry(name), alive, new Electorate(alive.map(m => m.memberId)))
  }

  private ruleView (e: Entry, alive: MemberMetrics[], electorate: Electorate): Record<string, unknown> {
    const name = e.key.slice(RULES_PREFIX.length)
    const slot = this.slots.get(name)
    const actor = electorate.owner(name)
    const last = slot?.last
    return {
      name,
      rule: e.value,
      version: formatHlc(e.hlc),
      updatedAt: new Date(e.hlc.wall).toISOString(),
      ...(slot?.error !== undefined ? { error: slot.error } : {}),
      actor: actor === undefined ? null : { id: actor, name: alive.find(m => m.memberId === actor)?.name, self: actor === this.host.id },
      status: last === undefined
        ? null
        : {
            outcome: last.outcome,
            reason: last.reason,
            value: last.value ?? null,
            samples: last.samples,
            oldestAgeMs: last.oldestAgeMs,
            holdingSince: last.state.since === undefined ? null : new Date(last.state.since).toISOString(),
            evaluatedAt: new Date(last.at).toISOString(),
            dryRun: last.dryRun
          }
    }
  }

  /** The rule's audit records, newest first (also after the rule is removed). */
  history (name: string): AuditRecord[] {
    const problem = ruleNameProblem(name)
    if (problem !== undefined) throw new MurmurError('MURMUR_ERR_BAD_RULE', problem)
    return this.host.list(`${AUDIT_PREFIX}${name}/`)
      .map(e => e.value as AuditRecord)
      .filter(r => typeof r?.seq === 'number')
      .sort((a, b) => b.seq - a.seq)
  }

  clusterMetric (metric: string, select: Selector): Summary & { metric: string } {
    const now = Date.now()
    const { values, times } = freshValues(new MemberIndex(this.host.members()).select(select), metric, now)
    return { metric, ...summarize(values, times, now) }
  }

  /** Every metric name any selected alive member reports. */
  metricNames (select: Selector): string[] {
    const names = new Set<string>()
    for (const m of new MemberIndex(this.host.members()).select(select)) for (const k of Object.keys(m.metrics)) names.add(k)
    return [...names].sort()
  }

  impact (key: string, metric: string, select: Selector, windowMs: number): Fit & { key: string, metric: string, changes: number } {
    const now = Date.now()
    const changes = this.keyChanges.get(key) ?? []
    const ids = this.host.members()
      .filter(m => select.service === undefined || m.services.some(s => s.name === select.service && (select.tag === undefined || s.tags.includes(select.tag))))
      .map(m => m.memberId)
    const samplesIn = (from: number, to: number): number[] => {
      const out: number[] = []
      for (const id of ids) this.series.get(`${id}\u0000${metric}`)?.each(from, to, (_at, v) => out.push(v))
      return out
    }
    // The after window starts one sampling period late, so it holds only samples taken after
    // the change reached the members.
    return { key, metric, changes: changes.length, ...impact(changes, samplesIn, { windowMs, settleMs: this.opts.historyEveryMs }, now) }
  }

  arrivalsOf (service: string): ArrivalEstimate & { service: string } {
    const now = Date.now()
    const events = this.arrivals.get(service) ?? []
    return { service, ...estimateArrivals(events, Math.max(this.startedAt, now - ARRIVAL_WINDOW_MS), now) }
  }
}
