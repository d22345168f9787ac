// Where the time of a kill -9 detection goes (issue 10): N murmur agents in a lab (one network
// namespace each, joined to the first, as the bench's failure scenario), the last one killed
// with SIGKILL; per observer, when it lost its connection to the victim, suspected it, and
// marked it failed, from the agents' own log timestamps, relative to the kill. Needs root
// (network namespaces).
//
//   npx tsx bench/kill-timeline.ts [--n 10] [--runs 3] [--murmur-args='...']
//
// Columns (ms after the kill, median / max over observers; '-' when it never happened):
//   down      the libp2p connection to the victim closed (a hint: probe it now)
//   refused   a message over a stream to the victim could not be handed over (dial refused)
//   suspect   the observer listed the victim suspect
//   failed    the observer listed the victim failed
import '../src/polyfill.js'
import { loadavg } from 'node:os'
import { LabNet } from './lib/net.js'
import { arg, median, sleep } from './lib/common.js'
import { converge, names, seenAs } from './lib/scenarios.js'
import { MurmurSystem } from './lib/systems.js'

const n = Number(arg('n', '10'))
const runs = Number(arg('runs', '3'))
const extra = arg('murmur-args', '').split(/\s+/).filter(Boolean)

interface Steps { down?: number, refused?: number, suspect?: number, failed?: number }
const COLS: Array<keyof Steps> = ['down', 'refused', 'suspect', 'failed']

function fmt (xs: Array<number | undefined>): string {
  const v = xs.filter((x): x is number => x !== undefined)
  if (v.length === 0) return '-'
  return `${median(v).toFixed(0)} / ${Math.max(...v).toFixed(0)}${v.length < xs.length ? ` (${v.length} of ${xs.length})` : ''}`
}

const all: number[] = []
for (let run = 0; run < runs; run++) {
  const net = await LabNet.create(n, 'mktl')
  const sys = new MurmurSystem(net, `kt${process.pid % 10000}x${run}`, ['--log-format', 'json', '--log-level', 'debug', ...extra])
  try {
    await sys.start(net.hosts, 'join')
    await converge(sys, names(n), performance.now(), 120_000)
    await sleep(5000) // as the bench: detectors learn the interval
    const victim = sys.agents[n - 1]
    const victimId = String((await (sys.agents[0] as unknown as { req: (m: string, p: string) => Promise<{ body: any }> }).req('GET', '/v1/members')).body.find((m: any) => m.name === victim.name)?.id)
    const steps = new Map<string, Steps>()
    let t0 = 0
    for (const a of sys.agents.slice(0, -1)) {
      const s: Steps = {}
      steps.set(a.name, s)
      a.proc.onLine(line => {
        if (t0 === 0 || !line.startsWith('{')) return
        let o: Record<string, unknown>
        try { o = JSON.parse(line) } catch { return }
        const at = Date.parse(String(o.time)) - t0
        if (o.component === 'member' && o.name === victim.name && o.msg === 'suspect') s.suspect ??= at
        else if (o.component === 'member' && o.name === victim.name && o.msg === 'failed') s.failed ??= at
        else if (o.component === 'net' && o.msg === 'disconnected' && o.peer === victimId) s.down ??= at
        else if (o.component === 'net' && o.msg === 'unreachable' && o.peer === victimId) s.refused ??= at
      })
    }
    const load = loadavg()[0]
    t0 = Date.now()
    const p0 = performance.now()
    victim.proc.kill('SIGKILL')
    const seen = await seenAs(sys.agents.slice(0, -1), victim.name, 'failed', p0, 60_000)
    all.push(seen)
    await sleep(300) // the last log lines
    const rows = [...steps.values()]
    console.log(`run ${run + 1}: n=${n}, load ${load.toFixed(2)}; bench: failed everywhere ${seen.toFixed(0)} ms after the kill`)
    for (const c of COLS) console.log(`  ${c.padEnd(8)} ${fmt(rows.map(r => r[c]))}`)
    for (const [name, r] of steps) console.log(`  ${name.padEnd(4)} ${COLS.map(c => `${c}=${r[c] ?? '-'}`).join(' ')}`)
  } finally {
    await sys.stop()
    await net.destroy()
  }
}
console.log(`kill -9 → failed everywhere over ${runs} runs: median ${median(all).toFixed(0)} ms, max ${Math.max(...all).toFixed(0)} ms; load now ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
