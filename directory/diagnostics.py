"""Platform diagnostics over SOAP (Spyne): ``Echo`` and ``NodeInfo``.

``Echo`` is the cheapest operation the SOAP stack can serve; benchmarks measure the
directory against it as the framework's ceiling on the same server.

    <Echo xmlns="urn:govshare:diagnostics"><text>你好</text></Echo>
    -> <EchoResponse xmlns="urn:govshare:diagnostics"><EchoResult>你好</EchoResult></EchoResponse>
"""

from __future__ import annotations

from spyne import Application, ComplexModel, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from registry import request_log
from registry.clock import utcnow
from registry.settings import Settings
from wsdl.spyne_guard import SpyneGuard

NAMESPACE = "urn:govshare:diagnostics"

Required = Unicode(min_occurs=1, nillable=False)


class NodeInfoResult(ComplexModel):
    __namespace__ = NAMESPACE
    _type_info = [
        ("nodeID", Unicode(min_occurs=1, nillable=False)),
        ("time", Unicode(min_occurs=1, nillable=False)),
        ("software", Unicode(min_occurs=1, nillable=False)),
    ]


class Diagnostics(ServiceBase):
    @rpc(Required, _returns=Required, _body_style="wrapped")
    def Echo(ctx, text):  # noqa: N802,N805 - operation names are the wire contract
        return text

    @rpc(_returns=NodeInfoResult)
    def NodeInfo(ctx):  # noqa: N802,N805
        settings: Settings = ctx.app.govshare_settings
        return NodeInfoResult(nodeID=settings.node_id, time=utcnow().isoformat() + "Z", software="govshare")


def diagnostics_app(settings: Settings):
    app = Application(
        [Diagnostics], tns=NAMESPACE, name="Diagnostics",
        in_protocol=Soap11(validator="lxml"), out_protocol=Soap11(),
    )
    app.govshare_settings = settings
    app.event_manager.add_listener(  # operational monitoring's record names the operation
        "method_call", lambda ctx: request_log.note(operation=ctx.method_request_string.rsplit("}", 1)[-1]))
    return SpyneGuard(WsgiApplication(app))
