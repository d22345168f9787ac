// Health checks the agent runs for its registered services, like Consul's: TTL (the service
// reports pass/warn/fail before the TTL runs out), HTTP (GET, 2xx passes, 429 warns), TCP
// (connect). Results go to `report`; the agent stamps them into the service record and sends a
// heartbeat at once, so every agent learns of a change within one gossip hop.
import { connect } from 'node:net'
import { MurmurError } from '../core/errors.js'
import { OUTPUT_MAX, parseCheck, type Check, type HealthStatus, type ServiceRecord } from '../core/service.js'

export type Report = (id: string, health: HealthStatus, output: string) => void

interface Running { spec: string, check: Check, timer?: NodeJS.Timeout, abort: AbortController }

export class HealthChecks {
  private readonly running = new Map<string, Running>()

  constructor (private readonly report: Report) {}

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
    const probe = check.kind === 'http' ? () => httpProbe(check, r.abort.signal) : () => tcpProbe(check)
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

async function httpProbe (c: Extract<Check, { kind: 'http' }>, stop: AbortSignal): Promise<[HealthStatus, string]> {
  try {
    const res = await fetch(c.url, { redirect: 'manual', signal: AbortSignal.any([stop, AbortSignal.timeout(c.timeoutMs)]) })
    await res.body?.cancel()
    const line = `HTTP GET ${c.url}: ${res.status} ${res.statusText}`
    return [res.status >= 200 && res.status < 300 ? 'passing' : res.status === 429 ? 'warning' : 'critical', line]
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    const why = e.name === 'TimeoutError' ? `timed out after ${c.timeoutMs} ms` : e.cause?.code ?? e.message
    return ['critical', `HTTP GET ${c.url}: ${why}`]
  }
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
