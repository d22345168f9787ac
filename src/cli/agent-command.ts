// `murmur agent`: flags and MURMUR_* env twins → AgentOptions; runs until SIGINT/SIGTERM,
// then announces its leave and exits.
import { parseArgs } from 'node:util'
import { Agent } from '../agent/agent.js'
import type { AgentOptions } from '../agent/options.js'
import { MurmurError } from '../core/errors.js'
import { parseHostPort } from '../net/addr.js'
import { routes } from '../http/routes.js'
import { listen } from '../http/server.js'
import { CliError } from './client.js'

function envBool (v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined
  return !['0', 'false', 'no', 'off'].includes(v.toLowerCase())
}

function numberFlag (v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n)) throw new CliError(`--${name} must be a number (got '${v}')`, 2)
  return n
}

export function agentOptions (args: string[], env: NodeJS.ProcessEnv, usage: string): Partial<AgentOptions> {
  let values: Record<string, string | boolean | string[] | undefined>
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        node: { type: 'string' },
        cluster: { type: 'string' },
        http: { type: 'string' },
        listen: { type: 'string' },
        advertise: { type: 'string' },
        join: { type: 'string', multiple: true },
        'no-mdns': { type: 'boolean' },
        'data-dir': { type: 'string' },
        'log-level': { type: 'string' },
        'probe-interval-ms': { type: 'string' },
        'probe-timeout-ms': { type: 'string' },
        'indirect-checks': { type: 'string' },
        'suspicion-mult': { type: 'string' },
        'suspicion-max-mult': { type: 'string' },
        'retransmit-mult': { type: 'string' },
        'gossip-interval-ms': { type: 'string' },
        'sync-interval-ms': { type: 'string' },
        'reconnect-interval-ms': { type: 'string' },
        'anti-entropy-ms': { type: 'string' },
        // Accepted for murmur 0.1 command lines: see AgentOptions.
        'heartbeat-ms': { type: 'string' },
        'suspicion-ms': { type: 'string' },
        'phi-threshold': { type: 'string' },
        'reap-ms': { type: 'string' },
        'tombstone-ttl-ms': { type: 'string' },
        'max-drift-ms': { type: 'string' },
        'clock-skew-ms': { type: 'string' }
      }
    }).values
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${usage}`, 2)
  }
  const s = (k: string): string | undefined => values[k] as string | undefined
  const envJoin = env.MURMUR_JOIN?.split(',').map(x => x.trim()).filter(x => x !== '')
  const noMdns = values['no-mdns'] === true || envBool(env.MURMUR_NO_MDNS) === true
  return {
    node: s('node') ?? env.MURMUR_NODE,
    cluster: s('cluster') ?? env.MURMUR_CLUSTER,
    http: s('http') ?? env.MURMUR_HTTP_ADDR,
    listen: s('listen') ?? env.MURMUR_LISTEN,
    advertise: s('advertise') ?? env.MURMUR_ADVERTISE,
    join: (values.join as string[] | undefined) ?? envJoin,
    mdns: noMdns ? false : undefined,
    dataDir: s('data-dir') ?? env.MURMUR_DATA_DIR,
    logLevel: (s('log-level') ?? env.MURMUR_LOG_LEVEL) as AgentOptions['logLevel'] | undefined,
    probeIntervalMs: numberFlag(s('probe-interval-ms'), 'probe-interval-ms'),
    probeTimeoutMs: numberFlag(s('probe-timeout-ms'), 'probe-timeout-ms'),
    indirectChecks: numberFlag(s('indirect-checks'), 'indirect-checks'),
    suspicionMult: numberFlag(s('suspicion-mult'), 'suspicion-mult'),
    suspicionMaxMult: numberFlag(s('suspicion-max-mult'), 'suspicion-max-mult'),
    retransmitMult: numberFlag(s('retransmit-mult'), 'retransmit-mult'),
    gossipIntervalMs: numberFlag(s('gossip-interval-ms'), 'gossip-interval-ms'),
    syncIntervalMs: numberFlag(s('sync-interval-ms'), 'sync-interval-ms'),
    reconnectIntervalMs: numberFlag(s('reconnect-interval-ms'), 'reconnect-interval-ms'),
    heartbeatMs: numberFlag(s('heartbeat-ms'), 'heartbeat-ms'),
    antiEntropyMs: numberFlag(s('anti-entropy-ms'), 'anti-entropy-ms'),
    suspicionMs: numberFlag(s('suspicion-ms'), 'suspicion-ms'),
    phiSuspect: numberFlag(s('phi-threshold'), 'phi-threshold'),
    reapMs: numberFlag(s('reap-ms'), 'reap-ms'),
    tombstoneTtlMs: numberFlag(s('tombstone-ttl-ms'), 'tombstone-ttl-ms'),
    maxDriftMs: numberFlag(s('max-drift-ms'), 'max-drift-ms'),
    clockSkewMs: numberFlag(s('clock-skew-ms') ?? env.MURMUR_CLOCK_SKEW_MS, 'clock-skew-ms')
  }
}

export async function runAgent (args: string[], usage: string): Promise<void> {
  const opts = agentOptions(args, process.env, usage)
  let agent: Agent
  try {
    // Check the HTTP address before starting anything, so a typo fails fast.
    parseHostPort(opts.http ?? '127.0.0.1:7401', '--http')
    agent = await Agent.start(opts)
  } catch (err) {
    if (err instanceof MurmurError) throw new CliError(err.message, 2)
    throw err
  }
  const http = parseHostPort(agent.opts.http, '--http')
  let shuttingDown = false
  const shutdown = (why: string): void => {
    if (shuttingDown) {
      agent.logger('warn', 'agent', 'second signal: exiting now')
      process.exit(1)
    }
    shuttingDown = true
    agent.logger('info', 'agent', 'shutting down', { reason: why })
    agent.leave()
      .then(() => new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() }))
      .then(() => process.exit(0), () => process.exit(1))
  }
  let server: Awaited<ReturnType<typeof listen>>
  try {
    server = await listen(routes(agent, () => shutdown('leave requested over HTTP')), http.host, http.port)
  } catch (err) {
    await agent.stop()
    throw new CliError(`cannot serve HTTP on ${agent.opts.http}: ${(err as Error).message}`, 1)
  }
  const addr = server.address()
  const httpAddr = typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : agent.opts.http
  agent.logger('info', 'http', 'sidecar listening', { http: httpAddr })
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  await new Promise(() => {})
}
