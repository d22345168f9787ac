// The rest of the build after tsc: the web view's static files beside the modules that serve
// them, and the CLI bundled by esbuild into dist/bundle/, which bin/murmur runs. Node's ESM
// loader resolves, reads and links every module file one by one (about 700 for an agent, most
// of them libp2p's), and that cost more CPU at start than everything the agent then does to join;
// one file per entry point skips it. Plain JavaScript, so `npm run build` needs no tsx.
import { execFileSync } from 'node:child_process'
import { build } from 'esbuild'
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * msgpackr's optional native string decoder (msgpackr-extract) is left out of the bundle:
 * msgpackr loads it at import when it is installed, a native addon found by walking
 * node_modules, which cost an agent 6-9 ms of its ~140 ms of CPU to start (profiled), and it
 * saves about 1 µs per message decoded (2.3 against 3.4 µs for a 600-byte message), 10 µs a
 * second for an idle agent. Required, the stand-in throws, as a missing optional package does,
 * and msgpackr decodes in JavaScript.
 */
const leaveOutNativeDecoder = {
  name: 'leave-out-msgpackr-extract',
  setup (b) {
    b.onResolve({ filter: /^msgpackr-extract$/ }, () => ({ path: 'msgpackr-extract', namespace: 'left-out' }))
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({ contents: "throw new Error('msgpackr-extract is left out of the bundle')", loader: 'js' }))
  }
}

const root = new URL('..', import.meta.url)
const path = rel => fileURLToPath(new URL(rel, root))

/**
 * Written at the end of every bundle step: bin/murmur runs the bundle only when this is no
 * older than tsc's output (a bare `tsc` since would leave the bundle stale).
 */
const BUILT_STAMP = 'built'

export async function bundle () {
  const out = path('dist/bundle')
  mkdirSync(out, { recursive: true })
  // routes.ts reads ./static/ relative to its own module: in the tsc output that is
  // dist/http/ui/, in the bundle whichever chunk holds it, all of them in dist/bundle/.
  for (const dir of ['dist/http/ui/static', 'dist/bundle/static']) {
    rmSync(path(dir), { recursive: true, force: true })
    cpSync(path('src/http/ui/static'), path(dir), { recursive: true })
  }
  const esm = build({
    write: false,
    entryPoints: [path('src/cli/main.ts')],
    outdir: out,
    bundle: true,
    // Client commands load only main.js and a small shared chunk; `murmur agent` also loads
    // the chunk behind its dynamic import (libp2p and the agent).
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: '[name]-[hash]',
    plugins: [leaveOutNativeDecoder],
    // CommonJS dependencies (prom-client, multicast-dns, ...) require() Node's own modules.
    banner: { js: "import { createRequire as __murmurRequire } from 'node:module'; const require = __murmurRequire(import.meta.url);" },
    // Whitespace and syntax only: a sixth less to decode and parse at every start, while
    // function and class names stay in stack traces. The linked source map gives src/
    // positions to a run with NODE_OPTIONS=--enable-source-maps (off by default: reading the
    // map costs an agent 0.1 s of CPU at start).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning'
  })
  // The same CLI as one CommonJS file, which bin/murmur runs for `murmur agent`: a script (not
  // an ES module) can be compiled with V8's code cache (bin/code-cache.mjs), on Node 20 too,
  // which skips most of the parse and compile work at every start after the first. One file,
  // as CommonJS has no chunks; client commands keep the small ES module entry above.
  const cjs = build({
    write: false,
    entryPoints: [path('src/cli/main.ts')],
    outfile: path('dist/bundle/agent.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    plugins: [leaveOutNativeDecoder],
    // import.meta is ESM's; its one use (routes.ts's ./static/) gets this file's URL, which
    // bin/code-cache.mjs passes in beside __filename (no banner: it would come before esbuild's
    // "use strict" and leave the whole file in sloppy mode).
    define: { 'import.meta.url': '__murmurModuleUrl' },
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning'
  })
  writeChanged(out, (await Promise.all([esm, cjs])).flatMap(r => r.outputFiles))
  writeFileSync(join(out, BUILT_STAMP), '')
}

/**
 * Writes the files whose bytes changed, and removes what the build no longer makes. A file
 * that did not change keeps its time: the agent's code cache is kept per bundle file and time
 * (bin/code-cache.mjs), and a rebuild of the same code (`npm start` builds first, and so do the
 * tests and the bench) used to throw it away, so that the next agents started without it.
 */
function writeChanged (out, files) {
  const made = new Set(files.map(f => f.path))
  for (const name of readdirSync(out)) {
    if (name !== 'static' && name !== BUILT_STAMP && !made.has(join(out, name))) rmSync(join(out, name), { recursive: true, force: true })
  }
  for (const f of files) {
    let old
    try { old = readFileSync(f.path) } catch {}
    if (old === undefined || !old.equals(f.contents)) writeFileSync(f.path, f.contents)
  }
}

/**
 * What bin/murmur runs, from src/: tsc's output, then the bundle. tsc alone would leave the
 * bundle older than its output, and bin/murmur would then run the ~700 modules of tsc's output,
 * which costs an agent more than twice the CPU to start. (The bench, `npm run cluster` and the
 * tests' global set-up build this way; `npm run build` also builds packages/client.)
 */
export async function compileAndBundle () {
  execFileSync(process.execPath, [path('node_modules/typescript/bin/tsc'), '-p', path('.')], { cwd: path('.'), stdio: 'inherit' })
  await bundle()
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle()
