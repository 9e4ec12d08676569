"""Messages about envdoctor's own state in a bundle (.envdoctor, the bundle lock) and its caches."""

MESSAGES = {
    "state.busy": "Another envdoctor is changing {path} right now (`{command}`, process {pid}, since {since}). "
                  "Only one command may change a bundle at a time: wait for it to finish, then run this again. "
                  "Nothing was changed.",
    "state.linked": "{path} is a link (to {target}). envdoctor keeps its own files (backups, journal, lock) only in "
                    "a real .envdoctor folder inside the bundle and never writes through a link; nothing was "
                    "changed. Remove the link (or move the real folder there), then run this again.",
    "state.not_folder": "{path} is not a folder; envdoctor keeps its own files there. Move it away, then run this "
                        "again. Nothing was changed.",
    "state.cannot_lock": "envdoctor cannot make its lock file {path} ({detail}); is the folder read-only? "
                         "Nothing was changed.",
    "state.unreadable": "{path} cannot be read ({detail}); nothing was changed.",
    "cache.untrusted": "The cache folder {path} is not safe to use ({reason}): another user could plant files "
                       "there that envdoctor would trust. Using the private folder {fallback} instead.",
    "cache.reason.owner": "it belongs to another user",
    "cache.reason.writable": "other users can write to it",
    "cache.reason.link": "it is a link",
    "cache.reason.not_folder": "it is not a folder",
}
