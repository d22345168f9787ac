// The data dir lock on a real file system: one holder at a time, stale locks taken over.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DataDirLock, LOCK_FILE } from '../../src/store/lock.js'

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
})
