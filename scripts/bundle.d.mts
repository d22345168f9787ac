// Types of bundle.mjs, for the TypeScript callers (bench/bench.ts, scripts/cluster.ts, test/global-setup.ts).
/** Builds dist/bundle/ from src/ (the CLI and the agent's CommonJS twin). */
export function bundle (): Promise<void>
/** tsc's output, then the bundle: what bin/murmur runs. */
export function compileAndBundle (): Promise<void>
