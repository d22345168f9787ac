// Integration tests run bin/murmur, which runs dist/: compile and bundle once before any test
// file, as `npm run build` does (a stale bundle would otherwise run instead of the new code).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { bundle } from '../scripts/bundle.mjs'

export default async function setup (): Promise<void> {
  const root = fileURLToPath(new URL('..', import.meta.url))
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', '.'], { cwd: root, stdio: 'inherit' })
  await bundle()
}
