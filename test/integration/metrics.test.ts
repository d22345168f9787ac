// What an operator scrapes and ships: /metrics of a real agent read by a strict parser of the
// Prometheus text format, and the agent's log in JSON lines (--log-format json). Also: the hot
// reads the sidecar answers from cached bodies follow every change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, waitFor, type AgentProc } from '../helpers/agents.js'
import { parseExposition, type Family } from '../helpers/prom-text.js'

const cluster = new Cluster()
let agent: AgentProc

beforeAll(async () => {
  agent = await cluster.start({ name: 'scraped', extra: ['--log-format', 'json'] })
})
afterAll(async () => { await cluster.stopAll() })

async function scrape (): Promise<{ families: Map<string, Family>, type: string | null }> {
  const res = await fetch(`http://${agent.http}/metrics`)
  expect(res.status).toBe(200)
  return { families: parseExposition(await res.text()), type: res.headers.get('content-type') }
}

describe('/metrics', () => {
  it('is strict Prometheus text with types, HELP in words, _total counters, runtime metrics and build info', async () => {
    const { families, type } = await scrape()
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/)
    for (const f of families.values()) {
      // HELP says what is measured, in words (not the internal field name).
      expect(f.help, f.name).toMatch(/\s/)
      expect(f.type, f.name).not.toBe('untyped')
      if (f.type === 'counter') expect(f.name, 'a counter ends in _total').toMatch(/_total$/)
      // (prom-client's own nodejs_active_*_total are gauges: its names, not ours.)
      else if (f.name.startsWith('murmur_')) expect(f.name, `a ${f.type} does not end in _total`).not.toMatch(/_total$/)
      // Byte counts that only grow are counters (a size held now, such as config_bytes, is a gauge).
      if (/_bytes_total$/.test(f.name)) expect(f.type, f.name).toBe('counter')
    }
    const murmur = [...families.keys()].filter(n => n.startsWith('murmur_'))
    expect(murmur.length).toBeGreaterThan(30)
    // Names the README, the other tests and the bench rely on.
    for (const [name, type] of Object.entries({
      murmur_members: 'gauge',
      murmur_config_keys: 'gauge',
      murmur_config_tombstones: 'gauge',
      murmur_config_bytes: 'gauge',
      murmur_clock_drift_total: 'counter',
      murmur_gossip_rate_limited_total: 'counter',
      murmur_quota_dropped_total: 'counter',
      murmur_config_log_damaged_total: 'counter',
      murmur_gossip_in_bytes_total: 'counter',
      murmur_message_out_bytes_total: 'counter',
      murmur_http_request_duration_seconds: 'histogram',
      murmur_build_info: 'gauge',
      // Default process and Node.js runtime metrics.
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      process_open_fds: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge'
    })) expect(families.get(name)?.type, name).toBe(type)
    expect(families.get('murmur_members')?.samples.find(s => s.labels.status === 'alive')?.value).toBe(1)
    const info = families.get('murmur_build_info')?.samples ?? []
    expect(info).toHaveLength(1)
    expect(info[0].value).toBe(1)
    expect(info[0].labels.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(info[0].labels.node).toMatch(/^v\d+\.\d+\.\d+$/)
  })

  it('keeps a request duration histogram by route pattern and status class', async () => {
    for (let i = 1; i <= 3; i++) expect((await agent.req('PUT', '/v1/agent/services', { name: 'web', id: `web-${i}`, port: 8080 + i })).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await agent.get('/v1/services/web')).status).toBe(200)
    for (const name of ['a', 'b', 'c']) expect((await agent.get(`/v1/config/missing/${name}`)).status).toBe(404)
    expect((await agent.get('/no/such/route')).status).toBe(404)
    const h = (await scrape()).families.get('murmur_http_request_duration_seconds') as Family
    const series = (route: string, status: string, method = 'GET'): Family['samples'] =>
      h.samples.filter(s => s.labels.route === route && s.labels.status === status && s.labels.method === method)
    const count = (route: string, status: string, method?: string): number | undefined =>
      series(route, status, method).find(s => s.name.endsWith('_count'))?.value
    expect(count('/v1/services/:name', '2xx')).toBe(5)
    expect(count('/v1/agent/services', '2xx', 'PUT')).toBe(3)
    expect(count('/v1/config/*key', '4xx')).toBe(3)
    expect(count('none', '4xx')).toBeGreaterThanOrEqual(1)
    // Bounded labels: route patterns, never raw paths; status classes, never codes.
    for (const s of h.samples) {
      expect(s.labels.route).not.toMatch(/web|missing|no\/such/)
      expect(s.labels.status).toMatch(/^[1-5]xx$/)
    }
    // Buckets: ascending bounds up to +Inf, cumulative counts, +Inf equal to _count.
    const buckets = series('/v1/services/:name', '2xx').filter(s => s.name.endsWith('_bucket'))
    const bounds = buckets.map(b => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le))
    expect(bounds).toEqual([...bounds].sort((a, b) => a - b))
    expect(bounds.at(-1)).toBe(Infinity)
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value)
    expect(buckets.at(-1)?.value).toBe(5)
    const sum = series('/v1/services/:name', '2xx').find(s => s.name.endsWith('_sum'))?.value as number
    expect(sum).toBeGreaterThan(0)
    expect(sum).toBeLessThan(60)
  })

  it('counts as counters what it counted before (the agent\'s own series match /v1/agent/self)', async () => {
    const { families } = await scrape()
    const self = (await agent.get('/v1/agent/self')).body
    expect(families.get('murmur_config_keys')?.samples[0].value).toBe(self.config.keys)
    expect(families.get('murmur_local_services')?.samples[0].value).toBe(3)
    expect(families.get('murmur_records_verified_total')?.type).toBe('counter')
  })
})

describe('cached hot reads', () => {
  it('answer the new state, with a new index, right after each change', async () => {
    const set = async (v: unknown): Promise<void> => { expect((await agent.req('PUT', '/v1/config/hot/key', v)).status).toBe(200) }
    await set(1)
    const a = await agent.get('/v1/config/hot/key')
    expect(a.body.value).toBe(1)
    expect((await agent.get('/v1/config/hot/key')).headers.get('x-murmur-index')).toBe(a.headers.get('x-murmur-index'))
    await set({ n: 2 })
    const b = await agent.get('/v1/config/hot/key')
    expect(b.body.value).toEqual({ n: 2 })
    expect(Number(b.headers.get('x-murmur-index'))).toBeGreaterThan(Number(a.headers.get('x-murmur-index')))
    expect((await agent.req('DELETE', '/v1/config/hot/key')).status).toBe(200)
    expect((await agent.get('/v1/config/hot/key')).status).toBe(404)

    const before = (await agent.get('/v1/services/web')).body.length
    expect((await agent.req('PUT', '/v1/agent/services', { name: 'web', id: 'web-hot', port: 9000, tags: ['hot'] })).status).toBe(200)
    expect((await agent.get('/v1/services/web')).body.length).toBe(before + 1)
    expect((await agent.get('/v1/services/web?tag=hot')).body.map((i: any) => i.id)).toEqual(['web-hot'])
    expect((await agent.get('/v1/services/web?healthy=maybe')).status).toBe(400)
    expect((await agent.req('DELETE', '/v1/agent/services/web-hot')).status).toBe(200)
    expect((await agent.get('/v1/services/web')).body.length).toBe(before)
    expect((await agent.get('/v1/services/web?tag=hot')).body).toEqual([])
  })
})

describe('--log-format json', () => {
  it('writes one JSON object per line with time, level, component, msg and the fields', async () => {
    // The sidecar logs its address once it listens: by then the start-up lines are out.
    await waitFor('sidecar listening line', () => agent.output.includes('sidecar listening'))
    const lines = agent.output.split('\n').filter(l => l !== '')
    expect(lines.length).toBeGreaterThan(2)
    const events = lines.map(l => JSON.parse(l) as Record<string, unknown>)
    for (const e of events) {
      expect(Object.keys(e).slice(0, 4)).toEqual(['time', 'level', 'component', 'msg'])
      expect(new Date(e.time as string).toISOString()).toBe(e.time)
      expect(['debug', 'info', 'warn', 'error']).toContain(e.level)
    }
    const started = events.find(e => e.component === 'agent' && e.msg === 'started')
    expect(started).toMatchObject({ level: 'info', node: 'scraped', cluster: 'test', mdns: false })
    expect(events.find(e => e.msg === 'registered')).toMatchObject({ component: 'services', id: 'web-1', name: 'web', port: 8081 })
  })
})
