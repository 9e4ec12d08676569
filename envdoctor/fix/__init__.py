"""`envdoctor fix`: one guided repair for people who are not programmers.

It diagnoses (check, plus the latest WebUI log), offers the memo's three choices with what each costs
and gives on this machine — A: keep the runtime and apply workarounds (configure), B: upgrade
torch/torchaudio in a staged copy (upgrade), C: leave it — carries out the chosen one with the
existing transactions, proves the result (doctor's smoke tests, a final check), and on failure rolls
back and writes a support report.

Every step runs envdoctor itself in a child process and reads its published JSON envelope. That keeps
each step's transaction in its own process (a crash in one step cannot leave fix holding a half-done
change) and makes fix depend only on the commands' public contract.

May be imported by: cli only.
"""
