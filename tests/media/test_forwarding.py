"""Real aiortc clients on loopback publish and receive through the SFU."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import RTCSessionDescription
from aiortc.rtp import RtcpPacket, RtcpPsfbPacket, RtcpRrPacket, RtcpSrPacket

from media import fastpath
from media.registry import RoomRegistry
from media.rtp import is_keyframe_start, parse_header
from media.settings import Identity
from media.sinks import PublicationInfo
from tests.media.client import HOST, LECTURE, Client, MovingVideo, member, wait_until
from tests.media.conftest import CodecLedger


@pytest.mark.timeout(60)
async def test_a_publisher_and_three_subscribers_exchange_video_and_audio_without_server_codecs(
    registry: RoomRegistry, codec_ledger: CodecLedger
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    await host.hello()
    viewers = [Client(room.connect(member(n))) for n in (2, 3, 4)]
    try:
        for viewer in viewers:
            await viewer.hello()
        answer = await host.publish()
        assert {p["source"] for p in answer["publications"]} == {"camera", "microphone"}
        for viewer in viewers:
            await viewer.wait_frames("video", 20)
            await viewer.wait_frames("audio", 20)
            offer = viewer.of_type("subscribe_offer")[-1]["sdp"]
            # audio and video of the host are one MediaStream (so browsers lip-sync them)
            assert offer.count("a=msid:lh-member-1 ") == 2
        stats = room.forwarding_stats()
        assert stats.packets_out > stats.packets_in  # fanned out to three
        if fastpath.load() is not None:  # real sockets: the C loop carried the packets
            assert all(p.forwarder._c_count == 3 for p in room.publications.values())
        assert stats.latency_samples > 0
        assert codec_ledger.server_encoders() == 0
        assert codec_ledger.server_decoders() == 0
        assert len(codec_ledger.decoder_queues) >= 6  # the clients did decode: counting works
        assert len(codec_ledger.server_pcs) == 4
        for pc in codec_ledger.server_pcs:  # bundled: one transport per connection
            assert len({id(t.sender.transport) for t in pc.getTransceivers()}) == 1
    finally:
        for client in [host, *viewers]:
            await client.close()


@pytest.mark.timeout(60)
async def test_a_late_subscriber_decodes_a_keyframe_within_a_second_of_connecting(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    await host.hello()
    early = Client(room.connect(member(2)))
    late = Client(room.connect(member(3)))
    try:
        await early.hello()
        await host.publish(audio=False)
        await early.wait_frames("video", 45)  # well past the first keyframe
        requests_before = room.forwarding_stats().keyframe_requests_sent
        await late.hello()
        await late.wait_frames("video", 1)
        assert late.down_connected_at is not None
        assert late.first_frame_at["video"] - late.down_connected_at < 1.0
        assert room.forwarding_stats().keyframe_requests_sent > requests_before
    finally:
        for client in (host, early, late):
            await client.close()


@pytest.mark.timeout(60)
async def test_h264_is_forwarded_as_well_as_vp8(registry: RoomRegistry) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        await host.publish(audio=False, codec="video/H264")
        await viewer.wait_frames("video", 10)
        assert room.publication_infos()[0].mime_type == "video/H264"
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_a_publisher_that_leaves_and_comes_back_is_seen_again_on_the_same_track(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        welcome = await host.hello()
        await viewer.hello()
        await host.publish()
        await viewer.wait_frames("video", 10)
        first_offer = viewer.of_type("subscribe_offer")[-1]
        await host.send(type="leave")
        await viewer.wait_message("participant_left")
        assert viewer.of_type("participant_left")[0]["reason"] == "client-left"
        await viewer.wait_message("publication_removed", after=1)
        await host.close()

        host = Client(room.connect(HOST))
        await host.hello(resume_token=welcome["resume_token"])
        offers = viewer.count("subscribe_offer")
        await host.publish()
        await viewer.wait_message("subscribe_offer", after=offers)
        await viewer.wait_frames("video", 10)
        await viewer.wait_frames("audio", 10)
        new_offer = viewer.of_type("subscribe_offer")[-1]
        # the m-sections were reused: same mids, no new transceivers
        assert {t["mid"] for t in new_offer["tracks"]} == {t["mid"] for t in first_offer["tracks"]}
        assert len(viewer.down.getTransceivers()) == 2
        assert [e.resumed for e in registry.listener.events if e.kind == "joined"][-1]  # type: ignore[attr-defined]
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_a_host_brings_a_site_on_stage_mutes_it_and_removes_it(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    site = Client(room.connect(Identity("site:3", "一营会议室", "site")))
    viewer = Client(room.connect(member(2)))
    try:
        for client in (host, site, viewer):
            await client.hello()
        await site.offer_publish(video=False)
        error = await site.wait_message("error")
        assert error["code"] == "not-allowed"

        await host.send(type="stage_on", identity_key="site:3")
        await site.wait_message("participant_updated")
        await site.publish(video=False)
        await viewer.wait_frames("audio", 10)
        publication_id = room.publication_infos()[0].publication_id

        await host.send(type="mute", identity_key="site:3")
        muted = await site.wait_message("muted_by_host")
        assert muted["publication_id"] == publication_id
        await viewer.wait_message("publication_updated")
        await _settle()
        frames = viewer.frames["audio"]
        await _settle(0.6)
        assert viewer.frames["audio"] - frames <= 2  # nothing forwarded while muted

        await site.send(type="set_muted", publication_id=publication_id, muted=False)
        await viewer.wait_message("publication_updated", after=1)
        await viewer.wait_frames("audio", 10)  # forwarded again

        await host.send(type="stage_off", identity_key="site:3")
        removed = await viewer.wait_message("publication_removed")
        assert removed["reason"] == "stage-off"
        await site.offer_publish(video=False)
        assert (await site.wait_message("error", after=1))["code"] == "not-allowed"

        await host.send(type="kick", identity_key="site:3")
        left = await viewer.wait_message("participant_left")
        assert left == {"type": "participant_left", "identity_key": "site:3", "reason": "kicked"}
        await _until(lambda: site.closed == "kicked")
        assert room.publication_infos() == []
    finally:
        for client in (host, site, viewer):
            await client.close()


@pytest.mark.timeout(60)
async def test_the_loudest_microphone_becomes_the_active_speaker(registry: RoomRegistry) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        await host.publish(video=False)
        message = await viewer.wait_message("active_speaker", timeout=5)
        assert message["identity_key"] == HOST.key
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_an_offer_without_a_forwardable_codec_is_refused_with_a_clear_code(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    try:
        await host.hello()
        await host.offer_publish(video=False, audio_codec="audio/PCMU")
        error = await host.wait_message("error")
        assert error["code"] == "unsupported-codec"
        assert error["ref"] == "publish_offer"
        assert room.publication_infos() == []
    finally:
        await host.close()


async def _settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


async def _until(predicate: Callable[[], bool]) -> None:
    await wait_until(predicate, 5.0, "condition")


class RecordingSink:
    """A hidden subscriber like the recorder: it only counts what it is given."""

    def __init__(self) -> None:
        self.added: list[PublicationInfo] = []
        self.removed: list[str] = []
        self.packets: dict[str, list[bytes]] = {}

    def publication_added(self, info: PublicationInfo) -> None:
        self.added.append(info)

    def rtp_packet(self, publication_id: str, data: bytes, arrival_time: float) -> None:
        self.packets.setdefault(publication_id, []).append(data)

    def publication_removed(self, publication_id: str) -> None:
        self.removed.append(publication_id)


@pytest.mark.timeout(60)
async def test_a_sink_gets_the_publishers_original_rtp_and_is_told_when_it_ends(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    sink = RecordingSink()
    room.add_sink(sink)
    host = Client(room.connect(HOST))
    try:
        await host.hello()
        await host.publish()
        await _until(lambda: sum(len(p) for p in sink.packets.values()) > 60)
        by_kind = {info.kind: info for info in sink.added}
        assert by_kind["video"].mime_type == "video/VP8"
        assert by_kind["audio"].mime_type == "audio/opus"
        assert (by_kind["audio"].clock_rate, by_kind["audio"].channels) == (48000, 2)
        video = sink.packets[by_kind["video"].publication_id]
        assert {parse_header(p).payload_type for p in video} == {by_kind["video"].payload_type}
        assert is_keyframe_start("video/VP8", video[0])  # a keyframe was asked for the sink
        await host.send(type="leave")
        await _until(lambda: len(sink.removed) == 2)
    finally:
        await host.close()


@pytest.mark.timeout(60)
async def test_a_screen_share_is_a_second_video_that_can_be_stopped_alone(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        answer = await host.publish(audio=False, screen=True)
        await _until(
            lambda: len([t for t in viewer.down.getTransceivers() if t.receiver.track]) == 2
        )
        for transceiver in viewer.down.getTransceivers():
            track_id = transceiver.receiver.track.id
            await _until(lambda track_id=track_id: viewer.frames[track_id] >= 5)
        screen = next(p for p in answer["publications"] if p["source"] == "screen")
        await host.send(type="unpublish", publication_id=screen["publication_id"])
        removed = await viewer.wait_message("publication_removed")
        assert removed == {
            "type": "publication_removed",
            "publication_id": screen["publication_id"],
            "reason": "unpublished",
        }
        offer = await viewer.wait_message("subscribe_offer", after=1)
        assert [t["source"] for t in offer["tracks"]] == ["camera"]
        assert [i.source for i in room.publication_infos()] == ["camera"]
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_trickled_candidates_and_their_end_are_accepted(registry: RoomRegistry) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    try:
        await host.hello()
        await host.publish(video=False)
        await host.send(
            type="ice_candidate",
            pc="up",
            candidate="candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
            sdp_mid="0",
            sdp_mline_index=0,
        )
        await host.send(type="ice_candidate", pc="up", candidate="")
        await host.send(type="ice_candidate", pc="down", candidate="")
        await host.send(type="ping")
        await host.wait_message("pong")
        errors = host.of_type("error")
        assert [e["code"] for e in errors] == ["negotiation-failed"]  # no down connection yet
    finally:
        await host.close()


def capture_rtcp(dtls: Any, into: list[Any]) -> None:
    """Record the RTCP packets a client's DTLS transport receives (then handle them)."""
    original = dtls._handle_rtcp_data

    async def handle(data: bytes) -> None:
        into.extend(RtcpPacket.parse(data))
        await original(data)

    dtls._handle_rtcp_data = handle


def capture_rtp(dtls: Any, into: dict[int, int]) -> None:
    """Remember the latest RTP timestamp per SSRC a client's DTLS transport receives."""
    original = dtls._handle_rtp_data

    async def handle(data: bytes, arrival_time_ms: int) -> None:
        header = parse_header(data)
        into[header.ssrc] = header.timestamp
        await original(data, arrival_time_ms)

    dtls._handle_rtp_data = handle


@pytest.mark.timeout(60)
async def test_rtcp_flows_both_ways_with_rewritten_sender_reports(registry: RoomRegistry) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        await host.publish()
        assert host.up is not None
        upstream: list[Any] = []
        capture_rtcp(host.up.getTransceivers()[0].sender.transport, upstream)
        await viewer.wait_message("subscribe_offer")
        await _until(lambda: bool(viewer.down.getTransceivers()))
        downstream: list[Any] = []
        latest: dict[int, int] = {}
        dtls = viewer.down.getTransceivers()[0].receiver.transport
        capture_rtcp(dtls, downstream)
        capture_rtp(dtls, latest)
        await viewer.wait_frames("video", 5)

        def useful_sender_report() -> bool:
            return any(
                isinstance(p, RtcpSrPacket)
                and p.ssrc in latest
                and p.sender_info.packet_count > 0
                and p.sender_info.ntp_timestamp != 0
                for p in downstream
            )

        await _until(useful_sender_report)
        reports = [p for p in downstream if isinstance(p, RtcpSrPacket)]
        # only the forwarder's reports: aiortc's own loop (NTP 0, no packets) is silenced
        assert all(r.sender_info.ntp_timestamp != 0 for r in reports)
        for report in (p for p in downstream if isinstance(p, RtcpSrPacket)):
            if report.ssrc in latest and report.sender_info.ntp_timestamp:
                # the SR's RTP time is in the subscriber's timestamp space (rewritten),
                # within a couple of seconds of the media it received
                skew = (latest[report.ssrc] - report.sender_info.rtp_timestamp) % 2**32
                skew = min(skew, 2**32 - skew)
                assert skew < 2 * 90000, skew

        published = {p.ssrc for p in room.publications.values()}
        await _until(
            lambda: any(
                isinstance(p, RtcpRrPacket) and {r.ssrc for r in p.reports} & published
                for p in upstream
            )
        )
        assert any(isinstance(p, RtcpPsfbPacket) and p.fmt == 15 for p in upstream)  # REMB
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_a_subscriber_whose_connection_goes_away_is_dropped_and_forwarding_to_it_stops(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        await host.publish(video=False)
        await viewer.wait_frames("audio", 5)
        await viewer.down.close()  # the browser tab's connection is gone (DTLS close_notify)
        left = await host.wait_message("participant_left")
        assert left["reason"] == "connection-failed"
        assert all(not p.forwarder.active for p in room.publications.values())
        await _until(lambda: viewer.closed == "connection-failed")
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_a_presenter_starts_a_screen_share_mid_lecture_by_renegotiating(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        answer = await host.publish()
        await viewer.wait_frames("video", 5)
        assert host.up is not None
        screen = host.up.addTransceiver(MovingVideo(), direction="sendonly")
        await host.up.setLocalDescription(await host.up.createOffer())
        sources = {p["mid"]: p["source"] for p in answer["publications"]}
        sources[str(screen.mid)] = "screen"
        await host.send(type="publish_offer", sdp=host.up.localDescription.sdp, sources=sources)
        second = await host.wait_message("publish_answer", after=1)
        await host.up.setRemoteDescription(RTCSessionDescription(second["sdp"], "answer"))
        assert [p["source"] for p in second["publications"]] == ["screen"]
        added = await viewer.wait_message("publication_added", after=2)
        assert added["publication"]["source"] == "screen"
        await _until(
            lambda: len([t for t in viewer.down.getTransceivers() if t.receiver.track]) == 3
        )
        for transceiver in viewer.down.getTransceivers():
            if transceiver.kind == "video":
                track_id = transceiver.receiver.track.id
                await _until(lambda track_id=track_id: viewer.frames[track_id] >= 5)
        assert sorted(i.source for i in room.publication_infos()) == [
            "camera",
            "microphone",
            "screen",
        ]
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_packets_a_subscriber_lost_are_resent_from_the_cache_when_it_nacks(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        await host.publish(audio=False)
        await viewer.wait_message("subscribe_offer")
        await _until(lambda: bool(viewer.down.getTransceivers()))
        # Lose packets before SRTP, as a network would (after SRTP the resent copy would be
        # refused as a replay).
        connection = viewer.down.getTransceivers()[0].receiver.transport.transport._connection
        original = connection.data_received
        dropped: set[int] = set()

        def lossy(data: bytes, component: int) -> None:
            is_rtp = 127 < data[0] < 192 and not 191 < data[1] < 224
            seq = int.from_bytes(data[2:4], "big")
            if is_rtp and data[1] & 0x7F != 111 and seq % 10 == 3 and seq not in dropped:
                dropped.add(seq)  # lose every tenth video packet, once
                return
            original(data, component)

        connection.data_received = lossy
        await viewer.wait_frames("video", 30)
        stats = room.forwarding_stats()
        assert len(dropped) > 0
        assert stats.nacks_received > 0
        assert stats.nacks_answered > 0
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_a_publishing_connection_lost_on_the_server_side_closes_the_session_so_it_resumes(
    registry: RoomRegistry,
) -> None:
    # A server that lags lets its own ICE consent checks to the publisher time out; aioice
    # then closes the connection ("Consent to send expired") and aiortc closes the peer
    # connection. That is a transport failure, not the client unpublishing: the publisher
    # must be told (closed: connection-failed) so it reconnects, and every subscriber must
    # see its publications end.
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    again: Client | None = None
    try:
        welcome = await host.hello()
        await viewer.hello()
        await host.publish()
        await viewer.wait_frames("video", 5)
        up = room.participants[HOST.key].up
        assert up is not None and up._dtls is not None
        await up._dtls.transport._connection.close()  # what aioice does on consent expiry

        await _until(lambda: host.closed == "connection-failed")
        removed = await viewer.wait_message("publication_removed", after=1)
        assert removed["reason"] == "connection-failed"
        assert {m["reason"] for m in viewer.of_type("publication_removed")} == {"connection-failed"}
        left = await viewer.wait_message("participant_left")
        assert left["reason"] == "connection-failed"
        assert not room.publications
        assert HOST.key not in room.participants

        # the client's reconnect-with-resume publishes again and the viewer receives it
        again = Client(room.connect(HOST))
        await again.hello(resume_token=welcome["resume_token"])
        await again.publish()
        await viewer.wait_message("publication_added", after=3)
        await viewer.wait_frames("video", 5)
    finally:
        await host.close()
        await viewer.close()
        if again is not None:
            await again.close()


@pytest.mark.timeout(60)
async def test_a_publisher_that_closes_its_publishing_connection_only_unpublishes(
    registry: RoomRegistry,
) -> None:
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        await host.publish(video=False)
        await viewer.wait_frames("audio", 5)
        assert host.up is not None
        await host.up.close()  # DTLS close_notify: the client stopped publishing
        removed = await viewer.wait_message("publication_removed")
        assert removed["reason"] == "unpublished"
        await _settle()
        assert host.closed is None
        assert HOST.key in room.participants
        assert viewer.count("participant_left") == 0
    finally:
        await host.close()
        await viewer.close()


@pytest.mark.timeout(60)
async def test_media_skips_aiortcs_stun_parser_and_the_publisher_socket_has_a_large_buffer(
    registry: RoomRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aioice.ice

    from media.uplink import PUBLISHER_RECEIVE_BUFFER

    parsed_as_stun: list[int] = []
    parse = aioice.ice.stun.parse_message

    def counting_parse(data: bytes, *args: Any, **kwargs: Any) -> Any:
        parsed_as_stun.append(data[0])
        return parse(data, *args, **kwargs)

    monkeypatch.setattr(aioice.ice.stun, "parse_message", counting_parse)
    room = registry.open_room(LECTURE)
    host = Client(room.connect(HOST))
    viewer = Client(room.connect(member(2)))
    try:
        await host.hello()
        await viewer.hello()
        await host.publish()
        await viewer.wait_frames("video", 10)
        up = room.participants[HOST.key].up
        down = room.participants[member(2).key].down
        assert up is not None and down is not None and down.ingress is not None
        up_ingress = up.ingress
        assert up_ingress is not None
        # a datagram that looks like SRTP/SRTCP on the server's sockets goes straight to the
        # ingress (which counts it as failing authentication), never to aioice's STUN parser
        for connection, ingress, fake in (
            (up, up_ingress, b"\x80\x60" + bytes(40)),
            (down, down.ingress, b"\x81\xc9" + bytes(40)),
        ):
            ice = connection.pc.getTransceivers()[0].sender.transport.transport._connection
            protocols = [p for p in ice._protocols if type(p) is aioice.ice.StunProtocol]
            assert protocols
            failures, parsed = ingress.unprotect_failures, len(parsed_as_stun)
            for protocol in protocols:
                protocol.datagram_received(fake, ("127.0.0.1", 9))
            assert ingress.unprotect_failures == failures + len(protocols)
            assert len(parsed_as_stun) == parsed
        # the server's consent checks are the lag-tolerant ones (media.transport)
        for connection in (up, down):
            ice = connection.pc.getTransceivers()[0].sender.transport.transport._connection
            task = ice._query_consent_task
            assert task is not None
            assert "patient_consent" in task.get_coro().__qualname__
        with open("/proc/sys/net/core/rmem_max") as f:
            rmem_max = int(f.read())
        expected = 2 * min(PUBLISHER_RECEIVE_BUFFER, rmem_max)
        assert up.receive_buffers and all(b >= expected for b in up.receive_buffers)
    finally:
        await host.close()
        await viewer.close()
