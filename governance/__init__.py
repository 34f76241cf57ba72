"""Sharing governance (S3, S5): 共享类型 rules and the read decision, 使用申请 and grants,
masking, 纠错 reports and 考核 (assessment)."""
