// Runs a CommonJS bundle (dist/bundle/agent.cjs) as a script compiled with V8's code cache:
// the bytecode of the functions the first run compiled (the bundle's top level and the agent's
// start-up) is saved on disk and handed to V8 at the next start, which then skips parsing and
// compiling them, on every Node version (Node 20 has no compile cache of its own for a
// program's modules). The cache only ever saves CPU: when it is missing, stale (another build,
// Node or V8 flags: V8 checks and rejects it) or unreadable, the bundle compiles as usual, and
// when its directory cannot be written nothing is saved.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Script } from 'node:vm'

/** Saved this long after the start, so the functions the agent's start-up compiled are in it. */
const SAVE_AFTER_MS = 3000

/**
 * The directory of cache files: MURMUR_CODE_CACHE, else <tmpdir>/murmur-code-cache-<uid>.
 * Bytecode is code, so the directory is used only when it is this user's and nobody else can
 * write to it (a shared /tmp).
 */
function cacheDir () {
  const dir = process.env.MURMUR_CODE_CACHE || join(tmpdir(), `murmur-code-cache-${process.getuid?.() ?? 'user'}`)
  try {
    // Not recursive: Node 20's recursive mkdirSync never returns for a path under /proc.
    try {
      mkdirSync(dir, { mode: 0o700 })
    } catch (err) {
      if (err.code !== 'EEXIST') return undefined
    }
    const st = statSync(dir)
    if (!st.isDirectory() || (process.getuid !== undefined && st.uid !== process.getuid()) || (st.mode & 0o022) !== 0) return undefined
    return dir
  } catch {
    return undefined
  }
}

/** Loads the bundle at `file` (a path) and returns its exports. */
export function loadBundle (file) {
  const source = readFileSync(file, 'utf8')
  const dir = cacheDir()
  // One cache file per bundle path and build (size and mtime) and Node version: V8 checks the
  // source and its flags itself, this only keeps builds and worktrees from taking turns.
  const { size, mtimeMs } = statSync(file)
  const prefix = `${file.replace(/[^A-Za-z0-9]+/g, '_')}-${process.version}-${process.arch}-`
  const name = `${prefix}${size}-${Math.trunc(mtimeMs)}.bin`
  let cachedData
  if (dir !== undefined) {
    try { cachedData = readFileSync(join(dir, name)) } catch {}
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname, __murmurModuleUrl) {${source}\n})`
  const script = new Script(wrapped, { filename: file, cachedData })
  if (dir !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    const since = Date.now()
    setTimeout(() => { save(script, dir, prefix, name, since) }, SAVE_AFTER_MS).unref()
  }
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), pathToFileURL(file).href)
  return module.exports
}

/**
 * Writes the cache whole (a rename, so a concurrent start never reads half a file) and drops
 * older builds'; not when another process saved it since `since` (agents started together).
 */
function save (script, dir, prefix, name, since) {
  try {
    try {
      if (statSync(join(dir, name)).mtimeMs > since) return
    } catch {}
    const tmp = join(dir, `${name}.${process.pid}.tmp`)
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600 })
    renameSync(tmp, join(dir, name))
    for (const f of readdirSync(dir)) {
      if (f.startsWith(prefix) && f !== name && !f.endsWith('.tmp')) rmSync(join(dir, f), { force: true })
    }
  } catch {}
}
