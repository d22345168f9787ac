// The control loop, measured two ways. controlRound: the round, computed (no agents): R rules over M members, as every agent runs
// it once a second: index the members by service, then per rule select, take the fresh
// values, aggregate, and run the engine. Also the worst case where every rule fires and its
// actor is elected by rendezvous hash over all alive members. controlPropagation: real agents
// (network namespaces as root, else loopback): a rule's condition starts to hold, and the time
// from the end of its window until the new value is visible on every agent.
import { aggregateOf, freshValues, MemberIndex, type MemberMetrics } from '../../src/core/aggregate.js'
import { Electorate } from '../../src/core/rendezvous.js'
import { parseRule, type Rule } from '../../src/core/rule-spec.js'
import { evaluate, INITIAL_STATE, type RuleState } from '../../src/core/rules.js'
import { median, pct, type Row } from './common.js'
import { makeNet } from './net.js'
import type { Ctx } from './scenarios.js'
import { MurmurSystem, type SysAgent } from './systems.js'

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
      // CPU time as well as wall time: on a shared machine the p99 of wall time is mostly
      // the moments this process was not scheduled.
      const cpu0 = process.cpuUsage()
      const t = timeRounds(members, rules, 200, elect)
      const cpu = process.cpuUsage(cpu0)
      const cpuMs = (cpu.user + cpu.system) / 1000 / t.length
      rows.push({
        scenario: `control round, ${r} rules × ${m} members${elect ? ' + actor election for every rule' : ''}`,
        n: m, metric: 'p50 / p99', murmur: median(t), serf: null, ratio: pct(t, 99), unit: 'ms',
        note: `ratio column = p99; mean ${(t.reduce((a, b) => a + b, 0) / t.length).toFixed(2)} ms wall, ${cpuMs.toFixed(2)} ms CPU per round; target ≤ 10 ms at 100 × 1000`
      })
    }
  }
  return rows
}

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number, body: any }>
const call = (a: SysAgent): Call => async (method, path, body) => await (a as unknown as { req: Call }).req(method, path, body)

async function poll (what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await fn().catch(() => false)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

export async function controlPropagation (ctx: Ctx): Promise<Row[]> {
  const n = ctx.profile.name === 'full' ? 10 : 3
  const reps = ctx.profile.name === 'full' ? 5 : 2
  const forMs = 3000
  const afterWindow: number[] = []
  const afterPut: number[] = []
  const net = await makeNet(n, ctx.useLab)
  const sys = new MurmurSystem(net, `benchctl${process.pid % 100000}`, ctx.murmurArgs)
  try {
    await sys.start(net.hosts, 'join')
    const names = sys.agents.map(a => a.name)
    await Promise.all(sys.agents.map(async a => await a.until('members', () => a.alive(names), 180_000, `${n} members alive`)))
    sys.watchData()
    const calls = sys.agents.map(call)
    for (const c of calls) {
      await c('PUT', '/v1/agent/services', { name: 'web', port: 8080 })
      await c('PUT', '/v1/agent/metrics', { lat: 100 })
    }
    for (let rep = 0; rep < reps; rep++) {
      const key = `maxc${rep}`
      const rule = `ctl${rep}`
      await calls[0]('PUT', `/v1/config/bench/${key}`, 100)
      await Promise.all(sys.agents.map(async a => await a.until('write', () => a.seen.get(key) === 100, 30_000, `${key} = 100`)))
      await calls[0]('PUT', `/v1/rules/${rule}`, { select: { service: 'web' }, metric: 'lat', for: `${forMs}ms`, above: 250, reset: 150, set: { key: `bench/${key}`, step: -10, min: 10, max: 200 }, cooldown: '10m' })
      await poll(`rule ${rule} idle everywhere`, async () => (await Promise.all(calls.map(async c => (await c('GET', `/v1/rules/${rule}`)).body.status?.outcome === 'idle'))).every(Boolean))
      const tPut = performance.now()
      await Promise.all(calls.map(async c => await c('PUT', '/v1/agent/metrics', { lat: 400 })))
      const seen = await Promise.all(sys.agents.map(async a => await a.until('write', () => a.seen.get(key) === 90, 60_000, `${key} = 90`)))
      const visible = Math.max(...seen)
      const [rec] = (await calls[0]('GET', `/v1/rules/${rule}/history`)).body.items
      // Wall times from the actor, performance.now() here: the same host clock, so one offset.
      const windowEnd = rec.inputs.holdingSinceMs + forMs - (Date.now() - performance.now())
      afterWindow.push(visible - windowEnd)
      afterPut.push(visible - (tPut + forMs))
      ctx.log(`control n=${n}: window end → on all agents ${(visible - windowEnd).toFixed(0)} ms; metric PUT + window → on all ${(visible - tPut - forMs).toFixed(0)} ms`)
      await Promise.all(calls.map(async c => await c('PUT', '/v1/agent/metrics', { lat: 100 })))
      await calls[0]('DELETE', `/v1/rules/${rule}`)
    }
  } finally {
    await sys.stop()
    await net.destroy()
  }
  const note = `${reps} runs; rule for = ${forMs / 1000} s; every agent reports the metric; `
  return [
    { scenario: 'control: window end → new value on every agent', n, metric: 'p50 / max', murmur: median(afterWindow), serf: null, ratio: Math.max(...afterWindow), unit: 'ms', note: note + 'ratio column = max; window end as the actor saw it (audit holdingSinceMs + for); target ≤ 1000 ms' },
    { scenario: 'control: metric PUT + window → new value on every agent', n, metric: 'p50 / max', murmur: median(afterPut), serf: null, ratio: Math.max(...afterPut), unit: 'ms', note: note + 'ratio column = max; includes the metric reaching the actor (next heartbeat) and its round' }
  ]
}
