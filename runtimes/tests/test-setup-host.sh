#!/usr/bin/env bash
# Tests for runtimes/setup-host.sh: options, and (as root) that a run leaves
# both engines answering, that a second run changes nothing, that --check
# agrees and that no container is left behind. It starts the engines if they
# are down and never stops them, unless PARITY_TEST_STOP=1 (then it also
# checks that --stop stops what the script started and that a run brings
# everything back).
# Last line: "N passed, N failed"; exit status 1 when any failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT="$(cd "$HERE/.." && pwd)/setup-host.sh"
PROD=unix:///var/run/docker.sock
USERNS=unix:///run/parity/userns-remap.sock
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=lib.sh
. "$HERE/lib.sh"

run() {
	"$SCRIPT" "$@" >"$TMP/out" 2>&1
	RC=$?
}
# lines of the last output matching a pattern
has_line() { grep -qE -- "$1" "$TMP/out"; }

run --help
expect "--help prints usage and exits 0" 0 "usage: runtimes/setup-host.sh" "--check" "--stop" "--sysbox VERSION"

run --frobnicate
expect "an unknown option is a usage error" 2 "unknown argument: --frobnicate"

run --sysbox
expect "--sysbox without VERSION is a usage error" 2 "usage:"

run --help
expect "--help names the base images and how to skip them" 0 "busybox:latest debian:bookworm" "--no-images" "docker save | docker load"

if [ "$(id -u)" -ne 0 ]; then
	run
	expect "refuses to run without root" 1 "must run as root"
	printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
	[ "$FAILED" -eq 0 ]
	exit
fi

run
expect "a run succeeds" 0
if has_line 'production engine (already running|started)' && has_line 'userns-remap engine (already running|started)'; then
	ok "a run reports both engines"
else
	not_ok "a run reports both engines"
fi

run
expect "a second run succeeds" 0 "production engine already running" "userns-remap engine already running"
if has_line '^setup-host: (started|installed|installing|imported|pulled|loaded|making)'; then
	not_ok "a second run changes nothing" "it reported an action"
else
	ok "a second run changes nothing"
fi

run --check
expect "--check passes when everything is up" 0 "ok       production engine" "userns on" \
	"ok       busybox:latest in the userns-remap engine" "ok       debian:bookworm in the userns-remap engine" \
	"ok       bridged traffic between containers of one network is accepted"

# Containers on one network of either engine reach each other (the
# userns-remap engine adds no FORWARD rule of its own).
for host in "$PROD" "$USERNS"; do
	net="parity-setup-test-net-$$"
	docker -H "$host" network create "$net" >/dev/null
	docker -H "$host" run -d --name "$net-srv" --network "$net" busybox:latest \
		sh -c 'echo up > /tmp/up; exec httpd -f -p 8080 -h /tmp' >/dev/null
	ip=$(docker -H "$host" inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$net-srv")
	if timeout 60 docker -H "$host" run --rm --network "$net" busybox:latest \
		sh -c "for i in 1 2 3 4 5; do timeout 2 wget -q -O- http://$ip:8080/up && exit 0; sleep 0.5; done; exit 1" >/dev/null 2>&1; then
		ok "containers on one network of $host reach each other"
	else
		not_ok "containers on one network of $host reach each other" "no answer from $ip:8080"
	fi
	docker -H "$host" rm -f "$net-srv" >/dev/null
	docker -H "$host" network rm "$net" >/dev/null
done

# The base images: in both engines, the very same image (one made, the
# other loaded from it), and usable as what they claim to be.
for image in busybox:latest debian:bookworm; do
	a=$(docker -H "$PROD" image inspect --format '{{.Id}}' "$image" 2>/dev/null)
	b=$(docker -H "$USERNS" image inspect --format '{{.Id}}' "$image" 2>/dev/null)
	: >"$TMP/out"
	if [ -n "$a" ] && [ "$a" = "$b" ]; then
		ok "$image has the same id in both engines"
	else
		not_ok "$image has the same id in both engines" "production: ${a:-missing}" "userns-remap: ${b:-missing}"
	fi
done
name="parity-setup-test-$$"
out=$(timeout 60 docker -H "$USERNS" run --rm --name "$name" --network none busybox:latest sh -c 'echo hi; wget --help 2>&1 | head -n1' 2>&1)
printf '%s\n' "$out" >"$TMP/out"
if [ "${out%%$'\n'*}" = hi ] && grep -q 'BusyBox' "$TMP/out"; then
	ok "busybox:latest runs sh and has busybox's applets"
else
	not_ok "busybox:latest runs sh and has busybox's applets"
fi
out=$(timeout 60 docker -H "$PROD" run --rm --name "$name" --network none debian:bookworm \
	sh -c '. /etc/os-release; echo "$VERSION_CODENAME"; test -x /usr/bin/apt-get && echo apt; ls /var/lib/apt/lists | grep -c _ || true' 2>&1)
printf '%s\n' "$out" >"$TMP/out"
if [ "$out" = "$(printf 'bookworm\napt\n0')" ]; then
	ok "debian:bookworm is Debian 12 with apt and no package lists"
else
	not_ok "debian:bookworm is Debian 12 with apt and no package lists"
fi

run --no-images
expect "--no-images runs and leaves the images alone" 0
if has_line '(pulled|loaded|imported|making) '; then
	not_ok "--no-images provides no image"
else
	ok "--no-images provides no image"
fi

if docker -H "$USERNS" info --format '{{json .SecurityOptions}}' 2>/dev/null | grep -q 'name=userns'; then
	ok "docker info on the userns-remap engine lists userns"
else
	: >"$TMP/out"
	not_ok "docker info on the userns-remap engine lists userns"
fi

run --verify
expect "--verify runs a container on each engine" 0 \
	"production engine runs containers" "userns-remap engine runs containers (uid_map: 0 "
if grep -q 'userns-remap engine runs containers (uid_map: 0 0 ' "$TMP/out"; then
	not_ok "root is remapped on the userns-remap engine" "uid_map maps 0 to 0"
else
	ok "root is remapped on the userns-remap engine"
fi

left=$(for h in "$PROD" "$USERNS"; do docker -H "$h" ps -a --filter name=parity-setup-check --format '{{.Names}}'; done)
: >"$TMP/out"
if [ -z "$left" ]; then
	ok "no setup-check container is left behind"
else
	not_ok "no setup-check container is left behind" "$left"
fi

# A distribution that packages the docker CLI apart from the engine
# (Debian 13: docker-cli, a Recommends of docker.io). The host's own CLI is
# hidden by a PATH without it, and apt-get/apt-cache are stand-ins that
# record what they are asked and "install" docker-cli by putting the real
# CLI back on that PATH: the engines and the host's packages are untouched.
real_docker=$(command -v docker)
shadow="$TMP/bin"
mkdir -p "$shadow"
IFS=: read -ra path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
	for f in "$d"/*; do
		n=${f##*/}
		[ "$n" = docker ] && continue
		[ -x "$f" ] && [ ! -e "$shadow/$n" ] && ln -s "$f" "$shadow/$n"
	done
done
rm -f "$shadow/apt-get" "$shadow/apt-cache"
# apt-cache offers docker-cli (with SPLIT_CLI=1) only once the lists were
# updated, as on a fresh Debian 13 whose lists are empty.
cat >"$shadow/apt-cache" <<STUB
#!/bin/sh
if [ "\$1" = policy ] && [ "\$2" = docker-cli ] && [ "\${SPLIT_CLI:-0}" = 1 ] && [ -f "$TMP/apt-updated" ]; then
	printf 'docker-cli:\n  Installed: (none)\n  Candidate: 26.1.5+dfsg1-9+b9\n'
else
	printf '%s:\n  Installed: (none)\n  Candidate: (none)\n' "\$2"
fi
STUB
cat >"$shadow/apt-get" <<STUB
#!/bin/sh
echo "apt-get \$*" >>"$TMP/apt.log"
case " \$* " in
*" update "*) touch "$TMP/apt-updated" ;;
*" docker-cli "*) ln -sf "$real_docker" "$shadow/docker" ;;
esac
STUB
chmod +x "$shadow/apt-cache" "$shadow/apt-get"

# run_split SPLIT_CLI ARGS...: the script on the PATH without the CLI.
run_split() {
	local split="$1"
	shift
	rm -f "$shadow/docker" "$TMP/apt-updated" "$TMP/apt.log"
	PATH="$shadow" SPLIT_CLI="$split" "$SCRIPT" "$@" >"$TMP/out" 2>&1
	RC=$?
}

run_split 1 --check
expect "--check without the CLI names it and still finds the engines" 1 \
	"missing  docker" "ok       production engine answers" "userns on"
if has_line 'missing  (production|userns-remap) engine'; then
	not_ok "--check blames no engine for a missing CLI"
else
	ok "--check blames no engine for a missing CLI"
fi

run_split 1 --no-images
expect "docker.io without its CLI: the CLI's own package is installed" 0 \
	"installing docker-cli (apt-get): the docker CLI, packaged apart from the engine here" \
	"installed docker-cli" "production engine already running" "userns-remap engine already running"
if grep -q 'install .*docker-cli' "$TMP/apt.log" 2>/dev/null && [ -x "$shadow/docker" ]; then
	ok "the CLI came from the docker-cli package"
else
	not_ok "the CLI came from the docker-cli package" "$(cat "$TMP/apt.log" 2>/dev/null)"
fi

run_split 0 --no-images
expect "no CLI and no package for it: the error says so" 1 \
	"the docker CLI is not, and apt offers no package of its own for it"
if has_line 'did not answer|production engine|userns-remap engine'; then
	not_ok "a missing CLI is not blamed on an engine"
else
	ok "a missing CLI is not blamed on an engine"
fi

rm -f "$shadow/curl"
run_split 1 --check
expect "--check without curl says the engines are unknown, not missing" 1 "unknown  the engines (curl"
if has_line 'missing  (production|userns-remap) engine'; then
	not_ok "--check without curl blames no engine"
else
	ok "--check without curl blames no engine"
fi

if [ "${PARITY_TEST_STOP:-0}" = 1 ]; then
	started=$(
		shopt -s nullglob
		cd /run/parity/started 2>/dev/null && for f in *; do printf '%s ' "$f"; done
	)
	run --stop
	expect "--stop succeeds" 0
	for name in $started; do
		label=$name
		[ "$name" = userns-remap ] && label="userns-remap engine"
		[ "$name" = production ] && label="production engine"
		if has_line "stopped $label"; then
			ok "--stop stops the $label it started"
		else
			not_ok "--stop stops the $label it started"
		fi
	done
	run --stop
	expect "a second --stop has nothing to do" 0 "nothing to stop"
	run
	expect "a run after --stop brings the engines back" 0
	run --check
	expect "--check passes again" 0
fi

printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
