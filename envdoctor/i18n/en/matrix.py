"""Messages of the matrix's trust: lowered blockers and `envdoctor matrix`."""

MESSAGES = {
    "finding.blocker-unverified.title": "Not confirmed, so not blocking: {finding} (an unverified matrix fact)",
    "finding.blocker-unverified.detail": "envdoctor would stop here (exit 2), but the fact it rests on ({fact}) is not "
                                         "verified against a primary source or a measurement, so this is only a warning.",
    "finding.blocker-unverified.fix": "Run {cmd} doctor: it tests the GPU with the installed runtime and settles it.",
    "ui.matrix.title": "Compatibility matrix",
    "ui.matrix.version": "Version",
    "ui.matrix.date": "Date",
    "ui.matrix.where": "Read from",
    "ui.matrix.rows": "Rows",
    "ui.matrix.verified": "Verified",
    "ui.matrix.verified_blocking": "Verified, of the rows a verdict can block on",
    "ui.matrix.by_kind": "Sources by kind",
    "ui.matrix.sources": "Most cited sources",
    "ui.matrix.unverified": "Unverified rows a verdict could block on (they only warn)",
    "ui.matrix.share": "{verified} of {rows} ({percent}%)",
}
