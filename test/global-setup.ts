// Integration tests run bin/murmur, which runs dist/: compile once before any test file.
import { execFileSync } from 'node:child_process'
import { cpSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export default function setup (): void {
  const root = fileURLToPath(new URL('..', import.meta.url))
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', '.'], { cwd: root, stdio: 'inherit' })
  // What `npm run build` adds to tsc: the web view's static files beside its compiled module.
  cpSync(new URL('../src/http/ui/static', import.meta.url), new URL('../dist/http/ui/static', import.meta.url), { recursive: true })
}
