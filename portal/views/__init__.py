"""The portal's pages, one blueprint per area; each view is thin over a domain function."""

from __future__ import annotations

from flask import Flask


def register_views(app: Flask) -> None:
    from . import assessment, audit, auth, catalogue, corrections, home, monitor, nodes, onboarding, query, sharing
    from .certificates import bp as certificate_pages
    from .departments import bp as department_pages
    from .jobs import bp as job_pages
    from .notices import bp as notice_pages
    from .open_catalogue import bp as open_pages
    from .users import bp as user_pages
    from .watching import bp as watching_pages

    for module in (auth, home, catalogue, sharing, query, monitor, nodes, audit, corrections, assessment):
        app.register_blueprint(module.bp)
    app.register_blueprint(department_pages)  # 部门目录: the departments and what each shares
    app.register_blueprint(notice_pages)  # 消息: the signed-in person's 站内消息
    app.register_blueprint(onboarding.bp)  # 登记: 申请登记, 登记审核, 部门管理, 应用系统
    app.register_blueprint(certificate_pages)  # 证书: 证书管理 (CSR, 续期, 吊销), 证书审批
    app.register_blueprint(user_pages)  # 用户管理 (accounts, 三员分立), 修改密码 and the forced change
    app.register_blueprint(watching_pages)  # 我的订阅: catalogue entries followed, and their changes
    app.register_blueprint(open_pages)  # 开放目录: the open catalogue, no account needed
    app.register_blueprint(job_pages)  # 后台作业: the background jobs, the administrator's
    from . import operations

    app.register_blueprint(operations.bp)  # 运行监测 and 告警: the SOAP requests' figures, the alerts
