// The murmur client for services written in TypeScript/JavaScript: register with the local
// agent (and stay healthy), find instances, read, write and watch config. Talks to the agent's
// sidecar port with the global fetch (Node 20).
import { follow } from './follow.js'
import { Sidecar } from './http.js'
import { weightedPick } from './pick.js'
import { register, type RegisterOptions, type Registration } from './registration.js'
import type { CallOptions, ClusterMetric, ConfigEvent, ConfigItem, Deleted, Instance, Member, ServiceRegistration, WatchOptions } from './types.js'

export { MurmurClientError } from './http.js'
export { SseParser, type SseEvent } from './sse.js'
export { weightedPick } from './pick.js'
export type { RegisterOptions, Registration } from './registration.js'
export type * from './types.js'

export interface MurmurOptions {
  /** The agent's sidecar address. @default MURMUR_HTTP_ADDR, else 127.0.0.1:7401 */
  http?: string
}

export interface InstanceQuery extends CallOptions {
  /** Only passing instances on alive members. */
  healthy?: boolean
  tag?: string
}

function keyPath (key: string): string {
  return `/v1/config/${key.split('/').map(encodeURIComponent).join('/')}`
}

function query (q: Record<string, string | boolean | undefined>): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== false) params.set(k, String(v))
  return params.size > 0 ? `?${params.toString()}` : ''
}

export class Murmur {
  private readonly sidecar: Sidecar

  constructor (opts: MurmurOptions = {}) {
    const { MURMUR_HTTP_ADDR } = process.env
    this.sidecar = new Sidecar(opts.http ?? MURMUR_HTTP_ADDR ?? '127.0.0.1:7401')
  }

  /** Registers a service with a TTL check and keeps it passing until `deregister()`. */
  async register (service: ServiceRegistration, opts: RegisterOptions = {}): Promise<Registration> {
    return await register(this.sidecar, service, opts)
  }

  async instances (name: string, opts: InstanceQuery = {}): Promise<Instance[]> {
    return await this.sidecar.call<Instance[]>('GET', `/v1/services/${encodeURIComponent(name)}${query({ healthy: opts.healthy, tag: opts.tag })}`, undefined, opts)
  }

  /** One healthy instance, chosen at random in proportion to its weight; undefined if none. */
  async pick (name: string, opts: Omit<InstanceQuery, 'healthy'> = {}): Promise<Instance | undefined> {
    return weightedPick(await this.instances(name, { ...opts, healthy: true }))
  }

  readonly config = {
    /** The item, or undefined when the key is not set. */
    get: async <T = unknown>(key: string, opts: CallOptions = {}): Promise<ConfigItem<T> | undefined> => {
      try {
        return await this.sidecar.call<ConfigItem<T>>('GET', keyPath(key), undefined, opts)
      } catch (err) {
        if ((err as { code?: string }).code === 'MURMUR_ERR_NOT_FOUND') return undefined
        throw err
      }
    },
    /** Resolves once the write is durable on the local agent; it reaches the others by gossip. */
    set: async <T = unknown>(key: string, value: T, opts: CallOptions = {}): Promise<ConfigItem<T>> =>
      await this.sidecar.call<ConfigItem<T>>('PUT', keyPath(key), value, opts),
    delete: async (key: string, opts: CallOptions = {}): Promise<Deleted> =>
      await this.sidecar.call<Deleted>('DELETE', keyPath(key), undefined, opts),
    list: async (prefix = '', opts: CallOptions = {}): Promise<ConfigItem[]> =>
      (await this.sidecar.call<{ items: ConfigItem[] }>('GET', `/v1/config${query({ prefix })}`, undefined, opts)).items,
    /**
     * Calls `cb` with the keys under `prefix` now (a snapshot), then with each change, and
     * with the resulting state. Survives agent restarts. Returns a function that stops it.
     */
    watch: (prefix: string, cb: (event: ConfigEvent, current: ReadonlyMap<string, ConfigItem>) => void, opts: WatchOptions = {}): (() => void) => {
      const current = new Map<string, ConfigItem>()
      return follow(`${this.sidecar.base}/v1/watch/config${query({ prefix })}`, ev => {
        const data = JSON.parse(ev.data)
        let event: ConfigEvent
        if (ev.event === 'snapshot') {
          event = { type: 'snapshot', items: data.items }
          current.clear()
          for (const item of event.items) current.set(item.key, item)
        } else if (ev.event === 'put') {
          event = { type: 'put', item: data }
          current.set(data.key, data)
        } else if (ev.event === 'delete') {
          event = { type: 'delete', key: data.key, version: data.version }
          current.delete(data.key)
        } else return
        cb(event, current)
      }, opts)
    }
  }

  readonly services = {
    /** Calls `cb` with the instances of `name` now, then each time they change. Returns stop. */
    watch: (name: string, cb: (instances: Instance[]) => void, opts: WatchOptions & Omit<InstanceQuery, 'signal'> = {}): (() => void) =>
      follow(`${this.sidecar.base}/v1/watch/services/${encodeURIComponent(name)}${query({ healthy: opts.healthy, tag: opts.tag })}`, ev => {
        if (ev.event === 'instances') cb(JSON.parse(ev.data))
      }, opts)
  }

  /** The control loop's inputs: this service's own figures, and cluster aggregates. */
  readonly metrics = {
    /** Report figures (`{rps: 950}`; null removes one). Cheap to call every second: the agent sends only real changes. */
    report: async (values: Record<string, number | null>, opts: CallOptions = {}): Promise<void> => {
      await this.sidecar.call('PUT', '/v1/agent/metrics', values, opts)
    },
    /** count, avg, min, max, p50, p95, sum of `metric` over alive members (of a service, with a tag). */
    cluster: async (metric: string, opts: CallOptions & { service?: string, tag?: string } = {}): Promise<ClusterMetric> =>
      await this.sidecar.call<ClusterMetric>('GET', `/v1/cluster/metrics${query({ metric, service: opts.service, tag: opts.tag })}`, undefined, opts)
  }

  readonly members = {
    list: async (opts: CallOptions = {}): Promise<Member[]> => await this.sidecar.call<Member[]>('GET', '/v1/members', undefined, opts),
    /** Calls `cb` with the member list now, then at each member status change. Returns stop. */
    watch: (cb: (members: Member[]) => void, opts: WatchOptions = {}): (() => void) =>
      follow(`${this.sidecar.base}/v1/watch/members`, ev => {
        if (ev.event === 'members') cb(JSON.parse(ev.data))
      }, opts)
  }
}
