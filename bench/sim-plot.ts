// Draws the simulation results as an SVG (no plotting library): two panels against N on a log
// axis, cost per agent (messages/s, KB/s) and times (all see all, crash detected, config p99).
//
//   npx tsx bench/sim-plot.ts results.jsonl > docs/sim.svg
//
// Input: one `npm run sim -- --json` object per line (lines with loss > 0 are ignored).
import { readFileSync } from 'node:fs'
import type { SimResult } from '../src/sim/sim.js'

interface Series { label: string, color: string, points: Array<[number, number | null]> }

const W = 420
const H = 300
const PAD = { left: 56, right: 16, top: 36, bottom: 44 }

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
}

function panel (x0: number, title: string, yLabel: string, series: Series[], ns: number[]): string {
  const xs = ns.map(n => Math.log10(n))
  const xMin = Math.min(...xs)
  const xMax = Math.max(...xs)
  const values = series.flatMap(s => s.points.map(p => p[1]).filter((v): v is number => v !== null))
  const yMax = niceCeil(Math.max(1e-9, ...values) * 1.1)
  const px = (n: number): number => x0 + PAD.left + (Math.log10(n) - xMin) / Math.max(1e-9, xMax - xMin) * (W - PAD.left - PAD.right)
  const py = (v: number): number => PAD.top + (1 - v / yMax) * (H - PAD.top - PAD.bottom)
  const out: string[] = []
  out.push(`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`)
  out.push(`<line x1="${x0 + PAD.left}" y1="${py(0)}" x2="${x0 + W - PAD.right}" y2="${py(0)}" stroke="#444"/>`)
  out.push(`<line x1="${x0 + PAD.left}" y1="${PAD.top}" x2="${x0 + PAD.left}" y2="${py(0)}" stroke="#444"/>`)
  for (let i = 0; i <= 4; i++) {
    const v = yMax * i / 4
    out.push(`<line x1="${x0 + PAD.left - 4}" y1="${py(v)}" x2="${x0 + W - PAD.right}" y2="${py(v)}" stroke="#ddd"/>`)
    out.push(`<text x="${x0 + PAD.left - 6}" y="${py(v) + 4}" text-anchor="end">${fmt(v)}</text>`)
  }
  for (const n of ns) out.push(`<text x="${px(n)}" y="${py(0) + 16}" text-anchor="middle">${n}</text>`)
  out.push(`<text x="${x0 + PAD.left + (W - PAD.left - PAD.right) / 2}" y="${H - 8}" text-anchor="middle">agents (N, log scale)</text>`)
  out.push(`<text transform="translate(${x0 + 14},${PAD.top + (H - PAD.top - PAD.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`)
  series.forEach((s, i) => {
    const pts = s.points.filter((p): p is [number, number] => p[1] !== null)
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map(([n, v]) => `${px(n).toFixed(1)},${py(v).toFixed(1)}`).join(' ')}"/>`)
    for (const [n, v] of pts) out.push(`<circle cx="${px(n).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${s.color}"/>`)
    const ly = PAD.top + 4 + i * 16
    out.push(`<rect x="${x0 + PAD.left + 10}" y="${ly}" width="12" height="3" fill="${s.color}"/>`)
    out.push(`<text x="${x0 + PAD.left + 26}" y="${ly + 5}">${esc(s.label)}</text>`)
  })
  return out.join('\n')
}

function niceCeil (v: number): number {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

function fmt (v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1).replace(/\.0$/, '') : v.toFixed(2).replace(/\.?0+$/, '')
}

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write('usage: npx tsx bench/sim-plot.ts results.jsonl > sim.svg\n')
  process.exit(2)
}
const rows = readFileSync(file, 'utf8').split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as SimResult)
  .filter(r => r.loss === 0).sort((a, b) => a.n - b.n)
const ns = rows.map(r => r.n)
const cost = panel(0, 'Cost per agent (steady state)', 'per agent per second', [
  { label: 'messages/s (mean)', color: '#1f77b4', points: rows.map(r => [r.n, r.msgsPerAgentPerSec.mean]) },
  { label: 'KB/s (mean)', color: '#ff7f0e', points: rows.map(r => [r.n, r.bytesPerAgentPerSec.mean / 1000]) }
], ns)
const times = panel(W, 'Convergence and detection', 'seconds (virtual)', [
  { label: 'all see all after N joins', color: '#2ca02c', points: rows.map(r => [r.n, r.allSeeAllMs === null ? null : r.allSeeAllMs / 1000]) },
  { label: 'crash failed everywhere (p50)', color: '#d62728', points: rows.map(r => [r.n, r.crashDetectedMs === null ? null : r.crashDetectedMs / 1000]) },
  { label: 'config write to all (p99)', color: '#9467bd', points: rows.map(r => [r.n, r.configP99Ms === null ? null : r.configP99Ms / 1000]) }
], ns)
process.stdout.write(`<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${cost}
${times}
</svg>
`)
