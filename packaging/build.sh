#!/bin/sh
# Build probe-agent and probectl as static binaries and package them as .deb
# and .rpm with nfpm.
#
# Usage: packaging/build.sh [OUTPUT_DIR]        (default: dist/)
#        packaging/build.sh --package-version   print the package version only
#
# Environment:
#   VERSION   version linked into the binaries (default:
#             `git describe --tags --always --dirty`); the package version is
#             derived from it (see package_version below)
#   ARCHES    Go architectures to build (default: "amd64 arm64")
#   NFPM      nfpm binary to use (default: nfpm v2.45.2 built with go install;
#             later nfpm releases do not build in this environment)
#   SOURCE_DATE_EPOCH  timestamps in the packages (default: last commit time)
set -eu

NFPM_MODULE=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root"

if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
fi

# package_version RAW: turn a `git describe` string into a version that both
# dpkg and rpm accept and that sorts sensibly:
#   v1.2.3              -> 1.2.3
#   v1.2.3-rc1          -> 1.2.3~rc1            (pre-release sorts before 1.2.3)
#   v1.2.3-4-gabc1234   -> 1.2.3+git4.gabc1234  (commits after a tag)
#   abc1234             -> 0.0.0~gitabc1234     (no tag yet)
#   ...-dirty           -> ... plus ".dirty"    (uncommitted changes)
# Characters other than letters, digits, '.', '+' and '~' become '.'.
package_version() {
	v=$1
	dirty=
	case "$v" in
	*-dirty)
		v=${v%-dirty}
		dirty=.dirty
		;;
	esac
	v=${v#v}
	if printf '%s\n' "$v" | grep -Eq '^[0-9a-f]{4,40}$' &&
		! printf '%s\n' "$v" | grep -Eq '^[0-9]+(\.[0-9]+)+$'; then
		# Bare abbreviated commit hash: no tag reachable.
		v="0.0.0~git$v"
	elif printf '%s\n' "$v" | grep -Eq -- '-[0-9]+-g[0-9a-f]+$'; then
		base=$(printf '%s\n' "$v" | sed -E 's/-[0-9]+-g[0-9a-f]+$//')
		extra=$(printf '%s\n' "$v" | sed -E 's/^.*-([0-9]+)-g([0-9a-f]+)$/git\1.g\2/')
		v="$(printf '%s\n' "$base" | tr '-' '~')+$extra"
	else
		v=$(printf '%s\n' "$v" | tr '-' '~')
	fi
	if [ -n "$dirty" ]; then
		case "$v" in
		*+*) v="$v$dirty" ;;
		*) v="$v+dirty" ;;
		esac
	fi
	v=$(printf '%s\n' "$v" | sed -E 's/[^A-Za-z0-9.+~]/./g')
	case "$v" in
	[0-9]*) ;;
	*) v="0.0.0~$v" ;;
	esac
	printf '%s\n' "$v"
}

PKG_VERSION=$(package_version "$VERSION")
if [ "${1:-}" = --package-version ]; then
	printf '%s\n' "$PKG_VERSION"
	exit 0
fi

out=${1:-dist}
mkdir -p "$out"
out=$(CDPATH='' cd -- "$out" && pwd)
ARCHES=${ARCHES:-amd64 arm64}

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

work=$(mktemp -d "${TMPDIR:-/tmp}/probe-agent-pkg.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

if [ -z "${NFPM:-}" ]; then
	GOBIN="$work/tools" GOFLAGS= go install "$NFPM_MODULE"
	NFPM="$work/tools/nfpm"
fi

# Debian changelog (lintian wants one in every binary package).
changelog_date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
{
	printf 'probe-agent (%s-1) unstable; urgency=medium\n\n' "$PKG_VERSION"
	printf '  * Built from git %s.\n\n' "$VERSION"
	printf ' -- The probe-agent Authors <probe-agent@users.noreply.github.com>  %s\n' "$changelog_date"
} >"$work/changelog"
gzip -9n <"$work/changelog" >"$work/changelog.gz"

for arch in $ARCHES; do
	stage="$work/$arch"
	mkdir -p "$stage"
	cp "$work/changelog.gz" "$stage/changelog.gz"
	for cmd in probe-agent probectl; do
		echo "build.sh: building $cmd $VERSION for linux/$arch" >&2
		# shellcheck disable=SC2046 # one flag per word, by design
		CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath $(grep -v '^#' packaging/release-flags) \
			-ldflags "-s -w -X main.version=$VERSION" \
			-o "$stage/$cmd" "./cmd/$cmd"
	done
	for format in deb rpm; do
		PKG_ARCH=$arch PKG_VERSION=$PKG_VERSION PKG_STAGE=$stage \
			"$NFPM" package --config packaging/nfpm.yaml \
			--packager "$format" --target "$out/" >&2
	done
done

ls -1 "$out"/*.deb "$out"/*.rpm
