// murmur's members and instances in Consul's JSON shapes (Node, Service, Checks, Serf member).
// Member fields are read in one function, `memberFacts`, so a change to the member table's
// shape is adapted here once.
import type { Agent } from '../../agent/agent.js'
import type { Instance } from '../../core/catalog.js'
import type { HealthStatus } from '../../core/service.js'

type AgentMember = ReturnType<Agent['members']>[number]

export interface MemberFacts {
  name: string
  id: string
  address: string
  /** libp2p TCP port, from the member's first TCP address; 0 when it lists none. */
  port: number
  status: 'alive' | 'suspect' | 'failed' | 'left'
  generation: number
}

export function memberFacts (m: AgentMember): MemberFacts {
  const tcp = m.hb.addrs.map(a => /\/tcp\/(\d+)/.exec(a)).find(x => x !== null)
  return {
    name: m.hb.name,
    id: m.hb.id,
    address: m.hb.address,
    port: tcp === undefined || tcp === null ? 0 : Number(tcp[1]),
    status: m.status,
    generation: m.hb.generation
  }
}

/** Facts of every member by name. */
export function membersByName (agent: Agent): Map<string, MemberFacts> {
  return new Map(agent.members().map(m => { const f = memberFacts(m); return [f.name, f] }))
}

// Serf's member status numbers (serf/serf.go: StatusNone, Alive, Leaving, Left, Failed).
// A suspect member is still alive to Serf.
const SERF_STATUS = { alive: 1, suspect: 1, left: 3, failed: 4 } as const

/** A member as Serf/Consul's `/v1/agent/members` and `agent/self`'s Member give it. */
export function serfMember (f: MemberFacts, dc: string): Record<string, unknown> {
  return {
    Name: f.name,
    Addr: f.address,
    Port: f.port,
    Tags: { dc, role: 'node', id: f.id, generation: String(f.generation) },
    Status: SERF_STATUS[f.status],
    ProtocolMin: 1,
    ProtocolMax: 5,
    ProtocolCur: 2,
    DelegateMin: 2,
    DelegateMax: 5,
    DelegateCur: 4
  }
}

export function consulNode (f: MemberFacts, dc: string): Record<string, unknown> {
  return {
    ID: '',
    Node: f.name,
    Address: f.address,
    Datacenter: dc,
    TaggedAddresses: { lan: f.address, lan_ipv4: f.address, wan: f.address, wan_ipv4: f.address },
    Meta: {}
  }
}

/** `node-meta=KEY:VALUE` filters (repeated: all must match) against a node's Meta. */
export function nodeMetaMatches (node: Record<string, unknown>, filters: string[]): boolean {
  const meta = node.Meta as Record<string, string>
  return filters.every(f => {
    const i = f.indexOf(':')
    return i > 0 && meta[f.slice(0, i)] === f.slice(i + 1)
  })
}

function weights (inst: Instance): { Passing: number, Warning: number } {
  return { Passing: inst.weight, Warning: 1 }
}

/** An entry of `/v1/catalog/service/:name`. */
export function catalogEntry (inst: Instance, node: Record<string, unknown>): Record<string, unknown> {
  return {
    ID: node.ID,
    Node: node.Node,
    Address: node.Address,
    Datacenter: node.Datacenter,
    TaggedAddresses: node.TaggedAddresses,
    NodeMeta: node.Meta,
    ServiceKind: '',
    ServiceID: inst.id,
    ServiceName: inst.name,
    ServiceTags: inst.tags,
    ServiceAddress: inst.address,
    ServiceTaggedAddresses: {},
    ServiceWeights: weights(inst),
    ServiceMeta: inst.meta,
    ServicePort: inst.port,
    ServiceEnableTagOverride: false,
    CreateIndex: 1,
    ModifyIndex: 1
  }
}

function check (inst: Instance, id: string, name: string, status: HealthStatus, output: string, serviceId: string, type: string): Record<string, unknown> {
  return {
    Node: inst.node,
    CheckID: id,
    Name: name,
    Status: status,
    Notes: '',
    Output: output,
    ServiceID: serviceId,
    ServiceName: serviceId === '' ? '' : inst.name,
    ServiceTags: serviceId === '' ? [] : inst.tags,
    Type: type,
    CreateIndex: 1,
    ModifyIndex: 1
  }
}

/**
 * An entry of `/v1/health/service/:name`: the node's liveness as Consul's `serfHealth` check
 * (a suspect member is `warning`, so `?passing` leaves it out as murmur's healthy filter does)
 * and, when the service has a check, the service's own check.
 */
export function healthEntry (inst: Instance, node: Record<string, unknown>, checkType: string | undefined): Record<string, unknown> {
  const checks = [inst.memberStatus === 'alive'
    ? check(inst, 'serfHealth', 'Serf Health Status', 'passing', 'Agent alive and reachable', '', '')
    : check(inst, 'serfHealth', 'Serf Health Status', 'warning', 'Agent is suspect: heartbeats are late', '', '')]
  if (checkType !== undefined) checks.push(check(inst, `service:${inst.id}`, `Service '${inst.name}' check`, inst.health, inst.output, inst.id, checkType))
  return {
    Node: node,
    Service: {
      ID: inst.id,
      Service: inst.name,
      Tags: inst.tags,
      Address: inst.address,
      TaggedAddresses: {},
      Meta: inst.meta,
      Port: inst.port,
      Weights: weights(inst),
      EnableTagOverride: false
    },
    Checks: checks
  }
}
