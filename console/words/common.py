"""Words every page shares."""

WORDS: dict[str, tuple[str, str]] = {
    "js.failed": ("操作未成功：{why}", "That did not work: {why}"),
    "js.saving": ("正在保存…", "Saving…"),
}
