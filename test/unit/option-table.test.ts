// The option table is the one source of truth: the README's flag table, the parser, env and
// config file reading, and the unknown-key check all follow it.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { OPTION_TABLE, optionsHelp, optionsMarkdown } from '../../src/agent/option-table.js'
import { DEFAULTS, resolveOptions } from '../../src/agent/options.js'
import { parseCommandLine } from '../../src/cli/args.js'
import { layered, readConfigFile, readEnv, readFlags } from '../../src/cli/agent-options.js'
import { scratchDir } from '../helpers/scratch.js'

const { dir, file } = scratchDir('murmur-options-')

describe('the option table', () => {
  it('is what the README shows (regenerate with npm run docs:options)', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const m = /<!-- options:begin[^>]*-->\n([\s\S]*?)\n<!-- options:end -->/.exec(readme)
    expect(m?.[1]).toBe(optionsMarkdown())
  })

  it('covers every agent option once, with unique flags and env names', () => {
    const keys = OPTION_TABLE.map(s => s.key)
    for (const k of [...Object.keys(DEFAULTS), 'node']) expect(keys).toContain(k)
    expect(new Set(keys).size).toBe(keys.length)
    expect(new Set(OPTION_TABLE.map(s => s.name)).size).toBe(keys.length)
    expect(new Set(OPTION_TABLE.map(s => s.env)).size).toBe(keys.length)
    for (const s of OPTION_TABLE) expect(optionsHelp()).toContain(`(${s.env})`)
  })

  it('rejects unknown keys given to the agent directly', () => {
    expect(() => resolveOptions({ nope: 1 } as any)).toThrow(/unknown option 'nope'/)
  })
})

describe('reading options', () => {
  it('parses every type from flags, negative numbers included', () => {
    const f = readFlags(['--node', 'a', '--join', 'x:1', '--join', 'y:2', '--no-mdns', '--clock-skew-ms', '-3000', '--gossip-rate', '5', '--config', 'c.toml'])
    expect(f.values).toEqual({ node: 'a', join: ['x:1', 'y:2'], mdns: false, clockSkewMs: -3000, gossipRate: 5 })
    expect(f.config).toBe('c.toml')
    expect(() => readFlags(['--gossip-rate', 'lots'])).toThrow(/--gossip-rate must be a number/)
    expect(() => readFlags(['--bogus'])).toThrow(/unknown option '--bogus'/)
  })

  it('reads env twins; MURMUR_HTTP_ADDR still works for the agent, with a warning', () => {
    const e = readEnv({ MURMUR_NO_MDNS: '1', MURMUR_JOIN: 'a:1, b:2', MURMUR_PROBE_INTERVAL_MS: '2000', MURMUR_HTTP_ADDR: '127.0.0.1:9' })
    expect(e.values).toEqual({ mdns: false, join: ['a:1', 'b:2'], probeIntervalMs: 2000, http: '127.0.0.1:9' })
    expect(e.warnings.join()).toMatch(/MURMUR_HTTP_LISTEN/)
    const n = readEnv({ MURMUR_HTTP_LISTEN: '127.0.0.1:8', MURMUR_HTTP_ADDR: '127.0.0.1:9' })
    expect(n.values.http).toBe('127.0.0.1:8')
    expect(n.warnings).toEqual([])
  })

  it('reads JSON and TOML files and names an unknown key or a wrong type', async () => {
    const toml = file('a.toml', 'node = "t"\nmdns = false\njoin = ["127.0.0.1:1"]\nlog-level = "debug"\nprobe-interval-ms = 1500\n')
    expect(await readConfigFile(toml)).toEqual({ node: 't', mdns: false, join: ['127.0.0.1:1'], logLevel: 'debug', probeIntervalMs: 1500 })
    expect(await readConfigFile(file('a.json', '{"cluster": "c", "allow": ["10.0.0.0/8"]}'))).toEqual({ cluster: 'c', allow: ['10.0.0.0/8'] })
    await expect(readConfigFile(file('b.json', '{"dataDir": "x"}'))).rejects.toThrow(/unknown key 'dataDir' \(did you mean 'data-dir'\?\)/)
    await expect(readConfigFile(file('c.toml', 'gossip-rate = "fast"\n'))).rejects.toThrow(/'gossip-rate' in .* must be a number/)
    await expect(readConfigFile(file('d.toml', 'node = \n'))).rejects.toThrow(/not valid TOML/)
    await expect(readConfigFile(join(dir, 'missing.json'))).rejects.toThrow(/cannot read config file .*ENOENT/)
  })

  it('takes flag over env over file over default', () => {
    const merged = resolveOptions(layered({ node: 'flag' }, { node: 'env', cluster: 'env' }, { node: 'file', cluster: 'file', logLevel: 'warn' }))
    expect([merged.node, merged.cluster, merged.logLevel, merged.listen]).toEqual(['flag', 'env', 'warn', DEFAULTS.listen])
  })
})

describe('command-line parsing', () => {
  it('keeps negative numbers as values and positionals, and -- ends options', () => {
    const r = parseCommandLine(['set', 'k', '-5', '--weight', '-1.5', '--', '--json'], { weight: { type: 'string' }, json: { type: 'boolean' } })
    expect(r.positionals).toEqual(['set', 'k', '-5', '--json'])
    expect(r.values).toEqual({ weight: '-1.5' })
  })

  it('turns parse errors into one line', () => {
    expect(() => parseCommandLine(['--port'], { port: { type: 'string' } })).toThrow(/^option '--port' needs a value$/)
    expect(() => parseCommandLine(['-x'], {})).toThrow(/^unknown option '-x'$/)
  })
})
