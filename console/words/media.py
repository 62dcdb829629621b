"""Media words: kinds of file, where a recording's time came from, and why a file cannot be played
(``unplayable.<code>``, the codes of ``media.errors.unplayable_code``)."""

WORDS: dict[str, tuple[str, str]] = {
    "media.kind.video": ("视频", "video"),
    "media.kind.audio": ("音频", "audio"),
    "media.kind.photo": ("照片", "photo"),
    "media.kind.sidecar": ("附属文件", "sidecar file"),
    "media.kind.other": ("其他文件", "other file"),
    "ev.source.container": ("取自文件内的时间", "from the file's own metadata"),
    "ev.source.file_name": ("取自文件名", "from the file name"),
    "ev.source.axis": ("取自记录仪索引文件", "from the recorder's index file"),
    "unplayable.empty": ("文件为空（0 字节）", "the file is empty (0 bytes)"),
    "unplayable.truncated": ("文件不完整（被截断）", "the file is cut off (truncated)"),
    "unplayable.wrong_format": ("文件内容与扩展名不符", "the content is not what its name says"),
    "unplayable.stored_report": ("保存的媒体解析报告无法读取", "the stored probe report could not be read"),
    "unplayable.timeout": ("媒体解析超时", "probing the file timed out"),
    "unplayable.bad_report": ("媒体解析结果无法读取", "the probe report could not be read"),
    "unplayable.unreadable": ("无法读取该媒体文件（格式损坏或不受支持）", "the media could not be read (damaged or unsupported)"),
    "unplayable.no_stream": ("文件中没有音频或视频", "there is no audio or video in the file"),
    "unplayable.no_size": ("视频没有画面尺寸", "the video has no picture size"),
    "unplayable.no_duration": ("无法确定时长", "its length could not be found"),
    "unplayable.render": ("无法生成可播放的代理文件", "no playable copy could be made"),
    "unplayable.other": ("无法播放", "it cannot be played"),
    "unplayable.kept": ("原始文件未改动，仍可下载和校验。", "The original is kept unchanged and can still be downloaded and verified."),
}

WORDS.update({
    "derived.proxy": ("可播放的代理文件", "playable copy"),
    "derived.preview": ("预览图", "preview"),
    "derived.poster": ("封面", "poster"),
    "derived.sprite": ("缩略图拼图", "thumbnail sheet"),
    "derived.vtt": ("缩略图索引", "thumbnail index"),
    "derived.waveform": ("波形图", "waveform"),
    "derived.path.remux": ("直接封装（未重新编码）", "remuxed (not re-encoded)"),
    "derived.path.transcode": ("重新编码", "transcoded"),
})
