#!/usr/bin/env bash
# Builds the Debian package of QuizMaster from an already built binary with plain dpkg-deb
# (no cargo-deb: it would have to be compiled from crates.io on every CI machine, minutes of
# CPU for what fifty lines of shell do).
#
# Usage: packaging/build-deb.sh [--debug | --binary PATH] [--out DIR] [--fast]
#   default binary: target/release/quizmaster (`cargo build --release` first)
#   --debug:        target/debug/quizmaster (what the tests build; debug info is stripped)
#   --fast:         no compression (tests: seconds instead of a minute for a debug binary)
# DEB_MAINTAINER="Name <address>" sets the Maintainer field (default: a local placeholder).
# Prints the path of the .deb it wrote (default directory: target/debian/).
set -euo pipefail
cd "$(dirname "$0")/.."

binary=target/release/quizmaster
out=target/debian
compression=(-Zxz)
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) binary=target/debug/quizmaster ;;
        --binary) binary="$2"; shift ;;
        --out) out="$2"; shift ;;
        --fast) compression=(-Znone) ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
if [ ! -x "$binary" ]; then
    echo "no binary at $binary: run cargo build --release (or pass --debug / --binary)" >&2
    exit 2
fi

# Whoever publishes the package should name themselves: DEB_MAINTAINER="Name <address>".
maintainer=${DEB_MAINTAINER:-QuizMaster contributors <quizmaster@localhost>}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$binary" "$stage/usr/bin/quizmaster"
# What dh_strip would do: the debug info of a debug build is most of its size.
strip --strip-debug "$stage/usr/bin/quizmaster"
install -D -m 0644 packaging/systemd/quizmaster.service "$stage/lib/systemd/system/quizmaster.service"
install -D -m 0644 packaging/systemd/quizmaster-worker.service "$stage/lib/systemd/system/quizmaster-worker.service"
install -D -m 0644 packaging/default/quizmaster "$stage/etc/default/quizmaster"
install -D -m 0644 LICENSE "$stage/usr/share/doc/quizmaster/copyright"
install -D -m 0644 README.md "$stage/usr/share/doc/quizmaster/README.md"
gzip -9n -c CHANGELOG.md > "$stage/usr/share/doc/quizmaster/changelog.gz"

# Completions and manual pages come from the binary itself, so they match it exactly.
"$stage/usr/bin/quizmaster" completions bash | install -D -m 0644 /dev/stdin "$stage/usr/share/bash-completion/completions/quizmaster"
"$stage/usr/bin/quizmaster" completions zsh | install -D -m 0644 /dev/stdin "$stage/usr/share/zsh/vendor-completions/_quizmaster"
"$stage/usr/bin/quizmaster" completions fish | install -D -m 0644 /dev/stdin "$stage/usr/share/fish/vendor_completions.d/quizmaster.fish"
mkdir -p "$stage/usr/share/man/man1"
"$stage/usr/bin/quizmaster" man --out-dir "$stage/usr/share/man/man1"
gzip -9n "$stage"/usr/share/man/man1/*.1

# The newest glibc symbol version the binary uses is the libc6 it needs.
glibc=$(objdump -T "$stage/usr/bin/quizmaster" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1)
depends="libc6 (>= ${glibc:-2.17})"
# (Read into a variable first: `grep -q` closing the pipe early would fail the pipeline.)
needed=$(objdump -p "$stage/usr/bin/quizmaster" | grep NEEDED || true)
if [[ "$needed" == *libgcc_s* ]]; then
    depends="$depends, libgcc-s1"
fi

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: quizmaster
Version: $version
Section: web
Priority: optional
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Suggests: postgresql
Description: turns a topic into a quiz blueprint
 QuizMaster turns a topic (a title, a description, lecture notes) into a quiz
 blueprint: terminal learning objectives with their enabling objectives, each
 with a Bloom level and a measurable verb. Generation runs as a durable job that
 can be followed live, cancelled and resumed after a crash. Includes the web UI,
 the JSON API, the offline generator and systemd units (quizmaster.service,
 quizmaster-worker.service); settings are in /etc/default/quizmaster.
CONTROL
echo /etc/default/quizmaster > "$stage/DEBIAN/conffiles"

# Units are installed but not enabled: set /etc/default/quizmaster first, then
# `systemctl enable --now quizmaster`. Without a running systemd (containers, CI) these
# scripts do nothing.
cat > "$stage/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    if [ "$1" = configure ] && [ -n "$2" ]; then
        # An upgrade: restart what was running so it runs the new binary.
        systemctl try-restart quizmaster.service quizmaster-worker.service >/dev/null || true
    fi
fi
SCRIPT
cat > "$stage/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop quizmaster.service quizmaster-worker.service >/dev/null 2>&1 || true
fi
SCRIPT
cat > "$stage/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
fi
if [ "$1" = purge ]; then
    # DynamicUser keeps the state in /var/lib/private/quizmaster (/var/lib/quizmaster links to it).
    rm -rf /var/lib/private/quizmaster /var/lib/quizmaster
fi
SCRIPT
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/quizmaster_${version}_${arch}.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$stage" "$deb" >/dev/null
echo "$deb"
