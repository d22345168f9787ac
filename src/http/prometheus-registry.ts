// The prom-client registry behind `GET /metrics`, made at the first scrape (see metrics.ts):
// murmur's gauges and counters, read from the agent by collect hooks, the sidecar's request
// durations, and prom-client's default process and Node.js metrics (event-loop lag and GC
// durations are sampled from the first scrape on).
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client'
import type { Agent } from '../agent/agent.js'
import { COUNTERS, type CounterName } from '../agent/counters.js'
import type { RequestDurations } from './request-durations.js'

export function prometheusRegistry (agent: Agent, version: string, duration: RequestDurations): Registry {
  const registry = new Registry()
  const registers = [registry]
  // prom-client samples event-loop lag with a 10 ms timer by default: a hundred wake-ups a
  // second, about 0.8 % of a core on an otherwise idle agent (issue 10). A one-second sample
  // still reports lag percentiles an operator can act on, for a tenth of that.
  const spent = process.cpuUsage()
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 })
  // prom-client counts CPU from its own set-up on; the process's CPU before it (start-up and
  // the time until the first scrape) is added once, so the totals are the process's own.
  for (const [name, micros] of [['user_', spent.user], ['system_', spent.system], ['', spent.user + spent.system]] as const) {
    (registry.getSingleMetric(`process_cpu_${name}seconds_total`) as Counter).inc(micros / 1e6)
  }
  new Gauge({
    name: 'murmur_build_info',
    help: 'Always 1; the labels name the murmur version and the Node.js version running it.',
    labelNames: ['version', 'node'],
    registers
  }).set({ version, node: process.version }, 1)
  new Gauge({
    name: 'murmur_members',
    help: 'Members in this agent\'s table, by status.',
    labelNames: ['status'],
    registers,
    collect () {
      const by = { alive: 0, suspect: 0, failed: 0, left: 0 }
      for (const m of agent.table.list()) by[m.status]++
      for (const [status, n] of Object.entries(by)) this.set({ status }, n)
    }
  })
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers, collect () { this.set(read()) } })
  }
  gauge('murmur_config_keys', 'Live (not deleted) config keys held.', () => agent.config.map.liveSize)
  gauge('murmur_config_tombstones', 'Deleted config keys still remembered, until the tombstone TTL.', () => agent.config.map.tombstoneCount)
  gauge('murmur_config_bytes', 'Bytes of config keys and JSON values held (what --max-config-bytes limits).', () => agent.config.map.bytes)
  gauge('murmur_local_services', 'Services registered with this agent.', () => agent.localServices().length)
  gauge('murmur_peers_connected', 'Peers with an open libp2p connection to this agent.', () => agent.host.connectedPeers().length)
  gauge('murmur_awareness', 'Local health score (Lifeguard): 0 is healthy; probe timeouts are stretched by score + 1.', () => agent.awareness)
  gauge('murmur_http_watchers', 'Open blocking queries and event streams on the sidecar.', () => agent.listenerCount('change'))
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({ name, help, registers, collect () { this.reset(); this.inc(read()) } })
  }
  counter('murmur_gossip_in_bytes_total', 'Bytes of gossip payload received.', () => agent.host.bytesIn)
  counter('murmur_gossip_out_bytes_total', 'Bytes of gossip payload sent.', () => agent.host.bytesOut)
  for (const [key, [name, help]] of Object.entries(COUNTERS)) counter(name, help, () => agent.counters[key as CounterName])
  const control = agent.controller.counters
  counter('murmur_control_rounds_total', 'Rounds of the control loop (every rule evaluated once).', () => control.rounds)
  counter('murmur_control_changes_total', 'Config changes written by control rules.', () => control.fired)
  counter('murmur_control_dry_runs_total', 'Changes control rules in dry-run mode would have written.', () => control.dryRuns)
  counter('murmur_control_write_failures_total', 'Config writes of control rules that failed.', () => control.writeFailures)
  // Not one of prom-client's classes, but what its Registry asks of a metric (name, help,
  // type, get, getForPromString, reset).
  registry.registerMetric(duration as unknown as Metric)
  return registry
}
