# Sourced by the ensure-* helpers: installs one of Debian's packages with apt-get, as root or with sudo.
install_debian_package() {
    echo "$1 is not installed; installing Debian's $1 package with apt-get"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}
