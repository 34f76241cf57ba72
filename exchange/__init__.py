"""The exchange service (交换服务): batches in, records out, through the three tiers."""
