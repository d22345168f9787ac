// A service registered with a TTL check that this process keeps passing: while it runs, the
// agent hears "pass" every ttl/3; when it dies, the TTL runs out and the instance turns
// critical everywhere.
import { parseDuration } from '../core/duration.js'
import { MurmurClientError, type Sidecar } from './http.js'
import type { CallOptions, ServiceRecord, ServiceRegistration } from './types.js'

export interface RegisterOptions extends CallOptions {
  /** Time the agent waits for the next pass before it marks the service critical. @default '10s' */
  ttl?: string
  /** Called when a keep-alive fails (it is retried at the next tick). */
  onError?: (err: Error) => void
}

export interface Registration {
  readonly id: string
  /** Stops the keep-alive and removes the service from the agent. */
  deregister: (opts?: CallOptions) => Promise<void>
}

export async function register (sidecar: Sidecar, service: ServiceRegistration, opts: RegisterOptions = {}): Promise<Registration> {
  const ttl = opts.ttl ?? '10s'
  const ttlMs = parseDuration(ttl)
  if (ttlMs === undefined) throw new MurmurClientError('MURMUR_ERR_BAD_REQUEST', `ttl must be a duration like 10s (got '${ttl}')`)
  const body = { ...service, check: { ttl } }
  const { id } = await sidecar.call<ServiceRecord>('PUT', '/v1/agent/services', body, opts)
  const ttlPath = `/v1/agent/services/${encodeURIComponent(id)}/ttl`
  let stopped = false
  let timer: NodeJS.Timeout | undefined

  const pass = async (): Promise<void> => {
    try {
      await sidecar.call('PUT', ttlPath, { status: 'pass' })
    } catch (err) {
      // An agent restarted without a data dir has forgotten the service: register it again.
      if (stopped || !(err instanceof MurmurClientError) || err.code !== 'MURMUR_ERR_NOT_FOUND') throw err
      await sidecar.call('PUT', '/v1/agent/services', body)
      await sidecar.call('PUT', ttlPath, { status: 'pass' })
    }
  }
  let inflight: Promise<void> = pass()
  await inflight
  const tick = (): void => {
    timer = setTimeout(() => {
      inflight = pass().catch(err => opts.onError?.(err as Error)).finally(() => { if (!stopped) tick() })
    }, ttlMs / 3)
    // The keep-alive alone does not keep the process running.
    timer.unref()
  }
  tick()

  return {
    id,
    deregister: async (callOpts = {}) => {
      stopped = true
      clearTimeout(timer)
      await inflight
      await sidecar.call('DELETE', `/v1/agent/services/${encodeURIComponent(id)}`, undefined, callOpts)
    }
  }
}
