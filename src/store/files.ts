// Crash-safe small-file writes: write a temp file, fsync it, rename over the target, fsync the
// directory. After kill -9 at any point the target is the old or the new content, never half.
import { open, rename, mkdir, readFile, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { MurmurError } from '../core/errors.js'

export async function writeFileAtomic (path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  try {
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
    await syncDir(dirname(path))
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw storageError(`cannot write ${path}`, err)
  }
}

export async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

/** The file's bytes, or undefined when it does not exist. */
export async function readIfExists (path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw storageError(`cannot read ${path}`, err)
  }
}

export async function ensureDir (dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    // Prove early that the directory is writable, rather than at the first config write.
    await writeFileAtomic(join(dir, '.probe'), '')
    await unlink(join(dir, '.probe'))
  } catch (err) {
    throw storageError(`data dir ${dir} is not a writable directory`, err)
  }
}

export function storageError (what: string, err: unknown): MurmurError {
  if (err instanceof MurmurError) return err
  const code = (err as NodeJS.ErrnoException).code
  const hint = code === 'ENOSPC' ? ' (disk full)' : code === 'EACCES' || code === 'EPERM' ? ' (permission denied)' : code === 'EROFS' ? ' (read-only file system)' : ''
  return new MurmurError('MURMUR_ERR_STORAGE', `${what}: ${(err as Error).message}${hint}`)
}
