"""Low-level trust (S1, S2, S4): the platform CA and certificates, WS-Security on SOAP messages,
the tamper-evident audit chain, the one safe XML parser, and the action layer's caller, role
model and audited actions. It knows nothing of the departments' business."""
