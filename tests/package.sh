#!/usr/bin/env bash
# The server packages, installed for real on this (Debian) machine: builds
# them, installs the .deb, checks the units, the configuration in /etc, the
# man pages, the folders and a file through the installed daemon running as
# the mugai user, then an upgrade that keeps a changed configuration file,
# then purges it; checks the .rpm's file list. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  if [ "${CI:-}" = true ]; then echo "tests/package.sh: needs root" >&2; exit 1; fi
  echo "tests/package.sh: skipped (needs root to install the package)"; exit 0
fi
need=()
command -v rpm >/dev/null || need+=(rpm)
command -v man >/dev/null || need+=(man-db)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v setpriv >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

packaging/build
deb=$(ls target/package/mugai_*.deb)
rpm=$(ls target/package/mugai-*.rpm)

fail() { echo "tests/package.sh: FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
cleanup() { dpkg --purge mugai >/dev/null 2>&1 || true; }
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >/dev/null
ok "dpkg -i $(basename "$deb") ($(stat -c %s "$deb") bytes)"

[ -x /usr/bin/mugai ] || fail "/usr/bin/mugai missing"
/usr/bin/mugai --version | grep -Eq '^mugai [0-9.]+ \(commit [0-9a-f]+\)$' \
  || fail "version without commit: $(/usr/bin/mugai --version)"
ok "$(/usr/bin/mugai --version)"

for u in mugai.service mugai-relay.service mugai-icap.service mugai-serve.service; do
  [ -f "/usr/lib/systemd/system/$u" ] || fail "$u not installed"
  systemd-analyze verify "/usr/lib/systemd/system/$u" 2>&1 | tee /tmp/mugai-verify.txt
  # verify's only complaint here may be that no systemd runs in a container.
  if grep -v -e 'Failed to connect' -e 'System has not been booted' /tmp/mugai-verify.txt | grep -q .; then
    fail "systemd-analyze verify $u"
  fi
  if [ -d /run/systemd/system ] && systemctl is-enabled "$u" 2>/dev/null | grep -q enabled; then
    fail "$u is enabled by the package"
  fi
done
ok "units verified, not enabled"

out=$(env -u MUGAI_CONFIG /usr/bin/mugai check-config)
echo "$out" | grep -q '^/etc/mugai/mugai.toml: ok' || fail "check-config does not use /etc/mugai/mugai.toml: $out"
ok "check-config reads /etc/mugai/mugai.toml"

for p in /usr/share/man/man1/mugai.1.gz /usr/share/man/man1/mugai-sanitize.1.gz \
         /usr/share/man/man1/mugai-daemon.1.gz /usr/share/man/man5/mugai.toml.5.gz; do
  [ -f "$p" ] || fail "$p missing"
  warnings=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null || true)
  [ -z "$warnings" ] || fail "man -l $p: $warnings"
  MANWIDTH=80 man -l "$p" >/dev/null
done
MANWIDTH=80 man -l /usr/share/man/man5/mugai.toml.5.gz | grep -q 'max_files_per_worker\|deadline_secs' \
  || fail "mugai.toml(5) lacks the limits"
ok "man pages render without warnings"

for f in /usr/share/bash-completion/completions/mugai /usr/share/zsh/vendor-completions/_mugai \
         /usr/share/fish/vendor_completions.d/mugai.fish /usr/share/doc/mugai/README.ja.md; do
  [ -s "$f" ] || fail "$f missing"
done
bash -c 'source /usr/share/bash-completion/completions/mugai && complete -p mugai' >/dev/null \
  || fail "bash completion does not load"
ok "completions and documents installed"

getent passwd mugai >/dev/null || fail "no mugai user"
for d in /srv/mugai/inbox /srv/mugai/clean /srv/mugai/quarantine /srv/mugai/originals \
         /var/lib/mugai /var/log/mugai/audit; do
  [ "$(stat -c %U "$d")" = mugai ] || fail "$d is not owned by mugai"
done
ok "user and folders made by sysusers.d and tmpfiles.d"

# The installed daemon, as the mugai user, on the installed folders.
printf 'お知らせ\r\n' >/srv/mugai/inbox/notice.txt
chown mugai: /srv/mugai/inbox/notice.txt
setpriv --reuid mugai --regid mugai --init-groups \
  /usr/bin/mugai daemon --inbox /srv/mugai/inbox --clean /srv/mugai/clean \
  --quarantine /srv/mugai/quarantine --originals /srv/mugai/originals \
  --state /var/lib/mugai --audit /var/log/mugai/audit >/tmp/mugai-daemon.log 2>&1 &
daemon=$!
for _ in $(seq 1 100); do
  [ -f /srv/mugai/clean/notice.txt ] && break
  sleep 0.2
done
kill "$daemon"; wait "$daemon" || true
[ -f /srv/mugai/clean/notice.txt ] || { cat /tmp/mugai-daemon.log; fail "the daemon delivered nothing"; }
setpriv --reuid mugai --regid mugai --init-groups /usr/bin/mugai audit verify /var/log/mugai/audit/*.jsonl >/dev/null \
  || fail "audit log does not verify"
ok "the installed daemon delivered a file and its audit log verifies"

# An upgrade keeps a changed configuration file.
echo '# changed by the administrator' >>/etc/mugai/mugai.toml
DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold "$deb" >/dev/null
grep -q 'changed by the administrator' /etc/mugai/mugai.toml || fail "upgrade replaced /etc/mugai/mugai.toml"
ok "reinstall keeps the changed configuration"

dpkg --purge mugai >/dev/null
[ ! -e /usr/bin/mugai ] || fail "/usr/bin/mugai left after purge"
[ ! -e /etc/mugai ] || fail "/etc/mugai left after purge"
[ -d /srv/mugai/quarantine ] && [ -d /var/log/mugai/audit ] || fail "purge removed data folders"
ok "purge removes the package's files and leaves the data folders"

files=$(rpm -qlp "$rpm" 2>/dev/null)
for f in /usr/bin/mugai /etc/mugai/mugai.toml /usr/lib/systemd/system/mugai.service \
         /usr/lib/systemd/system/mugai-relay.service /usr/lib/sysusers.d/mugai.conf \
         /usr/lib/tmpfiles.d/mugai.conf /usr/share/man/man5/mugai.toml.5.gz; do
  echo "$files" | grep -qx "$f" || fail "$f not in $(basename "$rpm")"
done
rpm -qp --configfiles "$rpm" 2>/dev/null | grep -qx /etc/mugai/mugai.toml || fail "mugai.toml is not a config file in the rpm"
ok "rpm file list ($(stat -c %s "$rpm") bytes)"

echo "package: $passed passed, 0 failed"
