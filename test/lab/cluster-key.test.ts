// The cluster key across network namespaces, mDNS on everywhere: two agents holding key A form a
// cluster; an agent without a key and one with key B find them by mDNS but never get in (not in
// the member list, their writes reach nobody); a third agent with key A joins by mDNS alone.
// Needs root; skipped (with the reason) without it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentProc, BIN, waitFor } from '../helpers/agents.js'
import { Lab } from './netns.js'

const can = await Lab.canRun()
if (!can.ok) console.warn(`[lab] skipping cluster-key namespace tests: ${can.reason ?? ''}`)

interface Member { name: string, status: string }

describe.skipIf(!can.ok)('a keyed cluster in network namespaces, mDNS on', () => {
  const cluster = `lab-key-${process.pid}`
  const dir = mkdtempSync(join(tmpdir(), 'murmur-key-'))
  const keyA = join(dir, 'a.key')
  const keyB = join(dir, 'b.key')
  let lab: Lab
  const agents = new Map<string, AgentProc>()

  function start (i: number, name: string, key: string | undefined): AgentProc {
    const host = lab.hosts[i]
    const args = [process.execPath, BIN, 'agent', '--node', name, '--cluster', cluster,
      '--listen', `${host.ip}:7400`, '--http', `${host.ip}:7401`, ...(key !== undefined ? ['--cluster-key', key] : [])]
    const a = new AgentProc({ name }, `${host.ip}:7401`, `${host.ip}:7400`, lab.spawnIn(host, args))
    agents.set(name, a)
    return a
  }

  async function serving (a: AgentProc): Promise<void> {
    await waitFor(`agent ${a.spec.name} to serve HTTP`, async () => {
      if (!a.alive) throw new Error(`agent ${a.spec.name} exited:\n${a.output}`)
      return (await a.get('/v1/agent/self')).status === 200
    }, 60_000, 200)
  }

  async function names (a: AgentProc): Promise<string[]> {
    return (await a.get<Member[]>('/v1/members')).body.map(m => m.name).sort()
  }

  beforeAll(async () => {
    execFileSync(process.execPath, [BIN, 'keygen', keyA])
    execFileSync(process.execPath, [BIN, 'keygen', keyB])
    lab = await Lab.create(5)
    const started = [start(0, 'k1', keyA), start(1, 'k2', keyA), start(2, 'nokey', undefined), start(3, 'otherkey', keyB)]
    await Promise.all(started.map(serving))
  }, 90_000)

  afterAll(async () => {
    await lab?.destroy()
    rmSync(dir, { recursive: true, force: true })
  })

  it('forms the keyed cluster by mDNS, and says which key it holds', async () => {
    const [k1, k2] = [agents.get('k1')!, agents.get('k2')!]
    await waitFor('k1 and k2 alive on both', async () => {
      for (const a of [k1, k2]) if ((await names(a)).join(',') !== 'k1,k2') return false
      return true
    }, 90_000, 250)
    const fingerprint = /started .* key=([0-9a-f]{8})/.exec(k1.output)?.[1]
    expect(fingerprint).toBeDefined()
    expect(k2.output).toContain(`key=${fingerprint ?? ''}`)
    expect(agents.get('nokey')!.output).toMatch(/WARN .*no cluster key/)
  })

  it('lets an agent with the key join by mDNS alone; outsiders never get in and their writes reach nobody', async () => {
    const [nokey, otherkey] = [agents.get('nokey')!, agents.get('otherkey')!]
    expect((await nokey.req('PUT', '/v1/config/intruder/nokey', 'x')).status).toBe(200)
    expect((await otherkey.req('PUT', '/v1/config/intruder/otherkey', 'x')).status).toBe(200)
    const k3 = start(4, 'k3', keyA)
    await serving(k3)
    expect((await k3.req('PUT', '/v1/config/insider/k3', 'y')).status).toBe(200)
    // By the time k3 is in, its write has spread and links have opened (2-4 s after the last
    // arrival, links.ts), mDNS has announced every agent to every other several times over.
    await waitFor('k1, k2, k3 in each other\'s lists, linked, and k3\'s write everywhere', async () => {
      for (const name of ['k1', 'k2', 'k3']) {
        const a = agents.get(name)!
        if ((await names(a)).join(',') !== 'k1,k2,k3') return false
        if ((await a.get('/v1/config/insider/k3')).status !== 200) return false
        if ((await a.get('/v1/agent/self')).body.peers !== 2) return false
      }
      return true
    }, 90_000, 250)
    for (const name of ['k1', 'k2', 'k3']) {
      const a = agents.get(name)!
      expect(await names(a)).toEqual(['k1', 'k2', 'k3'])
      expect((await a.get('/v1/config?prefix=intruder/')).body.items).toEqual([])
      expect((await a.get('/v1/agent/self')).body.peers).toBe(2)
    }
    // The outsiders see nobody, and hold nothing of the cluster.
    for (const [a, self] of [[nokey, 'nokey'], [otherkey, 'otherkey']] as const) {
      expect(await names(a)).toEqual([self])
      expect((await a.get('/v1/agent/self')).body.peers).toBe(0)
      expect((await a.get('/v1/config/insider/k3')).status).toBe(404)
    }
  })
})
