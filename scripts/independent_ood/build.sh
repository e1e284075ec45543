#!/usr/bin/env bash
# Build the independent out-of-domain sets from Debian packages the training corpus never read, each from its
# explicit mapping sets/<SET>.tsv (<source path><TAB><label>; '#@ package NAME VERSION TAG PATH-PREFIX' lines name
# the package behind each path prefix).
#
#   scripts/independent_ood/build.sh [OUT_ROOT]           # every set; default OUT_ROOT: data/independent-ood
#   SETS=0ad-stk-flare scripts/independent_ood/build.sh   # only the sets named (space-separated)
#   OOD_COPY=1 scripts/independent_ood/build.sh           # copy plain files instead of symlinking them
#
# Idempotent and deterministic: installs the packages when missing (needs root; apt), then rebuilds
# OUT_ROOT/<SET>/<label>/<clip> from scratch into a temporary folder and swaps it in. Plain files are
# symlinked (or copied with OOD_COPY=1); zip members (0ad keeps its audio in public.zip) are extracted.
# Writes SOURCES.tsv (clip, source, package, version) and SHA256SUMS per set.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT_ROOT="${1:-$REPO/data/independent-ood}"
TAGGER="$REPO/alm/pretrained/alm-tiny/tagger.json"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
if [ -n "${SETS:-}" ]; then read -r -a NAMES <<< "$SETS"
else NAMES=(); for f in "$HERE"/sets/*.tsv; do NAMES+=("$(basename "$f" .tsv)"); done; fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
version() { dpkg-query -W -f='${Version}' "$1"; }

build_set() {  # $1: set name
    local set="$1" map="$HERE/sets/$1.tsv"
    [ -f "$map" ] || { echo "error: no set $set (no $map)" >&2; exit 1; }
    local -a pkgs=() versions=() tags=() prefixes=()
    while read -r _ kind name ver tag prefix; do
        [ "$kind" = package ] || continue
        pkgs+=("$name"); versions+=("$ver"); tags+=("$tag"); prefixes+=("$prefix")
    done < <(grep '^#@ ' "$map")
    [ ${#pkgs[@]} -gt 0 ] || { echo "error: $map names no package ('#@ package ...' lines)" >&2; exit 1; }

    # 1. packages
    local -a missing=()
    for p in "${pkgs[@]}" unzip; do installed "$p" || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        local note=""
        [[ " ${missing[*]} " == *" 0ad-data "* ]] && note=" (0ad-data is a 1.4 GB download, 3.2 GB installed)"
        echo "$set: installing ${missing[*]}$note"
        if [ "$(id -u)" -ne 0 ]; then echo "error: not root; run: sudo apt-get install ${missing[*]}" >&2; exit 1; fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    local i
    local -a have=()  # each package's installed version, read once (SOURCES.tsv names it per clip)
    for i in "${!pkgs[@]}"; do
        have[i]="$(version "${pkgs[$i]}")"
        [ "${have[$i]}" = "${versions[$i]}" ] || echo "warning: ${pkgs[$i]} is ${have[$i]}, $set's mapping was written for ${versions[$i]}" >&2
    done

    # 2. labels must be names of the tagger's vocabulary
    "$PYTHON" - "$map" "$TAGGER" <<'PY'
import json, sys
names = set(json.load(open(sys.argv[2]))["names"])
bad = sorted({line.rstrip("\n").split("\t")[1] for line in open(sys.argv[1])
              if line.strip() and not line.startswith("#")} - names)
if bad:
    sys.exit(f"{sys.argv[1]}: not tagger names: {bad}")
PY

    # 3. build into a temporary folder, then swap it in
    mkdir -p "$OUT_ROOT"
    local tmp; tmp="$(mktemp -d "$OUT_ROOT/.build-$set.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    printf 'clip\tsource\tpackage\tversion\n' > "$tmp/SOURCES.tsv"
    local n=0 src label
    while IFS=$'\t' read -r src label; do
        case "$src" in ''|'#'*) continue ;; esac
        local pkg="" tag="" ver=""
        for i in "${!prefixes[@]}"; do
            [[ "$src" == "${prefixes[$i]}"* ]] && { pkg="${pkgs[$i]}"; tag="${tags[$i]}"; ver="${have[$i]}"; break; }
        done
        [ -n "$pkg" ] || { echo "error: $src: under no '#@ package' prefix of $map" >&2; exit 1; }
        local path="${src#*!}"                                   # the member (or the whole path)
        local parent; parent="$(basename "$(dirname "$path")")"
        local name="$tag-${parent// /_}-$(basename "$path")"
        local dest="$tmp/$label/$name"
        [ -e "$dest" ] && { echo "error: two sources map to $label/$name" >&2; exit 1; }
        mkdir -p "$tmp/$label"
        if [[ "$src" == *'!'* ]]; then
            local archive="/${src%%!*}"
            unzip -p "$archive" "$path" > "$dest"
            [ -s "$dest" ] || { echo "error: $archive has no member $path" >&2; exit 1; }
        else
            [ -f "/$src" ] || { echo "error: /$src not found" >&2; exit 1; }
            if [ "${OOD_COPY:-0}" = 1 ]; then cp "/$src" "$dest"; else ln -s "/$src" "$dest"; fi
        fi
        printf '%s\t%s\t%s\t%s\n' "$label/$name" "$src" "$pkg" "$ver" >> "$tmp/SOURCES.tsv"
        n=$((n + 1))
    done < "$map"
    (cd "$tmp" && find . -mindepth 2 \( -type f -o -type l \) | LC_ALL=C sort | sed 's|^\./||' \
        | while IFS= read -r f; do sha256sum "$f"; done) > "$tmp/SHA256SUMS"
    rm -rf "${OUT_ROOT:?}/$set"
    mv "$tmp" "$OUT_ROOT/$set"
    trap - EXIT
    chmod 755 "$OUT_ROOT/$set"

    echo "built $OUT_ROOT/$set: $n clips in $(find "$OUT_ROOT/$set" -mindepth 1 -maxdepth 1 -type d | wc -l) classes"
    for d in "$OUT_ROOT/$set"/*/; do printf '  %3d  %s\n' "$(ls "$d" | wc -l)" "$(basename "$d")"; done | sort -k1,1nr -k2
}

for set in "${NAMES[@]}"; do build_set "$set"; done
