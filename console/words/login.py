"""The sign-in page's refusals, by the error's stable code (``login.err.<code>``): the page shows
the word of the user's language, the API and the custody log keep the code."""

WORDS: dict[str, tuple[str, str]] = {
    "login.err.auth_failed": ("用户名或密码错误。请稍后重试；连续错误后每次重试需等待更久。",
                              "Wrong user name or password. Try again; after several failures each new try must wait longer."),
    "login.err.account_disabled": ("账户已停用。请联系系统管理员启用。", "This account is disabled. Ask an administrator to enable it."),
    "login.err.password_change_required": ("密码已被管理员重置：请设置新密码后登录。",
                                           "Your password was reset: choose a new one to sign in."),
    "login.err.session_expired": ("会话已结束，请重新登录。", "Your session has ended; sign in again."),
    "login.err.busy": ("登录繁忙，请稍后重试。", "Too many sign-ins are being checked right now; try again in a moment."),
    "login.err.invalid_account": ("新密码不符合要求，请换一个。", "The new password cannot be used; choose another."),
    "login.err.same_password": ("新密码不能与原密码相同。", "The new password is the old one; choose a different one."),
    "login.err.weak_password": ("新密码不符合要求，请换一个。", "The new password cannot be used; choose another."),
    "login.err.weak.short": ("新密码太短：至少需要 {n} 个字符（可用几个不相关的词组成）。",
                             "The new password is too short: at least {n} characters (several unrelated words work)."),
    "login.err.weak.long": ("新密码太长，请缩短。", "The new password is too long; choose a shorter one."),
    "login.err.weak.repeated": ("新密码不同字符太少，请不要使用重复的模式。",
                                "The new password uses too few different characters; avoid repeated patterns."),
    "login.err.weak.name": ("新密码不能包含用户名。", "The new password must not contain the user name."),
    "login.err.weak.common": ("新密码是常见密码，请换一个别人不太可能用的。",
                              "The new password is a common one; choose one nobody else is likely to use."),
    "login.err.form_expired": ("表单已失效，请刷新页面后重新登录。", "The form expired; reload the page and sign in again."),
    "login.err.passwords_differ": ("两次输入的新密码不同，请输入相同的新密码。", "The two new passwords differ; type the same one twice."),
    "home.no_page": ("您的角色在此没有可用的页面。", "Your role has no page here."),
}
