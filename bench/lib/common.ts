// Shared pieces of the bench: result rows, statistics, the table, process stats from /proc.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'

/** One line of the result table. `ratio` defaults to murmur / serf when both are present. */
export interface Row {
  scenario: string
  n: number
  metric: string
  murmur: number | null
  serf: number | null
  ratio?: number | null
  unit: string
  note?: string
}

/** The value of `--flag V` or `--flag=V` on the command line, or `dflt`. */
export function arg (flag: string, dflt: string): string {
  const i = process.argv.findIndex(a => a === `--${flag}` || a.startsWith(`--${flag}=`))
  if (i < 0) return dflt
  const a = process.argv[i]
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : process.argv[i + 1]
}

export function pct (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))]
}

export const median = (xs: number[]): number => pct(xs, 50)

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Rejects after `ms` with a message naming what was awaited. */
export async function within<T> (what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms) })])
  } finally { clearTimeout(timer) }
}

export function rssMiB (pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? NaN : Number(m[1]) / 1024
  } catch { return NaN }
}

/** utime + stime of a process, in seconds. */
export function cpuSeconds (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100 // clock ticks; USER_HZ is 100 on Linux
  } catch { return NaN }
}

/** Share of one core each process used over `ms`, in percent. */
export async function cpuPercent (pids: number[], ms: number): Promise<number[]> {
  const a = pids.map(cpuSeconds)
  const t0 = performance.now()
  await sleep(ms)
  const secs = (performance.now() - t0) / 1000
  return pids.map((pid, i) => (cpuSeconds(pid) - a[i]) / secs * 100)
}

export function machine (): { cpus: number, model: string, memGiB: number, node: string, kernel: string } {
  let kernel = ''
  try { kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() } catch {}
  // The Node the agents run on (MURMUR_NODE, see systems.ts), where it is not the bench's own.
  const node = process.env.MURMUR_NODE ? `${execFileSync(process.env.MURMUR_NODE, ['--version'], { encoding: 'utf8' }).trim()} (agents; bench ${process.version})` : process.version
  return { cpus: cpus().length, model: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30), node, kernel }
}

export function ratioOf (r: Row): number | null {
  if (r.ratio !== undefined) return r.ratio
  if (r.murmur === null || r.serf === null || !Number.isFinite(r.murmur) || !Number.isFinite(r.serf) || r.serf === 0) return null
  return r.murmur / r.serf
}

const num = (v: number | null): string => {
  if (v === null) return '-'
  if (!Number.isFinite(v)) return String(v)
  if (Math.abs(v) >= 100) return v.toFixed(0)
  if (Math.abs(v) >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

export function table (rows: Row[]): string {
  const head = ['scenario', 'n', 'metric', 'murmur', 'serf', 'ratio', 'unit', 'note']
  const cells = rows.map(r => [r.scenario, String(r.n), r.metric, num(r.murmur), num(r.serf), num(ratioOf(r)), r.unit, r.note ?? ''])
  const w = head.map((h, i) => Math.max(h.length, ...cells.map(c => i === 7 ? 0 : c[i].length)))
  const right = new Set([1, 3, 4, 5])
  const line = (c: string[]): string => c.map((s, i) => i === 7 ? s : right.has(i) ? s.padStart(w[i]) : s.padEnd(w[i])).join('  ').trimEnd()
  return [line(head), ...cells.map(line)].join('\n')
}
