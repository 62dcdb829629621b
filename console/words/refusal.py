"""Why the dock refused, queued or interrupted a file (``js.refusal.<code>``): the codes of
``ingest`` (``FileResult.reason_code``: an error's ``code``, or the station's own), shown by the
dock page through ``Wc('refusal', code)``; the English sentence with the details stays the cell's
title and the API's ``reason``."""

WORDS: dict[str, tuple[str, str]] = {
    # found while scanning a bay (ingest/scan.py)
    "js.refusal.folder_unreadable": ("文件夹无法读取（权限不足），文件仍在记录仪上",
                                     "the folder cannot be read (permission denied); its files stay on the recorder"),
    "js.refusal.symlink": ("这是符号链接，不予读取", "it is a symbolic link; links are never followed"),
    "js.refusal.outside_bay": ("文件指向仓位以外的位置，不予读取", "it resolves to a place outside its bay"),
    "js.refusal.not_a_file": ("不是录像文件，未打开", "it is not a recording; it was not opened"),
    "js.refusal.refused": ("拒收", "refused"),
    # while copying (ingest/staging.py, ingest/station.py)
    "js.refusal.file_refused": ("不是普通文件（或变成了链接），未读取", "not a regular file (or it became a link); not read"),
    "js.refusal.recorder_gone": ("记录仪已拔出，重新插入后继续", "the recorder was undocked; it resumes when docked again"),
    "js.refusal.changed_while_copied": ("复制过程中文件发生变化，记录仪停止写入后重新采集",
                                        "the file changed while it was copied; offloaded again once the recorder stops writing"),
    "js.refusal.still_writing": ("文件仍在写入，记录仪写完后请重新采集",
                                 "the file is still being written; offload again once the recorder has finished"),
    "js.refusal.staged_missing": ("暂存副本丢失，下次采集时重新复制", "the staged copy was missing; copied again on the next offload"),
    "js.refusal.staging_full": ("采集站暂存空间已满，文件保留在记录仪上", "the station's staging space is full; the file stays on the recorder"),
    "js.refusal.already_offloaded": ("已采集过", "already offloaded"),
    # answers of the archive (ingest/wire.py)
    "js.refusal.intake_refused": ("档案库拒收此文件（站点、签名或内容不被接受），未存档",
                                  "the archive refused this file (station, signature or content not accepted); nothing was stored"),
    "js.refusal.digest_mismatch": ("传输后的文件与采集站计算的哈希不符，未存档",
                                   "the file that arrived does not match the station's digest; nothing was stored"),
    "js.refusal.store_full": ("档案库存储已满，文件保留在采集站，下次采集时发送",
                              "the archive's storage is full; the file is kept on the station and sent next time"),
    "js.refusal.store_error": ("档案库存储暂时不可用，文件保留在采集站", "the archive's storage is not available now; the file is kept on the station"),
    "js.refusal.object_missing": ("档案库存储中缺少对象，文件保留在采集站", "an object is missing from the archive's storage; the file is kept on the station"),
    "js.refusal.archive_unreachable": ("无法连接档案库，文件保留在采集站，恢复后发送",
                                       "the archive cannot be reached; the file is kept on the station and sent when it answers"),
    "js.refusal.token_refused": ("档案库不认可采集站令牌，请管理员重新登记采集站",
                                 "the archive does not know the station's token; an administrator must enrol the station again"),
    "js.refusal.station_mismatch": ("采集站身份与令牌不符，未存档", "the station does not match its token; nothing was stored"),
    "js.refusal.station_not_enrolled": ("采集站尚未向档案库登记签名密钥", "the station has not presented its signing key to the archive yet"),
    "js.refusal.ack_mismatch": ("档案库确认的哈希与采集站不符，文件保留在采集站，请报告管理员",
                                "the archive acknowledged another digest; the file is kept on the station: report this"),
    "js.refusal.station_error": ("采集站出错，文件保留在记录仪上", "the station failed; the file stays on the recorder"),
    "js.refusal.ingest_halted": ("采集已暂停，文件保留在记录仪上", "offloading is halted; the file stays on the recorder"),
}
