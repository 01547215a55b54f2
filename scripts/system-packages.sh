#!/usr/bin/env bash
# The Debian packages shinsei's build and tests need, installed when missing.
#
# As root: `apt-get update` once, then `apt-get install` of what is missing. As anyone else: print the
# exact command to run and exit 1, so that `make test` stops before a test fails for a missing tool.
# `make test` and `.ci/run` both call this script; extra package names may be given as arguments
# (.ci/run adds make and python3, which have to be there before make can run at all).
set -euo pipefail

# One list: a later need (e.g. chromium chromium-driver for browser tests) is one more line here.
PACKAGES=(
  openssl    # the peer CMS implementation in the signing tests; the bundle README's commands
  softhsm2   # a PKCS#11 token standing in for a My Number card and for the receipt HSM
  chromium chromium-driver  # the console's browser tests (headless, driven by Selenium)
  poppler-utils  # pdftotext: the tests read rendered PDFs back as a viewer does
)

missing=()
for package in "${PACKAGES[@]}" "$@"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "shinsei needs these system packages: ${missing[*]}" >&2
  echo "install them as root, then run make again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
# A fresh Debian machine has no package lists: install fails with "Unable to locate package" without this.
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
