// A smoke run of the scale bench (bench/scale.ts) so it cannot rot: N=3 on 127.0.0.1, 5 s idle,
// a 3 s CPU profile, kill -9; murmur and (when installed) Serf at once. Asserts the figures are
// there and sane, not how good they are: timing goals belong to the bench.
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { describe, expect, it } from 'vitest'
import type { Row } from '../../bench/lib/common.js'
import { PROFILES, serfPresent, type Ctx } from '../../bench/lib/scenarios.js'
import { scale, scaleResults } from '../../bench/scale.js'

const serf = serfPresent()
if (!serf) console.warn('[bench-scale] serf is not installed: Serf parts skipped (apt-get install serf to include them)')

describe('scale bench, smoke run (N=3)', () => {
  it('measures all-see-all, idle transitions, CPU, RSS, kill -9 and a CPU profile, and leaves nothing behind', async () => {
    const lines: string[] = []
    const profiles = (): string[] => readdirSync(tmpdir()).filter(f => /^murmur-cpu-\d+\.cpuprofile/.test(f))
    const before = profiles()
    const ctx: Ctx = { profile: { ...PROFILES.smoke, scaleNs: [3] }, useLab: false, serf, parallel: true, log: l => lines.push(l) }
    const rows = await scale(ctx)
    const get = (scenario: string, metric: string): Row => {
      const r = rows.find(x => x.scenario === `scale: ${scenario}` && x.metric === metric)
      if (r === undefined) throw new Error(`no row ${scenario} / ${metric} in:\n${JSON.stringify(rows, null, 1)}\n${lines.join('\n')}`)
      return r
    }
    const sane = (v: number | null, max: number): void => {
      expect(v, lines.join('\n')).not.toBeNull()
      expect(Number.isFinite(v)).toBe(true)
      expect(v).toBeGreaterThanOrEqual(0)
      expect(v).toBeLessThan(max)
    }
    const both = (r: Row, max: number): void => {
      sane(r.murmur, max)
      if (serf) sane(r.serf, max)
      else expect(r.serf).toBeNull()
    }
    both(get('all see all', 'after last start'), 60_000)
    both(get('idle transitions', 'suspect'), 10_000)
    both(get('idle transitions', 'failed'), 10_000)
    both(get('idle CPU per agent', 'mean'), 400)
    both(get('idle CPU per agent', 'max'), 400)
    both(get('RSS per agent', 'mean'), 4096)
    expect(get('RSS per agent', 'max').murmur).toBeGreaterThan(10)
    both(get('kill -9 detection', 'all others'), 60_000)

    const prof = rows.filter(r => r.scenario === 'scale: idle CPU profile, murmur n1')
    expect(prof.length, lines.join('\n')).toBeGreaterThan(1)
    sane(prof[0].murmur, 400)
    for (const r of prof.slice(1)) sane(r.murmur, 100.001)

    // The profile file is read and removed; every agent was killed.
    expect(profiles().filter(f => !before.includes(f))).toEqual([])
    const pids = Object.values(scaleResults.get(3) ?? {}).flatMap(r => r.pids)
    expect(pids.length).toBe(serf ? 6 : 3)
    const running = pids.filter(pid => { try { process.kill(pid, 0); return true } catch { return false } })
    expect(running).toEqual([])
  }, 150_000)
})
