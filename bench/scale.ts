// The scale scenario (issue 10): N real agents on 127.0.0.1, each joining the first, all started
// at once; murmur, then Serf, each alone on the machine, in one run. Per system and N:
//   all see all      from the last process start until every agent lists N members alive
//   idle transitions suspect and failed declarations over the idle period, summed over agents
//                    (murmur: its counters; serf: memberlist "Suspect" lines, member-failed events)
//   idle CPU, RSS    per agent from /proc over the idle period (mean, max)
//   kill -9          the last agent, until every other one shows it failed
//   CPU profile      murmur, with a profile window: the self-time top of agent n1 while idle
//
//   npm run bench -- --scale [--n 30,50] [--idle 120] [--systems murmur,serf] [--converge 120] [--profile[=30]]
//
// Every wait has a deadline; every process is killed by PID when a system's run ends, and on exit
// of the bench (bench/lib/net.ts); the profile file is removed.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { cpuPercent, cpuSeconds, rssMiB, sleep, type Row } from './lib/common.js'
import { summarize, type CpuProfile, type ProfileSummary } from './lib/cpu-profile.js'
import { LoopNet } from './lib/net.js'
import { converge, kinds, maxOf, names, seenAs, type Ctx } from './lib/scenarios.js'
import { MurmurSystem, SerfSystem, type System, type SystemKind } from './lib/systems.js'

const HOOK = pathToFileURL(fileURLToPath(new URL('./lib/cpu-prof-hook.mjs', import.meta.url))).href
const PROFILED = 'n1'
const KILL_TIMEOUT_MS = 60_000
/** From all see all to the start of the idle period, for every system (see where it is used). */
const SETTLE_MS = 10_000

export interface ScaleResult {
  /** null: not every agent saw all N alive within the deadline */
  allSeeAllMs: number | null
  /** the same, from the moment the last agent answered its API (start-up cost excluded); 0 when all saw all by then */
  allSeeAllReadyMs: number | null
  /** from the last process start until the last agent answered its API */
  readyMs: number | null
  /** agents that listed all N alive at the deadline (N when allSeeAllMs is set) */
  sawAll: number
  suspect: number | null
  failed: number | null
  cpu: number[]
  rss: number[]
  killMs: number | null
  /** the profiled agent's CPU over the profile window (% of a core, /proc) and its self-time top */
  profile?: { cpuPct: number, summary: ProfileSummary }
  /** 1-minute load average when the run started */
  load: number
  errors: string[]
  /** the agents' process ids (all killed when the run returns) */
  pids: number[]
}

/** The last run's raw results per N (for the smoke test). */
export const scaleResults = new Map<number, Partial<Record<SystemKind, ScaleResult>>>()

// Profiles being written; removed if the bench exits before reading them.
const profileFiles = new Set<string>()
process.on('exit', () => { for (const f of profileFiles) rmSync(f, { force: true }) })

let clusterSeq = 0

/**
 * SIGUSR2 to the agent preloaded with the hook, twice `ms` apart; its CPU use over the window
 * from /proc (the profile's non-idle share is not that: on a loaded machine a thread that is
 * runnable but waiting for a core is sampled as busy) and the parsed profile.
 */
async function profileIdle (pid: number, ms: number): Promise<{ cpuPct: number, summary: ProfileSummary }> {
  const file = join(tmpdir(), `murmur-cpu-${pid}.cpuprofile`)
  profileFiles.add(file)
  try {
    process.kill(pid, 'SIGUSR2')
    const cpu0 = cpuSeconds(pid)
    const t0 = performance.now()
    await sleep(ms)
    process.kill(pid, 'SIGUSR2')
    const cpuPct = 100 * (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000)
    const deadline = Date.now() + 30_000
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`no CPU profile from pid ${pid} within 30 s`)
      await sleep(100)
    }
    const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile & { error?: string }
    if (p.error !== undefined) throw new Error(`profiler: ${p.error}`)
    return { cpuPct, summary: summarize(p) }
  } finally {
    rmSync(file, { force: true })
    profileFiles.delete(file)
  }
}

export async function measure (ctx: Ctx, kind: SystemKind, n: number): Promise<ScaleResult> {
  const p = ctx.profile
  const net = new LoopNet(n)
  const cluster = `scale${process.pid % 100000}x${clusterSeq++}`
  const profiling = kind === 'murmur' && p.scaleProfileMs > 0 && n >= 2
  const sys: System = kind === 'murmur'
    ? new MurmurSystem(net, cluster, ctx.murmurArgs, name => profiling && name === PROFILED ? ['--import', HOOK] : [])
    : new SerfSystem(net, cluster)
  const res: ScaleResult = { allSeeAllMs: null, allSeeAllReadyMs: null, readyMs: null, sawAll: 0, suspect: null, failed: null, cpu: [], rss: [], killMs: null, load: loadavg()[0], errors: [], pids: [] }
  const log = (l: string): void => ctx.log(`scale n=${n} ${kind}: ${l}`)
  try {
    try {
      await sys.start(net.hosts, 'join')
    } catch (err) {
      res.errors.push(`start: ${(err as Error).message.split('\n')[0]}`)
      return res
    } finally { res.pids = sys.agents.map(a => a.pid) }
    const want = names(n)
    const left = p.scaleConvergeMs - (performance.now() - sys.spawnedAt)
    try {
      res.readyMs = sys.readyAt - sys.spawnedAt
      res.allSeeAllMs = await converge(sys, want, sys.spawnedAt, Math.max(1000, Math.round(left)))
      res.allSeeAllReadyMs = Math.max(0, res.allSeeAllMs - res.readyMs)
      res.sawAll = n
      log(`all see all ${res.allSeeAllMs.toFixed(0)} ms after the last start, ${res.allSeeAllReadyMs.toFixed(0)} ms after the last agent answered (${res.readyMs.toFixed(0)} ms after the last start)`)
    } catch (err) {
      res.sawAll = sys.agents.filter(a => a.alive(want)).length
      res.errors.push(`all see all: ${(err as Error).message}`)
      log(`not all see all within ${p.scaleConvergeMs / 1000} s (${res.sawAll} of ${n} agents do)`)
    }

    // The idle period starts once the join's deferred work is done: murmur opens its links 2-4 s
    // after the last arrival (Noise handshakes, identify, gossipsub subscriptions, links.ts),
    // which fell in the period when all saw all quickly (idle CPU at N = 30 then read above
    // N = 50's).
    await sleep(SETTLE_MS)
    // An agent too starved to answer its counters in time must not cost the whole run its figures.
    const baseline = await sys.resetCounts().then(() => true, (err: Error) => { res.errors.push(`counters: ${err.message}`); return false })
    const pids = sys.agents.map(a => a.pid)
    res.cpu = await cpuPercent(pids, p.scaleIdleMs)
    if (baseline) {
      try {
        const counts = await sys.failedCounts()
        res.suspect = counts.suspect
        res.failed = counts.failed
      } catch (err) { res.errors.push(`counters: ${(err as Error).message}`) }
    }
    res.rss = pids.map(rssMiB)
    log(`idle ${p.scaleIdleMs / 1000} s: ${String(res.suspect)} suspect, ${res.failed} failed; CPU mean ${mean(res.cpu).toFixed(2)} %, RSS mean ${mean(res.rss).toFixed(0)} MiB`)

    if (profiling) {
      try {
        res.profile = await profileIdle(sys.agents[1].pid, p.scaleProfileMs)
        log(`profile of ${PROFILED}: ${res.profile.cpuPct.toFixed(2)} % of a core`)
      } catch (err) { res.errors.push(`profile: ${(err as Error).message}`) }
    }

    if (n >= 2) {
      const victim = sys.agents[n - 1]
      const t0 = performance.now()
      victim.proc.kill('SIGKILL')
      try {
        res.killMs = await seenAs(sys.agents.slice(0, n - 1), victim.name, 'failed', t0, KILL_TIMEOUT_MS)
        log(`kill -9 ${victim.name}: failed everywhere in ${res.killMs.toFixed(0)} ms`)
      } catch (err) { res.errors.push(`kill -9: ${(err as Error).message}`) }
    }
  } finally {
    await sys.stop()
    await net.destroy()
  }
  return res
}

const mean = (xs: number[]): number => xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length

function rows (ctx: Ctx, n: number, res: Partial<Record<SystemKind, ScaleResult>>): Row[] {
  const p = ctx.profile
  const one = (r: ScaleResult | undefined, f: (r: ScaleResult) => number | null): number | null => {
    const x = r === undefined ? null : f(r)
    return x === null || Number.isFinite(x) ? x : null
  }
  const v = (f: (r: ScaleResult) => number | null): { murmur: number | null, serf: number | null } =>
    ({ murmur: one(res.murmur, f), serf: one(res.serf, f) })
  const row = (scenario: string, metric: string, unit: string, f: (r: ScaleResult) => number | null, note?: string): Row =>
    ({ scenario: `scale: ${scenario}`, n, metric, ...v(f), unit, ...(note !== undefined ? { note } : {}) })
  const secs = p.scaleIdleMs / 1000
  const missed = (['murmur', 'serf'] as const).filter(k => res[k] !== undefined && res[k].allSeeAllMs === null).map(k => {
    const start = res[k]?.errors.find(e => e.startsWith('start: '))
    return start !== undefined ? `${k}: did not start (${start.slice(7)})` : `${k}: not within ${p.scaleConvergeMs / 1000} s, ${res[k]?.sawAll ?? 0} of ${n} agents saw all`
  })
  const out: Row[] = [
    row('all see all', 'after last start', 'ms', r => r.allSeeAllMs,
      `127.0.0.1, all started at once, each joining the first; last process start until every agent lists ${n} alive${missed.length > 0 ? '; ' + missed.join('; ') : ''}`),
    row('all see all', 'after last ready', 'ms', r => r.allSeeAllReadyMs, 'from the moment the last agent answered its API (murmur HTTP, serf RPC): start-up excluded'),
    row('start-up', 'last agent ready', 'ms', r => r.readyMs, 'last process start until the last agent answered its API'),
    row('idle transitions', 'suspect', 'count', r => r.suspect, `${secs} s idle from ${SETTLE_MS / 1000} s after all see all, summed over agents; murmur: suspect counter; serf: memberlist "Suspect" log lines`),
    row('idle transitions', 'failed', 'count', r => r.failed, 'murmur: failed counter; serf: member-failed events'),
    row('idle CPU per agent', 'mean', '%', r => mean(r.cpu), `share of one core over the ${secs} s idle period, /proc/PID/stat`),
    row('idle CPU per agent', 'max', '%', r => maxOf(r.cpu)),
    row('RSS per agent', 'mean', 'MiB', r => mean(r.rss), 'at the end of the idle period, /proc/PID/status'),
    row('RSS per agent', 'max', 'MiB', r => maxOf(r.rss)),
    row('kill -9 detection', 'all others', 'ms', r => r.killMs, `SIGKILL of n${n - 1} until every other agent shows it failed (after the idle period)`),
    { ...row('load average', '1 min', '', r => r.load, 'os.loadavg() when the system\'s run started (the machine may be shared)'), ratio: null }
  ]
  const prof = res.murmur?.profile
  if (prof !== undefined) {
    const scenario = `scale: idle CPU profile, murmur ${PROFILED}`
    const secs = prof.summary.wallMs / 1000
    const cpuMs = (share: number): string => `≈ ${(share / 100 * prof.cpuPct / 100 * secs * 1000).toFixed(0)} ms CPU`
    out.push({ scenario, n, metric: 'CPU', murmur: prof.cpuPct, serf: null, unit: '% core', note: `over a ${secs.toFixed(0)} s V8 CPU profile after the idle period (/proc); below: self time, share of the busy samples` })
    for (const t of prof.summary.top) out.push({ scenario, n, metric: t.fn, murmur: t.pctBusy, serf: null, unit: '% busy', note: `${cpuMs(t.pctBusy)}  ${t.where}` })
    for (const q of prof.summary.packages.slice(0, 10)) out.push({ scenario: `${scenario}, by package`, n, metric: q.pkg, murmur: q.pctBusy, serf: null, unit: '% busy', note: cpuMs(q.pctBusy) })
  }
  return out
}

export async function scale (ctx: Ctx): Promise<Row[]> {
  const p = ctx.profile
  if (p.scaleIdleMs < 20_000) ctx.log(`scale: idle period ${p.scaleIdleMs / 1000} s is short for CPU figures (20 s or more is steadier)`)
  const out: Row[] = []
  for (const n of p.scaleNs) {
    const res: Partial<Record<SystemKind, ScaleResult>> = {}
    scaleResults.set(n, res)
    const run = async (kind: SystemKind): Promise<void> => {
      res[kind] = await measure(ctx, kind, n)
      for (const e of res[kind].errors) ctx.log(`scale n=${n} ${kind}: ${e}`)
    }
    // One system at a time, so each has the machine; at once for the smoke test.
    if (ctx.parallel === true) {
      const settled = await Promise.allSettled(kinds(ctx).map(run))
      for (const s of settled) if (s.status === 'rejected') throw s.reason
    } else for (const kind of kinds(ctx)) await run(kind)
    out.push(...rows(ctx, n, res))
  }
  return out
}
