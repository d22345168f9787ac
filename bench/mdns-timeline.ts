// Where the time of an mDNS join goes (issue 10): N murmur agents started at once in a lab (one
// network namespace each, as the bench's mdns scenario), with JSON debug logs; per agent, the
// moments of its start-up and join steps, from the agents' own log timestamps, relative to the
// moment the processes were spawned. Needs root (network namespaces); mDNS stays inside the lab.
//
//   npx tsx bench/mdns-timeline.ts [--n 10] [--runs 1] [--murmur-args='...']
//
// Columns (median / max over agents, ms after spawn):
//   started     the agent logged 'started' (libp2p up, protocols served, mDNS on)
//   http        the sidecar answers (what the bench calls ready)
//   dial        first dial of an agent found by mDNS (only the higher id of a pair dials)
//   conn        first connection opened (either direction)
//   member      first other member listed alive
//   all         N - 1 others listed (from the log); 'bench all' is the bench's own view
//   cpuReady    CPU time (ms) the agent had used when its sidecar listened (start-up)
//   cpuJoin     CPU time (ms) it used from then until the bench saw all N alive everywhere
import '../src/polyfill.js'
import { existsSync, renameSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { LabNet } from './lib/net.js'
import { arg, cpuSeconds, median } from './lib/common.js'
import { converge, names } from './lib/scenarios.js'
import { MurmurSystem } from './lib/systems.js'

const n = Number(arg('n', '10'))
const runs = Number(arg('runs', '1'))
const extra = arg('murmur-args', '').split(/\s+/).filter(Boolean)
/** Every log line, as `ms-after-spawn agent json`, for a closer look. */
const dump = arg('dump', '')
const dumped: string[] = []
/** One agent (e.g. n1) profiled from its sidecar's start until all see all: written to --profile-out. */
const profiled = arg('profile', '')
const profileOut = arg('profile-out', '/tmp/murmur-join.cpuprofile')
const HOOK = pathToFileURL(fileURLToPath(new URL('./lib/cpu-prof-hook.mjs', import.meta.url))).href

interface Steps { started?: number, http?: number, dial?: number, conn?: number, member?: number, all?: number, cpuReady?: number, cpuJoin?: number }
const COLS: Array<keyof Steps> = ['started', 'http', 'dial', 'conn', 'member', 'all', 'cpuReady', 'cpuJoin']

function fmt (xs: Array<number | undefined>): string {
  const v = xs.filter((x): x is number => x !== undefined)
  if (v.length === 0) return '-'
  return `${median(v).toFixed(0)} / ${Math.max(...v).toFixed(0)}${v.length < xs.length ? ` (${v.length})` : ''}`
}

for (let run = 0; run < runs; run++) {
  const net = await LabNet.create(n, 'mtln')
  const sys = new MurmurSystem(net, `tl${process.pid % 10000}x${run}`, ['--log-format', 'json', '--log-level', 'debug', ...extra],
    name => name === profiled ? ['--import', HOOK] : [])
  const steps = new Map<string, Steps>()
  const load = loadavg()[0]
  try {
    const t0 = Date.now()
    const p0 = performance.now()
    const start = sys.start(net.hosts, 'mdns')
    // The agents are spawned one by one after a few awaits: hook each before its first output.
    for (let i = 0; sys.agents.length < n && i < 10_000; i++) await new Promise(resolve => setImmediate(resolve))
    for (const a of sys.agents) {
      const s: Steps = {}
      steps.set(a.name, s)
      const seen = new Set<string>()
      a.proc.onLine(line => {
        if (!line.startsWith('{')) return
        let o: Record<string, unknown>
        try { o = JSON.parse(line) } catch { return }
        const at = Date.parse(String(o.time)) - t0
        const key = `${String(o.component)} ${String(o.msg)}`
        if (dump !== '') dumped.push(`${String(at).padStart(6)} ${a.name} ${line}`)
        if (key === 'agent started') s.started ??= at
        else if (key === 'http sidecar listening' && s.http === undefined) {
          s.http = at
          s.cpuReady = Math.round(cpuSeconds(a.pid) * 1000)
          if (a.name === profiled) a.proc.kill('SIGUSR2')
        }
        else if (key === 'mdns dialling an agent that answered') s.dial ??= at
        else if (key === 'net connected') s.conn ??= at
        else if (key === 'member joined' || key === 'member up') {
          s.member ??= at
          seen.add(String(o.name))
          if (seen.size === n - 1) s.all ??= at
        }
      })
    }
    await start
    const ready = sys.readyAt - p0
    const all = await converge(sys, names(n), p0, 120_000)
    const prof = sys.agents.find(a => a.name === profiled)
    if (prof !== undefined) {
      const file = join(tmpdir(), `murmur-cpu-${prof.pid}.cpuprofile`)
      prof.proc.kill('SIGUSR2')
      for (let i = 0; i < 300 && !existsSync(file); i++) await new Promise(resolve => setTimeout(resolve, 100))
      renameSync(file, profileOut)
      console.log(`profile of ${profiled} from its sidecar's start until all see all: ${profileOut}`)
    }
    for (const a of sys.agents) { const s = steps.get(a.name) as Steps; s.cpuJoin = Math.round(cpuSeconds(a.pid) * 1000) - (s.cpuReady ?? 0) }
    const rows = [...steps.values()]
    console.log(`run ${run + 1}: n=${n}, load ${load.toFixed(2)} → ${loadavg()[0].toFixed(2)}; bench all ${all.toFixed(0)} ms from spawn, last ready ${ready.toFixed(0)} ms, after ready ${Math.max(0, all - ready).toFixed(0)} ms`)
    for (const c of COLS) console.log(`  ${c.padEnd(8)} ${fmt(rows.map(r => r[c]))}`)
    for (const [name, r] of steps) console.log(`  ${name.padEnd(4)} ${COLS.map(c => `${c}=${r[c] ?? '-'}`).join(' ')}`)
    if (dump !== '') writeFileSync(dump, dumped.sort().join('\n') + '\n')
  } finally {
    await sys.stop()
    await net.destroy()
  }
}
