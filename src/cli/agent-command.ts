// `murmur agent`: options from flags, MURMUR_* env and a --config file (src/cli/agent-options.ts)
// → AgentOptions; refuses in one line to start on a port or data dir in use; runs until
// SIGINT/SIGTERM, then announces its leave and exits. SIGHUP re-reads the config file.
import { Agent } from '../agent/agent.js'
import { createLogger } from '../agent/log.js'
import { OPTION_TABLE } from '../agent/option-table.js'
import { resolveOptions, type AgentOptions } from '../agent/options.js'
import { MurmurError } from '../core/errors.js'
import { isLoopback, parseHostPort } from '../net/addr.js'
import { routes } from '../http/routes.js'
import { authorizer, loadToken } from '../http/auth.js'
import { SidecarMetrics } from '../http/metrics.js'
import { listen } from '../http/server.js'
import { VERSION } from '../version.js'
import { DEPRECATED_HTTP_ENV, layered, readConfigFile, readEnv, readFlags } from './agent-options.js'
import { CliError } from './client.js'
import { AGENT_HELP } from './usage.js'
import { checkPortFree, portError } from './port-check.js'

/** Where the sidecar address came from, for the message when its port is taken. */
function httpSource (flags: Partial<AgentOptions>, env: NodeJS.ProcessEnv, file: Partial<AgentOptions>): string {
  if (flags.http !== undefined) return '--http'
  if ((env.MURMUR_HTTP_LISTEN ?? '') !== '') return '--http / MURMUR_HTTP_LISTEN'
  if ((env[DEPRECATED_HTTP_ENV] ?? '') !== '') return `--http / ${DEPRECATED_HTTP_ENV} (the CLI's target: unset it for the agent, or set MURMUR_HTTP_LISTEN)`
  if (file.http !== undefined) return '--http / "http" in the config file'
  return '--http'
}

export async function runAgent (args: string[]): Promise<void> {
  const flags = readFlags(args)
  if (flags.help) {
    process.stdout.write(AGENT_HELP)
    return
  }
  if (flags.version) {
    process.stdout.write(`murmur ${VERSION}\n`)
    return
  }
  let agent: Agent
  let authorize: ReturnType<typeof authorizer>
  let http: { host: string, port: number }
  const env = readEnv(process.env)
  const configFile = flags.config ?? env.config
  try {
    const file = configFile === undefined ? {} : await readConfigFile(configFile)
    const input = layered(flags.values, env.values, file)
    // Validated here as Agent.start will, so that a bad value fails before any port is taken.
    const opts = resolveOptions(input)
    const early = createLogger(opts.logLevel, undefined, opts.logFormat)
    if (flags.values.http === undefined) for (const w of env.warnings) early('warn', 'agent', w)
    // Check addresses, ports and tokens before starting anything, so a typo fails fast.
    http = parseHostPort(opts.http, '--http')
    const p2p = parseHostPort(opts.listen, '--listen')
    await checkPortFree(http.host, http.port, httpSource(flags.values, process.env, file))
    await checkPortFree(p2p.host, p2p.port, '--listen (libp2p)')
    authorize = authorizer({
      write: opts.httpTokenFile === undefined ? undefined : await loadToken(opts.httpTokenFile, '--http-token-file'),
      read: opts.httpReadTokenFile === undefined ? undefined : await loadToken(opts.httpReadTokenFile, '--http-read-token-file')
    })
    agent = await Agent.start(input).catch(err => {
      // A port taken between the check and libp2p's listen: libp2p's own error is a riddle.
      if (/EADDRINUSE|faultTolerance/.test(String((err as Error).message))) throw new CliError(portError(p2p.host, p2p.port, '--listen (libp2p)', 'EADDRINUSE'), 1)
      throw err
    })
    if (authorize === undefined && !isLoopback(http.host)) {
      agent.logger('warn', 'http', 'the sidecar listens beyond loopback without a token: anyone who reaches it can write config and register services; set --http-token-file', { http: opts.http })
    }
  } catch (err) {
    // A bad option is a usage error (2); a data dir that cannot be used is not.
    if (err instanceof MurmurError) throw new CliError(err.message, err.code === 'MURMUR_ERR_CONFIG' ? 2 : 1)
    throw err
  }
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
    const code = (err as NodeJS.ErrnoException).code
    throw new CliError(code !== undefined ? portError(http.host, http.port, '--http', code) : `cannot serve HTTP on ${agent.opts.http}: ${(err as Error).message}`, 1)
  }
  const addr = server.address()
  const httpAddr = typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : agent.opts.http
  agent.logger('info', 'http', 'sidecar listening', { http: httpAddr, token: authorize === undefined ? 'none' : agent.opts.httpReadTokenFile === undefined ? 'writes' : 'reads and writes' })
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGHUP', () => { reload(agent, flags.values, env.values, configFile).catch(() => {}) })
  await new Promise(() => {})
}

/**
 * SIGHUP: read the config file again and apply what can change live (the log level); log what
 * changed and what needs a restart. Flags and env cannot change in a running process, and
 * still take precedence over the file. A file that is now invalid changes nothing.
 */
async function reload (agent: Agent, flags: Partial<AgentOptions>, env: Partial<AgentOptions>, file: string | undefined): Promise<void> {
  if (file === undefined) {
    agent.logger('info', 'agent', 'SIGHUP: no --config file to re-read; nothing changed')
    return
  }
  let next: AgentOptions
  try {
    next = resolveOptions(layered(flags, env, await readConfigFile(file)))
  } catch (err) {
    agent.logger('error', 'agent', 'SIGHUP: config file refused; nothing changed', { file, error: (err as Error).message })
    return
  }
  const applied: string[] = []
  const restart: string[] = []
  for (const s of OPTION_TABLE) {
    if (JSON.stringify(next[s.key]) !== JSON.stringify(agent.opts[s.key])) (s.live === true ? applied : restart).push(s.name)
  }
  agent.logger(restart.length > 0 ? 'warn' : 'info', 'agent', 'SIGHUP: config file re-read', { file, applied: applied.join(',') || 'none', restartNeeded: restart.join(',') || 'none' })
  if (next.logLevel !== agent.opts.logLevel) agent.setLogLevel(next.logLevel)
}
