// The sidecar API's JSON shapes as a client sees them. Declared here, not imported from the
// agent's internals: they are the wire contract, and the client stays usable on its own.

export type Health = 'passing' | 'warning' | 'critical'
export type MemberStatus = 'alive' | 'suspect' | 'failed' | 'left'

export interface Instance {
  id: string
  name: string
  node: string
  nodeId: string
  address: string
  port: number
  tags: string[]
  meta: Record<string, string>
  /** Relative share for `pick`, 0 to 1000. */
  weight: number
  health: Health
  output: string
  /** Wall time (ms) of the last health change. */
  since: number
  memberStatus: MemberStatus
}

export interface Member {
  name: string
  id: string
  address: string
  addrs: string[]
  status: MemberStatus
  generation: number
  counter: number
  lastSeen: string
  statusSince: string
  phi: number
  self: boolean
  services: number
  metrics: { cpu: number, rss: number, load1: number }
}

export interface Version { hlc: string, origin: string, originName?: string }

export interface ConfigItem<T = unknown> {
  key: string
  value: T
  version: Version
  updatedAt: string
}

export interface Deleted { key: string, deleted: true, existed: boolean, version: Version }

export interface ServiceRegistration {
  name: string
  /** @default name */
  id?: string
  port: number
  /** @default the agent's address */
  address?: string
  tags?: string[]
  meta?: Record<string, string>
  /** @default 1 */
  weight?: number
}

export interface ServiceRecord extends Required<ServiceRegistration> {
  check?: { ttl: string }
  health: Health
  output: string
  since: number
}

/** What a config watch reports; a snapshot replaces everything known before it. */
export type ConfigEvent =
  | { type: 'snapshot', items: ConfigItem[] }
  | { type: 'put', item: ConfigItem }
  | { type: 'delete', key: string, version: Version }

export interface CallOptions { signal?: AbortSignal }

export interface ClusterMetric {
  metric: string
  count: number
  avg: number | null
  min: number | null
  max: number | null
  p50: number | null
  p95: number | null
  sum: number
  /** Age of the oldest sample that went in, ms. */
  oldestAgeMs: number | null
}

export interface WatchOptions {
  /** Stops the watch, like the function the watch returns. */
  signal?: AbortSignal
  /**
   * Called when the stream breaks (it is retried) or is refused (it stops: a 4xx answer), and
   * when a callback throws. Without it, only the refusal is reported, as a process warning.
   */
  onError?: (err: Error) => void
}
