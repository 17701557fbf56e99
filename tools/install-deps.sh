#!/bin/bash
# Installs every Debian 12 package autoenroll needs (run as root).
# Packages' own services (krb5-kdc, apache2, tpm2-abrmd ...) are kept from
# starting: the tests start private instances on loopback.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^\s*#' "$here/deps.txt" | grep -v '^\s*$')

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

guard=/usr/sbin/policy-rc.d
own_guard=0
if [ ! -e "$guard" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$guard"
    chmod 755 "$guard"
    own_guard=1
fi
trap '[ $own_guard = 1 ] && rm -f "$guard"' EXIT

export DEBIAN_FRONTEND=noninteractive
[ "${AUTOENROLL_SKIP_APT_UPDATE:-0}" = 1 ] || apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
