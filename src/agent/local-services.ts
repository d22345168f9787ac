// The services registered with this agent: validation, persistence, and the health checks the
// agent runs for them. Every change (registration or health) calls `changed`, which makes the
// agent send a heartbeat at once, so the cluster learns of it within one gossip hop.
import type { SecureContext } from 'node:tls'
import { MurmurError } from '../core/errors.js'
import { parseService, SERVICE_LIMITS, type HealthStatus, type ServiceRecord } from '../core/service.js'
import { saveServices } from '../store/services.js'
import { HealthChecks } from './checks.js'
import type { Logger } from './log.js'

export class LocalServices {
  private readonly records = new Map<string, ServiceRecord>()
  private readonly checks: HealthChecks

  constructor (
    private readonly address: string,
    private readonly dataDir: string | undefined,
    private readonly logger: Logger,
    private readonly changed: () => Promise<void>,
    /** The TLS context of HTTPS checks, undefined for Node's default (see extra-ca.ts). */
    tls: () => SecureContext | undefined
  ) {
    this.checks = new HealthChecks((id, health, output) => { this.onHealth(id, health, output) }, tls)
  }

  /** Records loaded from disk. Health is not trusted across a restart: checks start over. */
  restore (saved: readonly ServiceRecord[]): void {
    for (const s of saved) {
      const { health: _h, output: _o, since: _s, ...registration } = s
      this.records.set(s.id, parseService(registration, s.address))
    }
    this.checks.sync(this.records.values())
  }

  list (): ServiceRecord[] {
    return [...this.records.values()]
  }

  get size (): number { return this.records.size }

  async register (input: unknown): Promise<ServiceRecord> {
    const parsed = parseService(input, this.address)
    const prev = this.records.get(parsed.id)
    // Re-registering with the same check keeps its current health instead of resetting it.
    const record = prev !== undefined && JSON.stringify(prev.check) === JSON.stringify(parsed.check)
      ? { ...parsed, health: prev.health, output: prev.output, since: prev.since }
      : { ...parsed, since: Date.now() }
    if (prev === undefined && this.records.size >= SERVICE_LIMITS.perAgent) {
      throw new MurmurError('MURMUR_ERR_BAD_SERVICE', `an agent hosts at most ${SERVICE_LIMITS.perAgent} services`)
    }
    await this.save(new Map(this.records).set(record.id, record))
    this.logger('info', 'services', 'registered', { id: record.id, name: record.name, port: record.port })
    return record
  }

  async deregister (id: string): Promise<ServiceRecord> {
    const record = this.get(id)
    const next = new Map(this.records)
    next.delete(id)
    await this.save(next)
    this.logger('info', 'services', 'deregistered', { id, name: record.name })
    return record
  }

  /** A TTL check update from the service. */
  ttl (id: string, status: 'pass' | 'warn' | 'fail', output: string): ServiceRecord {
    this.get(id)
    this.checks.ttl(id, status, output)
    return this.get(id)
  }

  stop (): void {
    this.checks.stop()
  }

  private get (id: string): ServiceRecord {
    const record = this.records.get(id)
    if (record === undefined) throw new MurmurError('MURMUR_ERR_NOT_FOUND', `no service with id '${id}' is registered on this agent`)
    return record
  }

  private onHealth (id: string, health: HealthStatus, output: string): void {
    const cur = this.records.get(id)
    if (cur === undefined || (cur.health === health && cur.output === output)) return
    this.records.set(id, { ...cur, health, output, since: cur.health === health ? cur.since : Date.now() })
    if (cur.health === health) return
    this.logger('info', 'health', health, { id, output })
    this.changed().catch(() => {})
  }

  private async save (next: Map<string, ServiceRecord>): Promise<void> {
    // Durable first: a registration the service was told about survives a restart.
    if (this.dataDir !== undefined) await saveServices(this.dataDir, next.values())
    this.records.clear()
    for (const [k, v] of next) this.records.set(k, v)
    this.checks.sync(this.records.values())
    await this.changed()
  }
}
