// The data dir belongs to one agent at a time: two agents on one dir would share a peer id
// and append to one config log. `agent.lock` holds the owner's pid; it is created exclusively
// and removed when the agent stops. A lock whose pid is not running (the agent was killed), or
// runs a program that is no agent (the pid was reused), is stale: it is taken over, and the
// take-over is logged. Two agents starting on one stale lock in the same instant could both
// take it: the check and the removal are not one atomic step.
import { readFileSync } from 'node:fs'
import { open, readFile, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { MurmurError } from '../core/errors.js'

export const LOCK_FILE = 'agent.lock'

/** Locks held by this process: a second agent in one process is refused too. */
const held = new Set<string>()

export interface StaleLock { pid: string }

export class DataDirLock {
  private released = false
  private constructor (readonly path: string) {}

  /**
   * Takes the lock of `dir` (which must exist), or throws MURMUR_ERR_STORAGE naming the pid
   * of the agent that holds it. `onStale` hears of a stale lock before it is taken over.
   */
  static async acquire (dir: string, onStale: (stale: StaleLock) => void): Promise<DataDirLock> {
    const path = resolve(join(dir, LOCK_FILE))
    // Bounded: each round either takes the lock, fails, or removes one stale lock.
    for (let round = 0; round < 3; round++) {
      if (held.has(path)) throw locked(dir, String(process.pid))
      try {
        const fh = await open(path, 'wx', 0o644)
        try { await fh.writeFile(`${process.pid}\n`) } finally { await fh.close() }
        held.add(path)
        return new DataDirLock(path)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'EEXIST') throw new MurmurError('MURMUR_ERR_STORAGE', `data dir ${dir} is not writable: cannot create ${LOCK_FILE} (${code ?? (err as Error).message})`)
      }
      const text = (await readFile(path, 'utf8').catch(() => '')).trim()
      if (running(text)) throw locked(dir, text)
      onStale({ pid: text === '' ? 'unreadable' : text })
      await unlink(path).catch(err => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new MurmurError('MURMUR_ERR_STORAGE', `cannot remove the stale lock ${path}: ${(err as Error).message}`)
      })
    }
    throw new MurmurError('MURMUR_ERR_STORAGE', `data dir ${dir}: another agent keeps taking its lock; is one starting there right now?`)
  }

  /** Removes the lock if it is still ours. Safe to call twice. */
  async release (): Promise<void> {
    if (this.released) return
    this.released = true
    held.delete(this.path)
    const text = (await readFile(this.path, 'utf8').catch(() => '')).trim()
    if (text === String(process.pid)) await unlink(this.path).catch(() => {})
  }
}

/**
 * True when `pid` names a process that runs now, other than this one: a lock with this
 * process's own pid (and not in `held`) is from an earlier life with the same pid, as
 * happens to pid 1 in a restarted container.
 */
function running (text: string): boolean {
  const pid = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    // EPERM: it runs, as another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  return mayBeAgent(pid)
}

/**
 * After a reboot the pid of a killed agent may belong to some other program. Where /proc tells
 * (Linux), a process that is not Node.js nor named murmur does not hold the lock.
 */
function mayBeAgent (pid: number): boolean {
  let cmdline: string
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return true
  }
  return /node|murmur/i.test(cmdline)
}

function locked (dir: string, pid: string): MurmurError {
  return new MurmurError('MURMUR_ERR_STORAGE', `data dir ${dir} is in use by another agent (pid ${pid}); stop that agent or give this one another --data-dir`)
}
