// What an operator meets first, on real agent processes: options from a config file, env and
// flags in that order; SIGHUP; refusals at start-up in one line (port in use, data dir locked
// or unusable), a stale lock taken over; `murmur join`; and the CLI's usage errors.
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, Cluster, freePort, waitFor, type AgentProc } from '../helpers/agents.js'

const run = promisify(execFile)
const cluster = new Cluster()
let a: AgentProc
let b: AgentProc
let dataDir: string
let configFile: string

interface Ran { code: number, stdout: string, stderr: string }

async function murmur (args: string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 90_000, env: { ...process.env, ...env } })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** A refusal at start-up: exit 1 (or 2), one line on stderr, no stack trace. */
function oneLine (r: Ran, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr).not.toMatch(/^\s+at /m)
}

const port = (addr: string): string => addr.split(':')[1]

beforeAll(async () => {
  dataDir = cluster.tempDir()
  configFile = join(cluster.tempDir(), 'agent.toml')
  // File < env < flag: the flag's name wins over the file's, the env's quota over the file's.
  writeFileSync(configFile, 'node = "from-file"\nlog-level = "debug"\nmax-keys = 7\nadvertise = "127.0.0.7"\n')
  a = await cluster.start({ name: 'a', dataDir, extra: ['--config', configFile], env: { MURMUR_MAX_KEYS: '3' } })
  b = await cluster.start({ name: 'b' })
})

afterAll(async () => { await cluster.stopAll() })

describe('options from a config file, env and flags', () => {
  it('takes flag over env over file over default', async () => {
    const self = (await a.get('/v1/agent/self')).body
    expect([self.name, self.address]).toEqual(['a', '127.0.0.7'])
    for (const k of ['k1', 'k2', 'k3']) expect((await a.req('PUT', `/v1/config/q/${k}`, 1)).status).toBe(200)
    const over = await a.req('PUT', '/v1/config/q/k4', 1)
    expect(over.status).toBe(507)
    expect(over.body.error.code).toBe('MURMUR_ERR_QUOTA')
  })

  it('re-reads the file on SIGHUP: applies the log level, names what needs a restart', async () => {
    await a.req('DELETE', '/v1/config/q/k1')
    await waitFor('an info line', () => a.output.includes('deleted key=q/k1'))
    writeFileSync(configFile, 'node = "from-file"\nlog-level = "warn"\nmax-keys = 7\nadvertise = "127.0.0.9"\n')
    a.proc.kill('SIGHUP')
    await waitFor('the reload line', () => /SIGHUP: config file re-read .*applied=log-level restartNeeded=advertise/.test(a.output))
    await a.req('DELETE', '/v1/config/q/k2')
    writeFileSync(configFile, 'bogus = 1\n')
    a.proc.kill('SIGHUP')
    await waitFor('the refusal line', () => /SIGHUP: config file refused; nothing changed .*unknown key 'bogus'/.test(a.output))
    // The refusal (an error) came after the delete, which at level warn logged nothing.
    expect(a.output).not.toContain('deleted key=q/k2')
    expect(a.alive).toBe(true)
  })

  it('refuses an unknown key in the file before starting (exit 2)', async () => {
    const bad = join(cluster.tempDir(), 'bad.json')
    writeFileSync(bad, '{"node": "x", "dataDir": "/tmp"}')
    oneLine(await murmur(['agent', '--config', bad, '--no-mdns']), 2, /unknown key 'dataDir' \(did you mean 'data-dir'\?\)/)
  })
})

describe('safe start-up', () => {
  const flags = async (): Promise<string[]> => ['agent', '--no-mdns', '--node', 'z', '--listen', `127.0.0.1:${await freePort()}`, '--http', `127.0.0.1:${await freePort()}`]

  it('names the port and the flag when the sidecar or libp2p port is in use', async () => {
    oneLine(await murmur([...await flags(), '--http', a.http]), 1, new RegExp(`port ${port(a.http)} .*--http.* already in use`))
    oneLine(await murmur([...await flags(), '--listen', a.listen]), 1, new RegExp(`port ${port(a.listen)} .*--listen.* already in use`))
  })

  it('refuses a data dir another running agent holds, and one it cannot write', async () => {
    oneLine(await murmur([...await flags(), '--data-dir', dataDir]), 1, new RegExp(`data dir .* is in use by another agent \\(pid ${a.pid}\\)`))
    const file = join(cluster.tempDir(), 'not-a-dir')
    writeFileSync(file, '')
    oneLine(await murmur([...await flags(), '--data-dir', join(file, 'sub')]), 1, /data dir .* is not a writable directory/)
  })

  it('takes over the lock of an agent that is no longer running, and releases its own on exit', async () => {
    const dir = cluster.tempDir()
    mkdirSync(dir, { recursive: true })
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise(resolve => gone.once('exit', resolve))
    writeFileSync(join(dir, 'agent.lock'), `${gone.pid as number}\n`)
    const c = await cluster.start({ name: 'c', dataDir: dir })
    expect(c.output).toMatch(new RegExp(`took over the lock of an agent that is no longer running .*pid=${gone.pid as number}`))
    c.kill('SIGTERM')
    expect(await c.exited).toBe(0)
    expect(existsSync(join(dir, 'agent.lock'))).toBe(false)
  })
})

describe('the CLI', () => {
  it('joins an agent to another on request', async () => {
    const r = await murmur(['join', a.listen, '--http', b.http])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^joined /)
    await cluster.converged(['a', 'b'])
    oneLine(await murmur(['join', `127.0.0.1:${await freePort()}`, '--http', b.http]), 1, /cannot join .*MURMUR_ERR_JOIN/)
    oneLine(await murmur(['join', 'nonsense', '--http', b.http]), 1, /MURMUR_ERR_BAD_REQUEST/)
  })

  it('answers usage errors with exit 2, one line and a pointer to --help', async () => {
    for (const args of [['register', 'web', '--port', 'abc'], ['services', 'watch'], ['config', 'set', '', 'v'], ['members', '--status', 'sleepy'], ['members', '--bogus']]) {
      oneLine(await murmur([...args, '--http', b.http]), 2, new RegExp(`see 'murmur ${args[0]} --help'`))
    }
    expect((await murmur(['config', 'set', '', 'v', '--http', b.http])).stderr).toMatch(/MURMUR_ERR_BAD_KEY/)
    expect((await b.req('PUT', '/v1/config/', 1)).body.error.code).toBe('MURMUR_ERR_BAD_KEY')
  })

  it('takes negative numbers as values; has help per command and a version', async () => {
    expect((await murmur(['config', 'set', 'floor', '-5', '--http', b.http])).code).toBe(0)
    expect((await b.get('/v1/config/floor')).body.value).toBe(-5)
    const help = await murmur(['agent', '--help'])
    expect(help.stdout).toMatch(/--probe-interval-ms MS/)
    expect(help.stdout).toMatch(/MURMUR_HTTP_LISTEN/)
    expect((await murmur(['config', '--help'])).stdout).toMatch(/^usage: murmur config get KEY/)
    expect((await murmur(['--version'])).stdout).toMatch(/^murmur \d+\.\d+\.\d+/)
    const alive = await murmur(['members', '--status', 'alive', '--json', '--http', b.http])
    expect(JSON.parse(alive.stdout).map((m: any) => m.name).sort()).toEqual(['a', 'b'])
  })
})
