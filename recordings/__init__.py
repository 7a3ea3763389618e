"""Recordings: the recorder (a hidden subscriber of a room), post-processing into one replay
video, and the job queue.

Entry points: :class:`recordings.recorder.Recorder` (the room's ``PacketSink``),
:mod:`recordings.store` (recording rows and directories), :func:`recordings.jobs.process_pending`,
:func:`recordings.jobs.recover_after_crash` and :class:`recordings.jobs.JobRunner`,
:func:`recordings.postprocess.make_replay`. See docs/recordings.md.
"""
