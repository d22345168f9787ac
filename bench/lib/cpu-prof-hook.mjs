// Preloaded into one bench agent (node --import): the first SIGUSR2 starts V8's CPU profiler, the
// next stops it and writes the profile, in the format `node --cpu-prof` writes, to
// <tmpdir>/murmur-cpu-<pid>.cpuprofile; the bench knows the pid, reads the file and removes it.
// `node --cpu-prof` profiles from start to exit, so start-up and join would drown the idle
// agent's few milliseconds a second; this covers exactly the window the bench chooses.
import { renameSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let session
process.on('SIGUSR2', () => {
  if (session === undefined) {
    session = new Session()
    session.connect()
    session.post('Profiler.enable', () => session.post('Profiler.start'))
    return
  }
  const s = session
  session = undefined
  s.post('Profiler.stop', (err, res) => {
    const file = join(tmpdir(), `murmur-cpu-${process.pid}.cpuprofile`)
    // Written whole, then renamed: the bench never reads half a file.
    writeFileSync(`${file}.part`, JSON.stringify(err === null ? res.profile : { error: String(err) }))
    renameSync(`${file}.part`, file)
    s.disconnect()
  })
})
