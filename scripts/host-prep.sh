#!/bin/bash
# Prepares this host for Paddock's runtimes (crun, runsc). Idempotent: quiet when every step is
# already done, one line per step it performs. Needs root. Safe to run on every server start.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "host-prep: must run as root" >&2; exit 1; }

# 1. Debian bookworm-backports (runsc 0.0~20240729 with the systrap platform lives there).
BACKPORTS=/etc/apt/sources.list.d/paddock-backports.sources
apt_updated=0
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  uri=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uri=${uri:-http://deb.debian.org/debian}
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" > "$BACKPORTS"
  echo "host-prep: added bookworm-backports source ($uri) in $BACKPORTS"
  apt-get update -qq; apt_updated=1
fi

# 2. Packages, only when missing (dpkg-query keeps the fast path well under a second).
missing() { # prints the names of packages not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}
install_pkgs() { # $1 = extra apt args (may be empty), rest = packages
  local extra=$1; shift
  [ $# -gt 0 ] || return 0
  echo "host-prep: installing $*${extra:+ ($extra)}"
  [ $apt_updated = 1 ] || { apt-get update -qq; apt_updated=1; }
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $extra "$@" >/tmp/paddock-host-prep.log 2>&1 \
    || { cat /tmp/paddock-host-prep.log >&2; exit 1; }
}
# shellcheck disable=SC2046
install_pkgs '' $(missing crun tini mmdebstrap uidmap iproute2 nftables e2fsprogs util-linux bubblewrap)
# runsc must be the backports build (systrap); the bookworm one (20221219) lacks it.
if [ -n "$(missing runsc)" ] || ! dpkg-query -W -f='${Version}' runsc | grep -q '~bpo12'; then
  install_pkgs '-t bookworm-backports' runsc
fi

# 3. crun 1.8.1 refuses hybrid cgroups while any controller sits on cgroup2; on this host that is
#    hugetlb. Binding it to its own v1 hierarchy empties cgroup2 (not persistent across reboots).
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers; then
  if ! mountpoint -q /sys/fs/cgroup/hugetlb; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    echo "host-prep: mounted the hugetlb controller on a cgroup v1 hierarchy (crun needs no controller on cgroup2)"
  fi
fi
