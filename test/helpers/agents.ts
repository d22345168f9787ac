// Real agent processes for integration tests: started with free loopback ports, tracked by
// PID, always killed at the end. Waits are on conditions with generous deadlines.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../../bin/murmur', import.meta.url))

export async function freePort (host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
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

  async req<T = any> (method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number, body: T, headers: Headers }> {
    const res = await fetch(`http://${this.http}${path}`, {
      method,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
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
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...spec.env } })
    const a = new AgentProc(spec, `127.0.0.1:${httpPort}`, `127.0.0.1:${listenPort}`, proc)
    this.agents.push(a)
    const exited = a.exited.then(code => { throw new Error(`agent ${spec.name} exited with ${code}:\n${a.output}`) })
    await Promise.race([
      exited,
      // Generous: on a loaded 2-core machine loading libp2p alone can take tens of seconds.
      waitFor(`agent ${spec.name} to serve HTTP`, async () => (await a.get('/v1/agent/self')).status === 200, 90_000)
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
