"""Recordings of meetings, their track files, chapters and post-processing jobs."""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Enum, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, created_at, intpk, str200, timestamp
from models.meeting import Meeting


class RecordingStatus(enum.StrEnum):
    RECORDING = "recording"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Recording(Base):
    """One recording of a meeting. Paths are relative to the data directory and built by the
    server from ids only (never from user input)."""

    __tablename__ = "recording"

    id: Mapped[intpk]
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meeting.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[RecordingStatus] = mapped_column(
        Enum(RecordingStatus, native_enum=False, length=16),
        default=RecordingStatus.RECORDING,
        index=True,
    )
    directory: Mapped[str200]
    replay_file: Mapped[str | None] = mapped_column(String(200))
    poster_file: Mapped[str | None] = mapped_column(String(200))
    chapters_file: Mapped[str | None] = mapped_column(String(200))
    duration: Mapped[float | None] = mapped_column(Float)  # seconds of the replay
    size: Mapped[int | None] = mapped_column(BigInteger)  # bytes of the replay
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    ended_at: Mapped[timestamp | None]

    meeting: Mapped[Meeting] = relationship()
    tracks: Mapped[list[RecordingTrack]] = relationship(
        back_populates="recording", cascade="all, delete-orphan", order_by="RecordingTrack.id"
    )
    markers: Mapped[list[RecordingMarker]] = relationship(
        back_populates="recording", cascade="all, delete-orphan", order_by="RecordingMarker.at"
    )
    jobs: Mapped[list[ProcessingJob]] = relationship(
        back_populates="recording", cascade="all, delete-orphan", order_by="ProcessingJob.id"
    )


class RecordingTrack(Base):
    """One track segment file of a recording (a publication between (re)connects or pauses)."""

    __tablename__ = "recording_track"

    id: Mapped[intpk]
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recording.id", ondelete="CASCADE"), index=True
    )
    file: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # audio | video
    source: Mapped[str] = mapped_column(String(16))  # camera | microphone | screen
    codec: Mapped[str] = mapped_column(String(16))
    identity_key: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    start_offset: Mapped[float | None] = mapped_column(Float)  # seconds on the recording timeline

    recording: Mapped[Recording] = relationship(back_populates="tracks")


class RecordingMarker(Base):
    """A chapter: dropped by the host, or a change of who is on stage."""

    __tablename__ = "recording_marker"

    id: Mapped[intpk]
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recording.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[float] = mapped_column(Float)  # seconds into the replay
    title: Mapped[str200]
    kind: Mapped[str] = mapped_column(String(16), default="marker")  # marker | stage

    recording: Mapped[Recording] = relationship(back_populates="markers")


class ProcessingJob(Base):
    """A post-processing step of a recording, kept in the database so it survives a restart."""

    __tablename__ = "processing_job"

    id: Mapped[intpk]
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recording.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(32), default="replay")
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16), default=JobStatus.QUEUED, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at]
    started_at: Mapped[timestamp | None]
    finished_at: Mapped[timestamp | None]

    recording: Mapped[Recording] = relationship(back_populates="jobs")
