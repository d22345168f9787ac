// Every agent setting in one typed object: its effect, its default, validated once at start.
import { hostname } from 'node:os'
import { MurmurError } from '../core/errors.js'
import { DEFAULT_QUOTA } from '../core/quota.js'
import { SWIM_DEFAULTS, type SwimOptions } from '../core/swim-options.js'
import { LOG_FORMATS, type LogFormat } from './log.js'
import { isOptionKey } from './option-table.js'

/** The membership settings an operator may change (src/core/swim-options.ts documents each). */
export type MembershipSettings = Pick<SwimOptions, 'probeIntervalMs' | 'probeTimeoutMs' | 'indirectChecks' | 'suspicionMult' | 'suspicionMaxMult' | 'retransmitMult' | 'gossipIntervalMs' | 'syncIntervalMs' | 'reconnectIntervalMs' | 'reapMs' | 'maxMembers'>

export interface AgentOptions extends MembershipSettings {
  /** Member name shown to others. @default os.hostname() */
  node: string
  /** Agents of different clusters ignore each other (topics, sync protocol, mDNS tag). @default 'default' */
  cluster: string
  /** Sidecar HTTP address. Off loopback, set `httpTokenFile`. @default '127.0.0.1:7401' */
  http: string
  /** File holding the token that sidecar writes (every method but GET) must carry. @default none: writes are open */
  httpTokenFile?: string
  /** File holding a token for sidecar reads (the write token also reads). Needs `httpTokenFile`. @default none: reads are open */
  httpReadTokenFile?: string
  /** Sidecar connections served at once; more are answered 503. @default half the open-file limit, at most 1024 */
  httpMaxConnections?: number
  /** libp2p TCP listen address. @default '0.0.0.0:7400' */
  listen: string
  /** Address other members reach services on this host at. @default listen host, or the first non-loopback IPv4 */
  advertise?: string
  /** Cluster key file (`murmur keygen`): only agents holding the same key can connect. @default none: anyone who reaches `listen` can join */
  clusterKeyFile?: string
  /** CIDR blocks peers must be in: other connections are refused and never dialled. @default [] (any address) */
  allow: string[]
  /** Gossip messages a second accepted (and relayed) from one author; the rest are dropped, counted, and arrive by anti-entropy. @default 100 */
  gossipRate: number
  /** Gossip messages one author may send at once before `gossipRate` applies. @default 1000 */
  gossipBurst: number
  /** Agents to join (HOST:PORT or multiaddr, peer id optional); retried with backoff. @default [] */
  join: string[]
  /** Find peers by mDNS on the LAN. @default true */
  /** Membership datagrams over UDP on the listen port (see net/datagram.ts). */
  udp: boolean
  mdns: boolean
  /** Where identity, generation, config and services are kept; without it the agent is ephemeral. */
  dataDir?: string
  /** Deprecated alias of probeIntervalMs (murmur 0.1 sent heartbeats; it now probes). */
  heartbeatMs?: number
  /** Deprecated and ignored: detection is SWIM probing now, not phi accrual. */
  phiSuspect?: number
  /** Deprecated: sets the suspicion timeout floor at 10 members (suspicionMult = suspicionMs / probeIntervalMs). */
  suspicionMs?: number
  /** Period of anti-entropy with one random peer, ms (±20% jitter). @default 3000 */
  antiEntropyMs: number
  /** Remote stamps further ahead of our clock than this do not advance it (logged, counted). @default 60000 */
  maxDriftMs: number
  /** Tombstones older than this are forgotten. An agent away longer may bring deleted keys back. @default 86_400_000 */
  tombstoneTtlMs: number
  /** How long a graceful leave waits for its announcement to go out, ms. @default 500 */
  leaveWaitMs: number
  /** Live config keys an agent holds; new keys beyond are refused (507 locally, dropped from peers). @default 100_000 */
  maxKeys: number
  /** Tombstones of keys not held; further deletes of unknown keys are refused. @default 100_000 */
  maxTombstones: number
  /** Bytes of config (keys + JSON values) an agent holds; growth beyond is refused. @default 64 MiB */
  maxConfigBytes: number
  /** Testing aid: offset added to this agent's wall clock for HLC stamps, ms. @default 0 */
  clockSkewMs?: number
  /** Period of the control loop's round (every rule evaluated once), ms. @default 1000 */
  controlIntervalMs: number
  /** 'debug' | 'info' | 'warn' | 'error'. @default 'info' */
  logLevel: 'debug' | 'info' | 'warn' | 'error'
  /** 'text' (for people) or 'json' (one object per line: time, level, component, msg, fields). @default 'text' */
  logFormat: LogFormat
}

export const DEFAULTS: Omit<AgentOptions, 'node'> = {
  cluster: 'default',
  http: '127.0.0.1:7401',
  listen: '0.0.0.0:7400',
  join: [],
  allow: [],
  gossipRate: 100,
  gossipBurst: 1000,
  udp: true,
  mdns: true,
  antiEntropyMs: 3000,
  maxDriftMs: 60_000,
  tombstoneTtlMs: 86_400_000,
  leaveWaitMs: 500,
  maxKeys: DEFAULT_QUOTA.maxKeys,
  maxTombstones: DEFAULT_QUOTA.maxTombstones,
  maxConfigBytes: DEFAULT_QUOTA.maxBytes,
  controlIntervalMs: 1000,
  logLevel: 'info',
  logFormat: 'text',
  probeIntervalMs: SWIM_DEFAULTS.probeIntervalMs,
  probeTimeoutMs: SWIM_DEFAULTS.probeTimeoutMs,
  indirectChecks: SWIM_DEFAULTS.indirectChecks,
  suspicionMult: SWIM_DEFAULTS.suspicionMult,
  suspicionMaxMult: SWIM_DEFAULTS.suspicionMaxMult,
  retransmitMult: SWIM_DEFAULTS.retransmitMult,
  gossipIntervalMs: SWIM_DEFAULTS.gossipIntervalMs,
  syncIntervalMs: SWIM_DEFAULTS.syncIntervalMs,
  reconnectIntervalMs: SWIM_DEFAULTS.reconnectIntervalMs,
  reapMs: SWIM_DEFAULTS.reapMs,
  maxMembers: SWIM_DEFAULTS.maxMembers
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

export function resolveOptions (input: Partial<AgentOptions>): AgentOptions {
  for (const k of Object.keys(input)) if (!isOptionKey(k)) fail(`unknown option '${k}'`)
  const o: AgentOptions = { ...DEFAULTS, node: hostname(), ...stripUndefined(input) }
  if (!NAME_RE.test(o.node)) fail(`node name '${o.node}' must be 1-63 letters, digits, '.', '_' or '-'`)
  if (!NAME_RE.test(o.cluster)) fail(`cluster name '${o.cluster}' must be 1-63 letters, digits, '.', '_' or '-'`)
  if (o.heartbeatMs !== undefined && input.probeIntervalMs === undefined) o.probeIntervalMs = o.heartbeatMs
  if (o.suspicionMs !== undefined && input.suspicionMult === undefined) o.suspicionMult = o.suspicionMs / o.probeIntervalMs
  for (const k of ['probeIntervalMs', 'probeTimeoutMs', 'gossipIntervalMs', 'syncIntervalMs', 'reconnectIntervalMs', 'antiEntropyMs', 'maxDriftMs', 'tombstoneTtlMs', 'reapMs', 'controlIntervalMs'] as const) {
    if (!Number.isFinite(o[k]) || o[k] <= 0) fail(`${k} must be a positive number of milliseconds`)
  }
  if (o.httpReadTokenFile !== undefined && o.httpTokenFile === undefined) fail('--http-read-token-file needs --http-token-file too (reads are guarded only when writes are)')
  if (o.httpMaxConnections !== undefined && !(Number.isSafeInteger(o.httpMaxConnections) && o.httpMaxConnections >= 1)) fail('httpMaxConnections must be a positive integer')
  if (!(o.gossipRate > 0) || !(o.gossipBurst >= 1)) fail('gossipRate must be positive and gossipBurst at least 1')
  for (const k of ['maxKeys', 'maxTombstones', 'maxConfigBytes', 'maxMembers'] as const) {
    if (!Number.isSafeInteger(o[k]) || o[k] < 1) fail(`${k} must be a positive integer`)
  }
  if (!Number.isFinite(o.leaveWaitMs) || o.leaveWaitMs < 0) fail('leaveWaitMs must be zero or more milliseconds')
  if (o.probeTimeoutMs >= o.probeIntervalMs) fail('probeTimeoutMs must be shorter than probeIntervalMs')
  for (const k of ['suspicionMult', 'suspicionMaxMult', 'retransmitMult'] as const) if (!(o[k] > 0)) fail(`${k} must be positive`)
  if (o.suspicionMaxMult < 1) fail('suspicionMaxMult must be at least 1')
  if (!Number.isInteger(o.indirectChecks) || o.indirectChecks < 0 || o.indirectChecks > 16) fail('indirectChecks must be an integer from 0 to 16')
  if (!['debug', 'info', 'warn', 'error'].includes(o.logLevel)) fail('log level must be debug, info, warn or error')
  if (!LOG_FORMATS.includes(o.logFormat)) fail(`log format must be ${LOG_FORMATS.join(' or ')}`)
  return o
}

/** The full membership protocol settings for these agent options. */
export function swimOptions (o: AgentOptions): SwimOptions {
  return {
    ...SWIM_DEFAULTS,
    probeIntervalMs: o.probeIntervalMs,
    probeTimeoutMs: o.probeTimeoutMs,
    indirectChecks: o.indirectChecks,
    suspicionMult: o.suspicionMult,
    suspicionMaxMult: o.suspicionMaxMult,
    retransmitMult: o.retransmitMult,
    gossipIntervalMs: o.gossipIntervalMs,
    syncIntervalMs: o.syncIntervalMs,
    reconnectIntervalMs: o.reconnectIntervalMs,
    reapMs: o.reapMs,
    maxMembers: o.maxMembers,
    // Datagrams (net/datagram.ts) hold 1,452 bytes: the packet's own fields, two peer ids, a
    // signature and the seal take about 300, so piggybacked broadcasts get the rest.
    packetBudget: o.udp ? 1100 : SWIM_DEFAULTS.packetBudget,
    streamFallback: o.udp
  }
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function fail (message: string): never {
  throw new MurmurError('MURMUR_ERR_CONFIG', message)
}
