"""Words of the dock dashboard (采集站) and the evidence page's player."""

WORDS: dict[str, tuple[str, str]] = {
    # the player: it reads nothing until playback starts
    "play.start": ("播放", "Play"),
    "js.play.from": ("按下播放后从 {t} 开始", "Plays from {t} when you press play"),
}
WORDS.update({
    # the dock dashboard: what is stored, said plainly
    "js.dock.archived_earlier": ("已归档 #{n}（之前已采集）", "archived #{n} (offloaded before)"),
    "js.dock.archived_earlier_plain": ("已归档（之前已采集）", "archived (offloaded before)"),
    "js.dock.duplicate_of": ("已归档 #{n}（内容相同，只存一份）", "archived #{n} (same content, stored once)"),
    "js.dock.archived_as": ("已归档 #{n}", "archived #{n}"),
    "js.dock.empty": ("空文件（0 字节）", "empty file (0 bytes)"),
    "js.dock.empty_reason": ("记录仪写入的文件没有任何内容（0 字节），无法播放；已照原样归档留痕。请检查记录仪的存储卡。",
                             "The recorder wrote a file with no content (0 bytes); it cannot be played and is archived "
                             "as it is. Check the recorder's memory card."),
    "js.dock.broken": ("文件已损坏", "damaged file"),
    "js.dock.unplayable": ("无法播放", "cannot be played"),
    "js.dock.speed": ("{speed}/秒", "{speed}/s"),
    "js.dock.eta": ("剩余约 {t}", "about {t} left"),
    "js.dock.assigned_by": ("（记录仪分配）", "(recorder assignment)"),
    "js.dock.from_file": ("（文件名）", "(file name)"),
    "js.dock.file_names": ("文件名中的警号：{no}", "officer number in the file names: {no}"),
    "js.dock.unknown": ("警号 {no} 不在人员名册中", "officer number {no} is not in the roster"),
    "js.dock.unknown_fix_assign": ("请把这台记录仪分配给正确的执法人员：", "Assign this recorder to the right officer:"),
    "js.dock.unknown_fix_add": ("或把 {no} 加入名册：", "or add {no} to the roster:"),
    "js.dock.unknown_ask": ("如果 {no} 是本单位人员，请管理员在人员名册中添加。", "If {no} is one of your officers, ask an "
                            "administrator to add them to the roster."),
    "js.dock.name": ("姓名", "Name"),
    "js.dock.add": ("加入名册", "Add to roster"),
    "js.dock.added": ("已加入名册", "Added to the roster"),
    "js.dock.marked": ("已标记为重点", "Marked important"),
    "js.dock.unmarked": ("已取消重点", "Unmarked"),
    "js.dock.assigned_to": ("已分配给 {name}", "Assigned to {name}"),
    "js.dock.unassigned_done": ("已取消分配", "Assignment removed"),
})
