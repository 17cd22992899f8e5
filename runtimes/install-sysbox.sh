#!/usr/bin/env bash
# Install Sysbox CE on a Debian/Ubuntu host with systemd (GitHub's
# ubuntu-22.04, ubuntu-24.04, ubuntu-24.04-arm runners) next to runc, from a
# package whose sha256 is pinned in runtimes/sysbox-checksums.txt.
# Run with --help for the options.
set -euo pipefail

PROG=install-sysbox
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=runtimes/lib/common.sh
. "$HERE/lib/common.sh"

CHECKSUMS="${PARITY_SYSBOX_CHECKSUMS:-$HERE/sysbox-checksums.txt}"
URL_BASE="${PARITY_SYSBOX_URL_BASE:-https://downloads.nestybox.com/sysbox/releases}"
CONNECT_TIMEOUT="${PARITY_CONNECT_TIMEOUT:-5}"
ENGINE="${DOCKER_HOST:-unix:///var/run/docker.sock}"
LOG_DIR=/var/log/parity
WAIT_SECS="${PARITY_WAIT_SECS:-60}"
APPARMOR_USERNS=/proc/sys/kernel/apparmor_restrict_unprivileged_userns

usage() {
	cat <<EOF
usage: runtimes/install-sysbox.sh [options] VERSION

Installs Sysbox CE VERSION (e.g. 0.7.1) next to runc on this Debian/Ubuntu
host, as root, with systemd as init:
  1. refuses when the production engine has any container (the package
     restarts Docker), listing them;
  2. downloads sysbox-ce_VERSION-0.linux_ARCH.deb from
     $URL_BASE/vVERSION/
     (or takes --deb FILE) and checks its sha256 against
     runtimes/sysbox-checksums.txt;
  3. sets kernel.apparmor_restrict_unprivileged_userns=0 where it is 1
     (Ubuntu 24.04), installs jq and fuse, then the package;
  4. checks that docker info lists sysbox-runc, that runc is still the
     default runtime, and that a container starts with --runtime=sysbox-runc.
An installed VERSION is only checked again.

options:
  --deb FILE          use this package instead of downloading it
  --dry-run           print the plan and change nothing
  --allow-unpinned    accept a VERSION/ARCH whose checksum is UNKNOWN or not
                      in the table; the computed sum is printed to pin it
  --arch ARCH         package architecture (default: dpkg --print-architecture)
  --print-checksum    print the pinned sha256 of VERSION/ARCH and exit
                      (exit 1 when it is not pinned)
  -h, --help          this text

environment:
  DOCKER_HOST               production engine (default unix:///var/run/docker.sock)
  PARITY_SYSBOX_URL_BASE    where the packages are (default $URL_BASE)
  PARITY_SYSBOX_CHECKSUMS   checksum table (default runtimes/sysbox-checksums.txt)
  PARITY_CONNECT_TIMEOUT    seconds to wait for a connection (default 5)

exit status: 0 installed and checked, 1 refused or failed, 2 usage error
EOF
}

usage_error() {
	printf '%s: %s\n' "$PROG" "$1" >&2
	printf "run 'runtimes/install-sysbox.sh --help' for the options\n" >&2
	exit 2
}

# ---------------------------------------------------------------- arguments

VERSION=
DEB=
DRY_RUN=0
ALLOW_UNPINNED=0
ARCH=
PRINT_CHECKSUM=0
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	--deb)
		[ $# -ge 2 ] || usage_error "--deb needs a FILE"
		DEB="$2"
		shift
		;;
	--deb=*) DEB="${1#--deb=}" ;;
	--arch)
		[ $# -ge 2 ] || usage_error "--arch needs an architecture"
		ARCH="$2"
		shift
		;;
	--arch=*) ARCH="${1#--arch=}" ;;
	--dry-run) DRY_RUN=1 ;;
	--allow-unpinned) ALLOW_UNPINNED=1 ;;
	--print-checksum) PRINT_CHECKSUM=1 ;;
	-*) usage_error "unknown option: $1" ;;
	*)
		[ -z "$VERSION" ] || usage_error "one VERSION only (got '$VERSION' and '$1')"
		VERSION="$1"
		;;
	esac
	shift
done

[ -n "$VERSION" ] || usage_error "VERSION is required (e.g. 0.7.1)"
VERSION="${VERSION#v}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
	usage_error "invalid VERSION '$VERSION': expected MAJOR.MINOR.PATCH, e.g. 0.7.1"

if [ -z "$ARCH" ]; then
	if command -v dpkg >/dev/null 2>&1; then
		ARCH=$(dpkg --print-architecture)
	else
		case "$(uname -m)" in
		x86_64) ARCH=amd64 ;;
		aarch64) ARCH=arm64 ;;
		*) ARCH=$(uname -m) ;;
		esac
	fi
fi
case "$ARCH" in
amd64 | arm64) ;;
*) usage_error "unsupported architecture '$ARCH': Sysbox CE packages exist for amd64 and arm64" ;;
esac

PKG="sysbox-ce_${VERSION}-0.linux_${ARCH}.deb"
URL="$URL_BASE/v$VERSION/$PKG"

# ---------------------------------------------------------------- checksum table

[ -r "$CHECKSUMS" ] || die "checksum table $CHECKSUMS is missing"

# Prints the pinned sha256 (or UNKNOWN) of VERSION/ARCH; fails when absent.
pinned_sum() {
	awk -v v="$1" -v a="$2" '
		/^[[:space:]]*(#|$)/ { next }
		$1 == v && $2 == a { print $3; found = 1; exit }
		END { exit !found }' "$CHECKSUMS"
}

pinned_versions() {
	awk -v a="$1" '/^[[:space:]]*(#|$)/ { next } $2 == a && $3 != "UNKNOWN" { printf "%s ", $1 }' "$CHECKSUMS"
}

PIN=
if PIN=$(pinned_sum "$VERSION" "$ARCH"); then
	if [ "$PIN" != UNKNOWN ] && ! [[ "$PIN" =~ ^[0-9a-f]{64}$ ]]; then
		die "malformed checksum for $VERSION $ARCH in $CHECKSUMS: '$PIN'"
	fi
else
	PIN=
fi

if [ "$PRINT_CHECKSUM" -eq 1 ]; then
	if [ -n "$PIN" ] && [ "$PIN" != UNKNOWN ]; then
		printf '%s\n' "$PIN"
		exit 0
	fi
	printf '%s\n' "${PIN:-not pinned}"
	exit 1
fi

if [ -z "$PIN" ] || [ "$PIN" = UNKNOWN ]; then
	why="no pinned checksum for Sysbox CE $VERSION ($ARCH) in $CHECKSUMS"
	[ "$PIN" = UNKNOWN ] && why="the checksum of Sysbox CE $VERSION ($ARCH) is UNKNOWN in $CHECKSUMS"
	if [ "$ALLOW_UNPINNED" -eq 0 ]; then
		die "$why; pinned for $ARCH: $(pinned_versions "$ARCH")- pass --allow-unpinned to install it anyway (the computed sum is printed so it can be pinned)"
	fi
	warn "$why; going on because of --allow-unpinned"
fi

# ---------------------------------------------------------------- plan

if [ "$DRY_RUN" -eq 1 ]; then
	say "plan for Sysbox CE $VERSION on $ARCH (dry run: nothing is changed)"
	printf '  1. refuse if the production engine (%s) has any container\n' "$ENGINE"
	if [ -n "$DEB" ]; then
		printf '  2. use %s\n' "$DEB"
	else
		printf '  2. download %s\n' "$URL"
	fi
	printf '  3. check sha256 = %s\n' "${PIN:-(not pinned: print the computed sum)}"
	printf '  4. check systemd is init; set kernel.apparmor_restrict_unprivileged_userns=0 if it is 1\n'
	printf '  5. apt-get install jq and fuse where missing, then apt-get install -y ./%s\n' "$PKG"
	printf '  6. check docker info lists sysbox-runc, the default runtime is runc, and a\n'
	printf '     container starts with --runtime=sysbox-runc (image %s, built locally)\n' "$PARITY_CHECK_IMAGE"
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (sudo runtimes/install-sysbox.sh $VERSION)"

# ---------------------------------------------------------------- checks after install

runtimes_of() {
	# shellcheck disable=SC2016 # a Go template, not shell
	dk "$ENGINE" info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}'
}

wait_engine() {
	local i
	api_client_ok || exit 1
	for ((i = 0; i < WAIT_SECS; i++)); do
		engine_api "$ENGINE" >/dev/null && return 0
		sleep 1
	done
	die "the production engine ($ENGINE) did not answer within ${WAIT_SECS}s after installing Sysbox (journalctl -u docker)"
}

verify_sysbox() {
	local rts def map
	wait_engine
	rts=$(runtimes_of)
	[[ " $rts " == *" sysbox-runc "* ]] ||
		die "docker info does not list sysbox-runc (runtimes: $rts); see journalctl -u sysbox and /etc/docker/daemon.json"
	def=$(dk "$ENGINE" info --format '{{.DefaultRuntime}}')
	[ "$def" = runc ] ||
		die "the default runtime is '$def', not runc: parity's baseline must stay runc (remove default-runtime from /etc/docker/daemon.json)"
	say "runtimes: $rts(default: $def)"
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		say "sysbox service: $(systemctl is-active sysbox 2>/dev/null || true)"
	fi
	ensure_check_image "$ENGINE"
	map=$(smoke_run "$ENGINE" --runtime=sysbox-runc) ||
		die "a container did not start with --runtime=sysbox-runc (see journalctl -u sysbox-mgr -u sysbox-fs)"
	case "$map" in
	"0 0 "*) die "a sysbox-runc container ran without a user namespace (uid_map: $map)" ;;
	esac
	say "a container runs with --runtime=sysbox-runc (uid_map: $map)"
	say "$(sysbox-runc --version 2>/dev/null | head -n1 || echo 'sysbox-runc --version failed')"
}

installed_version() {
	dpkg-query -W -f='${Status} ${Version}' sysbox-ce 2>/dev/null |
		awk '$1 == "install" && $3 == "installed" { print $4 }'
}

INSTALLED=$(installed_version || true)
case "$INSTALLED" in
"$VERSION" | "$VERSION".* | "$VERSION"-*)
	say "sysbox-ce $VERSION already installed ($INSTALLED); checking it"
	verify_sysbox
	exit 0
	;;
esac

# ---------------------------------------------------------------- 1. containers

api_client_ok || exit 1
engine_api "$ENGINE" >/dev/null ||
	die "the production engine ($ENGINE) does not answer: run runtimes/setup-host.sh first"
CONTAINERS=$(engine_containers "$ENGINE") ||
	die "could not list the containers of the production engine ($ENGINE)"
if [ -n "$CONTAINERS" ]; then
	{
		printf '%s: error: refusing to install Sysbox: the production engine (%s) has containers, and the Sysbox package restarts Docker (its installer aborts when containers exist):\n' "$PROG" "$ENGINE"
		printf '%s\n' "$CONTAINERS" | sed 's/^/    /'
		printf '%s: remove them first (docker rm -f ID...), then run this again\n' "$PROG"
	} >&2
	exit 1
fi

# Docker 29.5 gives every container a private time namespace, which Sysbox
# before 0.7.1 rejects ("namespace {"time" ""} does not exist").
SERVER=$(dk "$ENGINE" version --format '{{.Server.Version}}' 2>/dev/null || true)
version_lt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }
if [ -n "$SERVER" ] && version_lt "$VERSION" 0.7.1 && ! version_lt "${SERVER%%[-+~]*}" 29.5.0; then
	warn "Docker $SERVER with Sysbox $VERSION: containers are expected to fail to start (time namespace, fixed in Sysbox 0.7.1)"
fi

# ---------------------------------------------------------------- 2. package

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Downloads URL to OUT. Fails at once when nothing answers (no network);
# retries server and transfer errors a few times.
download() {
	local url="$1" out="$2" attempt rc code err
	for attempt in 1 2 3; do
		set +e
		code=$(curl -sSL --connect-timeout "$CONNECT_TIMEOUT" --max-time 900 \
			-w '%{http_code}' -o "$out" "$url" 2>"$WORK/curl.err")
		rc=$?
		set -e
		err=$(tr '\n' ' ' <"$WORK/curl.err")
		if [ "$rc" -eq 0 ] && [ "$code" = 200 ]; then
			return 0
		fi
		if [ "$code" = 000 ] || [ -z "$code" ]; then
			die "cannot reach $url (${err:-curl exit $rc}): no network to the Sysbox download site? Download the package elsewhere and pass it with --deb FILE"
		fi
		case "$code" in
		404 | 403 | 410) die "no package at $url (HTTP $code): is Sysbox CE $VERSION released for $ARCH?" ;;
		esac
		warn "download of $url failed (HTTP $code, ${err:-curl exit $rc}), attempt $attempt of 3"
		sleep $((attempt * 3))
	done
	die "could not download $url; download it elsewhere and pass it with --deb FILE"
}

if [ -n "$DEB" ]; then
	[ -f "$DEB" ] || die "--deb $DEB: no such file"
	DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
	say "using $DEB"
else
	command -v curl >/dev/null 2>&1 || {
		say "installing curl (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl ca-certificates >/dev/null
		say "installed curl"
	}
	say "downloading $URL"
	download "$URL" "$WORK/$PKG"
	DEB="$WORK/$PKG"
fi

SUM=$(sha256sum "$DEB" | cut -d' ' -f1)
if [ -n "$PIN" ] && [ "$PIN" != UNKNOWN ]; then
	[ "$SUM" = "$PIN" ] ||
		die "sha256 mismatch for $DEB: expected $PIN (pinned for $VERSION $ARCH), got $SUM; not installing"
	say "sha256 ok ($SUM)"
else
	say "sha256 of $DEB is $SUM (not pinned); once trusted, pin it with:"
	printf '    echo "%s %s %s" >> runtimes/sysbox-checksums.txt\n' "$VERSION" "$ARCH" "$SUM"
fi

META=$(dpkg-deb -f "$DEB" Package Version Architecture 2>/dev/null | tr '\n' ' ') ||
	die "$DEB is not a Debian package"
[[ "$META" == *"Package: sysbox-ce "* ]] || die "$DEB is not the sysbox-ce package ($META)"
[[ "$META" == *"Architecture: $ARCH "* ]] || die "$DEB is not built for $ARCH ($META)"

# ---------------------------------------------------------------- 3. host

if ! { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }; then
	die "Sysbox CE runs as systemd services and its package needs systemd as init; PID 1 here is '$(ps -o comm= -p 1 2>/dev/null || echo '?')'"
fi
case "$(command -v docker)" in
/snap/*) die "Docker from snap is not supported by Sysbox: install Docker CE or docker.io" ;;
esac
say "kernel $(uname -r), $(. /etc/os-release && printf '%s' "$PRETTY_NAME")"

if [ -r "$APPARMOR_USERNS" ] && [ "$(cat "$APPARMOR_USERNS")" = 1 ]; then
	sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 >/dev/null
	say "set kernel.apparmor_restrict_unprivileged_userns=0 (was 1: AppArmor restricted unprivileged user namespaces, which Sysbox needs; not persisted)"
fi

export DEBIAN_FRONTEND=noninteractive
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/install-sysbox.log"
say "apt-get update (log $LOG)"
apt-get update -qq >>"$LOG" 2>&1 || die "apt-get update failed; see $LOG"
PREREQ=()
command -v jq >/dev/null 2>&1 || PREREQ+=(jq)
command -v fusermount >/dev/null 2>&1 || command -v fusermount3 >/dev/null 2>&1 || PREREQ+=(fuse3)
if [ "${#PREREQ[@]}" -gt 0 ]; then
	apt-get install -y -qq --no-install-recommends "${PREREQ[@]}" >>"$LOG" 2>&1 ||
		die "could not install ${PREREQ[*]}; see $LOG"
	for p in "${PREREQ[@]}"; do say "installed $p"; done
fi

# ---------------------------------------------------------------- 4. install

say "installing $PKG${INSTALLED:+ (replacing sysbox-ce $INSTALLED)}"
if ! apt-get install -y --allow-downgrades "$DEB" >>"$LOG" 2>&1; then
	printf '%s: error: apt-get install %s failed; last lines of %s:\n' "$PROG" "$DEB" "$LOG" >&2
	tail -n 30 "$LOG" >&2
	exit 1
fi
say "installed sysbox-ce $(installed_version)"
verify_sysbox
