// `murmur agent`: flags and MURMUR_* env twins → AgentOptions; runs until SIGINT/SIGTERM,
// then announces its leave and exits.
import { parseArgs } from 'node:util'
import { Agent } from '../agent/agent.js'
import type { AgentOptions } from '../agent/options.js'
import { MurmurError } from '../core/errors.js'
import { isLoopback, parseHostPort } from '../net/addr.js'
import { SidecarMetrics } from '../http/metrics.js'
import { routes, VERSION } from '../http/routes.js'
import { authorizer, loadToken } from '../http/auth.js'
import { listen } from '../http/server.js'
import { CliError } from './client.js'

function envBool (v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined
  return !['0', 'false', 'no', 'off'].includes(v.toLowerCase())
}

function nonEmpty (v: string | undefined): string | undefined {
  return v === '' ? undefined : v
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
        'http-token-file': { type: 'string' },
        'http-read-token-file': { type: 'string' },
        'http-max-connections': { type: 'string' },
        listen: { type: 'string' },
        advertise: { type: 'string' },
        join: { type: 'string', multiple: true },
        'cluster-key': { type: 'string' },
        allow: { type: 'string', multiple: true },
        'gossip-rate': { type: 'string' },
        'gossip-burst': { type: 'string' },
        'no-mdns': { type: 'boolean' },
        'data-dir': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
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
        'max-keys': { type: 'string' },
        'max-tombstones': { type: 'string' },
        'max-config-bytes': { type: 'string' },
        'clock-skew-ms': { type: 'string' }
      }
    }).values
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${usage}`, 2)
  }
  const s = (k: string): string | undefined => values[k] as string | undefined
  const list = (v: string | undefined): string[] | undefined => v?.split(',').map(x => x.trim()).filter(x => x !== '')
  const noMdns = values['no-mdns'] === true || envBool(env.MURMUR_NO_MDNS) === true
  return {
    node: s('node') ?? env.MURMUR_NODE,
    cluster: s('cluster') ?? env.MURMUR_CLUSTER,
    http: s('http') ?? env.MURMUR_HTTP_ADDR,
    httpTokenFile: s('http-token-file') ?? nonEmpty(env.MURMUR_HTTP_TOKEN_FILE),
    httpReadTokenFile: s('http-read-token-file') ?? nonEmpty(env.MURMUR_HTTP_READ_TOKEN_FILE),
    httpMaxConnections: numberFlag(s('http-max-connections') ?? env.MURMUR_HTTP_MAX_CONNECTIONS, 'http-max-connections'),
    listen: s('listen') ?? env.MURMUR_LISTEN,
    advertise: s('advertise') ?? env.MURMUR_ADVERTISE,
    join: (values.join as string[] | undefined) ?? list(env.MURMUR_JOIN),
    clusterKeyFile: s('cluster-key') ?? nonEmpty(env.MURMUR_CLUSTER_KEY_FILE),
    allow: (values.allow as string[] | undefined) ?? list(env.MURMUR_ALLOW),
    gossipRate: numberFlag(s('gossip-rate') ?? env.MURMUR_GOSSIP_RATE, 'gossip-rate'),
    gossipBurst: numberFlag(s('gossip-burst') ?? env.MURMUR_GOSSIP_BURST, 'gossip-burst'),
    mdns: noMdns ? false : undefined,
    dataDir: s('data-dir') ?? env.MURMUR_DATA_DIR,
    logLevel: (s('log-level') ?? env.MURMUR_LOG_LEVEL) as AgentOptions['logLevel'] | undefined,
    logFormat: (s('log-format') ?? nonEmpty(env.MURMUR_LOG_FORMAT)) as AgentOptions['logFormat'] | undefined,
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
    maxKeys: numberFlag(s('max-keys') ?? env.MURMUR_MAX_KEYS, 'max-keys'),
    maxTombstones: numberFlag(s('max-tombstones') ?? env.MURMUR_MAX_TOMBSTONES, 'max-tombstones'),
    maxConfigBytes: numberFlag(s('max-config-bytes') ?? env.MURMUR_MAX_CONFIG_BYTES, 'max-config-bytes'),
    clockSkewMs: numberFlag(s('clock-skew-ms') ?? env.MURMUR_CLOCK_SKEW_MS, 'clock-skew-ms')
  }
}

export async function runAgent (args: string[], usage: string): Promise<void> {
  const opts = agentOptions(args, process.env, usage)
  let agent: Agent
  let authorize: ReturnType<typeof authorizer>
  try {
    // Check the HTTP address and tokens before starting anything, so a typo fails fast.
    const http = parseHostPort(opts.http ?? '127.0.0.1:7401', '--http')
    authorize = authorizer({
      write: opts.httpTokenFile === undefined ? undefined : await loadToken(opts.httpTokenFile, '--http-token-file'),
      read: opts.httpReadTokenFile === undefined ? undefined : await loadToken(opts.httpReadTokenFile, '--http-read-token-file')
    })
    agent = await Agent.start(opts)
    if (authorize === undefined && !isLoopback(http.host)) {
      agent.logger('warn', 'http', 'the sidecar listens beyond loopback without a token: anyone who reaches it can write config and register services; set --http-token-file', { http: opts.http })
    }
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
    const metrics = new SidecarMetrics(agent, VERSION)
    server = await listen(routes(agent, () => shutdown('leave requested over HTTP'), metrics), http.host, http.port, { authorize, observe: metrics.observe, maxConnections: agent.opts.httpMaxConnections })
  } catch (err) {
    await agent.stop()
    throw new CliError(`cannot serve HTTP on ${agent.opts.http}: ${(err as Error).message}`, 1)
  }
  const addr = server.address()
  const httpAddr = typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : agent.opts.http
  agent.logger('info', 'http', 'sidecar listening', { http: httpAddr, token: authorize === undefined ? 'none' : agent.opts.httpReadTokenFile === undefined ? 'writes' : 'reads and writes' })
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  await new Promise(() => {})
}
