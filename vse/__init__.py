"""MAIN THREAD, Blender: everything between the operators and the workers that is not an operator.

The snapshot (RNA -> worker/plan.py plan), typed job records, launching, applying worker
events, placement and takes, result folders, re-attach, money, notices and every app handler.
Modules here may read and write RNA; they never do network or media work (that is worker/'s),
and each main-thread step is small enough for a UI timer tick. docs/architecture.md maps the
data flow onto these modules.
"""
