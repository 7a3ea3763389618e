"""The web side of the attendance ledger: reports and exports, leave requests, roll-call,
make-ups, the reminders inbox and political birthdays. Views only: the rules, the ledger and
the report queries live in ``models/attendance``."""
