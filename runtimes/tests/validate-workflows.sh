#!/usr/bin/env bash
# Offline validation of .github/workflows/*.yml and action.yml:
#   1. the JSON Schemas bundled with check-jsonschema (SchemaStore's GitHub
#      workflow and action schemas; no network needed once installed);
#   2. runtimes/tests/check_workflows.py: the checks a schema cannot do;
#   3. a self-test: check_workflows.py must reject each broken snippet in
#      runtimes/tests/fixtures/bad-*.yml with the message its "# expect:"
#      line names, and accept good.yml.
# Tools go in a virtualenv outside the repository (PARITY_CI_VENV, default
# ~/.cache/parity/venv), created on first use.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV="${PARITY_CI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/parity/venv}"
CHECK_JSONSCHEMA_VERSION=0.39.0
PYYAML_VERSION=6.0.3
PROG=validate-workflows

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

venv_ready() {
	[ -x "$VENV/bin/check-jsonschema" ] &&
		"$VENV/bin/check-jsonschema" --version 2>/dev/null | grep -qF "$CHECK_JSONSCHEMA_VERSION" &&
		"$VENV/bin/python" -c 'import yaml' 2>/dev/null
}

make_venv() {
	command -v python3 >/dev/null 2>&1 || die "python3 is required (apt-get install python3 python3-venv)"
	if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
		# Debian/Ubuntu ship venv apart from python3.
		if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
			say "installing python3-venv (apt-get)"
			DEBIAN_FRONTEND=noninteractive apt-get update -qq
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
			rm -rf "$VENV"
			python3 -m venv "$VENV" || die "could not create a virtualenv in $VENV"
		else
			die "python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv)"
		fi
	fi
	say "installing check-jsonschema $CHECK_JSONSCHEMA_VERSION and PyYAML $PYYAML_VERSION into $VENV"
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
		"check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "PyYAML==$PYYAML_VERSION" ||
		die "pip install failed (PyPI unreachable?)"
}

venv_ready || make_venv
PY="$VENV/bin/python"
CJS="$VENV/bin/check-jsonschema"

cd "$ROOT"
shopt -s nullglob
WORKFLOWS=(.github/workflows/*.yml .github/workflows/*.yaml)
[ "${#WORKFLOWS[@]}" -gt 0 ] || die "no workflow files in .github/workflows"

say "schema: ${WORKFLOWS[*]}"
"$CJS" --builtin-schema vendor.github-workflows "${WORKFLOWS[@]}"
if [ -f action.yml ]; then
	say "schema: action.yml"
	"$CJS" --builtin-schema vendor.github-actions action.yml
fi

say "checks: check_workflows.py"
"$PY" "$HERE/check_workflows.py" --root "$ROOT"

say "self-test: check_workflows.py against runtimes/tests/fixtures"
failed=0
fixtures=("$HERE"/fixtures/*.yml)
[ "${#fixtures[@]}" -gt 0 ] || die "no fixtures in $HERE/fixtures"
for f in "${fixtures[@]}"; do
	want=$(sed -n 's/^# expect: //p' "$f" | head -n1)
	[ -n "$want" ] || die "$f has no '# expect:' line"
	set +e
	out=$("$PY" "$HERE/check_workflows.py" --root "$ROOT" "$f" 2>&1)
	rc=$?
	set -e
	name=${f#"$ROOT"/}
	if [ "$want" = ok ]; then
		if [ "$rc" -eq 0 ]; then
			printf '  ok      %s is accepted\n' "$name"
		else
			printf '  FAILED  %s should be accepted (exit %s):\n%s\n' "$name" "$rc" "$out"
			failed=$((failed + 1))
		fi
	elif [ "$rc" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then
		printf '  ok      %s is rejected: %s\n' "$name" "$want"
	else
		printf '  FAILED  %s should be rejected with "%s" (exit %s):\n%s\n' "$name" "$want" "$rc" "$out"
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ] || die "$failed fixture(s) not judged as expected"
say "all workflow checks passed"
