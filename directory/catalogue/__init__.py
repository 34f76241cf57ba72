"""The catalogue (政务信息资源目录): metadata, codes, and the 编目 → 审核 → 发布 workflow."""
