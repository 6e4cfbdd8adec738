#!/bin/sh
# certs/gen-keys.sh — generates a JWT signing key pair for onegate (ES256 by default, or
# RS256) with the openssl CLI: NAME.key (private, PKCS#8, unencrypted, mode 0600 — onegate
# never prompts for a passphrase) and NAME.pub (public, for verify-only "published" keys).
#
#   certs/gen-keys.sh [-a ES256|RS256] [-b RSA_BITS] [-o DIR] [-n NAME] [-f]
#
#   -a  algorithm (default ES256: EC P-256; RS256: RSA, -b bits, default 3072, minimum 2048)
#   -o  output directory (default: the directory of this script)
#   -n  file name stem (default jwt-<alg>-<UTC timestamp>, so rotated keys never collide)
#   -f  overwrite existing files
#
# Rotation: generate a new key, list its .pub under the published keys and SIGHUP; then make
# it the signing key and SIGHUP; after the token lifetime, remove the old key and SIGHUP.
# Prints the two paths it wrote. Private keys must never be committed (certs/.gitignore).
set -eu

alg=ES256 bits=3072 name= force=
out=$(cd "$(dirname "$0")" && pwd)
while getopts a:b:o:n:f opt; do
  case $opt in
    a) alg=$(printf %s "$OPTARG" | tr a-z A-Z) ;;
    b) bits=$OPTARG ;;
    o) out=$OPTARG ;;
    n) name=$OPTARG ;;
    f) force=1 ;;
    *) sed -n '5,11p' "$0" >&2; exit 2 ;;
  esac
done

case $alg in
  ES256) ;;
  RS256)
    case $bits in ''|*[!0-9]*) echo "gen-keys: -b must be a number" >&2; exit 2 ;; esac
    if [ "$bits" -lt 2048 ] || [ "$bits" -gt 8192 ]; then
      echo "gen-keys: RSA keys must have 2048..8192 bits" >&2; exit 2
    fi ;;
  *) echo "gen-keys: unsupported algorithm $alg (ES256 or RS256)" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "gen-keys: openssl not found" >&2; exit 1; }

[ -n "$name" ] || name="jwt-$(printf %s "$alg" | tr A-Z a-z)-$(date -u +%Y%m%dT%H%M%SZ)"
case $name in */*|.*|'') echo "gen-keys: bad name '$name'" >&2; exit 2 ;; esac
mkdir -p "$out"
key="$out/$name.key" pub="$out/$name.pub"
if [ -z "$force" ] && { [ -e "$key" ] || [ -e "$pub" ]; }; then
  echo "gen-keys: $key or $pub exists (use -f to overwrite)" >&2; exit 1
fi

umask 077
tmp="$key.tmp.$$"
trap 'rm -f "$tmp"' EXIT
if [ "$alg" = ES256 ]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp" 2>/dev/null
else
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$bits" -out "$tmp" 2>/dev/null
fi
mv -f "$tmp" "$key"
chmod 600 "$key"
openssl pkey -in "$key" -pubout -out "$pub"
chmod 644 "$pub"
echo "$key"
echo "$pub"
