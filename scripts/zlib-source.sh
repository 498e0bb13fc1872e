#!/bin/sh
# Puts Debian's zlib source package, unpacked with Debian's patches, in DIR
# (make static compiles the parts dock calls against musl: no libz.a built
# for glibc is linked). apt fetches it through a private list of deb-src
# entries, so the machine's apt configuration is left as it was; apt checks
# the files against the signed index. Nothing is done when DIR/zlib.h exists.
set -eu
dir=$1
[ -f "$dir/zlib.h" ] && exit 0
command -v dpkg-source >/dev/null || { echo "zlib-source: dpkg-source is missing (scripts/install-deps.sh installs dpkg-dev)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt downloads as the user _apt
# This release's sources (bookworm on Debian 12).
. /etc/os-release
echo "deb-src http://deb.debian.org/debian $VERSION_CODENAME main" >"$work/sources.list"
mkdir -p "$work/lists/partial"
apt_private="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists"
# shellcheck disable=SC2086
apt-get -qq $apt_private update
# shellcheck disable=SC2086
(cd "$work" && apt-get -qq $apt_private source --download-only zlib >/dev/null 2>&1 ||
  apt-get $apt_private source --download-only zlib)
# dpkg-source checks the tarballs against the .dsc (whose own hash apt
# checked; the maintainer's key is not on this machine, hence 2>/dev/null).
(cd "$work" && dpkg-source -x zlib_*.dsc src >/dev/null 2>&1) ||
  { echo "zlib-source: dpkg-source could not unpack zlib" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$work/src" "$dir"
[ -f "$dir/zlib.h" ]
