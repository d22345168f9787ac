// Service catalog queries over the member table: pure functions of the members' heartbeats.
import { isLive, type Member } from './members.js'
import type { HealthStatus } from './service.js'

export interface Instance {
  id: string
  name: string
  node: string
  nodeId: string
  address: string
  port: number
  tags: string[]
  meta: Record<string, string>
  weight: number
  health: HealthStatus
  output: string
  /** Wall time (ms) of the last health change. */
  since: number
  memberStatus: Member['status']
}

export function instancesOf (members: readonly Member[], name: string, opts: { healthy?: boolean, tag?: string } = {}): Instance[] {
  const out: Instance[] = []
  for (const m of members) {
    if (!isLive(m)) continue
    if (opts.healthy === true && m.status !== 'alive') continue
    for (const s of m.hb.services) {
      if (s.name !== name) continue
      if (opts.healthy === true && s.health !== 'passing') continue
      if (opts.tag !== undefined && !s.tags.includes(opts.tag)) continue
      out.push({
        id: s.id,
        name: s.name,
        node: m.hb.name,
        nodeId: m.hb.id,
        address: s.address,
        port: s.port,
        tags: [...s.tags],
        meta: { ...s.meta },
        weight: s.weight,
        health: s.health,
        output: s.output,
        since: s.since,
        memberStatus: m.status
      })
    }
  }
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.id < b.id ? -1 : 1))
}

export interface ServiceSummary { name: string, instances: number, passing: number, tags: string[] }

export function serviceSummaries (members: readonly Member[]): ServiceSummary[] {
  const byName = new Map<string, { instances: number, passing: number, tags: Set<string> }>()
  for (const m of members) {
    if (!isLive(m)) continue
    for (const s of m.hb.services) {
      const row = byName.get(s.name) ?? { instances: 0, passing: 0, tags: new Set<string>() }
      row.instances++
      if (s.health === 'passing' && m.status === 'alive') row.passing++
      for (const t of s.tags) row.tags.add(t)
      byName.set(s.name, row)
    }
  }
  return [...byName.entries()]
    .map(([name, r]) => ({ name, instances: r.instances, passing: r.passing, tags: [...r.tags].sort() }))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
}
