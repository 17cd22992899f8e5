#!/usr/bin/env bash
# Prepare a Debian/Ubuntu host for parity: the packages, the production
# engine (runc) and the userns-remap engine. Idempotent: what is there already
# is left alone, and a second run changes nothing.
#
# Engines:
#   production    unix:///var/run/docker.sock         (systemd unit, or started here)
#   userns-remap  unix:///run/parity/userns-remap.sock (always started here)
# Run with --help for the options.
set -euo pipefail

PROG=setup-host
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=runtimes/lib/common.sh
. "$HERE/lib/common.sh"

PROD_SOCK=/var/run/docker.sock
PROD_HOST="unix://$PROD_SOCK"
PROD_PIDFILE=/var/run/docker.pid
CONTAINERD_SOCK=/run/containerd/containerd.sock
RUN_DIR=/run/parity
USERNS_SOCK="$RUN_DIR/userns-remap.sock"
USERNS_HOST="unix://$USERNS_SOCK"
USERNS_DATA=/var/lib/parity/userns-remap
USERNS_EXEC="$RUN_DIR/userns-remap-exec"
USERNS_PIDFILE="$RUN_DIR/userns-remap.pid"
USERNS_CONFIG="$RUN_DIR/userns-remap.json"
USERNS_CTR_NS=parity-userns
USERNS_CTR_PLUGINS_NS=parity-userns-plugins
MARKERS="$RUN_DIR/started"
LOG_DIR=/var/log/parity
WAIT_SECS="${PARITY_WAIT_SECS:-60}"
BASE_IMAGES=(busybox:latest debian:bookworm)
DEBIAN_MIRROR="${PARITY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Image copies and imports move ~100 MB: give them more than a CLI call.
IMAGE_TIMEOUT="${PARITY_IMAGE_TIMEOUT:-900}"

usage() {
	cat <<EOF
usage: runtimes/setup-host.sh [--check | --stop | --verify] [--no-images] [--sysbox VERSION [-- INSTALL-SYSBOX-ARGS...]]

Prepares this Debian/Ubuntu host (as root) for parity:
  - installs what is missing: docker.io and the docker CLI (docker-cli
    where the distribution packages it apart, as Debian 13 does),
    containerd, runc, busybox-static, iptables, jq, curl (a host with
    Docker CE keeps it; apt-get update runs only when something is
    missing);
  - starts the production engine on $PROD_SOCK unless one answers there
    (systemctl when systemd is init, else containerd + dockerd in the
    background, logs in $LOG_DIR);
  - starts the userns-remap engine (dockerd --userns-remap=default) on
    $USERNS_SOCK, data in $USERNS_DATA, sharing containerd under
    the namespace $USERNS_CTR_NS;
  - waits up to ${WAIT_SECS}s (PARITY_WAIT_SECS) for both to answer on
    their API sockets (asked with curl, so a missing CLI is never taken
    for an engine that does not answer);
  - lets containers on one bridge network talk to each other on every
    engine alike: with br_netfilter loaded (Docker loads it) frames
    switched inside a bridge pass the FORWARD chain, whose policy Docker
    sets to DROP, and an engine started with --iptables=false (the
    userns-remap one) adds no rule for its networks; one rule accepts
    bridged frames (physdev --physdev-is-bridged), which never leave the
    bridge, so nothing is forwarded to or from the outside world;
  - provides the base images the scenario library builds on, in each
    engine that lacks them: ${BASE_IMAGES[*]} (pulled where a
    registry answers; else busybox from the host's static busybox and
    debian from debootstrap --variant=minbase against $DEBIAN_MIRROR),
    made once in the production engine and copied into the other with
    docker save | docker load, so both have the same image id.
Each action is reported on one line; a second run does nothing.

options:
  --check            report what is installed and running, change nothing;
                     exit 1 when something is missing
  --stop             stop the engines (and containerd) this script started,
                     only those
  --verify           also run a throwaway container on each engine
                     (done anyway for an engine this run started)
  --no-images        do not provide the base images
  --sysbox VERSION   then install Sysbox CE VERSION with
                     runtimes/install-sysbox.sh; arguments after -- go to it
  -h, --help         this text
EOF
}

# ---------------------------------------------------------------- helpers

# Systemd is usable when it is init (sd_booted(3)).
have_systemd() {
	[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

containerd_answers() {
	[ -S "$CONTAINERD_SOCK" ] || return 1
	if command -v ctr >/dev/null 2>&1; then
		timeout 5 ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1
	fi
}

# Succeeds when PID is a live process whose executable is named NAME (a
# recorded pid may have been reused since).
pid_is() {
	local pid="$1" name="$2" exe
	[ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	[ "$(basename "${exe% (deleted)}")" = "$name" ]
}

# pid of a live process whose executable is named NAME, read from FILE.
live_pid_from() {
	local file="$1" name="$2" pid
	[ -r "$file" ] || return 1
	pid=$(tr -dc '0-9' <"$file")
	pid_is "$pid" "$name" || return 1
	printf '%s\n' "$pid"
}

mark_started() { mkdir -p "$MARKERS" && printf '%s\n' "$2" >"$MARKERS/$1"; }

# Starts a daemon in its own session so it outlives this script and the
# shell that ran it; prints its pid.
spawn() {
	local log="$1"
	shift
	mkdir -p "$LOG_DIR"
	printf '\n==== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"
	setsid nohup "$@" >>"$log" 2>&1 </dev/null &
	local pid=$!
	disown "$pid" 2>/dev/null || true
	printf '%s\n' "$pid"
}

# Prints the last lines of a log file, or of a systemd unit's journal for
# LOG=unit:NAME.
show_log() {
	case "$1" in
	unit:*) journalctl -u "${1#unit:}" -n 25 --no-pager >&2 || true ;;
	*) tail -n 25 "$1" >&2 || true ;;
	esac
}

# Waits until CHECK succeeds; fails with the log's tail when PID dies or
# the time is up.
wait_for() {
	local what="$1" log="$2" pid="$3" check="$4" i state
	for ((i = 0; i < WAIT_SECS * 2; i++)); do
		if $check >/dev/null 2>&1; then
			return 0
		fi
		if [ -n "$pid" ]; then
			state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
			if [ "$state" = gone ] || [ "$state" = Z ]; then
				printf '%s: error: %s exited before answering; last lines of %s:\n' "$PROG" "$what" "${log#unit:}" >&2
				show_log "$log"
				exit 1
			fi
		fi
		sleep 0.5
	done
	printf '%s: error: %s did not answer within %ss; last lines of %s:\n' "$PROG" "$what" "$WAIT_SECS" "${log#unit:}" >&2
	show_log "$log"
	exit 1
}

prod_answers() { engine_api "$PROD_HOST"; }
userns_answers() { engine_api "$USERNS_HOST"; }

# ---------------------------------------------------------------- packages

# Succeeds when apt knows a package NAME it could install (a candidate
# version in its lists).
apt_has() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

# The package that gives this host the docker CLI: Docker CE's CLI beside
# Docker CE; docker-cli where the distribution packages the CLI apart from
# the engine (Debian 13: a Recommends of docker.io, which
# --no-install-recommends leaves out); else docker.io, which holds it
# (Debian 12, Ubuntu 22.04 and 24.04).
cli_package() {
	if pkg_installed docker-ce; then
		echo docker-ce-cli
	elif apt_has docker-cli; then
		echo docker-cli
	else
		echo docker.io
	fi
}

# Fills MISSING with the packages to install; dies on a half-installed
# Docker CE that docker.io must not replace.
find_missing() {
	MISSING=()
	if ! command -v dockerd >/dev/null 2>&1; then
		if pkg_installed docker-ce-cli; then
			die "docker-ce-cli is installed without docker-ce: install docker-ce from Docker's repository (docker.io would replace the CLI)"
		fi
		MISSING+=(docker.io)
	elif ! command -v docker >/dev/null 2>&1; then
		MISSING+=("$(cli_package)")
	fi
	# Docker CE ships containerd.io (containerd + runc); docker.io pulls
	# Debian's containerd and runc.
	command -v containerd >/dev/null 2>&1 || MISSING+=(containerd)
	command -v runc >/dev/null 2>&1 || MISSING+=(runc)
	static_busybox >/dev/null || MISSING+=(busybox-static)
	command -v iptables >/dev/null 2>&1 || MISSING+=(iptables)
	command -v jq >/dev/null 2>&1 || MISSING+=(jq)
	# asks the engines over their sockets (lib/common.sh engine_get)
	command -v curl >/dev/null 2>&1 || MISSING+=(curl)
}

apt_install() {
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_missing() {
	find_missing
	[ "${#MISSING[@]}" -eq 0 ] && return 0
	# docker.io brings Debian's containerd and runc with it.
	local want=() p
	for p in "${MISSING[@]}"; do
		case "$p" in
		containerd | runc) [[ " ${MISSING[*]} " == *" docker.io "* ]] && continue ;;
		esac
		want+=("$p")
	done
	export DEBIAN_FRONTEND=noninteractive
	say "installing ${MISSING[*]} (apt-get)"
	apt-get update -qq
	apt_install "${want[@]}"
	for p in "${MISSING[@]}"; do
		say "installed $p"
	done
	# The engine's package may come without the CLI: then the CLI is a
	# package of its own (asked again now that the lists are fresh).
	if ! command -v docker >/dev/null 2>&1; then
		p=$(cli_package)
		if [ "$p" = docker.io ]; then
			die "dockerd is installed but the docker CLI is not, and apt offers no package of its own for it (docker-cli): install the docker CLI"
		fi
		say "installing $p (apt-get): the docker CLI, packaged apart from the engine here"
		apt_install "$p"
		command -v docker >/dev/null 2>&1 ||
			die "installed $p, yet there is no docker command on PATH ($PATH)"
		say "installed $p"
	fi
	local tool
	for tool in dockerd docker containerd runc iptables jq curl; do
		command -v "$tool" >/dev/null 2>&1 ||
			die "$tool is still missing after installing ${MISSING[*]}"
	done
}

# ---------------------------------------------------------------- engines

STARTED_ANY=0

start_containerd() {
	if containerd_answers; then
		return 0
	fi
	if [ -S "$CONTAINERD_SOCK" ]; then
		# a socket that does not answer may be a daemon still starting
		sleep 2
		containerd_answers && return 0
	fi
	local args=(containerd)
	[ -f /etc/containerd/config.toml ] && args+=(--config /etc/containerd/config.toml)
	mkdir -p "$(dirname "$CONTAINERD_SOCK")"
	local log="$LOG_DIR/containerd.log" pid
	pid=$(spawn "$log" "${args[@]}")
	wait_for containerd "$log" "$pid" containerd_answers
	printf '%s\n' "$pid" >"$RUN_DIR/containerd.pid"
	mark_started containerd "pid=$pid"
	say "started containerd (pid $pid, log $log)"
}

start_production() {
	local api
	if api=$(prod_answers); then
		say "production engine already running (API $api)"
		return 0
	fi
	if have_systemd && systemctl cat docker.service >/dev/null 2>&1; then
		systemctl start docker.service
		wait_for "production engine (docker.service)" unit:docker.service "" prod_answers
		mark_started production "systemd=docker.service"
		say "started production engine (systemctl start docker, API $(prod_answers))"
		STARTED_ANY=1
		return 0
	fi
	local pid
	if pid=$(live_pid_from "$PROD_PIDFILE" dockerd); then
		# a dockerd is running but not answering yet: give it time
		wait_for "production engine (pid $pid)" "$LOG_DIR/dockerd.log" "$pid" prod_answers
		say "production engine already running (pid $pid, API $(prod_answers))"
		return 0
	fi
	start_containerd
	local log="$LOG_DIR/dockerd.log"
	pid=$(spawn "$log" dockerd \
		--host "$PROD_HOST" \
		--containerd "$CONTAINERD_SOCK" \
		--pidfile "$PROD_PIDFILE")
	wait_for "production engine" "$log" "$pid" prod_answers
	mark_started production "pid=$pid"
	say "started production engine (pid $pid, API $(prod_answers), log $log)"
	STARTED_ANY=1
}

start_userns() {
	local api pid
	if api=$(userns_answers); then
		engine_has_userns "$USERNS_HOST" ||
			die "an engine answers on $USERNS_SOCK without user-namespace remapping; stop it first"
		say "userns-remap engine already running (API $api)"
		return 0
	fi
	if pid=$(live_pid_from "$USERNS_PIDFILE" dockerd); then
		wait_for "userns-remap engine (pid $pid)" "$LOG_DIR/userns-remap.log" "$pid" userns_answers
		say "userns-remap engine already running (pid $pid, API $(userns_answers))"
		return 0
	fi
	mkdir -p "$RUN_DIR" "$USERNS_DATA" "$USERNS_EXEC"
	# Its own config file: the production engine's daemon.json may set bip
	# or hosts, which clash with the flags below. userns-remap needs the
	# classic image store (newer engines may default to containerd's).
	printf '{"features": {"containerd-snapshotter": false}}\n' >"$USERNS_CONFIG"
	local args=(dockerd
		--config-file "$USERNS_CONFIG"
		--host "$USERNS_HOST"
		--userns-remap=default
		--data-root "$USERNS_DATA"
		--exec-root "$USERNS_EXEC"
		--pidfile "$USERNS_PIDFILE"
		--bridge none --iptables=false --ip-masq=false)
	if dockerd --help 2>&1 | grep -q -- '--ip6tables'; then
		args+=(--ip6tables=false)
	fi
	if containerd_answers; then
		# Shared containerd, own namespaces: the two engines never see each
		# other's containers or events.
		args+=(--containerd "$CONTAINERD_SOCK"
			--containerd-namespace "$USERNS_CTR_NS"
			--containerd-plugins-namespace "$USERNS_CTR_PLUGINS_NS")
	else
		say "no containerd on $CONTAINERD_SOCK: the userns-remap engine starts its own"
	fi
	local log="$LOG_DIR/userns-remap.log"
	pid=$(spawn "$log" "${args[@]}")
	wait_for "userns-remap engine" "$log" "$pid" userns_answers
	engine_has_userns "$USERNS_HOST" ||
		die "the engine on $USERNS_SOCK answers but reports no userns security option (see $log)"
	mark_started userns-remap "pid=$pid"
	say "started userns-remap engine (pid $pid, API $(userns_answers), log $log)"
	STARTED_ANY=1
}

verify_engines() {
	local map
	ensure_check_image "$PROD_HOST"
	ensure_check_image "$USERNS_HOST"
	map=$(smoke_run "$PROD_HOST") || die "a container did not run on the production engine"
	say "production engine runs containers (uid_map: $map)"
	map=$(smoke_run "$USERNS_HOST") || die "a container did not run on the userns-remap engine"
	case "$map" in
	"0 0 "*) die "the userns-remap engine ran a container without remapping (uid_map: $map)" ;;
	esac
	say "userns-remap engine runs containers (uid_map: $map)"
}

# ---------------------------------------------------------------- base images

has_image() { dk "$1" image inspect "$2" >/dev/null 2>&1; }

image_id() { dk "$1" image inspect --format '{{.Id}}' "$2" 2>/dev/null; }

# Imports busybox:latest into the engine at HOST from the host's static
# busybox: every applet linked, a minimal /etc, CMD sh.
make_busybox() {
	local host="$1" bb tmp applet
	bb=$(static_busybox) || die "no statically linked busybox found: install busybox-static"
	tmp=$(mktemp -d)
	mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp" "$tmp/root" "$tmp/home" "$tmp/var/tmp" \
		"$tmp/run" "$tmp/mnt" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/usr/bin" "$tmp/usr/sbin" "$tmp/sbin"
	chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
	chmod 700 "$tmp/root"
	cp "$bb" "$tmp/bin/busybox"
	for applet in $("$bb" --list); do
		[ "$applet" = busybox ] && continue
		ln -s busybox "$tmp/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/etc/passwd"
	printf 'root:x:0:\ndaemon:x:1:\nwww-data:x:33:\nnogroup:x:65534:\n' >"$tmp/etc/group"
	if ! tar --numeric-owner --owner=0 --group=0 -C "$tmp" -c . |
		PARITY_DOCKER_TIMEOUT=$IMAGE_TIMEOUT dk "$host" import \
			--change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["sh"]' \
			- busybox:latest >/dev/null; then
		rm -rf "$tmp"
		die "could not import busybox:latest into the engine at $host"
	fi
	rm -rf "$tmp"
	BASE_HOW="from $bb"
}

# Imports debian:bookworm into the engine at HOST from a minimal Debian 12
# root filesystem made with debootstrap, with the same apt sources as the
# official image and no package lists or caches.
make_debian() {
	local host="$1" tmp log="$LOG_DIR/debootstrap.log" t0
	if ! command -v debootstrap >/dev/null 2>&1; then
		export DEBIAN_FRONTEND=noninteractive
		say "installing debootstrap (apt-get)"
		apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 || {
			apt-get update -qq
			apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
		}
		say "installed debootstrap"
	fi
	tmp=$(mktemp -d /var/tmp/parity-bookworm.XXXXXX)
	t0=$SECONDS
	say "making debian:bookworm with debootstrap --variant=minbase from $DEBIAN_MIRROR (a few minutes; log $log)"
	if ! debootstrap --variant=minbase bookworm "$tmp/rootfs" "$DEBIAN_MIRROR" >"$log" 2>&1; then
		rm -rf "$tmp"
		printf '%s: error: debootstrap failed; last lines of %s:\n' "$PROG" "$log" >&2
		show_log "$log"
		exit 1
	fi
	rm -f "$tmp/rootfs/etc/apt/sources.list"
	cat >"$tmp/rootfs/etc/apt/sources.list.d/debian.sources" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: http://deb.debian.org/debian-security
		Suites: bookworm-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin \
		"$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/log/"*.log
	if ! tar --numeric-owner -C "$tmp/rootfs" -c . |
		PARITY_DOCKER_TIMEOUT=$IMAGE_TIMEOUT dk "$host" import \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["bash"]' \
			- debian:bookworm >/dev/null; then
		rm -rf "$tmp"
		die "could not import debian:bookworm into the engine at $host"
	fi
	rm -rf "$tmp"
	BASE_HOW="with debootstrap in $((SECONDS - t0))s"
}

# Makes sure IMAGE is in both engines: in the production engine it is
# pulled where a registry answers, else made locally; the userns-remap
# engine gets a copy of the production engine's (docker save | docker load),
# so the image id is the same in both. An engine that has it is left alone.
ensure_base_image() {
	local image="$1" make="$2"
	if ! has_image "$PROD_HOST" "$image"; then
		if PARITY_DOCKER_TIMEOUT=$IMAGE_TIMEOUT dk "$PROD_HOST" pull -q "$image" >/dev/null 2>&1; then
			say "pulled $image into the production engine"
		else
			BASE_HOW=
			"$make" "$PROD_HOST"
			say "imported $image into the production engine ($BASE_HOW; no registry answered)"
		fi
	fi
	if ! has_image "$USERNS_HOST" "$image"; then
		if ! PARITY_DOCKER_TIMEOUT=$IMAGE_TIMEOUT dk "$PROD_HOST" save "$image" |
			PARITY_DOCKER_TIMEOUT=$IMAGE_TIMEOUT dk "$USERNS_HOST" load -q >/dev/null; then
			die "could not copy $image into the userns-remap engine (docker save | docker load)"
		fi
		say "loaded $image into the userns-remap engine (docker save | docker load, id $(image_id "$USERNS_HOST" "$image" | cut -c1-19))"
	fi
}

ensure_base_images() {
	ensure_base_image busybox:latest make_busybox
	ensure_base_image debian:bookworm make_debian
}

# ---------------------------------------------------------------- --check

do_check() {
	local bad=0 api p
	for p in dockerd docker containerd runc iptables jq curl; do
		if command -v "$p" >/dev/null 2>&1; then
			say "ok       $p ($(command -v "$p"))"
		else
			say "missing  $p"
			bad=1
		fi
	done
	if iptables -C "${BRIDGED_RULE[@]}" 2>/dev/null; then
		say "ok       bridged traffic between containers of one network is accepted"
	else
		say "missing  the FORWARD rule for bridged traffic (containers of one network may not reach each other)"
		bad=1
	fi
	if p=$(static_busybox); then
		say "ok       static busybox ($p)"
	else
		say "missing  static busybox (busybox-static)"
		bad=1
	fi
	if have_systemd; then
		say "info     systemd is init"
	else
		say "info     systemd is not init (PID 1: $(ps -o comm= -p 1 2>/dev/null || echo '?')): engines are started in the background"
	fi
	if containerd_answers; then
		say "ok       containerd answers on $CONTAINERD_SOCK"
	else
		say "info     no containerd on $CONTAINERD_SOCK"
	fi
	if ! command -v curl >/dev/null 2>&1; then
		# No client to ask them with: the engines' state is unknown, not bad.
		say "unknown  the engines (curl, which asks them over their sockets, is missing)"
		return 1
	fi
	if api=$(prod_answers); then
		say "ok       production engine answers on $PROD_SOCK (API $api)"
		local rt=
		if command -v jq >/dev/null 2>&1; then
			rt=$(engine_get "$PROD_HOST" /info | jq -r '((.Runtimes // {}) | keys | join(" ")) + " default=" + (.DefaultRuntime // "?")' 2>/dev/null || true)
		fi
		say "info     production runtimes: ${rt:-?}"
	else
		say "missing  production engine on $PROD_SOCK"
		bad=1
	fi
	if api=$(userns_answers); then
		if engine_has_userns "$USERNS_HOST"; then
			say "ok       userns-remap engine answers on $USERNS_SOCK (API $api, userns on)"
		else
			say "bad      an engine answers on $USERNS_SOCK but without userns remapping"
			bad=1
		fi
	else
		say "missing  userns-remap engine on $USERNS_SOCK"
		bad=1
	fi
	local image host label
	for image in "${BASE_IMAGES[@]}"; do
		for host in "$PROD_HOST" "$USERNS_HOST"; do
			label="production engine"
			[ "$host" = "$USERNS_HOST" ] && label="userns-remap engine"
			engine_api "$host" >/dev/null || continue
			if ! command -v docker >/dev/null 2>&1; then
				say "unknown  $image in the $label (the docker CLI is missing)"
			elif has_image "$host" "$image"; then
				say "ok       $image in the $label ($(image_id "$host" "$image" | cut -c1-19))"
			else
				say "missing  $image in the $label (a run provides it)"
				bad=1
			fi
		done
	done
	if [ -d "$MARKERS" ] && [ -n "$(ls -A "$MARKERS" 2>/dev/null)" ]; then
		say "info     started by this script: $(cd "$MARKERS" && for f in *; do printf '%s(%s) ' "$f" "$(cat "$f")"; done)"
	fi
	return "$bad"
}

# ---------------------------------------------------------------- --stop

# Stops the process recorded in marker NAME when it is still the daemon we
# started (executable EXE); waits up to 30 s, then kills.
# The FORWARD rule that lets containers on one bridge network reach each
# other on every engine (see usage). Idempotent.
BRIDGED_RULE=(FORWARD -m physdev --physdev-is-bridged -m comment --comment "parity: frames switched inside one bridge network" -j ACCEPT)
allow_bridged() {
	if iptables -C "${BRIDGED_RULE[@]}" 2>/dev/null; then
		say "bridged traffic between containers of one network: already accepted"
		return
	fi
	iptables -I "${BRIDGED_RULE[@]}" ||
		die "could not add the FORWARD rule for bridged traffic (iptables -I ${BRIDGED_RULE[*]})"
	say "accepted bridged traffic between containers of one network (FORWARD, physdev --physdev-is-bridged)"
}

stop_marked() {
	local name="$1" exe="$2" what="$3" rec pid i
	[ -f "$MARKERS/$name" ] || return 0
	rec=$(cat "$MARKERS/$name")
	case "$rec" in
	systemd=*)
		systemctl stop "${rec#systemd=}"
		say "stopped $what (systemctl stop ${rec#systemd=})"
		;;
	pid=*)
		pid="${rec#pid=}"
		if pid_is "$pid" "$exe"; then
			kill -TERM "$pid"
			for ((i = 0; i < 60; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.5
			done
			if kill -0 "$pid" 2>/dev/null; then
				kill -KILL "$pid"
				say "killed $what (pid $pid): it did not stop within 30s"
			else
				say "stopped $what (pid $pid)"
			fi
		else
			say "$what (pid $pid) is no longer running"
		fi
		;;
	esac
	rm -f "$MARKERS/$name"
}

do_stop() {
	if [ ! -d "$MARKERS" ] || [ -z "$(ls -A "$MARKERS" 2>/dev/null)" ]; then
		say "nothing to stop: no engine was started by this script"
		return 0
	fi
	stop_marked userns-remap dockerd "userns-remap engine"
	stop_marked production dockerd "production engine"
	if [ -f "$MARKERS/containerd" ] && live_pid_from "$PROD_PIDFILE" dockerd >/dev/null; then
		say "left containerd running: the production engine (not started here) still uses it"
	else
		stop_marked containerd containerd containerd
	fi
}

# ---------------------------------------------------------------- main

MODE=setup
VERIFY=0
IMAGES=1
SYSBOX=
SYSBOX_ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	--check) MODE=check ;;
	--stop) MODE=stop ;;
	--verify) VERIFY=1 ;;
	--no-images) IMAGES=0 ;;
	--sysbox)
		[ $# -ge 2 ] || {
			usage >&2
			exit 2
		}
		SYSBOX="$2"
		shift
		;;
	--sysbox=*) SYSBOX="${1#--sysbox=}" ;;
	--)
		shift
		SYSBOX_ARGS=("$@")
		break
		;;
	*)
		printf '%s: unknown argument: %s\n' "$PROG" "$1" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

case "$MODE" in
check)
	do_check
	exit $?
	;;
stop)
	[ "$(id -u)" -eq 0 ] || die "--stop must run as root (sudo)"
	do_stop
	exit 0
	;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root (sudo runtimes/setup-host.sh)"
command -v apt-get >/dev/null 2>&1 || die "this script supports Debian/Ubuntu (apt-get) only"
mkdir -p "$RUN_DIR" "$LOG_DIR"

install_missing
api_client_ok || exit 1
start_production
start_userns
allow_bridged
if [ "$STARTED_ANY" -eq 1 ] || [ "$VERIFY" -eq 1 ]; then
	verify_engines
fi
if [ "$IMAGES" -eq 1 ]; then
	ensure_base_images
fi
if [ -n "$SYSBOX" ]; then
	"$HERE/install-sysbox.sh" "${SYSBOX_ARGS[@]}" "$SYSBOX"
fi
