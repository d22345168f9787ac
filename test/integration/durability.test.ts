// Nothing acknowledged is lost, on real agent processes: a full disk (a 2 MiB tmpfs as data dir),
// a damaged config log, poisoned stamps on disk, and peers whose clocks run far ahead.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { frameV1 } from '../helpers/log-format.js'
import { Cluster, waitFor, type AgentProc } from '../helpers/agents.js'

const cluster = new Cluster()
const mounts: string[] = []

afterAll(async () => {
  await cluster.stopAll()
  for (const m of mounts) {
    try { execFileSync('umount', [m]) } catch { /* already gone */ }
    rmSync(m, { recursive: true, force: true })
  }
})

const metric = async (agent: AgentProc, name: string): Promise<number> => {
  const text = await (await fetch(`http://${agent.http}/metrics`)).text()
  const m = new RegExp(`^murmur_${name} (\\d+)$`, 'm').exec(text)
  return m === null ? Number.NaN : Number(m[1])
}

const wallOf = (body: any): number => Number(String(body.version.hlc).split('.')[0])

async function restart (agent: AgentProc): Promise<AgentProc> {
  agent.kill('SIGKILL')
  await agent.exited
  return await cluster.start({ ...agent.spec, listenPort: Number(agent.listen.split(':')[1]) })
}

const isRoot = process.getuid?.() === 0
const mustRun = isRoot || process.env.CI === 'true'
if (!mustRun) console.warn('durability.test.ts: skipping the full-disk test: it mounts a tmpfs and needs root')

describe('a full disk', () => {
  it.skipIf(!mustRun)('answers 507 and acknowledges nothing it could not store; writes resume when space returns; nothing acknowledged is lost (needs root: tmpfs)', async () => {
    const mnt = mkdtempSync(join(tmpdir(), 'murmur-tmpfs-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt])
    mounts.push(mnt)
    const dir = join(mnt, 'data')
    mkdirSync(dir)
    let agent = await cluster.start({ name: 'disk', dataDir: dir })
    // Leave room for a few 60 KB records only.
    const fs = statfsSync(mnt)
    const filler = join(mnt, 'filler')
    writeFileSync(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - 200 * 1024)))

    const acked = new Map<string, string>()
    const refused: string[] = []
    const value = (i: number): string => `${i}:`.padEnd(60_000, 'z')
    for (let i = 0; i < 40 && refused.length < 5; i++) {
      const r = await agent.req('PUT', `/v1/config/full/${i}`, value(i))
      expect([200, 507]).toContain(r.status)
      if (r.status === 200) acked.set(`full/${i}`, value(i))
      else {
        expect(r.body.error.code).toBe('MURMUR_ERR_STORAGE')
        expect(r.body.error.message).toMatch(/disk full|ENOSPC|short write/)
        refused.push(`full/${i}`)
      }
    }
    expect(acked.size).toBeGreaterThan(0)
    expect(refused.length).toBe(5)
    for (const key of refused) expect((await agent.get(`/v1/config/${key}`)).status).toBe(404)

    // Space comes back: writes succeed again.
    rmSync(filler)
    for (let i = 0; i < 5; i++) {
      const r = await agent.req('PUT', `/v1/config/after/${i}`, value(100 + i))
      expect(r.status).toBe(200)
      acked.set(`after/${i}`, value(100 + i))
    }

    agent = await restart(agent)
    const lost = []
    for (const [key, v] of acked) {
      const r = await agent.get(`/v1/config/${key}`)
      if (r.status !== 200 || r.body.value !== v) lost.push(key)
    }
    expect(lost).toEqual([])
    expect(await metric(agent, 'config_log_damaged_total')).toBe(0)
  })
})

describe('a damaged config log', () => {
  it('a lone agent restarted from a log with one flipped byte keeps every other record, reports it, and keeps a copy', async () => {
    const dir = cluster.tempDir()
    let agent = await cluster.start({ name: 'dmg', dataDir: dir })
    const keys = Array.from({ length: 300 }, (_, i) => `dmg/${String(i).padStart(3, '0')}`)
    for (let i = 0; i < keys.length; i += 10) {
      await Promise.all(keys.slice(i, i + 10).map(async k => expect((await agent.req('PUT', `/v1/config/${k}`, { k })).status).toBe(200)))
    }
    agent.kill('SIGKILL')
    await agent.exited
    const log = join(dir, 'config.log')
    const image = readFileSync(log)
    const at = image.indexOf(Buffer.from('dmg/150'))
    image[at + 2] ^= 0x04
    writeFileSync(log, image)

    agent = await cluster.start({ name: 'dmg', dataDir: dir })
    const { body } = await agent.get('/v1/config?prefix=dmg/')
    expect(body.items.map((i: any) => i.key)).toEqual(keys.filter(k => k !== 'dmg/150'))
    expect(await metric(agent, 'config_log_damaged_total')).toBe(1)
    expect(agent.output).toMatch(/WARN .*kept 299 records.*corrupt-/)
    const copies = readdirSync(dir).filter(f => f.startsWith('config.log.corrupt-'))
    expect(copies).toHaveLength(1)
    expect(readFileSync(join(dir, copies[0]))).toEqual(image)
  })
})

describe('poisoned stamps', () => {
  it('entries on disk with an unsafe logical counter or a wall past year 9999 are refused and counted; the agent keeps working and replicating', async () => {
    const dir = cluster.tempDir()
    const now = Date.now()
    const origin = '12D3KooWGzh9Ax1Zt9AzHqzr5VvNmR8k1kLbC3uUzJ7Ujx2Tdpnr'
    writeFileSync(join(dir, 'config.log'), Buffer.concat([
      frameV1({ key: 'pois/ok', value: 1, deleted: false, hlc: { wall: now - 1000, logical: 0 }, origin }),
      frameV1({ key: 'pois/p', value: 'poison', deleted: false, hlc: { wall: now - 1000, logical: 2 ** 53 - 1 }, origin }),
      frameV1({ key: 'pois/q', value: 'far', deleted: false, hlc: { wall: 9e15, logical: 0 }, origin })
    ]))
    const pois = await cluster.start({ name: 'pois', dataDir: dir })
    const peer = await cluster.start({ name: 'peer', join: [pois.listen] })
    expect((await pois.get('/v1/config/pois/ok')).body.value).toBe(1)
    for (const agent of [pois, peer]) {
      await waitFor('pois/ok on both', async () => (await agent.get('/v1/config/pois/ok')).status === 200)
      expect((await agent.get('/v1/config?prefix=pois/')).status).toBe(200)
    }
    for (let i = 0; i < 20; i++) {
      const r = await pois.req('PUT', '/v1/config/pois/p', i)
      expect(r.status).toBe(200)
      expect(Number(String(r.body.version.hlc).split('.')[1])).toBeLessThan(2 ** 31)
    }
    await waitFor('the last write on the peer', async () => (await peer.get('/v1/config/pois/p')).body?.value === 19)
    // The two poisoned records were skipped at start, and counted.
    expect(await metric(pois, 'config_log_damaged_total')).toBe(2)
    const again = await restart(pois)
    expect((await again.get('/v1/config/pois/p')).body.value).toBe(19)
    expect(await metric(again, 'config_log_damaged_total')).toBe(0)
  })
})

describe('clocks far ahead', () => {
  it('an agent stamping in 2100 or beyond year 9999 does not drag an honest clock, break reads, or keep its keys from being overwritten', async () => {
    const dir = cluster.tempDir()
    let honest = await cluster.start({ name: 'honest', dataDir: dir })
    const future = await cluster.start({ name: 'future', join: [honest.listen], extra: ['--clock-skew-ms', String(Date.UTC(2100, 0, 1) - Date.now())] })
    const broken = await cluster.start({ name: 'broken', join: [honest.listen], extra: ['--clock-skew-ms', String(9e15 - Date.now())] })
    // (cluster.converged would also ask the agents of the tests above, which are not joined.)
    for (const agent of [honest, future, broken]) {
      await waitFor('all three alive', async () => {
        const { body } = await agent.get('/v1/members')
        return body.filter((m: any) => m.status === 'alive').length === 3
      })
    }

    expect((await future.req('PUT', '/v1/config/drift/k', 'from-2100')).status).toBe(200)
    const z = await broken.req('PUT', '/v1/config/drift/z', 'from-9999')
    expect(z.status).toBe(200)
    expect(z.body.updatedAt).toBe('9999-12-31T23:59:59.999Z')
    for (const agent of [honest, future, broken]) {
      await waitFor('both far-future keys', async () => (await agent.get('/v1/config?prefix=drift/')).body?.items?.length === 2)
    }

    // The honest agent overwrites both; its writes win everywhere.
    for (const key of ['drift/k', 'drift/z']) expect((await honest.req('PUT', `/v1/config/${key}`, 'honest')).status).toBe(200)
    for (const agent of [honest, future, broken]) {
      await waitFor('the honest values everywhere', async () => {
        const { body } = await agent.get('/v1/config?prefix=drift/')
        return body.items.every((i: any) => i.value === 'honest')
      })
    }
    // ...and its clock stayed at real time (within the drift bound), also after a restart.
    const other = await honest.req('PUT', '/v1/config/drift/other', 1)
    expect(Math.abs(wallOf(other.body) - Date.now())).toBeLessThan(60_000)
    expect(await metric(honest, 'clock_drift_total')).toBeGreaterThan(0)
    honest = await restart(honest)
    const after = await honest.req('PUT', '/v1/config/drift/after-restart', 1)
    expect(Math.abs(wallOf(after.body) - Date.now())).toBeLessThan(60_000)
    expect((await honest.get('/v1/config/drift/z')).body.value).toBe('honest')
  })
})
