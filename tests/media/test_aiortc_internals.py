"""The private aiortc/aioice/pylibsrtp details media/ relies on are still there.

media/transport.py, media/uplink.py, media/downlink.py and media/publication.py use them;
if this test fails after an upgrade, re-verify those modules against the new source.
"""

from __future__ import annotations

import inspect

import aioice.ice
import aiortc
import pylibsrtp
import pytest
from aiortc import RTCPeerConnection
from aiortc.codecs import HEADER_EXTENSIONS
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpsender import RTCRtpSender
from pylibsrtp._binding import ffi, lib

from media.publication import DOWN_EXTENSION_IDS
from media.transport import srtp_protect


def test_aiortc_is_the_pinned_version() -> None:
    assert aiortc.__version__.startswith("1.16."), aiortc.__version__


def test_pylibsrtp_exposes_srtp_protect_through_cffi() -> None:
    assert srtp_protect is lib.srtp_protect
    assert "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)" in str(
        ffi.typeof(lib.srtp_protect)
    )
    session = pylibsrtp.Session(pylibsrtp.Policy(key=b"k" * 30, ssrc_type=1))
    assert session._srtp[0] is not None


async def test_a_dtls_transport_has_the_srtp_sessions_and_ice_connection_we_use() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        dtls = transceiver.sender.transport
        assert isinstance(dtls, RTCDtlsTransport)
        assert dtls._rx_srtp is None and dtls._tx_srtp is None  # set after the handshake
        assert callable(dtls._handle_rtcp_data)
        connection = dtls.transport._connection
        assert isinstance(connection, aioice.ice.Connection)
        assert isinstance(connection._nominated, dict)
        assert connection._queue.put_nowait is not None
        assert callable(connection.data_received)
        assert connection._closed is False  # set by aioice's close (consent expiry)
        # media.transport.patient_consent replaces query_consent and uses these
        assert callable(connection.query_consent) and callable(connection.build_request)
        assert connection._query_consent_task is None
        assert isinstance(connection._protocols, list)
        assert aioice.ice.CONSENT_INTERVAL == 5 and aioice.ice.CONSENT_FAILURES == 6
        assert isinstance(transceiver.sender._ssrc, int)
        assert isinstance(transceiver._codecs, list)
        assert isinstance(transceiver._headerExtensions, list)
        assert transceiver.receiver._track is None
    finally:
        await pc.close()


@pytest.mark.parametrize(
    ("owner", "needles"),
    [
        # datagrams reach Connection.data_received, which queues them for the DTLS transport
        (aioice.ice.StunProtocol.datagram_received, ["self.receiver.data_received(data"]),
        (aioice.ice.Connection.data_received, ["self._queue.put_nowait((data, component))"]),
        (aioice.ice.CandidatePair, ["def remote_addr", "self.protocol = protocol"]),
        # the DTLS transport dispatches RTCP through an attribute lookup we can replace
        (RTCDtlsTransport._recv_next, ["await self._handle_rtcp_data(data)", "_rx_srtp"]),
        (RTCDtlsTransport._setup_srtp, ["tx_policy.allow_repeat_tx = True"]),
        # media.transport.hook_rtcp reproduces this routing
        (
            RTCDtlsTransport._handle_rtcp_data,
            [
                "packets = RtcpPacket.parse(data)",
                "for recipient in self._rtp_router.route_rtcp(packet):",
                "await recipient._handle_rtcp_packet(packet)",
            ],
        ),
        # the sender encodes only after its track yields, and reports from private counters
        (RTCRtpSender._next_encoded_frame, ["data = await self.__track.recv()", "get_encoder"]),
        # media.downlink.quiet_sender_reports replaces the RTCP loop and honours its events
        (RTCRtpSender.send, ["asyncio.ensure_future(self._run_rtcp())"]),
        (RTCRtpSender.stop, ["self.__rtcp_started.wait()", "await asyncio.gather("]),
        (RTCRtpSender._run_rtcp, ["self.__rtcp_started.set()", "self.__rtcp_exited.set()"]),
        (RTCRtpSender.__init__, ["self.__rtcp_started = asyncio.Event()"]),
    ],
)
def test_the_source_still_does_what_we_rely_on(owner: object, needles: list[str]) -> None:
    source = inspect.getsource(owner)  # type: ignore[arg-type]
    for needle in needles:
        assert needle in source, needle


def test_down_offers_use_the_extension_ids_the_forwarder_writes() -> None:
    ids = {e.uri: e.id for kind in ("audio", "video") for e in HEADER_EXTENSIONS[kind]}
    for uri, down_id in DOWN_EXTENSION_IDS.items():
        assert ids[uri] == down_id
