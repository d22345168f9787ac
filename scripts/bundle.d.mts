// Types of bundle.mjs, for the TypeScript callers (bench/bench.ts, scripts/cluster.ts).
/** Builds dist/bundle/ from src/ (the CLI and the agent's CommonJS twin). */
export function bundle (): Promise<void>
