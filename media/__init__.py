"""The media stage: probe an original with ffprobe, render browser copies and stills with ffmpeg.

Plain functions of a local path; they never change the original, write only into the folder
they are given, and record the exact command and tool version of every run. The job queue
decides where the files go and which custody events they produce (``media.service``).

Modules: ``ffmpeg`` (bounded runs, tool versions), ``probe``, ``render``, ``gps`` (sidecars),
``service`` (the job handlers), ``errors``.
"""
