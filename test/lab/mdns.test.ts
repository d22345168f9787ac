// Three agents in three network namespaces on one bridge, started with no --join and mDNS on:
// they must find each other by mDNS alone, then replicate config; once joined, their mDNS
// queries back off, yet a late fourth agent is found at once and an agent cut off and
// reconnected finds the others again; an agent that takes no datagrams (--no-udp) is found and
// joined too, by a libp2p dial. mDNS packets are counted by nftables counters in each
// namespace. mDNS never runs in the root namespace: the agents' multicast stays on the lab's
// bridge. Needs root; skipped (with the reason) without it, except in CI, where not being able
// to run is a failure.
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { mkdtempSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentProc, BIN, waitFor } from '../helpers/agents.js'
import { Lab, type LabHost } from './netns.js'

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

/**
 * Count the mDNS packets a namespace sends: queries and answers apart by the DNS header's QR
 * bit (bit 80 of the UDP datagram: 8 bytes of UDP header, then the high bit of the flags).
 */
async function countMdns (lab: Lab, host: LabHost): Promise<void> {
  const file = join(tmpdir(), `murmur-mdns-${process.pid}-${host.name}.nft`)
  writeFileSync(file, `table inet murmurmdns {
  counter queries { }
  counter answers { }
  chain out {
    type filter hook output priority 0; policy accept;
    udp dport 5353 @th,80,1 0 counter name "queries"
    udp dport 5353 @th,80,1 1 counter name "answers"
  }
}
`)
  try { await lab.exec(host, ['nft', '-f', file]) } finally { rmSync(file, { force: true }) }
}

async function mdnsSent (lab: Lab, host: LabHost): Promise<{ queries: number, answers: number }> {
  const { stdout } = await lab.exec(host, ['nft', '-j', 'list', 'table', 'inet', 'murmurmdns'])
  const items = (JSON.parse(stdout) as { nftables: Array<{ counter?: { name: string, packets: number } }> }).nftables
  const count = (name: string): number => items.find(i => i.counter?.name === name)?.counter?.packets ?? NaN
  return { queries: count('queries'), answers: count('answers') }
}

describe.skipIf(!can.ok)('agents in network namespaces, mDNS on, no --join', () => {
  const names = ['n1', 'n2', 'n3']
  const cluster = `lab-mdns-${process.pid}`
  let lab: Lab
  let agents: AgentProc[] = []
  /** The --no-udp agent's, holding the identity key it is given. */
  let dataDir: string | undefined

  const spawn = (host: LabHost, name: string, extra: string[] = []): AgentProc => {
    const args = [
      process.execPath, BIN, 'agent', '--node', name, '--cluster', cluster,
      '--listen', `${host.ip}:7400`, '--http', `${host.ip}:7401`, ...extra
    ]
    return new AgentProc({ name }, `${host.ip}:7401`, `${host.ip}:7400`, lab.spawnIn(host, args))
  }
  const serving = async (a: AgentProc): Promise<void> => {
    await waitFor(`agent ${a.spec.name} to serve HTTP`, async () => {
      if (!a.alive) throw new Error(`agent ${a.spec.name} exited:\n${a.output}`)
      return (await a.get('/v1/agent/self').catch(() => ({ status: 0 }))).status === 200
    }, 60_000, 200)
  }
  /** Every agent of `among` lists exactly `want` alive. */
  const allAlive = async (among: AgentProc[], want: string[], timeoutMs: number): Promise<void> => {
    const wanted = [...want].sort().join(',')
    await waitFor(`members ${wanted} alive on ${among.map(a => a.spec.name).join(',')}`, async () => {
      for (const a of among) {
        if (!a.alive) throw new Error(`agent ${a.spec.name} exited:\n${a.output}`)
        const r = await a.get<Member[]>('/v1/members').catch(() => undefined)
        if (r?.status !== 200 || r.body.filter(m => m.status === 'alive').map(m => m.name).sort().join(',') !== wanted) return false
      }
      return true
    }, timeoutMs, 250)
  }

  beforeAll(async () => {
    // A fourth namespace for the late agent, a fifth for the one with --no-udp.
    lab = await Lab.create(5)
    for (const h of lab.hosts) await countMdns(lab, h)
    agents = names.map((name, i) => spawn(lab.hosts[i], name))
    await Promise.all(agents.map(serving))
  }, 90_000)

  afterAll(async () => {
    await lab?.destroy()
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
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
    await allAlive(agents, names, 90_000)
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

  it('backs off its mDNS queries once joined: a few in 15 s where an agent alone sends one a second', async () => {
    await allAlive(agents, names, 90_000)
    // Counted over a window: this measures a rate, nothing waits on it.
    const before = await Promise.all(lab.hosts.slice(0, 3).map(async h => await mdnsSent(lab, h)))
    await new Promise(resolve => setTimeout(resolve, 15_000))
    const after = await Promise.all(lab.hosts.slice(0, 3).map(async h => await mdnsSent(lab, h)))
    for (const [i, b] of before.entries()) {
      expect(b.queries, `${names[i]} sent queries before joining`).toBeGreaterThan(0)
      // Joined for a few seconds: queries 2, 4, 8, 16 s apart, so at most 3 in 15 s (1/s before).
      expect(after[i].queries - b.queries, `${names[i]}'s queries in 15 s`).toBeLessThanOrEqual(4)
    }
  })

  it('finds a late agent quickly although the others have backed off: they still answer its queries', async () => {
    const answered = await Promise.all(lab.hosts.slice(0, 3).map(async h => (await mdnsSent(lab, h)).answers))
    const late = spawn(lab.hosts[3], 'n4')
    agents.push(late)
    await serving(late)
    const t0 = Date.now()
    // Backed-off agents query once a minute at most; answers to its own (1 s) queries are what
    // brings them together, so this does not wait for the others' next query.
    await allAlive(agents, [...names, 'n4'], 60_000)
    expect(Date.now() - t0, 'late agent joined by mDNS (ms)').toBeLessThan(30_000)
    for (const [i, h] of lab.hosts.slice(0, 3).entries()) expect((await mdnsSent(lab, h)).answers, `${names[i]} answered`).toBeGreaterThan(answered[i])
    expect(late.output).toContain('joined: queries back off')
  })

  it('queries every second again when cut off, and finds the others again when the link is back', async () => {
    const [cut, ...rest] = agents
    const host = lab.hosts[0]
    const logged = (s: string): number => cut.output.split(s).length - 1
    const alone = logged('alone: querying every second')
    await lab.linkDown(host)
    try {
      // Its members go suspect then failed; with none alive, it says so and queries fast.
      await waitFor(`${cut.spec.name} to see itself alone`, () => logged('alone: querying every second') > alone, 90_000, 250)
      const q0 = (await mdnsSent(lab, host)).queries
      await waitFor(`${cut.spec.name} to send 5 queries while alone`, async () => (await mdnsSent(lab, host)).queries >= q0 + 5, 60_000, 500)
    } finally {
      await lab.linkUp(host)
    }
    await allAlive(agents, [...names, 'n4'], 90_000)
    expect(rest.every(a => a.alive)).toBe(true)
    expect(cut.output.split('joined: queries back off').length - 1).toBeGreaterThanOrEqual(2)
  })

  it('finds and joins an agent that takes no datagrams (--no-udp): those that reach it by datagram dial it instead', async () => {
    // Of each pair only the higher peer id reaches out. Given the lowest peer id, the newcomer
    // reaches nobody: the others' push-pulls to its UDP port go unanswered, and they dial it.
    const ids = (await agents[0].get<Member[]>('/v1/members')).body.map(m => m.id)
    expect(ids).toHaveLength(4)
    let key = await generateKeyPair('Ed25519')
    for (let i = 0; i < 10_000 && ids.some(id => id <= peerIdFromPrivateKey(key).toString()); i++) key = await generateKeyPair('Ed25519')
    expect(ids.every(id => id > peerIdFromPrivateKey(key).toString())).toBe(true)
    dataDir = mkdtempSync(join(tmpdir(), 'murmur-mdns-noudp-'))
    writeFileSync(join(dataDir, 'identity.key'), privateKeyToProtobuf(key))
    const streamer = spawn(lab.hosts[4], 'n5', ['--no-udp', '--data-dir', dataDir])
    agents.push(streamer)
    await serving(streamer)
    await allAlive(agents, [...names, 'n4', 'n5'], 90_000)
    expect(streamer.output).toContain('joined: queries back off')
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
