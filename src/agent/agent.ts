// The agent: composes components with one job each behind one start/stop contract —
// Membership (SWIM + Lifeguard over the transport), AntiEntropy (config deltas and digest
// sync), LocalServices (registrations and their checks), Quarantine (config held back after a
// long absence), ChangeIndex (what blocking reads and watches wait on) — with the libp2p host,
// the data dir and the load metrics. HTTP and the CLI use the methods below, never the parts.
import '../polyfill.js'
import { EventEmitter } from 'node:events'
import { networkInterfaces } from 'node:os'
import { instancesOf, serviceSummaries, type Instance, type ServiceSummary } from '../core/catalog.js'
import type { Heartbeat } from '../core/heartbeat.js'
import type { Entry } from '../core/lww.js'
import { isLive, type Member, type Transition } from '../core/members.js'
import type { ServiceRecord } from '../core/service.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import { hostPortToMultiaddr, isLoopback, parseHostPort, parseJoin, tcpPort } from '../net/addr.js'
import { MurmurError } from '../core/errors.js'
import { parseAllowList, type AddressCheck } from '../net/allow.js'
import { DatagramSocket, type DatagramOptions, type UdpAddress } from '../net/datagram.js'
import { RateLimiter } from '../core/rate.js'
import { readClusterKey } from '../store/cluster-key.js'
import { Host, topics } from '../net/host.js'
import { Libp2pTransport, udpTwins } from '../net/libp2p-transport.js'
import { PairKeys } from '../net/pair-keys.js'
import { Records, signingKey } from '../net/records.js'
import { systemClock } from '../net/transport.js'
import { ConfigLog } from '../store/config-log.js'
import { ensureDir } from '../store/files.js'
import { DataDirLock } from '../store/lock.js'
import { nextGeneration } from '../store/generation.js'
import { loadOrCreateKey } from '../store/identity.js'
import { loadServices } from '../store/services.js'
import { AntiEntropy } from './anti-entropy.js'
import type { AgentApi } from './api.js'
import { ChangeIndex, type ChangeKind } from './change-index.js'
import { ConfigReplica } from './config-replica.js'
import { CustomMetrics } from '../core/custom-metrics.js'
import { MetricsPace } from '../core/metrics-pace.js'
import { Controller } from './controller.js'
import { controlHost } from './metrics-source.js'
import { Joiner } from './joiner.js'
import { Links } from './links.js'
import { EXTRA_CA_ENV, extraCaContext } from './extra-ca.js'
import { LocalServices } from './local-services.js'
import type { Counters } from './counters.js'
import { createLogger, type Level, type Logger } from './log.js'
import { AdjustableLevel } from './log-level.js'
import { Membership } from './membership.js'
import { LoadReporter } from './metrics.js'
import { resolveOptions, swimOptions, type AgentOptions } from './options.js'
import { Quarantine } from './quarantine.js'
import { Tally } from './tally.js'

export type { ChangeKind } from './change-index.js'

export interface AgentEvents {
  member: [t: Transition]
  config: [e: Entry, source: 'local' | 'remote']
  /** Any change a reader could observe; `index` grows by one each time. `key` for config. */
  change: [index: number, kind: ChangeKind, key?: string]
}

/** Period of the summary log lines of remote config traffic. */
const TALLY_MS = 10_000
/**
 * An agent found by mDNS is sent its push-pull again this long after each unanswered one
 * (datagrams get lost, most of all on hosts busy joining), then dialled (an agent with
 * --no-udp answers no datagram) after the last: at 0, 0.5 and 1.5 s, dialled at 3 s.
 */
const DISCOVERED_RESEND_MS = [500, 1000, 1500]
/** Agents found by mDNS being reached at once, at most (a flood of answers gets no more timers). */
const MAX_DISCOVERED = 256

export class Agent extends EventEmitter<AgentEvents> implements AgentApi {
  private readonly own = {
    memberSuspect: 0,
    memberFailed: 0,
    memberLeft: 0,
    memberRecovered: 0,
    clockDrift: 0,
    persistFailures: 0,
    /** Damaged config log regions skipped at start (each is logged with what was kept). */
    configLogDamaged: 0,
    gossipRateLimited: 0,
    connectionsDenied: 0,
    /** Membership datagrams dropped: malformed, not sealed with our cluster key, or badly signed or tagged. */
    datagramsRejected: 0,
    quotaDropped: 0,
    futureTombstonesDropped: 0
  }

  readonly startedAt = Date.now()
  private readonly changes = new ChangeIndex()
  private readonly driftWarned = new Map<string, number>()
  /** Remote entries applied and refused, logged once per TALLY_MS. */
  private readonly tally = new Tally()
  private stopped = false
  /** Whether a member besides us is alive or suspect (see onMembersChanged). */
  private joined = false
  /** Set by start: the data dir's lock, and the logger's threshold. */
  private lock: DataDirLock | undefined
  private level = new AdjustableLevel('info')
  readonly config: ConfigReplica
  readonly membership: Membership
  private readonly antiEntropy: AntiEntropy
  private readonly local: LocalServices
  private readonly quarantine: Quarantine
  private readonly load: LoadReporter
  /** The co-located service's own metrics, carried in this agent's member record. */
  readonly custom = new CustomMetrics()
  private publishedCustom: Readonly<Record<string, number>> = {}
  private readonly metricsPace = new MetricsPace()
  /** A metrics-only version held back by the pace. */
  private metricsTimer: NodeJS.Timeout | undefined
  /** Metrics moved since the record's last version (one for another reason carries them too). */
  private metricsDirty = false
  readonly controller: Controller
  private readonly links: Links
  private readonly joiner: Joiner
  /** Agents found by mDNS being reached by datagram (reachDiscovered). */
  private readonly discovered = new Set<string>()

  private constructor (
    readonly opts: AgentOptions,
    readonly host: Host,
    private readonly transport: Libp2pTransport,
    self: Heartbeat,
    private readonly records: Records,
    private readonly log: ConfigLog | undefined,
    readonly logger: Logger,
    joins: Multiaddr[]
  ) {
    super()
    this.setMaxListeners(0)
    this.changes.on('change', (index, kind, key) => this.emit('change', index, kind, key))
    const quota = { maxKeys: opts.maxKeys, maxTombstones: opts.maxTombstones, maxBytes: opts.maxConfigBytes }
    this.config = new ConfigReplica(host.peerId, () => Date.now() + (opts.clockSkewMs ?? 0), opts.maxDriftMs, quota, log, {
      changed: (e, source) => {
        this.changes.bump('config', e.key)
        this.controller.onConfig(e)
        this.emit('config', e, source)
      },
      drift: (e, aheadMs) => this.onDrift(e, aheadMs),
      persistFailed: (err) => {
        this.own.persistFailures++
        this.logger('error', 'store', 'cannot persist replicated config', { error: err.message })
      },
      refused: (e, why) => {
        if (why === 'future') this.own.futureTombstonesDropped++
        else this.own.quotaDropped++
        this.tally.add(`refused:${why}`, e.origin)
      }
    })
    this.membership = new Membership(self, swimOptions(opts), { transport, clock: systemClock, rng: Math.random, records })
    transport.addressesOf = peer => this.membership.get(peer)?.hb.addrs ?? []
    this.antiEntropy = new AntiEntropy({
      transport,
      clock: systemClock,
      rng: Math.random,
      replica: this.config,
      topic: topics(opts.cluster).config,
      randomPeer: () => {
        const m = this.membership.swim.randomPeer()
        return m === undefined ? undefined : [m.hb.id, m.hb.addrs]
      },
      synced: (peer, received) => {
        this.quarantine.synced().catch(() => {})
        // What it changed here is in the 'applied' tally: two agents that disagree for good (one at
        // a quota) would otherwise log the same transfer every round.
        this.logger('debug', 'sync', 'done', { peer, entriesReceived: received })
      },
      applied: (entries, from) => {
        // One line per entry only at debug: at info, a summary every TALLY_MS (a peer can send
        // thousands a second, a late joiner's sync brings them all at once).
        this.tally.add('applied', from, entries.length)
        for (const e of entries) this.logger('debug', 'config', e.deleted ? 'delete applied' : 'applied', { key: e.key, from: this.membership.get(e.origin)?.hb.name ?? e.origin })
      },
      garbage: peer => this.onSyncGarbage(peer)
    }, opts.antiEntropyMs)
    this.local = new LocalServices(self.address, opts.dataDir, logger, async () => { this.publishSelf() },
      extraCaContext(process.env[EXTRA_CA_ENV], message => logger('warn', 'checks', message)))
    this.quarantine = new Quarantine(this.config, opts.tombstoneTtlMs, opts.dataDir, logger)
    this.load = new LoadReporter(() => this.publishMetrics())
    const alive = (peer: string): boolean => isLive(this.membership.get(peer))
    this.links = new Links({
      connected: () => host.connectedPeers(),
      randomMember: () => this.membership.swim.randomPeer(),
      dial: async (peer, addrs) => { await host.dialPeer(peer, addrs) },
      isLive: alive
    })
    transport.spare = peer => this.links.spare(peer)
    this.joiner = new Joiner(host.peerId, {
      locate: transport.locates ? async (addr, signal) => await transport.locate(addr, signal) : undefined,
      dial: async (addr, signal) => await host.dial(addr, signal),
      exchange: (peer, addrs) => this.exchangeWith(peer, addrs),
      holds: peer => alive(peer) || host.isConnected(peer),
      joined: () => this.membership.joined
    }, joins, logger)
    this.controller = new Controller(controlHost(this), { intervalMs: opts.controlIntervalMs })
  }

  static async start (input: Partial<AgentOptions>): Promise<Agent> {
    const opts = resolveOptions(input)
    const level = new AdjustableLevel(opts.logLevel)
    const logger = level.wrap(createLogger('debug', undefined, opts.logFormat))
    let lock: DataDirLock | undefined
    try {
      if (opts.dataDir !== undefined) {
        await ensureDir(opts.dataDir)
        lock = await DataDirLock.acquire(opts.dataDir, stale => logger('warn', 'store', 'took over the lock of an agent that is no longer running', { dataDir: opts.dataDir, pid: stale.pid }))
      }
      const agent = await Agent.create(opts, logger)
      agent.lock = lock
      agent.level = level
      return agent
    } catch (err) {
      await lock?.release()
      throw err
    }
  }

  private static async create (opts: AgentOptions, logger: Logger): Promise<Agent> {
    const listen = parseHostPort(opts.listen, '--listen')
    const joins = opts.join.map(parseJoin)
    let log: ConfigLog | undefined
    let restored: Entry[] = []
    let services: ServiceRecord[] = []
    let damaged = 0
    if (opts.dataDir !== undefined) {
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
    let created: Agent | undefined
    const limiter = new RateLimiter({ perSec: opts.gossipRate, burst: opts.gossipBurst })
    const host = await Host.start({
      privateKey: key,
      cluster: opts.cluster,
      listen: hostPortToMultiaddr(listen),
      mdns: opts.mdns,
      psk: clusterKey?.psk,
      allow,
      // One bucket per topic and author: one agent's flood of config cannot crowd out others'.
      admit: (topic, author) => limiter.take(`${topic} ${author}`, systemClock.now()) || (created?.onRateLimited(author) ?? false),
      denied: addr => created?.onDenied(addr),
      mdnsWarn: message => logger('warn', 'mdns', message),
      mdnsDial: peer => logger('debug', 'mdns', 'dialling an agent that answered', { peer }),
      mdnsReach: (peer, addrs) => created?.reachDiscovered(peer, addrs) ?? false,
      // Members, not connections: an agent keeps connections to a few members only (links.ts).
      mdnsKnown: () => created?.liveMemberIds() ?? []
    })
    const address = opts.advertise ?? advertiseAddress(listen.host)
    const records = new Records(signingKey(key))
    const datagrams = opts.udp ? await openDatagrams(host, listen.host, address, records, new PairKeys(host.peerId, key.raw.subarray(0, 32)), clusterKey?.psk, allow, logger,
      (why, from) => created?.onDatagramRefused(why, from)) : undefined
    const transport = new Libp2pTransport(host, datagrams)
    datagrams?.socket.listen((channel, from, data, source) => transport.receiveDatagram(channel, from, data, source))
    const self: Heartbeat = {
      v: 1,
      id: host.peerId,
      name: opts.node,
      generation,
      counter: 1,
      status: 'alive',
      address,
      addrs: transport.addresses(),
      services: [],
      metrics: LoadReporter.initial(),
      sentAt: Date.now()
    }
    const agent = new Agent(opts, host, transport, self, records, log, logger, joins)
    agent.own.configLogDamaged = damaged
    created = agent
    agent.config.restore(restored)
    await agent.quarantine.start()
    agent.local.restore(services)
    await agent.run()
    logger('info', 'agent', 'started', {
      node: opts.node, id: host.peerId, cluster: opts.cluster, generation, listen: host.addresses().join(','),
      mdns: opts.mdns, key: clusterKey?.fingerprint ?? 'none', allow: opts.allow.length > 0 ? opts.allow.join(',') : 'any', config: agent.config.map.liveSize, services: agent.local.size
    })
    return agent
  }

  get id (): string { return this.host.peerId }
  get generation (): number { return this.self.generation }
  get address (): string { return this.self.address }
  private get self (): Heartbeat { return this.membership.get(this.id)?.hb as Heartbeat }

  // ---- what HTTP and the CLI read --------------------------------------------------------

  get index (): number { return this.changes.index }
  get configIndex (): ReadonlyMap<string, number> { return this.changes.configIndex }
  get memberIndex (): number { return this.changes.memberIndex }
  get servicesIndex (): number { return this.changes.servicesIndex }
  configPrefixIndex (prefix: string): number { return this.changes.configPrefixIndex(prefix) }

  /** The member table: `get(id)` and `list()`. */
  get table (): { get: (id: string) => Member | undefined, list: () => Member[] } { return this.membership.swim }

  get counters (): Counters {
    const ae = this.antiEntropy.counters
    return {
      gossipDropped: ae.gossipDropped,
      heartbeatsRejected: this.membership.rejected + this.own.datagramsRejected,
      membersDropped: this.membership.dropped,
      configRejected: ae.configRejected,
      clockDrift: this.own.clockDrift,
      syncs: ae.syncs,
      syncFailures: this.transport.counters.dropped,
      persistFailures: this.own.persistFailures,
      quarantined: this.quarantine.counters.quarantined,
      resurrectionsPrevented: this.quarantine.counters.resurrectionsPrevented,
      memberSuspect: this.own.memberSuspect,
      memberFailed: this.own.memberFailed,
      memberLeft: this.own.memberLeft,
      memberRecovered: this.own.memberRecovered,
      configLogDamaged: this.own.configLogDamaged,
      gossipRateLimited: this.own.gossipRateLimited,
      connectionsDenied: this.own.connectionsDenied,
      syncGarbage: ae.garbage,
      quotaDropped: this.own.quotaDropped,
      futureTombstonesDropped: this.own.futureTombstonesDropped,
      recordsVerified: this.records.verified,
      messagesOut: this.transport.counters.framesOut,
      messagesIn: this.transport.counters.framesIn,
      messageBytesOut: this.transport.counters.bytesOut,
      messageBytesIn: this.transport.counters.bytesIn
    }
  }

  /** Local health (Lifeguard): 0 is healthy; timeouts are stretched by (score + 1). */
  get awareness (): number { return this.membership.swim.awareness.score }

  members (): Member[] {
    return this.membership.members()
  }

  instances (name: string, opts: { healthy?: boolean, tag?: string } = {}): Instance[] {
    return instancesOf(this.membership.members(), name, opts)
  }

  services (): ServiceSummary[] {
    return serviceSummaries(this.membership.members())
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

  async setConfig (key: string, value: unknown): Promise<Entry> {
    const e = await this.config.set(key, value)
    this.logger('info', 'config', 'set', { key })
    this.links.wake()
    // Published after the write is durable; if gossip loses it, anti-entropy still carries it.
    this.antiEntropy.publish([e])
    return e
  }

  async deleteConfig (key: string): Promise<{ entry: Entry, existed: boolean }> {
    const r = await this.config.delete(key)
    this.logger('info', 'config', 'deleted', { key })
    this.links.wake()
    this.antiEntropy.publish([r.entry])
    return r
  }

  /** `murmur join`: dial `address` now and exchange full state with it (once, like Serf's join). */
  async join (address: string): Promise<{ peer: string, name?: string }> {
    let addr
    try {
      addr = parseJoin(address)
    } catch (err) {
      throw new MurmurError('MURMUR_ERR_BAD_REQUEST', (err as Error).message.replace('--join', 'address'))
    }
    let peer: string
    try {
      peer = await this.host.dial(addr, AbortSignal.timeout(10_000))
    } catch (err) {
      throw new MurmurError('MURMUR_ERR_JOIN', `cannot join ${address}: ${(err as Error).message}`)
    }
    if (peer === this.id) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `${address} is this agent`)
    this.membership.pushPull(peer)
    this.antiEntropy.syncWith(peer)
    this.logger('info', 'join', 'joined on request', { addr: address, peer })
    return { peer, name: this.membership.get(peer)?.hb.name }
  }

  /**
   * `murmur force-leave`: a failed member is marked left cluster-wide (no more reconnect
   * attempts). Refused for a member that may be alive: it would only refute.
   */
  forceLeave (name: string): { name: string, ids: string[] } {
    const rows = this.membership.members().filter(m => m.hb.name === name)
    if (rows.length === 0) throw new MurmurError('MURMUR_ERR_NOT_FOUND', `no member named '${name}'`)
    const live = rows.find(isLive)
    if (live !== undefined) throw new MurmurError('MURMUR_ERR_CONFLICT', `member '${name}' is ${live.status}: only a failed member can be forced out (stop it, and it leaves by itself)`)
    const ids = rows.filter(m => this.membership.forceLeave(m.hb.id)).map(m => m.hb.id)
    if (ids.length > 0) this.logger('info', 'member', 'forced out', { name, ids: ids.join(',') })
    return { name, ids }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Change the log threshold while running (SIGHUP). */
  setLogLevel (level: Level): void {
    this.level.level = level
    this.opts.logLevel = level
  }

  /** Announce a graceful leave, give it time to spread, and stop. */
  async leave (): Promise<void> {
    if (this.stopped) return
    this.logger('info', 'agent', 'leaving')
    this.membership.update({ status: 'left', sentAt: Date.now() })
    // Tell a few members directly too: gossip alone goes out every 200 ms to random ones.
    for (const m of this.membership.members().filter(x => x.status === 'alive' && x.hb.id !== this.id).slice(0, 8)) {
      this.membership.pushPull(m.hb.id, m.hb.addrs)
    }
    await new Promise(resolve => setTimeout(resolve, this.opts.leaveWaitMs))
    await this.stop()
  }

  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.metricsTimer)
    this.load.stop()
    this.local.stop()
    this.joiner.stop()
    this.links.stop()
    this.controller.stop()
    this.membership.stop()
    this.antiEntropy.stop()
    this.transport.stop()
    await this.quarantine.stop()
    await this.host.stop().catch(() => {})
    await this.log?.close().catch(() => {})
    await this.lock?.release()
    this.logger('info', 'agent', 'stopped')
  }

  private async run (): Promise<void> {
    this.membership.on('transition', t => this.onTransition(t))
    this.membership.on('record', (_id, before, after) => {
      // Instances carry their member's name: a rename (same identity, new --node) changes them too.
      if (before === undefined || before.name !== after.name || JSON.stringify(before.services) !== JSON.stringify(after.services)) this.changes.bump('services')
    })
    this.membership.on('note', (level, what, fields) => this.logger(level, 'member', what, fields))
    // A member that joined or came back may be the link this agent lacks; a closed connection may
    // have been one of its links, or a join contact's.
    // A join contact that failed or left is reached again (the joiner's retry-join).
    this.membership.on('transition', t => {
      if (t.to === 'alive') {
        if (t.from === 'none') this.links.arrived()
        this.links.check()
      } else if (t.to === 'failed' || t.to === 'left') this.joiner.lost(t.id)
    })
    this.transport.on('down', peer => {
      this.logger('debug', 'net', 'disconnected', { peer })
      setImmediate(() => {
        if (this.stopped) return
        this.links.check()
        this.joiner.lost(peer)
      })
    })
    this.transport.on('message', () => this.quarantine.contact())
    this.transport.on('publication', () => this.quarantine.contact())
    this.transport.on('up', (peer, outbound) => {
      this.logger('debug', 'net', 'connected', { peer, outbound })
      // A new contact (join address, mDNS): exchange config at once rather than at the next round.
      if (outbound && this.membership.get(peer) === undefined) this.antiEntropy.syncWith(peer)
    })
    this.transport.on('unreachable', peer => this.logger('debug', 'net', 'unreachable', { peer }))
    await this.transport.start()
    this.membership.start()
    this.antiEntropy.start()
    this.publishSelf()
    this.load.start()
    // The service's own metrics follow the same rule as the load (CustomMetrics.published):
    // a new record version only when the published set changed.
    this.every(() => 5000, () => { if (this.custom.published(Date.now()) !== this.publishedCustom) this.publishMetrics() })
    this.every(() => Math.min(60_000, this.opts.tombstoneTtlMs / 2), async () => {
      const n = await this.config.collectTombstones(this.opts.tombstoneTtlMs)
      if (n > 0) this.logger('info', 'config', 'collected tombstones', { count: n })
    })
    this.every(() => TALLY_MS, () => this.logTally())
    this.every(() => 5000, () => this.links.check())
    this.joiner.start()
    this.controller.start()
    this.host.startDiscovery()
  }

  /**
   * An agent found by mDNS that this one knows nothing of (or not as live): a push-pull and a
   * config digest by datagram at the UDP twins of its addresses, as with a join contact, and no
   * handshake; sent again while unanswered, then a dial (DISCOVERED_RESEND_MS). Its answers
   * repeat meanwhile (every query brings one): those add nothing. False (dial it now) with
   * datagrams off here.
   */
  private reachDiscovered (peer: string, addrs: Multiaddr[]): boolean {
    if (isLive(this.membership.get(peer)) || this.discovered.has(peer)) return true
    const udp = udpTwins(addrs)
    if (!this.transport.locates || udp.length === 0) return false
    if (this.discovered.size >= MAX_DISCOVERED) return true
    this.discovered.add(peer)
    // The TCP addresses too: a state too big for datagrams goes over a stream (swim.ts).
    const to = [...udp, ...addrs.map(a => a.toString())]
    const attempt = (i: number): void => {
      if (this.stopped || isLive(this.membership.get(peer))) {
        this.discovered.delete(peer)
        return
      }
      if (i === DISCOVERED_RESEND_MS.length) {
        this.discovered.delete(peer)
        // Its UDP twin was a guess: once connected, the push-pull goes over the connection.
        this.transport.forgetUdp(peer)
        this.host.dialFound(peer, addrs)
        return
      }
      this.exchangeWith(peer, to)
      setTimeout(() => attempt(i + 1), DISCOVERED_RESEND_MS[i]).unref()
    }
    attempt(0)
    return true
  }

  /** Full membership state and a config digest with an agent reached without a connection (a join contact, an mDNS find). */
  private exchangeWith (peer: string, addrs: readonly string[]): void {
    this.membership.pushPull(peer, addrs)
    this.antiEntropy.syncWith(peer, addrs)
  }

  private liveMemberIds (): string[] {
    return this.membership.members().filter(m => m.hb.id !== this.id && isLive(m)).map(m => m.hb.id)
  }

  private logTally (): void {
    for (const { what, count, peers } of this.tally.drain()) {
      if (what === 'applied') this.logger('info', 'config', 'applied remote entries', { entries: count, peers, seconds: TALLY_MS / 1000 })
      else if (what === 'garbage') this.logger('warn', 'sync', 'disconnected peers that sent malformed sync messages', { times: count, peers })
      else if (what === 'limited') this.logger('warn', 'gossip', 'dropped gossip over the per-author rate (--gossip-rate)', { messages: count, authors: peers })
      else if (what === 'denied') this.logger('warn', 'net', 'refused connections outside --allow', { connections: count, addresses: peers })
      else this.logger('warn', 'config', 'refused remote entries', { reason: what.slice('refused:'.length), entries: count, origins: peers, usage: this.config.usage() })
    }
  }

  /** A gossip message over its author's rate: dropped (not relayed), counted, summed up in the log. */
  private onRateLimited (author: string): false {
    this.own.gossipRateLimited++
    this.tally.add('limited', author)
    return false
  }

  private onDatagramRefused (why: 'denied' | 'bad', from: string): void {
    if (why === 'denied') this.onDenied(from)
    else this.own.datagramsRejected++
  }

  private onDenied (addr: string): void {
    this.own.connectionsDenied++
    this.tally.add('denied', addr)
  }

  /** A peer that breaks the sync protocol is no honest agent of this version: hang up on it. */
  private onSyncGarbage (peer: string): void {
    this.tally.add('garbage', peer)
    this.host.hangUp(peer).catch(() => {})
  }

  /** Run `fn` repeatedly with a delay recomputed each time, until stop. */
  private every (delay: () => number, fn: () => unknown): void {
    const loop = (): void => {
      const t = setTimeout(() => {
        if (this.stopped) return
        Promise.resolve().then(fn).catch(err => this.logger('warn', 'agent', 'periodic task failed', { error: (err as Error).message })).finally(() => { if (!this.stopped) loop() })
      }, delay())
      t.unref()
    }
    loop()
  }

  /** Metrics moved: a new version of our record now, or when the cluster's pace allows (metrics-pace.ts). */
  private publishMetrics (): void {
    if (this.stopped) return
    this.metricsDirty = true
    if (this.metricsTimer !== undefined) return
    const wait = this.metricsPace.wait(Date.now(), this.membership.swim.liveCount)
    if (wait === 0) {
      this.publishSelf()
      return
    }
    this.metricsTimer = setTimeout(() => {
      this.metricsTimer = undefined
      if (this.metricsDirty) this.publishMetrics()
    }, wait)
    this.metricsTimer.unref()
  }

  /** A new version of our record: services and their health, rounded load and custom metrics, addresses. */
  private publishSelf (): void {
    if (this.stopped) return
    this.metricsDirty = false
    this.metricsPace.sent(Date.now())
    this.publishedCustom = this.custom.published(Date.now())
    this.membership.update({
      services: this.local.list(),
      metrics: this.load.current(this.transport.counters.bytesOut, this.transport.counters.bytesIn),
      custom: Object.keys(this.publishedCustom).length > 0 ? this.publishedCustom : undefined,
      addrs: this.transport.addresses(),
      sentAt: Date.now()
    })
  }

  private onTransition (t: Transition): void {
    if (t.from !== 'none') {
      if (t.to === 'suspect') this.own.memberSuspect++
      else if (t.to === 'failed') {
        this.own.memberFailed++
        // A connection across a silent partition stays open but stalls in TCP's retransmission
        // backoff, which can hold up recovery for many seconds after the link is back. Drop it;
        // reconnect attempts then start from a fresh connection.
        this.host.hangUp(t.id).catch(() => {})
      } else if (t.to === 'left') this.own.memberLeft++
      else if (t.to === 'alive') {
        this.own.memberRecovered++
        // A member back from failed is a healed partition (or a resumed process): exchange what
        // each side wrote meanwhile now rather than at the next periodic round.
        if (t.from === 'failed') this.antiEntropy.syncWith(t.id, this.membership.get(t.id)?.hb.addrs)
      }
    }
    if (t.id !== this.id) {
      const level = t.to === 'failed' || t.to === 'suspect' ? 'warn' : 'info'
      const what = t.from === 'none' ? (t.to === 'alive' ? 'joined' : `listed ${t.to}`) : t.to === 'alive' ? 'up' : t.to
      this.logger(level, 'member', what, { name: t.name, id: t.id, from: t.from })
    }
    this.changes.bump('member')
    this.emit('member', t)
    this.onMembersChanged()
  }

  /** mDNS is for bootstrap: its queries back off while a member besides us is alive (or suspect). */
  private onMembersChanged (): void {
    // Read from a counter: this runs on every transition, thousands in a join storm.
    const joined = this.membership.joined
    if (joined === this.joined) return
    this.joined = joined
    this.host.setJoined(joined)
    if (this.opts.mdns) this.logger('info', 'mdns', joined ? 'joined: queries back off to one a minute' : 'alone: querying every second')
  }

  private onDrift (e: Entry, aheadMs: number): void {
    this.own.clockDrift++
    const last = this.driftWarned.get(e.origin) ?? 0
    if (Date.now() - last > 60_000) {
      this.driftWarned.set(e.origin, Date.now())
      this.logger('warn', 'clock', 'remote stamp ahead of our clock beyond max drift; stored but not followed', { origin: e.origin, key: e.key, aheadMs })
    }
  }
}

/**
 * The UDP socket for membership datagrams, on the port libp2p listens on (TCP and UDP ports
 * are separate, as with memberlist). A port already taken for UDP is not fatal: membership
 * then runs over streams alone, and peers see no UDP address in this agent's record.
 */
async function openDatagrams (host: Host, bindHost: string, advertise: string, records: Records, pairs: PairKeys, psk: Uint8Array | undefined,
  allow: AddressCheck | undefined, logger: Logger, refused: DatagramOptions['refused']): Promise<{ socket: DatagramSocket, advertise: UdpAddress } | undefined> {
  const port = tcpPort(host.addresses())
  if (port === undefined) return undefined
  // Datagram signatures are checked by their own codec: recordsVerified counts member records only.
  const verifier = new Records()
  const socket = new DatagramSocket({
    self: host.peerId,
    crypto: {
      sign: b => records.signBytes(b),
      verify: (peer, b, sig) => verifier.verify(peer, b, sig),
      tag: (peer, b) => pairs.tag(peer, b),
      check: (peer, b, tag) => pairs.check(peer, b, tag)
    },
    psk,
    allow,
    refused
  })
  if (!await socket.bind(bindHost, port)) {
    logger('warn', 'net', 'UDP port taken: membership messages go over libp2p streams only', { host: bindHost, port })
    return undefined
  }
  return { socket, advertise: { host: advertise, port } }
}

/** The address to give other members: the listen host, or this host's first LAN IPv4. */
function advertiseAddress (listenHost: string): string {
  if (listenHost !== '0.0.0.0' && listenHost !== '::') return listenHost
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}
