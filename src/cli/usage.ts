// Help texts: the overview (`murmur --help`) and one per command (`murmur CMD --help`). The
// agent's option list comes from the option table, so help cannot drift from the parser.
import { optionsHelp } from '../agent/option-table.js'

export const DEFAULT_HTTP = '127.0.0.1:7401'

const CLIENT_OPTIONS = `
Options of every client command:
  --http HOST:PORT   the agent's sidecar (env MURMUR_HTTP_ADDR; default ${DEFAULT_HTTP})
  --token T          sidecar token (env MURMUR_HTTP_TOKEN), for an agent started with --http-token-file
  --json             JSON output, for scripts
Bad usage exits 2; an agent that does not answer or refuses exits 1.
`

export const AGENT_HELP = `usage: murmur agent [--config FILE] [options]

Runs the agent until SIGINT or SIGTERM (then it leaves the cluster gracefully). SIGHUP
re-reads the config file: the log level changes at once; other changes are logged as needing
a restart. Every option has an env twin (in parentheses below). In a config file (JSON, or
TOML when the name ends in .toml) an option's key is its flag without dashes: "data-dir",
"join" (a list), "mdns" (false for --no-mdns); unknown keys are refused.
Precedence: flag > env > config file > default. Negative values: --clock-skew-ms -3000.

  --config FILE                 options file (MURMUR_CONFIG)
  --version                     print the version and exit

${optionsHelp()}`

const client = (usage: string, text: string): string => `usage: ${usage}\n\n${text}\n${CLIENT_OPTIONS}`

export const COMMAND_HELP: Record<string, string> = {
  agent: AGENT_HELP,
  members: client('murmur members [--status alive|suspect|failed|left] [--watch]',
    'Members of the cluster as this agent sees them. --status keeps one status; --watch prints\neach change until Ctrl-C.'),
  status: client('murmur status', "This agent's identity, peers and counters."),
  wait: client('murmur wait [--members N] [--timeout 60s]',
    'Waits until the agent answers (and, with --members, lists at least N alive members), then\nexits 0; exits 1 at the timeout. For scripts that start agents in the background.'),
  join: client('murmur join ADDR',
    'Makes the agent dial ADDR (HOST:PORT of another agent\'s --listen, or a multiaddr) now and\nexchange state with it. Once: unlike --join, it is not retried.'),
  'force-leave': client('murmur force-leave NAME',
    'Marks the failed member NAME left on every agent, so nobody tries to reach it again. Refused\nfor a member that is alive or suspect. A forced-out agent that starts again rejoins.'),
  services: client('murmur services [NAME] [--healthy] [--tag T]\n       murmur services watch NAME [--healthy] [--tag T]',
    'Without NAME: every service with its instance counts. With NAME: its instances cluster-wide\n(--healthy: passing instances of alive members only). watch: each change, until Ctrl-C.'),
  register: client('murmur register NAME --port P [--id ID] [--address A] [--tag T]... [--meta k=v]... [--weight W]',
    'Registers a service with this agent (id defaults to NAME, address to the agent\'s).'),
  deregister: client('murmur deregister ID', 'Removes a service registered with this agent.'),
  config: client('murmur config get KEY | set KEY VALUE [--string] | del KEY | list [PREFIX] | watch [PREFIX]',
    'The replicated config. set parses VALUE as JSON when it is valid JSON (42, true, {"a":1}),\nelse takes it as a string (--string forces a string). A negative number is a value:\nmurmur config set limits/floor -5. watch prints each change until Ctrl-C.'),
  leave: client('murmur leave', 'Makes the agent leave the cluster gracefully and exit.'),
  keygen: 'usage: murmur keygen [FILE]\n\nA new cluster key (for --cluster-key) to FILE (mode 600, never overwritten) or to stdout.\n',
  version: 'usage: murmur version\n\nPrints the version of this murmur (also: murmur --version).\n',
  metrics: client('murmur metrics [--service S [--tag T]] [--metric M]', 'Cluster aggregates of every metric (or M) (README "Control loop").'),
  rules: client('murmur rules add NAME RULE | list | show NAME | rm NAME | history NAME', 'Control-loop rules; RULE is JSON text, a file, or - for stdin (README "Rule format").'),
  analyse: client('murmur analyse impact KEY METRIC [--service S] [--window 60s] | analyse arrivals SERVICE', 'Regression of METRIC on KEY\'s changes; Poisson arrival rates of SERVICE\'s instances.')
}
COMMAND_HELP.analyze = COMMAND_HELP.analyse

export const USAGE = `usage: murmur <command> [options]      (murmur <command> --help for its options)

Agent:
  murmur agent [--config FILE] [options]   run the agent (murmur agent --help lists every option)

Clients of a running agent (--http ADDR or MURMUR_HTTP_ADDR, default ${DEFAULT_HTTP}; --json):
  murmur members [--status S] [--watch]  members and their status
  murmur status                          this agent's identity and counters
  murmur wait [--members N]              wait until the agent answers (and lists N alive members)
  murmur join ADDR                       make the agent join the cluster through ADDR now
  murmur force-leave NAME                mark a failed member left everywhere
  murmur services [NAME] [--healthy] [--tag T] | services watch NAME
  murmur register NAME --port P [--id ID] [--address A] [--tag T]... [--meta k=v]... [--weight W]
  murmur deregister ID
  murmur config get KEY | set KEY VALUE [--string] | del KEY | list [PREFIX] | watch [PREFIX]
  murmur leave                           make the agent leave the cluster gracefully and exit

Control loop:
  murmur metrics | rules ... | analyse ...

Other:
  murmur keygen [FILE]                   a new cluster key (for --cluster-key)
  murmur version                         this murmur's version (also --version)
`
