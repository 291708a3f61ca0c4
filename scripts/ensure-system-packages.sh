#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing.
# Usage: scripts/ensure-system-packages.sh COMMAND=PACKAGE [COMMAND=PACKAGE ...]
# A COMMAND is found on PATH or in /usr/sbin; a COMMAND of "-" (a package with no command:
# a library, a language model) means the package itself is checked with dpkg. Missing
# ones are installed with apt-get when we are root (or have sudo); otherwise the script
# names the packages and fails.
set -euo pipefail

missing=()
for pair in "$@"; do
  command_name=${pair%%=*}
  package=${pair#*=}
  if [ "$command_name" = "-" ]; then
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$package")
    fi
  elif ! command -v "$command_name" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command_name" ]; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt_get=(sudo apt-get)
else
  echo "error: missing Debian packages: ${missing[*]}" >&2
  echo "       install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
