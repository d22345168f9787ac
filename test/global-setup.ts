// Integration tests run bin/murmur, which runs dist/: compile once before any test file.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export default function setup (): void {
  const root = fileURLToPath(new URL('..', import.meta.url))
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', '.'], { cwd: root, stdio: 'inherit' })
}
