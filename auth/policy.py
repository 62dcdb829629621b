"""Roles, what each may do, and which units' evidence a user may see.

Permissions (✓ = allowed; every other action is refused):

| action                     | operator | investigator | legal_reviewer | records_manager | auditor | admin |
|----------------------------|:--------:|:------------:|:--------------:|:---------------:|:-------:|:-----:|
| dock.view                  |    ✓     |              |                |                 |         |   ✓   |
| dock.mark_important        |    ✓     |              |                |                 |         |       |
| recorder.assign            |    ✓     |              |                |                 |         |   ✓   |
| jobs.view                  |    ✓     |              |                |        ✓        |         |   ✓   |
| evidence.search            |    ✓     |      ✓       |       ✓        |        ✓        |    ✓    |       |
| evidence.view (metadata)   |    ✓     |      ✓       |       ✓        |        ✓        |    ✓    |       |
| evidence.play              |    ✓     |      ✓       |       ✓        |        ✓        |         |       |
| evidence.download_original |          |      ✓       |       ✓        |        ✓        |         |       |
| evidence.export            |          |      ✓       |       ✓        |        ✓        |         |       |
| evidence.verify            |          |      ✓       |       ✓        |        ✓        |         |       |
| evidence.annotate          |    ✓     |      ✓       |       ✓        |        ✓        |         |       |
| custody.view               |          |      ✓       |       ✓        |        ✓        |    ✓    |       |
| audit.view                 |          |              |                |                 |    ✓    |   ✓   |
| users.manage               |          |              |                |                 |         |   ✓   |
| officers.manage            |          |              |                |        ✓        |         |   ✓   |
| cases.view                 |          |      ✓       |       ✓        |        ✓        |    ✓    |       |
| cases.manage               |          |      ✓       |                |        ✓        |         |       |
| cases.documents            |          |      ✓       |       ✓        |        ✓        |         |       |
| cases.personal_data        |          |      ✓       |       ✓        |        ✓        |         |       |
| retention.view             |          |              |       ✓        |        ✓        |    ✓    |       |
| retention.classify         |          |      ✓       |                |        ✓        |         |       |
| retention.hold             |          |              |       ✓        |        ✓        |         |       |
| retention.restore          |          |      ✓       |       ✓        |        ✓        |         |       |
| retention.dispose          |          |              |                |        ✓        |         |       |
| review.view                |          |      ✓       |       ✓        |        ✓        |    ✓    |       |
| review.submit              |          |      ✓       |                |        ✓        |         |       |
| review.mark                |          |      ✓       |       ✓        |        ✓        |         |       |
| review.decide              |          |              |       ✓        |                 |         |       |
| review.figures             |          |              |       ✓        |        ✓        |    ✓    |       |
| redaction.edit             |          |      ✓       |                |        ✓        |         |       |
| redaction.approve          |          |              |       ✓        |        ✓        |         |       |
| redaction.release          |          |      ✓       |       ✓        |        ✓        |         |       |
| publication.view           |          |      ✓       |       ✓        |        ✓        |    ✓    |       |
| publication.publish        |          |              |       ✓        |        ✓        |         |       |

Redaction (隐私遮蔽): investigators and records managers make the plan of what to hide in a recording
(``redaction.edit``); a legal reviewer or records manager who made no change to that plan version
approves it (``redaction.approve``); only an approved redacted copy is released — downloaded or put in
a release bag — by whoever works with the evidence (``redaction.release``). Publication (公示): whoever
reads cases sees the notices drafted and due (``publication.view``); legal reviewers and records
managers publish, mask and withdraw them (``publication.publish``).

Administration (系统管理): the administrator manages accounts, units and stations (``users.manage``) and
assigns recorders to officers (``recorder.assign``, as the dock operator does) in their own units;
administrators and records managers keep the roster of officers and their certificates
(``officers.manage``).

Separation of duties: the administrator manages accounts, docks and jobs but neither sees nor
plays evidence, so that whoever can create accounts cannot also quietly watch or take footage;
the auditor reads the audit trail, custody log and evidence metadata but cannot play or take
media, and sees a case's text records listed but not their bytes (``cases.documents``), and its
parties masked (``cases.personal_data``: 张*, 1101**********1234). The operator at the docking station may play what their own units recorded (to mark it
important) but cannot take originals away.

Legal reviewers read cases and their records and footage at review time (调阅审核) but do not
change the case file; investigators and records managers build it.

Retention (档案管理): records managers run it — the rules in force, holds, the pending-disposal
queue (schedule, approve) and the destruction log (``retention.view``, ``retention.dispose``);
legal reviewers may also place and release legal holds (``retention.hold``); whoever works with
the evidence may restore it from pending disposal with a reason (``retention.restore``);
investigators and records managers set an evidence's retention class (``retention.classify``).
Everyone who may view evidence sees its retention and holds on the evidence page. A destruction
needs two people: whoever scheduled it (when a person did) and an approver who is never that
person (``retention.disposal``).

Legal review (法制审核): the handling unit (investigators, records managers) submits a proposed
decision (``review.submit``); legal reviewers open, answer the checklist and decide
(``review.decide``), never on a case they handled or took part in as an officer, and a first-time
reviewer of penalty decisions only with 法律职业资格 (``review.service.may_review``). Whoever may
read cases sees the rounds (``review.view``); the figures (``review.figures``) are for reviewers,
records managers and auditors. A case is marked major by hand, with a reason, by a handler or a
reviewer (``review.mark``).

Every permission on evidence is further bounded by units: a user sees evidence only of
``visible_units`` — their own unit and the units below it, plus units granted to them
(``UnitGrant``) and the units below those. Roles do not widen this: an administrator or auditor
placed in the top unit of a tree sees the whole tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.errors import Forbidden
from liuhen.words import said

if TYPE_CHECKING:
    from auth.models import User

ROLES: tuple[str, ...] = ("operator", "investigator", "legal_reviewer", "records_manager", "auditor", "admin")

ROLE_LABELS: dict[str, str] = {
    "operator": "采集站操作员",
    "investigator": "调查人员",
    "legal_reviewer": "法制审核人员",
    "records_manager": "档案管理员",
    "auditor": "审计人员",
    "admin": "系统管理员",
}

ACTIONS: frozenset[str] = frozenset({
    "dock.view", "dock.mark_important", "recorder.assign",
    "evidence.search", "evidence.view", "evidence.play", "evidence.download_original",
    "evidence.export", "evidence.verify",
    "custody.view", "audit.view", "users.manage", "jobs.view", "evidence.annotate", "officers.manage",
    "cases.view", "cases.manage", "cases.documents", "cases.personal_data",
    "retention.view", "retention.classify", "retention.hold", "retention.restore", "retention.dispose",
    "review.view", "review.submit", "review.mark", "review.decide", "review.figures",
    "redaction.edit", "redaction.approve", "redaction.release", "publication.view", "publication.publish",
})

# what each permission lets one do, in words (a refusal names it; the code stays in the English)
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "dock.view": ("查看采集站", "see the docking stations"),
    "dock.mark_important": ("标记重点录像", "mark recordings important"),
    "recorder.assign": ("分配执法记录仪", "assign recorders"),
    "evidence.search": ("检索证据", "search evidence"),
    "evidence.view": ("查看证据", "view evidence"),
    "evidence.play": ("播放录像", "play recordings"),
    "evidence.download_original": ("下载原始文件", "download originals"),
    "evidence.export": ("导出证据", "export evidence"),
    "evidence.verify": ("校验证据", "verify evidence"),
    "custody.view": ("查看保管记录", "read custody logs"),
    "audit.view": ("查看审计记录", "read the audit trail"),
    "users.manage": ("管理账户、单位和采集站", "manage accounts, units and stations"),
    "jobs.view": ("查看处理任务", "see the jobs"),
    "evidence.annotate": ("为证据添加标签和备注", "tag and annotate evidence"),
    "officers.manage": ("管理执法人员名册", "keep the officers' roster"),
    "cases.view": ("查看案件", "read cases"),
    "cases.manage": ("办理案件", "work on cases"),
    "cases.documents": ("查看执法文书", "read case documents"),
    "cases.personal_data": ("查看当事人个人信息", "see parties' personal data"),
    "retention.view": ("查看保存期限", "see retention"),
    "retention.classify": ("设定保存期限类别", "set retention classes"),
    "retention.hold": ("设置和解除保全", "place and release legal holds"),
    "retention.restore": ("撤回待销毁项", "restore items pending destruction"),
    "retention.dispose": ("批准销毁", "approve destruction"),
    "review.view": ("查看法制审核", "read legal reviews"),
    "review.submit": ("提请法制审核", "submit cases for legal review"),
    "review.mark": ("认定重大执法决定", "mark decisions major"),
    "review.decide": ("作出法制审核意见", "decide legal reviews"),
    "review.figures": ("查看法制审核统计", "see legal review figures"),
    "redaction.edit": ("编辑隐私遮蔽方案", "edit redaction plans"),
    "redaction.approve": ("审批隐私遮蔽方案", "approve redaction plans"),
    "redaction.release": ("提供遮蔽后的副本", "release redacted copies"),
    "publication.view": ("查看执法公示", "see publication notices"),
    "publication.publish": ("发布和撤回执法公示", "publish and withdraw notices"),
}

_EVIDENCE_READ = frozenset({"evidence.search", "evidence.view"})
_EVIDENCE_WORK = _EVIDENCE_READ | {"evidence.play", "evidence.download_original", "evidence.export",
                                   "evidence.verify", "custody.view", "evidence.annotate"}

_CASE_READ = frozenset({"cases.view", "cases.documents", "cases.personal_data"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset({"dock.view", "dock.mark_important", "recorder.assign", "jobs.view",
                           "evidence.play", "evidence.annotate"}) | _EVIDENCE_READ,
    "investigator": _EVIDENCE_WORK | _CASE_READ | {"cases.manage", "retention.classify", "retention.restore",
                                                   "review.view", "review.submit", "review.mark", "redaction.edit",
                                                   "redaction.release", "publication.view"},
    "legal_reviewer": _EVIDENCE_WORK | _CASE_READ | {"retention.view", "retention.hold", "retention.restore",
                                                     "review.view", "review.mark", "review.decide", "review.figures",
                                                     "redaction.approve", "redaction.release", "publication.view",
                                                     "publication.publish"},
    "records_manager": _EVIDENCE_WORK | _CASE_READ | {"jobs.view", "officers.manage", "cases.manage",
                                                      "retention.view", "retention.classify", "retention.hold",
                                                      "retention.restore", "retention.dispose", "review.view",
                                                      "review.submit", "review.mark", "review.figures",
                                                      "redaction.edit", "redaction.approve", "redaction.release",
                                                      "publication.view", "publication.publish"},
    "auditor": frozenset({"audit.view", "custody.view", "cases.view", "retention.view", "review.view",
                          "review.figures", "publication.view"}) | _EVIDENCE_READ,
    "admin": frozenset({"users.manage", "officers.manage", "recorder.assign", "jobs.view", "dock.view",
                        "audit.view"}),
}


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action``. An unknown role may do nothing.

    An action not in ``ACTIONS`` is a programming error (a typo would otherwise refuse
    silently), so it raises ``ValueError``.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known actions: {', '.join(sorted(ACTIONS))}")
    return action in PERMISSIONS.get(role, frozenset())


def require(role: str, action: str) -> None:
    """Return if ``role`` may perform ``action``, else raise ``Forbidden`` with a sentence to act on."""
    if not allowed(role, action):
        label = ROLE_LABELS.get(role, role)
        zh, en = ACTION_LABELS.get(action, ("执行此操作", action))
        what = said(f"角色「{label}」无权{zh}", f"The {role} role may not {en} ({action}).")
        if role == "admin":  # there is no administrator above them to ask: say why the role stops here
            raise Forbidden(what, said("职责分离：系统管理员管理账户、单位和采集站，但不查看、不播放证据，也不办理案件；"
                                       "如需此操作，请用具有相应角色的账户登录。",
                                       "Administrators manage accounts, units and stations but neither see nor play "
                                       "evidence nor work cases (separation of duties); sign in with an account "
                                       "whose role allows it."))
        raise Forbidden(what, said("如确需此操作，请联系系统管理员调整角色。",
                                   "If you need it, ask an administrator for a role that allows it."))


def visible_units(db: Session, user: User) -> set[int]:
    """Ids of the units whose evidence ``user`` may see: own unit and granted units, each with
    every unit below it in the unit tree."""
    from auth.models import Unit, UnitGrant  # models import ROLES from this module

    roots = select(UnitGrant.unit_id).where(UnitGrant.user_id == user.id).union(
        select(Unit.id).where(Unit.id == user.unit_id))
    tree = select(Unit.id).where(Unit.id.in_(roots)).cte("visible", recursive=True)
    tree = tree.union(select(Unit.id).join(tree, Unit.parent_id == tree.c.id))
    return set(db.scalars(select(tree.c.id)))
