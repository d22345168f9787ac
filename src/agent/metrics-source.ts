// The one place the control loop reads members' metrics from the membership layer: they ride
// in member records, republished when a value moves by more than 10 % or after 30 s (further
// apart in clusters above 50 members: core/metrics-pace.ts).
import type { MemberMetrics } from '../core/aggregate.js'
import type { Agent } from './agent.js'
import type { ControlHost } from './controller.js'

/** What the controller needs of its agent: members' metrics and the normal config path. */
export function controlHost (agent: Agent): ControlHost {
  return {
    id: agent.id,
    node: agent.opts.node,
    members: () => memberMetrics(agent),
    servicesIndex: () => agent.servicesIndex,
    get: key => agent.config.get(key),
    list: prefix => agent.config.map.list(prefix),
    set: async (key, value) => await agent.setConfig(key, value),
    del: async key => await agent.deleteConfig(key),
    logger: agent.logger
  }
}

export function memberMetrics (agent: Agent): MemberMetrics[] {
  const now = Date.now()
  // Member times are monotonic; the control loop works in wall time (rules, audit, HLCs).
  const wallOffset = now - (performance.timeOrigin + performance.now())
  return agent.table.list().map(m => {
    const hb = m.hb
    const metrics: Record<string, number> = { ...hb.custom, ...hb.metrics }
    if (hb.metrics.memTotal > 0) metrics.memUsed = Math.round((1 - hb.metrics.memFree / hb.metrics.memTotal) * 1000) / 1000
    return {
      memberId: hb.id,
      name: hb.name,
      generation: hb.generation,
      alive: m.status === 'alive',
      services: hb.services,
      metrics,
      // A live member's record is current by the publication rule (a moved value is sent
      // within 10 s up to 50 members, within N × 200 ms above: core/metrics-pace.ts); for
      // others, what was last heard of them.
      at: hb.id === agent.id || m.status === 'alive' ? now : Math.round(m.lastSeen + wallOffset)
    }
  })
}
