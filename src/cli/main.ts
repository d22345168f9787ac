// `murmur` command line: `agent` runs the daemon; every other command is an HTTP client of
// a running agent's sidecar port.
import '../polyfill.js'
import { writeFile } from 'node:fs/promises'
import type { ParseArgsConfig } from 'node:util'
import { Murmur, MurmurClientError, type ConfigEvent } from '../client/index.js'
import { tokenFromEnv } from '../client/http.js'
import { generateClusterKey } from '../store/cluster-key.js'
import { checkKey } from '../core/config.js'
import { MurmurError } from '../core/errors.js'
import { VERSION } from '../version.js'
import { parseCommandLine, type Values } from './args.js'
import { CliError, SidecarClient } from './client.js'
import { clusterCommands } from './cluster-commands.js'
import { controlCommands } from './control-commands.js'
import { COMMAND_HELP, DEFAULT_HTTP, USAGE } from './usage.js'
import { ago, bytes, table } from './table.js'

const clientOptions = {
  http: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

function parse (args: string[], options: ParseArgsConfig['options']): { values: Values, positionals: string[] } {
  return parseCommandLine(args, { ...clientOptions, ...options })
}

/** A key checked here, so an empty or malformed one is a usage error rather than a 404. */
function key (k: string): string {
  try {
    return checkKey(k)
  } catch (err) {
    throw new CliError(`bad key '${k}': ${(err as MurmurError).message} (MURMUR_ERR_BAD_KEY)`, 2)
  }
}

/** A whole number from a flag, or a usage error naming the flag. */
function integer (v: string, flag: string): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isSafeInteger(n)) throw new CliError(`${flag} must be a whole number (got '${v}')`, 2)
  return n
}

const STATUSES = ['alive', 'suspect', 'failed', 'left']

function client (values: Values): SidecarClient {
  let token: string | undefined
  try {
    token = (values.token as string | undefined) ?? tokenFromEnv()
  } catch (err) {
    throw new CliError((err as Error).message, 2)
  }
  return new SidecarClient((values.http as string | undefined) ?? process.env.MURMUR_HTTP_ADDR ?? DEFAULT_HTTP, token === '' ? undefined : token)
}

function print (values: Values, data: unknown, human: () => string): void {
  process.stdout.write(values.json === true ? JSON.stringify(data, null, 2) + '\n' : human())
}

function arity (positionals: string[], n: number, usage: string): void {
  if (positionals.length !== n) throw new CliError(`usage: ${usage}`, 2)
}

const time = (): string => new Date().toISOString()

/**
 * Follows a stream (the client reconnects, with backoff, when the agent restarts) until
 * Ctrl-C. Fails in one line when no agent answers at the start, or when it refuses the watch.
 */
async function watching (values: Values, start: (m: Murmur, onError: (err: Error) => void) => void): Promise<void> {
  const c = client(values)
  await c.request('GET', '/v1/agent/self')
  await new Promise<void>((_resolve, reject) => {
    start(new Murmur({ http: c.base, token: c.token }), err => {
      if (err instanceof MurmurClientError && (err.status ?? 0) >= 400 && (err.status ?? 0) < 500) reject(new CliError(`${err.message} (${err.code})`))
      else process.stderr.write(`murmur: ${err.message}; reconnecting\n`)
    })
  })
}

/** One line per entry that appeared, changed state or went away since the previous list. */
function changes<T> (seen: Map<string, { label: string, state: string }>, list: T[], key: (x: T) => string, label: (x: T) => string, state: (x: T) => string): string[] {
  const lines: string[] = []
  const before = new Map(seen)
  seen.clear()
  for (const x of list) {
    const cur = { label: label(x), state: state(x) }
    const was = before.get(key(x))?.state
    seen.set(key(x), cur)
    if (was !== cur.state) lines.push(`${time()}  ${cur.label}  ${was === undefined ? '' : `${was} -> `}${cur.state}`)
  }
  for (const [k, was] of before) if (!seen.has(k)) lines.push(`${time()}  ${was.label}  ${was.state} -> gone`)
  return lines
}

function configLine (ev: ConfigEvent): string {
  const value = (v: unknown): string => typeof v === 'string' ? v : JSON.stringify(v)
  if (ev.type === 'put') return `${time()}  put       ${ev.item.key} = ${value(ev.item.value)}\n`
  if (ev.type === 'delete') return `${time()}  delete    ${ev.key}\n`
  if (ev.items.length === 0) return `${time()}  snapshot  (no keys)\n`
  return ev.items.map(i => `${time()}  snapshot  ${i.key} = ${value(i.value)}\n`).join('')
}

interface MemberRow { name: string, id: string, address: string, status: string, generation: number, lastSeen: string, counter: number, services: number, metrics: { cpu: number, rss: number, load1: number } }
interface Instance { id: string, name: string, node: string, address: string, port: number, tags: string[], health: string, memberStatus: string }
interface ConfigItem { key: string, value: unknown, version: { hlc: string, origin: string, originName?: string }, updatedAt: string }

const commands: Record<string, (args: string[]) => Promise<void>> = {
  async agent (args) {
    const { runAgent } = await import('./agent-command.js')
    await runAgent(args)
  },

  async members (args) {
    const { values, positionals } = parse(args, { watch: { type: 'boolean' }, status: { type: 'string' } })
    arity(positionals, 0, 'murmur members [--status S] [--watch]')
    const status = values.status as string | undefined
    if (status !== undefined && !STATUSES.includes(status)) throw new CliError(`--status must be one of ${STATUSES.join(', ')} (got '${status}')`, 2)
    const wanted = <T extends { status: string }>(list: T[]): T[] => status === undefined ? list : list.filter(m => m.status === status)
    if (values.watch === true) {
      const seen = new Map<string, { label: string, state: string }>()
      await watching(values, (m, onError) => m.members.watch(all => {
        const list = wanted(all)
        if (values.json === true) process.stdout.write(JSON.stringify({ time: time(), event: 'members', members: list }) + '\n')
        else for (const line of changes(seen, list, x => x.id, x => x.name, x => x.status)) process.stdout.write(line + '\n')
      }, { onError }))
      return
    }
    const rows = wanted(await client(values).request<MemberRow[]>('GET', '/v1/members'))
    print(values, rows, () => table(
      ['NAME', 'ADDRESS', 'STATUS', 'GEN', 'VERSION', 'LAST SEEN', 'SERVICES', 'CPU', 'RSS', 'LOAD', 'ID'],
      rows.map(m => [m.name, m.address, m.status, m.generation, m.counter, ago(m.lastSeen), m.services, m.metrics.cpu, bytes(m.metrics.rss), m.metrics.load1, m.id])
    ))
  },

  async status (args) {
    const { values, positionals } = parse(args, {})
    arity(positionals, 0, 'murmur status')
    const self = await client(values).request<Record<string, unknown>>('GET', '/v1/agent/self')
    print(values, self, () => Object.entries(self).map(([k, v]) => `${k.padEnd(11)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n') + '\n')
  },

  async services (args) {
    const { values, positionals } = parse(args, { healthy: { type: 'boolean' }, tag: { type: 'string' } })
    if (positionals[0] === 'watch') {
      arity(positionals, 2, 'murmur services watch NAME [--healthy] [--tag T]')
      const seen = new Map<string, { label: string, state: string }>()
      await watching(values, (m, onError) => m.services.watch(positionals[1], list => {
        if (values.json === true) process.stdout.write(JSON.stringify({ time: time(), event: 'instances', instances: list }) + '\n')
        else for (const line of changes(seen, list, x => `${x.id}@${x.node}`, x => `${x.id}@${x.node} ${x.address}:${x.port}`, x => x.health)) process.stdout.write(line + '\n')
      }, { onError, healthy: values.healthy === true, tag: values.tag as string | undefined }))
      return
    }
    if (positionals.length > 1) throw new CliError('usage: murmur services [NAME] [--healthy] [--tag T] | murmur services watch NAME', 2)
    const c = client(values)
    if (positionals.length === 0) {
      const rows = await c.request<Array<{ name: string, instances: number, passing: number, tags: string[] }>>('GET', '/v1/services')
      print(values, rows, () => table(['NAME', 'INSTANCES', 'PASSING', 'TAGS'], rows.map(r => [r.name, r.instances, r.passing, r.tags.join(',')])))
      return
    }
    const q = new URLSearchParams()
    if (values.healthy === true) q.set('healthy', 'true')
    if (typeof values.tag === 'string') q.set('tag', values.tag)
    const rows = await c.request<Instance[]>('GET', `/v1/services/${encodeURIComponent(positionals[0])}${q.size > 0 ? '?' + q.toString() : ''}`)
    print(values, rows, () => table(['ID', 'NODE', 'ADDRESS', 'PORT', 'HEALTH', 'MEMBER', 'TAGS'], rows.map(r => [r.id, r.node, r.address, r.port, r.health, r.memberStatus, r.tags.join(',')])))
  },

  async register (args) {
    const { values, positionals } = parse(args, {
      port: { type: 'string' }, id: { type: 'string' }, address: { type: 'string' },
      tag: { type: 'string', multiple: true }, meta: { type: 'string', multiple: true }, weight: { type: 'string' }
    })
    arity(positionals, 1, 'murmur register NAME --port P [--id ID] [--tag T]... [--meta k=v]...')
    if (values.port === undefined) throw new CliError('murmur register needs --port P', 2)
    const meta: Record<string, string> = {}
    for (const kv of (values.meta as string[] | undefined) ?? []) {
      const i = kv.indexOf('=')
      if (i <= 0) throw new CliError(`--meta takes key=value (got '${kv}')`, 2)
      meta[kv.slice(0, i)] = kv.slice(i + 1)
    }
    const body: Record<string, unknown> = { name: positionals[0], port: integer(values.port as string, '--port'), tags: values.tag ?? [], meta }
    if (values.id !== undefined) body.id = values.id
    if (values.address !== undefined) body.address = values.address
    if (values.weight !== undefined) body.weight = integer(values.weight as string, '--weight')
    const r = await client(values).request<{ id: string, name: string, address: string, port: number }>('PUT', '/v1/agent/services', body)
    print(values, r, () => `registered ${r.id} (${r.name} at ${r.address}:${r.port})\n`)
  },

  async deregister (args) {
    const { values, positionals } = parse(args, {})
    arity(positionals, 1, 'murmur deregister ID')
    const r = await client(values).request('DELETE', `/v1/agent/services/${encodeURIComponent(positionals[0])}`)
    print(values, r, () => `deregistered ${positionals[0]}\n`)
  },

  async config (args) {
    const { values, positionals } = parse(args, { string: { type: 'boolean' } })
    const [verb, ...rest] = positionals
    const c = client(values)
    const keyPath = (k: string): string => `/v1/config/${key(k).split('/').map(encodeURIComponent).join('/')}`
    switch (verb) {
      case 'get': {
        arity(rest, 1, 'murmur config get KEY')
        const item = await c.request<ConfigItem>('GET', keyPath(rest[0]))
        print(values, item, () => (typeof item.value === 'string' ? item.value : JSON.stringify(item.value)) + '\n')
        return
      }
      case 'set': {
        arity(rest, 2, 'murmur config set KEY VALUE [--string]')
        let value: unknown = rest[1]
        if (values.string !== true) {
          try { value = JSON.parse(rest[1]) } catch { value = rest[1] }
        }
        const item = await c.request<ConfigItem>('PUT', keyPath(rest[0]), value)
        print(values, item, () => `set ${item.key} (version ${item.version.hlc})\n`)
        return
      }
      case 'del':
      case 'delete': {
        arity(rest, 1, 'murmur config del KEY')
        const r = await c.request<{ existed: boolean }>('DELETE', keyPath(rest[0]))
        print(values, r, () => r.existed ? `deleted ${rest[0]}\n` : `deleted ${rest[0]} (it was not set here)\n`)
        return
      }
      case 'list': {
        if (rest.length > 1) throw new CliError('usage: murmur config list [PREFIX]', 2)
        const q = rest[0] === undefined ? '' : `?prefix=${encodeURIComponent(rest[0])}`
        const r = await c.request<{ items: ConfigItem[] }>('GET', `/v1/config${q}`)
        print(values, r, () => table(['KEY', 'VALUE', 'UPDATED', 'BY'], r.items.map(i => {
          const v = JSON.stringify(i.value)
          return [i.key, v.length > 60 ? v.slice(0, 57) + '...' : v, i.updatedAt, i.version.originName ?? i.version.origin.slice(-8)]
        })))
        return
      }
      case 'watch': {
        if (rest.length > 1) throw new CliError('usage: murmur config watch [PREFIX]', 2)
        await watching(values, (m, onError) => m.config.watch(rest[0] ?? '', ev => {
          const { type, ...data } = ev
          process.stdout.write(values.json === true ? JSON.stringify({ time: time(), event: type, ...('item' in data ? data.item : data) }) + '\n' : configLine(ev))
        }, { onError }))
        return
      }
      default:
        throw new CliError('usage: murmur config get KEY | set KEY VALUE | del KEY | list [PREFIX] | watch [PREFIX]', 2)
    }
  },

  async keygen (args) {
    const { values, positionals } = parse(args, {})
    if (positionals.length > 1) throw new CliError('usage: murmur keygen [FILE]', 2)
    const key = generateClusterKey()
    const file = positionals[0]
    if (file === undefined || file === '-') {
      process.stdout.write(key)
      return
    }
    try {
      await writeFile(file, key, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new CliError(code === 'EEXIST' ? `${file} exists; a key is never overwritten (remove it first to replace it)` : `cannot write ${file}: ${(err as Error).message}`)
    }
    print(values, { file }, () => `wrote a new cluster key to ${file}; give it to every agent with --cluster-key ${file}\n`)
  },

  async leave (args) {
    const { values, positionals } = parse(args, {})
    arity(positionals, 0, 'murmur leave')
    const r = await client(values).request('PUT', '/v1/agent/leave')
    print(values, r, () => 'agent is leaving the cluster\n')
  },

  ...controlCommands({ parse, client, print, arity }),
  ...clusterCommands({ parse, client, print, arity })
}

/** `--help` or `-h` among a command's own arguments (not after `--`, where it is a value). */
function asksHelp (args: string[]): boolean {
  const end = args.indexOf('--')
  return (end === -1 ? args : args.slice(0, end)).some(a => a === '--help' || a === '-h')
}

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined
    if (topic !== undefined && COMMAND_HELP[topic] !== undefined) process.stdout.write(COMMAND_HELP[topic])
    else (name === undefined ? process.stderr : process.stdout).write(USAGE)
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`murmur ${VERSION}\n`)
    return 0
  }
  const command = commands[name]
  try {
    if (command === undefined) throw new CliError(`unknown command '${name}'`, 2)
    if (asksHelp(rest)) {
      process.stdout.write(COMMAND_HELP[name] ?? USAGE)
      return 0
    }
    await command(rest)
    return 0
  } catch (err) {
    if (err instanceof CliError) {
      // A usage error: one line, and where the full usage is.
      const more = err.exitCode === 2 ? ` (see 'murmur ${command === undefined ? '' : name + ' '}--help')` : ''
      process.stderr.write(`murmur: ${err.message}${more}\n`)
      return err.exitCode
    }
    process.stderr.write(`murmur: ${(err as Error).message}\n`)
    return 1
  }
}
