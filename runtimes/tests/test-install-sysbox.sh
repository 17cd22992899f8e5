#!/usr/bin/env bash
# Tests for runtimes/install-sysbox.sh that can run on any host, without
# network and without installing anything: argument handling, the checksum
# table, the refusal when the production engine has containers (needs a
# running engine and root; skipped otherwise) and the no-network failure.
# Last line: "N passed, N failed"; exit status 1 when any failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNTIMES=$(cd "$HERE/.." && pwd)
SCRIPT="$RUNTIMES/install-sysbox.sh"
FIXTURES="$HERE/fixtures"
TMP=$(mktemp -d)
CONTAINER=
ENGINE="${DOCKER_HOST:-unix:///var/run/docker.sock}"

cleanup() {
	if [ -n "$CONTAINER" ]; then
		docker -H "$ENGINE" rm -f "$CONTAINER" >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=lib.sh
. "$HERE/lib.sh"

# run ARGS...: runs the script, output (stdout+stderr) in $TMP/out, exit
# status in RC, wall time in SECS.
run() {
	local start
	start=$(date +%s)
	"$SCRIPT" "$@" >"$TMP/out" 2>&1
	RC=$?
	SECS=$(($(date +%s) - start))
}

# A stand-in `docker` for tests that must not depend on the real engine's
# state: it answers `version` and lists the containers in FAKE_CONTAINERS.
mkdir -p "$TMP/fakebin"
cat >"$TMP/fakebin/docker" <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in
	-H) shift 2 ;;
	version) echo 1.41; exit 0 ;;
	ps) [ -n "${FAKE_CONTAINERS:-}" ] && printf '%s\n' "$FAKE_CONTAINERS"; exit 0 ;;
	*) echo "fake docker: unexpected call: $*" >&2; exit 1 ;;
	esac
done
exit 1
EOF
chmod +x "$TMP/fakebin/docker"
with_fake_docker() { PATH="$TMP/fakebin:$PATH" "$@"; }

# ---------------------------------------------------------------- arguments

run --help
expect "--help prints usage and exits 0" 0 "usage: runtimes/install-sysbox.sh" "--deb FILE" "--dry-run" "--allow-unpinned"

run
expect "missing VERSION is a usage error" 2 "VERSION is required"

for bad in 0.7 latest 0.7.1-rc1 "0.7.1; rm -rf /" ""; do
	run "$bad"
	expect "invalid VERSION '$bad' is a usage error" 2 "VERSION"
done

run 0.7.1 0.7.0
expect "two VERSIONs are a usage error" 2 "one VERSION only"

run --frobnicate 0.7.1
expect "an unknown option is a usage error" 2 "unknown option: --frobnicate"

run --arch s390x 0.7.1
expect "an unsupported architecture is a usage error" 2 "unsupported architecture 's390x'"

run --deb
expect "--deb without FILE is a usage error" 2 "--deb needs a FILE"

# ---------------------------------------------------------------- checksum table

TABLE="$RUNTIMES/sysbox-checksums.txt"
bad_lines=$(awk '/^[[:space:]]*(#|$)/ { next }
	NF != 3 || $1 !~ /^[0-9]+\.[0-9]+\.[0-9]+$/ || ($2 != "amd64" && $2 != "arm64") ||
	($3 != "UNKNOWN" && (length($3) != 64 || $3 !~ /^[0-9a-f]+$/)) { print NR": "$0 }' "$TABLE")
: >"$TMP/out"
if [ -z "$bad_lines" ]; then
	ok "every line of sysbox-checksums.txt is VERSION ARCH SHA256|UNKNOWN"
else
	not_ok "every line of sysbox-checksums.txt is VERSION ARCH SHA256|UNKNOWN" "$bad_lines"
fi

dups=$(awk '/^[[:space:]]*(#|$)/ { next } { print $1, $2 }' "$TABLE" | sort | uniq -d)
if [ -z "$dups" ]; then
	ok "sysbox-checksums.txt has one line per VERSION ARCH"
else
	not_ok "sysbox-checksums.txt has one line per VERSION ARCH" "duplicates: $dups"
fi

for v in 0.7.1 0.7.0; do
	for a in amd64 arm64; do
		want=$(awk -v v="$v" -v a="$a" '$1 == v && $2 == a { print $3 }' "$TABLE")
		run --print-checksum --arch "$a" "$v"
		if [ "$want" = UNKNOWN ]; then
			expect "lookup $v $a reports UNKNOWN" 1 "UNKNOWN"
		else
			expect "lookup $v $a gives the pinned sum" 0 "$want"
		fi
	done
done

run --print-checksum --arch amd64 v0.7.1
expect "a leading v in VERSION is accepted" 0 "$(awk '$1 == "0.7.1" && $2 == "amd64" { print $3 }' "$TABLE")"

run --print-checksum --arch amd64 0.1.0
expect "lookup of an unknown version fails" 1 "not pinned"

run --arch amd64 0.1.0
expect "an unknown version is refused without --allow-unpinned" 1 \
	"no pinned checksum for Sysbox CE 0.1.0 (amd64)" "--allow-unpinned" "0.7.1"

PARITY_SYSBOX_CHECKSUMS="$FIXTURES/checksums-unknown.txt" run --arch amd64 0.7.1
expect "an UNKNOWN checksum is refused without --allow-unpinned" 1 "is UNKNOWN" "--allow-unpinned"

PARITY_SYSBOX_CHECKSUMS="$FIXTURES/checksums-unknown.txt" run --print-checksum --arch arm64 0.7.1
expect "lookup of an UNKNOWN entry fails" 1 "UNKNOWN"

printf '0.7.1 amd64 deadbeef\n' >"$TMP/bad-table.txt"
PARITY_SYSBOX_CHECKSUMS="$TMP/bad-table.txt" run --dry-run --arch amd64 0.7.1
expect "a malformed checksum in the table is an error" 1 "malformed checksum"

PARITY_SYSBOX_CHECKSUMS="$TMP/nonexistent.txt" run --arch amd64 0.7.1
expect "a missing checksum table is an error" 1 "checksum table"

# ---------------------------------------------------------------- dry run

run --dry-run --arch arm64 0.7.0
expect "--dry-run prints the plan" 0 \
	"plan for Sysbox CE 0.7.0 on arm64" \
	"https://downloads.nestybox.com/sysbox/releases/v0.7.0/sysbox-ce_0.7.0-0.linux_arm64.deb" \
	"$(awk '$1 == "0.7.0" && $2 == "arm64" { print $3 }' "$TABLE")" \
	"--runtime=sysbox-runc"

PARITY_SYSBOX_URL_BASE=http://mirror.example/sysbox run --dry-run --arch amd64 0.7.1
expect "--dry-run honours PARITY_SYSBOX_URL_BASE" 0 \
	"http://mirror.example/sysbox/v0.7.1/sysbox-ce_0.7.1-0.linux_amd64.deb"

run --dry-run --deb /tmp/some.deb --arch amd64 0.7.1
expect "--dry-run with --deb uses the file" 0 "use /tmp/some.deb"

# ---------------------------------------------------------------- need root

if [ "$(id -u)" -ne 0 ]; then
	for t in "refusal when containers exist" "no network fails fast" "--deb checks"; do
		skip "$t" "not root"
	done
else
	# Fake engine with containers: refused before any download.
	FAKE_CONTAINERS="0123456789ab some-service Up 2 minutes" PARITY_SYSBOX_URL_BASE=http://127.0.0.1:9 \
		with_fake_docker run --arch amd64 0.7.1
	expect "refuses when the engine lists containers (stand-in engine)" 1 \
		"refusing to install Sysbox" "some-service"

	# No network: nothing answers at the download site.
	for base in http://127.0.0.1:9 http://parity-no-such-host.invalid; do
		PARITY_SYSBOX_URL_BASE="$base" PARITY_CONNECT_TIMEOUT=3 with_fake_docker run --arch amd64 0.7.1
		expect "no network ($base) fails with the URL and a --deb hint" 1 \
			"cannot reach $base/v0.7.1/sysbox-ce_0.7.1-0.linux_amd64.deb" "--deb FILE"
		if [ "$SECS" -le 10 ]; then
			ok "no network ($base) fails fast (${SECS}s)"
		else
			not_ok "no network ($base) fails fast" "took ${SECS}s"
		fi
	done

	# --deb: the pinned sum is enforced; an unpinned one is printed.
	printf 'not a package\n' >"$TMP/sysbox.deb"
	with_fake_docker run --deb "$TMP/nonexistent.deb" --arch amd64 0.7.1
	expect "--deb with a missing file fails" 1 "no such file"
	with_fake_docker run --deb "$TMP/sysbox.deb" --arch amd64 0.7.1
	expect "--deb with a wrong sha256 is refused" 1 "sha256 mismatch" "not installing"
	sum=$(sha256sum "$TMP/sysbox.deb" | cut -d' ' -f1)
	PARITY_SYSBOX_CHECKSUMS="$FIXTURES/checksums-unknown.txt" \
		with_fake_docker run --allow-unpinned --deb "$TMP/sysbox.deb" --arch amd64 0.7.1
	expect "--allow-unpinned prints the computed sum to pin, then checks the package" 1 \
		"$sum" "0.7.1 amd64 $sum" "not a Debian package"

	# The real production engine with a stopped container on it.
	# shellcheck source=runtimes/lib/common.sh
	. "$RUNTIMES/lib/common.sh"
	export PROG=test-install-sysbox
	if engine_api "$ENGINE" >/dev/null 2>&1; then
		ensure_check_image "$ENGINE" >/dev/null
		CONTAINER="parity-test-install-sysbox-$$"
		if docker -H "$ENGINE" create --name "$CONTAINER" --network none "$PARITY_CHECK_IMAGE" true >/dev/null; then
			PARITY_SYSBOX_URL_BASE=http://127.0.0.1:9 run --arch amd64 0.7.1
			expect "refuses when the production engine has a (stopped) container" 1 \
				"refusing to install Sysbox" "$CONTAINER" "docker rm -f"
		else
			: >"$TMP/out"
			not_ok "refuses when the production engine has a (stopped) container" "could not create $CONTAINER"
		fi
		docker -H "$ENGINE" rm -f "$CONTAINER" >/dev/null 2>&1
		if docker -H "$ENGINE" container inspect "$CONTAINER" >/dev/null 2>&1; then
			: >"$TMP/out"
			not_ok "the test container is removed" "$CONTAINER is still there"
		else
			ok "the test container is removed"
			CONTAINER=
		fi
	else
		skip "refusal when containers exist (real engine)" "no engine answers at $ENGINE: run runtimes/setup-host.sh"
	fi
fi

[ "$SKIPPED" -eq 0 ] || printf '%s skipped\n' "$SKIPPED"
printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
