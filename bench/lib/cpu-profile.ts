// Self time per function from a V8 CPU profile (.cpuprofile: what `node --cpu-prof` and the
// bench's profiler hook write). Self time is the time a function was on top of the stack, the
// figure that points at what to make cheaper.
//   npx tsx bench/lib/cpu-profile.ts FILE.cpuprofile [K]     prints the top K (default 15)
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export interface CpuProfile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }>
  /** microseconds */
  startTime: number
  endTime: number
  /** node id on top of the stack at each sample */
  samples: number[]
}

export interface SelfTime {
  /** function name, '(anonymous)' when it has none; V8's '(program)', '(garbage collector)' as they are */
  fn: string
  /** file:line, relative to the repository or from the package in node_modules */
  where: string
  ms: number
  /** share of the busy (not idle) samples, in percent */
  pctBusy: number
}

export interface ProfileSummary {
  wallMs: number
  /** time sampled not idle: running, or (on a loaded machine) runnable and waiting for a core */
  busyMs: number
  /** busyMs as a share of the window, in percent */
  busyPctCore: number
  top: SelfTime[]
  /** self time summed per package (npm package, 'murmur', 'node' internals, '(native)' C++ and
   * builtins, '(garbage collector)', '(program)'), largest first */
  packages: Array<{ pkg: string, ms: number, pctBusy: number }>
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

function shortUrl (url: string): string {
  if (url === '') return ''
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = path.lastIndexOf('node_modules/')
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length)
  return path.startsWith('/') ? relative(ROOT, path) : path
}

/** Who owns the code: the npm package, murmur itself, Node's internals, the GC, or native code. */
function packageOf (fn: string, url: string): string {
  if (fn === '(garbage collector)' || fn === '(program)') return fn
  if (url === '') return '(native)'
  if (url.startsWith('node:')) return 'node'
  if (url.startsWith('wasm:')) return 'wasm'
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  const nm = path.lastIndexOf('node_modules/')
  if (nm < 0) return path.startsWith(ROOT) ? 'murmur' : path
  const [a, b] = path.slice(nm + 'node_modules/'.length).split('/')
  return a.startsWith('@') ? `${a}/${b}` : a
}

/** The top `k` functions by self time; '(idle)' is left out and counted as not busy. */
export function summarize (p: CpuProfile, k = 15): ProfileSummary {
  const wallMs = (p.endTime - p.startTime) / 1000
  const msPerSample = p.samples.length > 0 ? wallMs / p.samples.length : 0
  const byId = new Map(p.nodes.map(n => [n.id, n.callFrame]))
  const hits = new Map<string, { fn: string, where: string, n: number }>()
  const pkgs = new Map<string, number>()
  let busy = 0
  for (const id of p.samples) {
    const f = byId.get(id)
    if (f === undefined || f.functionName === '(idle)') continue
    busy++
    const pkg = packageOf(f.functionName, f.url)
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + 1)
    const where = f.url === '' ? '' : `${shortUrl(f.url)}:${f.lineNumber + 1}`
    const key = `${f.functionName}\0${where}`
    const h = hits.get(key) ?? { fn: f.functionName === '' ? '(anonymous)' : f.functionName, where, n: 0 }
    h.n++
    hits.set(key, h)
  }
  const top = [...hits.values()].sort((a, b) => b.n - a.n).slice(0, k)
    .map(h => ({ fn: h.fn, where: h.where, ms: h.n * msPerSample, pctBusy: 100 * h.n / busy }))
  const packages = [...pkgs.entries()].sort((a, b) => b[1] - a[1])
    .map(([pkg, n]) => ({ pkg, ms: n * msPerSample, pctBusy: 100 * n / busy }))
  const busyMs = busy * msPerSample
  return { wallMs, busyMs, busyPctCore: wallMs > 0 ? 100 * busyMs / wallMs : 0, top, packages }
}

export function formatSummary (s: ProfileSummary): string {
  const lines = [`${(s.wallMs / 1000).toFixed(1)} s profiled, not idle ${s.busyMs.toFixed(0)} ms (${s.busyPctCore.toFixed(2)} % of the window); top ${s.top.length} by self time:`]
  for (const [i, t] of s.top.entries()) {
    lines.push(`${String(i + 1).padStart(3)}. ${t.pctBusy.toFixed(1).padStart(5)} %  ${t.ms.toFixed(0).padStart(6)} ms  ${t.fn}  ${t.where}`)
  }
  lines.push(`by package: ${s.packages.map(p => `${p.pkg} ${p.pctBusy.toFixed(1)} %`).join(', ')}`)
  return lines.join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, k] = process.argv.slice(2)
  if (file === undefined) { console.error('usage: npx tsx bench/lib/cpu-profile.ts FILE.cpuprofile [K]'); process.exit(2) }
  console.log(formatSummary(summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, k === undefined ? 15 : Number(k))))
}
