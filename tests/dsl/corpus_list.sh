#!/usr/bin/env bash
# Rebuild tests/dsl/corpus_accepted.txt: every .pp file of Debian's puppet-module-* packages that
# Puppet 7.23 accepts (`puppet parser validate`, in batches, in a private /tmp tree).
# Needs: apt-get install puppet-agent $(apt-cache search puppet-module | awk '{print $1}')
set -euo pipefail
ROOT=/usr/share/puppet/modules.available
OUT="$(cd "$(dirname "$0")" && pwd)/corpus_accepted.txt"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP"/{conf,var,code}
cd "$ROOT"
find . -name '*.pp' -type f | sed 's|^\./||' | LC_ALL=C sort > "$TMP/all.txt"
split -l 150 "$TMP/all.txt" "$TMP/batch_"
for batch in "$TMP"/batch_*; do
  # one line per rejected file: "Error: ... (file: /abs/path[, line: N, column: M])"
  xargs -a "$batch" puppet parser validate --confdir "$TMP/conf" --vardir "$TMP/var" --codedir "$TMP/code" \
    2>&1 | sed 's/\x1b\[[0-9;]*m//g' | grep '^Error' >> "$TMP/errors.txt" || true
done
touch "$TMP/errors.txt"
sed -n 's|.*(file: '"$ROOT"'/\([^,)]*\).*|\1|p' "$TMP/errors.txt" | sort -u > "$TMP/rejected.txt"
{
  echo "# .pp files under $ROOT that Puppet $(puppet --version) 'puppet parser validate' accepts"
  echo "# (Debian puppet-module-* packages; $(wc -l < "$TMP/all.txt") files checked, $(wc -l < "$TMP/rejected.txt") rejected). Regenerate: tests/dsl/corpus_list.sh"
  comm -23 "$TMP/all.txt" "$TMP/rejected.txt"
} > "$OUT"
