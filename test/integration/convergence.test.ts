// Convergence you can trust: many keys to a late joiner, clock skew, and deletes that stay
// deleted for an agent that was away longer than the tombstone TTL.
import { afterAll, describe, expect, it } from 'vitest'
import { Cluster, waitFor, type AgentProc } from '../helpers/agents.js'

const cluster = new Cluster()
afterAll(async () => { await cluster.stopAll() })

async function value (a: AgentProc, key: string): Promise<unknown> {
  const r = await a.get(`/v1/config/${key}`)
  return r.status === 200 ? r.body.value : undefined
}

async function metric (a: AgentProc, name: string): Promise<number> {
  const res = await fetch(`http://${a.http}/metrics`)
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(await res.text())
  return m === null ? NaN : Number(m[1])
}

describe('convergence', () => {
  it('gives a late joiner all of 10,000 keys', async () => {
    const src = await cluster.start({ name: 'src' })
    let next = 0
    const writer = async (): Promise<void> => {
      while (next < 10_000) {
        const i = next++
        const r = await src.req('PUT', `/v1/config/many/${i}`, i)
        expect(r.status).toBe(200)
      }
    }
    await Promise.all(Array.from({ length: 16 }, writer))
    const late = await cluster.start({ name: 'late', join: [src.listen] })
    await waitFor('10,000 keys on the late joiner', async () => (await late.get('/v1/agent/self')).body.config.keys === 10_000, 90_000, 200)
    expect(await value(late, 'many/9999')).toBe(9999)
    src.kill()
    late.kill()
  })

  it('lets a write made after seeing a version supersede it, even from a clock minutes behind', async () => {
    const ahead = await cluster.start({ name: 'ahead', extra: ['--clock-skew-ms', '600000'] }) // 10 min fast
    const normal = await cluster.start({ name: 'normal', join: [ahead.listen] })
    const behind = await cluster.start({ name: 'behind', join: [ahead.listen], extra: ['--clock-skew-ms=-300000'] }) // 5 min slow
    await cluster.converged(['ahead', 'normal', 'behind'])

    await ahead.req('PUT', '/v1/config/skew', 'from-ahead')
    for (const a of [normal, behind]) await waitFor('ahead value', async () => (await value(a, 'skew')) === 'from-ahead')
    // The stamp 10 min ahead is beyond the 60 s drift bound: stored, but counted and logged.
    await waitFor('drift counted', async () => (await metric(normal, 'murmur_clock_drift_total')) > 0)
    expect(normal.output).toMatch(/beyond max drift/)

    await behind.req('PUT', '/v1/config/skew', 'from-behind')
    for (const a of [ahead, normal, behind]) await waitFor('behind wins', async () => (await value(a, 'skew')) === 'from-behind')
    await normal.req('PUT', '/v1/config/skew', 'from-normal')
    for (const a of [ahead, normal, behind]) await waitFor('normal wins', async () => (await value(a, 'skew')) === 'from-normal')
    for (const a of [ahead, normal, behind]) a.kill()
  })

  it('does not bring back a key deleted while an agent was away longer than the tombstone TTL', async () => {
    const ttl = ['--tombstone-ttl-ms', '3000']
    // Two agents stay in touch with each other throughout: the cluster the third comes back to.
    const seed = await cluster.start({ name: 'seed', extra: ttl })
    const seed2 = await cluster.start({ name: 'seed2', join: [seed.listen], extra: ttl })
    const dir = cluster.tempDir()
    const away = await cluster.start({ name: 'away', join: [seed.listen], dataDir: dir, extra: ttl })
    await seed.req('PUT', '/v1/config/keep', 1)
    await seed.req('PUT', '/v1/config/gone', 2)
    await waitFor('both on away', async () => (await value(away, 'gone')) === 2 && (await value(away, 'keep')) === 1)
    away.kill('SIGTERM')
    await away.exited

    await seed.req('DELETE', '/v1/config/gone')
    await waitFor('tombstone collected on seed', async () => (await metric(seed, 'murmur_config_tombstones')) === 0 && (await seed.get('/v1/config/gone')).status === 404, 30_000)

    const back = await cluster.start({ name: 'away', join: [seed.listen], dataDir: dir, extra: ttl })
    await waitFor('stale key dropped', async () => (await back.get('/v1/config/gone')).status === 404 && (await value(back, 'keep')) === 1, 30_000).catch(err => { throw new Error(err.message + '\n' + back.output) })
    expect(back.output).toMatch(/out of contact longer than the tombstone TTL/)
    // And the cluster did not get it back either.
    await new Promise(resolve => setTimeout(resolve, 4000))
    for (const a of [seed, seed2, back]) expect((await a.get('/v1/config/gone')).status).toBe(404)
  })
})
