"""Spyne's empty-200 trap: a response that fails to serialise becomes a SOAP Fault."""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

from spyne import Application, Integer, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from wsdl.spyne_guard import SpyneGuard, empty_body


class Broken(ServiceBase):
    @rpc(Unicode, _returns=Integer)
    def Count(ctx, text):  # noqa: N802,N805
        return "not a number"  # cannot be serialised as xs:integer


def _app():
    app = Application([Broken], tns="urn:test:broken", in_protocol=Soap11(), out_protocol=Soap11())
    return WsgiApplication(app)


REQUEST = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="urn:test:broken">'
    "<soap:Body><b:Count><b:text>x</b:text></b:Count></soap:Body></soap:Envelope>"
)


def _post(app) -> tuple[int, bytes]:
    body = REQUEST.encode()
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/xml", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    setup_testing_defaults(environ)
    status = {}
    chunks = app(environ, lambda s, h, exc_info=None: status.setdefault("code", int(s.split()[0])))
    return status["code"], b"".join(chunks)


def test_unguarded_spyne_answers_200_with_an_empty_body():
    code, data = _post(_app())
    assert code == 200 and empty_body(data)  # the trap itself


def test_guarded_spyne_answers_a_server_fault():
    code, data = _post(SpyneGuard(_app()))
    assert code == 500
    assert b"<faultcode>soap:Server</faultcode>" in data


def test_the_spyne_wsdl_declares_no_soap_12_namespace():
    environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": "wsdl"}
    setup_testing_defaults(environ)
    raw = b"".join(_app()(dict(environ), lambda s, h, exc_info=None: None))
    guarded = b"".join(SpyneGuard(_app())(dict(environ), lambda s, h, exc_info=None: None))
    assert b"http://schemas.xmlsoap.org/wsdl/soap12/" in raw  # what Spyne produces
    assert b"soap12" not in guarded
    assert b"urn:test:broken" in guarded and b"Count" in guarded
