#!/usr/bin/env python3
"""Checks on GitHub workflow files and action.yml that a JSON Schema cannot do.

- every repository script a `run:` calls (runtimes/..., .ci/...) exists, and
  shell scripts are executable;
- every `matrix.X` a job uses is defined in that job's matrix;
- in a matrix job, every upload-artifact name carries every matrix value, so
  the artifacts of two cells never collide;
- every upload-artifact step runs `if: always()` (a failing run still uploads);
- every `uses:` is pinned: a full 40-hex commit SHA (with a version comment),
  or at least an exact vX.Y.Z tag (warned); local ./ actions are fine;
- permissions are declared (top level or on every job), never write-all,
  read only at the top level, and a job holds a write scope only when one of
  its actions needs it (and has the scopes its actions need);
- no `${{ inputs.* }}` / `${{ github.event.* }}` pasted into a `run:` script
  (script injection): pass them through `env:`.

usage: check_workflows.py [--root DIR] [FILE...]
  default FILEs: .github/workflows/*.yml *.yaml and action.yml under --root
exit status: 0 clean (warnings allowed), 1 problems found, 2 usage/parse error
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
SEMVER_RE = re.compile(r"^v\d+\.\d+\.\d+$")
MATRIX_REF_RE = re.compile(r"\bmatrix\.([A-Za-z_][A-Za-z0-9_-]*)")
# Repository paths a run: script may call; taken from "runtimes/" or ".ci/"
# on, so "$PARITY_ACTION_PATH/runtimes/x.sh" and "./runtimes/x.sh" count.
SCRIPT_RE = re.compile(r"(?<![\w-])((?:runtimes|\.ci)/[\w./-]*[\w-])")
INJECTION_RE = re.compile(
    r"\$\{\{[^}]*\b(inputs\.|github\.event\.|github\.head_ref)[^}]*\}\}"
)
USES_LINE_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)\s*(#.*)?$")

# Write scopes the actions we know need. A job that holds a write scope must
# use one of these actions; a job using one must hold the scope.
ACTION_SCOPES: dict[str, dict[str, str]] = {
    "mikepenz/action-junit-report": {"checks": "write"},
    "dorny/test-reporter": {"checks": "write"},
    "EnricoMi/publish-unit-test-result-action": {"checks": "write"},
    "actions/deploy-pages": {"pages": "write", "id-token": "write"},
    "softprops/action-gh-release": {"contents": "write"},
    "actions/attest-build-provenance": {"id-token": "write", "attestations": "write"},
}
UPLOAD_ARTIFACT = "actions/upload-artifact"


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, path: Path, where: str, msg: str) -> None:
        self.errors.append(f"{path}: {where}: {msg}")

    def warn(self, path: Path, where: str, msg: str) -> None:
        self.warnings.append(f"{path}: {where}: {msg}")


def action_name(uses: str) -> str:
    """`owner/repo/path@ref` -> `owner/repo` (what ACTION_SCOPES is keyed by)."""
    name = uses.split("@", 1)[0]
    return "/".join(name.split("/")[:2])


def walk_strings(node):
    """Every string anywhere in a YAML node (keys included)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str):
                yield k
            yield from walk_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_strings(v)


# ---------------------------------------------------------------- uses:


def check_uses(path: Path, text: str, rep: Report) -> None:
    """Pinning, read from the raw lines so the version comment is visible."""
    for lineno, line in enumerate(text.splitlines(), 1):
        m = USES_LINE_RE.match(line)
        if not m:
            continue
        uses, comment = m.group(1).strip("'\""), m.group(2)
        where = f"line {lineno}"
        if uses.startswith("./"):
            continue
        if uses.startswith("docker://"):
            if "@sha256:" not in uses:
                rep.error(path, where, f"{uses} is not pinned to an image digest (@sha256:...)")
            continue
        if "@" not in uses:
            rep.error(path, where, f"{uses} is not pinned: add @<40-hex commit SHA> # vX.Y.Z")
            continue
        ref = uses.rsplit("@", 1)[1]
        if SHA_RE.match(ref):
            if not comment or not re.search(r"v\d", comment):
                rep.warn(path, where, f"{uses}: add the release as a comment (# vX.Y.Z)")
        elif SEMVER_RE.match(ref):
            rep.warn(path, where, f"{uses} is pinned to a tag only; prefer the commit SHA")
        else:
            rep.error(
                path,
                where,
                f"{uses} is not pinned: '{ref}' can move; use a 40-hex commit SHA (# vX.Y.Z)",
            )


# ---------------------------------------------------------------- run: scripts


def check_run(path: Path, where: str, script: str, root: Path, rep: Report) -> None:
    for m in SCRIPT_RE.finditer(script):
        rel = m.group(1)
        if "*" in rel or "$" in rel:
            continue
        target = root / rel
        if not target.exists():
            rep.error(path, where, f"calls {rel}, which does not exist")
            continue
        is_script = target.suffix in (".sh", ".py") or rel.startswith(".ci/")
        if target.is_file() and is_script and not os.access(target, os.X_OK):
            rep.error(path, where, f"calls {rel}, which is not executable (chmod +x)")
    if INJECTION_RE.search(script):
        rep.error(
            path,
            where,
            "an untrusted expression is pasted into the script (script injection): "
            "pass it through env: and use \"$VAR\"",
        )


# ---------------------------------------------------------------- matrix


def matrix_keys(job: dict) -> set[str] | None:
    """The job's matrix axes; None when the matrix is one opaque expression."""
    strategy = job.get("strategy")
    if not isinstance(strategy, dict) or "matrix" not in strategy:
        return set()
    matrix = strategy["matrix"]
    if isinstance(matrix, str):
        return None
    keys = {k for k in matrix if k not in ("include", "exclude")}
    for extra in matrix.get("include", []) or []:
        if isinstance(extra, dict):
            keys.update(extra)
    return keys


def check_matrix(path: Path, name: str, job: dict, rep: Report) -> None:
    keys = matrix_keys(job)
    if keys is None:
        rep.warn(path, f"job {name}", "the matrix is one expression: its keys cannot be checked")
        return
    used = set()
    for s in walk_strings({k: v for k, v in job.items() if k != "strategy"}):
        used.update(MATRIX_REF_RE.findall(s))
    for key in sorted(used - keys):
        if keys:
            rep.error(path, f"job {name}", f"uses matrix.{key}, which its matrix does not define")
        else:
            rep.error(path, f"job {name}", f"uses matrix.{key} but has no matrix")
    if not keys:
        return
    for i, step in enumerate(job.get("steps", []) or []):
        if not isinstance(step, dict):
            continue
        uses = step.get("uses", "")
        if not isinstance(uses, str) or action_name(uses) != UPLOAD_ARTIFACT:
            continue
        where = f"job {name}, step {step.get('name', i + 1)}"
        art = str((step.get("with") or {}).get("name", ""))
        missing = sorted(k for k in keys if not re.search(rf"\bmatrix\.{re.escape(k)}\b", art))
        if not art:
            rep.error(path, where, "artifact name missing in a matrix job: every cell would upload 'artifact'")
        elif missing:
            rep.error(
                path,
                where,
                f"artifact name '{art}' lacks matrix.{', matrix.'.join(missing)}: "
                "two cells would upload the same name",
            )


def check_upload_if(path: Path, where: str, step: dict, rep: Report) -> None:
    uses = step.get("uses", "")
    if isinstance(uses, str) and action_name(uses) == UPLOAD_ARTIFACT:
        cond = str(step.get("if", ""))
        if not re.search(r"always\(\)|failure\(\)|!\s*cancelled\(\)", cond):
            rep.error(path, where, "upload-artifact without if: always(): a failed run would upload nothing")


# ---------------------------------------------------------------- permissions


def perm_map(perms, path: Path, where: str, rep: Report) -> dict[str, str] | None:
    if perms is None:
        return None
    if isinstance(perms, str):
        if perms == "write-all":
            rep.error(path, where, "permissions: write-all; grant only the scopes needed")
            return {"*": "write"}
        if perms == "read-all":
            rep.warn(path, where, "permissions: read-all; prefer contents: read")
            return {"*": "read"}
        rep.error(path, where, f"unknown permissions value {perms!r}")
        return {}
    if isinstance(perms, dict):
        return {str(k): str(v) for k, v in perms.items()}
    rep.error(path, where, f"unknown permissions value {perms!r}")
    return {}


def check_permissions(path: Path, doc: dict, rep: Report) -> None:
    top = perm_map(doc.get("permissions"), path, "top level", rep)
    if top:
        for scope, level in top.items():
            if level == "write" and scope != "*":
                rep.error(
                    path,
                    "top level",
                    f"{scope}: write at the top level gives it to every job; grant it to the job that needs it",
                )
    jobs = doc.get("jobs") or {}
    for name, job in jobs.items():
        if not isinstance(job, dict):
            continue
        where = f"job {name}"
        own = perm_map(job.get("permissions"), path, where, rep)
        if own is None and top is None:
            rep.error(path, where, "no permissions declared (job or top level): the token gets the repository default")
            continue
        effective = own if own is not None else top
        needed: dict[str, set[str]] = {}
        for step in job.get("steps", []) or []:
            if isinstance(step, dict) and isinstance(step.get("uses"), str):
                act = action_name(step["uses"])
                for scope in ACTION_SCOPES.get(act, {}):
                    needed.setdefault(scope, set()).add(act)
        for scope, acts in sorted(needed.items()):
            if effective.get(scope) != "write" and effective.get("*") != "write":
                rep.error(path, where, f"{', '.join(sorted(acts))} needs {scope}: write, which the job lacks")
        if own:
            for scope, level in own.items():
                if level == "write" and scope not in needed:
                    rep.error(
                        path,
                        where,
                        f"{scope}: write is granted but no step of the job needs it (least privilege)",
                    )


# ---------------------------------------------------------------- files


def check_file(path: Path, root: Path, rep: Report) -> None:
    text = path.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        rep.error(path, "parse", str(e).replace("\n", " "))
        return
    if not isinstance(doc, dict):
        rep.error(path, "parse", "not a mapping")
        return
    check_uses(path, text, rep)
    if "runs" in doc:  # action.yml
        runs = doc.get("runs") or {}
        for i, step in enumerate(runs.get("steps", []) or []):
            if not isinstance(step, dict):
                continue
            where = f"step {step.get('name', i + 1)}"
            if isinstance(step.get("run"), str):
                check_run(path, where, step["run"], root, rep)
            check_upload_if(path, where, step, rep)
        used = set()
        for s in walk_strings(doc):
            used.update(MATRIX_REF_RE.findall(s))
        for key in sorted(used):
            rep.error(path, "action", f"uses matrix.{key}: an action has no matrix")
        return
    if "jobs" not in doc:
        rep.error(path, "parse", "neither a workflow (jobs:) nor an action (runs:)")
        return
    check_permissions(path, doc, rep)
    for name, job in (doc.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        check_matrix(path, name, job, rep)
        for i, step in enumerate(job.get("steps", []) or []):
            if not isinstance(step, dict):
                continue
            where = f"job {name}, step {step.get('name', step.get('uses', i + 1))}"
            if isinstance(step.get("run"), str):
                check_run(path, where, step["run"], root, rep)
            check_upload_if(path, where, step, rep)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="repository root (default: two levels above this file)")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args(argv)
    root = Path(args.root) if args.root else Path(__file__).resolve().parents[2]
    files = [Path(f) for f in args.files]
    if not files:
        wf = root / ".github" / "workflows"
        files = sorted(wf.glob("*.yml")) + sorted(wf.glob("*.yaml"))
        for name in ("action.yml", "action.yaml"):
            if (root / name).exists():
                files.append(root / name)
    if not files:
        print("check_workflows: no files to check", file=sys.stderr)
        return 2
    rep = Report()
    for f in files:
        if not f.is_file():
            print(f"check_workflows: {f}: no such file", file=sys.stderr)
            return 2
        check_file(f, root, rep)
    for w in rep.warnings:
        print(f"warning: {w}")
    for e in rep.errors:
        print(f"error: {e}")
    print(f"check_workflows: {len(files)} file(s), {len(rep.errors)} error(s), {len(rep.warnings)} warning(s)")
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
