// Sidecar routes of the control loop: custom metrics, cluster aggregates, rules, their audit
// history, and the analyses (README "Control loop").
import type { Agent } from '../agent/agent.js'
import type { Selector } from '../core/aggregate.js'
import { parseDuration } from '../core/duration.js'
import { MurmurError } from '../core/errors.js'
import { formatHlc } from '../core/hlc.js'
import { parseMetricUpdate } from '../core/custom-metrics.js'
import type { Request, Route } from './server.js'

function required (req: Request, name: string): string {
  const v = req.query.get(name)
  if (v === null || v === '') throw new MurmurError('MURMUR_ERR_BAD_REQUEST', `query parameter '${name}' is required`)
  return v
}

function selector (req: Request): Selector {
  const service = req.query.get('service') ?? undefined
  const tag = req.query.get('tag') ?? undefined
  if (tag !== undefined && service === undefined) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', "query parameter 'tag' needs 'service'")
  return { service, tag }
}

export function controlRoutes (agent: Agent): Route[] {
  const c = agent.controller
  return [
    {
      method: 'PUT',
      pattern: '/v1/agent/metrics',
      handler: async (req) => {
        agent.custom.put(parseMetricUpdate(await req.json()), Date.now())
        return { body: { metrics: agent.custom.current(), published: agent.custom.published(Date.now()) } }
      }
    },
    {
      method: 'GET',
      pattern: '/v1/agent/metrics',
      handler: () => ({ body: { metrics: agent.custom.current(), published: agent.custom.published(Date.now()) } })
    },
    {
      method: 'GET',
      pattern: '/v1/cluster/metrics',
      handler: (req) => {
        const select = selector(req)
        const metric = req.query.get('metric')
        if (metric !== null) return { body: c.clusterMetric(metric, select) }
        return { body: { items: c.metricNames(select).map(m => c.clusterMetric(m, select)) } }
      }
    },
    { method: 'GET', pattern: '/v1/rules', handler: () => ({ body: { items: c.rules() } }) },
    { method: 'GET', pattern: '/v1/rules/:name', handler: (_req, p) => ({ body: c.rule(p.name) }) },
    {
      method: 'PUT',
      pattern: '/v1/rules/:name',
      handler: async (req, p) => {
        const e = await c.putRule(p.name, await req.json())
        return { body: { name: p.name, rule: e.value, version: formatHlc(e.hlc) } }
      }
    },
    {
      method: 'DELETE',
      pattern: '/v1/rules/:name',
      handler: async (_req, p) => {
        await c.deleteRule(p.name)
        return { body: { name: p.name, deleted: true } }
      }
    },
    { method: 'GET', pattern: '/v1/rules/:name/history', handler: (_req, p) => ({ body: { items: c.history(p.name) } }) },
    {
      method: 'GET',
      pattern: '/v1/analysis/impact',
      handler: (req) => {
        const w = req.query.get('window') ?? '60s'
        const windowMs = parseDuration(w)
        if (windowMs === undefined || windowMs < 1000 || windowMs > 3_600_000) throw new MurmurError('MURMUR_ERR_BAD_REQUEST', "query parameter 'window' must be a duration from 1s to 1h")
        return { body: c.impact(required(req, 'key'), required(req, 'metric'), selector(req), windowMs) }
      }
    },
    { method: 'GET', pattern: '/v1/analysis/arrivals', handler: (req) => ({ body: c.arrivalsOf(required(req, 'service')) }) }
  ]
}
