"""Words of the error page (``error.html``): the sentence itself comes from the error (``Said``)."""

WORDS: dict[str, tuple[str, str]] = {
    "error.title.not_found": ("找不到", "Not found"),
    "error.title.forbidden": ("无权操作", "Not allowed"),
    "error.title.invalid": ("填写有误", "Not valid"),
    "error.title.conflict": ("暂不能这样做", "Not possible now"),
    "error.title.gone": ("已不存在", "Gone"),
    "error.title.unavailable": ("暂时无法完成", "Not available right now"),
    "error.code": ("错误代码：", "Error code: "),
    "error.home": ("返回首页", "Go to the start page"),
    "error.back_to": ("返回上一页", "Back to the previous page"),
    "error.search": ("到证据检索查找", "Look for it in evidence search"),
    "error.cases": ("到案件列表查找", "Look for it in the case list"),
    "error.login": ("登录", "Sign in"),
}
