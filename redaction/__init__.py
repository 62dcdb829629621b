"""Privacy redaction (隐私遮蔽): plans of what to hide in a recording (tracked boxes over faces,
plates and screens; whole-frame ranges; audio ranges), filled by an offline detector and edited by
a person, rendered from the untouched original into a derived copy with a log of every box, and
released only after a second person approved that plan version. Text detectors for personal data
(resident ID numbers, phones, bank cards, plates, addresses) serve released documents and
publication. Beside ``retention`` and ``review``: above ``cases`` and ``media``."""
