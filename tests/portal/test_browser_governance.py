"""The governance pages in a real browser (Chromium, headless, as in test_browser.py): what a
department meets when it may not read a resource, the 使用申请 form's errors, another
department's refusal, and 纠错 from filing to answer - all in Chinese, saying what to do in the
portal."""

from __future__ import annotations

import pytest

from . import test_browser

chromium, signed_in, shot = test_browser.chromium, test_browser.signed_in, test_browser.shot  # its fixtures

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_a_consumer_is_led_from_the_refusal_to_the_application_and_its_errors_are_chinese(signed_in, city,
                                                                                         live_server):
    mzj = signed_in("mzj")
    mzj.goto(f"{live_server.url}/portal/resource?code={city.conditional}")
    why = mzj.inner_text("#what-i-see")
    assert "点击「申请使用」提交使用申请" in why and "govshare" not in why
    mzj.click("text=申请使用")
    mzj.fill("#purpose", "核验")
    mzj.evaluate("document.querySelector('#until').value = '2020-01-01'")
    mzj.click("button:has-text('提交申请')")
    assert "申请期限 2020-01-01 早于开始日期" in mzj.inner_text("#err-until")
    assert mzj.get_attribute("#purpose", "maxlength") == "200"
    shot(mzj, "consumer-apply-errors")
    mzj.fill("#until", "2099-12-31")
    mzj.click("button:has-text('提交申请')")
    mzj.wait_for_selector("text=已提交")


def test_a_provider_of_another_department_is_refused_in_chinese(signed_in, city, live_server):
    mzj = signed_in("mzj")
    mzj.goto(f"{live_server.url}/portal/apply?code={city.conditional}")
    mzj.fill("#purpose", "婚姻登记核验户籍")
    mzj.fill("#until", "2099-12-31")
    mzj.click("button:has-text('提交申请')")
    mzj.wait_for_selector("text=已提交")
    number = mzj.locator("#applications tbody tr td").first.inner_text()
    # mzj's provider staff open the approval list: 公安局's application is not theirs to answer
    mzj.goto(f"{live_server.url}/portal/inbox")
    mzj.evaluate(f"""() => {{
        const form = document.createElement('form');
        form.method = 'post'; form.action = 'inbox/decide';
        for (const [k, v] of [['id', '{number}'], ['decision', 'refuse'], ['reason', '不符'],
                              ['csrf_token', document.querySelector('input[name=csrf_token]').value]]) {{
            const input = document.createElement('input'); input.type = 'hidden'; input.name = k; input.value = v;
            form.appendChild(input);
        }}
        document.body.appendChild(form); form.submit();
    }}""")
    mzj.wait_for_selector(".flash.error")
    assert mzj.inner_text(".flash.error") == (f"未能答复使用申请 #{number}: 资源「户籍人口基础信息」由"
                                              "临江市公安局提供, 只有该部门的提供方或目录管理员才能拒绝使用申请。")
    shot(mzj, "provider-refused-other-department")


def test_a_correction_is_filed_by_the_fields_chinese_name_and_answered(signed_in, city, live_server):
    mzj = signed_in("mzj")
    mzj.click("nav >> text=数据纠错")
    mzj.click("button:has-text('提交')")
    assert "没有资源代码为" in mzj.inner_text("#err-general")  # an empty form: Chinese, no field paths
    mzj.goto(f"{live_server.url}/portal/corrections?code={city.unconditional}")
    mzj.fill("#ckey", city.public_people[0]["idNumber"])
    mzj.select_option("#cfield", label="户籍地址")
    mzj.fill("#problem", "已迁至新区")
    mzj.click("button:has-text('提交')")
    mzj.wait_for_selector("text=纠错报告 #1 已提交")
    assert "户籍地址" in mzj.inner_text("#correction-filed")
    assert "domicileAddress" not in mzj.inner_text("#correction-filed")
    shot(mzj, "consumer-corrections")

    gaj = signed_in("gaj")
    gaj.click("nav >> text=数据纠错")
    row = gaj.locator("#correction-inbox tbody tr", has_text="已迁至新区")
    assert "户籍地址" in row.inner_text()
    row.locator("button[value=accept]").click()
    assert gaj.inner_text(".flash.error") == "未能答复纠错报告 #1: 采纳时请填写将如何更正。"
    row = gaj.locator("#correction-inbox tbody tr", has_text="已迁至新区")
    row.locator("input[name=text]").fill("下一批次更正户籍地址")
    row.locator("button[value=accept]").click()
    gaj.wait_for_selector("text=纠错报告 #1 已答复 (已采纳)。")
    shot(gaj, "provider-corrections")
