#!/usr/bin/env bash
# Install what the test suite runs besides cargo: the reference age CLI
# (interop tests), OpenSSH's ssh-keygen (SSH recipients), tmux (terminal
# tests) and git.
set -euo pipefail
need=()
command -v age >/dev/null && command -v age-keygen >/dev/null || need+=(age)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v tmux >/dev/null || need+=(tmux)
command -v git >/dev/null || need+=(git)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
age --version >/dev/null
# The pre-commit framework, for the test of .pre-commit-hooks.yaml.
command -v pre-commit >/dev/null || python3 -m pip install --quiet pre-commit
pre-commit --version >/dev/null
