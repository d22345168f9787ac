#!/bin/sh
# Remove what network-namespace labs (test/lab/netns.ts) left behind: processes inside their
# namespaces, the namespaces, veths and bridges. Safe to run anytime: it touches only names of
# the lab's form, PREFIX + digits + one letter + '-' + suffix (e.g. mlab4242a-br, mlab4242a-h0,
# mlab4242a-0), and does nothing when there is nothing to remove.
#
#   scripts/lab-down.sh [--prefix P] [--all] [--stale] [--dry-run]
#
#   --prefix P  lab name prefix (default: $LAB_PREFIX, else mlab)
#   --all       every prefix this project uses: mlab (tests), mbch (npm run bench),
#               mclu (npm run cluster), mltc (test/lab/lab.test.ts)
#   --stale     only labs whose owner process (recorded in the bridge alias) is gone; labs
#               of test runs still going on are left alone
#   --dry-run   print what would be removed
set -u

PREFIX="${LAB_PREFIX:-mlab}"
STALE=0
DRY=0
ALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:-}"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    --all) ALL=1; shift ;;
    --stale) STALE=1; shift ;;
    --dry-run|-n) DRY=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lab-down: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$ALL" = 1 ]; then
  flags=""
  [ "$STALE" = 1 ] && flags="$flags --stale"
  [ "$DRY" = 1 ] && flags="$flags --dry-run"
  status=0
  for p in mlab mbch mclu mltc; do
    # shellcheck disable=SC2086
    sh "$0" --prefix "$p" $flags || status=$?
  done
  exit $status
fi

# Same rule as Lab.create: a short lowercase prefix, so the pattern cannot match eth0, lo, etc.
if ! printf '%s' "$PREFIX" | grep -Eq '^[a-z][a-z0-9]{1,3}$'; then
  echo "lab-down: prefix must be 2-4 lowercase letters/digits starting with a letter (got '$PREFIX')" >&2
  exit 2
fi

IP=/usr/sbin/ip
[ -x "$IP" ] || IP=ip
if ! command -v "$IP" >/dev/null 2>&1; then
  echo "lab-down: ip (iproute2) not found; nothing to do"
  exit 0
fi

# Lab ids are PREFIX, digits, one letter: namespaces ID-0, ID-1 …; links ID-br, ID-h0 …
# Lab.canRun's probe (namespace and bridge) is PREFIX, digits, '-p'.
namespaces() { "$IP" netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+([a-z]-[0-9]+|-p)\$" || true; }
links() { "$IP" -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${PREFIX}[0-9]+([a-z]-(br|h[0-9]+)|-p)\$" || true; }
lab_id() { printf '%s\n' "$1" | sed -E "s/^(${PREFIX}[0-9]+[a-z]?)-.*/\\1/"; }

# A lab is in use if its bridge records an owner pid that is still running.
in_use() {
  [ "$STALE" = 1 ] || return 1
  alias_file="/sys/class/net/$1-br/ifalias"
  [ -r "$alias_file" ] || return 1
  owner=$(sed -n 's/^murmur-lab pid=\([0-9][0-9]*\)$/\1/p' "$alias_file")
  [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null
}

NS=$(namespaces)
LINKS=$(links)
if [ -z "$NS" ] && [ -z "$LINKS" ]; then
  echo "lab-down: no lab leftovers with prefix '$PREFIX'"
  exit 0
fi
if [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "lab-down: removing lab leftovers needs root" >&2
  exit 1
fi

run() {
  echo "+ $*"
  [ "$DRY" = 1 ] || "$@"
}

removed=0
kept=0
for ns in $NS; do
  if in_use "$(lab_id "$ns")"; then kept=$((kept + 1)); continue; fi
  # Processes still inside a lab namespace are lab agents; they would keep it alive.
  for pid in $("$IP" netns pids "$ns" 2>/dev/null); do run kill -9 "$pid" 2>/dev/null; done
  run "$IP" netns del "$ns" 2>/dev/null
  removed=$((removed + 1))
done
# veths first (deleting one end deletes the pair), then bridges.
for link in $(printf '%s\n' $LINKS | grep -v -- '-br$') $(printf '%s\n' $LINKS | grep -- '-br$'); do
  if in_use "$(lab_id "$link")"; then kept=$((kept + 1)); continue; fi
  run "$IP" link del dev "$link" 2>/dev/null
  removed=$((removed + 1))
done
[ "$DRY" = 1 ] && verb="would remove" || verb="removed"
echo "lab-down: $verb $removed, kept $kept in use (prefix '$PREFIX')"
exit 0
