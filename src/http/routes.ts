// The sidecar API (README "Sidecar API" documents every route).
import type { Agent } from '../agent/agent.js'
import { checkKey } from '../core/config.js'
import { MurmurError } from '../core/errors.js'
import { formatHlc } from '../core/hlc.js'
import type { Entry } from '../core/lww.js'
import { afterBlock, block, type Watched } from './blocking.js'
import { BodyCache } from './body-cache.js'
import { ConfigReplies } from './config-replies.js'
import { consulHeaders } from './consul/query.js'
import { consulRoutes, consulSelf } from './consul/routes.js'
import { controlRoutes } from './control-routes.js'
import type { SidecarMetrics } from './metrics.js'
import { uiRoutes } from './ui/routes.js'
import type { Reply, Request, Route } from './server.js'
import { watchRoutes } from './watch.js'
import { VERSION } from '../version.js'

export { VERSION } from '../version.js'

function configItem (agent: Agent, e: Entry, originName = agent.table.get(e.origin)?.hb.name): Record<string, unknown> {
  return {
    key: e.key,
    value: e.value,
    version: { hlc: formatHlc(e.hlc), origin: e.origin, originName },
    updatedAt: new Date(e.hlc.wall).toISOString()
  }
}

function indexed (index: number, body: unknown): Reply {
  return { body, headers: { 'x-murmur-index': String(index) } }
}

function withConsulHeaders (agent: Agent, reply: Reply): Reply {
  return { ...reply, headers: { ...reply.headers, ...consulHeaders(agent, agent.index) } }
}



function flag (req: Request, name: string): boolean | undefined {
  const v = req.query.get(name)
  if (v === null) return undefined
  if (v === '' || v === 'true' || v === '1') return true
  if (v === 'false' || v === '0') return false
  throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `query parameter '${name}' must be true or false`)
}

function instanceFilter (req: Request): { healthy?: boolean, tag?: string } {
  return { healthy: flag(req, 'healthy'), tag: req.query.get('tag') ?? undefined }
}

export function memberView (agent: Agent): Array<Record<string, unknown>> {
  const wallOffset = Date.now() - (performance.timeOrigin + performance.now())
  return agent.members().map(m => ({
    name: m.hb.name,
    id: m.hb.id,
    address: m.hb.address,
    addrs: m.hb.addrs,
    status: m.status,
    generation: m.hb.generation,
    counter: m.hb.counter,
    lastSeen: new Date(Math.round(m.lastSeen + wallOffset)).toISOString(),
    statusSince: new Date(Math.round(m.since + wallOffset)).toISOString(),
    self: m.hb.id === agent.id,
    services: m.hb.services.length,
    metrics: m.hb.metrics
  }))
}

export function routes (agent: Agent, onLeave: () => void, metrics: SidecarMetrics): Route[] {
  // The two hottest reads answer from serialised bodies while what they read is unchanged.
  const instancesCache = new BodyCache()
  const configReplies = new ConfigReplies(agent, (e, originName) => configItem(agent, e, originName))
  const memberWatch: Watched = { index: () => agent.memberIndex, concerns: kind => kind === 'member' }
  const servicesWatch: Watched = { index: () => agent.servicesIndex, concerns: kind => kind !== 'config' }
  return [
    {
      method: 'GET',
      pattern: '/v1/agent/self',
      // Consul's clients read this route too (Prometheus first of all): its headers as well.
      errorHeaders: () => consulHeaders(agent, agent.index),
      handler: () => withConsulHeaders(agent, indexed(agent.index, {
        name: agent.opts.node,
        id: agent.id,
        cluster: agent.opts.cluster,
        generation: agent.generation,
        address: agent.address,
        addrs: agent.host.addresses(),
        version: VERSION,
        startedAt: new Date(agent.startedAt).toISOString(),
        peers: agent.host.connectedPeers().length,
        config: { keys: agent.config.map.liveSize, tombstones: agent.config.map.tombstoneCount, bytes: agent.config.map.bytes },
        counters: agent.counters,
        // Open blocking queries and event streams: each holds one listener while it waits.
        watchers: agent.listenerCount('change'),
        // Consul clients (Prometheus first of all) read Config and Member from this route.
        ...consulSelf(agent, VERSION)
      }))
    },
    {
      method: 'GET',
      pattern: '/v1/members',
      handler: async (req) => {
        await block(agent, req, memberWatch)
        return indexed(agent.memberIndex, memberView(agent))
      }
    },
    { method: 'GET', pattern: '/v1/agent/services', handler: () => indexed(agent.servicesIndex, agent.localServices()) },
    {
      method: 'PUT',
      pattern: '/v1/agent/services',
      handler: async (req) => ({ body: await agent.register(await req.json()) })
    },
    {
      method: 'DELETE',
      pattern: '/v1/agent/services/:id',
      handler: async (_req, p) => ({ body: await agent.deregister(p.id) })
    },
    {
      method: 'PUT',
      pattern: '/v1/agent/services/:id/ttl',
      handler: async (req, p) => {
        const body = await req.json()
        const o = (typeof body === 'string' ? { status: body } : body) as { status?: unknown, output?: unknown }
        if (typeof o !== 'object' || o === null || !['pass', 'warn', 'fail'].includes(o.status as string)) {
          throw new MurmurError('MURMUR_ERR_BAD_REQUEST', 'body must be {"status": "pass" | "warn" | "fail", "output"?: string}')
        }
        if (o.output !== undefined && typeof o.output !== 'string') throw new MurmurError('MURMUR_ERR_BAD_REQUEST', 'output must be a string')
        return { body: agent.ttl(p.id, o.status as 'pass' | 'warn' | 'fail', (o.output as string | undefined) ?? '') }
      }
    },
    {
      method: 'PUT',
      pattern: '/v1/agent/leave',
      handler: () => {
        setImmediate(onLeave)
        return { body: { leaving: true } }
      }
    },
    {
      method: 'PUT',
      pattern: '/v1/agent/join',
      handler: async (req) => {
        const address = req.query.get('address')
        if (address === null || address === '') throw new MurmurError('MURMUR_ERR_BAD_REQUEST', 'query parameter \'address\' (HOST:PORT or a multiaddr) is required')
        return { body: await agent.join(address) }
      }
    },
    {
      method: 'PUT',
      pattern: '/v1/agent/force-leave/:name',
      handler: (_req, p) => ({ body: agent.forceLeave(p.name) })
    },
    // An empty key would miss the key routes below and answer NO_ROUTE; say what is wrong.
    ...['GET', 'PUT', 'DELETE'].map(method => ({ method, pattern: '/v1/config/', handler: () => { throw new MurmurError('MURMUR_ERR_BAD_KEY', 'config key must not be empty') } })),
    {
      method: 'GET',
      pattern: '/v1/services',
      handler: async (req) => {
        await block(agent, req, servicesWatch)
        return indexed(agent.servicesIndex, agent.services())
      }
    },
    {
      method: 'GET',
      pattern: '/v1/services/:name',
      handler: (req, p) => {
        const opts = instanceFilter(req)
        return afterBlock(block(agent, req, servicesWatch), () => {
          const index = agent.servicesIndex
          return instancesCache.reply(`${p.name}\0${String(opts.healthy)}\0${opts.tag ?? ''}`, index, index, () => agent.instances(p.name, opts))
        })
      }
    },
    {
      method: 'GET',
      pattern: '/v1/config',
      handler: async (req) => {
        const prefix = req.query.get('prefix') ?? ''
        await block(agent, req, { index: () => agent.configPrefixIndex(prefix), concerns: (kind, key) => kind === 'config' && key?.startsWith(prefix) === true })
        return indexed(agent.configPrefixIndex(prefix), { items: agent.config.map.list(prefix).map(e => configItem(agent, e)) })
      }
    },
    {
      method: 'GET',
      pattern: '/v1/config/*key',
      handler: (req, p) => {
        // Most reads: no query (nothing to block on or validate) and an answer held for the key.
        if (req.query.size === 0) {
          const held = configReplies.current(p.key)
          if (held !== undefined) return held
        }
        const key = checkKey(p.key)
        const index = (): number => agent.configIndex.get(key) ?? 1
        return afterBlock(block(agent, req, { index, concerns: (kind, k) => kind === 'config' && k === key }), () => {
          const e = agent.config.get(key)
          if (e === undefined) throw new MurmurError('MURMUR_ERR_NOT_FOUND', `config key '${p.key}' is not set`)
          return configReplies.reply(key, e)
        })
      }
    },
    {
      method: 'PUT',
      pattern: '/v1/config/*key',
      handler: async (req, p) => {
        checkKey(p.key)
        return { body: configItem(agent, await agent.setConfig(p.key, await req.json())) }
      }
    },
    {
      method: 'DELETE',
      pattern: '/v1/config/*key',
      handler: async (_req, p) => {
        const { entry, existed } = await agent.deleteConfig(p.key)
        return { body: { key: entry.key, deleted: true, existed, version: { hlc: formatHlc(entry.hlc), origin: entry.origin } } }
      }
    },
    { method: 'GET', pattern: '/metrics', handler: async () => { const { text, contentType } = await metrics.scrape(); return { text, headers: { 'content-type': contentType } } } },
    ...controlRoutes(agent),
    ...watchRoutes(agent, {
      configItem: e => configItem(agent, e),
      members: { watched: memberWatch, read: () => memberView(agent) },
      instances: (name, req) => {
        const opts = instanceFilter(req)
        return { watched: servicesWatch, read: () => agent.instances(name, opts) }
      }
    }),
    ...consulRoutes(agent),
    ...uiRoutes()
  ]
}
