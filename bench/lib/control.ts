// The control loop's round, computed (no agents): R rules over M members, as every agent runs
// it once a second: index the members by service, then per rule select, take the fresh
// values, aggregate, and run the engine. Also the worst case where every rule fires and its
// actor is elected by rendezvous hash over all alive members.
import { aggregateOf, freshValues, MemberIndex, type MemberMetrics } from '../../src/core/aggregate.js'
import { Electorate } from '../../src/core/rendezvous.js'
import { parseRule, type Rule } from '../../src/core/rule-spec.js'
import { evaluate, INITIAL_STATE, type RuleState } from '../../src/core/rules.js'
import { median, pct, type Row } from './common.js'

function lcg (seed: number): () => number {
  let s = seed >>> 0
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32
}

export function buildMembers (count: number, services: number, now: number, rand = lcg(1)): MemberMetrics[] {
  return Array.from({ length: count }, (_, i) => ({
    memberId: `12D3KooW${String(i).padStart(44, '0')}`,
    name: `node-${i}`,
    generation: now - 3_600_000,
    alive: rand() > 0.01,
    services: [{ id: `svc-${i % services}`, name: `svc-${i % services}`, tags: i % 3 === 0 ? ['canary'] : [] }],
    metrics: {
      cpu: rand(), rss: 9e7, memFree: 2e10, memTotal: 2.5e10, memUsed: rand(), load1: 4 * rand(), netTx: 1e6, netRx: 1e6, loopDelayMs: 20 * rand(),
      lat: 100 + 400 * rand(), rps: 1000 * rand(), errors: Math.floor(10 * rand())
    },
    at: now - Math.floor(5000 * rand())
  }))
}

export function buildRules (count: number, services: number): Rule[] {
  const aggs = ['avg', 'max', 'p95', 'sum', 'min', 'p50'] as const
  return Array.from({ length: count }, (_, i) => parseRule(`rule-${i}`, {
    ...(i % 10 === 0 ? {} : { select: { service: `svc-${i % services}`, ...(i % 7 === 0 ? { tag: 'canary' } : {}) } }),
    metric: ['lat', 'cpu', 'rps', 'loopDelayMs'][i % 4],
    aggregate: aggs[i % aggs.length],
    for: '10s',
    ...(i % 5 === 4 ? {} : { above: 300, reset: 200 }),
    set: i % 5 === 4 ? { key: `k/${i}`, target: 250, min: 1, max: 100 } : { key: `k/${i}`, step: -1, min: 1, max: 100 },
    cooldown: '60s',
    stabilization: '30s'
  }))
}

/** Times rounds; `elect` also elects every rule's actor (as if all fired at once). */
export function timeRounds (members: MemberMetrics[], rules: Rule[], rounds: number, elect: boolean): number[] {
  const states: RuleState[] = rules.map(() => INITIAL_STATE)
  const times: number[] = []
  let now = Date.now()
  for (let r = 0; r < rounds; r++) {
    now += 1000
    const t0 = performance.now()
    const index = new MemberIndex(members)
    const electorate = elect ? new Electorate(index.alive.map(m => m.memberId)) : undefined
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]
      const { values } = freshValues(index.select(rule.select), rule.metric, now, rule.maxAgeMs + 1e9)
      const d = evaluate(rule, states[i], { now, value: values.length > 0 ? aggregateOf(rule.aggregate, values) : undefined, samples: values.length, current: 50 })
      states[i] = d.state
      electorate?.owner(rule.name)
    }
    times.push(performance.now() - t0)
  }
  return times
}

export async function controlRound (): Promise<Row[]> {
  const rows: Row[] = []
  for (const [m, r] of [[1000, 100], [100, 100], [1000, 1000]]) {
    const members = buildMembers(m, 20, Date.now())
    const rules = buildRules(r, 20)
    timeRounds(members, rules, 30, true) // warm-up: let the JIT settle
    for (const elect of [false, true]) {
      const t = timeRounds(members, rules, 200, elect)
      rows.push({
        scenario: `control round, ${r} rules × ${m} members${elect ? ' + actor election for every rule' : ''}`,
        n: m, metric: 'p50 / p99', murmur: median(t), serf: null, ratio: pct(t, 99), unit: 'ms',
        note: `ratio column = p99; mean ${(t.reduce((a, b) => a + b, 0) / t.length).toFixed(2)} ms; target p50 ≤ 10 ms at 100 × 1000`
      })
    }
  }
  return rows
}
