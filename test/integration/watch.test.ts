// Blocking queries and event streams on a real agent process: when they answer, what they
// send, resuming with Last-Event-ID, and that a client going away leaves nothing behind.
import { spawn } from 'node:child_process'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SseParser, type SseEvent } from '../../src/client/sse.js'
import { BIN, Cluster, freePort, waitFor, type AgentProc } from '../helpers/agents.js'

const cluster = new Cluster()
let a: AgentProc
let baseline: number
/** Streams a test opened, closed after it whether it passed or not. */
const opened: Stream[] = []

const watchers = async (): Promise<number> => (await a.get('/v1/agent/self')).body.watchers
const indexOf = (r: { headers: Headers }): number => Number(r.headers.get('x-murmur-index'))

/** A read that may block, with a deadline well past any wait the test asks for. */
async function read (path: string, signal?: AbortSignal): Promise<{ status: number, body: any, index: number }> {
  const res = await fetch(`http://${a.http}${path}`, { signal: signal ?? AbortSignal.timeout(120_000) })
  return { status: res.status, body: await res.json(), index: indexOf(res) }
}

interface Stream { status: number, type: string | null, events: SseEvent[], until: (n: number) => Promise<void>, close: () => void }

/** An event stream read into `events` as it arrives. */
async function open (agent: AgentProc, path: string, headers: Record<string, string> = {}): Promise<Stream> {
  const ctl = new AbortController()
  const res = await fetch(`http://${agent.http}${path}`, { headers, signal: ctl.signal })
  const events: SseEvent[] = []
  const parser = new SseParser()
  const decoder = new TextDecoder()
  const stream: Stream = {
    status: res.status,
    type: res.headers.get('content-type'),
    events,
    until: async n => { await waitFor(`${n} events from ${path}`, () => events.length >= n, 30_000, 20) },
    close: () => ctl.abort()
  }
  opened.push(stream)
  ;(async () => {
    for await (const chunk of res.body ?? []) events.push(...parser.push(decoder.decode(chunk, { stream: true })))
  })().catch(() => {})
  return stream
}

const data = (e: SseEvent): any => JSON.parse(e.data)
const idIndex = (e: SseEvent): number => Number(e.id?.split('-')[1])

beforeAll(async () => {
  a = await cluster.start({ name: 'a' })
  baseline = await watchers()
})

afterEach(() => { for (const s of opened.splice(0)) s.close() })
afterAll(async () => { await cluster.stopAll() })

describe('blocking queries', () => {
  it('return when what they read changes, with the new state and a higher index', async () => {
    const first = await a.req('PUT', '/v1/config/b/key', 1)
    expect(first.status).toBe(200)
    const before = await read('/v1/config/b/key')
    const blocked = read(`/v1/config/b/key?index=${before.index}&wait=5m`)
    await waitFor('the read to block', async () => (await watchers()) === baseline + 1)
    await a.req('PUT', '/v1/config/b/key', 2)
    const after = await blocked
    expect(after).toMatchObject({ status: 200, body: { key: 'b/key', value: 2 } })
    expect(after.index).toBeGreaterThan(before.index)

    const services = await read('/v1/services/blocked-web')
    const waiting = read(`/v1/services/blocked-web?index=${services.index}&wait=5m`)
    await waitFor('the services read to block', async () => (await watchers()) === baseline + 1)
    await a.req('PUT', '/v1/agent/services', { name: 'blocked-web', port: 81 })
    expect((await waiting).body.map((i: any) => i.id)).toEqual(['blocked-web'])
  })

  it('answer the unchanged state with the same index when the wait runs out', async () => {
    const before = await read('/v1/config/b/key')
    const started = Date.now()
    const after = await read(`/v1/config/b/key?index=${before.index}&wait=1s`)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    expect(after).toEqual(before)
  })

  it('are not woken by writes outside the prefix they read', async () => {
    const before = await read('/v1/config?prefix=iso/')
    let done = false
    const blocked = read(`/v1/config?prefix=iso/&index=${before.index}&wait=5m`).finally(() => { done = true })
    await waitFor('the prefix read to block', async () => (await watchers()) === baseline + 1)
    // A write wakes its waiters before it is answered: once answered, a woken read has let go.
    await a.req('PUT', '/v1/config/other/x', 1)
    await a.req('PUT', '/v1/config/isolated', 1)
    expect(await watchers()).toBe(baseline + 1)
    expect(done).toBe(false)
    await a.req('PUT', '/v1/config/iso/x', 1)
    expect((await blocked).body.items.map((i: any) => i.key)).toEqual(['iso/x'])
  })

  it('reject a bad index or wait with a 400 JSON error', async () => {
    for (const path of ['/v1/config/b/key', '/v1/config?prefix=b/&', '/v1/services', '/v1/services/web', '/v1/members']) {
      const sep = path.includes('?') ? '' : '?'
      for (const q of ['index=abc', 'index=-1', 'index=1&wait=soon', 'index=1&wait=11m', 'wait=1h']) {
        const r = await read(`${path}${sep}${q}`)
        expect({ q, path, status: r.status, code: r.body.error?.code }).toEqual({ q, path, status: 400, code: 'MURMUR_ERR_BAD_REQUEST' })
        expect(r.body.error.message).toMatch(/index|wait/)
      }
    }
  })

  it('releases 1,000 concurrent waiters with one write', async () => {
    await a.req('PUT', '/v1/config/many', 'wait')
    const before = await read('/v1/config/many')
    const n = 1000
    const blocked = Array.from({ length: n }, async () => await read(`/v1/config/many?index=${before.index}&wait=5m`))
    await waitFor(`${n} reads to block`, async () => (await watchers()) === baseline + n, 60_000, 250)
    await a.req('PUT', '/v1/config/many', 'go')
    const answers = await Promise.all(blocked)
    expect(answers.filter(r => r.status === 200 && r.body.value === 'go')).toHaveLength(n)
    await waitFor('every listener gone', async () => (await watchers()) === baseline)
  })

  it('leave no listener behind when the client goes away', async () => {
    const ctl = new AbortController()
    const blocked = read('/v1/members?index=999999&wait=5m', ctl.signal).catch(() => 'aborted')
    await waitFor('the read to block', async () => (await watchers()) === baseline + 1)
    ctl.abort()
    expect(await blocked).toBe('aborted')
    await waitFor('its listener gone', async () => (await watchers()) === baseline)

    const streams = await Promise.all(['/v1/watch/config', '/v1/watch/members', '/v1/watch/services/web'].map(async p => await open(a, p)))
    await waitFor('three streams', async () => (await watchers()) === baseline + 3)
    for (const s of streams) s.close()
    await waitFor('their listeners gone', async () => (await watchers()) === baseline)
  })
})

describe('event streams', () => {
  it('config: a snapshot of the prefix, then each put and delete under it, in order, with the index as id', async () => {
    await a.req('PUT', '/v1/config/s/one', 1)
    const s = await open(a, '/v1/watch/config?prefix=s/')
    expect(s.status).toBe(200)
    expect(s.type).toBe('text/event-stream')
    await s.until(1)
    expect(s.events[0].event).toBe('snapshot')
    expect(data(s.events[0]).items).toEqual((await a.get('/v1/config?prefix=s/')).body.items)

    await a.req('PUT', '/v1/config/elsewhere', 1)
    const put = await a.req('PUT', '/v1/config/s/two', { n: 2 })
    await a.req('DELETE', '/v1/config/s/one')
    await s.until(3)
    expect(s.events.slice(1).map(e => [e.event, data(e).key])).toEqual([['put', 's/two'], ['delete', 's/one']])
    expect(data(s.events[1])).toEqual(put.body)
    expect(data(s.events[2])).not.toHaveProperty('value')
    const ids = s.events.map(idIndex)
    expect(ids).toEqual([...ids].sort((x, y) => x - y))
    expect(new Set(ids).size).toBe(3)
  })

  it('config: a reconnect with Last-Event-ID gets exactly the changes it missed; an unknown one gets a snapshot', async () => {
    const s = await open(a, '/v1/watch/config?prefix=r/')
    await s.until(1)
    s.close()
    const last = s.events[0].id as string
    for (let i = 0; i < 5; i++) {
      await a.req('PUT', `/v1/config/r/${i}`, i)
      await a.req('PUT', `/v1/config/not-r/${i}`, i)
    }
    await a.req('DELETE', '/v1/config/r/0')

    const resumed = await open(a, '/v1/watch/config?prefix=r/', { 'last-event-id': last })
    await resumed.until(6)
    await a.req('PUT', '/v1/config/r/after', true)
    await resumed.until(7)
    expect(resumed.events.map(e => [e.event, data(e).key])).toEqual([
      ['put', 'r/0'], ['put', 'r/1'], ['put', 'r/2'], ['put', 'r/3'], ['put', 'r/4'], ['delete', 'r/0'], ['put', 'r/after']
    ])

    const generation = last.split('-')[0]
    for (const id of [`${generation}-0`, `1-${idIndex(s.events[0])}`, `${generation}-99999999`, 'garbage']) {
      const fresh = await open(a, '/v1/watch/config?prefix=r/', { 'last-event-id': id })
      await fresh.until(1)
      expect(fresh.events[0].event, id).toBe('snapshot')
      expect(data(fresh.events[0]).items.map((i: any) => i.key)).toEqual(['r/1', 'r/2', 'r/3', 'r/4', 'r/after'])
    }
  })

  it('services: the full instance list now and at each change, filtered like the JSON read', async () => {
    const all = await open(a, '/v1/watch/services/sweb')
    const healthy = await open(a, '/v1/watch/services/sweb?healthy=true')
    await all.until(1)
    await healthy.until(1)
    expect(data(all.events[0])).toEqual([])
    await a.req('PUT', '/v1/agent/services', { name: 'sweb', id: 'sweb-1', port: 8001, check: { ttl: '1m' } })
    await all.until(2)
    expect(data(all.events[1]).map((i: any) => [i.id, i.health])).toEqual([['sweb-1', 'critical']])
    await a.req('PUT', '/v1/agent/services/sweb-1/ttl', { status: 'pass' })
    await all.until(3)
    await healthy.until(2)
    expect(data(all.events[2])).toEqual((await a.get('/v1/services/sweb')).body)
    expect(data(healthy.events[1]).map((i: any) => i.id)).toEqual(['sweb-1'])
    await a.req('DELETE', '/v1/agent/services/sweb-1')
    await all.until(4)
    expect(all.events.map(e => e.event)).toEqual(['instances', 'instances', 'instances', 'instances'])
    expect(data(all.events[3])).toEqual([])
  })

  it('members: the full list now and at each member transition', async () => {
    const s = await open(a, '/v1/watch/members')
    await s.until(1)
    expect(data(s.events[0]).map((m: any) => m.name)).toEqual(['a'])
    const b = await cluster.start({ name: 'b', join: [a.listen] })
    const status = (e: SseEvent): string | undefined => data(e).find((m: any) => m.name === 'b')?.status
    await waitFor('b alive in the stream', () => s.events.some(e => status(e) === 'alive'))
    // Its leave is heard if gossip reached it in time; otherwise it is detected as failed.
    b.kill('SIGTERM')
    await waitFor('b gone in the stream', () => s.events.some(e => status(e) === 'left' || status(e) === 'failed'))
    expect(s.events.every(e => e.event === 'members')).toBe(true)
  })

  it('answers an unknown watch or a bad filter with a JSON error', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['GET', '/v1/watch/nothing', 404, 'MURMUR_ERR_NOT_FOUND'],
      ['GET', '/v1/watch/services', 404, 'MURMUR_ERR_NOT_FOUND'],
      ['GET', '/v1/watch/services/web?healthy=maybe', 400, 'MURMUR_ERR_BAD_REQUEST'],
      ['POST', '/v1/watch/config', 405, 'MURMUR_ERR_METHOD']
    ]
    for (const [method, path, status, code] of cases) {
      const r = await a.req(method, path)
      expect({ path, status: r.status, code: r.body.error.code }).toEqual({ path, status, code })
    }
    await waitFor('no listener left', async () => (await watchers()) === baseline)
  })
})

describe('murmur config watch', () => {
  it('prints a line per change until stopped', async () => {
    const child = spawn(process.execPath, [BIN, 'config', 'watch', 'cli-w/', '--http', a.http], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += String(d) })
    try {
      await waitFor('the snapshot line', () => /snapshot {2}\(no keys\)/.test(out))
      await a.req('PUT', '/v1/config/cli-w/k', { v: 1 })
      await a.req('DELETE', '/v1/config/cli-w/k')
      await waitFor('put and delete lines', () => /put {7}cli-w\/k = {"v":1}\n.*delete {4}cli-w\/k\n/.test(out))
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('fails in one line, exit 1, when no agent is running', async () => {
    const child = spawn(process.execPath, [BIN, 'members', '--watch', '--http', `127.0.0.1:${await freePort()}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', d => { err += String(d) })
    const code = await new Promise(resolve => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(err.trim().split('\n')).toHaveLength(1)
    expect(err).toMatch(/cannot reach the murmur agent/)
  })
})
