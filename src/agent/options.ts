// Every agent setting in one typed object: its effect, its default, validated once at start.
import { hostname } from 'node:os'
import { MurmurError } from '../core/errors.js'
import type { MembershipOptions } from '../core/members.js'

export interface AgentOptions extends MembershipOptions {
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
  mdns: boolean
  /** Where identity, generation, config and services are kept; without it the agent is ephemeral. */
  dataDir?: string
  /** Connections to keep to other members (dialled from their heartbeats' addresses). @default 8 */
  targetPeers: number
  /** Heartbeat period, ms. Detection time scales with it. @default 1000 */
  heartbeatMs: number
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
}

export const DEFAULTS: Omit<AgentOptions, 'node'> = {
  cluster: 'default',
  http: '127.0.0.1:7401',
  listen: '0.0.0.0:7400',
  join: [],
  allow: [],
  gossipRate: 100,
  gossipBurst: 1000,
  mdns: true,
  targetPeers: 8,
  heartbeatMs: 1000,
  antiEntropyMs: 3000,
  maxDriftMs: 60_000,
  tombstoneTtlMs: 86_400_000,
  leaveWaitMs: 500,
  maxKeys: 100_000,
  maxTombstones: 100_000,
  maxConfigBytes: 64 * 1024 * 1024,
  controlIntervalMs: 1000,
  logLevel: 'info',
  windowSize: 100,
  minStdDevMs: 250,
  acceptablePauseMs: 1000,
  firstIntervalMs: 1000,
  phiSuspect: 8,
  suspicionMs: 2000,
  reapMs: 3_600_000
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

export function resolveOptions (input: Partial<AgentOptions>): AgentOptions {
  const o: AgentOptions = { ...DEFAULTS, node: hostname(), ...stripUndefined(input) }
  if (!NAME_RE.test(o.node)) fail(`node name '${o.node}' must be 1-63 letters, digits, '.', '_' or '-'`)
  if (!NAME_RE.test(o.cluster)) fail(`cluster name '${o.cluster}' must be 1-63 letters, digits, '.', '_' or '-'`)
  for (const k of ['heartbeatMs', 'antiEntropyMs', 'maxDriftMs', 'tombstoneTtlMs', 'suspicionMs', 'reapMs', 'minStdDevMs', 'acceptablePauseMs', 'controlIntervalMs'] as const) {
    if (!Number.isFinite(o[k]) || o[k] <= 0) fail(`${k} must be a positive number of milliseconds`)
  }
  if (o.httpReadTokenFile !== undefined && o.httpTokenFile === undefined) fail('--http-read-token-file needs --http-token-file too (reads are guarded only when writes are)')
  if (o.httpMaxConnections !== undefined && !(Number.isSafeInteger(o.httpMaxConnections) && o.httpMaxConnections >= 1)) fail('httpMaxConnections must be a positive integer')
  if (!(o.gossipRate > 0) || !(o.gossipBurst >= 1)) fail('gossipRate must be positive and gossipBurst at least 1')
  for (const k of ['maxKeys', 'maxTombstones', 'maxConfigBytes'] as const) {
    if (!Number.isSafeInteger(o[k]) || o[k] < 1) fail(`${k} must be a positive integer`)
  }
  if (!(o.phiSuspect > 0)) fail('phiSuspect must be positive')
  if (!['debug', 'info', 'warn', 'error'].includes(o.logLevel)) fail('log level must be debug, info, warn or error')
  o.firstIntervalMs = o.heartbeatMs
  return o
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function fail (message: string): never {
  throw new MurmurError('MURMUR_ERR_CONFIG', message)
}
