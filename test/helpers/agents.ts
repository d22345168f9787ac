// Real agent processes for integration tests: started with free loopback ports, tracked by
// PID, always killed at the end. Waits are on conditions with generous deadlines.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/murmur', import.meta.url))

/** Ports this process handed out: never twice. */
const handedOut = new Set<number>()

/**
 * A free port below Linux's ephemeral range (32768-60999). A port from bind(0) is one the
 * kernel may give the next outgoing connection: with dozens of agents starting together and
 * dialling each other, one of them found its port taken by another's connection (2 of 2
 * bench runs at N = 50). Random, so test files running in parallel rarely pick the same one.
 */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    if (handedOut.has(port)) continue
    handedOut.add(port)
    if (await canListen(host, port)) return port
  }
  throw new Error('no free port found below the ephemeral range in 200 tries')
}

async function canListen (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, host, () => s.close(() => resolve(true)))
  })
}

export async function waitFor<T> (what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? `: ${(last as Error).message}` : ''}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

export interface AgentSpec {
  name: string
  join?: string[]
  dataDir?: string
  listenPort?: number
  httpPort?: number
  extra?: string[]
  env?: Record<string, string>
  /** Command the agent runs under, e.g. ['prlimit', '--nofile=128', '--']. */
  wrap?: string[]
  /**
   * Run bin/murmur as a program (its shell part, then this test's Node from PATH), as `murmur
   * agent` runs, instead of `node bin/murmur agent`.
   */
  asProgram?: boolean
}

export class AgentProc {
  output = ''
  exited: Promise<number | null>
  constructor (readonly spec: AgentSpec, readonly http: string, readonly listen: string, readonly proc: ChildProcess) {
    proc.stdout?.on('data', d => { this.output += String(d) })
    proc.stderr?.on('data', d => { this.output += String(d) })
    this.exited = new Promise(resolve => proc.once('exit', code => resolve(code)))
  }

  get pid (): number { return this.proc.pid as number }
  get alive (): boolean { return this.proc.exitCode === null && this.proc.signalCode === null }

  async get<T = any> (path: string): Promise<{ status: number, body: T, headers: Headers }> {
    return await this.req<T>('GET', path)
  }

  async req<T = any> (method: string, path: string, body?: unknown, raw?: string, headers?: Record<string, string>): Promise<{ status: number, body: T, headers: Headers }> {
    const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body))
    const res = await fetch(`http://${this.http}${path}`, {
      method,
      body: payload,
      // JSON bodies must say so (fetch would label a string body text/plain).
      headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      signal: AbortSignal.timeout(15_000)
    })
    const text = await res.text()
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T, headers: res.headers }
  }

  kill (signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.proc.kill(signal)
  }
}

/** A set of agents started by one test; `stopAll` kills every one of them by PID. */
export class Cluster {
  readonly agents: AgentProc[] = []
  private readonly dirs: string[] = []

  tempDir (): string {
    const d = mkdtempSync(join(tmpdir(), 'murmur-test-'))
    this.dirs.push(d)
    return d
  }

  async start (spec: AgentSpec): Promise<AgentProc> {
    const listenPort = spec.listenPort ?? await freePort()
    const httpPort = spec.httpPort ?? await freePort()
    const args = [
      BIN, 'agent', '--node', spec.name, '--no-mdns', '--cluster', 'test',
      '--listen', `127.0.0.1:${listenPort}`, '--http', `127.0.0.1:${httpPort}`,
      ...(spec.join ?? []).flatMap(j => ['--join', j]),
      ...(spec.dataDir !== undefined ? ['--data-dir', spec.dataDir] : []),
      ...(spec.extra ?? [])
    ]
    const wrap = spec.wrap ?? []
    const command = spec.asProgram === true ? [] : [process.execPath]
    const path = spec.asProgram === true ? { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` } : {}
    const cmd = [...wrap, ...command, ...args]
    const proc = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...path, ...spec.env } })
    const a = new AgentProc(spec, `127.0.0.1:${httpPort}`, `127.0.0.1:${listenPort}`, proc)
    this.agents.push(a)
    const exited = a.exited.then(code => { throw new Error(`agent ${spec.name} exited with ${code}:\n${a.output}`) })
    await Promise.race([
      exited,
      // Generous: on a loaded 2-core machine loading libp2p alone can take tens of seconds.
      // 401: serving, behind a read token.
      waitFor(`agent ${spec.name} to serve HTTP`, async () => [200, 401].includes((await a.get('/v1/agent/self')).status), 90_000)
    ])
    exited.catch(() => {})
    return a
  }

  /** Wait until every running agent lists exactly `names` with status alive. */
  async converged (names: string[], timeoutMs = 60_000): Promise<void> {
    const want = [...names].sort().join(',')
    await waitFor(`members ${want} alive everywhere`, async () => {
      for (const a of this.agents.filter(x => x.alive)) {
        const { body } = await a.get<Array<{ name: string, status: string }>>('/v1/members')
        const alive = body.filter(m => m.status === 'alive').map(m => m.name).sort().join(',')
        if (alive !== want) return false
      }
      return true
    }, timeoutMs)
  }

  async stopAll (): Promise<void> {
    for (const a of this.agents) a.kill('SIGKILL')
    await Promise.all(this.agents.map(async a => await Promise.race([a.exited, new Promise(resolve => setTimeout(resolve, 5000))])))
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
  }
}
