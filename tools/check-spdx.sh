#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every source file carries `SPDX-License-Identifier: Apache-2.0` in its
# first lines (make lint runs this check).
#   tools/check-spdx.sh          list the files without it; exit 1 if any
#   tools/check-spdx.sh --add    insert it where it is missing: one comment
#                                line at the top, after a shebang line, in
#                                the file's comment syntax; nothing else
# Source files: C and headers, shell, Perl (.pl .pm .t .PL), Makefiles,
# debian/rules and maintainer scripts, httpd configuration snippets (.conf,
# .load, .conf.in), the logrotate file and manual pages. The files come from
# `git ls-files` in a git checkout, else from find.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tag='SPDX-License-Identifier: Apache-2.0'

add=
case "${1:-}" in
    --add) add=1 ;;
    "") ;;
    *) echo "usage: tools/check-spdx.sh [--add]" >&2; exit 2 ;;
esac

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    list() { git ls-files; }
else
    list() { find . -path ./build -prune -o -path ./.git -prune -o -type f -print | sed 's|^\./||'; }
fi

# The comment line for a file, or nothing when it is not a source file.
comment_for() {
    local f=$1 first
    case "$f" in
        *.c|*.h) echo "/* $tag */"; return ;;
        *.sh|*.pl|*.pm|*.t|*.PL|*.conf|*.load|*.conf.in|*.logrotate|Makefile|*/Makefile|debian/rules|debian/*.postinst|debian/*.postrm|debian/*.preinst|debian/*.prerm)
            echo "# $tag"; return ;;
        *.[1-8]) echo ".\\\" $tag"; return ;;
    esac
    # data: fuzz corpora and regression inputs, test keys and certificates
    case "$f" in fuzz/corpus/*|fuzz/regress/*|*.pem|*.der|*.png) return ;; esac
    # extensionless scripts (.ci/run ...): by their shebang
    first=$(head -n1 "$f" 2>/dev/null | tr -d '\0' || true)
    case "$first" in
        '#!'*sh*|'#!'*perl*) echo "# $tag" ;;
    esac
}

missing=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    line=$(comment_for "$f")
    [ -n "$line" ] || continue
    head -n 5 "$f" | grep -qF "$tag" && continue
    if [ -n "$add" ]; then
        line=${line//\\/\\\\}     # sed's i and a take backslash escapes
        if head -n1 "$f" | grep -q '^#!'; then
            sed -i "1a\\
$line" "$f"
        else
            sed -i "1i\\
$line" "$f"
        fi
        echo "added: $f"
    else
        echo "no SPDX line: $f"
        missing=$((missing + 1))
    fi
done < <(list)

if [ "$missing" -gt 0 ]; then
    echo "check-spdx: $missing source file(s) without '$tag' in their first 5 lines;" >&2
    echo "check-spdx: add it with: bash tools/check-spdx.sh --add" >&2
    exit 1
fi
[ -n "$add" ] || echo "check-spdx: every source file has its SPDX line"
