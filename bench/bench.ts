// murmur benchmarks: real agent processes on 127.0.0.1. Prints a table and writes JSON to
// bench/results/. Every scenario is bounded and kills what it started.
//   npm run bench                 all scenarios
//   npm run bench -- --quick      fewer repetitions (a smoke run)
import '../src/polyfill.js'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { encode } from '../src/net/codec.js'
import { LwwMap } from '../src/core/lww.js'
import { Cluster, waitFor, type AgentProc } from '../test/helpers/agents.js'

const quick = process.argv.includes('--quick')
const only = process.argv.find(a => a.startsWith('--only='))?.slice(7)
interface Row { scenario: string, n: number, metric: string, value: number, unit: string, note?: string }
const rows: Row[] = []

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))]
}

function rssOf (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) * 1024
}

async function startCluster (n: number, dataDir = false): Promise<{ cluster: Cluster, agents: AgentProc[] }> {
  const cluster = new Cluster()
  try {
    const agents: AgentProc[] = []
    agents.push(await cluster.start({ name: 'n0', dataDir: dataDir ? cluster.tempDir() : undefined }))
    const rest = await Promise.all(Array.from({ length: n - 1 }, async (_, i) =>
      await cluster.start({ name: `n${i + 1}`, join: [agents[0].listen], dataDir: dataDir ? cluster.tempDir() : undefined })))
    agents.push(...rest)
    await cluster.converged(agents.map(a => a.spec.name), 60_000)
    return { cluster, agents }
  } catch (err) {
    await cluster.stopAll()
    throw err
  }
}

/**
 * Time from a PUT on agent 0 until every other agent has the value. Each other agent holds a
 * blocking query on the key, so the arrival is seen when it happens, not at the next poll.
 */
async function propagation (n: number, writes: number): Promise<void> {
  const { cluster, agents } = await startCluster(n)
  try {
    const times: number[] = []
    const index = new Map<AgentProc, string>(agents.map(a => [a, '0']))
    for (let i = 0; i < writes; i++) {
      const t0 = performance.now()
      const arrivals = agents.slice(1).map(async a => {
        for (;;) {
          const r = await a.get(`/v1/config/bench/p?index=${index.get(a) ?? '0'}&wait=20s`)
          index.set(a, r.headers.get('x-murmur-index') ?? '0')
          if (r.body?.value === i) return performance.now() - t0
        }
      })
      await agents[0].req('PUT', '/v1/config/bench/p', i)
      times.push(Math.max(...await Promise.all(arrivals)))
    }
    rows.push({ scenario: 'config propagation', n, metric: 'p50', value: pct(times, 50), unit: 'ms', note: `${writes} writes, PUT sent to readable on all (blocking queries)` })
    rows.push({ scenario: 'config propagation', n, metric: 'p99', value: pct(times, 99), unit: 'ms' })
  } finally { await cluster.stopAll() }
}

async function killDetection (n: number, reps: number): Promise<void> {
  const times: number[] = []
  for (let r = 0; r < reps; r++) {
    const { cluster, agents } = await startCluster(n)
    try {
      await new Promise(resolve => setTimeout(resolve, 3000)) // let detectors learn the interval
      const victim = agents[n - 1]
      const t0 = performance.now()
      victim.kill('SIGKILL')
      await Promise.all(agents.slice(0, n - 1).map(async a => await waitFor('failed', async () =>
        (await a.get('/v1/members')).body.find((m: any) => m.name === victim.spec.name)?.status === 'failed', 60_000, 50)))
      times.push(performance.now() - t0)
    } finally { await cluster.stopAll() }
  }
  rows.push({ scenario: 'kill -9 detection', n, metric: 'median', value: pct(times, 50), unit: 'ms', note: `${reps} runs, until every other agent shows failed` })
  rows.push({ scenario: 'kill -9 detection', n, metric: 'max', value: Math.max(...times), unit: 'ms' })
}

async function leave (n: number): Promise<void> {
  const { cluster, agents } = await startCluster(n)
  try {
    const victim = agents[n - 1]
    const t0 = performance.now()
    victim.kill('SIGTERM')
    await Promise.all(agents.slice(0, n - 1).map(async a => await waitFor('left', async () =>
      (await a.get('/v1/members')).body.find((m: any) => m.name === victim.spec.name)?.status === 'left', 30_000, 20)))
    rows.push({ scenario: 'SIGTERM to left', n, metric: 'all agents', value: performance.now() - t0, unit: 'ms' })
  } finally { await cluster.stopAll() }
}

async function memory (): Promise<void> {
  const { cluster, agents } = await startCluster(3)
  try {
    await new Promise(resolve => setTimeout(resolve, 10_000))
    rows.push({ scenario: 'idle agent RSS', n: 3, metric: 'rss', value: rssOf(agents[0].pid) / 1048576, unit: 'MiB', note: 'after 10 s in a 3-agent cluster' })
  } finally { await cluster.stopAll() }
}

async function writeLatencyAndLateJoiner (keys: number): Promise<void> {
  const { cluster, agents } = await startCluster(1, true)
  try {
    const lat: number[] = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < keys) {
        const i = next++
        const t0 = performance.now()
        const r = await agents[0].req('PUT', `/v1/config/late/${i}`, { i, pad: 'x'.repeat(32) })
        if (r.status !== 200) throw new Error(`write failed: ${JSON.stringify(r.body)}`)
        lat.push(performance.now() - t0)
      }
    }
    const t0 = performance.now()
    await Promise.all(Array.from({ length: 16 }, worker))
    const secs = (performance.now() - t0) / 1000
    rows.push({ scenario: 'durable write (fsync)', n: 1, metric: 'p50', value: pct(lat, 50), unit: 'ms', note: `${keys} PUTs, 16 concurrent, group commit` })
    rows.push({ scenario: 'durable write (fsync)', n: 1, metric: 'p99', value: pct(lat, 99), unit: 'ms' })
    rows.push({ scenario: 'durable write (fsync)', n: 1, metric: 'throughput', value: keys / secs, unit: 'writes/s' })
    const t1 = performance.now()
    const late = await cluster.start({ name: 'late', join: [agents[0].listen] })
    await waitFor('all keys on the late joiner', async () => (await late.get('/v1/agent/self')).body.config.keys === keys, 120_000, 20)
    rows.push({ scenario: 'late joiner', n: 2, metric: `${keys} keys`, value: performance.now() - t1, unit: 'ms', note: 'process start to all keys readable' })
  } finally { await cluster.stopAll() }
}

function digestSize (): void {
  for (const keys of [100, 10_000]) {
    const m = new LwwMap()
    for (let i = 0; i < keys; i++) m.apply({ key: `k/${i}`, value: i, deleted: false, hlc: { wall: 1_700_000_000_000 + i, logical: 0 }, origin: 'o' })
    const frame = encode({ t: 'digest', members: [], buckets: new Uint8Array(m.digest().buffer) })
    rows.push({ scenario: 'sync digest size', n: keys, metric: 'bytes', value: frame.byteLength, unit: 'B', note: 'config part; + ~70 B per member' })
  }
}

const scenarios: Record<string, () => Promise<void> | void> = {
  digest: digestSize,
  propagation: async () => {
    await propagation(3, quick ? 10 : 100)
    await propagation(10, quick ? 10 : 100)
  },
  kill: async () => { await killDetection(5, quick ? 1 : 5) },
  leave: async () => { await leave(5) },
  memory,
  durable: async () => { await writeLatencyAndLateJoiner(quick ? 1000 : 10_000) }
}

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' })
for (const [name, fn] of Object.entries(scenarios)) {
  if (only !== undefined && !only.split(',').includes(name)) continue
  process.stderr.write(`bench: ${name}...\n`)
  await fn()
}
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1))
const w = [24, 6, 12, 10]
console.log(['scenario'.padEnd(w[0]), 'n'.padStart(w[1]), 'metric'.padEnd(w[2]), 'value'.padStart(w[3]), 'unit  note'].join(' '))
for (const r of rows) console.log([r.scenario.padEnd(w[0]), String(r.n).padStart(w[1]), r.metric.padEnd(w[2]), fmt(r.value).padStart(w[3]), `${r.unit.padEnd(5)} ${r.note ?? ''}`].join(' '))
mkdirSync('bench/results', { recursive: true })
const file = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
writeFileSync(file, JSON.stringify({ machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, quick, rows }, null, 2))
console.log(`wrote ${file}`)
