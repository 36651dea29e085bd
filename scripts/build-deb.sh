#!/usr/bin/env bash
# Builds the kiosk's Debian package, health-helper-kiosk_<version>_<arch>.deb, from the release
# build: hhd and hhctl relinked with the Swift standard library static (so the package depends
# only on Debian's own libraries, computed by dpkg-shlibdeps) and stripped, the unit, the
# sample configuration as a conffile, the apology audio, man pages generated from the programs'
# own help, the docs, the copyright file and the changelog. The version is the one `hhd
# --version` prints (KioskVersion.current); the changelog must have an entry for it.
# Usage: scripts/build-deb.sh [BIN_DIR] [OUT_DIR] [VERSION_OVERRIDE]
#   VERSION_OVERRIDE packages the same programs under another version (the VM test's "previous
#   build" to upgrade from).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$repo/.build/release}" && pwd -P)
out=${2:-$repo/out/deb}
package=health-helper-kiosk
kiosk="$repo/packaging/kiosk"
arch=$(dpkg --print-architecture)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

# The release build's own link commands, again with -static-stdlib: SwiftPM's
# --static-swift-stdlib would rebuild every module (5 minutes on two cores) to the same code.
# Objects compiled for the shared libraries name only Foundation in their link entries, so the
# static Foundation's own parts are named here, in a group (static archives resolve in order).
python3 - "$bin" "$work" hhd hhctl <<'PY'
import json, os, re, subprocess, sys
bin_dir, work, products = sys.argv[1], sys.argv[2], sys.argv[3:]
manifest = os.path.join(os.path.dirname(bin_dir), os.path.basename(bin_dir) + ".yaml")
if not os.path.exists(manifest):
    # .build/release is a link to .build/<triple>/release; the manifest sits beside .build/release.
    manifest = os.path.join(os.path.dirname(os.path.dirname(bin_dir)), os.path.basename(bin_dir) + ".yaml")
text = open(manifest).read()
for product in products:
    target = os.path.join(bin_dir, product)
    args = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("args: [") and f'"-o","{target}"' in line:
            args = json.loads(line[len("args: "):])
    if args is None:
        sys.exit(f"no link command for {target} in {manifest}: build with swift build -c release first")
    args[args.index("-o") + 1] = os.path.join(work, product)
    if "-static-stdlib" not in args:
        args.insert(args.index("-emit-executable"), "-static-stdlib")
    foundation = ["Foundation", "CoreFoundation", "FoundationInternationalization", "_FoundationICU", "FoundationEssentials",
                  "_FoundationCShims", "_FoundationCollections", "swiftSynchronization", "swift_RegexParser",
                  "swift_StringProcessing", "swiftDispatch", "dispatch", "BlocksRuntime", "swiftCore"]
    # Full RELRO: the global offset table read-only once the libraries are bound.
    args += ["-Xlinker", "-z", "-Xlinker", "relro", "-Xlinker", "-z", "-Xlinker", "now"]
    args += ["-Xlinker", "--start-group"] + ["-l" + name for name in foundation] + ["-Xlinker", "--end-group"]
    link = subprocess.run(args, capture_output=True, text=True)
    if link.returncode != 0:
        sys.exit(f"linking {product} with the static Swift standard library failed:\n" + link.stderr[-4000:])
PY

version_of() { "$work/hhd" --version | tr -d '[:space:]'; }
version=${3:-$(version_of)}
changelog_version=$(dpkg-parsechangelog -l "$kiosk/changelog" -S Version)
if [ -z "${3:-}" ] && [ "$changelog_version" != "$version" ]; then
    echo "hhd --version says $version but packaging/kiosk/changelog's latest entry is $changelog_version: add an entry" >&2
    exit 1
fi

install -d "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" "$root/usr/lib/modules-load.d" "$root/etc/health-helper" \
    "$root/usr/share/health-helper" "$root/usr/share/man/man1" "$root/usr/share/doc/$package" \
    "$root/usr/share/lintian/overrides" "$root/DEBIAN"
for program in hhd hhctl; do
    install -m 0755 "$work/$program" "$root/usr/bin/$program"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$program"
done
install -m 0644 "$repo/systemd/hhd.service" "$root/lib/systemd/system/hhd.service"
install -m 0644 "$kiosk/sysusers.conf" "$root/usr/lib/sysusers.d/$package.conf"
install -m 0644 "$kiosk/modules-load.conf" "$root/usr/lib/modules-load.d/$package.conf"
install -m 0644 "$repo/configs/hhd.toml" "$root/etc/health-helper/hhd.toml"
install -m 0644 "$repo/share/apology.wav" "$root/usr/share/health-helper/apology.wav"
install -m 0644 "$kiosk/lintian-overrides" "$root/usr/share/lintian/overrides/$package"
date=$(dpkg-parsechangelog -l "$kiosk/changelog" -S Date | xargs -I{} date -u -d {} +%Y-%m-%d)
for program in hhd hhctl; do
    python3 "$repo/scripts/manpage.py" "$root/usr/bin/$program" 1 "$version" "$date" | gzip -9n > "$root/usr/share/man/man1/$program.1.gz"
done
doc="$root/usr/share/doc/$package"
install -m 0644 "$kiosk/copyright" "$doc/copyright"
gzip -9n < "$kiosk/changelog" > "$doc/changelog.gz"
for file in README.md docs/HHD.md docs/HHCTL.md docs/SECURITY.md; do
    gzip -9n < "$repo/$file" > "$doc/$(basename "$file").gz"
done
chmod 0644 "$doc"/*.gz "$root/usr/share/man/man1"/*.gz

# Depends: the Debian libraries the programs load, with the versions their symbols need.
mkdir -p "$work/debian"
printf 'Source: health-helper\n\nPackage: %s\nArchitecture: any\n' "$package" > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O "-e$root/usr/bin/hhd" "-e$root/usr/bin/hhctl" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
    "$kiosk/control.in" > "$root/DEBIAN/control"
install -m 0644 "$kiosk/conffiles" "$root/DEBIAN/conffiles"
install -m 0755 "$kiosk/postinst" "$kiosk/prerm" "$kiosk/postrm" "$root/DEBIAN/"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

deb="$out/${package}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
