// A smoke run of every bench scenario (bench/lib/scenarios.ts, profile 'smoke': N=3, a few
// repetitions, small key counts, a 10 s soak) in network namespaces, asserting sane results:
// finite numbers, everything converged and delivered, nothing left behind. Serf parts run when
// the serf binary is installed (apt-get install serf), and are skipped with a note otherwise.
// Needs root; skipped (with the reason) without it, except in CI, where not being able to run is
// a failure.
import { afterAll, describe, expect, it } from 'vitest'
import type { Row } from '../../bench/lib/common.js'
import { PROFILES, SCENARIOS, serfPresent, soakResults, type Ctx } from '../../bench/lib/scenarios.js'
import { Lab } from './netns.js'

const can = await Lab.canRun({ prefix: 'mbch' })
const mustRun = process.env.CI === 'true'
if (!can.ok) console.warn(`[lab] ${mustRun ? 'FAILING' : 'skipping'} bench smoke tests: ${can.reason ?? ''}`)
const serf = serfPresent()
if (can.ok && !serf) console.warn('[bench-smoke] serf is not installed: Serf parts skipped (apt-get install serf to include them)')

if (!can.ok && mustRun) {
  describe('bench smoke prerequisites (required in CI)', () => {
    it('can create network namespaces and bridges', () => {
      throw new Error(`network-namespace tests cannot run in CI: ${can.reason ?? ''}`)
    })
  })
}

describe.skipIf(!can.ok)('bench scenarios, smoke run (N=3)', () => {
  const lines: string[] = []
  // murmur and Serf run at once, each in its own lab: the bench runs them one after the other on
  // the same hosts, this file trades that for time.
  const ctx = (): Ctx => ({ profile: PROFILES.smoke, useLab: true, serf, parallel: true, log: l => lines.push(l) })

  afterAll(async () => {
    // Every scenario removes its lab: no bench lab of this process (ids mbch<pid><letter>) is left.
    const mine: string[] = []
    for (const c of 'abcdefghijklmnopqrstuvwxyz') mine.push(...await Lab.leftovers(`mbch${process.pid % 100000}${c}`))
    expect(mine).toEqual([])
  })

  const get = (rows: Row[], scenario: string, metric: string): Row => {
    const r = rows.find(x => x.scenario === scenario && x.metric === metric)
    if (r === undefined) throw new Error(`no row ${scenario} / ${metric} in:\n${JSON.stringify(rows, null, 1)}\n${lines.join('\n')}`)
    return r
  }
  const sane = (v: number | null, max: number): void => {
    expect(v).not.toBeNull()
    expect(Number.isFinite(v)).toBe(true)
    expect(v).toBeGreaterThanOrEqual(0)
    expect(v).toBeLessThan(max)
  }
  const both = (r: Row, max: number, withSerf = serf): void => {
    sane(r.murmur, max)
    if (withSerf) sane(r.serf, max)
    else expect(r.serf).toBeNull()
  }

  it('membership convergence by mDNS', async () => {
    const rows = await SCENARIOS.mdns(ctx())
    both(get(rows, 'membership convergence (mDNS)', 'all alive'), 90_000)
  }, 120_000)

  it('propagation: writes and tag changes reach every agent; convergence, CPU and RSS measured', async () => {
    const rows = await SCENARIOS.propagation(ctx())
    both(get(rows, 'membership convergence (join)', 'all alive'), 90_000)
    for (const s of ['config write propagation', 'tag change propagation']) {
      const p50 = get(rows, s, 'p50')
      const p99 = get(rows, s, 'p99')
      both(p50, 20_000)
      both(p99, 20_000)
      expect(p99.murmur).toBeGreaterThanOrEqual(p50.murmur ?? Infinity)
      expect(p50.note ?? '').not.toMatch(/not everywhere/)
    }
    both(get(rows, 'RSS per agent', 'median'), 4096)
    both(get(rows, 'idle CPU per agent', 'median'), 400)
  }, 120_000)

  it('failure detection: kill -9, graceful leave, silent partition', async () => {
    const rows = await SCENARIOS.failure(ctx())
    expect(lines.join('\n')).toMatch(/failure murmur: partition \d+ ms, kill \d+ ms, leave \d+ ms/)
    both(get(rows, 'kill -9 detection', 'median'), 60_000)
    both(get(rows, 'graceful leave', 'median'), 30_000)
    both(get(rows, 'silent partition detection', 'median'), 60_000)
  }, 150_000)

  it('5% loss soak: murmur declares no member failed and delivers every write', async () => {
    const rows = await SCENARIOS.soak(ctx())
    expect(get(rows, '5% loss soak: false failures', 'failed').murmur).toBe(0)
    expect(get(rows, '5% loss soak: writes', 'delivered').murmur).toBe(100)
    both(get(rows, '5% loss soak: false failures', 'failed'), 1000)
    both(get(rows, '5% loss soak: writes', 'delivered'), 100.001)
    both(get(rows, '5% loss soak: propagation', 'p50'), 30_000)
    expect(soakResults.murmur?.writes).toBeGreaterThanOrEqual(6)
  }, 90_000)

  it('late joiner and durable writes (murmur only)', async () => {
    const rows = await SCENARIOS.late(ctx())
    sane(get(rows, 'late joiner', `${PROFILES.smoke.lateKeys} keys`).murmur, 120_000)
    sane(get(rows, 'durable write (fsync)', 'throughput').murmur, 1e7)
  }, 90_000)

  it('sidecar throughput next to bare node:http, and memory next to a bare libp2p node', async () => {
    const rows = [...await SCENARIOS.sidecar(ctx()), ...await SCENARIOS.memory(ctx())]
    for (const s of ['sidecar GET /v1/services/:name', 'sidecar GET /v1/config/:key', 'sidecar GET /v1/health/service/:name (Consul)', 'sidecar GET /v1/kv/:key (Consul)']) {
      const r = get(rows, s, 'req/s')
      sane(r.murmur, 1e7)
      expect(r.murmur).toBeGreaterThan(0)
      sane(r.ratio ?? null, 100)
      expect(r.note).not.toMatch(/errors/)
    }
    both(get(rows, 'idle RSS, single agent', 'rss'), 4096)
    sane(get(rows, 'idle RSS vs bare libp2p', 'rss').ratio ?? null, 100)
  }, 90_000)
})
