// The sidecar's guards against real agent processes: tokens (401 without, 403 wrong) over raw
// HTTP, the CLI and the client library; the connection cap (503 beyond it, then closed); and an
// agent whose file descriptors run out stays alive in its peers' eyes.
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Murmur, MurmurClientError, type ConfigEvent } from '../../src/client/index.js'
import { BIN, Cluster, waitFor, type AgentProc } from '../helpers/agents.js'

const WRITE = 'w-0123456789abcdef0123456789abcdef'
const READ = 'r-0123456789abcdef0123456789abcdef'
const CAP = 24

const cluster = new Cluster()
let a: AgentProc, b: AgentProc
let dir: string

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` })

async function cli (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN, ...args, '--http', a.http], { env: { ...process.env, MURMUR_HTTP_TOKEN: '', MURMUR_HTTP_TOKEN_FILE: '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr })
    })
  })
}

/** Opens a TCP connection to `addr`; resolves once connected. */
async function open (addr: string): Promise<Socket> {
  const [host, port] = addr.split(':')
  return await new Promise((resolve, reject) => {
    const s = connect(Number(port), host, () => resolve(s))
    s.on('error', reject)
  })
}

/** Sends one request on a fresh connection; resolves with the status, or 'closed' when none came. */
async function rawStatus (addr: string, path: string): Promise<number | 'closed'> {
  const s = await open(addr).catch(() => undefined)
  if (s === undefined) return 'closed'
  return await new Promise(resolve => {
    let data = ''
    const done = (): void => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(data)
      resolve(m === null ? 'closed' : Number(m[1]))
      s.destroy()
    }
    s.setEncoding('utf8')
    s.on('data', d => { data += d; if (data.includes('\r\n\r\n')) done() })
    s.on('error', () => {})
    s.on('close', done)
    s.write(`GET ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${READ}\r\n\r\n`, () => {})
    setTimeout(done, 10_000)
  })
}

beforeAll(async () => {
  dir = cluster.tempDir()
  writeFileSync(join(dir, 'write.token'), WRITE + '\n')
  writeFileSync(join(dir, 'read.token'), READ)
  a = await cluster.start({
    name: 'a',
    extra: ['--http-token-file', join(dir, 'write.token'), '--http-max-connections', String(CAP)],
    env: { MURMUR_HTTP_READ_TOKEN_FILE: join(dir, 'read.token') },
    // A small open-file limit, so the connection flood below really runs the agent out of
    // descriptors if the cap does not hold.
    wrap: ['prlimit', '--nofile=256', '--']
  })
  b = await cluster.start({ name: 'b', join: [a.listen] })
  await waitFor('b to list a alive', async () => (await b.get<Array<{ name: string, status: string }>>('/v1/members')).body.some(m => m.name === 'a' && m.status === 'alive'))
})

afterAll(async () => { await cluster.stopAll() })

describe('sidecar tokens', () => {
  it('answers 401 without a token and 403 with a wrong one, with a code and a Bearer challenge', async () => {
    const none = await a.get('/v1/members')
    expect(none.status).toBe(401)
    expect(none.body.error.code).toBe('MURMUR_ERR_UNAUTHORIZED')
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
    const wrong = await a.req('GET', '/v1/members', undefined, undefined, bearer('x'.repeat(40)))
    expect(wrong.status).toBe(403)
    expect(wrong.body.error.code).toBe('MURMUR_ERR_FORBIDDEN')
    // Unknown routes say nothing before the token is checked.
    expect((await a.get('/v1/nothing-here')).status).toBe(401)
    for (const [method, path, body] of [['PUT', '/v1/config/k', 1], ['DELETE', '/v1/config/k'], ['PUT', '/v1/agent/leave'], ['PUT', '/v1/agent/services', { name: 'x', port: 1 }], ['PUT', '/v1/agent/services/x/ttl', 'pass']] as const) {
      expect((await a.req(method, path, body)).status, `${method} ${path}`).toBe(401)
      expect((await a.req(method, path, body, undefined, bearer(READ))).status, `${method} ${path} with the read token`).toBe(403)
    }
  })

  it('accepts the write token for writes and reads, as Bearer or X-Consul-Token, and the read token for reads', async () => {
    expect((await a.req('PUT', '/v1/config/auth/one', 1, undefined, bearer(WRITE))).status).toBe(200)
    expect((await a.req('PUT', '/v1/config/auth/two', 2, undefined, { 'x-consul-token': WRITE })).status).toBe(200)
    expect((await a.req('GET', '/v1/config/auth/one', undefined, undefined, bearer(READ))).body.value).toBe(1)
    expect((await a.req('GET', '/v1/config/auth/two', undefined, undefined, bearer(WRITE))).body.value).toBe(2)
    // Answers held for hot keys are sent only past the token check.
    expect((await a.get('/v1/config/auth/one')).status).toBe(401)
    expect((await a.req('GET', '/v1/config/auth/one', undefined, undefined, bearer('y'.repeat(40)))).status).toBe(403)
    expect((await fetch(`http://${a.http}/metrics`, { headers: { 'x-consul-token': READ } })).status).toBe(200)
    // Consul's routes are guarded the same way; Consul clients may send ?token=.
    expect((await a.req('PUT', '/v1/kv/auth/consul', undefined, 'v')).status).toBe(401)
    expect((await a.req('PUT', `/v1/kv/auth/consul?token=${WRITE}`, undefined, 'v')).status).toBe(200)
    expect((await a.req('GET', '/v1/kv/auth/consul', undefined, undefined, { 'x-consul-token': READ })).status).toBe(200)
    // b has no token configured: it received the write by gossip and serves it openly.
    await waitFor('auth/two on b', async () => (await b.get('/v1/config/auth/two')).status === 200)
  })

  it('CLI: sends --token or MURMUR_HTTP_TOKEN, and says what is missing when refused', async () => {
    const without = await cli(['config', 'set', 'auth/cli', '1'])
    expect(without.code).toBe(1)
    expect(without.stderr).toMatch(/MURMUR_ERR_UNAUTHORIZED.*MURMUR_HTTP_TOKEN/)
    const wrong = await cli(['config', 'set', 'auth/cli', '1', '--token', READ])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/MURMUR_ERR_FORBIDDEN/)
    expect((await cli(['config', 'set', 'auth/cli', '"ok"'], { MURMUR_HTTP_TOKEN: WRITE })).code).toBe(0)
    const got = await cli(['config', 'get', 'auth/cli', '--token', READ])
    expect(got).toMatchObject({ code: 0, stdout: 'ok\n' })
    // The agent's own variable serves the CLI too.
    expect((await cli(['config', 'del', 'auth/cli'], { MURMUR_HTTP_TOKEN_FILE: join(dir, 'write.token') })).code).toBe(0)
  })

  it('client library: sends its token on calls and watches; without it, calls and watches are refused', async () => {
    const anonymous = new Murmur({ http: a.http, token: '' })
    const err = await anonymous.config.set('auth/lib', 1).catch(e => e)
    expect(err).toBeInstanceOf(MurmurClientError)
    expect(err).toMatchObject({ code: 'MURMUR_ERR_UNAUTHORIZED', status: 401 })
    const refused = await new Promise<Error>(resolve => {
      const stop = anonymous.config.watch('auth/', () => {}, { onError: e => { stop(); resolve(e) } })
    })
    expect(refused).toMatchObject({ code: 'MURMUR_ERR_UNAUTHORIZED' })

    const writer = new Murmur({ http: a.http, token: WRITE })
    const events: ConfigEvent[] = []
    const stop = new Murmur({ http: a.http, token: READ }).config.watch('auth/lib', ev => events.push(ev), { onError: () => {} })
    try {
      await waitFor('the snapshot', () => events.length > 0)
      expect((await writer.config.set('auth/lib', 'v')).value).toBe('v')
      await waitFor('the put event', () => events.some(e => e.type === 'put' && e.item.key === 'auth/lib'))
    } finally {
      stop()
    }
  })
})

describe('security settings at start', () => {
  async function agentExit (extra: string[]): Promise<{ code: number, stderr: string }> {
    return await new Promise(resolve => {
      execFile(process.execPath, [BIN, 'agent', '--no-mdns', '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...extra], { timeout: 60_000 }, (err, _stdout, stderr) => {
        resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stderr })
      })
    })
  }

  it('refuses, in one line and with exit 2, a bad token file, key file or allow-list', async () => {
    writeFileSync(join(dir, 'short.token'), 'short')
    writeFileSync(join(dir, 'not.key'), 'hello')
    const cases: Array<[string[], RegExp]> = [
      [['--http-token-file', join(dir, 'short.token')], /--http-token-file: .* at least 16 characters/],
      [['--http-read-token-file', join(dir, 'read.token')], /needs --http-token-file/],
      [['--cluster-key', join(dir, 'not.key')], /not a cluster key file .*murmur keygen/],
      [['--cluster-key', join(dir, 'missing.key')], /cannot read/],
      [['--allow', '10.0.0.0/33'], /--allow '10.0.0.0\/33' must be a CIDR block/]
    ]
    const results = await Promise.all(cases.map(async ([extra]) => await agentExit(extra)))
    for (const [i, r] of results.entries()) {
      expect(r.code, `${cases[i][0].join(" ")}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(cases[i][1])
    }
  })
})

describe('sidecar connection cap', () => {
  it(`serves ${CAP} connections, answers 503 beyond them, closes the rest, and stays alive for its peers`, async () => {
    const idle: Socket[] = []
    try {
      // Fill the cap with idle connections (some may belong to earlier tests' keep-alive pools).
      for (let i = 0; i < CAP; i++) idle.push(await open(a.http))
      for (const s of idle) s.on('error', () => {})
      expect(await rawStatus(a.http, '/v1/agent/self')).toBe(503)
      // Far beyond the cap (and near the 256-descriptor limit): closed unanswered, never a crash.
      const flood = await Promise.all(Array.from({ length: 300 }, async () => await open(a.http).catch(() => undefined)))
      for (const s of flood) s?.on('error', () => {})
      const statuses = await Promise.all(Array.from({ length: 20 }, async () => await rawStatus(a.http, '/v1/agent/self')))
      expect(statuses.every(s => s === 503 || s === 'closed')).toBe(true)
      for (const s of flood) s?.destroy()
      // Idle connections are closed by the server (headers timeout), freeing the cap.
      await waitFor('idle connections to be closed by the agent', () => idle.every(s => s.closed), 30_000, 200)
      await waitFor('a 200 again', async () => await rawStatus(a.http, '/v1/agent/self') === 200, 15_000, 200)
      expect(a.alive).toBe(true)
      // Heartbeats never stopped: b never suspected a.
      const members = (await b.get<Array<{ name: string, status: string }>>('/v1/members')).body
      expect(members.find(m => m.name === 'a')?.status).toBe('alive')
      expect((await b.get('/v1/agent/self')).body.counters.memberSuspect).toBe(0)
    } finally {
      for (const s of idle) s.destroy()
    }
  })
})
