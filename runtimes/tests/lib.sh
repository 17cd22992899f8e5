# Shared by the plain bash tests in this folder: pass/fail bookkeeping and
# the `expect` check. The sourcing script sets TMP (its scratch folder; the
# last command's output is in $TMP/out) and RC (that command's exit status),
# and prints "$PASSED passed, $FAILED failed" as its last line.
# shellcheck shell=bash

PASSED=0
FAILED=0
SKIPPED=0

ok() {
	PASSED=$((PASSED + 1))
	printf 'ok      %s\n' "$1"
}
not_ok() {
	FAILED=$((FAILED + 1))
	printf 'FAILED  %s\n' "$1"
	shift
	printf '%s\n' "$@" | sed 's/^/        /'
	if [ -s "$TMP/out" ]; then
		printf '        output:\n'
		sed 's/^/        | /' "$TMP/out"
	fi
}
skip() {
	SKIPPED=$((SKIPPED + 1))
	printf 'skip    %s (%s)\n' "$1" "$2"
}

# expect NAME STATUS [TEXT...]: the last run exited STATUS and printed every TEXT.
expect() {
	local name="$1" status="$2" text
	shift 2
	if [ "$RC" -ne "$status" ]; then
		not_ok "$name" "expected exit status $status, got $RC"
		return
	fi
	for text in "$@"; do
		if ! grep -qF -- "$text" "$TMP/out"; then
			not_ok "$name" "expected the output to contain: $text"
			return
		fi
	done
	ok "$name"
}
