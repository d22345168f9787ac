// The agent: composes the pure state (member table, config replica), the network (libp2p
// host, gossip, anti-entropy), the data dir, and the timers that drive them. Everything a
// user sees (HTTP, CLI, logs) goes through this class and its events.
import '../polyfill.js'
import type { PrivateKey } from '@libp2p/interface'
import { EventEmitter } from 'node:events'
import { networkInterfaces } from 'node:os'
import { instancesOf, serviceSummaries, type Instance, type ServiceSummary } from '../core/catalog.js'
import type { Heartbeat } from '../core/heartbeat.js'
import type { Entry } from '../core/lww.js'
import { MemberTable, type Member, type Transition } from '../core/members.js'
import type { ServiceRecord } from '../core/service.js'
import { hostPortToMultiaddr, isLoopback, parseHostPort, parseJoin } from '../net/addr.js'
import { parseAllowList } from '../net/allow.js'
import { RateLimiter } from '../core/rate.js'
import { readClusterKey } from '../store/cluster-key.js'
import { Host, topics } from '../net/host.js'
import { answerSync, initiateSync, SyncGarbage, type SyncState } from '../net/sync.js'
import { decodeGossip, encodeConfigMessage, encodeHeartbeatMessage, openHeartbeat, signHeartbeat, type SignedHeartbeat } from '../net/wire.js'
import { ConfigLog } from '../store/config-log.js'
import { ensureDir } from '../store/files.js'
import { readLastContact, writeLastContact } from '../store/contact.js'
import { nextGeneration } from '../store/generation.js'
import { loadOrCreateKey } from '../store/identity.js'
import { loadServices } from '../store/services.js'
import { ConfigReplica } from './config-replica.js'
import { CustomMetrics } from '../core/custom-metrics.js'
import { Controller } from './controller.js'
import { controlHost } from './metrics-source.js'
import { Joiner } from './joiner.js'
import { LocalServices } from './local-services.js'
import { createLogger, type Logger } from './log.js'
import { MetricsSampler } from './metrics.js'
import { Tally } from './tally.js'
import { resolveOptions, type AgentOptions } from './options.js'

export interface AgentEvents {
  member: [t: Transition]
  config: [e: Entry, source: 'local' | 'remote']
  /** Any change a reader could observe; `index` grows by one each time. `key` for config. */
  change: [index: number, kind: ChangeKind, key?: string]
}

export type ChangeKind = 'member' | 'config' | 'services'

/** Monotonic clock in epoch ms: used for failure detection, immune to wall-clock jumps. */
const monoNow = (): number => performance.timeOrigin + performance.now()

/** Period of the summary log lines of remote config traffic. */
const TALLY_MS = 10_000

export class Agent extends EventEmitter<AgentEvents> {
  readonly counters = {
    gossipDropped: 0,
    heartbeatsRejected: 0,
    configRejected: 0,
    /** Damaged config log regions skipped at start (each is logged with what was kept). */
    configLogDamaged: 0,
    clockDrift: 0,
    syncs: 0,
    syncFailures: 0,
    syncGarbage: 0,
    gossipRateLimited: 0,
    connectionsDenied: 0,
    quotaDropped: 0,
    futureTombstonesDropped: 0,
    persistFailures: 0,
    quarantined: 0,
    resurrectionsPrevented: 0,
    memberSuspect: 0,
    memberFailed: 0,
    memberLeft: 0,
    memberRecovered: 0
  }

  /** Grows on every observable change; readers use it to wait for news. */
  index = 1
  /** Index of the last change of each config key (tombstones included), of members, of services. */
  readonly configIndex = new Map<string, number>()
  memberIndex = 1
  servicesIndex = 1
  readonly startedAt = Date.now()
  private counter = 0
  private status: 'alive' | 'left' = 'alive'
  private readonly local: LocalServices
  private readonly signed = new Map<string, SignedHeartbeat>()
  private readonly syncing = new Set<string>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly sampler = new MetricsSampler()
  private readonly driftWarned = new Map<string, number>()
  /** Remote entries applied and refused, logged once per TALLY_MS. */
  private readonly tally = new Tally()
  private stopped = false
  /** Wall time of the last gossip or sync from any peer; undefined before the first. */
  private lastContact: number | undefined
  readonly table: MemberTable
  readonly config: ConfigReplica
  /** The co-located service's own metrics, carried in this agent's heartbeats. */
  readonly custom = new CustomMetrics()
  readonly controller: Controller

  private constructor (
    readonly opts: AgentOptions,
    readonly host: Host,
    private readonly key: PrivateKey,
    readonly generation: number,
    readonly address: string,
    private readonly log: ConfigLog | undefined,
    readonly logger: Logger,
    private readonly joiner: Joiner
  ) {
    super()
    this.setMaxListeners(0)
    this.table = new MemberTable(host.peerId, opts)
    this.local = new LocalServices(address, opts.dataDir, logger, async () => await this.heartbeat())
    const quota = { maxKeys: opts.maxKeys, maxTombstones: opts.maxTombstones, maxBytes: opts.maxConfigBytes }
    this.config = new ConfigReplica(host.peerId, () => Date.now() + (opts.clockSkewMs ?? 0), opts.maxDriftMs, quota, log, {
      changed: (e, source) => {
        this.bump('config', e.key)
        this.controller.onConfig(e)
        this.emit('config', e, source)
      },
      drift: (e, aheadMs) => this.onDrift(e, aheadMs),
      persistFailed: (err) => {
        this.counters.persistFailures++
        this.logger('error', 'store', 'cannot persist replicated config', { error: err.message })
      },
      refused: (e, why) => {
        if (why === 'future') this.counters.futureTombstonesDropped++
        else this.counters.quotaDropped++
        this.tally.add(`refused:${why}`, e.origin)
      }
    })
    this.controller = new Controller(controlHost(this), { intervalMs: opts.controlIntervalMs })
  }

  static async start (input: Partial<AgentOptions>): Promise<Agent> {
    const opts = resolveOptions(input)
    const logger = createLogger(opts.logLevel)
    const listen = parseHostPort(opts.listen, '--listen')
    const joins = opts.join.map(parseJoin)
    let log: ConfigLog | undefined
    let restored: Entry[] = []
    let services: ServiceRecord[] = []
    let lastContact: number | undefined
    let damaged = 0
    if (opts.dataDir !== undefined) {
      await ensureDir(opts.dataDir)
      lastContact = await readLastContact(opts.dataDir)
      const opened = await ConfigLog.open(opts.dataDir, {
        onCompactionFailed: err => logger('error', 'store', 'config log compaction failed; the longer log is kept', { error: err.message })
      })
      log = opened.log
      restored = opened.report.entries
      damaged = opened.report.damaged
      if (opened.report.problem !== undefined) logger('warn', 'store', opened.report.problem)
      const loaded = await loadServices(opts.dataDir)
      services = loaded.services
      if (loaded.problem !== undefined) logger('warn', 'store', loaded.problem)
    }
    const allow = parseAllowList(opts.allow)
    const clusterKey = opts.clusterKeyFile === undefined ? undefined : await readClusterKey(opts.clusterKeyFile)
    if (clusterKey?.warning !== undefined) logger('warn', 'agent', clusterKey.warning)
    if (clusterKey === undefined && !isLoopback(listen.host)) {
      logger('warn', 'agent', 'no cluster key: anyone who can reach the listen address can join this cluster, read and write its config; see README "Security" (murmur keygen, --cluster-key)', { listen: opts.listen })
    }
    const { key } = await loadOrCreateKey(opts.dataDir)
    const generation = await nextGeneration(opts.dataDir, Date.now())
    // Set once the agent exists; the host may call these before (nothing is counted then).
    let self: Agent | undefined
    const limiter = new RateLimiter({ perSec: opts.gossipRate, burst: opts.gossipBurst })
    const host = await Host.start({
      privateKey: key,
      cluster: opts.cluster,
      listen: hostPortToMultiaddr(listen),
      mdns: opts.mdns,
      psk: clusterKey?.psk,
      allow,
      // One bucket per topic and author: a flood of config cannot crowd out its heartbeats.
      admit: (topic, author) => limiter.take(`${topic} ${author}`, monoNow()) || (self?.onRateLimited(author) ?? false),
      denied: addr => self?.onDenied(addr)
    })
    const joiner = new Joiner(host, joins, logger)
    const agent = new Agent(opts, host, key, generation, opts.advertise ?? advertiseAddress(listen.host), log, logger, joiner)
    agent.counters.configLogDamaged = damaged
    self = agent
    agent.config.restore(restored)
    agent.lastContact = lastContact
    agent.quarantineIfAway()
    agent.local.restore(services)
    await agent.run()
    logger('info', 'agent', 'started', {
      node: opts.node, id: host.peerId, cluster: opts.cluster, generation, listen: host.addresses().join(','),
      mdns: opts.mdns, key: clusterKey?.fingerprint ?? 'none', allow: opts.allow.length > 0 ? opts.allow.join(',') : 'any', config: agent.config.map.liveSize, services: agent.local.size
    })
    return agent
  }

  get id (): string { return this.host.peerId }

  // ---- membership and services ------------------------------------------------------

  members (): Array<Member & { phi: number }> {
    const now = monoNow()
    return this.table.list().map(m => ({ ...m, phi: this.table.phi(m.hb.id, now) }))
  }

  instances (name: string, opts: { healthy?: boolean, tag?: string } = {}): Instance[] {
    return instancesOf(this.table.list(), name, opts)
  }

  services (): ServiceSummary[] {
    return serviceSummaries(this.table.list())
  }

  localServices (): ServiceRecord[] {
    return this.local.list()
  }

  async register (input: unknown): Promise<ServiceRecord> {
    return await this.local.register(input)
  }

  async deregister (id: string): Promise<ServiceRecord> {
    return await this.local.deregister(id)
  }

  ttl (id: string, status: 'pass' | 'warn' | 'fail', output: string): ServiceRecord {
    return this.local.ttl(id, status, output)
  }

  /** Announce a graceful leave, give it time to spread, and stop. */
  async leave (): Promise<void> {
    if (this.stopped) return
    this.status = 'left'
    this.logger('info', 'agent', 'leaving')
    await this.heartbeat().catch(() => {})
    await new Promise(resolve => setTimeout(resolve, this.opts.leaveWaitMs))
    await this.stop()
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.local.stop()
    this.joiner.stop()
    this.controller.stop()
    this.sampler.stop()
    if (this.opts.dataDir !== undefined && this.lastContact !== undefined) await writeLastContact(this.opts.dataDir, this.lastContact).catch(() => {})
    await this.host.stop().catch(() => {})
    await this.log?.close().catch(() => {})
    this.logger('info', 'agent', 'stopped')
  }

  // ---- internals ----------------------------------------------------------------------

  private async run (): Promise<void> {
    this.host.on('message', (topic, from, data) => { this.onGossip(topic, from, data).catch(() => this.counters.gossipDropped++) })
    this.host.on('connect', peer => {
      this.logger('debug', 'net', 'connected', { peer })
      this.quarantineIfAway()
      this.sync(peer)
    })
    this.host.on('disconnect', peer => this.logger('debug', 'net', 'disconnected', { peer }))
    await this.host.handleSync(async (stream, peer) => {
      this.quarantineIfAway()
      try {
        await answerSync(stream, this.syncState())
      } catch (err) {
        this.logger('debug', 'sync', 'answering failed', { peer, error: (err as Error).message })
        this.onSyncGarbage(err, peer)
        throw err
      }
      this.lastContact = Date.now()
      await this.releaseQuarantine()
      this.logger('debug', 'sync', 'answered', { peer })
    })
    await this.heartbeat()
    this.every(() => this.opts.heartbeatMs * (0.9 + Math.random() * 0.2), async () => await this.heartbeat())
    this.every(() => Math.min(200, this.opts.heartbeatMs / 4), () => this.detect())
    this.every(() => this.opts.antiEntropyMs * (0.8 + Math.random() * 0.4), () => this.antiEntropy())
    this.every(() => 1000 * (0.8 + Math.random() * 0.4), () => this.connectMembers())
    if (this.opts.dataDir !== undefined) {
      const dir = this.opts.dataDir
      this.every(() => 30_000, async () => { if (this.lastContact !== undefined) await writeLastContact(dir, this.lastContact) })
    }
    this.every(() => Math.min(60_000, this.opts.tombstoneTtlMs / 2), async () => {
      const n = await this.config.collectTombstones(this.opts.tombstoneTtlMs)
      if (n > 0) this.logger('info', 'config', 'collected tombstones', { count: n })
    })
    this.every(() => TALLY_MS, () => this.logTally())
    this.joiner.start()
    this.controller.start()
  }

  private logTally (): void {
    for (const { what, count, peers } of this.tally.drain()) {
      if (what === 'applied') this.logger('info', 'config', 'applied remote entries', { entries: count, peers, seconds: TALLY_MS / 1000 })
      else if (what === 'garbage') this.logger('warn', 'sync', 'disconnected peers that sent malformed sync frames', { times: count, peers })
      else if (what === 'limited') this.logger('warn', 'gossip', 'dropped gossip over the per-author rate (--gossip-rate)', { messages: count, authors: peers })
      else if (what === 'denied') this.logger('warn', 'net', 'refused connections outside --allow', { connections: count, addresses: peers })
      else this.logger('warn', 'config', 'refused remote entries', { reason: what.slice('refused:'.length), entries: count, origins: peers, usage: this.config.usage() })
    }
  }

  /** Run `fn` repeatedly with a delay recomputed each time (jitter), until stop. */
  private every (delay: () => number, fn: () => unknown): void {
    const loop = (): void => {
      const t = setTimeout(() => {
        this.timers.delete(t)
        if (this.stopped) return
        Promise.resolve().then(fn).catch(err => this.logger('warn', 'agent', 'periodic task failed', { error: (err as Error).message })).finally(() => { if (!this.stopped) loop() })
      }, delay())
      this.timers.add(t)
    }
    loop()
  }

  private async heartbeat (): Promise<void> {
    const custom = this.custom.published(Date.now())
    const hb: Heartbeat = {
      v: 1,
      id: this.id,
      name: this.opts.node,
      generation: this.generation,
      counter: ++this.counter,
      status: this.status,
      address: this.address,
      addrs: this.host.addresses(),
      services: this.local.list(),
      metrics: this.sampler.sample(this.host.bytesOut, this.host.bytesIn),
      ...(Object.keys(custom).length > 0 ? { custom } : {}),
      sentAt: Date.now()
    }
    const s = await signHeartbeat(hb, this.key)
    this.accept(hb, s, true)
    await this.host.publish(topics(this.opts.cluster).members, encodeHeartbeatMessage(s)).catch(() => {})
  }

  private detect (): void {
    for (const t of this.table.tick(monoNow())) this.onTransition(t)
  }

  private async onGossip (topic: string, from: string, data: Uint8Array): Promise<void> {
    this.quarantineIfAway()
    this.lastContact = Date.now()
    const msg = decodeGossip(data)
    const t = topics(this.opts.cluster)
    if (msg?.t === 'hb' && topic === t.members) {
      // Only the member itself may speak for itself: gossipsub's signer must be the subject.
      const hb = await openHeartbeat(msg.signed, from)
      if (hb === undefined) {
        this.counters.heartbeatsRejected++
        return
      }
      this.accept(hb, msg.signed, true)
    } else if (msg?.t === 'cfg' && topic === t.config) {
      this.counters.configRejected += msg.rejected
      const applied = await this.config.applyRemote(msg.entries)
      // One line per entry only at debug: at info, a summary every TALLY_MS (a peer can send
      // thousands a second). A sync's bulk transfer is logged once, as a summary, by sync().
      this.tally.add('applied', from, applied.length)
      for (const e of applied) {
        this.logger('debug', 'config', e.deleted ? 'delete applied' : 'applied', { key: e.key, from: this.table.get(e.origin)?.hb.name ?? e.origin })
      }
    } else {
      this.counters.gossipDropped++
    }
  }

  private accept (hb: Heartbeat, s: SignedHeartbeat, direct: boolean): void {
    if (hb.id === this.id && !direct) return
    const before = this.table.get(hb.id)?.hb
    const transitions = this.table.observe(hb, monoNow(), direct)
    const after = this.table.get(hb.id)?.hb
    if (after !== before) {
      this.signed.set(hb.id, s)
      if (before === undefined || JSON.stringify(before.services) !== JSON.stringify(after?.services)) this.bump('services')
    }
    for (const t of transitions) this.onTransition(t)
  }

  private onTransition (t: Transition): void {
    if (t.to === 'reaped') this.signed.delete(t.id)
    if (t.to === 'suspect') this.counters.memberSuspect++
    else if (t.to === 'failed') {
      this.counters.memberFailed++
      // A connection across a silent partition stays open but stalls in TCP's retransmission
      // backoff, which can hold up recovery for many seconds after the link is back. Drop it;
      // connectMembers re-dials failed members, and a fresh connection syncs at once.
      this.host.hangUp(t.id).catch(() => {})
    }
    else if (t.to === 'left') this.counters.memberLeft++
    else if (t.to === 'alive' && t.from !== 'none') {
      this.counters.memberRecovered++
      // A member back from failed is a healed partition (or a resumed process): what each side
      // wrote meanwhile is exchanged now rather than at the next periodic round. Two syncs in
      // flight at most, so a whole side coming back does not start a dozen full transfers.
      if (t.from === 'failed' && this.syncing.size < 2 && this.host.isConnected(t.id)) this.sync(t.id)
    }
    if (t.id !== this.id) {
      const level = t.to === 'failed' || t.to === 'suspect' ? 'warn' : 'info'
      const what = t.from === 'none' ? 'joined' : t.to === 'alive' ? 'up' : t.to
      this.logger(level, 'member', what, { name: t.name, id: t.id, from: t.from })
    }
    this.bump('member')
    this.emit('member', t)
  }

  /**
   * Tombstones are forgotten after `tombstoneTtlMs`. An agent that has been out of touch for
   * longer may hold keys the cluster deleted meanwhile; set its old entries aside until a sync
   * shows which keys the cluster still knows (ConfigReplica.quarantine).
   */
  private quarantineIfAway (): void {
    if (this.lastContact === undefined || Date.now() - this.lastContact <= this.opts.tombstoneTtlMs) return
    const away = Date.now() - this.lastContact
    this.lastContact = Date.now()
    const n = this.config.quarantine(this.opts.tombstoneTtlMs)
    this.counters.quarantined += n
    // Alone, there is nothing to resurrect against: without a sync in a minute, serve it all.
    const t = setTimeout(() => { this.releaseQuarantine(false).catch(() => {}) }, 60_000)
    this.timers.add(t)
    this.logger('warn', 'config', 'out of contact longer than the tombstone TTL: old entries set aside until the cluster confirms them', { awayMs: away, entries: n })
  }

  private async releaseQuarantine (synced = true): Promise<void> {
    if (this.config.quarantinedCount === 0) return
    const dropped = await this.config.releaseQuarantine(synced)
    this.counters.resurrectionsPrevented += dropped
    if (dropped > 0) this.logger('warn', 'config', 'dropped entries the cluster no longer knows (deleted while this agent was away)', { count: dropped })
  }

  private onDrift (e: Entry, aheadMs: number): void {
    this.counters.clockDrift++
    const last = this.driftWarned.get(e.origin) ?? 0
    if (Date.now() - last > 60_000) {
      this.driftWarned.set(e.origin, Date.now())
      this.logger('warn', 'clock', 'remote stamp ahead of our clock beyond max drift; stored but not followed', { origin: e.origin, key: e.key, aheadMs })
    }
  }

  private bump (kind: ChangeKind, key?: string): void {
    this.index++
    if (kind === 'config' && key !== undefined) this.configIndex.set(key, this.index)
    // A member transition changes which instances are served, so it is a services change too.
    else this.servicesIndex = this.index
    if (kind === 'member') this.memberIndex = this.index
    this.emit('change', this.index, kind, key)
  }

  /** The index of the newest change to config keys under `prefix`. */
  configPrefixIndex (prefix: string): number {
    let max = 1
    for (const [k, i] of this.configIndex) if (i > max && k.startsWith(prefix)) max = i
    return max
  }

  async setConfig (key: string, value: unknown): Promise<Entry> {
    const e = await this.config.set(key, value)
    this.logger('info', 'config', 'set', { key })
    await this.publishConfig(e)
    return e
  }

  async deleteConfig (key: string): Promise<{ entry: Entry, existed: boolean }> {
    const r = await this.config.delete(key)
    this.logger('info', 'config', 'deleted', { key })
    await this.publishConfig(r.entry)
    return r
  }

  private async publishConfig (e: Entry): Promise<void> {
    // Published after the write is durable; if gossip fails, anti-entropy still carries it.
    await this.host.publish(topics(this.opts.cluster).config, encodeConfigMessage([e])).catch(() => {})
  }

  /**
   * Gossip needs no full mesh, but a member reached only through one relay is cut off when the
   * relay dies. Dial members we know of (their heartbeat lists their addresses) until we have
   * `targetPeers` connections, so the overlay stays connected when any one agent goes away.
   * (Members with a higher id dial us; with both rules every pair is covered.)
   */
  private connectMembers (): void {
    const connected = new Set(this.host.connectedPeers())
    let missing = this.opts.targetPeers - connected.size
    // Only the lower peer id dials: two agents dialling each other at once end with two
    // connections, and gossipsub keeps writing to its stream on whichever one is closed later.
    // Failed members are tried too, after the others (like Serf's reconnect): after a
    // partition heals, this is how the two sides find each other again without mDNS.
    const rank = (m: Member): number => (m.status === 'failed' ? 1 : 0) + Math.random() / 2
    const candidates = this.table.list().filter(m => m.hb.id < this.id && m.status !== 'left' && !connected.has(m.hb.id))
    for (const m of candidates.sort((x, y) => rank(x) - rank(y))) {
      if (missing-- <= 0) return
      this.host.dialPeer(m.hb.id, m.hb.addrs).catch(() => {})
    }
  }

  private antiEntropy (): void {
    const peers = this.host.connectedPeers().filter(p => !this.syncing.has(p))
    if (peers.length > 0) this.sync(peers[Math.floor(Math.random() * peers.length)])
  }

  private sync (peer: string): void {
    if (this.syncing.has(peer) || this.stopped) return
    this.syncing.add(peer)
    const started = performance.now()
    let applied = 0
    this.host.openSync(peer, AbortSignal.timeout(10_000))
      .then(async stream => await initiateSync(stream, this.syncState(n => { applied += n })))
      .then(async stats => {
        this.counters.syncs++
        this.lastContact = Date.now()
        await this.releaseQuarantine()
        // At info only when it changed something here: two agents that disagree for good (one
        // at a quota) would otherwise log the same transfer every round.
        this.logger(applied > 0 ? 'info' : 'debug', 'sync', 'done', { peer, ms: Math.round(performance.now() - started), applied, ...stats })
      })
      .catch(err => {
        this.counters.syncFailures++
        this.logger('debug', 'sync', 'failed', { peer, error: (err as Error).message })
        this.onSyncGarbage(err, peer)
      })
      .finally(() => this.syncing.delete(peer))
  }

  /** A gossip message over its author's rate: dropped (not relayed), counted, summed up in the log. */
  private onRateLimited (author: string): false {
    this.counters.gossipRateLimited++
    this.tally.add('limited', author)
    return false
  }

  private onDenied (addr: string): void {
    this.counters.connectionsDenied++
    this.tally.add('denied', addr)
  }

  /** A peer that breaks the sync protocol is no honest agent of this version: hang up on it. */
  private onSyncGarbage (err: unknown, peer: string): void {
    if (!(err instanceof SyncGarbage)) return
    this.counters.syncGarbage++
    this.tally.add('garbage', peer)
    this.host.hangUp(peer).catch(() => {})
  }

  private syncState (onApplied?: (n: number) => void): SyncState {
    return {
      memberVersions: () => this.table.versions(),
      signedHeartbeat: id => this.signed.get(id),
      configDigest: () => this.config.map.digest(),
      differingBuckets: other => this.config.map.differingBuckets(other),
      entriesIn: buckets => this.config.map.inBuckets(buckets),
      applyHeartbeats: async list => {
        for (const raw of list) {
          const hb = await openHeartbeat(raw)
          if (hb === undefined) this.counters.heartbeatsRejected++
          else this.accept(hb, raw as SignedHeartbeat, false)
        }
      },
      applyEntries: async entries => { onApplied?.((await this.config.applyRemote(entries)).length) },
      rejectedEntries: n => { this.counters.configRejected += n }
    }
  }
}

/** The address to give other members: the listen host, or this host's first LAN IPv4. */
function advertiseAddress (listenHost: string): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}
