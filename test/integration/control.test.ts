// The control loop on three real agents: a service's custom metric crosses a rule's threshold
// for the rule's window, the key changes once everywhere with one audit record, and a kill -9
// of the acting agent hands the rule over without a second change for the same condition.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Murmur } from '../../src/client/index.js'
import { BIN, Cluster, waitFor, type AgentProc } from '../helpers/agents.js'

const run = promisify(execFile)
const cluster = new Cluster()
let agents: AgentProc[] = []

const RULE = {
  select: { service: 'web' },
  metric: 'lat',
  aggregate: 'avg',
  for: '2s',
  above: 250,
  reset: 150,
  set: { key: 'web/max_conns', step: -10, min: 10, max: 200 },
  cooldown: '10m'
}

async function keyValue (a: AgentProc): Promise<unknown> {
  const r = await a.get('/v1/config/web/max_conns')
  return r.status === 200 ? r.body.value : undefined
}

async function history (a: AgentProc): Promise<any[]> {
  return (await a.get('/v1/rules/slow-web/history')).body.items
}

beforeAll(async () => {
  const a = await cluster.start({ name: 'a' })
  const b = await cluster.start({ name: 'b', join: [a.listen] })
  const c = await cluster.start({ name: 'c', join: [a.listen] })
  agents = [a, b, c]
  await cluster.converged(['a', 'b', 'c'])
  for (const x of agents) {
    expect((await x.req('PUT', '/v1/agent/services', { name: 'web', id: 'web', port: 8080 })).status).toBe(200)
    expect((await x.req('PUT', '/v1/agent/metrics', { lat: 100, rps: 950 })).status).toBe(200)
  }
  await a.req('PUT', '/v1/config/web/max_conns', 100)
  await waitFor('max_conns and the lat samples everywhere', async () => {
    for (const x of agents) {
      if (await keyValue(x) !== 100) return false
      if ((await x.get('/v1/cluster/metrics?metric=lat&service=web')).body.count !== 3) return false
    }
    return true
  })
}, 120_000)

afterAll(async () => { await cluster.stopAll() })

describe('the control loop on three agents', () => {
  it('aggregates the services\' custom metrics over alive members', async () => {
    const { body } = await agents[1].get('/v1/cluster/metrics?metric=lat&service=web')
    expect(body).toMatchObject({ metric: 'lat', count: 3, avg: 100, min: 100, max: 100, p50: 100, p95: 100, sum: 300 })
    expect(body.oldestAgeMs).toBeLessThan(30_000)
    // The client library reads the same aggregate.
    expect(await new Murmur({ http: agents[2].http }).metrics.cluster('lat', { service: 'web' })).toMatchObject({ metric: 'lat', count: 3, avg: 100 })
    const all = (await agents[1].get('/v1/cluster/metrics')).body.items.map((s: any) => s.metric)
    expect(all).toEqual(expect.arrayContaining(['cpu', 'rss', 'load1', 'memUsed', 'loopDelayMs', 'netTx', 'lat', 'rps']))
  })

  it('refuses bad rules and metrics, naming the field', async () => {
    const bad = await agents[0].req('PUT', '/v1/rules/bad', { ...RULE, set: { key: 'web/max_conns', step: -10, min: 50, max: 10 } })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatchObject({ code: 'MURMUR_ERR_BAD_RULE', message: expect.stringMatching(/'set\.min'/) })
    expect((await agents[0].req('PUT', '/v1/agent/metrics', { lat: 'slow' })).body.error.code).toBe('MURMUR_ERR_BAD_METRIC')
    expect((await agents[0].get('/v1/rules/bad')).status).toBe(404)
    expect((await agents[0].get('/v1/cluster/metrics?tag=x')).status).toBe(400)
  })

  it('changes the key once, on every agent, with one audit record, after the window', async () => {
    const put = await agents[1].req('PUT', '/v1/rules/slow-web', RULE)
    expect(put.status).toBe(200)
    // Below the threshold: nothing happens, and every agent evaluates the rule.
    await waitFor('the rule evaluated idle everywhere', async () => {
      for (const x of agents) if ((await x.get('/v1/rules/slow-web')).body.status?.outcome !== 'idle') return false
      return true
    })
    const raisedAt = Date.now()
    for (const x of agents) await new Murmur({ http: x.http }).metrics.report({ lat: 400 })
    for (const x of agents) await waitFor('max_conns lowered to 90 everywhere', async () => await keyValue(x) === 90)
    // Not before the 2 s window (measured from when the metric was raised, so a lower bound).
    const items = await waitFor('one audit record everywhere', async () => {
      const all = await Promise.all(agents.map(history))
      return all.every(h => h.length === 1) ? all[0] : undefined
    })
    const rec = items[0]
    expect(rec).toMatchObject({ rule: 'slow-web', seq: 1, key: 'web/max_conns', old: 100, new: 90, dryRun: false, inputs: { metric: 'lat', aggregate: 'avg', value: 400, members: 3, windowMs: 2000 } })
    expect(rec.atMs - raisedAt).toBeGreaterThanOrEqual(2000)
    expect(rec.reason).toMatch(/avg\(lat\) = 400 > 250/)
    // The condition still holds; the cooldown keeps the key where it is.
    await waitFor('every agent in cooldown', async () => {
      for (const x of agents) if ((await x.get('/v1/rules/slow-web')).body.status?.outcome !== 'cooldown') return false
      return true
    })
    for (const x of agents) expect(await keyValue(x)).toBe(90)
    // The CLI reads the same history.
    const cli = await run(process.execPath, [BIN, 'rules', 'history', 'slow-web', '--http', agents[0].http], { timeout: 30_000 })
    expect(cli.stdout).toMatch(/100 → 90/)
  }, 90_000)

  it('hands the rule over when its actor is killed, without a second change for the same condition', async () => {
    const [rec] = await history(agents[0])
    const actor = agents.find(x => x.spec.name === rec.evaluator.name) as AgentProc
    expect(actor).toBeDefined()
    actor.kill('SIGKILL')
    const rest = agents.filter(x => x !== actor)
    // Both survivors agree on a new actor among themselves, and it evaluates the rule.
    const next = await waitFor('a new actor on the survivors', async () => {
      const views = await Promise.all(rest.map(async x => (await x.get('/v1/rules/slow-web')).body))
      const names = views.map(v => v.actor?.name)
      return names[0] !== undefined && names[0] !== actor.spec.name && names.every(n => n === names[0]) ? names[0] as string : undefined
    }, 60_000)
    const nextProc = rest.find(x => x.spec.name === next) as AgentProc
    // Several rounds of the new actor with the condition still true: still one change.
    const t0 = Date.now()
    await waitFor('the new actor to run rounds for 3 s', async () => {
      const v = (await nextProc.get('/v1/rules/slow-web')).body
      return v.actor.self === true && v.status.outcome === 'cooldown' && Date.parse(v.status.evaluatedAt) > t0 + 3000
    }, 30_000)
    for (const x of rest) {
      expect(await keyValue(x)).toBe(90)
      expect(await history(x)).toHaveLength(1)
    }
    // Once the cooldown is shortened, the new actor acts, from the key's current value.
    await rest[0].req('PUT', '/v1/rules/slow-web', { ...RULE, cooldown: '20s' })
    const second = await waitFor('a second action by the new actor', async () => (await history(nextProc)).find(r => r.seq === 2), 60_000)
    expect(second).toMatchObject({ old: 90, new: 80, evaluator: { name: next } })
  }, 120_000)

  it('answers the analyses in their fixed shapes', async () => {
    const live = agents.find(x => x.alive) as AgentProc
    const impact = (await live.get('/v1/analysis/impact?key=web/max_conns&metric=lat')).body
    expect(impact).toMatchObject({ key: 'web/max_conns', metric: 'lat', insufficient: true })
    expect(typeof impact.n).toBe('number')
    const arrivals = (await live.get('/v1/analysis/arrivals?service=web')).body
    expect(arrivals).toMatchObject({ service: 'web', joinsPerHour: expect.any(Number), leavesPerHour: expect.any(Number), windowHours: expect.any(Number) })
    // The killed actor's instance left while the survivors watched.
    expect(arrivals.leavesPerHour).toBeGreaterThan(0)
    // Three registrations in a few seconds of watching make a huge λ: P(0) is there, and tiny.
    expect(arrivals.joinsPerHour).toBeGreaterThan(0)
    expect(Object.values(arrivals.pJoinsNextHour).every(p => typeof p === 'number' && p >= 0 && p <= 1)).toBe(true)
    expect(arrivals.pJoinsNextHour).toHaveProperty('0')
    expect((await live.get('/v1/analysis/impact?metric=lat')).status).toBe(400)
  })
})
