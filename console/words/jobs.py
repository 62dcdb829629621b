"""The jobs page (/jobs): kinds of job, their states and the step a running job is on, for
console.js (``js.job.…``)."""

WORDS: dict[str, tuple[str, str]] = {
    "jobs.file": ("文件", "File"),
    "js.jobs.none": ("没有任务。", "No jobs."),
    "js.job.kind.probe": ("解析媒体信息", "probe the media"),
    "js.job.kind.proxy": ("生成可播放的代理文件", "make the playable copy"),
    "js.job.kind.previews": ("生成封面与缩略图", "make the poster and thumbnails"),
    "js.job.state.pending": ("等待中", "waiting"),
    "js.job.state.running": ("处理中", "running"),
    "js.job.state.done": ("已完成", "done"),
    "js.job.state.failed": ("失败", "failed"),
    "js.job.note.proxy": ("转码", "transcoding"),
    "js.job.note.poster": ("封面", "poster"),
    "js.job.note.thumbnails": ("缩略图", "thumbnails"),
    "js.job.note.recording": ("保存结果", "recording the result"),
    "js.job.error": ("未成功，将自动重试或需人工处理；详情见任务记录。", "Did not succeed; it is retried or needs a person. Details in the job's log."),
}
