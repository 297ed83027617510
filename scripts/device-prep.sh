#!/bin/bash
# Prepares, on this machine, everything scripts/device-check.sh needs on the lent GPU machine, which
# has no Go, no network and no /work/shared (docs/training.md, "GPU device check"):
#   .gl/                    the Vulkan loader packages (device README's recipe; needs apt network)
#   .devcheck/devcheck.tar.xz   bin/: the op-suite test binaries (go test -c ./ml/...), hitsr-bench,
#                           devbench, MANIFEST (binary → package directory); lib/: the shared
#                           libraries they need beyond glibc (OpenBLAS, gfortran, quadmath)
#   .devcheck/backbone_pack.npz the packed training set (make train-pack; built here if missing)
# and checks that the tree that travels stays under the tool's 64 MiB.
#   sh scripts/device-prep.sh            (make device-check)
# Environment: DEVCHECK_DIR (default .devcheck), GL_DIR (.gl), DRY_RUN=1 (no .gl download, no
# pack, an uncompressed devcheck.tar; the dry run of make test), TEST_PKGS (default ./ml/...),
# PACK_MB (30), GO (go).
set -eu
cd "$(dirname "$0")/.."
DC=${DEVCHECK_DIR:-.devcheck}
GL=${GL_DIR:-.gl}
DRY=${DRY_RUN:-0}
GO=${GO:-go}
TEST_PKGS=${TEST_PKGS:-./ml/...}
PY=${PY:-/usr/bin/python3}
mkdir -p "$DC"
tmp=$(mktemp -d /tmp/devprep.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/lib"

echo "== binaries ($TEST_PKGS, hitsr-bench, devbench)"
# -ldflags only changes the link, so the packages come from the go build cache of `go test`.
$GO test -c -ldflags='-s -w' -o "$tmp/bin/" $TEST_PKGS
$GO build -ldflags='-s -w' -o "$tmp/bin/hitsr-bench" ./cmd/hitsr-bench
$GO build -ldflags='-s -w' -o "$tmp/bin/devbench" ./scripts/devbench
mod=$($GO list -m)
$GO list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' $TEST_PKGS | while read -r p; do
	[ -n "$p" ] && [ -f "$tmp/bin/${p##*/}.test" ] && echo "${p##*/}.test ${p#"$mod"/}"
done >"$tmp/bin/MANIFEST"
cat "$tmp/bin/MANIFEST"

echo "== shared libraries beyond glibc"
ldd "$tmp/bin/devbench" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
	case "$name" in
	libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | ld-linux* | libgcc_s.so*) ;;
	*) cp -L "$path" "$tmp/lib/$name" && echo "$name <- $path" ;;
	esac
done

git rev-parse HEAD >"$tmp/bin/COMMIT" 2>/dev/null || true
git status --porcelain --untracked-files=no -- ml vk hitsr model cmd scripts shaders 2>/dev/null | head -20 >"$tmp/bin/DIRTY" || true
rm -f "$DC/devcheck.tar" "$DC/devcheck.tar.xz"
if [ "$DRY" = 1 ]; then
	tar -C "$tmp" -cf "$DC/devcheck.tar" bin lib
else
	tar -C "$tmp" -cf - bin lib | xz -9 -T0 >"$DC/devcheck.tar.xz.tmp"
	mv "$DC/devcheck.tar.xz.tmp" "$DC/devcheck.tar.xz"
fi
ls -l "$DC"/devcheck.tar*

if [ "$DRY" != 1 ]; then
	if ! ls "$GL"/libvulkan1_*.deb >/dev/null 2>&1; then
		echo "== Vulkan loader packages into $GL (the device README's recipe)"
		mkdir -p "$GL" /tmp/amd64/partial
		o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
		apt-get $o update -qq
		(cd "$GL" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
	fi
	ls -l "$GL"
	if [ ! -f "$DC/backbone_pack.npz" ]; then
		echo "== packed training set"
		$PY train/pack_backbone.py --out "$DC/backbone_pack.npz" --mb "${PACK_MB:-30}"
	fi
fi

# What the device tool sends: tracked files, untracked files git does not ignore, and the carried
# paths. Over 64 MiB the call is refused.
bytes() { awk '$2 == "total" {s += $1} END {print s + 0}'; }
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | bytes)
untracked=$(git ls-files -z -o --exclude-standard | xargs -0 -r du -cb 2>/dev/null | bytes)
carried=$(du -cb "$GL" "$DC" 2>/dev/null | bytes)
total=$((tracked + untracked + carried))
awk -v t="$tracked" -v u="$untracked" -v c="$carried" -v p="$GL $DC" 'BEGIN {
	printf "travels: tracked %.1f MB + untracked %.1f MB + carried (%s) %.1f MB = %.1f MiB of 64\n",
		t / 1e6, u / 1e6, p, c / 1e6, (t + u + c) / 1048576 }'
if [ "$untracked" -gt 1000000 ]; then
	echo "untracked files that would travel (ignore or remove the large ones):"
	git ls-files -z -o --exclude-standard | xargs -0 -r du -b | sort -rn | head -5
fi
if [ "$DRY" != 1 ] && [ "$total" -gt $((63 * 1048576)) ]; then
	echo "device-prep: the tree that travels is over 63 MiB; shrink it (PACK_MB, untracked files)" >&2
	exit 1
fi
echo "device-prep: ready"
