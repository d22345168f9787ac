// Server-Sent Events: a service follows the config under a prefix, the instances of a service
// or the member list as one long response instead of polling. Every event's `id:` is
// GENERATION-INDEX: the agent's change index, qualified by its generation because the index
// starts again when the agent restarts. A client reconnecting with that Last-Event-ID is sent
// only the config changes it missed, from a bounded in-memory history, or a fresh snapshot when
// they are no longer kept (or come from another life of the agent). Service and member streams
// are small full lists, so a reconnect simply gets the current one.
import type { ServerResponse } from 'node:http'
import type { AgentApi as Agent } from '../agent/api.js'
import type { ChangeKind } from '../agent/change-index.js'
import { MurmurError } from '../core/errors.js'
import type { Entry } from '../core/lww.js'
import type { Watched } from './blocking.js'
import { EventWriter } from './event-writer.js'
import type { Reply, Request, Route } from './server.js'

/** Comment lines at this period keep proxies (and the client's idle timer) from closing an idle stream. */
export const PING_MS = 15_000
/**
 * A client this far behind in reading (events queued behind the one being sent) is cut off; it
 * reconnects and resumes, or gets a snapshot. One event larger than this is still sent whole.
 */
const MAX_BACKLOG_BYTES = 8 * 1024 * 1024

/** A read that streams as a full list each time it changes. */
export interface Feed { watched: Watched, read: () => unknown }

/** The shapes the streams carry come from routes.ts, so they match the JSON reads. */
export interface WatchViews {
  configItem: (e: Entry) => unknown
  members: Feed
  /** Parses the request's filters (a bad one is a 400) and gives that service's instances. */
  instances: (name: string, req: Request) => Feed
}

export interface ConfigChange { index: number, key: string, event: 'put' | 'delete', data: string }

/** What the history needs of the agent (an interface, so unit tests can drive it). */
export interface HistorySource {
  readonly index: number
  on: (event: 'config', listener: (e: Entry) => void) => unknown
}

/** Recent config changes in index order, bounded in count and bytes. */
export class ConfigHistory {
  private changes: ConfigChange[] = []
  private head = 0
  private bytes = 0
  /** Every config change with an index above this one is kept. */
  private floor: number

  constructor (source: HistorySource, item: (e: Entry) => unknown, private readonly limits = { entries: 10_000, bytes: 16 * 1024 * 1024 }) {
    this.floor = source.index
    // The agent bumps its index for a config change just before it emits 'config'.
    source.on('config', e => this.push({ index: source.index, key: e.key, event: e.deleted ? 'delete' : 'put', data: JSON.stringify(item(e)) }))
  }

  /** The index of the newest change considered (kept or evicted). */
  get newest (): number {
    return this.changes.length > this.head ? this.changes[this.changes.length - 1].index : this.floor
  }

  /** Changes after `index`, oldest first; undefined when some of them are no longer kept. */
  since (index: number): ConfigChange[] | undefined {
    if (index < this.floor) return undefined
    let lo = this.head
    let hi = this.changes.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.changes[mid].index <= index) lo = mid + 1
      else hi = mid
    }
    return this.changes.slice(lo)
  }

  private push (c: ConfigChange): void {
    this.changes.push(c)
    this.bytes += c.data.length
    while (this.changes.length - this.head > this.limits.entries || (this.bytes > this.limits.bytes && this.changes.length - this.head > 1)) {
      const old = this.changes[this.head++]
      this.bytes -= old.data.length
      this.floor = old.index
    }
    // Drop evicted slots in one go now and then, rather than shifting the array each time.
    if (this.head >= this.limits.entries) {
      this.changes = this.changes.slice(this.head)
      this.head = 0
    }
  }
}

type Send = (event: string, index: number, data: string) => void

interface Watcher {
  /** Whether a change may give this stream something to send. */
  concerns: (kind: ChangeKind, key?: string) => boolean
  /** Sends what the client has not seen yet (on the first call: what it needs first). */
  flush: (send: Send) => void
}

function eventStream (agent: Agent, w: Watcher): Reply {
  return {
    stream: (res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
      res.flushHeaders()
      const out = new EventWriter(res, MAX_BACKLOG_BYTES)
      const send: Send = (event, index, data) => {
        out.write(`id: ${agent.generation}-${index}\nevent: ${event}\ndata: ${data}\n\n`)
      }
      let due = false
      const onChange = (_index: number, kind: ChangeKind, key?: string): void => {
        if (due || !w.concerns(kind, key)) return
        // One flush per burst (a sync applies many entries at once), after the agent has
        // finished emitting it, so the history already holds every change of the burst.
        due = true
        queueMicrotask(() => {
          due = false
          if (!res.destroyed) w.flush(send)
        })
      }
      const ping = setInterval(() => out.write(': ping\n\n'), PING_MS)
      agent.on('change', onChange)
      res.once('close', () => {
        clearInterval(ping)
        agent.off('change', onChange)
      })
      w.flush(send)
    }
  }
}

/** The index a reconnecting client has seen up to, if its Last-Event-ID is from this agent's life. */
function resumeIndex (agent: Agent, header: string | string[] | undefined): number | undefined {
  const m = typeof header === 'string' ? /^(\d{1,15})-(\d{1,15})$/.exec(header) : null
  if (m === null || Number(m[1]) !== agent.generation || Number(m[2]) > agent.index) return undefined
  return Number(m[2])
}

function configWatcher (agent: Agent, history: ConfigHistory, item: (e: Entry) => unknown, prefix: string, req: Request): Watcher {
  let seen = resumeIndex(agent, req.headers['last-event-id'])
  return {
    // Every config change, not only those under the prefix: each flush moves `seen` up to the
    // newest change, so a quiet prefix never falls behind the history's window.
    concerns: kind => kind === 'config',
    flush: send => {
      const missed = seen === undefined ? undefined : history.since(seen)
      if (missed === undefined) {
        send('snapshot', agent.index, JSON.stringify({ items: agent.config.map.list(prefix).map(item) }))
        seen = agent.index
        return
      }
      for (const c of missed) if (c.key.startsWith(prefix)) send(c.event, c.index, c.data)
      seen = history.newest
    }
  }
}

/** Sends the full list whenever it differs from the one sent last. */
function listWatcher (event: string, feed: Feed): Watcher {
  let last: string | undefined
  return {
    concerns: feed.watched.concerns,
    flush: send => {
      const data = JSON.stringify(feed.read())
      if (data === last) return
      last = data
      send(event, feed.watched.index(), data)
    }
  }
}

export function watchRoutes (agent: Agent, views: WatchViews): Route[] {
  const history = new ConfigHistory(agent, views.configItem)
  return [
    {
      method: 'GET',
      pattern: '/v1/watch/config',
      handler: req => eventStream(agent, configWatcher(agent, history, views.configItem, req.query.get('prefix') ?? '', req))
    },
    { method: 'GET', pattern: '/v1/watch/services/:name', handler: (req, p) => eventStream(agent, listWatcher('instances', views.instances(p.name, req))) },
    { method: 'GET', pattern: '/v1/watch/members', handler: () => eventStream(agent, listWatcher('members', views.members)) },
    {
      method: 'GET',
      pattern: '/v1/watch/*kind',
      handler: (_req, p) => { throw new MurmurError('MURMUR_ERR_NOT_FOUND', `no watch '${p.kind}': watch config?prefix=P, services/NAME or members`) }
    }
  ]
}
