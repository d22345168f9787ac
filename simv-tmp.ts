import { simulate } from './src/sim/sim.ts'
const n = Number(process.argv[2])
const xs: number[] = []
for (let seed = 1; seed <= 8; seed++) xs.push((await simulate({ n, seconds: 16, seed })).allSeeAllMs ?? NaN)
xs.sort((a, b) => a - b)
console.log(`n=${n} WIN=${process.env.WIN}: median ${xs[4]} max ${xs[7]} all ${xs.join(' ')}`)
