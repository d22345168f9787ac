// Agent-run health checks (TTL, HTTP, TCP) seen from another agent, and a paused process.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { join } from 'node:path'
import { createServer as createTcpServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, waitFor, type AgentProc } from '../helpers/agents.js'

const cluster = new Cluster()
let a: AgentProc, b: AgentProc

async function healthOn (agent: AgentProc, name: string): Promise<string | undefined> {
  const { body } = await agent.get(`/v1/services/${name}`)
  return body[0]?.health
}

async function healthyCount (agent: AgentProc, name: string): Promise<number> {
  return (await agent.get(`/v1/services/${name}?healthy=true`)).body.length
}

beforeAll(async () => {
  a = await cluster.start({ name: 'a' })
  b = await cluster.start({ name: 'b', join: [a.listen] })
  await cluster.converged(['a', 'b'])
})

afterAll(async () => { await cluster.stopAll() })

describe('health checks run by the agent', () => {
  it('TTL: critical until the first pass, passing on pass, critical again when the TTL runs out', async () => {
    const reg = await a.req('PUT', '/v1/agent/services', { name: 'ttl-svc', port: 5000, check: { ttl: '3s' } })
    expect(reg.body.health).toBe('critical')
    await waitFor('ttl-svc on b', async () => (await healthOn(b, 'ttl-svc')) === 'critical')
    expect(await healthyCount(b, 'ttl-svc')).toBe(0)

    const pass = await a.req('PUT', '/v1/agent/services/ttl-svc/ttl', { status: 'pass', output: 'all good' })
    expect(pass.body).toMatchObject({ health: 'passing', output: 'all good' })
    await waitFor('passing on b', async () => (await healthyCount(b, 'ttl-svc')) === 1)
    const inst = (await b.get('/v1/services/ttl-svc')).body[0]
    expect(inst).toMatchObject({ health: 'passing', output: 'all good' })

    await a.req('PUT', '/v1/agent/services/ttl-svc/ttl', 'warn')
    await waitFor('warning on b', async () => (await healthOn(b, 'ttl-svc')) === 'warning')
    expect(await healthyCount(b, 'ttl-svc')).toBe(0)

    await a.req('PUT', '/v1/agent/services/ttl-svc/ttl', { status: 'pass' })
    await waitFor('passing again', async () => (await healthyCount(b, 'ttl-svc')) === 1)
    // No more updates: the TTL expires and the instance leaves the healthy answer everywhere.
    await waitFor('ttl expired on b', async () => (await healthOn(b, 'ttl-svc')) === 'critical', 15_000)
    expect((await b.get('/v1/services/ttl-svc')).body[0].output).toMatch(/TTL expired/)
  })

  it('HTTP: follows a real local server that starts failing, is busy, hangs and recovers', async () => {
    let status: number | 'hang' = 200
    const server: Server = createHttpServer((_req, res) => { if (status !== 'hang') { res.writeHead(status); res.end() } })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    try {
      await a.req('PUT', '/v1/agent/services', { name: 'http-svc', port, check: { http: `http://127.0.0.1:${port}/health`, interval: '300ms', timeout: '1s' } })
      await waitFor('passing on b', async () => (await healthyCount(b, 'http-svc')) === 1)
      status = 500
      await waitFor('critical on b', async () => (await healthOn(b, 'http-svc')) === 'critical')
      expect((await b.get('/v1/services/http-svc')).body[0].output).toMatch(/500/)
      expect(await healthyCount(b, 'http-svc')).toBe(0)
      status = 429
      await waitFor('warning on b', async () => (await healthOn(b, 'http-svc')) === 'warning')
      status = 'hang'
      await waitFor('timed out on b', async () => /timed out after 1000 ms/.test((await b.get('/v1/services/http-svc')).body[0].output))
      expect(await healthOn(b, 'http-svc')).toBe('critical')
      status = 200
      await waitFor('recovered on b', async () => (await healthyCount(b, 'http-svc')) === 1)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })

  it('HTTPS: `murmur agent` trusts the CA certificates of NODE_EXTRA_CA_CERTS without Node loading them at start', async () => {
    const dir = cluster.tempDir()
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')]
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=murmur test CA', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
    const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => { res.writeHead(204); res.end() })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/health`
    // Alone (no join): the sleeper test below wants a cluster of a, b and the sleeper.
    const c = await cluster.start({ name: 'c', asProgram: true, env: { NODE_EXTRA_CA_CERTS: cert } })
    try {
      // bin/murmur's shell part handed the path over: Node itself did not read the file.
      const environ = readFileSync(`/proc/${c.pid}/environ`, 'utf8').split('\0')
      expect(environ).toContain(`MURMUR_EXTRA_CA_CERTS=${cert}`)
      expect(environ.filter(e => e.startsWith('NODE_EXTRA_CA_CERTS='))).toEqual([])
      await c.req('PUT', '/v1/agent/services', { name: 'https-svc', port: 443, check: { http: url, interval: '300ms' } })
      await waitFor('passing', async () => (await healthyCount(c, 'https-svc')) === 1)
      expect((await c.get('/v1/services/https-svc')).body[0].output).toBe(`HTTP GET ${url}: 204 No Content`)
      // An agent that was not given the CA does not trust the server.
      await a.req('PUT', '/v1/agent/services', { name: 'https-untrusted', port: 443, check: { http: url, interval: '300ms' } })
      await waitFor('a certificate error', async () => /CERT/.test((await a.get('/v1/services/https-untrusted')).body[0]?.output ?? ''))
      expect(await healthOn(a, 'https-untrusted')).toBe('critical')
    } finally {
      c.kill()
      server.close()
    }
  })

  it('TCP: passing while something listens, critical once it stops', async () => {
    const server = createTcpServer(sock => sock.destroy())
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    await a.req('PUT', '/v1/agent/services', { name: 'tcp-svc', port, check: { tcp: `127.0.0.1:${port}`, interval: '300ms' } })
    await waitFor('passing on b', async () => (await healthyCount(b, 'tcp-svc')) === 1)
    await new Promise<void>(resolve => server.close(() => resolve()))
    await waitFor('critical on b', async () => (await healthOn(b, 'tcp-svc')) === 'critical')
    expect((await b.get('/v1/services/tcp-svc')).body[0].output).toMatch(/ECONNREFUSED/)
  })

  it('rejects malformed checks and TTL updates with clear 4xx errors', async () => {
    const bad: unknown[] = [
      { ttl: 'soon' }, { ttl: '10s', http: 'http://x' }, { http: 'ftp://x', interval: '1s' },
      { http: 'http://127.0.0.1:1/', interval: '1ms' }, { tcp: 'nohost', interval: '1s' }, { tcp: 'h:1', interval: '1s', retries: 3 }, 'ttl'
    ]
    for (const check of bad) {
      const r = await a.req('PUT', '/v1/agent/services', { name: 'bad-check', port: 1, check })
      expect({ check, status: r.status, code: r.body.error.code }).toEqual({ check, status: 400, code: 'MURMUR_ERR_BAD_SERVICE' })
    }
    expect((await a.req('PUT', '/v1/agent/services/ttl-svc/ttl', { status: 'maybe' })).status).toBe(400)
    expect((await a.req('PUT', '/v1/agent/services/http-svc/ttl', { status: 'pass' })).status).toBe(404)
    expect((await a.req('PUT', '/v1/agent/services/ghost/ttl', { status: 'pass' })).status).toBe(404)
  })

  it('a process paused (SIGSTOP) past detection is failed, then alive again everywhere on SIGCONT, never twice; it accuses nobody itself', async () => {
    const c = await cluster.start({ name: 'sleeper', join: [a.listen] })
    await cluster.converged(['a', 'b', 'sleeper'])
    const failedBefore = await Promise.all([a, b].map(async x => (await x.get('/v1/agent/self')).body.counters.memberFailed as number))
    const stoppedAt = Date.now()
    c.kill('SIGSTOP')
    try {
      for (const x of [a, b]) {
        await waitFor('sleeper failed', async () => (await x.get('/v1/members')).body.find((m: any) => m.name === 'sleeper')?.status === 'failed', 30_000)
      }
      // At least 10 s stopped: every timer of the sleeper is long overdue when it resumes.
      await new Promise(resolve => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - stoppedAt))))
    } finally {
      c.kill('SIGCONT')
    }
    await cluster.converged(['a', 'b', 'sleeper'])
    for (const x of [a, b]) {
      const rows = (await x.get('/v1/members')).body.filter((m: any) => m.name === 'sleeper')
      expect(rows).toHaveLength(1)
    }
    // Lifeguard: the sleeper knows its own silence was its own; it marked nobody failed. The
    // others marked only the sleeper failed, once: never each other, whatever its backlog said.
    const counters = (await c.get('/v1/agent/self')).body.counters
    expect(counters.memberFailed).toBe(0)
    for (const [i, x] of [a, b].entries()) expect((await x.get('/v1/agent/self')).body.counters.memberFailed - failedBefore[i]).toBe(1)
    for (const x of [a, b, c]) expect((await x.get('/v1/members')).body.filter((m: any) => m.status !== 'alive')).toEqual([])
    expect(c.output).toMatch(/stalled/)
  })
})
