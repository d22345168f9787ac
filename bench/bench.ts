// murmur benchmarks, measured against Serf (HashiCorp's gossip membership + user events) on the
// same hosts. Prints one table (murmur, serf, ratio = murmur / serf unless the note names another
// baseline) and writes it as JSON to bench/results/.
//
//   npm run bench                       every scenario (about 20 min on 2 cores)
//   npm run bench -- --quick            a smoke run: N=3, few repetitions (about 3 min)
//   npm run bench -- --only=propagation,failure
//   npm run bench -- --no-serf          murmur only
//   npm run bench -- --loopback         no network namespaces even as root (lab scenarios skipped)
//   npm run bench -- --murmur-args='--suspicion-ms 1000'   extra flags for every murmur agent
//   npm run bench -- --only=propagation --n=10               other cluster sizes for propagation
//   npm run bench -- --only=mdns,failure,soak --n=10         mdns, failure and soak at the largest --n
//   npm run bench -- --scale --n 30,50 --idle 120 [--systems murmur,serf] [--converge 120] [--profile[=30]]
//                                       N agents on 127.0.0.1 at once (bench/scale.ts; not in the default run)
//
//   MURMUR_NODE=/path/to/node npm run bench …   murmur agents on another Node (the bench's own by default)
//
// Scenarios: digest, control (the control loop's round, computed; also `npx tsx bench/control.ts`), memory, sidecar, mdns, propagation, failure, soak, stall (SIGSTOP an observer 10 s), late (bench/lib/scenarios.ts);
// scale (bench/scale.ts) runs only when asked for (--scale or --only=scale).
// Flags that take a value may be written `--n=30` or `--n 30`.
// As root, agents run in network namespaces of the lab (test/lab/netns.ts): one namespace per
// agent on a private bridge, 198.18.x.y addresses, ports 7400/7401 (murmur) and 7946/7373 (serf);
// without root they run on 127.0.0.1 with free ports and --no-mdns, and the scenarios that need
// the lab (mDNS, partition, loss) are skipped. mDNS never runs in the root namespace.
//
// Serf is compared when its binary is on PATH: on Debian/Ubuntu `apt-get install serf` (any
// 0.8+). Without it the serf column stays empty. Nothing else needs it (CI does not).
import '../src/polyfill.js'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { compileAndBundle } from '../scripts/bundle.mjs'
import { Lab } from '../test/lab/netns.js'
import { machine, table, type Row } from './lib/common.js'
import { PROFILES, SCENARIOS, serfPresent, type Ctx } from './lib/scenarios.js'
import type { SystemKind } from './lib/systems.js'
import { scale } from './scale.js'

/** Every scenario; the opt-in ones run only when named. */
const ALL = { ...SCENARIOS, scale }
const OPT_IN = new Set(['scale'])
const VALUED = ['only', 'murmur-args', 'n', 'idle', 'systems', 'converge']
const args: string[] = []
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  if (VALUED.includes(a.slice(2)) && a.startsWith('--') && i + 1 < process.argv.length) args.push(`${a}=${process.argv[++i]}`)
  else args.push(a)
}
const known = /^--(quick|no-serf|loopback|scale|only=.+|murmur-args=.*|n=\d+(,\d+)*|idle=\d+|converge=\d+|profile(=\d+)?|systems=(murmur|serf)(,(murmur|serf))*|help)$/
const bad = args.filter(a => !known.test(a))
if (bad.length > 0 || args.includes('--help')) {
  console.error(`usage: npm run bench -- [--quick] [--only=${Object.keys(ALL).join(',')}] [--no-serf] [--loopback] [--murmur-args='FLAGS'] [--n=N,...]
       npm run bench -- --scale [--n 30,50] [--idle SECONDS] [--systems murmur,serf] [--converge SECONDS] [--profile[=SECONDS]]`)
  process.exit(bad.length > 0 ? 2 : 0)
}
const value = (flag: string): string | undefined => args.find(a => a.startsWith(`--${flag}=`))?.slice(flag.length + 3)
const quick = args.includes('--quick')
const only = args.includes('--scale') ? [...(value('only')?.split(',') ?? []), 'scale'] : value('only')?.split(',')
const murmurArgs = (value('murmur-args') ?? '').split(/\s+/).filter(Boolean)
for (const o of only ?? []) if (!(o in ALL)) { console.error(`bench: unknown scenario '${o}' (known: ${Object.keys(ALL).join(', ')})`); process.exit(2) }

const root = fileURLToPath(new URL('..', import.meta.url))
process.chdir(root)
const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`) }

// A signal ends the run; the lab library and the loopback net kill what they started on exit.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { log(`${sig}: stopping`); process.exit(130) })

await compileAndBundle()
// The scale scenario always runs on loopback: no lab when it is all that was asked for.
const loopOnly = only !== undefined && only.every(o => o === 'scale')
const lab = args.includes('--loopback') || loopOnly ? { ok: false, reason: loopOnly ? 'scale runs on 127.0.0.1' : '--loopback given' } : await Lab.canRun({ prefix: 'mbch' })
if (!lab.ok && !loopOnly) log(`agents on 127.0.0.1, not in network namespaces (${lab.reason ?? ''}); mDNS, partition and loss scenarios skipped`)
const systems = value('systems')?.split(',') as SystemKind[] | undefined
const serfWanted = !args.includes('--no-serf') && (systems === undefined || systems.includes('serf'))
const serf = serfWanted && serfPresent()
if (!serf) log(!serfWanted ? 'serf: off' : 'serf: binary not found, murmur only (apt-get install serf to compare)')
const ns = value('n')?.split(',').map(Number)
if (ns !== undefined && ns.some(n => n < 2 || n > 99)) { console.error('bench: --n takes cluster sizes from 2 to 99'); process.exit(2) }
const secs = (flag: string): number | undefined => { const v = value(flag); return v === undefined ? undefined : Number(v) * 1000 }
const profile = {
  ...(quick ? PROFILES.quick : PROFILES.full),
  ...(ns !== undefined ? { propagationNs: ns, scaleNs: ns, mdnsN: Math.max(...ns), failureN: Math.max(...ns), soakN: Math.max(...ns) } : {}),
  ...(value('idle') !== undefined ? { scaleIdleMs: secs('idle') } : {}),
  ...(value('converge') !== undefined ? { scaleConvergeMs: secs('converge') } : {}),
  ...(args.includes('--profile') ? { scaleProfileMs: 30_000 } : value('profile') !== undefined ? { scaleProfileMs: secs('profile') } : {})
}
const ctx: Ctx = { profile, useLab: lab.ok, serf, log, murmurArgs, ...(systems !== undefined ? { systems } : {}) }
const load = [loadavg()]

const rows: Row[] = []
const failures: string[] = []
const started = Date.now()
for (const [name, fn] of Object.entries(ALL)) {
  if (only === undefined ? OPT_IN.has(name) : !only.includes(name)) continue
  log(`${name}…`)
  const t0 = Date.now()
  try {
    rows.push(...await fn(ctx))
  } catch (err) {
    failures.push(`${name}: ${(err as Error).message}`)
    log(`${name} FAILED: ${(err as Error).stack ?? String(err)}`)
  }
  log(`${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
}

const m = machine()
load.push(loadavg())
const loads = `load average ${load.map(l => l.map(x => x.toFixed(2)).join(' ')).join(' before, ')} after`
// Node 20 parses these certificates at every process start (~40 ms of CPU each, see README).
// The agents run as `murmur agent` (systems.ts), which hands them to its HTTPS checks instead:
// figures from before that are not comparable with later ones.
const extraCaCerts = process.env.NODE_EXTRA_CA_CERTS ? '; NODE_EXTRA_CA_CERTS set (agents: moved to their HTTPS checks by bin/murmur)' : ''
console.log(`\nmurmur vs serf — ${m.cpus} × ${m.model}, ${m.memGiB} GiB, Node ${m.node}, Linux ${m.kernel}; ${lab.ok ? 'agents in network namespaces' : 'agents on 127.0.0.1'}; ${loopOnly ? 'scale' : quick ? 'quick' : 'full'} run${murmurArgs.length > 0 ? `, murmur ${murmurArgs.join(' ')}` : ''} in ${((Date.now() - started) / 60000).toFixed(1)} min; ${loads}${extraCaCerts}`)
console.log(table(rows))
for (const f of failures) console.log(`FAILED ${f}`)
mkdirSync('bench/results', { recursive: true })
const file = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
writeFileSync(file, JSON.stringify({ machine: m, load, quick, lab: lab.ok, serf, murmurArgs, profile, failures, rows }, null, 2) + '\n')
console.log(`wrote ${file}`)
process.exitCode = failures.length > 0 ? 1 : 0
