// `npm run sim -- --n N [--loss P] [--seconds S] [--seed X] [--metrics paced|unpaced] [--failed K] [--json]`:
// one simulated cluster, printed as a table row (or one JSON object), with the run's wall time
// and peak heap. `--metrics` makes every agent's load move all the time, `--failed K` crashes K agents
// before the steady window (see SimOptions).
// package.json runs it with a 128 MiB semi-space (--max-semi-space-size): at N = 1,000 the
// default one is collected so often that GC took a sixth of the CPU.
import { parseArgs } from 'node:util'
import { simulate, type SimResult } from './sim.js'

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100' },
    loss: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    metrics: { type: 'string' },
    failed: { type: 'string', default: '0' },
    json: { type: 'boolean', default: false }
  }
})
const n = Number(values.n)
const loss = Number(values.loss)
const seconds = Number(values.seconds)
const seed = Number(values.seed)
const metrics = values.metrics
const failed = Number(values.failed)
if (!(Number.isInteger(n) && n >= 2 && n <= 100_000) || !(loss >= 0 && loss < 1) || !(seconds >= 15) || !Number.isInteger(seed) || !(Number.isInteger(failed) && failed >= 0 && failed <= n - 2) ||
  !(metrics === undefined || metrics === 'paced' || metrics === 'unpaced')) {
  process.stderr.write('usage: npm run sim -- --n N (>= 2) [--loss P (0..1)] [--seconds S (>= 15)] [--seed X] [--metrics paced|unpaced] [--failed K (<= N - 2)] [--json]\n')
  process.exit(2)
}

let peakHeap = 0
const sampler = setInterval(() => { peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed) }, 200)
const started = performance.now()
const r = await simulate({ n, loss, seconds, seed, metrics, failed })
clearInterval(sampler)
peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
const wallMs = Math.round(performance.now() - started)

if (values.json === true) {
  process.stdout.write(JSON.stringify(r) + '\n')
  process.stderr.write(`wall ${(wallMs / 1000).toFixed(1)} s, peak heap ${Math.round(peakHeap / 2 ** 20)} MiB\n`)
} else {
  printTable(r)
  process.stdout.write(`\nwall ${(wallMs / 1000).toFixed(1)} s, peak heap ${Math.round(peakHeap / 2 ** 20)} MiB\n`)
}

function printTable (r: SimResult): void {
  const ms = (x: number | null): string => (x === null ? 'never' : `${x} ms`)
  const rows: Array<[string, string]> = [
    ['agents', String(r.n)],
    ['loss', `${(r.loss * 100).toFixed(1)} %`],
    ['virtual time', `${r.seconds} s`],
    ['msgs/s per agent (mean / max)', `${r.msgsPerAgentPerSec.mean} / ${r.msgsPerAgentPerSec.max}`],
    ['bytes/s per agent (mean / max)', `${r.bytesPerAgentPerSec.mean} / ${r.bytesPerAgentPerSec.max}`],
    ['all see all after simultaneous joins', ms(r.allSeeAllMs)],
    ['crash marked failed by all (p50)', ms(r.crashDetectedMs)],
    ['false suspicions / false failures', `${r.falseSuspicions} / ${r.falseFailures}`],
    ['config write -> all, p50 / p99', `${ms(r.configP50Ms)} / ${ms(r.configP99Ms)}`]
  ]
  const w = Math.max(...rows.map(x => x[0].length))
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`)
}
