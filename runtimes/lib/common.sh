# shellcheck shell=bash
# Shared helpers for runtimes/*.sh. Sourced, never executed.
#
# Owns: talking to an engine from shell (is it answering, which API, over
# its socket with curl so no answer depends on the docker CLI; which
# containers, with the CLI), the locally built busybox image every host check uses (no
# registry is needed), and the log/die conventions of the setup scripts.
# Callers set PROG before sourcing.

# The image the setup scripts import from the host's static busybox, so a
# container can be started without any registry.
PARITY_CHECK_IMAGE="${PARITY_CHECK_IMAGE:-parity-setup-check:latest}"

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

# docker CLI against one engine, bounded so a hung daemon cannot hang us.
# usage: dk HOST ARGS...   (HOST like unix:///var/run/docker.sock)
dk() {
	local host="$1"
	shift
	command -v docker >/dev/null 2>&1 ||
		die "the docker CLI (docker) is missing: install it (docker-cli where the distribution packages it apart, as Debian 13 does; else docker.io or docker-ce-cli)"
	timeout "${PARITY_DOCKER_TIMEOUT:-60}" docker -H "$host" "$@"
}

# Engines are asked over their API socket with curl, not with the docker
# CLI: whether an engine answers must not depend on a client being there.
# Succeeds when the client is there; else says what is missing.
api_client_ok() {
	command -v curl >/dev/null 2>&1 && return 0
	printf '%s: error: curl is missing: it asks the engines over their API sockets (apt-get install curl)\n' "$PROG" >&2
	return 1
}

# GET PATH from the Engine API at HOST (unix:// or plain tcp://); prints the
# body, fails when the engine does not answer or there is no curl.
engine_get() {
	local host="$1" path="$2"
	command -v curl >/dev/null 2>&1 || return 2
	case "$host" in
	unix://*) timeout 10 curl -fsS --max-time 8 --unix-socket "${host#unix://}" "http://localhost$path" ;;
	tcp://*) timeout 10 curl -fsS --max-time 8 "http://${host#tcp://}$path" ;;
	*) return 2 ;;
	esac
}

# Whether HOST is asked with curl: a local socket or plain TCP; TLS and
# ssh:// engines are asked with the docker CLI, which knows their setup.
by_curl() {
	case "$1" in
	unix://*) return 0 ;;
	tcp://*) [ -z "${DOCKER_TLS_VERIFY:-}" ] && [ -z "${DOCKER_CERT_PATH:-}" ] ;;
	*) return 1 ;;
	esac
}

# Prints the engine's API version and succeeds when HOST answers.
engine_api() {
	local out
	if ! by_curl "$1"; then
		out=$(timeout 10 docker -H "$1" version --format '{{.Server.APIVersion}}' 2>/dev/null) || return 1
		[ -n "$out" ] && printf '%s\n' "$out"
		return
	fi
	out=$(engine_get "$1" /version 2>/dev/null) || return 1
	out=$(printf '%s' "$out" | sed -n 's/.*"ApiVersion":"\([^"]*\)".*/\1/p')
	[ -n "$out" ] || return 1
	printf '%s\n' "$out"
}

# Succeeds when the engine at HOST runs with user-namespace remapping.
engine_has_userns() {
	local info
	if by_curl "$1"; then
		info=$(engine_get "$1" /info 2>/dev/null) || return 1
	else
		info=$(timeout 10 docker -H "$1" info --format '{{json .SecurityOptions}}' 2>/dev/null) || return 1
	fi
	[[ "$info" == *'"name=userns'* ]]
}

# Lists all containers (running or not) on HOST: "ID NAME STATUS" lines.
engine_containers() {
	dk "$1" ps -a --format '{{.ID}} {{.Names}} {{.Status}}'
}

# Path of a statically linked busybox, or fails.
static_busybox() {
	local bb
	for bb in /bin/busybox /usr/bin/busybox "$(command -v busybox 2>/dev/null || true)"; do
		[ -n "$bb" ] && [ -x "$bb" ] || continue
		# ldd exits non-zero for a static binary: judge by its words only.
		case "$(LC_ALL=C ldd "$bb" 2>&1 || true)" in
		*'not a dynamic executable'* | *'statically linked'*)
			printf '%s\n' "$bb"
			return 0
			;;
		esac
	done
	return 1
}

# Imports $PARITY_CHECK_IMAGE into the engine at HOST from the host's static
# busybox unless it is there already. Prints "imported IMAGE" when it did.
ensure_check_image() {
	local host="$1" bb tmp applet
	if dk "$host" image inspect "$PARITY_CHECK_IMAGE" >/dev/null 2>&1; then
		return 0
	fi
	bb=$(static_busybox) || die "no statically linked busybox found: install busybox-static"
	tmp=$(mktemp -d)
	mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/tmp" "$tmp/root" "$tmp/proc" "$tmp/sys" "$tmp/dev"
	chmod 1777 "$tmp/tmp"
	cp "$bb" "$tmp/bin/busybox"
	# `busybox --list` names busybox itself: linking it would replace the
	# binary with a symlink to itself.
	for applet in $("$bb" --list); do
		[ "$applet" = busybox ] && continue
		ln -s busybox "$tmp/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tmp/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
	if ! tar -C "$tmp" -c . | dk "$host" import \
		--change 'ENV PATH=/bin' \
		--change 'CMD ["/bin/sh"]' \
		- "$PARITY_CHECK_IMAGE" >/dev/null; then
		rm -rf "$tmp"
		die "could not import $PARITY_CHECK_IMAGE into the engine at $host"
	fi
	rm -rf "$tmp"
	say "imported $PARITY_CHECK_IMAGE into the engine at $host (from $bb)"
}

# Runs one throwaway container on HOST and prints its /proc/self/uid_map
# (first line). Extra docker-run flags go before the image. The container is
# removed on every path. Call ensure_check_image first.
smoke_run() {
	local host="$1" name out rc
	shift
	name="parity-setup-check-$$-$RANDOM"
	set +e
	out=$(dk "$host" run --name "$name" --network none "$@" "$PARITY_CHECK_IMAGE" \
		sh -c 'head -n1 /proc/self/uid_map' 2>&1)
	rc=$?
	set -e
	dk "$host" rm -f "$name" >/dev/null 2>&1 || true
	if [ "$rc" -ne 0 ]; then
		printf '%s\n' "$out" >&2
		return "$rc"
	fi
	# squeeze the column padding of uid_map
	printf '%s\n' "$out" | tr -s ' ' | sed 's/^ //'
}
