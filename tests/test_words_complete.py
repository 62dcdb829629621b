"""Every custody action and outcome the code can record has a word in the console's catalogue
(``action.<code>`` / ``outcome.<code>``, console/words/custody.py), so no custody log, audit page or
evidence page ever shows a bare English code to a Chinese reader.

The codes are collected from the sources themselves (an AST walk, not a hand list): every call of a
custody recorder (``custody.record``, ``access.record``, ``write_event``, the packages' ``_event``
helpers) with its ``action`` — a string, either branch of ``a if … else b``, or a local variable and
every string assigned to it in the same function. An action the walk cannot read (an expression it
does not know) fails the test until it is listed in ``COMPUTED`` with every value it can take.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from console.i18n import WORDS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "app", "archive", "auth", "cases", "console", "hashing", "ingest", "integrity", "jobs",
            "liuhen", "media", "redaction", "retention", "review", "roster")
RECORDERS = {"record", "write_event", "_event", "append"}  # the functions that write a custody event

# actions computed by an expression: the expression as written, and every value it can take
COMPUTED = {
    "f'{step}_failed'": {"probe_failed", "render_failed", "previews_failed"},  # media/service.py: _unplayable(step=…)
}
# a parameter passed straight through by a recorder helper (its callers are read instead)
PASS_THROUGH = {"action", "body.action"}


def _strings(e: ast.expr, fn: ast.AST | None) -> list[str] | None:
    if isinstance(e, ast.Constant) and isinstance(e.value, str):
        return [e.value]
    if isinstance(e, ast.IfExp):
        a, b = _strings(e.body, fn), _strings(e.orelse, fn)
        return None if a is None or b is None else a + b
    if isinstance(e, ast.Name) and fn is not None:
        found: list[str] = []
        for n in ast.walk(fn):
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == e.id for t in n.targets):
                s = _strings(n.value, None)
                if s is None:
                    return None
                found += s
        return found or None
    return None


def _positions(tree: ast.Module) -> dict[str, int]:
    """The positional index of ``action`` in each function of a module that takes one."""
    out: dict[str, int] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            names = [a.arg for a in n.args.posonlyargs + n.args.args]
            if "action" in names:
                out[n.name] = names.index("action")
    return out


def recorded(kind: str = "action") -> dict[str, str]:
    """code -> where it is recorded first (path:line), for ``kind`` ``action`` or ``outcome``."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p))
             for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    access_pos = _positions(trees[ROOT / "api" / "access.py"])
    codes: dict[str, str] = {}
    unread: list[str] = []
    for path, tree in trees.items():
        local = _positions(tree)
        funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for fn in funcs:
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call):
                    continue
                f = call.func
                name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
                if name not in RECORDERS:
                    continue
                arg = next((k.value for k in call.keywords if k.arg == kind), None)
                if arg is None and kind == "action":
                    pos = local.get(name)
                    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "access":
                        pos = access_pos.get(name)
                    if pos is not None and pos < len(call.args):
                        arg = call.args[pos]
                if arg is None:
                    continue
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                text = ast.unparse(arg)
                values = _strings(arg, fn)
                if values is None and text in COMPUTED:
                    values = sorted(COMPUTED[text])
                if values is None:
                    if text not in PASS_THROUGH and not (kind == "outcome" and text == "outcome"):
                        unread.append(f"{where}: {kind}={text}")
                    continue
                for v in values:
                    codes.setdefault(v, where)
    assert not unread, "custody codes the test cannot read; list their values in COMPUTED:\n" + "\n".join(unread)
    return codes


def test_the_walk_finds_the_actions_it_should():
    # a check on the walk itself: codes recorded each of the ways the walk reads
    codes = recorded()
    for code in ("offloaded", "played", "access_denied", "not_found", "case_closed", "station_enrolled",
                 "station_token_reissued", "render_failed", "wiped_from_recorder", "released", "searched",
                 "signed_in", "review_submitted", "tagged"):
        assert code in codes, code
    assert "store_true" not in codes and "evidence.play" not in codes  # (argparse; a permission)


def test_every_custody_action_has_a_word():
    missing = {c: where for c, where in recorded().items() if f"action.{c}" not in WORDS}
    assert not missing, "custody actions without a word in console/words/custody.py: " + repr(missing)


def test_every_custody_outcome_has_a_word():
    outcomes = recorded("outcome")
    assert {"success", "failure", "denied"} <= set(outcomes)
    missing = {c: where for c, where in outcomes.items() if f"outcome.{c}" not in WORDS}
    assert not missing, "custody outcomes without a word in console/words/custody.py: " + repr(missing)


def test_every_permission_has_words_for_a_refusal():
    """A refusal names what the role may not do in words (``auth.policy.ACTION_LABELS``), never by code alone."""
    from auth.policy import ACTION_LABELS, ACTIONS

    assert set(ACTION_LABELS) == set(ACTIONS)
    for zh, en in ACTION_LABELS.values():
        assert zh and en and not re.search(r"[A-Za-z]", zh) and not re.search(r"[\u4e00-\u9fff]", en)
