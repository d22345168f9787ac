// The data dir lock on a real file system: one holder at a time, stale locks taken over, and
// many agents starting at once on one stale lock (real processes) leave exactly one owner.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { DataDirLock, LOCK_FILE } from '../../src/store/lock.js'
import { waitFor } from '../helpers/agents.js'

const dirs: string[] = []
const dir = (): string => { const d = mkdtempSync(join(tmpdir(), 'murmur-lock-')); dirs.push(d); return d }
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })

describe('the data dir lock', () => {
  it('holds our pid, refuses a second holder in this process, and is removed on release', async () => {
    const d = dir()
    const lock = await DataDirLock.acquire(d, () => { throw new Error('not stale') })
    expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`)
    await expect(DataDirLock.acquire(d, () => {})).rejects.toThrow(/is in use by another agent/)
    await lock.release()
    await lock.release()
    expect(existsSync(join(d, LOCK_FILE))).toBe(false)
  })

  it('refuses a lock whose pid is a running Node.js process', async () => {
    const d = dir()
    writeFileSync(join(d, LOCK_FILE), `${process.ppid}\n`)
    await expect(DataDirLock.acquire(d, () => {})).rejects.toThrow(new RegExp(`pid ${process.ppid}`))
  })

  it('takes over a lock of a dead pid, of a pid reused by another program, and an unreadable one', async () => {
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise(resolve => gone.once('exit', resolve))
    const other = spawn('sleep', ['60'])
    try {
      for (const content of [`${gone.pid as number}\n`, `${other.pid as number}\n`, 'garbage']) {
        const d = dir()
        writeFileSync(join(d, LOCK_FILE), content)
        const stale: string[] = []
        const lock = await DataDirLock.acquire(d, s => stale.push(s.pid))
        expect(stale).toEqual([content === 'garbage' ? 'garbage' : content.trim()])
        await lock.release()
      }
    } finally {
      other.kill('SIGKILL')
    }
  })

  it('clears a take-over file left by a process that died taking over, and one nested in it', async () => {
    const [x, y, z] = [await deadPid(), await deadPid(), await deadPid()]
    for (const leftovers of [[[`takeover-${x}`, y]], [[`takeover-${x}`, y], [`takeover-${x}.takeover-${y}`, z]]]) {
      const d = dir()
      writeFileSync(join(d, LOCK_FILE), `${x}\n`)
      for (const [suffix, pid] of leftovers) writeFileSync(join(d, `${LOCK_FILE}.${suffix as string}`), `${pid as number}\n`)
      const stale: string[] = []
      const lock = await DataDirLock.acquire(d, s => stale.push(s.pid))
      expect(stale).toEqual([String(x)])
      expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`)
      expect(readdirSync(d)).toEqual([LOCK_FILE])
      await lock.release()
    }
  })

  it('falls back to an exclusive create on a file system without hard links', async () => {
    vi.resetModules()
    vi.doMock('node:fs/promises', async importOriginal => ({
      ...await importOriginal<typeof import('node:fs/promises')>(),
      link: async () => { throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' }) }
    }))
    try {
      const { DataDirLock: NoLinks } = await import('../../src/store/lock.js')
      const d = dir()
      writeFileSync(join(d, LOCK_FILE), `${await deadPid()}\n`)
      const lock = await NoLinks.acquire(d, () => {})
      expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`)
      await expect(NoLinks.acquire(d, () => {})).rejects.toThrow(/is in use by another agent/)
      await lock.release()
      expect(readdirSync(d)).toEqual([])
    } finally {
      vi.doUnmock('node:fs/promises')
      vi.resetModules()
    }
  })

  it('lets exactly one of many agents starting at once on a stale lock take it over', async () => {
    const work = dir()
    const lib = join(work, 'lock.mjs')
    await build({ entryPoints: [join(import.meta.dirname, '../../src/store/lock.ts')], bundle: true, platform: 'node', format: 'esm', outfile: lib, logLevel: 'silent' })
    const d = dir()
    const gone = await deadPid()
    writeFileSync(join(d, LOCK_FILE), `${gone}\n`)
    // Each racer says 'ready', waits for 'go' on stdin, then tries; the winner holds the lock
    // until its stdin closes, so that every loser meets a running owner.
    const script = `
      import { DataDirLock } from ${JSON.stringify(pathToFileURL(lib).href)}
      process.stdin.once('data', async () => {
        try {
          const lock = await DataDirLock.acquire(process.argv[1], s => console.log(JSON.stringify({ stale: s.pid })))
          console.log(JSON.stringify({ won: process.pid }))
          process.stdin.once('end', () => { lock.release().then(() => process.exit(0)) })
        } catch (err) {
          console.log(JSON.stringify({ code: err.code, message: err.message }))
          process.exit(0)
        }
      })
      console.log('ready')`
    const racers = Array.from({ length: 16 }, () => spawn(process.execPath, ['--input-type=module', '-e', script, d]))
    try {
      const outputs = racers.map(output)
      await waitFor('racers ready', () => outputs.every(o => o.text.includes('ready')), 60_000, 25)
      for (const r of racers) r.stdin.write('go\n')
      const results = (): Array<Record<string, string | number>> => outputs.map(o => o.text.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, string | number>)).flat()
      await waitFor('every racer to answer', () => results().filter(r => 'won' in r || 'code' in r).length === racers.length, 60_000, 25)
      const winners = results().filter(r => 'won' in r)
      expect(winners).toHaveLength(1)
      const winner = winners[0].won
      expect(results().filter(r => 'stale' in r)).toEqual([{ stale: String(gone) }])
      const losers = results().filter(r => 'code' in r)
      expect(losers).toHaveLength(racers.length - 1)
      for (const l of losers) {
        expect(l.code).toBe('MURMUR_ERR_STORAGE')
        expect(l.message).toMatch(new RegExp(`^data dir .* (is in use by|is being taken over by) another agent \\(pid ${winner}\\); stop that agent`))
      }
      expect(readFileSync(join(d, LOCK_FILE), 'utf8')).toBe(`${winner}\n`)
      expect(readdirSync(d)).toEqual([LOCK_FILE])
      for (const r of racers) r.stdin.end()
      await waitFor('racers to exit', () => racers.every(r => r.exitCode !== null), 60_000, 25)
      expect(existsSync(join(d, LOCK_FILE))).toBe(false)
    } finally {
      for (const r of racers) if (r.exitCode === null) r.kill('SIGKILL')
    }
  })
})

async function deadPid (): Promise<number> {
  const gone = spawn(process.execPath, ['-e', ''])
  await new Promise(resolve => gone.once('exit', resolve))
  return gone.pid as number
}

function output (child: ChildProcessWithoutNullStreams): { text: string } {
  const o = { text: '' }
  child.stdout.on('data', (b: Buffer) => { o.text += b.toString() })
  child.stderr.on('data', (b: Buffer) => { o.text += b.toString() })
  return o
}
