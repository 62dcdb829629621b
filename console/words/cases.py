"""Words of the case pages, the evidence page's cases and notes, and the case picker (console.js)."""

WORDS: dict[str, tuple[str, str]] = {
    # case list and case page
    "case.opened_at": ("立案时间", "Opened"),
    "case.closed_at": ("已于 {t} 结案", "Closed on {t}"),
    "case.reopen": ("恢复办理", "Reopen"),
    "case.officer": ("{name}（{no}）", "{name} ({no})"),
    # the evidence page: the cases it is linked to, its notes
    "evcase.title": ("关联案件", "Cases"),
    "evcase.none": ("尚未关联到您可查看的案件。", "Not linked to any case you may see."),
    "evcase.case": ("案件", "Case"),
    "evcase.step": ("环节", "Step"),
    "evcase.part": ("关联部分", "Part linked"),
    "evcase.whole": ("整段录像", "the whole recording"),
    "evcase.from": ("自第 {a} 起", "from {a}"),
    "evcase.range": ("第 {a} 至 {b}", "{a} to {b}"),
    "evcase.linked": ("关联人 / 时间", "Linked by / when"),
    "evcase.link": ("关联到案件环节…", "Link to a case step…"),
    "evcase.note_by": ("{who} · {t}", "{who} · {t}"),
    # console.js: confirmations, the case picker
    "js.case.cancel": ("取消", "Cancel"),
    "js.case.close.title": ("结案", "Close the case"),
    "js.case.close.body": ("结案后，本案的环节、关联录像和文书都不能再更改；关联录像的保存期限自结案之日起按案件类别计算。"
                           "如需再改，须由有权限的人员说明理由后恢复办理。结案记入保管链。",
                           "Once closed, the case's steps, linked recordings and documents cannot be changed; its "
                           "recordings are kept for its category's period counted from today. To change it later, "
                           "someone entitled must reopen it with a reason. The closing goes into the custody log."),
    "js.case.close.checking": ("正在进行全过程记录检查…", "Running the coverage check…"),
    "js.case.close.problems": ("全过程记录检查发现 {n} 个环节的问题尚未解决：",
                               "The coverage check found open problems in {n} step(s):"),
    "js.case.close.anyway": ("仍可结案：这些问题将原样记入结案的保管链记录，结案后不能再补关联录像。",
                             "You may still close it: these problems are recorded as they stand in the closing's "
                             "custody event, and no recording can be linked once it is closed."),
    "js.case.close.ok": ("全过程记录检查通过，没有未解决的问题。", "The coverage check passed: no open problems."),
    "js.case.close.go": ("确认结案", "Close the case"),
    "js.case.close.go_anyway": ("仍然结案", "Close it anyway"),
    "js.case.unlink.title": ("取消关联", "Unlink the recording"),
    "js.case.unlink.body": ("将录像 #{id}（{name}）与「{step}」环节取消关联。关联不会被删除，而是标记为已结束，并记入该录像的保管链；"
                            "该环节的全过程记录检查随之重新计算。",
                            "Recording #{id} ({name}) will be unlinked from the step {step}. The link is not "
                            "deleted but marked as ended, in the recording's custody log; the step's coverage is "
                            "checked again."),
    "js.case.unlink.go": ("确认取消关联", "Unlink"),
    "js.case.reopen.title": ("恢复办理", "Reopen the case"),
    "js.case.reopen.body": ("本案将恢复为「办理中」，可再添加环节、关联录像和文书；关联的录像在再次结案前一直保存。"
                            "理由连同您的姓名和时间记入保管链。",
                            "The case will be open again: steps, recordings and documents can be added; its "
                            "recordings are kept until it is closed once more. The reason, with your name and the "
                            "time, goes into the custody log."),
    "js.case.reopen.reason": ("理由（必填），例如：行政复议决定撤销重作", "Reason (required), e.g. an appeal's ruling"),
    "js.case.reopen.need": ("请填写恢复办理的理由。", "Give the reason for reopening."),
    "js.case.reopen.go": ("确认恢复办理", "Reopen"),
    "js.case.note.title": ("添加备注", "Add a note"),
    "js.case.note.body": ("备注添加后不能修改或删除，将以您的姓名和当前时间附在证据上，并记入保管链：",
                          "A note cannot be changed or removed once added; it is attached to the evidence with your "
                          "name and the time, and goes into the custody log:"),
    "js.case.note.go": ("确认添加", "Add the note"),
    "js.case.important.title": ("重点标记", "Important mark"),
    "js.case.important.on": ("将此证据标记为重点：按「重点标记」的保存期限保存，并记入保管链。",
                             "Mark this evidence important: it is kept for the important mark's period; the mark "
                             "goes into the custody log."),
    "js.case.important.off": ("取消此证据的重点标记：它将不再按「重点标记」的期限保存，可能更早到期；此操作记入保管链。",
                              "Unmark this evidence: it is no longer kept for the important mark's period and may "
                              "fall due sooner; this goes into the custody log."),
    "js.case.important.go": ("确认", "Confirm"),
    "js.case.pick.title": ("关联到案件环节", "Link to a case step"),
    "js.case.pick.what": ("要关联的录像：{ids}", "Recordings to link: {ids}"),
    "js.case.pick.q": ("案件编号、案件名称或当事人", "Case number, title or party"),
    "js.case.pick.find": ("查找", "Find"),
    "js.case.pick.open_only": ("只列出您所在单位办理中的案件。", "Only open cases of your units are listed."),
    "js.case.pick.none": ("没有符合条件的办理中案件。", "No open case matches."),
    "js.case.pick.no_steps": ("此案件还没有环节：请先在案件页添加环节。", "This case has no step yet: add one on the case page."),
    "js.case.pick.choose": ("选择", "Choose"),
    "js.case.pick.confirm": ("将 {n} 段录像关联到案件 {number}「{title}」的「{step}」环节（{start} – {end}）。"
                             "每次关联都记入录像的保管链；关联后可在案件页取消关联（取消同样记入）。",
                             "{n} recording(s) will be linked to the step {step} ({start} – {end}) of case "
                             "{number}, {title}. Each link goes into the recording's custody log; it can be "
                             "unlinked on the case page (which is recorded too)."),
    "js.case.pick.go": ("确认关联", "Link"),
    "js.case.pick.back": ("重新选择", "Choose again"),
    "js.case.pick.done": ("已关联 {n} 段录像。", "{n} recording(s) linked."),
    "js.case.pick.failed": ("录像 #{id} 未能关联：{why}", "Recording #{id} was not linked: {why}"),
    "js.case.pick.officers": ("执法人员：{names}", "Officers: {names}"),
    "js.case.pick.parties": ("当事人：{names}", "Parties: {names}"),
}
