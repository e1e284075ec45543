#!/usr/bin/env bash
# Build the independent out-of-domain classification set from Debian packages the training corpus
# never read (0ad-data, supertuxkart-data, flare-game), using the explicit mapping in labels.tsv.
#
#   scripts/independent_ood/build.sh [OUT_ROOT]      # default OUT_ROOT: data/independent-ood
#   OOD_COPY=1 scripts/independent_ood/build.sh      # copy plain files instead of symlinking them
#
# Idempotent and deterministic: installs the packages when missing (needs root; apt), then rebuilds
# OUT_ROOT/$SET_NAME/<label>/<clip> from scratch into a temporary folder and swaps it in.
# Plain files are symlinked (or copied with OOD_COPY=1); zip members (0ad keeps its audio in
# public.zip) are extracted. Writes SOURCES.tsv (clip, source, package, version) and SHA256SUMS.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SET_NAME="0ad-stk-flare"
OUT_ROOT="${1:-$REPO/data/independent-ood}"
MAP="$HERE/labels.tsv"
TAGGER="$REPO/alm/pretrained/alm-tiny/tagger.json"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
# package -> version the mapping was written against (a different one only warns)
declare -A EXPECTED=([0ad-data]="0.0.26-1" [supertuxkart-data]="1.4+dfsg-2" [flare-game]="1.14-1")
PACKAGES=(0ad-data supertuxkart-data flare-game)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
version() { dpkg-query -W -f='${Version}' "$1"; }

# 1. packages
missing=()
for p in "${PACKAGES[@]}" unzip; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]} (0ad-data is a 1.4 GB download, 3.2 GB installed)"
    if [ "$(id -u)" -ne 0 ]; then echo "error: not root; run: sudo apt-get install ${missing[*]}" >&2; exit 1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
for p in "${PACKAGES[@]}"; do
    v="$(version "$p")"
    [ "$v" = "${EXPECTED[$p]}" ] || echo "warning: $p is $v, the mapping was written for ${EXPECTED[$p]}" >&2
done

# 2. labels must be names of the tagger's vocabulary
"$PYTHON" - "$MAP" "$TAGGER" <<'EOF'
import json, sys
names = set(json.load(open(sys.argv[2]))["names"])
bad = sorted({line.rstrip("\n").split("\t")[1] for line in open(sys.argv[1])
              if line.strip() and not line.startswith("#")} - names)
if bad:
    sys.exit(f"labels.tsv: not tagger names: {bad}")
EOF

# 3. build into a temporary folder, then swap it in
mkdir -p "$OUT_ROOT"
TMP="$(mktemp -d "$OUT_ROOT/.build-$SET_NAME.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
printf 'clip\tsource\tpackage\tversion\n' > "$TMP/SOURCES.tsv"
n=0
while IFS=$'\t' read -r src label; do
    case "$src" in ''|'#'*) continue ;; esac
    case "$src" in
        usr/share/games/0ad/*) pkg=0ad-data; tag=0ad ;;
        usr/share/games/supertuxkart/*) pkg=supertuxkart-data; tag=stk ;;
        usr/share/games/flare/*) pkg=flare-game; tag=flare ;;
        *) echo "error: $src: no known package" >&2; exit 1 ;;
    esac
    path="${src#*!}"                                   # the member (or the whole path)
    parent="$(basename "$(dirname "$path")")"
    name="$tag-$parent-$(basename "$path")"
    dest="$TMP/$label/$name"
    [ -e "$dest" ] && { echo "error: two sources map to $label/$name" >&2; exit 1; }
    mkdir -p "$TMP/$label"
    if [[ "$src" == *'!'* ]]; then
        archive="/${src%%!*}"
        unzip -p "$archive" "$path" > "$dest"
        [ -s "$dest" ] || { echo "error: $archive has no member $path" >&2; exit 1; }
    else
        [ -f "/$src" ] || { echo "error: /$src not found" >&2; exit 1; }
        if [ "${OOD_COPY:-0}" = 1 ]; then cp "/$src" "$dest"; else ln -s "/$src" "$dest"; fi
    fi
    printf '%s\t%s\t%s\t%s\n' "$label/$name" "$src" "$pkg" "$(version "$pkg")" >> "$TMP/SOURCES.tsv"
    n=$((n + 1))
done < "$MAP"
(cd "$TMP" && find . -mindepth 2 \( -type f -o -type l \) | LC_ALL=C sort | sed 's|^\./||' \
    | while IFS= read -r f; do sha256sum "$f"; done) > "$TMP/SHA256SUMS"
rm -rf "$OUT_ROOT/$SET_NAME"
mv "$TMP" "$OUT_ROOT/$SET_NAME"
trap - EXIT
chmod 755 "$OUT_ROOT/$SET_NAME"

echo "built $OUT_ROOT/$SET_NAME: $n clips in $(find "$OUT_ROOT/$SET_NAME" -mindepth 1 -maxdepth 1 -type d | wc -l) classes"
for d in "$OUT_ROOT/$SET_NAME"/*/; do printf '  %3d  %s\n' "$(ls "$d" | wc -l)" "$(basename "$d")"; done | sort -k1,1nr -k2
