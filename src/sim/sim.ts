// The simulator: N agents in one process, each running the real membership (Membership over
// Swim) and the real config replica and anti-entropy, over the in-memory network with a
// virtual clock. It measures what the issue asks of the protocol: cost per agent, time for
// all to see all after simultaneous joins, crash detection, false positives, config spread.
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Heartbeat } from '../core/heartbeat.js'
import { MetricsPace } from '../core/metrics-pace.js'
import { DEFAULT_QUOTA } from '../core/quota.js'
import type { SwimOptions } from '../core/swim-options.js'
import type { SignedRecord } from '../core/swim.js'
import { AntiEntropy } from '../agent/anti-entropy.js'
import { ConfigReplica } from '../agent/config-replica.js'
import { Membership } from '../agent/membership.js'
import { MIN_GAP_MS as LOAD_GAP_MS } from '../agent/metrics.js'
import { DEFAULTS, swimOptions } from '../agent/options.js'
import { MemoryNetwork, type MemoryNode } from '../net/memory-transport.js'
import { Records, signingKey } from '../net/records.js'
import { seededRng } from '../net/transport.js'

export interface SimOptions {
  n: number
  /** Message loss probability on every link. @default 0 */
  loss?: number
  /** Virtual seconds to run. @default 60 */
  seconds?: number
  seed?: number
  swim?: Partial<SwimOptions>
  /** Agents crashed (kill -9) in the last third, one after another. @default 3 */
  crashes?: number
  /**
   * Agents crashed at a quarter of the run, so that the steady window's cost includes what
   * failed members cost the others (each is listed failed, and retried, until it is reaped). @default 0
   */
  failed?: number
  /** Config anti-entropy period, ms. @default 3000 */
  antiEntropyMs?: number
  /**
   * Every agent's load moves at every 5 s sample (the worst case for metrics in records): a new
   * record version as often as the agent allows: 10 s apart (the load's own rule), and
   * 'paced' by cluster size as agents do (core/metrics-pace.ts) or 'unpaced'. @default none
   */
  metrics?: 'paced' | 'unpaced'
}

export interface SimResult {
  n: number
  loss: number
  seconds: number
  msgsPerAgentPerSec: { mean: number, max: number }
  bytesPerAgentPerSec: { mean: number, max: number }
  allSeeAllMs: number | null
  crashDetectedMs: number | null
  falseSuspicions: number
  falseFailures: number
  configP50Ms: number | null
  configP99Ms: number | null
}

/** Values by the bytes they were made for: a hash of the bytes finds the candidates, equal bytes pick one. */
class ByContent<V> {
  private readonly slots = new Map<number, Array<{ bytes: Buffer, value: V }>>()

  find (bytes: Uint8Array, also?: (v: V) => boolean): { value: V } | undefined {
    const slot = this.slots.get(hashBytes(bytes))
    if (slot === undefined) return undefined
    for (const x of slot) if (x.bytes.equals(bytes) && (also === undefined || also(x.value))) return x
    return undefined
  }

  /** Stores a copy of `bytes`: the caller's may be a view into a whole message. */
  add (bytes: Uint8Array, value: V): void {
    const h = hashBytes(bytes)
    const slot = this.slots.get(h)
    const x = { bytes: Buffer.from(bytes), value }
    if (slot === undefined) this.slots.set(h, [x])
    else slot.push(x)
  }

  clear (): void { this.slots.clear() }
}

/**
 * FNV-1a over the length and the first 128 bytes, four at a time: enough to tell records apart
 * (a record's id, generation and counter come first) and signatures (64 bytes); bytes that
 * share a hash are told apart by comparing them.
 */
function hashBytes (b: Uint8Array): number {
  const end = Math.min(b.byteLength, 128)
  const v = new DataView(b.buffer, b.byteOffset, end)
  let h = 0x811c9dc5 ^ b.byteLength
  let i = 0
  for (; i + 4 <= end; i += 4) h = Math.imul(h ^ v.getUint32(i, true), 0x01000193)
  for (; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193)
  return h >>> 0
}

/**
 * Verifies and decodes each distinct record once for the whole process, and stores one copy
 * of it for all agents: N agents verifying the same signature N times would only measure
 * ed25519, and N copies of every record would fill the heap at N = 1,000.
 */
class SharedRecords extends Records {
  private static readonly decoded = new ByContent<Heartbeat | undefined>()
  /** By signature: whether it verified, and the one stored copy of the record it signs (and a Buffer view of its body). */
  private static readonly signed = new ByContent<{ ok: boolean, kept: SignedRecord, body: Buffer }>()

  override decode (body: Uint8Array): Heartbeat | undefined {
    const hit = SharedRecords.decoded.find(body)
    if (hit !== undefined) return hit.value
    const rec = super.decode(body)
    SharedRecords.decoded.add(body, rec)
    return rec
  }

  override verify (id: string, body: Uint8Array, sig: Uint8Array): boolean {
    const hit = this.find({ body, sig })
    if (hit !== undefined) return hit.ok
    const ok = super.verify(id, body, sig)
    const kept = super.keep({ body, sig })
    SharedRecords.signed.add(sig, { ok, kept, body: Buffer.from(kept.body.buffer, kept.body.byteOffset, kept.body.byteLength) })
    return ok
  }

  /** The copy all agents share (the swim core keeps only records it verified first). */
  override keep (signed: SignedRecord): SignedRecord {
    return this.find(signed)?.kept ?? super.keep(signed)
  }

  private find (signed: SignedRecord): { ok: boolean, kept: SignedRecord } | undefined {
    return SharedRecords.signed.find(signed.sig, x => x.body.equals(signed.body))?.value
  }

  static reset (): void {
    SharedRecords.decoded.clear()
    SharedRecords.signed.clear()
  }
}

export interface SimAgent {
  index: number
  id: string
  node: MemoryNode
  membership: Membership
  replica: ConfigReplica
  antiEntropy: AntiEntropy
  /** Members this agent lists alive or suspect, itself included. */
  live: Set<string>
}

export interface SimHooks {
  transition?: (observer: SimAgent, id: string, from: string, to: string) => void
  configChanged?: (observer: SimAgent, key: string) => void
}

/** Build N agents on a fresh network (not started). */
export async function buildAgents (net: MemoryNetwork, n: number, seed: number, swim: Partial<SwimOptions>, antiEntropyMs: number, hooks: SimHooks): Promise<SimAgent[]> {
  SharedRecords.reset()
  // The agent's own settings, datagrams on (the default): a probe unanswered by datagram is
  // also tried over a connection, which loss delays but does not drop.
  const opts: SwimOptions = { ...swimOptions({ ...DEFAULTS, node: 'sim' }), ...swim }
  const agents: SimAgent[] = []
  const byId = new Map<string, SimAgent>()
  for (let i = 0; i < n; i++) {
    const seedBytes = new Uint8Array(32)
    new DataView(seedBytes.buffer).setUint32(0, seed)
    new DataView(seedBytes.buffer).setUint32(4, i)
    const key = await generateKeyPairFromSeed('Ed25519', seedBytes)
    const id = peerIdFromPrivateKey(key).toString()
    const addr = `/memory/${i}`
    const node = net.add(id, addr)
    const rec: Heartbeat = {
      v: 1,
      id,
      name: `n${i}`,
      generation: 1,
      counter: 1,
      status: 'alive',
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      addrs: [addr],
      services: [{ id: 'web', name: 'web', address: `10.0.${(i >> 8) & 255}.${i & 255}`, port: 8080, tags: ['v1'], meta: {}, weight: 1, health: 'passing', output: '', since: 0 }],
      metrics: { cpu: 0.01, rss: 60_000_000, memFree: 1e9, memTotal: 4e9, load1: 0.2, netTx: 0, netRx: 0 },
      sentAt: 0
    }
    const rng = seededRng(seed * 7919 + i)
    const membership = new Membership(rec, opts, { transport: node, clock: node.clock, rng, records: new SharedRecords(signingKey(key)) })
    const live = new Set([id])
    const agent = { index: i, id, node, membership, live } as unknown as SimAgent
    agent.replica = new ConfigReplica(id, node.clock.wall, 60_000, DEFAULT_QUOTA, undefined, {
      changed: (e) => hooks.configChanged?.(agent, e.key),
      drift: () => {},
      persistFailed: () => {},
      refused: () => {}
    })
    agent.antiEntropy = new AntiEntropy({
      transport: node,
      clock: node.clock,
      rng,
      replica: agent.replica,
      topic: 'config',
      randomPeer: () => {
        const m = membership.swim.randomPeer()
        return m === undefined ? undefined : [m.hb.id, m.hb.addrs]
      }
    }, antiEntropyMs)
    membership.on('transition', t => {
      if (t.to === 'alive' || t.to === 'suspect') live.add(t.id)
      else live.delete(t.id)
      if (byId.get(t.id) !== undefined) hooks.transition?.(agent, t.id, t.from, t.to)
    })
    agents.push(agent)
    byId.set(id, agent)
  }
  return agents
}

/** Start an agent and join it to `contact` (a push-pull with the contact). */
export function startAgent (net: MemoryNetwork, a: SimAgent, contact: SimAgent | undefined): void {
  a.membership.start()
  a.antiEntropy.start()
  if (contact !== undefined && contact !== a) {
    net.hold(a.node.dial(contact.node.addr).then(peer => a.membership.pushPull(peer)))
  }
}

function quantile (sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

export async function simulate (o: SimOptions): Promise<SimResult> {
  const n = o.n
  const loss = o.loss ?? 0
  const seconds = o.seconds ?? 60
  const seed = o.seed ?? 1
  const S = seconds * 1000
  const net = new MemoryNetwork({ seed, loss })
  const crashed = new Set<string>()
  let falseSuspicions = 0
  let falseFailures = 0
  const failedSeen = new Map<string, number>() // victim -> how many observers marked it failed
  const crashAt = new Map<string, number>()
  const crashDone = new Map<string, number>()
  const writes = new Map<string, { at: number, by: number }>()
  const delivered = new Map<string, Map<number, number>>()
  let allSeeAll: number | null = null
  const seeAll = new Set<number>()

  const agents = await buildAgents(net, n, seed, o.swim ?? {}, o.antiEntropyMs ?? 3000, {
    transition: (observer, id, _from, to) => {
      if (observer.node.crashed) return
      if (to === 'suspect' && !crashed.has(id)) falseSuspicions++
      if (to === 'failed' && !crashed.has(id)) falseFailures++
      if (to === 'failed' && crashed.has(id)) {
        const c = (failedSeen.get(id) ?? 0) + 1
        failedSeen.set(id, c)
        if (c === n - crashed.size && crashAt.has(id) && !crashDone.has(id)) crashDone.set(id, net.now - (crashAt.get(id) as number))
      }
      if (allSeeAll === null) {
        // Simultaneous joins end when every agent lists all N alive.
        if (observer.live.size === n) seeAll.add(observer.index)
        else seeAll.delete(observer.index)
        if (seeAll.size === n && [...seeAll].every(i => agents[i].live.size === n)) allSeeAll = net.now
      }
    },
    configChanged: (observer, key) => {
      const w = writes.get(key)
      if (w !== undefined && observer.index !== w.by) delivered.get(key)?.set(observer.index, net.now - w.at)
    }
  })
  // N simultaneous joins: agent 0 starts, then every other within 100 ms joins it.
  for (const a of agents) net.schedule(a.index === 0 ? 0 : 1 + net.rng() * 100, () => startAgent(net, a, agents[0]))

  if (o.metrics !== undefined) churnMetrics(net, agents, o.metrics, S)

  /** kill -9 of a random agent (never the contact); `timed`: its detection is measured. */
  const crash = (timed: boolean): void => {
    const candidates = agents.filter(a => a.index !== 0 && !a.node.crashed)
    const victim = candidates[Math.floor(net.rng() * candidates.length)]
    crashed.add(victim.id)
    if (timed) crashAt.set(victim.id, net.now)
    victim.node.crash()
    victim.membership.stop()
    victim.antiEntropy.stop()
  }
  const early = Math.min(o.failed ?? 0, Math.max(0, n - 2))
  for (let k = 0; k < early; k++) net.schedule(S / 4, () => crash(false))

  // Cost is measured in the steady window, after the join burst has died down.
  const windowStart = S / 2
  const windowEnd = S * 0.75
  // Config writes every 2 s from random agents, from the first quarter on.
  let writesDone = 0
  for (let t = S / 4; t < S - 5000; t += 2000) {
    net.schedule(t - net.now, () => {
      const live = agents.filter(a => !a.node.crashed)
      const w = live[Math.floor(net.rng() * live.length)]
      const key = `k${writesDone++}`
      writes.set(key, { at: net.now, by: w.index })
      delivered.set(key, new Map())
      net.hold(w.replica.set(key, { n: writesDone }).then(e => w.antiEntropy.publish([e])))
    })
  }
  await net.run(windowStart)
  const before = agents.map(a => ({ ...a.node.counters }))
  await net.run(windowEnd)
  const after = agents.map(a => ({ ...a.node.counters }))

  // Crashes, one after another, in the last part of the run, the last 10 s before the end.
  const crashes = Math.min(o.crashes ?? 3, Math.max(0, n - 2 - early))
  for (let k = 0; k < crashes; k++) net.schedule(windowEnd + Math.max(0, S - 10_000 - windowEnd) * k / crashes - net.now, () => crash(true))
  await net.run(S)
  for (const a of agents) { a.membership.stop(); a.antiEntropy.stop() }

  const dt = (windowEnd - windowStart) / 1000
  const msgs = agents.map((_, i) => (after[i].msgsOut + after[i].msgsIn - before[i].msgsOut - before[i].msgsIn) / dt)
  const bytes = agents.map((_, i) => (after[i].bytesOut + after[i].bytesIn - before[i].bytesOut - before[i].bytesIn) / dt)
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length
  const detections = [...crashDone.values()].sort((x, y) => x - y)
  // Every write must reach every agent alive at the end; one that never did counts as infinite.
  const lat: number[] = []
  for (const [key, w] of writes) {
    const got = delivered.get(key) as Map<number, number>
    for (const a of agents) if (!a.node.crashed && a.index !== w.by) lat.push(got.get(a.index) ?? Number.POSITIVE_INFINITY)
  }
  const padded = lat.sort((x, y) => x - y)
  const fin = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : Math.round(x))
  return {
    n,
    loss,
    seconds,
    msgsPerAgentPerSec: { mean: round1(mean(msgs)), max: round1(Math.max(...msgs)) },
    bytesPerAgentPerSec: { mean: Math.round(mean(bytes)), max: Math.round(Math.max(...bytes)) },
    allSeeAllMs: fin(allSeeAll),
    crashDetectedMs: detections.length < crashes ? null : fin(quantile(detections, 0.5)),
    falseSuspicions,
    falseFailures,
    configP50Ms: fin(quantile(padded, 0.5)),
    configP99Ms: fin(quantile(padded, 0.99))
  }
}

/** Each agent's load sampled every 5 s, always moved, published when its rules allow. */
function churnMetrics (net: MemoryNetwork, agents: SimAgent[], mode: 'paced' | 'unpaced', until: number): void {
  for (const a of agents) {
    const pace = new MetricsPace()
    let lastAt = Number.NEGATIVE_INFINITY
    let cpu = 0
    const sample = (): void => {
      if (a.node.crashed || net.now >= until) return
      const now = net.now
      // The load's own rule keeps versions 10 s apart; agents also pace them by cluster size.
      const own = Math.max(0, lastAt + LOAD_GAP_MS - now)
      const wait = mode === 'paced' ? Math.max(own, pace.wait(now, a.live.size)) : own
      if (wait === 0) {
        cpu = (cpu + 0.25) % 1
        a.membership.update({ metrics: { cpu, rss: 60_000_000, memFree: 1e9, memTotal: 4e9, load1: 0.2, netTx: 0, netRx: 0 } })
        pace.sent(now)
        lastAt = now
      }
      net.schedule(5000, sample, a.node)
    }
    net.schedule(5000 + net.rng() * 5000, sample, a.node)
  }
}

function round1 (x: number): number {
  return Math.round(x * 10) / 10
}
