#!/usr/bin/env bash
# ./build.sh test — installs what the tests need (Debian packages, as root), then runs every test and prints
# "N passed, N failed" and the wall time. .ci/run calls this same command.
# ./build.sh api — rewrites every package's PublicAPI.Unshipped.txt from its code, after an intended API change.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  echo "usage: ./build.sh test | ./build.sh api" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage

if [[ $1 == api ]]; then
  # The public API analyzer's own code fix (RS0016, RS0037) writes the entries; starting from an empty Unshipped file
  # also drops what was removed. Lines already in PublicAPI.Shipped.txt stay there: removing one of those is a
  # breaking change that needs a *REMOVED* line written by hand.
  for project in src/*/*.csproj; do
    printf '#nullable enable\n' > "$(dirname "$project")/PublicAPI.Unshipped.txt"
    dotnet format analyzers "$project" --diagnostics RS0016 RS0037 --severity info
  done
  git status --short -- 'src/*/PublicAPI.*.txt'
  exit 0
fi

[[ $1 == test ]] || usage
start=$(date +%s)

# Debian packages the tests start as real servers: slapd (+ the OpenLDAP client library that
# System.DirectoryServices.Protocols loads) for the LDAP authenticator tests; ZooKeeper (run on Java 17) and its
# C client library, which the ZooKeeper integration calls through P/Invoke; redis-server for the Redis session store;
# chromium and chromium-driver (driven by Selenium, never downloaded) for the dashboard test.
APT_PACKAGES=(slapd ldap-utils libldap-2.5-0 zookeeper libzookeeper-mt2 redis-server chromium chromium-driver)

missing=()
for package in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "The tests need these Debian packages, which are not installed (and this user cannot install them):" >&2
    for package in "${missing[@]}"; do
      echo "  $package: sudo apt-get install -y --no-install-recommends $package" >&2
    done
    exit 1
  fi

  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # slapd's package scripts would start a system daemon; the tests run their own on a free port.
  created_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if ((created_policy)); then rm -f /usr/sbin/policy-rc.d; fi
fi

dotnet restore SparkConnect.Multiplexer.sln

# Every test project (build included), with results kept for the summary line.
results="$(mktemp -d)"
set +e
dotnet test SparkConnect.Multiplexer.sln --logger "trx" --results-directory "$results" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}
set -e

# Sum every test project's outcome counters from its TRX file.
passed=0
failed=0
for trx in "$results"/*.trx; do
  [[ -e "$trx" ]] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n1)"
  p="$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  f="$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")"
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1 # the build or a test host failed before any result was written
fi
elapsed=$(( $(date +%s) - start ))
echo "${passed} passed, ${failed} failed, $((elapsed / 60)) min $((elapsed % 60)) s wall time on $(nproc) cores"
exit "$status"
