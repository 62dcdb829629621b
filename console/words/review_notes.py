"""Whether a case's decision may be recorded (``rv.note.<code>``, ``review.views.CaseReview.decision_note_code``)."""

WORDS: dict[str, tuple[str, str]] = {
    "rv.note.not_major": ("非重大执法决定，无需法制审核。", "Not a major decision: no legal review needed."),
    "rv.note.major_unsubmitted": ("重大执法决定，须先提请法制审核。", "A major decision: submit it for legal review first."),
    "rv.note.in_review": ("第 {n} 轮法制审核进行中。", "Round {n} is under review."),
    "rv.note.passed": ("第 {n} 轮法制审核结论：{outcome}，可按审核通过的内容作出决定。",
                       "Round {n} ended {outcome}: the decision may be made as reviewed."),
    "rv.note.refused": ("第 {n} 轮法制审核结论：{outcome}，不得作出决定。", "Round {n} ended {outcome}: the decision may not be made."),
}
