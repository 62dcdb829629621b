"""Where the shipped retention classes' figures come from (``ret.source.<class>``; the retention
page shows the word, ``retention.report.SOURCES`` keeps the English for the API)."""

WORDS: dict[str, tuple[str, str]] = {
    "ret.source.unclassified": ("《公安机关现场执法视音频记录工作规定》：未作为证据使用的现场执法视音频资料至少保存六个月（180 天）",
                                "Provisions on on-site law-enforcement audio and video recording by public security organs: "
                                "footage not used as evidence is kept at least six months (180 days)"),
    "ret.source.important": ("《行政诉讼法》第四十六条：自行政行为作出之日起超过五年提起诉讼的，人民法院不予受理（1826 天）",
                             "Administrative Litigation Law, art. 46: no suit is heard more than five years after the act (1,826 days)"),
    "ret.source.case": ("《行政诉讼法》第四十六条：自结案起五年（1826 天）；涉及不动产的案件类别请配置更长或永久保存（二十年）",
                        "Administrative Litigation Law, art. 46: five years from the case's closing (1,826 days); give "
                        "real-property categories a longer or permanent class (twenty years)"),
    "ret.source.permanent": ("永久保存（机关须永久归档的资料）", "kept without end (footage an agency must archive permanently)"),
    "ret.source.configured": ("本机构配置", "configured in"),
}
