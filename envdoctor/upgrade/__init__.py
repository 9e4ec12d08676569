"""The guided torch upgrade: plan -> resolve -> download -> stage -> install -> verify -> swap.

Every step that changes the disk is journaled under <root>/.envdoctor/upgrade/ so that a crash at any
moment leaves a runtime that starts, and `envdoctor recover` can finish or undo what was interrupted.

May be imported by: cli only.
"""
