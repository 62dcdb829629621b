"""The media stage: probe an original with ffprobe, render browser copies and stills with ffmpeg.

Plain functions of a local path; they never change the original, write only into the folder
they are given, and record the exact command and tool version of every run. The job queue
decides where the files go and which custody events they produce.
"""

from media.errors import MediaError, Unplayable
from media.ffmpeg import RunResult, run, tool_version
from media.probe import AudioInfo, Probe, VideoInfo, gps_track, probe
from media.render import Rendered, poster, proxy, thumbnails, waveform

__all__ = [
    "AudioInfo", "MediaError", "Probe", "Rendered", "RunResult", "Unplayable", "VideoInfo",
    "gps_track", "poster", "probe", "proxy", "run", "thumbnails", "tool_version", "waveform",
]
