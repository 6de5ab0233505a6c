# Sourced by scripts/run and scripts/test: installs Debian's PostgreSQL when its server programs are
# missing (Evalium runs its own private cluster with them; nothing is configured system-wide).
postgres_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return 0
    fi
    # Debian keeps the server programs in a versioned folder off PATH; take the newest.
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 | grep . || return 1
}

source "$(dirname "${BASH_SOURCE[0]}")/debian.sh"

ensure_postgres() {
    postgres_bindir >/dev/null || install_debian_package postgresql
}
