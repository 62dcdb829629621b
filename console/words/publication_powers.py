"""The console page 权责清单与执法流程 (``/publication/powers``, ``console.publication_powers``)."""

WORDS: dict[str, tuple[str, str]] = {
    "pp.title": ("权责清单与执法流程", "Powers and procedures"),
    "pp.intro": ("此处上传的文件立即在公示网站公示。同一单位同一名称的文件再次上传即为新版本，旧版本作为历史版本保留。",
                 "A document uploaded here is public at once. Uploading the same title for the same "
                 "unit again makes a new version; older versions stay listed as history."),
    "pp.public": ("查看公示页面", "See the public page"),
    "pp.upload": ("上传文件或新版本", "Upload a document or a new version"),
    "pp.file": ("文件（PDF，或不含网页标记的 UTF-8 纯文本，最大 20MB）",
                "File (PDF, or UTF-8 plain text/Markdown without HTML, at most 20 MB)"),
    "pp.doc_title": ("名称", "Title"),
    "pp.kind": ("类别", "Kind"),
    "pp.unit": ("单位", "Unit"),
    "pp.kind.powers": ("权责清单", "List of powers and duties"),
    "pp.kind.procedure": ("执法流程", "Enforcement procedure"),
    "pp.kind.guide": ("服务指南", "Service guide"),
    "pp.kind.other": ("其他", "Other"),
    "pp.note": ("本版说明（可选）", "What changed (optional)"),
    "pp.submit": ("上传并公示", "Upload and publish"),
    "pp.version": ("版本", "Version"),
    "pp.uploaded": ("上传时间", "Uploaded"),
    "pp.by": ("上传人", "By"),
    "pp.size": ("大小", "Size"),
    "pp.current": ("现行", "Current"),
    "pp.history": ("历史", "History"),
    "pp.state": ("状态", "State"),
    "pp.none": ("尚未上传文件。", "No document uploaded yet."),
    "pp.done.uploaded": ("已上传并公示。", "Uploaded and published."),
    "pp.no_publish": ("您可以查看，但上传需要「发布公示」权限（法制审核人员、档案管理员）。",
                      "You may read this list; uploading needs the publish permission (legal reviewers, records "
                      "managers)."),
}
