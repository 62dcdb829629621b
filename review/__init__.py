"""Legal review of major decisions (重大执法决定法制审核): the catalogue that makes a decision
major, submissions with their materials pinned by hash, the reviewer's checklist and outcome, the
signed opinion (法制审核意见书) filed in the case, and the gate that no major decision passes
unreviewed. Beside ``retention``: above ``cases``, below ``integrity`` and the front ends."""
