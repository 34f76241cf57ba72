"""Typed declarative models of the platform's storage.

Directory entities are stored the way a UDDI node keeps them: each entity's own
canonical XML (``uddi:businessEntity`` without its services, ``uddi:businessService``
without its bindings, ...) plus index rows — names, keyed references and tModel
instances — that the find_* operations search.  The XML is the source of truth for
get_*Detail; the index rows are rebuilt from it on every save.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

KEY = String(255)  # UDDI keys are at most 255 characters (uddi:keyType)


class Base(DeclarativeBase):
    pass


# --------------------------------------------------------------------------- identity


class Department(Base):
    """A department (部门) of the city government; in the directory, a businessEntity."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # short code, e.g. "gaj"
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    division_code: Mapped[str] = mapped_column(String(6), default="")  # 行政区划代码
    business_key: Mapped[str] = mapped_column(KEY, unique=True)
    created: Mapped[datetime] = mapped_column(DateTime)
    # 接入方式: app_system (应用系统节点) | front_node (前置交换节点) | catalogue_node (目录管理节点)
    # | platform_node (部门平台节点); see governance.onboarding.CONNECTION_MODES
    connection_mode: Mapped[str] = mapped_column(String(16), default="app_system")
    contact_name: Mapped[str] = mapped_column(String(50), default="")  # 联系人
    contact_phone: Mapped[str] = mapped_column(String(30), default="")
    contact_email: Mapped[str] = mapped_column(String(100), default="")
    # active | suspended (暂停: every access refused, nothing deleted)
    status: Mapped[str] = mapped_column(String(16), default="active")
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime)
    suspension_reason: Mapped[str] = mapped_column(Text, default="")

    users: Mapped[list[User]] = relationship(back_populates="department")
    systems: Mapped[list[AppSystem]] = relationship(back_populates="department")


class DepartmentApplication(Base):
    """A department's application to join the platform (部门登记申请, the connection guide's 附件二).

    ``status``: submitted | approved | refused; an approved one names the department it made.
    """

    __tablename__ = "department_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))  # the short code asked for, e.g. "wjw"
    name: Mapped[str] = mapped_column(String(200))
    english_name: Mapped[str] = mapped_column(String(200), default="")  # the businessEntity's name xml:lang="en"
    credit_code: Mapped[str] = mapped_column(String(18))  # 统一社会信用代码, checked with python-stdnum
    division_code: Mapped[str] = mapped_column(String(6))  # 行政区划代码
    connection_mode: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(30))
    contact_email: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    submitted_by: Mapped[str] = mapped_column(String(64), default="")  # an account, or "" (the public form)
    submitted_from: Mapped[str] = mapped_column(String(64), default="")  # the public form's network address
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text, default="")  # required for a refusal
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))

    department: Mapped[Department | None] = relationship()


class AppSystem(Base):
    """A department's application system (应用系统, as X-Road's subsystem): its own code, its own
    certificates and its own grants.  ``code`` is unique on the platform: ``<department>.<system>``,
    e.g. ``mzj.dibao``.  ``status``: active | suspended."""

    __tablename__ = "app_system"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime)
    suspension_reason: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department] = relationship(back_populates="systems")


class FrontNode(Base):
    """A department's front-end exchange node (前置交换节点) as its last heartbeat described it:
    its outbox, its subscriptions' watermarks and its certificate.  ``node_id`` is the node's own
    (its store's); ``reports`` counts the heartbeats, ``backlog_since`` when its outbox last
    started to grow from empty."""

    __tablename__ = "front_node"

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[str] = mapped_column(String(36), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    system_code: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32), default="")
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    reported_at: Mapped[datetime] = mapped_column(DateTime)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    pending_batches: Mapped[int] = mapped_column(Integer, default=0)
    pending_records: Mapped[int] = mapped_column(BigInteger, default=0)
    refused_batches: Mapped[int] = mapped_column(Integer, default=0)
    oldest_pending: Mapped[datetime | None] = mapped_column(DateTime)
    last_receipt: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    certificate_not_after: Mapped[datetime | None] = mapped_column(DateTime)
    subscriptions: Mapped[list] = mapped_column(JSON, default=list)  # [{name, resource, watermark}]
    adapters: Mapped[list] = mapped_column(JSON, default=list)  # [{name, resource, status, run_at, records, error}]
    backlog_since: Mapped[datetime | None] = mapped_column(DateTime)

    department: Mapped[Department] = relationship()


class FederationNode(Base):
    """A lower platform (目录管理节点 / 部门平台节点: a department registered with that connection mode) as
    federation sees it: when it first and last called, pushed and reconciled, and how many entries it sent."""

    __tablename__ = "federation_node"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), unique=True)
    first_contact: Mapped[datetime] = mapped_column(DateTime)
    last_contact: Mapped[datetime] = mapped_column(DateTime)
    last_push: Mapped[datetime | None] = mapped_column(DateTime)
    last_reconcile: Mapped[datetime | None] = mapped_column(DateTime)
    pushes: Mapped[int] = mapped_column(Integer, default=0)
    entries_received: Mapped[int] = mapped_column(Integer, default=0)

    department: Mapped[Department] = relationship()


class FederationFeed(Base):
    """At a lower platform: one of its published resources whose records it holds (物理集中), the code the
    higher platform gave it (``upper_code``), and the watermark of its core up to which the records were
    delivered there (``watermark``, a GetChanges sequence)."""

    __tablename__ = "federation_feed"

    resource_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    upper_code: Mapped[str] = mapped_column(String(64))
    watermark: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    last_delivery: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    """A person or system account that publishes or administers (发布者/管理员)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    roles: Mapped[str] = mapped_column(String(200), default="")  # comma separated
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # portal sessions begun before this instant (UTC) are over: signing out ends them everywhere
    sessions_valid_from: Mapped[datetime | None] = mapped_column(DateTime)
    # the password policy and lock-out (trust.passwords): failures since the last good sign-in,
    # locked until, when the password was last set, whether it must be changed at the next
    # sign-in (a temporary password), and the hashes of the last few (no reuse)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_history: Mapped[list | None] = mapped_column(JSON, default=list)
    created: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")

    department: Mapped[Department | None] = relationship(back_populates="users")

    @property
    def role_set(self) -> set[str]:
        return {r for r in self.roles.split(",") if r}


class AuthToken(Base):
    """A UDDI authToken; only the SHA-256 of the token is stored."""

    __tablename__ = "auth_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    issued: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime] = mapped_column(DateTime)
    discarded: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class KeyPartition(Base):
    """A key partition (``uddi:<domain>:<...>``) in which a department may assign keys."""

    __tablename__ = "key_partition"

    prefix: Mapped[str] = mapped_column(KEY, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))


# --------------------------------------------------------------------------- directory


class UddiEntity(Base):
    """One businessEntity, businessService, bindingTemplate or tModel."""

    __tablename__ = "uddi_entity"

    key: Mapped[str] = mapped_column(KEY, primary_key=True)  # always lower case
    kind: Mapped[str] = mapped_column(String(16))  # business | service | binding | tmodel
    parent_key: Mapped[str | None] = mapped_column(KEY, index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    authorized_name: Mapped[str] = mapped_column(String(255), default="")
    xml: Mapped[str] = mapped_column(Text)
    sort_name: Mapped[str] = mapped_column(String(255), default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)  # hidden tModels
    created: Mapped[datetime] = mapped_column(DateTime)
    modified: Mapped[datetime] = mapped_column(DateTime)
    modified_including_children: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        Index("ix_uddi_entity_kind_sort", "kind", "sort_name"),
        Index("ix_uddi_entity_kind_modified", "kind", "modified"),
    )


class DirectoryGeneration(Base):
    """One row: a counter that triggers bump on every change to the UDDI tables (migration 0007)."""

    __tablename__ = "directory_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class UddiName(Base):
    """An indexed name of an entity (businessEntity, businessService or tModel)."""

    __tablename__ = "uddi_name"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_key: Mapped[str] = mapped_column(KEY, ForeignKey("uddi_entity.key", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(26), default="")
    value: Mapped[str] = mapped_column(String(255))
    folded: Mapped[str] = mapped_column(String(255))  # casefold() of value
    sort_name: Mapped[str] = mapped_column(String(255), default="")  # the entity's, so a search needs no join

    __table_args__ = (
        # varchar_pattern_ops lets PostgreSQL use the index for LIKE 'prefix%' in any collation.
        Index("ix_uddi_name_kind_value", "kind", "value", "entity_key",
              postgresql_ops={"value": "varchar_pattern_ops"}),
        Index("ix_uddi_name_kind_folded", "kind", "folded", "entity_key",
              postgresql_ops={"folded": "varchar_pattern_ops"}),
        Index("ix_uddi_name_entity", "entity_key"),
    )


class UddiKeyedReference(Base):
    """A keyedReference of a categoryBag or identifierBag, flattened for search."""

    __tablename__ = "uddi_keyed_reference"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_key: Mapped[str] = mapped_column(KEY, ForeignKey("uddi_entity.key", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    bag: Mapped[str] = mapped_column(String(10))  # category | identifier
    group_tmodel_key: Mapped[str] = mapped_column(KEY, default="")  # keyedReferenceGroup
    tmodel_key: Mapped[str] = mapped_column(KEY)
    key_name: Mapped[str] = mapped_column(String(255), default="")
    key_value: Mapped[str] = mapped_column(String(255))
    sort_name: Mapped[str] = mapped_column(String(255), default="")  # the entity's, so a search needs no join

    __table_args__ = (
        # A search driven by one keyedReference reads its first page in name order from here.
        Index("ix_uddi_kr_lookup", "kind", "bag", "tmodel_key", "key_value", "sort_name", "entity_key"),
        # Probes of the other keyedReferences of a search are answered by this index alone.
        Index("ix_uddi_kr_entity", "entity_key", "tmodel_key", "key_value", "bag", "kind"),
    )


class UddiTModelInstance(Base):
    """A tModelInstanceInfo of a bindingTemplate (for tModelBag searches)."""

    __tablename__ = "uddi_tmodel_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    binding_key: Mapped[str] = mapped_column(KEY, ForeignKey("uddi_entity.key", ondelete="CASCADE"))
    service_key: Mapped[str] = mapped_column(KEY)
    tmodel_key: Mapped[str] = mapped_column(KEY)

    __table_args__ = (
        Index("ix_uddi_tmi_tmodel", "tmodel_key", "service_key"),
        Index("ix_uddi_tmi_binding", "binding_key"),
    )




class UddiSubscription(Base):
    """A subscription (UDDI v3 5.5): a publisher's filter over the directory, the period it may ask
    for what changed, and the subscription listener it is notified at (``binding_key``)."""

    __tablename__ = "uddi_subscription"

    key: Mapped[str] = mapped_column(KEY, primary_key=True)  # always lower case
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    filter_xml: Mapped[str] = mapped_column(Text)  # the subscriptionFilter element, as saved
    binding_key: Mapped[str | None] = mapped_column(KEY)
    notification_seconds: Mapped[int | None] = mapped_column(Integer)  # the granted notificationInterval
    max_entities: Mapped[int] = mapped_column(Integer)
    brief: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime] = mapped_column(DateTime)
    # the listener has everything that changed before this instant: the next notification starts here
    notified_through: Mapped[datetime | None] = mapped_column(DateTime)
    # when the listener is next due a notification; a notifier claims one by moving it on, so that
    # several server processes never send the same notification twice
    next_notification: Mapped[datetime | None] = mapped_column(DateTime)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)  # the last notification failed

    user: Mapped[User] = relationship()


class UddiDeletion(Base):
    """The deletion log: an entity removed from the directory (or a tModel hidden), so that subscriptions
    (UDDI v3 5.5) can report it in a ``keyBag`` with ``deleted`` true after its rows are gone.  A row with a
    ``subscription_key`` says that subscription's find_* filter found the entity as it went."""

    __tablename__ = "uddi_deletion"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(KEY)
    kind: Mapped[str] = mapped_column(String(16))  # business | service | binding | tmodel
    parent_key: Mapped[str | None] = mapped_column(KEY)
    deleted: Mapped[datetime] = mapped_column(DateTime)
    subscription_key: Mapped[str | None] = mapped_column(
        KEY, ForeignKey("uddi_subscription.key", ondelete="CASCADE"))

    __table_args__ = (Index("ix_uddi_deletion_kind_deleted", "kind", "deleted"),
                      Index("ix_uddi_deletion_subscription", "subscription_key", "deleted"))


class UddiNotification(Base):
    """One notify_subscriptionListener sent (or tried): when, for which period, and how it went."""

    __tablename__ = "uddi_notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_key: Mapped[str] = mapped_column(KEY, ForeignKey("uddi_subscription.key", ondelete="CASCADE"))
    sent: Mapped[datetime] = mapped_column(DateTime)
    period_start: Mapped[datetime] = mapped_column(DateTime)
    period_end: Mapped[datetime] = mapped_column(DateTime)
    address: Mapped[str] = mapped_column(String(4096))
    entities: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | failed
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_uddi_notification_subscription", "subscription_key", "sent"),)


# --------------------------------------------------------------------------- WSDL repository


class WsdlDocument(Base):
    """A stored, validated WSDL document, served under ``/wsdl/<path>``."""

    __tablename__ = "wsdl_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(255), unique=True)  # e.g. "gaj/population-query.wsdl"
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    target_namespace: Mapped[str] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    source_url: Mapped[str] = mapped_column(String(1000), default="")
    uploaded: Mapped[datetime] = mapped_column(DateTime)


# --------------------------------------------------------------------------- catalogue (D1)


class CatalogueEntry(Base):
    """A catalogue entry (政务信息资源目录条目) per 《政务信息资源目录编制指南(试行)》."""

    __tablename__ = "catalogue_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_code: Mapped[str] = mapped_column(String(64), unique=True)  # 资源代码 分类码/顺序码
    category: Mapped[str] = mapped_column(String(8))  # 基础 | 主题 | 部门 (as codes 1|2|3)
    class_code: Mapped[str] = mapped_column(String(32))  # 类/项/目/细目 code, e.g. "1010102"
    sequence: Mapped[int] = mapped_column(Integer)  # 顺序码
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    provider_code: Mapped[str] = mapped_column(String(18))  # 提供方代码 (统一社会信用代码)
    provider_unit: Mapped[str] = mapped_column(String(200), default="")  # 提供方内部部门
    abstract: Mapped[str] = mapped_column(Text)  # 信息资源摘要
    format_class: Mapped[str] = mapped_column(String(20))  # 信息资源格式分类
    format_type: Mapped[str] = mapped_column(String(40))  # 信息资源格式类型
    sharing_type: Mapped[str] = mapped_column(String(10))  # 共享类型
    sharing_condition: Mapped[str] = mapped_column(Text, default="")  # 共享条件
    not_shared_basis: Mapped[str] = mapped_column(Text, default="")  # 不予共享依据
    sharing_method: Mapped[str] = mapped_column(String(40))  # 共享方式
    open_to_public: Mapped[bool] = mapped_column(Boolean, default=False)  # 是否向社会开放
    open_condition: Mapped[str] = mapped_column(Text, default="")  # 开放条件
    update_cycle: Mapped[str] = mapped_column(String(10))  # 更新周期
    publish_date: Mapped[date | None] = mapped_column(Date)  # 发布日期
    related_codes: Mapped[list] = mapped_column(JSON, default=list)  # 关联资源代码
    status: Mapped[str] = mapped_column(String(16))  # draft|submitted|approved|published|refused|withdrawn
    status_reason: Mapped[str] = mapped_column(Text, default="")
    wsdl_path: Mapped[str] = mapped_column(String(255), default="")  # the interface's WSDL in the repository
    access_point: Mapped[str] = mapped_column(String(1000), default="")  # the interface's endpoint URL
    logical: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # 逻辑集中
    service_key: Mapped[str | None] = mapped_column(KEY)  # the businessService once published
    version: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(DateTime)
    modified: Mapped[datetime] = mapped_column(DateTime)
    # 目录管理节点: an entry a lower platform (the provider, a catalogue node) catalogued and pushed up keeps
    # its code, provider and digest there; None for an entry catalogued here
    origin_code: Mapped[str | None] = mapped_column(String(64))
    origin_provider: Mapped[str] = mapped_column(String(200), default="")
    origin_provider_code: Mapped[str] = mapped_column(String(18), default="")
    origin_digest: Mapped[str | None] = mapped_column(String(64))

    provider: Mapped[Department] = relationship()
    items: Mapped[list[InformationItem]] = relationship(
        back_populates="entry", order_by="InformationItem.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("class_code", "sequence", name="uq_catalogue_class_sequence"),
        UniqueConstraint("provider_id", "origin_code", name="uq_catalogue_origin"),
        Index("ix_catalogue_status", "status"),
    )


class InformationItem(Base):
    """An information item (信息项) of a catalogue entry."""

    __tablename__ = "information_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entry.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    data_type: Mapped[str] = mapped_column(String(1))  # C N Y D T L M G B I F
    length: Mapped[int | None] = mapped_column(Integer)

    entry: Mapped[CatalogueEntry] = relationship(back_populates="items")


class CatalogueVersion(Base):
    """One change of a catalogue entry: who, when, what, and the snapshot after it."""

    __tablename__ = "catalogue_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entry.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create|edit|submit|approve|refuse|publish|withdraw
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime)
    snapshot: Mapped[dict] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_catalogue_version"),)


class CatalogueWatch(Base):
    """A person following an entry (订阅目录变更): its versions after ``seen_version`` are news to them,
    and so are the batches of its records received after ``data_seen_at`` (if they may read them)."""

    __tablename__ = "catalogue_watch"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entry.id", ondelete="CASCADE"))
    created: Mapped[datetime] = mapped_column(DateTime)
    seen_version: Mapped[int] = mapped_column(Integer, default=0)
    # the batches of the resource's records received from this second on are news (None: after ``created``)
    data_seen_at: Mapped[datetime | None] = mapped_column(DateTime)

    entry: Mapped[CatalogueEntry] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "entry_id", name="uq_catalogue_watch"),)


class Notice(Base):
    """A 站内消息 to one person: something done that they should know of - a 使用申请 to answer or its
    answer, a 纠错 to answer or its answer, an entry to review or its review.  ``subject`` names what
    it is about (application, correction, correction_answer, entry, grant) and ``ref`` which one (a number,
    a 资源代码); the portal makes the link.  ``read_at`` None: unread."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(24))
    ref: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(64), default="")  # who did what it tells of
    created: Mapped[datetime] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_notice_user_read", "user_id", "read_at"),
                      Index("ix_notice_subject_ref", "subject", "ref"))  # a step clears, a reminder is sent once


# --------------------------------------------------------------------------- exchange tiers (E6)


class InputBatch(Base):
    """The input tier (输入库): a batch exactly as it was received — never changed."""

    __tablename__ = "input_batch"

    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the sender's UUID
    provider_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    resource_code: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(255))  # "{namespace}local"
    format_version: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime)  # as the sender stated it
    declared_count: Mapped[int] = mapped_column(Integer)
    declared_digest: Mapped[str] = mapped_column(String(64))
    payload_sha256: Mapped[str] = mapped_column(String(64))  # of the bytes received
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed bytes received
    payload_size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # processed | refused
    received: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_input_batch_provider", "provider_id", "received_at"),)


class QuarantineRecord(Base):
    """A received record that failed validation (隔离区), kept with its reasons."""

    __tablename__ = "quarantine_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(36), ForeignKey("input_batch.batch_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based place of the record in the batch
    record_key: Mapped[str] = mapped_column(String(255), default="")
    record_xml: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | replayed | discarded
    created: Mapped[datetime] = mapped_column(DateTime)


class QuarantineReason(Base):
    """One rule a quarantined record broke."""

    __tablename__ = "quarantine_reason"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("quarantine_record.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str] = mapped_column(String(36))
    rule: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_quarantine_reason_batch_rule", "batch_id", "rule"),)


class CoreRecord(Base):
    """A version of a record of a base database (基础数据库) in the core tier (核心库).

    The current version has ``effective_to`` NULL; every change closes it and adds a
    new row, so ``id`` orders changes and serves as the GetChanges watermark.
    """

    __tablename__ = "core_record"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    base: Mapped[str] = mapped_column(String(16))  # population | legal_entity | macro_economy | spatial
    record_key: Mapped[str] = mapped_column(String(255))
    record_type: Mapped[str] = mapped_column(String(255))
    fields: Mapped[dict] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    source_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    resource_code: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(36))
    effective_from: Mapped[datetime] = mapped_column(DateTime)
    effective_to: Mapped[datetime | None] = mapped_column(DateTime)
    # fields whose value another department gave than ``source_id`` (比对, exchange.integration)
    field_sources: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        # the current versions of a chunk's keys (the loader), a key's history, pages in key order;
        # every index on a random key is one more page written per version (see migration 0016)
        Index("ix_core_current", "base", "record_key", "effective_to"),
        Index("ix_core_resource", "resource_code", "record_key"),
        Index("ix_core_changes", "base", "id"),
    )


class SourcePriority(Base):
    """How strongly a department's values count in a base database when sources disagree.

    ``field`` '' is the department's priority for every field without one of its own.
    """

    __tablename__ = "source_priority"

    base: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    priority: Mapped[int] = mapped_column(Integer)


class CoreContribution(Base):
    """A key a resource sent whose record changed nothing in the core (the same values, or values
    a higher-priority department keeps): the resource still holds that record.  Keys whose
    versions carry the resource's code need no row here."""

    __tablename__ = "core_contribution"

    resource_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    base: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    batch_id: Mapped[str] = mapped_column(String(36))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class CoreLineage(Base):
    """Per-field lineage (血缘): a value one source gave where sources disagree."""

    __tablename__ = "core_lineage"

    id: Mapped[int] = mapped_column(primary_key=True)
    base: Mapped[str] = mapped_column(String(16))
    record_key: Mapped[str] = mapped_column(String(255))
    field: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    batch_id: Mapped[str] = mapped_column(String(36))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_core_lineage_key", "base", "record_key", "field"),)


# --------------------------------------------------------------------------- adapters and synchronisation (E3-E5)


class SyncRun(Base):
    """One run of a department adapter (同步任务) and its reconciliation (对账)."""

    __tablename__ = "sync_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    adapter: Mapped[str] = mapped_column(String(100), index=True)
    mode: Mapped[str] = mapped_column(String(16))  # full | incremental | rowhash
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    started: Mapped[datetime] = mapped_column(DateTime)
    finished: Mapped[datetime | None] = mapped_column(DateTime)
    watermark_from: Mapped[datetime | None] = mapped_column(DateTime)
    watermark_to: Mapped[datetime | None] = mapped_column(DateTime)
    read: Mapped[int] = mapped_column(Integer, default=0)
    loaded: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    filtered: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")


class JobFailure(Base):
    """Why an attempt of a background job failed (后台作业): procrastinate's queue keeps a job's status
    and attempts, not its errors; the worker writes one row per failed attempt (operations/)."""

    __tablename__ = "job_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger, index=True)  # procrastinate_jobs.id
    task: Mapped[str] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    error: Mapped[str] = mapped_column(Text)


class BackgroundPass(Base):
    """In process (``GOVSHARE_JOBS=inprocess``, the embedded SQLite default), what a background loop of
    ``govshare serve`` did last (后台作业): one row per task, written by ``registry.passes`` - a failure at
    once, a success when the last one written was a failure or is a minute old.  On procrastinate the
    queue's jobs say the same, one row per job."""

    __tablename__ = "background_pass"

    task: Mapped[str] = mapped_column(String(128), primary_key=True)  # the job's task name: govshare.federate ...
    runner: Mapped[str] = mapped_column(String(128))  # the process that wrote the row: host and pid
    period_seconds: Mapped[int] = mapped_column(Integer)  # the most a healthy loop leaves between two rows
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed: the last pass
    started: Mapped[datetime] = mapped_column(DateTime)  # the last pass written
    ended: Mapped[datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(Text, default="")  # the last success's line
    error: Mapped[str] = mapped_column(Text, default="")  # the last failure's, kept after a success
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed passes since the last success
    failing_since: Mapped[datetime | None] = mapped_column(DateTime)  # the first of them
    succeeded: Mapped[datetime | None] = mapped_column(DateTime)  # when the last success ended


class JobTick(Base):
    """A tick of a periodic background job claimed by the job that does its work.  procrastinate defers a
    tick once against the newest one deferred, not against older ones (it deletes them): a worker a tick
    behind the others can defer an older tick again, and that second job finds the claim and does nothing."""

    __tablename__ = "job_tick"

    task: Mapped[str] = mapped_column(String(128), primary_key=True)
    tick: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # Unix time
    job_id: Mapped[int] = mapped_column(BigInteger)  # procrastinate_jobs.id
    claimed: Mapped[datetime] = mapped_column(DateTime)


class SyncCheckpoint(Base):
    """How far a run got: the last chunk committed, so a killed run resumes there."""

    __tablename__ = "sync_checkpoint"

    adapter: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id"))
    chunk: Mapped[int] = mapped_column(Integer)
    position: Mapped[str] = mapped_column(String(255), default="")  # last source key of the chunk
    watermark: Mapped[datetime | None] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)


class AdapterQuarantine(Base):
    """A source row an adapter could not map or clean (隔离区), kept to be corrected and replayed."""

    __tablename__ = "adapter_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id"), index=True)
    adapter: Mapped[str] = mapped_column(String(100))
    source_key: Mapped[str] = mapped_column(String(255), default="")
    stage: Mapped[str] = mapped_column(String(16))  # map | clean | validate | compare
    rule: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text)
    row: Mapped[dict] = mapped_column(JSON)  # the source row as read (last)
    # what identifies the source row: a digest of its key, or of the row when it has none
    # (adapters.reading.row_identity); a later run that rejects the row again refreshes its open entry
    row_identity: Mapped[str] = mapped_column(String(64))
    correction: Mapped[dict | None] = mapped_column(JSON)  # fields a person corrected
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | replayed | discarded | resolved
    created: Mapped[datetime] = mapped_column(DateTime)  # first quarantined, by run ``run_id``
    seen_run: Mapped[int] = mapped_column(Integer)  # the last run that rejected the row
    seen: Mapped[datetime] = mapped_column(DateTime)  # ... and when

    __table_args__ = (
        Index("ix_adapter_quarantine_rule", "adapter", "rule", "status"),
        Index("ix_adapter_quarantine_row", "adapter", "row_identity"),
        # one open entry per source row, also under runs and replays at the same time (migration 0017)
        Index("uq_adapter_quarantine_open_row", "adapter", "row_identity", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )


class SourceRowHash(Base):
    """The hash of each source row last loaded, for sources without a change timestamp."""

    __tablename__ = "source_row_hash"

    adapter: Mapped[str] = mapped_column(String(100), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    row_hash: Mapped[str] = mapped_column(String(64))
    seen_run: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------- security (S1-S5)


class Certificate(Base):
    """An X.509 certificate the platform CA issued to a department (S1); never its private key."""

    __tablename__ = "certificate"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # lower-case hex, no leading zeros
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    system_id: Mapped[int | None] = mapped_column(ForeignKey("app_system.id"), index=True)  # None: the department's
    subject: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256, hex
    pem: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(32), default="signing")
    not_before: Mapped[datetime] = mapped_column(DateTime)
    not_after: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid | revoked
    issued: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[datetime | None] = mapped_column(DateTime)
    revocation_reason: Mapped[str] = mapped_column(String(32), default="")

    department: Mapped[Department] = relationship()
    system: Mapped[AppSystem | None] = relationship()


class CertificateRequest(Base):
    """A certificate signing request (PKCS#10) from a department or one of its systems: the private
    key stays with them; the security administrator approves and the platform CA issues.

    ``status``: submitted | issued | refused.  ``renews`` names the certificate a renewal replaces.
    """

    __tablename__ = "certificate_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    system_id: Mapped[int | None] = mapped_column(ForeignKey("app_system.id"))
    csr_pem: Mapped[str] = mapped_column(Text)
    key_fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the public key (DER), hex
    renews: Mapped[str | None] = mapped_column(String(40))  # a certificate serial
    status: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    submitted_by: Mapped[str] = mapped_column(String(64), default="")
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    certificate_serial: Mapped[str | None] = mapped_column(String(40))

    department: Mapped[Department] = relationship()
    system: Mapped[AppSystem | None] = relationship()


class WssSeen(Base):
    """A signed message already received (its SignatureValue's SHA-256), kept until its
    Timestamp expires: the replay cache every server process shares (S2)."""

    __tablename__ = "wss_seen"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    certificate_serial: Mapped[str] = mapped_column(String(40))
    received: Mapped[datetime] = mapped_column(DateTime)
    expires: Mapped[datetime] = mapped_column(DateTime, index=True)


# --------------------------------------------------------------------------- sharing governance (S3)


class SharingApplication(Base):
    """A 使用申请: a consumer department asks to read a resource for a purpose, some fields, a period.

    ``status``: submitted | approved | refused | withdrawn | expired; the provider answers
    before ``deadline`` (submitted + GOVSHARE_APPLICATION_DAYS calendar days).
    """

    __tablename__ = "sharing_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("app_system.id"))  # the system that will read; None: any
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entry.id"))
    purpose: Mapped[str] = mapped_column(Text)  # 用途
    fields: Mapped[list | None] = mapped_column(JSON)  # record field names; None: every field
    valid_from: Mapped[date] = mapped_column(Date)  # requested period, China dates, both inclusive
    valid_to: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    applicant: Mapped[str] = mapped_column(String(64))  # username
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    deadline: Mapped[datetime] = mapped_column(DateTime)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(Text, default="")  # required for a refusal

    consumer: Mapped[Department] = relationship()
    entry: Mapped[CatalogueEntry] = relationship()

    __table_args__ = (
        Index("ix_sharing_application_entry_status", "entry_id", "status"),
        Index("ix_sharing_application_consumer", "consumer_id"),
    )


class SharingGrant(Base):
    """A consumer department's right to read a resource (授权): fields, period, revocation.

    ``source`` is 'application' (an approved SharingApplication) or 'policy' (granted directly).
    ``valid_to`` NULL: no end.  ``clear_fields`` are shown unmasked to this consumer.
    """

    __tablename__ = "sharing_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    system_id: Mapped[int | None] = mapped_column(ForeignKey("app_system.id"))  # None: the whole department
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entry.id"))
    fields: Mapped[list | None] = mapped_column(JSON)  # None: every field
    clear_fields: Mapped[list] = mapped_column(JSON, default=list)
    valid_from: Mapped[datetime] = mapped_column(DateTime)  # UTC, inclusive
    valid_to: Mapped[datetime | None] = mapped_column(DateTime)  # UTC, exclusive
    source: Mapped[str] = mapped_column(String(16))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_application.id"))
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[str] = mapped_column(String(64), default="")
    revoke_reason: Mapped[str] = mapped_column(Text, default="")

    consumer: Mapped[Department] = relationship()
    entry: Mapped[CatalogueEntry] = relationship()

    __table_args__ = (Index("ix_sharing_grant_consumer_entry", "consumer_id", "entry_id"),)


class MaskingRule(Base):
    """How one field of a resource is masked for consumers (脱敏), overriding the default by field name."""

    __tablename__ = "masking_rule"

    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entry.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))  # none | id_number | phone | name | full
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime)


# --------------------------------------------------------------------------- correction (S5)


class CorrectionReport(Base):
    """A 纠错 report: a consumer says a field of a record is wrong; the provider answers by ``deadline``.

    ``status``: open | accepted (``answer`` says what the provider will change) | rejected (``answer``
    is the reason).
    """

    __tablename__ = "correction_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalogue_entry.id"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    reported_by: Mapped[str] = mapped_column(String(64))
    record_key: Mapped[str] = mapped_column(String(255))
    field: Mapped[str] = mapped_column(String(100))
    problem: Mapped[str] = mapped_column(Text)
    proposed_value: Mapped[str] = mapped_column(Text, default="")
    filed_at: Mapped[datetime] = mapped_column(DateTime)
    deadline: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    answered_by: Mapped[str] = mapped_column(String(64), default="")
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answer: Mapped[str] = mapped_column(Text, default="")

    entry: Mapped[CatalogueEntry] = relationship()
    reporter: Mapped[Department] = relationship()

    __table_args__ = (
        Index("ix_correction_report_entry_status", "entry_id", "status"),
        Index("ix_correction_report_reporter", "reporter_id"),
    )


#: the result of a forwarded query a 逻辑集中 provider did not answer (``exchange.logical``: always a Server fault)
UNAVAILABLE = "fault:ProviderUnavailable"
_UNAVAILABLE_ONLY = text(r"result = 'fault\:ProviderUnavailable'")  # (the colon escaped: not a parameter of text())


class AuditEntry(Base):
    """One access or refusal in the tamper-evident audit log (审计日志, S4), a link of a hash chain.

    ``entry_hash`` is SHA-256 over the canonical serialisation of every other column but
    ``entry_mac``, ``prev_hash`` included (see :mod:`trust.audit`); ``seq`` numbers the chain
    from 1.  ``entry_mac`` is HMAC-SHA256 of ``entry_hash`` under the platform's audit key,
    which is not in the database (the keyed chain; null on entries written before 0018).
    """

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    department_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives departments
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    user: Mapped[str | None] = mapped_column(String(100))
    certificate_serial: Mapped[str | None] = mapped_column(String(40), index=True)
    operation: Mapped[str] = mapped_column(String(64))  # the action: exchange.query_records, sharing.apply, ...
    channel: Mapped[str | None] = mapped_column(String(16))  # soap | portal | cli | node | federation | job | harvest
    system_code: Mapped[str | None] = mapped_column(String(64))  # the department's 应用系统 that called
    resource_code: Mapped[str | None] = mapped_column(String(64), index=True)
    query_digest: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(80))  # ok | refused:<code> | fault:<code>
    detail: Mapped[str] = mapped_column(Text, default="")  # the refusal's or fault's message
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    request_digest: Mapped[str | None] = mapped_column(String(64))
    response_digest: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))  # not indexed: nothing looks an entry up by hash
    entry_mac: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # the 告警 of 逻辑集中 providers that did not answer (governance.alerts) reads these few, not a week of the log
        Index("ix_audit_entry_provider_unavailable", "recorded_at", postgresql_where=_UNAVAILABLE_ONLY,
              sqlite_where=_UNAVAILABLE_ONLY),
    )


class AuditCheckpoint(Base):
    """The chain's head (sequence and hash) signed by the platform key (RSA-SHA256), so a
    deleted tail or a consistently rewritten chain no longer matches a signature."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(16))  # interval | time | manual
    certificate: Mapped[str] = mapped_column(Text)  # PEM of the signing platform certificate
    signature: Mapped[str] = mapped_column(Text)  # base64 of RSA PKCS#1 v1.5 / SHA-256 over the signed text


class EvidenceMessage(Base):
    """The evidence log (消息日志): a signed request and the platform's signed answer to it, the
    exact bytes as they travelled (compressed), linked to the audit entry of that access.  A row
    stays online ``GOVSHARE_EVIDENCE_DAYS`` after it is archived (``govshare audit archive``)."""

    __tablename__ = "evidence_message"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    audit_seq: Mapped[int] = mapped_column(BigInteger, index=True)  # the audit entry of the access (no foreign key,
    # like the log's own: the entry stays when the row is archived and removed)
    received_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, the request read whole
    answered_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, the signed answer built
    operation: Mapped[str] = mapped_column(String(64))
    certificate_serial: Mapped[str] = mapped_column(String(40))  # the request's signer
    signer_subject: Mapped[str] = mapped_column(String(500))
    compression: Mapped[str] = mapped_column(String(8))  # zlib
    request: Mapped[bytes] = mapped_column(LargeBinary)  # compressed bytes of the signed request as received
    request_sha256: Mapped[str] = mapped_column(String(64))  # of the bytes before compression
    response: Mapped[bytes] = mapped_column(LargeBinary)  # compressed bytes of the signed answer as sent
    response_sha256: Mapped[str] = mapped_column(String(64))
    archive: Mapped[str | None] = mapped_column(String(200))  # the archive file it went to; None: not yet archived


class RequestRecord(Base):
    """One SOAP request as operational monitoring (运行监测) saw it, X-Road's op-monitoring fields:
    who called (``department_code``, and ``user`` or the signing ``certificate_serial``), from which
    application system (``system_code``, 应用系统), for which resource (``resource_code``, 资源代码),
    at which ``service`` (the endpoint: /exchange, /uddi/inquiry, ...) and ``operation`` (the SOAP
    operation), when (``started_ms``/``ended_ms``: milliseconds since the Unix epoch, UTC), how big
    (bytes in and out), with what ``result`` (``ok`` or the fault's code) and from where (``client``)."""

    __tablename__ = "request_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    started_ms: Mapped[int] = mapped_column(BigInteger)
    ended_ms: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(100), default="")
    department_code: Mapped[str | None] = mapped_column(String(32))
    user: Mapped[str | None] = mapped_column(String(100))
    certificate_serial: Mapped[str | None] = mapped_column(String(40))
    system_code: Mapped[str | None] = mapped_column(String(64))
    resource_code: Mapped[str | None] = mapped_column(String(64))
    request_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    response_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    result: Mapped[str] = mapped_column(String(80), default="ok")
    client: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index("ix_request_log_started", "started_ms"),
        Index("ix_request_log_service_started", "service", "started_ms"),
        Index("ix_request_log_consumer_started", "department_code", "started_ms"),
    )


class RequestDay(Base):
    """运行监测按日汇总: a China day's requests (``request_log``) counted per service, operation, consumer,
    resource and duration - how many took ``duration_ms`` (its bin's middle: within 1/32, exact under
    32 ms; ``registry.request_log.duration_bin``), how many of them failed, their bytes.  A day is
    summarised once it has ended (``registry.request_log.summarise``) and its row in
    ``request_day_mark`` says so; a report by day reads its summarised days here."""

    __tablename__ = "request_day"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day_ms: Mapped[int] = mapped_column(BigInteger)  # the China day's first millisecond, since the Unix epoch
    service: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(100))
    department_code: Mapped[str | None] = mapped_column(String(32))
    resource_code: Mapped[str | None] = mapped_column(String(64))
    duration_ms: Mapped[int] = mapped_column(Integer)
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    bytes_in: Mapped[int] = mapped_column(BigInteger)
    bytes_out: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_request_day_day", "day_ms"),
        Index("ix_request_day_service_day", "service", "day_ms"),
        Index("ix_request_day_consumer_day", "department_code", "day_ms"),
    )


class RequestDayMark(Base):
    """A China day whose requests ``request_day`` holds (one row, written with them)."""

    __tablename__ = "request_day_mark"

    day_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    summarised_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    requests: Mapped[int] = mapped_column(BigInteger)  # the day's requests when it was summarised
