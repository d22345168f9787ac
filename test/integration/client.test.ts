// The TypeScript client against real agent processes: registration kept healthy, picking by
// weight, config reads and writes, and watches that survive dropped connections and restarts.
import { createServer, connect, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Murmur, MurmurClientError, type ConfigEvent, type Instance } from '../../src/client/index.js'
import { Cluster, freePort, waitFor, type AgentProc } from '../helpers/agents.js'

const cluster = new Cluster()
let a: AgentProc, b: AgentProc
let onA: Murmur, onB: Murmur

/** A TCP proxy in front of an agent's sidecar that can drop every connection and refuse new ones. */
async function proxy (target: string): Promise<{ addr: string, cut: () => void, restore: () => void, close: () => void }> {
  const [host, port] = target.split(':')
  const sockets = new Set<Socket>()
  let open = true
  const server: Server = createServer(client => {
    if (!open) return client.destroy()
    const upstream = connect(Number(port), host)
    for (const [s, other] of [[client, upstream], [upstream, client]]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => { sockets.delete(s); other.destroy() })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const cut = (): void => {
    open = false
    for (const s of sockets) s.destroy()
  }
  return {
    addr: `127.0.0.1:${(server.address() as { port: number }).port}`,
    cut,
    restore: () => { open = true },
    close: () => { cut(); server.close() }
  }
}

/** Collects what a config watch reports. */
function configEvents (m: Murmur, prefix: string): { events: ConfigEvent[], stop: () => void, last: () => ReadonlyMap<string, unknown> } {
  const events: ConfigEvent[] = []
  let current: ReadonlyMap<string, unknown> = new Map()
  const stop = m.config.watch(prefix, (ev, state) => {
    events.push(ev)
    current = new Map([...state].map(([k, item]) => [k, item.value]))
  }, { onError: () => {} })
  return { events, stop, last: () => current }
}

const describeEvent = (e: ConfigEvent): string => e.type === 'put' ? `put ${e.item.key}=${JSON.stringify(e.item.value)}` : e.type === 'delete' ? `delete ${e.key}` : `snapshot ${e.items.map(i => i.key).join(',')}`

beforeAll(async () => {
  a = await cluster.start({ name: 'a' })
  b = await cluster.start({ name: 'b', join: [a.listen], dataDir: cluster.tempDir(), httpPort: await freePort() })
  await cluster.converged(['a', 'b'])
  onA = new Murmur({ http: a.http })
  onB = new Murmur({ http: b.http })
})

afterAll(async () => { await cluster.stopAll() })

describe('the murmur client', () => {
  it('registers a service and keeps its TTL check passing, as another agent sees; deregister removes it', async () => {
    const seen: Instance[][] = []
    const stop = onB.services.watch('kept', list => seen.push(list), { onError: () => {} })
    try {
      const reg = await onA.register({ name: 'kept', port: 7001, tags: ['t'] }, { ttl: '3s' })
      expect(reg.id).toBe('kept')
      await waitFor('kept passing on b', () => seen.at(-1)?.[0]?.health === 'passing')
      const from = seen.length - 1
      // Longer than two TTLs: without the client's passes the agent would have marked it critical.
      const until = Date.now() + 6_500
      await waitFor('two TTLs to pass', () => Date.now() > until, 30_000, 250)
      expect(seen.slice(from).every(list => list.length === 1 && list[0].health === 'passing')).toBe(true)
      await reg.deregister()
      await waitFor('kept gone on b', () => seen.at(-1)?.length === 0)
    } finally {
      stop()
    }
  })

  it('registers again when the agent has forgotten the service (restart without a data dir)', async () => {
    const reg = await onA.register({ name: 'again', port: 7201 }, { ttl: '1s' })
    try {
      await a.req('DELETE', '/v1/agent/services/again')
      await waitFor('registered again, passing', async () =>
        (await a.get('/v1/agent/services')).body.some((s: any) => s.id === 'again' && s.health === 'passing'))
    } finally {
      await reg.deregister()
    }
    expect((await a.get('/v1/agent/services')).body.map((s: any) => s.id)).not.toContain('again')
  })

  it('picks only healthy instances, in proportion to their weight', async () => {
    const light = await onA.register({ name: 'pk', id: 'pk-light', port: 7101, weight: 1 })
    const heavy = await onA.register({ name: 'pk', id: 'pk-heavy', port: 7102, weight: 3 })
    // Registered with a TTL check nobody passes: critical, never picked.
    await a.req('PUT', '/v1/agent/services', { name: 'pk', id: 'pk-sick', port: 7103, weight: 1000, check: { ttl: '1h' } })
    try {
      await waitFor('three pk instances on b, two healthy', async () =>
        (await onB.instances('pk')).length === 3 && (await onB.instances('pk', { healthy: true })).length === 2)
      const counts: Record<string, number> = {}
      for (let i = 0; i < 400; i++) {
        const id = (await onB.pick('pk'))?.id ?? 'none'
        counts[id] = (counts[id] ?? 0) + 1
      }
      expect(Object.keys(counts).sort()).toEqual(['pk-heavy', 'pk-light'])
      expect(counts['pk-heavy']).toBeGreaterThan(counts['pk-light'])
      expect(await onB.pick('no-such-service')).toBeUndefined()
    } finally {
      await light.deregister()
      await heavy.deregister()
      await a.req('DELETE', '/v1/agent/services/pk-sick')
    }
  })

  it('reads, writes, lists and deletes config; errors carry the agent\'s code; calls take a signal', async () => {
    const item = await onA.config.set('cl/a', { n: 1 })
    expect(item).toMatchObject({ key: 'cl/a', value: { n: 1 } })
    expect(await onA.config.get('cl/a')).toEqual(item)
    expect(await onA.config.get('cl/missing')).toBeUndefined()
    await onA.config.set('cl/b', 'two')
    expect((await onA.config.list('cl/')).map(i => i.key)).toEqual(['cl/a', 'cl/b'])
    expect(await onA.config.delete('cl/a')).toMatchObject({ key: 'cl/a', deleted: true, existed: true })

    const bad = await onA.config.set('bad key', 1).catch(e => e)
    expect(bad).toBeInstanceOf(MurmurClientError)
    expect(bad).toMatchObject({ code: 'MURMUR_ERR_BAD_KEY', status: 400 })
    const down = await new Murmur({ http: `127.0.0.1:${await freePort()}` }).config.get('x').catch(e => e)
    expect(down).toMatchObject({ code: 'MURMUR_ERR_UNREACHABLE' })
    const aborted = await onA.instances('pk', { signal: AbortSignal.abort() }).catch(e => e)
    expect(aborted.name).toBe('AbortError')
  })

  it('watches config on B, written on A: snapshot, then each change, and the current state', async () => {
    await onA.config.set('w/before', 0)
    await waitFor('w/before on b', async () => (await onB.config.get('w/before')) !== undefined)
    const w = configEvents(onB, 'w/')
    try {
      await waitFor('the snapshot', () => w.events.length === 1)
      await onA.config.set('w/x', 1)
      await onA.config.delete('w/before')
      await waitFor('two changes', () => w.events.length === 3)
      expect(w.events.map(describeEvent)).toEqual(['snapshot w/before', 'put w/x=1', 'delete w/before'])
      expect(w.last()).toEqual(new Map([['w/x', 1]]))
    } finally {
      w.stop()
    }
  })

  it('resumes a dropped stream with exactly the changes it missed: no gap, no duplicate', async () => {
    const p = await proxy(b.http)
    const w = configEvents(new Murmur({ http: p.addr }), 'res/')
    try {
      await waitFor('the snapshot', () => w.events.length === 1)
      await onB.config.set('res/0', 0)
      await waitFor('the first put', () => w.events.length === 2)
      p.cut()
      for (let i = 1; i <= 5; i++) await onB.config.set(`res/${i}`, i)
      await onB.config.delete('res/1')
      p.restore()
      await waitFor('the missed changes', () => w.events.length === 8)
      await onB.config.set('res/after', true)
      await waitFor('the next change', () => w.events.length === 9)
      expect(w.events.map(describeEvent)).toEqual([
        'snapshot ', 'put res/0=0', 'put res/1=1', 'put res/2=2', 'put res/3=3', 'put res/4=4', 'put res/5=5', 'delete res/1', 'put res/after=true'
      ])
    } finally {
      w.stop()
      p.close()
    }
  })

  it('keeps a watch through a kill -9 and restart of its agent, and stops on its signal', async () => {
    const ctl = new AbortController()
    const events: ConfigEvent[] = []
    onB.config.watch('rs/', ev => events.push(ev), { signal: ctl.signal, onError: () => {} })
    try {
      await waitFor('the snapshot', () => events.length === 1)
      b.kill('SIGKILL')
      await b.exited
      b = await cluster.start(b.spec)
      await waitFor('a fresh snapshot from the restarted agent', () => events.length === 2, 60_000)
      expect(events[1].type).toBe('snapshot')
      await onA.config.set('rs/after-restart', 'yes')
      await waitFor('the write made on a', () => events.some(e => e.type === 'put' && e.item.key === 'rs/after-restart'), 30_000)
    } finally {
      ctl.abort()
    }
    await waitFor('the stream closed on the agent', async () => (await b.get('/v1/agent/self')).body.watchers === 0)
  })
})
