# Sourced by scripts/test: installs Debian's nats-server (JetStream) when it is missing. The tests start
# their own servers on loopback ports; nothing is configured system-wide.
nats_server_path() {
    command -v nats-server 2>/dev/null || { [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server; } || return 1
}

ensure_nats() {
    if nats_server_path >/dev/null; then
        return 0
    fi
    echo "nats-server is not installed; installing Debian's nats-server package with apt-get"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >/dev/null
}
