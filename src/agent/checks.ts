// Health checks the agent runs for its registered services, like Consul's: TTL (the service
// reports pass/warn/fail before the TTL runs out), HTTP (GET, 2xx passes, 429 warns, on a new
// connection each time, as Consul's), TCP (connect). Results go to `report`; the agent stamps
// them into the service record and sends a heartbeat at once, so every agent learns of a
// change within one gossip hop.
import { get as httpGet } from 'node:http'
import { get as httpsGet } from 'node:https'
import { connect } from 'node:net'
import type { SecureContext } from 'node:tls'
import { MurmurError } from '../core/errors.js'
import { OUTPUT_MAX, parseCheck, type Check, type HealthStatus, type ServiceRecord } from '../core/service.js'

export type Report = (id: string, health: HealthStatus, output: string) => void

interface Running { spec: string, check: Check, timer?: NodeJS.Timeout, abort: AbortController }

export class HealthChecks {
  private readonly running = new Map<string, Running>()

  /** `tls`: the TLS context of HTTPS checks, undefined for Node's default (see extra-ca.ts). */
  constructor (private readonly report: Report, private readonly tls: () => SecureContext | undefined) {}

  /** Start, restart or stop checks so that they match the registered services. */
  sync (services: Iterable<ServiceRecord>): void {
    const wanted = new Map<string, ServiceRecord>()
    for (const s of services) if (s.check !== undefined) wanted.set(s.id, s)
    for (const [id, r] of this.running) {
      if (wanted.get(id) === undefined || JSON.stringify(wanted.get(id)?.check) !== r.spec) this.stopOne(id)
    }
    for (const [id, s] of wanted) if (!this.running.has(id)) this.startOne(id, s)
  }

  /** A TTL update from the service. */
  ttl (id: string, status: 'pass' | 'warn' | 'fail', output: string): void {
    const r = this.running.get(id)
    if (r === undefined || r.check.kind !== 'ttl') throw new MurmurError('MURMUR_ERR_NOT_FOUND', `service '${id}' has no TTL check on this agent`)
    const check = r.check
    clearTimeout(r.timer)
    this.report(id, status === 'pass' ? 'passing' : status === 'warn' ? 'warning' : 'critical', clip(output))
    r.timer = setTimeout(() => this.report(id, 'critical', `TTL expired: no update for ${check.ttlMs} ms`), check.ttlMs)
  }

  stop (): void {
    for (const id of [...this.running.keys()]) this.stopOne(id)
  }

  private startOne (id: string, s: ServiceRecord): void {
    const check = parseCheck(s.check)
    const r: Running = { spec: JSON.stringify(s.check), check, abort: new AbortController() }
    this.running.set(id, r)
    if (check.kind === 'ttl') {
      r.timer = setTimeout(() => this.report(id, 'critical', `TTL expired: no update for ${check.ttlMs} ms`), check.ttlMs)
      return
    }
    const probe = check.kind === 'http' ? () => httpProbe(check, r.abort.signal, this.tls) : () => tcpProbe(check)
    const loop = (): void => {
      probe().then(([health, output]) => {
        if (r.abort.signal.aborted) return
        this.report(id, health, clip(output))
        r.timer = setTimeout(loop, check.intervalMs)
      }, () => {})
    }
    loop()
  }

  private stopOne (id: string): void {
    const r = this.running.get(id)
    if (r === undefined) return
    clearTimeout(r.timer)
    r.abort.abort()
    this.running.delete(id)
  }
}

function clip (s: string): string {
  return s.length > OUTPUT_MAX ? s.slice(0, OUTPUT_MAX - 3) + '...' : s
}

async function httpProbe (c: Extract<Check, { kind: 'http' }>, stop: AbortSignal, tls: () => SecureContext | undefined): Promise<[HealthStatus, string]> {
  const url = new URL(c.url)
  const https = url.protocol === 'https:'
  const secureContext = https ? tls() : undefined
  const signal = AbortSignal.any([stop, AbortSignal.timeout(c.timeoutMs)])
  return await new Promise(resolve => {
    const options = { signal, agent: false, headers: { 'user-agent': 'murmur health check' }, ...(secureContext === undefined ? {} : { secureContext }) }
    const req = (https ? httpsGet : httpGet)(url, options, res => {
      // The status is the answer: the body is not read (it could be long, or never end).
      res.destroy()
      const status = res.statusCode ?? 0
      resolve([status >= 200 && status < 300 ? 'passing' : status === 429 ? 'warning' : 'critical', `HTTP GET ${c.url}: ${status} ${res.statusMessage ?? ''}`])
    })
    req.once('error', err => {
      const why = (signal.reason as Error | undefined)?.name === 'TimeoutError' ? `timed out after ${c.timeoutMs} ms` : (err as NodeJS.ErrnoException).code ?? err.message
      resolve(['critical', `HTTP GET ${c.url}: ${why}`])
    })
  })
}

async function tcpProbe (c: Extract<Check, { kind: 'tcp' }>): Promise<[HealthStatus, string]> {
  return await new Promise(resolve => {
    const sock = connect({ host: c.host, port: c.port })
    const done = (result: [HealthStatus, string]): void => {
      clearTimeout(timer)
      sock.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done(['critical', `TCP connect ${c.host}:${c.port}: timed out after ${c.timeoutMs} ms`]), c.timeoutMs)
    sock.once('connect', () => done(['passing', `TCP connect ${c.host}:${c.port}: success`]))
    sock.once('error', err => done(['critical', `TCP connect ${c.host}:${c.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`]))
  })
}
