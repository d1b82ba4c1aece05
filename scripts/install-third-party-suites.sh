#!/usr/bin/env bash
# Installs third-party etcd clients' own test suites, which tests/tests/third_party_clients.rs
# runs against real etcd 3.5.1 and against oxcd, into .third-party/ (only where missing; not
# under target/, which cargo must create itself to mark it as its own):
#   - the Rust etcd-client crate's source with its tests, and its dependencies fetched;
#   - python-etcd3's, aetcd's and etcd3gw's source distributions with their tests, each in a virtualenv
#     with what its tests import. Versions are pinned so both servers always meet the same tests.
# Called by install-test-deps.sh; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

ETCD_CLIENT_VERSION=0.21.1
PYTHON_ETCD3_VERSION=0.12.0
# What python-etcd3's tests import, at versions that run on a current Python. Hypothesis 6
# turns its tests' function-scoped fixtures into failed health checks, hence 5.x.
PYTHON_ETCD3_TEST_PACKAGES=(pytest==9.2.0 hypothesis==5.49.0 mock==5.2.0 six==1.17.0
  tenacity==9.2.1 grpcio==1.85.4 protobuf==7.36.2)
ETCD3GW_VERSION=2.7.0
# etcd3gw's tests are unittest cases on oslotest; run with pytest like the others.
ETCD3GW_TEST_PACKAGES=(pytest==9.0.3 oslotest==6.1.1 requests==2.34.2 urllib3==2.8.0
  futurist==3.5.0)
AETCD_VERSION=1.0.0
# aetcd's own `test` extra, and the runtime it was released against.
AETCD_TEST_PACKAGES=(pytest==9.0.3 pytest-asyncio==1.3.0 pytest-mock==3.15.1 grpcio==1.85.4
  protobuf==7.36.2)

third_party=.third-party
mkdir -p "$third_party"

# The crate as published, found through a throwaway package that depends on it: cargo unpacks
# it into its registry cache, and `cargo metadata` says where.
install_etcd_client() {
  local dir=$third_party/etcd-client-$ETCD_CLIENT_VERSION
  [ -f "$dir/.complete" ] && return
  echo "install-third-party-suites: fetching the etcd-client $ETCD_CLIENT_VERSION crate"
  local finder=$third_party/find-etcd-client
  rm -rf "$finder" "$dir"
  mkdir -p "$finder/src"
  cat >"$finder/Cargo.toml" <<EOF
[package]
name = "find-etcd-client"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
etcd-client = "=$ETCD_CLIENT_VERSION"

[workspace]
EOF
  : >"$finder/src/lib.rs"
  local manifest
  manifest=$(cargo metadata --quiet --format-version 1 --manifest-path "$finder/Cargo.toml" |
    python3 -c '
import json, sys
packages = json.load(sys.stdin)["packages"]
print(next(p["manifest_path"] for p in packages if p["name"] == "etcd-client"))')
  cp -r "$(dirname "$manifest")" "$dir"
  rm -rf "$finder"
  # The published Cargo.lock pins the suite's dependencies; fetch them (dev ones too) now so
  # the test builds offline.
  cargo fetch --quiet --locked --manifest-path "$dir/Cargo.toml"
  touch "$dir/.complete"
}

# install_python_suite NAME VERSION DIRECTORY PACKAGES...: the source distribution of NAME
# unpacked into DIRECTORY/source, installed with PACKAGES into the virtualenv DIRECTORY/venv.
install_python_suite() {
  local name=$1 version=$2 dir=$3
  shift 3
  [ -f "$dir/.complete" ] && return
  echo "install-third-party-suites: installing $name $version and its test packages"
  rm -rf "$dir"
  mkdir -p "$dir"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$dir" "$name==$version"
  tar -xzf "$dir/$name-$version.tar.gz" -C "$dir"
  mv "$dir/$name-$version" "$dir/source"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "$dir/source" "$@"
  touch "$dir/.complete"
}

install_etcd_client
install_python_suite etcd3 "$PYTHON_ETCD3_VERSION" "$third_party/python-etcd3-$PYTHON_ETCD3_VERSION" \
  "${PYTHON_ETCD3_TEST_PACKAGES[@]}"
install_python_suite aetcd "$AETCD_VERSION" "$third_party/aetcd-$AETCD_VERSION" \
  "${AETCD_TEST_PACKAGES[@]}"
install_python_suite etcd3gw "$ETCD3GW_VERSION" "$third_party/etcd3gw-$ETCD3GW_VERSION" \
  "${ETCD3GW_TEST_PACKAGES[@]}"
echo "install-third-party-suites: ok (etcd-client $ETCD_CLIENT_VERSION, python-etcd3 $PYTHON_ETCD3_VERSION, aetcd $AETCD_VERSION, etcd3gw $ETCD3GW_VERSION in $third_party)"
