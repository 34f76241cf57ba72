"""The demo departments' legacy sources (演示部门的历史库), generated with dirt at known rates.

One module per department, each built like 临江市公安局's household registry
(``adapters/demo_sources.py``): a generator that (re)creates the legacy table from a fixed
seed and returns a ``Manifest`` of how many rows carry each kind of dirt, and a
``DIRT_OUTCOMES`` table saying what must become of each kind - cleaned to a valid value
(None) or quarantined by a named (stage, rule)::

    civil_affairs       临江市民政局        婚姻登记当事人 MarriageParty   -> population Person
    market_regulation   临江市市场监督管理局  市场主体登记 t_sczt_djxx       -> legal_entity LegalEntity
    statistics          临江市统计局        指标数据 workbook (XLSX)       -> macro_economy Indicator
    natural_resources   临江市自然资源和规划局 宗地 ZD_JBXX, 地址点 DZ_DZD   -> spatial Feature

Their adapter files are in ``adapters/departments/``; ``adapters.demo.seed`` generates every
source an adapter file points at and runs the adapters (``govshare demo seed``).
"""
