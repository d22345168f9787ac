// The control loop's round alone, in a few seconds: `npx tsx bench/control.ts`
// (also part of `npm run bench`, as the `control` scenario).
import { table } from './lib/common.js'
import { controlRound } from './lib/control.js'

console.log(table(await controlRound()))
