// What the sidecar (src/http) may use of an agent: reads of members, services and config,
// the local service and config writes, the change index and its events, and a few identity
// facts. HTTP code depends on this interface, never on the agent's parts.
import type { Instance, ServiceSummary } from '../core/catalog.js'
import type { Entry } from '../core/lww.js'
import type { Member } from '../core/members.js'
import type { ServiceRecord } from '../core/service.js'
import type { ChangeKind } from './change-index.js'

export interface AgentApiEvents {
  config: [e: Entry, source: 'local' | 'remote']
  /** Any change a reader could observe; `index` grows by one each time. `key` for config. */
  change: [index: number, kind: ChangeKind, key?: string]
}

export interface AgentApi {
  on: ((event: 'change', listener: (...args: AgentApiEvents['change']) => void) => unknown) & ((event: 'config', listener: (...args: AgentApiEvents['config']) => void) => unknown)
  off: ((event: 'change', listener: (...args: AgentApiEvents['change']) => void) => unknown) & ((event: 'config', listener: (...args: AgentApiEvents['config']) => void) => unknown)
  listenerCount: (event: 'change') => number
  readonly id: string
  readonly generation: number
  readonly address: string
  readonly startedAt: number
  readonly opts: { readonly node: string, readonly cluster: string }
  readonly counters: Readonly<Record<string, number>>
  /** Network facts for /v1/agent/self and /metrics. */
  readonly host: { addresses: () => string[], connectedPeers: () => string[], readonly bytesIn: number, readonly bytesOut: number }

  members: () => Member[]
  readonly table: { get: (id: string) => Member | undefined, list: () => Member[] }
  instances: (name: string, opts?: { healthy?: boolean, tag?: string }) => Instance[]
  services: () => ServiceSummary[]
  localServices: () => ServiceRecord[]
  register: (input: unknown) => Promise<ServiceRecord>
  deregister: (id: string) => Promise<ServiceRecord>
  ttl: (id: string, status: 'pass' | 'warn' | 'fail', output: string) => ServiceRecord

  /** Config reads: the live entry of a key, and the map's listing and sizes. */
  readonly config: {
    get: (key: string) => Entry | undefined
    readonly map: { list: (prefix?: string) => Entry[], readonly size: number, readonly liveSize: number }
  }
  setConfig: (key: string, value: unknown) => Promise<Entry>
  deleteConfig: (key: string) => Promise<{ entry: Entry, existed: boolean }>

  readonly index: number
  readonly configIndex: ReadonlyMap<string, number>
  readonly memberIndex: number
  readonly servicesIndex: number
  configPrefixIndex: (prefix: string) => number
}
