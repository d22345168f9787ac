// CLI verbs of the control loop: `murmur metrics`, `murmur rules ...`, `murmur analyse ...`.
// The shared helpers (argument parsing, the sidecar client, output) come from main.ts.
import { readFileSync } from 'node:fs'
import type { ParseArgsConfig } from 'node:util'
import type { Values } from './args.js'
import type { SidecarClient } from './client.js'
import { CliError } from './client.js'
import { table } from './table.js'

export interface CliKit {
  parse: (args: string[], options: ParseArgsConfig['options']) => { values: Values, positionals: string[] }
  client: (values: Values) => SidecarClient
  print: (values: Values, data: unknown, human: () => string) => void
  arity: (positionals: string[], n: number, usage: string) => void
}

interface Summary { metric: string, count: number, avg: number | null, min: number | null, max: number | null, p50: number | null, p95: number | null, sum: number, oldestAgeMs: number | null }
interface RuleView { name: string, rule: Record<string, any>, error?: string, actor: { name?: string, self: boolean } | null, status: { outcome: string, reason: string, value: number | null } | null }
interface Audit { seq: number, at: string, key: string, old: number, new: number, dryRun: boolean, evaluator: { name: string }, reason: string }

const n = (v: number | null | undefined): string => v === null || v === undefined ? '-' : String(Math.round(v * 1000) / 1000)

function condition (r: Record<string, any>): string {
  if (r.set?.target !== undefined) return `target ${String(r.set.target)}`
  if (r.above !== undefined) return `> ${String(r.above)}${r.reset !== undefined ? ` (reset ${String(r.reset)})` : ''}`
  if (r.below !== undefined) return `< ${String(r.below)}${r.reset !== undefined ? ` (reset ${String(r.reset)})` : ''}`
  return '?'
}

function readSpec (arg: string): unknown {
  let text = arg
  if (arg === '-') text = readFileSync(0, 'utf8')
  else if (!arg.trimStart().startsWith('{')) {
    try { text = readFileSync(arg, 'utf8') } catch (err) { throw new CliError(`cannot read rule file '${arg}': ${(err as Error).message}`) }
  }
  try { return JSON.parse(text) } catch (err) { throw new CliError(`the rule is not valid JSON: ${(err as Error).message}`) }
}

export function controlCommands (kit: CliKit): Record<string, (args: string[]) => Promise<void>> {
  const { parse, client, print, arity } = kit
  const selectQuery = (values: Values, q = new URLSearchParams()): URLSearchParams => {
    if (typeof values.service === 'string') q.set('service', values.service)
    if (typeof values.tag === 'string') q.set('tag', values.tag)
    return q
  }
  const analyse = async (args: string[]): Promise<void> => {
    const { values, positionals } = parse(args, { service: { type: 'string' }, tag: { type: 'string' }, window: { type: 'string' } })
    const [verb, ...rest] = positionals
    const c = client(values)
    if (verb === 'impact') {
      arity(rest, 2, 'murmur analyse impact KEY METRIC [--service S] [--window 60s]')
      const q = selectQuery(values, new URLSearchParams({ key: rest[0], metric: rest[1] }))
      if (typeof values.window === 'string') q.set('window', values.window)
      const r = await c.request<Record<string, any>>('GET', `/v1/analysis/impact?${q.toString()}`)
      print(values, r, () => r.insufficient === true
        ? `insufficient data: ${String(r.reason ?? `n = ${String(r.n)}`)}\n`
        : `Δ${rest[1]} = ${n(r.beta0)} + ${n(r.beta1)} · Δ${rest[0]}   (n = ${String(r.n)}, R² = ${n(r.r2)}, 95 % CI for β1: [${n(r.beta1Ci95[0])}, ${n(r.beta1Ci95[1])}])\n` +
          'advisory: what past changes show, not a promise about the next one\n')
      return
    }
    if (verb === 'arrivals') {
      arity(rest, 1, 'murmur analyse arrivals SERVICE')
      const r = await c.request<Record<string, any>>('GET', `/v1/analysis/arrivals?service=${encodeURIComponent(rest[0])}`)
      print(values, r, () => `${rest[0]}: ${n(r.joinsPerHour)} joins/h, ${n(r.leavesPerHour)} leaves/h over ${n(r.windowHours)} h observed (${String(r.joins)} joins, ${String(r.leaves)} leaves)\n` +
        table(['K', 'P(K JOINS NEXT HOUR)'], Object.entries(r.pJoinsNextHour as Record<string, number>).map(([k, p]) => [k, p])))
      return
    }
    throw new CliError('usage: murmur analyse impact KEY METRIC | analyse arrivals SERVICE', 2)
  }

  return {
    async metrics (args) {
      const { values, positionals } = parse(args, { service: { type: 'string' }, tag: { type: 'string' }, metric: { type: 'string' } })
      arity(positionals, 0, 'murmur metrics [--service S [--tag T]] [--metric M]')
      const q = selectQuery(values)
      if (typeof values.metric === 'string') q.set('metric', values.metric)
      const r = await client(values).request<Summary | { items: Summary[] }>('GET', `/v1/cluster/metrics${q.size > 0 ? '?' + q.toString() : ''}`)
      const rows = 'items' in r ? r.items : [r]
      print(values, r, () => table(['METRIC', 'COUNT', 'AVG', 'MIN', 'MAX', 'P50', 'P95', 'SUM', 'OLDEST'],
        rows.map(s => [s.metric, s.count, n(s.avg), n(s.min), n(s.max), n(s.p50), n(s.p95), n(s.sum), s.oldestAgeMs === null ? '-' : `${(s.oldestAgeMs / 1000).toFixed(1)}s`])))
    },

    async rules (args) {
      const { values, positionals } = parse(args, {})
      const [verb, ...rest] = positionals
      const c = client(values)
      const path = (name: string): string => `/v1/rules/${encodeURIComponent(name)}`
      switch (verb) {
        case 'add': {
          arity(rest, 2, 'murmur rules add NAME RULE (JSON text, file, or - for stdin)')
          const r = await c.request<{ name: string, version: string }>('PUT', path(rest[0]), readSpec(rest[1]))
          print(values, r, () => `rule ${r.name} stored (version ${r.version}); it runs on every agent within a round\n`)
          return
        }
        case 'list':
        case undefined: {
          arity(rest, 0, 'murmur rules list')
          const r = await c.request<{ items: RuleView[] }>('GET', '/v1/rules')
          print(values, r, () => table(['NAME', 'METRIC', 'CONDITION', 'KEY', 'ACTOR', 'STATE', 'VALUE'], r.items.map(v => [
            v.name, `${String(v.rule.aggregate ?? 'avg')}(${String(v.rule.metric)})`, condition(v.rule), v.rule.set?.key,
            v.actor === null ? '-' : `${v.actor.name ?? '?'}${v.actor.self ? ' (here)' : ''}`,
            v.error !== undefined ? 'INVALID' : `${v.status?.outcome ?? '-'}${v.rule.dryRun === true ? ' (dry run)' : ''}`, n(v.status?.value)
          ])))
          return
        }
        case 'show': {
          arity(rest, 1, 'murmur rules show NAME')
          const r = await c.request<RuleView>('GET', path(rest[0]))
          process.stdout.write(JSON.stringify(r, null, 2) + '\n')
          return
        }
        case 'rm':
        case 'delete': {
          arity(rest, 1, 'murmur rules rm NAME')
          const r = await c.request('DELETE', path(rest[0]))
          print(values, r, () => `rule ${rest[0]} removed (its history stays: murmur rules history ${rest[0]})\n`)
          return
        }
        case 'history': {
          arity(rest, 1, 'murmur rules history NAME')
          const r = await c.request<{ items: Audit[] }>('GET', `${path(rest[0])}/history`)
          print(values, r, () => r.items.length === 0
            ? `no actions of rule ${rest[0]} yet\n`
            : table(['SEQ', 'TIME', 'KEY', 'CHANGE', 'BY', 'REASON'], r.items.map(a => [a.seq, a.at, a.key, `${n(a.old)} → ${n(a.new)}${a.dryRun ? ' (dry run)' : ''}`, a.evaluator.name, a.reason])))
          return
        }
        default:
          throw new CliError('usage: murmur rules add NAME RULE | list | show NAME | rm NAME | history NAME', 2)
      }
    },

    analyse,
    analyze: analyse
  }
}
