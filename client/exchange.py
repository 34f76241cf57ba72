"""The exchange service (``/exchange``) for a department's program: records by key or filter, paged
for you; changes from a watermark the library keeps; a batch's status; every refusal a typed
exception (:mod:`client.faults`).

    from client.exchange import Exchange
    exchange = Exchange("https://platform.example", key="ybj.daiyu.key", cert="ybj.daiyu.pem", ca="ca.pem")
    for record in exchange.query("101001002/000001", keys=["330102199001011234"], purpose="医保待遇审核"):
        print(record.fields["name"])
    for change in exchange.changes("101001002/000001", state="ybj-changes.json"):
        ...   # a crash resumes after the last page the loop finished

Requests are signed with the department's (or its application system's) key, and the platform's
signed answers and faults are verified against the platform CA (:class:`client.wss.PlatformSignature`);
without a key the requests go unsigned, which only a platform in development mode takes.  The
department a request speaks for (``requester``) is the certificate's (its subject's serialNumber,
the 统一社会信用代码) unless given.

``submit`` sends records (lxml elements of a standard format, e.g. read from an export file with
``submit_file``) as batches it builds and digests itself, one batch in memory at a time.  Batch ids
are derived from a run id (by default, for a file, the SHA-256 of its bytes), so sending the same
input again - after a crash, say - sends the same batches, which the platform recognises
(``duplicate``): nothing is taken twice.

``changes`` delivers at least once: the watermark is written to the state file (atomically) only
when the loop goes on past a page's last change, so a program that stops within a page sees that
page again; a change's ``sequence`` tells a repeat.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import zeep
from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree
from zeep.exceptions import Fault, ValidationError
from zeep.plugins import Plugin
from zeep.transports import Transport

from .faults import InvalidRequest, UntrustedAnswer, from_fault
from .files import RecordFile, Shape, file_digest, platform_shapes
from .wire import Wire, changes_body, changes_of, receipt_of, submit_body
from .wss import PlatformSignature, ResponseNotTrusted

#: the largest page the platform serves (GOVSHARE_MAX_ROWS by default)
PAGE_SIZE = 100
#: records per batch ``submit`` sends (a batch of 5,000 people is about 2.6 MB)
BATCH_SIZE = 5000
#: the namespace of the batch ids ``submit`` derives from a run id
BATCH_IDS = uuid.UUID("5b0f3c1e-8d5a-4f43-9f5e-6c1d2a7b9e10")



@dataclass(frozen=True)
class FederationResult:
    """What the higher platform did with one catalogue entry a lower platform sent: ``created``,
    ``changed``, ``withdrawn``, ``unchanged`` or ``refused`` (why, in English and Chinese)."""

    code: str
    outcome: str
    resource_code: str
    reason: str
    reason_zh: str

@dataclass(frozen=True)
class Record:
    """One record as the platform sent it (an element of its standard format, e.g. 人口 ``Person``)."""

    element: etree._Element = field(repr=False)

    @property
    def type(self) -> str:
        """The record's QName in Clark notation, ``{http://govshare.local/xsd/population/1.0}Person``."""
        return self.element.tag

    @property
    def fields(self) -> dict[str, str]:
        """Its fields by local name (a field with parts, such as an address, as its text)."""
        return {child.tag.rpartition("}")[2]: ("".join(child.itertext()) if len(child) else child.text or "").strip()
                for child in self.element if isinstance(child.tag, str)}


@dataclass(frozen=True)
class Change:
    """One change of a resource since a watermark."""

    sequence: int
    key: str
    operation: str  # upsert | delete
    effective_from: datetime
    record: Record | None  # None for a delete


@dataclass(frozen=True)
class PreparedBatch:
    """A SubmitBatch request built and signed, not yet sent (:meth:`Exchange.prepare_batch`)."""

    envelope: bytes
    header: dict
    signed_at: datetime


@dataclass(frozen=True)
class Receipt:
    """What the platform took of one batch: received = accepted + quarantined, always."""

    batch_id: str
    received: int
    accepted: int
    quarantined: int
    duplicate: bool  # the platform had this batch already (sent again): nothing was taken twice


@dataclass(frozen=True)
class Application:
    """A 使用申请 the department filed: status submitted, approved, refused, withdrawn or expired."""

    id: int
    resource_code: str
    resource_name: str
    provider_name: str
    purpose: str
    fields: tuple[str, ...]  # empty: every field
    valid_from: date
    valid_to: date
    system: str | None
    status: str
    submitted_at: datetime
    deadline: datetime
    decided_at: datetime | None
    reason: str


@dataclass(frozen=True)
class Grant:
    """What the department may read and why: a grant it holds (``source`` application: its 使用申请
    ``application_id`` was approved; policy: the provider granted it)."""

    id: int
    resource_code: str
    resource_name: str
    fields: tuple[str, ...]  # empty: every field
    clear_fields: tuple[str, ...]  # fields shown unmasked
    valid_from: date
    last_day: date | None
    system: str | None
    source: str
    application_id: int | None
    state: str  # active | pending | expired | revoked


@dataclass(frozen=True)
class CorrectionReport:
    """A 纠错 report the department filed: status open, accepted or rejected."""

    id: int
    resource_code: str
    record_key: str
    field: str
    problem: str
    status: str
    filed_at: datetime
    answer: str


@dataclass(frozen=True)
class CertificateRequest:
    """A CSR the department sent: status submitted, issued (``certificate_serial``) or refused (``reason``)."""

    id: int
    holder: str  # the department's or the application system's code
    key: str  # RSA 2048, EC P-256, ...
    renews: str | None
    status: str
    submitted_at: datetime
    certificate_serial: str | None
    reason: str


@dataclass(frozen=True)
class IssuedCertificate:
    serial: str
    subject: str
    not_after: datetime
    status: str  # valid | revoked
    pem: str


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    resource_code: str
    state: str
    received: int
    accepted: int
    unchanged: int
    quarantined: int
    reasons: tuple[tuple[str, int, str], ...]  # (rule, count, example)


class Exchange:
    """The platform's exchange service, as one department (or one of its application systems)."""

    def __init__(self, platform: str, *, key: str | os.PathLike | None = None, cert: str | os.PathLike | None = None,
                 ca: str | os.PathLike | bytes | None = None, requester: str | None = None, timeout: float = 60):
        base = platform.split("?", 1)[0].rstrip("/")
        base = base[: -len("/exchange")] if base.endswith("/exchange") else base
        wsse = None
        if key is not None or cert is not None:
            if key is None or cert is None or ca is None:
                raise ValueError("signing needs the key, its certificate and the platform CA's certificate (ca)")
            ca_pem = ca if isinstance(ca, bytes) else Path(ca).read_bytes()
            wsse = PlatformSignature(str(key), str(cert), ca_pem=ca_pem)
            requester = requester or _credit_code(Path(cert).read_bytes())
        if not requester:
            raise ValueError("requester: the 统一社会信用代码 of the department the requests speak for")
        self.requester = requester
        self.base, self.timeout = base, timeout
        self.url = f"{base}/exchange"
        self._answers = _LastAnswer()
        self._service = zeep.Client(f"{self.url}?wsdl", wsse=wsse, plugins=[self._answers],
                                    transport=Transport(timeout=timeout, operation_timeout=timeout)).service
        self._wire = Wire(self.url, wsse, timeout)

    # ------------------------------------------------------------------------------------------ reads

    def query(self, resource: str, *, keys: Iterable[str] = (), filters: Iterable[tuple[str, str, str]] = (),
              page_size: int = PAGE_SIZE, purpose: str | None = None) -> Iterator[Record]:
        """Every record of ``resource`` with one of ``keys`` (at most 100) and matching every filter
        ``(field, "eq" | "prefix", value)``, page after page."""
        keys, filters = list(keys), [{"field": f, "operator": op, "value": v} for f, op, v in filters]
        if page_size < 1:
            raise ValueError("page_size: at least 1")
        offset = 0
        while True:
            answer = self._call("QueryRecords", requester=self.requester, resourceCode=resource, key=keys or None,
                                filter=filters or None, offset=offset, pageSize=page_size, purpose=purpose)
            page = _any(answer.records)
            for element in page:
                yield Record(element)
            if not answer.more:
                return
            if not page:
                raise InvalidRequest("EmptyPage", f"the platform said more records follow offset {offset} but "
                                     "sent none", fault_code="Server")
            offset += len(page)

    def changes(self, resource: str, *, watermark: int | None = None, state: str | os.PathLike | None = None,
                max_records: int = 1000, purpose: str | None = None) -> Iterator[Change]:
        """The changes of ``resource`` after ``watermark`` (or the one kept in the ``state`` file, or
        from the beginning), page after page, until the platform has no more; with ``state``, the
        watermark is kept there after each page the loop finished.  The next page is asked for
        while the program works through this one."""
        keeper = _State(Path(state)) if state is not None else None
        if watermark is None:
            watermark = keeper.watermark(resource) if keeper is not None else 0

        def page(after: int):
            answer, _raw = self._wire.call("GetChanges", changes_body(self.requester, resource, after, max_records,
                                                                       purpose))
            return changes_of(answer)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="changes") as ahead:
            coming = ahead.submit(page, watermark)
            while True:
                found, watermark, more = coming.result()
                if more:
                    coming = ahead.submit(page, watermark)
                for sequence, key, operation, effective, element in found:
                    yield Change(sequence, key, operation, effective, Record(element) if element is not None else None)
                if keeper is not None:
                    keeper.keep(resource, watermark)
                if not more:
                    return

    # ------------------------------------------------------------------------------------------ sending

    def submit(self, resource: str, records: Iterable[etree._Element | bytes], *, run_id: str | None = None,
               batch_size: int = BATCH_SIZE, format_version: str | None = None, skip_batches: int = 0,
               record_type: str | Callable[[], str] | None = None) -> Iterator[Receipt]:
        """Send ``records`` (elements of one standard format, or their exclusive canonical forms as
        bytes, with ``record_type``) to ``resource`` in batches of ``batch_size``, each built and
        digested here while the one before is on its way; a receipt per batch as it is answered.
        The same ``run_id`` and records send the same batches (their ids derive from both); the
        first ``skip_batches`` of them are read past and not sent (a run resumed after a crash)."""
        if batch_size < 1:
            raise ValueError("batch_size: at least 1")
        run_id = run_id or uuid.uuid4().hex
        chunks = iter(records)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="submit") as sender:
            flying = None
            for number in itertools.count(1):
                chunk = list(itertools.islice(chunks, batch_size))
                if not chunk:
                    break
                if number <= skip_batches:
                    continue
                batch_id = str(uuid.uuid5(BATCH_IDS, f"{self.requester}:{resource}:{run_id}:{number}"))
                kind = record_type() if callable(record_type) else record_type
                body, header = self._batch(batch_id, resource, chunk, number, None, format_version, kind)
                del chunk
                if flying is not None:
                    yield flying.result()
                flying = sender.submit(self._send, body, header)
            if flying is not None:
                yield flying.result()

    def submit_batch(self, batch_id: str, resource: str, records: list[etree._Element | bytes], *,
                     sequence_number: int, created: datetime | None = None, format_version: str | None = None,
                     record_type: str | None = None) -> Receipt:
        """Send one batch as it is given - its id, sequence number and time fixed by the caller (a
        node's outbox sends a stored batch again unchanged: the platform takes a batch id once and
        answers it again with the first receipt).  :attr:`last_answer` then holds the platform's
        signed answer, as it came (the evidence that the platform took the batch)."""
        return self.send_prepared(self.prepare_batch(batch_id, resource, records, sequence_number=sequence_number,
                                                     created=created, format_version=format_version,
                                                     record_type=record_type))

    def prepare_batch(self, batch_id: str, resource: str, records: list[etree._Element | bytes], *,
                      sequence_number: int, created: datetime | None = None, format_version: str | None = None,
                      record_type: str | None = None) -> PreparedBatch:
        """:meth:`submit_batch`'s request, built and signed now but not sent: a sender prepares the
        next batch while the platform takes the one before (send it within the Timestamp's life)."""
        body, header = self._batch(batch_id, resource, records, sequence_number, created, format_version, record_type)
        return PreparedBatch(self._wire.envelope(body), header, datetime.now(UTC))

    def send_prepared(self, prepared: PreparedBatch) -> Receipt:
        """Send a request :meth:`prepare_batch` made; :attr:`last_answer` as for :meth:`submit_batch`."""
        answer, raw = self._wire.post("SubmitBatch", prepared.envelope)
        return self._receipt(answer, raw, prepared.header)

    def _batch(self, batch_id: str, resource: str, records: list, number: int, created: datetime | None,
               format_version: str | None, record_type: str | None) -> tuple[bytes, dict]:
        """The SubmitBatch element of a batch, and its header."""
        canonical = [r if isinstance(r, bytes) else _canonical(r) for r in records]
        record_type = record_type or next(r.tag for r in records if not isinstance(r, bytes))
        sha = hashlib.sha256()
        for item in canonical:
            sha.update(item)
        header = {"batchId": batch_id, "providerCode": self.requester, "resourceCode": resource,
                  "recordType": record_type, "formatVersion": format_version or _version(record_type),
                  "sequenceNumber": number, "created": (created or datetime.now(UTC)).isoformat(),
                  "recordCount": len(canonical), "digest": sha.hexdigest()}
        return submit_body(header, canonical), header

    def _send(self, body: bytes, header: dict) -> Receipt:
        answer, raw = self._wire.call("SubmitBatch", body)
        return self._receipt(answer, raw, header)

    def _receipt(self, answer: etree._Element, raw: bytes, header: dict) -> Receipt:
        self._answers.last = raw
        got = receipt_of(answer)
        return Receipt(got.get("batchId") or header["batchId"], int(got.get("received") or 0),
                       int(got.get("accepted") or 0), int(got.get("quarantined") or 0), got.get("duplicate") == "true")

    @property
    def last_answer(self) -> bytes | None:
        """The platform's last answer envelope as received (signed, when the request was), or None."""
        return self._answers.answer()

    def submit_file(self, resource: str, file: str | os.PathLike | RecordFile, *, run_id: str | None = None,
                    batch_size: int = BATCH_SIZE, skip_batches: int = 0) -> Iterator[Receipt]:
        """Send the records of an export file - XML (any root; its child elements are the records,
        e.g. ``<Persons><Person xmlns=...>…</Person>…</Persons>``), CSV or XLSX (a header row of a
        standard format's field names: :mod:`client.files`) - read as a stream.  By default the
        run id is the file's SHA-256, so sending the same file again takes nothing twice; and
        ``skip_batches`` batches answered before (a run resumed) are read past, not sent."""
        records = file if isinstance(file, RecordFile) else self.record_file(file)
        run_id = run_id or file_digest(records.path)
        yield from self.submit(resource, records.canonical(), run_id=run_id, batch_size=batch_size,
                               skip_batches=skip_batches, record_type=lambda: records.record_type)

    def record_file(self, path: str | os.PathLike) -> RecordFile:
        """The records of an export file, its table header matched against this platform's formats."""
        shapes: list[Shape] = []

        def platform_formats() -> list[Shape]:
            if not shapes:
                shapes.extend(platform_shapes(self.base, timeout=self.timeout))
            return shapes

        return RecordFile(path, platform_formats)

    # ------------------------------------------------------------------------------------------ governance

    def apply(self, resource: str, *, purpose: str, valid_to: date, valid_from: date | None = None,
              fields: Iterable[str] = (), system: str | None = None) -> Application:
        """File a 使用申请 for ``resource`` until ``valid_to`` (the last day the data is needed), for the
        signing application system, or ``system``, or the department; ``fields``: those it needs
        (none: every field); the provider answers by the application's deadline."""
        answer = self._call("ApplyForResource", resourceCode=resource, purpose=purpose, validFrom=valid_from,
                            validTo=valid_to, field=list(fields) or None, system=system)
        return _application(answer)

    def applications(self) -> list[Application]:
        """The 使用申请 the department filed, oldest first."""
        return [_application(a) for a in self._call("GetApplications") or ()]

    def grants(self) -> list[Grant]:
        """What the department may read and why: the grants it holds (a 无条件共享 resource needs none)."""
        return [Grant(g.grantId, g.resourceCode, g.resourceName, tuple(g.field or ()), tuple(g.clearField or ()),
                      g.validFrom, g.lastDay, g.system, g.source, g.applicationId, g.state)
                for g in self._call("GetGrants") or ()]

    def file_correction(self, resource: str, *, record_key: str, field: str, problem: str) -> CorrectionReport:
        """Report (纠错) that ``field`` of the record ``record_key`` is wrong; the provider answers it."""
        return _report(self._call("FileCorrection", resourceCode=resource, recordKey=record_key, field=field,
                                  problem=problem))

    def corrections(self) -> list[CorrectionReport]:
        """The 纠错 reports the department filed, oldest first."""
        return [_report(r) for r in self._call("GetCorrections") or ()]

    # ------------------------------------------------------------------------------------------ certificates

    def request_certificate(self, csr: str | bytes, *, system: str | None = None,
                            renews: str | None = None) -> CertificateRequest:
        """Send a PKCS#10 request (PEM) for a new key - made here, never sent: a renewal of a
        certificate (``renews``: its serial) or one for an application system (``system``)."""
        text = csr.decode("ascii") if isinstance(csr, bytes) else csr
        return _certificate_request(self._call("RequestCertificate", csr=text, system=system, renews=renews))

    def certificate_requests(self) -> list[CertificateRequest]:
        """The department's certificate requests, newest first."""
        return [_certificate_request(r) for r in self._call("GetCertificateRequests") or ()]

    def certificate(self, serial: str) -> IssuedCertificate:
        """One of the department's certificates, with its PEM (an issued request's, to install)."""
        found = self._call("GetCertificate", serial=serial)
        return IssuedCertificate(found.certificateSerial, found.subject, found.notAfter, found.status, found.pem)

    def report_node(self, node_id: str, *, pending_batches: int, pending_records: int, refused_batches: int,
                    oldest_pending: datetime | None = None, last_receipt: datetime | None = None,
                    last_error: str | None = None, certificate_not_after: datetime | None = None,
                    subscriptions: Iterable[tuple[str, str, int]] = (), version: str | None = None,
                    adapters: Iterable[dict] = ()) -> str:
        """A front-end node's heartbeat (ReportNodeStatus): its outbox, its subscriptions
        ``(name, resource, watermark)``, its adapters (``name``, and of the last run ``resourceCode``,
        ``status``, ``lastRun``, ``records``, ``error``) and its certificate; the state the centre sees it in."""
        answer = self._call("ReportNodeStatus", nodeId=node_id, version=version, pendingBatches=pending_batches,
                            pendingRecords=pending_records, refusedBatches=refused_batches,
                            oldestPending=oldest_pending, lastReceipt=last_receipt, lastError=last_error,
                            certificateNotAfter=certificate_not_after,
                            subscription=[{"name": n, "resourceCode": r, "watermark": w} for n, r, w in subscriptions]
                            or None, adapter=[{k: v for k, v in a.items() if v is not None} for a in adapters] or None)
        return answer.state

    # ------------------------------------------------------------------------------------------ federation

    def federate(self, entries: list[tuple[str, str, str]], *, reconcile: bool = False) -> list[FederationResult]:
        """A lower platform's catalogue entries up (FederateEntries): ``(code, digest, document JSON)``
        each; what became of each at the higher platform."""
        answer = self._call("FederateEntries", reconcile=reconcile,
                            entry=[{"code": c, "digest": d, "document": doc} for c, d, doc in entries])
        return [FederationResult(r.code, r.outcome, r.resourceCode or "", r.reason or "", r.reasonZh or "")
                for r in answer or ()]

    def federated_digests(self) -> dict[str, str]:
        """What the higher platform holds from this lower one (GetFederatedDigests): code -> digest."""
        return {code: digest for code, (digest, _there) in self.federated_entries().items()}

    def federated_entries(self) -> dict[str, tuple[str, str]]:
        """What the higher platform holds from this lower one: code here -> (digest, its code there)."""
        return {e.code: (e.digest or "", e.resourceCode or "") for e in self._call("GetFederatedDigests") or ()}

    def batch_status(self, batch_id: str) -> BatchStatus:
        """What became of a batch this department sent."""
        status = self._call("GetBatchStatus", batchId=batch_id)
        return BatchStatus(status.batchId, status.resourceCode, status.state, status.received, status.accepted,
                           status.unchanged, status.quarantined,
                           tuple((r.rule, r.count, r.example) for r in status.reason or ()))

    def _call(self, operation: str, **inputs):
        try:
            return getattr(self._service, operation)(**{k: v for k, v in inputs.items() if v is not None})
        except Fault as fault:
            raise from_fault(fault) from None
        except ResponseNotTrusted as exc:
            raise UntrustedAnswer("ResponseNotTrusted", f"{operation}: {exc.message}; check the platform's address "
                                  "and the CA file, and whether something between rewrites the answers",
                                  f"平台应答未通过签名验证 ({operation}), 请核对平台地址和CA证书。") from None
        except ValidationError as exc:  # zeep checked the request against the WSDL before sending it
            raise InvalidRequest("InvalidRequest", f"{operation}: {exc}",
                                 f"请求不符合接口约定 ({operation}): {exc}") from None


class _LastAnswer(Plugin):
    """Keeps the last answer, after its signature was verified: as received (the wire's) or as
    zeep parsed it (serialised only when asked for)."""

    def __init__(self):
        self.last: bytes | etree._Element | None = None

    def answer(self) -> bytes | None:
        return etree.tostring(self.last) if isinstance(self.last, etree._Element) else self.last

    def egress(self, envelope, http_headers, operation, binding_options):
        self.last = None
        return envelope, http_headers

    def ingress(self, envelope, http_headers, operation):
        self.last = envelope
        return envelope, http_headers


class _State:
    """The watermarks a program has reached, one per resource, in a small JSON file."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict[str, int]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def watermark(self, resource: str) -> int:
        return int(self._read().get(resource, 0))

    def keep(self, resource: str, watermark: int) -> None:
        kept = self._read()
        kept[resource] = watermark
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(kept, out, ensure_ascii=False, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)  # a crash leaves the old file or the new one, never half of one


def _application(a) -> Application:
    return Application(a.applicationId, a.resourceCode, a.resourceName, a.providerName, a.purpose,
                       tuple(a.field or ()), a.validFrom, a.validTo, a.system, a.status, a.submittedAt, a.deadline,
                       a.decidedAt, a.reason or "")


def _certificate_request(r) -> CertificateRequest:
    return CertificateRequest(r.requestId, r.holder, r.key, r.renews, r.status, r.submittedAt, r.certificateSerial,
                              r.reason or "")


def _report(r) -> CorrectionReport:
    return CorrectionReport(r.reportId, r.resourceCode, r.recordKey, r.field, r.problem, r.status, r.filedAt,
                            r.answer or "")


def records_digest(records: Iterable[etree._Element]) -> str:
    """A batch's digest (batch.xsd): SHA-256 over each record's exclusive canonical form, in order."""
    sha = hashlib.sha256()
    for record in records:
        sha.update(_canonical(record))
    return sha.hexdigest()


def _canonical(record: etree._Element) -> bytes:
    return etree.tostring(record, method="c14n", exclusive=True, with_comments=False, with_tail=False)


def _version(record_type: str) -> str:
    """A standard format's version, the last step of its namespace (``…/population/1.0`` -> ``1.0``)."""
    return etree.QName(record_type).namespace.rstrip("/").rsplit("/", 1)[-1]


def _any(value) -> list[etree._Element]:
    """The elements of an ``xsd:any`` sequence as zeep gives them."""
    if value is None:
        return []
    items = getattr(value, "_value_1", value)
    if items is None:
        return []
    return [item for item in (items if isinstance(items, list) else [items]) if isinstance(item, etree._Element)]


def _credit_code(cert_pem: bytes) -> str:
    """The 统一社会信用代码 a platform certificate names (its subject's serialNumber)."""
    names = x509.load_pem_x509_certificate(cert_pem).subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(names[0].value) if names else ""
