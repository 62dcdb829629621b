"""Words of the dock dashboard (采集站) and the evidence page's player."""

WORDS: dict[str, tuple[str, str]] = {
    # the player: it reads nothing until playback starts
    "play.start": ("播放", "Play"),
    "js.play.from": ("按下播放后从 {t} 开始", "Plays from {t} when you press play"),
}
