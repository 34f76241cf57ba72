"""``govshare admin``: onboarding and administration (登记阶段) from a terminal.

    $ govshare admin department apply --code wjw --name 临江市卫生健康委员会 --credit-code ... --division 330100 ...
    $ govshare admin department approve 3
    $ govshare admin system register --user wjw --code yibao --name 医保结算系统
    $ govshare admin cert request --user wjw --system wjw.yibao yibao.csr
    $ govshare admin cert approve 5 --out yibao.pem
    $ govshare admin user create --name wjw.zhang --department wjw --roles cataloguer,provider

Each group is defined by the module that holds its actions' front end (``GROUPS``); every command
runs one action as ``--user`` or, without it, as the platform's operator at the console (the
``admin`` and ``security`` roles), with channel ``cli``: the action checks and records it.  A
refusal prints ``error: <message>`` on stderr and exits 2 (1 when the platform failed).
"""

from __future__ import annotations

import argparse
import importlib

#: admin command group -> the module whose ``register(group_subparsers, acting)`` adds its commands
GROUPS = {
    "department": ("governance.onboarding_cli", "部门登记: applications, approval, suspension (登记, 暂停)"),
    "system": ("governance.onboarding_cli", "应用系统: a department's application systems"),
    "user": ("governance.users_cli", "用户: accounts, roles (三员分立), passwords, lock-out"),
    "cert": ("trust.certificates_cli", "证书: certificate requests (CSR), approval, renewal, revocation, expiry"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``admin`` command and its groups."""
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="USERNAME", help="the account acting (default: the platform's operator)")
    admin = subparsers.add_parser("admin", help="登记与管理: departments, application systems, users, certificates")
    groups = admin.add_subparsers(dest="admin_group", required=True, metavar="GROUP")
    for name, (module, help_text) in GROUPS.items():
        group = groups.add_parser(name, help=help_text)
        commands = group.add_subparsers(dest=f"admin_{name}_command", required=True, metavar="COMMAND")
        importlib.import_module(module).register(name, commands, acting)
