# shellcheck shell=bash
# Shared helpers for runtimes/*.sh. Sourced, never executed.
#
# Owns: talking to an engine from shell (is it answering, which API, which
# containers), the locally built busybox image every host check uses (no
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
	timeout "${PARITY_DOCKER_TIMEOUT:-60}" docker -H "$host" "$@"
}

# Prints the engine's API version and succeeds when HOST answers.
engine_api() {
	local out
	out=$(timeout 10 docker -H "$1" version --format '{{.Server.APIVersion}}' 2>/dev/null) || return 1
	[ -n "$out" ] || return 1
	printf '%s\n' "$out"
}

# Succeeds when the engine at HOST runs with user-namespace remapping.
engine_has_userns() {
	local opts
	opts=$(timeout 10 docker -H "$1" info --format '{{json .SecurityOptions}}' 2>/dev/null) || return 1
	[[ "$opts" == *name=userns* ]]
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
