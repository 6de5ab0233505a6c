# Sourced by scripts/test: installs Debian's nats-server (JetStream) when it is missing. The tests start
# their own servers on loopback ports; nothing is configured system-wide.
nats_server_path() {
    command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; } || return 1
}

source "$(dirname "${BASH_SOURCE[0]}")/debian.sh"

ensure_nats() {
    nats_server_path >/dev/null || install_debian_package nats-server
}
