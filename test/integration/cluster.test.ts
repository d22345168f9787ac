// Three (then four, then five) real agent processes on loopback with --join and no mDNS.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, Cluster, freePort, waitFor, type AgentProc } from '../helpers/agents.js'

const run = promisify(execFile)
const cluster = new Cluster()
let a: AgentProc, b: AgentProc, c: AgentProc

async function cli (args: string[], http: string): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args, '--http', http], { timeout: 30_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

async function configOn (agent: AgentProc, key: string): Promise<{ status: number, body: any }> {
  return await agent.get(`/v1/config/${key}`)
}

beforeAll(async () => {
  a = await cluster.start({ name: 'a' })
  b = await cluster.start({ name: 'b', join: [a.listen] })
  c = await cluster.start({ name: 'c', join: [b.listen] })
  await cluster.converged(['a', 'b', 'c'])
})

afterAll(async () => { await cluster.stopAll() })

describe('a three-agent cluster joined through one known agent each', () => {
  it('lists every member with identity, status, generation and metrics on every agent', async () => {
    for (const agent of [a, b, c]) {
      const { body, headers } = await agent.get('/v1/members')
      expect(headers.get('x-murmur-index')).toMatch(/^\d+$/)
      expect(body.map((m: any) => m.name).sort()).toEqual(['a', 'b', 'c'])
      for (const m of body) {
        expect(m.id).toMatch(/^12D3Koo/)
        expect(m.address).toBe('127.0.0.1')
        expect(m.generation).toBeGreaterThan(0)
        expect(Date.parse(m.lastSeen)).not.toBeNaN()
        expect(m.metrics.rss).toBeGreaterThan(0)
        expect(typeof m.metrics.cpu).toBe('number')
        expect(typeof m.metrics.load1).toBe('number')
      }
    }
  })

  it('connects members to each other, not only to the agent they joined through', async () => {
    await waitFor('c to connect to a directly', async () => (await c.get('/v1/agent/self')).body.peers >= 2)
  })

  it('finds a service registered on A from C, with all its fields', async () => {
    const reg = await a.req('PUT', '/v1/agent/services', { name: 'web', id: 'web-1', port: 8080, tags: ['v1', 'blue'], meta: { zone: 'z1' } })
    expect(reg.status).toBe(200)
    const instances = await waitFor('web on c', async () => {
      const { body } = await c.get('/v1/services/web')
      return body.length === 1 ? body : undefined
    })
    expect(instances[0]).toMatchObject({ id: 'web-1', name: 'web', node: 'a', address: '127.0.0.1', port: 8080, tags: ['v1', 'blue'], meta: { zone: 'z1' } })
    const summary = (await c.get('/v1/services')).body
    expect(summary).toContainEqual(expect.objectContaining({ name: 'web', instances: 1 }))
    expect((await c.get('/v1/services/web?tag=blue')).body).toHaveLength(1)
    expect((await c.get('/v1/services/web?tag=green')).body).toHaveLength(0)
    expect((await c.get('/v1/services/nothing')).body).toEqual([])
  })

  it('reads on A and C a config value written on B, with its version', async () => {
    const put = await b.req('PUT', '/v1/config/app/db.url', { host: 'db', port: 5432 })
    expect(put.status).toBe(200)
    expect(put.body.version.origin).toMatch(/^12D3Koo/)
    for (const agent of [a, c]) {
      const got = await waitFor('config on peer', async () => {
        const r = await configOn(agent, 'app/db.url')
        return r.status === 200 ? r.body : undefined
      })
      expect(got).toMatchObject({ key: 'app/db.url', value: { host: 'db', port: 5432 }, version: put.body.version })
    }
    // A and C now hold their answer for the key (config-replies.ts): a newer write from B replaces it.
    const next = await b.req('PUT', '/v1/config/app/db.url', { host: 'db2', port: 5432 })
    for (const agent of [a, c]) {
      await waitFor('the newer value on peer', async () => (await configOn(agent, 'app/db.url')).body?.value?.host === 'db2')
      expect((await configOn(agent, 'app/db.url')).body.version).toEqual(next.body.version)
    }
    await b.req('PUT', '/v1/config/app/db.url', { host: 'db', port: 5432 })
    const list = await a.get('/v1/config?prefix=app/')
    expect(list.body.items.map((i: any) => i.key)).toContain('app/db.url')
  })

  it('ends two concurrent writes to one key with the same winner everywhere', async () => {
    await Promise.all([a.req('PUT', '/v1/config/race', 'from-a'), c.req('PUT', '/v1/config/race', 'from-c')])
    const winner = await waitFor('one winner everywhere', async () => {
      const vals = await Promise.all([a, b, c].map(async x => (await configOn(x, 'race')).body?.value))
      return vals.every(v => v !== undefined && v === vals[0]) ? vals[0] : undefined
    })
    expect(['from-a', 'from-c']).toContain(winner)
  })

  it('deletes a key everywhere (404 on every agent)', async () => {
    await a.req('PUT', '/v1/config/doomed', 1)
    // Read on every agent first: each then holds an answer for the key, which the tombstone
    // (local on c, from gossip on a and b) must end.
    for (const agent of [a, b, c]) await waitFor('doomed on every agent', async () => (await configOn(agent, 'doomed')).status === 200)
    const del = await c.req('DELETE', '/v1/config/doomed')
    expect(del.body).toMatchObject({ deleted: true, existed: true })
    for (const agent of [a, b, c]) {
      await waitFor('doomed gone', async () => (await configOn(agent, 'doomed')).status === 404)
    }
  })

  it('rejects bad input with a JSON 4xx error and stores nothing', async () => {
    const cases: Array<[string, string, unknown, string | undefined, number, string]> = [
      ['GET', '/v1/nope', undefined, undefined, 404, 'MURMUR_ERR_NO_ROUTE'],
      ['POST', '/v1/members', undefined, undefined, 405, 'MURMUR_ERR_METHOD'],
      ['PUT', '/v1/config/k1', undefined, '{not json', 400, 'MURMUR_ERR_BAD_JSON'],
      ['PUT', '/v1/config/k1', undefined, '', 400, 'MURMUR_ERR_BAD_JSON'],
      ['PUT', '/v1/config/' + 'k'.repeat(600), 1, undefined, 400, 'MURMUR_ERR_BAD_KEY'],
      ['PUT', '/v1/config/bad%20key', 1, undefined, 400, 'MURMUR_ERR_BAD_KEY'],
      ['PUT', '/v1/config/k1', 'x'.repeat(70_000), undefined, 400, 'MURMUR_ERR_BAD_VALUE'],
      ['PUT', '/v1/config/k1', undefined, 'x'.repeat(1_100_000), 413, 'MURMUR_ERR_TOO_LARGE'],
      ['PUT', '/v1/agent/services', { port: 80 }, undefined, 400, 'MURMUR_ERR_BAD_SERVICE'],
      ['PUT', '/v1/agent/services', { name: '', port: 80 }, undefined, 400, 'MURMUR_ERR_BAD_SERVICE'],
      ['PUT', '/v1/agent/services', { name: 'x', port: 70000 }, undefined, 400, 'MURMUR_ERR_BAD_SERVICE'],
      ['PUT', '/v1/agent/services', { name: 'x', port: 80, colour: 'red' }, undefined, 400, 'MURMUR_ERR_BAD_SERVICE'],
      ['PUT', '/v1/agent/services', [1, 2], undefined, 400, 'MURMUR_ERR_BAD_SERVICE'],
      ['DELETE', '/v1/agent/services/ghost', undefined, undefined, 404, 'MURMUR_ERR_NOT_FOUND'],
      ['GET', '/v1/config/never-set', undefined, undefined, 404, 'MURMUR_ERR_NOT_FOUND'],
      ['GET', '/v1/config/%E0%A4%A', undefined, undefined, 400, 'MURMUR_ERR_BAD_REQUEST'],
      ['GET', '/v1/services/web?healthy=maybe', undefined, undefined, 400, 'MURMUR_ERR_BAD_REQUEST']
    ]
    for (const [method, path, body, raw, status, code] of cases) {
      const r = await a.req(method, path, body, raw)
      expect({ path: path.slice(0, 40), status: r.status, code: r.body?.error?.code }).toEqual({ path: path.slice(0, 40), status, code })
      expect(typeof r.body.error.message).toBe('string')
    }
    expect((await configOn(a, 'k1')).status).toBe(404)
    expect((await a.get('/v1/agent/services')).body.map((s: any) => s.id)).toEqual(['web-1'])
  })

  it('gives a late fourth agent all config and services through state sync', async () => {
    for (let i = 0; i < 50; i++) await b.req('PUT', `/v1/config/bulk/${i}`, i)
    const d = await cluster.start({ name: 'd', join: [c.listen] })
    await cluster.converged(['a', 'b', 'c', 'd'])
    // The 50 fresh writes may come first, through gossipsub's gossip of recent messages once d
    // has its links; the older keys come with anti-entropy's first round. Both must arrive.
    await waitFor('all config on d', async () => {
      const { body } = await d.get('/v1/config?prefix=bulk/')
      return body.items.length === 50 && (await configOn(d, 'app/db.url')).status === 200
    })
    expect((await configOn(d, 'app/db.url')).body.value).toEqual({ host: 'db', port: 5432 })
    expect((await configOn(d, 'doomed')).status).toBe(404)
    await waitFor('web on d', async () => (await d.get('/v1/services/web')).body.length === 1)
  })

  it('serves the CLI: members, services, config, status; --json for scripts', async () => {
    const members = await cli(['members'], c.http)
    expect(members.code).toBe(0)
    expect(members.stdout).toMatch(/^NAME\s+ADDRESS\s+STATUS/)
    for (const n of ['a', 'b', 'c', 'd']) expect(members.stdout).toMatch(new RegExp(`^${n}\\s+127\\.0\\.0\\.1\\s+alive`, 'm'))

    const reg = await cli(['register', 'api', '--port', '9000', '--tag', 'x', '--meta', 'k=v'], c.http)
    expect(reg.code).toBe(0)
    await waitFor('api via cli on a', async () => (await cli(['services', 'api', '--json'], a.http)).stdout.includes('"port": 9000'))
    expect((await cli(['services'], a.http)).stdout).toMatch(/^api\s+1\s+1\s+x$/m)

    expect((await cli(['config', 'set', 'cli/n', '42'], a.http)).code).toBe(0)
    expect((await cli(['config', 'set', 'cli/s', 'hello world'], a.http)).code).toBe(0)
    await waitFor('cli/n on c', async () => (await cli(['config', 'get', 'cli/n'], c.http)).stdout === '42\n')
    const json = JSON.parse((await cli(['config', 'get', 'cli/s', '--json'], a.http)).stdout)
    expect(json.value).toBe('hello world')
    expect((await cli(['config', 'list', 'cli/'], a.http)).stdout).toMatch(/^cli\/n\s+42/m)
    expect((await cli(['config', 'del', 'cli/n'], a.http)).code).toBe(0)
    const missing = await cli(['config', 'get', 'cli/n'], a.http)
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/not set/)
    expect((await cli(['deregister', 'api'], c.http)).code).toBe(0)
    expect((await cli(['status', '--json'], a.http)).stdout).toContain('"cluster": "test"')

    const bad = await cli(['register', 'api', '--port', 'zero'], c.http)
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/port/)
    const unknown = await cli(['frobnicate'], c.http)
    expect(unknown.code).toBe(2)
  })

  it('says in one line, and exits non-zero, when no agent is running', async () => {
    const r = await cli(['members'], `127.0.0.1:${await freePort()}`)
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/cannot reach the murmur agent/)
  })

  it('an agent stopped for 10 s (SIGSTOP) marks nobody failed when it resumes, and is alive everywhere again', async () => {
    // Issue 10 (Lifeguard): its timers all come due at once on SIGCONT; it must take that for its
    // own stall, not for the silence of its peers. The others may fail it meanwhile, nobody else.
    const others = cluster.agents.filter(x => x.alive && x !== c)
    const failedBy = async (x: AgentProc): Promise<number> => Number((await x.get('/v1/agent/self')).body.counters.memberFailed)
    const before = await failedBy(c)
    const wrong = new Set<string>()
    const look = async (): Promise<void> => {
      for (const x of others) {
        for (const m of (await x.get<Array<{ name: string, status: string }>>('/v1/members')).body) {
          if (m.status === 'failed' && m.name !== 'c') wrong.add(`${x.spec.name} listed ${m.name} failed`)
        }
      }
    }
    c.kill('SIGSTOP')
    try {
      for (const end = Date.now() + 10_000; Date.now() < end;) {
        await look()
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    } finally { c.kill('SIGCONT') }
    await waitFor('all alive everywhere after SIGCONT', async () => {
      await look()
      for (const x of cluster.agents.filter(y => y.alive)) {
        const { body } = await x.get<Array<{ name: string, status: string }>>('/v1/members')
        if (body.some(m => m.status !== 'alive')) return false
      }
      return true
    }, 90_000)
    expect(await failedBy(c)).toBe(before)
    expect([...wrong]).toEqual([])
  })

  it('marks an agent killed with kill -9 as failed everywhere and drops its services', async () => {
    a.kill('SIGKILL')
    await a.exited
    for (const agent of [b, c]) {
      await waitFor('a failed', async () => {
        const { body } = await agent.get('/v1/members')
        return body.find((m: any) => m.name === 'a')?.status === 'failed'
      }, 30_000)
      expect((await agent.get('/v1/services/web')).body).toEqual([])
    }
    // The survivors still talk to each other and still replicate.
    await c.req('PUT', '/v1/config/after-a', true)
    await waitFor('after-a on b', async () => (await configOn(b, 'after-a')).status === 200)
  })

  it('forces the failed member out everywhere (murmur force-leave), and refuses for a live one', async () => {
    const alive = await cli(['force-leave', 'c'], b.http)
    expect(alive.code).toBe(1)
    expect(alive.stderr).toMatch(/member 'c' is alive: only a failed member can be forced out .*\(MURMUR_ERR_CONFLICT\)/)
    expect((await b.req('PUT', '/v1/agent/force-leave/c')).status).toBe(409)
    expect((await cli(['force-leave', 'nobody'], b.http)).stderr).toMatch(/MURMUR_ERR_NOT_FOUND/)
    const r = await cli(['force-leave', 'a'], b.http)
    expect(r.code, r.stderr).toBe(0)
    for (const agent of [b, c]) {
      await waitFor('a left', async () => (await agent.get('/v1/members')).body.find((m: any) => m.name === 'a')?.status === 'left', 30_000)
    }
    const left = JSON.parse((await cli(['members', '--status', 'left', '--json'], c.http)).stdout)
    expect(left.map((m: any) => m.name)).toEqual(['a'])
    // Again: nothing more to do, not an error.
    expect((await b.req('PUT', '/v1/agent/force-leave/a')).body).toEqual({ name: 'a', ids: [] })
    // An agent that starts afterwards learns it by state sync (the broadcast is long spent): left, not failed.
    const e = await cluster.start({ name: 'e', join: [c.listen] })
    await waitFor('a left on the late agent', async () => (await e.get('/v1/members')).body.find((m: any) => m.name === 'a')?.status === 'left', 30_000)
  })
})
