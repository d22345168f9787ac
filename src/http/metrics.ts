// `GET /metrics`: the agent's state and counters, the sidecar's request durations, and the
// process and Node.js runtime metrics, in the Prometheus text format through prom-client. State
// is read from the agent when scraped (gauges and counters with a collect hook), so nothing is
// counted twice and an agent that is never scraped does no metrics work beyond the histogram.
// prom-client itself (its modules and the default metrics' set-up, 7 % of the samples in a
// profile of an agent's start) is loaded at the first scrape: request durations are kept from the start in
// RequestDurations, which needs none of it.
import type { Registry } from 'prom-client'
import type { Agent } from '../agent/agent.js'
import { RequestDurations } from './request-durations.js'
import type { Observe } from './server.js'

/** Seconds. Reads answer in well under a millisecond; blocking queries wait up to 10 min. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600]

export class SidecarMetrics {
  private readonly duration = new RequestDurations(
    'murmur_http_request_duration_seconds',
    'Time from a sidecar request to its answer, by method, route pattern and status class; blocking queries include their wait, event streams end at their first byte.',
    BUCKETS)

  private registry: Promise<Registry> | undefined

  constructor (private readonly agent: Agent, private readonly version: string) {}

  /** Record one answered request; `route` is the matched pattern (bounded), never the raw path. */
  readonly observe: Observe = (method, route, status, seconds) => { this.duration.observe(method, route, status, seconds) }

  /** The exposition text and its content type. */
  async scrape (): Promise<{ text: string, contentType: string }> {
    this.registry ??= import('./prometheus-registry.js').then(m => m.prometheusRegistry(this.agent, this.version, this.duration))
    const registry = await this.registry
    return { text: await registry.metrics(), contentType: registry.contentType }
  }
}
