// The data dir belongs to one agent at a time: two agents on one dir would share a peer id
// and append to one config log. `agent.lock` holds the owner's pid; it is created exclusively
// and removed when the agent stops. A lock whose pid is not running (the agent was killed), or
// runs a program that is no agent (the pid was reused), is stale: it is taken over, and the
// take-over is logged.
//
// Why take-overs need more than "check, unlink, create": two agents starting at once on one
// stale lock both see it stale; A unlinks it and creates its own, then B unlinks A's fresh lock
// and creates its own, and both run. So replacing a file that holds a stale token T is
// serialised by a claim file named after T (`agent.lock.takeover-T`), created exclusively:
// only its holder re-reads the lock and, if it still holds T, unlinks it and creates its own.
// A racer that loses the claim waits for the holder, then finds the new owner running. The
// claim is named after T rather than fixed so that clearing a claim left by a process that
// died holding it is the same problem one level down (the claim holds a dead pid W: claim
// `...takeover-T.takeover-W`), with no unlink ever judged on a stale read; depth is bounded.
// Every file is created by hard-linking a fully written private file to its name, so no
// reader ever sees an empty lock of an agent that has not yet written its pid (and takes it
// for garbage). No native module: only open, link, unlink and read.
import { readFileSync } from 'node:fs'
import { link, open, readFile, unlink, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { join, resolve } from 'node:path'
import { MurmurError } from '../core/errors.js'

export const LOCK_FILE = 'agent.lock'

/** Locks held (or being taken) by this process: a second agent in one process is refused too. */
const held = new Set<string>()

/** Claims of claims: a dead process per level. More means something else is wrong. */
const MAX_DEPTH = 3
/** How long to wait for a running agent that holds a claim to finish its take-over. */
const BUSY_MS = 10_000
const BUSY_PAUSE_MS = 20
const MAX_ROUNDS = Math.ceil(BUSY_MS / BUSY_PAUSE_MS) + 10
/** link(2) failures of a file system without hard links (vfat, some FUSE and SMB mounts). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

export interface StaleLock { pid: string }

type Outcome = 'taken' | 'lost' | { busy: string }

export class DataDirLock {
  private released = false
  private constructor (readonly path: string) {}

  /**
   * Takes the lock of `dir` (which must exist), or throws MURMUR_ERR_STORAGE naming the pid
   * of the agent that holds it. `onStale` hears of a stale lock just before this process
   * replaces it (only the one agent that takes it over hears it).
   */
  static async acquire (dir: string, onStale: (stale: StaleLock) => void): Promise<DataDirLock> {
    const path = resolve(join(dir, LOCK_FILE))
    // Reserved before the first await: two acquires in one process cannot both go ahead.
    if (held.has(path)) throw locked(dir, String(process.pid))
    held.add(path)
    try {
      await take(dir, path, onStale)
      return new DataDirLock(path)
    } catch (err) {
      held.delete(path)
      throw err
    }
  }

  /** Removes the lock if it is still ours. Safe to call twice. */
  async release (): Promise<void> {
    if (this.released) return
    this.released = true
    held.delete(this.path)
    if (await readToken(this.path) === String(process.pid)) await unlink(this.path).catch(() => {})
  }
}

async function take (dir: string, path: string, onStale: (stale: StaleLock) => void): Promise<void> {
  const deadline = Date.now() + BUSY_MS
  // Bounded: a round takes the lock, fails, or (a take-over under way elsewhere, or just
  // finished) pauses briefly and looks again, until the deadline.
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (await create(dir, path)) return
    const token = await readToken(path)
    if (token === undefined) continue // released between our create and read
    if (running(token)) throw locked(dir, token)
    const outcome = await replace(dir, path, token, 0, () => onStale({ pid: token === '' ? 'unreadable' : token }))
    if (outcome === 'taken') return
    if (outcome !== 'lost') {
      if (Date.now() > deadline) throw new MurmurError('MURMUR_ERR_STORAGE', `data dir ${dir} is being taken over by another agent (pid ${outcome.busy}); stop that agent or give this one another --data-dir`)
      await sleep(BUSY_PAUSE_MS + Math.floor(Math.random() * BUSY_PAUSE_MS))
    }
  }
  throw new MurmurError('MURMUR_ERR_STORAGE', `data dir ${dir}: another agent keeps taking its lock; is one starting there right now?`)
}

/**
 * Replaces `path`, read as holding the stale `token`, by a file with our pid, if this process
 * wins the claim on `token`. 'lost': another process changed `path` first (read it again);
 * busy: a running process holds the claim.
 */
async function replace (dir: string, path: string, token: string, depth: number, onTaken: () => void): Promise<Outcome> {
  const claim = `${path}.takeover-${claimName(token)}`
  if (!await create(dir, claim)) {
    const holder = await readToken(claim)
    if (holder === undefined) return 'lost' // its holder just finished
    if (running(holder)) return { busy: holder }
    if (depth >= MAX_DEPTH) throw new MurmurError('MURMUR_ERR_STORAGE', `data dir ${dir}: stale take-over files pile up (${claim}); remove ${LOCK_FILE}.takeover-* and start again`)
    const cleared = await replace(dir, claim, holder, depth + 1, () => {})
    if (cleared !== 'taken') return cleared
  }
  try {
    // Only the claim holder gets here for this token, so a file still holding it is stale.
    if (await readToken(path) !== token) return 'lost'
    onTaken()
    await unlink(path).catch(err => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new MurmurError('MURMUR_ERR_STORAGE', `cannot remove the stale lock ${path}: ${(err as Error).message}`)
    })
    // A brand-new agent may create the lock between the unlink and here: then it owns it.
    return await create(dir, path) ? 'taken' : 'lost'
  } finally {
    await unlink(claim).catch(() => {})
  }
}

/**
 * Creates `path` holding our pid, atomically and exclusively; false if it exists. Without
 * hard links it falls back to an exclusive create then a write: exclusive still, but a racer
 * reading in between sees an empty file.
 */
async function create (dir: string, path: string): Promise<boolean> {
  const draft = `${path}.${process.pid}.tmp`
  try {
    await writeFile(draft, `${process.pid}\n`, { mode: 0o644 })
    try {
      await link(draft, path)
    } catch (err) {
      if (!NO_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err
      const fh = await open(path, 'wx', 0o644)
      try { await fh.writeFile(`${process.pid}\n`) } finally { await fh.close() }
    }
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    throw new MurmurError('MURMUR_ERR_STORAGE', `data dir ${dir} is not writable: cannot create ${LOCK_FILE} (${code ?? (err as Error).message})`)
  } finally {
    await unlink(draft).catch(() => {})
  }
}

/** The trimmed content of `path`; undefined if it does not exist, '' if unreadable. */
async function readToken (path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : ''
  }
}

/** A file name part for a token: the pid itself, or a short hash of garbage. */
function claimName (token: string): string {
  return /^\d{1,10}$/.test(token) ? token : `h${createHash('sha256').update(token).digest('hex').slice(0, 12)}`
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
