// Runs a CommonJS bundle (dist/bundle/agent.cjs) as a script compiled with V8's code cache:
// the bytecode of the functions the first run compiled (the bundle's top level and the agent's
// start-up, then its joining and links) is saved on disk and handed to V8 at the next start,
// which then skips parsing and compiling them, on every Node version (Node 20 has no compile
// cache of its own for a program's modules). The cache only ever saves CPU: when it is missing,
// stale (another build, Node or V8 flags: V8 checks and rejects it) or unreadable, the bundle
// compiles as usual, and when its directory cannot be written nothing is saved.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Script } from 'node:vm'

/**
 * Saved this long after the start, so the functions the agent's start-up compiled are in it:
 * the early cache, which the next start (a test, a restart) already has.
 */
const SAVE_AFTER_MS = 3000

/**
 * Saved again this long after the start, as the full cache: by then the agent has joined, its
 * links are open (a Noise handshake, yamux, identify and gossipsub streams) and it has served
 * and gossiped, so those functions come compiled too. Measured with two agents on loopback (6
 * runs each), the first link cost each side 35-37 ms of CPU instead of 51-56 ms; 30 agents
 * started at once used ~0.5 s of CPU less in their first 11 s (of ~11). Not much later: V8
 * drops the bytecode of functions that have not run for a few collections, start-up's too.
 */
const FULL_AFTER_MS = 20_000

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
  const full = `${prefix}${size}-${Math.trunc(mtimeMs)}.bin`
  const early = `${prefix}${size}-${Math.trunc(mtimeMs)}-early.bin`
  const wrapped = `(function (exports, require, module, __filename, __dirname, __murmurModuleUrl) {${source}\n})`
  // The full cache, else the early one: one read and one compile (a rejected cache is stale for
  // this Node or its flags, and so would the other be).
  let cachedData
  let used
  for (const name of dir === undefined ? [] : [full, early]) {
    try {
      cachedData = readFileSync(join(dir, name))
      used = name
      break
    } catch {}
  }
  const script = new Script(wrapped, { filename: file, cachedData })
  if (script.cachedDataRejected === true) used = undefined
  if (dir !== undefined && used !== full) {
    const since = Date.now()
    if (used === undefined) setTimeout(() => { save(script, dir, prefix, early, [full, early], since) }, SAVE_AFTER_MS).unref()
    setTimeout(() => { save(script, dir, prefix, full, [full], since) }, FULL_AFTER_MS).unref()
  }
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file), pathToFileURL(file).href)
  return module.exports
}

/**
 * Writes the cache as `name` whole (a rename, so a concurrent start never reads half a file),
 * then drops the other files of `prefix` but those in `keep` (older builds', and the early
 * cache once the full one is saved); not when another process saved one of `keep` since
 * `since` (agents started together).
 */
function save (script, dir, prefix, name, keep, since) {
  try {
    for (const k of keep) {
      try {
        if (statSync(join(dir, k)).mtimeMs > since) return
      } catch {}
    }
    const tmp = join(dir, `${name}.${process.pid}.tmp`)
    writeFileSync(tmp, script.createCachedData(), { mode: 0o600 })
    renameSync(tmp, join(dir, name))
    for (const f of readdirSync(dir)) {
      if (f.startsWith(prefix) && !keep.includes(f) && !f.endsWith('.tmp')) rmSync(join(dir, f), { force: true })
    }
  } catch {}
}
