#!/usr/bin/env bash
# Start the servers the test suite talks to, on loopback, and write their URLs to
# .test-services.env (read by tests/conftest.py).
#
#   PostgreSQL  role dbsched / password dbsched / database dbsched_test  on 127.0.0.1:5432
#   MariaDB     user dbsched / password dbsched / database dbsched_test  on 127.0.0.1:3306
#   ODBC        unixODBC with the MariaDB and PostgreSQL drivers registered
#   Tools       poppler-utils (pdftotext), LibreOffice calc (headless), openssl, fonts-dejavu-core (PDF Unicode font)
#   Browser     chromium (headless: the tests render the HTML email and measure its layout,
#               through Playwright's executable_path=/usr/bin/chromium), fonts-liberation2
#               (Arial's metrics, which the email's font stack names first, as the mail
#               clients on Windows and macOS have it)
#
# Idempotent: installs only missing packages (apt-get update only then), starts only
# servers that do not answer, creates only missing roles/databases. Run it twice; the
# second run takes a second or two.
#
# Without root or apt (a laptop), nothing is installed: the script says what it could
# not start and exits 0, and the tests needing that service skip (or fail under CI=true).
# Exit status is non-zero only when CI=true and a service could not be provided.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_FILE="$ROOT/.test-services.env"
DB_USER=dbsched
DB_PASSWORD=dbsched
DB_NAME=dbsched_test
PG_PORT=5432
MARIADB_PORT=3306
MARIADB_LOG=/var/log/mysql/dbsched-test-mariadb.log

PACKAGES=(
  postgresql mariadb-server mariadb-client unixodbc odbc-mariadb odbc-postgresql
  poppler-utils libreoffice-calc-nogui openssl fonts-dejavu-core
  chromium fonts-liberation2
)

problems=()
note() { printf 'setup-services: %s\n' "$*"; }
problem() { problems+=("$*"); printf 'setup-services: NOT AVAILABLE: %s\n' "$*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# --- packages ---------------------------------------------------------------------
install_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    problem "not a Debian system (no dpkg): install ${PACKAGES[*]} yourself"
    return
  fi
  local missing=()
  local p
  for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    note "packages present"
    return
  fi
  if ! is_root || ! command -v apt-get >/dev/null 2>&1; then
    problem "missing packages (need root + apt-get to install): ${missing[*]}"
    return
  fi
  note "installing: ${missing[*]}"
  local started=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=120 update -qq \
    || ! apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends \
      "${missing[@]}" >/tmp/dbsched-apt-install.log 2>&1; then
    problem "apt-get install failed (see /tmp/dbsched-apt-install.log)"
    tail -20 /tmp/dbsched-apt-install.log >&2 || true
    return
  fi
  note "installed in $((SECONDS - started)) s"
}

# --- PostgreSQL -------------------------------------------------------------------
pg_answers() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
}

as_postgres() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

setup_postgres() {
  if ! pg_answers; then
    if ! command -v pg_lsclusters >/dev/null 2>&1; then
      problem "PostgreSQL: not installed (package postgresql)"
      return 1
    fi
    local version
    version="$(pg_lsclusters --no-header 2>/dev/null | awk '$2 == "main" {print $1}' | sort -V | tail -1)"
    if [ -z "$version" ]; then
      problem "PostgreSQL: no 'main' cluster (pg_createcluster <version> main)"
      return 1
    fi
    if ! is_root; then
      problem "PostgreSQL: not running on 127.0.0.1:$PG_PORT and not root to start it"
      return 1
    fi
    note "starting PostgreSQL $version"
    pg_ctlcluster "$version" main start || true
    local i
    for i in $(seq 1 60); do
      pg_answers && break
      sleep 0.5
    done
    if ! pg_answers; then
      problem "PostgreSQL: started cluster $version/main but 127.0.0.1:$PG_PORT does not answer"
      return 1
    fi
  fi
  note "PostgreSQL answers on 127.0.0.1:$PG_PORT"
  if ! is_root; then
    # Cannot create roles without the postgres superuser: trust what is configured.
    return 0
  fi
  local sql
  sql="DO \$\$ BEGIN
         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
           CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD';
         END IF;
       END \$\$;"
  as_postgres psql -q -v ON_ERROR_STOP=1 -d postgres -c "$sql" >/dev/null || {
    problem "PostgreSQL: could not create role $DB_USER"
    return 1
  }
  if [ "$(as_postgres psql -tAq -d postgres -c \
    "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
    as_postgres createdb -O "$DB_USER" "$DB_NAME" || {
      problem "PostgreSQL: could not create database $DB_NAME"
      return 1
    }
  fi
}

# --- MariaDB ----------------------------------------------------------------------
mariadb_client() {
  if command -v mariadb >/dev/null 2>&1; then echo mariadb; else echo mysql; fi
}
mariadb_admin() {
  if command -v mariadb-admin >/dev/null 2>&1; then echo mariadb-admin; else echo mysqladmin; fi
}

mariadb_answers() {
  command -v "$(mariadb_admin)" >/dev/null 2>&1 \
    && "$(mariadb_admin)" --connect-timeout=2 -h 127.0.0.1 -P "$MARIADB_PORT" \
      -u "$DB_USER" -p"$DB_PASSWORD" ping >/dev/null 2>&1
}

mariadb_root_answers() {
  "$(mariadb_admin)" --connect-timeout=2 --protocol=socket -u root ping >/dev/null 2>&1
}

setup_mariadb() {
  if mariadb_answers; then
    note "MariaDB answers on 127.0.0.1:$MARIADB_PORT"
    return 0
  fi
  if ! is_root; then
    problem "MariaDB: dbsched cannot log in on 127.0.0.1:$MARIADB_PORT and not root to set it up"
    return 1
  fi
  local safe
  safe="$(command -v mariadbd-safe || command -v mysqld_safe || true)"
  if [ -z "$safe" ]; then
    problem "MariaDB: not installed (package mariadb-server)"
    return 1
  fi
  if ! mariadb_root_answers; then
    # No systemd in containers: run the server in the background ourselves.
    mkdir -p /run/mysqld /var/log/mysql
    chown mysql:mysql /run/mysqld /var/log/mysql
    if [ ! -d /var/lib/mysql/mysql ]; then
      note "initialising MariaDB data directory"
      (command -v mariadb-install-db || command -v mysql_install_db) >/dev/null
      "$(command -v mariadb-install-db || command -v mysql_install_db)" \
        --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1 || {
        problem "MariaDB: could not initialise /var/lib/mysql"
        return 1
      }
    fi
    note "starting MariaDB"
    setsid nohup "$safe" --user=mysql --bind-address=127.0.0.1 --port="$MARIADB_PORT" \
      >>"$MARIADB_LOG" 2>&1 </dev/null &
    local i
    for i in $(seq 1 120); do
      mariadb_root_answers && break
      sleep 0.5
    done
    if ! mariadb_root_answers; then
      problem "MariaDB: started $safe but it does not answer (see $MARIADB_LOG, /var/log/mysql/)"
      return 1
    fi
  fi
  # Grants cover dbsched_test and per-test databases dbsched_test_<suffix>.
  "$(mariadb_client)" --protocol=socket -u root <<SQL || {
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`dbsched\\_test%\`.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`dbsched\\_test%\`.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
    problem "MariaDB: could not create user/database"
    return 1
  }
  if ! mariadb_answers; then
    problem "MariaDB: running, but $DB_USER cannot log in on 127.0.0.1:$MARIADB_PORT"
    return 1
  fi
  note "MariaDB answers on 127.0.0.1:$MARIADB_PORT"
}

# --- ODBC -------------------------------------------------------------------------
ODBC_MARIADB_DRIVER=""
ODBC_PG_DRIVER=""

odbc_driver_names() {
  if command -v odbcinst >/dev/null 2>&1; then
    odbcinst -q -d 2>/dev/null | tr -d '[]'
  elif [ -f /etc/odbcinst.ini ]; then
    sed -n 's/^\[\(.*\)\]$/\1/p' /etc/odbcinst.ini
  fi
}

register_odbc_driver() {
  # register_odbc_driver <name> <library glob>; for packages that ship the .so but
  # did not register it (older Debian odbc-mariadb).
  local name="$1" lib
  lib="$(ls $2 2>/dev/null | head -1)"
  [ -n "$lib" ] && is_root && command -v odbcinst >/dev/null 2>&1 || return 0
  printf '[%s]\nDescription=%s\nDriver=%s\n' "$name" "$name" "$lib" \
    | odbcinst -i -d -r >/dev/null 2>&1 || true
}

setup_odbc() {
  local names
  names="$(odbc_driver_names)"
  if ! grep -qi mariadb <<<"$names"; then
    register_odbc_driver "MariaDB Unicode" "/usr/lib/*/odbc/libmaodbc.so"
  fi
  if ! grep -qi postgresql <<<"$names"; then
    register_odbc_driver "PostgreSQL Unicode" "/usr/lib/*/odbc/psqlodbcw.so"
  fi
  names="$(odbc_driver_names)"
  ODBC_MARIADB_DRIVER="$(grep -i 'mariadb' <<<"$names" | grep -i unicode | head -1)"
  [ -n "$ODBC_MARIADB_DRIVER" ] || ODBC_MARIADB_DRIVER="$(grep -i mariadb <<<"$names" | head -1)"
  ODBC_PG_DRIVER="$(grep -i 'postgresql' <<<"$names" | grep -i unicode | head -1)"
  [ -n "$ODBC_PG_DRIVER" ] || ODBC_PG_DRIVER="$(grep -i postgresql <<<"$names" | head -1)"
  note "ODBC drivers registered: $(tr '\n' ';' <<<"$names")"
  [ -n "$ODBC_MARIADB_DRIVER" ] || problem "ODBC: no MariaDB driver registered (package odbc-mariadb)"
  [ -n "$ODBC_PG_DRIVER" ] || problem "ODBC: no PostgreSQL driver registered (package odbc-postgresql)"
}

check_tools() {
  command -v pdftotext >/dev/null 2>&1 || problem "poppler-utils: pdftotext not found"
  command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1 \
    || problem "LibreOffice: soffice not found (package libreoffice-calc-nogui)"
  command -v openssl >/dev/null 2>&1 || problem "openssl not found"
  [ -x /usr/bin/chromium ] || problem "Chromium: /usr/bin/chromium not found (package chromium)"
}

# --- main -------------------------------------------------------------------------
install_packages
pg_ok=0
mariadb_ok=0
setup_postgres && pg_ok=1
setup_mariadb && mariadb_ok=1
setup_odbc
check_tools

{
  echo "# Written by scripts/setup-services.sh; read by tests/conftest.py. Not committed."
  if [ "$pg_ok" = 1 ]; then
    echo "TEST_PG_URL=postgresql+psycopg2://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
  fi
  if [ "$mariadb_ok" = 1 ]; then
    echo "TEST_MARIADB_URL=mysql+pymysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$MARIADB_PORT/$DB_NAME"
  fi
  [ -n "$ODBC_MARIADB_DRIVER" ] && echo "TEST_ODBC_MARIADB_DRIVER=$ODBC_MARIADB_DRIVER"
  [ -n "$ODBC_PG_DRIVER" ] && echo "TEST_ODBC_PG_DRIVER=$ODBC_PG_DRIVER"
  true
} >"$ENV_FILE"
note "wrote $ENV_FILE"

if [ "${#problems[@]}" -gt 0 ]; then
  printf 'setup-services: %d service(s) unavailable; tests needing them will skip:\n' \
    "${#problems[@]}" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "setup-services: CI=true, so this is an error" >&2
    exit 1
  fi
fi
exit 0
