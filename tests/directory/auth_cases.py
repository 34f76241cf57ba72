"""Who may run the directory's actions (see tests/actions.py): the catalogue (编目 → 审核 → 发布),
WSDL publication, the UDDI publication API and the UDDI subscription API.

An allowed role may meet another refusal than its role's (an entry in a status that does not
allow the verb, a key nobody has): the table asks only whether the role is let through."""

from pathlib import Path

from lxml import etree

from directory.uddi import store
from tests.actions import ALL_ROLES, case

CATALOGUING = {"admin", "cataloguer", "provider"}
REVIEWING = {"admin", "reviewer"}
ALL = set(ALL_ROLES)
POPULATION_WSDL = (Path(__file__).resolve().parents[2] / "wsdl" / "contracts" / "population-query.wsdl").read_bytes()
GAJ_BUSINESS = "uddi:gaj.govshare.local:business"


def _metadata() -> dict:
    return {"classification": "101002", "name": "出生医学证明信息", "abstract": "出生医学证明签发信息。",
            "format_class": "数据库", "format_type": "oracle",
            "items": [{"name": "姓名", "data_type": "C", "length": 50}],
            "sharing_type": "无条件共享", "sharing_method": "接口", "open_to_public": False, "update_cycle": "每日"}


def _workbook() -> bytes:
    """The 目录编制 template with one new resource of 公安局's and its information item."""
    import io

    import openpyxl

    from directory.catalogue import template

    book = openpyxl.load_workbook(io.BytesIO(template.write()))
    headers = [template.header_text(c.value) for c in book[template.RESOURCES][1]]
    row = {"资源分类": "101002", "资源名称": "出生医学证明信息", "资源摘要": "出生医学证明签发信息。",
           "格式分类": "数据库", "格式类型": "oracle", "共享类型": "无条件共享", "共享方式": "接口",
           "是否向社会开放": "否", "更新周期": "每日"}
    book[template.RESOURCES].append([row.get(h) for h in headers])
    book[template.ITEMS].append([2, "姓名", "C", 50])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _tmodel():
    tmodel = store.fresh("tModel")
    store.sub(tmodel, "name", text="auth-case")
    return [tmodel]


def _business():
    business = store.fresh("businessEntity")
    store.sub(business, "name", text="auth-case")
    return [business]


def _subscription():
    subscription = etree.Element("{urn:uddi-org:sub_v3}subscription")
    subscription_filter = etree.SubElement(subscription, "{urn:uddi-org:sub_v3}subscriptionFilter")
    store.sub(store.sub(subscription_filter, "find_service"), "name", text="户籍%")
    return [subscription]


def _service():
    service = store.fresh("businessService", {"businessKey": GAJ_BUSINESS})
    store.sub(service, "name", text="auth-case")
    return [service]


CASES = {
    # 公安局's own staff catalogue, submit and take off its entries (the published ones: an allowed role
    # meets IllegalTransition where the status does not allow the verb)
    "catalogue.create": case(CATALOGUING, lambda w: {"metadata": _metadata()}, department="gaj"),
    "catalogue.edit": case(CATALOGUING, lambda w: {"resource_code": w.conditional, "changes": {"update_cycle": "每周"}},
                           department="gaj"),
    "catalogue.submit": case(CATALOGUING, lambda w: {"resource_code": w.conditional}, department="gaj"),
    "catalogue.withdraw": case(CATALOGUING, lambda w: {"resource_code": w.unconditional, "reason": "停用"},
                               department="gaj"),
    # the reviewers review any department's entries (民政局 here; the entry is published: IllegalTransition)
    "catalogue.approve": case(REVIEWING, lambda w: {"resource_code": w.conditional}),
    "catalogue.refuse": case(REVIEWING, lambda w: {"resource_code": w.conditional, "reason": "摘要不全"}),
    "catalogue.publish": case(REVIEWING, lambda w: {"resource_code": w.conditional}),
    "catalogue.review_queue": case(REVIEWING),
    "catalogue.search": case("everyone", lambda w: {"text": "户籍"}),
    "catalogue.show": case("everyone", lambda w: {"resource_code": w.conditional}),
    # the spreadsheet (目录编制模板): readers take the template and export what they see; 公安局's cataloguing
    # roles import (checking only here: the rows meet create's and edit's rules, not a role's refusal)
    "catalogue.template": case("everyone"),
    "catalogue.export": case("everyone", lambda w: {"chosen": {"provider": "gaj"}}),
    "catalogue.import": case(CATALOGUING, lambda w: {"content": _workbook(), "check": True}, department="gaj"),
    # the history (drafts, refusals) is 公安局's and the reviewers' and auditors', not 民政局's cataloguers'
    "catalogue.history": case({"admin", "reviewer", "auditor"}, lambda w: {"resource_code": w.conditional}),
    # the open catalogue (开放目录) is anyone's: what it shows is open_catalogue's, whoever asks
    "catalogue.open_search": case("everyone", lambda w: {"text": "户籍"}),
    "catalogue.open_show": case("everyone", lambda w: {"resource_code": w.unconditional}),
    "catalogue.dcat": case("everyone", lambda w: {"base_url": "https://data.example.gov.cn"}),
    "wsdl.publish": case(CATALOGUING, lambda w: {"path": "gaj/auth-case.wsdl", "content": POPULATION_WSDL},
                         department="gaj"),
    "uddi.save_business": case(CATALOGUING, lambda w: {"entities": _business()}, department="gaj"),
    "uddi.save_service": case(CATALOGUING, lambda w: {"entities": _service()}, department="gaj"),
    "uddi.save_binding": case(CATALOGUING, lambda w: {"entities": []}, department="gaj"),
    "uddi.save_tModel": case(CATALOGUING, lambda w: {"entities": _tmodel()}, department="gaj"),
    "uddi.delete_business": case(CATALOGUING, lambda w: {"keys": ["uddi:gaj.govshare.local:nobody"]},
                                 department="gaj"),
    "uddi.delete_service": case(CATALOGUING, lambda w: {"keys": ["uddi:gaj.govshare.local:nobody"]},
                                department="gaj"),
    "uddi.delete_binding": case(CATALOGUING, lambda w: {"keys": ["uddi:gaj.govshare.local:nobody"]},
                                department="gaj"),
    "uddi.delete_tModel": case(CATALOGUING, lambda w: {"keys": ["uddi:gaj.govshare.local:nobody"]},
                               department="gaj"),
    "uddi.get_registeredInfo": case(CATALOGUING, lambda w: {"info_selection": "all"}, department="gaj"),
    # UDDI subscriptions: whoever reads the directory may follow it (each account its own subscriptions;
    # the allowed roles meet E_invalidKeyPassed for a key no subscription has)
    "uddi.save_subscription": case(ALL, lambda w: {"subscriptions": _subscription()}),
    "uddi.get_subscriptions": case(ALL),
    "uddi.delete_subscription": case(ALL, lambda w: {"keys": ["uddi:govshare.local:nobody"]}),
    "uddi.get_subscriptionResults": case(ALL, lambda w: {"key": "uddi:govshare.local:nobody"}),
    "uddi.listeners": case({"admin", "auditor"}),
    # federation (目录管理节点): a lower platform's signed calls need a certificate, which no user role holds
    "federation.outgoing": case({"admin"}),
    "federation.receive": case(set(), lambda w: {"documents": []}),
    "federation.digests": case(set()),
    "federation.nodes": case({"admin", "auditor"}),
    # 订阅目录变更: every role reads the catalogue, so every role may follow what it reads
    "catalogue.watch": case(ALL, lambda w: {"resource_code": "101001/000001"}),
    "catalogue.unwatch": case(ALL, lambda w: {"resource_code": "101001/000001"}),
    "catalogue.watching": case(ALL),
    "catalogue.seen": case(ALL),
    "exchange.data_news": case(ALL),
}
