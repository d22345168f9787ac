// Three agents in three network namespaces on one bridge, started with no --join and mDNS on:
// they must find each other by mDNS alone, then replicate config. mDNS never runs in the root
// namespace: the agents' multicast stays on the lab's bridge. Needs root; skipped (with the
// reason) without it, except in CI, where not being able to run is a failure.
import { readlinkSync, realpathSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentProc, BIN, waitFor } from '../helpers/agents.js'
import { Lab } from './netns.js'

const can = await Lab.canRun()
const mustRun = process.env.CI === 'true'
if (!can.ok) console.warn(`[lab] ${mustRun ? 'FAILING' : 'skipping'} network-namespace tests: ${can.reason ?? ''}`)

if (!can.ok && mustRun) {
  describe('network-namespace lab prerequisites (required in CI)', () => {
    it('can create network namespaces and bridges', () => {
      throw new Error(`network-namespace tests cannot run in CI: ${can.reason ?? ''}`)
    })
  })
}

interface Member { name: string, id: string, address: string, status: string }

describe.skipIf(!can.ok)('agents in network namespaces, mDNS on, no --join', () => {
  const names = ['n1', 'n2', 'n3']
  const cluster = `lab-mdns-${process.pid}`
  let lab: Lab
  let agents: AgentProc[] = []

  beforeAll(async () => {
    lab = await Lab.create(3)
    agents = lab.hosts.map((host, i) => {
      const args = [
        process.execPath, BIN, 'agent', '--node', names[i], '--cluster', cluster,
        '--listen', `${host.ip}:7400`, '--http', `${host.ip}:7401`
      ]
      return new AgentProc({ name: names[i] }, `${host.ip}:7401`, `${host.ip}:7400`, lab.spawnIn(host, args))
    })
    await Promise.all(agents.map(async a => await waitFor(`agent ${a.spec.name} to serve HTTP`, async () => {
      if (!a.alive) throw new Error(`agent ${a.spec.name} exited:\n${a.output}`)
      return (await a.get('/v1/agent/self')).status === 200
    }, 60_000, 200)))
  }, 90_000)

  afterAll(async () => {
    await lab?.destroy()
  })

  it('runs each agent inside its own namespace, as the very process it spawned', async () => {
    const node = realpathSync(process.execPath)
    for (const [i, a] of agents.entries()) {
      // `ip netns exec` execs: the spawned pid is node itself, and is what destroy() kills.
      expect(realpathSync(readlinkSync(`/proc/${a.pid}/exe`))).toBe(node)
      const { stdout } = await lab.exec(lab.hosts[i], ['ip', 'netns', 'identify', String(a.pid)])
      expect(stdout.trim()).toBe(lab.hosts[i].name)
    }
  })

  it('lists all three members alive on every agent, found by mDNS alone', async () => {
    const want = [...names].sort().join(',')
    await waitFor(`members ${want} alive on every agent`, async () => {
      for (const a of agents) {
        if (!a.alive) throw new Error(`agent ${a.spec.name} exited:\n${a.output}`)
        const { body } = await a.get<Member[]>('/v1/members')
        if (body.filter(m => m.status === 'alive').map(m => m.name).sort().join(',') !== want) return false
      }
      return true
    }, 90_000, 250)
    for (const a of agents) {
      const { body } = await a.get<Member[]>('/v1/members')
      for (const [i, name] of names.entries()) {
        expect(body.find(m => m.name === name)).toMatchObject({ status: 'alive', address: lab.hosts[i].ip, id: expect.stringMatching(/^12D3Koo/) })
      }
    }
  })

  it('reads on agents 2 and 3 a config value written on agent 1', async () => {
    const put = await agents[0].req('PUT', '/v1/config/lab/mdns', { found: 'by mdns', n: 3 })
    expect(put.status).toBe(200)
    for (const a of agents.slice(1)) {
      const got = await waitFor(`lab/mdns on ${a.spec.name}`, async () => {
        const r = await a.get('/v1/config/lab/mdns')
        return r.status === 200 ? r.body : undefined
      }, 60_000, 200)
      expect(got).toMatchObject({ key: 'lab/mdns', value: { found: 'by mdns', n: 3 }, version: put.body.version })
    }
  })

  it('leaves no process, namespace, bridge or veth of the lab after destroy(), which is idempotent', async () => {
    const pids = agents.map(a => a.pid)
    expect(await Lab.leftovers(lab.id)).not.toEqual([])
    await lab.destroy()
    await lab.destroy()
    expect(await Lab.leftovers(lab.id)).toEqual([])
    await Promise.all(agents.map(async a => await Promise.race([a.exited, new Promise(resolve => setTimeout(resolve, 5000))])))
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow()
  })
})
