// A scratch directory for one test file, removed after its tests, and files written into it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'

export function scratchDir (prefix: string): { dir: string, file: (name: string, text: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return {
    dir,
    /** Writes `text` to `name` in the directory; its path. */
    file: (name, text) => {
      const path = join(dir, name)
      writeFileSync(path, text)
      return path
    }
  }
}
