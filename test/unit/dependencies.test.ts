// The installed tree, as package-lock.json records it: libp2p packages of two majors would
// each bring their own @libp2p/interface, and objects crossing between them (peer ids, streams)
// fail at run time, not at build time. The unmaintained gossipsub fork must stay out
// (GHSA-4f8r-922h-2vgv is fixed only in @libp2p/gossipsub >= 15.0.23). The `engines` field
// tells the truth: every runtime dependency accepts the oldest Node of each line it names.
import { readFileSync } from 'node:fs'
import semver from 'semver'
import { describe, expect, it } from 'vitest'

const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, { version?: string, dev?: boolean, engines?: { node?: string } }>
}
const ownEngines = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }).engines.node

/**
 * Declared floors above ours that the code meets anyway: p-retry 8 (under libp2p) says Node 22,
 * and the whole suite passes on Node 20 (.ci/run), src/polyfill.ts giving what it lacks.
 */
const TOLERATED: Record<string, string> = { 'node_modules/p-retry': '>=22' }

function versionsOf (name: string): string[] {
  return Object.entries(lock.packages)
    .filter(([path]) => path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`))
    .map(([, p]) => p.version ?? '')
}

describe('the locked dependency tree', () => {
  it('has exactly one @libp2p/interface major, 3', () => {
    const majors = new Set(versionsOf('@libp2p/interface').map(v => v.split('.')[0]))
    expect([...majors]).toEqual(['3'])
  })

  it('uses @libp2p/gossipsub >= 15.0.23 and not @chainsafe/libp2p-gossipsub', () => {
    expect(versionsOf('@chainsafe/libp2p-gossipsub')).toEqual([])
    const versions = versionsOf('@libp2p/gossipsub')
    expect(versions.length).toBeGreaterThan(0)
    for (const v of versions) {
      const [major, minor, patch] = v.split('.').map(Number)
      expect(major > 15 || (major === 15 && (minor > 0 || patch >= 23)), v).toBe(true)
    }
  })

  it('names Node lines whose oldest release every runtime dependency accepts', () => {
    // One floor per line: ^20.19.0 → 20.19.0, >=22.2.0 → 22.2.0.
    const floors = ownEngines.split('||').map(r => semver.minVersion(r.trim())?.version)
    expect(floors).toEqual(['20.19.0', '22.2.0'])
    const refused: string[] = []
    for (const [path, p] of Object.entries(lock.packages)) {
      const range = p.engines?.node
      if (path === '' || p.dev === true || range === undefined || TOLERATED[path] === range) continue
      for (const floor of floors) if (!semver.satisfies(floor as string, range)) refused.push(`${path} (${range}) refuses ${floor}`)
    }
    expect(refused).toEqual([])
    // zlib.crc32 (the config log's checksum) arrived in 20.15 and 22.2.
    expect(floors.every(f => semver.satisfies(f as string, '^20.15.0 || >=22.2.0'))).toBe(true)
  })
})

