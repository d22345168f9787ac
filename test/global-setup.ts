// Integration tests run bin/murmur, which runs dist/: compile and bundle once before any test
// file, as `npm run build` does (a stale bundle would otherwise run instead of the new code).
import { compileAndBundle } from '../scripts/bundle.mjs'

export default async function setup (): Promise<void> {
  await compileAndBundle()
}
