// Consul's HTTP API, the read side and local registration, as real clients use it (Prometheus
// service discovery, consul-template, Traefik, the `consul` npm client, python-consul). There is
// no server and no leader: every agent answers from its own replica, as Consul answers a
// `?stale` read. README "Consul-compatible API" lists what is served and what differs.
import type { Agent } from '../../agent/agent.js'
import type { Instance } from '../../core/catalog.js'
import { MurmurError } from '../../core/errors.js'
import { isLive } from '../../core/members.js'
import { afterBlock, type Watched } from '../blocking.js'
import type { Request, Route } from '../server.js'
import { kvRoutes } from './kv.js'
import { consulBlock, consulHeaders, consulReply, present } from './query.js'
import { ConsulExtras, parseConsulRegistration } from './registration.js'
import { catalogEntry, consulNode, healthEntry, memberFacts, membersByName, nodeMetaMatches, serfMember } from './shapes.js'

/** The Consul version whose API this mirrors; clients that check versions see this one. */
export const CONSUL_API_VERSION = '1.15.0'

/** `Config` and `Member` of Consul's `/v1/agent/self`, merged into murmur's own answer there. */
export function consulSelf (agent: Agent, version: string): Record<string, unknown> {
  const self = agent.members().find(m => m.hb.id === agent.id)
  const dc = agent.opts.cluster
  return {
    Config: {
      Datacenter: dc,
      PrimaryDatacenter: dc,
      NodeName: agent.opts.node,
      NodeID: '',
      Server: false,
      Revision: `murmur-${version}`,
      Version: CONSUL_API_VERSION
    },
    Member: self === undefined ? {} : serfMember(memberFacts(self), dc),
    Meta: {}
  }
}

/** `?tag=` (repeated: an instance must carry every one) and `?node-meta=`, applied in order. */
function selected (agent: Agent, req: Request, name: string, passing: boolean): Array<{ inst: Instance, node: Record<string, unknown> }> {
  const tags = req.query.getAll('tag').filter(t => t !== '')
  const metas = req.query.getAll('node-meta')
  const nodes = membersByName(agent)
  const out: Array<{ inst: Instance, node: Record<string, unknown> }> = []
  for (const inst of agent.instances(name, { healthy: passing || undefined })) {
    const facts = nodes.get(inst.node)
    if (facts === undefined || !tags.every(t => inst.tags.includes(t))) continue
    const node = consulNode(facts, agent.opts.cluster)
    if (nodeMetaMatches(node, metas)) out.push({ inst, node })
  }
  return out
}

/** The kind of check each instance has ('ttl' | 'http' | 'tcp'), by node id and service id. */
function checkKinds (agent: Agent): (inst: Instance) => string | undefined {
  const kinds = new Map<string, string>()
  for (const m of agent.members()) {
    for (const s of m.hb.services) {
      if (s.check !== undefined) kinds.set(`${m.hb.id}/${s.id}`, 'ttl' in s.check ? 'ttl' : 'http' in s.check ? 'http' : 'tcp')
    }
  }
  return inst => kinds.get(`${inst.nodeId}/${inst.id}`)
}

export function consulRoutes (agent: Agent): Route[] {
  const services: Watched = { index: () => agent.servicesIndex, concerns: kind => kind !== 'config' }
  const members: Watched = { index: () => agent.memberIndex, concerns: kind => kind === 'member' }
  const extras = new ConsulExtras(agent)
  const dc = agent.opts.cluster

  const ttl = (status: 'pass' | 'warn' | 'fail') => async (req: Request, p: Record<string, string>) => {
    agent.ttl(extras.serviceOf(p.id), status, req.query.get('note') ?? '')
    return consulReply(agent, agent.servicesIndex, null)
  }

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: '/v1/catalog/services',
      handler: async req => {
        await consulBlock(agent, req, services)
        const metas = req.query.getAll('node-meta')
        const byName: Record<string, string[]> = {}
        if (metas.length === 0) for (const s of agent.services()) byName[s.name] = s.tags
        else for (const s of agent.services()) if (selected(agent, req, s.name, false).length > 0) byName[s.name] = s.tags
        return consulReply(agent, agent.servicesIndex, byName)
      }
    },
    {
      method: 'GET',
      pattern: '/v1/catalog/service/:name',
      handler: async (req, p) => {
        await consulBlock(agent, req, services)
        return consulReply(agent, agent.servicesIndex, selected(agent, req, p.name, false).map(x => catalogEntry(x.inst, x.node)))
      }
    },
    {
      method: 'GET',
      pattern: '/v1/health/service/:name',
      handler: (req, p) => afterBlock(consulBlock(agent, req, services), () => {
        const kind = checkKinds(agent)
        return consulReply(agent, agent.servicesIndex, selected(agent, req, p.name, present(req, 'passing')).map(x => healthEntry(x.inst, x.node, kind(x.inst))))
      })
    },
    {
      method: 'GET',
      pattern: '/v1/catalog/nodes',
      handler: async req => {
        await consulBlock(agent, req, members)
        const metas = req.query.getAll('node-meta')
        const nodes = agent.members().filter(isLive).map(m => consulNode(memberFacts(m), dc))
        return consulReply(agent, agent.memberIndex, nodes.filter(n => nodeMetaMatches(n, metas)))
      }
    },
    { method: 'GET', pattern: '/v1/catalog/datacenters', handler: () => consulReply(agent, agent.memberIndex, [dc]) },
    {
      method: 'GET',
      pattern: '/v1/agent/members',
      handler: () => consulReply(agent, agent.memberIndex, agent.members().map(m => serfMember(memberFacts(m), dc)))
    },
    {
      method: 'PUT',
      pattern: '/v1/agent/service/register',
      handler: async req => {
        // Consul takes JSON under any content type, and its clients rely on that.
        const r = parseConsulRegistration(await req.json({ anyContentType: true }))
        const record = await agent.register(r.service)
        extras.remember(record.id, r)
        return consulReply(agent, agent.servicesIndex, null)
      }
    },
    {
      method: 'PUT',
      pattern: '/v1/agent/service/deregister/:id',
      handler: async (_req, p) => {
        await agent.deregister(p.id)
        extras.forget(p.id)
        return consulReply(agent, agent.servicesIndex, null)
      }
    },
    { method: 'PUT', pattern: '/v1/agent/check/pass/:id', handler: ttl('pass') },
    { method: 'PUT', pattern: '/v1/agent/check/warn/:id', handler: ttl('warn') },
    { method: 'PUT', pattern: '/v1/agent/check/fail/:id', handler: ttl('fail') },
    {
      method: 'PUT',
      pattern: '/v1/agent/check/update/:id',
      handler: async (req, p) => {
        const body = await req.json({ anyContentType: true }) as { Status?: unknown, Output?: unknown } | null
        const status = { passing: 'pass', warning: 'warn', critical: 'fail' }[String(body?.Status)] as 'pass' | 'warn' | 'fail' | undefined
        if (status === undefined) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', 'body must be {"Status": "passing" | "warning" | "critical", "Output"?: string}')
        agent.ttl(extras.serviceOf(p.id), status, typeof body?.Output === 'string' ? body.Output : '')
        return consulReply(agent, agent.servicesIndex, null)
      }
    },
    // No leader: each agent names itself, and its peers are the members it can reach. Clients
    // that only check for a non-empty leader (consul-template, Traefik's health) are satisfied.
    {
      method: 'GET',
      pattern: '/v1/status/leader',
      handler: () => {
        const self = agent.members().find(m => m.hb.id === agent.id)
        const f = self === undefined ? undefined : memberFacts(self)
        return consulReply(agent, agent.memberIndex, f === undefined ? '' : `${f.address}:${f.port}`)
      }
    },
    {
      method: 'GET',
      pattern: '/v1/status/peers',
      handler: () => consulReply(agent, agent.memberIndex, agent.members().filter(m => m.status === 'alive').map(m => memberFacts(m)).map(f => `${f.address}:${f.port}`))
    },
    ...kvRoutes(agent)
  ]
  const errorHeaders = (): Record<string, string> => consulHeaders(agent, agent.index)
  return routes.map(r => ({ ...r, errorHeaders }))
}
